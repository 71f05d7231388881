"""Inputs whose schemas differ in columns the run does not use: one merged output schema."""

from __future__ import annotations

import datetime as dt
import json

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

import dedupe
from dedupe.cli import main
from tests.conftest import shared_path, write_jsonl, write_parquet

WORDS = [f"word{i}" for i in range(500)]


def _texts(n, start=0):
    return [" ".join(WORDS[(start + i) * 7 % 500:(start + i) * 7 % 500 + 30]) + f" doc {start + i}"
            for i in range(n)]


def _run(paths, out, **kw):
    return dedupe.run(paths, out, engine__name="serial", **kw)


def _output(out) -> pa.Table:
    return pq.read_table(out / "data")


def test_dolma_folder_runs_and_keeps_every_column():
    folder = shared_path("data", "dolma_cc")
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "o"
        report = _run([folder], out)  # default options: nothing in a real crawl stops it
        data = _output(out)
        m = pq.read_table(out / "manifest.parquet")
        assert m.num_rows == report.rows == 727
        assert data.num_rows == report.counts["kept"]
        assert report.counts["empty"] == 27 and report.counts["rejected"] == 0
        # `created` is a timestamp-looking string in three files and a string with
        # milliseconds in the fourth: it stays the string each file holds
        assert data.schema.field("created").type == pa.string()
        created = set(data["created"].to_pylist())
        assert "2019-07-17T13:39:42.000Z" in created and "2020-03-29T09:04:10Z" in created
        # columns only some files have are null in the others' rows
        assert {"version", "attributes", "metadata", "added", "source"} <= set(data.column_names)
        assert data["version"].null_count > 0 and data["version"].null_count < data.num_rows
        # the metadata structs of the different files merged field by field
        meta = data.schema.field("metadata").type
        assert {"warc_url", "cc_segment", "perplexity"} <= {meta.field(i).name
                                                           for i in range(meta.num_fields)}


def test_sweep_reads_only_the_columns_it_needs(tmp_path):
    texts = _texts(6)
    a = write_jsonl(tmp_path / "a.jsonl", [
        {"text": t, "label": i, "created": "2020-03-29T09:04:10Z"} for i, t in enumerate(texts)])
    b = write_parquet(tmp_path / "b.parquet", pa.table({
        "text": texts[:3], "label": [0, 1, 2], "created": [1, 2, 3], "extra": ["x"] * 3}))
    result = CliRunner().invoke(main, ["sweep", str(a), str(b), "--out", str(tmp_path / "s"),
                                       "--labels-column", "label", "--thresholds", "0.9"])
    assert result.exit_code == 0, result.output
    row = pq.read_table(tmp_path / "s" / "sweep.parquet").to_pylist()[0]
    assert row["precision"] == row["recall"] == 1.0  # the copies in b.parquet were found
    c = write_jsonl(tmp_path / "c.jsonl", [{"text": t, "label": f"L{i}"}
                                           for i, t in enumerate(texts)])
    bad = CliRunner().invoke(main, ["sweep", str(a), str(c), "--out", str(tmp_path / "t"),
                                    "--labels-column", "label", "--thresholds", "0.9"])
    assert bad.exit_code == 1 and "Traceback" not in bad.output
    assert "c.jsonl" in bad.output and "a.jsonl" in bad.output and "'label'" in bad.output


def test_differing_columns_merge_into_one_output_schema(tmp_path):
    t0 = dt.datetime(2020, 1, 2, 3, 4, 5)
    a = write_parquet(tmp_path / "a.parquet", pa.table({
        "text": _texts(4), "n": pa.array([1, 2, 3, 4], pa.int32()),
        "when": pa.array([t0] * 4, pa.timestamp("s")), "only_a": ["x"] * 4}))
    b = write_parquet(tmp_path / "b.parquet", pa.table({
        "text": _texts(3, 10), "n": pa.array([1.5, 2.5, 3.5]),
        "when": ["yesterday", "today", None], "only_b": [True, False, True]}))
    report = _run([a, b], tmp_path / "o")
    data = _output(tmp_path / "o")
    assert report.counts["kept"] == 7 and data.num_rows == 7
    schema = data.schema
    assert schema.names == ["text", "n", "when", "only_a", "only_b"]
    assert schema.field("n").type == pa.float64()  # int32 and double: double
    assert schema.field("when").type == pa.string()  # timestamp and string: the text of each
    assert data["n"].to_pylist() == [1.0, 2.0, 3.0, 4.0, 1.5, 2.5, 3.5]
    # (Parquet stores a seconds timestamp in milliseconds)
    assert data["when"].to_pylist()[3:] == ["2020-01-02 03:04:05.000", "yesterday", "today", None]
    assert data["only_a"].to_pylist() == ["x"] * 4 + [None] * 3
    assert data["only_b"].to_pylist() == [None] * 4 + [True, False, True]


