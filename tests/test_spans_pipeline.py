"""Spans inside `dedupe run`: boilerplate counting, spans.parquet, --remove-spans, too_short."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

import dedupe
from dedupe.spans.edit import remove_spans

WORDS = ("river stone garden lamp violin harbor meadow copper lantern orchard falcon glacier "
         "canyon pepper saddle thunder velvet walnut yellow zephyr marble nickel oyster prism")
VOCAB = WORDS.split()


def body(i: int, n: int = 40) -> str:
    """A unique body: word i-th rotation of the vocabulary plus numbers, no shared 3-grams."""
    return " ".join(f"{VOCAB[(i * 7 + j * 3) % len(VOCAB)]}{i}x{j}" for j in range(n))


def page(i: int, header: str, footer: str) -> str:
    return f"{header}\n{body(i)}\n\n{footer}"


def _run(rows, tmp_path, name="o", **kw):
    path = tmp_path / f"{name}.parquet"
    pq.write_table(pa.Table.from_pylist(rows), path)
    kw.setdefault("spans", False)
    report = dedupe.run([path], tmp_path / name, engine__name="serial", id_column="id", **kw)
    return report, tmp_path / name


def _spans(out):
    return pq.read_table(out / "spans.parquet").to_pylist()


def test_lines_in_min_docs_surviving_pages_are_boilerplate(tmp_path):
    rows = [{"id": f"p{i}", "text": page(i, "Site Header | Home | News", "Footer note text here")}
            for i in range(4)]
    rows.append({"id": "q0", "text": page(9, "Rare line shared twice", "other end a")})
    rows.append({"id": "q1", "text": page(10, "Rare line shared twice", "other end b")})
    report, out = _run(rows, tmp_path)
    spans = _spans(out)
    flagged = {(s["id"], rows[int(s["id"][1:]) if s["id"][0] == "p" else 0]["text"][
        s["start"] : s["end"]]) for s in spans if s["id"].startswith("p")}
    assert flagged == {(f"p{i}", t) for i in range(4)
                       for t in ("Site Header | Home | News", "Footer note text here")}
    assert all(s["kind"] == "boilerplate" and s["count"] == 4 for s in spans)
    assert not [s for s in spans if s["id"].startswith("q")]  # only 2 documents
    assert report.spans["boilerplate"]["documents"] == 4
    assert report.spans["top_boilerplate"][0]["docs"] == 4


def test_duplicates_do_not_make_boilerplate(tmp_path):
    text = page(1, "A header line of this one page", "A footer line of this one page")
    rows = [{"id": f"d{i}", "text": text} for i in range(5)]
    report, out = _run(rows, tmp_path)
    assert report.counts["kept"] == 1 and report.counts["exact_duplicate"] == 4
    assert _spans(out) == []


def test_year_and_site_name_variants_count_together(tmp_path):
    sites = ["The Larchmont Journal", "Valewood Post", "The Northfield Times Online"]
    rows = [{"id": f"p{i}", "text": f"{body(i)}\n(c) {2015 + i} {sites[i]}. All rights reserved."}
            for i in range(3)]
    _, out = _run(rows, tmp_path)
    spans = _spans(out)
    assert len(spans) == 3
    for s in spans:
        text = rows[int(s["id"][1:])]["text"]
        assert text[s["start"] : s["end"]].endswith("All rights reserved.")


def test_short_title_lines_do_not_merge_through_the_skeleton(tmp_path):
    titles = ["Climate Change", "Donald Trump", "Premier League"]
    rows = [{"id": f"p{i}", "text": f"{titles[i]}\n{body(i)}"} for i in range(3)]
    _, out = _run(rows, tmp_path)
    assert _spans(out) == []


def test_keep_first_policy(tmp_path):
    rows = [{"id": f"p{i}", "text": page(i, "Shared header line words", "end")}
            for i in range(3)]
    _, out = _run(rows, tmp_path, boilerplate_policy="keep_first", boilerplate_min_docs=3)
    spans = [s for s in _spans(out) if s["start"] == 0]
    assert [s["id"] for s in spans] == ["p1", "p2"]
    assert all(s["first_id"] == "p0" and s["first_start"] == 0 for s in spans)


def test_remove_spans_cuts_only_flagged_text_and_rebuilds(tmp_path):
    rows = [{"id": f"p{i}", "text": page(i, "Site Header | Home | News", "Footer note text here")}
            for i in range(4)]
    _, out = _run(rows, tmp_path, remove_spans=True, min_length=10)
    data = {r["id"]: r["text"] for r in pq.read_table(out / "data").to_pylist()}
    spans = _spans(out)
    for row in rows:
        mine = [s for s in spans if s["id"] == row["id"]]
        edit = remove_spans(row["text"], [s["start"] for s in mine], [s["end"] for s in mine])
        assert data[row["id"]] == edit.text
        assert edit.rebuild() == row["text"]
        assert data[row["id"]] == body(int(row["id"][1:]))


def test_page_left_too_short_is_recorded(tmp_path):
    rows = [{"id": f"p{i}", "text": page(i, "Site Header | Home | News", "Footer note text here")}
            for i in range(3)]
    rows.append({"id": "chrome", "text": "Site Header | Home | News\nFooter note text here"})
    report, out = _run(rows, tmp_path, remove_spans=True, min_length=10)
    m = pq.read_table(out / "manifest.parquet")
    row = m.filter(pc.equal(m["id"], "chrome")).to_pylist()[0]
    assert row["action"] == "too_short" and "characters left" in row["reason"]
    assert row["output_file"] is None
    assert report.counts["too_short"] == 1
    assert "chrome" not in pq.read_table(out / "data")["id"].to_pylist()


def test_manifest_has_span_columns(tmp_path):
    rows = [{"id": f"p{i}", "text": page(i, "Site Header | Home | News", VOCAB[i])}
            for i in range(3)]
    _, out = _run(rows, tmp_path)
    m = pq.read_table(out / "manifest.parquet").to_pylist()
    assert all(r["spans"] == 1 and r["span_chars"] == len("Site Header | Home | News") for r in m)


def test_spans_off_writes_no_spans_file(tmp_path):
    rows = [{"id": "a", "text": body(1)}]
    _, out = _run(rows, tmp_path, boilerplate=False)
    assert not (out / "spans.parquet").exists()


@pytest.mark.parametrize("policy", ["all", "keep_first"])
def test_boilerplate_is_deterministic_across_workers(tmp_path, policy):
    rows = [{"id": f"p{i}", "text": page(i, f"Header {i % 2} shared line", "Footer shared line")}
            for i in range(12)]
    path = tmp_path / "in.parquet"
    pq.write_table(pa.Table.from_pylist(rows), path, row_group_size=3)
    for w in (1, 2):
        dedupe.run([path], tmp_path / f"w{w}", workers=w, spans=False, boilerplate_policy=policy,
                   id_column="id")
    a = pq.read_table(tmp_path / "w1" / "spans.parquet")
    b = pq.read_table(tmp_path / "w2" / "spans.parquet")
    assert a.equals(b) and a.num_rows > 0


def test_spans_independent_of_partitions_and_tasks(tmp_path):
    """Key partitions and task boundaries only change how the work is cut, never the spans,
    the characters removed or the manifest."""
    from tests.synth import make_corpus

    table = make_corpus(400, seed=4)
    outs = []
    for name, partitions, group in (("a", 1, 400), ("b", 37, 50), ("c", 16, 7)):
        path = tmp_path / f"{name}.parquet"
        pq.write_table(table, path, row_group_size=group)
        dedupe.run([path], tmp_path / name, engine__name="serial", id_column="id",
                   spans__partitions=partitions, remove_spans=True)
        outs.append(tmp_path / name)
    spans = [pq.read_table(o / "spans.parquet") for o in outs]
    assert spans[0].num_rows > 100
    assert all(s.equals(spans[0]) for s in spans[1:])
    cols = ["id", "action", "spans", "span_chars"]
    manifests = [pq.read_table(o / "manifest.parquet", columns=cols).sort_by("id") for o in outs]
    assert all(m.equals(manifests[0]) for m in manifests[1:])
    texts = [pq.read_table(o / "data", columns=["id", "text"]).sort_by("id") for o in outs]
    assert all(t.equals(texts[0]) for t in texts[1:])


def test_partitions_grow_with_the_input():
    from dedupe.config import load_config
    from dedupe.io.sources import Source
    from dedupe.pipeline.runner import _sized_partitions

    cfg = load_config(None)
    small = [Source("a", "a", "parquet", None, 10 << 20)]
    assert _sized_partitions(cfg, small).spans.partitions == 16
    big = [Source(f"f{i}", f"f{i}", "parquet", None, 860 << 20) for i in range(10)]
    assert _sized_partitions(cfg, big).spans.partitions == 135


def test_shared_passages_across_pages_with_windows(tmp_path):
    passage = " ".join(f"shared{j} word{j}" for j in range(20))
    a = f"{body(1)} {passage} {body(2, 10)}"
    b = f"{body(3)}\n{passage}, {body(4, 10)}"
    rows = [{"id": "a", "text": a}, {"id": "b", "text": b}, {"id": "c", "text": body(5)}]
    _, out = _run(rows, tmp_path, boilerplate=False, boilerplate_windows=True,
                  boilerplate_min_docs=2)
    spans = _spans(out)
    assert {s["id"] for s in spans} == {"a", "b"}
    for s in spans:
        text = {"a": a, "b": b}[s["id"]]
        assert text[s["start"] : s["end"]] == passage
        assert s["count"] == 2 and s["first_id"] == "a"


def test_seed_page_through_the_pipeline(tmp_path):
    from tests.conftest import shared_path
    from tests.oracles.spans_repeats import find_repeats

    text = shared_path("corpus", "seed_page.txt").read_text(encoding="utf-8")
    title_list = text[: text.index('" />')]
    rows = [{"id": "seed", "text": text}, {"id": "other", "text": body(1)}]
    _, out = _run(rows, tmp_path, spans=True, boilerplate=False, remove_spans=True,
                  min_length=10)
    spans = [s for s in _spans(out) if s["kind"] == "repeat"]
    assert {s["id"] for s in spans} == {"seed"}
    ref = find_repeats(text)
    assert [(s["start"], s["end"], s["first_start"], s["count"]) for s in spans] == list(
        zip(ref.start.tolist(), ref.end.tolist(), ref.first_start.tolist(), ref.count.tolist()))
    # the first title list is kept, its two later copies are flagged
    assert all(s["start"] >= len(title_list) for s in spans)
    second = text.index(title_list.strip(), 1)
    third = text.rindex(title_list.strip()[:200])
    covered = lambda pos: any(s["start"] <= pos < s["end"] for s in spans)  # noqa: E731
    assert covered(second) and covered(second + len(title_list) // 2)
    assert covered(third) and covered(len(text.rstrip()) - 5)
    # the cut-short citation is flagged and points at its full copy
    doi = "doi: 10.12744/ijnpt.2013.0021-0029"
    later = text.rindex(doi)
    assert covered(later) and not covered(text.index(doi))
    # removing the spans keeps the first title list and the text around the copies
    cleaned = pq.read_table(out / "data").to_pylist()
    kept = {r["id"]: r["text"] for r in cleaned}["seed"]
    assert kept.startswith(title_list.rstrip())
    assert kept.count(title_list.strip()[:200]) == 1
    assert remove_spans(text, [s["start"] for s in spans],
                        [s["end"] for s in spans]).rebuild() == text


def test_repetition_stats_columns_and_gopher_filter(tmp_path):
    spam = "\n".join(["buy cheap pills now"] * 30)
    rows = [{"id": "spam", "text": spam}, {"id": "ok", "text": body(7)}]
    _, out = _run(rows, tmp_path, boilerplate=False, repetition_stats=True, gopher_filter=True)
    m = {r["id"]: r for r in pq.read_table(out / "manifest.parquet").to_pylist()}
    assert m["spam"]["action"] == "filtered"
    assert "Gopher repetition filter" in m["spam"]["reason"]
    assert m["spam"]["dup_line_frac"] > 0.9
    assert m["ok"]["action"] == "kept" and m["ok"]["dup_line_frac"] == 0.0
    from tests.oracles.spans_stats import repetition_stats

    ref = repetition_stats(rows[1]["text"])
    for name, value in ref.items():
        assert m["ok"][name] == pytest.approx(value)


def test_line_splitting_fast_and_slow_paths_agree():
    import numpy as np
    import pyarrow as pa
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from dedupe.spans.boilerplate import _split_lines_slow, split_lines
    from dedupe.text.codepoints import decode_utf8

    @settings(max_examples=200, deadline=None)
    @given(st.lists(st.text(alphabet=" \t\n\u00a0ab\u3000", max_size=80), min_size=1, max_size=5))
    def check(texts):
        cps, off = decode_utf8(pa.array(texts))
        fast = split_lines(cps, off)
        slow = _split_lines_slow(cps, off)
        for f, s in zip(fast, slow):
            assert np.array_equal(f, s)

    check()
    long_ws = "x" + " " * 500 + "\n" + " " * 300 + "y"
    cps, off = decode_utf8(pa.array([long_ws]))
    _, start, end = split_lines(cps, off)
    assert [long_ws[s:e] for s, e in zip(start, end)] == ["x", "y"]


def test_report_lists_each_top_boilerplate_line_once(tmp_path):
    """A line counted under its exact and its skeleton key is one line in the report."""
    import json

    def body(i):
        return " ".join(f"w{i}x{j}y{(i * 31 + j * 7) % 97}" for j in range(60))

    rows = [{"text": f"{body(i)}\nCopyright {2019 if i < 4 else 2020} Example News Group all "
                     "rights reserved worldwide"} for i in range(6)]
    path = tmp_path / "in.parquet"
    pq.write_table(pa.Table.from_pylist(rows), path)
    dedupe.run([path], tmp_path / "o", engine__name="serial")
    top = json.loads((tmp_path / "o" / "report.json").read_text())["spans"]["top_boilerplate"]
    texts = [t["text"].strip() for t in top]
    assert texts and len(texts) == len(set(texts)), texts


@pytest.mark.parametrize("empty_first", [True, False])
def test_gopher_filter_and_stats_with_a_file_of_no_rows(tmp_path, empty_first):
    """A 0-row input (first or later) changes nothing: the filter removes the same pages as a
    run without it, and every manifest part has the statistics columns."""
    from dedupe.spans import GOPHER_REPETITION_LIMITS, passes_gopher_repetition
    from tests.synth import make_corpus

    corpus = make_corpus(300, seed=1)
    pq.write_table(corpus, tmp_path / "c1.parquet")
    pq.write_table(corpus.slice(0, 0), tmp_path / "a0.parquet")
    pairs = [tmp_path / "a0.parquet", tmp_path / "c1.parquet"]
    opts = {"engine__name": "serial", "gopher_filter": True, "repetition_stats": True}
    alone = dedupe.run([tmp_path / "c1.parquet"], tmp_path / "alone", **opts)
    both = dedupe.run(pairs if empty_first else pairs[::-1], tmp_path / "both", **opts)
    assert both.counts == alone.counts and both.counts["filtered"] > 0
    parts = sorted((tmp_path / "both" / "manifest.parquet").glob("part-*.parquet"))
    assert len(parts) == 2
    schemas = [pq.read_schema(p) for p in parts]
    assert schemas[0].equals(schemas[1])
    m = pq.read_table(tmp_path / "both" / "manifest.parquet")
    assert set(GOPHER_REPETITION_LIMITS) <= set(m.column_names) and m.num_rows == 300
    ref = pq.read_table(tmp_path / "alone" / "manifest.parquet")
    assert m.select(["source_row", "action", "reason"]).sort_by("source_row").equals(
        ref.select(["source_row", "action", "reason"]).sort_by("source_row"))
    # the filter removed exactly the kept-by-dedup pages that fail the per-page rule
    for row in m.to_pylist():
        stats = {k: row[k] for k in GOPHER_REPETITION_LIMITS}
        if row["action"] == "filtered":
            ok, why = passes_gopher_repetition(stats)
            assert not ok and row["reason"] == f"Gopher repetition filter: {why}"
        elif row["action"] == "kept":
            assert passes_gopher_repetition(stats) == (True, "")


def test_stats_columns_in_a_part_whose_rows_are_all_rejected(tmp_path):
    (tmp_path / "bad.jsonl").write_text("not json\n{\"text\": 5}\n")
    pq.write_table(pa.table({"text": [body(i) for i in range(5)]}), tmp_path / "ok.parquet")
    report = dedupe.run([tmp_path / "bad.jsonl", tmp_path / "ok.parquet"], tmp_path / "o",
                        engine__name="serial", repetition_stats=True, on_bad_row="reject")
    assert report.counts["rejected"] == 2 and report.counts["kept"] == 5
    parts = sorted((tmp_path / "o" / "manifest.parquet").glob("part-*.parquet"))
    first, second = (pq.read_table(p) for p in parts)
    assert first.schema.equals(second.schema)
    assert pc.all(pc.is_nan(first["dup_line_frac"])).as_py()
    assert not pc.any(pc.is_nan(second["dup_line_frac"])).as_py()
