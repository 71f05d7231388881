"""Hashes of windows of consecutive tokens, and groups of equal windows inside each document.

A window of ``k`` tokens hashes to ``sum(h[i+j] * B**(k-1-j)) mod 2**64`` (Horner's rule over
shifted arrays, no Python loop over tokens; uint64 arithmetic wraps, which is exactly the
reduction mod 2**64). With random 64-bit token hashes two different windows collide with
probability about 2**-64.

Finding equal windows. Nearly every window of a page occurs once, so a batch first sorts a
32-bit fingerprint per window (top hash bits xor a document tag), which is cheap, and only the
windows whose fingerprint repeats are grouped by their full 64-bit hash. That grouping sorts
one ``uint64`` per window, the hash with its low bits replaced by the window's rank (sorting
values is several times faster than an argsort); the truncated hashes are then checked against
the full ones, and in the rare batch where two different windows of one document share the kept
bits, the exact argsort decides. Longer windows are grouped only among positions whose shorter
prefix window repeats (equal windows start with equal prefixes), so the n-gram statistics for
n = 2..10 cost little more than the bigrams.

Documents stay apart: a window is used only where it fits inside its document, and groups of
equal windows split wherever the document changes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dedupe.spans.tokens import BatchTokens

__all__ = [
    "WINDOW_BASE",
    "TokenIndex",
    "group_ids",
    "refine",
    "repeating",
    "window_hashes",
    "window_table",
]

# Odd multiplier of the polynomial window hash: odd numbers are invertible mod 2**64, so no
# power of it collapses to zero and every token of a window keeps influencing the sum.
WINDOW_BASE = np.uint64(0x9E3779B97F4A7C15)


def window_hashes(hashes: np.ndarray, k: int) -> np.ndarray:
    """Hash of every window of ``k`` consecutive tokens: ``sum(h[i+j] * B**(k-1-j)) mod 2**64``.

    Only the windows that fit: ``len(hashes) - k + 1`` of them (none if fewer tokens).
    """
    if k < 1:
        raise ValueError(f"window length must be at least 1 token, got {k}")
    count = len(hashes) - k + 1
    if count <= 0:
        return np.empty(0, dtype=np.uint64)
    return window_table(np.asarray(hashes, dtype=np.uint64), k)[:count]


@dataclass(frozen=True)
class TokenIndex:
    """A batch's tokens with the document of every token, for lookups by position."""

    tokens: BatchTokens
    tdoc: np.ndarray

    @classmethod
    def of(cls, tokens: BatchTokens) -> TokenIndex:
        return cls(tokens, tokens.token_doc())

    def __len__(self) -> int:
        return len(self.tokens)

    def doc(self, pos: np.ndarray) -> np.ndarray:
        """Document of each token position."""
        return self.tdoc[pos]

    def room(self, pos: np.ndarray) -> np.ndarray:
        """Tokens from each position to the end of its document, itself included."""
        return self.tokens.tok_offsets[self.tdoc[pos] + 1] - pos


def window_table(hashes: np.ndarray, width: int) -> np.ndarray:
    """Hash of the ``width``-token window starting at every token of the batch.

    The last ``width - 1`` entries have no such window and hold shorter ones (callers only use
    windows that fit in their document).
    """
    windows = hashes.copy()
    for w in range(2, width + 1):
        count = len(hashes) - w + 1
        if count > 0:
            head = windows[:count]
            head *= WINDOW_BASE
            head += hashes[w - 1 :]
    return windows


def repeating(index: TokenIndex, windows: np.ndarray, width: int):
    """Groups of equal windows, two or more per document, from a table of all window hashes.

    Returns ``(pos, head, keys)``: positions ordered group by group (rising inside a group), a
    mask of each group's first member (its earliest occurrence) and the window hashes, in that
    order. A window is grouped only if its 32-bit fingerprint repeats.
    """
    pos = _fingerprint_repeats(windows, index.tdoc)
    pos = pos[index.room(pos) >= width]
    return _drop_singletons(*_group_windows(pos, windows[pos], index.doc(pos)))


def refine(index: TokenIndex, pos, keys, have: int, want: int):
    """Groups of equal ``want``-token windows among grouped ``have``-token windows.

    Equal windows of ``want`` tokens begin with equal windows of ``have`` tokens, so only
    members of repeating ``have`` groups (with room for ``want`` tokens) can repeat. Takes and
    returns groups as ``repeating`` does.
    """
    fits = index.room(pos) >= want
    order = np.argsort(pos[fits])
    pos, keys = pos[fits][order], keys[fits][order]
    hashes = index.tokens.hashes
    for j in range(have, want):  # keys is a fresh gathered array: extend it in place
        keys *= WINDOW_BASE
        keys += hashes[pos + j]
    return _drop_singletons(*_group_windows(pos, keys, index.doc(pos)))


def group_ids(head: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(group of each member, first member of each group, size of each group)``."""
    gstart = np.flatnonzero(head)
    sizes = np.diff(np.append(gstart, len(head)))
    return np.cumsum(head) - 1, gstart, sizes


def _rank_bits(m: int) -> int:
    """Low bits of a packed key that hold a window's rank among ``m`` windows."""
    return max(1, (m - 1).bit_length())


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


def _drop_singletons(pos: np.ndarray, head: np.ndarray, keys: np.ndarray):
    """Keep the members of groups with two or more members."""
    gid, _, sizes = group_ids(head)
    keep = sizes[gid] >= 2
    return pos[keep], head[keep], keys[keep]
