"""The decide stage in engine tasks over partitions must give exactly the decisions of the
one-process :func:`dedupe.near.decide.decide`, for any partition count, file split, worker count
and engine, and resume after a task is lost."""

from __future__ import annotations

import dataclasses
import itertools
import os

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dedupe.config import DedupeConfig
from dedupe.engines.local import LocalEngine
from dedupe.engines.serial import SerialEngine
from dedupe.io.spill import read_ipc, write_ipc
from dedupe.near.decide import ROW_EMPTY, ROW_OK, ROW_REJECTED, decide, exact_similarity
from dedupe.near.lsh import band_key
from dedupe.pipeline.decide_tasks import (
    DECISION_COLUMNS,
    PAIR_SLICES,
    FileDecisions,
    decide_in_tasks,
    make_plan,
    partitions_for,
)
from dedupe.pipeline.store import SignFiles, band_column

NUM_PERM = 16


def _rows(seed: int, n: int, alphabet: int):
    """``n`` rows of sign-file columns: families of near copies (signatures differing in a
    few values drawn from a small alphabet, so buckets get large), exact copies, rows without
    shingles, empty and rejected rows."""
    rng = np.random.default_rng(seed)
    base = rng.integers(0, alphabet, (max(1, n // 4), NUM_PERM), dtype=np.uint32)
    family = rng.integers(0, len(base), n)
    sig = base[family].copy()
    flip = rng.random((n, NUM_PERM)) < rng.uniform(0, 0.4)
    sig[flip] = rng.integers(0, alphabet, int(flip.sum()), dtype=np.uint32)
    copy_of = np.where(rng.random(n) < 0.2, rng.integers(0, max(n, 1), n), np.arange(n))
    copy_of = np.minimum(copy_of, np.arange(n))
    sig = sig[copy_of]
    digest = np.stack([copy_of.astype(np.uint64) * 7919 % 13, copy_of.astype(np.uint64)], 1)
    status = rng.choice([ROW_OK, ROW_OK, ROW_OK, ROW_OK, ROW_EMPTY, ROW_REJECTED], n)
    n_shingles = np.where(rng.random(n) < 0.05, 0, 20 + copy_of % 30).astype(np.int64)
    length = (copy_of * 37 % 101).astype(np.int64)
    score = np.where(rng.random(n) < 0.1, np.nan, (copy_of * 13 % 17).astype(float))
    sets = [np.unique(s % 40) for s in sig]  # a shingle set per row, for exact verification
    return {"status": status.astype(np.int8), "digest": digest, "n_shingles": n_shingles,
            "length": length, "score": score, "sig": sig, "sets": sets}


def _sign_files(folder, d, cuts, bands, rows) -> list[str]:
    """The rows as sign files, cut at ``cuts``."""
    paths = []
    bounds = [0, *cuts, len(d["status"])]
    for t, (lo, hi) in enumerate(itertools.pairwise(bounds)):
        sig = d["sig"][lo:hi]
        cols = {"status": d["status"][lo:hi], "digest_hi": d["digest"][lo:hi, 0],
                "digest_lo": d["digest"][lo:hi, 1], "n_shingles": d["n_shingles"][lo:hi],
                "length": d["length"][lo:hi], "score": d["score"][lo:hi],
                "sig": pa.FixedSizeListArray.from_arrays(pa.array(sig.reshape(-1)), NUM_PERM),
                "shingles": pa.array([s.astype(np.uint32) for s in d["sets"][lo:hi]],
                                     pa.list_(pa.uint32()))}
        for b in range(bands):
            cols[band_column(b)] = band_key(sig, b, rows)
        path = os.path.join(folder, f"sign-{t:06d}.arrow")
        write_ipc(pa.table(cols), path)
        paths.append(path)
    return paths


def _config(bands, rows, max_bucket, verify, survivor):
    return DedupeConfig().with_overrides({
        "minhash.num_perm": NUM_PERM, "lsh.bands": bands, "lsh.rows": rows,
        "lsh.max_bucket_size": max_bucket, "lsh.verify": verify, "lsh.threshold": 0.5,
        "cluster.survivor": survivor})


def _reference(d, cfg, paths):
    files = SignFiles(paths, NUM_PERM)
    exact = None
    if cfg.lsh.verify == "exact":
        def exact(a, b):
            return exact_similarity(files, a, b, d["n_shingles"], 1 << 8)
    return decide(d["status"], d["digest"], d["n_shingles"], d["sig"], d["length"],
                  d["score"], cfg, exact_jaccard=exact)


def _check_same(ref, got):
    """``got``: the stage's decision files, read back and put together in file order."""
    for c in DECISION_COLUMNS:
        have = np.concatenate([read_ipc(p)[c].to_numpy() for p in got.paths]) if got.paths \
            else np.zeros(0)
        np.testing.assert_array_equal(have, getattr(ref, c), err_msg=c)
    assert got.stats == ref.stats


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 10**6), n=st.integers(0, 400), files=st.integers(1, 6),
       partitions=st.integers(1, 9), alphabet=st.sampled_from([3, 50, 10**6]),
       shape=st.sampled_from([(8, 2), (4, 4), (16, 1)]), max_bucket=st.sampled_from([2, 5, 100]),
       verify=st.sampled_from(["signature", "exact", "none"]),
       survivor=st.sampled_from(["first", "longest", "max:score"]), small=st.booleans())
def test_partitioned_decide_equals_one_process(tmp_path_factory, seed, n, files, partitions,
                                               alphabet, shape, max_bucket, verify, survivor,
                                               small):
    """``small``: a memory limit so small that the verify tasks (runs of candidate slices cut
    by the pairs they read) are many more than the partitions."""
    folder = str(tmp_path_factory.mktemp("dt"))
    d = _rows(seed, n, alphabet)
    cuts = sorted(np.random.default_rng(seed).integers(0, n + 1, files - 1).tolist())
    cfg = _config(*shape, max_bucket, verify, survivor)
    paths = _sign_files(folder, d, cuts, *shape)
    ref = _reference(d, cfg, paths)
    num_rows = np.diff([0, *cuts, n]).tolist()
    cfg = cfg.with_overrides({"engine.partitions": partitions})
    plan = make_plan(cfg, paths, num_rows, os.path.join(folder, "decide"), 1)
    if small:
        plan = dataclasses.replace(plan, memory=4 * 96 * 8)  # 8 pairs a verify task
    out, stats, info = decide_in_tasks(SerialEngine(), plan)
    _check_same(ref, FileDecisions(out, stats))
    tasks = info["steps"]["verify"]["tasks"]
    if not small:  # two neighbouring tasks read more than an equal share together
        assert tasks <= 2 * partitions + 1


@settings(max_examples=60, deadline=None)
@given(counts=st.lists(st.lists(st.integers(0, 50), min_size=32, max_size=32), min_size=1,
                       max_size=3),
       budget=st.integers(1, 200))
def test_verify_tasks_are_cut_by_the_pairs_they_read(tmp_path_factory, counts, budget):
    """Runs of slices covering every slice once, in order; each reads at most the budget (a
    quarter of the memory limit over the bytes a pair costs) or an equal share over the
    partitions, unless it is one slice alone (with empty ones)."""
    from dedupe.io.routed import write_routed
    from dedupe.pipeline.decide_tasks import BYTES_PER_PAIR, verify_groups

    folder = tmp_path_factory.mktemp("vg")
    paths = []
    for i, per_slice in enumerate(counts):
        part = np.repeat(np.arange(32), per_slice)
        paths.append(str(folder / f"candidates-{i}.arrow"))
        write_routed(paths[-1], {"a": part}, part, 32)
    plan = make_plan(DedupeConfig().with_overrides({"engine.partitions": 2}), [], [],
                     str(folder / "plan"), 1)
    plan = dataclasses.replace(plan, memory=4 * BYTES_PER_PAIR * budget)
    groups = verify_groups(plan, paths)
    assert groups[0][0] == 0 and groups[-1][1] == 2 * PAIR_SLICES
    assert all(g[1] == h[0] and g[0] < g[1] for g, h in itertools.pairwise(groups))
    total = np.sum(counts, axis=0)
    limit = min(budget, -(-int(total.sum()) // 2))
    for lo, hi in groups:
        assert np.count_nonzero(total[lo:hi]) <= 1 or total[lo:hi].sum() <= limit


def test_two_workers_many_partitions(tmp_path):
    """A local engine with two processes, 13 partitions and 7 files (one of a single row)."""
    d = _rows(3, 3000, 50)
    cfg = _config(8, 2, 5, "signature", "longest")
    cuts = [400, 401, 1200, 2000, 2100, 2999]
    paths = _sign_files(str(tmp_path), d, cuts, 8, 2)
    plan = make_plan(cfg.with_overrides({"engine.partitions": 13}), paths,
                     np.diff([0, *cuts, 3000]).tolist(), str(tmp_path / "decide"), 2)
    engine = LocalEngine(2)
    try:
        out, stats, _ = decide_in_tasks(engine, plan)
    finally:
        engine.close()
    _check_same(_reference(d, cfg, paths), FileDecisions(out, stats))


class _Killed(Exception):
    pass


class _Recording(SerialEngine):
    """A serial engine that records the tasks it runs and dies (as a killed run would) when
    it is about to run task ``after`` of ``step``."""

    def __init__(self, step=None, after=0):
        self.step, self.after, self.ran = step, after, []

    def map(self, fn, tasks, *, stage, progress=None):
        out = []
        for t in tasks:
            name = getattr(t, "step", None) or f"round-{t.op}"
            if name == self.step and sum(r == name for r, _ in self.ran) == self.after:
                raise _Killed(name)
            self.ran.append((name, getattr(t, "index", getattr(t, "part", 0))))
            out.append(fn(t))
        return out


@pytest.mark.parametrize("step", ["digests", "exact", "bands", "candidates", "verify",
                                  "round-scatter", "round-large", "round-small", "round-label",
                                  "assign", "survivors", "decisions"])
def test_killed_in_any_step_then_resumed_gives_the_same(tmp_path, step):
    """Killed before the second task of a step (of a components round too), the same call
    finishes the stage with the same decisions and runs no finished task again."""
    d = _rows(11, 800, 50)
    cfg = _config(8, 2, 5, "exact", "first")
    cuts = [100, 350, 600]
    paths = _sign_files(str(tmp_path), d, cuts, 8, 2)
    plan = make_plan(cfg.with_overrides({"engine.partitions": 4}), paths,
                     np.diff([0, *cuts, 800]).tolist(), str(tmp_path / "decide"), 1)
    first = _Recording(step, after=1)
    with pytest.raises(_Killed):
        decide_in_tasks(first, plan)
    assert (step, 0) in first.ran or step.startswith("round")
    again = _Recording()
    out, stats, _ = decide_in_tasks(again, plan)
    _check_same(_reference(d, cfg, paths), FileDecisions(out, stats))
    steps = ["digests", "exact", "bands", "candidates", "verify"]
    if step in steps:
        done_before = steps[: steps.index(step)]
        assert not any(name in done_before for name, _ in again.ran)
        assert (step, 0) not in again.ran and (step, 1) in again.ran


def test_consumed_step_files_are_removed(tmp_path):
    """Only the decision files (and small summaries) stay: every step's records are deleted
    once the steps that read them have finished, so the work folder does not keep them all."""
    d = _rows(5, 500, 50)
    cfg = _config(8, 2, 5, "signature", "first")
    paths = _sign_files(str(tmp_path), d, [250], 8, 2)
    plan = make_plan(cfg.with_overrides({"engine.partitions": 3}), paths, [250, 250],
                     str(tmp_path / "decide"), 1)
    out, _, _ = decide_in_tasks(SerialEngine(), plan)
    left = sorted(p for p in os.listdir(tmp_path / "decide") if p.endswith(".arrow"))
    assert left == sorted(os.path.basename(p) for p in out)


@pytest.mark.parametrize("rows,workers,memory,expected", [
    (0, 4, 2 << 30, 1), (100, 1, 2 << 30, 1), (10_000, 1, 2 << 30, 2), (10_000, 2, 2 << 30, 3),
    (100_000, 2, 2 << 30, 4), (10_000_000, 2, 2 << 30, 23), (10_000_000, 64, 2 << 30, 128),
    (10_000_000, 2, 8 << 30, 6), (10_000_000, 2, 1 << 20, 2442),
])
def test_partitions_grow_with_rows_and_workers_and_shrink_with_memory(rows, workers, memory,
                                                                       expected):
    """A few partitions per worker, and a quarter of --memory-limit per partition's heaviest
    task (19 bands), never fewer than 4,096 rows a partition."""
    assert partitions_for(rows, workers, memory, 19) == expected


def test_a_task_is_sent_the_file_list_by_name_not_the_list(tmp_path):
    """Every decide task needs every sign file's path and row offset; sending the list with
    each task would make the bytes the main process pickles grow with the square of the file
    count. A task carries the name of one JSON file instead, and reads it where it runs."""
    import pickle

    from dedupe.pipeline.decide_tasks import StepTask

    d = _rows(2, 600, 50)
    cuts = list(range(10, 600, 10))  # 60 sign files
    paths = _sign_files(str(tmp_path), d, cuts, 8, 2)
    plan = make_plan(_config(8, 2, 5, "signature", "first"), paths, np.diff([0, *cuts, 600]),
                     str(tmp_path / "decide"), 1)
    assert plan.sign_paths == paths  # read back from the file
    blob = pickle.dumps(StepTask(plan, "bands", 3))
    assert len(blob) < 2000 and paths[5].encode() not in blob
    task = pickle.loads(blob)
    assert task.plan.sign_paths[3] == paths[3] and task.plan.offsets[-1] == 600


@pytest.mark.parametrize("members", [False, True])
def test_pairs_past_the_int64_key_are_found_alike(tmp_path, monkeypatch, members):
    """Where a pair no longer fits one int64 key (hundreds of millions of rows), the
    candidates are gathered as three arrays instead: the same decisions."""
    import dedupe.pipeline.decide_tasks as dt
    from dedupe.pipeline.decide_tasks import Member

    d = _rows(5, 600, 50)
    cfg = _config(8, 2, 5, "signature", "first")
    paths = _sign_files(str(tmp_path), d, [250], 8, 2)
    ref = _reference(d, cfg, paths)
    monkeypatch.setattr(dt, "pair_keys_fit", lambda m, bands: False)
    plan = make_plan(cfg.with_overrides({"engine.partitions": 3}), paths, [250, 350],
                     str(tmp_path / "decide"), 1)
    if members:  # a member at the same bands and threshold: its own copy of the edges
        plan = dataclasses.replace(plan, members=(Member(0.5, 8, str(tmp_path / "m")),))
        os.makedirs(tmp_path / "m")
    out, stats, _ = decide_in_tasks(SerialEngine(), plan)
    _check_same(ref, FileDecisions(out, stats))
