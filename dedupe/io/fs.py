"""Where work files live: a local folder, or a folder on any pyarrow filesystem (``s3://``,
``gs://``, ``hdfs://``), so that a cluster without a shared disk can still share a work folder.

A path is a plain string either way: a local path, or a URI whose query (``?endpoint_override=
host:port&scheme=http``) is kept on every path joined to it, so that a worker process given one
file's URI reaches the same store. Credentials come from the environment (``AWS_ACCESS_KEY_ID``,
``AWS_ENDPOINT_URL``, ...), which worker processes inherit.

Local paths keep what a disk gives: files are written under a temporary name and renamed
(:mod:`dedupe.io.atomic`), and read through a memory map. An object store has no rename, and
needs none: an object appears whole when its upload completes, and a process killed before
that leaves no object. So there a file is written under its final key directly; an error while
writing deletes the object the closing stream left.
"""

from __future__ import annotations

import contextlib
import functools
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit

import pyarrow as pa
import pyarrow.fs as pafs

from dedupe.io.atomic import atomic_path, write_text_atomic

__all__ = ["exists", "is_dir", "is_uri", "join", "listdir", "local_path", "makedirs", "open_input",
           "open_output", "read_bytes", "read_text", "remove", "remove_tree", "resolve", "size",
           "split", "write_text"]


def is_uri(path: str) -> bool:
    """``path`` names a file on a pyarrow filesystem rather than a local path."""
    return "://" in str(path) and not str(path).startswith("file://")


def local_path(path: str) -> str:
    """A ``file://`` URI as the local path it names (a local path unchanged)."""
    path = os.fspath(path)
    return path[len("file://"):] if path.startswith("file://") else path


@functools.lru_cache(maxsize=16)
def _filesystem(scheme: str, netloc: str, query: str) -> tuple[pafs.FileSystem, str]:
    """One filesystem object per store and query in each process: an S3 client (and the
    bucket's region, which pyarrow may look up over the network) is made once, not per file."""
    fs, root = pafs.FileSystem.from_uri(f"{scheme}://{netloc}" + (f"?{query}" if query else ""))
    return fs, root


def resolve(uri: str) -> tuple[pafs.FileSystem, str]:
    """``(filesystem, path inside it)`` of a URI. Raises ``ValueError`` naming what is wrong
    (an unknown scheme, an unexpected query parameter, no bucket)."""
    head, _, query = uri.partition("?")
    parts = urlsplit(head)
    try:
        fs, root = _filesystem(parts.scheme, parts.netloc, query)
    except (pa.ArrowInvalid, OSError) as exc:
        raise ValueError(str(exc)) from None
    if not parts.netloc and not root.startswith("/"):  # s3:///x: a store needs its bucket
        raise ValueError(f"{uri} names no bucket (write {parts.scheme}://BUCKET/prefix)")
    path = "/".join(p for p in (root.strip("/"), parts.path.strip("/")) if p)
    if not path:
        raise ValueError(f"{uri} names no bucket or folder")
    return fs, "/" + path if root.startswith("/") else path


def join(base: str, *names: str) -> str:
    """``os.path.join`` for a local ``base``; for a URI, ``names`` go before its query."""
    if not is_uri(base):
        return os.path.join(base, *names)
    head, sep, query = base.partition("?")
    return "/".join([head.rstrip("/"), *names]) + sep + query


def split(path: str) -> tuple[str, str]:
    """``(folder, name)``: ``os.path.split`` for a local path; a URI's folder keeps its query."""
    if not is_uri(path):
        return os.path.split(path)
    head, sep, query = path.partition("?")
    folder, _, name = head.rpartition("/")
    return folder + sep + query, name


def exists(path: str) -> bool:
    if not is_uri(path):
        return os.path.exists(path)
    fs, p = resolve(path)
    return fs.get_file_info(p).type != pafs.FileType.NotFound


def is_dir(path: str) -> bool:
    """A folder: on a store, a prefix that holds objects (or a folder marker)."""
    if not is_uri(path):
        return os.path.isdir(path)
    fs, p = resolve(path)
    return fs.get_file_info(p).type == pafs.FileType.Directory


def size(path: str) -> int:
    if not is_uri(path):
        return os.path.getsize(path)
    fs, p = resolve(path)
    info = fs.get_file_info(p)
    if info.type == pafs.FileType.NotFound:
        raise FileNotFoundError(path)
    return info.size


def listdir(folder: str) -> list[str]:
    """The names in ``folder`` (not their paths); an object store's folder markers left out."""
    if not is_uri(folder):
        return os.listdir(folder)
    fs, p = resolve(folder)
    infos = fs.get_file_info(pafs.FileSelector(p, allow_not_found=True))
    return [info.base_name for info in infos if info.base_name]


def makedirs(folder: str) -> None:
    """Create ``folder`` and its parents (nothing if it exists)."""
    if not is_uri(folder):
        os.makedirs(folder, exist_ok=True)
        return
    fs, p = resolve(folder)
    fs.create_dir(p, recursive=True)


def remove(path: str) -> None:
    if not is_uri(path):
        os.unlink(path)
        return
    fs, p = resolve(path)
    fs.delete_file(p)


def remove_tree(folder: str, *, ignore_errors: bool = True) -> None:
    """Delete ``folder`` and everything in it; a missing folder is no error, nor (with
    ``ignore_errors``, for a clean-up after the work is done) a file that will not go."""
    if not is_uri(folder):
        shutil.rmtree(folder, ignore_errors=ignore_errors)
        return
    fs, p = resolve(folder)
    try:
        if fs.get_file_info(p).type == pafs.FileType.Directory:
            fs.delete_dir(p)
    except OSError:
        if not ignore_errors:
            raise


@contextmanager
def open_input(path: str) -> Iterator[pa.NativeFile]:
    """A random-access file to read ``path``: a memory map on a local disk (pages are read
    as they are touched, and shared between processes), ranged reads on a store."""
    if not is_uri(path):
        with pa.memory_map(path, "r") as source:
            yield source
        return
    fs, p = resolve(path)
    with fs.open_input_file(p) as source:
        yield source


@contextmanager
def open_output(path: str) -> Iterator[pa.NativeFile]:
    """A stream to write ``path``, which appears under its name whole or not at all (see the
    module docstring for how, locally and on a store)."""
    if not is_uri(path):
        with atomic_path(path) as tmp, pa.OSFile(tmp, "wb") as sink:
            yield sink
        return
    fs, p = resolve(path)
    sink = fs.open_output_stream(p)
    try:
        yield sink
    except BaseException:
        # pyarrow's streams have no abort: the upload completes on close, so delete what it
        # left (an error here must not hide the one that stopped the write)
        with contextlib.suppress(OSError):
            sink.close()
        with contextlib.suppress(OSError):
            fs.delete_file(p)
        raise
    sink.close()


def read_bytes(path: str) -> bytes:
    if not is_uri(path):
        with open(path, "rb") as fh:
            return fh.read()
    fs, p = resolve(path)
    with fs.open_input_stream(p) as source:
        return source.read()


def read_text(path: str) -> str:
    return read_bytes(path).decode("utf-8")


def write_text(path: str, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path``, whole or not at all."""
    if not is_uri(path):
        write_text_atomic(path, text)
        return
    with open_output(path) as sink:
        sink.write(text.encode("utf-8"))
