"""Passages for near-duplicate detection across pages: token windows, their shingles and keys.

A page's passages are windows of ``size`` tokens (the span tokens of
:mod:`dedupe.spans.tokens`: punctuation and layout are not tokens) starting every ``stride``
tokens, plus one window ending at the page's last token so the tail is covered; a page of
fewer than ``size`` tokens (but at least ``min_tokens``) is one passage. Why windows of the token
stream and not the page's paragraphs: a copied passage keeps its words but rarely its layout
(PAN-13's verbatim copies differ from their sources in line breaks; an abstract re-pasted on an
aggregator page loses its paragraphing; extracted web text puts a paragraph on one line or
many), so cutting at line breaks would cut the copy and its source differently. With a stride
of half the window, any copy at least ``size + stride`` tokens long contains a window that lies
wholly inside it in both pages up to ``stride / 2`` tokens of shift, so its passages share most
of their words with a passage of the source.

A passage's shingles are ``ngram``-token runs inside it, hashed from the token hashes (so
case, NFKC forms and punctuation do not matter); its signature is a MinHash of them made by
the document machinery (:func:`dedupe.near.minhash.signatures`). Word 1-grams (the set of a
window's words) are the default: copies edited by shuffling, inserting, dropping and replacing
words (PAN-13's random obfuscation) keep most of their words but few of their word pairs.

A passage's digest hashes its token sequence, so verbatim copies (equal token hashes) are exact
duplicates whatever their punctuation or spacing.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dedupe.near.minhash import signatures
from dedupe.spans.boilerplate import token_runs
from dedupe.spans.windows import window_table
from dedupe.text.hashing import fmix64

__all__ = ["PASSAGE_SCHEME", "Passages", "batch_passages", "passage_windows"]

# bump when a passage's windows, shingles or digest of the same tokens change
PASSAGE_SCHEME = "dedupe-passage-v1"
_DIGEST_SALT = np.uint64(0x2F0F1A3C5B7D9E11)


@dataclass(frozen=True)
class Passages:
    """The passages of a batch: document (batch row), token range ``[lo, hi)`` (absolute in
    the batch's tokens), character range ``[start, end)`` in the document's string, the end of
    the token before it and the start of the token after it (``prev_end``, ``next_start``;
    ``start`` and ``end`` at the page's edges), digest (two uint64), shingle count and MinHash
    signature (``(n, num_perm)`` uint32)."""

    doc: np.ndarray
    lo: np.ndarray
    hi: np.ndarray
    start: np.ndarray
    end: np.ndarray
    prev_end: np.ndarray
    next_start: np.ndarray
    digest: np.ndarray
    n_shingles: np.ndarray
    sig: np.ndarray

    def __len__(self) -> int:
        return len(self.doc)


def passage_windows(tok_offsets: np.ndarray, valid: np.ndarray, size: int, stride: int,
                    min_tokens: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(doc, lo, hi)``: token ranges of every passage of the valid documents, in document
    order then position (see the module docstring for the rule)."""
    counts = np.diff(tok_offsets)
    keep = valid & (counts >= min_tokens)
    # regular windows: starts 0, stride, ... while the window fits
    n_reg = np.where(keep, np.maximum((counts - size) // stride + 1, 1), 0)  # a short page: 1
    last_start = (n_reg - 1) * stride
    tail = keep & (counts > size) & (last_start + size < counts)  # one more window, at the end
    per_doc = n_reg + tail
    doc = np.repeat(np.arange(len(counts), dtype=np.int64), per_doc)
    first = np.concatenate([[0], np.cumsum(per_doc)[:-1]]) if len(per_doc) else per_doc
    k = np.arange(len(doc), dtype=np.int64) - np.repeat(first, per_doc)
    local = k * stride
    is_tail = tail[doc] & (k == n_reg[doc])
    local = np.where(is_tail, counts[doc] - size, local)
    lo = tok_offsets[doc] + local
    hi = np.minimum(lo + size, tok_offsets[doc + 1])
    return doc, lo, hi


def batch_passages(tokens, valid: np.ndarray, *, size: int, stride: int, min_tokens: int,
                   ngram: int, num_perm: int, seed: int) -> Passages:
    """The passages of a batch's valid documents with their digests and signatures
    (``tokens``: the batch's :class:`~dedupe.spans.tokens.BatchTokens`)."""
    doc, lo, hi = passage_windows(tokens.tok_offsets, valid, size, stride, min_tokens)
    h = tokens.hashes
    n_sh = np.maximum(hi - lo - ngram + 1, 0)
    offsets = np.concatenate([[0], np.cumsum(n_sh)]).astype(np.int64)
    if len(h):
        grams = fmix64(window_table(h, ngram))  # the gram starting at every token
        at = (np.repeat(lo - offsets[:-1], n_sh) + np.arange(offsets[-1], dtype=np.int64))
        shingles = (grams[at] >> np.uint64(32)).astype(np.uint32)
    else:
        shingles = np.zeros(0, np.uint32)
    sig = signatures(shingles, offsets, num_perm, seed)
    base = tokens.offsets[doc]
    if len(doc):
        start, end = tokens.starts[lo] - base, tokens.ends[hi - 1] - base
        first, stop = tokens.tok_offsets[doc], tokens.tok_offsets[doc + 1]
        prev_end = np.where(lo > first, tokens.ends[np.maximum(lo - 1, 0)] - base, start)
        next_start = np.where(hi < stop, tokens.starts[np.minimum(hi, len(h) - 1)] - base, end)
    else:
        start = end = prev_end = next_start = lo
    return Passages(doc, lo, hi, start, end, prev_end, next_start, _digests(h, lo, hi),
                    n_sh.astype(np.int32), sig)


def _digests(h: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """``(n, 2)`` uint64: two independent hashes of each passage's token sequence."""
    out = np.zeros((len(lo), 2), np.uint64)
    if len(lo):
        out[:, 0] = token_runs(h, lo, hi)
        out[:, 1] = token_runs(fmix64(h ^ _DIGEST_SALT), lo, hi)
    return out
