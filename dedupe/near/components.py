"""Connected components in rounds over edge partitions, so that no process holds every row.

:func:`dedupe.near.cluster.connected_components` needs an array with an entry per node in one
process. Here the same labels (every node labelled with the smallest node of its component) come
from rounds of ``engine.map`` over ``P`` partitions of the edges, each task reading and writing
files in a work folder; the process that plans the rounds sees only a few numbers per task.

The algorithm is the alternating large-star / small-star of Kiveris, Lattanzi, Mirrokni, Rastogi
and Vassilvitskii ("Connected Components in MapReduce and Beyond", SoCC 2014). Nodes are
labelled by their own index; ``Γ(u)`` is the neighbourhood of ``u`` and ``m(u)`` the smallest
of ``u`` and its neighbours:

* large-star: every ``u`` links each neighbour larger than itself to ``m(u)``;
* small-star: every ``u`` links itself and each neighbour smaller than itself to ``m(u)``.

Both keep every component connected, and the fixed point of the pair is one star per component
centred on its smallest node, which is exactly the label wanted: no relabelling round. Why this
one: each round is one grouping of edges by node (one map over partitions), the edge count never
grows (hash-to-min ships whole cluster sets, which grow to the size of a component), and the
paper proves ``O(log² n)`` rounds for random labels. Labels here are node indexes (so that the
centre is the smallest node); measured, a path takes about two rounds per halving of its length
(a 1,000-node chain 21 rounds, a 100,000-node path in node order 37). Partitioned union-find has
no bound on its merge rounds. The price is skew: a centre gathers its component's edges.

A task only knows its own partition, so "no change" is decided per task, against the edges it
owns (large-star: edges keyed by their smaller end, small-star: by the larger). When every task
of a round reports no change, the round's output equals its input; two such rounds in a row (a
large-star and a small-star of the same edge set) can only be a forest of stars.

Files: ``round-RRRR-part-PPPPP.arrow`` holds one task's output edges as ``key``/``other``
columns, sorted by the partition that reads them next (a routed file, :mod:`dedupe.io.routed`),
with the graph key and the task's result in its metadata; ``labels-PPPPP.arrow`` holds
``node``/``label`` of one node range. Every file appears whole or not at all (a temporary name
and a rename on a disk, one upload on an object store: :mod:`dedupe.io.fs`), so a file under its
final name is a finished task: a killed driver resumes at the round it was in.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from dedupe.errors import OutputError
from dedupe.io.atomic import is_temporary
from dedupe.io.fs import exists, join, listdir, makedirs, remove, size
from dedupe.io.routed import read_routed, routed_meta, write_sorted
from dedupe.io.spill import read_ipc, write_ipc
from dedupe.near.lsh import unique_pairs

__all__ = [
    "COMPONENTS_SCHEME",
    "ComponentRounds",
    "RoundTask",
    "components_in_rounds",
    "large_star",
    "node_ranges",
    "partition_of",
    "read_labels",
    "route",
    "run_round_task",
    "small_star",
    "star_labels",
    "write_edges",
]

# bump when a round file's layout or meaning changes (v2: routed files, dedupe.io.routed)
COMPONENTS_SCHEME = "dedupe-components-v2"
_NEXT = {"scatter": "large", "large": "small", "small": "large"}  # the op that reads the output


# --- pure steps on arrays ------------------------------------------------------------------


def node_ranges(n: int, partitions: int) -> np.ndarray:
    """``partitions + 1`` bounds: partition ``p`` holds nodes ``bounds[p] <= v < bounds[p+1]``."""
    p = np.arange(partitions + 1, dtype=np.int64)
    return -(-p * n // partitions)


def partition_of(nodes: np.ndarray, bounds: np.ndarray) -> np.ndarray:
    """The partition of each node under :func:`node_ranges` ``bounds``."""
    return np.searchsorted(bounds, nodes, side="right") - 1


def _groups(key: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start and length of each run of equal values in the sorted ``key``."""
    starts = np.flatnonzero(np.concatenate([[True], key[1:] != key[:-1]]))
    return starts, np.diff(np.append(starts, len(key)))


