"""Work-folder files: Arrow IPC and numpy arrays, each appearing whole or not at all, on a
local disk or an object store (:mod:`dedupe.io.fs`)."""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import pyarrow as pa
import pyarrow.ipc as ipc

from dedupe.io.fs import is_uri, open_input, open_output, read_bytes

__all__ = ["ipc_file", "ipc_metadata", "ipc_writer", "read_ipc", "read_npy", "write_ipc",
           "write_npy"]


@contextmanager
def ipc_writer(path: str, schema: pa.Schema) -> Iterator[ipc.RecordBatchFileWriter]:
    """An Arrow file writer for ``path``; the file appears when the block ends without error."""
    with open_output(path) as sink, ipc.new_file(sink, schema) as writer:
        yield writer


def write_ipc(table: pa.Table, path: str, metadata: dict[str, str] | None = None) -> None:
    """Write ``table`` to ``path`` atomically; ``metadata`` is added to its schema's metadata."""
    if metadata:
        table = table.replace_schema_metadata({**(table.schema.metadata or {}), **metadata})
    with ipc_writer(path, table.schema) as writer:
        writer.write_table(table)


@contextmanager
def ipc_file(path: str) -> Iterator[ipc.RecordBatchFileReader]:
    """A reader of the Arrow file ``path``, for a task that wants some of its batches."""
    with open_input(path) as source:
        yield ipc.open_file(source)


def ipc_metadata(path: str) -> dict:
    """The schema metadata of an Arrow file (bytes keys and values), without reading its data."""
    with ipc_file(path) as reader:
        return dict(reader.schema.metadata or {})


def read_ipc(path: str) -> pa.Table:
    with ipc_file(path) as reader:
        return reader.read_all()


def write_npy(path: str, array: np.ndarray) -> None:
    """``array`` as a ``.npy`` file at ``path`` (whole or not at all)."""
    with open_output(path) as sink:
        np.save(sink, array)


def read_npy(path: str) -> np.ndarray:
    """A ``.npy`` file: memory-mapped from a local disk (a task reads a few entries of a
    corpus-sized mask), read whole from a store (which has no memory map)."""
    if not is_uri(path):
        return np.load(path, mmap_mode="r")
    return np.load(io.BytesIO(read_bytes(path)))
