"""Input discovery: files, folders and globs on any filesystem pyarrow opens, and task planning.

A *task* is a unit of reading that depends only on the input and the config, never on the number
of workers: a Parquet file is split at row-group boundaries into tasks of about
``TASK_ROWS`` rows (row counts come from the footer, so no data is read); a JSONL file is one task
(a compressed stream cannot be split).
"""

from __future__ import annotations

import fnmatch
import glob
import os
from dataclasses import dataclass

import pyarrow.fs as pafs
import pyarrow.parquet as pq

from dedupe.errors import InputError
from dedupe.io.watch import IO_HINT, Watched, data_error

__all__ = ["Source", "Task", "detect_format", "expand_inputs", "split_tasks"]

TASK_ROWS = 50_000
_PARQUET = (".parquet", ".pq", ".parq")
_JSONL = (".jsonl", ".json", ".ndjson")
_COMPRESSED = {".gz": "gzip", ".zst": "zstd", ".zstd": "zstd", ".bz2": "bz2"}


@dataclass(frozen=True)
class Source:
    """One input file: ``path`` names it in ids, the manifest and messages, ``uri`` reopens it.

    A local file's ``path`` is absolute and normalised, so ids and ``source_file`` are the same
    whichever folder the command runs from (a resume after ``cd``, ``dedupe explain`` from
    elsewhere); a remote file's is its URI.
    """

    path: str
    uri: str
    format: str  # parquet | jsonl
    compression: str | None = None
    size: int = -1


@dataclass(frozen=True)
class Task:
    """Rows of one source to read together: all of it, or a run of Parquet row groups."""

    index: int
    source: Source
    row_groups: tuple[int, ...] | None = None
    first_row: int = 0  # source row number of the task's first row
    num_rows: int = -1  # -1: unknown until read (JSONL)

    @property
    def label(self) -> str:
        if self.row_groups is None:
            return self.source.path
        return f"{self.source.path}[row groups {self.row_groups[0]}-{self.row_groups[-1]}]"


def detect_format(path: str, forced: str = "auto") -> tuple[str, str | None] | None:
    """``(format, compression)`` from the file name, or None if it is not an input file."""
    name = path.lower()
    compression = None
    for ext, codec in _COMPRESSED.items():
        if name.endswith(ext):
            compression = codec
            name = name[: -len(ext)]
            break
    if forced != "auto":
        return forced, compression
    if name.endswith(_PARQUET) and compression is None:
        return "parquet", None
    if name.endswith(_JSONL):
        return "jsonl", compression
    return None


def _filesystem(path: str) -> tuple[pafs.FileSystem, str]:
    """pyarrow's filesystem for ``path``; URIs pyarrow does not know go through fsspec."""
    if "://" not in path:
        return pafs.LocalFileSystem(), os.path.abspath(path)
    try:
        return pafs.FileSystem.from_uri(path)
    except Exception as arrow_error:  # pyarrow raises several types here
        scheme = path.partition("://")[0]
        try:
            import fsspec
        except ImportError:
            raise InputError(
                path,
                f"cannot open filesystem: {arrow_error}",
                hint="pip install fsspec and the filesystem's package",
            ) from None
        try:
            fs = fsspec.filesystem(scheme)
        except (ImportError, ValueError) as exc:
            raise InputError(path, f"cannot open filesystem {scheme!r}: {exc}") from None
        return pafs.PyFileSystem(pafs.FSSpecHandler(fs)), fs._strip_protocol(path)


def _join_uri(original: str, fs_path: str) -> str:
    if "://" not in original:
        return fs_path
    scheme = original.split("://", 1)[0]
    return f"{scheme}://{fs_path}"


