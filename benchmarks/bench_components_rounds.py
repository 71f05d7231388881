"""Connected components in rounds over edge partitions against union-find in one process.

``dedupe.near.components.components_in_rounds`` (alternating large-star / small-star, one
``engine.map`` per round) is timed against ``dedupe.near.cluster.connected_components`` on one
edge set shaped like dedup's, in random node order:

* pairs: 60 % of the nodes in clusters of 2-5, each member joined to the cluster's first;
* chains: 10 % in paths of 1,000 (edited copies of copies), the slowest shape for rounds;
* stars: 5 % in families of 10,000 copies, each joined to a random earlier member;
* the other 25 % are alone.

The edges are written once as 8 Arrow files (as verification tasks would). Each measured run is
a fresh process that goes from those files to labels (label files for rounds, an array for
union-find), so its peak RSS (``VmHWM``) is the main process's alone; the workers' peak is the
largest of its children's, read before the pool closes. ``serial`` runs every task in the main
process; ``localN`` is the process pool with N workers, the main process only plans rounds.
Labels are checked equal to union-find's after every run.

    python benchmarks/bench_components_rounds.py --nodes 1000000 10000000 --repeats 3

Measured on the 2-core development machine (shared with other jobs; 16 partitions, median of
3): 21 rounds at both sizes (scatter, 19 star rounds, labels). 1M nodes (579k edges): union-find
0.15 s and 143 MB; rounds serial 3.30 s, 1 worker 3.91 s, 2 workers 4.26 s, main process 79 MB
(its import baseline) with workers peaking at 108 MB; 281 MB written in all (18 MB per
small-star round's output, 9 per large-star's). 10M nodes (5.78M edges): union-find 4.34 s and
702 MB; rounds serial 22.2 s, 1 worker 23.5 s, 2 workers 13.4 s, main process 79 MB, workers
302 MB; 2.8 GB written (177 / 88 MB per round). Every round re-reads every edge, finished
pairs included, so rounds cost 3-5x union-find's time on one machine: they pay where the
rows do not fit one process.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

EDGE_FILES = 8


def mixed_edges(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    perm = rng.permutation(n).astype(np.int64)
    cut = np.cumsum([int(n * 0.6), int(n * 0.1) // 1000 * 1000, int(n * 0.05) // 10000 * 10000])
    # pairs: clusters of 2-5 members
    sizes = rng.integers(2, 6, cut[0] // 3)
    sizes = sizes[np.cumsum(sizes) <= cut[0]]
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    heads = np.repeat(starts, sizes - 1)
    members = np.arange(int(sizes.sum()))
    members = members[~np.isin(members, starts)]
    a, b = [perm[heads]], [perm[members]]
    # chains of 1,000
    chains = perm[cut[0] : cut[1]].reshape(-1, 1000)
    a.append(chains[:, :-1].ravel())
    b.append(chains[:, 1:].ravel())
    # families of 10,000: a random tree each
    fam = perm[cut[1] : cut[2]].reshape(-1, 10000)
    child = np.arange(1, 10000)
    parent = (rng.random((len(fam), 9999)) * child).astype(np.int64)
    a.append(np.take_along_axis(fam, parent, 1).ravel())
    b.append(fam[:, 1:].ravel())
    a, b = np.concatenate(a), np.concatenate(b)
    order = rng.permutation(len(a))
    return a[order], b[order]


def _hwm_mb(pid: int | str = "self") -> float:
    """Peak resident memory of a process (``VmHWM``, per address space, so a process started
    by this large parent does not inherit the parent's peak as ``ru_maxrss`` would)."""
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0.0


def _children_hwm_mb() -> float:
    """The largest peak among this process's live child processes (the engine's workers)."""
    peaks = [0.0]
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/status") as fh:
                status = fh.read()
            if f"\nPPid:\t{os.getpid()}\n" in status:
                peaks.append(_hwm_mb(pid))
        except OSError:
            continue
    return max(peaks)


def child(args) -> None:
    """One measured run in this fresh process; prints its result as JSON."""
    from dedupe.engines import LocalEngine, SerialEngine
    from dedupe.io.spill import read_ipc
    from dedupe.near.cluster import connected_components
    from dedupe.near.components import components_in_rounds

    paths = [os.path.join(args.edges, f"edges-{f}.arrow") for f in range(EDGE_FILES)]
    base = _hwm_mb()
    started = time.perf_counter()
    out = {"base_mb": base}
    if args.child == "union-find":
        tables = [read_ipc(p) for p in paths]
        a = np.concatenate([t.column("a").to_numpy() for t in tables])
        b = np.concatenate([t.column("b").to_numpy() for t in tables])
        labels = connected_components(args.n, a, b)
        np.save(os.path.join(args.work, "labels.npy"), labels)
        out["seconds"] = time.perf_counter() - started
    else:
        engine = SerialEngine() if args.child == "serial" else LocalEngine(int(args.child[5:]))
        try:
            done = components_in_rounds(engine, paths, args.n, args.work, args.partitions)
            out["workers_mb"] = _children_hwm_mb()
        finally:
            engine.close()
        out["seconds"] = time.perf_counter() - started
        out["rounds"] = done.rounds
    out["main_mb"] = _hwm_mb()
    out.setdefault("workers_mb", 0.0)
    print(json.dumps(out))


def measure(kind: str, n: int, edges: str, partitions: int, reference: np.ndarray) -> dict:
    from dedupe.near.components import read_labels

    with tempfile.TemporaryDirectory(dir=edges) as work:
        proc = subprocess.run([sys.executable, __file__, "--child", kind, "--n", str(n),
                               "--edges", edges, "--work", work, "--partitions",
                               str(partitions)], capture_output=True, text=True, check=False)
        if proc.returncode:
            raise SystemExit(proc.stderr)
        out = json.loads(proc.stdout.strip().splitlines()[-1])
        if kind == "union-find":
            labels = np.load(os.path.join(work, "labels.npy"))
        else:
            labels = read_labels([os.path.join(work, f"labels-{p:05d}.arrow")
                                  for p in range(partitions)])
        assert np.array_equal(labels, reference), kind
    return out


def report(n: int, edges: int, partitions: int, runs: dict[str, list[dict]]) -> None:
    print(f"\n{n:,} nodes, {edges:,} edges, {partitions} partitions, "
          f"median of {len(next(iter(runs.values())))}")
    print(f"{'how':>11} {'rounds':>6} {'seconds':>8} {'main MB':>8} {'(imports)':>9} "
          f"{'workers MB':>10} {'written MB':>10}")
    for kind, outs in runs.items():
        rounds = outs[0].get("rounds")
        written = sum(r["bytes"] for r in rounds) / 2**20 if rounds else 0
        print(f"{kind:>11} {len(rounds) if rounds else '-':>6} "
              f"{statistics.median(o['seconds'] for o in outs):>8.2f} "
              f"{max(o['main_mb'] for o in outs):>8.0f} {outs[0]['base_mb']:>9.0f} "
              f"{max(o['workers_mb'] for o in outs):>10.0f} {written:>10.0f}")
    rounds = next(o[0]["rounds"] for k, o in runs.items() if k != "union-find")
    print("per round, first rounds run (op: records written, MB, s): " + ", ".join(
        f"{r['round']} {r['op']}: {r['records'] / 1e6:.2f}M {r['bytes'] / 2**20:.0f} "
        f"{r['seconds']:.2f}" for r in rounds))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--nodes", type=int, nargs="+", default=[1_000_000, 10_000_000])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--partitions", type=int, default=16)
    parser.add_argument("--how", nargs="+", default=["union-find", "serial", "local1", "local2"])
    parser.add_argument("--dir", default=None, help="where edge and work files go")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--n", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--edges", help=argparse.SUPPRESS)
    parser.add_argument("--work", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(args)
    from dedupe.near.cluster import connected_components
    from dedupe.near.components import write_edges

    for n in args.nodes:
        a, b = mixed_edges(n, 0)
        reference = connected_components(n, a, b)
        with tempfile.TemporaryDirectory(dir=args.dir) as edges:
            for f, (x, y) in enumerate(zip(np.array_split(a, EDGE_FILES),
                                           np.array_split(b, EDGE_FILES))):
                write_edges(os.path.join(edges, f"edges-{f}.arrow"), x, y)
            runs = {kind: [measure(kind, n, edges, args.partitions, reference)
                           for _ in range(args.repeats)] for kind in args.how}
        report(n, len(a), args.partitions, runs)
    return None


if __name__ == "__main__":
    main()
