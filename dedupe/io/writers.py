"""Parquet output: shards that appear whole or not at all, through :func:`dedupe.io.fs.open_output`
(the schema they are cast to is :func:`dedupe.io.unify.conform`'s)."""

from __future__ import annotations

import errno

import pyarrow as pa
import pyarrow.parquet as pq

from dedupe.errors import OutputError
from dedupe.io.fs import open_output

__all__ = ["write_parquet_atomic"]


def write_parquet_atomic(table: pa.Table, path: str, compression: str = "zstd") -> None:
    """Write ``table`` to ``path`` whole or not at all: a crash leaves no final-named file.

    Parquet's encoding (where a dictionary falls back to plain values) depends on how a column
    is chunked: a caller whose chunks could follow the run's tasks makes them canonical first.
    """
    try:
        with open_output(path) as sink:
            pq.write_table(table, sink, compression=compression, row_group_size=64 * 1024)
    except OSError as exc:
        what = "the disk is full" if exc.errno == errno.ENOSPC else exc.strerror or str(exc)
        raise OutputError(f"cannot write {path}: {what}") from None
