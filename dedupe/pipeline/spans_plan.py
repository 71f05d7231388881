"""Between deciding and writing: the spans of the surviving documents, and what they remove.

Gathers the repeat spans (from the sign stage) and the boilerplate lines (from the partitioned
count) of the documents that survive document-level deduplication into one table in global row
order, and works out how many characters ``--remove-spans`` takes from each document, so that a
document left shorter than ``--min-length`` is known before the output shards are planned.
"""

from __future__ import annotations

import os

import numpy as np
import pyarrow as pa

from dedupe.io.spill import read_ipc
from dedupe.pipeline.sign import span_paths
from dedupe.pipeline.spans_stage import BoilerplateTask, count_partition, load_flagged

__all__ = ["SPANS_SCHEMA", "collect_spans", "merged_lengths"]

SPANS_SCHEMA = pa.schema([
    ("g", pa.int64()), ("start", pa.int64()), ("end", pa.int64()), ("kind", pa.string()),
    ("count", pa.int64()), ("first_g", pa.int64()), ("first_start", pa.int64()),
])


def _repeats(sign_paths, tables, offsets, kept) -> pa.Table:
    parts = []
    for path, table, off in zip(sign_paths, tables, offsets):
        rep = read_ipc(span_paths(path)[0])
        if rep.num_rows == 0:
            continue
        g = off + np.searchsorted(table["source_row"].to_numpy(), rep["source_row"].to_numpy())
        keep = kept[g]
        parts.append(pa.table({
            "g": g[keep], "start": rep["start"].to_numpy()[keep],
            "end": rep["end"].to_numpy()[keep], "kind": pa.array(["repeat"] * int(keep.sum())),
            "count": rep["count"].to_numpy()[keep], "first_g": g[keep],
            "first_start": rep["first_start"].to_numpy()[keep]}, schema=SPANS_SCHEMA))
    return pa.concat_tables(parts) if parts else SPANS_SCHEMA.empty_table()


def collect_spans(cfg, engine, work: str, sign_paths, tables, kept: np.ndarray, progress=None):
    """``(spans table in global row order, boilerplate stats)`` for the kept rows."""
    offsets = np.concatenate([[0], np.cumsum([t.num_rows for t in tables])])[:-1]
    parts = []
    stats = {"keys": 0}
    if cfg.spans.repeats:
        parts.append(_repeats(sign_paths, tables, offsets, kept))
    if cfg.spans.boilerplate or cfg.spans.windows:
        kept_path = os.path.join(work, "kept.npy")
        np.save(kept_path, kept)
        tasks = [BoilerplateTask(p, tuple(span_paths(s)[1] for s in sign_paths),
                                 tuple(int(o) for o in offsets), kept_path,
                                 os.path.join(work, f"boiler-{p:04d}.arrow"),
                                 cfg.spans.boilerplate_min_docs,
                                 cfg.spans.boilerplate_policy == "keep_first")
                 for p in range(cfg.spans.partitions)]
        todo = [t for t in tasks if not os.path.exists(t.out_path)]
        results = engine.map(count_partition, todo, stage="boilerplate", progress=progress)
        stats["peak_rss"] = max([r["peak_rss"] for r in results], default=0)
        flagged = load_flagged([t.out_path for t in tasks])
        stats["keys"] = len(np.unique(flagged["key"].to_numpy()))
        stats["top"] = _top_keys(flagged)
        parts.append(pa.table({
            "g": flagged["g"], "start": flagged["start"], "end": flagged["end"],
            "kind": pa.array(["boilerplate"] * flagged.num_rows, pa.string()),
            "count": flagged["count"], "first_g": flagged["first_g"],
            "first_start": flagged["first_start"]}, schema=SPANS_SCHEMA))
    spans = pa.concat_tables(parts) if parts else SPANS_SCHEMA.empty_table()
    spans = spans.sort_by([("g", "ascending"), ("start", "ascending"), ("kind", "descending")])
    return spans, stats


def _top_keys(flagged: pa.Table, n: int = 20) -> list[dict]:
    """The ``n`` boilerplate lines in the most documents: one example occurrence each."""
    if flagged.num_rows == 0:
        return []
    key = flagged["key"].to_numpy()
    count = flagged["count"].to_numpy()
    order = np.lexsort((key, -count))
    seen, out = set(), []
    for i in order.tolist():
        if key[i] in seen:
            continue
        seen.add(key[i])
        out.append({"docs": int(count[i]), "g": int(flagged["first_g"][i].as_py()),
                    "start": int(flagged["first_start"][i].as_py()),
                    "end": int(flagged["first_start"][i].as_py() + flagged["end"][i].as_py()
                               - flagged["start"][i].as_py())})
        if len(out) == n:
            break
    return out


def merged_lengths(spans: pa.Table, n_rows: int) -> np.ndarray:
    """Characters each row loses when its spans (merged where they overlap) are cut out."""
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
    np.add.at(removed, g, gain)
    return removed