def _list(path: str, forced: str) -> list[Source]:
    has_glob = any(ch in path for ch in "*?[")
    if has_glob and "://" not in path:
        matches = sorted(glob.glob(path, recursive=True))
        if not matches:
            raise InputError(path, "the pattern matches no file")
        out: list[Source] = []
        for m in matches:
            out.extend(_list(m, forced))
        return out
    fs, fs_path = _filesystem(path)
    pattern = None
    if has_glob:  # remote glob: list the fixed prefix, then match names
        prefix = fs_path.split("*")[0].split("?")[0].split("[")[0].rsplit("/", 1)[0]
        pattern, fs_path = fs_path, prefix
    info = fs.get_file_info(fs_path)
    if info.type == pafs.FileType.NotFound:
        raise InputError(path, "no such file or folder")
    if info.type == pafs.FileType.File and pattern is None:
        fmt = detect_format(fs_path, forced)
        if fmt is None:
            raise InputError(
                path,
                "unknown file type",
                hint="name it .parquet, .jsonl, .jsonl.gz or .jsonl.zst, or pass --format",
            )
        shown = path if "://" in path else fs_path
        return [Source(shown, _join_uri(path, fs_path), fmt[0], fmt[1], info.size)]
    selector = pafs.FileSelector(fs_path, recursive=True)
    found = []
    for entry in sorted(fs.get_file_info(selector), key=lambda e: e.path):
        if entry.type != pafs.FileType.File:
            continue
        inside = entry.path[len(fs_path):].strip("/").split("/")
        if any(part.startswith((".", "_")) for part in inside):
            continue  # hidden or bookkeeping files and folders (.ipynb_checkpoints, _temporary)
        if pattern is not None and not fnmatch.fnmatch(entry.path, pattern):
            continue
        fmt = detect_format(entry.path, forced)
        if fmt is None:
            continue
        shown = _join_uri(path, entry.path) if "://" in path else os.path.abspath(entry.path)
        found.append(Source(shown, _join_uri(path, entry.path), fmt[0], fmt[1], entry.size))
    if not found:
        raise InputError(path, "the folder holds no .parquet or .jsonl(.gz/.zst) file")
    return found


def expand_inputs(paths, forced_format: str = "auto") -> list[Source]:
    """Every input file named by ``paths`` (files, folders, globs), in a stable order."""
    if not paths:
        raise InputError("<none>", "no input given", hint="pass one or more files or folders")
    seen: set[str] = set()
    sources: list[Source] = []
    for p in paths:
        for src in _list(str(p), forced_format):
            if src.uri not in seen:
                seen.add(src.uri)
                sources.append(src)
    return sources


def open_source(source: Source):
    """``(filesystem, path)`` to open ``source`` with pyarrow."""
    fs, fs_path = _filesystem(source.uri)
    return fs, fs_path


def split_tasks(sources: list[Source], task_rows: int = TASK_ROWS) -> list[Task]:
    """Split the sources into tasks (see module docstring)."""
    tasks: list[Task] = []
    for src in sources:
        if src.format != "parquet":
            tasks.append(Task(len(tasks), src))
            continue
        meta = _footer(src)
        group, rows, first = [], 0, 0
        start_row = 0
        for rg in range(meta.num_row_groups):
            n = meta.row_group(rg).num_rows
            if group and rows + n > task_rows:
                tasks.append(Task(len(tasks), src, tuple(group), first, rows))
                first += rows
                group, rows = [], 0
            group.append(rg)
            rows += n
            start_row += n
        if group or meta.num_row_groups == 0:
            tasks.append(Task(len(tasks), src, tuple(group), first, rows))
    return tasks


def _footer(src: Source) -> pq.FileMetaData:
    """A Parquet file's footer. Only bytes that do not parse read as a corrupt footer; a
    failing storage or running out of memory names its cause (see :mod:`dedupe.io.watch`)."""
    fs, fs_path = open_source(src)
    try:
        fh = Watched(fs.open_input_file(fs_path))
    except OSError as exc:
        raise InputError(src.path, f"cannot open the file: {exc}", hint=IO_HINT) from None
    with fh:
        try:
            return pq.ParquetFile(fh).metadata
        except Exception as exc:  # a storage failure raises in data_error; the rest is data
            reason = data_error(exc, fh, src.path)
            raise InputError(src.path, f"not a readable Parquet file: {reason}",
                             hint="the footer is missing or corrupt") from None
