"""Normalisation: the canonical form that exact digests and shingles are computed on.

Steps, each switchable in :class:`dedupe.config.NormalizeConfig`:

1. Unicode NFKC (full-width letters, ligatures, no-break spaces, ellipses, mathematical letters),
2. lower-casing,
3. punctuation folding: curly and angled quotes to ``'`` / ``"``, every dash (category Pd, minus
   sign) to ``-``, zero-width characters and soft hyphens removed,
4. whitespace folding: every run of Unicode whitespace or control characters becomes one space;
   leading and trailing whitespace is dropped.

Steps 1-3 are fused into one per-character table ``c -> fold(NFKC(lower(NFKC(c))))`` over Unicode
planes 0-2, applied to the flat code-point array of a whole batch with one gather; the rare
characters that map to several (or zero) characters go through a ragged expansion. Per-character
NFKC equals whole-string NFKC unless characters compose with their neighbours, so a document that
contains a combining mark or Hangul jamo first goes through Python's ``unicodedata.normalize``
(rare on web text; Python's NFKC runs at about 25 MB/s here, the table many times faster).
Lower-casing is per character: a Greek final sigma becomes ``σ`` wherever it stands, which is
consistent, and consistency is what a digest needs.
"""

from __future__ import annotations

import functools
import unicodedata

import numpy as np
import pyarrow as pa

from dedupe.text.codepoints import decode_utf8

__all__ = ["canonical_codepoints", "canonical_text", "char_table"]

_TABLE_SIZE = 0x30000
_SPECIAL = np.uint32(0xFFFFFF00)  # table values at or above this are markers, not characters
_EXPAND = np.uint32(0xFFFFFFFE)  # maps to zero or several characters
_UNSAFE = np.uint32(0xFFFFFFFD)  # may compose with a neighbour: whole-document NFKC needed
_SPACE = np.uint32(0x20)
_SINGLE_QUOTES = "\u2018\u2019\u201a\u201b\u2032\u2035\u02bc\u0060\u00b4\uff07"
_DOUBLE_QUOTES = "\u201c\u201d\u201e\u201f\u2033\u2036\u00ab\u00bb\uff02"
_ZERO_WIDTH = "\u200b\u200c\u200d\u2060\ufeff\u00ad"


def _is_unsafe(ch: str, mapped: str) -> bool:
    """True if per-character NFKC may differ from whole-string NFKC around ``ch``."""
    cp = ord(ch)
    if unicodedata.combining(ch) or unicodedata.category(ch)[0] == "M":
        return True
    if 0x1100 <= cp <= 0x11FF or 0x3130 <= cp <= 0x318F or 0xA960 <= cp <= 0xA97F:
        return True  # Hangul jamo compose into syllables
    if 0xAC00 <= cp <= 0xD7FF:
        return True
    return any(unicodedata.combining(m) for m in mapped)


def _fold_char(ch: str, punctuation: bool, whitespace: bool) -> str:
    if punctuation:
        if ch in _SINGLE_QUOTES:
            return "'"
        if ch in _DOUBLE_QUOTES:
            return '"'
        if ch in _ZERO_WIDTH:
            return ""
        if ch == "\u2212" or unicodedata.category(ch) == "Pd":
            return "-"
    if whitespace and (ch.isspace() or unicodedata.category(ch) == "Cc"):
        return " "
    return ch


@functools.lru_cache(maxsize=8)
def char_table(nfkc: bool, lowercase: bool, punctuation: bool, whitespace: bool):
    """``(single, expand_start, expand_len, expand_data)`` for the per-character map.

    ``single[c]`` is the one character ``c`` maps to, or ``_EXPAND`` / ``_UNSAFE``; expansions are
    ``expand_data[expand_start[c] : expand_start[c] + expand_len[c]]``.
    """
    single = np.arange(_TABLE_SIZE, dtype=np.uint32)
    exp_start = np.zeros(_TABLE_SIZE, np.int64)
    exp_len = np.ones(_TABLE_SIZE, np.int64)
    data: list[int] = []
    for cp in range(_TABLE_SIZE):
        if 0xD800 <= cp < 0xE000:
            continue
        ch = chr(cp)
        mapped = unicodedata.normalize("NFKC", ch) if nfkc else ch
        if lowercase:
            mapped = mapped.lower()
            if nfkc:
                mapped = unicodedata.normalize("NFKC", mapped)
        if nfkc and _is_unsafe(ch, mapped):
            single[cp] = _UNSAFE
            continue
        mapped = "".join(_fold_char(m, punctuation, whitespace) for m in mapped)
        if len(mapped) == 1:
            single[cp] = ord(mapped)
        else:
            single[cp] = _EXPAND
            exp_start[cp] = len(data)
            exp_len[cp] = len(mapped)
            data.extend(ord(m) for m in mapped)
    return single, exp_start, exp_len, np.array(data, dtype=np.uint32)


