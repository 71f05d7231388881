"""End-to-end runs through the Python API: row accounting, schema, determinism, accuracy."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

import dedupe
from dedupe.evaluate import score
from tests.conftest import write_jsonl, write_parquet
from tests.synth import make_corpus


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    folder = tmp_path_factory.mktemp("corpus")
    table = make_corpus(600, seed=11)
    write_parquet(folder / "a.parquet", table.slice(0, 300), row_group_size=100)
    write_parquet(folder / "b.parquet", table.slice(300), row_group_size=100)
    return folder, table


def _manifest(out):
    return pq.read_table(out / "manifest.parquet").sort_by(
        [("source_file", "ascending"), ("source_row", "ascending")]
    )


def test_every_input_row_once_and_schema_kept(corpus, tmp_path):
    folder, table = corpus
    report = dedupe.run([folder], tmp_path / "out", engine__name="serial", id_column="id")
    m = _manifest(tmp_path / "out")
    assert m.num_rows == table.num_rows == report.rows
    assert sorted(m["id"].to_pylist()) == sorted(table["id"].to_pylist())
    data = pq.read_table(tmp_path / "out" / "data")
    assert data.schema.equals(table.schema)
    kept = m.filter(pc.equal(m["action"], "kept"))
    assert data.num_rows == kept.num_rows == report.counts["kept"]
    assert sum(report.counts.values()) == table.num_rows
    # output_file/output_row point at the very row
    for row in kept.slice(0, 50).to_pylist():
        shard = pq.read_table(tmp_path / "out" / row["output_file"])
        assert shard["id"][row["output_row"]].as_py() == row["id"]
    # removed rows are nowhere in the output, and name a kept survivor
    removed = m.filter(pc.not_equal(m["action"], "kept"))
    assert not set(removed["id"].to_pylist()) & set(data["id"].to_pylist())
    assert set(removed["survivor_id"].to_pylist()) <= set(kept["id"].to_pylist())


def test_planted_duplicates_found_and_templates_not_joined(corpus, tmp_path):
    folder, table = corpus
    dedupe.run([folder], tmp_path / "out", engine__name="serial", id_column="id")
    m = _manifest(tmp_path / "out")
    by_id = dict(zip(m["id"].to_pylist(), m["cluster_id"].to_pylist()))
    pred = np.array([by_id[i] for i in table["id"].to_pylist()])
    truth = table["cluster"].to_numpy()
    s = score(truth, pred)
    assert s["precision"] >= 0.98, s
    assert s["recall"] >= 0.93, s
    variant = np.array(table["variant"].to_pylist())
    for kind in ("exact_copy", "format_variant", "word_edits", "header_footer"):
        rows = np.flatnonzero(variant == kind)
        caught = [np.sum(pred[truth == truth[i]] == pred[i]) > 1 for i in rows]
        assert np.mean(caught) >= 0.95, (kind, np.mean(caught))


def test_manifests_identical_for_one_and_two_workers(corpus, tmp_path):
    folder, _ = corpus
    dedupe.run([folder], tmp_path / "w1", engine__workers=1, output__rows_per_shard=120)
    dedupe.run([folder], tmp_path / "w2", engine__workers=2, output__rows_per_shard=120)
    assert _manifest(tmp_path / "w1").equals(_manifest(tmp_path / "w2"))
    for name in sorted(p.name for p in (tmp_path / "w1" / "data").iterdir()):
        a = pq.read_table(tmp_path / "w1" / "data" / name)
        b = pq.read_table(tmp_path / "w2" / "data" / name)
        assert a.equals(b)
    assert len(list((tmp_path / "w1" / "data").iterdir())) >= 3


def test_survivor_policies(tmp_path):
    rows = [
        {"text": "alpha beta gamma delta epsilon zeta eta theta iota kappa", "q": 0.1},
        {"text": "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda", "q": 0.9},
        {"text": "ALPHA beta gamma delta epsilon zeta eta theta iota kappa", "q": 0.5},
    ]
    path = write_parquet(tmp_path / "in.parquet", rows)
    for policy, want in (("first", 0), ("longest", 1), ("max:q", 1)):
        out = tmp_path / policy.replace(":", "_")
        dedupe.run([path], out, engine__name="serial", cluster__survivor=policy, lsh__threshold=0.6)
        m = _manifest(out)
        kept = [r["source_row"] for r in m.to_pylist() if r["action"] == "kept"]
        assert kept == [want], policy
        actions = m["action"].to_pylist()
        if policy == "first":
            assert actions == ["kept", "near_duplicate", "exact_duplicate"]


def test_run_table_and_jsonl(tmp_path):
    table = make_corpus(80, seed=3)
    report = dedupe.run_table(table, tmp_path / "t", engine__name="serial")
    assert report.rows == 80
    path = write_jsonl(tmp_path / "c.jsonl.gz", table.to_pylist(), compress=True)
    r2 = dedupe.run([path], tmp_path / "j", engine__name="serial")
    assert r2.counts == report.counts


def test_report_has_s_curve_stages_and_versions(corpus, tmp_path):
    folder, _ = corpus
    report = dedupe.run([folder], tmp_path / "r", engine__name="serial")
    assert set(report.lsh["s_curve"]) == {"0.5", "0.6", "0.7", "0.8", "0.9"}
    assert [s["name"] for s in report.stages] == ["sign", "decide", "spans", "write", "manifest"]
    assert report.versions["hash_scheme"] == "dedupe-minhash-v2"
    md = (tmp_path / "r" / "report.md").read_text()
    assert "S-curve" in md and "bands x rows" in md
    assert not (tmp_path / "r" / "_work").exists()


def test_bytes_per_shard(corpus, tmp_path):
    folder, _ = corpus
    dedupe.run([folder], tmp_path / "b", engine__name="serial", output__bytes_per_shard=100_000)
    shards = sorted((tmp_path / "b" / "data").iterdir())
    assert len(shards) > 3
    for shard in shards[:-1]:
        t = pq.read_table(shard)
        assert pc.sum(pc.binary_length(t["text"])).as_py() <= 100_000 or t.num_rows == 1


def test_exact_verification_uses_true_jaccard(tmp_path):
    table = make_corpus(150, seed=5)
    a = dedupe.run_table(table, tmp_path / "s", engine__name="serial")
    b = dedupe.run_table(table, tmp_path / "e", engine__name="serial", verify="exact")
    assert abs(a.counts["kept"] - b.counts["kept"]) <= 3
    # with a threshold between a pair's estimate and its true Jaccard, exact decides by the truth
    text = " ".join(f"w{i}" for i in range(200))
    edited = " ".join(f"w{i}" if i % 10 else f"x{i}" for i in range(200))
    pair = pa.table({"text": [text, edited]})
    from dedupe.config import MinHashConfig, NormalizeConfig
    from dedupe.text.normalize import canonical_text
    from dedupe.text.shingle import shingle_strings

    n = MinHashConfig().ngram
    sa = set(shingle_strings(canonical_text(text, NormalizeConfig()), "word", n))
    sb = set(shingle_strings(canonical_text(edited, NormalizeConfig()), "word", n))
    true = len(sa & sb) / len(sa | sb)
    for threshold, joined in ((true - 0.01, True), (true + 0.01, False)):
        r = dedupe.run_table(
            pair,
            tmp_path / f"x{threshold}",
            engine__name="serial",
            verify="exact",
            threshold=threshold,
            bands=64,
            rows=2,
        )
        assert (r.counts["kept"] == 1) == joined, (threshold, true)


def test_manifest_records_the_hash_scheme(tmp_path):
    dedupe.run_table(make_corpus(30, seed=1), tmp_path / "m", engine__name="serial")
    meta = pq.read_schema(next((tmp_path / "m" / "manifest.parquet").iterdir())).metadata
    assert meta[b"dedupe.hash_scheme"] == b"dedupe-minhash-v2"
    assert meta[b"dedupe.num_perm"] == b"128" and meta[b"dedupe.shingle"] == b"word"
