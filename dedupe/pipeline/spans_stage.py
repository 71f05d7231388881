"""Span stages: per-task span records (in the sign stage), boilerplate counting per partition.

In the sign stage each batch also yields
* repeat spans inside each document (``dedupe.spans.batch.batch_repeats``),
* line records for boilerplate: ``(source_row, start, end, key)`` with one record per key kind
  (exact and skeleton, see :mod:`dedupe.spans.boilerplate`), written to the task's ``lines``
  file as one Arrow record batch per key partition (``key % partitions``),
* optionally the Gopher repetition statistics.

After document-level deduplication the boilerplate stage runs one task per partition: it reads
that partition's batch from every task's file, keeps the lines of surviving documents, counts
distinct documents per key, and writes the flagged lines. No stage holds a corpus's keys at once.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.ipc as ipc

from dedupe.io.spill import read_ipc, write_ipc
from dedupe.memory import PeakRSS
from dedupe.spans.boilerplate import count_keys, line_keys_from_tokens

__all__ = ["BoilerplateTask", "count_partition", "span_parts", "write_lines"]

_SKELETON_SALT = np.uint64(0x5BD1E9955BD1E995)
_WINDOW_SALT = np.uint64(0x27D4EB2F165667C5)

LINE_SCHEMA = pa.schema([("pos", pa.int64()), ("start", pa.int64()), ("end", pa.int64()),
                         ("key", pa.uint64())])
REPEAT_SCHEMA = pa.schema([("source_row", pa.int64()), ("start", pa.int64()),
                           ("end", pa.int64()), ("first_start", pa.int64()),
                           ("count", pa.int64()), ("exact", pa.bool_())])


def span_parts(text: pa.Array, rows: np.ndarray, valid: np.ndarray, cfg):
    """``(repeats table, lines table, stats dict)`` for one batch (``valid``: rows to use).

    One tokenisation of the batch serves repeats, shared windows and statistics.
    """
    from dedupe.spans.repeats import batch_repeats
    from dedupe.spans.stats import batch_repetition_stats
    from dedupe.spans.tokens import batch_tokens

    sp = cfg.spans
    text = text.fill_null("") if text.null_count else text
    repeats = lines = None
    stats = {}
    tokens = batch_tokens(text)
    if sp.repeats:
        rep = batch_repeats(text, min_tokens=sp.min_tokens, near=sp.near,
                            near_threshold=sp.near_threshold, tokens=tokens)
        keep = valid[rep.doc]
        repeats = pa.table({"source_row": rows[rep.doc[keep]], "start": rep.start[keep],
                            "end": rep.end[keep], "first_start": rep.first_start[keep],
                            "count": rep.count[keep].astype(np.int64),
                            "exact": rep.exact[keep]}, schema=REPEAT_SCHEMA)
    parts = []
    if sp.boilerplate:
        ln = line_keys_from_tokens(tokens)
        keep = valid[ln.doc]
        doc, start, end = ln.doc[keep], ln.start[keep], ln.end[keep]
        skel = ln.skeleton[keep]
        has_skel = skel != 0
        parts.append(pa.table({
            "source_row": np.concatenate([rows[doc], rows[doc[has_skel]]]),
            "start": np.concatenate([start, start[has_skel]]),
            "end": np.concatenate([end, end[has_skel]]),
            "key": np.concatenate([ln.exact[keep], skel[has_skel] ^ _SKELETON_SALT]),
        }))
    if sp.windows:
        parts.append(_window_records(tokens, rows, valid, sp.min_tokens))
    if parts:
        lines = pa.concat_tables(parts)
    if sp.stats or sp.gopher_filter:
        stats = batch_repetition_stats(text, tokens=tokens)
    return repeats, lines, stats


def _window_records(tokens, rows: np.ndarray, valid: np.ndarray, k: int) -> pa.Table:
    """Every run of ``k`` tokens of the valid documents as a record keyed by its hash."""
    from dedupe.spans.windows import window_hashes

    keys = window_hashes(tokens.hashes, k) ^ _WINDOW_SALT
    tdoc = tokens.token_doc()
    first = np.arange(len(keys))
    last = first + k - 1
    inside = (last < len(tdoc)) & (tdoc[np.minimum(last, len(tdoc) - 1)] == tdoc[first])
    inside &= valid[tdoc[first]] if len(first) else inside
    first, last = first[inside], last[inside]
    doc = tdoc[first]
    base = tokens.offsets[doc]
    return pa.table({"source_row": rows[doc], "start": tokens.starts[first] - base,
                     "end": tokens.ends[last] - base, "key": keys[inside]})


def write_lines(parts: list[pa.Table], sorted_rows: np.ndarray, path: str, partitions: int):
    """The task's line records as one record batch per key partition (``pos`` = sign-table row)."""
    if parts:
        table = pa.concat_tables(parts)
        src = table["source_row"].to_numpy()
        key = table["key"].to_numpy()
    else:
        src = np.zeros(0, np.int64)
        key = np.zeros(0, np.uint64)
        table = None
    pos = np.searchsorted(sorted_rows, src)
    part = (key % np.uint64(partitions)).astype(np.int64)
    order = np.argsort(part, kind="stable")
    bounds = np.searchsorted(part[order], np.arange(partitions + 1))
    cols = {"pos": pos, "start": None, "end": None, "key": key}
    if table is not None:
        cols["start"] = table["start"].to_numpy()
        cols["end"] = table["end"].to_numpy()
    else:
        cols["start"] = cols["end"] = np.zeros(0, np.int64)
    tmp = f"{path}.tmp-{os.getpid()}"
    with pa.OSFile(tmp, "wb") as sink, ipc.new_file(sink, LINE_SCHEMA) as writer:
        for p in range(partitions):
            sel = order[bounds[p] : bounds[p + 1]]
            writer.write_batch(pa.record_batch([pa.array(cols[c][sel]) for c in LINE_SCHEMA.names],
                                               schema=LINE_SCHEMA))
    os.replace(tmp, path)


