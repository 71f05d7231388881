"""Cluster labels as dense integer codes, the form every metric works on.

A labelling may be numpy, Arrow or a plain sequence of any type whose equality means "same
cluster". :func:`factorize` maps it to int64 codes ``0..k-1`` in ``O(n log n)`` time at worst
(linear for integer ids drawn from a range about as wide as ``n``), never by a Python step per
pair; missing labels raise, because treating them as one cluster or as singletons would skew
every count.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pyarrow as pa

__all__ = ["Labels", "factorize", "fits_dense"]

# What a labelling may be: anything whose elements compare equal exactly when two documents
# share a cluster. Sequences are converted with ``np.asarray``.
Labels = np.ndarray | pa.Array | pa.ChunkedArray | Sequence[Any]

# Below `_DENSE_FACTOR * n` a direct bincount over the value range beats sorting.
_DENSE_FACTOR = 2
_DENSE_MIN_SPAN = 1 << 16


def fits_dense(span: int, n: int) -> bool:
    """Whether ``n`` values drawn from ``span`` possible ones are counted faster by a direct
    bincount over the range than by sorting them."""
    return span <= max(_DENSE_FACTOR * n, _DENSE_MIN_SPAN)


def _missing_error(name: str) -> ValueError:
    return ValueError(
        f"{name} contains missing labels (null/NaN); give every document a label, "
        "using a unique one for singletons"
    )


def _factorize_arrow(arr: pa.Array | pa.ChunkedArray, name: str) -> tuple[np.ndarray, int]:
    """Dense codes for an Arrow array.

    Numeric arrays go through numpy (zero-copy) because the range/sort paths there are faster
    than Arrow's hash table on many distinct values; strings and other types use Arrow's hash
    encoding, which avoids materialising Python objects.
    """
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks() if arr.num_chunks != 1 else arr.chunk(0)
    if arr.null_count:
        raise _missing_error(name)
    if pa.types.is_dictionary(arr.type):
        # A dictionary may hold unused or repeated entries; decode so codes count only the
        # labels actually present.
        arr = arr.dictionary_decode()
    if pa.types.is_integer(arr.type) or pa.types.is_floating(arr.type):
        return _factorize_numpy(arr.to_numpy(zero_copy_only=False), name)
    encoded = arr.dictionary_encode()
    codes = encoded.indices.to_numpy(zero_copy_only=False).astype(np.int64, copy=False)
    return codes, len(encoded.dictionary)


def _factorize_integers(values: np.ndarray) -> tuple[np.ndarray, int]:
    """Dense codes for integer labels.

    Cluster ids are usually document indices or union-find roots, i.e. drawn from a range
    about as wide as ``n``; then a presence mask over the range gives codes in linear time.
    Sparse ids (hashes, 64-bit keys) fall back to sorting.
    """
    n = values.size
    lo, hi = int(values.min()), int(values.max())
    span = hi - lo + 1
    if fits_dense(span, n):
        if values.dtype.kind == "u":
            offsets = (values - values.dtype.type(lo)).astype(np.intp, copy=False)
        else:
            offsets = values.astype(np.int64, copy=False) - lo
        present = np.zeros(span, dtype=bool)
        present[offsets] = True
        remap = np.cumsum(present, dtype=np.int64)
        remap -= 1
        return remap[offsets], int(remap[-1]) + 1
    return _factorize_sorted(values)


def _factorize_sorted(values: np.ndarray) -> tuple[np.ndarray, int]:
    """Dense codes via one unstable argsort: cheaper than ``np.unique(return_inverse=True)``."""
    order = np.argsort(values)
    ordered = values[order]
    starts = np.empty(values.size, dtype=bool)
    starts[0] = False
    np.not_equal(ordered[1:], ordered[:-1], out=starts[1:])
    ranks = np.cumsum(starts, dtype=np.int64)
    codes = np.empty(values.size, dtype=np.int64)
    codes[order] = ranks
    return codes, int(ranks[-1]) + 1


def _factorize_objects(values: np.ndarray, name: str) -> tuple[np.ndarray, int]:
    """Dense codes for an object array.

    Arrow handles homogeneous str/bytes/int objects quickly. Mixed or exotic hashables (tuples,
    mixed int/str) cannot be sorted or typed, so they take a dict-based pass: one Python step
    per document, never per pair.
    """
    try:
        arrow = pa.array(values, from_pandas=False)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
        arrow = None
    if arrow is not None and not pa.types.is_null(arrow.type):
        return _factorize_arrow(arrow, name)
    mapping: dict[Any, int] = {}
    codes = np.fromiter(
        (mapping.setdefault(v, len(mapping)) for v in values.tolist()),
        dtype=np.int64,
        count=values.size,
    )
    if None in mapping:
        raise _missing_error(name)
    return codes, len(mapping)


def _factorize_numpy(values: np.ndarray, name: str) -> tuple[np.ndarray, int]:
    if values.size == 0:
        return np.zeros(0, dtype=np.int64), 0
    kind = values.dtype.kind
    if kind in "iub":
        return _factorize_integers(values)
    if kind == "f" or kind == "c":
        if np.isnan(values).any():
            raise _missing_error(name)
        return _factorize_sorted(values)
    if kind in "US":
        # Arrow hashes UTF-8 faster than numpy sorts fixed-width UCS-4.
        return _factorize_arrow(pa.array(values), name)
    if kind == "O":
        return _factorize_objects(values, name)
    return _factorize_sorted(values)  # datetimes, timedeltas and other sortable dtypes


def factorize(labels: Labels, name: str) -> tuple[np.ndarray, int]:
    """Map arbitrary labels to dense int64 codes ``0..k-1``; return ``(codes, k)``.

    Equality of codes is exactly equality of labels, which is all the metrics use; working on
    dense codes lets contingency cells be packed into one int64 key.
    """
    if isinstance(labels, (pa.Array, pa.ChunkedArray)):
        if len(labels) == 0:
            return np.zeros(0, dtype=np.int64), 0
        return _factorize_arrow(labels, name)
    values = np.asarray(labels)
    if values.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {values.shape}")
    return _factorize_numpy(values, name)
