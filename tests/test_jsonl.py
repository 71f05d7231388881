"""JSONL lines that pyarrow reads wrongly or not at all, and lines too long to hold."""

from __future__ import annotations

import gzip
import io
import json
import subprocess
import sys
import textwrap

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

import dedupe
from dedupe.cli import main
from dedupe.errors import InputError
from dedupe.io.readers import read_task
from dedupe.io.sources import expand_inputs, split_tasks


def _doc(i: int) -> str:
    return f"document {i} " + " ".join(f"w{(i * 31 + k * 17) % 100003}" for k in range(30))


def _run(paths, out, **kw):
    return dedupe.run(paths, out, engine__name="serial", **kw)


def _manifest(out) -> pa.Table:
    return pq.read_table(out / "manifest.parquet").sort_by("source_row")


BAD_LINES = {
    "two objects": (b'{"text": "%s"} {"text": "another one"}',
                    r"line 4 \(row 2\): holds more than one JSON value"),
    "lone surrogate": (b'{"text": "cut \\ud800 here %s"}',
                       r"line 4 \(row 2\): field 'text' holds an unpaired surrogate"),
    "not an object": (b'["%s"]', r"line 4 \(row 2\): a JSONL line must hold an object"),
    "field twice": (b'{"text": "%s", "text": "again"}', r"line 4 \(row 2\): field 'text' is "
                    "given twice"),
    "text a number": (b'{"text": 12345, "n": "%s"}',
                      r"line 4 \(row 2\): the text field 'text' is a number"),
}


@pytest.mark.parametrize("kind", sorted(BAD_LINES))
def test_bad_line_is_an_error_naming_file_and_line(tmp_path, kind):
    line, message = BAD_LINES[kind]
    path = tmp_path / "a.jsonl"
    rows = [json.dumps({"text": _doc(i)}).encode() for i in range(5)]
    rows.insert(2, line.replace(b"%s", _doc(99).encode()))
    path.write_bytes(b"\n".join(rows[:2]) + b"\n\n" + b"\n".join(rows[2:]) + b"\n")
    result = CliRunner().invoke(main, ["run", str(path), "--out", str(tmp_path / "e"), "-q",
                                       "--engine", "serial"])
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output and "a.jsonl" in result.output
    assert __import__("re").search(message, result.output.replace("\n", " ")), result.output
    _run([path], tmp_path / "r", on_bad_row="reject")
    m = _manifest(tmp_path / "r")
    assert m.num_rows == 6
    assert m["action"].to_pylist() == ["kept", "kept", "rejected", "kept", "kept", "kept"]
    assert m["reason"][2].as_py().startswith("line 4: ")
    assert pq.read_table(tmp_path / "r" / "data").num_rows == 5


def test_bad_lines_inside_large_blocks(tmp_path):
    """Bad lines among thousands of good ones: each found, every good row kept, in order."""
    bad_at = {17, 1500, 1501, 2999}
    lines = []
    for i in range(3000):
        if i in bad_at:
            lines.append(b'{"text": "x"} {"text": "y"}' if i % 2 else b'{"text": "\\udc00 z"}')
        else:
            lines.append(json.dumps({"text": _doc(i), "n": i}).encode())
    path = tmp_path / "a.jsonl.gz"
    path.write_bytes(gzip.compress(b"\n".join(lines) + b"\n"))
    report = _run([path], tmp_path / "o", on_bad_row="reject")
    m = _manifest(tmp_path / "o")
    rejected = np.flatnonzero(np.array(m["action"].to_pylist()) == "rejected")
    assert set(rejected.tolist()) == bad_at
    data = pq.read_table(tmp_path / "o" / "data")
    assert data.num_rows == report.counts["kept"] == 3000 - len(bad_at)
    assert data["n"].to_pylist() == sorted(set(range(3000)) - bad_at)


