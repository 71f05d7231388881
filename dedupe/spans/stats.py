"""Gopher (MassiveText) repetition statistics of one document, and the published filter.

Rae et al. 2021, "Scaling Language Models: Methods, Analysis & Insights from Training Gopher",
Appendix A.1.1 and Table A1, drop documents whose lines, paragraphs or word n-grams repeat too
much. The paper names the statistics without pinning them down, and implementations disagree;
this module fixes one definition of each:

* **Lines** are the pieces between ``\\n``; **paragraphs** the pieces between blank lines (a line
  holding only whitespace is blank). Each is compared after stripping the whitespace around it,
  so indentation or a trailing ``\\r`` cannot hide a repeat; empty ones are ignored.
* **A duplicate is a later copy**: the first occurrence of a line, paragraph or n-gram is not a
  duplicate, its later identical occurrences are. This measures what keeping only the first
  copy would remove, the same rule ``find_repeats`` uses, and matches datatrove's
  ``find_duplicates``; counting the first copy too would rate a page that repeats one
  paragraph once as 100% duplicated.
* ``dup_line_frac`` / ``dup_para_frac``: duplicates over all non-empty lines / paragraphs.
* ``dup_line_char_frac`` / ``dup_para_char_frac``: characters of duplicates over characters of
  all non-empty lines / paragraphs, both after stripping, so blank lines and indentation move
  neither the numerator nor the denominator. Inner spaces count (a line is a string).
* **n-grams** are runs of ``n`` consecutive tokens from ``tokens.py`` (normalised words;
  punctuation ignored). Their characters are **token characters**: the denominator is the
  length of all tokens, spaces and punctuation excluded, so formatting cannot dilute a repeat.
* ``top_{n}gram_char_frac`` (n = 2, 3, 4): characters of the tokens covered by the occurrences
  of the most frequent n-gram, all occurrences including the first (the statistic is about one
  n-gram dominating the text). Overlapping occurrences count each token once, so the value
  never exceeds 1 ("ha ha ha ha" gives 1.0, not 1.5). 0 when no n-gram occurs twice. Ties go
  to the n-gram whose occurrence has the most characters, then to the earliest one.
* ``dup_{n}gram_char_frac`` (n = 5..10): characters of the tokens covered by n-gram occurrences
  that have an earlier occurrence (which may overlap them: periodic text is repetition too),
  each token counted once however many such n-grams cover it.

All values are 0.0 for a text with nothing to count.
"""

from __future__ import annotations

import re

import numpy as np

from dedupe.spans.tokens import cover_mask, tokenize_offsets, window_hashes

TOP_NGRAM_SIZES = (2, 3, 4)
DUP_NGRAM_SIZES = (5, 6, 7, 8, 9, 10)

# Table A1 of Rae et al. 2021: a document fails when a statistic is above its limit.
GOPHER_REPETITION_LIMITS: dict[str, float] = {
    "dup_line_frac": 0.30,
    "dup_para_frac": 0.30,
    "dup_line_char_frac": 0.20,
    "dup_para_char_frac": 0.20,
    "top_2gram_char_frac": 0.20,
    "top_3gram_char_frac": 0.18,
    "top_4gram_char_frac": 0.16,
    "dup_5gram_char_frac": 0.15,
    "dup_6gram_char_frac": 0.14,
    "dup_7gram_char_frac": 0.13,
    "dup_8gram_char_frac": 0.12,
    "dup_9gram_char_frac": 0.11,
    "dup_10gram_char_frac": 0.10,
}

_BLANK_LINE = re.compile(r"\n[^\S\n]*\n\s*")


def repetition_stats(
    text: str, tokens: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
) -> dict[str, float]:
    """All Gopher repetition statistics of ``text``, keyed as in ``GOPHER_REPETITION_LIMITS``.

    ``tokens`` takes a precomputed ``tokenize_offsets(text)``.
    """
    starts, ends, hashes = tokenize_offsets(text) if tokens is None else tokens
    stats: dict[str, float] = {}
    stats["dup_line_frac"], stats["dup_line_char_frac"] = _dup_pieces(text.split("\n"))
    stats["dup_para_frac"], stats["dup_para_char_frac"] = _dup_pieces(_BLANK_LINE.split(text))
    lengths = (ends - starts).astype(np.int64)
    total = float(lengths.sum())
    for n in TOP_NGRAM_SIZES:
        top = _top_ngram(hashes, lengths, n)
        stats[f"top_{n}gram_char_frac"] = _covered_chars(top, n, lengths, total)
    for n in DUP_NGRAM_SIZES:
        later = _later_ngrams(hashes, n)
        stats[f"dup_{n}gram_char_frac"] = _covered_chars(later, n, lengths, total)
    return {name: stats[name] for name in GOPHER_REPETITION_LIMITS}


