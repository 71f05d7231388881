"""Reads that remember how they failed: the storage, or the bytes (see :mod:`dedupe.io.streams`).

:class:`Watched` sits between pyarrow and the storage and remembers a failed read, so that
:func:`data_error` tells a failing disk or network (stop the run, name the cause) from bytes that
do not decode (bad input) by where the failure happened, not by its message.
"""

from __future__ import annotations

from dedupe.errors import InputError

__all__ = ["IO_HINT", "Watched", "data_error"]

IO_HINT = ("the storage failed, not the data: check it and run the same command again "
           "(finished tasks are kept)")


class Watched:
    """A file object over a pyarrow file that remembers the first failed read."""

    def __init__(self, raw):
        self.raw = raw
        self.failure: BaseException | None = None

    def _call(self, fn, *args):
        try:
            return fn(*args)
        except BaseException as exc:
            if self.failure is None:
                self.failure = exc
            raise

    def read(self, nbytes=-1):
        return self._call(self.raw.read, nbytes) if nbytes is not None and nbytes >= 0 else \
            self._call(self.raw.read)

    def read_buffer(self, nbytes=None):
        return self._call(self.raw.read_buffer, nbytes)

    def seek(self, pos, whence=0):
        return self._call(self.raw.seek, pos, whence)

    def tell(self):
        return self.raw.tell()

    def size(self):
        return self._call(self.raw.size)

    def readable(self):
        return True

    def seekable(self):
        return self.raw.seekable()

    @property
    def closed(self):
        return self.raw.closed

    def close(self):
        self.raw.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def data_error(exc: BaseException, watched: Watched, path: str, row: int | None = None) -> str:
    """The problem with the bytes, when ``exc`` says they do not decode; raises
    :class:`InputError` (stop the run) when the storage or the machine failed instead."""
    if isinstance(exc, MemoryError) or isinstance(watched.failure, MemoryError):
        raise InputError(path, "out of memory while reading", row=row,
                         hint="lower --batch-rows or --max-row-bytes, or give each worker more "
                              "memory") from None
    if watched.failure is not None or not isinstance(exc, (OSError, ValueError, EOFError)):
        cause = watched.failure if watched.failure is not None else exc
        raise InputError(path, f"cannot read the file: {_describe(cause)}", row=row,
                         hint=IO_HINT) from None
    return str(exc) or type(exc).__name__


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
