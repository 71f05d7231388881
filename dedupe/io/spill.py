"""Work-folder files: Arrow IPC written under a temporary name and renamed into place."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.ipc as ipc

from dedupe.io.atomic import atomic_path

__all__ = ["ipc_metadata", "read_ipc", "write_ipc"]


def write_ipc(table: pa.Table, path: str, metadata: dict[str, str] | None = None) -> None:
    """Write ``table`` to ``path`` atomically; ``metadata`` is added to its schema's metadata."""
    if metadata:
        table = table.replace_schema_metadata({**(table.schema.metadata or {}), **metadata})
    with atomic_path(path) as tmp, pa.OSFile(tmp, "wb") as sink, \
            ipc.new_file(sink, table.schema) as writer:
        writer.write_table(table)


def ipc_metadata(path: str) -> dict:
    """The schema metadata of an Arrow file (bytes keys and values), without reading its data."""
    with pa.memory_map(path, "r") as source:
        return dict(ipc.open_file(source).schema.metadata or {})


def read_ipc(path: str) -> pa.Table:
    with pa.memory_map(path, "r") as source:
        return ipc.open_file(source).read_all()
