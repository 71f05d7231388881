"""The persistent index: layout, generations, matching, compatibility, crash safety, CLI."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from unittest import mock

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

import dedupe
from dedupe.cli import main
from dedupe.config import DedupeConfig
from dedupe.errors import ConfigError, IndexMismatchError, InputError, OutputError
from dedupe.index import (
    IndexRows,
    append_index,
    boilerplate_counts,
    build_from_run,
    check_compatible,
    create_index,
    index_params,
    lookup,
    match_index,
    open_index,
    writer,
)
from dedupe.index.build import read_run_config
from dedupe.near.cluster import connected_components
from dedupe.near.lsh import band_keys, lsh_candidates
from dedupe.near.minhash import EMPTY, jaccard_estimate
from dedupe.near.signing import sign_arrays
from tests.synth import make_corpus

ROOT = Path(__file__).resolve().parents[1]

# 16 permutations in 4 bands of 4: small enough that random corpora collide in bands
SMALL = {"minhash.num_perm": 16, "lsh.bands": 4, "lsh.rows": 4}


def small_params(**overrides) -> dict:
    return index_params(DedupeConfig().with_overrides({**SMALL, **overrides}))


def random_rows(rng, n: int, k: int = 16, *, alphabet: int = 1 << 32, prefix: str = "d",
                boilerplate=None) -> IndexRows:
    """``n`` documents with random signatures over ``alphabet`` values and random digests."""
    return IndexRows(
        ids=pa.array([f"{prefix}{i}" for i in range(n)], pa.string()),
        source_file=pa.array([f"{prefix}.parquet"] * n, pa.string()),
        source_row=np.arange(n, dtype=np.int64) * 10,
        digest=rng.integers(0, 1 << 63, (n, 2)).astype(np.uint64),
        sigs=rng.integers(0, alphabet, (n, k), dtype=np.uint64).astype(np.uint32),
        boilerplate_keys=boilerplate,
    )


@pytest.fixture
def small_row_groups():
    """Seven docs a row group, so readers must pick row groups out of several."""
    with mock.patch.object(writer, "DOCS_ROW_GROUP", 7):
        yield


# --- layout and generations ------------------------------------------------------------------


def test_round_trip_layout_and_info(tmp_path, small_row_groups):
    rng = np.random.default_rng(1)
    rows = random_rows(rng, 40, alphabet=3,  # a tiny alphabet: band buckets with many docs
                       boilerplate=(np.array([5, 3, 9], np.uint64), np.array([2, 7, 4])))
    rows.sigs[0] = EMPTY  # a document without shingles stays out of the band files
    params = small_params()
    index = create_index(tmp_path / "idx", params, rows, source="unit test")

    again = open_index(tmp_path / "idx")
    assert again.header == index.header and again.num_docs == 40
    info = again.info()
    assert info["rows"] == 40 and info["params"] == params
    assert [(g["name"], g["rows"], g["first_doc"], g["source"]) for g in info["generations"]] == [
        ("gen-00000", 40, 0, "unit test")]
    assert all(info["bytes"][k] > 0 for k in ("docs", "digests", "bands", "boilerplate"))
    assert info["bytes"]["total"] == sum(v for k, v in info["bytes"].items() if k != "total")

    gen = tmp_path / "idx" / "gen-00000"
    docs = pq.ParquetFile(gen / "docs.parquet")
    assert docs.num_row_groups == 6  # 40 rows, 7 a group
    t = docs.read()
    assert t["doc"].to_pylist() == list(range(40))
    assert t["id"].to_pylist() == rows.ids.to_pylist()
    assert t.schema.field("sig").type == pa.list_(pa.uint32(), 16)
    np.testing.assert_array_equal(t["sig"].combine_chunks().flatten().to_numpy().reshape(-1, 16),
                                  rows.sigs)
    dig = pq.read_table(gen / "digests.parquet")
    hi, lo = dig["digest_hi"].to_numpy(), dig["digest_lo"].to_numpy()
    assert np.all((hi[1:] > hi[:-1]) | ((hi[1:] == hi[:-1]) & (lo[1:] >= lo[:-1])))
    np.testing.assert_array_equal(rows.digest[dig["doc"].to_numpy(), 0], hi)
    for b in range(4):
        band = pq.read_table(gen / "bands" / f"band-{b:03d}.parquet")
        keys, docs_b = band["key"].to_numpy(), band["doc"].to_numpy()
        assert np.all(keys[1:] >= keys[:-1]) and sorted(docs_b.tolist()) == list(range(1, 40))
        run_keys = band_keys(rows.sigs[:, b * 4 : (b + 1) * 4], 1, 4)[:, 0]
        np.testing.assert_array_equal(keys, run_keys[docs_b])
    keys, counts = boilerplate_counts(again)
    assert keys.tolist() == [3, 5, 9] and counts.tolist() == [7, 2, 4]


def test_band_files_connect_the_same_documents_as_the_run(tmp_path):
    """Documents sharing a key in the index's band files form the run's LSH components."""
    rng = np.random.default_rng(2)
    rows = random_rows(rng, 60, alphabet=2)
    index = create_index(tmp_path / "idx", small_params(), rows)
    a, b, _ = lsh_candidates(rows.sigs, np.arange(60), 4, 4, 5000)
    run_labels = connected_components(60, a, b)
    ia, ib = [], []
    for band in range(4):
        t = pq.read_table(index.generations[0].band_file(band))
        keys, docs = t["key"].to_numpy(), t["doc"].to_numpy()
        same = np.flatnonzero(keys[1:] == keys[:-1])
        ia.append(docs[same])
        ib.append(docs[same + 1])
    index_labels = connected_components(60, np.concatenate(ia), np.concatenate(ib))
    np.testing.assert_array_equal(index_labels, run_labels)


def test_append_adds_a_generation_and_doc_numbers_continue(tmp_path, small_row_groups):
    rng = np.random.default_rng(3)
    first, second = random_rows(rng, 20), random_rows(rng, 15, prefix="e")
    second.digest[4] = first.digest[2]  # the same text in both generations
    params = small_params()
    create_index(tmp_path / "idx", params, first)
    index = append_index(tmp_path / "idx", params, second, source="batch 2")
    assert index.num_docs == 35
    assert [(g.name, g.first_doc, g.rows) for g in index.generations] == [
        ("gen-00000", 0, 20), ("gen-00001", 20, 15)]
    docs = pq.read_table(tmp_path / "idx" / "gen-00001" / "docs.parquet", columns=["doc"])
    assert docs["doc"].to_pylist() == list(range(20, 35))

    ids, files, src = lookup(index, np.array([22, -1, 3, 34, 19]))
    assert ids.to_pylist() == ["e2", None, "d3", "e14", "d19"]
    assert files.to_pylist() == ["e.parquet", None, "d.parquet", "e.parquet", "d.parquet"]
    assert src.tolist() == [20, -1, 30, 140, 190]

    m = match_index(index, second.digest, second.sigs, threshold=0.9)
    expected = np.arange(20, 35)
    expected[4] = 2  # an exact match picks the smallest doc with the digest
    np.testing.assert_array_equal(m.doc, expected)
    assert m.exact.all() and (m.similarity == 1.0).all()


def test_create_refuses_existing_folders(tmp_path):
    rng = np.random.default_rng(4)
    params = small_params()
    create_index(tmp_path / "idx", params, random_rows(rng, 5))
    with pytest.raises(OutputError, match="already exists"):
        create_index(tmp_path / "idx", params, random_rows(rng, 5))
    assert create_index(tmp_path / "idx", params, random_rows(rng, 3), overwrite=True).num_docs == 3
    other = tmp_path / "precious"
    other.mkdir()
    (other / "notes.txt").write_text("keep me")
    with pytest.raises(OutputError, match="not made by dedupe"):
        create_index(other, params, random_rows(rng, 5), overwrite=True)
    assert (other / "notes.txt").exists()
    with pytest.raises(InputError, match="not a dedupe index"):
        open_index(other)


def test_one_writer_at_a_time(tmp_path):
    import fcntl

    rng = np.random.default_rng(5)
    params = small_params()
    create_index(tmp_path / "idx", params, random_rows(rng, 5))
    with open(tmp_path / "idx" / ".lock", "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        with pytest.raises(OutputError, match="another process is writing"):
            append_index(tmp_path / "idx", params, random_rows(rng, 5))
    assert append_index(tmp_path / "idx", params, random_rows(rng, 5)).num_docs == 10


# --- matching --------------------------------------------------------------------------------


def _page(rng, words: int) -> list[str]:
    return [f"w{i}" for i in rng.integers(0, 5000, words)]


def test_match_finds_exact_and_near_copies_of_text(tmp_path):
    rng = np.random.default_rng(6)
    cfg = DedupeConfig()
    pages = [_page(rng, 400) for _ in range(30)]
    texts = pa.array([" ".join(p) for p in pages])
    dig, _, sigs, _, _ = sign_arrays(texts, cfg)
    index = create_index(tmp_path / "idx", index_params(cfg), IndexRows(
        pa.array([f"page{i}" for i in range(30)]), pa.array(["pages"] * 30), np.arange(30),
        dig, sigs))

    queries, expect_doc, expect_exact = [], [], []
    for i in (3, 17):  # the same text, differently cased and spaced: exact after normalising
        queries.append("  " + "  ".join(pages[i]).upper())
        expect_doc.append(i)
        expect_exact.append(True)
    for i in (0, 11, 29):  # five of 400 words replaced
        edited = list(pages[i])
        for pos in rng.choice(400, 5, replace=False):
            edited[pos] = "changed"
        queries.append(" ".join(edited))
        expect_doc.append(i)
        expect_exact.append(False)
    queries.append(" ".join(_page(rng, 400)))  # unrelated
    expect_doc.append(-1)
    expect_exact.append(False)

    qdig, _, qsigs, _, _ = sign_arrays(pa.array(queries), cfg)
    m = match_index(index, qdig, qsigs, threshold=cfg.lsh.threshold)
    assert m.doc.tolist() == expect_doc
    assert m.exact.tolist() == expect_exact
    assert (m.similarity[:2] == 1.0).all()
    assert (m.similarity[2:5] >= 0.75).all() and (m.similarity[2:5] < 1.0).all()
    assert np.isnan(m.similarity[5])
    ids, _, _ = lookup(index, m.doc)
    assert ids.to_pylist() == ["page3", "page17", "page0", "page11", "page29", None]
    invalid = match_index(index, qdig, qsigs, np.zeros(len(queries), bool), threshold=0.75)
    assert (invalid.doc == -1).all() and not invalid.exact.any()


def brute_force(sigs, digest, gen_bounds, qsigs, qdig, valid, threshold, bands, rows, cap):
    """The matching rule written out pair by pair, band keys taken from the run's own code."""
    signed = (sigs != EMPTY).any(axis=1)
    keys = [band_keys(sigs[:, b * rows : (b + 1) * rows], 1, rows)[:, 0] for b in range(bands)]
    qkeys = [band_keys(qsigs[:, b * rows : (b + 1) * rows], 1, rows)[:, 0] for b in range(bands)]
    doc = np.full(len(qsigs), -1)
    sim = np.full(len(qsigs), np.nan)
    exact = np.zeros(len(qsigs), bool)
    for i in range(len(qsigs)):
        if not valid[i]:
            continue
        same = np.flatnonzero((digest[:, 0] == qdig[i, 0]) & (digest[:, 1] == qdig[i, 1]))
        if len(same):
            doc[i], sim[i], exact[i] = same.min(), 1.0, True
            continue
        if (qsigs[i] == EMPTY).all():
            continue
        cands = set()
        for b in range(bands):
            for lo, hi in gen_bounds:
                hits = [d for d in range(lo, hi) if signed[d] and keys[b][d] == qkeys[b][i]]
                cands.update(hits[:cap])
        best = None
        for d in sorted(cands):
            s = float(jaccard_estimate(qsigs[i], sigs[d]))
            if s >= threshold - 1e-12 and (best is None or s > best[1]):
                best = (d, s)
        if best is not None:
            doc[i], sim[i] = best
    return doc, sim, exact


