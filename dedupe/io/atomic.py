"""Atomic writes: every file or folder dedupe writes appears under its final name whole or not
at all.

The one mechanism on a disk: write under a temporary name in the same folder
(``.NAME.tmp-PID``), then rename it onto the final name (an object store needs no rename:
:mod:`dedupe.io.fs`). A process killed mid-write leaves only a temporary name, which
:func:`is_temporary` recognises so that a resumed run or the next index writer can delete it.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["atomic_path", "fsync_dir", "is_temporary", "temporary_name", "write_text_atomic"]

_MARK = ".tmp-"


def temporary_name(path: str | os.PathLike) -> str:
    """The temporary name ``path`` is written under: hidden, in the same folder, per process."""
    folder, name = os.path.split(os.fspath(path))
    return os.path.join(folder, f".{name}{_MARK}{os.getpid()}")


def is_temporary(name: str) -> bool:
    """``name`` (a file or folder name, not a path) is one :func:`temporary_name` makes."""
    return name.startswith(".") and _MARK in name


def fsync_dir(folder: str | os.PathLike) -> None:
    """Flush a folder's entries (a rename into it) to disk."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextmanager
def atomic_path(path: str | os.PathLike, *, durable: bool = False) -> Iterator[str]:
    """Yield the temporary name to write ``path`` (a file, or a folder the caller creates) under;
    on success rename it onto ``path``, on any error delete it and re-raise.

    ``durable``: the rename is also flushed to disk (the caller fsyncs what it wrote).
    """
    path = os.fspath(path)
    tmp = temporary_name(path)
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        if os.path.isdir(tmp) and not os.path.islink(tmp):
            shutil.rmtree(tmp, ignore_errors=True)
        elif os.path.lexists(tmp):
            os.unlink(tmp)
        raise
    if durable:
        fsync_dir(os.path.dirname(path) or ".")


def write_text_atomic(path: str | os.PathLike, text: str, *, durable: bool = False) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically; ``durable`` also fsyncs file and folder."""
    with atomic_path(path, durable=durable) as tmp, open(tmp, "w", encoding="utf-8") as fh:
        fh.write(text)
        if durable:
            fh.flush()
            os.fsync(fh.fileno())
