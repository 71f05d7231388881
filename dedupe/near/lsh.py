"""LSH banding: parameter choice, band keys, candidate pairs by sorting integer arrays.

With ``b`` bands of ``r`` rows, two documents of Jaccard ``s`` share at least one band with
probability ``1 - (1 - s**r)**b`` (the S-curve). :func:`optimal_bands` picks ``(b, r)`` with
``b * r <= num_perm`` that minimises ``w_fp * FP + w_fn * FN``, where FP is the area under the curve
below the threshold (pairs that should not become candidates but do) and FN the area above it
that the curve misses (pairs that should but do not): the same search, integrals and tie rule as
datasketch's ``MinHashLSH``, so a threshold gives the banding datasketch users expect.
"""

from __future__ import annotations

import functools

import numpy as np

from dedupe.config import DedupeConfig
from dedupe.errors import ConfigError
from dedupe.text.hashing import fmix64

__all__ = [
    "ALL_PAIRS_BUCKET",
    "BAND_KEY_SCHEME",
    "band_key",
    "band_keys",
    "band_pairs",
    "candidate_pairs",
    "candidates_from_band_keys",
    "choose_bands",
    "collision_probability",
    "false_negative_area",
    "false_positive_area",
    "lsh_candidates",
    "lsh_params",
    "optimal_bands",
    "pair_keys",
    "pair_keys_fit",
    "s_curve",
    "sorted_unique",
    "unique_pair_keys",
    "unique_pairs",
    "unique_pairs_first",
]

S_CURVE_POINTS = (0.5, 0.6, 0.7, 0.8, 0.9)
# :func:`band_key`: bump when a band's key of the same signature values changes
BAND_KEY_SCHEME = "dedupe-band-key-v1"


def collision_probability(s, bands: int, rows: int):
    """Probability that a pair of Jaccard ``s`` becomes a candidate."""
    s = np.asarray(s, dtype=float)
    return 1.0 - (1.0 - s**rows) ** bands


def s_curve(bands: int, rows: int, points=S_CURVE_POINTS) -> dict[str, float]:
    return {f"{p:.1f}": float(collision_probability(p, bands, rows)) for p in points}


def false_positive_area(threshold: float, bands: int, rows: int) -> float:
    """The area under the S-curve on ``[0, threshold]``: how often pairs below the threshold
    become candidates, averaged over a uniform Jaccard (adaptive Gauss-Kronrod quadrature)."""
    from scipy.integrate import quad

    r, b = float(rows), float(bands)
    area, _err = quad(lambda s: 1 - (1 - s**r) ** b, 0.0, threshold)
    return area


def false_negative_area(threshold: float, bands: int, rows: int) -> float:
    """The area above the S-curve on ``[threshold, 1]``: how often pairs at or above the
    threshold are missed. The integrand is written as ``1 - P(candidate)`` term for term as
    datasketch writes it, so the floating-point areas, and hence the choice, are the same."""
    from scipy.integrate import quad

    r, b = float(rows), float(bands)
    area, _err = quad(lambda s: 1 - (1 - (1 - s**r) ** b), threshold, 1.0)
    return area


