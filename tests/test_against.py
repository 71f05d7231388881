"""Incremental runs: ``--write-index``, ``--against``, ``--update-index`` through ``dedupe.run``."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
import textwrap

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import dedupe
from dedupe.errors import IndexMismatchError
from dedupe.index import open_index
from tests.conftest import ROOT, write_parquet
from tests.synth import make_corpus

SERIAL = {"engine__name": "serial", "id_column": "id", "spans": False, "boilerplate": False}


def _manifest(out) -> pa.Table:
    return pq.read_table(out / "manifest.parquet")


def _kept_ids(out) -> set[str]:
    m = _manifest(out)
    return set(m.filter(pc.equal(m["action"], "kept"))["id"].to_pylist())


@pytest.fixture(scope="module")
def halves(tmp_path_factory):
    """A generated corpus (planted exact and near copies) cut into an old and a new half."""
    root = tmp_path_factory.mktemp("halves")
    table = make_corpus(1200, seed=21)
    write_parquet(root / "a.parquet", table.slice(0, 600))
    write_parquet(root / "b.parquet", table.slice(600))
    return root


def _exact_only_corpus(rng, n_unique: int) -> pa.Table:
    words = [f"w{i}" for i in range(500)]
    texts = [" ".join(rng.choice(words, 60)) for _ in range(n_unique)]
    copies = rng.integers(0, n_unique, n_unique // 2)
    rows = texts + [texts[c] for c in copies]
    order = rng.permutation(len(rows))
    return pa.table({"id": [f"r{i}" for i in range(len(rows))],
                     "text": [rows[i] for i in order]})


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_exact_duplicates_same_survivors_at_once_or_in_two_increments(tmp_path, seed):
    table = _exact_only_corpus(np.random.default_rng(seed), 300)
    write_parquet(tmp_path / "a.parquet", table.slice(0, 200))
    write_parquet(tmp_path / "b.parquet", table.slice(200))
    dedupe.run([tmp_path / "a.parquet", tmp_path / "b.parquet"], tmp_path / "all", **SERIAL)
    dedupe.run(tmp_path / "a.parquet", tmp_path / "old", write_index=str(tmp_path / "idx"),
               **SERIAL)
    dedupe.run(tmp_path / "b.parquet", tmp_path / "new", against=[str(tmp_path / "idx")],
               **SERIAL)
    assert _kept_ids(tmp_path / "all") == _kept_ids(tmp_path / "old") | _kept_ids(tmp_path / "new")


def test_near_duplicates_same_pairs_found(halves, tmp_path):
    """The incremental run removes a new row exactly when the one-pass run joins it to an old
    document with a pair at the threshold. The index holds the old survivors only, so a new row
    joined in one pass merely through a removed old copy (its similarity to the old survivor
    below the threshold) stays; nothing is removed that one pass keeps."""
    a, b = halves / "a.parquet", halves / "b.parquet"
    dedupe.run([a, b], tmp_path / "all", **SERIAL)
    dedupe.run(a, tmp_path / "old", write_index=str(tmp_path / "idx"), **SERIAL)
    dedupe.run(b, tmp_path / "new", against=[str(tmp_path / "idx")], **SERIAL)
    whole = _manifest(tmp_path / "all").to_pylist()
    new = _manifest(tmp_path / "new")
    old_ids = set(pq.read_table(a)["id"].to_pylist())
    survivor = {r["id"]: r["survivor_id"] for r in whole}
    joined_old = {r["id"]: r for r in whole
                  if r["source_file"].endswith("b.parquet") and r["survivor_id"] in old_ids}
    matched = {i: s for i, s in zip(new["id"].to_pylist(), new["matched_id"].to_pylist())
               if s is not None}
    assert len(joined_old) > 50
    assert set(matched) <= set(joined_old)
    for row, old in matched.items():  # the same old cluster (one pass may merge two through
        assert survivor[old] == joined_old[row]["survivor_id"]  # new rows)
    missing = set(joined_old) - set(matched)
    assert len(missing) <= 0.05 * len(joined_old)
    for row in missing:
        assert joined_old[row]["similarity"] < 0.75
    both_kept = _kept_ids(tmp_path / "all") - old_ids
    assert _kept_ids(tmp_path / "new") - both_kept <= missing


def test_matches_name_the_file_and_row_they_came_from(halves, tmp_path):
    a, b = halves / "a.parquet", halves / "b.parquet"
    dedupe.run(a, tmp_path / "old", write_index=str(tmp_path / "idx"), **SERIAL)
    dedupe.run(b, tmp_path / "new", against=[str(tmp_path / "idx")], **SERIAL)
    m = _manifest(tmp_path / "new")
    hits = m.filter(pc.is_valid(m["matched_id"])).to_pylist()
    assert hits
    old = pq.read_table(a)
    new = pq.read_table(b)
    for row in hits:
        assert row["matched_index"] == str(tmp_path / "idx")
        assert row["matched_file"] == str(a)
        assert old["id"][row["matched_row"]].as_py() == row["matched_id"] == row["survivor_id"]
        assert row["action"] in ("exact_duplicate", "near_duplicate")
        assert row["output_file"] is None
        if row["action"] == "exact_duplicate":
            assert row["similarity"] == 1.0
        else:
            assert 0.0 < row["similarity"] <= 1.0
        assert row["id"] == new["id"][row["source_row"]].as_py()
    # rows that matched nothing have all four columns null
    rest = m.filter(pc.is_null(m["matched_id"]))
    for col in ("matched_index", "matched_file", "matched_row"):
        assert rest[col].null_count == rest.num_rows


def test_first_of_several_indexes_wins_and_update_appends(halves, tmp_path):
    a, b = halves / "a.parquet", halves / "b.parquet"
    dedupe.run(a, tmp_path / "r1", write_index=str(tmp_path / "i1"), **SERIAL)
    dedupe.run(a, tmp_path / "r2", write_index=str(tmp_path / "i2"), **SERIAL)
    dedupe.run(a, tmp_path / "r3", against=[str(tmp_path / "i2"), str(tmp_path / "i1")],
               **SERIAL)
    m = _manifest(tmp_path / "r3")
    assert set(m["action"].to_pylist()) <= {"exact_duplicate", "near_duplicate"}
    assert set(m["matched_index"].to_pylist()) == {str(tmp_path / "i2")}
    before = open_index(tmp_path / "i1").num_docs
    rep = dedupe.run(b, tmp_path / "r4", against=[str(tmp_path / "i1")], update_index=True,
                     **SERIAL)
    assert open_index(tmp_path / "i1").num_docs == before + rep.counts["kept"]
    assert rep.outputs["index"]["rows"] == rep.counts["kept"]
    # the updated index now removes everything the second half kept, from any other input
    # (the same input and config again is the same run: see the idempotence test)
    import shutil

    shutil.copy(b, tmp_path / "b-again.parquet")
    again = dedupe.run(tmp_path / "b-again.parquet", tmp_path / "r5",
                       against=[str(tmp_path / "i1")], **SERIAL)
    assert again.counts["kept"] == 0


def test_mismatched_index_refused_naming_the_parameter(halves, tmp_path):
    a = halves / "a.parquet"
    dedupe.run(a, tmp_path / "old", write_index=str(tmp_path / "idx"), **SERIAL)
    with pytest.raises(IndexMismatchError, match=r"minhash\.ngram = 2") as err:
        dedupe.run(a, tmp_path / "new", against=[str(tmp_path / "idx")], ngram=3, **SERIAL)
    assert str(tmp_path / "idx") in str(err.value)
    with pytest.raises(IndexMismatchError, match=r"normalize\.lowercase"):
        dedupe.run(a, tmp_path / "new2", against=[str(tmp_path / "idx")],
                   normalize__lowercase=False, **SERIAL)


def test_index_of_other_unicode_data_is_refused_before_matching(halves, tmp_path):
    """An index whose header records other Unicode data (built under another dedupe or
    Python) stops the run, and an append to it too, before any signature is compared."""
    import json

    a = halves / "a.parquet"
    dedupe.run(a, tmp_path / "old", write_index=str(tmp_path / "idx"), **SERIAL)
    header_path = tmp_path / "idx" / "header.json"
    header = json.loads(header_path.read_text())
    assert header["params"]["scheme.unicode"] == "18.0.0"
    header["params"]["scheme.unicode"] = "14.0.0"
    header_path.write_text(json.dumps(header))
    for options in ({}, {"update_index": True}):
        with pytest.raises(IndexMismatchError, match=r"scheme\.unicode = 14\.0\.0, this run "
                           r"uses 18\.0\.0; .*rebuild the index with this one") as err:
            dedupe.run(a, tmp_path / "new", against=[str(tmp_path / "idx")], overwrite=True,
                       **options, **SERIAL)
        assert str(tmp_path / "idx") in str(err.value)
    assert open_index(tmp_path / "idx").num_docs == header["rows"]


def _update_killed_at(module: str, function: str, inputs, out, idx) -> None:
    """``dedupe run INPUTS --against IDX --update-index`` in a child process that SIGKILLs
    itself when ``module.function`` is first called."""
    script = textwrap.dedent(f"""
        import importlib, os, signal
        import dedupe
        def die(*a, **k):
            os.kill(os.getpid(), signal.SIGKILL)
        setattr(importlib.import_module({module!r}), {function!r}, die)
        dedupe.run({str(inputs)!r}, {str(out)!r}, against=[{str(idx)!r}], update_index=True,
                   engine__name="serial", id_column="id", spans=False, boilerplate=False)
    """)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True)
    assert proc.returncode == -9, proc.stderr.decode()[-2000:]


def test_killed_update_leaves_the_index_readable(halves, tmp_path):
    a, b = halves / "a.parquet", halves / "b.parquet"
    idx = tmp_path / "idx"
    dedupe.run(a, tmp_path / "old", write_index=str(idx), **SERIAL)
    before = open_index(idx)
    # killed after the new generation is on disk, before the header names it
    _update_killed_at("dedupe.index.writer", "_commit_header", b, tmp_path / "new", idx)
    after = open_index(idx)
    assert after.num_docs == before.num_docs
    assert [g.name for g in after.generations] == [g.name for g in before.generations]
    assert any(name.startswith("gen-00001") or ".tmp-" in name for name in os.listdir(idx))
    # the same command again finishes and appends once
    rep = dedupe.run(b, tmp_path / "new", against=[str(idx)], update_index=True, overwrite=True,
                     **SERIAL)
    final = open_index(idx)
    assert final.num_docs == before.num_docs + rep.counts["kept"]
    assert len(final.generations) == 2


def test_boilerplate_of_earlier_runs_counts_in_later_ones(tmp_path):
    """A footer flagged in the old run's pages is boilerplate in one new page against it."""
    from dedupe.index import boilerplate_counts

    def body(i):
        return " ".join(f"w{i}x{j}y{(i * 31 + j * 7) % 97}" for j in range(60))

    footer = "Copyright Example News Group all rights reserved worldwide"
    old = [{"id": f"o{i}", "text": f"{body(i)}\n{footer}"} for i in range(5)]
    new = [{"id": "n0", "text": f"{body(100)}\n{footer}"}]
    write_parquet(tmp_path / "old.parquet", old)
    write_parquet(tmp_path / "new.parquet", new)
    opts = {"engine__name": "serial", "id_column": "id", "spans": False}
    dedupe.run(tmp_path / "old.parquet", tmp_path / "r_old", write_index=str(tmp_path / "idx"),
               **opts)
    keys, pages = boilerplate_counts(open_index(tmp_path / "idx"))
    assert len(keys) >= 1 and pages.max() == 5
    dedupe.run(tmp_path / "new.parquet", tmp_path / "alone", **opts)
    dedupe.run(tmp_path / "new.parquet", tmp_path / "with", against=[str(tmp_path / "idx")],
               **opts)
    assert pq.read_table(tmp_path / "alone" / "spans.parquet").num_rows == 0
    spans = pq.read_table(tmp_path / "with" / "spans.parquet").to_pylist()
    text = new[0]["text"]
    assert [text[s["start"]:s["end"]] for s in spans] == [footer]
    assert spans[0]["count"] == 6  # five earlier pages and this one
    assert pq.read_table(tmp_path / "with" / "manifest.parquet")["action"].to_pylist() == ["kept"]