def _corpus(rng, n: int, alphabet: int):
    """Signatures with planted near copies (some positions redrawn) and repeated digests."""
    sigs = rng.integers(0, alphabet, (n, 16), dtype=np.uint64).astype(np.uint32)
    digest = rng.integers(0, 1 << 63, (n, 2)).astype(np.uint64)
    for i in range(1, n):
        if rng.random() < 0.5:
            j = int(rng.integers(0, i))
            sigs[i] = sigs[j]
            redraw = rng.random(16) < rng.uniform(0, 0.6)
            sigs[i, redraw] = rng.integers(0, alphabet, int(redraw.sum()))
        if rng.random() < 0.1:
            digest[i] = digest[int(rng.integers(0, i))]
        if rng.random() < 0.05:
            sigs[i] = EMPTY
    return sigs, digest


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n_index=st.integers(1, 50), n_query=st.integers(1, 30),
       n_gens=st.integers(1, 3), threshold=st.sampled_from([0.3, 0.5, 0.75, 1.0]),
       alphabet=st.sampled_from([3, 50, 1 << 32]), cap=st.sampled_from([2, 5000]),
       pairs_in_memory=st.sampled_from([5, 1 << 24]))
def test_match_agrees_with_brute_force(seed, n_index, n_query, n_gens, threshold, alphabet, cap,
                                       pairs_in_memory):
    rng = np.random.default_rng(seed)
    sigs, digest = _corpus(rng, n_index + n_query, alphabet)
    qsigs, qdig = sigs[n_index:], digest[n_index:]
    sigs, digest = sigs[:n_index], digest[:n_index]
    valid = rng.random(n_query) < 0.9
    inner = rng.choice(np.arange(1, n_index), min(n_gens, n_index) - 1, replace=False)
    cuts = [*sorted(inner.tolist()), n_index]
    bounds = list(zip([0, *cuts[:-1]], cuts))
    params = small_params()
    with tempfile.TemporaryDirectory() as tmp, mock.patch.object(writer, "DOCS_ROW_GROUP", 4):
        path = os.path.join(tmp, "idx")
        for g, (lo, hi) in enumerate(bounds):
            part = IndexRows(pa.array([str(i) for i in range(lo, hi)]), pa.array(["f"] * (hi - lo)),
                             np.arange(lo, hi), digest[lo:hi], sigs[lo:hi])
            (create_index if g == 0 else append_index)(path, params, part)
        m = match_index(open_index(path), qdig, qsigs, valid, threshold=threshold, bands=4, rows=4,
                        max_fanout=cap, max_pairs_in_memory=pairs_in_memory)
    doc, sim, exact = brute_force(sigs, digest, bounds, qsigs, qdig, valid, threshold, 4, 4, cap)
    np.testing.assert_array_equal(m.doc, doc)
    np.testing.assert_array_equal(m.exact, exact)
    np.testing.assert_array_equal(m.similarity, sim)


