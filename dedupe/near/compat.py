"""datasketch compatibility: shingles hashed with SHA-1 exactly as ``datasketch.MinHash`` does.

With ``hash_scheme = "sha1"`` a signature equals ``datasketch.MinHash(num_perm, seed)`` (its
defaults: affine32 permutations, ``sha1_hash32``) updated with each shingle's UTF-8 bytes, where
the shingles are :func:`dedupe.text.shingle.shingle_strings` of the canonical text. The price is
one SHA-1 call per shingle in Python, many times slower than the native scheme.
"""

from __future__ import annotations

import hashlib
import struct

import numpy as np

from dedupe.text.shingle import Shingles, shingle_strings

__all__ = ["sha1_hash32", "sha1_shingles"]


def sha1_hash32(data: bytes) -> int:
    """datasketch's default 32-bit hash: the first four bytes of SHA-1, little-endian."""
    return struct.unpack("<I", hashlib.sha1(data).digest()[:4])[0]


def sha1_shingles(cps: np.ndarray, offsets: np.ndarray, kind: str, n: int) -> Shingles:
    hashes: list[int] = []
    counts = np.zeros(len(offsets) - 1, np.int64)
    for i in range(len(offsets) - 1):
        text = cps[offsets[i] : offsets[i + 1]].astype("<u4").tobytes().decode("utf-32-le")
        items = shingle_strings(text, kind, n)
        hashes.extend(sha1_hash32(s.encode("utf-8")) for s in items)
        counts[i] = len(items)
    out = np.zeros(len(offsets), np.int64)
    np.cumsum(counts, out=out[1:])
    return Shingles(np.array(hashes, np.uint32), out)
