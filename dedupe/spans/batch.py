"""Repeated spans and repetition statistics for a whole Arrow batch of documents at once.

The per-document functions (``find_repeats``, ``repetition_stats``) run dozens of small numpy
calls per page, so their fixed costs dominate on 2 KB web pages. Here every step runs once per
batch over flat arrays: one decode and one tokenisation of all documents (distinct tokens are
normalised once per batch), window hashes for every token of the batch, grouping of equal
windows inside each document, and vectorised interval merging. For every document the results
equal the per-document functions; tests compare them row by row.

Finding equal windows. Nearly every window of a page occurs once, so the batch first sorts a
32-bit fingerprint per window (top hash bits xor a document tag), which is cheap, and only the
windows whose fingerprint repeats are grouped by their full 64-bit hash. That grouping sorts
one ``uint64`` per window, the hash with its low bits replaced by the window's rank (sorting
values is several times faster than an argsort); the truncated hashes are then checked against
the full ones, and in the rare batch where two different windows of one document share the kept
bits, the exact argsort decides. Longer windows are grouped only among positions whose shorter
prefix window repeats (equal windows start with equal prefixes), so the n-gram statistics for
n = 2..10 cost little more than the bigrams.

Keeping documents apart:

* A window is used only where it fits inside its document, and groups of equal windows split
  wherever the document changes.
* Span arithmetic (merging, chaining near copies, tracing sources) runs on *spread* token
  coordinates, ``token + doc * gap`` with a gap wider than any distance those steps bridge, so
  the helpers of ``chain.py`` and ``repeats.py`` run unchanged on the whole batch and never join
  spans of two documents. Sharing those helpers, the token normaliser and the window base of
  ``tokens.py`` is what keeps the batch and per-document paths from drifting apart.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import xxhash

from dedupe.spans.chain import chain_runs, diagonal_runs
from dedupe.spans.repeats import (
    DEFAULT_MIN_TOKENS,
    RepeatSpans,
    _check_params,
    _copy_numbers,
    _merge_components,
)
from dedupe.spans.stats import DUP_NGRAM_SIZES, GOPHER_REPETITION_LIMITS, TOP_NGRAM_SIZES
from dedupe.spans.tokens import _WINDOW_BASE, _normalise
from dedupe.text import ucd
from dedupe.text.codepoints import decode_utf8
from dedupe.text.tokens import SEPARATOR, char_classes, tokenize

__all__ = [
    "BatchRepeats",
    "BatchTokens",
    "batch_repeats",
    "batch_repetition_stats",
    "batch_tokens",
]

_MAX_CODE_POINT = 0x110000
_NEWLINE = 0x0A


# --- tokens -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BatchTokens:
    """Tokens of every document of a batch, in flat arrays.

    ``cps``: the decoded code points of all documents (uint32, possibly a read-only view);
    document ``i`` is ``cps[offsets[i]:offsets[i+1]]`` and a code point offset is a Python
    ``str`` index. ``starts``/``ends``: token char offsets into ``cps`` (absolute in the batch).
    Document ``i`` owns tokens ``tok_offsets[i]:tok_offsets[i+1]``. ``hashes``: the token
    hashes of ``tokenize_offsets`` (uint64).
    """

    cps: np.ndarray
    offsets: np.ndarray
    starts: np.ndarray
    ends: np.ndarray
    tok_offsets: np.ndarray
    hashes: np.ndarray

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def token_doc(self) -> np.ndarray:
        """Document (batch row) of every token."""
        return np.repeat(np.arange(len(self), dtype=np.int64), np.diff(self.tok_offsets))

    def doc_tokens(self, i: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``tokenize_offsets`` of document ``i``: offsets relative to its own string."""
        lo, hi = int(self.tok_offsets[i]), int(self.tok_offsets[i + 1])
        base = int(self.offsets[i])
        return self.starts[lo:hi] - base, self.ends[lo:hi] - base, self.hashes[lo:hi]