def test_fanout_cap_is_counted(tmp_path):
    rng = np.random.default_rng(7)
    rows = random_rows(rng, 30)
    rows.sigs[:] = rows.sigs[0]  # one bucket of 30 docs in every band
    index = create_index(tmp_path / "idx", small_params(), rows)
    q = rows.sigs[:1].copy()
    m = match_index(index, np.zeros((1, 2), np.uint64), q, threshold=0.5, max_fanout=10)
    assert m.doc.tolist() == [0] and m.stats["capped_keys"] == 4
    assert m.stats["candidate_pairs"] == 40 and m.stats["verified_pairs"] == 10


# --- compatibility ---------------------------------------------------------------------------


def test_mismatched_ngram_is_refused_with_the_fix(tmp_path):
    rng = np.random.default_rng(8)
    create_index(tmp_path / "idx", small_params(**{"minhash.ngram": 3}), random_rows(rng, 5))
    with pytest.raises(IndexMismatchError) as err:
        append_index(tmp_path / "idx", small_params(), random_rows(rng, 5))
    assert str(err.value) == (f"index {tmp_path / 'idx'} was built with minhash.ngram = 3, this "
                              "run uses 2; rebuild the index or run with --ngram 3")
    assert isinstance(err.value, ConfigError) and open_index(tmp_path / "idx").num_docs == 5


