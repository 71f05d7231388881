"""Ids from ``--id-column`` must be unique: a manifest row, ``dedupe explain`` and an index match
each name a row by its id, so two rows with one id would be indistinguishable.

The check reads the sign files' id column one file at a time and keeps a 128-bit xxh3 digest
per row (16 bytes a row, not the strings); rows that share a digest with an earlier row are
then compared by their strings, so a digest collision can never make a false duplicate. The
first row (in input order) keeps the id; every later one is a duplicate.
"""

from __future__ import annotations

import numpy as np
import xxhash

from dedupe.errors import InputError
from dedupe.near.decide import ROW_REJECTED
from dedupe.near.exact import exact_groups

__all__ = ["duplicate_ids", "mark_duplicate_ids"]


def _digests(files) -> np.ndarray:
    """``(n, 2)`` uint64 xxh3-128 of every row's id, file by file."""
    parts = []
    digest = xxhash.xxh3_128_digest
    for t in range(len(files)):
        ids = files[t]["id"].to_pylist()
        blob = b"".join(digest((v or "").encode("utf-8", "surrogatepass")) for v in ids)
        parts.append(np.frombuffer(blob, ">u8").astype(np.uint64).reshape(-1, 2))
    return np.concatenate(parts) if parts else np.zeros((0, 2), np.uint64)


def duplicate_ids(files, considered: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(later, first)``: global rows whose id an earlier ``considered`` row already has, and
    that earlier row."""
    rows = np.flatnonzero(considered)
    if len(rows) < 2:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    rep = rows[exact_groups(_digests(files)[rows], rows)]
    later = rows[rep != rows]
    first = rep[rep != rows]
    if len(later) == 0:
        return later, first
    both = np.unique(np.concatenate([later, first]))
    text = dict(zip(both.tolist(), files.string_column("id", both).to_pylist()))
    same = np.array([text[a] == text[b] for a, b in zip(later.tolist(), first.tolist())], bool)
    return later[same], first[same]


def mark_duplicate_ids(cfg, files, tasks, status: np.ndarray) -> np.ndarray | None:
    """Stop on a duplicate id (``on_bad_row = "error"``), or turn every later duplicate into a
    rejected row (``status`` changed in place) and return the manifest reasons (None if there
    is no id column or no duplicate)."""
    column = cfg.input.id_column
    if column is None:
        return None
    later, first = duplicate_ids(files, status != ROW_REJECTED)
    if len(later) == 0:
        return None
    task_of = np.searchsorted(files.offsets, np.concatenate([later, first]), "right") - 1
    source_row = files.column("source_row")

    def where(g: int, t: int) -> str:
        return f"{tasks[t].source.path} row {int(source_row[g])}"

    n = len(later)
    ids = files.string_column("id", np.sort(later))
    id_of = dict(zip(np.sort(later).tolist(), ids.to_pylist()))
    if cfg.input.on_bad_row == "error":
        g, t = int(later[0]), int(task_of[0])
        raise InputError(tasks[t].source.path, f"id {id_of[g]!r} appears again",
                         row=int(source_row[g]), column=column,
                         hint=f"its first row is {where(int(first[0]), int(task_of[n]))}; ids "
                              "must be unique, or pass --on-bad-row reject to keep the first")
    notes = np.full(len(status), None, object)
    for k, (g, f) in enumerate(zip(later.tolist(), first.tolist())):
        notes[g] = f"duplicate id {id_of[g]!r}: the same id as {where(f, int(task_of[n + k]))}"
    status[later] = ROW_REJECTED
    return notes
