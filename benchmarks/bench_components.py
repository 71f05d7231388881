"""Connected components of verified pairs: the package's array union-find against scipy.

``dedupe.near.cluster.connected_components`` labels every node with the smallest node of its
component. ``scipy.sparse.csgraph.connected_components`` labels components 0..k-1; to give the
same labels it needs a sparse matrix built from the edges and one more pass that maps each
label to its smallest node. Both are timed on edge sets shaped like dedup's:

* ``pairs``: many small clusters (2-5 rows), the usual web-corpus case;
* ``chains``: long paths (each row similar to the next, as edited copies of copies are), which
  need many hooking rounds in a union-find that only links roots;
* ``star``: one row copied a million times (every copy joined to one other row of the family).

Each case is run ``--repeats`` times and the median wall time printed, with the labels
checked equal.

    python benchmarks/bench_components.py --nodes 1000000 --repeats 5

Measured on the 2-core development machine (1M nodes, median of 3): union-find 0.049 / 0.188 /
0.128 s, scipy 0.104 / 0.331 / 0.221 s for pairs / chains / star; scipy's traversal alone
(without building the matrix or relabelling) took 0.051 / 0.237 / 0.203 s. The union-find stays.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components as scipy_components

from dedupe.near.cluster import connected_components


def scipy_labels(n: int, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """scipy's components, relabelled by the smallest node of each (dedupe's convention)."""
    graph = coo_matrix((np.ones(len(a), np.int8), (a, b)), shape=(n, n)).tocsr()
    _, labels = scipy_components(graph, directed=False)
    order = np.argsort(labels, kind="stable")
    first = np.ones(n, bool)
    first[1:] = labels[order][1:] != labels[order][:-1]
    smallest = order[first]  # the first node of each label in node order is its smallest
    return smallest[labels]


def edge_sets(n: int, seed: int) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(seed)
    perm = rng.permutation(n)
    # pairs: a third of the rows in clusters of 2-5, each member joined to the cluster's first
    sizes = rng.integers(2, 6, n // 9)
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    members = np.concatenate([np.arange(s + 1, s + z) for s, z in zip(starts, sizes)])
    heads = np.repeat(starts, sizes - 1)
    pairs = (perm[heads], perm[members])
    # chains: paths of 1,000 rows in random node order
    order = perm[: n - n % 1000].reshape(-1, 1000)
    chains = (order[:, :-1].ravel(), order[:, 1:].ravel())
    # star: every row joined to a random earlier row (one component, random tree)
    child = np.arange(1, n)
    parent = (rng.random(n - 1) * child).astype(np.int64)
    star = (perm[parent], perm[child])
    return {"pairs": pairs, "chains": chains, "star": star}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--nodes", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    n = args.nodes
    print(f"{n:,} nodes, median of {args.repeats} runs")
    print(f"{'edges':>8} {'count':>10} {'union-find s':>13} {'scipy s':>9} {'ratio':>6}")
    for name, (a, b) in edge_sets(n, 0).items():
        a = a.astype(np.int64)
        b = b.astype(np.int64)
        times = {"uf": [], "scipy": []}
        for _ in range(args.repeats):
            t = time.perf_counter()
            ours = connected_components(n, a, b)
            times["uf"].append(time.perf_counter() - t)
            t = time.perf_counter()
            theirs = scipy_labels(n, a, b)
            times["scipy"].append(time.perf_counter() - t)
            assert np.array_equal(ours, theirs), name
        uf, sp = statistics.median(times["uf"]), statistics.median(times["scipy"])
        print(f"{name:>8} {len(a):>10,} {uf:>13.3f} {sp:>9.3f} {uf / sp:>6.2f}")


if __name__ == "__main__":
    main()
