"""Near-repeat detection: short exact seeds chained along a drifting alignment.

A passage pasted again with a word changed, dropped or inserted is an exact copy interrupted by
small edits. Windows of ``min_tokens`` tokens miss it when the edits are closer together than
``min_tokens``; shorter seeds (``seed_tokens`` tokens) survive between the edits. This module
pairs exact seed repeats (grouped by ``windows.py``), groups the pairs into runs along one
alignment *diagonal* (``later token index - earlier token index``), and chains runs whose
diagonals differ by at most ``max_gap`` (an insertion or deletion shifts the diagonal by its
length) and whose later copies are at most ``max_gap`` tokens apart. A chain is kept when its
later copy spans at least ``min_tokens`` tokens and its token similarity, matched tokens over
the longer of the two aligned regions, reaches ``near_threshold``; the threshold is what stops
two unrelated phrases that happen to sit near each other from being joined into a "copy".

Each seed window is paired with its *nearest* earlier occurrence that does not overlap it, not
its first one: in periodic text ("ha ha ha ...") and in copies of copies the first occurrence
would put every window on a diagonal of its own, one run per token, while the nearest keeps the
diagonal constant. Where the nearest copy is itself a later copy, ``sources.py`` follows it
back to the text that is kept.

Chaining is vectorised: each run looks for a predecessor among the few runs just before it
(a bounded number of shifted-array comparisons), and chains are read off the predecessor links
by pointer jumping, so low-entropy text with a run at every token costs no Python loop.

Everything runs on a whole batch at once, on *spread* token coordinates (``repeats.py``): the
gap between documents is wider than ``max_gap``, so no run is ever chained across documents.
"""

from __future__ import annotations

import numpy as np


def seed_pairs(
    pos: np.ndarray, head: np.ndarray, min_distance: int
) -> tuple[np.ndarray, np.ndarray]:
    """Pairs ``(later, earlier)``: each seed window and its nearest copy ``min_distance`` back.

    ``pos``/``head``: groups of equal seed windows as ``windows.repeating`` returns them
    (members in position order). The earlier copy is the last one at or before ``later -
    min_distance``, found by stepping back through the group; positions differ by at least one
    per step, so at most ``min_distance`` steps are needed. With ``min_distance = min_tokens``
    a near copy obeys the rule of exact copies: its earlier copy starts at least ``min_tokens``
    tokens before it, so in periodic text the first ``min_tokens`` tokens stay whole, exactly
    as with ``min_tokens`` windows.
    """
    gid = np.cumsum(head) - 1
    found = np.full(len(pos), -1, dtype=np.int64)
    live = np.arange(1, len(pos))
    cand = live - 1
    while len(live):
        same = gid[cand] == gid[live]
        live, cand = live[same], cand[same]
        far = pos[cand] <= pos[live] - min_distance
        found[live[far]] = cand[far]
        live, cand = live[~far], cand[~far] - 1
        live, cand = live[cand >= 0], cand[cand >= 0]
    hit = found >= 0
    return pos[hit], pos[found[hit]]


