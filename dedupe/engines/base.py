"""One engine interface: run a function over tasks, return results in task order.

Engines know nothing about deduplication; stage functions know nothing about engines. A stage
function is a module-level callable taking one picklable task and returning a small picklable
result (bulk data goes through files in the work folder).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol

__all__ = ["Engine", "ProgressFn"]

ProgressFn = Callable[[str, int, int, Any], None]  # (stage, done, total, task result)


class Engine(Protocol):
    """``map(fn, tasks)`` returns ``[fn(t) for t in tasks]`` however it runs them."""

    name: str
    workers: int

    def map(
        self,
        fn: Callable[[Any], Any],
        tasks: Sequence[Any],
        *,
        stage: str,
        progress: ProgressFn | None = None,
    ) -> list[Any]: ...

    def close(self) -> None: ...
