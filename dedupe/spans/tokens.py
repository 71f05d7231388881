"""Word tokens with character offsets and 64-bit hashes, the common input of span detection.

Repeats inside a page are found by comparing token hashes, and reported as offsets into the
original string, so every token keeps its ``[start, end)`` position. Punctuation and whitespace
are not tokens: a re-pasted passage matches its original even when the surrounding markup or
spacing differs.

A token is a run of letters and digits, with the combining marks that follow them. Characters of scripts written without
spaces (CJK ideographs, Hiragana, Katakana, Thai, Lao, Khmer, Myanmar) are one token each;
otherwise a whole Japanese or Thai paragraph would be one token and could never match a part of
itself. The underscore is punctuation here, unlike in ``\\w``.

Hashes are ``xxh3_64`` of the NFKC-normalised, case-folded token, so "Ｆｏｏ", "FOO" and "foo"
match. ``TOKEN_HASH_VERSION`` names this scheme; bump it when the normalisation or the hash
changes, so that stored hashes are never compared across schemes.
"""

from __future__ import annotations

import functools
import re
import unicodedata

import numpy as np
import xxhash

TOKEN_HASH_VERSION = 1

# Blocks whose characters become single tokens: Thai, Lao, Myanmar, Khmer, Hiragana, Katakana
# (and phonetic extensions), CJK ideographs (unified, extension A, compatibility, extensions B-G)
# and halfwidth Katakana.
_SINGLE_RANGES = (
    (0x0E00, 0x0EFF),
    (0x1000, 0x109F),
    (0x1780, 0x17FF),
    (0x3040, 0x30FF),
    (0x31F0, 0x31FF),
    (0x3400, 0x4DBF),
    (0x4E00, 0x9FFF),
    (0xF900, 0xFAFF),
    (0xFF66, 0xFF9F),
    (0x20000, 0x3134F),
)

# Odd multiplier of the polynomial window hash: odd numbers are invertible mod 2**64, so no
# power of it collapses to zero and every token of a window keeps influencing the sum.
_WINDOW_BASE = np.uint64(0x9E3779B97F4A7C15)


def _class_ranges(ranges: list[tuple[int, int]]) -> str:
    return "".join(f"{re.escape(chr(lo))}-{re.escape(chr(hi))}" for lo, hi in ranges)


def _in_single(cp: int) -> bool:
    return any(lo <= cp <= hi for lo, hi in _SINGLE_RANGES)


@functools.cache
def _mark_ranges() -> tuple[tuple[int, int], ...]:
    """Code point ranges of combining marks (categories Mn, Mc, Me), outside the single blocks.

    Python's ``\\w`` leaves marks out (Devanagari vowel signs, for instance), which would split
    most Indic words in two, so they are added back from the Unicode database. Only planes 0-2
    and the tag/variation-selector block of plane 14 hold marks, so the scan stops there.
    """
    ranges: list[tuple[int, int]] = []
    for cp in (*range(0x30000), *range(0xE0000, 0xE1000)):
        if unicodedata.category(chr(cp)).startswith("M") and not _in_single(cp):
            if ranges and ranges[-1][1] == cp - 1:
                ranges[-1] = (ranges[-1][0], cp)
            else:
                ranges.append((cp, cp))
    return tuple(ranges)


@functools.cache
def _token_pattern(astral: bool) -> re.Pattern[str]:
    """Compile the full token regex once per process, on first use.

    ``re`` turns a character class into a bitmap only when all of it lies in the Basic
    Multilingual Plane; one range above U+FFFF makes every test a linear scan of ~300 ranges
    (8x slower on a 1 MB page). Texts without astral characters, nearly all of them, therefore
    get a pattern whose classes stop at U+FFFF; the full pattern is used only where needed.
    """
    single, mark = _classes(astral)
    letter = rf"[^\W_{single}]"
    word = rf"{letter}+(?:[{mark}]+{letter}*)*"
    return re.compile(rf"([{single}]|{word})")


