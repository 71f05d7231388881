"""Near-duplicate passages: windows, signatures and digests against slow references, the
covered ranges rule, and ``--near-passages`` through ``dedupe run``."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import dedupe
from dedupe.errors import ConfigError
from dedupe.pipeline.passage_stage import covered_ranges
from dedupe.spans.passages import batch_passages, passage_windows
from dedupe.spans.tokens import batch_tokens
from dedupe.text.hashing import fmix64


def _windows_reference(counts, valid, size, stride, min_tokens):
    out = []
    base = 0
    for d, (n, ok) in enumerate(zip(counts, valid, strict=True)):
        if ok and n >= min_tokens:
            if n <= size:
                out.append((d, base, base + n))
            else:
                s = 0
                while s + size <= n:
                    out.append((d, base + s, base + s + size))
                    s += stride
                if s - stride + size < n:
                    out.append((d, base + n - size, base + n))
        base += n
    return out


@settings(max_examples=300, deadline=None)
@given(counts=st.lists(st.integers(0, 130), min_size=0, max_size=12),
       size=st.integers(2, 50), data=st.data())
def test_windows_follow_the_rule(counts, size, data):
    stride = data.draw(st.integers(1, size))
    min_tokens = data.draw(st.integers(1, 20))
    valid = np.array(data.draw(st.lists(st.booleans(), min_size=len(counts),
                                        max_size=len(counts))), bool)
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    doc, lo, hi = passage_windows(offsets, valid, size, stride, min_tokens)
    assert list(zip(doc.tolist(), lo.tolist(), hi.tolist(), strict=True)) == _windows_reference(
        counts, valid, size, stride, min_tokens)
    # every token of a page with passages is covered
    for d in set(doc.tolist()):
        covered = np.zeros(counts[d], bool)
        for a, b in zip(lo[doc == d], hi[doc == d], strict=True):
            covered[a - offsets[d] : b - offsets[d]] = True
        assert covered.all()


WORDS = [f"w{i}" for i in range(400)]


def _text(rng, n):
    return " ".join(WORDS[i] for i in rng.integers(0, len(WORDS), n))


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), ngram=st.integers(1, 3), num_perm=st.sampled_from([8, 32]))
def test_signatures_and_digests_equal_the_reference(seed, ngram, num_perm):
    """Each passage's signature is datasketch's MinHash of its shingles (the ``ngram``-token
    window hashes of its tokens, top 32 bits), and its digest depends only on its tokens."""
    from datasketch import MinHash

    from dedupe.spans.windows import window_table

    rng = np.random.default_rng(seed)
    texts = [_text(rng, int(n)) for n in rng.integers(0, 90, 4)]
    texts.append("Punctuation, CASE and   spacing: " + texts[0])
    tokens = batch_tokens(pa.array(texts))
    p = batch_passages(tokens, np.ones(len(texts), bool), size=20, stride=7, min_tokens=5,
                       ngram=ngram, num_perm=num_perm, seed=3)
    grams = (fmix64(window_table(tokens.hashes, ngram)) >> np.uint64(32)).astype(np.uint32)
    for i in range(len(p)):
        m = MinHash(num_perm=num_perm, seed=3, hashfunc=int)
        values = {int(v) for v in grams[p.lo[i] : p.hi[i] - ngram + 1]}
        for v in values:
            m.update(v)
        if values:
            assert np.array_equal(p.sig[i], m.hashvalues.astype(np.uint32))
        assert p.n_shingles[i] == max(p.hi[i] - p.lo[i] - ngram + 1, 0)
        text = texts[p.doc[i]]
        assert text[p.start[i] : p.end[i]].split()[0].strip(",:").lower() in text.lower()
    # equal token sequences, equal digests; another order, another digest
    key = {tuple(tokens.hashes[a:b]): tuple(d) for a, b, d in zip(p.lo, p.hi, p.digest,
                                                                   strict=True)}
    for a, b, d in zip(p.lo, p.hi, p.digest, strict=True):
        assert key[tuple(tokens.hashes[a:b])] == tuple(d)
    if len(p):
        a, b = int(p.lo[0]), int(p.hi[0])
        flipped = batch_tokens(pa.array([" ".join(texts[p.doc[0]].split()[::-1])]))
        q = batch_passages(flipped, np.ones(1, bool), size=20, stride=7, min_tokens=5,
                           ngram=ngram, num_perm=num_perm, seed=3)
        if len(set(tokens.hashes[a:b].tolist())) > 1:
            assert not any(np.array_equal(d, p.digest[0]) for d in q.digest)


def _covered_reference(doc, start, end, flagged):
    out = []
    for d in sorted(set(doc.tolist())):
        sel = doc == d
        top = int(end[sel].max())
        cover = np.zeros(top, int)
        marks = np.zeros(top, int)
        for a, b, f in zip(start[sel], end[sel], flagged[sel], strict=True):
            cover[a:b] += 1
            marks[a:b] += int(f)
        inside = (marks >= np.minimum(2, cover)) & (marks > 0)
        i = 0
        while i < top:
            if inside[i]:
                j = i
                while j < top and inside[j]:
                    j += 1
                out.append((d, i, j))
                i = j
            else:
                i += 1
    return out


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 3), st.integers(0, 60), st.integers(1, 30),
                          st.booleans()), min_size=1, max_size=25))
def test_covered_ranges_equal_the_character_reference(windows):
    """Positions are characters here; with every position a token (``prev_end`` = start,
    ``next_start`` = end) the ranges are exactly the characters the rule keeps."""
    windows.sort()
    doc = np.array([w[0] for w in windows], np.int64)
    start = np.array([w[1] for w in windows], np.int64)
    end = start + np.array([w[2] for w in windows], np.int64)
    flagged = np.array([w[3] for w in windows], bool)
    d, a, b = covered_ranges(doc, start, end, flagged, start, end)
    assert list(zip(d.tolist(), a.tolist(), b.tolist(), strict=True)) == _covered_reference(
        doc, start, end, flagged)


def test_stride_longer_than_a_passage_is_refused():
    with pytest.raises(ConfigError, match="passage_stride"):
        dedupe.DedupeConfig.from_dict({"spans": {"passage_tokens": 20, "passage_stride": 30}})


# --- through dedupe run ---------------------------------------------------------------------

PASSAGES = {"near_passages": True, "passage_stride": 10, "passage_threshold": 0.5,
            "spans": False, "boilerplate": False}


def _run(table, tmp_path, name="out", files=1, **kw):
    paths = []
    per = -(-table.num_rows // files)
    for f in range(files):
        path = tmp_path / f"{name}-in-{f}.parquet"
        pq.write_table(table.slice(f * per, per), path)
        paths.append(path)
    kw.setdefault("engine__name", "serial")
    report = dedupe.run(paths, tmp_path / name, id_column="id", **kw)
    spans = (pq.read_table(tmp_path / name / "spans.parquet")
             if (tmp_path / name / "spans.parquet").exists() else None)
    return report, spans


def _cover(table, spans, kind="near_passage"):
    texts = table["text"].to_pylist()
    index = {i: r for r, i in enumerate(table["id"].to_pylist())}
    cover = {}
    for s in spans.to_pylist():
        if s["kind"] == kind:
            r = index[s["id"]]
            cover.setdefault(r, np.zeros(len(texts[r]), bool))[s["start"] : s["end"]] = True
    return cover


@pytest.fixture(scope="module")
def planted():
    from tests.synth.passages import planted_passages

    return planted_passages(300, seed=4, n_passages=10, copies=3)


def test_later_near_copies_across_pages_are_flagged_and_first_copies_kept(planted, tmp_path):
    table, truth = planted
    report, spans = _run(table, tmp_path, **PASSAGES)
    cover = _cover(table, spans)
    ids = table["id"].to_pylist()
    first_row = {c["passage"]: c["row"] for c in truth if c["first"]}
    later = [c for c in truth if not c["first"]]
    for c in later:  # every later copy is flagged, and points at its passage's first page
        got = cover.get(c["row"], np.zeros(1, bool))[c["start"] : c["end"]]
        assert got.mean() >= 0.7, c
    rows = spans.filter(pa.compute.equal(spans["kind"], "near_passage")).to_pylist()
    on_copies = 0
    for s in rows:
        assert 0.0 < s["similarity"] <= 1.0 and s["count"] >= 2
        r = ids.index(s["id"])
        mine = [c for c in later if c["row"] == r and c["start"] < s["end"]
                and s["start"] < c["end"]]
        if mine:  # (the generator's small topic vocabularies make a few chance matches)
            on_copies += 1
            assert s["first_id"] == ids[first_row[mine[0]["passage"]]]
    assert on_copies >= 0.9 * len(rows)
    for c in truth:  # nothing of a first copy
        if c["first"]:
            assert not cover.get(c["row"], np.zeros(len(table["text"][c["row"]].as_py()),
                                                     bool))[c["start"] : c["end"]].any()
    inside = sum((m & _planted_mask(table, later, r)).sum() for r, m in cover.items())
    assert inside / sum(m.sum() for m in cover.values()) >= 0.9
    sp = report.spans
    assert sp["near_passage"]["documents"] == len({ids.index(s["id"]) for s in rows})
    assert sp["near_passage"]["spans"] == len(rows)
    top = sp["top_near_passages"][0]
    assert top["passages"] >= 3 and top["first_source_row"] in first_row.values()
    assert sp["passages"]["passages"] == sp["passages"]["passages_of_kept_pages"] > 0


def _planted_mask(table, copies, row):
    m = np.zeros(len(table["text"][row].as_py()), bool)
    for c in copies:
        if c["row"] == row:
            m[c["start"] : c["end"]] = True
    return m


def test_pages_removed_as_near_duplicates_do_not_count(tmp_path):
    rng = np.random.default_rng(7)
    base = _text(rng, 400)
    passage = _text(rng, 70)
    edited = passage.split()
    for i in rng.choice(len(edited), 5, replace=False):
        edited[i] = "zz" + edited[i]
    rows = [
        {"id": "w", "text": base},  # kept
        {"id": "x", "text": base + "\n" + passage},  # a near duplicate of w: removed
        {"id": "y", "text": _text(rng, 150) + "\n" + " ".join(edited)},
        {"id": "z", "text": _text(rng, 150) + "\n" + passage + "\n" + _text(rng, 50)},
    ]
    table = pa.Table.from_pylist(rows)
    report, spans = _run(table, tmp_path, **PASSAGES)
    assert report.counts["near_duplicate"] == 1
    near = [s for s in spans.to_pylist() if s["kind"] == "near_passage"]
    # the passage's first kept page is y: z's copy points there, x (removed) is nowhere
    assert [(s["id"], s["first_id"]) for s in near] == [("z", "y")]
    assert report.spans["passages"]["passages_of_kept_pages"] < report.spans["passages"][
        "passages"]


def test_the_same_spans_for_any_worker_count(planted, tmp_path):
    table, _ = planted
    _, one = _run(table, tmp_path, "one", files=3, **PASSAGES)
    _, two = _run(table, tmp_path, "two", files=3, engine__name="local", workers=2,
                  partitions=3, **PASSAGES)
    assert one.num_rows > 0 and one.equals(two)


def test_remove_spans_cuts_near_passages_out_of_later_pages(planted, tmp_path):
    table, truth = planted
    _, spans = _run(table, tmp_path, remove_spans=True, min_length=0, **PASSAGES)
    out = pq.read_table(tmp_path / "out" / "data").to_pylist()
    texts = {r["id"]: r["text"] for r in out}
    original = dict(zip(table["id"].to_pylist(), table["text"].to_pylist(), strict=True))
    cut = [s for s in spans.to_pylist() if s["kind"] == "near_passage"]
    for s in cut:
        assert original[s["id"]][s["start"] : s["end"]] not in texts[s["id"]]
        assert len(texts[s["id"]]) < len(original[s["id"]])
    firsts = {table["id"][c["row"]].as_py() for c in truth if c["first"]}
    flagged = {s["id"] for s in cut}
    for page in firsts - flagged:
        assert texts[page] == original[page]


def test_passage_options_change_what_is_found(planted, tmp_path):
    table, _ = planted
    loose, _ = _run(table, tmp_path, "loose", **PASSAGES)
    strict, _ = _run(table, tmp_path, "strict", **{**PASSAGES, "passage_threshold": 0.95})
    assert strict.spans["near_passage"]["chars"] < loose.spans["near_passage"]["chars"]
    wide, _ = _run(table, tmp_path, "wide", **{**PASSAGES, "passage_stride": 20})
    short, _ = _run(table, tmp_path, "short", **{**PASSAGES, "passage_tokens": 20,
                                                 "passage_stride": 10})
    tokens = [len(batch_tokens(pa.array([t])).hashes) for t in table["text"].to_pylist()]
    offsets = np.concatenate([[0], np.cumsum(tokens)]).astype(np.int64)
    for report, size, stride in ((loose, 40, 10), (wide, 40, 20), (short, 20, 10)):
        doc, _, _ = passage_windows(offsets, np.ones(len(tokens), bool), size, stride, 10)
        assert report.spans["passages"]["passages"] == len(doc)


def test_near_passages_are_off_by_default(planted, tmp_path):
    table, _ = planted
    report, spans = _run(table, tmp_path, "default")
    assert "passages" not in report.spans
    assert "similarity" not in spans.column_names
    assert "near_passage" not in set(spans["kind"].to_pylist())
    _, with_them = _run(table, tmp_path, "on", near_passages=True)
    kinds = with_them["kind"].to_pylist()
    sims = with_them["similarity"].to_pylist()
    assert "near_passage" in kinds
    assert all((s is None) == (k != "near_passage") for k, s in zip(kinds, sims, strict=True))


def test_near_copies_inside_a_page_with_words_changed_throughout_are_found(tmp_path):
    """A page's own passage pasted again with 5-15 % of its words replaced, inserted or
    dropped all along (not only cut short): flagged as a repeat, and only the copy."""
    from tests.synth.passages import planted_passages

    table, truth = planted_passages(200, seed=11, n_passages=0, inside=40)
    _, spans = _run(table, tmp_path, boilerplate=False)
    cover = _cover(table, spans, "repeat")
    copies = [c for c in truth if c["inside"]]
    found = [cover.get(c["row"], np.zeros(1, bool))[c["start"] : c["end"]].mean() >= 0.5
             for c in copies]
    assert np.mean(found) >= 0.9
    inside = sum((m & _planted_mask(table, copies, r)).sum() for r, m in cover.items())
    assert inside / sum(m.sum() for m in cover.values()) >= 0.95


def test_the_run_and_the_library_share_the_near_repeat_threshold():
    from dedupe.spans.repeats import DEFAULT_NEAR_THRESHOLD

    assert dedupe.DedupeConfig().spans.near_threshold == DEFAULT_NEAR_THRESHOLD


def test_the_command_line_options_reach_the_run(planted, tmp_path):
    import json

    from click.testing import CliRunner

    from dedupe.cli import main

    table, _ = planted
    path = tmp_path / "in.parquet"
    pq.write_table(table, path)
    args = ["run", str(path), "--out", str(tmp_path / "cli"), "--id-column", "id", "-q",
            "--no-spans", "--no-boilerplate", "--near-passages", "--passage-threshold", "0.6",
            "--passage-tokens", "30", "--passage-stride", "15", "--workers", "1"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "cli" / "report.json").read_text())
    tokens = [len(batch_tokens(pa.array([t])).hashes) for t in table["text"].to_pylist()]
    offsets = np.concatenate([[0], np.cumsum(tokens)]).astype(np.int64)
    doc, _, _ = passage_windows(offsets, np.ones(len(tokens), bool), 30, 15, 10)
    assert report["spans"]["passages"]["passages"] == len(doc)
    assert report["spans"]["near_passage"]["spans"] > 0
    off = CliRunner().invoke(main, [*args[:-6], "--no-near-passages", "--workers", "1",
                                    "--overwrite"])
    assert off.exit_code == 0, off.output
    assert "passages" not in json.loads((tmp_path / "cli" / "report.json").read_text())["spans"]


_HARNESS = """
import os, signal, sys
import dedupe

