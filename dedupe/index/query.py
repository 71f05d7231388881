"""Matching new rows against an index by merges on sorted integer files.

The rule, per query row: a row whose digest equals an index document's is an exact match (the
smallest such doc); otherwise, among the index documents that share at least one band key with
it, the one of highest estimated Jaccard ``>= threshold`` (ties: the smallest doc); otherwise
no match (``doc = -1``).

How: the digest merge reads one generation's ``digests.parquet`` at a time. The band merge
takes one band at a time: the query rows' keys are computed and sorted once, then each
generation's band file is loaded and ``np.searchsorted`` finds the run of equal index keys for
every query key. A key shared by more than ``max_fanout`` index documents contributes only its
``max_fanout`` smallest docs (the run's ``lsh.max_bucket_size`` default, 5000, for the same
reason: a bucket that large is template text, not a duplicate); such keys are counted in
``stats["capped_keys"]``. Candidate pairs are deduplicated and verified in batches of at most
``max_pairs_in_memory``: sorted by doc, each row group of ``docs.parquet`` that holds candidates
is read (the ``sig`` column only) and compared with ``jaccard_estimate``.

Memory: one band file or digest file (16-24 bytes per document of one generation), the query
rows' keys (8 bytes a row), the candidate buffer (16 bytes a pair), and the signatures of one
row group of docs. The index's signatures are never loaded all at once.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from dedupe.errors import ConfigError, IndexMismatchError
from dedupe.index.format import band_key, has_signature
from dedupe.index.store import Index
from dedupe.near.minhash import jaccard_estimate

__all__ = ["MAX_FANOUT", "Match", "boilerplate_counts", "lookup", "match_index"]

MAX_FANOUT = 5000
_VERIFY_CHUNK = 1 << 16  # pairs compared at once: 2 x 32 MiB of 128-permutation signatures


@dataclass
class Match:
    """Per query row: the matched index ``doc`` (-1: none), its ``similarity`` (1.0 for an
    exact match, NaN for none) and whether the match is ``exact``."""

    doc: np.ndarray
    similarity: np.ndarray
    exact: np.ndarray
    stats: dict = field(default_factory=dict)


def match_index(index: Index, digest: np.ndarray, sigs: np.ndarray,
                valid: np.ndarray | None = None, *, threshold: float, bands: int | None = None,
                rows: int | None = None, max_fanout: int = MAX_FANOUT,
                max_pairs_in_memory: int = 1 << 24) -> Match:
    """Match every ``valid`` row (digest ``(n, 2)`` uint64, sigs ``(n, k)`` uint32) against
    ``index`` (see the module docstring for the rule and the memory bound).

    ``bands``/``rows`` default to the index's and must equal them when given.
    """
    n = len(digest)
    valid = np.ones(n, bool) if valid is None else np.asarray(valid, bool)
    bands, rows = _check_layout(index, sigs, bands, rows, threshold)
    doc = _exact_matches(index, digest, valid, max_fanout)
    exact = doc >= 0
    best_doc = np.where(exact, doc, -1)
    best_sim = np.where(exact, 1.0, -np.inf)
    todo = np.flatnonzero(valid & ~exact & has_signature(sigs))
    stats = {"exact": int(exact.sum()), "candidate_pairs": 0, "capped_keys": 0}
    buffer = _PairBuffer(max_pairs_in_memory,
                         lambda q, d: _verify(index, sigs, q, d, threshold, best_doc, best_sim))
    for b in range(bands):
        keys = band_key(sigs, b, rows)[todo]
        order = np.argsort(keys, kind="stable")
        qkeys, qrows = keys[order], todo[order]
        for gen in index.generations:
            table = pq.read_table(gen.band_file(b), columns=["key", "doc"])
            ikeys, idocs = table["key"].to_numpy(), table["doc"].to_numpy()
            for q, d, capped in _equal_key_pairs(qkeys, qrows, ikeys, idocs, max_fanout,
                                                 max_pairs_in_memory):
                stats["candidate_pairs"] += len(q)
                stats["capped_keys"] += capped
                buffer.add(q, d)
            del table, ikeys, idocs
    buffer.flush()
    stats["verified_pairs"] = buffer.verified
    found = best_doc >= 0
    stats["near"] = int((found & ~exact).sum())
    return Match(best_doc, np.where(found, best_sim, np.nan), exact, stats)


def _check_layout(index: Index, sigs, bands, rows, threshold) -> tuple[int, int]:
    if not 0.0 < float(threshold) <= 1.0:
        raise ConfigError(f"threshold = {threshold!r} must be in (0, 1]")
    if sigs.ndim != 2 or sigs.shape[1] != index.num_perm:
        raise IndexMismatchError(index.path, "minhash.num_perm", index.num_perm,
                                 int(sigs.shape[-1]), "rebuild the index or run with "
                                 f"--num-perm {index.num_perm}")
    for key, want, have in (("lsh.bands", bands, index.bands), ("lsh.rows", rows,
                                                                 index.band_rows)):
        if want is not None and int(want) != have:
            raise IndexMismatchError(index.path, key, have, int(want),
                                     f"rebuild the index or run with --bands {index.bands} "
                                     f"--rows {index.band_rows}")
    return index.bands, index.band_rows


def _equal_key_pairs(qkeys, qrows, ikeys, idocs, cap: int, chunk: int):
    """``(query row, index doc, capped keys)`` for equal keys, in chunks of about ``chunk``.

    ``qkeys`` and ``ikeys`` are sorted; each query key pairs with at most ``cap`` index docs of
    its run of equal keys (the first ones: the smallest docs, as band files are sorted by
    ``(key, doc)``).
    """
    lo = np.searchsorted(ikeys, qkeys, "left")
    hi = np.searchsorted(ikeys, qkeys, "right")
    count = hi - lo
    capped = int((count > cap).sum())
    count = np.minimum(count, cap)
    hit = np.flatnonzero(count)
    if len(hit) == 0:
        return
    lo, count, qrows = lo[hit], count[hit], qrows[hit]
    ends = np.cumsum(count)
    start = 0
    while start < len(hit):
        base = ends[start - 1] if start else 0
        stop = max(start + 1, int(np.searchsorted(ends, base + chunk, "right")))
        c = count[start:stop]
        within = np.arange(int(c.sum())) - np.repeat(np.cumsum(c) - c, c)
        yield (np.repeat(qrows[start:stop], c), idocs[np.repeat(lo[start:stop], c) + within],
               capped if start == 0 else 0)
        start = stop


class _PairBuffer:
    """Collects candidate pairs; past ``limit`` it deduplicates them and hands them on."""

    def __init__(self, limit: int, verify):
        self.limit, self.verify = max(1, int(limit)), verify
        self.q: list[np.ndarray] = []
        self.d: list[np.ndarray] = []
        self.size = 0
        self.verified = 0

    def add(self, q: np.ndarray, d: np.ndarray) -> None:
        self.q.append(q)
        self.d.append(d)
        self.size += len(q)
        if self.size > self.limit:
            self.flush()

    def flush(self) -> None:
        if not self.size:
            return
        q, d = _unique_pairs(np.concatenate(self.q), np.concatenate(self.d))
        self.q, self.d, self.size = [], [], 0
        self.verified += len(q)
        self.verify(q, d)


def _unique_pairs(q: np.ndarray, d: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct ``(q, d)`` pairs sorted by ``(d, q)``: the order verification reads docs in."""
    order = np.lexsort((q, d))
    q, d = q[order], d[order]
    keep = np.ones(len(q), bool)
    keep[1:] = (q[1:] != q[:-1]) | (d[1:] != d[:-1])
    return q[keep], d[keep]