def diagonal_runs(
    later: np.ndarray, earlier: np.ndarray, seed_tokens: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Group seed pairs into runs of consecutive windows on one diagonal.

    Returns ``(a, b, d)`` sorted by ``a``: the run covers later tokens ``a..b`` (inclusive) and
    earlier tokens ``a-d..b-d``.
    """
    if len(later) == 0:
        empty = np.empty(0, dtype=np.int64)
        return empty, empty, empty
    diag = later - earlier
    order = np.lexsort((later, diag))
    later, diag = later[order], diag[order]
    new = np.ones(len(later), dtype=bool)
    new[1:] = (diag[1:] != diag[:-1]) | (later[1:] != later[:-1] + 1)
    heads = np.flatnonzero(new)
    tails = np.append(heads[1:], len(later)) - 1
    a, b, d = later[heads], later[tails] + seed_tokens - 1, diag[heads]
    by_start = np.lexsort((d, a))
    return a[by_start], b[by_start], d[by_start]


def chain_runs(
    a: np.ndarray,
    b: np.ndarray,
    d: np.ndarray,
    *,
    min_tokens: int,
    near_threshold: float,
    max_gap: int,
    seed_tokens: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Chain runs (sorted by start) into near copies; return accepted ``(a, b, src_a, src_b)``.

    Each run links to one predecessor: a run that ends at most ``max_gap`` tokens before it
    starts, lies on a diagonal at most ``max_gap`` away, starts earlier in the source too and
    ends earlier in the later copy. The closest diagonal wins, then the nearest run. A run that
    several runs chose keeps the best of them, so every chain is a path along which the source
    position only moves forward.
    """
    pred = _predecessors(a, b, d, max_gap, lookback=max_gap + seed_tokens + 1)
    head = np.where(pred < 0, np.arange(len(a)), pred)
    while True:  # pointer jumping: log2(longest chain) rounds
        nxt = head[head]
        if np.array_equal(nxt, head):
            break
        head = nxt
    return _accepted(a, b, d, head, min_tokens, near_threshold)


def _predecessors(
    a: np.ndarray, b: np.ndarray, d: np.ndarray, max_gap: int, lookback: int
) -> np.ndarray:
    """Index of each run's predecessor in its chain, -1 for the first run of a chain.

    Only the previous ``lookback`` runs can qualify: every seed window belongs to one run, so
    the runs whose windows reach within ``max_gap`` tokens of a run's start number at most
    ``max_gap + seed_tokens + 1``.
    """
    count = len(a)
    pred = np.full(count, -1, dtype=np.int64)
    shift = np.full(count, max_gap + 1, dtype=np.int64)
    src = a - d
    for k in range(1, min(lookback, count - 1) + 1):
        later, earlier = np.arange(k, count), np.arange(count - k)
        gap_shift = np.abs(d[later] - d[earlier])
        better = (
            (b[earlier] >= a[later] - max_gap - 1)
            & (b[later] > b[earlier])
            & (src[later] > src[earlier])
            & (gap_shift < shift[later])
        )
        pred[later[better]] = earlier[better]
        shift[later[better]] = gap_shift[better]
    linked = np.flatnonzero(pred >= 0)
    order = linked[np.lexsort((linked, shift[linked], pred[linked]))]
    loser = np.zeros(len(order), dtype=bool)
    loser[1:] = pred[order[1:]] == pred[order[:-1]]
    pred[order[loser]] = -1
    return pred


def _accepted(
    a: np.ndarray,
    b: np.ndarray,
    d: np.ndarray,
    head: np.ndarray,
    min_tokens: int,
    near_threshold: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Keep chains long enough and similar enough to their earlier copy.

    Similarity is the number of later tokens covered by the chain's runs over the longer of
    the later region and the aligned earlier region.
    """
    if len(a) == 0:
        return a, b, a, b
    order = np.lexsort((a, head))
    a, b, d, head = a[order], b[order], d[order], head[order]
    new = np.ones(len(a), dtype=bool)
    new[1:] = head[1:] != head[:-1]
    starts = np.flatnonzero(new)
    # Running max of b inside each chain: offset chains so that each one tops the previous.
    offset = (np.cumsum(new) - 1) * (int(b.max()) + 2)
    reach = np.maximum.accumulate(b + offset) - offset
    before = np.where(new, a - 1, np.roll(reach, 1))
    matched = np.add.reduceat(b - np.maximum(a - 1, before), starts)
    chain_b = np.maximum.reduceat(b, starts)
    group = np.cumsum(new) - 1
    tail = np.maximum.reduceat(np.where(b == chain_b[group], np.arange(len(a)), -1), starts)
    chain_a = a[starts]
    src_a, src_b = chain_a - d[starts], chain_b - d[tail]
    longer = np.maximum(chain_b - chain_a + 1, src_b - src_a + 1)
    keep = (chain_b - chain_a + 1 >= min_tokens) & (matched >= near_threshold * longer)
    return chain_a[keep], chain_b[keep], src_a[keep], src_b[keep]


def near_copies(
    later: np.ndarray,
    earlier: np.ndarray,
    *,
    seed_tokens: int,
    min_tokens: int,
    near_threshold: float,
    max_gap: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Later near copies as token ranges ``(a, b, src_a, src_b)``, inclusive ends, from the
    seed pairs of ``seed_pairs`` (in spread coordinates, see ``repeats.py``)."""
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
