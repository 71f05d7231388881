"""Repeated-span detection: the seed page, planted repeats, periodic text, near copies."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import dedupe.spans as spans_api
from dedupe.spans import DEFAULT_MIN_TOKENS, find_repeats, tokenize_offsets, window_hashes

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
SEED_PAGE = SHARED / "corpus" / "seed_page.txt"
SEPARATORS = (" ", "\n", "  ", "\t", " \n\n")


@pytest.fixture(scope="module")
def seed_page() -> str:
    if not SEED_PAGE.exists():
        pytest.skip(f"seed page not found at {SEED_PAGE} (the ../shared checkout is absent)")
    return SEED_PAGE.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def seed_spans(seed_page: str):
    return find_repeats(seed_page)


def _span_at(spans, start: int) -> int:
    hits = np.flatnonzero(spans.start == start)
    assert len(hits) == 1, f"no span starts at {start}; starts are {spans.start.tolist()}"
    return int(hits[0])


def _words(n: int, seed: int) -> list[str]:
    """``n`` distinct made-up words, so that nothing repeats unless planted."""
    rng = random.Random(seed)
    return [f"{rng.choice('bcdfgklmnprstvz')}{seed:x}o{i:x}q{rng.randrange(100)}" for i in range(n)]


def _join(words: list[str], seps: list[str]) -> tuple[str, list[int], list[int]]:
    text, starts, ends = "", [], []
    for i, word in enumerate(words):
        if i:
            text += seps[i % len(seps)]
        starts.append(len(text))
        text += word
        ends.append(len(text))
    return text, starts, ends


# --- public surface ---------------------------------------------------------------------------


def test_public_names_are_locked():
    assert spans_api.__all__ == [
        "DEFAULT_MIN_TOKENS",
        "GOPHER_REPETITION_LIMITS",
        "TOKEN_HASH_VERSION",
        "RepeatSpans",
        "SpanEdit",
        "find_repeats",
        "merge_spans",
        "passes_gopher_repetition",
        "rebuild",
        "remove_spans",
        "repetition_stats",
        "token_spans",
        "tokenize_offsets",
        "window_hashes",
    ]
    for name in spans_api.__all__:
        assert hasattr(spans_api, name)


# --- the seed page --------------------------------------------------------------------------


# Every span flagged on the seed page at the default min_tokens: (start, first 40 chars).
SEED_GOLDEN = [
    (386, "Detox Shots Target, How To Revive A Plan"),
    (3035, '"Joining" is an essential way of creatin'),
    (6958, "The therapeutic alliance may be the most"),
    (11280, "Neuropsychotherapist on Vimeo.. doi: 10."),
    (11678, "the therapeutic alliance may be the bigg"),
    (12004, "the most important factor in the therape"),
    (13134, "Aspirations for clients ( Lemma 2010 ; c"),
    (13401, "the most important factor in the therape"),
    (15211, "the most important factor in the therape"),
    (16112, "the most important factor in the therape"),
    (17219, "Aged our attitude to our health care and"),
    (17369, "Sunday 8am-8pm, Harley Street City of Lo"),
    (18089, "Article has discussed the need and proce"),
    (19005, "care and our healthcare professional mus"),
    (19411, "Alliance: Exploring the Concept of \u2018 saf"),
    (19716, "the most important factor in the therape"),
    (19815, "Advertisements on this website or link t"),
    # two repeated phrases four words apart, joined as one near copy since the threshold is
    # 0.7 (DEFAULT_NEAR_THRESHOLD)
    (20405, "loved for being ourselves or to rely on "),
    (20695, "to be loved for being ourselves or to re"),
    (20888, "Exploring the Concept of \u2018 safety \u2019 from"),
    (20994, "Resolving the auto-double-bind, therapeu"),
    (21298, "Dd study, the current study examined the"),
    (21411, "Detox Shots Target, How To Revive A Plan"),
]


def test_seed_page_golden_spans(seed_page, seed_spans):
    found = [(int(s), seed_page[s : s + 40]) for s in seed_spans.start]
    assert found == SEED_GOLDEN


def test_seed_title_list_second_and_third_copies_flagged_first_kept(seed_page, seed_spans):
    title_list = seed_page[: seed_page.index('" />')].rstrip()
    assert title_list.endswith("Step By Step,")
    second = seed_page.index(title_list, 1)
    third = seed_page.index(title_list, second + 1)
    assert not np.any(seed_spans.start < len(title_list)), "the first title list must stay"
    for copy, count in ((second, 2), (third, 3)):
        i = _span_at(seed_spans, copy)
        assert seed_spans.end[i] == copy + len(title_list)  # trailing comma included
        assert seed_spans.first_start[i] == 0
        assert seed_spans.count[i] == count
        assert seed_spans.exact[i]


def test_seed_cut_short_doi_fragment_points_at_full_copy(seed_page, seed_spans):
    fragment = "Neuropsychotherapist on Vimeo.. doi: 10.12744/ijnpt.2013.0021-0029"
    full_copy = seed_page.index(
        "The Neuropsychotherapist on Vimeo.. doi: 10.12744/ijnpt.2013.0021-0029."
    )
    later = seed_page.index(fragment, full_copy + 10)
    assert seed_page[later + len(fragment) :].startswith(" is perhaps")  # cut short, spliced
    i = _span_at(seed_spans, later)
    assert seed_spans.end[i] == later + len(fragment)
    assert seed_spans.first_start[i] == full_copy + len("The ")


def test_seed_cut_short_abstract_is_flagged_up_to_the_cut(seed_page, seed_spans):
    first = seed_page.index('"Joining" is an essential way')
    later = seed_page.index('"Joining" is an essential way', first + 1)
    cut = seed_page.index(" ... [Show full abstract]")
    i = _span_at(seed_spans, later)
    assert (seed_spans.end[i], seed_spans.first_start[i]) == (cut, first)


def test_seed_repeated_heading_counts_its_copies(seed_page, seed_spans):
    heading = "the most important factor in the therapeutic alliance is the:"
    first = seed_page.index(heading)
    rows = np.flatnonzero(seed_spans.first_start == first)
    assert seed_spans.count[rows].tolist() == [2, 3, 4, 5, 6]


def test_seed_text_that_occurs_once_is_not_flagged(seed_page, seed_spans):
    for sentence in (
        "He believed that a therapist who displayed the three attitudes of congruence",
        "Founded in 2006, we are an award-winning group connecting you",
        "the therapeutic alliance is the:\n\nfocused on the physiotherapist",
    ):
        at = seed_page.index(sentence)
        assert seed_page.count(sentence) == 1
        assert not np.any((seed_spans.start < at + len(sentence)) & (seed_spans.end > at))


def test_seed_every_span_repeats_an_earlier_copy(seed_page, seed_spans):
    """Each flagged min_tokens window of an exact span occurs at an earlier, non-overlapping
    position (a near copy's windows need not: its edits are what make it near)."""
    starts, _, hashes = tokenize_offsets(seed_page)
    windows = window_hashes(hashes, DEFAULT_MIN_TOKENS)
    first_pos = {}
    for i, h in enumerate(windows.tolist()):
        first_pos.setdefault(h, i)
    assert seed_spans.exact.sum() >= len(seed_spans) - 1
    for s, e, exact in zip(seed_spans.start, seed_spans.end, seed_spans.exact, strict=True):
        if not exact:
            continue
        toks = np.flatnonzero((starts >= s) & (starts < e))
        for i in range(toks[0], toks[-1] - DEFAULT_MIN_TOKENS + 2):
            assert first_pos[int(windows[i])] + DEFAULT_MIN_TOKENS <= i


def test_seed_spans_have_no_outer_whitespace(seed_page, seed_spans):
    for s, e in zip(seed_spans.start, seed_spans.end, strict=True):
        piece = seed_page[s:e]
        assert piece == piece.strip()


# --- planted repeats -------------------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(40, 160),
    data=st.data(),
    near=st.booleans(),
)
def test_exactly_the_planted_later_copy_is_flagged(n, data, near):
    words = _words(n, seed=n)
    length = data.draw(st.integers(DEFAULT_MIN_TOKENS, 40))
    p = data.draw(st.integers(0, n - length))
    q = data.draw(st.integers(p + length, n))  # the copy goes in after the original ends
    planted = words[:q] + words[p : p + length] + words[q:]
    seps = data.draw(st.lists(st.sampled_from(SEPARATORS), min_size=1, max_size=5))
    text, starts, ends = _join(planted, seps)
    got = find_repeats(text, near=near)
    assert got.start.tolist() == [starts[q]]
    assert got.end.tolist() == [ends[q + length - 1]]
    assert got.first_start.tolist() == [starts[p]]
    assert got.count.tolist() == [2]


