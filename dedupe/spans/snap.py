"""Span ends widened over glued punctuation that the earlier copy shares.

Token offsets never start or end in whitespace, but they stop short of punctuation. A span is
extended over the punctuation glued to its first or last token (no whitespace in between) when
the earlier copy carries the same punctuation at the same place: the title list's trailing
comma goes with the list, and removing the span does not leave a stray ``,`` behind. The glued
punctuation after the last token runs to the first whitespace of the gap, the one before the
first token back to the last whitespace; it is kept when the source's gap starts (ends) with
the same chars. All spans of a batch are handled at once, on the batch's code points.
"""

from __future__ import annotations

import numpy as np

from dedupe.spans.arrays import ragged, space_table
from dedupe.spans.tokens import BatchTokens

__all__ = ["snap_punctuation"]


def snap_punctuation(tokens: BatchTokens, ta, tb, sa, sb, doc):
    """Char offsets ``(start, end)`` (absolute in the batch) of the spans of tokens ``ta..tb``
    whose sources are tokens ``sa..sb`` (all batch token indices; ``doc``: each span's row)."""
    cps, starts, ends = tokens.cps, tokens.starts, tokens.ends
    space = space_table()
    tok_hi, char_hi = tokens.tok_offsets[doc + 1], tokens.offsets[doc + 1]
    tok_lo, char_lo = tokens.tok_offsets[doc], tokens.offsets[doc]

    def gap_after(t):
        nxt = starts[np.minimum(t + 1, len(starts) - 1)]
        return ends[t], np.where(t + 1 < tok_hi, nxt, char_hi)

    def gap_before(t):
        prev = ends[np.maximum(t - 1, 0)]
        return np.where(t > tok_lo, prev, char_lo), starts[t]

    lo, hi = gap_after(tb)
    glued = _glue_length(cps, space, lo, hi, forward=True)
    src_lo, src_hi = gap_after(sb)
    char_end = ends[tb] + glued * _same_chars(cps, lo, src_lo, src_hi - src_lo, glued)
    lo, hi = gap_before(ta)
    glued = _glue_length(cps, space, lo, hi, forward=False)
    src_lo, src_hi = gap_before(sa)
    match = _same_chars(cps, hi - glued, src_hi - glued, src_hi - src_lo, glued)
    char_start = starts[ta] - glued * match
    return char_start.astype(np.int64), char_end


def _glue_length(cps, space, lo, hi, *, forward: bool) -> np.ndarray:
    """Chars of the gap ``[lo, hi)`` glued to the token: up to the first (last) whitespace."""
    pos, owner = ragged(lo, hi - lo)
    hits = np.flatnonzero(space[cps[pos]])
    owner, pos = owner[hits], pos[hits]
    glued = hi - lo
    distance = pos - lo[owner] if forward else hi[owner] - 1 - pos
    np.minimum.at(glued, owner, distance)
    return glued


def _same_chars(cps, at, src_at, src_len, length) -> np.ndarray:
    """Whether ``cps[at:at+length] == cps[src_at:src_at+length]`` and the source has room."""
    fits = (length > 0) & (src_len >= length)
    n = np.where(fits, length, 0)
    pos, owner = ragged(at, n)
    other = pos - at[owner] + src_at[owner]
    differs = np.zeros(len(at), dtype=bool)
    differs[owner[cps[pos] != cps[other]]] = True
    return fits & ~differs
