"""Unicode-aware word tokens over a batch of canonical code points.

A token is a maximal run of letters, marks and digits (Unicode categories L*, M*, N*). Characters
of scripts written without spaces -- Han, Hiragana, Katakana, Thai, Lao, Khmer, Myanmar -- are
tokens of one character each, so a Chinese or Thai page becomes a sequence of characters instead
of one giant word, and word n-grams over it behave like character n-grams.
"""

from __future__ import annotations

import functools
import unicodedata

import numpy as np

__all__ = ["SEPARATOR", "SINGLE", "WORD", "char_classes", "tokenize"]

SEPARATOR, WORD, SINGLE = 0, 1, 2

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
        if unicodedata.category(chr(cp))[0] in "LMN":
            table[cp] = WORD
    for lo, hi in _SINGLE_RANGES:
        seg = table[lo : hi + 1]
        seg[seg == WORD] = SINGLE
    return table


def _classes(cps: np.ndarray) -> np.ndarray:
    table = char_classes()
    cls = np.full(len(cps), WORD, dtype=np.uint8)
    bmp = cps < 0x10000
    cls[bmp] = table[cps[bmp]]
    cls[(cps >= 0x20000) & (cps < 0x40000)] = SINGLE  # CJK extension planes
    return cls


def tokenize(cps: np.ndarray, offsets: np.ndarray):
    """Tokens of every document: ``(starts, ends, token_offsets)``.

    ``starts``/``ends`` index into ``cps``; document ``i`` owns tokens
    ``token_offsets[i]:token_offsets[i+1]``. No token crosses a document boundary.
    """
    n = len(cps)
    if n == 0:
        empty = np.zeros(0, np.int64)
        return empty, empty, np.zeros(len(offsets), np.int64)
    cls = _classes(cps)
    is_tok = cls != SEPARATOR
    boundary = np.zeros(n + 1, bool)
    boundary[offsets] = True
    prev = np.empty(n, np.uint8)
    prev[0] = SEPARATOR
    prev[1:] = cls[:-1]
    start_mask = is_tok & ((prev != cls) | (cls == SINGLE) | boundary[:n])
    starts = np.flatnonzero(start_mask)
    breaks = np.flatnonzero(np.concatenate([start_mask | ~is_tok, [True]]) | boundary)
    ends = breaks[np.searchsorted(breaks, starts, side="right")]
    token_offsets = np.searchsorted(starts, offsets)
    return starts.astype(np.int64), ends.astype(np.int64), token_offsets.astype(np.int64)
