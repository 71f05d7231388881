"""Vectorised 64-bit hashing of code-point runs (tokens, character n-grams).

A run ``c[s:e]`` hashes to ``fmix64(P(s, e) ^ (e - s) * K)`` where
``P(s, e) = sum_j (c[j] + 1) * M**(j - s) mod 2**64`` is a polynomial hash. ``P`` for every run of
a batch comes from one prefix sum: with ``Q[j] = sum_{i<j} (c[i] + 1) * M**i`` we have
``P(s, e) = (Q[e] - Q[s]) * M**-s``; ``M`` is odd, so ``M**-s`` exists modulo 2**64. Wrapping
uint64 arithmetic in numpy is exactly arithmetic modulo 2**64, so there is no Python loop and no
Python object per token. ``fmix64`` (MurmurHash3's finaliser, a bijection) spreads the result so
that the low and high halves are both usable. The scheme is versioned in ``HASH_SCHEME``.
"""

from __future__ import annotations

import numpy as np

__all__ = ["HASH_SCHEME", "fmix32", "fmix64", "fmix64_inplace", "run_hashes"]

HASH_SCHEME = "dedupe-minhash-v2"  # v2: canonical text from pinned Unicode data, not the Python's

_M = np.uint64(0x9E3779B97F4A7C15)  # odd: invertible modulo 2**64
_K = np.uint64(0xC2B2AE3D27D4EB4F)
_M_INV = np.uint64(pow(int(_M), -1, 1 << 64))

_pow_cache: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}


def _powers(n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``M**j``, ``M**-j`` and ``G[j] = sum_{k<j} M**k`` for ``j < n`` (cached per process).

    The tables only grow, are never written after they are built, and are swapped in as one
    tuple, so concurrent readers always see three tables of the same length.
    """
    have = _pow_cache.get("tables")
    if have is None or len(have[0]) < n:
        size = max(n, 1 << 16, 0 if have is None else 2 * len(have[0]))
        fwd = np.full(size, _M, dtype=np.uint64)
        fwd[0] = 1
        inv = np.full(size, _M_INV, dtype=np.uint64)
        inv[0] = 1
        np.multiply.accumulate(fwd, out=fwd)
        np.multiply.accumulate(inv, out=inv)
        geo = np.zeros(size, dtype=np.uint64)
        np.cumsum(fwd[:-1], out=geo[1:])
        for table in (fwd, inv, geo):
            table.flags.writeable = False
        have = _pow_cache["tables"] = (fwd, inv, geo)
    return have


def fmix64(x: np.ndarray) -> np.ndarray:
    """MurmurHash3 64-bit finaliser (a bijection on uint64), element-wise."""
    x = x ^ (x >> np.uint64(33))
    x = x * np.uint64(0xFF51AFD7ED558CCD)
    x ^= x >> np.uint64(33)
    x *= np.uint64(0xC4CEB9FE1A85EC53)
    x ^= x >> np.uint64(33)
    return x


def fmix64_inplace(x: np.ndarray, tmp: np.ndarray | None) -> np.ndarray:
    """:func:`fmix64` overwriting ``x`` (uint64), with ``tmp`` (same size, or None) as scratch."""
    if tmp is None:
        tmp = np.empty_like(x)
    for mul in (np.uint64(0xFF51AFD7ED558CCD), np.uint64(0xC4CEB9FE1A85EC53)):
        np.right_shift(x, np.uint64(33), out=tmp)
        x ^= tmp
        x *= mul
    np.right_shift(x, np.uint64(33), out=tmp)
    x ^= tmp
    return x


def fmix32(x: np.ndarray) -> np.ndarray:
    """MurmurHash3 32-bit finaliser, the pre-mix datasketch applies before its permutations."""
    x = x ^ (x >> np.uint32(16))
    x = x * np.uint32(0x85EBCA6B)
    x ^= x >> np.uint32(13)
    x *= np.uint32(0xC2B2AE35)
    x ^= x >> np.uint32(16)
    return x


def run_hashes(cps: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """64-bit hashes of the code-point runs ``cps[starts[i]:ends[i]]`` (``0 <= s <= e <= n``).

    The ``+ 1`` of every term is split off: ``P(s, e) = P0(s, e) + G[e - s]`` with ``P0`` the
    same polynomial over the bare code points and ``G[L] = sum_{k<L} M**k`` a cached table, which
    is the same value modulo 2**64 and saves one pass over the batch. The prefix sums of
    ``c[j] * M**j`` are built in one uint64 buffer (one mixed-width multiply, then an in-place
    cumulative sum), and the per-run arithmetic works in place on arrays the size of ``starts``.
    """
    if len(starts) == 0:
        return np.zeros(0, np.uint64)
    n = len(cps)
    lengths = ends - starts
    if int(starts.min()) < 0 or int(ends.max()) > n or int(lengths.min()) < 0:
        raise ValueError("runs must satisfy 0 <= start <= end <= len(cps)")
    fwd, inv, geo = _powers(n + 1)
    with np.errstate(over="ignore"):
        prefix = np.empty(n + 1, np.uint64)
        prefix[0] = 0
        terms = prefix[1:]
        np.multiply(cps, fwd[:n], out=terms, dtype=np.uint64, casting="unsafe")
        np.cumsum(terms, out=terms)
        # the runs were checked to lie inside cps: clipped ``take`` is plain (faster) indexing
        poly = np.take(prefix, ends, mode="clip")
        poly -= np.take(prefix, starts, mode="clip")
        poly *= np.take(inv, starts, mode="clip")
        poly += np.take(geo, lengths, mode="clip")
        mixed = lengths.astype(np.uint64)
        mixed *= _K
        poly ^= mixed
        return fmix64_inplace(poly, mixed)