def _verify(index, sigs, q, d, threshold, best_doc, best_sim) -> None:
    """Estimate Jaccard for pairs sorted by doc, one docs.parquet row group at a time."""
    k = index.num_perm
    for pf, rg, lo, hi, local in _by_row_group(index, d):
        block = _sig_block(pf.read_row_group(rg, columns=["sig"])["sig"], k)
        for s in range(lo, hi, _VERIFY_CHUNK):
            e = min(hi, s + _VERIFY_CHUNK)
            sim = jaccard_estimate(sigs[q[s:e]], block[local[s - lo : e - lo]])
            _update_best(best_doc, best_sim, q[s:e], d[s:e], sim, threshold)


def _sig_block(column: pa.ChunkedArray, k: int) -> np.ndarray:
    return column.combine_chunks().flatten().to_numpy().reshape(-1, k)


def _update_best(best_doc, best_sim, q, d, sim, threshold) -> None:
    """Keep, per query row, the highest similarity ``>= threshold`` (ties: smallest doc)."""
    ok = sim >= threshold - 1e-12  # the run's verification tolerance (decide.verify_pairs)
    q, d, sim = q[ok], d[ok], sim[ok]
    if len(q) == 0:
        return
    order = np.lexsort((d, -sim, q))
    first = np.ones(len(order), bool)
    first[1:] = q[order][1:] != q[order][:-1]
    top = order[first]
    q, d, sim = q[top], d[top], sim[top]
    cur_doc = np.where(best_doc[q] < 0, np.iinfo(np.int64).max, best_doc[q])
    better = (sim > best_sim[q]) | ((sim == best_sim[q]) & (d < cur_doc))
    best_doc[q[better]] = d[better]
    best_sim[q[better]] = sim[better]


