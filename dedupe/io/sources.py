"""Input discovery: files, folders and globs on any filesystem pyarrow opens, and task planning.

A *unit* is a part of the input that depends only on the input, never on the number of
workers: a Parquet file is split at row-group boundaries into units of about ``TASK_ROWS`` rows
(row counts come from the footer, so no data is read); a JSONL file is one unit. Outputs kept
per input part (the manifest's files) follow the units. A *work task* is what one worker reads
at a time: :func:`work_tasks` cuts units further, at row-group boundaries or inside a large row
group, so that every worker has work however few files the corpus has.
"""

from __future__ import annotations

import fnmatch
import glob
import itertools
import os
from dataclasses import dataclass, replace

import pyarrow.fs as pafs
import pyarrow.parquet as pq

from dedupe.errors import InputError
from dedupe.io.watch import IO_HINT, Watched, data_error

__all__ = ["Source", "Task", "detect_format", "expand_inputs", "join_tasks", "rows_per_task",
           "split_tasks", "work_tasks"]

TASK_ROWS = 50_000
MIN_TASK_ROWS = 4_096  # a work task smaller than this costs more to start than it saves
TASKS_PER_WORKER = 2  # each a share of the corpus; a task cut inside a row group decodes its prefix
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
    """Rows of one source to read together: all of it, a run of Parquet row groups, or a range
    of rows inside them.

    ``unit`` is the index of the task of :func:`split_tasks` this one was cut from by
    :func:`work_tasks` (its own index when it was not cut): outputs written per input part,
    such as the manifest's files, follow the units, so they never depend on the worker count.
    """

    index: int
    source: Source
    row_groups: tuple[int, ...] | None = None
    first_row: int = 0  # source row number of the task's first row
    num_rows: int = -1  # -1: unknown until read (JSONL)
    groups_first_row: int = -1  # source row of the first row group's first row (-1: first_row)
    unit: int = -1  # -1: index
    group_rows: tuple[int, ...] = ()  # rows in each of row_groups (from the footer)
    byte_range: tuple[int, int] | None = None  # JSONL: [start, end) bytes, at line ends
    first_line: int = 0  # JSONL: lines before byte_range (first_row: rows before it)

    @property
    def label(self) -> str:
        if self.byte_range is not None:
            return f"{self.source.path}[bytes {self.byte_range[0]}-{self.byte_range[1] - 1}]"
        if self.row_groups is None:
            return self.source.path
        if self.groups_first_row >= 0:  # a range of rows inside the row groups
            return (f"{self.source.path}[rows {self.first_row}-"
                    f"{self.first_row + self.num_rows - 1}]")
        return f"{self.source.path}[row groups {self.row_groups[0]}-{self.row_groups[-1]}]"

    @property
    def group_start(self) -> int:
        return self.first_row if self.groups_first_row < 0 else self.groups_first_row

    @property
    def unit_index(self) -> int:
        return self.index if self.unit < 0 else self.unit


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
        group, sizes, rows, first = [], [], 0, 0
        for rg in range(meta.num_row_groups):
            n = meta.row_group(rg).num_rows
            if group and rows + n > task_rows:
                tasks.append(Task(len(tasks), src, tuple(group), first, rows,
                                  group_rows=tuple(sizes)))
                first += rows
                group, sizes, rows = [], [], 0
            group.append(rg)
            sizes.append(n)
            rows += n
        if group or meta.num_row_groups == 0:
            tasks.append(Task(len(tasks), src, tuple(group), first, rows,
                              group_rows=tuple(sizes)))
    return tasks


def rows_per_task(units: list[Task], workers: int) -> int:
    """How many rows a work task holds so that each of ``workers`` workers gets about
    ``TASKS_PER_WORKER`` tasks (never fewer than ``MIN_TASK_ROWS`` rows, never more than
    ``TASK_ROWS``); one worker reads whole units (0: nothing is cut)."""
    if workers <= 1:
        return 0
    total = sum(max(0, u.num_rows) for u in units)
    return min(TASK_ROWS, max(MIN_TASK_ROWS, -(-total // (workers * TASKS_PER_WORKER))))


def work_tasks(units: list[Task], task_rows: int) -> list[Task]:
    """The units of :func:`split_tasks` cut into tasks of at most about ``task_rows`` rows, so
    that a corpus of a few large files (or of one row group) keeps every worker busy.

    A unit is cut at its row-group boundaries where it can be, and a row group larger than
    ``task_rows`` into ranges of rows (a task then decodes the part of the group before its
    range, and stops reading at its end). JSONL files stay whole. Each task records the unit
    it came from, and global row order is unchanged: the tasks of a unit follow each other.
    """
    out: list[Task] = []
    for u in units:
        if u.row_groups is None or u.num_rows <= task_rows or task_rows <= 0:
            out.append(replace(u, index=len(out), unit=u.index))
            continue
        start = u.first_row
        for run in _group_runs(u.group_rows, task_rows):
            groups = u.row_groups[run[0]:run[-1] + 1]
            sizes = u.group_rows[run[0]:run[-1] + 1]
            n = sum(sizes)
            if len(run) > 1 or n <= task_rows:
                out.append(Task(len(out), u.source, groups, start, n, unit=u.index,
                                group_rows=sizes))
            else:  # one large row group: ranges of rows inside it
                pieces = -(-n // task_rows)
                cuts = [start + n * k // pieces for k in range(pieces + 1)]
                for lo, hi in itertools.pairwise(cuts):
                    out.append(Task(len(out), u.source, groups, lo, hi - lo, start, u.index,
                                    sizes))
            start += n
    return out


def join_tasks(tasks: list[Task]) -> Task:
    """One task that reads what ``tasks`` (consecutive tasks of one unit) read, in one pass
    (a reader of rows spread over them, such as a shard's writer, decodes a row group once)."""
    first, last = tasks[0], tasks[-1]
    if len(tasks) == 1:
        return first
    num_rows = sum(t.num_rows for t in tasks)
    if first.byte_range is not None:
        return replace(first, byte_range=(first.byte_range[0], last.byte_range[1]),
                       num_rows=-1 if first.num_rows < 0 else num_rows)
    groups, sizes = list(first.row_groups), list(first.group_rows)
    for t in tasks[1:]:
        for g, n in zip(t.row_groups, t.group_rows):
            if g != groups[-1]:
                groups.append(g)
                sizes.append(n)
    cut = first.group_start != first.first_row or last.first_row + last.num_rows != (
        first.group_start + sum(sizes))
    return replace(first, row_groups=tuple(groups), group_rows=tuple(sizes), num_rows=num_rows,
                   groups_first_row=first.group_start if cut else -1)


def _group_runs(sizes: tuple[int, ...], task_rows: int) -> list[list[int]]:
    """Consecutive row groups packed into runs of at most ``task_rows`` rows (a larger group
    is a run of its own)."""
    runs: list[list[int]] = []
    rows = 0
    for i, n in enumerate(sizes):
        if not runs or rows + n > task_rows:
            runs.append([])
            rows = 0
        runs[-1].append(i)
        rows += n
    return runs


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
