"""Fetch a few rows' values back from the input by global row index (reports, explanations)."""

from __future__ import annotations

import numpy as np

from dedupe.io.readers import read_task

__all__ = ["fetch_values"]


def fetch_values(tasks, tables, rows, column: str) -> dict[int, object]:
    """``{global row: value of column}`` for the given global rows (each task read once)."""
    offsets = np.concatenate([[0], np.cumsum([t.num_rows for t in tables])])
    wanted: dict[int, dict[int, int]] = {}
    for g in sorted({int(r) for r in rows}):
        t = int(np.searchsorted(offsets, g, side="right") - 1)
        source_row = int(tables[t]["source_row"][g - offsets[t]].as_py())
        wanted.setdefault(t, {})[source_row] = g
    out: dict[int, object] = {}
    for t, by_row in wanted.items():
        keys = np.fromiter(by_row, np.int64)
        for rb in read_task(tasks[t], [column], on_bad_row="reject", text_column=column,
                            only_rows=keys):
            for j in np.flatnonzero(np.isin(rb.source_rows, keys)).tolist():
                out[by_row[int(rb.source_rows[j])]] = rb.batch.column(0)[j].as_py()
            if len(out) >= sum(len(v) for v in wanted.values()):
                break
    return out
