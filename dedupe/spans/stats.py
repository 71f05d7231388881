"""Gopher (MassiveText) repetition statistics of documents, and the published filter.

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

``batch_repetition_stats`` computes them for every document of a batch at once
(``repetition_stats`` is a batch of one): lines and paragraphs are cut from the code points of
the whole batch and compared by Arrow's dictionary encoding (exact string equality); n-grams
are grouped by window hash (``windows.py``), each size only among the windows that repeat at
the size below.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from dedupe.spans.arrays import binary_array, ragged, space_table
from dedupe.spans.tokens import BatchTokens, checked_tokens, document_tokens
from dedupe.spans.windows import TokenIndex, group_ids, refine, repeating, window_table

__all__ = [
    "DUP_NGRAM_SIZES",
    "GOPHER_REPETITION_LIMITS",
    "TOP_NGRAM_SIZES",
    "batch_repetition_stats",
    "gopher_failures",
    "gopher_reason",
    "passes_gopher_repetition",
    "repetition_stats",
]

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

_NEWLINE = 0x0A


def repetition_stats(
    text: str, tokens: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
) -> dict[str, float]:
    """All Gopher repetition statistics of ``text``, keyed as in ``GOPHER_REPETITION_LIMITS``.

    ``tokens`` takes a precomputed ``tokenize_offsets(text)``.
    """
    stats = _stats(document_tokens(text, tokens))
    return {name: float(values[0]) for name, values in stats.items()}


def batch_repetition_stats(
    text: pa.Array | pa.ChunkedArray, tokens: BatchTokens | None = None
) -> dict[str, np.ndarray]:
    """``repetition_stats`` of every document: one float64 array per statistic, batch order.

    ``tokens`` takes a precomputed ``batch_tokens(text)``.
    """
    return _stats(checked_tokens(text, tokens))


def _stats(tokens: BatchTokens) -> dict[str, np.ndarray]:
    """The statistics of every document of ``tokens``, in ``GOPHER_REPETITION_LIMITS`` order."""
    stats = _piece_stats(tokens)
    stats.update(_ngram_stats(TokenIndex.of(tokens)))
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
    above = np.stack(
        [
            np.asarray(stats[name], float) > limit
            for name, limit in GOPHER_REPETITION_LIMITS.items()
        ],
        axis=1,
    )
    return np.where(above.any(axis=1), above.argmax(axis=1), -1)


def gopher_reason(name: str, value: float) -> str:
    """Why a document fails: ``dup_line_frac = 0.400 > 0.3``."""
    return f"{name} = {value:.3f} > {GOPHER_REPETITION_LIMITS[name]}"


def _piece_stats(tokens: BatchTokens) -> dict[str, np.ndarray]:
    """Duplicate line and paragraph fractions of every document.

    A stripped paragraph runs from the first non-blank line after a blank line (or the start of
    the document) to the last non-blank line before the next one: paragraphs are separated by
    ``\\n[^\\S\\n]*\\n\\s*``, which is exactly a stretch of whitespace holding two newlines,
    that is a blank line between two non-blank ones.
    """
    lo, hi, doc = _lines(tokens.cps, tokens.offsets)
    lo, hi = _strip(tokens.cps, lo, hi)
    filled = hi > lo
    opens = np.ones(len(lo), dtype=bool)
    opens[1:] = ~filled[:-1] | (doc[1:] != doc[:-1])
    lo, hi, doc, opens = lo[filled], hi[filled], doc[filled], opens[filled]
    first = np.flatnonzero(opens)
    last = np.append(first[1:], len(lo))[: len(first)] - 1
    token_sums = np.zeros(len(tokens.hashes) + 1, dtype=np.uint64)
    np.cumsum(tokens.hashes, out=token_sums[1:])
    stats = {}
    for name, pieces in (("line", (lo, hi, doc)), ("para", (lo[first], hi[last], doc[first]))):
        later = _later_copies(tokens, token_sums, *pieces)
        frac, char_frac = _dup_shares(*pieces, later, len(tokens))
        stats[f"dup_{name}_frac"], stats[f"dup_{name}_char_frac"] = frac, char_frac
    return stats


def _lines(cps: np.ndarray, offsets: np.ndarray):
    """``(starts, ends, doc)`` of the pieces of ``text.split("\\n")`` of every document.

    A document's pieces start at its start and after each newline, and end at each newline and
    at its end; sorted by (document, offset), the i-th start pairs with the i-th end.
    """
    breaks = np.flatnonzero(cps == _NEWLINE)
    break_doc = np.searchsorted(offsets, breaks, side="right") - 1
    docs = np.arange(len(offsets) - 1)
    lo, lo_doc = np.concatenate((offsets[:-1], breaks + 1)), np.concatenate((docs, break_doc))
    hi, hi_doc = np.concatenate((breaks, offsets[1:])), np.concatenate((break_doc, docs))
    lo_order, hi_order = np.lexsort((lo, lo_doc)), np.lexsort((hi, hi_doc))
    return lo[lo_order], hi[hi_order], lo_doc[lo_order]


def _strip(cps: np.ndarray, lo: np.ndarray, hi: np.ndarray, steps: int = 8):
    """``[lo, hi)`` without leading and trailing whitespace (``lo == hi`` when nothing is left).

    A few vectorised steps strip ordinary indentation; the rare ranges with longer whitespace
    runs are finished by scanning all their chars at once.
    """
    space = space_table()
    lo, hi = lo.copy(), hi.copy()
    for end, step in ((lo, 1), (hi, -1)):
        live = np.flatnonzero(hi > lo)
        for _ in range(steps):
            edge = end[live] if step == 1 else end[live] - 1
            live = live[space[cps[edge]]]
            end[live] += step
            live = live[hi[live] > lo[live]]
        if len(live):
            end[live] = _scan_solid(cps, space, lo[live], hi[live], forward=step == 1)
    return lo, hi


def _scan_solid(cps, space, lo, hi, *, forward: bool) -> np.ndarray:
    """First non-space position in ``[lo, hi)`` (``hi`` if none), or one past the last (``lo``)."""
    pos, owner = ragged(lo, hi - lo)
    solid = np.flatnonzero(~space[cps[pos]])
    if forward:
        out = hi.copy()
        np.minimum.at(out, owner[solid], pos[solid])
    else:
        out = lo.copy()
        np.maximum.at(out, owner[solid], pos[solid] + 1)
    return out


def _later_copies(tokens: BatchTokens, token_sums, lo, hi, doc) -> np.ndarray:
    """Mask of the pieces ``[lo, hi)`` that equal an earlier piece of their document.

    Equal pieces have equal length and equal tokens, so a key of (document, length, sum of the
    token hashes) finds every candidate cheaply; only pieces whose key repeats are compared as
    strings, by Arrow's dictionary encoding (which compares the chars themselves).
    """
    later = np.zeros(len(lo), dtype=bool)
    if len(lo) == 0:
        return later
    starts = tokens.starts
    key = token_sums[np.searchsorted(starts, hi)] - token_sums[np.searchsorted(starts, lo)]
    key += (hi - lo).astype(np.uint64) * np.uint64(0xC2B2AE3D27D4EB4F)
    key += doc.astype(np.uint64) * np.uint64(0x165667B19E3779F9)
    _, inverse, counts = np.unique(key, return_inverse=True, return_counts=True)
    maybe = np.flatnonzero(counts[inverse.reshape(-1)] >= 2)
    if len(maybe) == 0:
        return later
    lens = hi[maybe] - lo[maybe]
    chars = tokens.cps[ragged(lo[maybe], lens)[0]]
    bounds = np.zeros(len(maybe) + 1, dtype=np.int64)
    np.cumsum(lens, out=bounds[1:])
    ids = pc.dictionary_encode(binary_array(chars, bounds)).indices.to_numpy()
    _, first = np.unique(doc[maybe] * (int(ids.max()) + 1) + ids, return_index=True)
    later[maybe] = True
    later[maybe[first]] = False
    return later


def _dup_shares(lo, hi, doc, later, n_docs) -> tuple[np.ndarray, np.ndarray]:
    """(share of later copies, share of their chars) among each document's pieces."""
    lens = (hi - lo).astype(np.float64)
    count = np.bincount(doc, minlength=n_docs)
    chars = np.bincount(doc, weights=lens, minlength=n_docs)
    dup = np.bincount(doc[later], minlength=n_docs)
    dup_chars = np.bincount(doc[later], weights=lens[later], minlength=n_docs)
    return _share(dup, count), _share(dup_chars, chars)


