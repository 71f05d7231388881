"""From flagged token ranges to spans: merging, tracing each span to kept text, counting copies.

Exact windows and near-copy chains both yield *components*: a later token range ``a..b`` with
the source range ``src_a..src_b`` it copies (inclusive ends). Overlapping or touching components
merge into maximal spans. A span's source may lie inside an earlier span, which is removed too,
so each source is traced back through the earlier spans' own alignments to text that stays;
spans whose traced sources start at the same token count as copies 2, 3, ... of that text.

All functions take the spans of a whole batch in spread token coordinates (``repeats.py``), so
no step reaches from one document into another.
"""

from __future__ import annotations

import numpy as np

__all__ = ["copy_numbers", "exact_cover", "merge_components", "resolve_sources"]


def merge_components(
    a: np.ndarray, b: np.ndarray, src_a: np.ndarray, src_b: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Merge overlapping or touching token ranges into maximal spans.

    A span's source start comes from its first component (earliest source on ties), its source
    end from the component reaching furthest right.
    """
    order = np.lexsort((src_a, a))
    a, b, src_a, src_b = a[order], b[order], src_a[order], src_b[order]
    if len(a) == 0:
        return a, b, src_a, src_b
    reach = np.maximum.accumulate(b)
    new = np.ones(len(a), dtype=bool)
    new[1:] = a[1:] > reach[:-1] + 1
    heads = np.flatnonzero(new)
    span_b = np.maximum.reduceat(b, heads)
    group = np.cumsum(new) - 1
    at_end = np.where(b == span_b[group], np.arange(len(a)), -1)
    last = np.maximum.reduceat(at_end, heads)
    return a[heads], span_b, src_a[heads], src_b[last]


def resolve_sources(span_a, span_b, src, doc) -> np.ndarray:
    """Trace each span's source back until it lies in text that is kept.

    A source inside an earlier flagged span is mapped through that span's own alignment (by
    its shift, the distance to that span's resolved source); the position strictly decreases
    at each step. Every span is mapped with the previous round's sources until nothing
    changes: span ``i`` depends only on earlier spans of its document, so the rounds settle, in
    as many rounds as the longest chain of copies of copies. A document whose spans did not
    change in a round is settled and drops out.
    """
    kept = src.copy()
    active = np.arange(len(src))
    while len(active):
        mapped = _map_back(span_a, span_b, src[active], kept)
        changed = mapped != kept[active]
        kept[active] = mapped
        active = active[np.isin(doc[active], doc[active[changed]])]
    return kept


def _map_back(span_a, span_b, src, kept) -> np.ndarray:
    """Move each source out of the flagged spans it lies in, by those spans' shifts."""
    pos = src.copy()
    live = np.arange(len(src))
    while len(live):
        j = np.searchsorted(span_a, pos[live], side="right") - 1
        inside = (j >= 0) & (pos[live] <= span_b[np.maximum(j, 0)])
        live, j = live[inside], j[inside]
        shift = span_a[j] - kept[j]
        pos[live] -= shift * ((pos[live] - span_a[j] + shift) // shift)
    return pos


def copy_numbers(kept: np.ndarray) -> np.ndarray:
    """2 for the first span copying a kept start, 3 for the next one, and so on."""
    order = np.argsort(kept, kind="stable")
    ranks = np.empty(len(kept), dtype=np.int64)
    if len(kept):
        sorted_kept = kept[order]
        new = np.ones(len(kept), dtype=bool)
        new[1:] = sorted_kept[1:] != sorted_kept[:-1]
        heads = np.flatnonzero(new)
        group_start = heads[np.cumsum(new) - 1]
        ranks[order] = np.arange(len(kept)) - group_start
    return ranks + 2


def exact_cover(a: np.ndarray, b: np.ndarray, span_a: np.ndarray, span_b: np.ndarray):
    """Whether each span lies inside the union of the exact ranges ``a..b`` (sorted by ``a``).

    Ranges that overlap or touch cover one run of tokens; a span is covered when one run holds
    it, that is when every one of its tokens lies in an exact range.
    """
    if len(a) == 0:
        return np.zeros(len(span_a), dtype=bool)
    reach = np.maximum.accumulate(b)
    new = np.ones(len(a), dtype=bool)
    new[1:] = a[1:] > reach[:-1] + 1
    heads = np.flatnonzero(new)
    run_a, run_b = a[heads], np.maximum.reduceat(b, heads)
    j = np.searchsorted(run_a, span_a, side="right") - 1
    return (j >= 0) & (run_b[np.maximum(j, 0)] >= span_b)
