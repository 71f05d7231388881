"""Reference Gopher repetition statistics of one document: ``repetition_stats`` the slow way.

The definitions are those of ``dedupe/spans/stats.py``. Here one document is handled at a time
with Python strings: lines by ``str.split``, paragraphs by a regular expression, duplicates by
a set of stripped pieces, n-grams by ``np.unique`` over window hashes.
"""

from __future__ import annotations

import re

import numpy as np

from dedupe.spans.stats import DUP_NGRAM_SIZES, GOPHER_REPETITION_LIMITS, TOP_NGRAM_SIZES
from dedupe.spans.windows import window_hashes
from tests.oracles.spans_tokens import cover_mask, tokenize_offsets

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
