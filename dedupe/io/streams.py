"""Bytes from an input file: failures told apart, and lines read in bounded memory.

A read can fail because the storage failed (an I/O error, a timeout, a dropped connection) or
because the bytes themselves do not decode (a truncated ``.gz``, a corrupt Parquet page). Only
the second is bad input that ``--on-bad-row reject`` may record as a rejected row; the first stops
the run, naming the file and the cause, so that a flaky disk never turns rows into rejections
of a run that reports success. :class:`Watched` sits between pyarrow and the storage and
remembers a failed read, so the two cases are told apart by where the failure happened, not by
its message.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pyarrow as pa

from dedupe.errors import InputError
from dedupe.io.sources import Source, open_source
from dedupe.io.watch import IO_HINT, Watched, data_error

__all__ = ["LineReader", "Oversize", "Watched", "count_lines", "data_error", "open_file",
           "open_lines", "open_stream"]

_BOM = b"\xef\xbb\xbf"
_CHUNK = 1 << 18  # small reads: a truncated stream loses at most this much


def _opened(source: Source, how: str) -> Watched:
    fs, fs_path = open_source(source)
    try:
        if how == "file":
            return Watched(fs.open_input_file(fs_path))
        return Watched(fs.open_input_stream(fs_path, compression=None))
    except FileNotFoundError:
        raise InputError(source.path, "the file is gone (it was there when the run started)",
                         hint="run the command again on the unchanged input") from None
    except OSError as exc:
        raise InputError(source.path, f"cannot open the file: {exc}", hint=IO_HINT) from None


def open_file(source: Source) -> Watched:
    """A random-access file (Parquet), watched."""
    return _opened(source, "file")


def open_stream(source: Source):
    """``(stream, watched)``: the decompressed byte stream of ``source`` and its raw reads."""
    raw = _opened(source, "stream")
    if source.compression is None:
        return raw, raw
    return pa.CompressedInputStream(raw, source.compression), raw


class _Bounded:
    """The next ``n`` bytes of a stream, then its end."""

    def __init__(self, raw, n: int):
        self.raw, self.left = raw, n

    def read(self, nbytes=-1):
        if self.left <= 0:
            return b""
        data = self.raw.read(self.left if nbytes is None or nbytes < 0 else
                             min(nbytes, self.left))
        self.left -= len(data)
        return data


def open_lines(task, limit: int | None = None, only=None):
    """``(LineReader, watched)`` over the lines of a JSONL task: the whole file, or the byte
    range a task cut from a plain file holds (it starts and ends at line ends; its rows and
    lines are numbered as in the whole file)."""
    if task.byte_range is None:
        stream, watched = open_stream(task.source)
        return LineReader(stream, limit, only), watched
    start, end = task.byte_range
    fh = open_file(task.source)
    fh.seek(start)
    return LineReader(_Bounded(fh, end - start), limit, only, record=task.first_row,
                      line=task.first_line, at_start=start == 0), fh


def line_starts(source: Source, offsets: list[int]) -> list[int]:
    """For each byte offset, the offset just past the first newline at or after it (the start
    of the next line; the file's size when there is none)."""
    out = []
    fh = open_file(source)
    with fh:
        size = fh.size()
        for offset in offsets:
            fh.seek(offset)
            pos = offset
            while True:
                chunk = fh.read(1 << 16)
                if not chunk:
                    out.append(size)
                    break
                i = chunk.find(b"\n")
                if i >= 0:
                    out.append(pos + i + 1)
                    break
                pos += len(chunk)
    return out


def count_lines(task) -> tuple[int, int]:
    """``(lines, rows)`` in a JSONL task's bytes, read without holding any line."""
    reader, watched = open_lines(task, limit=0)
    with watched:
        for _ in reader.chunks():
            pass
    return reader.line - task.first_line, reader.record - task.first_row


class Oversize(int):
    """A line longer than the bound, in bytes: it was streamed past, never held."""


class LineReader:
    """The non-blank lines of a byte stream as ``(record, line, bytes | Oversize)``.

    ``record`` counts non-blank lines from 0 (a row's number in the manifest), ``line`` counts
    every line from 1 (what an editor shows). A line over ``limit`` bytes is never held whole:
    the reader keeps its length and streams on to the next newline. With ``only``, a sorted
    array of records, other lines are counted but neither held nor returned, and reading stops
    after the last one. Time is linear in the stream's size, memory is one chunk plus one line
    of at most ``limit`` bytes. After a failed read, ``record`` and ``line`` say where the
    stream broke. :meth:`chunks` gives the lines of each chunk read as three lists, which costs
    far less Python per line than iterating.
    """

    def __init__(self, stream, limit: int | None = None, only=None, *, record: int = 0,
                 line: int = 0, at_start: bool = True):
        """``record`` and ``line``: the counts before the stream's first byte (a stream that
        starts inside a file at a line start, ``at_start`` False, see :func:`open_lines`); a
        byte order mark is dropped only at the start of a file."""
        self.stream = stream
        self.limit = limit if limit is not None else float("inf")
        self.only = None if only is None else np.asarray(only, np.int64)
        self.record = record
        self.line = line
        self._at_start = at_start
        self._k = 0  # position in ``only``
        self._pieces: list[bytes] = []  # the line in progress
        self._size = 0
        self._blank = True
        self._want = self._wanted(record)

    def __iter__(self) -> Iterator[tuple[int, int, bytes | Oversize]]:
        for records, lines, contents in self.chunks():
            yield from zip(records, lines, contents)

    def _wanted(self, record: int) -> bool:
        if self.only is None:
            return True
        while self._k < len(self.only) and self.only[self._k] < record:
            self._k += 1
        return self._k < len(self.only) and self.only[self._k] == record

    def _extend(self, part: bytes) -> None:
        """Add ``part`` to the line in progress (held only if wanted and within the bound)."""
        self._size += len(part)
        if self._blank and part and not part.isspace():
            self._blank = False
        if self._want and self._size <= self.limit:
            self._pieces.append(part)
        elif self._pieces:
            self._pieces = []

    def _end_line(self, out: tuple[list, list, list]) -> None:
        self.line += 1
        if not self._blank:
            if self._want:
                out[0].append(self.record)
                out[1].append(self.line)
                out[2].append(self._content())
            self.record += 1
        self._pieces, self._size, self._blank = [], 0, True
        self._want = self._wanted(self.record)

    def _content(self) -> bytes | Oversize:
        if self._size > self.limit:
            return Oversize(self._size)
        line = self._pieces[0] if len(self._pieces) == 1 else b"".join(self._pieces)
        return line[:-1] if line.endswith(b"\r") else line

    def chunks(self) -> Iterator[tuple[list[int], list[int], list[bytes | Oversize]]]:
        """``(records, lines, contents)`` of the lines each read completes."""
        first = self._at_start
        while self.only is None or self._k < len(self.only):
            chunk = self.stream.read(_CHUNK)
            if not chunk:
                break
            if first:
                while len(chunk) < len(_BOM) and (more := self.stream.read(_CHUNK)):
                    chunk += more
                chunk = chunk[len(_BOM):] if chunk.startswith(_BOM) else chunk
                first = False
            parts = chunk.split(b"\n")
            self._extend(parts[0])
            if len(parts) == 1:
                continue
            out: tuple[list, list, list] = ([], [], [])
            self._end_line(out)
            self._whole_lines(parts[1:-1], out)
            self._want = self._wanted(self.record)
            self._extend(parts[-1])
            if out[0]:
                yield out
        if not self._blank:
            out = ([], [], [])
            self._end_line(out)
            if out[0]:
                yield out

    def _whole_lines(self, middle: list[bytes], out: tuple[list, list, list]) -> None:
        """The lines that begin and end inside one chunk, in bulk."""
        idx = [i for i, p in enumerate(middle) if p and not p.isspace()]
        first_record, base = self.record, self.line + 1
        self.record += len(idx)
        self.line += len(middle)
        if self.only is not None:
            lo = np.searchsorted(self.only, first_record)
            hi = np.searchsorted(self.only, self.record)
            idx = [idx[r - first_record] for r in self.only[lo:hi].tolist()]
            records = self.only[lo:hi].tolist()
        else:
            records = range(first_record, self.record)
        out[0].extend(records)
        out[1].extend(base + i for i in idx)
        limit = self.limit
        out[2].extend(Oversize(len(p)) if len(p) > limit else p[:-1] if p.endswith(b"\r") else p
                      for p in (middle[i] for i in idx))
