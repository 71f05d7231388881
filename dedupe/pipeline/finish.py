"""The last word on every row, one engine task per sign file: spans, page filters, notes.

After the decide stage (and ``--against``, and the boilerplate count), each task reads its
sign file's decisions and

* gathers the spans of the file's kept rows: its repeat spans (from the sign stage) and its
  slice of every boilerplate partition file, sorted by row, start and kind; the rows' ids and
  the ids of their first occurrences are looked up here, so ``spans.parquet`` is only copied
  together later;
* works out per row the number of spans and the characters ``--remove-spans`` takes;
* applies the page filters: ``filtered`` for a page above a Gopher repetition limit
  (``--gopher-filter``), ``too_short`` for a page that ``--remove-spans`` leaves under
  ``--min-length`` characters, each with its reason in the row's ``note``;
* writes the file's final decision file (the decide columns, ``note``, ``spans``,
  ``span_chars``, and the ``matched_*`` columns of ``--against``) and its spans file.

The writers and the manifest tasks read those files; the main process gets back only counts
(per action, per span kind): it holds nothing with an entry per row.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute

from dedupe.io.routed import write_sorted
from dedupe.io.spill import read_ipc, write_ipc
from dedupe.memory import PeakRSS
from dedupe.near.decide import ACTIONS, FILTERED, KEPT, TOO_SHORT
from dedupe.near.lsh import sorted_unique
from dedupe.pipeline.boilerplate_stage import load_flagged
from dedupe.pipeline.passage_stage import PassageDecisions, passage_spans
from dedupe.pipeline.span_records import span_paths
from dedupe.pipeline.store import FileList, OnFiles
from dedupe.spans.stats import GOPHER_REPETITION_LIMITS, gopher_failures, gopher_reason

__all__ = ["SPAN_FILE_SCHEMA", "SPAN_KINDS", "FinishTask", "finish_file", "merged_lengths",
           "span_edits"]

SPAN_KINDS = ("repeat", "boilerplate", "near_passage")
# one file's spans: global rows (g, first_g) for the report, source rows for the writers, ids
# for spans.parquet
SPAN_FILE_SCHEMA = pa.schema([
    ("g", pa.int64()), ("source_row", pa.int64()), ("id", pa.string()), ("start", pa.int64()),
    ("end", pa.int64()), ("kind", pa.string()), ("count", pa.int64()),
    ("first_g", pa.int64()), ("first_id", pa.string()), ("first_start", pa.int64()),
    ("similarity", pa.float64()),
])


@dataclass(frozen=True)
class FinishTask(OnFiles):
    """Sign file ``t``'s finishing task (see the module docstring)."""

    files: FileList
    t: int
    decision_path: str  # the decide stage's (or --against's) decisions of the file
    out_path: str  # the final decision file
    spans_path: str | None  # the file's spans (None: no span feature is on)
    boiler_paths: tuple[str, ...]
    repeats: bool
    remove: bool
    min_length: int
    gopher: bool
    notes: tuple[tuple[int, str], ...] = ()  # (row in the file, reason): duplicate ids
    passages: PassageDecisions | None = None  # --near-passages: the passage decisions

    @property
    def out(self) -> str:
        return self.out_path

    @property
    def label(self) -> str:
        return f"finish {self.t}"


def finish_file(task: FinishTask) -> dict:
    """Write sign file ``task.t``'s spans file, then its final decision file (the task's
    result in its metadata: a file there is a finished task, see
    :func:`dedupe.io.routed.map_missing`); returns its counts."""
    t0 = time.perf_counter()
    rss = PeakRSS.start()
    t = task.t
    lo = task.offsets[t]
    decided = read_ipc(task.decision_path)
    sign = read_ipc(task.sign_paths[t])
    n = decided.num_rows
    action = decided["action"].to_numpy().copy()
    notes = np.full(n, None, object)
    for row, text in task.notes:
        notes[row] = text
    cols = {name: decided[name] for name in decided.column_names
            if name not in ("action", "note")}
    if task.spans_path is not None:
        spans = _file_spans(task, sign, action == KEPT)
        removed = merged_lengths(spans, n, lo)
        cols["spans"] = pa.array(np.bincount(spans["g"].to_numpy() - lo, minlength=n)
                                 .astype(np.int32))
        cols["span_chars"] = pa.array(removed.astype(np.int32))
        if task.gopher:
            _gopher(sign, action, notes)
        if task.remove:
            left = sign["length"].to_numpy() - removed
            for i in np.flatnonzero((action == KEPT) & (left < task.min_length)).tolist():
                action[i] = TOO_SHORT
                notes[i] = (f"{int(left[i])} characters left after removing {int(removed[i])} "
                            f"in flagged spans (min_length {task.min_length})")
        write_ipc(spans, task.spans_path)
    else:
        spans = None
    result = {"rows": n, **_counts(action, spans), "seconds": time.perf_counter() - t0,
              "peak_rss": rss.stop()}
    if spans is not None and task.passages is not None:
        result["top_passages"] = top_passage_spans(spans)
    write_sorted(task.out_path, {"action": action, **cols,
                                 "note": pa.array(notes, pa.string())}, [0, n],
                 {"result": result})
    return result


def _gopher(sign: pa.Table, action: np.ndarray, notes: np.ndarray) -> None:
    """Mark the kept rows above a Gopher repetition limit (every sign file has the ``stat_*``
    columns when statistics are on)."""
    names = list(GOPHER_REPETITION_LIMITS)
    stats = {n: sign[f"stat_{n}"].to_numpy(zero_copy_only=False) for n in names}
    first = gopher_failures(stats)
    for i in np.flatnonzero((action == KEPT) & (first >= 0)).tolist():
        action[i] = FILTERED
        name = names[first[i]]
        notes[i] = f"Gopher repetition filter: {gopher_reason(name, stats[name][i])}"


