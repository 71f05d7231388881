"""S-curve maths, banding, candidate pairs and union-find against references."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dedupe.config import DedupeConfig
from dedupe.near.cluster import connected_components, pick_survivors
from dedupe.near.decide import ACTIONS, decide
from dedupe.near.lsh import (
    ALL_PAIRS_BUCKET,
    band_keys,
    candidate_pairs,
    choose_bands,
    collision_probability,
    false_negative_area,
    false_positive_area,
    optimal_bands,
    s_curve,
    unique_pairs,
    unique_pairs_first,
)


def test_collision_probability_closed_form():
    assert collision_probability(0.8, 1, 1) == pytest.approx(0.8)
    assert collision_probability(0.5, 2, 2) == pytest.approx(1 - (1 - 0.25) ** 2)
    assert collision_probability(1.0, 9, 13) == pytest.approx(1.0)
    assert collision_probability(0.0, 9, 13) == pytest.approx(0.0)
    # a 9 x 13 banding makes only 40 % of pairs at exactly Jaccard 0.8 candidates
    assert s_curve(9, 13)["0.8"] == pytest.approx(1 - (1 - 0.8**13) ** 9)


def test_s_curve_is_monotone():
    s = np.linspace(0, 1, 101)
    p = collision_probability(s, 20, 6)
    assert np.all(np.diff(p) >= 0)


def _weighted_error(threshold, b, r, w_fp, w_fn):
    """w_fp * (area under the S-curve below the threshold) + w_fn * (area above it missed)."""
    lo = np.linspace(0.0, threshold, 4001)
    hi = np.linspace(threshold, 1.0, 4001)
    fp = np.trapezoid(collision_probability(lo, b, r), lo)
    fn = np.trapezoid(1.0 - collision_probability(hi, b, r), hi)
    return w_fp * fp + w_fn * fn


@pytest.mark.parametrize("threshold", [0.5, 0.75, 0.9])
@pytest.mark.parametrize("weights", [(0.5, 0.5), (0.03, 0.97)])
def test_choose_bands_minimises_the_weighted_error(threshold, weights):
    w_fp, w_fn = weights
    b, r = choose_bands(threshold, 64, w_fp, w_fn)
    assert b * r <= 64
    best = min(_weighted_error(threshold, bb, rr, w_fp, w_fn)
               for bb in range(1, 65) for rr in range(1, 64 // bb + 1))
    assert _weighted_error(threshold, b, r, w_fp, w_fn) == pytest.approx(best, abs=1e-4)


# thresholds from loose to strict, permutation counts a run uses, weights: balanced, the
# default (recall first), precision first, and unnormalised (datasketch takes them as given)
@pytest.mark.parametrize("threshold", [0.1, 0.3, 0.5, 0.62, 0.75, 0.8, 0.9, 0.97])
@pytest.mark.parametrize("num_perm", [16, 64, 128, 256])
@pytest.mark.parametrize("weights", [(0.5, 0.5), (0.03, 0.97), (0.9, 0.1), (1.0, 3.0)])
def test_optimal_bands_equals_datasketch(threshold, num_perm, weights):
    """datasketch's private ``_optimal_param`` is the oracle, here only: the run owns the
    choice, and it must stay the one datasketch makes, pair for pair."""
    from datasketch.lsh import _optimal_param

    assert optimal_bands(threshold, num_perm, *weights) == _optimal_param(threshold, num_perm,
                                                                          *weights)


def test_false_positive_and_negative_areas_are_the_s_curve_integrals():
    for threshold, b, r in [(0.75, 19, 6), (0.5, 4, 3), (0.9, 1, 1)]:
        below, above = np.linspace(0.0, threshold, 100_001), np.linspace(threshold, 1.0, 100_001)
        fp = np.trapezoid(collision_probability(below, b, r), below)
        fn = np.trapezoid(1.0 - collision_probability(above, b, r), above)
        assert false_positive_area(threshold, b, r) == pytest.approx(fp, abs=1e-6)
        assert false_negative_area(threshold, b, r) == pytest.approx(fn, abs=1e-6)
    # one band of one row: P(candidate) = s, so FP = t**2 / 2 and FN = (1 - t)**2 / 2
    assert false_positive_area(0.6, 1, 1) == pytest.approx(0.18)
    assert false_negative_area(0.6, 1, 1) == pytest.approx(0.08)


def test_default_banding_is_the_documented_one():
    # README and every report: threshold 0.75, 128 permutations, weights 0.03 / 0.97
    assert choose_bands(0.75, 128, 0.03, 0.97) == (19, 6)


def test_band_keys_equal_iff_band_equal():
    rng = np.random.default_rng(1)
    sig = rng.integers(0, 2**32, (50, 12), dtype=np.uint32)
    sig[1, :4] = sig[0, :4]  # same first band only
    keys = band_keys(sig, 3, 4)
    assert keys[0, 0] == keys[1, 0]
    assert keys[0, 1] != keys[1, 1]
    assert len(np.unique(keys[:, 2])) == 50


def test_candidate_pairs_connect_every_bucket():
    keys = np.array([[1], [2], [1], [1], [3], [2]], dtype=np.uint64)
    a, b, stats = candidate_pairs(keys, np.arange(6), max_bucket=10)
    pairs = set(zip(a.tolist(), b.tolist()))
    assert pairs == {(0, 2), (0, 3), (2, 3), (1, 5)}
    assert stats["largest"] == 3 and stats["oversized"] == 0


def test_oversized_buckets_are_cut_and_reported():
    keys = np.zeros((100, 1), dtype=np.uint64)
    a, b, stats = candidate_pairs(keys, np.arange(100), max_bucket=40)
    assert stats["oversized"] == 1 and stats["largest"] == 100
    labels = connected_components(100, a, b)
    assert len(np.unique(labels)) == 3  # runs of 40, 40 and 20
    assert len(a) == 2 * (39 + 39 + 19) - 3  # star + chain: the second member's pairs coincide


def test_small_bucket_gives_every_pair():
    keys = np.zeros((ALL_PAIRS_BUCKET, 1), dtype=np.uint64)
    a, b, _ = candidate_pairs(keys, np.arange(ALL_PAIRS_BUCKET), max_bucket=5000)
    assert set(zip(a.tolist(), b.tolist())) == set(
        itertools.combinations(range(ALL_PAIRS_BUCKET), 2))


def test_pair_verified_between_unrelated_neighbours_is_found():
    """Bucket [A, B, C, D] where A and C are unrelated to the others: B~D still verifies."""
    rng = np.random.default_rng(7)
    sigs = rng.integers(0, 2**32, (4, 16), dtype=np.uint32)
    sigs[:, :4] = sigs[0, :4]  # all four share band 0
    sigs[3, 4:] = sigs[1, 4:]  # D equals B but for one value in each other band, so the
    sigs[3, [7, 11, 15]] ^= 1  # only bucket B and D share is the one with A and C
    cfg = DedupeConfig().with_overrides({"minhash.num_perm": 16, "lsh.bands": 4,
                                         "lsh.rows": 4, "lsh.threshold": 0.75})
    n = 4
    digest = np.arange(2 * n, dtype=np.uint64).reshape(n, 2)
    dec = decide(np.zeros(n, np.int8), digest, np.full(n, 50), sigs, np.full(n, 100), None, cfg)
    assert [ACTIONS[x] for x in dec.action] == ["kept", "kept", "kept", "near_duplicate"]
    assert dec.survivor[3] == 1
    assert dec.similarity[3] == pytest.approx(13 / 16)


def test_pairs_past_three_billion_rows_do_not_wrap():
    big = np.array([4_000_000_000, 5_000_000_000, 9_000_000_000, 3], np.int64)
    keys = np.array([[1], [1], [1], [2]], dtype=np.uint64)
    a, b, _ = candidate_pairs(keys, big, max_bucket=5000)
    assert list(zip(a.tolist(), b.tolist())) == [
        (4_000_000_000, 5_000_000_000), (4_000_000_000, 9_000_000_000),
        (5_000_000_000, 9_000_000_000)]
    a, b = unique_pairs(np.array([big[2], 3, big[2]]), np.array([big[2] + 1, 4, big[2] + 1]))
    assert list(zip(a.tolist(), b.tolist())) == [(3, 4), (9_000_000_000, 9_000_000_001)]


def _reference_components(n, edges):
    parent = list(range(n))

    def find(x):
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in edges:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    groups = {}
    for i in range(n):
        groups.setdefault(find(i), []).append(i)
    label = [0] * n
    for members in groups.values():
        for m in members:
            label[m] = min(members)
    return label


@settings(max_examples=200, deadline=None)
@given(
    st.integers(1, 60).flatmap(
        lambda n: st.tuples(
            st.just(n),
            st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)), max_size=120),
        )
    )
)
def test_union_find_matches_reference(case):
    n, edges = case
    a = np.array([e[0] for e in edges], np.int64)
    b = np.array([e[1] for e in edges], np.int64)
    got = connected_components(n, a, b)
    assert got.tolist() == _reference_components(n, edges)
    # the edge order never matters
    perm = np.random.default_rng(0).permutation(len(edges))
    assert connected_components(n, b[perm], a[perm]).tolist() == got.tolist()


def test_long_chain_converges():
    n = 100_000
    labels = connected_components(n, np.arange(n - 1), np.arange(1, n))
    assert (labels == 0).all()


def test_survivor_policies():
    labels = np.array([0, 0, 0, 3, 3])
    order = np.arange(5)
    assert pick_survivors(labels, order).tolist() == [0, 0, 0, 3, 3]
    length = np.array([5.0, 9.0, 9.0, 1.0, 2.0])
    assert pick_survivors(labels, order, length).tolist() == [1, 1, 1, 4, 4]
    score = np.array([np.nan, 0.5, np.nan, np.nan, np.nan])
    assert pick_survivors(labels, order, score).tolist() == [1, 1, 1, 3, 3]


def test_all_pairs_within_small_buckets():
    rng = np.random.default_rng(3)
    keys = rng.integers(0, 5, (40, 2)).astype(np.uint64)
    a, b, _ = candidate_pairs(keys, np.arange(40), max_bucket=1000)
    labels = connected_components(40, a, b)
    for band in range(2):
        for i, j in itertools.combinations(range(40), 2):
            if keys[i, band] == keys[j, band]:
                assert labels[i] == labels[j]


@settings(max_examples=80, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 30), st.integers(0, 30), st.integers(0, 120)),
                max_size=200),
       st.sampled_from([0, 4_000_000_000]))
def test_unique_pairs_first_keeps_each_pairs_smallest_band(rows, base):
    """Each distinct pair once, sorted, with the smallest band it came with (what a sweep's
    thresholds of fewer bands filter on); past three billion rows as well."""
    want = {}
    for x, y, band in rows:
        key = (x + base, y + base)
        want[key] = min(want.get(key, band), band)
    arr = np.array(rows, np.int64).reshape(-1, 3)
    a, b, first = unique_pairs_first(arr[:, 0] + base, arr[:, 1] + base, arr[:, 2])
    assert list(zip(a.tolist(), b.tolist())) == sorted(want)
    assert first.tolist() == [want[k] for k in sorted(want)]


@pytest.mark.parametrize("num_perm", [16, 128, 256])
def test_exact_banding_errors_equal_the_quadrature(num_perm):
    """The exact rule that scores every banding at once gives the quadrature's areas."""
    from dedupe.near.lsh import _banding_errors

    bands, rows, error = _banding_errors(0.7, num_perm, 0.25, 0.75)
    assert len(bands) == sum(num_perm // b for b in range(1, num_perm + 1))
    assert np.all(bands * rows <= num_perm)
    for i in np.random.default_rng(num_perm).choice(len(bands), 40, replace=False):
        b, r = int(bands[i]), int(rows[i])
        want = 0.25 * false_positive_area(0.7, b, r) + 0.75 * false_negative_area(0.7, b, r)
        assert error[i] == pytest.approx(want, abs=1e-9)


def test_optimal_bands_on_a_fine_grid_equals_datasketch():
    """Every threshold from 0.02 to 0.98 at the default weights and a run's permutation
    counts: the near ties (scored again with the quadrature) included."""
    from datasketch.lsh import _optimal_param

    for num_perm in (64, 128):
        for threshold in np.round(np.arange(0.02, 0.99, 0.02), 2):
            assert (optimal_bands(float(threshold), num_perm, 0.03, 0.97)
                    == _optimal_param(float(threshold), num_perm, 0.03, 0.97))


def test_choosing_the_default_banding_does_not_load_the_integrators():
    """A run's start-up: the usual clear winner needs no scipy import (about a second)."""
    import subprocess
    import sys

    code = ("import sys; from dedupe.near.lsh import choose_bands; "
            "print(choose_bands(0.75, 128, 0.03, 0.97), 'scipy.integrate' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.split()
    assert out == ["(19,", "6)", "False"]