def test_identical_schemas_keep_the_input_schema_exactly(tmp_path):
    table = pa.table({"text": _texts(5), "n": pa.array(range(5), pa.int16()),
                      "tags": pa.array([["a"], [], None, ["b", "c"], ["d"]])})
    a = write_parquet(tmp_path / "a.parquet", table)
    b = write_parquet(tmp_path / "b.parquet", pa.table({
        "text": _texts(5, 20), "n": pa.array(range(5), pa.int16()),
        "tags": pa.array([[], ["x"], None, None, ["y"]])}))
    _run([a, b], tmp_path / "o")
    assert _output(tmp_path / "o").schema.equals(pq.read_schema(a))


def test_structs_and_lists_merge_field_by_field(tmp_path):
    a = write_jsonl(tmp_path / "a.jsonl", [
        {"text": t, "meta": {"url": f"u{i}", "score": i}, "ids": [i]}
        for i, t in enumerate(_texts(3))])
    b = write_jsonl(tmp_path / "b.jsonl", [
        {"text": t, "meta": {"url": f"v{i}", "lang": "en", "score": 0.5}, "ids": [0.5]}
        for i, t in enumerate(_texts(3, 30))])
    _run([a, b], tmp_path / "o")
    data = _output(tmp_path / "o")
    meta = data.schema.field("meta").type
    assert [meta.field(i).name for i in range(meta.num_fields)] == ["url", "score", "lang"]
    assert meta.field("score").type == pa.float64()
    assert data["meta"].to_pylist()[0] == {"url": "u0", "score": 0.0, "lang": None}
    assert data["meta"].to_pylist()[3] == {"url": "v0", "score": 0.5, "lang": "en"}
    assert data["ids"].to_pylist() == [[0.0], [1.0], [2.0], [0.5], [0.5], [0.5]]


def test_a_field_with_no_common_type_is_kept_as_text(tmp_path):
    rows = [{"text": t, "extra": v} for t, v in zip(_texts(4), [1, "two", {"k": 3}, [4]])]
    path = write_jsonl(tmp_path / "a.jsonl", rows)
    _run([path], tmp_path / "o", batch_rows=2)
    data = _output(tmp_path / "o")
    assert data.schema.field("extra").type == pa.string()
    assert data["extra"].to_pylist() == ["1", "two", '{"k": 3}', "[4]"]


def test_dictionary_encoded_text_column(tmp_path):
    texts = _texts(6) + _texts(2)  # two exact copies
    table = pa.table({"text": pa.array(texts).dictionary_encode(),
                      "site": pa.array(["a", "b"] * 4).dictionary_encode()})
    path = write_parquet(tmp_path / "cat.parquet", table)
    assert pa.types.is_dictionary(pq.read_schema(path).field("text").type)
    report = _run([path], tmp_path / "o")
    assert report.counts["kept"] == 6 and report.counts["exact_duplicate"] == 2
    data = _output(tmp_path / "o")
    assert data.schema.equals(pq.read_schema(path))  # still dictionary-encoded
    assert pc.cast(data["text"], pa.string()).to_pylist() == texts[:6]
    spans = _run([path], tmp_path / "r", remove_spans=True, min_length=1)
    assert spans.counts["kept"] == 6


def test_dictionary_text_mixed_with_plain_text(tmp_path):
    a = write_parquet(tmp_path / "a.parquet",
                      pa.table({"text": pa.array(_texts(3)).dictionary_encode()}))
    b = write_parquet(tmp_path / "b.parquet", pa.table({"text": _texts(3, 40)}))
    _run([a, b], tmp_path / "o")
    data = _output(tmp_path / "o")
    assert data.schema.field("text").type == pa.string()
    assert data["text"].to_pylist() == _texts(3) + _texts(3, 40)


def _with_views(table: pa.Table) -> pa.Table:
    """``table`` with its text as string_view, plus view columns the run does not read."""
    n = table.num_rows
    return table.set_column(table.schema.get_field_index("text"), "text",
                            table["text"].cast(pa.string_view())).append_column(
        "raw", pa.array([b"x%d" % i for i in range(n)], pa.binary_view())).append_column(
        "tags", pa.array([["a", str(i)] for i in range(n)], pa.list_(pa.string_view())))