def large_star(key: np.ndarray, other: np.ndarray):
    """One large-star over records ``other ∈ Γ(key)`` (both directions of every edge whose end
    ``key`` is in this partition). Returns ``(big, small, changed)``: the distinct output edges
    with ``big > small``, and whether any differs from the edges owned here (keyed by their
    smaller end)."""
    key, other = unique_pairs(key, other)
    if not len(key):
        return key, other, False
    starts, counts = _groups(key)
    m = np.repeat(np.minimum(other[starts], key[starts]), counts)  # sorted: first is smallest
    up = other > key
    big, small = other[up], m[up]
    changed = bool(np.any(small != key[up]))
    return (*unique_pairs(big, small), changed)


def small_star(key: np.ndarray, other: np.ndarray):
    """One small-star over records ``other < key``, every edge keyed by its larger end.
    Returns ``(big, small, changed)`` as :func:`large_star`; a node with one smaller neighbour
    changes nothing."""
    key, other = unique_pairs(key, other)
    if not len(key):
        return key, other, False
    starts, counts = _groups(key)
    m = other[starts]
    m_rec = np.repeat(m, counts)
    leaf = other != m_rec
    big = np.concatenate([key[starts], other[leaf]])
    small = np.concatenate([m, m_rec[leaf]])
    return (*unique_pairs(big, small), bool(np.any(counts > 1)))


def route(big: np.ndarray, small: np.ndarray, bounds: np.ndarray, op: str):
    """Records ``(key, other, offsets)`` for the next ``op``, sorted by the partition of ``key``
    (``key[offsets[p]:offsets[p+1]]`` is partition ``p``'s). Large-star reads both directions
    of every edge; small-star reads each edge once, at its larger end."""
    if op == "large":
        key, other = np.concatenate([big, small]), np.concatenate([small, big])
    else:
        key, other = big, small
    part = partition_of(key, bounds)
    order = np.argsort(part.astype(np.uint16 if len(bounds) <= 1 << 16 else np.int64),
                       kind="stable")  # a radix sort for 16-bit keys
    counts = np.bincount(part, minlength=len(bounds) - 1)
    offsets = np.concatenate([[0], np.cumsum(counts)])
    return key[order], other[order], offsets


def star_labels(key: np.ndarray, other: np.ndarray, lo: int, hi: int) -> np.ndarray:
    """Labels of nodes ``lo..hi-1`` once the edges are stars: each node's smallest neighbour or
    itself (records keyed by node, in either routing)."""
    labels = np.arange(lo, hi, dtype=np.int64)
    np.minimum.at(labels, key - lo, other)
    return labels


# --- one task: read a partition, run one step, write the next round's file ----------------


@dataclass(frozen=True)
class RoundTask:
    """Run ``op`` on partition ``part`` of the ``sources`` files and write ``out``.

    ``op``: ``scatter`` (``sources`` is one edge file, read whole), ``large``, ``small`` or
    ``label``. ``prev_changed`` is recorded in ``out`` so that a resumed driver can decide
    convergence from the newest round alone.
    """

    op: str
    round: int
    part: int
    n: int
    partitions: int
    sources: tuple[str, ...]
    out: str
    graph: str
    prev_changed: bool = True

    @property
    def label(self) -> str:
        return f"round {self.round} ({self.op}) partition {self.part}"


def _read_partition(sources: Sequence[str], part: int):
    rec = read_routed(sources, part, ("key", "other"))
    return rec["key"], rec["other"]


def _read_edges(path: str, n: int):
    """Canonical edges (``big > small``) of one input edge file; self-loops dropped."""
    table = read_ipc(path)
    a = table.column("a").to_numpy().astype(np.int64, copy=False)
    b = table.column("b").to_numpy().astype(np.int64, copy=False)
    if len(a) and (min(a.min(), b.min()) < 0 or max(a.max(), b.max()) >= n):
        raise ValueError(f"{path}: edge node outside 0..{n - 1} "
                         f"(smallest {min(a.min(), b.min())}, largest {max(a.max(), b.max())})")
    keep = a != b
    return unique_pairs(np.maximum(a, b)[keep], np.minimum(a, b)[keep])


def _write(task: RoundTask, columns: dict, offsets, result: dict, **extra) -> dict:
    meta = {"scheme": COMPONENTS_SCHEME, "graph": task.graph, "round": task.round,
            "op": task.op, "prev_changed": task.prev_changed, "result": result, **extra}
    nbytes = write_sorted(task.out, columns, offsets, meta)
    return {**result, "round": task.round, "bytes": nbytes}


