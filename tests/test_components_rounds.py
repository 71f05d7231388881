"""Connected components in rounds over edge partitions (``dedupe.near.components``): the same
labels as the one-process union-find under every partition count and engine, resumed after a
crash in any round, with only small results reaching the driver."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
import tempfile
import textwrap

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dedupe.engines import LocalEngine, SerialEngine
from dedupe.errors import EngineError, OutputError
from dedupe.near.cluster import connected_components
from dedupe.near.components import (
    components_in_rounds,
    large_star,
    node_ranges,
    partition_of,
    read_labels,
    route,
    small_star,
    write_edges,
)

# --- graphs --------------------------------------------------------------------------------

SHAPES = ("pairs", "chain", "star", "clique", "loops")


def shape_edges(kind: str, nodes: list[int]) -> list[tuple[int, int]]:
    if kind == "pairs":
        return list(zip(nodes[::2], nodes[1::2]))
    if kind == "chain":
        return list(itertools.pairwise(nodes))
    if kind == "star":
        return [(nodes[0], x) for x in nodes[1:]]
    if kind == "clique":
        return [(x, y) for i, x in enumerate(nodes) for y in nodes[i + 1 :]]
    return [(x, x) for x in nodes]


@st.composite
def graphs(draw):
    """``(n, a, b)``: shapes dedup produces (pairs, chains, stars, cliques) and the odd ones
    (self-loops, duplicates in both directions, isolated nodes)."""
    n = draw(st.integers(0, 90))
    edges: list[tuple[int, int]] = []
    if n:
        for kind in draw(st.lists(st.sampled_from(SHAPES), max_size=7)):
            nodes = draw(st.lists(st.integers(0, n - 1), min_size=1, max_size=14))
            edges += shape_edges(kind, nodes)
        if edges and draw(st.booleans()):
            edges += [(y, x) for x, y in edges[: draw(st.integers(1, len(edges)))]]
    a = np.array([x for x, _ in edges], np.int64)
    b = np.array([y for _, y in edges], np.int64)
    return n, a, b


def mixed_graph(n: int, seed: int):
    """Many pairs, some chains and a few stars in random node order (as bench_components)."""
    rng = np.random.default_rng(seed)
    perm = rng.permutation(n)
    third = n // 3
    pairs = perm[: third - third % 2].reshape(-1, 2)
    chain = perm[third : 2 * third]
    hub = perm[2 * third]
    star = perm[2 * third + 1 : 2 * third + 1 + n // 10]
    a = np.concatenate([pairs[:, 0], chain[:-1], np.full(len(star), hub)])
    b = np.concatenate([pairs[:, 1], chain[1:], star])
    return a, b


def edge_files(folder: str, a: np.ndarray, b: np.ndarray, files: int) -> list[str]:
    paths = []
    for f, (x, y) in enumerate(zip(np.array_split(a, files), np.array_split(b, files))):
        paths.append(os.path.join(folder, f"edges-{f}.arrow"))
        write_edges(paths[-1], x, y)
    return paths


class Recording:
    """An engine that runs tasks serially, keeps their labels, and checks that every result
    the driver receives is a small dict of numbers and flags (never an array per node)."""

    name = "recording"
    workers = 1

    def __init__(self, crash_after: int | None = None):
        self.tasks: list = []
        self.crash_after = crash_after

    def map(self, fn, tasks, *, stage, progress=None):
        results = []
        for task in tasks:
            if len(self.tasks) == self.crash_after:
                raise KeyboardInterrupt("killed")
            self.tasks.append(task)
            results.append(fn(task))
            assert isinstance(results[-1], dict) and len(results[-1]) <= 8, results[-1]
            assert all(isinstance(v, (bool, int, float, str)) for v in results[-1].values())
        return results

    def close(self):
        pass


def run_rounds(folder, n, a, b, partitions, engine=None, files=2):
    paths = edge_files(folder, a, b, files)
    work = os.path.join(folder, "work")
    done = components_in_rounds(engine or SerialEngine(), paths, n, work, partitions)
    return read_labels(done.labels), done


# --- same labels as union-find --------------------------------------------------------------


@settings(max_examples=70, deadline=None)
@given(graph=graphs(), partitions=st.integers(1, 16), files=st.integers(1, 3))
def test_labels_equal_union_find(graph, partitions, files):
    n, a, b = graph
    with tempfile.TemporaryDirectory() as folder:
        labels, _ = run_rounds(folder, n, a, b, partitions, files=files)
        assert labels.dtype == np.int64
        assert labels.tobytes() == connected_components(n, a, b).tobytes()
        assert sorted(os.listdir(os.path.join(folder, "work"))) == \
            [f"labels-{p:05d}.arrow" for p in range(partitions)]


def test_process_pool_with_two_workers_and_many_tasks(tmp_path):
    n = 3000
    a, b = mixed_graph(n, 1)
    engine = LocalEngine(2)
    try:
        labels, done = run_rounds(str(tmp_path), n, a, b, 12, engine, files=5)
    finally:
        engine.close()
    assert np.array_equal(labels, connected_components(n, a, b))
    assert len(done.rounds) > 4 and all(row["tasks"] == 12 for row in done.rounds[1:])


def test_rounds_grow_with_the_log_of_a_path(tmp_path):
    """Large-star halves a path each time: a 4096-node path in node order (the slowest order
    for smallest-label propagation) takes about two rounds per halving, not one per node."""
    n = 1 << 12
    a = np.arange(n - 1)
    _, done = run_rounds(str(tmp_path), n, a, a + 1, 4)
    assert len(done.rounds) <= 2 * 12 + 4


def test_edges_outside_the_nodes_are_refused(tmp_path):
    with pytest.raises(EngineError, match=r"outside 0\.\.9"):
        run_rounds(str(tmp_path), 10, np.array([1, 2]), np.array([3, 10]), 2)


# --- the driver sees small results only ------------------------------------------------------


def test_the_driver_receives_only_small_results(tmp_path):
    n = 2000
    a, b = mixed_graph(n, 2)
    engine = Recording()
    labels, done = run_rounds(str(tmp_path), n, a, b, 6, engine)
    assert np.array_equal(labels, connected_components(n, a, b))
    assert len(engine.tasks) == sum(row["tasks"] for row in done.rounds)
    for row in done.rounds:
        assert all(isinstance(v, (bool, int, float, str)) for v in row.values())
    assert [row["changed"] for row in done.rounds[-3:]] == [False, False, False]


# --- resume ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def chain_case():
    """A graph that needs many rounds, and its uninterrupted run's labels and task count."""
    n = 600
    rng = np.random.default_rng(3)
    perm = rng.permutation(n)
    a = np.concatenate([perm[:399], perm[400:500:2]])
    b = np.concatenate([perm[1:400], perm[401:501:2]])
    with tempfile.TemporaryDirectory() as folder:
        engine = Recording()
        labels, _ = run_rounds(folder, n, a, b, 5, engine)
    return n, a, b, labels, len(engine.tasks)