def test_explain_shows_the_index_document(halves, tmp_path):
    from click.testing import CliRunner

    from dedupe.cli import main

    a, b = halves / "a.parquet", halves / "b.parquet"
    dedupe.run(a, tmp_path / "old", write_index=str(tmp_path / "idx"), **SERIAL)
    dedupe.run(b, tmp_path / "new", against=[str(tmp_path / "idx")], **SERIAL)
    m = _manifest(tmp_path / "new")
    row = m.filter(pc.equal(m["action"], "near_duplicate")).filter(
        pc.is_valid(m.filter(pc.equal(m["action"], "near_duplicate"))["matched_id"])
    ).to_pylist()[0]
    result = CliRunner(env={"COLUMNS": "400"}).invoke(
        main, ["explain", str(tmp_path / "new"), row["id"]])
    assert result.exit_code == 0, result.output
    assert f"matched in index {tmp_path / 'idx'}: {row['matched_id']}" in result.output
    assert f"survivor: {row['matched_id']}" in result.output


def test_same_update_command_again_is_idempotent(halves, tmp_path):
    """Killed after its index update was committed, or simply run twice: the same command
    gives the same manifest (never matching its own kept rows) and appends only once."""
    a, b = halves / "a.parquet", halves / "b.parquet"
    idx = tmp_path / "idx"
    dedupe.run(a, tmp_path / "old", write_index=str(idx), **SERIAL)
    before = open_index(idx).num_docs
    # killed after the index update, before the report
    _update_killed_at("dedupe.pipeline.runner", "write_report", b, tmp_path / "new", idx)
    assert len(open_index(idx).generations) == 2  # the update was committed
    rep = dedupe.run(b, tmp_path / "new", against=[str(idx)], update_index=True, **SERIAL)
    assert rep.outputs["resumed"] and rep.outputs["index"]["mode"] == "already there"
    again = dedupe.run(b, tmp_path / "again", against=[str(idx)], update_index=True, **SERIAL)
    assert again.outputs["index"]["mode"] == "already there"
    assert len(open_index(idx).generations) == 2
    assert open_index(idx).num_docs == before + rep.counts["kept"]
    assert rep.counts == again.counts and rep.counts["kept"] > 0
    m1 = _manifest(tmp_path / "new").drop_columns(["source_file"]).sort_by("id")
    m2 = _manifest(tmp_path / "again").drop_columns(["source_file"]).sort_by("id")
    assert m1.equals(m2)


