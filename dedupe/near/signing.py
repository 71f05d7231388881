"""The signing core: a text array and the config in, digests, signatures and shingles out.

One pure function, :func:`sign_arrays`, that the run's sign stage and an index build both call,
so a document signed today and one signed when an index was built compare equal byte for byte:
normalise (:mod:`dedupe.text.normalize`), digest (:mod:`dedupe.near.exact`), shingle
(:mod:`dedupe.text.shingle`, or the datasketch-compatible SHA-1 shingles of
:mod:`dedupe.near.compat`), MinHash (:mod:`dedupe.near.minhash`). No file, no row id, no status:
those belong to the stage that calls it.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from dedupe.config import DedupeConfig
from dedupe.near.exact import digests, long_text_digest
from dedupe.near.lsh import sorted_unique
from dedupe.near.minhash import signatures
from dedupe.text.normalize import canonical_codepoints
from dedupe.text.shingle import shingle_batch

__all__ = ["shingle_sets", "sign_arrays", "truncate"]


def sign_arrays(text: pa.Array, cfg: DedupeConfig, keep_shingles: bool = False):
    """Pure core: ``(digest (n,2), n_shingles, signatures (n,k), canonical lengths, shingles)``.

    Texts longer than ``input.max_doc_bytes`` are shingled and signed on their first
    ``max_doc_bytes`` bytes (the bound on a worker's memory), but their exact digest and
    canonical length cover the whole text, normalised piece by piece
    (:func:`dedupe.near.exact.long_text_digest`): two texts that share a long prefix are not
    exact duplicates. ``shingles`` (the ragged shingle hashes, for exact verification) is None
    unless asked for.
    """
    limit = cfg.input.max_doc_bytes
    hashed = truncate(text, limit) if limit is not None else text
    cps, offsets = canonical_codepoints(hashed, cfg.normalize)
    dig = digests(cps, offsets)
    canon_len = np.diff(offsets)
    if hashed is not text:
        nbytes = pc.binary_length(text.fill_null("")).to_numpy(zero_copy_only=False)
        for i in np.flatnonzero(nbytes > limit).tolist():
            dig[i], canon_len[i] = long_text_digest(text[i].as_py(), cfg.normalize,
                                                    max(1024, limit // 2))
    mh = cfg.minhash
    if mh.hash_scheme == "sha1":
        from dedupe.near.compat import sha1_shingles

        sh = sha1_shingles(cps, offsets, mh.shingle, mh.ngram)
    else:
        sh = shingle_batch(cps, offsets, mh.shingle, mh.ngram)
    sig = signatures(sh.hashes, sh.offsets, mh.num_perm, mh.seed)
    return dig, sh.counts.astype(np.int32), sig, canon_len, sh if keep_shingles else None


def shingle_sets(sh) -> pa.Array:
    """Each document's distinct shingle hashes, sorted, as a large list array (exact
    verification): one sort of ``doc << 32 | hash`` for the whole batch, 64-bit offsets."""
    n = len(sh.offsets) - 1
    doc = np.repeat(np.arange(n, dtype=np.uint64), np.diff(sh.offsets))
    keys = sorted_unique((doc << np.uint64(32)) | sh.hashes.astype(np.uint64))
    counts = np.bincount((keys >> np.uint64(32)).astype(np.int64), minlength=n)
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    values = (keys & np.uint64(0xFFFFFFFF)).astype(np.uint32)
    return pa.LargeListArray.from_arrays(pa.array(offsets), pa.array(values))


def truncate(text: pa.Array, limit: int) -> pa.Array:
    """Cut texts longer than ``limit`` UTF-8 bytes to their first ``limit`` bytes (whole chars).

    Only the long values are touched, and only their first ``limit`` bytes are copied: a
    50 MB page never becomes a Python string."""
    too_long = pc.greater(pc.binary_length(text), limit).fill_null(False)
    if not pc.any(too_long).as_py():
        return text
    binary = pa.large_binary() if pa.types.is_large_string(text.type) else pa.binary()
    heads = pc.binary_slice(text.cast(binary).filter(too_long), 0, limit)
    cut = [v.decode("utf-8", "ignore") for v in heads.to_pylist()]  # a split char at the end
    return pc.replace_with_mask(text, too_long, pa.array(cut, text.type))
