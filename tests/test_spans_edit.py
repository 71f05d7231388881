"""Span merging and span removal: exact undo, tidy seams, and the facts that make them safe."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dedupe.spans import find_repeats, merge_spans, rebuild, remove_spans, token_spans

SEED_PAGE = Path(__file__).resolve().parents[1].parent / "shared" / "corpus" / "seed_page.txt"

# Small alphabet with every character class the editor treats differently.
TEXTS = st.text(alphabet="ab. ,\n\t\r\u00e9\u6771\u00a0", max_size=60)


@st.composite
def text_and_spans(draw, texts=TEXTS):
    text = draw(texts)
    bound = st.integers(0, len(text))
    pairs = draw(st.lists(st.tuples(bound, bound), max_size=6))
    starts = [min(p) for p in pairs]
    ends = [max(p) for p in pairs]
    return text, starts, ends


def _coverage(starts, ends, size: int) -> np.ndarray:
    covered = np.zeros(size, dtype=bool)
    for s, e in zip(starts, ends, strict=True):
        covered[s:e] = True
    return covered


# --- merge_spans -----------------------------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(
    pairs=st.lists(st.tuples(st.integers(0, 50), st.integers(0, 12)), max_size=12),
)
def test_merge_is_sorted_disjoint_non_adjacent_union(pairs):
    starts = [s for s, _ in pairs]
    ends = [s + n for s, n in pairs]
    s, e = merge_spans(starts, ends)
    assert s.dtype == np.int64 and e.dtype == np.int64
    assert np.all(s < e)
    assert np.all(s[1:] > e[:-1])  # sorted, disjoint and not touching
    assert np.array_equal(_coverage(s, e, 70), _coverage(starts, ends, 70))


@settings(max_examples=200, deadline=None)
@given(data=text_and_spans(st.text(alphabet="ab .,-\n", max_size=50)))
def test_merge_with_text_bridges_only_wordless_gaps(data):
    text, starts, ends = data
    s, e = merge_spans(starts, ends, text)
    merged = _coverage(s, e, len(text))
    given_cov = _coverage(starts, ends, len(text))
    assert np.all(merged >= given_cov)
    tok_s, tok_e = token_spans(text)
    word = _coverage(tok_s, tok_e, len(text))
    assert not np.any(merged & ~given_cov & word), "a bridged gap must hold no token character"
    for gap_start, gap_end in zip(e[:-1], s[1:], strict=True):
        assert word[gap_start:gap_end].any(), "a gap left open must hold a token character"
    assert np.array_equal(merge_spans(s, e, text)[0], s)  # idempotent


def test_merge_examples():
    assert [x.tolist() for x in merge_spans([5, 0, 3, 9], [7, 2, 5, 9])] == [[0, 3], [2, 7]]
    text = "alpha, beta - gamma delta"
    s, e = merge_spans([0, 7, 20], [5, 11, 25], text)
    assert (s.tolist(), e.tolist()) == ([0, 20], [11, 25])


@pytest.mark.parametrize(
    ("starts", "ends", "message"),
    [([0, 1], [2], "differ in length"), ([3], [2], "start <= end"), ([-1], [2], "start <= end")],
)
def test_merge_rejects_bad_intervals(starts, ends, message):
    with pytest.raises(ValueError, match=message):
        merge_spans(starts, ends)


def test_merge_rejects_interval_past_text():
    with pytest.raises(ValueError, match="past the text"):
        merge_spans([0], [10], "short")


# --- remove_spans and rebuild ----------------------------------------------------------------


@settings(max_examples=400, deadline=None)
@given(data=text_and_spans())
def test_rebuild_returns_the_original_exactly(data):
    text, starts, ends = data
    edit = remove_spans(text, starts, ends)
    assert rebuild(edit.text, edit.positions, edit.removed) == text
    assert edit.rebuild() == text
    assert np.all(np.diff(edit.positions) > 0)


@settings(max_examples=300, deadline=None)
@given(data=text_and_spans())
def test_every_span_leaves_and_only_whitespace_besides(data):
    text, starts, ends = data
    edit = remove_spans(text, starts, ends)
    # Where each removed piece stood in the original text.
    origin = edit.positions + np.concatenate(([0], np.cumsum([len(r) for r in edit.removed])))[:-1]
    cut = _coverage(origin, origin + np.array([len(r) for r in edit.removed], dtype=int), len(text))
    spans = _coverage(starts, ends, len(text))
    assert np.all(cut >= spans), "every character of every span is removed"
    extra = [ch for ch, c, sp in zip(text, cut, spans, strict=True) if c and not sp]
    assert all(ch.isspace() for ch in extra), "only whitespace goes beyond the spans"


@settings(max_examples=300, deadline=None)
@given(data=text_and_spans())
def test_cuts_create_no_new_whitespace_patterns(data):
    text, starts, ends = data
    kept = remove_spans(text, starts, ends).text
    for pattern in ("  ", "\n\n\n", "\t\t", " \t", "\t "):
        if pattern not in text:
            assert pattern not in kept
    if not text[:1].isspace():
        assert not kept[:1].isspace()
    if not text[-1:].isspace():
        assert not kept[-1:].isspace()


@settings(max_examples=300, deadline=None)
@given(data=text_and_spans())
def test_seam_has_at_most_one_blank_line(data):
    text, starts, ends = data
    edit = remove_spans(text, starts, ends)
    for pos in edit.positions.tolist():
        lo, hi = pos, pos
        while lo > 0 and edit.text[lo - 1].isspace():
            lo -= 1
        while hi < len(edit.text) and edit.text[hi].isspace():
            hi += 1
        assert edit.text[lo:hi].count("\n") <= 2


@settings(max_examples=200, deadline=None)
@given(data=text_and_spans(), cut=st.integers(0, 60))
def test_splitting_a_span_changes_nothing(data, cut):
    text, starts, ends = data
    whole = remove_spans(text, starts, ends)
    split_s, split_e = [], []
    for s, e in zip(starts, ends, strict=True):
        m = min(max(s, cut), e)
        split_s += [s, m]
        split_e += [m, e]
    halves = remove_spans(text, split_s, split_e)
    assert halves.text == whole.text
    assert halves.removed == whole.removed


@settings(max_examples=100, deadline=None)
@given(text=TEXTS)
def test_removing_nothing_is_the_identity(text):
    for starts, ends in (([], []), ([0, len(text)], [0, len(text)])):
        edit = remove_spans(text, starts, ends)
        assert edit.text == text and edit.removed == () and len(edit.positions) == 0


@pytest.mark.parametrize(
    ("text", "span", "kept"),
    [
        ("foo XX bar", "XX", "foo bar"),
        ("foo XX. bar", "XX", "foo. bar"),
        ("(see XX) and", "XX", "(see) and"),
        ("word XXword", "XX", "word word"),
        ("one.\n\nXX\n\nTwo.", "XX", "one.\n\nTwo."),
        ("one. XX\n\n   Two.", "XX", "one.\n\n   Two."),
        ("one.\n\n\n\nXX\n\n\n\nTwo.", "XX", "one.\n\nTwo."),
        ("one.\r\n\r\nXX\r\n\r\n\r\nTwo.", "XX", "one.\r\n\r\nTwo."),
        ("XX  start", "XX", "start"),
        ("end XX\n", "XX", "end\n"),
        ("end XX  ", "XX", "end"),
        ("XX", "XX", ""),
    ],
)
def test_seams(text, span, kept):
    at = text.index(span)
    edit = remove_spans(text, [at], [at + len(span)])
    assert edit.text == kept
    assert edit.rebuild() == text


def test_spans_separated_by_whitespace_are_one_cut():
    text = "keep AA BB\n\nCC keep"
    starts = [text.index(x) for x in ("AA", "BB", "CC")]
    edit = remove_spans(text, starts, [s + 2 for s in starts])
    assert edit.text == "keep keep"
    assert edit.removed == ("AA BB\n\nCC ",)


def test_rebuild_rejects_inconsistent_edits():
    with pytest.raises(ValueError, match="positions"):
        rebuild("abc", [2, 1], ("x", "y"))
    with pytest.raises(ValueError, match="removed strings"):
        rebuild("abc", [1], ())


def test_remove_rejects_span_past_text():
    with pytest.raises(ValueError, match="past the text"):
        remove_spans("short", [2], [9])


def test_seed_page_edit_round_trip():
    if not SEED_PAGE.exists():
        pytest.skip(f"seed page not found at {SEED_PAGE} (the ../shared checkout is absent)")
    text = SEED_PAGE.read_text(encoding="utf-8")
    spans = find_repeats(text)
    edit = remove_spans(text, spans.start, spans.end)
    assert edit.rebuild() == text
    title_list = text[: text.index('" />')].rstrip()
    assert edit.text.count(title_list) == 1
    assert edit.text.startswith(title_list + ' " /> " />\n\n')
    assert edit.text.endswith("and it can be!")
    assert edit.text.count("  ") <= text.count("  ")
