"""Union of character intervals, so that each removed region is cut once.

Spans from different detectors (repeats inside a page, boilerplate shared across pages)
overlap and abut; cutting them one by one would cut the same characters twice and tidy the
whitespace at cut points that disappear. ``merge_spans`` turns any set of half-open
``[start, end)`` intervals into the sorted, disjoint union.

Adjacency: intervals that overlap or touch (``next.start <= end``) always merge. Given the
text, intervals separated only by characters that are not token characters (whitespace,
punctuation, symbols; see ``tokens.py``) merge as well: removing two neighbouring flagged
passages should not leave an orphaned ", " or " - " between them, and a gap without a word
carries no content of its own. Empty intervals (``start == end``) cover nothing and are dropped.
"""

from __future__ import annotations

import numpy as np

from dedupe.spans.tokens import token_spans


def _as_intervals(
    starts: np.ndarray | list[int], ends: np.ndarray | list[int], text: str | None
) -> tuple[np.ndarray, np.ndarray]:
    s = np.asarray(starts, dtype=np.int64).reshape(-1)
    e = np.asarray(ends, dtype=np.int64).reshape(-1)
    if s.shape != e.shape:
        raise ValueError(f"starts and ends differ in length: {len(s)} != {len(e)}")
    bad = np.flatnonzero((s < 0) | (e < s))
    if len(bad):
        i = int(bad[0])
        raise ValueError(f"interval {i} is [{s[i]}, {e[i]}): need 0 <= start <= end")
    if text is not None and len(e) and e.max() > len(text):
        raise ValueError(f"interval end {int(e.max())} lies past the text ({len(text)} chars)")
    return s, e


def merge_spans(
    starts: np.ndarray | list[int],
    ends: np.ndarray | list[int],
    text: str | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Return the union of ``[starts[i], ends[i])`` as sorted, disjoint int64 arrays.

    Without ``text`` the result never has two intervals that touch; with ``text`` every gap
    between two result intervals contains at least one token character.
    """
    s, e = _as_intervals(starts, ends, text)
    keep = e > s
    s, e = s[keep], e[keep]
    order = np.lexsort((e, s))
    s, e = s[order], e[order]
    if len(s) == 0:
        return s, e
    reach = np.maximum.accumulate(e)
    new = np.ones(len(s), dtype=bool)
    new[1:] = s[1:] > reach[:-1]
    if text is not None:
        new[1:] &= _has_word(text, reach[:-1], s[1:])
    heads = np.flatnonzero(new)
    return s[heads], np.maximum.reduceat(e, heads)


def _has_word(text: str, gap_starts: np.ndarray, gap_ends: np.ndarray) -> np.ndarray:
    """Whether each gap ``[gap_starts[i], gap_ends[i])`` overlaps a token of ``text``.

    The first token ending after the gap's start is the only candidate: tokens are sorted and
    disjoint, so it is the leftmost token that can reach into the gap.
    """
    tok_starts, tok_ends = token_spans(text)
    if len(tok_starts) == 0:
        return np.zeros(len(gap_starts), dtype=bool)
    idx = np.searchsorted(tok_ends, gap_starts, side="right")
    inside = idx < len(tok_starts)
    return inside & (tok_starts[np.minimum(idx, len(tok_starts) - 1)] < gap_ends)