def test_update_twice_does_not_count_its_own_boilerplate_again(tmp_path):
    """The same --against --update-index run again must give the same boilerplate counts."""

    def body(i):
        return " ".join(f"w{i}x{j}y{(i * 31 + j * 7) % 97}" for j in range(60))

    footer = "Copyright Example News Group all rights reserved worldwide"
    write_parquet(tmp_path / "old.parquet",
                  [{"id": f"o{i}", "text": f"{body(i)}\n{footer}"} for i in range(5)])
    write_parquet(tmp_path / "new.parquet",
                  [{"id": f"n{i}", "text": f"{body(100 + i)}\n{footer}"} for i in range(2)])
    opts = {"engine__name": "serial", "id_column": "id", "spans": False}
    idx = str(tmp_path / "idx")
    dedupe.run(tmp_path / "old.parquet", tmp_path / "r_old", write_index=idx, **opts)
    counts = []
    for attempt in ("first", "again"):
        dedupe.run(tmp_path / "new.parquet", tmp_path / attempt, against=[idx],
                   update_index=True, **opts)
        counts.append(pq.read_table(tmp_path / attempt / "spans.parquet")["count"].to_pylist())
    assert counts[0] == [7, 7]  # five earlier pages and these two
    assert counts[1] == counts[0]