@pytest.mark.parametrize(("override", "key", "built", "now"), [
    ({"minhash.num_perm": 32, "lsh.bands": 8}, "minhash.num_perm", "32", "16"),
    ({"minhash.hash_scheme": "sha1"}, "minhash.hash_scheme", "sha1", "native"),
    ({"normalize.lowercase": False}, "normalize.lowercase", "false", "true"),
    ({"minhash.shingle": "char"}, "minhash.shingle", "char", "word"),
    ({"minhash.seed": 7}, "minhash.seed", "7", "1"),
    ({"input.max_doc_bytes": 1000}, "input.max_doc_bytes", "1000", "2000000"),
    ({"lsh.bands": 2, "lsh.rows": 8}, "lsh.bands", "2", "4"),
])
def test_mismatched_params_name_the_parameter(override, key, built, now):
    index_side = small_params(**override)
    with pytest.raises(IndexMismatchError) as err:
        check_compatible(index_side, small_params(), "/x/idx")
    msg = str(err.value)
    assert msg.startswith(f"index /x/idx was built with {key} = {built}, this run uses {now}; ")
    assert err.value.key == key
    if key == "normalize.lowercase":
        assert msg.endswith("--set normalize.lowercase=false")
    if key == "lsh.bands":
        assert msg.endswith("rebuild the index or run with --bands 2 --rows 8")


