"""Boilerplate across documents: lines keyed and hashed for a whole batch, counted by documents.

Each line of each document (split at ``\\n``, trimmed of whitespace, offsets are Python ``str``
indices into the original text) gets two 64-bit keys:

* ``exact``: the line's canonical form (NFKC, lower case, folded punctuation and whitespace) with
  every digit replaced by ``0``, so a copyright line whose year changes keeps its key;
* ``skeleton``: the same after every run of capitalised words is replaced by ``X``, so
  "(c) 2021 The Larchmont Journal. All rights reserved." and "(c) 2019 Valewood Post. All rights
  reserved." share a key. A skeleton counts only if at least three of its tokens are neither
  ``x`` nor ``0`` -- otherwise every short title ("Climate Change", "Donald Trump") would share
  the key ``x``. Skeleton 0 means "no skeleton".

A line is boilerplate when either key occurs in at least ``min_docs`` distinct documents among
those that survive document-level deduplication. Counting is done per partition of the key space
(``key % partitions``), so no stage holds the keys of a whole corpus.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from dedupe.text.codepoints import decode_utf8
from dedupe.text.hashing import run_hashes
from dedupe.text.normalize import canonical_codepoints
from dedupe.text.tokens import tokenize

__all__ = ["Lines", "count_keys", "line_keys", "paragraphs", "split_lines"]

_CAPITALISED = r"\p{Lu}[\p{L}\p{M}'\x{2019}.&-]*(?:[ \t]+\p{Lu}[\p{L}\p{M}'\x{2019}.&-]*)*"
_WS = np.zeros(0x3001, bool)
_WS[[9, 10, 11, 12, 13, 32, 0x85, 0xA0, 0x1680, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000]] = True
_WS[0x2000:0x200C] = True


@dataclass
class Lines:
    """Non-empty lines of a batch: document index (in the batch), trimmed offsets, keys."""

    doc: np.ndarray
    start: np.ndarray
    end: np.ndarray
    exact: np.ndarray
    skeleton: np.ndarray


def split_lines(cps: np.ndarray, offsets: np.ndarray):
    """``(doc, start, end)`` of every non-blank line, trimmed; offsets are within the document."""
    n_docs = len(offsets) - 1
    nl = np.flatnonzero(cps == 10)
    starts = np.sort(np.concatenate([offsets[:-1], nl + 1]))
    ends = np.sort(np.concatenate([nl, offsets[1:]]))
    is_ws = np.zeros(len(cps), bool)
    small = cps < len(_WS)
    is_ws[small] = _WS[cps[small]]
    solid = np.flatnonzero(~is_ws)
    first = np.searchsorted(solid, starts)
    last = np.searchsorted(solid, ends) - 1
    keep = first <= last
    first, last = first[keep], last[keep]
    t_start, t_end = solid[first], solid[last] + 1
    doc = np.searchsorted(offsets, t_start, "right") - 1
    doc = np.minimum(doc, max(n_docs - 1, 0))
    return doc, t_start - offsets[doc], t_end - offsets[doc]


def _slices(arr: pa.Array, cps_offsets: np.ndarray, doc: np.ndarray, start: np.ndarray,
            end: np.ndarray) -> pa.Array:
    """The line strings as one Arrow array, cut from the batch's UTF-8 buffer without copies."""
    if arr.null_count:
        arr = arr.fill_null("")
    arr = arr.cast(pa.large_string())
    bufs = arr.buffers()
    byte_off = np.frombuffer(bufs[1], np.int64)[arr.offset : arr.offset + len(arr) + 1]
    data = np.frombuffer(bufs[2], np.uint8) if bufs[2] is not None else np.zeros(0, np.uint8)
    g_start = cps_offsets[doc] + start
    g_end = cps_offsets[doc] + end
    lo = int(byte_off[0])
    raw = data[lo : int(byte_off[-1])]
    lead = np.flatnonzero((raw & 0xC0) != 0x80)
    if len(lead) == len(raw):
        b_start, b_end = g_start + lo, g_end + lo
    else:
        lead = np.append(lead, len(raw)) + lo
        b_start, b_end = lead[g_start], lead[g_end]
    bounds = np.empty(2 * len(b_start) + 1, np.int64)
    bounds[0] = 0
    bounds[1::2] = b_start
    bounds[2::2] = b_end
    both = pa.LargeStringArray.from_buffers(len(bounds) - 1, pa.py_buffer(bounds), bufs[2])
    return both.take(pa.array(np.arange(1, len(bounds) - 1, 2)))


