"""Parquet output: shards written under a temporary name and renamed (the schema they are cast
to is :func:`dedupe.io.unify.conform`'s)."""

from __future__ import annotations

import errno

import pyarrow as pa
import pyarrow.parquet as pq

from dedupe.errors import OutputError
from dedupe.io.atomic import atomic_path

__all__ = ["write_parquet_atomic"]


def write_parquet_atomic(table: pa.Table, path: str, compression: str = "zstd") -> None:
    """Write ``table`` via a temporary name + rename: a crash leaves no final-named file.

    Parquet's encoding (where a dictionary falls back to plain values) depends on how a column
    is chunked: a caller whose chunks could follow the run's tasks makes them canonical first.
    """
    try:
        with atomic_path(path) as tmp:
            pq.write_table(table, tmp, compression=compression, row_group_size=64 * 1024)
    except OSError as exc:
        what = "the disk is full" if exc.errno == errno.ENOSPC else exc.strerror or str(exc)
        raise OutputError(f"cannot write {path}: {what}") from None