def _file_spans(task: FinishTask, sign: pa.Table, kept: np.ndarray) -> pa.Table:
    """The spans of the file's kept rows, sorted by row, start and kind (repeat, then
    boilerplate, then near passage at one start), with ids; ``similarity`` is a near
    passage's estimated Jaccard to its first occurrence (NaN for the other kinds)."""
    lo = task.offsets[task.t]
    hi = lo + sign.num_rows
    source_rows = sign["source_row"].to_numpy()
    g, start, end, kind, count, first_g, first_start, sim = ([] for _ in range(8))
    if task.repeats:
        rep = read_ipc(span_paths(task.sign_paths[task.t])[0])
        if rep.num_rows:
            local = np.searchsorted(source_rows, rep["source_row"].to_numpy())
            keep = kept[local]
            rg = lo + local[keep]
            g.append(rg)
            start.append(rep["start"].to_numpy()[keep])
            end.append(rep["end"].to_numpy()[keep])
            kind.append(np.zeros(len(rg), np.int8))
            count.append(rep["count"].to_numpy()[keep])
            first_g.append(rg)
            first_start.append(rep["first_start"].to_numpy()[keep])
            sim.append(np.full(len(rg), np.nan))
    if task.boiler_paths:
        flagged = load_flagged(list(task.boiler_paths), (lo, hi))
        for name, acc in (("g", g), ("start", start), ("end", end), ("count", count),
                          ("first_g", first_g), ("first_start", first_start)):
            acc.append(flagged[name].to_numpy().astype(np.int64))
        kind.append(np.ones(flagged.num_rows, np.int8))
        sim.append(np.full(flagged.num_rows, np.nan))
    if task.passages is not None:
        near = passage_spans(task.passages, task.t, kept, task.offsets)
        for name, acc in (("g", g), ("start", start), ("end", end), ("count", count),
                          ("first_g", first_g), ("first_start", first_start)):
            acc.append(near[name].astype(np.int64))
        kind.append(np.full(len(near["g"]), 2, np.int8))
        sim.append(near["similarity"].astype(np.float64))
    if not g:
        return SPAN_FILE_SCHEMA.empty_table()
    sim = np.concatenate(sim)
    g, start, end, kind, count, first_g, first_start = (
        np.concatenate(x).astype(np.int64) if i != 3 else np.concatenate(x)
        for i, x in enumerate((g, start, end, kind, count, first_g, first_start)))
    # by row, start and kind (repeat, boilerplate, near passage at one start), stable: equal
    # keys keep repeats first, then partition order
    order = np.lexsort((kind, start, g))
    g, start, end, kind = g[order], start[order], end[order], kind[order]
    count, first_g, first_start = count[order], first_g[order], first_start[order]
    sim = sim[order]
    rows = sorted_unique(np.concatenate([g, first_g]))
    ids = task.files.sign_files().string_column("id", rows)
    return pa.table({
        "g": g, "source_row": source_rows[g - lo],
        "id": ids.take(pa.array(np.searchsorted(rows, g))),
        "start": start, "end": end,
        "kind": pa.array(np.array(SPAN_KINDS, object)[kind], pa.string()),
        "count": count, "first_g": first_g,
        "first_id": ids.take(pa.array(np.searchsorted(rows, first_g))),
        "first_start": first_start, "similarity": sim}, schema=SPAN_FILE_SCHEMA)


def top_passage_spans(spans: pa.Table, n: int = 20) -> list[dict]:
    """The file's near-passage spans of the largest passage clusters, one per first
    occurrence: what the report lists next to the top boilerplate lines."""
    near = spans.filter(pa.compute.equal(spans["kind"], "near_passage"))
    if near.num_rows == 0:
        return []
    cols = {c: near[c].to_numpy() for c in ("g", "start", "end", "count", "first_g",
                                            "first_start")}
    order = np.lexsort((cols["start"], cols["g"], -cols["count"]))
    out, seen = [], set()
    for i in order.tolist():
        first = (int(cols["first_g"][i]), int(cols["first_start"][i]))
        if first in seen:
            continue
        seen.add(first)
        out.append({c: int(v[i]) for c, v in cols.items()})
        if len(out) == n:
            break
    return out


def _counts(action: np.ndarray, spans: pa.Table | None) -> dict:
    """Rows per action, and spans, characters and documents per span kind."""
    out = {"actions": {a: int((action == i).sum()) for i, a in enumerate(ACTIONS)}}
    if spans is None:
        return out
    g = spans["g"].to_numpy()
    kinds = spans["kind"].to_numpy(zero_copy_only=False)
    length = spans["end"].to_numpy() - spans["start"].to_numpy()
    out["spans"] = {kind: {"spans": int((sel := kinds == kind).sum()),
                           "chars": int(length[sel].sum()),
                           "documents": len(sorted_unique(g[sel]))} for kind in SPAN_KINDS}
    out["span_rows"] = spans.num_rows
    return out


def span_edits(spans_path: str, source_rows: np.ndarray):
    """``(source_row, start, end)`` of the spans of the (sorted) ``source_rows`` of one file,
    read from its spans file: what a shard's writer cuts with ``--remove-spans``."""
    spans = read_ipc(spans_path)
    rows = spans["source_row"].to_numpy()
    inside = np.isin(rows, source_rows)
    return rows[inside], spans["start"].to_numpy()[inside], spans["end"].to_numpy()[inside]


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