def _keys(strings: pa.Array, norm) -> tuple[np.ndarray, np.ndarray]:
    """Canonical hashes (digits masked when words remain) and the count of solid tokens.

    A solid token is one that is neither ``x`` nor a run of digits. Digits are masked only in
    lines with at least two solid tokens: "(c) 2019 Site. All rights reserved." keeps its key
    across years, while lines that are only a number ("7", "12") keep their own value instead of
    all sharing the key of "0".
    """
    cps, off = canonical_codepoints(strings, norm)
    raw_keys = run_hashes(cps, off[:-1], off[1:])
    digits = (cps >= 48) & (cps <= 57)
    masked_cps = np.where(digits, np.uint32(48), cps)
    keys = run_hashes(masked_cps, off[:-1], off[1:])
    t_start, t_end, t_off = tokenize(masked_cps, off)
    if len(t_start):
        first = masked_cps[t_start]
        tok_digits = np.concatenate([[0], np.cumsum(digits)])
        numeric = (tok_digits[t_end] - tok_digits[t_start]) == (t_end - t_start)
        masked = numeric | ((t_end - t_start == 1) & (first == ord("x")))
    else:
        masked = np.zeros(0, bool)
    solid = np.concatenate([[0], np.cumsum(~masked)])
    n_solid = solid[t_off[1:]] - solid[t_off[:-1]]
    return np.where(n_solid >= 2, keys, raw_keys), n_solid


def paragraphs(cps: np.ndarray, offsets: np.ndarray, doc, start, end):
    """Paragraphs of two or more lines: runs of lines with no blank line between them."""
    if len(doc) < 2:
        e = np.zeros(0, np.int64)
        return e, e, e
    nl = np.flatnonzero(cps == 10)
    g_start, g_end = offsets[doc] + start, offsets[doc] + end
    gap_nl = np.searchsorted(nl, g_start[1:]) - np.searchsorted(nl, g_end[:-1])
    brk = np.ones(len(doc), bool)
    brk[1:] = (doc[1:] != doc[:-1]) | (gap_nl >= 2)
    head = np.flatnonzero(brk)
    size = np.diff(np.append(head, len(doc)))
    multi = size >= 2
    first, last = head[multi], (head + size - 1)[multi]
    return doc[first], start[first], end[last]


def line_keys(text: pa.Array, norm) -> Lines:
    """Every non-blank line and multi-line paragraph of a batch with its keys.

    Lines get an exact and a skeleton key (see module docstring); paragraphs of two or more
    lines get an exact key (their skeleton is 0), so a repeated block is flagged as one span.
    """
    cps, offsets = decode_utf8(text)
    doc, start, end = split_lines(cps, offsets)
    if len(doc) == 0:
        z = np.zeros(0, np.uint64)
        return Lines(doc, start, end, z, z)
    p_doc, p_start, p_end = paragraphs(cps, offsets, doc, start, end)
    n_lines = len(doc)
    doc = np.concatenate([doc, p_doc])
    start = np.concatenate([start, p_start])
    end = np.concatenate([end, p_end])
    strings = _slices(text, offsets, doc, start, end)
    exact, _ = _keys(strings, norm)
    masked = pc.replace_substring_regex(strings.slice(0, n_lines), _CAPITALISED, "X")
    skeleton, solid_tokens = _keys(masked, norm)
    skeleton = np.where(solid_tokens >= 3, skeleton, np.uint64(0))
    skeleton[skeleton == exact[:n_lines]] = 0  # nothing was masked: the exact key counts it
    skeleton = np.concatenate([skeleton, np.zeros(len(p_doc), np.uint64)])
    order = np.lexsort((start, doc))
    return Lines(doc[order], start[order], end[order], exact[order], skeleton[order])


def count_keys(keys: np.ndarray, docs: np.ndarray):
    """Distinct documents per key: ``(unique keys, document counts, first document)``."""
    if len(keys) == 0:
        z = np.zeros(0, np.int64)
        return np.zeros(0, np.uint64), z, z
    order = np.lexsort((docs, keys))
    k, d = keys[order], docs[order]
    new_pair = np.ones(len(k), bool)
    new_pair[1:] = (k[1:] != k[:-1]) | (d[1:] != d[:-1])
    k, d = k[new_pair], d[new_pair]
    new_key = np.ones(len(k), bool)
    new_key[1:] = k[1:] != k[:-1]
    starts = np.flatnonzero(new_key)
    counts = np.diff(np.append(starts, len(k)))
    return k[starts], counts, d[starts]
