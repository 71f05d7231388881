"""MinHash minima: every permutation of every shingle in one pass over the shingles."""

from __future__ import annotations

import numba
import numpy as np

__all__ = ["minhash_rows"]


@numba.njit(cache=True, nogil=True)
def minhash_rows(mixed: np.ndarray, starts: np.ndarray, stops: np.ndarray, a: np.ndarray,
                 b: np.ndarray, out: np.ndarray) -> None:
    """``out[d, p] = min over i in [starts[d], stops[d]) of (a[p] * mixed[i] + b[p]) mod 2**32``
    (uint32 throughout; ``out[d]`` is all ``0xFFFFFFFF`` where the range is empty). The
    permutation loop is innermost over a row of ``out`` that stays in the first-level cache,
    which the compiler turns into vector instructions."""
    perms = a.shape[0]
    for d in range(out.shape[0]):
        row = out[d]
        for p in range(perms):
            row[p] = np.uint32(0xFFFFFFFF)
        for i in range(starts[d], stops[d]):
            h = mixed[i]
            for p in range(perms):
                v = np.uint32(a[p] * h + b[p])
                if v < row[p]:
                    row[p] = v