@pytest.mark.parametrize("after", [1, 2, 6, 13, 24, 40, -3])
def test_a_crash_in_any_round_resumes_there(chain_case, tmp_path, after):
    n, a, b, reference, total = chain_case
    after = after % total
    with pytest.raises(KeyboardInterrupt):
        run_rounds(str(tmp_path), n, a, b, 5, Recording(crash_after=after))
    again = Recording()
    labels, _ = run_rounds(str(tmp_path), n, a, b, 5, again)
    assert labels.tobytes() == reference.tobytes()
    assert len(again.tasks) == total - after  # no finished task runs twice


def test_deleted_later_rounds_are_run_again(chain_case, tmp_path):
    """Files of the newest rounds lost (a crash before they were renamed into place): the
    driver goes back to the newest round whose files are all there."""
    n, a, b, reference, _ = chain_case
    with pytest.raises(KeyboardInterrupt):
        run_rounds(str(tmp_path), n, a, b, 5, Recording(crash_after=30))
    work = tmp_path / "work"
    rounds = sorted({int(name.split("-")[1]) for name in os.listdir(work)})
    (work / f"round-{rounds[-1]:04d}-part-00002.arrow").unlink(missing_ok=True)
    (work / f"round-{rounds[-1]:04d}-part-00000.arrow").unlink(missing_ok=True)
    (work / ".round-0099-part-00000.arrow.tmp-12345").write_bytes(b"partial")
    again = Recording()
    labels, _ = run_rounds(str(tmp_path), n, a, b, 5, again)
    assert labels.tobytes() == reference.tobytes()
    assert min(task.round for task in again.tasks) >= rounds[0]
    assert not [name for name in os.listdir(work) if not name.startswith("labels-")]