@pytest.mark.parametrize(("key", "built"), [
    ("scheme.unicode", "14.0.0"),  # what a Python 3.11 build recorded had it recorded one
    ("scheme.case_table", "15.1.0/format-1"),
    ("scheme.canonical_text", "dedupe-canonical-v1"),
    ("scheme.minhash", "dedupe-minhash-v1"),
    ("scheme.band_key", "dedupe-band-key-v0"),
    ("scheme.line_key", "dedupe-line-key-v0"),
])
def test_other_scheme_tags_are_refused_naming_tag_values_and_fix(key, built):
    params = small_params()
    with pytest.raises(IndexMismatchError) as err:
        check_compatible({**params, key: built}, params, "/x/idx")
    assert str(err.value) == (
        f"index /x/idx was built with {key} = {built}, this run uses {params[key]}; its values "
        "were made by another version of dedupe or of its Unicode data: rebuild the index with "
        "this one, or run the dedupe that built it")
    assert err.value.key == key


def test_index_without_scheme_tags_and_threshold():
    params = small_params()
    assert params["scheme.unicode"] == "18.0.0" and params["scheme.minhash"] == "dedupe-minhash-v2"
    # an index written before the tags existed records hash_scheme_version only
    old = {"hash_scheme_version": "dedupe-minhash-v1",
           **{k: v for k, v in params.items() if not k.startswith("scheme.")}}
    with pytest.raises(IndexMismatchError, match=r"scheme.unicode = \(not recorded\), this run "
                       "uses 18.0.0; rebuild the index with this version of dedupe"):
        check_compatible(old, params, "/x/idx")
    legacy = {k: v for k, v in params.items() if k != "normalize.nfkc"}
    with pytest.raises(IndexMismatchError, match=r"normalize.nfkc = \(not recorded\), this run "
                       "uses true; rebuild the index with this version of dedupe"):
        check_compatible(legacy, params, "/x/idx")
    check_compatible({**params, "lsh.threshold": 0.5, "dedupe_version": "0.0.1"}, params, "/x")


def test_match_refuses_other_layouts(tmp_path):
    rng = np.random.default_rng(9)
    rows = random_rows(rng, 5)
    index = create_index(tmp_path / "idx", small_params(), rows)
    with pytest.raises(IndexMismatchError, match=r"lsh\.rows = 4, this run uses 2"):
        match_index(index, rows.digest, rows.sigs, threshold=0.5, bands=4, rows=2)
    with pytest.raises(IndexMismatchError, match=r"minhash\.num_perm = 16, this run uses 8"):
        match_index(index, rows.digest, rows.sigs[:, :8], threshold=0.5)


# --- crash safety ----------------------------------------------------------------------------

_CRASH_SCRIPT = """
import sys, time
import numpy as np, pyarrow as pa
from dedupe.index import writer as store
point, path, marker, params = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]

def pause(*args, **kwargs):
    open(marker, "w").close()
    time.sleep(600)

setattr(store, point, pause)
rng = np.random.default_rng(11)
n = 12
rows = store.IndexRows(pa.array([f"x{i}" for i in range(n)]), pa.array(["x"] * n),
                       np.arange(n), rng.integers(0, 1 << 63, (n, 2)).astype(np.uint64),
                       rng.integers(0, 1 << 32, (n, 16), dtype=np.uint64).astype(np.uint32))
store.append_index(path, __import__("json").loads(params), rows)
"""


