"""UTF-8 Arrow string arrays to numpy code points, without a Python object per document.

Every later text stage (folding, tokens, shingles, exact digests) works on one flat ``uint32``
array of code points for a whole batch plus an ``int64`` offsets array (document ``i`` is
``cps[offsets[i]:offsets[i+1]]``). Decoding runs CPython's UTF-8 and UTF-32 codecs once over
the array's data buffer (C speed), and the offsets come from Arrow's per-document code-point
counts. Code point offsets equal Python ``str`` indices, so spans found here map straight back
onto the original text.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["byte_offsets", "decode_utf8", "document_groups", "encode_utf8"]


def _string_buffers(arr: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """Return (offsets as int64 relative to the data buffer, data bytes) of a string array."""
    if pa.types.is_large_string(arr.type):
        off_t = np.int64
    elif pa.types.is_string(arr.type):
        off_t = np.int32
    else:
        raise TypeError(f"expected a string array, got {arr.type}")
    bufs = arr.buffers()
    offsets = np.frombuffer(bufs[1], dtype=off_t)[arr.offset : arr.offset + len(arr) + 1]
    offsets = offsets.astype(np.int64)
    data = np.frombuffer(bufs[2], dtype=np.uint8) if bufs[2] is not None else np.zeros(0, np.uint8)
    return offsets, data


def byte_offsets(arr: pa.Array) -> np.ndarray:
    """UTF-8 byte offsets (int64) of the documents of a string array, from its offsets buffer."""
    return _string_buffers(arr)[0]


def decode_utf8(arr: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """Decode a string array (nulls read as empty) into ``(code_points, offsets)``.

    The whole batch is decoded by one call of CPython's UTF-8 and UTF-32 codecs (C speed, no
    object per document). A document's code-point count is its byte count minus its continuation
    bytes, which Arrow's ``utf8_length`` kernel counts per document; the offsets are the running
    sum of those counts over documents, so no pass over the bytes is made beyond the codecs.
    """
    if arr.null_count:
        arr = arr.fill_null("")
    offsets, data = _string_buffers(arr)
    lo, hi = int(offsets[0]), int(offsets[-1])
    text = str(memoryview(data[lo:hi]), "utf-8")
    cps = np.frombuffer(text.encode("utf-32-le"), dtype="<u4").astype(np.uint32, copy=False)
    if len(cps) == hi - lo:  # pure ASCII: byte offsets are code-point offsets
        offsets -= lo
        return cps, offsets
    lengths = pc.utf8_length(arr).to_numpy(zero_copy_only=False)
    np.cumsum(lengths, out=offsets[1:])
    offsets[0] = 0
    return cps, offsets


def encode_utf8(cps: np.ndarray) -> bytes:
    """Encode one document's code points back to UTF-8 bytes (used for digests and display)."""
    return cps.astype("<u4", copy=False).tobytes().decode("utf-32-le").encode("utf-8")


def document_groups(offsets: np.ndarray, size: int) -> np.ndarray:
    """Document indices ``0 = c_0 < c_1 < ... = n_docs`` cutting a batch about every ``size`` items.

    Per-document stages run group by group so that their intermediate arrays stay in cache; a
    document longer than ``size`` forms a group of its own (it is never split).
    """
    n_docs = len(offsets) - 1
    if n_docs <= 0:
        return np.zeros(1, np.int64)
    marks = np.arange(int(offsets[0]) + size, int(offsets[-1]), size)
    inner = np.searchsorted(offsets[1:-1], marks, "left") + 1
    return np.unique(np.concatenate([[0], inner, [n_docs]]))