@dataclass(frozen=True)
class BoilerplateTask:
    partition: int
    line_paths: tuple[str, ...]
    task_offsets: tuple[int, ...]
    kept_path: str  # .npy bool mask over global rows: the surviving documents
    out_path: str
    min_docs: int
    keep_first: bool
    # .npz of boilerplate keys and page counts from --against indexes (earlier runs' pages)
    known_path: str | None = None

    @property
    def label(self) -> str:
        return f"boilerplate partition {self.partition}"


def _known_counts(bt: BoilerplateTask, uniq: np.ndarray) -> np.ndarray:
    """Pages of earlier runs (``--against`` indexes) that had each key of ``uniq`` as
    boilerplate: 0 for keys they never flagged."""
    if bt.known_path is None or len(uniq) == 0:
        return np.zeros(len(uniq), np.int64)
    known = np.load(bt.known_path)
    keys, docs = known["keys"], known["docs"]
    pos = np.minimum(np.searchsorted(keys, uniq), max(len(keys) - 1, 0))
    hit = (keys[pos] == uniq) if len(keys) else np.zeros(len(uniq), bool)
    return np.where(hit, docs[pos] if len(keys) else 0, 0)


def count_partition(bt: BoilerplateTask) -> dict:
    """Flag the lines of one key partition that occur in at least ``min_docs`` kept documents."""
    t0 = time.perf_counter()
    rss = PeakRSS.start()
    kept = np.load(bt.kept_path, mmap_mode="r")
    cols: dict[str, list] = {"g": [], "start": [], "end": [], "key": []}
    for path, offset in zip(bt.line_paths, bt.task_offsets):
        with pa.memory_map(path, "r") as src:
            batch = ipc.open_file(src).get_batch(bt.partition)
            g = batch.column(0).to_numpy() + offset
            keep = kept[g]
            cols["g"].append(g[keep])
            for name in ("start", "end", "key"):
                cols[name].append(batch.column(name).to_numpy()[keep])
    g, start, end, key = (np.concatenate(cols[c]) if cols[c] else np.zeros(0, np.int64)
                          for c in ("g", "start", "end", "key"))
    key = key.astype(np.uint64)
    uniq, own, _ = count_keys(key, g)
    counts = own + _known_counts(bt, uniq)
    hot = uniq[counts >= bt.min_docs]
    sel = np.flatnonzero(np.isin(key, hot))
    g, start, end, key = g[sel], start[sel], end[sel], key[sel]
    order = np.lexsort((start, g, key))
    g, start, end, key = g[order], start[order], end[order], key[order]
    first_of_key = np.ones(len(key), bool)
    first_of_key[1:] = key[1:] != key[:-1]
    group = np.cumsum(first_of_key) - 1
    head = np.flatnonzero(first_of_key)
    first_g, first_start = g[head][group], start[head][group]
    at = np.searchsorted(uniq, key)
    count = counts[at] if len(key) else np.zeros(0, np.int64)
    pages = own[at] if len(key) else np.zeros(0, np.int64)
    flag = ~first_of_key if bt.keep_first else np.ones(len(key), bool)
    # count: pages with the line, earlier runs' included; pages: this run's pages alone (what
    # an index stores, so that later runs add each run's pages once)
    out = pa.table({"g": g[flag], "start": start[flag], "end": end[flag],
                    "count": count[flag].astype(np.int64), "first_g": first_g[flag],
                    "first_start": first_start[flag], "key": key[flag],
                    "pages": pages[flag].astype(np.int64)})
    # by row, so that the rows of one task are one slice of the file
    write_ipc(out.sort_by([("g", "ascending"), ("start", "ascending")]), bt.out_path)
    return {"rows": int(out.num_rows), "seconds": time.perf_counter() - t0, "peak_rss": rss.stop(),
            "keys": len(hot)}


