"""Tests for dedupe.evaluate.metrics: hand-counted cases, brute-force oracles, edge cases."""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Iterator
from fractions import Fraction
from itertools import combinations
from unittest import mock

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dedupe.evaluate import (
    PairCounts,
    adjusted_rand_index,
    pair_counts,
    pairwise_from_pairs,
    removed_fraction,
    score,
)
from dedupe.evaluate import labels as labels_module
from dedupe.evaluate import metrics as m

# --------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------


def brute_force_counts(truth: list, pred: list) -> PairCounts:
    """O(n^2) reference: classify every unordered pair directly."""
    tp = fp = fn = tn = 0
    for i, j in combinations(range(len(truth)), 2):
        same_t, same_p = truth[i] == truth[j], pred[i] == pred[j]
        tp += same_t and same_p
        fp += same_p and not same_t
        fn += same_t and not same_p
        tn += not same_t and not same_p
    return PairCounts(tp=tp, fp=fp, fn=fn, tn=tn)


@contextlib.contextmanager
def code_path(mode: str) -> Iterator[None]:
    """Force one of the three counting strategies, so each is checked on small inputs.

    "default": range/bincount paths as chosen at small n; "sort": argsort factorisation and
    sorted cell keys; "lexsort": the two-column fallback used when packed keys would overflow.
    """
    if mode == "default":
        yield
        return
    # the dense-range threshold lives with the labels; the packed-key limit with the metrics
    with contextlib.ExitStack() as stack:
        stack.enter_context(mock.patch.multiple(labels_module, _DENSE_FACTOR=0, _DENSE_MIN_SPAN=0))
        if mode == "lexsort":
            stack.enter_context(mock.patch.object(m, "_MAX_COMBINED_CODE", 0))
        yield