@pytest.mark.parametrize(("point", "left_behind"), [
    ("_commit_header", "gen-00001"),  # generation renamed into place, header not replaced
    ("_write_bands", ".gen-00001.tmp-"),  # killed while writing the generation
])
def test_killed_append_leaves_a_readable_index(tmp_path, point, left_behind):
    rng = np.random.default_rng(10)
    params = small_params()
    rows = random_rows(rng, 20)
    path = tmp_path / "idx"
    create_index(path, params, rows)
    marker = tmp_path / "paused"
    script = tmp_path / "append.py"
    script.write_text(_CRASH_SCRIPT)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, str(script), point, str(path), str(marker),
                             json.dumps(params)], env=env)
    try:
        deadline = time.monotonic() + 120
        while not marker.exists():
            assert proc.poll() is None, "the append process ended before its pause point"
            assert time.monotonic() < deadline, "the append process never reached its pause"
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    assert any(name.startswith(left_behind) for name in os.listdir(path))

    index = open_index(path)
    assert index.num_docs == 20 and len(index.generations) == 1
    m = match_index(index, rows.digest, rows.sigs, threshold=0.9)
    assert m.doc.tolist() == list(range(20)) and m.exact.all()

    index = append_index(path, params, random_rows(rng, 6, prefix="y"))
    assert [g.name for g in index.generations] == ["gen-00000", "gen-00001"]
    assert sorted(n for n in os.listdir(path) if "gen" in n) == ["gen-00000", "gen-00001"]
    assert lookup(index, np.array([20, 25]))[0].to_pylist() == ["y0", "y5"]


# --- from a run, and the command line --------------------------------------------------------


@pytest.fixture(scope="module")
def small_run(tmp_path_factory):
    """A real run over 300 generated pages, and an index built from it."""
    tmp = tmp_path_factory.mktemp("index-run")
    corpus = make_corpus(300, seed=1)
    pq.write_table(corpus, tmp / "pages.parquet")
    report = dedupe.run([tmp / "pages.parquet"], tmp / "run", engine__name="serial",
                        id_column="id")
    index = build_from_run(tmp / "run", tmp / "idx")
    return tmp, corpus, report, index


def test_build_from_run_indexes_each_kept_row_once(small_run):
    tmp, _, report, index = small_run
    assert index.num_docs == report.counts["kept"]
    cfg, saved = read_run_config(tmp / "run")
    assert index.params == index_params(cfg, saved["lsh"]["bands"], saved["lsh"]["rows"])
    manifest = pq.read_table(tmp / "run" / "manifest.parquet")
    kept = manifest.filter(pa.compute.equal(manifest["action"], "kept"))
    ids, files, rows = lookup(index, np.arange(index.num_docs))
    assert sorted(zip(ids.to_pylist(), files.to_pylist(), rows.tolist())) == sorted(zip(
        kept["id"].to_pylist(), kept["source_file"].to_pylist(), kept["source_row"].to_pylist()))
    assert set(files.to_pylist()) == {str(tmp / "pages.parquet")}


def test_the_run_corpus_matches_its_own_index(small_run):
    tmp, corpus, _, index = small_run
    cfg, _ = read_run_config(tmp / "run")
    digest, _, sigs, _, _ = sign_arrays(corpus["text"].combine_chunks(), cfg)
    m = match_index(index, digest, sigs, threshold=cfg.lsh.threshold)
    manifest = pq.read_table(tmp / "run" / "manifest.parquet").sort_by("source_row")
    action = np.array(manifest["action"].to_pylist())
    ids, _, rows = lookup(index, m.doc)
    kept = action == "kept"
    assert m.exact[kept].all() and (rows[kept] == np.flatnonzero(kept)).all()
    exact = action == "exact_duplicate"
    assert m.exact[exact].all()
    assert np.array(ids.to_pylist())[exact].tolist() == manifest["survivor_id"].to_numpy(
        zero_copy_only=False)[exact].tolist()
    near = action == "near_duplicate"
    assert not m.exact[near].any() and (m.similarity[near & (m.doc >= 0)] >= 0.75).all()
    # a near duplicate is missed only when it joined its cluster through another removed row
    # (a chain): its own estimate to the survivor is then below the threshold
    missed = near & (m.doc < 0)
    assert (manifest["similarity"].to_numpy()[missed] < cfg.lsh.threshold).all()
    assert missed.sum() <= 0.05 * near.sum()


def test_build_refuses_a_run_with_spans_removed(small_run, tmp_path):
    tmp, _, _, _ = small_run
    run = tmp_path / "run"
    shutil.copytree(tmp / "run", run)
    report = json.loads((run / "report.json").read_text())
    report["parameters"]["spans"]["remove"] = True
    (run / "report.json").write_text(json.dumps(report))
    with pytest.raises(ConfigError, match=r"dedupe run .* --write-index"):
        build_from_run(run, tmp_path / "idx")
    with pytest.raises(InputError, match="not a finished dedupe run"):
        build_from_run(tmp_path, tmp_path / "idx2")


