"""Peak resident memory of one stretch of work: a stage in the main process, a task in a worker.

``getrusage().ru_maxrss`` is the peak since the process started (and Linux carries a parent's
peak into a child across fork and exec), so read after a light stage it repeats the peak of a
heavy one before it. On Linux, writing ``5`` to ``/proc/self/clear_refs`` resets the high-water
mark ``VmHWM`` of ``/proc/self/status`` to the current RSS (kernel 4.0 and later), so each
stretch is measured alone. Where that is refused (another system, a locked-down ``/proc``) the
measure falls back to ``ru_maxrss`` and says so: ``alone`` is False and the figure is the peak
since the process started.

The high-water mark belongs to the process, so the stretches being measured are kept in one
list per process: a reset for an inner stretch (a task that the serial engine runs inside a
stage) first hands the peak so far to the outer ones, and an inner stretch's peak counts for
them too. One thread measures.
"""

from __future__ import annotations

import resource
import sys

__all__ = ["PeakRSS", "high_water"]

_open: list[PeakRSS] = []  # the stretches being measured in this process, outermost first


def _since_start() -> int:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024  # bytes on macOS, KiB elsewhere


def high_water() -> int:
    """The process's RSS high-water mark in bytes (since the last reset, where there is one)."""
    try:
        with open("/proc/self/status", "rb") as fh:
            for line in fh:
                if line.startswith(b"VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return _since_start()


def _reset() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
    except OSError:
        return False
    return True


class PeakRSS:
    """The most resident memory this process held between ``start`` and ``stop`` (or inside a
    ``with`` block), in ``bytes``; ``alone`` says whether the figure covers that stretch only
    (False: the peak since the process started)."""

    def __init__(self):
        self.bytes = 0
        self.alone = False

    @classmethod
    def start(cls) -> PeakRSS:
        return cls().__enter__()

    def stop(self) -> int:
        self.__exit__(None, None, None)
        return self.bytes

    def __enter__(self) -> PeakRSS:
        now = high_water()
        for outer in _open:
            outer.bytes = max(outer.bytes, now)
        self.alone = _reset()
        _open.append(self)
        return self

    def __exit__(self, *exc) -> bool:
        now = high_water()
        if self in _open:  # stretches left open inside this one (a task that raised) end too
            del _open[_open.index(self):]
        for scope in (*_open, self):
            scope.bytes = max(scope.bytes, now)
        return False