def batch_tokens(text: pa.Array | pa.ChunkedArray) -> BatchTokens:
    """Tokenise a whole string array (nulls read as empty) in one pass.

    Boundaries come from the same ``dedupe.text.tokens.tokenize`` call that
    ``tokenize_offsets`` makes, run once over the batch, and hashes equal its hashes. Only
    distinct tokens reach Python: one Arrow hash pass over the batch finds them.
    """
    cps, offsets = decode_utf8(_string_array(text))
    starts, ends, tok_offsets = tokenize(cps, offsets)
    hashes = _token_hashes(cps, starts, ends)
    return BatchTokens(cps, offsets, starts, ends, tok_offsets, hashes)


def _string_array(text: pa.Array | pa.ChunkedArray) -> pa.Array:
    """One contiguous string array without nulls (a null document is an empty one)."""
    if isinstance(text, pa.ChunkedArray):
        text = text.combine_chunks() if text.num_chunks else pa.array([], text.type)
    if not (pa.types.is_string(text.type) or pa.types.is_large_string(text.type)):
        raise TypeError(f"expected a string array, got {text.type}")
    return text.fill_null("") if text.null_count else text


@functools.lru_cache(maxsize=1)
def _token_chars() -> np.ndarray:
    """Whether each code point is a token char (``dedupe.text.tokens``: astral ones all are)."""
    table = np.ones(_MAX_CODE_POINT, dtype=bool)
    table[:0x10000] = char_classes() != SEPARATOR
    return table


def _space_table() -> np.ndarray:
    """Whitespace of every code point (:func:`dedupe.text.ucd.is_space`, ``str.isspace``'s rule
    over the pinned Unicode data): what ``split``, ``strip`` and ``re``'s ``\\s`` see."""
    return ucd.space_mask(_MAX_CODE_POINT)


def _narrow(cps: np.ndarray) -> np.ndarray:
    """The code points in the narrowest unsigned type that holds them all.

    Arrow hashes bytes, so narrower units hash faster; strings stay distinct because every unit
    holds one whole code point.
    """
    top = int(cps.max()) if len(cps) else 0
    dtype = np.uint8 if top < 0x100 else np.uint16 if top < 0x10000 else np.uint32
    return cps.astype(dtype)


def _binary(units: np.ndarray, bounds: np.ndarray) -> pa.Array:
    """Arrow binary array whose strings are ``units[bounds[i]:bounds[i+1]]`` (zero-copy).

    Large (64-bit offset) binary: Arrow dictionary-encodes it faster than 32-bit binary.
    """
    byte_bounds = bounds.astype(np.int64) * units.itemsize
    buffers = [None, pa.py_buffer(byte_bounds), pa.py_buffer(units)]
    return pa.Array.from_buffers(pa.large_binary(), len(bounds) - 1, buffers)


