"""Shingle hashes for a batch: word n-grams over tokens or character n-grams over code points.

Both kinds reduce to one question -- the hash of ``n`` consecutive items of a document -- and are
answered for the whole batch at once with shifted arrays: ``s = ((h[i] * M + h[i+1]) * M + ...)``
modulo 2**64, then ``fmix64``. A document shorter than ``n`` items contributes one shingle made of
all its items (so a three-word page still has a signature), and an empty one contributes none.
The 32-bit shingle hash fed to MinHash is the xor of the two halves of the 64-bit value.
"""

from __future__ import annotations

import numpy as np

from dedupe.text.hashing import fmix64, run_hashes
from dedupe.text.tokens import tokenize

__all__ = ["Shingles", "ngram_hashes", "shingle_batch", "shingle_strings"]

_M = np.uint64(0xD6E8FEB86659FD93)


class Shingles:
    """Ragged shingle hashes: document ``i`` owns ``hashes[offsets[i]:offsets[i+1]]``."""

    __slots__ = ("hashes", "offsets")

    def __init__(self, hashes: np.ndarray, offsets: np.ndarray):
        self.hashes = hashes
        self.offsets = offsets

    @property
    def counts(self) -> np.ndarray:
        return np.diff(self.offsets)


def ngram_hashes(items: np.ndarray, offsets: np.ndarray, n: int) -> Shingles:
    """Hash every run of ``n`` consecutive ``items`` (uint64) inside each document."""
    total = len(items)
    counts = np.diff(offsets)
    doc_end = np.repeat(offsets[1:], counts)  # end index of the document of each item
    starts = np.arange(total, dtype=np.int64)
    doc_start = np.repeat(offsets[:-1], counts)
    # valid starts: a full n-gram fits, or the document is short and this is its first item
    short = np.repeat(counts < n, counts)
    valid = (starts + n <= doc_end) | (short & (starts == doc_start))
    acc = items.astype(np.uint64, copy=True)
    with np.errstate(over="ignore"):
        for j in range(1, n):
            nxt = np.zeros(total, np.uint64)
            nxt[: total - j] = items[j:]
            inside = starts + j < doc_end
            acc = np.where(inside, acc * _M + nxt, acc)
    sel = np.flatnonzero(valid)
    hashes = fmix64(acc[sel])
    folded = ((hashes >> np.uint64(32)) ^ (hashes & np.uint64(0xFFFFFFFF))).astype(np.uint32)
    doc_of_item = np.repeat(np.arange(len(counts)), counts)
    per_doc = np.bincount(doc_of_item[sel], minlength=len(counts))
    new_offsets = np.zeros(len(offsets), np.int64)
    np.cumsum(per_doc, out=new_offsets[1:])
    return Shingles(folded, new_offsets)


def shingle_batch(cps: np.ndarray, offsets: np.ndarray, kind: str, n: int) -> Shingles:
    """Shingles of a batch of canonical code points (``kind`` is ``word`` or ``char``)."""
    if kind == "word":
        starts, ends, tok_offsets = tokenize(cps, offsets)
        return ngram_hashes(run_hashes(cps, starts, ends), tok_offsets, n)
    if kind == "char":
        return ngram_hashes(cps.astype(np.uint64), offsets, n)
    raise ValueError(f"unknown shingle kind {kind!r}: use 'word' or 'char'")


def shingle_strings(canonical: str, kind: str, n: int) -> list[str]:
    """The shingles of one canonical text as strings (the compatibility and explain path).

    Word shingles are the tokens joined by one space; character shingles are substrings. The
    list has one entry per shingle position (repeats included), in text order.
    """
    import pyarrow as pa

    from dedupe.text.codepoints import decode_utf8

    cps, offsets = decode_utf8(pa.array([canonical], pa.string()))
    if kind == "word":
        starts, ends, _ = tokenize(cps, offsets)
        items = [canonical[s:e] for s, e in zip(starts.tolist(), ends.tolist())]
        sep = " "
    elif kind == "char":
        items = list(canonical)
        sep = ""
    else:
        raise ValueError(f"unknown shingle kind {kind!r}: use 'word' or 'char'")
    if not items:
        return []
    if len(items) < n:
        return [sep.join(items)]
    return [sep.join(items[i : i + n]) for i in range(len(items) - n + 1)]
