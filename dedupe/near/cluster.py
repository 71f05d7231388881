"""Clusters from verified pairs, and one survivor per cluster.

Connected components are found with array union-find: every node points at a parent; each round
hooks the larger root of every edge under the smaller one (``np.minimum.at``) and then compresses
paths by pointer jumping until nothing changes. Labels end up as the smallest node of each
component, so the result depends only on the edge set, never on edge order or worker count.
"""

from __future__ import annotations

import numpy as np

__all__ = ["connected_components", "pick_survivors"]


def _compress(parent: np.ndarray) -> np.ndarray:
    while True:
        grand = parent[parent]
        if np.array_equal(grand, parent):
            return parent
        parent = grand


def connected_components(n: int, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Label of each of ``n`` nodes: the smallest node index in its component."""
    parent = np.arange(n, dtype=np.int64)
    a = np.asarray(a, np.int64)
    b = np.asarray(b, np.int64)
    while len(a):
        ra, rb = parent[a], parent[b]
        lo, hi = np.minimum(ra, rb), np.maximum(ra, rb)
        active = lo != hi
        if not active.any():
            break
        lo, hi = lo[active], hi[active]
        np.minimum.at(parent, hi, lo)
        parent = _compress(parent)
        a, b = a[active], b[active]
    return _compress(parent)


def pick_survivors(labels: np.ndarray, order_key: np.ndarray, score: np.ndarray | None = None):
    """Survivor row of each row's cluster: the highest ``score`` (ties: smallest ``order_key``).

    With ``score`` None the survivor is the row with the smallest ``order_key`` (policy
    ``first``). NaN scores rank below every number.
    """
    n = len(labels)
    if n == 0:
        return np.zeros(0, np.int64)
    if score is None:
        keys = (order_key, labels)
    else:
        s = np.where(np.isnan(score), -np.inf, score)
        keys = (order_key, -s, labels)
    order = np.lexsort(keys)
    lab = labels[order]
    first = np.ones(n, bool)
    first[1:] = lab[1:] != lab[:-1]
    winner_of_group = order[np.flatnonzero(first)]
    group = np.cumsum(first) - 1
    survivor = np.empty(n, np.int64)
    survivor[order] = winner_of_group[group]
    return survivor
