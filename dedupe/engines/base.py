"""One engine interface: run a function over tasks, return results in task order.

Engines know nothing about deduplication; stage functions know nothing about engines. A stage
function is a module-level callable taking one picklable task and returning a small picklable
result (bulk data goes through files in the work folder).
"""

from __future__ import annotations

import errno
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from dedupe.errors import EngineError

__all__ = ["DEBUG_VARIABLE", "Engine", "ProgressFn", "task_error"]

DEBUG_VARIABLE = "DEDUPE_DEBUG"  # set to 1: the command line shows a failure's traceback

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


def task_error(stage: str, task: Any, index: int, exc: Exception) -> EngineError:
    """The error a run stops with when ``fn(task)`` raised ``exc``, which is not one of
    dedupe's own errors (those pass unchanged); raise it ``from exc``.

    Each names the stage and the task: running out of memory and a refusal of the system
    (disk full, permission denied, an I/O error) say so and how to go on; anything else is a
    bug, shown as its type and message with the way to see its traceback (which stays on the
    chained cause).
    """
    label = getattr(task, "label", str(index))
    if isinstance(exc, MemoryError):
        return EngineError(stage, label, "out of memory: lower --batch-rows, --workers or "
                           "--max-doc-bytes, or give the machine more memory, then run the "
                           "same command again (finished tasks are kept)")
    if isinstance(exc, OSError):
        return EngineError(stage, label, f"the system refused: {_os_cause(exc)}; fix that "
                           "and run the same command again (finished tasks are kept)")
    return EngineError(stage, label, f"unexpected {type(exc).__name__}: {exc} (a bug in "
                       f"dedupe, not a problem of the input; {DEBUG_VARIABLE}=1 shows the "
                       "traceback)")


def _os_cause(exc: OSError) -> str:
    """``No space left on device (ENOSPC): /path`` from an OSError, whatever it carries."""
    what = exc.strerror or str(exc) or type(exc).__name__
    if exc.errno in errno.errorcode:
        what += f" ({errno.errorcode[exc.errno]})"
    if exc.filename:
        what += f": {exc.filename}"
    return what