@settings(max_examples=30, deadline=None)
@given(length=st.integers(1, DEFAULT_MIN_TOKENS - 1), near=st.booleans())
def test_repeats_shorter_than_min_tokens_are_not_flagged(length, near):
    words = _words(60, seed=length)
    text, _, _ = _join(words[:40] + words[5 : 5 + length] + words[40:], [" "])
    assert len(find_repeats(text, near=near)) == 0


def _naive_flagged(tokens: list[str], k: int) -> set[int]:
    flagged: set[int] = set()
    for i in range(len(tokens) - k + 1):
        if any(tokens[j : j + k] == tokens[i : i + k] for j in range(i - k + 1)):
            flagged.update(range(i, i + k))
    return flagged


@settings(max_examples=150, deadline=None)
@given(tokens=st.lists(st.sampled_from("abc"), max_size=60), k=st.integers(2, 6))
def test_exact_spans_match_brute_force(tokens, k):
    """Exact mode flags a token iff it lies in a k-window with an earlier non-overlapping copy."""
    text = " ".join(tokens)
    got = find_repeats(text, min_tokens=k, near=False)
    starts = np.arange(len(tokens)) * 2
    flagged = set()
    for s, e in zip(got.start, got.end, strict=True):
        flagged.update(np.flatnonzero((starts >= s) & (starts < e)).tolist())
    assert flagged == _naive_flagged(tokens, k)
    assert np.all(got.first_start < got.start)
    assert np.all(got.start[1:] > got.end[:-1])