def test_cli_index_build_and_info(small_run, tmp_path):
    tmp, _, report, _ = small_run
    runner = CliRunner()
    out = tmp_path / "idx"
    result = runner.invoke(main, ["index", "build", str(tmp / "run"), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert f"indexed {report.counts['kept']} documents" in result.output
    assert (out / "header.json").exists() and (out / "gen-00000" / "docs.parquet").exists()

    again = runner.invoke(main, ["index", "build", str(tmp / "run"), "--out", str(out)])
    assert again.exit_code == 1 and "already exists" in again.output
    again = runner.invoke(main, ["index", "build", str(tmp / "run"), "--out", str(out),
                                 "--overwrite"])
    assert again.exit_code == 0, again.output

    info = runner.invoke(main, ["index", "info", str(out)])
    assert info.exit_code == 0, info.output
    assert f"documents: {report.counts['kept']} in 1 generation(s)" in info.output
    assert "gen-00000" in info.output and str(tmp / "run") in info.output
    assert "minhash.ngram = 2" in info.output and "normalize.lowercase = true" in info.output
    assert f"written by dedupe {dedupe.__version__}" in info.output
    assert "on disk: docs " in info.output

    as_json = runner.invoke(main, ["index", "info", str(out), "--json"])
    facts = json.loads(as_json.output)
    assert facts["rows"] == report.counts["kept"] and facts["params"]["minhash.num_perm"] == 128
    assert facts["generations"][0]["rows"] == report.counts["kept"]

    bad = runner.invoke(main, ["index", "info", str(tmp_path)])
    assert bad.exit_code == 1 and "not a dedupe index" in bad.output


def test_cli_index_build_of_a_run_that_kept_no_row(tmp_path):
    """A run whose every row is empty keeps none: its index is built, empty, and a later run
    against it removes nothing."""
    pq.write_table(pa.table({"text": ["", "   ", None, "\n"]}), tmp_path / "blank.parquet")
    runner = CliRunner()
    run = runner.invoke(main, ["run", str(tmp_path / "blank.parquet"), "--out",
                               str(tmp_path / "run"), "--engine", "serial", "-q"])
    assert run.exit_code == 0, run.output
    result = runner.invoke(main, ["index", "build", str(tmp_path / "run"), "--out",
                                  str(tmp_path / "idx")])
    assert result.exit_code == 0, result.output
    assert "indexed 0 documents" in result.output
    assert open_index(tmp_path / "idx").info()["rows"] == 0
    pq.write_table(make_corpus(60, seed=2), tmp_path / "pages.parquet")
    alone = dedupe.run([tmp_path / "pages.parquet"], tmp_path / "alone", engine__name="serial")
    against = dedupe.run([tmp_path / "pages.parquet"], tmp_path / "against",
                         engine__name="serial", index__against=(str(tmp_path / "idx"),))
    assert against.counts == alone.counts


def test_index_generations_written_by_two_workers_equal_one_process(tmp_path):
    """A small --memory-limit cuts the kept rows into several generations; written by two
    worker processes or in the main process, the index holds the same documents, numbered the
    same way, in the same generations."""
    from tests.synth import make_corpus

    table = make_corpus(12_000, seed=8)
    for i in range(3):
        pq.write_table(table.slice(4000 * i, 4000), tmp_path / f"in-{i}.parquet")
    indexes = {}
    for name, opts in (("serial", {"engine__name": "serial"}), ("local", {"workers": 2})):
        indexes[name] = tmp_path / f"index-{name}"
        dedupe.run([tmp_path / "in-*.parquet"], tmp_path / f"out-{name}", memory_limit="8MB",
                   write_index=str(indexes[name]), spans__repeats=False,
                   spans__boilerplate=False, **opts)
    serial, local = (dedupe.index.open_index(str(indexes[k])) for k in ("serial", "local"))
    assert len(serial.generations) >= 2
    assert [(g.name, g.first_doc, g.rows) for g in serial.generations] == [
        (g.name, g.first_doc, g.rows) for g in local.generations]
    for a, b in zip(serial.generations, local.generations):
        for part in ("docs.parquet", "digests.parquet", "bands/band-000.parquet"):
            assert pq.read_table(os.path.join(a.path, part)).equals(
                pq.read_table(os.path.join(b.path, part))), (a.name, part)
