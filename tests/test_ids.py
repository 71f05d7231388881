"""The duplicate-id check runs as engine tasks over partitions; it must find exactly the rows a
plain loop over the rows in input order finds, for any file split and partition count."""

from __future__ import annotations

import itertools
import os
from types import SimpleNamespace

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dedupe.config import DedupeConfig
from dedupe.engines.local import LocalEngine
from dedupe.engines.serial import SerialEngine
from dedupe.errors import InputError
from dedupe.io.spill import read_ipc, write_ipc
from dedupe.near.decide import ROW_OK, ROW_REJECTED
from dedupe.pipeline.ids import mark_duplicate_ids
from dedupe.pipeline.store import SignFiles


def _reference(ids, status):
    """``{later row: first row}`` by a loop: the first considered row keeps its id."""
    seen, dup = {}, {}
    for g, (value, s) in enumerate(zip(ids, status)):
        if s == ROW_REJECTED:
            continue
        key = value or ""
        if key in seen:
            dup[g] = seen[key]
        else:
            seen[key] = g
    return dup


def _files(folder, ids, status, cuts):
    paths, tasks = [], []
    bounds = [0, *cuts, len(ids)]
    for t, (lo, hi) in enumerate(itertools.pairwise(bounds)):
        path = os.path.join(folder, f"sign-{t:06d}.arrow")
        write_ipc(pa.table({"id": pa.array(ids[lo:hi], pa.string()),
                            "status": np.asarray(status[lo:hi], np.int8),
                            "source_row": np.arange(hi - lo, dtype=np.int64) + 10}), path)
        paths.append(path)
        tasks.append(SimpleNamespace(source=SimpleNamespace(path=f"in-{t}.parquet")))
    return SignFiles(paths, 0), tasks


def _cfg(on_bad_row):
    return DedupeConfig().with_overrides({"input.id_column": "id",
                                          "input.on_bad_row": on_bad_row})


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 10**6), n=st.integers(0, 300), files=st.integers(1, 6),
       partitions=st.integers(1, 9), alphabet=st.sampled_from([2, 20, 1000]))
def test_rejected_duplicates_match_a_loop(tmp_path_factory, seed, n, files, partitions,
                                          alphabet):
    rng = np.random.default_rng(seed)
    ids = [None if rng.random() < 0.05 else f"id{rng.integers(alphabet)}" for _ in range(n)]
    status = rng.choice([ROW_OK, ROW_OK, ROW_OK, ROW_REJECTED], n)
    folder = str(tmp_path_factory.mktemp("ids"))
    cuts = sorted(rng.integers(0, n + 1, files - 1).tolist())
    sign, tasks = _files(folder, ids, status, cuts)
    notes, paths = mark_duplicate_ids(_cfg("reject"), SerialEngine(), sign, tasks,
                                      os.path.join(folder, "ids"), partitions)
    want = _reference(ids, status)
    if not want:
        assert notes is None and paths == ()
        return
    got = np.concatenate([read_ipc(p)["status"].to_numpy() for p in paths])
    expect = status.copy()
    expect[list(want)] = ROW_REJECTED
    np.testing.assert_array_equal(got, expect)
    assert {g for g, note in enumerate(notes) if note} == set(want)
    offsets = sign.offsets
    for g, f in want.items():
        t = int(np.searchsorted(offsets, f, side="right") - 1)
        assert notes[g].endswith(f"the same id as in-{t}.parquet row {f - offsets[t] + 10}")


def test_the_first_duplicate_in_input_order_stops_the_run(tmp_path):
    """With ``on_bad_row = "error"`` the error names the earliest later row and its first,
    whichever partition found it; two worker processes, many partitions."""
    ids = [f"id{i}" for i in range(3000)]
    ids[2500], ids[1700], ids[2900] = "id5", "id1200", "id9"
    sign, tasks = _files(str(tmp_path), ids, np.zeros(3000, np.int8), [1000, 2000])
    engine = LocalEngine(2)
    try:
        with pytest.raises(InputError, match=r"in-1\.parquet, row 710, column 'id': id "
                                             r"'id1200' appears again.*in-1\.parquet row 210"):
            mark_duplicate_ids(_cfg("error"), engine, sign, tasks, str(tmp_path / "ids"), 11)
    finally:
        engine.close()