def _by_row_group(index: Index, docs_sorted: np.ndarray):
    """``(ParquetFile, row group, lo, hi, rows in group)`` for each run of sorted docs
    ``docs_sorted[lo:hi]`` that lies in one row group of one generation's docs.parquet."""
    for gen in index.generations:
        a = int(np.searchsorted(docs_sorted, gen.first_doc, "left"))
        b = int(np.searchsorted(docs_sorted, gen.first_doc + gen.rows, "left"))
        if a == b:
            continue
        pf = pq.ParquetFile(gen.file("docs.parquet"))
        sizes = [pf.metadata.row_group(i).num_rows for i in range(pf.num_row_groups)]
        starts = np.concatenate([[0], np.cumsum(sizes)])
        local = docs_sorted[a:b] - gen.first_doc
        group = np.searchsorted(starts, local, "right") - 1
        cuts = np.concatenate([[0], np.flatnonzero(np.diff(group)) + 1, [b - a]])
        for s, e in zip(cuts[:-1].tolist(), cuts[1:].tolist()):
            rg = int(group[s])
            yield pf, rg, a + s, a + e, local[s:e] - starts[rg]


def _exact_matches(index: Index, digest: np.ndarray, valid: np.ndarray, cap: int) -> np.ndarray:
    """Smallest index doc with each valid row's digest (-1: none), one generation at a time."""
    doc = np.full(len(digest), -1, np.int64)
    rows = np.flatnonzero(valid)
    for gen in index.generations:
        rows = rows[doc[rows] < 0]
        if len(rows) == 0:
            break
        t = pq.read_table(gen.file("digests.parquet"))
        hi, lo, docs = (t[c].to_numpy() for c in ("digest_hi", "digest_lo", "doc"))
        first = np.ones(len(hi), bool)  # sorted by (hi, lo, doc): first of a run is smallest
        first[1:] = (hi[1:] != hi[:-1]) | (lo[1:] != lo[:-1])
        hi, lo, docs = hi[first], lo[first], docs[first]
        order = np.argsort(digest[rows, 0], kind="stable")
        qrows = rows[order]
        for q, pos, _ in _equal_key_pairs(digest[qrows, 0], qrows, hi, np.arange(len(hi)),
                                          cap, 1 << 24):
            same = lo[pos] == digest[q, 1]
            doc[q[same]] = docs[pos[same]]
    return doc


def lookup(index: Index, docs: np.ndarray) -> tuple[pa.Array, pa.Array, np.ndarray]:
    """``(ids, source_file, source_row)`` of index ``docs``, reading only their row groups.

    A doc of -1 (no match) gives null id and source file and source row -1.
    """
    docs = np.asarray(docs, np.int64)
    if len(docs) and docs.max(initial=-1) >= index.num_docs:
        raise ValueError(f"doc {int(docs.max())} is not in the index ({index.num_docs} docs)")
    wanted = np.flatnonzero(docs >= 0)
    order = wanted[np.argsort(docs[wanted], kind="stable")]
    pieces, placed = [], []
    cols = ["id", "source_file", "source_row"]
    for pf, rg, lo, hi, local in _by_row_group(index, docs[order]):
        pieces.append(pf.read_row_group(rg, columns=cols).take(pa.array(local)))
        placed.append(order[lo:hi])
    table = (pa.concat_tables(pieces) if pieces
             else pa.table({"id": pa.array([], pa.string()),
                            "source_file": pa.array([], pa.string()),
                            "source_row": pa.array([], pa.int64())}))
    where = np.full(len(docs), -1, np.int64)
    if placed:
        where[np.concatenate(placed)] = np.arange(table.num_rows)
    take = pa.array(where, pa.int64(), mask=where < 0)
    rows = table["source_row"].take(take).fill_null(-1).to_numpy()
    return (table["id"].take(take).combine_chunks(),
            table["source_file"].take(take).combine_chunks(), rows)


def signatures(index: Index, docs: np.ndarray) -> np.ndarray:
    """``(len(docs), num_perm)`` signatures of the sorted index ``docs``, by row group."""
    docs = np.asarray(docs, np.int64)
    out = np.empty((len(docs), index.num_perm), np.uint32)
    for pf, rg, lo, hi, local in _by_row_group(index, docs):
        block = _sig_block(pf.read_row_group(rg, columns=["sig"])["sig"], index.num_perm)
        out[lo:hi] = block[local]
    return out


def boilerplate_counts(index: Index) -> tuple[np.ndarray, np.ndarray]:
    """``(keys, docs)``: boilerplate line keys summed over the generations that stored them."""
    keys, counts = [np.zeros(0, np.uint64)], [np.zeros(0, np.int64)]
    for gen in index.generations:
        try:
            t = pq.read_table(gen.file("boilerplate.parquet"))
        except FileNotFoundError:
            continue
        keys.append(t["key"].to_numpy())
        counts.append(t["docs"].to_numpy())
    k, c = np.concatenate(keys), np.concatenate(counts)
    uniq, inverse = np.unique(k, return_inverse=True)
    return uniq, np.bincount(inverse, weights=c, minlength=len(uniq)).astype(np.int64)
