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
contains a combining mark or Hangul jamo first goes through whole-document NFKC (rare on web
text; that NFKC runs at about 25 MB/s here, the table many times faster). Lower-casing is per
character: a Greek final sigma becomes the ordinary small sigma (U+03C3) wherever it stands,
which is consistent, and consistency is what a digest needs.

Every Unicode property here (NFKC, case, categories, combining classes, whitespace) comes from
:mod:`dedupe.text.ucd`, one pinned Unicode version, never from the running Python's
``unicodedata`` or ``str`` methods: the canonical text of a page is then the same under every
Python. Whitespace is general category Zs, Zl or Zp, and control characters (Cc) fold with it.
``CANONICAL_SCHEME`` names these rules; bump it when a change here alters any canonical text.
"""

from __future__ import annotations

import functools
import itertools

import numpy as np
import pyarrow as pa

from dedupe.text import ucd
from dedupe.text.codepoints import byte_offsets, decode_utf8, document_groups

__all__ = ["CANONICAL_SCHEME", "canonical_codepoints", "canonical_text", "char_table",
           "safe_cuts"]

# v1: the running Python's unicodedata and str.lower; v2: pinned Unicode data (dedupe.text.ucd)
CANONICAL_SCHEME = "dedupe-canonical-v2"

_TABLE_SIZE = 0x30000
_SPECIAL = np.uint32(0xFFFFFF00)  # table values at or above this are markers, not characters
_EXPAND = np.uint32(0xFFFFFFFE)  # maps to zero or several characters
_UNSAFE = np.uint32(0xFFFFFFFD)  # may compose with a neighbour: whole-document NFKC needed
_SPACE = np.uint32(0x20)
_SINGLE_QUOTES = "\u2018\u2019\u201a\u201b\u2032\u2035\u02bc\u0060\u00b4\uff07"
_DOUBLE_QUOTES = "\u201c\u201d\u201e\u201f\u2033\u2036\u00ab\u00bb\uff02"
_ZERO_WIDTH = "\u200b\u200c\u200d\u2060\ufeff\u00ad"
_WHITESPACE = ("Zs", "Zl", "Zp", "Cc")  # categories that fold to one space
_GROUP = 1 << 17  # UTF-8 bytes per group of documents decoded and normalised together
_LOOP_EXPANSIONS = 256  # up to this many expansions a group is spliced slice by slice


def _is_hangul(cp: int) -> bool:
    """Hangul jamo and syllables: they compose with their neighbours into syllables."""
    return (0x1100 <= cp <= 0x11FF or 0x3130 <= cp <= 0x318F or 0xA960 <= cp <= 0xA97F
            or 0xAC00 <= cp <= 0xD7FF)


def _is_unsafe(ch: str, mapped: str) -> bool:
    """True if per-character NFKC may differ from whole-string NFKC around ``ch``."""
    if ucd.combining(ch) or ucd.category(ch)[0] == "M" or _is_hangul(ord(ch)):
        return True
    return any(ucd.combining(m) for m in mapped)


_FOLDED = frozenset(_SINGLE_QUOTES + _DOUBLE_QUOTES + _ZERO_WIDTH + "\u2212")
_ACTIVE_CATEGORIES = frozenset(("Pd", *_WHITESPACE))


def _is_plain(ch: str, to_lower: dict) -> bool:
    """True when every step maps ``ch`` to itself, whatever the config.

    That holds for a character without a decomposition (so NFKC leaves it alone), a lower-case
    mapping or a combining class, that is no mark, dash, whitespace, control, folded quote or
    zero-width character and no Hangul. Most of planes 0-2 (ideographs, unassigned code points)
    is plain, and two cheap lookups settle it instead of the full chain below.
    """
    cat = ucd.category(ch)
    return not (
        cat[0] == "M"
        or cat in _ACTIVE_CATEGORIES
        or ch in _FOLDED
        or ord(ch) in to_lower
        or ucd.decomposition(ch)
        or ucd.combining(ch)
        or _is_hangul(ord(ch))
    )


def _fold_char(ch: str, punctuation: bool, whitespace: bool) -> str:
    if punctuation:
        if ch in _SINGLE_QUOTES:
            return "'"
        if ch in _DOUBLE_QUOTES:
            return '"'
        if ch in _ZERO_WIDTH:
            return ""
        if ch == "\u2212" or ucd.category(ch) == "Pd":
            return "-"
    if whitespace and ucd.category(ch) in _WHITESPACE:
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
    to_lower = ucd.case_table().lower
    for cp in range(_TABLE_SIZE):
        if 0xD800 <= cp < 0xE000:
            continue
        ch = chr(cp)
        if _is_plain(ch, to_lower):
            continue
        mapped = ucd.nfkc(ch) if nfkc else ch
        if lowercase:
            mapped = mapped.translate(to_lower)
            if nfkc:
                mapped = ucd.nfkc(mapped)
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


def _map_chars(cps: np.ndarray, single: np.ndarray) -> np.ndarray:
    """``single[c]`` for every code point, code points past the table mapping to themselves.

    ``take`` with clipped indices is the gather ``single[min(c, size - 1)]`` in one pass (and
    faster than fancy indexing); web text almost never leaves the table (planes 0-2), so one
    ``max`` decides whether the code points beyond it need fixing up at all.
    """
    mapped = np.take(single, cps, mode="clip")
    if len(cps) and int(cps.max()) >= _TABLE_SIZE:
        beyond = np.flatnonzero(cps >= _TABLE_SIZE)
        mapped[beyond] = cps[beyond]
    return mapped


def _delete(values: np.ndarray, offsets: np.ndarray, drops: np.ndarray, keep=None):
    """Drop the sorted positions ``drops`` and shift the document offsets to match.

    An offset moves left by the number of dropped positions before it, which a binary search
    in the (sparse) dropped positions counts -- no prefix sum over every element. ``keep``, when
    given, is the complementary mask already built by the caller.
    """
    if keep is None:
        keep = np.ones(len(values), bool)
        keep[drops] = False
    return values[keep], offsets - np.searchsorted(drops, offsets)


def _splice(
    values: np.ndarray,
    offsets: np.ndarray,
    docs: np.ndarray,
    new: np.ndarray,
    new_offsets: np.ndarray,
) -> np.ndarray:
    """``values`` with document ``docs[i]`` replaced by document ``i`` of ``new``."""
    bounds = offsets.tolist()
    inner = new_offsets.tolist()
    pieces, done = [], 0
    for i, d in enumerate(docs.tolist()):
        pieces.append(values[done : bounds[d]])
        pieces.append(new[inner[i] : inner[i + 1]])
        done = bounds[d + 1]
    pieces.append(values[done:])
    return np.concatenate(pieces)


def _expand(cps, mapped, offsets, where, table):
    """Replace the ``_EXPAND`` positions ``where`` of ``mapped`` by their zero or more characters.

    With ``g_i = len_i - 1`` the growth of expansion ``i``, everything after it moves right by
    the running sum of the ``g`` before it; offsets move by that sum taken at the number of
    expansions before them (a binary search), so only the sparse expansions are counted.
    """
    _, exp_start, exp_len, data = table
    src = cps[where]
    lens = exp_len[src]
    first = exp_start[src]
    grow_after = np.cumsum(lens - 1)
    grow_before = np.zeros(len(where) + 1, np.int64)
    grow_before[1:] = grow_after
    new_offsets = offsets + grow_before[np.searchsorted(where, offsets)]
    if len(where) <= _LOOP_EXPANSIONS:
        cut = where.tolist()
        head = first.tolist()
        tail = (first + lens).tolist()
        pieces, done = [], 0
        for i, w in enumerate(cut):
            pieces.append(mapped[done:w])
            pieces.append(data[head[i] : tail[i]])
            done = w + 1
        pieces.append(mapped[done:])
        return np.concatenate(pieces).astype(np.uint32, copy=False), new_offsets
    out = np.empty(len(mapped) + int(grow_after[-1]), np.uint32)
    total = int(lens.sum())
    within = np.arange(total) - np.repeat(np.cumsum(lens) - lens, lens)
    placed = np.repeat(where + grow_before[:-1], lens) + within
    old = np.ones(len(out), bool)
    old[placed] = False
    keep = np.ones(len(mapped), bool)
    keep[where] = False
    out[old] = mapped[keep]
    out[placed] = data[np.repeat(first, lens) + within]
    return out, new_offsets


def _collapse_spaces(cps: np.ndarray, offsets: np.ndarray):
    """One space per whitespace run, none at either end of a document.

    A space is dropped when it follows a space or starts its document; of a document's trailing
    run that leaves the first space, found from the dropped positions ``D`` alone: a run of
    consecutive dropped positions is where ``D[i] - i`` is constant, so the run that ends at the
    document's last position starts at the first index with that key (a binary search), and the
    kept space sits just before it. Everything is then deleted in one pass.
    """
    n = len(cps)
    if n == 0:
        return cps, offsets
    space = cps == _SPACE
    drop = np.empty(n, bool)
    drop[0] = space[0]
    np.logical_and(space[1:], space[:-1], out=drop[1:])
    starts = offsets[:-1]
    starts = starts[starts < n]
    drop[starts] = space[starts]
    dropped = np.flatnonzero(drop)
    begin, end = offsets[:-1], offsets[1:]
    filled = np.flatnonzero(end > begin)
    filled = filled[space[end[filled] - 1]]
    if len(filled):
        last = end[filled] - 1
        kept = last.copy()
        if len(dropped):
            at = np.searchsorted(dropped, last)
            hit = dropped[np.minimum(at, len(dropped) - 1)] == last
            if hit.any():
                key = dropped - np.arange(len(dropped))
                run = np.searchsorted(key, key[at[hit]], "left")
                kept[hit] = dropped[run] - 1
        kept = kept[kept >= begin[filled]]
        if len(kept):
            dropped = np.sort(np.concatenate([dropped, kept]))
            drop[kept] = True
    if len(dropped) == 0:
        return cps, offsets
    return _delete(cps, offsets, dropped, np.logical_not(drop, out=drop))


def _renormalize(arr: pa.Array, docs: np.ndarray, cps, mapped, offsets, single):
    """Whole-document NFKC (:func:`dedupe.text.ucd.nfkc`) for ``docs``, spliced into the arrays.

    Decoding is per document, so decoding only the rewritten documents and splicing them in
    equals decoding the whole rewritten group. After NFKC a combining mark that stays is kept
    as it is.
    """
    values = arr.take(pa.array(docs)).to_pylist()
    fixed = pa.array([ucd.nfkc(v) for v in values], pa.string())
    new_cps, new_offsets = decode_utf8(fixed)
    new_mapped = _map_chars(new_cps, single)
    unsafe = np.flatnonzero(new_mapped == _UNSAFE)
    new_mapped[unsafe] = new_cps[unsafe]
    cps = _splice(cps, offsets, docs, new_cps, new_offsets)
    mapped = _splice(mapped, offsets, docs, new_mapped, new_offsets)
    lengths = np.diff(offsets)
    lengths[docs] = np.diff(new_offsets)
    offsets = np.zeros(len(offsets), np.int64)
    np.cumsum(lengths, out=offsets[1:])
    return cps, mapped, offsets


def canonical_codepoints(arr: pa.Array, cfg) -> tuple[np.ndarray, np.ndarray]:
    """Whole-batch canonical form as ``(code_points, offsets)`` for a NormalizeConfig.

    Every step, decoding included, is per document, so the batch is cut into groups of whole
    documents of about ``_GROUP`` UTF-8 bytes and each group is decoded and normalised on its
    own: its arrays stay in cache and are about the same size from group to group (so memory
    is reused instead of faulted in afresh). The groups' results are concatenated, which
    equals running every step on the whole batch.
    """
    if arr.null_count:
        arr = arr.fill_null("")
    if not (cfg.nfkc or cfg.lowercase or cfg.fold_punctuation or cfg.fold_whitespace):
        return decode_utf8(arr)
    table = char_table(cfg.nfkc, cfg.lowercase, cfg.fold_punctuation, cfg.fold_whitespace)
    cuts = document_groups(byte_offsets(arr), _GROUP)
    if len(cuts) <= 2:
        return _canonical_group(arr, table, cfg.fold_whitespace)
    parts, new_offsets, base = [], np.zeros(len(arr) + 1, np.int64), 0
    for g0, g1 in itertools.pairwise(cuts.tolist()):
        part, part_offsets = _canonical_group(arr.slice(g0, g1 - g0), table, cfg.fold_whitespace)
        parts.append(part)
        new_offsets[g0 + 1 : g1 + 1] = part_offsets[1:] + base
        base += len(part)
    return np.concatenate(parts), new_offsets


def _canonical_group(arr: pa.Array, table, fold_whitespace: bool):
    """Decode, table map, whole-document NFKC where needed, expansions, whitespace folding."""
    cps, offsets = decode_utf8(arr)
    single = table[0]
    mapped = _map_chars(cps, single)
    if len(mapped) and int(mapped.max()) >= _SPECIAL:
        special = np.flatnonzero(mapped >= _SPECIAL)
        unsafe = special[mapped[special] == _UNSAFE]
        if len(unsafe):
            docs = np.unique(np.searchsorted(offsets, unsafe, "right") - 1)
            cps, mapped, offsets = _renormalize(arr, docs, cps, mapped, offsets, single)
            special = np.flatnonzero(mapped == _EXPAND)
        where = special[mapped[special] == _EXPAND]
        if len(where):
            mapped, offsets = _expand(cps, mapped, offsets, where, table)
    if fold_whitespace:
        mapped, offsets = _collapse_spaces(mapped, offsets)
    return mapped, offsets


def canonical_text(text: str, cfg) -> str:
    """The canonical form of one string, exactly as the batch path computes it."""
    cps, offsets = canonical_codepoints(pa.array([text], pa.string()), cfg)
    return cps[offsets[0] : offsets[1]].astype("<u4").tobytes().decode("utf-32-le")


def safe_cuts(cps: np.ndarray, cfg) -> np.ndarray:
    """Where a text may be cut so that its pieces normalise on their own: ``True`` before a
    character that never composes with the character before it (not a combining mark, not a
    Hangul jamo or syllable, nothing that maps to one).

    Every step is per character except NFKC composition, which only joins a character with
    marks or jamo that follow it; cutting before a character the table does not mark as
    composing therefore leaves the canonical form of each piece equal to its part of the
    whole (whitespace runs at the seams aside, which the caller joins).
    """
    if not cfg.nfkc:
        return np.ones(len(cps), bool)
    single = char_table(cfg.nfkc, cfg.lowercase, cfg.fold_punctuation, cfg.fold_whitespace)[0]
    return _map_chars(cps, single) != _UNSAFE
