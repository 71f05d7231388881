"""Reference tokens of one document: ``dedupe.spans.tokens.tokenize_offsets`` the simple way.

Boundaries come from ``dedupe.text.tokens.tokenize`` (what a token is is not under test here);
tokens are grouped by a vectorised hash of their raw code points (``dedupe.text.hashing``),
and each group is normalised and hashed once, instead of Arrow's dictionary encoding of the
fast path.
"""

from __future__ import annotations

import numpy as np
import xxhash

from dedupe.spans.tokens import normalise
from dedupe.text.hashing import run_hashes
from dedupe.text.tokens import tokenize


def tokenize_offsets(text: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(starts, ends, hashes)`` of the tokens of ``text`` (int64 str indices, uint64).

    All distinct tokens are normalised in one call on a NUL-joined string, which is exact: NFKC
    never composes across a NUL, and case folding works character by character.
    """
    cps = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    starts, ends, _ = tokenize(cps, np.array([0, len(cps)], dtype=np.int64))
    if len(starts) == 0:
        return starts, ends, np.empty(0, dtype=np.uint64)
    _, first, inverse = np.unique(
        run_hashes(cps, starts, ends), return_index=True, return_inverse=True
    )
    words = [text[s:e] for s, e in zip(starts[first].tolist(), ends[first].tolist(), strict=True)]
    normalised = normalise("\x00".join(words)).split("\x00")
    digests = (xxhash.xxh3_64_intdigest(word.encode()) for word in normalised)
    hashes = np.fromiter(digests, dtype=np.uint64, count=len(words))
    return starts, ends, hashes[inverse.reshape(-1)]


def cover_mask(starts: np.ndarray, stops: np.ndarray, size: int) -> np.ndarray:
    """Boolean mask of the ``size`` positions inside any half-open range ``[starts, stops)``.

    A difference array (+1 at each start, -1 at each stop, cumulative sum) marks overlapping
    ranges in ``O(size + ranges)`` instead of one slice assignment per range.
    """
    delta = np.bincount(starts, minlength=size + 1)[: size + 1]
    delta -= np.bincount(stops, minlength=size + 1)[: size + 1]
    return np.cumsum(delta[:size]) > 0
