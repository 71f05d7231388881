"""Flat-array helpers shared by the batch span code (tokens, repeats, statistics).

The span code handles a whole batch as flat numpy arrays: ranges of positions, code-point
strings compared by Arrow, whitespace looked up in one table. These helpers keep each of those
steps free of a Python loop over documents or ranges.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from dedupe.text import ucd

__all__ = ["MAX_CODE_POINT", "binary_array", "ragged", "space_table"]

MAX_CODE_POINT = 0x110000


def space_table() -> np.ndarray:
    """Whitespace of every code point (:func:`dedupe.text.ucd.is_space`, ``str.isspace``'s rule
    over the pinned Unicode data): what ``split``, ``strip`` and ``re``'s ``\\s`` see."""
    return ucd.space_mask(MAX_CODE_POINT)


def binary_array(units: np.ndarray, bounds: np.ndarray) -> pa.Array:
    """Arrow binary array whose strings are ``units[bounds[i]:bounds[i+1]]`` (zero-copy).

    Large (64-bit offset) binary: Arrow dictionary-encodes it faster than 32-bit binary.
    """
    byte_bounds = bounds.astype(np.int64) * units.itemsize
    buffers = [None, pa.py_buffer(byte_bounds), pa.py_buffer(units)]
    return pa.Array.from_buffers(pa.large_binary(), len(bounds) - 1, buffers)


def ragged(lo: np.ndarray, lens: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Positions ``lo[i] + j`` for ``j < lens[i]``, concatenated, and the range ``i`` of each."""
    owner = np.repeat(np.arange(len(lo)), lens)
    begin = np.cumsum(lens) - lens
    return lo[owner] + np.arange(len(owner)) - begin[owner], owner
