"""Exact duplicates: a 128-bit xxh3 digest of each canonical text, grouped by sorting."""

from __future__ import annotations

import itertools

import numpy as np
import xxhash

__all__ = ["DIGEST_SCHEME", "digests", "exact_groups"]

# the digest function over canonical code points; what the canonical text is, is versioned in
# dedupe.text.normalize.CANONICAL_SCHEME and the Unicode version (dedupe.schemes)
DIGEST_SCHEME = "dedupe-digest-xxh3-128-utf32le-v1"


def digests(cps: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """xxh3-128 of each document's canonical code points (UTF-32LE), as ``(n, 2)`` uint64.

    Documents are hashed straight from the array's memory (a byte view, no copy of the batch);
    the 16-byte canonical digests are big-endian ``hi, lo`` pairs, read back in one call.
    """
    data = np.ascontiguousarray(cps, dtype="<u4")
    raw = memoryview(data).cast("B") if data.size else memoryview(b"")
    bounds = (offsets * 4).tolist()
    digest = xxhash.xxh3_128_digest
    joined = b"".join([digest(raw[a:b]) for a, b in itertools.pairwise(bounds)])
    return np.frombuffer(joined, ">u8").astype(np.uint64).reshape(-1, 2)


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