def test_periodic_text_keeps_the_first_period_whole():
    # 4-token windows: "a b a b" at 4 repeats the one at 0 without overlapping it.
    for near in (False, True):
        got = find_repeats("a b a b a b a b", min_tokens=4, near=near)
        assert (got.start.tolist(), got.end.tolist(), got.first_start.tolist()) == ([8], [15], [0])


def test_long_periodic_text_is_one_span():
    text = "ha " * 300
    got = find_repeats(text)
    assert got.start.tolist() == [3 * DEFAULT_MIN_TOKENS]
    assert got.end.tolist() == [len(text) - 1]
    assert got.first_start.tolist() == [0]


def test_empty_and_tiny_texts():
    for text in ("", "   ", "one", "a b c", "!!! ..."):
        assert len(find_repeats(text)) == 0
    assert find_repeats("").to_arrow().num_rows == 0


def test_glued_punctuation_follows_the_earlier_copy():
    body = "(" + " ".join(_words(12, seed=3)) + "),"
    text = f"{body} middle words here {body} end"
    got = find_repeats(text)
    later = text.index(body, 1)
    assert (got.start.tolist(), got.end.tolist()) == ([later], [later + len(body)])
    assert got.first_start.tolist() == [0]


def test_copy_of_a_copy_points_at_the_kept_text():
    a = " ".join(_words(15, seed=4))
    gap = _words(30, seed=5)
    text = f"{a} {' '.join(gap[:15])} {a} {' '.join(gap[15:])} {a}"
    got = find_repeats(text)
    assert got.first_start.tolist() == [0, 0]
    assert got.count.tolist() == [2, 3]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"min_tokens": 0}, "min_tokens"),
        ({"min_tokens": 8, "seed_tokens": 9}, "seed_tokens"),
        ({"near_threshold": 0.0}, "near_threshold"),
        ({"near_threshold": 1.5}, "near_threshold"),
        ({"max_gap": -1}, "max_gap"),
    ],
)
def test_bad_parameters_are_named(kwargs, message):
    with pytest.raises(ValueError, match=message):
        find_repeats("some text", **kwargs)


