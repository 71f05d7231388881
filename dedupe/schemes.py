"""Scheme tags: what every stored digest, signature, band key and span key depends on.

A value written by one run can only be compared with one computed now when both were made the
same way, down to the Unicode version: a letter added in Unicode 14.0 is unassigned to Python
3.10's own data, so under another Python or dedupe the same page could hash differently, and
mixing the two would silently miss duplicates. Each tag is defined next to the code it describes
and bumped when that code changes a value for some input; :func:`schemes` gathers them, every
writer records the same dict, and :func:`scheme_mismatch` is the one comparison:

=================  ==========================================================================
``unicode``        Unicode version of NFKC, categories and case (``dedupe.text.ucd``)
``case_table``     the shipped case table (its Unicode version and file format)
``canonical_text`` the normalisation rules (``dedupe.text.normalize.CANONICAL_SCHEME``)
``digest``         xxh3-128 of the canonical code points (``dedupe.near.exact``)
``minhash``        token and shingle hashes, permutations (``dedupe.text.hashing.HASH_SCHEME``)
``band_key``       the LSH band key of a signature slice (``dedupe.near.lsh``)
``span_tokens``    span token hashes (``dedupe.spans.tokens.TOKEN_HASH_VERSION``)
``line_key``       boilerplate line and paragraph keys (``dedupe.spans.boilerplate``)
=================  ==========================================================================

They are recorded in the sign files' Arrow metadata (a resumed run refuses files of other
schemes), the manifest's Parquet metadata and the report (``scheme.KEY``), and an index header
(``scheme.KEY`` parameters, compared before any signature is).
"""

from __future__ import annotations

from collections.abc import Mapping

from dedupe.near.exact import DIGEST_SCHEME
from dedupe.near.lsh import BAND_KEY_SCHEME
from dedupe.spans.boilerplate import LINE_KEY_SCHEME
from dedupe.spans.tokens import TOKEN_HASH_VERSION
from dedupe.text import ucd
from dedupe.text.hashing import HASH_SCHEME
from dedupe.text.normalize import CANONICAL_SCHEME

__all__ = ["SCHEME_KEYS", "recorded_schemes", "scheme_fields", "scheme_mismatch", "schemes"]

SCHEME_KEYS = (
    "unicode",
    "case_table",
    "canonical_text",
    "digest",
    "minhash",
    "band_key",
    "span_tokens",
    "line_key",
)


def schemes() -> dict[str, str]:
    """The tags of this installation, in ``SCHEME_KEYS`` order.

    Loading the case table first refuses an installation whose case table and ``unicodedata2``
    disagree on the Unicode version, so no artefact is ever tagged with such a mix.
    """
    table = ucd.case_table()
    return {
        "unicode": ucd.UNICODE_VERSION,
        "case_table": table.version,
        "canonical_text": CANONICAL_SCHEME,
        "digest": DIGEST_SCHEME,
        "minhash": HASH_SCHEME,
        "band_key": BAND_KEY_SCHEME,
        "span_tokens": f"dedupe-span-tokens-v{TOKEN_HASH_VERSION}",
        "line_key": LINE_KEY_SCHEME,
    }


def scheme_fields() -> dict[str, str]:
    """:func:`schemes` as flat ``scheme.KEY`` fields, as metadata, reports and headers hold them."""
    return {f"scheme.{key}": value for key, value in schemes().items()}


def recorded_schemes(metadata: Mapping | None, prefix: str = "scheme.") -> dict[str, str]:
    """The tags stored under ``prefix + KEY`` in ``metadata`` (Arrow metadata has bytes keys)."""
    out = {}
    for key, value in (metadata or {}).items():
        key = key.decode() if isinstance(key, bytes) else key
        if key.startswith(prefix):
            out[key[len(prefix) :]] = value.decode() if isinstance(value, bytes) else value
    return out


def scheme_mismatch(recorded: Mapping[str, str]) -> tuple[str, str, str] | None:
    """``(key, recorded value, this installation's value)`` of the first tag that differs.

    A tag the artefact does not record (written before it existed) counts as different: nothing
    proves its values were made the same way. None when every tag agrees.
    """
    for key, value in schemes().items():
        have = recorded.get(key, "(not recorded)")
        if have != value:
            return key, have, value
    return None
