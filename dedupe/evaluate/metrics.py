"""Pairwise and clustering metrics for judging a deduplication run.

A deduplication run assigns every document a cluster label; documents sharing a label are
declared near-duplicates of each other. Two questions matter when grading such a run against
a reference:

* Pairwise quality: of all document pairs that the run put together, how many truly belong
  together (precision), and how many of the true pairs did it find (recall)? Pairs, not
  clusters, are the unit because a wrong merge of two large clusters costs many pairs while
  a wrong merge of two singletons costs one, which matches the cost of wrongly dropping text.
* Chance-corrected agreement: the adjusted Rand index (Hubert & Arabie, 1985) tells a real
  clustering from one that merely has the right cluster-size profile.

Both are computed from the contingency table of (truth, pred) label pairs, never by
enumerating document pairs: corpora have millions of rows and ``n * (n - 1) / 2`` pairs.
Everything here sorts or bins ``n`` integers, so the cost is ``O(n log n)`` time and ``O(n)``
memory.

Integer range: pair totals reach ``n * (n - 1) / 2``, which overflows int64 once ``n`` exceeds
about 4.29e9 (and the product ``n * (n - 1)`` already at about 3.04e9). Per-cell pair counts
are therefore formed in uint64 (exact while a cell holds fewer than 2**32 documents) and
summed into Python ints; beyond that bound the code switches to Python-int arithmetic, which
is slow but exact. Every count returned is a Python ``int``, so downstream arithmetic (the ARI
numerator is a product of two pair counts, about ``n**4 / 4``) never wraps.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dedupe.evaluate.labels import Labels, factorize, fits_dense

__all__ = [
    "PairCounts",
    "adjusted_rand_index",
    "pair_counts",
    "removed_fraction",
    "score",
]


# Largest total for which every pair count C(total, 2) and every intermediate c * (c - 1) is
# exact in uint64 and the sum of C(c, 2) over a partition of `total` fits int64.
_UINT64_SAFE_TOTAL = 1 << 32

# Combined (truth, pred) cell codes are `t * k_pred + p`; above this the product would wrap.
_MAX_COMBINED_CODE = int(np.iinfo(np.int64).max)


@dataclass(frozen=True)
class PairCounts:
    """Confusion counts over unordered document pairs.

    ``tp``: pairs together in both truth and prediction; ``fp``: together only in the
    prediction; ``fn``: together only in truth; ``tn``: apart in both.

    Empty-case conventions (chosen so that a run that neither makes nor misses a claim scores
    perfectly, and so that these agree with the ARI's degenerate cases):

    * ``precision`` is 1.0 when there are no predicted pairs: a run that merges nothing has
      made no false claim. The missed pairs show up in ``recall`` instead.
    * ``recall`` is 1.0 when there are no true pairs: there was nothing to find.
    * ``f1`` is 0.0 when precision and recall are both 0.0, otherwise their harmonic mean.
      Hence all-singletons in both truth and prediction gives precision = recall = f1 = 1.0,
      while predicting no pairs against a truth that has some gives f1 = 0.0.
    """

    tp: int
    fp: int
    fn: int
    tn: int

    @property
    def true_pairs(self) -> int:
        """Pairs that are duplicates in the reference."""
        return self.tp + self.fn

    @property
    def predicted_pairs(self) -> int:
        """Pairs that the run declared duplicates."""
        return self.tp + self.fp

    @property
    def total_pairs(self) -> int:
        """All pairs counted: ``n * (n - 1) / 2`` for label arrays, or the labelled pairs."""
        return self.tp + self.fp + self.fn + self.tn

    @property
    def precision(self) -> float:
        """Share of predicted pairs that are true pairs; 1.0 when nothing was predicted."""
        predicted = self.predicted_pairs
        return 1.0 if predicted == 0 else self.tp / predicted

    @property
    def recall(self) -> float:
        """Share of true pairs that were predicted; 1.0 when there are no true pairs."""
        true = self.true_pairs
        return 1.0 if true == 0 else self.tp / true

    @property
    def f1(self) -> float:
        """Harmonic mean of precision and recall; 0.0 when both are 0.0."""
        p, r = self.precision, self.recall
        return 0.0 if p + r == 0.0 else 2.0 * p * r / (p + r)


# --------------------------------------------------------------------------------------------
# Pair arithmetic
# --------------------------------------------------------------------------------------------


def _sum_pairs(counts: np.ndarray) -> int:
    """``sum(c * (c - 1) / 2 for c in counts)`` as an exact Python int.

    uint64 is exact while the grand total is below 2**32: each ``c * (c - 1) < 2**64`` and the
    sum is at most ``C(total, 2) < 2**63``. Larger inputs take exact Python-int arithmetic.
    """
    if counts.size == 0:
        return 0
    total = int(counts.sum(dtype=np.uint64))
    if total < _UINT64_SAFE_TOTAL:
        c = counts.astype(np.uint64, copy=False)
        c = c[c > 1]
        return int(np.sum(c * (c - 1) // 2, dtype=np.uint64))
    c = counts[counts > 1].astype(object)
    return int(np.sum(c * (c - 1) // 2))


def _cell_counts(t: np.ndarray, kt: int, p: np.ndarray, kp: int) -> np.ndarray:
    """Sizes of the non-empty contingency cells (documents sharing both labels).

    Cells are packed as ``t * kp + p``: a direct bincount when the table is small, otherwise
    a sort and run-length count, which is what ``np.unique(return_counts=True)`` does but
    without the extra unique-values array. The packed key would wrap only when
    ``kt * kp >= 2**63`` (more than ~3e9 documents); then a lexsort on the two columns is used.
    """
    n = t.size
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    cells = kt * kp
    if cells <= _MAX_COMBINED_CODE:
        key = t * np.int64(kp) + p
        if fits_dense(cells, n):
            sizes = np.bincount(key, minlength=cells)
            return sizes[sizes > 0]
        key.sort()
        boundary = np.empty(n, dtype=bool)
        boundary[0] = True
        np.not_equal(key[1:], key[:-1], out=boundary[1:])
    else:
        order = np.lexsort((p, t))
        ts, ps = t[order], p[order]
        boundary = np.empty(n, dtype=bool)
        boundary[0] = True
        np.logical_or(ts[1:] != ts[:-1], ps[1:] != ps[:-1], out=boundary[1:])
    starts = np.flatnonzero(boundary)
    return np.diff(starts, append=n)


def _counts_from_codes(t: np.ndarray, kt: int, p: np.ndarray, kp: int) -> PairCounts:
    n = t.size
    tp = _sum_pairs(_cell_counts(t, kt, p, kp))
    true_pairs = _sum_pairs(np.bincount(t, minlength=kt))
    predicted_pairs = _sum_pairs(np.bincount(p, minlength=kp))
    total = n * (n - 1) // 2
    fp = predicted_pairs - tp
    fn = true_pairs - tp
    return PairCounts(tp=tp, fp=fp, fn=fn, tn=total - tp - fp - fn)


def _factorize_both(truth: Labels, pred: Labels) -> tuple[np.ndarray, int, np.ndarray, int]:
    t, kt = factorize(truth, "truth")
    p, kp = factorize(pred, "pred")
    if t.size != p.size:
        raise ValueError(f"truth and pred differ in length: {t.size} != {p.size}")
    return t, kt, p, kp


def _ari_from_counts(c: PairCounts) -> float:
    """Adjusted Rand index from pair counts, with scikit-learn's degenerate-case rule.

    ``ARI = 2 (tp*tn - fn*fp) / ((tp+fn)(fn+tn) + (tp+fp)(fp+tn))`` is Hubert & Arabie's
    ``(index - expected) / (max - expected)`` rewritten over pair counts. Python ints keep the
    degree-4 products exact; the final int/int division is correctly rounded. When the two
    partitions agree on every pair (including n <= 1, all singletons in both, one cluster in
    both) the formula is 0/0 and the value is defined as 1.0, as scikit-learn does.
    """
    tp, fp, fn, tn = c.tp, c.fp, c.fn, c.tn
    if fp == 0 and fn == 0:
        return 1.0
    return 2 * (tp * tn - fn * fp) / ((tp + fn) * (fn + tn) + (tp + fp) * (fp + tn))


# --------------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------------


def pair_counts(truth: Labels, pred: Labels) -> PairCounts:
    """Pair confusion counts between reference and predicted clusterings.

    ``truth`` and ``pred`` hold one label per document (numpy arrays, Arrow arrays or
    sequences; any dtype whose equality means "same cluster"). Missing labels raise, because
    silently treating them as one cluster or as singletons would skew the counts either way.
    """
    return _counts_from_codes(*_factorize_both(truth, pred))


def adjusted_rand_index(truth: Labels, pred: Labels) -> float:
    """Adjusted Rand index (Hubert & Arabie 1985) between two labelings.

    Matches ``sklearn.metrics.adjusted_rand_score``, including 1.0 for the degenerate cases
    (empty input, a single document, both all-singletons, both one cluster).
    """
    return _ari_from_counts(pair_counts(truth, pred))


def removed_fraction(pred: Labels) -> float:
    """Share of rows dropped by keeping one document per predicted cluster.

    This is the quantity a corpus owner trades against precision: ``(n - clusters) / n``.
    Defined as 0.0 for an empty input, where nothing is removed.
    """
    codes, k = factorize(pred, "pred")
    n = codes.size
    return 0.0 if n == 0 else (n - k) / n


def score(truth: Labels, pred: Labels) -> dict[str, float | int]:
    """All headline metrics in one pass over the labels, as plain Python numbers for reports.

    Keys: ``precision``, ``recall``, ``f1``, ``ari``, ``removed_fraction`` (floats) and
    ``true_pairs``, ``predicted_pairs`` (ints). The labels are factorised once and shared.
    """
    t, kt, p, kp = _factorize_both(truth, pred)
    counts = _counts_from_codes(t, kt, p, kp)
    n = p.size
    return {
        "precision": float(counts.precision),
        "recall": float(counts.recall),
        "f1": float(counts.f1),
        "ari": float(_ari_from_counts(counts)),
        "removed_fraction": 0.0 if n == 0 else (n - kp) / n,
        "true_pairs": counts.true_pairs,
        "predicted_pairs": counts.predicted_pairs,
    }
