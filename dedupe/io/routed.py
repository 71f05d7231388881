"""Routed files: how one step of a partitioned stage hands records to the next.

A task writes one Arrow file whose records are sorted by the partition of the next step that
will read them, with the slice bounds in the file's metadata; task ``p`` of the next step reads
slice ``p`` of every file. This is the shuffle between steps, through the work folder, so no
process ever holds more than its own partition (and the planner only file names).
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import numpy as np
import pyarrow as pa

from dedupe.io.fs import exists, size
from dedupe.io.spill import ipc_metadata, read_ipc, write_ipc

__all__ = ["map_missing", "read_routed", "routed_meta", "write_routed", "write_sorted"]

_META = b"dedupe.routed"


def write_routed(path: str, columns: dict[str, np.ndarray], part: np.ndarray, partitions: int,
                 meta: dict | None = None) -> int:
    """Write ``columns`` (equal-length arrays) sorted by ``part`` (each record's partition,
    ``0 <= part < partitions``; the order within a partition is kept); returns the file's
    size in bytes. ``meta`` (JSON-able) is stored with the slice bounds."""
    columns = dict(columns)
    offsets = sort_columns(columns, part, partitions, path)
    return write_sorted(path, columns, offsets, meta)


def sort_columns(columns: dict[str, np.ndarray], part: np.ndarray, partitions: int,
                 what: str = "records") -> np.ndarray:
    """Put the arrays of ``columns`` in partition order (stable), replacing each entry of the
    dict in turn, so a caller that holds no other reference to them has one column copied at
    a time; returns the partitions' offsets."""
    part = np.asarray(part)
    if len(part) and (int(part.min()) < 0 or int(part.max()) >= partitions):
        raise ValueError(f"{what}: partition outside 0..{partitions - 1}")
    # a stable sort of 16-bit keys is a radix sort, several times faster than on int64
    order = np.argsort(part.astype(np.uint16, copy=False) if partitions <= 1 << 16 else part,
                       kind="stable")
    offsets = np.concatenate([[0], np.cumsum(np.bincount(part, minlength=partitions))])
    for name in list(columns):
        columns[name] = np.asarray(columns[name])[order]
    return offsets


def write_sorted(path: str, columns: dict[str, np.ndarray], offsets, meta: dict | None = None
                 ) -> int:
    """Write records already sorted by partition, partition ``p`` being rows
    ``offsets[p]:offsets[p+1]``; returns the file's size in bytes."""
    info = {"offsets": [int(o) for o in offsets], **(meta or {})}
    write_ipc(pa.table(columns), path, {_META: json.dumps(info).encode()})
    return size(path)


def routed_meta(path: str) -> dict:
    """The metadata a routed file was written with (its ``offsets`` and the writer's ``meta``)."""
    return json.loads(ipc_metadata(path).get(_META, b"{}"))


def read_routed(paths: Sequence[str], part: int, columns: Sequence[str],
                stop: int | None = None) -> dict[str, np.ndarray]:
    """Slice ``part`` (or the slices ``part .. stop - 1``) of every routed file in ``paths``,
    concatenated in file order."""
    pieces: dict[str, list] = {c: [] for c in columns}
    stop = part + 1 if stop is None else stop
    for path in paths:
        table = read_ipc(path)
        offsets = json.loads(table.schema.metadata[_META])["offsets"]
        lo, hi = offsets[part], offsets[stop]
        if hi > lo:
            piece = table.slice(lo, hi - lo)
            for c in columns:
                pieces[c].append(piece.column(c).to_numpy())
    return {c: (np.concatenate(v) if v else _empty(paths, c)) for c, v in pieces.items()}


def _empty(paths: Sequence[str], column: str) -> np.ndarray:
    """An empty array of ``column``'s type (from the first file's schema; int64 without one)."""
    if not paths:
        return np.zeros(0, np.int64)
    return np.zeros(0, read_ipc(paths[0]).schema.field(column).type.to_pandas_dtype())


def map_missing(engine, fn, tasks, stage: str, progress=None) -> list[dict]:
    """``engine.map(fn)`` over the ``tasks`` whose routed file (``task.out``) is not there yet;
    a finished task's result is read back from its file's metadata (written as ``result``).
    Every file is written whole or not at all, so after a crash only missing ones run."""
    todo = [i for i, t in enumerate(tasks) if not exists(t.out)]
    fresh = engine.map(fn, [tasks[i] for i in todo], stage=stage, progress=progress) if todo else []
    results = dict(zip(todo, fresh))
    return [results[i] if i in results else routed_meta(t.out)["result"]
            for i, t in enumerate(tasks)]