def optimal_bands(threshold: float, num_perm: int, fp_weight: float,
                  fn_weight: float) -> tuple[int, int]:
    """``(bands, rows)`` with ``bands * rows <= num_perm`` minimising
    ``fp_weight * false_positive_area + fn_weight * false_negative_area``.

    Every ``b`` from 1 to ``num_perm`` with every ``r`` up to ``num_perm // b`` is tried in that
    order; only a strictly smaller error replaces the best so far, so a tie keeps the fewer
    bands. Pass weights that sum to 1 to match datasketch's ``MinHashLSH(weights=...)``.

    The search first scores every banding at once with an exact rule (:func:`_banding_errors`);
    only the bandings within ``_NEAR_TIE`` of the best are scored again with the adaptive
    quadrature datasketch uses, in the search order, so the choice is datasketch's whenever
    the quadrature's own error (below 1.5e-8) could not have changed it, without importing
    scipy's integrators (a second of start-up) for the usual clear winner.
    """
    if num_perm <= _EXACT_RULE_MAX_PERM:
        bands, rows, error = _banding_errors(threshold, num_perm, fp_weight, fn_weight)
        near = np.flatnonzero(error <= error.min() + _NEAR_TIE)
        if len(near) == 1:
            return int(bands[near[0]]), int(rows[near[0]])
        order = [(int(bands[i]), int(rows[i])) for i in near]
    else:
        order = [(b, r) for b in range(1, num_perm + 1) for r in range(1, num_perm // b + 1)]
    best, choice = float("inf"), (0, 0)
    for b, r in order:
        error = (false_positive_area(threshold, b, r) * fp_weight
                 + false_negative_area(threshold, b, r) * fn_weight)
        if error < best:
            best, choice = error, (b, r)
    return choice


# :func:`optimal_bands`: bandings scored again with the quadrature when their exact error is
# this close to the best; the exact rule is used up to this many permutations (its nodes grow
# with num_perm, and so does the cost of finding them)
_NEAR_TIE = 1e-6
_EXACT_RULE_MAX_PERM = 1024


def _banding_errors(threshold: float, num_perm: int, fp_weight: float, fn_weight: float):
    """``(bands, rows, error)`` of every banding in :func:`optimal_bands`' search order.

    The S-curve of ``b`` bands of ``r`` rows is a polynomial of degree ``b * r <= num_perm``
    in the Jaccard, so Gauss-Legendre quadrature with ``num_perm // 2 + 1`` nodes integrates it
    exactly (up to rounding) on both sides of the threshold.
    """
    bands = np.concatenate([np.full(num_perm // b, b) for b in range(1, num_perm + 1)])
    rows = np.concatenate([np.arange(1, num_perm // b + 1) for b in range(1, num_perm + 1)])
    nodes, weights = np.polynomial.legendre.leggauss(num_perm // 2 + 1)

    def integral(lo: float, hi: float, below: bool) -> np.ndarray:
        s = lo + (hi - lo) * (nodes + 1.0) / 2.0
        miss = (1.0 - s[None, :] ** rows[:, None]) ** bands[:, None]  # P(not a candidate)
        return ((1.0 - miss) if below else miss) @ (weights * (hi - lo) / 2.0)

    error = integral(0.0, threshold, True) * fp_weight + integral(threshold, 1.0, False) * fn_weight
    return bands, rows, error


@functools.lru_cache(maxsize=256)
def choose_bands(threshold: float, num_perm: int, fp_weight: float, fn_weight: float):
    """``(bands, rows)`` for ``threshold``, the weights normalised to sum to 1 (see
    :func:`optimal_bands`); cached: a sweep asks for the same threshold in many places."""
    total = fp_weight + fn_weight
    return optimal_bands(threshold, num_perm, fp_weight / total, fn_weight / total)


def lsh_params(cfg: DedupeConfig) -> tuple[int, int]:
    """``(bands, rows)`` of a run: ``lsh.bands x lsh.rows`` when given, else chosen from the
    threshold and the weights (:func:`choose_bands`)."""
    if cfg.lsh.bands is not None:
        b, r = cfg.lsh.bands, cfg.lsh.rows
        if b * r > cfg.minhash.num_perm:
            raise ConfigError(
                f"lsh.bands x lsh.rows = {b * r} exceeds minhash.num_perm = {cfg.minhash.num_perm}"
            )
        return b, r
    return choose_bands(
        cfg.lsh.threshold, cfg.minhash.num_perm, cfg.lsh.fp_weight, cfg.lsh.fn_weight
    )


def band_keys(sigs: np.ndarray, bands: int, rows: int) -> np.ndarray:
    """``(n, bands)`` uint64 keys; each key hashes the band's ``rows`` values and its index."""
    n = sigs.shape[0]
    keys = np.empty((n, bands), np.uint64)
    with np.errstate(over="ignore"):
        for b in range(bands):
            block = sigs[:, b * rows : (b + 1) * rows].astype(np.uint64)
            acc = np.full(n, np.uint64(b) * np.uint64(0x9E3779B97F4A7C15), np.uint64)
            for j in range(rows):
                acc = fmix64(acc ^ block[:, j])
            keys[:, b] = acc
    return keys


def band_key(sigs: np.ndarray, band: int, rows: int) -> np.ndarray:
    """Band ``band``'s uint64 key of every signature row: its ``rows`` values hashed on their
    own. The one key function of runs, sign files and indexes (keys of different bands are
    never compared, so the band number is not mixed in)."""
    return band_keys(sigs[:, band * rows : (band + 1) * rows], 1, rows)[:, 0]


ALL_PAIRS_BUCKET = 32


def candidate_pairs(keys: np.ndarray, doc_ids: np.ndarray, max_bucket: int):
    """Candidate pairs ``(a, b)`` with ``a < b`` sharing a band key, plus oversized-bucket stats.

    A bucket of at most ``ALL_PAIRS_BUCKET`` members gives every one of its k(k-1)/2 pairs, so a
    pair that would verify is never lost because of its neighbours (in a bucket ``[A, B, C, D]``
    where A and C are unrelated to the others, B~D must still be compared). Buckets of 32 give
    at most 15.5 pairs a member, a bounded cost. A larger bucket (a template shared by many
    pages, a degenerate band) is paired star + chain instead: each member with the bucket's
    first member and with its predecessor, 2(k-1) pairs instead of k(k-1)/2; buckets above
    ``max_bucket`` members are cut into runs of ``max_bucket`` (each still star + chain) and
    reported.
    """
    bands = keys.shape[1]
    pair_a, pair_b = [], []
    oversized = 0
    largest = 1
    for b in range(bands):
        a, c, over, big = band_pairs(keys[:, b], doc_ids, max_bucket)
        pair_a.append(a)
        pair_b.append(c)
        oversized += over
        largest = max(largest, big)
    if not pair_a:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), {"oversized": 0, "largest": largest}
    lo, hi = unique_pairs(np.concatenate(pair_a), np.concatenate(pair_b))
    return lo, hi, {"oversized": oversized, "largest": largest}


def band_pairs(key: np.ndarray, doc_ids: np.ndarray, max_bucket: int):
    """One band's pairs ``(a, b, oversized, largest)`` by the bucket rule of
    :func:`candidate_pairs`, ``a < b`` (the ids of one band are distinct), each pair once,
    in no particular order."""
    rows = _shared_key_rows(key)
    if len(rows) == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), 0, 1
    a, c, over, big = _bucket_pairs(key[rows], doc_ids[rows], max_bucket)
    return (np.concatenate(a).astype(np.int64, copy=False),
            np.concatenate(c).astype(np.int64, copy=False), over, big)


_CODE_LIMIT = 3_037_000_499  # floor(sqrt(2**63 - 1)): a * m + b fits in int64 below it


def unique_pairs(a: np.ndarray, b: np.ndarray, merge_with=None):
    """The distinct pairs ``(a[i], b[i])`` of non-negative int64s, sorted by ``(a, b)``.

    :func:`unique_pairs_first` with no bands: one sort of int64 codes ``a * m + b`` while
    they fit, of both columns past that (about 3 billion rows). ``merge_with`` is an earlier
    result ``(a, b)`` to merge into this one.
    """
    if merge_with is not None:
        a = np.concatenate([merge_with[0], a])
        b = np.concatenate([merge_with[1], b])
    a, b, _ = unique_pairs_first(a, b, 0)
    return a, b


def unique_pairs_first(a: np.ndarray, b: np.ndarray, band: np.ndarray):
    """The distinct pairs ``(a[i], b[i])`` sorted by ``(a, b)``, each with the smallest
    ``band[i]`` it came with (the first LSH band in which the pair collides; ``band`` may be
    one number for all). While the pairs fit one int64 key (:func:`pair_keys_fit`) one sort
    of the keys finds them; past that (about 3 billion rows) the arrays are sorted together."""
    a = np.asarray(a, np.int64)
    b = np.asarray(b, np.int64)
    band = np.broadcast_to(np.asarray(band, np.int64), a.shape)
    if len(a) == 0:
        return a, b, band.astype(np.int16)
    m = int(max(a.max(), b.max())) + 1
    bands = int(band.max()) + 1
    if pair_keys_fit(m, bands):
        return unique_pair_keys(pair_keys(a, b, band, m, bands), m, bands)
    order = np.lexsort((band, b, a))
    a, b, band = a[order], b[order], band[order]
    keep = np.ones(len(a), bool)
    keep[1:] = (a[1:] != a[:-1]) | (b[1:] != b[:-1])
    return a[keep], b[keep], band[keep].astype(np.int16)


def pair_keys_fit(m: int, bands: int) -> bool:
    """Whether :func:`pair_keys` of rows below ``m`` and bands below ``bands`` fit an int64
    (below about 3 billion rows with one band, 300 million with a hundred)."""
    return m <= _CODE_LIMIT and m * m <= (2**63 - 1) // max(bands, 1)


def pair_keys(a: np.ndarray, b: np.ndarray, band, m: int, bands: int) -> np.ndarray:
    """One int64 a pair, ``(a * m + b) * bands + band``, that sorts as ``(a, b, band)``: 8
    bytes a pair instead of the 18 of three arrays (``band`` an array or one number; see
    :func:`pair_keys_fit`)."""
    key = np.asarray(a, np.int64) * m
    key += b
    if bands > 1:
        key *= bands
        key += band
    return key


def unique_pair_keys(key: np.ndarray, m: int, bands: int):
    """``(a, b, first band)`` of the distinct pairs of :func:`pair_keys` values, sorted by
    ``(a, b)``; ``key`` is consumed: sorted and overwritten in place (a task holds tens of
    millions of pairs)."""
    key.sort()
    if bands > 1:  # the key becomes the pair's code in place: 10 bytes a pair, not 16
        first = (key % bands).astype(np.int16)
        key //= bands
    else:
        first = np.zeros(len(key), np.int16)
    keep = np.ones(len(key), bool)
    np.not_equal(key[1:], key[:-1], out=keep[1:])
    if not keep.all():
        key, first = key[keep], first[keep]
    b = key % m
    key //= m
    return key, b, first


def sorted_unique(x: np.ndarray) -> np.ndarray:
    """``np.unique`` for integers by sorting (numpy's hash-based unique is several times slower
    on arrays of random 64-bit values)."""
    x = np.sort(x)
    keep = np.ones(len(x), bool)
    np.not_equal(x[1:], x[:-1], out=keep[1:])
    return x[keep]


def _shared_key_rows(k: np.ndarray) -> np.ndarray:
    """Rows whose key some other row shares (in no particular order): one plain sort finds
    them, so the slower sort by key and id runs only on rows that can form pairs."""
    order = np.argsort(k)
    sk = k[order]
    same = sk[1:] == sk[:-1]
    shared = np.zeros(len(k), bool)
    shared[1:] |= same
    shared[:-1] |= same
    return order[shared]


def _bucket_pairs(k: np.ndarray, ids: np.ndarray, max_bucket: int):
    """The pairs of the buckets of one band (every row shares its key): all pairs in buckets
    of at most ``ALL_PAIRS_BUCKET`` members, star + chain in larger ones (see
    :func:`candidate_pairs`)."""
    n = len(k)
    order = np.lexsort((ids, k))
    ks = k[order]
    ids = ids[order]
    same = ks[1:] == ks[:-1]
    start_flag = np.ones(n, bool)
    start_flag[1:] = ~same
    starts = np.flatnonzero(start_flag)
    sizes = np.diff(np.append(starts, n))
    bucket_start = np.repeat(starts, sizes)
    size_of = np.repeat(sizes, sizes)
    pos = np.arange(n) - bucket_start
    small = size_of <= ALL_PAIRS_BUCKET
    # small buckets: member at position p pairs with every later member of its bucket
    later = np.where(small, size_of - 1 - pos, 0)
    first_idx = np.repeat(np.arange(n), later)
    step = np.arange(len(first_idx)) - np.repeat(np.cumsum(later) - later, later)
    all_a, all_b = ids[first_idx], ids[first_idx + 1 + step]
    # large buckets: runs of max_bucket members, star + chain inside each run
    run_start = bucket_start + (pos // max_bucket) * max_bucket
    member = np.flatnonzero(~small & (np.arange(n) != run_start))
    first = ids[run_start[member]]
    prev = ids[member - 1]
    chained = member - 1 != run_start[member]
    return ([all_a, first, prev[chained]], [all_b, ids[member], ids[member][chained]],
            int((sizes > max_bucket).sum()), int(sizes.max()))


def lsh_candidates(sigs: np.ndarray, rows_idx: np.ndarray, bands: int, rows: int,
                   max_bucket: int):
    """Candidate pairs (indices into ``rows_idx``) band by band, never holding every band's keys.

    Memory stays at one band's keys (8 bytes a row) plus the pairs found, instead of an
    ``(n, bands)`` key matrix and a copy of the signatures.
    """

    def keys_of(b: int) -> np.ndarray:
        return band_key(sigs[rows_idx], b, rows)

    return candidates_from_band_keys(keys_of, len(rows_idx), bands, max_bucket)


def candidates_from_band_keys(keys_of, n: int, bands: int, max_bucket: int):
    """Candidate pairs among ``n`` rows from ``keys_of(b)``: band ``b``'s ``(n,)`` uint64 keys.

    Bands are visited one at a time and each band's pairs are merged into one sorted set of
    pair codes at once, so memory is one band's keys plus the distinct pairs -- never the sum
    of every band's pairs (a near copy shares most of its bands with its original).
    """
    stats = {"oversized": 0, "largest": 1}
    local = np.arange(n, dtype=np.int64)
    m = n + 1
    coded = m <= _CODE_LIMIT  # one int64 per pair while a * m + b cannot wrap
    codes = np.zeros(0, np.int64)
    found = (codes, codes)
    for b in range(bands):
        keys = np.asarray(keys_of(b), np.uint64).reshape(-1, 1)
        a, c, st = candidate_pairs(keys, local, max_bucket) if n else (local, local, stats)
        stats["oversized"] += st["oversized"]
        stats["largest"] = max(stats["largest"], st["largest"])
        if len(a) and coded:
            codes = sorted_unique(np.concatenate([codes, a * m + c]))
        elif len(a):
            found = unique_pairs(a, c, merge_with=found)
    if coded:
        return codes // m, codes % m, stats
    return found[0], found[1], stats