stage, after = sys.argv[3], int(sys.argv[4])

def progress(name, done, total, result):
    if name == stage and done >= after:
        os.kill(os.getpid(), signal.SIGKILL)

if __name__ == "__main__":
    dedupe.run(sys.argv[1:2], sys.argv[2], workers=int(sys.argv[5]), id_column="id",
               near_passages=True, progress=progress)
"""


@pytest.mark.faults
@pytest.mark.parametrize("stage,after,workers", [("passages", 2, 1), ("passages", 9, 2),
                                                 ("finish", 2, 2)])
def test_killed_in_the_passage_stage_then_rerun_gives_the_same_spans(planted, tmp_path, stage,
                                                                     after, workers):
    import subprocess
    import sys

    table, _ = planted
    folder = tmp_path / "in"
    folder.mkdir()
    for i in range(3):  # three tasks
        pq.write_table(table.slice(i * 100, 100), folder / f"part-{i}.parquet")
    reference = tmp_path / "reference"
    dedupe.run([folder], reference, workers=1, id_column="id", near_passages=True)
    script = tmp_path / "harness.py"
    script.write_text(_HARNESS)
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, str(script), str(folder), str(out), stage,
                           str(after), str(workers)], capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == -9, proc.stderr
    assert not (out / "report.json").exists()
    report = dedupe.run([folder], out, workers=workers, id_column="id", near_passages=True)
    assert report.outputs["resumed"]
    assert pq.read_table(out / "spans.parquet").equals(pq.read_table(reference / "spans.parquet"))
    assert pq.read_table(out / "manifest.parquet").equals(
        pq.read_table(reference / "manifest.parquet"))
    assert report.spans["near_passage"]["spans"] > 0


def test_a_resumed_run_refuses_passages_of_another_scheme(planted, tmp_path):
    import subprocess
    import sys

    from dedupe.errors import OutputError
    from dedupe.io.spill import read_ipc, write_ipc

    table, _ = planted
    path = tmp_path / "in.parquet"
    pq.write_table(table, path)
    script = tmp_path / "harness.py"
    script.write_text(_HARNESS)
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, str(script), str(path), str(out), "passages", "1",
                           "1"], capture_output=True, text=True, timeout=300)
    assert proc.returncode == -9, proc.stderr
    (passages,) = list(out.rglob("passages-000000.arrow"))
    old = read_ipc(str(passages))
    meta = {k.decode(): v.decode() for k, v in old.schema.metadata.items()}
    write_ipc(old.replace_schema_metadata({}), str(passages),
              {**meta, "dedupe.scheme.passage": "dedupe-passage-v0"})
    with pytest.raises(OutputError, match="passages of scheme dedupe-passage-v0"):
        dedupe.run([path], out, workers=1, id_column="id", near_passages=True)


def test_the_passage_spill_writes_pages_in_order_and_leaves_nothing_when_aborted(tmp_path):
    """A task's passages go to a part file batch by batch; the final file is in page order
    (also when batches come out of order), and a failed task leaves neither file."""
    from dedupe.io.spill import read_ipc
    from dedupe.pipeline.span_records import PassageSpill, _passage_records

    cfg = dedupe.DedupeConfig.from_dict({"spans": {"near_passages": True}})
    rng = np.random.default_rng(3)
    texts = [_text(rng, int(n)) for n in rng.integers(30, 120, 6)]
    tables = []
    for lo in (0, 3):  # two batches of three pages, source rows 10.. and 13..
        batch = pa.array(texts[lo : lo + 3])
        tables.append(_passage_records(batch_tokens(batch), np.arange(10 + lo, 13 + lo),
                                       np.ones(3, bool), cfg))
    doc_rows = np.arange(8, 16)  # the task's sign file rows (two rejected rows before)
    got = {}
    for name, order in (("in", tables), ("out", tables[::-1])):
        spill = PassageSpill(str(tmp_path / f"passages-{name}.arrow"))
        for t in order:
            spill.add(t)
        assert spill.finish(doc_rows, cfg, 4, 8) == sum(t.num_rows for t in tables)
        got[name] = read_ipc(str(tmp_path / f"passages-{name}.arrow"))
        assert not (tmp_path / f"passages-{name}.arrow.part").exists()
    # (score is NaN throughout, and NaN equals nothing)
    assert got["in"].drop_columns(["score"]).equals(got["out"].drop_columns(["score"]))
    table = got["in"]
    assert np.isnan(table["score"].to_numpy()).all()
    assert table["source_row"].to_pylist() == list(range(table.num_rows))
    assert np.all(np.diff(table["doc_row"].to_numpy()) >= 0)
    assert set(table["doc_local"].to_pylist()) == {2, 3, 4, 5, 6, 7}
    assert "band_03" in table.column_names and "band_04" not in table.column_names  # 4 bands
    spill = PassageSpill(str(tmp_path / "passages-failed.arrow"))
    spill.add(tables[0])
    spill.abort(RuntimeError("the read failed"))
    assert not [p.name for p in tmp_path.iterdir() if "failed" in p.name]


# --- dedupe sweep over passage thresholds ----------------------------------------------------


def _later_labels(table, truth, path):
    ids = table["id"].to_pylist()
    later = [c for c in truth if not c["first"] and not c["inside"]]
    pq.write_table(pa.table({"id": [ids[c["row"]] for c in later],
                             "start": [c["start"] for c in later],
                             "end": [c["end"] for c in later]}), path)
    return path


def test_a_passage_sweep_scores_each_threshold_as_a_run_would(planted, tmp_path):
    from dedupe.evaluate.passage_sweep import read_span_labels, span_scores, sweep_passages

    table, truth = planted
    path = tmp_path / "in.parquet"
    pq.write_table(table, path)
    labels = _later_labels(table, truth, tmp_path / "labels.parquet")
    cfg = dedupe.DedupeConfig.from_dict({"input": {"paths": [str(path)], "id_column": "id"},
                                         "engine": {"name": "serial"}})
    got = sweep_passages(cfg, str(tmp_path / "sweep"), [0.42, 0.5], str(labels)).to_pylist()
    assert [r["passage_threshold"] for r in got] == [0.42, 0.5]
    for row in got:
        report, spans = _run(table, tmp_path, f"run-{row['passage_threshold']}",
                             near_passages=True, passage_threshold=row["passage_threshold"],
                             spans=False, boilerplate=False)
        flagged = {}
        for s in spans.to_pylist():
            flagged.setdefault(s["id"], []).append((s["start"], s["end"]))
        want = span_scores(flagged, read_span_labels(str(labels)))
        assert {k: row[k] for k in want} == want
        assert row["passages"] == report.spans["passages"]["passages"]
    assert got[0]["recall"] >= got[1]["recall"] and got[1]["precision"] >= 0.9
    md = (tmp_path / "sweep" / "report.md").read_text()
    assert "| 0.42 |" in md and "| 0.50 |" in md


def test_span_scores_count_characters():
    from dedupe.evaluate.passage_sweep import span_scores

    got = span_scores({"a": [(0, 10), (5, 15)], "b": [(0, 4)]}, {"a": [(10, 20)], "c": [(0, 5)]})
    # flagged a: 0-15 (15), b: 4 -> 19; labelled a: 10-20 (10), c: 5 -> 15; both: a 10-15 (5)
    assert got["flagged_chars"] == 19 and got["labelled_chars"] == 15
    assert got["precision"] == pytest.approx(5 / 19) and got["recall"] == pytest.approx(5 / 15)


@pytest.mark.parametrize("rows,match", [
    ({"id": ["a"], "start": [0]}, "missing \\['end'\\]"),
    ({"id": ["a", "b"], "start": [0, 9], "end": [5, 3]}, "row 1"),
])
def test_bad_span_labels_are_named(tmp_path, rows, match):
    from dedupe.errors import InputError
    from dedupe.evaluate.passage_sweep import read_span_labels

    path = tmp_path / "labels.parquet"
    pq.write_table(pa.table(rows), path)
    with pytest.raises(InputError, match=match):
        read_span_labels(str(path))


def test_the_passage_sweep_from_the_command_line(planted, tmp_path):
    from click.testing import CliRunner

    from dedupe.cli import main

    table, truth = planted
    path = tmp_path / "in.parquet"
    pq.write_table(table, path)
    labels = _later_labels(table, truth, tmp_path / "labels.parquet")
    args = ["sweep", str(path), "--out", str(tmp_path / "s"), "--id-column", "id", "-q",
            "--workers", "1"]
    alone = CliRunner().invoke(main, [*args, "--passage-thresholds", "0.4,0.5"])
    assert alone.exit_code == 2 and "go together" in alone.output
    result = CliRunner().invoke(main, [*args, "--passage-thresholds", "0.4:0.5:0.05",
                                       "--span-labels", str(labels)])
    assert result.exit_code == 0, result.output
    assert "best by F1: passage threshold" in result.output
    assert pq.read_table(tmp_path / "s" / "sweep.parquet").num_rows == 3
