"""Gopher repetition statistics on small texts computed by hand."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dedupe.spans import (
    GOPHER_REPETITION_LIMITS,
    passes_gopher_repetition,
    repetition_stats,
    tokenize_offsets,
)


def test_keys_match_the_published_limits():
    assert list(repetition_stats("x")) == list(GOPHER_REPETITION_LIMITS)
    assert GOPHER_REPETITION_LIMITS["dup_line_frac"] == 0.30
    assert GOPHER_REPETITION_LIMITS["top_3gram_char_frac"] == 0.18
    assert GOPHER_REPETITION_LIMITS["dup_10gram_char_frac"] == 0.10


def test_empty_text_is_all_zero_and_passes():
    stats = repetition_stats("")
    assert set(stats.values()) == {0.0}
    assert passes_gopher_repetition(stats) == (True, "")


def test_duplicate_lines_count_later_copies_after_stripping():
    # Lines: alpha(5) beta(4) alpha(5) beta(4) gamma(5) = 23 chars; blank line ignored.
    stats = repetition_stats("alpha\nbeta\n\nalpha\n  beta  \ngamma")
    assert stats["dup_line_frac"] == pytest.approx(2 / 5)
    assert stats["dup_line_char_frac"] == pytest.approx(9 / 23)


def test_crlf_lines_compare_equal():
    stats = repetition_stats("same\r\nother\r\nsame")
    assert stats["dup_line_frac"] == pytest.approx(1 / 3)


def test_duplicate_paragraphs():
    # Paragraphs: "p one\nline two" (14), "p two" (5), "p one\nline two" (14); a whitespace-only
    # line separates paragraphs like an empty one.
    stats = repetition_stats("p one\nline two\n\np two\n \t\np one\nline two\n")
    assert stats["dup_para_frac"] == pytest.approx(1 / 3)
    assert stats["dup_para_char_frac"] == pytest.approx(14 / 33)
    # Lines: "p one", "line two", "p two", "p one", "line two" -> 2 of 5 repeat (13 of 31 chars).
    assert stats["dup_line_frac"] == pytest.approx(2 / 5)
    assert stats["dup_line_char_frac"] == pytest.approx(13 / 31)


def test_top_ngram_counts_every_occurrence_of_the_most_frequent():
    # Tokens the(3) cat(3) the(3) cat(3) sat(3): "the cat" twice covers 12 of 15 chars.
    stats = repetition_stats("The cat, the cat sat.")
    assert stats["top_2gram_char_frac"] == pytest.approx(12 / 15)
    assert stats["top_3gram_char_frac"] == 0.0  # no trigram occurs twice


def test_top_ngram_overlapping_occurrences_count_tokens_once():
    stats = repetition_stats("ha ha ha ha")
    assert stats["top_2gram_char_frac"] == 1.0
    assert stats["top_3gram_char_frac"] == 1.0
    assert stats["top_4gram_char_frac"] == 0.0


def test_top_ngram_tie_goes_to_the_longer_ngram():
    # "aa b" and "c d" both occur twice; "aa b" has more characters: covers aa b aa b = 6 of 10.
    stats = repetition_stats("aa b aa b c d c d")
    assert stats["top_2gram_char_frac"] == pytest.approx(6 / 10)


def test_dup_ngrams_count_later_copies_in_token_characters():
    # Token chars: one two three four five (19) + X (1) + the copy (19) = 39; copy = 19.
    stats = repetition_stats("one two three four five X one two three four five!")
    assert stats["dup_5gram_char_frac"] == pytest.approx(19 / 39)
    assert stats["dup_6gram_char_frac"] == 0.0


def test_dup_ngrams_may_overlap_their_earlier_copy():
    # 5-grams of a b a b a b a: window 2 repeats window 0 and covers tokens 2..6.
    stats = repetition_stats("a b a b a b a")
    assert stats["dup_5gram_char_frac"] == pytest.approx(5 / 7)
    assert stats["dup_6gram_char_frac"] == 0.0  # ababab and bababa differ


def test_precomputed_tokens_give_the_same_stats():
    # (it compared repetition_stats(text, tokenize_offsets(text)) with repetition_stats(text),
    # which computes exactly that: it could not fail, even if the tokens were ignored)
    import pyarrow as pa

    from dedupe.spans.tokens import batch_tokens

    text = "Some words here. Some words here. And more words follow."
    starts, ends, hashes = tokenize_offsets(text)
    own = repetition_stats(text)
    # tokens made for a whole batch and cut out for one page (offsets shifted back): same stats
    batch = batch_tokens(pa.array(["Another page comes first.", text]))
    assert repetition_stats(text, batch.doc_tokens(1)) == own
    # the given tokens are the ones counted: made all alike, every n-gram repeats
    alike = repetition_stats(text, (starts, ends, np.zeros_like(hashes)))
    assert own["dup_5gram_char_frac"] == 0.0 and alike["dup_5gram_char_frac"] > 0.9
    assert own["top_4gram_char_frac"] == 0.0 and alike["top_4gram_char_frac"] == 1.0


def test_filter_names_the_first_statistic_over_its_limit():
    stats = repetition_stats("alpha\nbeta\n\nalpha\n  beta  \ngamma")
    ok, reason = passes_gopher_repetition(stats)
    assert not ok
    assert reason.startswith("dup_line_frac = 0.400 > 0.3")


def test_filter_limit_itself_passes():
    stats = dict.fromkeys(GOPHER_REPETITION_LIMITS, 0.0)
    stats["dup_10gram_char_frac"] = 0.10
    assert passes_gopher_repetition(stats) == (True, "")
    stats["dup_10gram_char_frac"] = 0.1001
    assert passes_gopher_repetition(stats)[0] is False


def test_filter_rejects_incomplete_stats():
    with pytest.raises(ValueError, match="repetition_stats"):
        passes_gopher_repetition({"dup_line_frac": 0.0})


def test_varied_prose_passes():
    text = (
        "Rivers carry sediment toward the coast.\n\n"
        "Over centuries, deltas grow as that sediment settles where currents slow.\n\n"
        "Engineers who build levees change this balance, and coastal marshes shrink."
    )
    assert passes_gopher_repetition(repetition_stats(text)) == (True, "")


@settings(max_examples=100, deadline=None)
@given(text=st.text(alphabet="ab \n.", max_size=80))
def test_every_statistic_is_a_fraction(text):
    for name, value in repetition_stats(text).items():
        assert 0.0 <= value <= 1.0, name


@given(st.lists(st.lists(st.sampled_from([0.0, 0.05, 0.1, 0.12, 0.2, 0.3, 0.31, 0.9,
                                          float("nan")]),
                         min_size=13, max_size=13), min_size=1, max_size=30))
def test_array_filter_agrees_with_the_per_page_rule(values):
    from dedupe.spans.stats import gopher_failures, gopher_reason

    names = list(GOPHER_REPETITION_LIMITS)
    first = gopher_failures({n: np.array([v[k] for v in values]) for k, n in enumerate(names)})
    for i, v in enumerate(values):
        stats = dict(zip(names, v))
        ok, why = passes_gopher_repetition(stats)
        assert ok == (first[i] < 0)
        if not ok:
            assert why == gopher_reason(names[first[i]], v[first[i]])