def run_round_task(task: RoundTask) -> dict:
    """Run one task (see :class:`RoundTask`); returns a few counts and the ``changed`` flag."""
    bounds = node_ranges(task.n, task.partitions)
    if task.op == "label":
        key, other = _read_partition(task.sources, task.part)
        lo, hi = int(bounds[task.part]), int(bounds[task.part + 1])
        labels = star_labels(key, other, lo, hi)
        columns = {"node": np.arange(lo, hi, dtype=np.int64), "label": labels}
        roots = int(np.count_nonzero(labels == np.arange(lo, hi)))
        return _write(task, columns, [0, hi - lo],
                      {"changed": False, "records": len(key), "roots": roots}, first=lo)
    if task.op == "scatter":
        big, small = _read_edges(task.sources[0], task.n)
        changed = True
    else:
        step = large_star if task.op == "large" else small_star
        big, small, changed = step(*_read_partition(task.sources, task.part))
    key, other, offsets = route(big, small, bounds, _NEXT[task.op])
    return _write(task, {"key": key, "other": other}, offsets,
                  {"changed": changed, "records": len(key)})


# --- the driver: plan rounds, run what is missing, stop at the fixed point ----------------


@dataclass(frozen=True)
class ComponentRounds:
    """The label files (partition order: node ranges ascending) and one row per round run."""

    labels: tuple[str, ...]
    rounds: tuple[dict, ...]


def _round_path(work_dir: str, r: int, p: int) -> str:
    return join(work_dir, f"round-{r:04d}-part-{p:05d}.arrow")


def _label_path(work_dir: str, p: int) -> str:
    return join(work_dir, f"labels-{p:05d}.arrow")


def _graph_key(edge_paths: Sequence[str], n: int, partitions: int) -> str:
    """What every file in the work folder depends on: the input files (by name and size), the
    node count and the partition count."""
    inputs = [(os.fspath(p), size(os.fspath(p))) for p in edge_paths]
    text = json.dumps([COMPONENTS_SCHEME, n, partitions, inputs])
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def _stored(path: str, graph: str) -> dict:
    """The metadata of a finished task's file, refused when it belongs to another graph."""
    meta = routed_meta(path)
    if meta.get("scheme") != COMPONENTS_SCHEME or meta.get("graph") != graph:
        raise OutputError(f"{path} belongs to another graph or another dedupe (its key "
                          f"{meta.get('graph')!r}, this one {graph!r}); use an empty work folder "
                          "or delete this one")
    return meta


def _round_files(work_dir: str) -> dict[int, int]:
    """Round number -> how many of its part files are under their final name."""
    counts: dict[int, int] = {}
    for name in listdir(work_dir):
        if name.startswith("round-") and name.endswith(".arrow"):
            r = int(name.split("-")[1])
            counts[r] = counts.get(r, 0) + 1
    return counts


def _tasks(r: int, width: int, graph: str, n: int, partitions: int, work_dir: str,
           edge_paths: Sequence[str], prev_changed: bool) -> list[RoundTask]:
    if r == 0:
        return [RoundTask("scatter", 0, f, n, partitions, (os.fspath(path),),
                          _round_path(work_dir, 0, f), graph) for f, path in enumerate(edge_paths)]
    sources = tuple(_round_path(work_dir, r - 1, q) for q in range(width))
    op = "large" if r % 2 else "small"
    return [RoundTask(op, r, p, n, partitions, sources, _round_path(work_dir, r, p), graph,
                      prev_changed) for p in range(partitions)]


def _map_missing(engine, tasks: list[RoundTask], progress) -> tuple[list[dict], int]:
    """Results of every task, and how many ran: those whose file is missing run, the others
    are read back from their files."""
    missing = [i for i, t in enumerate(tasks) if not exists(t.out)]
    results: list[dict | None] = [None] * len(tasks)
    if missing:
        fresh = engine.map(run_round_task, [tasks[i] for i in missing], stage="components",
                           progress=progress)
        for i, result in zip(missing, fresh):
            results[i] = result
    for i, t in enumerate(tasks):
        if results[i] is None:
            results[i] = {**_stored(t.out, t.graph)["result"], "round": t.round,
                          "bytes": size(t.out)}
    return results, len(missing)


def _width(r: int, width0: int, partitions: int) -> int:
    """How many files round ``r`` writes: one per input edge file in round 0."""
    return width0 if r == 0 else partitions


