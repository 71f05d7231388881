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

__all__ = ["HASH_SCHEME", "fmix32", "fmix64", "run_hashes"]

HASH_SCHEME = "dedupe-minhash-v1"

_M = np.uint64(0x9E3779B97F4A7C15)  # odd: invertible modulo 2**64
_K = np.uint64(0xC2B2AE3D27D4EB4F)
_M_INV = np.uint64(pow(int(_M), -1, 1 << 64))

_pow_cache: dict[str, np.ndarray] = {}


def _powers(n: int) -> tuple[np.ndarray, np.ndarray]:
    """``M**j`` and ``M**-j`` for ``j < n`` (grown on demand and cached per process)."""
    have = _pow_cache.get("fwd")
    if have is None or len(have) < n:
        size = max(n, 1 << 16, 0 if have is None else 2 * len(have))
        fwd = np.full(size, _M, dtype=np.uint64)
        fwd[0] = 1
        inv = np.full(size, _M_INV, dtype=np.uint64)
        inv[0] = 1
        np.multiply.accumulate(fwd, out=fwd)
        np.multiply.accumulate(inv, out=inv)
        _pow_cache["fwd"], _pow_cache["inv"] = fwd, inv
    return _pow_cache["fwd"], _pow_cache["inv"]


def fmix64(x: np.ndarray) -> np.ndarray:
    """MurmurHash3 64-bit finaliser (a bijection on uint64), element-wise."""
    x = x ^ (x >> np.uint64(33))
    x = x * np.uint64(0xFF51AFD7ED558CCD)
    x ^= x >> np.uint64(33)
    x *= np.uint64(0xC4CEB9FE1A85EC53)
    x ^= x >> np.uint64(33)
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
    """64-bit hashes of the code-point runs ``cps[starts[i]:ends[i]]``."""
    if len(starts) == 0:
        return np.zeros(0, np.uint64)
    fwd, inv = _powers(len(cps) + 1)
    with np.errstate(over="ignore"):
        terms = (cps.astype(np.uint64) + np.uint64(1)) * fwd[: len(cps)]
        prefix = np.zeros(len(cps) + 1, np.uint64)
        np.cumsum(terms, out=prefix[1:])
        poly = (prefix[ends] - prefix[starts]) * inv[starts]
        lengths = (ends - starts).astype(np.uint64)
        return fmix64(poly ^ (lengths * _K))