def _classes(astral: bool) -> tuple[str, str]:
    def keep(ranges: tuple[tuple[int, int], ...]) -> list[tuple[int, int]]:
        return [r for r in ranges if astral or r[1] <= 0xFFFF]

    return _class_ranges(keep(_SINGLE_RANGES)), _class_ranges(keep(_mark_ranges()))


@functools.cache
def _special_chars() -> re.Pattern[str]:
    """BMP characters that need the full pattern: combining marks and single-token scripts."""
    single, mark = _classes(astral=False)
    return re.compile(f"[{single}{mark}]")


# Letters and digits only: equivalent to the full pattern on text without special characters,
# and 3x faster because it has no alternation to try at every position.
_PLAIN = re.compile(r"([^\W_]+)")
_ASTRAL = re.compile("[\U00010000-\U0010FFFF]")


def _split_tokens(text: str) -> tuple[list[str], np.ndarray]:
    """Tokens and their start/end offsets via one C-level ``re.split``.

    ``split`` with a capturing group alternates gap, token, gap, ... so the cumulative piece
    lengths are the offsets; this avoids a Match object per token.
    """
    if _ASTRAL.search(text) is not None:
        pattern = _token_pattern(astral=True)
    elif _special_chars().search(text) is not None:
        pattern = _token_pattern(astral=False)
    else:
        pattern = _PLAIN
    parts = pattern.split(text)
    bounds = np.zeros(len(parts) + 1, dtype=np.int64)
    np.cumsum(np.fromiter(map(len, parts), dtype=np.int64, count=len(parts)), out=bounds[1:])
    return parts[1::2], bounds


def token_spans(text: str) -> tuple[np.ndarray, np.ndarray]:
    """Start and end offsets (int64, sorted, disjoint) of the tokens of ``text``."""
    _, bounds = _split_tokens(text)
    return bounds[1:-1:2].copy(), bounds[2:-1:2].copy()


def _normalise(text: str) -> str:
    return unicodedata.normalize("NFKC", text).casefold()


def token_hash(token: str) -> int:
    """64-bit hash of one token after NFKC normalisation and case folding."""
    return xxhash.xxh3_64_intdigest(_normalise(token).encode())


def tokenize_offsets(text: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return ``(starts, ends, hashes)`` of the tokens of ``text``.

    ``starts``/``ends`` are int64 str indices into ``text``; ``hashes`` is uint64. Each distinct
    token is hashed once (pages repeat their vocabulary heavily); all of them are normalised in
    one call on a NUL-joined string, which is exact because NFKC never composes across a NUL
    and case folding is per character; the per-token lookup runs inside ``np.fromiter``.
    """
    words, bounds = _split_tokens(text)
    lookup = dict.fromkeys(words)
    normalised = _normalise("\x00".join(lookup)).split("\x00") if lookup else []
    for word, norm in zip(list(lookup), normalised):
        lookup[word] = xxhash.xxh3_64_intdigest(norm.encode())
    hashes = np.fromiter(map(lookup.__getitem__, words), dtype=np.uint64, count=len(words))
    return bounds[1:-1:2].copy(), bounds[2:-1:2].copy(), hashes


def window_hashes(hashes: np.ndarray, k: int) -> np.ndarray:
    """Hash of every window of ``k`` consecutive tokens: ``sum(h[i+j] * B**(k-1-j)) mod 2**64``.

    Horner's rule over ``k`` shifted views costs ``O(n * k)`` vector operations with no Python
    loop over tokens; uint64 arithmetic wraps, which is exactly the reduction mod 2**64. With
    random 64-bit token hashes two different windows collide with probability about 2**-64.
    """
    if k < 1:
        raise ValueError(f"window length must be at least 1 token, got {k}")
    count = len(hashes) - k + 1
    if count <= 0:
        return np.empty(0, dtype=np.uint64)
    out = np.array(hashes[:count], dtype=np.uint64)
    for j in range(1, k):
        out *= _WINDOW_BASE
        out += hashes[j : j + count]
    return out