def test_a_finished_run_runs_nothing(chain_case, tmp_path):
    n, a, b, reference, _ = chain_case
    run_rounds(str(tmp_path), n, a, b, 5)
    again = Recording()
    labels, done = run_rounds(str(tmp_path), n, a, b, 5, again)
    assert labels.tobytes() == reference.tobytes()
    assert again.tasks == [] and done.rounds == ()


def test_a_folder_of_another_graph_is_refused(chain_case, tmp_path):
    n, a, b, _, _ = chain_case
    with pytest.raises(KeyboardInterrupt):
        run_rounds(str(tmp_path), n, a, b, 5, Recording(crash_after=12))
    with pytest.raises(OutputError, match="another graph"):
        run_rounds(str(tmp_path), n + 1, a, b, 5)


HARNESS = textwrap.dedent("""
    import os, signal, sys
    import numpy as np
    from dedupe.engines import SerialEngine
    from dedupe.near.components import components_in_rounds

    stop_round, stop_after = int(sys.argv[4]), int(sys.argv[5])

    def progress(stage, done, total, result):
        if result["round"] == stop_round and done >= stop_after:
            os.kill(os.getpid(), signal.SIGKILL)

    components_in_rounds(SerialEngine(), sys.argv[1].split(","), int(sys.argv[2]), sys.argv[3],
                         5, progress=progress)
""")


@pytest.mark.parametrize("stop_round,stop_after", [(0, 1), (3, 2), (8, 4)])
def test_sigkill_then_rerun_gives_the_same_labels(chain_case, tmp_path, stop_round, stop_after):
    n, a, b, reference, _ = chain_case
    paths = edge_files(str(tmp_path), a, b, 2)
    work = str(tmp_path / "work")
    script = tmp_path / "harness.py"
    script.write_text(HARNESS)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.run([sys.executable, str(script), ",".join(paths), str(n), work,
                           str(stop_round), str(stop_after)], env=env, capture_output=True,
                          timeout=120)
    assert proc.returncode == -9, proc.stderr.decode()
    assert not os.path.exists(os.path.join(work, "labels-00000.arrow"))
    done = components_in_rounds(SerialEngine(), paths, n, work, 5)
    assert read_labels(done.labels).tobytes() == reference.tobytes()
    assert done.rounds[0]["round"] == stop_round and done.rounds[0]["ran"] < done.rounds[0][
        "tasks"]


# --- the pure steps ---------------------------------------------------------------------------


def test_large_star_links_larger_neighbours_to_the_smallest():
    # the path 0-1-2-3, both directions of every edge
    key = np.array([0, 1, 1, 2, 2, 3])
    other = np.array([1, 0, 2, 1, 3, 2])
    big, small, changed = large_star(key, other)
    assert list(zip(big, small)) == [(1, 0), (2, 0), (3, 1)]
    assert changed


def test_small_star_joins_smaller_neighbours():
    big, small, changed = small_star(np.array([2, 2, 5]), np.array([1, 0, 4]))
    assert list(zip(big, small)) == [(1, 0), (2, 0), (5, 4)]
    assert changed


def test_a_forest_of_stars_is_a_fixed_point_of_both():
    big, small = np.array([1, 2, 7, 9]), np.array([0, 0, 3, 3])
    large = route(big, small, node_ranges(10, 1), "large")
    assert large_star(large[0], large[1])[2:] == (False,)
    assert small_star(big, small)[2:] == (False,)
    out = small_star(big, small)
    assert list(zip(out[0], out[1])) == list(zip(big, small))


@pytest.mark.parametrize("n,partitions", [(0, 3), (5, 16), (100, 7), (10**12, 64)])
def test_node_ranges_cover_every_node_once(n, partitions):
    bounds = node_ranges(n, partitions)
    assert bounds[0] == 0 and bounds[-1] == n and np.all(np.diff(bounds) >= 0)
    nodes = np.unique(np.concatenate([[0, n - 1], np.arange(min(n, 1000))])) if n else []
    for v in nodes:
        p = partition_of(np.array([v]), bounds)[0]
        assert bounds[p] <= v < bounds[p + 1]


def test_route_puts_each_record_in_its_keys_partition():
    bounds = node_ranges(40, 4)
    big, small = np.array([5, 12, 39, 25]), np.array([0, 11, 2, 24])
    for op, both in (("large", True), ("small", False)):
        key, _, offsets = route(big, small, bounds, op)
        assert len(key) == (8 if both else 4) and offsets[-1] == len(key)
        for p in range(4):
            part = key[offsets[p] : offsets[p + 1]]
            assert np.all((bounds[p] <= part) & (part < bounds[p + 1]))
