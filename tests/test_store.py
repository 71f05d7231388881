"""The decide stage reads signatures from the sign files a band or a batch of pairs at a time;
its answers must equal the in-memory ones exactly."""

from __future__ import annotations

import numpy as np
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import dedupe
from dedupe.config import load_config, parse_bytes
from dedupe.errors import ConfigError
from dedupe.near.decide import ArraySignatures, decide, pair_similarity
from dedupe.near.lsh import lsh_params
from dedupe.pipeline.store import SignFiles, load_sign_columns
from tests.conftest import write_parquet
from tests.synth import make_corpus


@pytest.fixture(scope="module")
def signed_run(tmp_path_factory):
    """A run whose work folder is kept: the sign files of 3 tasks, and the run itself."""
    root = tmp_path_factory.mktemp("store")
    table = make_corpus(900, seed=5)
    for i in range(3):
        write_parquet(root / f"in-{i}.parquet", table.slice(300 * i, 300), row_group_size=300)
    work = root / "work"
    cfg = load_config(None, **{"input.paths": (str(root / "in-*.parquet"),),
                               "output.out": str(root / "out"), "output.workdir": str(work),
                               "engine.name": "serial", "input.id_column": "id"})
    from dedupe.engines import make_engine
    from dedupe.io.sources import expand_inputs, split_tasks
    from dedupe.pipeline.sign import SignTask, sign_task

    tasks = split_tasks(expand_inputs(cfg.input.paths, "auto"))
    work.mkdir()
    sts = [SignTask(t, cfg, str(work / f"sign-{t.index:06d}.arrow"), None, lsh_params(cfg))
           for t in tasks]
    make_engine(cfg.engine).map(sign_task, sts, stage="sign")
    return cfg, [s.path for s in sts]


def test_sign_files_answer_like_the_arrays(signed_run):
    cfg, paths = signed_run
    files = SignFiles(paths, cfg.minhash.num_perm)
    _, data = load_sign_columns(paths, cfg.minhash.num_perm)
    sigs = data["sig"]
    assert files.total_rows == len(sigs) == 900
    bands, rows = lsh_params(cfg)
    arrays = ArraySignatures(sigs, rows)
    rng = np.random.default_rng(0)
    idx = np.unique(rng.integers(0, 900, 200))
    assert np.array_equal(files.gather(idx), sigs[idx])
    for b in range(bands):
        assert np.array_equal(files.band(b, idx), arrays.band(b, idx))
    ids = files.string_column("id", idx)
    all_ids = np.concatenate([t["id"].to_numpy(zero_copy_only=False) for t in files])
    assert ids.to_pylist() == all_ids[idx].tolist()


@pytest.mark.parametrize("max_rows", [4, 64, 1 << 21])
def test_decisions_from_files_equal_in_memory_for_any_batch_size(signed_run, max_rows):
    cfg, paths = signed_run
    files = SignFiles(paths, cfg.minhash.num_perm)
    _, d = load_sign_columns(paths, cfg.minhash.num_perm)
    digest = np.stack([d["digest_hi"], d["digest_lo"]], axis=1).astype(np.uint64)
    ref = decide(d["status"], digest, d["n_shingles"], d["sig"], d["length"], None, cfg)
    got = decide(d["status"], digest, d["n_shingles"], files, d["length"], None, cfg,
                 max_rows=max_rows)
    assert ref.stats["verified_pairs"] > 50  # the corpus has planted near copies
    for name in ("action", "cluster", "survivor", "cluster_size"):
        assert np.array_equal(getattr(ref, name), getattr(got, name)), name
    assert np.array_equal(ref.similarity, got.similarity, equal_nan=True)


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 40), st.integers(1, 50), st.integers(0, 2**32 - 1),
       st.sampled_from([1, 300]), st.booleans())
def test_pair_similarity_in_batches(n, max_rows, seed, spread, sort_a):
    """Any batch size, rows dense or sparse in a wide range (marked in a mask, or sorted),
    pairs sorted by their first row or not: each pair's fraction of equal positions."""
    rng = np.random.default_rng(seed)
    sigs = rng.integers(0, 4, (n * spread, 16)).astype(np.uint32)
    a, b = rng.integers(0, n * spread, 3 * n), rng.integers(0, n * spread, 3 * n)
    if sort_a:
        a = np.sort(a)
    want = np.array([np.mean(sigs[x] == sigs[y]) for x, y in zip(a, b)])
    got = pair_similarity(ArraySignatures(sigs, 4), a, b, max_rows)
    assert np.array_equal(got, want)


def test_memory_limit_option(tmp_path):
    assert parse_bytes("x", "4GB") == 4 << 30
    assert parse_bytes("x", "512 MiB") == 512 << 20
    assert parse_bytes("x", "1.5G") == int(1.5 * (1 << 30))
    assert parse_bytes("x", 1000) == 1000
    for bad in ("lots", "-1GB", 0, "4XB"):
        with pytest.raises(ConfigError, match="memory_limit"):
            load_config(None, **{"engine.memory_limit": bad})
    # a tiny limit changes nothing but how many signatures are read at once
    table = make_corpus(300, seed=2)
    write_parquet(tmp_path / "in.parquet", table)
    for name, limit in (("a", "1GB"), ("b", "1KB")):
        dedupe.run([tmp_path / "in.parquet"], tmp_path / name, engine__name="serial",
                   id_column="id", engine__memory_limit=limit)
    ma, mb = (pq.read_table(tmp_path / x / "manifest.parquet") for x in "ab")
    assert ma.equals(mb)
