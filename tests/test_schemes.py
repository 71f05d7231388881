"""Scheme tags: one dict, recorded by every writer and checked before anything is compared."""

from __future__ import annotations

from dedupe.schemes import SCHEME_KEYS, scheme_mismatch, schemes


def test_schemes_name_every_tag_and_the_unicode_version():
    tags = schemes()
    assert tuple(tags) == SCHEME_KEYS
    assert tags["unicode"] == "18.0.0" and tags["case_table"].startswith("18.0.0/")
    assert tags["minhash"] == "dedupe-minhash-v2" and tags["span_tokens"] == "dedupe-span-tokens-v2"


def test_mismatch_names_the_first_tag_that_differs_or_is_missing():
    tags = schemes()
    assert scheme_mismatch(tags) is None
    assert scheme_mismatch({**tags, "unicode": "14.0.0"}) == ("unicode", "14.0.0", "18.0.0")
    older = {k: v for k, v in tags.items() if k != "line_key"}
    assert scheme_mismatch(older) == ("line_key", "(not recorded)", tags["line_key"])