def passes_gopher_repetition(stats: dict[str, float]) -> tuple[bool, str]:
    """``(True, "")`` when every statistic is within its limit, else ``(False, why)``.

    The reason names the first statistic, in Table A1 order, that is above its limit.
    """
    first = int(gopher_failures({k: np.array([v], float) for k, v in stats.items()})[0])
    if first < 0:
        return True, ""
    name = _NAMES[first]
    return False, gopher_reason(name, stats[name])


_NAMES = tuple(GOPHER_REPETITION_LIMITS)


def gopher_failures(stats: dict[str, np.ndarray]) -> np.ndarray:
    """For arrays of statistics (one value a document, as the manifest's ``stat_*`` columns
    hold them): the position in ``GOPHER_REPETITION_LIMITS`` of each document's first statistic
    above its limit, -1 where none is. NaN (a document without statistics) is never above."""
    missing = [name for name in GOPHER_REPETITION_LIMITS if name not in stats]
    if missing:
        raise ValueError(f"stats lack {missing}; compute them with repetition_stats(text)")
    above = np.stack([np.asarray(stats[name], float) > limit
                      for name, limit in GOPHER_REPETITION_LIMITS.items()], axis=1)
    return np.where(above.any(axis=1), above.argmax(axis=1), -1)


def gopher_reason(name: str, value: float) -> str:
    """Why a document fails: ``dup_line_frac = 0.400 > 0.3``."""
    return f"{name} = {value:.3f} > {GOPHER_REPETITION_LIMITS[name]}"


def _dup_pieces(pieces: list[str]) -> tuple[float, float]:
    """(share of later copies, share of their characters) among the non-empty stripped pieces."""
    seen: set[str] = set()
    count = dup_count = chars = dup_chars = 0
    for piece in pieces:
        piece = piece.strip()
        if not piece:
            continue
        count += 1
        chars += len(piece)
        if piece in seen:
            dup_count += 1
            dup_chars += len(piece)
        else:
            seen.add(piece)
    if count == 0:
        return 0.0, 0.0
    return dup_count / count, dup_chars / chars


def _top_ngram(hashes: np.ndarray, lengths: np.ndarray, n: int) -> np.ndarray:
    """Start indices of all occurrences of the most frequent n-gram (empty if none repeats)."""
    windows = window_hashes(hashes, n)
    if len(windows) == 0:
        return np.empty(0, dtype=np.int64)
    _, first, inverse, counts = np.unique(
        windows, return_index=True, return_inverse=True, return_counts=True
    )
    if counts.max() < 2:
        return np.empty(0, dtype=np.int64)
    cum = np.concatenate(([0], np.cumsum(lengths)))
    best = np.flatnonzero(counts == counts.max())
    width = cum[first[best] + n] - cum[first[best]]
    pick = best[np.lexsort((first[best], -width))[0]]
    return np.flatnonzero(inverse == pick)


def _later_ngrams(hashes: np.ndarray, n: int) -> np.ndarray:
    """Start indices of n-gram occurrences that have an earlier occurrence."""
    windows = window_hashes(hashes, n)
    if len(windows) == 0:
        return np.empty(0, dtype=np.int64)
    _, first, inverse = np.unique(windows, return_index=True, return_inverse=True)
    return np.flatnonzero(first[inverse] < np.arange(len(windows)))


def _covered_chars(window_starts: np.ndarray, n: int, lengths: np.ndarray, total: float) -> float:
    """Token characters covered by the n-token windows starting at ``window_starts``, over total."""
    if len(window_starts) == 0 or total == 0:
        return 0.0
    covered = cover_mask(window_starts, window_starts + n, len(lengths))
    return float(lengths[covered].sum()) / total
