"""Readers: a task's rows as Arrow record batches, each row tagged with its source row number.

Rows that cannot be parsed at all (a JSONL line that is not JSON, invalid UTF-8, an unreadable
Parquet row group, the rest of a truncated stream) never vanish: in ``reject`` mode they come back
in ``ReadBatch.rejected`` with the reason, in ``error`` mode they raise :class:`InputError` naming
the file, the row and the problem.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.json as pajson
import pyarrow.parquet as pq

from dedupe.errors import InputError
from dedupe.io.sources import Source, Task, open_source

__all__ = ["ReadBatch", "read_schema", "read_task"]

_BOM = b"\xef\xbb\xbf"
_CHUNK = 1 << 18  # small reads: a truncated stream loses at most this much


@dataclass
class ReadBatch:
    """Rows that parsed, their source row numbers, and the rows that did not."""

    batch: pa.RecordBatch
    source_rows: np.ndarray
    rejected: list[tuple[int, str]] = field(default_factory=list)


def _bad(task: Task, on_bad_row: str, row: int, reason: str, out: list, column=None, hint=None):
    if on_bad_row == "error":
        raise InputError(
            task.source.path,
            reason,
            row=row,
            column=column,
            hint=hint or "fix the row, or pass --on-bad-row reject to record it in the manifest",
        )
    out.append((row, reason))


def _check_utf8(task: Task, batch: pa.RecordBatch, rows: np.ndarray, mode: str):
    """Drop (reject mode) or report (error mode) rows whose strings are not valid UTF-8.

    Neither the Parquet nor the JSON reader validates UTF-8 in full, so one validation call per
    batch checks every string column; only a failing batch is examined row by row.
    """
    try:
        batch.validate(full=True)
        return batch, []
    except pa.ArrowInvalid:
        pass
    rejected: list = []
    keep = np.ones(batch.num_rows, bool)
    for name, arr in zip(batch.schema.names, batch.columns):
        if not (pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type)):
            continue
        raw = arr.cast(pa.large_binary() if pa.types.is_large_string(arr.type) else pa.binary())
        for i, value in enumerate(raw.to_pylist()):
            if value is None or not keep[i]:
                continue
            try:
                value.decode("utf-8")
            except UnicodeDecodeError as exc:
                _bad(task, mode, int(rows[i]), f"invalid UTF-8 at byte {exc.start}", rejected, name)
                keep[i] = False
    return batch.filter(pa.array(keep)), rejected


def _read_parquet(task: Task, columns, batch_rows: int, mode: str, text_column: str):
    fs, fs_path = open_source(task.source)
    try:
        fh = fs.open_input_file(fs_path)
        pf = pq.ParquetFile(fh)
    except Exception as exc:
        raise InputError(task.source.path, f"not a readable Parquet file: {exc}") from None
    with fh:
        meta = pf.metadata
        row = task.first_row
        missing = [c for c in (columns or []) if c not in pf.schema_arrow.names]
        if missing:
            raise InputError(
                task.source.path,
                f"column(s) {missing} not found",
                column=missing[0],
                hint=f"columns are {pf.schema_arrow.names}",
            )
        for rg in task.row_groups or ():
            rg_rows = meta.row_group(rg).num_rows
            done = 0
            try:
                for batch in pf.iter_batches(
                    batch_size=batch_rows, row_groups=[rg], columns=columns, use_threads=False
                ):
                    rows = np.arange(row + done, row + done + batch.num_rows, dtype=np.int64)
                    done += batch.num_rows
                    batch, rejected = _check_utf8(task, batch, rows, mode)
                    if rejected:
                        rows = np.setdiff1d(rows, [r for r, _ in rejected])
                    yield ReadBatch(batch, rows, rejected)
            except InputError:
                raise
            except Exception as exc:
                rejected: list = []
                reason = f"unreadable Parquet data in row group {rg}: {exc}"
                for r in range(row + done, row + rg_rows):
                    _bad(task, mode, r, reason, rejected)
                yield ReadBatch(
                    _empty_like(pf.schema_arrow, columns), np.zeros(0, np.int64), rejected
                )
            row += rg_rows


def _empty_like(schema: pa.Schema, columns) -> pa.RecordBatch:
    if columns is not None:
        schema = pa.schema([schema.field(c) for c in columns])
    return pa.RecordBatch.from_arrays([pa.array([], f.type) for f in schema], schema=schema)


def _iter_lines(task: Task) -> Iterator[tuple[int, bytes | Exception]]:
    """Non-blank lines of a JSONL file with their record numbers; a read error ends the stream."""
    fs, fs_path = open_source(task.source)
    record = 0
    try:
        stream = fs.open_input_stream(fs_path, compression=task.source.compression)
    except Exception as exc:
        yield record, exc
        return
    with stream:
        tail = b""
        first = True
        while True:
            try:
                chunk = stream.read(_CHUNK)
            except Exception as exc:  # the partial line in ``tail`` belongs to the lost part
                yield record, exc
                return
            if not chunk:
                break
            data = tail + chunk
            if first:
                data = data[len(_BOM) :] if data.startswith(_BOM) else data
                first = False
            lines = data.split(b"\n")
            tail = lines.pop()
            for line in lines:
                if line.strip():
                    yield record, line
                    record += 1
        if tail.strip():
            yield record, tail


def _parse_block(task, lines, rows, mode, text_column):
    """Parse JSON lines with pyarrow; on failure find the bad lines with the json module."""
    blob = b"\n".join(lines)
    try:
        table = pajson.read_json(io.BytesIO(blob))
        return table, np.asarray(rows, np.int64), []
    except pa.ArrowInvalid:
        pass
    good, good_rows, rejected = [], [], []
    for r, line in zip(rows, lines):
        try:
            obj = json.loads(line.decode("utf-8"))
        except UnicodeDecodeError as exc:
            _bad(task, mode, r, f"invalid UTF-8 at byte {exc.start}", rejected)
            continue
        except ValueError as exc:
            _bad(task, mode, r, f"not valid JSON: {exc}", rejected)
            continue
        if not isinstance(obj, dict):
            _bad(
                task, mode, r, f"a JSON line must be an object, got {type(obj).__name__}", rejected
            )
            continue
        good.append(obj)
        good_rows.append(r)
    table = (
        pa.Table.from_pylist(good) if good else pa.table({text_column: pa.array([], pa.string())})
    )
    return table, np.asarray(good_rows, np.int64), rejected


def _read_jsonl(task: Task, columns, batch_rows: int, mode: str, text_column: str):
    lines: list[bytes] = []
    rows: list[int] = []

    def flush():
        table, parsed_rows, rejected = _parse_block(task, lines, rows, mode, text_column)
        lines.clear()
        rows.clear()
        if columns is not None:
            missing = [c for c in columns if c not in table.column_names]
            if missing and table.num_rows:
                raise InputError(
                    task.source.path,
                    f"column(s) {missing} not found",
                    row=int(parsed_rows[0]),
                    column=missing[0],
                    hint=f"fields are {table.column_names}",
                )
            if missing:
                table = pa.table({c: pa.array([], pa.string()) for c in columns})
            table = table.select(columns)
        for batch in table.combine_chunks().to_batches() or [None]:
            if batch is None:
                yield ReadBatch(_empty_like(table.schema, None), parsed_rows[:0], rejected)
                continue
            rows_here = parsed_rows[: batch.num_rows]
            parsed_rows = parsed_rows[batch.num_rows :]
            batch, bad = _check_utf8(task, batch, rows_here, mode)
            if bad:
                rows_here = np.setdiff1d(rows_here, [r for r, _ in bad])
            yield ReadBatch(batch, rows_here, rejected + bad)
            rejected = []

    for record, item in _iter_lines(task):
        if isinstance(item, Exception):
            if lines:
                yield from flush()
            rejected: list = []
            _bad(
                task,
                mode,
                record,
                f"the stream cannot be read past this row: {item}",
                rejected,
                hint="the file is truncated or corrupt",
            )
            yield ReadBatch(
                pa.record_batch({text_column: pa.array([], pa.string())}),
                np.zeros(0, np.int64),
                rejected,
            )
            return
        lines.append(item.rstrip(b"\r"))
        rows.append(record)
        if len(lines) >= batch_rows:
            yield from flush()
    if lines:
        yield from flush()


def read_task(
    task: Task,
    columns: list[str] | None,
    *,
    batch_rows: int = 4096,
    on_bad_row: str = "error",
    text_column: str = "text",
) -> Iterator[ReadBatch]:
    """Stream the rows of ``task`` (only ``columns`` if given) as :class:`ReadBatch` objects."""
    if task.source.format == "parquet":
        yield from _read_parquet(task, columns, batch_rows, on_bad_row, text_column)
    else:
        yield from _read_jsonl(task, columns, batch_rows, on_bad_row, text_column)


def read_schema(source: Source, sample_rows: int = 1000) -> pa.Schema:
    """The Arrow schema of a source (Parquet: the footer; JSONL: inferred from its first rows)."""
    if source.format == "parquet":
        fs, fs_path = open_source(source)
        try:
            with fs.open_input_file(fs_path) as fh:
                return pq.ParquetFile(fh).schema_arrow
        except Exception as exc:
            raise InputError(source.path, f"not a readable Parquet file: {exc}") from None
    task = Task(0, source)
    for rb in _read_jsonl(task, None, sample_rows, "reject", "text"):
        if rb.batch.num_rows:
            return rb.batch.schema
    return pa.schema([])
