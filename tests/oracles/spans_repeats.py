"""Reference repeated spans of one document: ``dedupe.spans.repeats.find_repeats`` the slow way.

The rules are those of ``dedupe/spans/repeats.py``. Here one document is handled at a time:
equal windows by ``np.unique``, each near-copy seed paired with its nearest earlier copy by a
sorted search, sources traced back span by span in a Python loop, punctuation compared as
Python strings. Chaining seed runs (``dedupe.spans.chain``) and merging components, numbering
copies (``dedupe.spans.sources``) are shared with the fast code, as they always were.
Parameters are assumed valid (the fast code checks them).
"""

from __future__ import annotations

import numpy as np

from dedupe.spans.chain import chain_runs, diagonal_runs
from dedupe.spans.repeats import DEFAULT_MIN_TOKENS, RepeatSpans
from dedupe.spans.sources import copy_numbers, merge_components
from dedupe.spans.windows import window_hashes
from tests.oracles.spans_tokens import cover_mask, tokenize_offsets


def find_repeats(
    text: str,
    *,
    min_tokens: int = DEFAULT_MIN_TOKENS,
    near: bool = True,
    near_threshold: float = 0.7,  # the package's DEFAULT_NEAR_THRESHOLD
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
    starts, ends, hashes = tokenize_offsets(text) if tokens is None else tokens
    comps = [_exact_windows(hashes, min_tokens)]
    if near:
        comps.append(
            _near_copies(
                hashes,
                seed_tokens=seed_tokens,
                min_tokens=min_tokens,
                near_threshold=near_threshold,
                max_gap=max_gap,
            )
        )
    a, b, src_a, src_b = (np.concatenate(parts) for parts in zip(*comps, strict=True))
    span_a, span_b, span_src, span_src_b = merge_components(a, b, src_a, src_b)
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
        count=copy_numbers(kept),
        exact=_covered(comps[0][0], comps[0][1], span_a, span_b, len(hashes)),
    )


def _exact_windows(hashes: np.ndarray, k: int) -> tuple[np.ndarray, ...]:
    """Flagged ``k``-token windows as components ``(a, b, src_a, src_b)``, inclusive ends."""
    windows = window_hashes(hashes, k)
    _, first_idx, inverse = np.unique(windows, return_index=True, return_inverse=True)
    first = first_idx[inverse].astype(np.int64)
    later = np.flatnonzero(first + k <= np.arange(len(windows)))
    src = first[later]
    return later, later + k - 1, src, src + k - 1


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


def _seed_pairs(
    hashes: np.ndarray, seed_tokens: int, min_distance: int
) -> tuple[np.ndarray, np.ndarray]:
    """Pairs ``(later, earlier)``: each seed window and its nearest copy ``min_distance`` back.

    With ``min_distance = min_tokens`` a near copy obeys the rule of exact copies: its earlier
    copy starts at least ``min_tokens`` tokens before it, so in periodic text the first
    ``min_tokens`` tokens stay whole, exactly as with ``min_tokens`` windows.
    """
    windows = window_hashes(hashes, seed_tokens)
    count = len(windows)
    if count == 0:
        empty = np.empty(0, dtype=np.int64)
        return empty, empty
    _, inverse = np.unique(windows, return_inverse=True)
    group = inverse.astype(np.int64) * (count + 1)
    pos = np.arange(count, dtype=np.int64)
    # Search the sorted (group, position) keys for the last one at or before pos - min_distance.
    keys = np.sort(group + pos)
    found = np.searchsorted(keys, group + pos - min_distance, side="right") - 1
    hit = keys[np.clip(found, 0, None)]
    ok = (pos >= min_distance) & (found >= 0) & (hit - hit % (count + 1) == group)
    return pos[ok], hit[ok] % (count + 1)


def _near_copies(
    hashes: np.ndarray,
    *,
    seed_tokens: int,
    min_tokens: int,
    near_threshold: float,
    max_gap: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Later near copies as token ranges ``(a, b, src_a, src_b)``, inclusive ends."""
    later, earlier = _seed_pairs(hashes, seed_tokens, min_distance=min_tokens)
    a, b, d = diagonal_runs(later, earlier, seed_tokens)
    return chain_runs(
        a,
        b,
        d,
        min_tokens=min_tokens,
        near_threshold=near_threshold,
        max_gap=max_gap,
        seed_tokens=seed_tokens,
    )
