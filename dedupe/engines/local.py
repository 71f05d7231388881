"""The default engine: a pool of worker processes on this machine.

Workers start with ``spawn``, never by forking a process that holds Arrow's thread pools, and
die with this process (``PR_SET_PDEATHSIG``); the context is chosen per pool, not for the whole
interpreter. Results come back in task order whatever order tasks finish in, so output never
depends on the worker count.
"""

from __future__ import annotations

import multiprocessing as mp
import sys
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from dedupe.engines.base import task_error
from dedupe.errors import DedupeError, EngineError

__all__ = ["LocalEngine"]


def _die_with_parent() -> None:
    """Worker initializer: on Linux, ask the kernel to kill this worker when its parent dies.

    A killed run (SIGKILL, out-of-memory killer) must not leave workers behind holding files
    open and cores busy; the same command run again resumes from the finished tasks.
    """
    if not sys.platform.startswith("linux"):
        return
    import ctypes
    import os
    import signal

    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except OSError:
        return
    if os.getppid() == 1:  # the parent died before prctl took effect
        os._exit(1)


def _context():
    """``spawn``: workers are children of this process, so the kernel can kill them with it.

    (A ``forkserver`` outlives a SIGKILLed parent together with its workers; ``fork`` would copy
    Arrow's thread pools.) The start method is chosen per pool, not for the interpreter.
    """
    return mp.get_context("spawn")


class LocalEngine:
    name = "local"

    def __init__(self, workers: int):
        self.workers = max(1, int(workers))
        self._pool: ProcessPoolExecutor | None = None

    def _executor(self) -> ProcessPoolExecutor:
        if self._pool is None:
            self._pool = ProcessPoolExecutor(
                self.workers, mp_context=_context(), initializer=_die_with_parent
            )
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
                except Exception as exc:  # the worker's traceback is on exc.__cause__
                    raise task_error(stage, tasks[i], i, exc) from exc
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
