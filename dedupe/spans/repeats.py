"""Repeated spans inside one document: keep the first copy, flag the later ones.

Scraped pages paste the same text again within the page (a title list twice in a tag and
once in the footer, abstract fragments re-pasted and cut short), usually inside long lines, so
line-level deduplication cannot see it. ``find_repeats`` reports every later copy as character
offsets into the original string, with the offset of the kept earlier copy.

Exact copies: every window of ``min_tokens`` tokens whose hash occurred at an earlier position
is flagged, provided the earliest occurrence *ends before the window starts*
(``first + min_tokens <= later``). The rule keeps the first copy whole even in self-overlapping
periodic text: in "a b a b a b a b" with 4-token windows only the last "a b a b" is flagged,
never a window that shares tokens with the one it repeats. Flagged windows that overlap or
touch (next window starts at most one token after the previous one ends) merge into one
maximal span, from the first token of its first window to the last token of its last window.
Every token of a span therefore lies in a ``min_tokens`` window that also occurs earlier; text
that occurs once is never flagged.

Near copies (``near=True``): see ``chain.py``; shorter exact seeds chained along a drifting
alignment find copies with a few words changed, dropped or inserted, as long as the chain covers
``min_tokens`` tokens at ``near_threshold`` token similarity.

Offsets are snapped to tokens, so spans never start or end in whitespace. A span is extended
over punctuation glued to its first or last token (no whitespace in between) when the earlier
copy carries the same punctuation at the same place: the title list's trailing comma goes with
the list, and removing the span does not leave a stray ``,`` behind.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from dedupe.spans.chain import near_copies
from dedupe.spans.tokens import cover_mask, tokenize_offsets, window_hashes

# Chosen with benchmarks/span_min_tokens.py (697 Common Crawl pages, 58 CleanEval gold texts).
# On the gold texts, lowering 13 -> 10 mostly adds spans that are real repeats even in
# hand-cleaned text (bibliographic records, quoted forum posts, repeated headings); lowering
# 10 -> 8 adds 10 points of flagged pages (31% -> 41%), mostly phrases that recur naturally in
# prose ("between the number of emigrants and the number of"). 10 is also the length of the
# shortest pasted fragment on the seed page (the "doi: 10.12744/ijnpt.2013.0021-0029" citation).
DEFAULT_MIN_TOKENS = 10


@dataclass(frozen=True)
class RepeatSpans:
    """Later copies found in one document, sorted by ``start``, disjoint.

    ``start``/``end``: char offsets of the later copy (``text[start:end]``). ``first_start``:
    char offset where the kept earlier copy of the span's beginning starts; a copy of a copy is
    traced back to the text that stays. ``count``: how many times this content occurs in the
    document up to and including this copy (2 for the first repeat, 3 for the second, ...),
    counting spans whose kept copy starts at the same ``first_start``. ``exact``: the span is
    wholly covered by verbatim ``min_tokens`` windows (False: found only as a near copy).
    """

    start: np.ndarray
    end: np.ndarray
    first_start: np.ndarray
    count: np.ndarray
    exact: np.ndarray

    def __len__(self) -> int:
        return len(self.start)

    def to_arrow(self) -> pa.Table:
        """The spans as an Arrow table, one row per span."""
        return pa.table(
            {
                "start": self.start,
                "end": self.end,
                "first_start": self.first_start,
                "count": self.count,
                "exact": self.exact,
            }
        )


def find_repeats(
    text: str,
    *,
    min_tokens: int = DEFAULT_MIN_TOKENS,
    near: bool = True,
    near_threshold: float = 0.8,
    seed_tokens: int | None = None,
    max_gap: int | None = None,
    tokens: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
) -> RepeatSpans:
    """Find later copies of text that occurs earlier in ``text``.

    ``seed_tokens`` (default ``min_tokens // 2``, at least 3) and ``max_gap`` (default
    ``min_tokens``: two edited words up to a seed apart leave a gap of ``seed_tokens + 1``
    unmatched tokens, three such edits twice that) tune the near-copy search. ``tokens`` takes
    a precomputed ``tokenize_offsets(text)`` so a pipeline tokenises each document once.
    """
    if seed_tokens is None:
        seed_tokens = min(min_tokens, max(3, min_tokens // 2))
    max_gap = min_tokens if max_gap is None else max_gap
    _check_params(min_tokens, near_threshold, seed_tokens, max_gap)
    starts, ends, hashes = tokenize_offsets(text) if tokens is None else tokens
    comps = [_exact_windows(hashes, min_tokens)]
    if near:
        comps.append(
            near_copies(
                hashes,
                seed_tokens=seed_tokens,
                min_tokens=min_tokens,
                near_threshold=near_threshold,
                max_gap=max_gap,
            )
        )
    a, b, src_a, src_b = (np.concatenate(parts) for parts in zip(*comps, strict=True))
    span_a, span_b, span_src, span_src_b = _merge_components(a, b, src_a, src_b)
    kept = _resolve_sources(span_a, span_b, span_src)
    char_start, char_end = _snap_punctuation(
        text, starts, ends, span_a, span_b, span_src, span_src_b
    )
    first_start = starts[kept].astype(np.int64)
    # The head punctuation was checked against the direct source; shift only where it is kept.
    direct = kept == span_src
    first_start[direct] -= starts[span_a[direct]] - char_start[direct]
    return RepeatSpans(
        start=char_start,
        end=char_end,
        first_start=first_start,
        count=_copy_numbers(kept),
        exact=_covered(comps[0][0], comps[0][1], span_a, span_b, len(hashes)),
    )


def _check_params(min_tokens: int, near_threshold: float, seed_tokens: int, max_gap: int) -> None:
    if min_tokens < 1:
        raise ValueError(f"min_tokens must be at least 1, got {min_tokens}")
    if not 1 <= seed_tokens <= min_tokens:
        raise ValueError(f"seed_tokens must lie in 1..min_tokens ({min_tokens}), got {seed_tokens}")
    if not 0.0 < near_threshold <= 1.0:
        raise ValueError(f"near_threshold is a similarity in (0, 1], got {near_threshold}")
    if max_gap < 0:
        raise ValueError(f"max_gap counts tokens and cannot be negative, got {max_gap}")


def _exact_windows(hashes: np.ndarray, k: int) -> tuple[np.ndarray, ...]:
    """Flagged ``k``-token windows as components ``(a, b, src_a, src_b)``, inclusive ends."""
    windows = window_hashes(hashes, k)
    _, first_idx, inverse = np.unique(windows, return_index=True, return_inverse=True)
    first = first_idx[inverse].astype(np.int64)
    later = np.flatnonzero(first + k <= np.arange(len(windows)))
    src = first[later]
    return later, later + k - 1, src, src + k - 1


def _merge_components(
    a: np.ndarray, b: np.ndarray, src_a: np.ndarray, src_b: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Merge overlapping or touching token ranges into maximal spans.

    A span's source start comes from its first component (earliest source on ties), its source
    end from the component reaching furthest right.
    """
    order = np.lexsort((src_a, a))
    a, b, src_a, src_b = a[order], b[order], src_a[order], src_b[order]
    if len(a) == 0:
        return a, b, src_a, src_b
    reach = np.maximum.accumulate(b)
    new = np.ones(len(a), dtype=bool)
    new[1:] = a[1:] > reach[:-1] + 1
    heads = np.flatnonzero(new)
    span_b = np.maximum.reduceat(b, heads)
    group = np.cumsum(new) - 1
    at_end = np.where(b == span_b[group], np.arange(len(a)), -1)
    last = np.maximum.reduceat(at_end, heads)
    return a[heads], span_b, src_a[heads], src_b[last]