def load_flagged(paths: list[str], rows: tuple[int, int] | None = None) -> pa.Table:
    """Flagged boilerplate lines, one row per (document, line), the highest count kept: all of
    them, or those of the global rows ``rows = (lo, hi)`` (one slice of each sorted file)."""
    tables = []
    for p in paths:
        t = read_ipc(p)
        if rows is not None:
            g = t["g"].to_numpy()
            lo, hi = np.searchsorted(g, rows[0]), np.searchsorted(g, rows[1])
            t = t.slice(lo, hi - lo)
        tables.append(t)
    table = pa.concat_tables(tables) if tables else None
    if table is None or table.num_rows == 0:
        return pa.table({"g": pa.array([], pa.int64()), "start": pa.array([], pa.int64()),
                         "end": pa.array([], pa.int64()), "count": pa.array([], pa.int64()),
                         "first_g": pa.array([], pa.int64()),
                         "first_start": pa.array([], pa.int64()),
                         "key": pa.array([], pa.uint64())})
    table = table.sort_by([("g", "ascending"), ("start", "ascending"), ("end", "descending"),
                           ("count", "descending")])
    return _merge_overlaps(table)


def _merge_overlaps(table: pa.Table) -> pa.Table:
    """Merge flagged spans of one row that overlap: a line inside a flagged paragraph, or the
    overlapping windows of one shared passage, become one maximal span (highest count, the
    first piece's ``first_g`` and ``first_start``). Input sorted by (g, start, -end)."""
    g, s, e = (table[c].to_numpy() for c in ("g", "start", "end"))
    big = int(e.max()) + 1
    reach = np.maximum.accumulate(g * big + e)  # furthest end so far, per row (rows ascending)
    new = np.ones(len(g), bool)
    new[1:] = (g[1:] != g[:-1]) | (s[1:] >= reach[:-1] - g[1:] * big)
    group = np.cumsum(new) - 1
    head = np.flatnonzero(new)
    end = np.zeros(len(head), np.int64)
    np.maximum.at(end, group, e)
    count = np.zeros(len(head), np.int64)
    np.maximum.at(count, group, table["count"].to_numpy())
    return pa.table({"g": g[head], "start": s[head], "end": end, "count": count,
                     "first_g": table["first_g"].to_numpy()[head],
                     "first_start": table["first_start"].to_numpy()[head],
                     "key": table["key"].to_numpy()[head]})
