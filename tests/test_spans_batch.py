"""Batch span detection equals the slow per-document oracles, document by document.

The one-document functions of ``dedupe.spans`` are the batch code run on a batch of one; they
are checked against the oracles too, on the same texts.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dedupe.spans import find_repeats, repetition_stats, tokenize_offsets
from dedupe.spans import windows as windows_mod
from dedupe.spans.repeats import BatchRepeats, batch_repeats
from dedupe.spans.stats import batch_repetition_stats
from dedupe.spans.tokens import batch_tokens
from tests.oracles import spans_repeats, spans_stats, spans_tokens
from tests.synth import make_corpus, make_title_list_pages

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
SEED_PAGE = SHARED / "corpus" / "seed_page.txt"
SPAN_FIELDS = ("start", "end", "first_start", "count", "exact")

# Small vocabularies make repeats common; the words cover case folding, NFKC (fullwidth,
# ligature, combining accent), one-char scripts (Han, Thai, CJK extension B) and astral chars.
WORDS = (
    "a", "b", "to", "the", "The", "THE", "\uff54\uff48\uff45", "\ufb01ne", "fine", "\u00e9",
    "e\u0301", "stra\u00dfe", "STRASSE", "中", "文", "日本語", "ไทย", "x1", "42", "😀", "𠀀",
    "\u0130", "\u03c3", "\u03c2",
)  # fmt: skip
SEPARATORS = (
    " ", "  ", "\n", "\n\n", " \n \n", "\t", ", ", ". ", "; ", "\u3000", " — ", "\r\n",
    "(", ") ", '"', "", "\u00a0", "\u2028", "\n" + " " * 12, " ,.\n", "--\n\n--",
)  # fmt: skip
EDGE_TEXTS = [
    "",
    None,
    "   \n\t \n",
    "no repeats here at all",
    "ha " * 120,
    "x\n\ny\n \ny\n\n\nx\n",
    "----\n----\n\n" + " " * 20 + "\n----",
    "\uff46\uff4f\uff4f FOO foo 中文中文中文 " * 6,
    "one two three four five six seven eight nine ten, " * 4,
    "\n",
    "a, b\na. b\n  a, b\n\na. b\n\na, b",
]


def _texts(table: pa.Table) -> list[str | None]:
    return table.column("text").to_pylist()


def _assert_repeats_equal(texts, **kwargs) -> BatchRepeats:
    arr = pa.array(texts, pa.string())
    got = batch_repeats(arr, **kwargs)
    assert np.array_equal(np.lexsort((got.start, got.doc)), np.arange(len(got)))
    for i, text in enumerate(texts):
        want = spans_repeats.find_repeats(text or "", **kwargs)
        for have in (got.spans(i), find_repeats(text or "", **kwargs)):
            for field in SPAN_FIELDS:
                assert np.array_equal(getattr(want, field), getattr(have, field)), (i, field)
    return got


def _assert_stats_equal(texts) -> None:
    got = batch_repetition_stats(pa.array(texts, pa.string()))
    for i, text in enumerate(texts):
        one = repetition_stats(text or "")
        for name, value in spans_stats.repetition_stats(text or "").items():
            assert got[name][i] == pytest.approx(value, abs=1e-12), (i, name)
            assert one[name] == pytest.approx(value, abs=1e-12), (i, name)


def _assert_tokens_equal(texts) -> None:
    tokens = batch_tokens(pa.array(texts, pa.string()))
    assert len(tokens) == len(texts)
    for i, text in enumerate(texts):
        want = spans_tokens.tokenize_offsets(text or "")
        for have in (tokens.doc_tokens(i), tokenize_offsets(text or "")):
            for a, b in zip(want, have, strict=True):
                assert np.array_equal(a, b), i


@pytest.fixture(scope="module")
def corpus() -> list[str | None]:
    return _texts(make_corpus(300, seed=9)) + EDGE_TEXTS


@pytest.fixture(scope="module")
def title_pages() -> list[str | None]:
    return _texts(make_title_list_pages(5))


# --- equality with the per-document oracles -----------------------------------------------------


def test_tokens_match_per_document(corpus):
    _assert_tokens_equal(corpus)


def test_token_fields_are_absolute_in_the_batch(corpus):
    texts = [t or "" for t in corpus[:20]]
    tokens = batch_tokens(pa.array(corpus[:20], pa.string()))
    assert tokens.cps.dtype == np.uint32 and tokens.hashes.dtype == np.uint64
    for name in ("offsets", "starts", "ends", "tok_offsets"):
        assert getattr(tokens, name).dtype == np.int64
    joined = "".join(texts)
    assert tokens.cps.tobytes().decode("utf-32-le") == joined
    assert [joined[o:p] for o, p in zip(tokens.offsets[:-1], tokens.offsets[1:])] == texts
    doc = slice(int(tokens.tok_offsets[3]), int(tokens.tok_offsets[4]))
    starts, ends, _ = spans_tokens.tokenize_offsets(texts[3])
    words = [joined[s:e] for s, e in zip(tokens.starts[doc], tokens.ends[doc], strict=True)]
    assert words == [texts[3][s:e] for s, e in zip(starts, ends, strict=True)]
    assert np.array_equal(tokens.token_doc()[doc], np.full(len(words), 3))


@pytest.mark.parametrize("near", [False, True])
def test_repeats_match_on_synthetic_corpus(corpus, near):
    got = _assert_repeats_equal(corpus, near=near)
    assert len(got) > 20  # the corpus plants repeats: the comparison is not vacuous


@pytest.mark.parametrize("near", [False, True])
def test_repeats_match_on_title_list_pages(title_pages, near):
    got = _assert_repeats_equal(title_pages, near=near)
    assert set(got.doc.tolist()) == set(range(len(title_pages)))


@pytest.mark.parametrize(
    "kwargs",
    [
        {"min_tokens": 3},
        {"min_tokens": 4, "near_threshold": 0.6},
        {"min_tokens": 13, "seed_tokens": 4, "max_gap": 20},
        {"min_tokens": 1},
        {"min_tokens": 7, "near": False},
    ],
)
def test_repeats_match_with_other_parameters(corpus, kwargs):
    _assert_repeats_equal(corpus[:120] + EDGE_TEXTS, **kwargs)


def test_stats_match_on_synthetic_corpus(corpus, title_pages):
    _assert_stats_equal(corpus + title_pages)


def test_seed_page_in_a_batch(corpus, title_pages):
    if not SEED_PAGE.exists():
        pytest.skip(f"seed page not found at {SEED_PAGE} (the ../shared checkout is absent)")
    page = SEED_PAGE.read_text(encoding="utf-8")
    texts = [*corpus[:15], page, *title_pages[:2], *corpus[15:30]]
    _assert_tokens_equal(texts)
    for near in (False, True):
        got = _assert_repeats_equal(texts, near=near)
        assert len(got.spans(15)) > 0
    _assert_stats_equal(texts)


def test_one_document_functions_take_strings_arrow_cannot_hold():
    """Lone surrogates (separators) pass through a batch of one made from a Python string."""
    for text in ("x \ud800 " * 30, "alpha\udc80beta gamma, delta\n" * 12 + "tail \ud800"):
        for want, have in zip(
            spans_tokens.tokenize_offsets(text), tokenize_offsets(text), strict=True
        ):
            assert np.array_equal(want, have)
        for near in (False, True):
            want = spans_repeats.find_repeats(text, min_tokens=4, near=near)
            have = find_repeats(text, min_tokens=4, near=near)
            assert len(have) > 0
            for field in SPAN_FIELDS:
                assert np.array_equal(getattr(want, field), getattr(have, field)), field
        assert repetition_stats(text) == spans_stats.repetition_stats(text)


def test_truncated_hash_collisions_fall_back_to_exact_grouping(corpus, monkeypatch):
    """With 4 hash bits left in the packed keys nearly every group collides; results hold."""
    monkeypatch.setattr(windows_mod, "_rank_bits", lambda m: 60)
    texts = corpus[:60] + EDGE_TEXTS
    _assert_repeats_equal(texts, near=False)
    _assert_repeats_equal(texts, near=True)
    _assert_stats_equal(texts)


# --- hypothesis: small vocabularies, planted copies --------------------------------------------


@st.composite
def documents(draw) -> str | None:
    if draw(st.integers(0, 9)) == 0:
        return draw(st.sampled_from([None, "", "  ", "\n\n", "\t \n"]))
    pieces = draw(
        st.lists(st.tuples(st.sampled_from(WORDS), st.sampled_from(SEPARATORS)), max_size=40)
    )
    for _ in range(draw(st.integers(0, 3))):
        if not pieces:
            break
        lo = draw(st.integers(0, len(pieces) - 1))
        hi = draw(st.integers(lo + 1, len(pieces)))
        copy = pieces[lo:hi]
        if copy and draw(st.booleans()):  # a near copy: one word changed
            at = draw(st.integers(0, len(copy) - 1))
            copy = [*copy[:at], (draw(st.sampled_from(WORDS)), copy[at][1]), *copy[at + 1 :]]
        pieces += copy
    lead = draw(st.sampled_from(("", " ", "\n", "  \n")))
    return lead + "".join(word + sep for word, sep in pieces)


batches = st.lists(documents(), min_size=1, max_size=8)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(texts=batches, min_tokens=st.sampled_from([3, 4, 10]), near=st.booleans())
def test_hypothesis_repeats_match(texts, min_tokens, near):
    _assert_repeats_equal(texts, min_tokens=min_tokens, near=near)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(texts=batches)
def test_hypothesis_tokens_and_stats_match(texts):
    _assert_tokens_equal(texts)
    _assert_stats_equal(texts)


# --- input handling -----------------------------------------------------------------------------




def test_empty_and_all_null_batches():
    for arr in (pa.array([], pa.string()), pa.array([None, None], pa.string())):
        tokens = batch_tokens(arr)
        assert len(tokens) == len(arr) and len(tokens.starts) == 0
        assert len(batch_repeats(arr)) == 0
        stats = batch_repetition_stats(arr)
        assert list(stats) == list(repetition_stats(""))
        assert all(len(v) == len(arr) and not v.any() for v in stats.values())


def test_sliced_chunked_and_large_string_inputs(corpus):
    texts = corpus[:40]
    want = batch_repeats(pa.array(texts[10:30], pa.string())).to_arrow()
    sliced = pa.array(texts, pa.string()).slice(10, 20)
    chunked = pa.chunked_array([pa.array(texts[10:18]), pa.array(texts[18:30])])
    large = pa.array(texts[10:30], pa.large_string())
    for arr in (sliced, chunked, large):
        assert batch_repeats(arr).to_arrow().equals(want)


def test_precomputed_tokens_are_reused_and_checked(corpus):
    arr = pa.array(corpus[:20], pa.string())
    tokens = batch_tokens(arr)
    assert batch_repeats(arr, tokens=tokens).to_arrow().equals(batch_repeats(arr).to_arrow())
    with pytest.raises(ValueError, match="documents"):
        batch_repeats(arr.slice(0, 5), tokens=tokens)


def test_rejects_non_string_arrays_and_bad_parameters():
    with pytest.raises(TypeError):
        batch_tokens(pa.array([1, 2]))
    with pytest.raises(ValueError):
        batch_repeats(pa.array(["a"]), min_tokens=0)
    with pytest.raises(ValueError):
        batch_repeats(pa.array(["a"]), near_threshold=1.5)


def test_to_arrow_has_one_row_per_span(title_pages):
    got = batch_repeats(pa.array(title_pages, pa.string()))
    table = got.to_arrow()
    assert table.column_names == ["doc", "start", "end", "first_start", "count", "exact"]
    assert table.num_rows == len(got)