def _covered(
    a: np.ndarray, b: np.ndarray, span_a: np.ndarray, span_b: np.ndarray, n: int
) -> np.ndarray:
    """Whether every token of each span lies inside one of the ranges ``a..b``."""
    inside = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(cover_mask(a, b + 1, n), out=inside[1:])
    return inside[span_b + 1] - inside[span_a] == span_b - span_a + 1


def _resolve_sources(span_a: np.ndarray, span_b: np.ndarray, src: np.ndarray) -> np.ndarray:
    """Trace each span's source back until it lies in text that is kept.

    A source inside an earlier flagged span is mapped through that span's own alignment; the
    position strictly decreases at each step, so the loop ends.
    """
    kept = src.copy()
    for i in range(len(src)):
        pos = int(kept[i])
        j = int(np.searchsorted(span_a, pos, side="right")) - 1
        while j >= 0 and pos <= span_b[j]:
            shift = int(span_a[j] - kept[j])
            pos -= shift * -(-(pos - int(span_a[j]) + 1) // shift)
            j = int(np.searchsorted(span_a, pos, side="right")) - 1
        kept[i] = pos
    return kept


def _copy_numbers(kept: np.ndarray) -> np.ndarray:
    """2 for the first span copying a kept start, 3 for the next one, and so on."""
    order = np.argsort(kept, kind="stable")
    ranks = np.empty(len(kept), dtype=np.int64)
    if len(kept):
        sorted_kept = kept[order]
        new = np.ones(len(kept), dtype=bool)
        new[1:] = sorted_kept[1:] != sorted_kept[:-1]
        heads = np.flatnonzero(new)
        group_start = heads[np.cumsum(new) - 1]
        ranks[order] = np.arange(len(kept)) - group_start
    return ranks + 2


def _gap(text: str, starts: np.ndarray, ends: np.ndarray, tok: int, after: bool) -> str:
    """The non-token characters after (or before) token ``tok``."""
    if after:
        stop = int(starts[tok + 1]) if tok + 1 < len(starts) else len(text)
        return text[int(ends[tok]) : stop]
    begin = int(ends[tok - 1]) if tok > 0 else 0
    return text[begin : int(starts[tok])]


def _snap_punctuation(
    text: str,
    starts: np.ndarray,
    ends: np.ndarray,
    span_a: np.ndarray,
    span_b: np.ndarray,
    src_a: np.ndarray,
    src_b: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Char offsets of the spans, widened over punctuation that the earlier copy shares."""
    char_start = starts[span_a].astype(np.int64)
    char_end = ends[span_b].astype(np.int64)
    for i in range(len(span_a)):
        tail = _gap(text, starts, ends, int(span_b[i]), after=True)
        glued = tail.split(maxsplit=1)[0] if tail and not tail[0].isspace() else ""
        if glued and _gap(text, starts, ends, int(src_b[i]), after=True).startswith(glued):
            char_end[i] += len(glued)
        head = _gap(text, starts, ends, int(span_a[i]), after=False)
        glued = head.rsplit(maxsplit=1)[-1] if head and not head[-1].isspace() else ""
        if glued and _gap(text, starts, ends, int(src_a[i]), after=False).endswith(glued):
            char_start[i] -= len(glued)
    return char_start, char_end
