"""Repeated spans inside each document: keep the first copy, flag the later ones.

Scraped pages paste the same text again within the page (a title list twice in a tag and
once in the footer, abstract fragments re-pasted and cut short), usually inside long lines, so
line-level deduplication cannot see it. ``batch_repeats`` reports every later copy in every
document of a batch as character offsets into the document's string, with the offset of the
kept earlier copy; ``find_repeats`` does the same for one string (a batch of one).

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
``min_tokens`` tokens at ``near_threshold`` token similarity. The repeating seed windows that
the near search needs also narrow the exact search down to the windows that can repeat.

Offsets are snapped to tokens, so spans never start or end in whitespace, and widened over
punctuation that the earlier copy shares (``snap.py``).

Why a batch: page by page, these steps are dozens of small numpy calls per page, whose fixed
costs dominate on 2 KB web pages. So every step runs once per batch over flat arrays: window
hashes for every token of the batch, grouping of equal windows inside each document
(``windows.py``), and vectorised interval merging (``sources.py``). Documents are kept apart by
running the span arithmetic (merging, chaining near copies, tracing sources) on *spread* token
coordinates, ``token + doc * gap`` with a gap wider than any distance those steps bridge, so
they never join spans of two documents.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
import pyarrow as pa

from dedupe.spans.chain import near_copies, seed_pairs
from dedupe.spans.snap import snap_punctuation
from dedupe.spans.sources import copy_numbers, exact_cover, merge_components, resolve_sources
from dedupe.spans.tokens import BatchTokens, checked_tokens, document_tokens
from dedupe.spans.windows import TokenIndex, group_ids, refine, repeating, window_table

__all__ = [
    "DEFAULT_MIN_TOKENS",
    "DEFAULT_NEAR_THRESHOLD",
    "BatchRepeats",
    "RepeatSpans",
    "batch_repeats",
    "find_repeats",
]

# Chosen with benchmarks/span_min_tokens.py (697 Common Crawl pages, 58 CleanEval gold texts).
# On the gold texts, lowering 13 -> 10 mostly adds spans that are real repeats even in
# hand-cleaned text (bibliographic records, quoted forum posts, repeated headings); lowering
# 10 -> 8 adds 10 points of flagged pages (31% -> 41%), mostly phrases that recur naturally in
# prose ("between the number of emigrants and the number of"). 10 is also the length of the
# shortest pasted fragment on the seed page (the "doi: 10.12744/ijnpt.2013.0021-0029" citation).
DEFAULT_MIN_TOKENS = 10
# Token similarity a chained near copy needs. 0.7, not the earlier 0.8: copies with one word in
# ten to one in five replaced, inserted or dropped throughout are found 0.95 of the time
# against 0.60 (generated pages, tests/synth/passages.py, 10-20 % of words edited; 5-15 %:
# 0.99 against 0.88), while the hand-cleaned CleanEval gold texts gain one flagged page of 58
# (31.0 % -> 32.8 %; flagged characters 4.12 % -> 4.20 %) and the Common Crawl pages 0.8
# points of flagged characters, spans that are real edited repeats (bibliographic records
# differing in page numbers, "Part I" / "Part II" episode lines).
DEFAULT_NEAR_THRESHOLD = 0.7


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
        return _table(self)


@dataclass(frozen=True)
class BatchRepeats:
    """Later copies in every document of a batch, one row per span, sorted by (doc, start).

    ``doc`` is the batch row; ``start``, ``end``, ``first_start``, ``count`` and ``exact`` mean
    what they mean in ``RepeatSpans``, with char offsets into the document's own string.
    """

    doc: np.ndarray
    start: np.ndarray
    end: np.ndarray
    first_start: np.ndarray
    count: np.ndarray
    exact: np.ndarray

    def __len__(self) -> int:
        return len(self.doc)

    def spans(self, i: int) -> RepeatSpans:
        """The spans of document ``i``, as ``find_repeats`` returns them."""
        lo, hi = np.searchsorted(self.doc, [i, i + 1])
        part = slice(int(lo), int(hi))
        return RepeatSpans(
            start=self.start[part],
            end=self.end[part],
            first_start=self.first_start[part],
            count=self.count[part],
            exact=self.exact[part],
        )

    def to_arrow(self) -> pa.Table:
        """The spans as an Arrow table, one row per span."""
        return _table(self)


def _table(spans: RepeatSpans | BatchRepeats) -> pa.Table:
    """One column per field of ``spans``, in field order (the arrays as they are)."""
    return pa.table({f.name: getattr(spans, f.name) for f in fields(spans)})


def find_repeats(
    text: str,
    *,
    min_tokens: int = DEFAULT_MIN_TOKENS,
    near: bool = True,
    near_threshold: float = DEFAULT_NEAR_THRESHOLD,
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
    seed_tokens, max_gap = _params(min_tokens, near_threshold, seed_tokens, max_gap)
    found = _repeats(
        document_tokens(text, tokens), min_tokens, near, near_threshold, seed_tokens, max_gap
    )
    return found.spans(0)


def batch_repeats(
    text: pa.Array | pa.ChunkedArray,
    *,
    min_tokens: int = DEFAULT_MIN_TOKENS,
    near: bool = True,
    near_threshold: float = DEFAULT_NEAR_THRESHOLD,
    seed_tokens: int | None = None,
    max_gap: int | None = None,
    tokens: BatchTokens | None = None,
) -> BatchRepeats:
    """``find_repeats`` of every document of ``text`` (nulls read as empty), all at once.

    Arguments mean what they mean in ``find_repeats``; ``tokens`` takes a precomputed
    ``batch_tokens(text)``.
    """
    seed_tokens, max_gap = _params(min_tokens, near_threshold, seed_tokens, max_gap)
    tokens = checked_tokens(text, tokens)
    return _repeats(tokens, min_tokens, near, near_threshold, seed_tokens, max_gap)


def _params(
    min_tokens: int, near_threshold: float, seed_tokens: int | None, max_gap: int | None
) -> tuple[int, int]:
    """``(seed_tokens, max_gap)`` with their defaults filled in, after checking every value."""
    if seed_tokens is None:
        seed_tokens = min(min_tokens, max(3, min_tokens // 2))
    max_gap = min_tokens if max_gap is None else max_gap
    if min_tokens < 1:
        raise ValueError(f"min_tokens must be at least 1, got {min_tokens}")
    if not 1 <= seed_tokens <= min_tokens:
        raise ValueError(f"seed_tokens must lie in 1..min_tokens ({min_tokens}), got {seed_tokens}")
    if not 0.0 < near_threshold <= 1.0:
        raise ValueError(f"near_threshold is a similarity in (0, 1], got {near_threshold}")
    if max_gap < 0:
        raise ValueError(f"max_gap counts tokens and cannot be negative, got {max_gap}")
    return seed_tokens, max_gap


@dataclass(frozen=True)
class _Layout:
    """Token positions of a batch mapped to spread coordinates and back.

    Spread coordinate of token ``t`` of document ``d``: ``t + d * gap``. With ``gap`` above
    ``max_gap`` no chaining, merging or touching test ever reaches into the next document.
    """

    index: TokenIndex
    gap: int

    def spread(self, t: np.ndarray) -> np.ndarray:
        return t + self.index.doc(t) * self.gap

    def doc_of(self, x: np.ndarray) -> np.ndarray:
        lows = self.index.tokens.tok_offsets[:-1] + np.arange(len(self.index)) * self.gap
        return np.searchsorted(lows, x, side="right") - 1

    def token(self, x: np.ndarray, doc: np.ndarray) -> np.ndarray:
        return x - doc * self.gap


def _repeats(
    tokens: BatchTokens,
    min_tokens: int,
    near: bool,
    near_threshold: float,
    seed_tokens: int,
    max_gap: int,
) -> BatchRepeats:
    """The spans of every document of ``tokens`` (parameters checked by ``_params``)."""
    index = TokenIndex.of(tokens)
    layout = _Layout(index, max_gap + 2)
    if not near:
        windows = window_table(tokens.hashes, min_tokens)
        exact = _exact_windows(*repeating(index, windows, min_tokens)[:2], min_tokens, layout)
        return _spans(layout, exact, exact)
    seeds = repeating(index, window_table(tokens.hashes, seed_tokens), seed_tokens)
    longer = refine(index, seeds[0], seeds[2], seed_tokens, min_tokens)
    exact = _exact_windows(*longer[:2], min_tokens, layout)
    later, earlier = seed_pairs(*seeds[:2], min_tokens)
    near_comps = near_copies(
        layout.spread(later),
        layout.spread(earlier),
        seed_tokens=seed_tokens,
        min_tokens=min_tokens,
        near_threshold=near_threshold,
        max_gap=max_gap,
    )
    comps = tuple(np.concatenate(p) for p in zip(exact, near_comps, strict=True))
    return _spans(layout, comps, exact)


def _exact_windows(pos: np.ndarray, head: np.ndarray, k: int, layout: _Layout):
    """Flagged ``k``-token windows as spread components ``(a, b, src_a, src_b)``, by ``a``.

    ``pos``/``head``: groups of equal windows (``windows.repeating``). A window is flagged when
    its earliest occurrence in the document ends before it starts.
    """
    gid, gstart, _ = group_ids(head)
    first = pos[gstart][gid]
    flagged = pos - first >= k
    later, src = pos[flagged], first[flagged]
    order = np.argsort(later)
    a, src_a = layout.spread(later[order]), layout.spread(src[order])
    return a, a + k - 1, src_a, src_a + k - 1


def _spans(layout: _Layout, comps, exact) -> BatchRepeats:
    """Merge components into spans and describe them in char offsets of their documents."""
    span_a, span_b, span_src, span_src_b = merge_components(*comps)
    doc = layout.doc_of(span_a)
    kept = resolve_sources(span_a, span_b, span_src, doc)
    ta, tb, sa, sb, kt = (
        layout.token(x, doc) for x in (span_a, span_b, span_src, span_src_b, kept)
    )
    tokens = layout.index.tokens
    char_start, char_end = snap_punctuation(tokens, ta, tb, sa, sb, doc)
    first_start = tokens.starts[kt].astype(np.int64)
    # The head punctuation was checked against the direct source; shift only where it is kept.
    direct = kept == span_src
    first_start[direct] -= tokens.starts[ta[direct]] - char_start[direct]
    base = tokens.offsets[doc]
    return BatchRepeats(
        doc=doc.astype(np.int64),
        start=char_start - base,
        end=char_end - base,
        first_start=first_start - base,
        count=copy_numbers(kept),
        exact=exact_cover(exact[0], exact[1], span_a, span_b),
    )
