"""Exact duplicates: a 128-bit xxh3 digest of each canonical text, grouped by sorting."""

from __future__ import annotations

import numpy as np
import xxhash

__all__ = ["digests", "exact_groups"]


def digests(cps: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """xxh3-128 of each document's canonical code points (UTF-32LE), as ``(n, 2)`` uint64."""
    raw = memoryview(cps.astype("<u4", copy=False).tobytes())
    bounds = (offsets * 4).tolist()
    out = np.empty((len(offsets) - 1, 2), np.uint64)
    values = [xxhash.xxh3_128_intdigest(raw[a:b]) for a, b in zip(bounds[:-1], bounds[1:])]
    mask = (1 << 64) - 1
    out[:, 0] = [v >> 64 for v in values]
    out[:, 1] = [v & mask for v in values]
    return out


def exact_groups(digest: np.ndarray, order_key: np.ndarray) -> np.ndarray:
    """For every row, the row index of the first row (smallest ``order_key``) with its digest."""
    n = len(digest)
    if n == 0:
        return np.zeros(0, np.int64)
    order = np.lexsort((order_key, digest[:, 1], digest[:, 0]))
    d = digest[order]
    new_group = np.ones(n, bool)
    new_group[1:] = (d[1:, 0] != d[:-1, 0]) | (d[1:, 1] != d[:-1, 1])
    group_first = order[np.flatnonzero(new_group)]
    group_id = np.cumsum(new_group) - 1
    rep = np.empty(n, np.int64)
    rep[order] = group_first[group_id]
    return rep