def test_update_rerun_from_another_folder_matches_nothing_of_its_own(halves, tmp_path,
                                                                      monkeypatch):
    """The same update, run again with the index spelled another way from another folder,
    must not find its own kept rows in the index."""
    a, b = halves / "a.parquet", halves / "b.parquet"
    dedupe.run(a, tmp_path / "old", write_index=str(tmp_path / "idx"), **SERIAL)
    monkeypatch.chdir(tmp_path)
    first = dedupe.run(b, "new", against=["idx"], update_index=True, **SERIAL)
    (tmp_path / "sub").mkdir()
    monkeypatch.chdir(tmp_path / "sub")
    again = dedupe.run(b, "../new", against=[str(tmp_path / "sub" / ".." / "idx")],
                       update_index=True, overwrite=True, **SERIAL)
    assert again.counts == first.counts and again.outputs["index"]["mode"] == "already there"
    assert len(open_index(tmp_path / "idx").generations) == 2


def test_write_index_never_replaces_another_index(halves, tmp_path):
    a, b = halves / "a.parquet", halves / "b.parquet"
    dedupe.run(a, tmp_path / "old", write_index=str(tmp_path / "idx"), **SERIAL)
    before = open_index(tmp_path / "idx").num_docs
    for overwrite in (False, True):
        with pytest.raises(dedupe.OutputError, match="already holds an index"):
            dedupe.run(b, tmp_path / "new", write_index=str(tmp_path / "idx"),
                       overwrite=overwrite, **SERIAL)
        assert not (tmp_path / "new").exists()  # refused before any work
    assert open_index(tmp_path / "idx").num_docs == before
    # the same run again (a rerun after a crash, or with --overwrite) finds its own index there
    again = dedupe.run(a, tmp_path / "old", write_index=str(tmp_path / "idx"), overwrite=True,
                       **SERIAL)
    assert again.outputs["index"]["mode"] == "already there"
    assert open_index(tmp_path / "idx").num_docs == before


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 10**6), n=st.integers(0, 500), files=st.integers(1, 8),
       size=st.integers(1, 70))
