"""Between deciding and writing: the spans of the surviving documents, and what they remove.

Gathers the repeat spans (from the sign stage) and the boilerplate lines (from the partitioned
count) of the documents that survive document-level deduplication into one table in global row
order, and works out how many characters ``--remove-spans`` takes from each document, so that a
document left shorter than ``--min-length`` is known before the output shards are planned.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from dedupe.io.spill import read_ipc
from dedupe.near.lsh import sorted_unique
from dedupe.pipeline.boilerplate_stage import count_boilerplate, load_flagged
from dedupe.pipeline.span_records import span_paths

__all__ = ["SPANS_SCHEMA", "SpanStore", "collect_spans", "merged_lengths"]

SPANS_SCHEMA = pa.schema([
    ("g", pa.int64()), ("start", pa.int64()), ("end", pa.int64()), ("kind", pa.string()),
    ("count", pa.int64()), ("first_g", pa.int64()), ("first_start", pa.int64()),
])


def _repeats(path: str, table_rows: np.ndarray, offset: int, kept) -> pa.Table:
    """The repeat spans of one task's kept rows, in global row numbers."""
    rep = read_ipc(span_paths(path)[0])
    if rep.num_rows == 0:
        return SPANS_SCHEMA.empty_table()
    g = offset + np.searchsorted(table_rows, rep["source_row"].to_numpy())
    keep = kept[g]
    return pa.table({
        "g": g[keep], "start": rep["start"].to_numpy()[keep],
        "end": rep["end"].to_numpy()[keep], "kind": pa.array(["repeat"] * int(keep.sum())),
        "count": rep["count"].to_numpy()[keep], "first_g": g[keep],
        "first_start": rep["first_start"].to_numpy()[keep]}, schema=SPANS_SCHEMA)


class SpanStore:
    """The spans of the surviving rows, one task at a time (never all of them in memory).

    ``task(t)``: the spans of task ``t``'s rows (global row ``g``, sorted by row, start, kind);
    ``removed``/``n_spans``: per global row, the characters ``--remove-spans`` takes and the
    number of spans; ``summary``: spans, characters and documents per kind. A task's spans are
    its repeat file plus one slice of each boilerplate partition file (sorted by row).
    """

    def __init__(self, cfg, sign_paths, files, kept: np.ndarray, boiler_paths: list[str]):
        self.cfg = cfg
        self.sign_paths = list(sign_paths)
        self.files = files
        self.kept = kept
        self.boiler_paths = boiler_paths
        self.offsets = files.offsets
        n = len(kept)
        # 4 bytes a row each (a document holds under 2**31 characters: --max-row-bytes <= 1GB)
        self.removed = np.zeros(n, np.int32)
        self.n_spans = np.zeros(n, np.int32)
        self.num_rows = 0
        self.summary = {kind: {"spans": 0, "chars": 0, "documents": 0}
                        for kind in ("repeat", "boilerplate")}
        self._cache: tuple[int, pa.Table] | None = None
        for t in range(len(self.sign_paths)):
            self._account(t, self.task(t))

    def task(self, t: int) -> pa.Table:
        if self._cache is not None and self._cache[0] == t:
            return self._cache[1]
        lo, hi = int(self.offsets[t]), int(self.offsets[t + 1])
        parts = []
        if self.cfg.spans.repeats:
            parts.append(_repeats(self.sign_paths[t], self.files[t]["source_row"].to_numpy(), lo,
                                  self.kept))
        if self.boiler_paths:
            flagged = load_flagged(self.boiler_paths, (lo, hi))
            parts.append(pa.table({
                "g": flagged["g"], "start": flagged["start"], "end": flagged["end"],
                "kind": pa.array(["boilerplate"] * flagged.num_rows, pa.string()),
                "count": flagged["count"], "first_g": flagged["first_g"],
                "first_start": flagged["first_start"]}, schema=SPANS_SCHEMA))
        spans = pa.concat_tables(parts) if parts else SPANS_SCHEMA.empty_table()
        spans = spans.sort_by([("g", "ascending"), ("start", "ascending"),
                               ("kind", "descending")])
        self._cache = (t, spans)
        return spans

    def _account(self, t: int, spans: pa.Table) -> None:
        lo, hi = int(self.offsets[t]), int(self.offsets[t + 1])
        self.num_rows += spans.num_rows
        if spans.num_rows == 0:
            return
        g = spans["g"].to_numpy()
        self.removed[lo:hi] = merged_lengths(spans, hi - lo, lo)
        self.n_spans[lo:hi] = np.bincount(g - lo, minlength=hi - lo)
        kinds = spans["kind"].to_numpy(zero_copy_only=False)
        length = spans["end"].to_numpy() - spans["start"].to_numpy()
        for kind, acc in self.summary.items():
            sel = kinds == kind
            acc["spans"] += int(sel.sum())
            acc["chars"] += int(length[sel].sum())
            acc["documents"] += len(sorted_unique(g[sel]))


def collect_spans(cfg, engine, work: str, sign_paths, files, kept: np.ndarray, progress=None,
                  run_key: str = ""):
    """``(SpanStore of the kept rows, boilerplate stats)``: the boilerplate stage first
    (:func:`dedupe.pipeline.boilerplate_stage.count_boilerplate`), then the spans read back
    task by task."""
    boiler_paths, stats = count_boilerplate(cfg, engine, work, sign_paths, files.offsets[:-1],
                                            kept, progress, run_key)
    return SpanStore(cfg, sign_paths, files, kept, boiler_paths), stats


def merged_lengths(spans: pa.Table, n_rows: int, first_row: int = 0) -> np.ndarray:
    """Characters each of the rows ``first_row .. first_row + n_rows`` loses when its spans
    (merged where they overlap) are cut out."""
    removed = np.zeros(n_rows, np.int64)
    if spans.num_rows == 0:
        return removed
    g = spans["g"].to_numpy()
    s = spans["start"].to_numpy()
    e = spans["end"].to_numpy()
    order = np.lexsort((s, g))
    g, s, e = g[order], s[order], e[order]
    # the furthest end reached by earlier spans of the same row: a running maximum of
    # g * big + end (rows sorted ascending, so a new row always starts above the previous one)
    big = int(e.max()) + 1
    cm = np.maximum.accumulate(g * big + e)
    same_row = np.zeros(len(g), bool)
    same_row[1:] = g[1:] == g[:-1]
    reach = np.full(len(g), -1, np.int64)
    reach[1:] = cm[:-1] - g[1:] * big
    reach = np.where(same_row, reach, -1)
    gain = np.maximum(0, e - np.maximum(s, reach))
    np.add.at(removed, g - first_row, gain)
    return removed
