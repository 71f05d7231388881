"""Word tokens with character offsets and 64-bit hashes, for a whole batch of documents at once.

Repeats inside a page are found by comparing token hashes and reported as offsets into the
original string, so every token keeps its ``[start, end)`` position (Python ``str`` indices).
Punctuation and whitespace are not tokens: a re-pasted passage matches its original even when
the markup or spacing around it differs.

What a token is comes from ``dedupe.text.tokens``, so span detection and the MinHash word
shingles agree: a run of letters, marks and digits, with every character of a script written
without spaces (Han, Hiragana, Katakana, Thai, Lao, Khmer, Myanmar) a token of its own, so a
Japanese or Thai paragraph is not one giant token that could never match a part of itself. The
underscore is punctuation.

Hashes are ``xxh3_64`` of the NFKC-normalised, case-folded token, so fullwidth "FOO"
(U+FF26 U+FF2F U+FF2F), "FOO" and "foo" match; NFKC and case folding are those of the pinned
Unicode data (:mod:`dedupe.text.ucd`), not the running Python's, so a key stored in an index
under one Python matches the same line under another. ``TOKEN_HASH_VERSION`` names this scheme
(1: the interpreter's Unicode data; 2: the pinned data); bump it when the normalisation or the
hash changes, so that stored hashes are never compared across schemes.

A batch is decoded and tokenised once (one ``dedupe.text.tokens.tokenize`` call), and only
distinct tokens reach Python: one Arrow hash pass over the batch finds them, they are normalised
in one call and hashed once each. A single document (``tokenize_offsets``) is a batch of one.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import xxhash

from dedupe.spans.arrays import MAX_CODE_POINT, binary_array
from dedupe.text import ucd
from dedupe.text.codepoints import decode_utf8
from dedupe.text.tokens import SEPARATOR, char_classes, tokenize

__all__ = [
    "TOKEN_HASH_VERSION",
    "BatchTokens",
    "batch_tokens",
    "checked_tokens",
    "document_tokens",
    "normalise",
    "token_hash",
    "token_spans",
    "tokenize_offsets",
]

TOKEN_HASH_VERSION = 2


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
    """Tokenise a whole string array (nulls read as empty) in one pass."""
    return _tokenise(*decode_utf8(_string_array(text)))


def document_tokens(
    text: str, tokens: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
) -> BatchTokens:
    """The tokens of one document as a batch of one.

    ``tokens`` takes a precomputed ``tokenize_offsets(text)``. Lone surrogates pass through
    (they are separators), so any Python string works, not only one Arrow can hold.
    """
    cps = _code_points(text)
    offsets = np.array([0, len(cps)], dtype=np.int64)
    if tokens is None:
        return _tokenise(cps, offsets)
    starts, ends, hashes = tokens
    tok_offsets = np.array([0, len(starts)], dtype=np.int64)
    starts, ends = np.asarray(starts, np.int64), np.asarray(ends, np.int64)
    return BatchTokens(cps, offsets, starts, ends, tok_offsets, np.asarray(hashes, np.uint64))


def checked_tokens(text: pa.Array | pa.ChunkedArray, tokens: BatchTokens | None) -> BatchTokens:
    """``tokens`` (a precomputed ``batch_tokens(text)``) if given, checked against ``text``,
    else the tokens of ``text``."""
    if tokens is None:
        return batch_tokens(text)
    if len(tokens) != len(text):
        raise ValueError(f"tokens hold {len(tokens)} documents, text has {len(text)}")
    return tokens


def tokenize_offsets(text: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return ``(starts, ends, hashes)`` of the tokens of ``text``.

    ``starts``/``ends`` are int64 str indices into ``text``; ``hashes`` is uint64.
    """
    return document_tokens(text).doc_tokens(0)


def token_spans(text: str) -> tuple[np.ndarray, np.ndarray]:
    """Start and end offsets (int64, sorted, disjoint) of the tokens of ``text``."""
    cps = _code_points(text)
    starts, ends, _ = tokenize(cps, np.array([0, len(cps)], dtype=np.int64))
    return starts, ends


def normalise(text: str) -> str:
    """NFKC, then case folding, over the pinned Unicode data: what a token hash sees."""
    return ucd.casefold(ucd.nfkc(text))


def token_hash(token: str) -> int:
    """64-bit hash of one token after NFKC normalisation and case folding."""
    return xxhash.xxh3_64_intdigest(normalise(token).encode())


def _code_points(text: str) -> np.ndarray:
    """Code points of ``text`` (index ``i`` is ``text[i]``); lone surrogates pass through."""
    return np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)


def _tokenise(cps: np.ndarray, offsets: np.ndarray) -> BatchTokens:
    """Tokens of the documents ``cps[offsets[i]:offsets[i+1]]``.

    Boundaries come from ``dedupe.text.tokens.tokenize``, the hashes from ``_token_hashes``.
    """
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
    table = np.ones(MAX_CODE_POINT, dtype=bool)
    table[:0x10000] = char_classes() != SEPARATOR
    return table


def _narrow(cps: np.ndarray) -> np.ndarray:
    """The code points in the narrowest unsigned type that holds them all.

    Arrow hashes bytes, so narrower units hash faster; strings stay distinct because every unit
    holds one whole code point.
    """
    top = int(cps.max()) if len(cps) else 0
    dtype = np.uint8 if top < 0x100 else np.uint16 if top < 0x10000 else np.uint32
    return cps.astype(dtype)


def _token_hashes(cps: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """Hash of every token: xxh3 of its normalised text, each distinct string done once.

    Arrow dictionary-encodes each token together with the separators after it (contiguous
    strings, so no copy); an entry's token is its leading run of token chars, so equal entries
    hold equal tokens. Distinct tokens are then normalised in one call and hashed once each.
    """
    if len(starts) == 0:
        return np.zeros(0, dtype=np.uint64)
    units = _narrow(cps)
    encoded = pc.dictionary_encode(binary_array(units, np.append(starts, len(cps))))
    words = _entry_tokens(encoded.dictionary, units.dtype).split("\x00")
    distinct = dict.fromkeys(words)
    normalised = normalise("\x00".join(distinct)).split("\x00")
    for word, norm in zip(distinct, normalised, strict=True):
        distinct[word] = xxhash.xxh3_64_intdigest(norm.encode())
    digests = np.fromiter((distinct[w] for w in words), dtype=np.uint64, count=len(words))
    return digests[encoded.indices.to_numpy()]


def _entry_tokens(entries: pa.Array, dtype: np.dtype) -> str:
    """The token of every dictionary entry (token + separators), joined with NUL.

    Tokens never hold a NUL, and NFKC and case folding never act across one (NFKC never
    composes across a NUL, case folding works character by character), so the tokens can be
    normalised in one call and split again.
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
