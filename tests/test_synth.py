"""Tests of the synthetic corpus: its truth must be right, or every metric built on it is wrong.

Similarities are Jaccard indexes of word 3-gram sets after lowercasing, the measure the planted
variants are calibrated against (see tests/synth/).
"""

from __future__ import annotations

import collections
import re
import unicodedata
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.json as pj
import pyarrow.parquet as pq
import pytest

from tests.synth import SCHEMA, VARIANTS, interleave, make_corpus, make_title_list_pages

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample"
_WORD = re.compile(r"\w+")
_FOLD = str.maketrans(
    {"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"'}
    | dict.fromkeys("\u2010\u2011\u2012\u2013\u2014\u2212", "-")
)


def fold(text: str) -> str:
    """NFKC, casefold, curly quotes and dashes to ASCII, whitespace runs to one space."""
    return " ".join(unicodedata.normalize("NFKC", text).casefold().translate(_FOLD).split())


def shingles(text: str) -> set[tuple[str, ...]]:
    w = _WORD.findall(text.lower())
    return {tuple(w[i : i + 3]) for i in range(len(w) - 2)}


def jaccard(a: str, b: str) -> float:
    x, y = shingles(a), shingles(b)
    return len(x & y) / max(1, len(x | y))


@pytest.fixture(scope="module")
def corpus() -> dict[str, list]:
    return make_corpus(2000, seed=11).to_pydict()


def copies_of(corpus: dict[str, list], variant: str) -> list[tuple[str, str]]:
    """(copy text, original text) pairs of one variant kind."""
    return [
        (corpus["text"][i], corpus["text"][c])
        for i, c in enumerate(corpus["cluster"])
        if corpus["variant"][i] == variant
    ]


def test_same_arguments_give_the_same_table() -> None:
    a, b = make_corpus(300, seed=5), make_corpus(300, seed=5)
    assert a.equals(b)
    assert not a.equals(make_corpus(300, seed=6))


@pytest.mark.parametrize("n", [0, 1, 2, 7, 300])
def test_row_count_schema_and_unique_ids(n: int) -> None:
    table = make_corpus(n, seed=1)
    assert table.num_rows == n
    assert table.schema.equals(SCHEMA)
    assert len(set(table.column("id").to_pylist())) == n


def test_every_family_has_exactly_one_original_and_cluster_is_its_row(corpus) -> None:
    members = collections.defaultdict(list)
    for row, (cluster, variant) in enumerate(
        zip(corpus["cluster"], corpus["variant"], strict=True)
    ):
        members[cluster].append((row, variant))
    for cluster, rows in members.items():
        originals = [row for row, variant in rows if variant == "original"]
        assert originals == [cluster], rows
        assert 1 <= len(rows) <= 5  # the original and 1-4 copies
    assert set(corpus["variant"]) == set(VARIANTS)


def test_copies_are_dup_fraction_and_interleaved_with_originals(corpus) -> None:
    copies = [i for i, v in enumerate(corpus["variant"]) if v != "original"]
    assert len(copies) == 600
    before = sum(i < corpus["cluster"][i] for i in copies)
    assert 0.3 < before / len(copies) < 0.7  # a copy often comes before its original


def test_format_variants_fold_to_their_original(corpus) -> None:
    pairs = copies_of(corpus, "format_variant")
    assert len(pairs) > 50
    assert sum(copy != orig for copy, orig in pairs) == len(pairs)
    for copy, orig in pairs:
        assert fold(copy) == fold(orig)


def test_exact_and_truncated_copies(corpus) -> None:
    assert all(copy == orig for copy, orig in copies_of(corpus, "exact_copy"))
    for copy, orig in copies_of(corpus, "truncated"):
        assert orig.startswith(copy)
        assert 0.8 < len(copy) / len(orig) < 0.95


def test_near_copy_similarity_ranges(corpus) -> None:
    edits = np.array([jaccard(c, o) for c, o in copies_of(corpus, "word_edits")])
    assert np.mean((edits >= 0.6) & (edits <= 0.9)) > 0.95
    assert min(jaccard(c, o) for c, o in copies_of(corpus, "header_footer")) > 0.7
    para = np.array([jaccard(c, o) for c, o in copies_of(corpus, "paraphrase_light")])
    assert para.min() > 0.6 and para.max() < 0.95


def test_unrelated_originals_share_few_shingles(corpus) -> None:
    rng = np.random.default_rng(0)
    originals = [i for i, v in enumerate(corpus["variant"]) if v == "original"]
    pairs = rng.choice(originals, (400, 2))
    scores = [jaccard(corpus["text"][a], corpus["text"][b]) for a, b in pairs if a != b]
    assert max(scores) < 0.1


def test_pages_of_one_site_share_template_lines_but_not_clusters(corpus) -> None:
    by_site = collections.defaultdict(list)
    for i, (site, variant) in enumerate(zip(corpus["site"], corpus["variant"], strict=True)):
        if variant == "original":
            by_site[site].append(i)
    for rows in by_site.values():
        a, b = corpus["text"][rows[0]].splitlines(), corpus["text"][rows[1]].splitlines()
        assert a[:2] == b[:2]  # site name and navigation menu
        assert a[-1] == b[-1]  # cookie notice
        assert "All rights reserved." in a[-2]
        assert corpus["cluster"][rows[0]] != corpus["cluster"][rows[1]]


def test_header_footer_copies_move_the_body_to_another_site(corpus) -> None:
    for i, variant in enumerate(corpus["variant"]):
        if variant == "header_footer":
            orig = corpus["cluster"][i]
            assert corpus["site"][i] != corpus["site"][orig]
            body = "\n\n".join(corpus["text"][orig].split("\n\n")[1:-1])
            assert body in corpus["text"][i]


def test_body_sizes_stay_near_their_target() -> None:
    table = make_corpus(
        400, seed=2, dup_fraction=0.0, boilerplate=False, min_bytes=1500, max_bytes=1500
    )
    sizes = np.array([len(t.encode()) for t in table.column("text").to_pylist()])
    assert sizes.min() >= 0.85 * 1500 and sizes.max() <= 1.15 * 1500


def test_some_pages_repeat_a_span_of_themselves() -> None:
    def repeats_itself(text: str) -> bool:
        words = text.split()
        grams = [" ".join(words[i : i + 8]) for i in range(len(words) - 7)]
        return len(set(grams)) < len(grams)

    for flag, low, high in ((True, 0.05, 0.16), (False, 0.0, 0.0)):
        texts = make_corpus(1000, seed=4, dup_fraction=0.0, repeats=flag).column("text")
        share = np.mean([repeats_itself(t) for t in texts.to_pylist()])
        assert low <= share <= high


def test_some_pages_carry_non_ascii_scripts() -> None:
    table = make_corpus(3000, seed=3, dup_fraction=0.0)
    foreign = [t for t in table.column("text").to_pylist() if not t.isascii()]
    assert 10 <= len(foreign) <= 60
    assert any(re.search("[\u4e00-\u9fff\u3040-\u309f\u0e00-\u0e7f]", t) for t in foreign)


def test_no_boilerplate_means_no_template_and_no_header_footer_copies() -> None:
    table = make_corpus(500, seed=9, boilerplate=False).to_pydict()
    assert "header_footer" not in table["variant"]
    assert not any("All rights reserved" in t for t in table["text"])


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(ValueError, match="dup_fraction"):
        make_corpus(100, dup_fraction=0.9)
    with pytest.raises(ValueError, match="min_bytes"):
        make_corpus(100, min_bytes=3000, max_bytes=1000)


def test_title_list_pages_repeat_the_list_like_the_seed_page() -> None:
    table = make_title_list_pages(3, seed=1)
    assert table.schema.equals(SCHEMA)
    for text in table.column("text").to_pylist():
        titles, rest = text.split(' " /> ', 1)
        assert titles.count(", ") >= 5 and titles.endswith(",")
        assert rest.startswith(titles + ' " />\n\n')
        assert text.endswith("\n\n" + titles)


def test_interleave_keeps_clusters_pointing_at_originals() -> None:
    data = interleave(make_corpus(50, seed=1), make_title_list_pages(2, seed=1), seed=3).to_pydict()
    assert len(data["id"]) == 52
    for row, (cluster, variant) in enumerate(zip(data["cluster"], data["variant"], strict=True)):
        assert data["variant"][cluster] == "original"
        assert variant != "original" or cluster == row


@pytest.mark.skipif(not SAMPLE.exists(), reason="data/sample is absent")
def test_bundled_sample_reads_back_with_one_schema() -> None:
    parquet = pq.read_table(SAMPLE / "web-000.parquet")
    jsonl = pj.read_json(SAMPLE / "web-001.jsonl.gz")
    truth = pq.read_table(SAMPLE.parent / "sample_truth.parquet")
    assert parquet.schema.equals(SCHEMA) and jsonl.schema.equals(SCHEMA)
    both = pa.concat_tables([parquet, jsonl])
    assert both.column("id").to_pylist() == truth.column("id").to_pylist()
    assert both.column("cluster").equals(truth.column("cluster"))
    assert sum(p.stat().st_size for p in SAMPLE.iterdir()) < 1_000_000
    assert sum(' " />' in t for t in both.column("text").to_pylist()) >= 3