def test_string_view_columns_run_to_the_end_and_keep_their_type(tmp_path):
    """pyarrow writes and reads string_view Parquet columns: the run, --remove-spans and an
    index built from the run all work, and the shards keep the view types."""
    from tests.synth import make_corpus

    plain = make_corpus(200, seed=1)
    views = _with_views(plain)
    a = write_parquet(tmp_path / "plain.parquet", plain)
    b = write_parquet(tmp_path / "views.parquet", views)
    assert pq.read_schema(b).field("text").type == pa.string_view()
    want = _run([a], tmp_path / "p")
    got = _run([b], tmp_path / "v")
    assert got.counts == want.counts
    data = _output(tmp_path / "v")
    assert data.schema.equals(pq.read_schema(b))
    kept = _output(tmp_path / "p")
    assert data["text"].cast(pa.string()).to_pylist() == kept["text"].to_pylist()
    assert data["raw"].cast(pa.binary()).to_pylist()[:2] == [b"x0", b"x1"]
    cut = _run([b], tmp_path / "r", remove_spans=True, min_length=1)
    assert cut.counts["kept"] == want.counts["kept"]
    assert _output(tmp_path / "r").schema.equals(data.schema)
    result = CliRunner().invoke(main, ["index", "build", str(tmp_path / "v"), "--out",
                                       str(tmp_path / "idx")])
    assert result.exit_code == 0, result.output
    assert f"indexed {want.counts['kept']} documents" in result.output


def test_string_view_text_mixed_with_plain_text(tmp_path):
    a = write_parquet(tmp_path / "a.parquet", _with_views(pa.table({"text": _texts(3)})))
    b = write_parquet(tmp_path / "b.parquet", pa.table({"text": _texts(3, 40)}))
    report = _run([a, b], tmp_path / "o")
    assert report.counts["kept"] == 6
    data = _output(tmp_path / "o")
    assert data.schema.field("text").type == pa.large_string()
    assert data["text"].to_pylist() == _texts(3) + _texts(3, 40)
    assert data["tags"].to_pylist()[:4] == [["a", "0"], ["a", "1"], ["a", "2"], None]


def test_invalid_utf8_in_a_column_the_run_does_not_read(tmp_path):
    """Rejected (or reported) when the rows are signed, not first when they are written."""
    bad = pa.array([b"ok", b"bad \xff here", b"fine"], pa.binary()).cast(pa.string(), safe=False)
    pq.write_table(pa.table({"text": _texts(3), "url": bad}), tmp_path / "a.parquet")
    (tmp_path / "b.jsonl").write_bytes(b"".join(
        json.dumps({"text": t, "url": "u"}).encode().replace(b'"u"', u) + b"\n"
        for t, u in zip(_texts(3, 50), [b'"u"', b'"bad \xff"', b'"u"'])))
    for name in ("a.parquet", "b.jsonl"):
        with pytest.raises(dedupe.InputError, match=r"row 1.*column 'url'.*UTF-8"):
            _run([tmp_path / name], tmp_path / f"e-{name}")
        report = _run([tmp_path / name], tmp_path / f"r-{name}", on_bad_row="reject")
        m = pq.read_table(tmp_path / f"r-{name}" / "manifest.parquet")
        assert m["action"].to_pylist() == ["kept", "rejected", "kept"]
        assert "UTF-8" in m["reason"][1].as_py()
        assert _output(tmp_path / f"r-{name}").num_rows == report.counts["kept"] == 2


@pytest.mark.shared
def test_dolma_every_file_runs_and_sweeps_with_defaults(tmp_path):
    """`dedupe run` and `dedupe sweep` with default options on each Common Crawl file and on
    the folder: every input line is in the manifest exactly once, every kept row in a shard."""
    import gzip

    from tests.conftest import rows_in_outputs

    folder = shared_path("data", "dolma_cc")
    files = sorted(folder.glob("*.json*.gz"))
    runner = CliRunner()
    for i, path in enumerate([*files, folder]):
        inputs = files if path == folder else [path]
        lines = 0
        for p in inputs:
            with gzip.open(p) as fh:
                lines += sum(1 for line in fh if line.strip())
        result = runner.invoke(main, ["run", str(path), "--out", str(tmp_path / f"r{i}"), "-q"])
        assert result.exit_code == 0, result.output
        assert rows_in_outputs(tmp_path / f"r{i}")[0] == lines
        result = runner.invoke(main, ["sweep", str(path), "--out", str(tmp_path / f"s{i}")])
        assert result.exit_code == 0, result.output
        assert pq.read_table(tmp_path / f"s{i}" / "sweep.parquet").num_rows == 19
