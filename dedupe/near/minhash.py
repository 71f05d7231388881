"""MinHash signatures for a batch of shingle hashes, computed one permutation block at a time.

Permutations are datasketch's ``affine32`` scheme (datasketch >= 2.0's default): a shingle's 32-bit
hash ``h`` is pre-mixed with MurmurHash3's ``fmix32`` and permuted as ``a * h + b mod 2**32`` with
odd ``a``; ``(a, b)`` are drawn from ``numpy.random.RandomState(seed)`` exactly as datasketch draws
them. A signature therefore equals ``datasketch.MinHash(num_perm, seed, hashfunc=H)`` fed the same
shingles, where ``H`` is the 32-bit shingle hash (``dedupe.near.minhash.shingle_hash32`` for the
native scheme, SHA-1 for ``hash_scheme = "sha1"``), and loads into ``datasketch.MinHashLSH``.

The arithmetic is one compiled loop (:mod:`dedupe.kernels.minhash`); the numpy formulation it
replaced (a ``(num_perm, shingles)`` block and ``np.minimum.reduceat``) is the reference it is
tested against, in ``tests/test_text_speed_invariants.py``.
"""

from __future__ import annotations

import functools

import numpy as np

from dedupe.text.hashing import fmix32

__all__ = ["EMPTY", "jaccard_estimate", "permutations", "signatures"]

EMPTY = np.uint32(0xFFFFFFFF)


@functools.lru_cache(maxsize=8)
def permutations(num_perm: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``(a, b)`` of datasketch's affine32 permutations for ``seed`` (a is odd)."""
    if num_perm < 1:
        raise ValueError("num_perm must be at least 1")
    gen = np.random.RandomState(seed)
    a = gen.randint(0, 1 << 31, num_perm, dtype=np.uint32) * np.uint32(2) + np.uint32(1)
    b = gen.randint(0, 1 << 32, num_perm, dtype=np.uint32)
    return a, b


def signatures(hashes: np.ndarray, offsets: np.ndarray, num_perm: int, seed: int) -> np.ndarray:
    """Signatures ``(n_docs, num_perm)`` uint32; a document without shingles gets all ``EMPTY``.

    One compiled pass over the shingles (:func:`dedupe.kernels.minhash.minhash_rows`): each
    shingle's ``num_perm`` permuted values are folded into its document's row of minima while
    that row sits in the first-level cache, with no ``(num_perm, shingles)`` intermediate.
    """
    # imported here: numba (about 180 MB resident with its compiler) loads only in the
    # processes that sign, not in those that decide, query or plan
    from dedupe.kernels.minhash import minhash_rows

    a, b = permutations(num_perm, seed)
    offsets = np.asarray(offsets, np.int64)
    out = np.empty((len(offsets) - 1, num_perm), np.uint32)
    mixed = fmix32(hashes.astype(np.uint32, copy=False))
    minhash_rows(mixed, offsets[:-1], offsets[1:], a, b, out)
    return out


def jaccard_estimate(sig_a: np.ndarray, sig_b: np.ndarray) -> np.ndarray:
    """Fraction of equal signature positions, row by row (the unbiased MinHash estimate).

    The equal positions are counted as bytes into a 16-bit sum (several times faster than a
    mean over booleans, and the same quotient: a count over ``num_perm``)."""
    eq = np.equal(sig_a, sig_b)
    return eq.view(np.uint8).sum(axis=-1, dtype=np.uint16) / eq.shape[-1]