def test_a_field_that_first_appears_late_is_written(tmp_path):
    rows = [{"text": _doc(i)} for i in range(2500)]
    for i in range(2100, 2500):
        rows[i]["late"] = {"k": i}
    rows[2400]["also_late"] = 3.5
    path = tmp_path / "late.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    report = _run([path], tmp_path / "o")
    data = pq.read_table(tmp_path / "o" / "data").sort_by("text")
    assert data.num_rows == report.counts["kept"] == 2500
    assert data.schema.field("late").type == pa.struct([("k", pa.int64())])
    late = dict(zip(data["text"].to_pylist(), data["late"].to_pylist()))
    assert late[_doc(0)] is None and late[_doc(2200)] == {"k": 2200}
    assert data["also_late"].drop_null().to_pylist() == [3.5]


def test_timestamp_looking_strings_stay_strings(tmp_path):
    a = tmp_path / "a.jsonl"
    a.write_text("".join(json.dumps({"text": _doc(i), "created": "2020-03-29T09:04:10Z"}) + "\n"
                         for i in range(3)))
    b = tmp_path / "b.jsonl"
    b.write_text("".join(json.dumps({"text": _doc(10 + i),
                                     "created": "2019-07-17T13:39:42.000Z"}) + "\n"
                         for i in range(3)))
    _run([a, b], tmp_path / "o")
    data = pq.read_table(tmp_path / "o" / "data")
    assert data.schema.field("created").type == pa.string()
    assert data["created"].to_pylist() == ["2020-03-29T09:04:10Z"] * 3 + [
        "2019-07-17T13:39:42.000Z"] * 3


def test_line_reader_is_bounded_and_linear():
    from dedupe.io.streams import LineReader, Oversize

    big = b'{"text": "' + b"a" * (5 << 20) + b'"}'
    data = b'{"text": "one"}\n\n' + big + b'\r\n  \n{"text": "two"}\n{"text": "three"}'
    got = list(LineReader(io.BytesIO(data), limit=1 << 20))
    assert [(r, n) for r, n, _ in got] == [(0, 1), (1, 3), (2, 5), (3, 6)]
    assert got[1][2] == Oversize(len(big) + 1) and isinstance(got[1][2], Oversize)
    assert got[3][2] == b'{"text": "three"}'
    only = list(LineReader(io.BytesIO(data), only=np.array([2])))
    assert only == [(2, 5, b'{"text": "two"}')]


def test_lines_not_asked_for_are_not_parsed(tmp_path):
    """The write stage's reader skips the lines it does not write, unparsed."""
    path = tmp_path / "a.jsonl"
    path.write_text('{"text": "one"}\nnot json at all\n{"text": "three"}\n')
    task = split_tasks(expand_inputs([path]))[0]
    batches = list(read_task(task, None, only_rows=[0, 2]))
    assert [r for b in batches for r in b.source_rows.tolist()] == [0, 2]
    assert not any(b.rejected for b in batches)


def test_overlong_line_is_rejected_with_its_reason(tmp_path):
    lines = [json.dumps({"text": _doc(i)}) for i in range(4)]
    lines.insert(2, json.dumps({"text": "z " * (600 << 10)}))
    path = tmp_path / "a.jsonl.gz"
    path.write_bytes(gzip.compress("\n".join(lines).encode()))
    report = _run([path], tmp_path / "o", max_row_bytes="1MB")
    m = _manifest(tmp_path / "o")
    assert m["action"].to_pylist() == ["kept", "kept", "rejected", "kept", "kept"]
    size = len(lines[2].encode())
    assert f"line 3: {size:,} bytes, over max_row_bytes (1,048,576)" in m["reason"][2].as_py()
    assert report.counts["kept"] == pq.read_table(tmp_path / "o" / "data").num_rows == 4
    _run([path], tmp_path / "big", max_row_bytes="2MB")  # raised: kept whole
    assert pq.read_table(tmp_path / "big" / "data").num_rows == 5


