"""Tokens with str offsets (boundaries from dedupe.text.tokens) and normalised 64-bit hashes."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from dedupe.spans import token_spans, tokenize_offsets, window_hashes
from dedupe.spans.tokens import token_hash


def _tokens(text: str) -> list[str]:
    starts, ends, _ = tokenize_offsets(text)
    return [text[s:e] for s, e in zip(starts, ends, strict=True)]


def test_words_digits_and_punctuation():
    text = "Porter-cable 345, doi: 10.12744/ijnpt; snake_case it's"
    assert _tokens(text) == [
        "Porter", "cable", "345", "doi", "10", "12744", "ijnpt", "snake", "case", "it", "s"
    ]  # fmt: skip


def test_scripts_without_spaces_give_one_token_per_character():
    assert _tokens("東京は晴れ") == ["東", "京", "は", "晴", "れ"]
    assert _tokens("ภาษา") == ["ภ", "า", "ษ", "า"]
    assert _tokens("カタカナ abc") == ["カ", "タ", "カ", "ナ", "abc"]
    assert _tokens("\U00020000\U00020001") == ["\U00020000", "\U00020001"]  # CJK extension B


def test_combining_marks_stay_inside_their_word():
    assert _tokens("हिन्दी भाषा") == ["हिन्दी", "भाषा"]
    assert _tokens("cafe\u0301 ok") == ["cafe\u0301", "ok"]
    assert _tokens("x\U00011038y") == ["x\U00011038y"]  # Brahmi vowel sign, outside the BMP


def test_lone_surrogates_are_separators():
    assert _tokens("broken\udc80text here") == ["broken", "text", "here"]


def test_hashes_ignore_case_and_compatibility_forms():
    _, _, hashes = tokenize_offsets("Word WORD word \uff37\uff4f\uff52\uff44 other")
    assert len(set(hashes[:4].tolist())) == 1
    assert hashes[4] != hashes[0]
    assert hashes.dtype == np.uint64
    assert int(hashes[0]) == token_hash("word")


def test_empty_text():
    starts, ends, hashes = tokenize_offsets("")
    assert len(starts) == len(ends) == len(hashes) == 0
    assert len(window_hashes(hashes, 3)) == 0


@settings(max_examples=200, deadline=None)
@given(text=st.text(max_size=80))
def test_offsets_are_sorted_disjoint_and_hashes_match_the_slices(text):
    starts, ends, hashes = tokenize_offsets(text)
    assert np.all(starts < ends)
    assert np.all(starts[1:] >= ends[:-1])
    assert np.array_equal(token_spans(text)[0], starts)
    for s, e, h in zip(starts.tolist(), ends.tolist(), hashes.tolist(), strict=True):
        assert h == token_hash(text[s:e])
        assert not text[s].isspace() and not text[e - 1].isspace()


@settings(max_examples=100, deadline=None)
@given(hashes=st.lists(st.integers(0, 2**64 - 1), max_size=30), k=st.integers(1, 6))
def test_window_hash_is_the_polynomial_of_its_tokens(hashes, k):
    arr = np.array(hashes, dtype=np.uint64)
    got = window_hashes(arr, k)
    base = 0x9E3779B97F4A7C15
    for i in range(len(hashes) - k + 1):
        want = 0
        for h in hashes[i : i + k]:
            want = (want * base + h) % 2**64
        assert int(got[i]) == want