def _token_hashes(cps: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """Hash of every token: xxh3 of its normalised text, each distinct string done once.

    Arrow dictionary-encodes each token together with the separators after it (contiguous
    strings, so no copy); an entry's token is its leading run of token chars, so equal entries
    hold equal tokens. Distinct tokens are then normalised in one call and hashed once each.
    """
    if len(starts) == 0:
        return np.zeros(0, dtype=np.uint64)
    units = _narrow(cps)
    encoded = pc.dictionary_encode(_binary(units, np.append(starts, len(cps))))
    words = _entry_tokens(encoded.dictionary, units.dtype).split("\x00")
    distinct = dict.fromkeys(words)
    normalised = _normalise("\x00".join(distinct)).split("\x00")
    for word, norm in zip(distinct, normalised, strict=True):
        distinct[word] = xxhash.xxh3_64_intdigest(norm.encode())
    digests = np.fromiter((distinct[w] for w in words), dtype=np.uint64, count=len(words))
    return digests[encoded.indices.to_numpy()]


def _entry_tokens(entries: pa.Array, dtype: np.dtype) -> str:
    """The token of every dictionary entry (token + separators), joined with NUL.

    Tokens never hold a NUL, and NFKC and case folding never act across one, so the tokens can
    be normalised in one call and split again (as ``tokenize_offsets`` does).
    """
    units, bounds = _binary_units(entries, dtype)
    is_tok = np.take(_token_chars(), units)
    tok_len = np.add.reduceat(is_tok, bounds[:-1], dtype=np.int64)
    owner = np.repeat(np.arange(len(tok_len)), tok_len)
    out = np.zeros(len(owner) + len(tok_len), dtype=dtype)
    out[np.arange(len(owner)) + owner] = units[is_tok]
    codec = {1: "latin-1", 2: "utf-16-le", 4: "utf-32-le"}[out.itemsize]
    return out[:-1].tobytes().decode(codec)


def _binary_units(arr: pa.Array, dtype: np.dtype) -> tuple[np.ndarray, np.ndarray]:
    """The units and unit offsets of a large binary array of ``dtype`` units."""
    _, offsets_buf, data = arr.buffers()
    offsets = np.frombuffer(offsets_buf, dtype=np.int64)[arr.offset : arr.offset + len(arr) + 1]
    units = np.frombuffer(data, dtype=dtype) if data is not None else np.zeros(0, dtype)
    return units, offsets // np.dtype(dtype).itemsize


def _ragged(lo: np.ndarray, lens: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Positions ``lo[i] + j`` for ``j < lens[i]``, concatenated, and the range ``i`` of each."""
    owner = np.repeat(np.arange(len(lo)), lens)
    begin = np.cumsum(lens) - lens
    return lo[owner] + np.arange(len(owner)) - begin[owner], owner


@dataclass(frozen=True)
class _Index:
    """A batch's tokens with the document of every token, for lookups by position."""

    tokens: BatchTokens
    tdoc: np.ndarray

    @classmethod
    def of(cls, tokens: BatchTokens) -> _Index:
        return cls(tokens, tokens.token_doc())

    def __len__(self) -> int:
        return len(self.tokens)

    def doc(self, pos: np.ndarray) -> np.ndarray:
        """Document of each token position."""
        return self.tdoc[pos]

    def room(self, pos: np.ndarray) -> np.ndarray:
        """Tokens from each position to the end of its document, itself included."""
        return self.tokens.tok_offsets[self.tdoc[pos] + 1] - pos


# --- grouping equal windows ---------------------------------------------------------------------


def _rank_bits(m: int) -> int:
    """Low bits of a packed key that hold a window's rank among ``m`` windows."""
    return max(1, (m - 1).bit_length())


def _horner_step(windows: np.ndarray, hashes: np.ndarray, width: int) -> None:
    """Grow every window of ``width - 1`` tokens by one token, in place (``window_hashes``).

    ``windows[i]`` becomes the hash of tokens ``i .. i + width - 1``; the last ``width - 1``
    entries have no such window and are left as they are (callers never use them).
    """
    count = len(hashes) - width + 1
    if count > 0:
        head = windows[:count]
        head *= _WINDOW_BASE
        head += hashes[width - 1 :]


def _window_table(hashes: np.ndarray, width: int) -> np.ndarray:
    """Hash of the ``width``-token window starting at every token of the batch."""
    windows = hashes.copy()
    for w in range(2, width + 1):
        _horner_step(windows, hashes, w)
    return windows


def _extend(keys: np.ndarray, hashes: np.ndarray, pos: np.ndarray, have: int, want: int):
    """Hashes of the ``want``-token windows at ``pos`` from their ``have``-token prefixes.

    Works in place on ``keys`` (a fresh gathered array) and returns it.
    """
    for j in range(have, want):
        keys *= _WINDOW_BASE
        keys += hashes[pos + j]
    return keys


def _repeating(index: _Index, windows: np.ndarray, width: int):
    """Groups of equal windows, two or more per document, from a table of all window hashes.

    Returns ``(pos, head, keys)`` as ``_group_windows`` does, singletons dropped. A window is
    grouped only if its 32-bit fingerprint repeats: sorting 32-bit values is quick, and nearly
    every window of a page occurs once.
    """
    pos = _fingerprint_repeats(windows, index.tdoc)
    pos = pos[index.room(pos) >= width]
    return _drop_singletons(*_group_windows(pos, windows[pos], index.doc(pos)))


def _fingerprint_repeats(windows: np.ndarray, tdoc: np.ndarray) -> np.ndarray:
    """Positions whose window fingerprint (top 32 hash bits xor a document tag) repeats.

    Equal windows of one document have equal fingerprints; the same window in two documents
    gets two (the tag multiplier is odd, so tags differ). Positions whose fingerprint only
    collides in the lookup table also come back; grouping by the full hash sorts them out.
    """
    tags = tdoc.astype(np.uint32)
    tags *= np.uint32(0x9E3779B1)
    prints = (windows >> np.uint64(32)).astype(np.uint32)
    prints ^= tags
    ordered = np.sort(prints)
    repeated = ordered[1:][ordered[1:] == ordered[:-1]]
    if len(repeated) == 0:
        return np.zeros(0, dtype=np.int64)
    mask = np.uint32((1 << min(22, max(16, (16 * len(repeated)).bit_length()))) - 1)
    table = np.zeros(int(mask) + 1, dtype=bool)
    table[repeated & mask] = True
    prints &= mask
    return np.flatnonzero(table[prints])


def _group_windows(pos: np.ndarray, keys: np.ndarray, docs: np.ndarray):
    """Order windows into groups of equal ``(document, hash)``; positions rise inside a group.

    ``pos`` must be ascending, ``docs`` the document of each. Returns the reordered positions,
    a mask of each group's first member (its earliest occurrence) and the reordered hashes.
    One ``uint64`` per window is sorted: the hash with its low bits replaced by the rank.
    Within one truncated hash the ranks run document by document, so splitting at document
    changes keeps documents apart; a group whose full hashes differ means a truncation
    collision, and then the exact (slower) argsort decides.
    """
    m = len(pos)
    if m == 0:
        return pos, np.zeros(0, dtype=bool), keys
    bits = np.uint64(_rank_bits(m))
    packed = keys >> bits
    packed <<= bits
    packed |= np.arange(m, dtype=np.uint64)
    packed.sort()
    rank = (packed & np.uint64((1 << int(bits)) - 1)).astype(np.int64)
    packed >>= bits
    head = _heads(packed, docs[rank])
    ordered = keys[rank]
    if np.any(~head[1:] & (ordered[1:] != ordered[:-1])):
        rank = np.argsort(keys, kind="stable")
        ordered = keys[rank]
        head = _heads(ordered, docs[rank])
    return pos[rank], head, ordered


def _heads(keys: np.ndarray, docs: np.ndarray) -> np.ndarray:
    """True where a new ``(key, doc)`` run starts in sorted order."""
    head = np.empty(len(keys), dtype=bool)
    head[:1] = True
    np.not_equal(keys[1:], keys[:-1], out=head[1:])
    head[1:] |= docs[1:] != docs[:-1]
    return head


def _group_ids(head: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(group of each member, first member of each group, size of each group)``."""
    gstart = np.flatnonzero(head)
    sizes = np.diff(np.append(gstart, len(head)))
    return np.cumsum(head) - 1, gstart, sizes


def _drop_singletons(pos: np.ndarray, head: np.ndarray, keys: np.ndarray):
    """Keep the members of groups with two or more members."""
    gid, _, sizes = _group_ids(head)
    keep = sizes[gid] >= 2
    return pos[keep], head[keep], keys[keep]


def _refine(index: _Index, pos, keys, have: int, want: int):
    """Groups of equal ``want``-token windows among grouped ``have``-token windows.

    Equal windows of ``want`` tokens begin with equal windows of ``have`` tokens, so only
    members of repeating ``have`` groups (with room for ``want`` tokens) can repeat.
    """
    fits = index.room(pos) >= want
    order = np.argsort(pos[fits])
    pos, keys = pos[fits][order], keys[fits][order]
    keys = _extend(keys, index.tokens.hashes, pos, have, want)
    return _drop_singletons(*_group_windows(pos, keys, index.doc(pos)))


# --- repeated spans -----------------------------------------------------------------------------


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
        return pa.table(
            {
                "doc": self.doc,
                "start": self.start,
                "end": self.end,
                "first_start": self.first_start,
                "count": self.count,
                "exact": self.exact,
            }
        )


@dataclass(frozen=True)
class _Layout:
    """Token positions of a batch mapped to spread coordinates and back.

    Spread coordinate of token ``t`` of document ``d``: ``t + d * gap``. With ``gap`` above
    ``max_gap`` no chaining, merging or touching test ever reaches into the next document.
    """

    index: _Index
    gap: int

    def spread(self, t: np.ndarray) -> np.ndarray:
        return t + self.index.doc(t) * self.gap

    def doc_of(self, x: np.ndarray) -> np.ndarray:
        lows = self.index.tokens.tok_offsets[:-1] + np.arange(len(self.index)) * self.gap
        return np.searchsorted(lows, x, side="right") - 1

    def token(self, x: np.ndarray, doc: np.ndarray) -> np.ndarray:
        return x - doc * self.gap


def batch_repeats(
    text: pa.Array | pa.ChunkedArray,
    *,
    min_tokens: int = DEFAULT_MIN_TOKENS,
    near: bool = True,
    near_threshold: float = 0.8,
    seed_tokens: int | None = None,
    max_gap: int | None = None,
    tokens: BatchTokens | None = None,
) -> BatchRepeats:
    """``find_repeats`` of every document of ``text``, computed for the whole batch at once.

    Arguments mean what they mean in ``find_repeats``; ``tokens`` takes a precomputed
    ``batch_tokens(text)``. Near copies are found for every document in the same vectorised
    pass as exact ones; the repeating seed windows that the near search needs also narrow the
    exact search down to the windows that can repeat.
    """
    if seed_tokens is None:
        seed_tokens = min(min_tokens, max(3, min_tokens // 2))
    max_gap = min_tokens if max_gap is None else max_gap
    _check_params(min_tokens, near_threshold, seed_tokens, max_gap)
    index = _Index.of(_tokens_for(text, tokens))
    hashes = index.tokens.hashes
    layout = _Layout(index, max_gap + 2)
    if not near:
        windows = _window_table(hashes, min_tokens)
        exact = _exact_windows(*_repeating(index, windows, min_tokens)[:2], min_tokens, layout)
        return _spans(layout, exact, exact)
    seeds = _repeating(index, _window_table(hashes, seed_tokens), seed_tokens)
    longer = _refine(index, seeds[0], seeds[2], seed_tokens, min_tokens)
    exact = _exact_windows(*longer[:2], min_tokens, layout)
    later, earlier = _seed_pairs(*seeds[:2], min_tokens)
    near_comps = _near_components(
        layout.spread(later),
        layout.spread(earlier),
        seed_tokens=seed_tokens,
        min_tokens=min_tokens,
        near_threshold=near_threshold,
        max_gap=max_gap,
    )
    comps = tuple(np.concatenate(p) for p in zip(exact, near_comps, strict=True))
    return _spans(layout, comps, exact)


def _tokens_for(text: pa.Array | pa.ChunkedArray, tokens: BatchTokens | None) -> BatchTokens:
    if tokens is None:
        return batch_tokens(text)
    if len(tokens) != len(text):
        raise ValueError(f"tokens hold {len(tokens)} documents, text has {len(text)}")
    return tokens


def _exact_windows(pos: np.ndarray, head: np.ndarray, k: int, layout: _Layout):
    """Flagged ``k``-token windows as spread components ``(a, b, src_a, src_b)``, by ``a``.

    As in ``repeats._exact_windows``: a window is flagged when its earliest occurrence in the
    document ends before it starts.
    """
    gid, gstart, _ = _group_ids(head)
    first = pos[gstart][gid]
    flagged = pos - first >= k
    later, src = pos[flagged], first[flagged]
    order = np.argsort(later)
    a, src_a = layout.spread(later[order]), layout.spread(src[order])
    return a, a + k - 1, src_a, src_a + k - 1


def _seed_pairs(pos: np.ndarray, head: np.ndarray, min_distance: int):
    """``(later, earlier)`` token positions: each seed window and its nearest copy far enough back.

    As ``chain.seed_pairs``: the earlier copy is the last one at or before ``later -
    min_distance``. Group members are in position order, so it is found by stepping back
    through the group; positions differ by at least one per step, so at most ``min_distance``
    steps are needed.
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


def _near_components(
    later: np.ndarray,
    earlier: np.ndarray,
    *,
    seed_tokens: int,
    min_tokens: int,
    near_threshold: float,
    max_gap: int,
):
    """Near copies as spread components, by the chaining of ``chain.near_copies``."""
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


def _spans(layout: _Layout, comps, exact) -> BatchRepeats:
    """Merge components into spans and describe them as ``find_repeats`` does."""
    span_a, span_b, span_src, span_src_b = _merge_components(*comps)
    doc = layout.doc_of(span_a)
    kept = _resolve_sources(span_a, span_b, span_src, doc)
    ta, tb, sa, sb, kt = (
        layout.token(x, doc) for x in (span_a, span_b, span_src, span_src_b, kept)
    )
    tokens = layout.index.tokens
    char_start, char_end = _snap_punctuation(tokens, ta, tb, sa, sb, doc)
    first_start = tokens.starts[kt].astype(np.int64)
    direct = kept == span_src
    first_start[direct] -= tokens.starts[ta[direct]] - char_start[direct]
    base = tokens.offsets[doc]
    return BatchRepeats(
        doc=doc.astype(np.int64),
        start=char_start - base,
        end=char_end - base,
        first_start=first_start - base,
        count=_copy_numbers(kept),
        exact=_exact_cover(exact[0], exact[1], span_a, span_b),
    )


def _resolve_sources(span_a, span_b, src, doc) -> np.ndarray:
    """``repeats._resolve_sources`` for all spans of the batch at once.

    The per-document loop maps span ``i`` through earlier spans using their already resolved
    sources. Here every span is mapped with the previous round's sources until nothing changes:
    span ``i`` depends only on earlier spans of its document, so the rounds settle on the same
    values, in as many rounds as the longest chain of copies of copies. A document whose spans
    did not change in a round is settled and drops out.
    """
    kept = src.copy()
    active = np.arange(len(src))
    while len(active):
        mapped = _map_back(span_a, span_b, src[active], kept)
        changed = mapped != kept[active]
        kept[active] = mapped
        active = active[np.isin(doc[active], doc[active[changed]])]
    return kept


def _map_back(span_a, span_b, src, kept) -> np.ndarray:
    """Move each source out of the flagged spans it lies in, by those spans' shifts."""
    pos = src.copy()
    live = np.arange(len(src))
    while len(live):
        j = np.searchsorted(span_a, pos[live], side="right") - 1
        inside = (j >= 0) & (pos[live] <= span_b[np.maximum(j, 0)])
        live, j = live[inside], j[inside]
        shift = span_a[j] - kept[j]
        pos[live] -= shift * ((pos[live] - span_a[j] + shift) // shift)
    return pos


def _exact_cover(a: np.ndarray, b: np.ndarray, span_a: np.ndarray, span_b: np.ndarray):
    """Whether each span lies inside the union of the exact ranges ``a..b`` (sorted by ``a``).

    Ranges that overlap or touch cover one run of tokens; a span is covered when one run holds
    it, which is what ``repeats._covered`` tests token by token.
    """
    if len(a) == 0:
        return np.zeros(len(span_a), dtype=bool)
    reach = np.maximum.accumulate(b)
    new = np.ones(len(a), dtype=bool)
    new[1:] = a[1:] > reach[:-1] + 1
    heads = np.flatnonzero(new)
    run_a, run_b = a[heads], np.maximum.reduceat(b, heads)
    j = np.searchsorted(run_a, span_a, side="right") - 1
    return (j >= 0) & (run_b[np.maximum(j, 0)] >= span_b)


def _snap_punctuation(tokens: BatchTokens, ta, tb, sa, sb, doc):
    """Char offsets of the spans, widened over punctuation that the earlier copy shares.

    ``repeats._snap_punctuation`` for all spans at once: the glued punctuation after the last
    token runs to the first whitespace of the gap, the one before the first token back to the
    last whitespace, and it is kept when the source's gap starts (ends) with the same chars.
    """
    cps, starts, ends = tokens.cps, tokens.starts, tokens.ends
    space = _space_table()
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
    pos, owner = _ragged(lo, hi - lo)
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
    pos, owner = _ragged(at, n)
    other = pos - at[owner] + src_at[owner]
    differs = np.zeros(len(at), dtype=bool)
    differs[owner[cps[pos] != cps[other]]] = True
    return fits & ~differs


# --- repetition statistics ----------------------------------------------------------------------


def batch_repetition_stats(
    text: pa.Array | pa.ChunkedArray, tokens: BatchTokens | None = None
) -> dict[str, np.ndarray]:
    """``repetition_stats`` of every document: one float64 array per statistic, batch order.

    Lines and paragraphs are cut from the code points of the whole batch and compared by Arrow's
    dictionary encoding (exact string equality); n-grams are grouped by window hash, each size
    only among the windows that repeat at the size below.
    """
    tokens = _tokens_for(text, tokens)
    stats = _piece_stats(tokens)
    stats.update(_ngram_stats(_Index.of(tokens)))
    return {name: stats[name] for name in GOPHER_REPETITION_LIMITS}


def _piece_stats(tokens: BatchTokens) -> dict[str, np.ndarray]:
    """Duplicate line and paragraph fractions of every document.

    A stripped paragraph runs from the first non-blank line after a blank line (or the start of
    the document) to the last non-blank line before the next one: the ``\\n[^\\S\\n]*\\n\\s*``
    separator of ``stats.py`` is exactly a stretch of whitespace holding two newlines, that is a
    blank line between two non-blank ones.
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
    space = _space_table()
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
    pos, owner = _ragged(lo, hi - lo)
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
    chars = tokens.cps[_ragged(lo[maybe], lens)[0]]
    bounds = np.zeros(len(maybe) + 1, dtype=np.int64)
    np.cumsum(lens, out=bounds[1:])
    ids = pc.dictionary_encode(_binary(chars, bounds)).indices.to_numpy()
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


def _ngram_stats(index: _Index) -> dict[str, np.ndarray]:
    """Top and duplicate n-gram char fractions of every document.

    Windows that occur once at size ``n`` occur once at every larger size, so after the first
    size only the windows that repeated at the size below are grouped.
    """
    tokens, n_docs = index.tokens, len(index)
    cum = np.zeros(len(tokens.hashes) + 1, dtype=np.int64)
    np.cumsum(tokens.ends - tokens.starts, out=cum[1:])
    total = (cum[tokens.tok_offsets[1:]] - cum[tokens.tok_offsets[:-1]]).astype(np.float64)
    low = min(TOP_NGRAM_SIZES)
    pos, head, keys = _repeating(index, _window_table(tokens.hashes, low), low)
    stats = {}
    for n in range(low, max(DUP_NGRAM_SIZES) + 1):
        if n > low:
            pos, head, keys = _refine(index, pos, keys, n - 1, n)
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

    Ties as in ``stats._top_ngram``: most occurrences, then most chars, then earliest first.
    """
    gid, gstart, sizes = _group_ids(head)
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


def _covered(index: _Index, starts: np.ndarray, n: int, cum: np.ndarray) -> np.ndarray:
    """Token chars per document covered by the ``n``-token windows at sorted ``starts``.

    Each window adds the chars up to where the next window starts (or its own end, whichever
    comes first), so overlapping windows count each token once.
    """
    stop = starts + n
    stop[:-1] = np.minimum(stop[:-1], starts[1:])
    chars = (cum[stop] - cum[starts]).astype(np.float64)
    return np.bincount(index.doc(starts), weights=chars, minlength=len(index))
