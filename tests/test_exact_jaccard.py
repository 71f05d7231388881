"""``--verify exact``: the true Jaccard of candidate pairs, computed on arrays a batch of pairs
at a time from the sign files, must equal a plain Python set computation."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import dedupe
from dedupe.config import load_config
from dedupe.near.decide import exact_similarity
from dedupe.near.jaccard import set_jaccard
from dedupe.near.lsh import lsh_params
from dedupe.near.signing import sign_arrays
from dedupe.pipeline.store import SignFiles
from tests.conftest import write_parquet
from tests.synth import make_corpus


def _jaccard(x: set, y: set) -> float:
    return len(x & y) / len(x | y) if x | y else 1.0


_sets = st.lists(st.sets(st.integers(0, 40) | st.integers(0, 2**32 - 1), max_size=25),
                 min_size=1, max_size=12)


@settings(max_examples=150, deadline=None)
@given(_sets, st.data())
def test_set_jaccard_equals_python_sets(sets, data):
    values = np.array([v for s in sets for v in sorted(s)], np.uint32)
    offsets = np.concatenate([[0], np.cumsum([len(s) for s in sets])]).astype(np.int64)
    index = st.integers(0, len(sets) - 1)
    pairs = data.draw(st.lists(st.tuples(index, index), max_size=30))
    a = np.array([p[0] for p in pairs], np.int64)
    b = np.array([p[1] for p in pairs], np.int64)
    got = set_jaccard(values, offsets, a, b)
    assert got.tolist() == [_jaccard(sets[i], sets[j]) for i, j in pairs]


@pytest.fixture(scope="module")
def exact_sign_files(tmp_path_factory):
    """The sign files of 3 tasks signed for exact verification, and each row's text."""
    root = tmp_path_factory.mktemp("exact")
    table = make_corpus(600, seed=9)
    texts = table["text"].to_pylist()
    texts[5], texts[6], texts[250] = "", "   ", ""  # rows with empty shingle sets
    table = table.set_column(table.schema.get_field_index("text"), "text", pa.array(texts))
    for i in range(3):
        write_parquet(root / f"in-{i}.parquet", table.slice(200 * i, 200))
    cfg = load_config(None, **{"input.paths": (str(root / "in-*.parquet"),),
                               "output.out": str(root / "out"), "engine.name": "serial",
                               "lsh.verify": "exact"})
    from dedupe.io.sources import expand_inputs, split_tasks
    from dedupe.pipeline.sign import SignTask, sign_task

    tasks = split_tasks(expand_inputs(cfg.input.paths, "auto"))
    paths = [str(root / f"sign-{t.index:06d}.arrow") for t in tasks]
    for t, path in zip(tasks, paths):
        sign_task(SignTask(t, cfg, path, None, lsh_params(cfg)))
    return cfg, paths, texts


def test_exact_similarity_from_sign_files_equals_python_sets(exact_sign_files):
    cfg, paths, texts = exact_sign_files
    files = SignFiles(paths, cfg.minhash.num_perm)
    assert pa.types.is_large_list(files[0].schema.field("shingles").type)  # 64-bit offsets
    sets = []
    for text in texts:
        _, _, _, _, sh = sign_arrays(pa.array([text]), cfg, keep_shingles=True)
        sets.append(set(sh.hashes.tolist()))
    rng = np.random.default_rng(1)
    a = rng.integers(0, len(texts), 3000)
    b = rng.integers(0, len(texts), 3000)
    a[:3], b[:3] = [5, 5, 250], [6, 100, 6]  # empty with empty, empty with a page
    want = [_jaccard(sets[i], sets[j]) for i, j in zip(a.tolist(), b.tolist())]
    sizes = files.column("n_shingles")
    for max_values, n in ((1, 200), (5000, None), (1 << 30, None)):  # a pair a batch, some, all
        got = exact_similarity(files, a[:n], b[:n], sizes, max_values)
        assert got.tolist() == pytest.approx(want[:n], abs=1e-15)


def test_exact_runs_decide_the_same_in_small_and_large_batches(tmp_path):
    path = write_parquet(tmp_path / "c.parquet", make_corpus(400, seed=3))
    small = dedupe.run([path], tmp_path / "s", engine__name="serial", verify="exact",
                       memory_limit="1MB")
    large = dedupe.run([path], tmp_path / "l", engine__name="serial", verify="exact")
    assert small.counts == large.counts and small.counts["near_duplicate"] > 0
    ms, ml = (pq.read_table(tmp_path / n / "manifest.parquet").drop_columns(["source_file"])
              for n in ("s", "l"))
    assert ms.equals(ml)
