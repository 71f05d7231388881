"""Word tokens of one document with character offsets and 64-bit hashes.

Repeats inside a page are found by comparing token hashes and reported as offsets into the
original string, so every token keeps its ``[start, end)`` position (Python ``str`` indices).
Punctuation and whitespace are not tokens: a re-pasted passage matches its original even when
the markup or spacing around it differs.

What a token is comes from ``dedupe.text.tokens``, so span detection and the MinHash word
shingles agree: a run of letters, marks and digits, with every character of a script written
without spaces (Han, Hiragana, Katakana, Thai, Lao, Khmer, Myanmar) a token of its own, so a
Japanese or Thai paragraph is not one giant token that could never match a part of itself. The
underscore is punctuation.

Hashes are ``xxh3_64`` of the NFKC-normalised, case-folded token, so fullwidth "FOO"
(U+FF26 U+FF2F U+FF2F), "FOO" and "foo" match; NFKC and case folding are those of the pinned
Unicode data (:mod:`dedupe.text.ucd`), not the running Python's, so a key stored in an index
under one Python matches the same line under another. Only distinct tokens reach Python: tokens
are first grouped by a vectorised hash of their raw code points (``dedupe.text.hashing``), then
each group is normalised and hashed once. ``TOKEN_HASH_VERSION`` names this scheme (1: the
interpreter's Unicode data; 2: the pinned data); bump it when the normalisation or the hash
changes, so that stored hashes are never compared across schemes.
"""

from __future__ import annotations

import numpy as np
import xxhash

from dedupe.text import ucd
from dedupe.text.hashing import run_hashes
from dedupe.text.tokens import tokenize

TOKEN_HASH_VERSION = 2

# Odd multiplier of the polynomial window hash: odd numbers are invertible mod 2**64, so no
# power of it collapses to zero and every token of a window keeps influencing the sum.
_WINDOW_BASE = np.uint64(0x9E3779B97F4A7C15)


def _code_points(text: str) -> np.ndarray:
    """Code points of ``text`` (index ``i`` is ``text[i]``); lone surrogates pass through."""
    return np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)


def _spans(cps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    starts, ends, _ = tokenize(cps, np.array([0, len(cps)], dtype=np.int64))
    return starts, ends


def token_spans(text: str) -> tuple[np.ndarray, np.ndarray]:
    """Start and end offsets (int64, sorted, disjoint) of the tokens of ``text``."""
    return _spans(_code_points(text))


def _normalise(text: str) -> str:
    return ucd.casefold(ucd.nfkc(text))


def token_hash(token: str) -> int:
    """64-bit hash of one token after NFKC normalisation and case folding."""
    return xxhash.xxh3_64_intdigest(_normalise(token).encode())


def tokenize_offsets(text: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return ``(starts, ends, hashes)`` of the tokens of ``text``.

    ``starts``/``ends`` are int64 str indices into ``text``; ``hashes`` is uint64. All distinct
    tokens are normalised in one call on a NUL-joined string, which is exact: NFKC never
    composes across a NUL, and case folding works character by character.
    """
    cps = _code_points(text)
    starts, ends = _spans(cps)
    if len(starts) == 0:
        return starts, ends, np.empty(0, dtype=np.uint64)
    _, first, inverse = np.unique(
        run_hashes(cps, starts, ends), return_index=True, return_inverse=True
    )
    words = [text[s:e] for s, e in zip(starts[first].tolist(), ends[first].tolist(), strict=True)]
    normalised = _normalise("\x00".join(words)).split("\x00")
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


def window_hashes(hashes: np.ndarray, k: int) -> np.ndarray:
    """Hash of every window of ``k`` consecutive tokens: ``sum(h[i+j] * B**(k-1-j)) mod 2**64``.

    Horner's rule over ``k`` shifted views costs ``O(n * k)`` vector operations with no Python
    loop over tokens; uint64 arithmetic wraps, which is exactly the reduction mod 2**64. With
    random 64-bit token hashes two different windows collide with probability about 2**-64.
    """
    if k < 1:
        raise ValueError(f"window length must be at least 1 token, got {k}")
    count = len(hashes) - k + 1
    if count <= 0:
        return np.empty(0, dtype=np.uint64)
    out = np.array(hashes[:count], dtype=np.uint64)
    for j in range(1, k):
        out *= _WINDOW_BASE
        out += hashes[j : j + count]
    return out
