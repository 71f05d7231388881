"""Exact Jaccard similarity of many pairs of shingle sets at once (``--verify exact``).

Sets are ragged arrays: set ``i`` is ``values[offsets[i]:offsets[i + 1]]``, sorted and
distinct (as the sign stage stores them). For a run of pairs, every value of a pair's first set
is tagged with the pair's position in the high 32 bits (``pair << 32 | value``); the tagged
first sets of all the pairs, one after another, form one sorted array, and so do the second
sets. Sorting the two arrays together is then one linear merge (numpy's stable sort is timsort,
which finds the two sorted runs), after which a value common to a pair's two sets sits next to
its copy: an equality test of neighbours and a ``bincount`` of the hits by pair give every
intersection. That is a sorted merge of all the pairs in a few numpy calls instead of one
Python call per pair (a ``searchsorted`` of one array in the other finds the same values, but
with a binary search per value: about ten times the merge's cost per value).

The pairs go through in runs of about ``_RUN_VALUES`` values, which keeps the temporaries in
the processor's cache: past that, the merge waits on memory and slows several times over.
"""

from __future__ import annotations

import numpy as np

__all__ = ["ragged_take", "set_jaccard"]


def ragged_take(values: np.ndarray, offsets: np.ndarray, rows: np.ndarray):
    """``(values of sets rows[0], rows[1], ... one after another, their lengths)``."""
    offsets = np.asarray(offsets, np.int64)
    rows = np.asarray(rows, np.int64)
    starts = offsets[rows]
    lengths = offsets[rows + 1] - starts
    ends = np.cumsum(lengths)
    if not len(ends) or ends[-1] == 0:
        return values[:0], lengths
    # position j of the output is starts[k] + (j - first output position of set k)
    pos = np.arange(ends[-1], dtype=np.int64) + np.repeat(starts - (ends - lengths), lengths)
    return values[pos], lengths


_RUN_VALUES = 1 << 18


def set_jaccard(values: np.ndarray, offsets: np.ndarray, a: np.ndarray,
                b: np.ndarray) -> np.ndarray:
    """Jaccard of sets ``a[k]`` and ``b[k]`` for every ``k`` (two empty sets: 1.0).

    ``values`` are 32-bit shingle hashes (anything that fits ``uint32``).
    """
    offsets = np.asarray(offsets, np.int64)
    a, b = np.asarray(a, np.int64), np.asarray(b, np.int64)
    out = np.ones(len(a))
    if not len(a):
        return out
    size = np.cumsum(offsets[a + 1] - offsets[a] + offsets[b + 1] - offsets[b])
    lo = 0
    while lo < len(a):
        before = size[lo - 1] if lo else 0
        hi = max(lo + 1, int(np.searchsorted(size, before + _RUN_VALUES, side="right")))
        out[lo:hi] = _merged_jaccard(values, offsets, a[lo:hi], b[lo:hi])
        lo = hi
    return out


def _merged_jaccard(values, offsets, a, b) -> np.ndarray:
    n = len(a)
    va, la = ragged_take(values, offsets, a)
    vb, lb = ragged_take(values, offsets, b)
    tag = np.arange(n, dtype=np.uint64) << np.uint64(32)
    merged = np.concatenate([np.repeat(tag, la) | va.astype(np.uint64),
                             np.repeat(tag, lb) | vb.astype(np.uint64)])
    merged.sort(kind="stable")  # two sorted runs: one linear merge
    both = merged[1:][merged[1:] == merged[:-1]]
    inter = np.bincount((both >> np.uint64(32)).astype(np.int64), minlength=n)
    union = la + lb - inter
    out = np.ones(n)
    some = union > 0
    out[some] = inter[some] / union[some]
    return out