def _share(part: np.ndarray, whole: np.ndarray) -> np.ndarray:
    """``part / whole`` per document, 0.0 where there is nothing to count."""
    out = np.zeros(len(whole), dtype=np.float64)
    np.divide(part, whole, out=out, where=whole > 0)
    return out


def _ngram_stats(index: TokenIndex) -> dict[str, np.ndarray]:
    """Top and duplicate n-gram char fractions of every document.

    Windows that occur once at size ``n`` occur once at every larger size, so after the first
    size only the windows that repeated at the size below are grouped.
    """
    tokens, n_docs = index.tokens, len(index)
    cum = np.zeros(len(tokens.hashes) + 1, dtype=np.int64)
    np.cumsum(tokens.ends - tokens.starts, out=cum[1:])
    total = (cum[tokens.tok_offsets[1:]] - cum[tokens.tok_offsets[:-1]]).astype(np.float64)
    low = min(TOP_NGRAM_SIZES)
    pos, head, keys = repeating(index, window_table(tokens.hashes, low), low)
    stats = {}
    for n in range(low, max(DUP_NGRAM_SIZES) + 1):
        if n > low:
            pos, head, keys = refine(index, pos, keys, n - 1, n)
        docs = index.doc(pos)
        if n in TOP_NGRAM_SIZES:
            starts = _top_occurrences(pos, head, docs, n, cum, n_docs)
            stats[f"top_{n}gram_char_frac"] = _share(_covered(index, starts, n, cum), total)
        if n in DUP_NGRAM_SIZES:
            starts = np.sort(pos[~head])
            stats[f"dup_{n}gram_char_frac"] = _share(_covered(index, starts, n, cum), total)
    return stats