def test_index_generations_are_the_kept_rows_cut_every_size_rows(seed, n, files, size):
    """The index writer's generations, planned from each sign file's kept-row count: the kept
    rows in order, ``size`` at a time, whatever the sign files' bounds."""
    from dedupe.pipeline.write import cut_shards

    rng = np.random.default_rng(seed)
    kept = rng.random(n) < 0.6
    offsets = np.array([0, *sorted(rng.integers(0, n + 1, files - 1)), n])
    counts = [int(kept[a:b].sum()) for a, b in itertools.pairwise(offsets)]
    got = [np.concatenate([np.flatnonzero(kept[offsets[t]:offsets[t + 1]])[lo:hi] + offsets[t]
                           for t, lo, hi in segs]).tolist()
           for segs in cut_shards(counts, None, size, None)]
    rows = np.flatnonzero(kept)
    assert got == [rows[i : i + size].tolist() for i in range(0, len(rows), size)]


@pytest.fixture(scope="module")
def thirds(tmp_path_factory):
    """An index of the first half of a generated corpus, and the second half in three files
    (clusters that cross files, matches in every file)."""
    root = tmp_path_factory.mktemp("thirds")
    table = make_corpus(1500, seed=33)
    write_parquet(root / "a.parquet", table.slice(0, 750))
    for i in range(3):
        write_parquet(root / f"b{i}.parquet", table.slice(750 + 250 * i, 250))
    dedupe.run(root / "a.parquet", root / "old", write_index=str(root / "idx"), **SERIAL)
    return root, [root / f"b{i}.parquet" for i in range(3)]


def _same_manifest(a, b):
    assert _manifest(a).equals(_manifest(b))
    names = sorted(os.listdir(a / "data"))
    assert names == sorted(os.listdir(b / "data"))
    for name in names:
        assert pq.read_table(a / "data" / name).equals(pq.read_table(b / "data" / name))


def test_match_tasks_give_the_same_for_any_workers_and_partitions(thirds, tmp_path):
    """The match runs as engine tasks over files and cluster partitions: two processes and
    seven partitions decide every row as one process with one partition does."""
    root, new = thirds
    args = {"against": [str(root / "idx")], "id_column": "id", "remove_spans": True}
    one = dedupe.run(new, tmp_path / "one", engine__name="serial", engine__partitions=1, **args)
    two = dedupe.run(new, tmp_path / "two", workers=2, engine__partitions=7, **args)
    _same_manifest(tmp_path / "one", tmp_path / "two")
    assert one.lsh["index_removed"] == two.lsh["index_removed"] > one.lsh["index_matches"] > 50
    m = _manifest(tmp_path / "two")
    assert len(set(m.filter(pc.is_valid(m["matched_id"]))["source_file"].to_pylist())) == 3
    index = next(s for s in two.stages if s["name"] == "index")
    assert index["rows"] == two.lsh["index_removed"]


def test_killed_in_the_match_then_rerun_gives_the_same(thirds, tmp_path):
    """SIGKILL after the 4th match task (a cluster partition's first hits), then the same
    command: the finished tasks' files are reused and the outputs equal an unbroken run."""
    root, new = thirds
    args = dict(against=[str(root / "idx")], id_column="id", workers=2, engine__partitions=3)
    dedupe.run(new, tmp_path / "ref", **args)
    out = tmp_path / "out"
    script = textwrap.dedent(f"""
        import os, signal
        import dedupe

        def progress(stage, done, total, result):
            if stage == "index" and done >= 4:
                os.kill(os.getpid(), signal.SIGKILL)

        if __name__ == "__main__":
            dedupe.run({[str(p) for p in new]!r}, {str(out)!r}, progress=progress, **{args!r})
    """)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True)
    assert proc.returncode == -9, proc.stderr.decode()[-2000:]
    hits = [f for _, _, files in os.walk(out / "_work") for f in files if f.startswith("hits-")]
    assert hits and not (out / "report.json").exists()
    dedupe.run(new, out, **args)
    _same_manifest(tmp_path / "ref", out)
