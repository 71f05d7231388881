"""The passage stage: near-duplicate passages across the surviving pages (``--near-passages``).

The sign stage wrote each task's passages (:mod:`dedupe.spans.passages`) as a file in the
layout of a sign file, one row per passage. After document-level deduplication this stage

1. marks, per task, the passages of pages that did not survive as rejected (one small engine
   task per file: a status file, as the duplicate-id check writes for documents), so a page
   removed as a near duplicate contributes no passage;
2. decides the passages with the document machinery (:mod:`dedupe.pipeline.decide_tasks`):
   exact groups by the digest of the token sequence, LSH on the passage signatures, verified
   pairs between passages of different pages (a page's own windows overlap, and would chain
   its passages into one cluster), connected components, and the earliest passage of every
   cluster in corpus order kept (survivor policy ``first``). It is out of core, resumable
   and the same for any worker count, as the document decisions are.

The finishing tasks (:mod:`dedupe.pipeline.finish`) turn every passage that is not its
cluster's first, and whose first lies in another page, into a ``near_passage`` span.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from dedupe.io.fs import join, makedirs
from dedupe.io.routed import map_missing, write_sorted
from dedupe.io.spill import read_ipc
from dedupe.near.decide import ROW_OK, ROW_REJECTED
from dedupe.pipeline.decide_tasks import decide_in_tasks, kept_mask, kept_partitions, make_plan
from dedupe.pipeline.span_records import passage_path
from dedupe.pipeline.store import FileList, status_path

__all__ = ["PassageDecisions", "decide_passages", "passage_config"]


# the false-positive and false-negative weights of the passages' banding: balanced, not the
# documents' recall-first 0.03 / 0.97. A window's words share common words with many unrelated
# windows (Jaccard 0.15-0.3), and recall-first bandings (2 rows a band) make most of those pairs
# candidates: on 2,000 generated pages 3.5M candidate pairs for 69k passages against 0.33M
# with balanced weights at 128 permutations; a copy's neighbouring windows make up for the
# pairs a stricter banding misses (benchmarks/bench_passages.py)
PASSAGE_WEIGHTS = (0.5, 0.5)


def passage_config(cfg):
    """The run's config as the passages see it: their permutations, shingles and threshold,
    the banding chosen for that threshold (``PASSAGE_WEIGHTS``), signature verification, the
    first passage kept."""
    sp = cfg.spans
    return replace(
        cfg,
        minhash=replace(cfg.minhash, num_perm=sp.passage_num_perm, ngram=sp.passage_ngram,
                        shingle="word", hash_scheme="native"),
        lsh=replace(cfg.lsh, threshold=sp.passage_threshold, bands=None, rows=None,
                    fp_weight=PASSAGE_WEIGHTS[0], fn_weight=PASSAGE_WEIGHTS[1],
                    verify="signature"),
        cluster=replace(cfg.cluster, survivor="first"))


@dataclass(frozen=True)
class PassageDecisions:
    """What the finishing tasks need: the passage files (with their global row offsets) and
    one decision file per passage file."""

    files: FileList
    paths: tuple[str, ...]


@dataclass(frozen=True)
class _StatusTask:
    t: int
    passages: str
    decisions: str
    out: str

    @property
    def label(self) -> str:
        return f"passage status {self.t}"


def _status(task: _StatusTask) -> dict:
    """A passage is decided only if its page survived document-level deduplication."""
    kept = kept_mask(task.decisions)
    doc = read_ipc(task.passages)["doc_local"].to_numpy()
    status = np.where(kept[doc], ROW_OK, ROW_REJECTED).astype(np.int8)
    result = {"rows": len(status), "kept": int((status == ROW_OK).sum())}
    write_sorted(task.out, {"status": status}, [0, len(status)], {"result": result})
    return result


def decide_passages(cfg, engine, work: str, sign_paths, decision_paths,
                    progress=None, stored_keys: bool = True) -> tuple[PassageDecisions, dict]:
    """Decide every task's passages (see the module docstring); returns the decisions and the
    stage's figures for the report. ``stored_keys``: the passage files hold the band keys of
    this threshold's banding (a sweep's other thresholds band the signatures themselves)."""
    folder = join(work, "passages")
    makedirs(folder)
    paths = [passage_path(p) for p in sign_paths]
    status = [_StatusTask(t, paths[t], decision_paths[t], status_path(folder, t))
              for t in range(len(paths))]
    counted = map_missing(engine, _status, status, "passages", progress)
    num_rows = [r["rows"] for r in counted]
    pcfg = passage_config(cfg)
    partitions = kept_partitions(folder, pcfg, sum(num_rows), engine.workers)
    plan = make_plan(replace(pcfg, engine=replace(pcfg.engine, partitions=partitions)), paths,
                     num_rows, join(folder, "decide"), engine.workers, folder,
                     group_column="doc_local", stored_keys=stored_keys)
    decided, stats, details = decide_in_tasks(engine, plan, progress, stage="passages")
    figures = {"passages": sum(num_rows), "passages_of_kept_pages": sum(r["kept"] for r in counted),
               "bands": plan.bands, "rows": plan.rows, "partitions": partitions,
               "candidates": stats.get("candidate_pairs", 0), "steps": details["steps"]}
    return PassageDecisions(plan.files, tuple(decided)), figures


def passage_spans(pd: PassageDecisions, t: int, kept: np.ndarray, sign_offsets) -> dict:
    """The ``near_passage`` spans of task ``t``'s kept pages: ``g`` (the page's global row),
    ``start``, ``end``, ``count`` (passages in the cluster), ``first_g``/``first_start`` (the
    cluster's first passage, in another page) and ``similarity`` (the estimated Jaccard to it),
    the last four from the span's first flagged passage.

    A passage is flagged when it is not its cluster's first and that first lies in another
    page. A character is in a span when at least two of the page's passages that cover it are
    flagged (or the only one that covers it is): a window that straddles the end of a copy can
    still pass the threshold, but the window beyond it does not, so text next to a copy is not
    flagged with it (:func:`covered_ranges`).
    """
    from dedupe.near.decide import EXACT, NEAR

    own = read_ipc(pd.files.sign_paths[t])
    dec = read_ipc(pd.paths[t])
    action = dec["action"].to_numpy()
    doc = own["doc_local"].to_numpy()
    is_flagged = ((action == NEAR) | (action == EXACT)) & kept[doc]
    flagged = np.flatnonzero(is_flagged)
    first = dec["survivor"].to_numpy()[flagged]
    # the first passages: their page (global row) and start, read file by file
    uniq, back = np.unique(first, return_inverse=True)
    sign = pd.files.sign_files(0)
    first_file = np.searchsorted(np.asarray(pd.files.offsets), uniq, side="right") - 1
    where = sign.columns(("doc_local", "start"), uniq)
    first_g = (np.asarray(sign_offsets)[first_file] + where["doc_local"].astype(np.int64))[back]
    first_start = where["start"].astype(np.int64)[back]
    other = first_g != sign_offsets[t] + doc[flagged]
    flagged, first_g, first_start = flagged[other], first_g[other], first_start[other]
    is_flagged[:] = False
    is_flagged[flagged] = True
    pages = np.isin(doc, doc[flagged])  # every passage of a page with a flagged one
    start, end = own["start"].to_numpy(), own["end"].to_numpy()
    span_doc, span_start, span_end = covered_ranges(
        doc[pages], start[pages], end[pages], is_flagged[pages],
        own["prev_end"].to_numpy()[pages], own["next_start"].to_numpy()[pages])
    # each span's first flagged passage: flagged passages are in page then start order
    key = doc[flagged] * (int(end.max(initial=0)) + 1) + end[flagged]
    at = np.searchsorted(key, span_doc * (int(end.max(initial=0)) + 1) + span_start,
                         side="right")
    return {"g": sign_offsets[t] + span_doc, "start": span_start, "end": span_end,
            "count": dec["cluster_size"].to_numpy()[flagged][at],
            "first_g": first_g[at], "first_start": first_start[at],
            "similarity": dec["similarity"].to_numpy()[flagged][at]}


def covered_ranges(doc, start, end, flagged, prev_end, next_start
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(doc, start, end)`` of the maximal ranges where at least ``min(2, c)`` of the ``c``
    windows covering a position are flagged (``c >= 1``); windows ``[start, end)`` of
    documents in ascending order.

    Ranges keep to tokens: one that begins where a window ends begins at the next token
    (``next_start``), one that ends where a window begins ends at the token before
    (``prev_end``)."""
    z = np.zeros(0, np.int64)
    if not flagged.any():
        return z, z, z
    pos = np.concatenate([start, end]).astype(np.int64)
    as_begin = np.concatenate([start, next_start]).astype(np.int64)
    as_end = np.concatenate([prev_end, end]).astype(np.int64)
    page = np.concatenate([doc, doc]).astype(np.int64)
    total = np.concatenate([np.ones(len(start), np.int64), -np.ones(len(end), np.int64)])
    marked = np.concatenate([flagged, flagged]).astype(np.int64) * total
    order = np.lexsort((pos, page))
    pos, page, total, marked = pos[order], page[order], total[order], marked[order]
    as_begin, as_end = as_begin[order], as_end[order]
    last = np.flatnonzero(np.r_[(pos[1:] != pos[:-1]) | (page[1:] != page[:-1]), True])
    covering = np.cumsum(total)[last]  # windows covering [pos[last[i]], pos[last[i + 1]])
    flags = np.cumsum(marked)[last]
    pos, page, as_begin, as_end = pos[last], page[last], as_begin[last], as_end[last]
    inside = (flags >= np.minimum(2, covering)) & (flags > 0)
    inside[-1] = False  # past the last window
    # ranges of consecutive inside segments of one page
    begin = inside & np.r_[True, ~inside[:-1] | (page[1:] != page[:-1])]
    stop = inside & np.r_[~inside[1:] | (page[1:] != page[:-1]), True]
    b, e = np.flatnonzero(begin), np.flatnonzero(stop) + 1
    lo, hi = as_begin[b], as_end[e]
    real = hi > lo  # a range inside the gap between two tokens holds no token
    return page[b][real], lo[real], hi[real]
