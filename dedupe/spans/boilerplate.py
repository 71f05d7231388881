"""Boilerplate across documents: lines keyed and hashed for a whole batch, counted by documents.

Each line and multi-line paragraph of each document (split at ``\\n``, trimmed of whitespace;
offsets are Python ``str`` indices into the original text) gets two 64-bit keys, computed from
the batch's tokens (the same normalised tokens repeat detection uses, so no second pass over the
text):

* ``exact``: the hash of the token sequence (punctuation ignored) with every token that starts
  with a digit replaced by one symbol when at least two other tokens remain, so a copyright line
  whose year changes keeps its key while lines that are only a number keep their own;
* ``skeleton`` (lines only): the same after every run of capitalised tokens is replaced by one
  symbol, so "(c) 2021 The Larchmont Journal. All rights reserved." and "(c) 2019 Valewood Post.
  All rights reserved." share a key. It counts only with at least three tokens that are neither
  numbers nor capitalised, or every short title ("Climate Change") would share it. 0 means none.

A line is boilerplate when either key occurs in at least ``min_docs`` distinct documents among
those that survive document-level deduplication. Counting is done per partition of the key space
(``key % partitions``), so no stage holds the keys of a whole corpus.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dedupe.text import ucd
from dedupe.text.hashing import run_hashes

__all__ = [
    "LINE_KEY_SCHEME",
    "Lines",
    "count_keys",
    "line_keys_from_tokens",
    "paragraphs",
    "split_lines",
    "token_runs",
]

# line and paragraph keys from span token hashes (dedupe.spans.tokens.TOKEN_HASH_VERSION):
# bump when a key of the same tokens changes (they are stored in indexes)
LINE_KEY_SCHEME = "dedupe-line-key-v1"

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


def _is_ws(cps: np.ndarray, pos: np.ndarray) -> np.ndarray:
    c = cps[pos]
    out = np.zeros(len(pos), bool)
    small = c < len(_WS)
    out[small] = _WS[c[small]]
    return out


def split_lines(cps: np.ndarray, offsets: np.ndarray):
    """``(doc, start, end)`` of every non-blank line, trimmed; offsets are within the document.

    Trimming steps the ends of only those lines that still start or end in whitespace, so the
    cost follows the whitespace at line ends, not the length of the text.
    """
    n_docs = len(offsets) - 1
    nl = np.flatnonzero(cps == 10)
    starts = np.sort(np.concatenate([offsets[:-1], nl + 1]))
    ends = np.sort(np.concatenate([nl, offsets[1:]]))
    for _ in range(64):  # leading whitespace
        live = np.flatnonzero(starts < ends)
        step = live[_is_ws(cps, starts[live])]
        if len(step) == 0:
            break
        starts[step] += 1
    else:
        return _split_lines_slow(cps, offsets)
    for _ in range(64):  # trailing whitespace
        live = np.flatnonzero(starts < ends)
        step = live[_is_ws(cps, ends[live] - 1)]
        if len(step) == 0:
            break
        ends[step] -= 1
    else:
        return _split_lines_slow(cps, offsets)
    keep = starts < ends
    t_start, t_end = starts[keep], ends[keep]
    doc = np.searchsorted(offsets, t_start, "right") - 1
    doc = np.minimum(doc, max(n_docs - 1, 0))
    return doc, t_start - offsets[doc], t_end - offsets[doc]


def _split_lines_slow(cps: np.ndarray, offsets: np.ndarray):
    """The same as ``split_lines`` for text with very long whitespace runs at line ends."""
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


# --- keys from the batch's tokens (shared with repeat detection; no second canonical pass) ---

_M = np.uint64(0x9E3779B97F4A7C15)
_NUMBER = np.uint64(0x2545F4914F6CDD1D)  # stands for any token that starts with a digit
_CAPS = np.uint64(0x4F1BBCDCBFA53E0B)  # stands for a run of capitalised tokens
_pow_cache: dict[str, np.ndarray] = {}


def _powers(n: int, inverse: bool = False) -> np.ndarray:
    """``M**j`` (or ``M**-j``; ``M`` is odd, so invertible mod 2**64) for ``j <= n``, cached."""
    key = "i" if inverse else "p"
    have = _pow_cache.get(key)
    if have is None or len(have) < n + 1:
        size = max(n + 1, 4096, 0 if have is None else 2 * len(have))
        base = np.uint64(pow(int(_M), -1, 1 << 64)) if inverse else _M
        p = np.full(size, base, np.uint64)
        p[0] = 1
        with np.errstate(over="ignore"):
            np.multiply.accumulate(p, out=p)
        _pow_cache[key] = p
    return _pow_cache[key]


def _upper_table() -> np.ndarray:
    """Upper-case letters of planes 0-2 (``str.isupper`` over the pinned Unicode data)."""
    return ucd.upper_mask(0x30000)


def line_keys_from_tokens(tokens) -> Lines:
    """Line and paragraph keys of a batch from its tokens (``dedupe.spans.tokens.BatchTokens``).

    A line's exact key hashes its token sequence (normalised tokens, punctuation ignored), with
    tokens that start with a digit replaced by one symbol when at least two other tokens remain;
    its skeleton key also replaces every run of capitalised tokens by one symbol (kept only with
    at least three solid tokens). A line without tokens ("|", "***") hashes its characters.
    """
    cps, offsets = tokens.cps, tokens.offsets
    doc, start, end = split_lines(cps, offsets)
    if len(doc) == 0:
        z = np.zeros(0, np.uint64)
        return Lines(doc, start, end, z, z)
    p_doc, p_start, p_end = paragraphs(cps, offsets, doc, start, end)
    n_lines = len(doc)
    doc = np.concatenate([doc, p_doc])
    start = np.concatenate([start, p_start])
    end = np.concatenate([end, p_end])
    g_start, g_end = offsets[doc] + start, offsets[doc] + end
    t_lo = np.searchsorted(tokens.starts, g_start)
    t_hi = np.searchsorted(tokens.starts, g_end)
    first = cps[np.minimum(tokens.starts, max(len(cps) - 1, 0))] if len(cps) else cps
    numeric = (first >= 48) & (first <= 57)
    upper = _upper_table()[np.minimum(first, 0x2FFFF)] & ~numeric
    masked_h = np.where(numeric, _NUMBER, tokens.hashes)
    solid = np.concatenate([[0], np.cumsum(~numeric)])
    n_solid = solid[t_hi] - solid[t_lo]
    exact_masked = token_runs(masked_h, t_lo, t_hi)
    exact_raw = token_runs(tokens.hashes, t_lo, t_hi)
    exact = np.where(n_solid >= 2, exact_masked, exact_raw)
    # skeleton: collapse capitalised runs, over lines only
    prev_upper = np.zeros(len(upper), bool)
    prev_upper[1:] = upper[:-1]
    keep = ~(upper & prev_upper)
    keep[t_lo[:n_lines][t_lo[:n_lines] < len(keep)]] = True  # a line's first token always stays
    skel_vals = np.where(upper, _CAPS, masked_h)[keep]
    kept_before = np.concatenate([[0], np.cumsum(keep)])
    s_lo, s_hi = kept_before[t_lo[:n_lines]], kept_before[t_hi[:n_lines]]
    skeleton = token_runs(skel_vals, s_lo, s_hi)
    plain = np.concatenate([[0], np.cumsum(~numeric & ~upper)])
    n_plain = plain[t_hi[:n_lines]] - plain[t_lo[:n_lines]]
    skeleton = np.where(n_plain >= 3, skeleton, np.uint64(0))
    skeleton[skeleton == exact[:n_lines]] = 0
    skeleton = np.concatenate([skeleton, np.zeros(len(p_doc), np.uint64)])
    empty = t_hi == t_lo
    if empty.any():
        exact[empty] = run_hashes(cps, g_start[empty], g_end[empty])
    order = np.lexsort((start, doc))
    return Lines(doc[order], start[order], end[order], exact[order], skeleton[order])


def token_runs(values: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """A 64-bit hash of each run ``values[lo[i]:hi[i]]`` of token hashes (runs may overlap):
    a polynomial in the run's own positions (equal runs anywhere hash alike), mixed with its
    length."""
    n = len(values)
    pw = _powers(n)
    inv = _powers(n, inverse=True)
    with np.errstate(over="ignore"):
        terms = values.astype(np.uint64) * pw[n - 1 :: -1] if n else values
        prefix = np.zeros(n + 1, np.uint64)
        np.cumsum(terms, out=prefix[1:])
        raw = prefix[hi] - prefix[lo]
        return (raw * inv[n - hi]) ^ ((hi - lo).astype(np.uint64) * _NUMBER)