def _clean(work_dir: str, keep_from: int) -> None:
    """Remove round files older than ``keep_from`` and temporaries left by a killed task."""
    for name in listdir(work_dir):
        old = name.startswith("round-") and int(name.split("-")[1]) < keep_from
        if old or is_temporary(name):
            remove(join(work_dir, name))


def _resume_point(work_dir: str, graph: str, width0: int, partitions: int):
    """``(round, changed, prev_changed)`` of the newest finished round, or ``(-1, True, True)``
    in a fresh folder."""
    complete = [r for r, count in _round_files(work_dir).items()
                if count == _width(r, width0, partitions)]
    if not complete:
        return -1, True, True
    r = max(complete)
    metas = [_stored(_round_path(work_dir, r, p), graph)
             for p in range(_width(r, width0, partitions))]
    changed = r == 0 or any(m["result"]["changed"] for m in metas)
    return r, changed, metas[0]["prev_changed"]


def _round_row(tasks: list[RoundTask], results: list[dict], ran: int, seconds: float) -> dict:
    return {"round": tasks[0].round if tasks else 0, "op": tasks[0].op if tasks else "scatter",
            "tasks": len(tasks), "ran": ran,
            "changed": any(res["changed"] for res in results),
            "records": sum(res["records"] for res in results),
            "bytes": sum(res["bytes"] for res in results), "seconds": seconds}


def components_in_rounds(engine, edge_paths: Sequence[str], n: int, work_dir: str,
                         partitions: int, progress=None) -> ComponentRounds:
    """Label every node ``0..n-1`` with the smallest node of its component, in rounds.

    ``edge_paths``: Arrow IPC files with int64 columns ``a`` and ``b`` (see :func:`write_edges`;
    any order, duplicates and self-loops allowed). Round 0 scatters them into ``partitions``
    node ranges; each later round is one ``engine.map`` of :func:`run_round_task` over the
    partitions, until two rounds in a row change nothing; a last map writes one label file per
    node range. This process holds only file names and each task's small result dict.

    A round whose files all exist is not run again, and a finished task of an unfinished round
    is not either, so after a crash the same call resumes where it stopped. Files of rounds
    before the newest finished one are removed as it finishes, and every round file once the
    labels are written.
    """
    if partitions < 1:
        raise ValueError(f"partitions must be at least 1, not {partitions}")
    makedirs(work_dir)
    graph = _graph_key(edge_paths, n, partitions)
    labels = [_label_path(work_dir, p) for p in range(partitions)]
    if all(exists(path) for path in labels):
        for path in labels:
            _stored(path, graph)
        _clean(work_dir, keep_from=1 << 62)
        return ComponentRounds(tuple(labels), ())
    width0 = len(edge_paths)
    r, changed, prev = _resume_point(work_dir, graph, width0, partitions)
    _clean(work_dir, keep_from=max(r, 0))
    rows = []
    while changed or prev:
        r += 1
        tasks = _tasks(r, _width(r - 1, width0, partitions), graph, n, partitions, work_dir,
                       edge_paths, changed)
        started = time.perf_counter()
        results, ran = _map_missing(engine, tasks, progress)
        prev, changed = changed, r == 0 or any(res["changed"] for res in results)
        rows.append(_round_row(tasks, results, ran, time.perf_counter() - started))
        _clean(work_dir, keep_from=r)
    sources = tuple(_round_path(work_dir, r, q) for q in range(_width(r, width0, partitions)))
    tasks = [RoundTask("label", r + 1, p, n, partitions, sources, labels[p], graph, False)
             for p in range(partitions)]
    started = time.perf_counter()
    results, ran = _map_missing(engine, tasks, progress)
    rows.append(_round_row(tasks, results, ran, time.perf_counter() - started))
    _clean(work_dir, keep_from=r + 1)
    return ComponentRounds(tuple(labels), tuple(rows))


def read_labels(paths: Sequence[str]) -> np.ndarray:
    """The labels of every node, from the label files in partition order (tests, small runs:
    this is the one array with an entry per node)."""
    parts = [read_ipc(os.fspath(p)).column("label").to_numpy() for p in paths]
    return np.concatenate(parts) if parts else np.zeros(0, np.int64)


def write_edges(path: str, a: np.ndarray, b: np.ndarray) -> None:
    """Write edges ``(a[i], b[i])`` as an input file of :func:`components_in_rounds`."""
    table = pa.table({"a": np.asarray(a, np.int64), "b": np.asarray(b, np.int64)})
    write_ipc(table, os.fspath(path))
