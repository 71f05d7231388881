"""Grading a run against hand-labelled pairs instead of full reference clusters
(:func:`pairwise_from_pairs`), and the checks of the pairs it is given: every index a document,
every judgement a boolean."""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa

from dedupe.evaluate.labels import Labels, factorize
from dedupe.evaluate.metrics import PairCounts

__all__ = ["pairwise_from_pairs"]


def pairwise_from_pairs(labelled_pairs: Any, predicted_clusters: Labels) -> PairCounts:
    """Pair counts over a set of hand-labelled pairs instead of full reference clusters.

    Annotators usually judge sampled pairs rather than cluster a corpus, so this grades only
    those pairs: a pair is predicted duplicate iff both documents carry the same label in
    ``predicted_clusters``. ``labelled_pairs`` is either a ``(a_index, b_index, is_duplicate)``
    triple or anything indexable by those column names (dict, ``pyarrow.Table``, DataFrame).

    Every row counts once, so repeated pairs weigh more and a self pair (``a == b``) is always
    predicted duplicate; ``tn`` is the number of labelled non-duplicates kept apart. Precision
    and recall here estimate the corpus-level ones only as well as the pair sample represents
    the corpus.
    """
    pred, _ = factorize(predicted_clusters, "predicted_clusters")
    n_docs = pred.size
    a = _index_array(_column(labelled_pairs, "a_index", 0), "a_index", n_docs)
    b = _index_array(_column(labelled_pairs, "b_index", 1), "b_index", n_docs)
    dup = _bool_array(_column(labelled_pairs, "is_duplicate", 2), "is_duplicate")
    if not a.size == b.size == dup.size:
        raise ValueError(
            f"a_index, b_index and is_duplicate differ in length: {a.size}, {b.size}, {dup.size}"
        )
    same = pred[a] == pred[b]
    tp = int(np.count_nonzero(same & dup))
    predicted = int(np.count_nonzero(same))
    true = int(np.count_nonzero(dup))
    return PairCounts(tp=tp, fp=predicted - tp, fn=true - tp, tn=a.size - predicted - true + tp)


def _column(pairs: Any, key: str, position: int) -> Any:
    if isinstance(pairs, (tuple, list)):
        if len(pairs) != 3:
            raise ValueError("labelled_pairs must be (a_index, b_index, is_duplicate)")
        return pairs[position]
    try:
        return pairs[key]
    except (KeyError, IndexError, ValueError, TypeError) as exc:
        raise TypeError(
            f"labelled_pairs ({type(pairs).__name__}) must be a 3-tuple or have a {key!r} column"
        ) from exc


def _to_numpy(values: Any, name: str) -> np.ndarray:
    if isinstance(values, (pa.Array, pa.ChunkedArray)):
        if values.null_count:
            raise ValueError(f"{name} contains nulls")
        values = values.to_numpy(zero_copy_only=False)
    out = np.asarray(values)
    if out.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {out.shape}")
    return out


def _index_array(values: Any, name: str, n_docs: int) -> np.ndarray:
    """Validated document indices; negative indices are refused, not wrapped as numpy would."""
    idx = _to_numpy(values, name)
    if idx.size and idx.dtype.kind not in "iu":
        raise TypeError(f"{name} must hold integers, got dtype {idx.dtype}")
    if idx.size and (int(idx.min()) < 0 or int(idx.max()) >= n_docs):
        raise IndexError(f"{name} holds indices outside [0, {n_docs})")
    return idx.astype(np.intp, copy=False)


def _bool_array(values: Any, name: str) -> np.ndarray:
    flags = _to_numpy(values, name)
    if flags.dtype.kind == "b":
        return flags
    if flags.size == 0:
        return flags.astype(bool)
    if flags.dtype.kind in "iu" and int(flags.min()) >= 0 and int(flags.max()) <= 1:
        return flags.astype(bool)
    raise TypeError(f"{name} must be boolean (or 0/1 integers), got dtype {flags.dtype}")

