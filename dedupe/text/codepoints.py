"""UTF-8 Arrow string arrays to numpy code points, without a Python object per document.

Every later text stage (folding, tokens, shingles, exact digests) works on one flat ``uint32``
array of code points for a whole batch plus an ``int64`` offsets array (document ``i`` is
``cps[offsets[i]:offsets[i+1]]``). Decoding is vectorised: lead bytes are found with a mask,
continuation bytes are gathered at fixed distances from them. Code point offsets equal Python
``str`` indices, so spans found here map straight back onto the original text.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

__all__ = ["decode_utf8", "encode_utf8"]


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


def decode_utf8(arr: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """Decode a string array (nulls read as empty) into ``(code_points, offsets)``.

    The whole batch is decoded by one call of CPython's UTF-8 and UTF-32 codecs (C speed, no
    object per document); code-point offsets are byte offsets minus the continuation bytes
    before them, counted with one cumulative sum.
    """
    if arr.null_count:
        arr = arr.fill_null("")
    offsets, data = _string_buffers(arr)
    lo, hi = int(offsets[0]), int(offsets[-1])
    raw = data[lo:hi]
    cps = np.frombuffer(raw.tobytes().decode("utf-8").encode("utf-32-le"), dtype="<u4")
    if len(cps) == len(raw):  # pure ASCII: byte offsets are code-point offsets
        return cps.astype(np.uint32, copy=False), offsets - lo
    continuation = np.zeros(len(raw) + 1, np.int64)
    np.cumsum((raw & 0xC0) == 0x80, out=continuation[1:])
    rel = offsets - lo
    return cps.astype(np.uint32, copy=False), rel - continuation[rel]


def encode_utf8(cps: np.ndarray) -> bytes:
    """Encode one document's code points back to UTF-8 bytes (used for digests and display)."""
    return cps.astype("<u4", copy=False).tobytes().decode("utf-32-le").encode("utf-8")
