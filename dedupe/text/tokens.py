"""Unicode-aware word tokens over a batch of canonical code points.

A token is a maximal run of letters, marks and digits (Unicode categories L*, M*, N*). Characters
of scripts written without spaces -- Han, Hiragana, Katakana, Thai, Lao, Khmer, Myanmar -- are
tokens of one character each, so a Chinese or Thai page becomes a sequence of characters instead
of one giant word, and word n-grams over it behave like character n-grams. Categories come from
the pinned Unicode data of :mod:`dedupe.text.ucd`, so tokens are the same under every Python.
"""

from __future__ import annotations

import functools

import numpy as np

from dedupe.text import ucd

__all__ = ["SEPARATOR", "SINGLE", "WORD", "char_classes", "tokenize"]

SEPARATOR, WORD, SINGLE = 0, 1, 2
_WIDE = 0x40000  # code points from here up are WORD

_SINGLE_RANGES = (
    (0x0E00, 0x0EFF),  # Thai, Lao
    (0x1000, 0x109F),  # Myanmar
    (0x1780, 0x17FF),  # Khmer
    (0x2E80, 0x2FDF),  # CJK radicals
    (0x3040, 0x30FF),  # Hiragana, Katakana
    (0x3100, 0x312F),  # Bopomofo
    (0x31F0, 0x31FF),  # Katakana extension
    (0x3400, 0x4DBF),  # CJK extension A
    (0x4E00, 0x9FFF),  # CJK unified ideographs
    (0xF900, 0xFAFF),  # CJK compatibility ideographs
    (0xFF66, 0xFF9F),  # half-width Katakana
)


@functools.lru_cache(maxsize=1)
def char_classes() -> np.ndarray:
    """Class (SEPARATOR, WORD or SINGLE) of every BMP code point."""
    table = np.zeros(0x10000, dtype=np.uint8)
    for cp in range(0x10000):
        if 0xD800 <= cp < 0xE000:
            continue
        if ucd.category(chr(cp))[0] in "LMN":
            table[cp] = WORD
    for lo, hi in _SINGLE_RANGES:
        seg = table[lo : hi + 1]
        seg[seg == WORD] = SINGLE
    return table


@functools.lru_cache(maxsize=1)
def _wide_classes() -> np.ndarray:
    """:func:`char_classes` extended over planes 1-3 plus one WORD entry for everything above.

    Plane 1 is WORD and the CJK extension planes 2-3 are SINGLE, so a gather that clips its
    indices at ``0x40000`` classifies every code point in one pass.
    """
    table = np.full(_WIDE + 1, WORD, dtype=np.uint8)
    table[:0x10000] = char_classes()
    table[0x20000:0x40000] = SINGLE
    table.flags.writeable = False
    return table


def _classes(cps: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """Class of every code point: one clipped gather (into ``out`` when given)."""
    if out is None:
        out = np.empty(len(cps), np.uint8)
    return np.take(_wide_classes(), cps, out=out, mode="clip")


def tokenize(cps: np.ndarray, offsets: np.ndarray):
    """Tokens of every document: ``(starts, ends, token_offsets)``.

    ``starts``/``ends`` index into ``cps``; document ``i`` owns tokens
    ``token_offsets[i]:token_offsets[i+1]``. No token crosses a document boundary.

    With the class sequence padded by a separator at both ends, a token edge sits between two
    neighbours ``j - 1, j`` whose classes differ, at a document boundary, or next to a SINGLE
    character (one-character tokens). A token starts at ``j`` on an edge when ``j`` is a token
    character and ends at ``j`` on an edge when ``j - 1`` is one, so starts and ends come from
    two masks over the same edge array and pair up in order.
    """
    n = len(cps)
    if n == 0:
        empty = np.zeros(0, np.int64)
        return empty, empty, np.zeros(len(offsets), np.int64)
    cls = np.empty(n + 2, np.uint8)  # cls[j + 1] is the class of cps[j]
    cls[0] = cls[n + 1] = SEPARATOR
    _classes(cps, out=cls[1 : n + 1])
    edge = cls[1:] != cls[:-1]  # edge[j]: between cps[j - 1] and cps[j], j = 0..n
    edge[offsets] = True
    if int(cls.max()) == SINGLE:
        edge[:n] |= cls[1 : n + 1] == SINGLE
    is_tok = cls != SEPARATOR
    starts = np.flatnonzero(edge[:n] & is_tok[1 : n + 1])
    ends = np.flatnonzero(edge[1:] & is_tok[1 : n + 1])
    ends += 1
    token_offsets = np.searchsorted(starts, offsets)
    return (
        starts.astype(np.int64, copy=False),
        ends.astype(np.int64, copy=False),
        token_offsets.astype(np.int64, copy=False),
    )
