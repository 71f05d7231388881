"""The default engine: a pool of worker processes on this machine.

Workers start with ``forkserver`` (Linux) or ``spawn``, never by forking a process that holds
Arrow's thread pools; the context is chosen per pool, not for the whole interpreter. Results come
back in task order whatever order tasks finish in, so output never depends on the worker count.
"""

from __future__ import annotations

import multiprocessing as mp
import sys
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from dedupe.errors import DedupeError, EngineError

__all__ = ["LocalEngine"]


def _context():
    methods = mp.get_all_start_methods()
    return mp.get_context(
        "forkserver" if "forkserver" in methods and sys.platform != "darwin" else "spawn"
    )


class LocalEngine:
    name = "local"

    def __init__(self, workers: int):
        self.workers = max(1, int(workers))
        self._pool: ProcessPoolExecutor | None = None

    def _executor(self) -> ProcessPoolExecutor:
        if self._pool is None:
            self._pool = ProcessPoolExecutor(self.workers, mp_context=_context())
        return self._pool

    def map(self, fn, tasks, *, stage, progress=None):
        if not tasks:
            return []
        pool = self._executor()
        futures = [pool.submit(fn, t) for t in tasks]
        results = [None] * len(futures)
        done = 0
        try:
            for i, fut in enumerate(futures):
                try:
                    results[i] = fut.result()
                except DedupeError:
                    raise
                except BrokenProcessPool as exc:
                    raise EngineError(
                        stage,
                        getattr(tasks[i], "label", str(i)),
                        "a worker process died (out of memory or killed)",
                    ) from exc
                except Exception as exc:
                    raise EngineError(stage, getattr(tasks[i], "label", str(i)), repr(exc)) from exc
                done += 1
                if progress:
                    progress(stage, done, len(tasks), results[i])
        except BaseException:
            for fut in futures:
                fut.cancel()
            raise
        return results

    def close(self):
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