def test_overlong_parquet_text_is_rejected(tmp_path):
    texts = [_doc(0), "y " * (600 << 10), _doc(2)]
    pq.write_table(pa.table({"text": texts}), tmp_path / "a.parquet")
    _run([tmp_path / "a.parquet"], tmp_path / "o", max_row_bytes=1 << 20)
    m = _manifest(tmp_path / "o")
    assert m["action"].to_pylist() == ["kept", "rejected", "kept"]
    assert "over max_row_bytes (1,048,576)" in m["reason"][1].as_py()
    assert pq.read_table(tmp_path / "o" / "data")["text"].to_pylist() == [texts[0], texts[2]]


GIANT = textwrap.dedent("""
    import sys, time
    import dedupe
    if __name__ == "__main__":
        t0 = time.perf_counter()
        report = dedupe.run([sys.argv[1]], sys.argv[2], engine__name="serial",
                            max_row_bytes="16MB")
        # this process's own peak (ru_maxrss would count the parent's, inherited through fork)
        peak = next(line.split()[1] for line in open("/proc/self/status")
                    if line.startswith("VmHWM"))
        print(report.counts["rejected"], report.counts["kept"], time.perf_counter() - t0, peak)
""")


def _giant_file(path, line_mb: int) -> None:
    """Three pages, one line of ``line_mb`` MB of text, three pages (about 1 MB gzipped)."""
    with gzip.open(path, "wb", compresslevel=1) as fh:
        for i in range(3):
            fh.write(json.dumps({"text": f"page {i} " + "word " * 40}).encode() + b"\n")
        fh.write(b'{"text": "')
        for _ in range(line_mb // 5):
            fh.write(b"spam " * (1 << 20))
        fh.write(b'"}\n')
        for i in range(3, 6):
            fh.write(json.dumps({"text": f"page {i} " + "more " * 40}).encode() + b"\n")


@pytest.mark.slow
def test_a_giant_line_costs_linear_time_and_bounded_memory(tmp_path):
    """A 200 MB line (a few hundred KB gzipped) is streamed past: seconds, not minutes, and
    no copy of it in memory."""
    script = tmp_path / "giant.py"
    script.write_text(GIANT)
    _giant_file(tmp_path / "giant.jsonl.gz", 200)
    proc = subprocess.run([sys.executable, str(script), str(tmp_path / "giant.jsonl.gz"),
                           str(tmp_path / "out")], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    rejected, kept, seconds, peak_kib = proc.stdout.split()
    assert (int(rejected), int(kept)) == (1, 6)
    assert int(peak_kib) / 1024 < 300, f"peak RSS {int(peak_kib) / 1024:.0f} MiB"
    assert float(seconds) < 60
    m = _manifest(tmp_path / "out")
    assert "over max_row_bytes" in m["reason"][3].as_py()


def test_bad_line_error_is_not_a_traceback_in_error_mode(tmp_path):
    path = tmp_path / "a.jsonl"
    path.write_bytes(b'{"text": "fine words here"}\n{"text": "x \\ud800"}\n')
    with pytest.raises(InputError, match=r"a\.jsonl, line 2 \(row 1\)"):
        _run([path], tmp_path / "o")


def _lines(path, *rows: str):
    path.write_text("".join(r + "\n" for r in rows))
    return path


def _written(out) -> list[dict]:
    return pq.read_table(out / "data").to_pylist()


@pytest.mark.parametrize("batch_rows", [1, 2, 1024])
def test_a_mixed_type_array_is_kept_as_json_text_exactly_as_written(tmp_path, batch_rows):
    """A valid row whose field pyarrow refuses (an array of a number and a string) is kept:
    that field becomes text, every row's value exactly as the file writes it."""
    path = _lines(tmp_path / "a.jsonl",
                  f'{{"text": "{_doc(0)}", "meta": [550,  "x"], "n": 1}}',
                  f'{{"text": "{_doc(1)}", "meta": [1,2], "n": 2}}',
                  f'{{"text": "{_doc(2)}", "meta": {{"k": [1, null, 2.50]}}, "n": 3}}',
                  f'{{"text": "{_doc(3)}", "meta": null, "n": 4}}')
    report = _run([path], tmp_path / "o", batch_rows=batch_rows)
    assert report.counts["kept"] == 4 and report.counts["rejected"] == 0
    rows = _written(tmp_path / "o")
    assert [r["meta"] for r in rows] == ['[550,  "x"]', "[1,2]", '{"k": [1, null, 2.50]}', None]
    assert [r["n"] for r in rows] == [1, 2, 3, 4]  # the other fields keep their types
    assert pq.read_schema(next((tmp_path / "o" / "data").iterdir())).names == [
        "text", "meta", "n"]


@pytest.mark.parametrize("batch_rows", [1, 3, 1024])
@pytest.mark.parametrize("order", [[0, 1, 2, 3], [3, 2, 1, 0], [1, 0, 3, 2]])
def test_numbers_a_float_column_cannot_hold_are_kept_as_text(tmp_path, batch_rows, order):
    """An integer past 2**53 among floats, or past int64, is never turned into a nearby
    float: such a field is kept as text, every value as written."""
    rows = [f'{{"text": "{_doc(0)}", "n": 9007199254740993, "v": [1, null, 2.5]}}',
            f'{{"text": "{_doc(1)}", "n": 2.50, "v": [3]}}',
            f'{{"text": "{_doc(2)}", "n": 99999999999999999999, "v": "none"}}',
            f'{{"text": "{_doc(3)}", "n": -7, "v": [9007199254740993, 0.5]}}']
    path = _lines(tmp_path / "a.jsonl", *[rows[i] for i in order])
    report = _run([path], tmp_path / "o", batch_rows=batch_rows)
    assert report.counts["kept"] == 4
    n = ["9007199254740993", "2.50", "99999999999999999999", "-7"]
    v = ["[1, null, 2.5]", "[3]", "none", "[9007199254740993, 0.5]"]
    got = {r["text"]: (r["n"], r["v"]) for r in _written(tmp_path / "o")}
    assert got == {_doc(i): (n[i], v[i]) for i in range(4)}


def test_large_integers_alone_stay_integers(tmp_path):
    path = _lines(tmp_path / "a.jsonl",
                  f'{{"text": "{_doc(0)}", "n": 9007199254740993, "x": 1.5}}',
                  f'{{"text": "{_doc(1)}", "n": -9223372036854775808, "x": 2}}')
    _run([path], tmp_path / "o")
    data = pq.read_table(tmp_path / "o" / "data")
    assert data.schema.field("n").type == pa.int64() and data.schema.field("x").type == pa.float64()
    assert data["n"].to_pylist() == [9007199254740993, -9223372036854775808]


def test_a_number_another_input_makes_float_stops_the_run_with_the_value(tmp_path):
    pq.write_table(pa.table({"text": [_doc(0)], "n": [1.5]}), tmp_path / "a.parquet")
    path = _lines(tmp_path / "b.jsonl", f'{{"text": "{_doc(1)}", "n": 9007199254740993}}')
    with pytest.raises(InputError, match=r"b\.jsonl, column 'n': field 'n' holds the integer "
                                         r"9007199254740993, which the run's double column"):
        _run([tmp_path / "a.parquet", path], tmp_path / "o")


_json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats(allow_nan=False)
    | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner,
                                                                max_size=3),
    max_leaves=8)


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.text(max_size=4), _json_values, min_size=1, max_size=4),
       st.sampled_from([(", ", ": "), (",", ":"), (" ,  ", " :\t")]), st.data())
def test_values_as_text_keeps_each_value_as_written(row, separators, data):
    from dedupe.io.rawjson import values_as_text

    line = json.dumps(row, separators=separators, ensure_ascii=data.draw(st.booleans()))
    names = set(data.draw(st.lists(st.sampled_from(sorted(row)), max_size=len(row))))
    out = json.loads(values_as_text(line.encode(), names))
    for key, value in row.items():
        if key in names and value is not None and not isinstance(value, str):
            assert isinstance(out[key], str) and json.loads(out[key]) == value
            assert out[key] in line  # the text exactly as the line writes it
        else:
            assert out[key] == value
