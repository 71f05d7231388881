"""Work-folder files: Arrow IPC written under a temporary name and renamed into place."""

from __future__ import annotations

import os

import pyarrow as pa
import pyarrow.ipc as ipc

__all__ = ["read_ipc", "write_ipc"]


def write_ipc(table: pa.Table, path: str) -> None:
    tmp = f"{path}.tmp-{os.getpid()}"
    with pa.OSFile(tmp, "wb") as sink, ipc.new_file(sink, table.schema) as writer:
        writer.write_table(table)
    os.replace(tmp, path)


def read_ipc(path: str) -> pa.Table:
    with pa.memory_map(path, "r") as source:
        return ipc.open_file(source).read_all()
