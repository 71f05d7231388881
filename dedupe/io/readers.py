"""Readers: a task's rows as Arrow record batches, each row tagged with its source row number.

Rows that cannot be parsed at all (a JSONL line that is not one JSON object, invalid UTF-8 in any
column, an unreadable Parquet page, the rest of a truncated stream) never vanish: in ``reject``
mode they come back in ``ReadBatch.rejected`` with the reason, in ``error`` mode they raise
:class:`InputError` naming the file, the row (and a JSONL file's line) and the problem. A row
over ``max_row_bytes`` (a JSONL line, or a Parquet text value) is always rejected: the bound is
the user's policy, and a JSONL line over it is streamed past, never held whole. A failure of the
storage or the machine (an I/O error, a timeout, running out of memory) is not bad input: it
stops the run with its cause (see :mod:`dedupe.io.streams`).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from dedupe.errors import InputError
from dedupe.io.jsonl import BlockParser
from dedupe.io.sources import Source, Task
from dedupe.io.streams import Oversize, data_error, open_file, open_lines
from dedupe.io.unify import decode, invalid_utf8_rows, unview

__all__ = ["ReadBatch", "list_rows", "read_schema", "read_task"]

_BLOCK_BYTES = 16 << 20  # JSONL bytes parsed at once, whatever the line count


@dataclass
class ReadBatch:
    """Rows that parsed, their source row numbers, and the rows that did not.

    ``schema`` is every column of these rows as read (before any column selection): the sign
    stage merges it into the run's output schema.
    """

    batch: pa.RecordBatch
    source_rows: np.ndarray
    rejected: list[tuple[int, str]] = field(default_factory=list)
    schema: pa.Schema | None = None


@dataclass(frozen=True)
class _Options:
    columns: list[str] | None
    batch_rows: int
    mode: str
    text_column: str
    max_row_bytes: int | None
    hint: pa.Schema | None
    only_rows: np.ndarray | None
    check_all: bool


def _bad(task: Task, mode: str, row: int, reason: str, out: list, column=None, hint=None,
         line=None):
    if mode == "error":
        raise InputError(
            task.source.path,
            reason,
            row=row,
            column=column,
            line=line,
            hint=hint or "fix the row, or pass --on-bad-row reject to record it in the manifest",
        )
    out.append((row, reason if line is None else f"line {line}: {reason}"))


def _check_utf8(task: Task, batch: pa.RecordBatch, rows: np.ndarray, mode: str, lines=None):
    """Drop (reject mode) or report (error mode) rows holding a string that is not valid UTF-8,
    in any column, nested ones included.

    Neither the Parquet nor the JSON reader validates UTF-8 in full, so one validation call per
    batch checks every column; only a failing batch is examined, by bisection, row by row.
    """
    try:
        batch.validate(full=True)
        return batch, rows, []
    except pa.ArrowInvalid:
        pass
    bad: dict[int, str] = {}
    for name, arr in zip(batch.schema.names, batch.columns):
        for i in invalid_utf8_rows(arr).tolist():
            bad.setdefault(i, name)
    rejected: list = []
    for i, name in sorted(bad.items()):
        _bad(task, mode, int(rows[i]), _utf8_reason(batch.column(name), i), rejected, name,
             line=None if lines is None else lines[i])
    keep = np.ones(batch.num_rows, bool)
    keep[list(bad)] = False
    return batch.filter(pa.array(keep)), rows[keep], rejected


def _utf8_reason(arr: pa.Array, i: int) -> str:
    if pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type):
        raw = arr.slice(i, 1).cast(pa.large_binary())[0].as_py()
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            return f"invalid UTF-8 at byte {exc.start}"
    return "invalid UTF-8 inside the column's value"


def _too_long(task, opts: _Options, batch: pa.RecordBatch, rows: np.ndarray):
    """Parquet: rows whose text is over ``max_row_bytes`` are rejected, never passed on."""
    i = batch.schema.get_field_index(opts.text_column)
    if opts.max_row_bytes is None or i < 0 or batch.num_rows == 0:
        return batch, rows, []
    text = decode(batch.column(i))
    if not (pa.types.is_string(text.type) or pa.types.is_large_string(text.type)):
        return batch, rows, []
    size = pc.binary_length(text).fill_null(0).to_numpy(zero_copy_only=False)
    over = size > opts.max_row_bytes
    if not over.any():
        return batch, rows, []
    rejected = [(int(rows[j]), f"text is {int(size[j]):,} bytes, over max_row_bytes "
                 f"({opts.max_row_bytes:,}): raise --max-row-bytes to keep it")
                for j in np.flatnonzero(over)]
    return batch.filter(pa.array(~over)), rows[~over], rejected


def _select(batch: pa.RecordBatch, n: int, opts: _Options) -> pa.RecordBatch:
    """The asked-for columns, decoded to plain strings where dictionary-encoded; a column a
    JSONL block lacks is all null (a text column that is all null is still a string column)."""
    if opts.columns is None:
        return batch
    arrays = []
    for c in opts.columns:
        i = batch.schema.get_field_index(c)
        arr = decode(batch.column(i)) if i >= 0 else pa.nulls(n, pa.string())
        if pa.types.is_null(arr.type):
            arr = pa.nulls(n, pa.string())
        arrays.append(arr)
    return pa.RecordBatch.from_arrays(arrays, names=list(opts.columns))


def _has_strings(t: pa.DataType) -> bool:
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        return True
    if pa.types.is_dictionary(t):
        return _has_strings(t.value_type)
    if pa.types.is_list(t) or pa.types.is_large_list(t):
        return _has_strings(t.value_type)
    if pa.types.is_struct(t):
        return any(_has_strings(t.field(i).type) for i in range(t.num_fields))
    return False


def _empty(schema: pa.Schema, columns) -> pa.RecordBatch:
    if columns is not None:
        schema = pa.schema([schema.field(c) if c in schema.names else (c, pa.string())
                            for c in columns])
    return unview(pa.RecordBatch.from_arrays([pa.array([], f.type) for f in schema],
                                             schema=schema))


def _read_parquet(task: Task, opts: _Options) -> Iterator[ReadBatch]:
    path = task.source.path
    fh = open_file(task.source)
    with fh:
        try:
            pf = pq.ParquetFile(fh)
        except Exception as exc:  # a storage failure raises in data_error; the rest is data
            reason = data_error(exc, fh, path)
            raise InputError(path, f"not a readable Parquet file: {reason}",
                             hint="the footer is missing or corrupt") from None
        schema = pf.schema_arrow
        missing = [c for c in (opts.columns or []) if c not in schema.names]
        if missing:
            raise InputError(path, f"column(s) {missing} not found", column=missing[0],
                             hint=f"columns are {schema.names}")
        read = opts.columns
        if read is not None and opts.check_all:
            read = list(read) + [f.name for f in schema
                                 if f.name not in read and _has_strings(f.type)]
        row = task.group_start
        for rg in task.row_groups or ():
            yield from _read_row_group(task, pf, rg, row, read, schema, fh, opts)
            row += pf.metadata.row_group(rg).num_rows


def _read_row_group(task, pf, rg, first, read, schema, fh, opts):
    """The task's rows of row group ``rg`` (whose first row is source row ``first``): a task cut
    inside the group (:func:`dedupe.io.sources.work_tasks`) skips the rows before its range and
    stops reading at its end."""
    rg_rows = pf.metadata.row_group(rg).num_rows
    lo = max(first, task.first_row)
    hi = first + rg_rows if task.num_rows < 0 else min(first + rg_rows,
                                                       task.first_row + task.num_rows)
    done = 0
    batches = pf.iter_batches(batch_size=opts.batch_rows, row_groups=[rg], columns=read,
                              use_threads=False)
    while first + done < hi:
        try:
            batch = next(batches)
        except StopIteration:
            return
        except Exception as exc:  # a storage failure raises in data_error; the rest is data
            reason = data_error(exc, fh, task.source.path, max(lo, first + done))
            rejected: list = []
            for r in range(max(lo, first + done), hi):
                _bad(task, opts.mode, r, f"unreadable Parquet data in row group {rg}: {reason}",
                     rejected)
            yield ReadBatch(_empty(schema, opts.columns), np.zeros(0, np.int64), rejected,
                            schema)
            return
        start = first + done
        done += batch.num_rows
        if first + done <= lo:
            continue  # before the task's range
        if start < lo or first + done > hi:
            batch = batch.slice(max(0, lo - start), min(first + done, hi) - max(start, lo))
            start = max(start, lo)
        batch = unview(batch)  # string_view columns as large_string (see unview)
        rows = np.arange(start, start + batch.num_rows, dtype=np.int64)
        batch, rows, long = _too_long(task, opts, batch, rows)
        batch, rows, bad = _check_utf8(task, batch, rows, opts.mode)
        yield ReadBatch(_select(batch, len(rows), opts), rows, long + bad, schema)


def _read_jsonl(task: Task, opts: _Options) -> Iterator[ReadBatch]:
    path = task.source.path
    reader, watched = open_lines(task, opts.max_row_bytes, opts.only_rows)
    parser = BlockParser(path, opts.text_column, opts.hint)
    block: tuple[list, list, list] = ([], [], [])  # records, lines, contents
    rejected: list = []
    chunks = reader.chunks()
    with watched:
        while True:
            try:
                records, lines, contents = next(chunks)
            except StopIteration:
                break
            except Exception as exc:  # a storage failure raises in data_error; the rest is data
                reason = data_error(exc, watched, path)  # (compressed reads run ahead of rows)
                if block[0]:
                    yield _parse(task, parser, block, rejected, opts)
                    block, rejected = ([], [], []), []
                _bad(task, opts.mode, reader.record,
                     f"the stream cannot be read past this row: {reason}", rejected,
                     hint="the file is truncated or corrupt", line=reader.line + 1)
                yield ReadBatch(_empty(pa.schema([]), opts.columns), np.zeros(0, np.int64),
                                rejected)
                return
            over = [i for i, c in enumerate(contents) if type(c) is Oversize]
            for i in over:
                rejected.append((records[i], f"line {lines[i]}: {contents[i]:,} bytes, over "
                                 f"max_row_bytes ({opts.max_row_bytes:,}); skipped without "
                                 "being read whole (raise --max-row-bytes to keep it)"))
            if over:
                keep = sorted(set(range(len(records))) - set(over))
                records, lines, contents = ([x[i] for i in keep]
                                            for x in (records, lines, contents))
            for mine, new in zip(block, (records, lines, contents)):
                mine.extend(new)
            while len(block[0]) >= opts.batch_rows:
                head = tuple(x[:opts.batch_rows] for x in block)
                block = tuple(x[opts.batch_rows:] for x in block)
                yield _parse(task, parser, head, rejected, opts)
                rejected = []
            if sum(map(len, block[2])) >= _BLOCK_BYTES:
                yield _parse(task, parser, block, rejected, opts)
                block, rejected = ([], [], []), []
    if block[0] or rejected:
        yield _parse(task, parser, block, rejected, opts)


def _parse(task, parser: BlockParser, block, rejected: list, opts: _Options) -> ReadBatch:
    records, lines, contents = block
    table, good, bad = parser.parse(contents)
    rejected = list(rejected)
    for pos, reason in bad:
        _bad(task, opts.mode, records[pos], reason, rejected, line=lines[pos])
    rows = np.array([records[i] for i in good], np.int64)
    batches = table.combine_chunks().to_batches()
    batch = batches[0] if batches else _empty(table.schema, None)
    batch, rows, utf8 = _check_utf8(task, batch, rows, opts.mode, [lines[i] for i in good])
    return ReadBatch(_select(batch, len(rows), opts), rows, rejected + utf8, table.schema)


def read_task(
    task: Task,
    columns: list[str] | None,
    *,
    batch_rows: int = 4096,
    on_bad_row: str = "error",
    text_column: str = "text",
    max_row_bytes: int | None = None,
    schema_hint: pa.Schema | None = None,
    only_rows: np.ndarray | None = None,
    check_all_columns: bool = False,
) -> Iterator[ReadBatch]:
    """Stream the rows of ``task`` (only ``columns`` if given) as :class:`ReadBatch` objects.

    ``only_rows`` (sorted source rows): a JSONL file's other lines are skipped unparsed and
    reading stops after the last one (Parquet batches are filtered by the caller).
    ``schema_hint``: the types to expect (JSONL). ``check_all_columns``: also check the columns
    not asked for (Parquet), so that a row is rejected for invalid UTF-8 in any column when it
    is signed, not first when it is written.
    """
    opts = _Options(columns, batch_rows, on_bad_row, text_column, max_row_bytes, schema_hint,
                    None if only_rows is None else np.sort(np.asarray(only_rows, np.int64)),
                    check_all_columns)
    if task.source.format == "parquet":
        yield from _read_parquet(task, opts)
    else:
        yield from _read_jsonl(task, opts)


def list_rows(task: Task) -> np.ndarray:
    """Every source row number of ``task`` without parsing (a JSONL line is only counted; a
    stream that breaks adds the row where it broke)."""
    if task.source.format == "parquet":
        return np.arange(task.first_row, task.first_row + max(task.num_rows, 0), dtype=np.int64)
    reader, watched = open_lines(task, limit=0)
    rows = []
    with watched:
        try:
            rows = [record for record, _, _ in reader]
        except Exception as exc:  # a storage failure raises in data_error; the rest is data
            data_error(exc, watched, task.source.path)
            rows = list(range(task.first_row, reader.record + 1))
    return np.asarray(rows, np.int64)


def read_schema(source: Source, sample_rows: int = 1000, max_row_bytes: int | None = None,
                text_column: str = "text") -> pa.Schema:
    """The Arrow schema of a source (Parquet: the footer; JSONL: inferred from its first rows,
    the sign stage then sees every row's fields)."""
    if source.format == "parquet":
        fh = open_file(source)
        with fh:
            try:
                return pq.ParquetFile(fh).schema_arrow
            except Exception as exc:  # a storage failure raises in data_error
                reason = data_error(exc, fh, source.path)
                raise InputError(source.path, f"not a readable Parquet file: {reason}") from None
    task = Task(0, source)
    for rb in read_task(task, None, batch_rows=sample_rows, on_bad_row="reject",
                        text_column=text_column, max_row_bytes=max_row_bytes):
        if rb.batch.num_rows:
            return rb.schema
    return pa.schema([])
