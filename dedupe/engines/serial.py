"""The serial engine: every task in this process, in order (tests, debugging, tiny inputs)."""

from __future__ import annotations

from dedupe.engines.base import task_error
from dedupe.errors import DedupeError

__all__ = ["SerialEngine"]


class SerialEngine:
    name = "serial"
    workers = 1

    def map(self, fn, tasks, *, stage, progress=None):
        results = []
        for i, task in enumerate(tasks):
            try:
                results.append(fn(task))
            except DedupeError:
                raise
            except Exception as exc:
                raise task_error(stage, task, i, exc) from exc
            if progress:
                progress(stage, i + 1, len(tasks), results[-1])
        return results

    def close(self):
        pass