labelings = st.integers(min_value=0, max_value=40).flatmap(
    lambda n: st.tuples(
        st.lists(st.integers(0, max(n // 3, 1)), min_size=n, max_size=n),
        st.lists(st.integers(0, max(n // 2, 1)), min_size=n, max_size=n),
    )
)

# --------------------------------------------------------------------------------------------
# Hand-counted examples
# --------------------------------------------------------------------------------------------


def test_six_docs_hand_counted() -> None:
    # truth clusters {0,1,2} {3,4} {5}: true pairs (0,1) (0,2) (1,2) (3,4)          -> 4
    # pred  clusters {0,1} {2,3,4} {5}:  predicted pairs (0,1) (2,3) (2,4) (3,4)     -> 4
    # tp: (0,1) (3,4) = 2; fp: (2,3) (2,4) = 2; fn: (0,2) (1,2) = 2
    # total C(6,2) = 15 -> tn = 15 - 6 = 9
    truth = [0, 0, 0, 1, 1, 2]
    pred = [0, 0, 1, 1, 1, 2]
    c = pair_counts(truth, pred)
    assert c == PairCounts(tp=2, fp=2, fn=2, tn=9)
    assert (c.true_pairs, c.predicted_pairs, c.total_pairs) == (4, 4, 15)
    assert (c.precision, c.recall, c.f1) == (0.5, 0.5, 0.5)
    # Hubert-Arabie: index 2, expected 4*4/15, max 4 -> (2 - 16/15) / (4 - 16/15) = 14/44
    assert adjusted_rand_index(truth, pred) == pytest.approx(7 / 22, abs=1e-15)
    # 6 docs in 3 predicted clusters: keep 3, remove 3
    assert removed_fraction(pred) == 0.5


def test_eight_docs_hand_counted_strings() -> None:
    # truth {0,1,2,3} {4,5} {6} {7}: C(4,2) + 1 = 7 true pairs
    # pred  {0,1} {2,3,4} {5} {6,7}:  1 + 3 + 0 + 1 = 5 predicted pairs
    # cells with >= 2 docs: (a,x) = {0,1}, (a,y) = {2,3} -> tp = 2
    # fp = 5 - 2 = 3: (2,4) (3,4) (6,7); fn = 7 - 2 = 5: (0,2) (0,3) (1,2) (1,3) (4,5)
    # total C(8,2) = 28 -> tn = 28 - 10 = 18
    truth = ["a", "a", "a", "a", "b", "b", "c", "d"]
    pred = ["x", "x", "y", "y", "y", "z", "w", "w"]
    c = pair_counts(truth, pred)
    assert c == PairCounts(tp=2, fp=3, fn=5, tn=18)
    assert c.precision == 2 / 5
    assert c.recall == 2 / 7
    assert c.f1 == pytest.approx(1 / 3, abs=1e-15)  # 2tp / (2tp + fp + fn) = 4 / 12
    # 2 (tp tn - fn fp) / ((tp+fn)(fn+tn) + (tp+fp)(fp+tn)) = 2 * 21 / (7*23 + 5*21) = 3/19
    assert adjusted_rand_index(truth, pred) == pytest.approx(3 / 19, abs=1e-15)
    assert removed_fraction(pred) == 0.5  # 8 docs, 4 clusters
    assert score(truth, pred) == {
        "precision": 2 / 5,
        "recall": 2 / 7,
        "f1": pytest.approx(1 / 3, abs=1e-15),
        "ari": pytest.approx(3 / 19, abs=1e-15),
        "removed_fraction": 0.5,
        "true_pairs": 7,
        "predicted_pairs": 5,
    }


def test_prediction_of_no_pairs_against_truth_with_pairs() -> None:
    # truth {0,1} {2} {3} {4}: one true pair; pred all singletons: no predicted pair
    # tp = fp = 0, fn = 1, tn = C(5,2) - 1 = 9
    c = pair_counts([0, 0, 1, 2, 3], [0, 1, 2, 3, 4])
    assert c == PairCounts(tp=0, fp=0, fn=1, tn=9)
    assert c.precision == 1.0  # no claim made, so no false claim
    assert c.recall == 0.0
    assert c.f1 == 0.0
    assert adjusted_rand_index([0, 0, 1, 2, 3], [0, 1, 2, 3, 4]) == 0.0


def test_prediction_of_one_cluster() -> None:
    # pred merges all 5 docs: 10 predicted pairs, of which the single true pair (0,1) is one
    c = pair_counts([0, 0, 1, 2, 3], [7] * 5)
    assert c == PairCounts(tp=1, fp=9, fn=0, tn=0)
    assert c.precision == 0.1
    assert c.recall == 1.0
    assert removed_fraction([7] * 5) == 0.8


def test_pairwise_from_pairs_hand_counted() -> None:
    pred = [0, 0, 1, 1, 2, 2, 3]
    a = [0, 2, 4, 0, 3, 5, 1]
    b = [1, 3, 5, 2, 6, 6, 1]
    dup = [True, False, True, True, False, False, True]
    # (0,1) dup, same     -> tp     (2,3) non-dup, same -> fp    (4,5) dup, same -> tp
    # (0,2) dup, apart    -> fn     (3,6) non-dup, apart -> tn   (5,6) non-dup, apart -> tn
    # (1,1) self pair, dup, always same -> tp
    expected = PairCounts(tp=3, fp=1, fn=1, tn=2)
    assert pairwise_from_pairs((a, b, dup), pred) == expected
    assert pairwise_from_pairs({"a_index": a, "b_index": b, "is_duplicate": dup}, pred) == expected
    table = pa.table(
        {"a_index": pa.array(a, pa.int32()), "b_index": b, "is_duplicate": dup, "note": a}
    )
    assert pairwise_from_pairs(table, pa.array([str(x) for x in pred])) == expected
    as_ints = (np.array(a), np.array(b), np.array(dup, dtype=np.int8))
    assert pairwise_from_pairs(as_ints, np.array(pred)) == expected


# --------------------------------------------------------------------------------------------
# Conventions and degenerate cases
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("n", [0, 1])
def test_tiny_inputs(n: int) -> None:
    labels = list(range(n))
    c = pair_counts(labels, labels)
    assert c == PairCounts(0, 0, 0, 0)
    assert (c.precision, c.recall, c.f1) == (1.0, 1.0, 1.0)
    assert adjusted_rand_index(labels, labels) == 1.0
    assert removed_fraction(labels) == 0.0
    assert score(np.array(labels), pa.array(labels, pa.int64())) == {
        "precision": 1.0,
        "recall": 1.0,
        "f1": 1.0,
        "ari": 1.0,
        "removed_fraction": 0.0,
        "true_pairs": 0,
        "predicted_pairs": 0,
    }


def test_empty_arrow_and_numpy_inputs() -> None:
    assert pair_counts(pa.array([], pa.string()), np.array([], dtype=np.int64)) == PairCounts(
        0, 0, 0, 0
    )
    assert pairwise_from_pairs(([], [], []), []) == PairCounts(0, 0, 0, 0)


def test_all_singletons_both() -> None:
    c = pair_counts(np.arange(7), np.arange(7)[::-1])
    assert c == PairCounts(tp=0, fp=0, fn=0, tn=21)
    assert (c.precision, c.recall, c.f1) == (1.0, 1.0, 1.0)
    assert adjusted_rand_index(np.arange(7), np.arange(7) + 100) == 1.0
    assert removed_fraction(np.arange(7)) == 0.0


def test_one_cluster_both() -> None:
    c = pair_counts(["a"] * 6, [3] * 6)
    assert c == PairCounts(tp=15, fp=0, fn=0, tn=0)
    assert adjusted_rand_index(["a"] * 6, [3] * 6) == 1.0
    assert removed_fraction([3] * 6) == pytest.approx(5 / 6)


def test_all_singletons_against_one_cluster_is_zero_ari() -> None:
    # sklearn gives 0.0 here: agreement is exactly what chance predicts.
    assert adjusted_rand_index(np.arange(5), np.zeros(5, dtype=int)) == 0.0
    c = pair_counts(np.arange(5), np.zeros(5, dtype=int))
    assert (c.precision, c.recall, c.f1) == (0.0, 1.0, 0.0)


def test_pair_counts_is_frozen() -> None:
    c = PairCounts(1, 2, 3, 4)
    with pytest.raises(AttributeError):
        c.tp = 5  # type: ignore[misc]


def test_returned_counts_are_python_ints() -> None:
    c = pair_counts(np.array([1, 1, 2]), np.array([1, 1, 1]))
    assert all(type(v) is int for v in (c.tp, c.fp, c.fn, c.tn))
    s = score(np.array([1, 1, 2]), np.array([1, 1, 1]))
    assert type(s["true_pairs"]) is int and type(s["predicted_pairs"]) is int
    assert all(type(s[k]) is float for k in ("precision", "recall", "f1", "ari"))


# --------------------------------------------------------------------------------------------
# Label types
# --------------------------------------------------------------------------------------------

TRUTH = [0, 0, 0, 1, 1, 2, 3, 3]
PRED = [5, 5, 6, 6, 6, 7, 8, 8]
EXPECTED = brute_force_counts(TRUTH, PRED)


@pytest.mark.parametrize(
    "convert",
    [
        pytest.param(lambda x: x, id="list"),
        pytest.param(lambda x: np.array(x, dtype=np.int64), id="int64"),
        pytest.param(lambda x: np.array(x, dtype=np.int8) - 100, id="int8-negative"),
        pytest.param(lambda x: np.array(x, dtype=np.uint64) + np.uint64(2**63), id="uint64-high"),
        pytest.param(lambda x: np.array(x, dtype=np.int64) * (1 << 40) - (1 << 62), id="sparse"),
        pytest.param(lambda x: np.array(x, dtype=np.float32) / 3, id="float"),
        pytest.param(lambda x: np.array(x) > 0, id="bool-coarsened"),
        pytest.param(lambda x: np.array([f"doc-{v}" for v in x]), id="numpy-str"),
        pytest.param(lambda x: np.array([f"{v}".encode() for v in x]), id="numpy-bytes"),
        pytest.param(lambda x: np.array([f"{v}" for v in x], dtype=object), id="object-str"),
        pytest.param(
            lambda x: np.array([(v, "t") for v in x] + [None], dtype=object)[:-1],
            id="object-tuples",
        ),
        pytest.param(lambda x: np.array(x, dtype="datetime64[D]"), id="datetime"),
        pytest.param(lambda x: pa.array(x), id="arrow-int"),
        pytest.param(lambda x: pa.array([str(v) for v in x]), id="arrow-str"),
        pytest.param(lambda x: pa.array([str(v) for v in x], pa.large_string()), id="arrow-large"),
        pytest.param(lambda x: pa.chunked_array([x[:3], x[3:5], x[5:]]), id="arrow-chunked"),
        pytest.param(lambda x: pa.array(x).dictionary_encode(), id="arrow-dict"),
    ],
)
@pytest.mark.parametrize("mode", ["default", "sort", "lexsort"])
def test_label_types_agree(convert, mode: str) -> None:
    truth, pred = convert(TRUTH), convert(PRED)
    expected = brute_force_counts(list(np.asarray(truth)), list(np.asarray(pred)))
    with code_path(mode):
        assert pair_counts(truth, pred) == expected
        assert pair_counts(truth, PRED) == brute_force_counts(list(np.asarray(truth)), PRED)
        n_clusters = len(set(np.asarray(pred).tolist()))
        assert removed_fraction(pred) == (len(PRED) - n_clusters) / len(PRED)


def test_mixed_label_containers() -> None:
    truth = pa.array([str(v) for v in TRUTH])
    pred = np.array(PRED, dtype=np.uint16)
    assert pair_counts(truth, pred) == EXPECTED


def test_dictionary_with_unused_entries_counts_present_labels_only() -> None:
    arr = pa.DictionaryArray.from_arrays(
        pa.array([0, 0, 2], pa.int32()), pa.array(["a", "unused", "b"])
    )
    assert removed_fraction(arr) == pytest.approx(1 / 3)
    assert pair_counts(arr, [1, 1, 2]) == PairCounts(tp=1, fp=0, fn=0, tn=2)


@pytest.mark.parametrize(
    "labels",
    [
        pytest.param(pa.array([1, None, 2]), id="arrow-null"),
        pytest.param(pa.chunked_array([["a"], [None]]), id="arrow-chunked-null"),
        pytest.param(np.array([1.0, np.nan, 2.0]), id="nan"),
        pytest.param(np.array(["a", None, "b"], dtype=object), id="object-none"),
        pytest.param(np.array([None, None, None], dtype=object), id="object-all-none"),
        pytest.param(np.array([(1,), None, "b"], dtype=object), id="object-mixed-none"),
    ],
)
def test_missing_labels_raise(labels) -> None:
    with pytest.raises(ValueError, match="missing labels"):
        pair_counts(labels, [0, 1, 2])


def test_bad_shapes_raise() -> None:
    with pytest.raises(ValueError, match="differ in length"):
        pair_counts([0, 1, 2], [0, 1])
    with pytest.raises(ValueError, match="one-dimensional"):
        pair_counts(np.zeros((2, 2)), [0, 1, 2, 3])
    with pytest.raises(ValueError, match="differ in length"):
        score(pa.array([1, 2]), np.array([1]))


def test_pairwise_from_pairs_validation() -> None:
    pred = [0, 0, 1]
    with pytest.raises(IndexError):
        pairwise_from_pairs(([0, -1], [1, 2], [True, False]), pred)
    with pytest.raises(IndexError):
        pairwise_from_pairs(([0, 1], [1, 3], [True, False]), pred)
    with pytest.raises(TypeError, match="integers"):
        pairwise_from_pairs(([0.0], [1.0], [True]), pred)
    with pytest.raises(TypeError, match="boolean"):
        pairwise_from_pairs(([0], [1], [2]), pred)
    with pytest.raises(ValueError, match="differ in length"):
        pairwise_from_pairs(([0, 1], [1], [True]), pred)
    with pytest.raises(ValueError, match="nulls"):
        pairwise_from_pairs((pa.array([0, None]), [1, 2], [True, False]), pred)
    with pytest.raises(TypeError, match="'b_index' column"):
        pairwise_from_pairs({"a_index": [0], "is_duplicate": [True]}, pred)
    with pytest.raises(ValueError, match=r"\(a_index, b_index, is_duplicate\)"):
        pairwise_from_pairs(([0], [1]), pred)


# --------------------------------------------------------------------------------------------
# Properties against brute force and scikit-learn
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["default", "sort", "lexsort"])
@settings(max_examples=150, deadline=None)
@given(labelings)
def test_pair_counts_match_brute_force(mode: str, labels: tuple[list[int], list[int]]) -> None:
    truth, pred = labels
    expected = brute_force_counts(truth, pred)
    with code_path(mode):
        got = pair_counts(np.array(truth, dtype=np.int64), pa.array(pred, pa.int64()))
        assert got == expected
        # Swapping the roles of truth and prediction swaps fp and fn.
        assert pair_counts(pred, truth) == PairCounts(
            expected.tp, expected.fn, expected.fp, expected.tn
        )
    n = len(truth)
    assert got.total_pairs == n * (n - 1) // 2


@settings(max_examples=100, deadline=None)
@given(labelings, st.randoms(use_true_random=False))
def test_pair_counts_invariant_to_relabelling(labels, rnd) -> None:
    truth, pred = labels
    names = list(range(100))
    rnd.shuffle(names)
    renamed = np.array([f"c{names[v]}" for v in pred])
    assert pair_counts(truth, renamed) == pair_counts(truth, pred)


@settings(max_examples=100, deadline=None)
@given(labelings, st.data())
def test_pairwise_from_all_pairs_equals_pair_counts(labels, data) -> None:
    truth, pred = labels
    n = len(truth)
    i, j = np.triu_indices(n, k=1)
    truth_arr = np.array(truth)
    full = pairwise_from_pairs((i, j, truth_arr[i] == truth_arr[j]), pred)
    assert full == pair_counts(truth, pred)
    # Any subset of labelled pairs: compare with a direct per-pair count.
    if n >= 2:
        keep = data.draw(st.lists(st.integers(0, i.size - 1), max_size=30))
        sub = pairwise_from_pairs(
            (i[keep], j[keep], truth_arr[i[keep]] == truth_arr[j[keep]]), pred
        )
        same = [pred[i[k]] == pred[j[k]] for k in keep]
        dup = [truth[i[k]] == truth[j[k]] for k in keep]
        assert sub.tp == sum(s and d for s, d in zip(same, dup, strict=True))
        assert sub.fp == sum(s and not d for s, d in zip(same, dup, strict=True))
        assert sub.fn == sum(d and not s for s, d in zip(same, dup, strict=True))
        assert sub.total_pairs == len(keep)


def ari_exact(c: PairCounts) -> Fraction | None:
    """Hubert-Arabie ARI in exact rationals from the contingency form; None when 0/0."""
    total = c.total_pairs
    if total == 0:
        return None
    index, a, b = c.tp, c.true_pairs, c.predicted_pairs
    expected = Fraction(a * b, total)
    max_index = Fraction(a + b, 2)
    if max_index == expected:
        return None
    return (index - expected) / (max_index - expected)


@settings(max_examples=100, deadline=None)
@given(labelings)
def test_ari_matches_sklearn_and_exact_formula(labels) -> None:
    metrics = pytest.importorskip("sklearn.metrics")
    truth, pred = labels
    ours = adjusted_rand_index(truth, pred)
    assert ours == pytest.approx(metrics.adjusted_rand_score(truth, pred), abs=1e-12)
    exact = ari_exact(pair_counts(truth, pred))
    if exact is not None:
        assert ours == pytest.approx(float(exact), abs=1e-12)
    assert adjusted_rand_index(pred, truth) == pytest.approx(ours, abs=1e-12)
    assert score(truth, pred)["ari"] == ours


def test_ari_matches_sklearn_on_larger_random_labelings() -> None:
    metrics = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(7)
    for n, k in [(2, 1), (50, 3), (500, 400), (3000, 40), (3000, 2900)]:
        truth = rng.integers(0, k, n)
        pred = np.where(rng.random(n) < 0.3, rng.integers(0, k, n), truth)
        assert adjusted_rand_index(truth, pred) == pytest.approx(
            metrics.adjusted_rand_score(truth, pred), abs=1e-12
        )
        # Same answer when labels are strings in Arrow.
        as_str = pa.array(truth.astype(str))
        assert adjusted_rand_index(as_str, pred) == adjusted_rand_index(truth, pred)


@pytest.mark.parametrize(
    ("truth", "pred"),
    [
        ([], []),
        ([1], [2]),
        ([0, 1, 2, 3], [4, 5, 6, 7]),
        ([0, 0, 0, 0], [1, 1, 1, 1]),
        ([0, 0, 0, 0], [0, 1, 2, 3]),
        ([0, 1, 2, 3], [0, 0, 0, 0]),
        ([0, 0, 1, 1], [0, 0, 1, 1]),
    ],
)
def test_ari_degenerate_cases_match_sklearn(truth, pred) -> None:
    metrics = pytest.importorskip("sklearn.metrics")
    assert adjusted_rand_index(truth, pred) == metrics.adjusted_rand_score(truth, pred)


# --------------------------------------------------------------------------------------------
# Overflow guards
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "counts",
    [
        [2**32 - 1],  # largest total on the uint64 path
        [2**32 - 2, 1],
        [2**32],  # first total on the Python-int path
        [3_000_000_000, 3_000_000_000, 5],
        [10**10, 1, 2],
    ],
)
def test_sum_pairs_is_exact_at_large_counts(counts: list[int]) -> None:
    expected = sum(math.comb(c, 2) for c in counts)
    got = m._sum_pairs(np.array(counts, dtype=np.int64))
    assert type(got) is int
    assert got == expected


def test_ari_uses_exact_integer_products() -> None:
    # Pair counts of a 10^8-document corpus: products reach ~1e31, far beyond int64.
    c = PairCounts(tp=10**15, fp=3 * 10**14, fn=2 * 10**14, tn=4_999_999_950 * 10**6)
    num = 2 * (c.tp * c.tn - c.fn * c.fp)
    den = (c.tp + c.fn) * (c.fn + c.tn) + (c.tp + c.fp) * (c.fp + c.tn)
    assert m._ari_from_counts(c) == float(Fraction(num, den))


# --------------------------------------------------------------------------------------------
# Scale
# --------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_ten_million_labels_score_quickly() -> None:
    n = 10_000_000
    rng = np.random.default_rng(0)
    # Truth: ~70% of documents attach to an earlier representative, as in web crawls.
    truth = np.arange(n, dtype=np.int64)
    attach = rng.random(n) < 0.7
    truth[attach] = rng.integers(0, n, int(attach.sum()))
    # Prediction: truth with 5% of documents split off and 2% merged into a wrong cluster.
    pred = truth.copy()
    split = rng.random(n) < 0.05
    pred[split] = np.arange(n, 2 * n)[split]
    merge = rng.random(n) < 0.02
    pred[merge] = rng.integers(0, n, int(merge.sum()))

    start = time.perf_counter()
    result = score(truth, pred)
    elapsed = time.perf_counter() - start

    assert 0.0 < result["precision"] <= 1.0
    assert 0.8 < result["recall"] < 1.0
    assert 0.0 < result["ari"] < 1.0
    assert result["true_pairs"] > 0
    assert elapsed < 20.0, f"score() took {elapsed:.1f}s for {n} labels"
