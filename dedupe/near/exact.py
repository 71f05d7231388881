"""Exact duplicates: a 128-bit xxh3 digest of each canonical text, grouped by sorting."""

from __future__ import annotations

import itertools

import numpy as np
import pyarrow as pa
import xxhash

from dedupe.text.normalize import canonical_codepoints, safe_cuts

__all__ = ["DIGEST_SCHEME", "digests", "exact_groups", "long_text_digest"]

# the digest function over canonical code points; what the canonical text is, is versioned in
# dedupe.text.normalize.CANONICAL_SCHEME and the Unicode version (dedupe.schemes). v2: a text
# past input.max_doc_bytes is digested whole (v1 digested its hashing prefix only)
DIGEST_SCHEME = "dedupe-digest-xxh3-128-utf32le-v2"


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


_SENTINEL = "x"  # maps to itself under every normalisation step, composes with nothing
_SPACE = 0x20


def _last_cut(text: str, lo: int, hi: int, cfg) -> int:
    """The last position in ``[lo, hi)`` before which :func:`safe_cuts` allows a cut, or -1."""
    window = np.frombuffer(text[lo:hi].encode("utf-32-le", "surrogatepass"), "<u4")
    ok = np.flatnonzero(safe_cuts(window.astype(np.uint32), cfg))
    return lo + int(ok[-1]) if len(ok) else -1


def _first_cut(text: str, lo: int, size: int, cfg) -> int:
    """The first allowed cut at or after ``lo`` (``len(text)`` if none), read ``size`` at a time."""
    while lo < len(text):
        window = np.frombuffer(text[lo : lo + size].encode("utf-32-le", "surrogatepass"), "<u4")
        ok = np.flatnonzero(safe_cuts(window.astype(np.uint32), cfg))
        if len(ok):
            return lo + int(ok[0])
        lo += size
    return len(text)


def _pieces(text: str, size: int, cfg):
    """Cut ``text`` into pieces of about ``size`` characters, each cut before the last
    character of the window's second half that :func:`safe_cuts` allows; only a run of
    composing characters longer than that makes a piece longer (it is never cut inside)."""
    pos, n = 0, len(text)
    while pos < n:
        end = min(n, pos + size)
        if end < n:
            cut = _last_cut(text, pos + max(1, size // 2), end, cfg)
            if cut <= pos:
                cut = _last_cut(text, pos + 1, end, cfg)
            end = cut if cut > pos else _first_cut(text, end, size, cfg)
        yield text[pos:end]
        pos = end


def long_text_digest(text: str, cfg, piece_chars: int = 1 << 20) -> tuple[np.ndarray, int]:
    """``(digest (2,) uint64, canonical length)`` of a whole text, normalised piece by piece.

    Equals :func:`digests` of the text's whole canonical form (tested), while holding one
    piece of ``piece_chars`` characters at a time: a text too long to normalise at once is
    still digested whole, so two texts that share a long prefix are never taken as exact
    duplicates. Each inner piece is normalised between two sentinel characters, which keep the
    whitespace at its seams visible; runs of whitespace across a seam are then joined into one
    space exactly as whole-text folding joins them, and dropped at either end of the text.
    """
    pieces = list(_pieces(text, max(2, piece_chars), cfg))
    h = xxhash.xxh3_128()
    started = pending = False
    length = 0
    for k, piece in enumerate(pieces):
        first, last = k == 0, k == len(pieces) - 1
        wrapped = ("" if first else _SENTINEL) + piece + ("" if last else _SENTINEL)
        cps, _ = canonical_codepoints(pa.array([wrapped], pa.string()), cfg)
        body = cps[(0 if first else 1) : len(cps) - (0 if last else 1)]
        if not cfg.fold_whitespace:
            h.update(np.ascontiguousarray(body, "<u4").tobytes())
            length += len(body)
            continue
        lead = bool(len(body)) and body[0] == _SPACE
        body = body[1:] if lead else body
        trail = bool(len(body)) and body[-1] == _SPACE
        body = body[:-1] if trail else body
        if not len(body):
            pending = pending or lead or trail
            continue
        if started and (pending or lead):
            h.update(np.array([_SPACE], "<u4").tobytes())
            length += 1
        h.update(np.ascontiguousarray(body, "<u4").tobytes())
        length += len(body)
        started, pending = True, trail
    return np.frombuffer(h.digest(), ">u8").astype(np.uint64), length
