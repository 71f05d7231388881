"""Shingle hashes for a batch: word n-grams over tokens or character n-grams over code points.

Both kinds reduce to one question -- the hash of ``n`` consecutive items of a document -- and are
answered for the whole batch at once with shifted arrays: ``s = ((h[i] * M + h[i+1]) * M + ...)``
modulo 2**64, then ``fmix64``. A document shorter than ``n`` items contributes one shingle made of
all its items (so a three-word page still has a signature), and an empty one contributes none.
The 32-bit shingle hash fed to MinHash is the xor of the two halves of the 64-bit value.
"""

from __future__ import annotations

import itertools

import numpy as np

from dedupe.text.codepoints import document_groups
from dedupe.text.hashing import fmix64_inplace, run_hashes
from dedupe.text.tokens import tokenize

__all__ = ["Shingles", "ngram_hashes", "shingle_batch", "shingle_strings"]

_M = np.uint64(0xD6E8FEB86659FD93)
_GROUP = 1 << 17  # code points per group of documents shingled together


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
    """Hash every run of ``n`` consecutive ``items`` (uint64) inside each document.

    Horner's rule runs over the flat item array, window ``i`` covering ``items[i:i+n]`` whatever
    the documents; a window that crosses a document end is simply never selected. The selected
    windows are those starting at ``offsets[d] .. offsets[d+1] - n`` of each document with at
    least ``n`` items, in order, so the result offsets follow from the counts alone
    (``max(count - n + 1, 0)``, or 1 for a non-empty shorter document) and only the few short
    documents need a masked Horner of their own.
    """
    first, last = int(offsets[0]), int(offsets[-1])
    items = np.asarray(items[first:last], np.uint64)  # items outside the documents are not used
    offsets = offsets - first
    counts = np.diff(offsets)
    full = counts >= n
    short = np.flatnonzero((counts > 0) & ~full)
    per_doc = np.where(full, counts - (n - 1), 0)
    per_doc[short] = 1
    new_offsets = np.zeros(len(offsets), np.int64)
    np.cumsum(per_doc, out=new_offsets[1:])
    windows = max(len(items) - n + 1, 0)
    with np.errstate(over="ignore"):
        acc = items[:windows].copy()
        for j in range(1, n):
            acc *= _M
            acc += items[j : windows + j]
        if int(new_offsets[-1]) != windows or len(short):
            acc = _select(acc, items, offsets, short, new_offsets, n)
    fmix64_inplace(acc, np.empty_like(acc))
    halves = acc.view(np.uint32).reshape(-1, 2)  # xor of the two halves, in either byte order
    return Shingles(np.bitwise_xor(halves[:, 0], halves[:, 1]), new_offsets)


def _select(acc, items, offsets, short, new_offsets, n):
    """The windows of ``acc`` that lie inside a document, plus one per short document.

    The windows to drop are the last ``n - 1`` starts of every document (they cross its end),
    a sparse set; a short document's one shingle (Horner over all its items, masked per
    document) goes to its own output slot ``new_offsets[d]``.
    """
    windows = len(acc)
    begin, end = offsets[:-1], offsets[1:]
    lo = np.maximum(begin, end - (n - 1))
    hi = np.minimum(end, windows)
    span = np.maximum(hi - lo, 0)
    total = int(span.sum())
    if total:
        within = np.arange(total) - np.repeat(np.cumsum(span) - span, span)
        inside = np.ones(windows, bool)
        inside[np.repeat(lo, span) + within] = False
        acc = acc[inside]
    if len(short) == 0:
        return acc
    first = begin[short]
    length = end[short] - first
    head = items[first]
    with np.errstate(over="ignore"):
        for j in range(1, n):
            more = j < length
            head = np.where(more, head * _M + items[np.where(more, first + j, first)], head)
    out = np.empty(int(new_offsets[-1]), np.uint64)
    slots = new_offsets[short]
    rest = np.ones(len(out), bool)
    rest[slots] = False
    out[rest] = acc
    out[slots] = head
    return out


def shingle_batch(cps: np.ndarray, offsets: np.ndarray, kind: str, n: int) -> Shingles:
    """Shingles of a batch of canonical code points (``kind`` is ``word`` or ``char``).

    Shingles never cross a document and the run hashes do not depend on where a run sits, so
    the batch is cut into groups of whole documents of about ``_GROUP`` code points and each
    group is shingled on its own: every intermediate array then stays in cache, which is
    measurably faster than whole-batch passes, and the concatenated result is the same.
    """
    if kind not in ("word", "char"):
        raise ValueError(f"unknown shingle kind {kind!r}: use 'word' or 'char'")
    cuts = document_groups(offsets, _GROUP)
    if len(cuts) <= 2:
        return _shingle_group(cps, offsets, kind, n)
    hashes, new_offsets = [], np.zeros(len(offsets), np.int64)
    base = 0
    for g0, g1 in itertools.pairwise(cuts.tolist()):
        lo, hi = int(offsets[g0]), int(offsets[g1])
        part = _shingle_group(cps[lo:hi], offsets[g0 : g1 + 1] - lo, kind, n)
        hashes.append(part.hashes)
        new_offsets[g0 + 1 : g1 + 1] = part.offsets[1:] + base
        base += len(part.hashes)
    return Shingles(np.concatenate(hashes), new_offsets)


def _shingle_group(cps: np.ndarray, offsets: np.ndarray, kind: str, n: int) -> Shingles:
    if kind == "word":
        starts, ends, tok_offsets = tokenize(cps, offsets)
        return ngram_hashes(run_hashes(cps, starts, ends), tok_offsets, n)
    return ngram_hashes(cps.astype(np.uint64), offsets, n)


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