def _compact(values: np.ndarray, offsets: np.ndarray, keep: np.ndarray):
    """Drop values where ``keep`` is False and shift the document offsets to match."""
    kept_before = np.zeros(len(keep) + 1, np.int64)
    np.cumsum(keep, out=kept_before[1:])
    return values[keep], kept_before[offsets]


def _expand(cps, mapped, offsets, table):
    """Replace the ``_EXPAND`` positions of ``mapped`` by their zero or more characters."""
    _, exp_start, exp_len, data = table
    where = np.flatnonzero(mapped == _EXPAND)
    lens = np.ones(len(mapped), np.int64)
    lens[where] = exp_len[cps[where]]
    out_start = np.zeros(len(mapped) + 1, np.int64)
    np.cumsum(lens, out=out_start[1:])
    out = np.repeat(mapped, lens)
    sub_lens = lens[where]
    sub_pos = np.repeat(out_start[where], sub_lens)
    within = np.arange(len(sub_pos)) - np.repeat(np.cumsum(sub_lens) - sub_lens, sub_lens)
    out[sub_pos + within] = data[np.repeat(exp_start[cps[where]], sub_lens) + within]
    return out, out_start[offsets]


def _collapse_spaces(cps: np.ndarray, offsets: np.ndarray):
    """One space per whitespace run, none at either end of a document."""
    space = cps == _SPACE
    if not space.any():
        return cps, offsets
    prev = np.ones(len(cps), bool)
    prev[1:] = space[:-1]
    prev[offsets[:-1][offsets[:-1] < len(cps)]] = True  # a document start acts like a space
    cps, offsets = _compact(cps, offsets, ~(space & prev))
    ends = offsets[1:][offsets[1:] > offsets[:-1]]
    trailing = ends[cps[ends - 1] == _SPACE] - 1
    if len(trailing) == 0:
        return cps, offsets
    keep = np.ones(len(cps), bool)
    keep[trailing] = False
    return _compact(cps, offsets, keep)


def _python_nfkc(arr: pa.Array, docs: np.ndarray) -> pa.Array:
    values = arr.to_pylist()
    for i in docs.tolist():
        values[i] = unicodedata.normalize("NFKC", values[i])
    return pa.array(values, pa.string())


def canonical_codepoints(arr: pa.Array, cfg) -> tuple[np.ndarray, np.ndarray]:
    """Whole-batch canonical form as ``(code_points, offsets)`` for a NormalizeConfig."""
    if arr.null_count:
        arr = arr.fill_null("")
    cps, offsets = decode_utf8(arr)
    if not (cfg.nfkc or cfg.lowercase or cfg.fold_punctuation or cfg.fold_whitespace):
        return cps, offsets
    table = char_table(cfg.nfkc, cfg.lowercase, cfg.fold_punctuation, cfg.fold_whitespace)
    single = table[0]
    mapped = single[np.minimum(cps, _TABLE_SIZE - 1)]
    beyond = cps >= _TABLE_SIZE
    if beyond.any():
        mapped[beyond] = cps[beyond]
    special = mapped >= _SPECIAL
    if special.any():
        unsafe = np.flatnonzero(mapped == _UNSAFE)
        if len(unsafe):
            docs = np.unique(np.searchsorted(offsets, unsafe, "right") - 1)
            cps, offsets = decode_utf8(_python_nfkc(arr, docs))
            mapped = single[np.minimum(cps, _TABLE_SIZE - 1)]
            mapped[cps >= _TABLE_SIZE] = cps[cps >= _TABLE_SIZE]
            # after NFKC a combining mark that stays is kept as it is
            mapped[mapped == _UNSAFE] = cps[mapped == _UNSAFE]
        if (mapped == _EXPAND).any():
            mapped, offsets = _expand(cps, mapped, offsets, table)
    if cfg.fold_whitespace:
        mapped, offsets = _collapse_spaces(mapped, offsets)
    return mapped, offsets


def canonical_text(text: str, cfg) -> str:
    """The canonical form of one string, exactly as the batch path computes it."""
    cps, offsets = canonical_codepoints(pa.array([text], pa.string()), cfg)
    return cps[offsets[0] : offsets[1]].astype("<u4").tobytes().decode("utf-32-le")
