"""Stage 2, in one place: from every row's digest and signature to one decision per row.

Pure functions on arrays: exact groups, LSH candidates among exact representatives, verified
edges, connected components, one survivor per cluster, and the similarity of every row to its
survivor. Row order is the global input order, so every result is deterministic.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from dedupe.config import DedupeConfig
from dedupe.near.cluster import connected_components, pick_survivors
from dedupe.near.exact import exact_groups
from dedupe.near.jaccard import set_jaccard
from dedupe.near.lsh import band_key, candidates_from_band_keys, lsh_params, sorted_unique
from dedupe.near.minhash import jaccard_estimate

__all__ = [
    "ACTIONS",
    "ROW_EMPTY",
    "ROW_OK",
    "ROW_REJECTED",
    "ArraySignatures",
    "Decisions",
    "cluster_actions",
    "decide",
    "exact_similarity",
    "pair_similarity",
    "passes",
    "survivors_by_policy",
    "verify_pairs",
]

ACTIONS = ("kept", "exact_duplicate", "near_duplicate", "rejected", "too_short", "filtered",
           "empty")
KEPT, EXACT, NEAR, REJECTED, TOO_SHORT, FILTERED, EMPTY = range(7)

# a row's status in the sign files: signed, not readable (rejected with its reason), or an
# ordinary row with no text to deduplicate (null, empty or whitespace only)
ROW_OK, ROW_REJECTED, ROW_EMPTY = 0, 1, 2


@dataclass
class Decisions:
    """Per-row arrays aligned with the global row order."""

    action: np.ndarray  # int8 codes into ACTIONS
    cluster: np.ndarray  # int64: global index of the survivor (own index when alone)
    survivor: np.ndarray  # int64: global index of the survivor (-1 for rejected rows)
    cluster_size: np.ndarray  # int64
    similarity: np.ndarray  # float64 estimated Jaccard to the survivor (NaN for rejected)
    stats: dict = field(default_factory=dict)
    note: np.ndarray | None = None  # object array: reason for too_short / filtered rows


class ArraySignatures:
    """Signatures held in memory, behind the two questions :func:`decide` asks of them.

    ``band(b, idx)``: band ``b``'s LSH keys of rows ``idx``; ``gather(idx)``: the signatures of
    the sorted distinct rows ``idx``. The run answers the same questions from its signature
    files (``dedupe.pipeline.store.SignFiles``) without loading every signature.
    """

    def __init__(self, sigs: np.ndarray, rows: int):
        self.sigs = sigs
        self.rows = rows

    def band(self, b: int, idx: np.ndarray) -> np.ndarray:
        return band_key(self.sigs[idx], b, self.rows)

    def gather(self, idx: np.ndarray) -> np.ndarray:
        return self.sigs[idx]


def pair_similarity(source, a: np.ndarray, b: np.ndarray, max_rows: int = 1 << 21) -> np.ndarray:
    """Estimated Jaccard of the pairs ``(a[i], b[i])``, reading signatures through ``source``.

    Pairs go in chunks whose endpoints number at most ``max_rows``, so at most ``max_rows``
    signatures are in memory at once however many pairs there are.
    """
    out = np.empty(len(a))
    # pairs sorted by ``a`` (as the decide tasks give them) need no reordering
    order = None if len(a) < 2 or bool(np.all(a[1:] >= a[:-1])) else np.argsort(a, kind="stable")
    step = max(1, max_rows // 2)
    for i in range(0, len(a), step):
        sel = slice(i, i + step) if order is None else order[i : i + step]
        ends, (pa_, pb_) = _distinct(a[sel], b[sel])
        sigs = source.gather(ends)
        got = np.empty(len(pa_))
        # blocks of 4,096 pairs: the two gathered blocks (4 MB at 128 permutations) stay in cache
        for j in range(0, len(pa_), 1 << 12):
            s = slice(j, j + (1 << 12))
            got[s] = jaccard_estimate(np.take(sigs, pa_[s], axis=0),
                                      np.take(sigs, pb_[s], axis=0))
        out[sel] = got
        del sigs
    return out


def _distinct(*rows: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
    """The sorted distinct values of the row arrays, and each array's positions in them. A
    dense range (as a partition's rows are) is marked in a mask, a sparse one sorted."""
    filled = [r for r in rows if len(r)]
    if not filled:
        return np.zeros(0, np.int64), [np.zeros(0, np.int64) for _ in rows]
    lo, hi = min(int(r.min()) for r in filled), max(int(r.max()) for r in filled)
    if hi - lo + 1 <= 4 * sum(len(r) for r in filled):
        mask = np.zeros(hi - lo + 1, bool)
        for r in rows:
            mask[r - lo] = True
        rank = np.cumsum(mask) - 1
        return np.flatnonzero(mask) + lo, [rank[r - lo] for r in rows]
    ends = sorted_unique(np.concatenate(rows))
    return ends, [np.searchsorted(ends, r) for r in rows]


def exact_similarity(source, a: np.ndarray, b: np.ndarray, sizes: np.ndarray,
                     max_values: int = 1 << 24) -> np.ndarray:
    """True Jaccard of the pairs ``(a[i], b[i])`` from the shingle sets ``source`` stores
    (``source.shingle_sets(idx)``, as the run's ``SignFiles`` answers it).

    Pairs go in batches whose sets hold at most ``max_values`` shingles together (``sizes``:
    an upper bound of each row's set size, its shingle count), so memory is bounded by the
    batch, not by the corpus; a pair larger than that is a batch of its own.
    """
    out = np.empty(len(a))
    if not len(a):
        return out
    order = np.argsort(a, kind="stable")
    weight = np.cumsum(sizes[a[order]].astype(np.int64) + sizes[b[order]].astype(np.int64))
    i = 0
    while i < len(order):
        before = weight[i - 1] if i else 0
        j = max(i + 1, int(np.searchsorted(weight, before + max_values, side="right")))
        sel = order[i:j]
        ends = sorted_unique(np.concatenate([a[sel], b[sel]]))
        offsets, values = source.shingle_sets(ends)
        out[sel] = set_jaccard(values, offsets, np.searchsorted(ends, a[sel]),
                               np.searchsorted(ends, b[sel]))
        i = j
    return out


def verify_pairs(source, a, b, threshold, mode, exact_jaccard=None, max_rows=1 << 21):
    """``(ok, similarity)`` of the candidate pairs ``(a[i], b[i])`` under ``lsh.verify``:
    ``exact`` (true Jaccard through ``exact_jaccard``), ``signature`` (the MinHash estimate), or
    ``none`` (every candidate is an edge)."""
    if mode == "exact" and exact_jaccard is not None and len(a):
        sim = exact_jaccard(a, b)
    else:
        sim = pair_similarity(source, a, b, max_rows)
    return passes(sim, threshold, mode), sim


def passes(sim: np.ndarray, threshold: float, mode: str) -> np.ndarray:
    """Which verified pairs are edges: those of similarity at least ``threshold`` (every
    candidate under ``lsh.verify = none``)."""
    if mode == "none":
        return np.ones(len(sim), bool)
    return sim >= threshold - 1e-12


def decide(
    status: np.ndarray,
    digest: np.ndarray,
    n_shingles: np.ndarray,
    sigs: np.ndarray,
    length: np.ndarray,
    score: np.ndarray | None,
    cfg: DedupeConfig,
    exact_jaccard=None,
    max_rows: int = 1 << 21,
) -> Decisions:
    """Decisions for every row (see module docstring). ``status``: ``ROW_OK`` rows are
    deduplicated, ``ROW_EMPTY`` rows become ``empty``, every other row ``rejected``.

    ``sigs`` is an ``(n, num_perm)`` array or an object with ``band`` and ``gather`` methods
    (see :class:`ArraySignatures`); ``max_rows`` caps the signatures held at once while pairs
    are verified.
    """
    n = len(status)
    order = np.arange(n, dtype=np.int64)
    valid = status == ROW_OK
    rep, reps = _exact_representatives(valid, digest, n_shingles)
    bands, rows = lsh_params(cfg)
    source = ArraySignatures(sigs, rows) if isinstance(sigs, np.ndarray) else sigs
    a, b, ok, bucket_stats = _verified_pairs(source, reps, bands, cfg, exact_jaccard, max_rows)
    labels_rep = connected_components(n, a[ok], b[ok])
    labels = np.where(valid, labels_rep[np.where(valid, rep, 0)], order)
    policy = cfg.cluster.survivor
    survivor = np.where(valid, survivors_by_policy(labels, order, length, score, policy), -1)
    size = np.bincount(labels[valid], minlength=n)[labels]
    action = _actions(status, valid, digest, survivor, order)
    similarity = np.full(n, np.nan)
    similarity[valid] = 1.0
    near = np.flatnonzero(action == NEAR)
    if len(near):
        similarity[near] = pair_similarity(source, near, survivor[near], max_rows)
    stats = {
        "bands": int(bands),
        "rows": int(rows),
        "candidate_pairs": len(a),
        "verified_pairs": int(ok.sum()),
        "rejected_pairs": int((~ok).sum()),
        "oversized_buckets": bucket_stats["oversized"],
        "largest_bucket": bucket_stats["largest"],
        "exact_representatives": len(reps),
        "largest_cluster": int(size[valid].max()) if valid.any() else 0,
    }
    return Decisions(
        action,
        np.where(valid, survivor, order),
        survivor,
        np.where(valid, size, 0),
        similarity,
        stats,
    )


def _exact_representatives(valid: np.ndarray, digest: np.ndarray, n_shingles: np.ndarray):
    """``(rep, reps)``: each valid row's exact group representative (its first row; -1 for
    other rows), and the representatives with at least one shingle, the only rows LSH sees."""
    vidx = np.flatnonzero(valid)
    rep = np.full(len(valid), -1, np.int64)
    rep[vidx] = vidx[exact_groups(digest[vidx], vidx)]
    return rep, vidx[(rep[vidx] == vidx) & (n_shingles[vidx] > 0)]


def _verified_pairs(source, reps: np.ndarray, bands: int, cfg: DedupeConfig, exact_jaccard,
                    max_rows: int):
    """``(a, b, ok, bucket stats)``: the LSH candidate pairs among ``reps`` (global rows) and
    which of them pass verification."""
    local_a, local_b, bucket_stats = candidates_from_band_keys(
        lambda band: source.band(band, reps), len(reps), bands, cfg.lsh.max_bucket_size
    )
    a, b = reps[local_a], reps[local_b]
    del local_a, local_b
    ok, _ = verify_pairs(source, a, b, cfg.lsh.threshold, cfg.lsh.verify, exact_jaccard, max_rows)
    return a, b, ok, bucket_stats


def survivors_by_policy(labels: np.ndarray, order: np.ndarray, length: np.ndarray,
               score: np.ndarray | None, policy: str) -> np.ndarray:
    """Each row's cluster survivor under ``cluster.survivor``: the first row, the longest
    text, or the highest ``score`` (ties to the first row)."""
    if policy == "first":
        return pick_survivors(labels, order)
    if policy == "longest":
        return pick_survivors(labels, order, length.astype(float))
    return pick_survivors(labels, order, score)


def cluster_actions(is_survivor: np.ndarray, same_digest: np.ndarray) -> np.ndarray:
    """The ``ACTIONS`` code of clustered rows: its cluster's survivor is ``kept``, a row with
    the survivor's digest an ``exact_duplicate``, any other row a ``near_duplicate``."""
    action = np.full(len(is_survivor), NEAR, np.int8)
    action[same_digest] = EXACT
    action[is_survivor] = KEPT
    return action


def _actions(status: np.ndarray, valid: np.ndarray, digest: np.ndarray, survivor: np.ndarray,
             order: np.ndarray) -> np.ndarray:
    """One ``ACTIONS`` code a row: rejected and empty rows by their status, every deduplicated
    row by :func:`cluster_actions`."""
    same_digest = (
        (digest[:, 0] == digest[np.maximum(survivor, 0), 0])
        & (digest[:, 1] == digest[np.maximum(survivor, 0), 1])
    )
    action = np.full(len(status), REJECTED, np.int8)
    action[status == ROW_EMPTY] = EMPTY
    action[valid] = cluster_actions(survivor[valid] == order[valid], same_digest[valid])
    return action
