"""The boilerplate stage: lines and passages repeated across the surviving pages.

Runs after document-level deduplication, one task per key partition: each task reads that
partition's batch from every sign task's ``lines`` file (see :mod:`dedupe.pipeline.span_records`),
keeps the lines of surviving documents, counts distinct documents per key (adding the pages that
``--against`` indexes recorded), and writes the flagged lines. No process holds a corpus's keys
at once.
"""

from __future__ import annotations

import io
import time
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from dedupe.io.fs import exists, join, open_output, read_bytes
from dedupe.io.spill import ipc_file, read_ipc, write_ipc
from dedupe.memory import PeakRSS
from dedupe.near.lsh import sorted_unique
from dedupe.pipeline.decide_tasks import kept_mask
from dedupe.pipeline.span_records import span_paths
from dedupe.spans.boilerplate import count_keys

__all__ = ["BoilerplateTask", "boilerplate_key_counts", "count_boilerplate", "count_partition",
           "load_flagged"]


def count_boilerplate(cfg, engine, work: str, sign_paths, offsets, decision_paths,
                      progress=None, run_key: str = "") -> tuple[list[str], dict]:
    """``(partition files, stats)``: counts boilerplate keys partition by partition (one engine
    task each) over the line records of the kept rows (``offsets``: each task's first global
    row; ``decision_paths``: each task's decisions, which say the kept rows). Boilerplate
    keys stored in ``--against`` indexes add their earlier page counts, less
    the generations this same run (``run_key``) wrote: run again, it must not count its own
    pages twice. No file when neither ``spans.boilerplate`` nor ``spans.windows`` is on."""
    stats = {"keys": 0}
    if not (cfg.spans.boilerplate or cfg.spans.windows):
        return [], stats
    known_path = _known_keys(cfg, work, run_key)
    tasks = [BoilerplateTask(p, tuple(span_paths(s)[1] for s in sign_paths),
                             tuple(int(o) for o in offsets), tuple(decision_paths),
                             join(work, f"boiler-{p:04d}.arrow"),
                             cfg.spans.boilerplate_min_docs,
                             cfg.spans.boilerplate_policy == "keep_first", known_path)
             for p in range(cfg.spans.partitions)]
    todo = [t for t in tasks if not exists(t.out_path)]
    results = engine.map(count_partition, todo, stage="boilerplate", progress=progress)
    stats["peak_rss"] = max([r["peak_rss"] for r in results], default=0)
    boiler_paths = [t.out_path for t in tasks]
    stats["keys"], stats["top"] = _keys_and_top(boiler_paths)
    return boiler_paths, stats


@dataclass(frozen=True)
class BoilerplateTask:
    partition: int
    line_paths: tuple[str, ...]
    task_offsets: tuple[int, ...]
    decision_paths: tuple[str, ...]  # each task's decisions: its kept rows
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
    known = np.load(io.BytesIO(read_bytes(bt.known_path)))
    keys, docs = known["keys"], known["docs"]
    pos = np.minimum(np.searchsorted(keys, uniq), max(len(keys) - 1, 0))
    hit = (keys[pos] == uniq) if len(keys) else np.zeros(len(uniq), bool)
    return np.where(hit, docs[pos] if len(keys) else 0, 0)


def count_partition(bt: BoilerplateTask) -> dict:
    """Flag the lines of one key partition that occur in at least ``min_docs`` kept documents."""
    t0 = time.perf_counter()
    rss = PeakRSS.start()
    cols: dict[str, list] = {"g": [], "start": [], "end": [], "key": []}
    for path, offset, decided in zip(bt.line_paths, bt.task_offsets, bt.decision_paths):
        with ipc_file(path) as reader:
            batch = reader.get_batch(bt.partition)
            local = batch.column(0).to_numpy()
            keep = kept_mask(decided)[local]
            cols["g"].append(local[keep] + offset)
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


def _known_keys(cfg, work: str, run_key: str = "") -> str | None:
    """Sum the boilerplate key counts of the ``--against`` indexes (less the generations the
    run ``run_key`` wrote) into one sorted ``.npz``."""
    if not cfg.index.against:
        return None
    from dedupe.index import boilerplate_counts, open_index
    from dedupe.pipeline.against import without_run

    keys, docs = [], []
    for path in cfg.index.against:
        k, d = boilerplate_counts(without_run(open_index(path), run_key))
        keys.append(np.asarray(k, np.uint64))
        docs.append(np.asarray(d, np.int64))
    k, d = np.concatenate(keys), np.concatenate(docs)
    if len(k) == 0:
        return None
    uniq, inv = np.unique(k, return_inverse=True)
    total = np.bincount(inv, weights=d, minlength=len(uniq)).astype(np.int64)
    path = join(work, "known-boilerplate.npz")
    buffer = io.BytesIO()  # a zip file seeks back to write its directory: a store cannot
    np.savez(buffer, keys=uniq, docs=total)
    with open_output(path) as sink:
        sink.write(buffer.getvalue())
    return path


def boilerplate_key_counts(paths: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """``(keys, pages)`` of every key flagged as boilerplate, from the partition files (what an
    index stores for later runs): the pages of this run alone, since a later run adds the
    pages of every generation of the index."""
    keys, docs = [np.zeros(0, np.uint64)], [np.zeros(0, np.int64)]
    for p in paths:
        t = read_ipc(p)
        k, c = t["key"].to_numpy(), t["pages"].to_numpy()
        uniq, first = np.unique(k, return_index=True)
        keys.append(uniq.astype(np.uint64))
        docs.append(c[first].astype(np.int64))
    return np.concatenate(keys), np.concatenate(docs)


def _keys_and_top(paths: list[str], n: int = 20) -> tuple[int, list[dict]]:
    """Distinct flagged keys, and the ``n`` lines in the most documents, over the partition
    files (a key lives in one partition, so each file is read alone)."""
    keys, tops = 0, []
    for p in paths:
        flagged = read_ipc(p)
        keys += len(sorted_unique(flagged["key"].to_numpy()))
        tops += _top_keys(flagged, n)
    tops.sort(key=lambda it: (-it["docs"], it["key"]))
    seen, out = set(), []
    for it in tops:  # a line flagged under its exact and its skeleton key is one line
        where = (it["g"], it["start"], it["end"])
        if where not in seen:
            seen.add(where)
            out.append({k: v for k, v in it.items() if k != "key"})
    return keys, out[: 2 * n]


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
        out.append({"docs": int(count[i]), "key": int(key[i]),
                    "g": int(flagged["first_g"][i].as_py()),
                    "start": int(flagged["first_start"][i].as_py()),
                    "end": int(flagged["first_start"][i].as_py() + flagged["end"][i].as_py()
                               - flagged["start"][i].as_py())})
        if len(out) == n:
            break
    return out