# --- near copies -----------------------------------------------------------------------------

PARAGRAPH_TEXT = (
    "Rain gauges along the northern ridge recorded almost twice the usual autumn total, and "
    "the survey team moved its spring measurements forward by three weeks so that the soil "
    "samples would still reflect the wet season before the reservoir was drained"
)
PARAGRAPH = PARAGRAPH_TEXT.split(" ")


def _with_paragraph_copy(copy: list[str]) -> tuple[str, int, int, int]:
    filler = _words(90, seed=11)
    text, starts, ends = _join(filler[:30] + PARAGRAPH + filler[30:60] + copy + filler[60:], [" "])
    first, later = starts[30], starts[30 + len(PARAGRAPH) + 30]
    return text, first, later, ends[30 + len(PARAGRAPH) + 30 + len(copy) - 1]


@pytest.mark.parametrize(
    "edit",
    [
        {14: "quickly"},  # one word changed
        {9: "three", 13: "its"},  # two words changed, four tokens apart
        {20: "winter", 33: "were"},  # two words changed far apart
    ],
)
def test_near_copy_with_changed_words_is_flagged_whole(edit):
    copy = [edit.get(i, w) for i, w in enumerate(PARAGRAPH)]
    text, first, later, end = _with_paragraph_copy(copy)
    got = find_repeats(text)
    assert (got.start.tolist(), got.end.tolist()) == ([later], [end])
    assert got.first_start.tolist() == [first]
    assert got.exact.tolist() == [False]
    exact_only = find_repeats(text, near=False)
    assert int((exact_only.end - exact_only.start).sum()) < end - later


def test_near_copy_cut_short_is_flagged_up_to_the_cut():
    copy = PARAGRAPH[:24]
    copy[7] = "nearly"
    text, first, later, end = _with_paragraph_copy(copy)
    got = find_repeats(text)
    assert (got.start.tolist(), got.end.tolist(), got.first_start.tolist()) == (
        [later],
        [end],
        [first],
    )


def test_near_copy_with_a_word_dropped_is_flagged():
    copy = PARAGRAPH[:12] + PARAGRAPH[13:]
    text, first, later, end = _with_paragraph_copy(copy)
    got = find_repeats(text)
    assert (got.start.tolist(), got.end.tolist()) == ([later], [end])
    assert got.first_start.tolist() == [first]


def test_near_threshold_separates_light_from_heavy_edits():
    # One word in seven replaced: 6/7 = 86% of tokens match, above the 0.7 threshold.
    light = [w if i % 7 else "zz" for i, w in enumerate(PARAGRAPH)]
    text, first, later, end = _with_paragraph_copy(light)
    got = find_repeats(text)
    assert (got.start.tolist(), got.first_start.tolist()) == ([later + 3], [first + len("Rain ")])
    assert got.end.tolist() == [end]
    # Two words in seven replaced: at most 5/7 = 71% match: found at the default 0.7, not at 0.8
    heavy = [w if i % 7 > 1 else "zz" for i, w in enumerate(PARAGRAPH)]
    text, _, _, _ = _with_paragraph_copy(heavy)
    assert len(find_repeats(text)) == 1
    assert len(find_repeats(text, near_threshold=0.8)) == 0
    # Three words in seven replaced: at most 4/7 = 57% match, so nothing is flagged.
    heavier = [w if i % 7 > 2 else "zz" for i, w in enumerate(PARAGRAPH)]
    text, _, _, _ = _with_paragraph_copy(heavier)
    assert len(find_repeats(text)) == 0