def _top_occurrences(pos, head, docs, n, cum, n_docs) -> np.ndarray:
    """Sorted starts of every occurrence of each document's most frequent n-gram.

    Ties as the module says: most occurrences, then most chars, then the earliest.
    """
    gid, gstart, sizes = group_ids(head)
    first = pos[gstart]
    gdoc = docs[gstart]
    width = cum[first + n] - cum[first]
    pick = np.ones(len(gstart), dtype=bool)
    pick = _per_doc_best(gdoc, sizes, n_docs, np.maximum, pick)
    pick = _per_doc_best(gdoc, width, n_docs, np.maximum, pick)
    pick = _per_doc_best(gdoc, first, n_docs, np.minimum, pick)
    return np.sort(pos[pick[gid]])


def _per_doc_best(doc, value, n_docs, ufunc, among) -> np.ndarray:
    """Mask of the candidates ``among`` whose ``value`` is their document's best."""
    limits = np.iinfo(np.int64)
    best = np.full(n_docs, limits.min if ufunc is np.maximum else limits.max)
    ufunc.at(best, doc[among], value[among])
    return among & (value == best[doc])


def _covered(index: TokenIndex, starts: np.ndarray, n: int, cum: np.ndarray) -> np.ndarray:
    """Token chars per document covered by the ``n``-token windows at sorted ``starts``.

    Each window adds the chars up to where the next window starts (or its own end, whichever
    comes first), so overlapping windows count each token once.
    """
    stop = starts + n
    stop[:-1] = np.minimum(stop[:-1], starts[1:])
    chars = (cum[stop] - cum[starts]).astype(np.float64)
    return np.bincount(index.doc(starts), weights=chars, minlength=len(index))
