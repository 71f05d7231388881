"""Bad input: a clear error naming file, row and column -- or, with reject, a manifest row."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

import dedupe
from dedupe.errors import InputError
from tests.conftest import write_jsonl, write_parquet

GOOD = [
    {"text": f"document number {i} talks about topic {i * 7} in several words"} for i in range(6)
]


def _run(paths, out, **kw):
    return dedupe.run(paths, out, engine__name="serial", **kw)


def _manifest(out):
    return pq.read_table(out / "manifest.parquet").sort_by(
        [("source_file", "ascending"), ("source_row", "ascending")]
    )


def _check_accounting(out, expected_rows):
    m = _manifest(out)
    assert m.num_rows == expected_rows
    kept = m.filter(pc.equal(m["action"], "kept")).num_rows
    data = (
        pq.read_table(out / "data")
        if (out / "data").exists() and any((out / "data").iterdir())
        else pa.table({})
    )
    assert data.num_rows == kept
    return m


def test_missing_text_column_names_file_and_column(tmp_path):
    path = write_parquet(tmp_path / "a.parquet", [{"body": "x"}])
    with pytest.raises(InputError) as err:
        _run([path], tmp_path / "o")
    msg = str(err.value)
    assert "a.parquet" in msg and "'text'" in msg and "body" in msg


def test_text_column_option(tmp_path):
    path = write_parquet(tmp_path / "a.parquet", [{"body": r["text"]} for r in GOOD])
    report = _run([path], tmp_path / "o", text_column="body")
    assert report.rows == len(GOOD)


def test_corrupt_parquet_is_named(tmp_path):
    path = write_parquet(tmp_path / "a.parquet", GOOD)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) - 20])  # truncated footer
    with pytest.raises(InputError, match=r"a\.parquet.*not a readable Parquet file"):
        _run([path], tmp_path / "o")


def test_not_json_line_error_names_row(tmp_path):
    path = tmp_path / "a.jsonl"
    path.write_text('{"text": "one two three"}\n{"text": broken\n{"text": "four five six"}\n')
    with pytest.raises(InputError) as err:
        _run([path], tmp_path / "o")
    assert "a.jsonl" in str(err.value) and "row 1" in str(err.value)
    assert "--on-bad-row reject" in str(err.value)


def test_not_json_line_rejected_with_reason(tmp_path):
    path = tmp_path / "a.jsonl"
    path.write_text('{"text": "one two three"}\n{"text": broken\n{"text": "four five six"}\n')
    _run([path], tmp_path / "o", on_bad_row="reject")
    m = _check_accounting(tmp_path / "o", 3)
    assert m["action"].to_pylist() == ["kept", "rejected", "kept"]
    assert "not valid JSON" in m["reason"][1].as_py()


def test_invalid_utf8_in_jsonl(tmp_path):
    path = tmp_path / "a.jsonl"
    path.write_bytes(b'{"text": "fine words here"}\n{"text": "bad \xff\xfe bytes"}\n')
    with pytest.raises(InputError, match=r"row 1.*UTF-8"):
        _run([path], tmp_path / "o")
    _run([path], tmp_path / "r", on_bad_row="reject")
    m = _check_accounting(tmp_path / "r", 2)
    assert m["action"].to_pylist() == ["kept", "rejected"]
    assert "UTF-8" in m["reason"][1].as_py()


def test_invalid_utf8_in_parquet(tmp_path):
    bad = pa.array([b"good text here ok", b"bad \xff bytes"], pa.binary())
    table = pa.Table.from_arrays([bad.cast(pa.string(), safe=False)], names=["text"])
    path = tmp_path / "a.parquet"
    pq.write_table(table, path)
    with pytest.raises(InputError, match=r"row 1, column 'text'.*UTF-8"):
        _run([path], tmp_path / "o")
    _run([path], tmp_path / "r", on_bad_row="reject")
    _check_accounting(tmp_path / "r", 2)


@pytest.mark.parametrize("value,reason", [(None, "text is null"), ("", "text is empty"),
                                          ("  \n\t\u200b ", "whitespace only")])
@pytest.mark.parametrize("on_bad_row", ["error", "reject"])
def test_null_and_empty_text_are_ordinary_rows(tmp_path, value, reason, on_bad_row):
    path = write_parquet(
        tmp_path / "a.parquet",
        pa.table({"text": pa.array(["some real words here", value, value], pa.string())}),
    )
    report = _run([path], tmp_path / "r", on_bad_row=on_bad_row)
    m = _check_accounting(tmp_path / "r", 3)
    assert m["action"].to_pylist() == ["kept", "empty", "empty"]
    assert reason in m["reason"][1].as_py()
    assert m["cluster_id"][1].as_py() is None and m["output_file"][1].as_py() is None
    assert report.counts["empty"] == 2 and report.counts["rejected"] == 0
    assert "| empty | 2 |" in (tmp_path / "r" / "report.md").read_text()


def test_key_column_conflict_names_both_files(tmp_path):
    a = write_parquet(tmp_path / "a.parquet", [dict(r, n=i) for i, r in enumerate(GOOD)])
    b = write_parquet(tmp_path / "b.parquet", [dict(r, n=f"x{i}") for i, r in enumerate(GOOD)])
    with pytest.raises(InputError) as err:
        _run([a, b], tmp_path / "o", id_column="n")
    msg = str(err.value)
    assert "b.parquet" in msg and "a.parquet" in msg and "'n'" in msg
    c = write_parquet(tmp_path / "c.parquet", GOOD)  # no id column at all
    with pytest.raises(InputError, match=r"c\.parquet.*no column 'n'"):
        _run([a, c], tmp_path / "o2", id_column="n")
    _run([a, b], tmp_path / "r", id_column="n", on_bad_row="reject")
    m = _check_accounting(tmp_path / "r", 12)
    rejected = m.filter(pc.equal(m["action"], "rejected"))
    assert rejected.num_rows == 6
    assert set(rejected["source_file"].to_pylist()) == {str(b)}
    assert "schema differs" in rejected["reason"][0].as_py()


def test_compatible_schemas_are_cast(tmp_path):
    a = write_parquet(tmp_path / "a.parquet", [dict(r, q=1.5) for r in GOOD])
    b = write_jsonl(tmp_path / "b.jsonl", [{"text": r["text"] + " extra", "q": 2} for r in GOOD])
    _run([a, b], tmp_path / "o")
    data = pq.read_table(tmp_path / "o" / "data")
    assert data.schema.field("q").type == pa.float64()


def test_truncated_gzip(tmp_path):
    rows = [{"text": f"row {i} " + "word " * 50 + str(i)} for i in range(2000)]
    path = write_jsonl(tmp_path / "a.jsonl.gz", rows, compress=True)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError, match=r"a\.jsonl\.gz.*truncated or corrupt"):
        _run([path], tmp_path / "o")
    _run([path], tmp_path / "r", on_bad_row="reject")
    m = _manifest(tmp_path / "r")
    assert m["action"][-1].as_py() == "rejected"
    assert "cannot be read past this row" in m["reason"][-1].as_py()
    assert m.num_rows > 10


def test_bom_crlf_and_blank_lines(tmp_path):
    path = tmp_path / "a.jsonl"
    path.write_bytes(
        b'\xef\xbb\xbf{"text": "first doc words"}\r\n\r\n{"text": "second doc here"}\r\n'
    )
    report = _run([path], tmp_path / "o")
    assert report.rows == 2 and report.counts["kept"] == 2


def test_zstd_jsonl_and_folder_and_glob(tmp_path):
    import zstandard

    (tmp_path / "in").mkdir()
    raw = b"".join(b'{"text": "zstd doc %d with words"}\n' % i for i in range(5))
    (tmp_path / "in" / "a.jsonl.zst").write_bytes(zstandard.ZstdCompressor().compress(raw))
    write_jsonl(tmp_path / "in" / "b.jsonl", [{"text": "plain doc with some words"}])
    (tmp_path / "in" / "notes.txt").write_text("ignored")
    assert _run([tmp_path / "in"], tmp_path / "o").rows == 6
    assert _run([str(tmp_path / "in" / "*.jsonl*")], tmp_path / "g").rows == 6


def test_missing_input_is_named(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        _run([tmp_path / "nope.parquet"], tmp_path / "o")


def test_remote_filesystem_uri(tmp_path):
    fsspec = pytest.importorskip("fsspec")
    fs = fsspec.filesystem("memory")
    with fs.open("/bucket/corpus/a.parquet", "wb") as fh:
        pq.write_table(pa.Table.from_pylist(GOOD + GOOD[:2]), fh)
    with fs.open("/bucket/corpus/b.jsonl", "wb") as fh:
        fh.write(b'{"text": "remote jsonl document here"}\n')
    report = _run(["memory://bucket/corpus"], tmp_path / "o")
    assert report.rows == 9 and report.counts["exact_duplicate"] == 2
    m = _manifest(tmp_path / "o")
    assert all(f.startswith("memory://") for f in m["source_file"].to_pylist())


def test_duplicate_ids_are_detected(tmp_path):
    a = write_parquet(tmp_path / "a.parquet", [{"id": "p1", "text": "first page words here"},
                                               {"id": "p2", "text": "second page other words"}])
    b = write_jsonl(tmp_path / "b.jsonl", [{"id": "p3", "text": "third page more words"},
                                           {"id": "p1", "text": "a different page again"}])
    with pytest.raises(InputError, match=r"b\.jsonl, row 1, column 'id': id 'p1' appears again"
                                         r".*a\.parquet row 0"):
        _run([a, b], tmp_path / "o", id_column="id")
    _run([a, b], tmp_path / "r", id_column="id", on_bad_row="reject")
    m = _check_accounting(tmp_path / "r", 4)
    assert m["action"].to_pylist() == ["kept", "kept", "kept", "rejected"]
    assert "duplicate id 'p1'" in m["reason"][3].as_py()
    assert "a.parquet row 0" in m["reason"][3].as_py()


@pytest.mark.parametrize("option", [{"id_column": "nonexistent"},
                                    {"survivor": "max:nonexistent"}])
def test_a_column_no_input_has_is_an_error_even_in_reject_mode(tmp_path, option):
    """A typo in a column option must not reject the whole corpus and report success."""
    path = write_parquet(tmp_path / "a.parquet", GOOD)
    with pytest.raises(InputError, match="no column 'nonexistent' in any input"):
        _run([path], tmp_path / "r", on_bad_row="reject", **option)
    assert not (tmp_path / "r").exists()


def test_hidden_and_bookkeeping_folders_are_not_input(tmp_path):
    """A notebook checkpoint or a Spark `_temporary` copy must not be read (nor win as first)."""
    corpus = tmp_path / "corpus"
    for sub in ("", ".ipynb_checkpoints", "_temporary/0"):
        (corpus / sub).mkdir(parents=True, exist_ok=True)
    write_parquet(corpus / "part-0.parquet", GOOD)
    write_parquet(corpus / ".ipynb_checkpoints" / "part-0-checkpoint.parquet", GOOD)
    write_parquet(corpus / "_temporary" / "0" / "part-0.parquet", GOOD)
    report = _run([corpus], tmp_path / "r")
    m = _check_accounting(tmp_path / "r", len(GOOD))
    assert report.counts["kept"] == len(GOOD)
    assert set(m["source_file"].to_pylist()) == {str(corpus / "part-0.parquet")}
