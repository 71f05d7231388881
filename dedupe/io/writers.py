"""Parquet output: shards written under a temporary name and renamed, schema kept exactly."""

from __future__ import annotations

import errno
import os

import pyarrow as pa
import pyarrow.parquet as pq

from dedupe.errors import OutputError

__all__ = ["conform", "write_parquet_atomic"]


def write_parquet_atomic(table: pa.Table, path: str, compression: str = "zstd") -> None:
    """Write ``table`` via a temporary name + rename: a crash leaves no final-named file."""
    folder, name = os.path.split(path)
    tmp = os.path.join(folder, f".{name}.tmp-{os.getpid()}")
    try:
        pq.write_table(table, tmp, compression=compression, row_group_size=64 * 1024)
        os.replace(tmp, path)
    except OSError as exc:
        if os.path.exists(tmp):
            os.unlink(tmp)
        what = "the disk is full" if exc.errno == errno.ENOSPC else exc.strerror or str(exc)
        raise OutputError(f"cannot write {path}: {what}") from None


def conform(batch: pa.RecordBatch | pa.Table, schema: pa.Schema, path: str):
    """Cast ``batch`` to the run's output ``schema`` (the first input's); name what disagrees."""
    from dedupe.errors import InputError

    if batch.schema.equals(schema):
        return batch
    names = set(batch.schema.names)
    missing = [f.name for f in schema if f.name not in names]
    if missing:
        raise InputError(
            path,
            f"column(s) {missing} missing; the first input has them",
            column=missing[0],
            hint="all inputs of a run must share one schema",
        )
    extra = [n for n in batch.schema.names if n not in schema.names]
    if extra:
        raise InputError(
            path,
            f"column(s) {extra} are not in the first input's schema",
            column=extra[0],
            hint="all inputs of a run must share one schema",
        )
    arrays = []
    for f in schema:
        col = batch.column(batch.schema.get_field_index(f.name))
        if col.type != f.type:
            try:
                col = col.cast(f.type)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                raise InputError(
                    path,
                    f"column {f.name!r} has type {col.type}, the first input has {f.type}",
                    column=f.name,
                    hint="all inputs of a run must share one schema",
                ) from None
        arrays.append(col)
    if isinstance(batch, pa.Table):
        return pa.Table.from_arrays(arrays, schema=schema)
    return pa.RecordBatch.from_arrays(arrays, schema=schema)
