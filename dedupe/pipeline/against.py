"""A run next to persistent indexes: ``--against`` removes what earlier runs kept, ``--write-index``
and ``--update-index`` store what this run keeps.

Matching happens after the run's own clusters are known. A new row whose digest or signature
matches an index document is removed, and so is every row of its cluster: the index documents
count as coming before every new row, so the cluster's survivor is the index document -- the
answer ``dedupe run OLD NEW`` gives with the ``first`` survivor policy. The manifest names the
match (``matched_index``, ``matched_id``, ``matched_file``, ``matched_row``: the index path and the
matched document's id and original file and row), never a placeholder.

Memory: the new rows' signatures are read in batches of a quarter of ``engine.memory_limit`` and
matched one band file at a time (see :func:`dedupe.index.match_index`); the index is
written in generations of the same size, committed together.
"""

from __future__ import annotations

import itertools
import json
import os
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from dedupe.errors import OutputError
from dedupe.io.spill import read_ipc
from dedupe.near.decide import EXACT, KEPT, NEAR, Decisions

__all__ = ["IndexMatches", "apply_matches", "check_write_target", "index_fingerprint",
           "match_against", "store_kept", "without_run", "written_by"]


@dataclass
class IndexMatches:
    """Per row: which ``--against`` index matched it (-1: none), the index document, the
    estimated Jaccard, whether the match was exact; plus the matched documents' names."""

    index: np.ndarray  # int16
    doc: np.ndarray  # int64
    similarity: np.ndarray
    exact: np.ndarray
    paths: tuple[str, ...]
    ids: pa.Array | None = None  # filled by name_matches
    files: pa.Array | None = None
    rows: np.ndarray | None = None


def index_fingerprint(paths, run_key: str = "") -> list[str]:
    """What a run's result depends on in each ``--against`` index: the generations it lists,
    less those this same run (``run_key``: config and inputs) wrote, so an index updated since
    never reuses stale work, while a run killed after its own update resumes."""
    out = []
    for p in paths:
        try:
            with open(os.path.join(p, "header.json"), encoding="utf-8") as fh:
                gens = json.load(fh).get("generations", [])
        except OSError:
            out.append(f"{p}|missing")
            continue
        out.append(f"{p}|" + ",".join(f"{g['name']}:{g['rows']}" for g in gens
                                      if not run_key or g.get("run") != run_key))
    return out


def without_run(index, run_key: str):
    """The index less the generations written by the run ``run_key`` (a rerun of the same
    command must not match its own kept rows)."""
    import dataclasses

    if not run_key:
        return index
    return dataclasses.replace(index, generations=tuple(
        g for g in index.generations if g.run != run_key))


def _budget_rows(cfg) -> int:
    """Signatures per batch: a quarter of ``engine.memory_limit`` (the batch is copied once
    more on its way into Arrow, and the run's per-row arrays come on top)."""
    return max(1 << 12, cfg.engine.memory_bytes // 4 // (4 * cfg.minhash.num_perm))


def _chunks(rows: np.ndarray, size: int):
    for i in range(0, len(rows), size):
        yield rows[i : i + size]


def match_against(cfg, files, digest: np.ndarray, valid: np.ndarray, bands: int,
                  rows: int, run_key: str = "") -> IndexMatches:
    """Match the ``valid`` rows against each ``--against`` index in order (first match wins);
    generations this same run wrote (``run_key``) are left out."""
    from dedupe.index import check_compatible, index_params, match_index, open_index

    n = len(valid)
    m = IndexMatches(np.full(n, -1, np.int16), np.full(n, -1, np.int64), np.full(n, np.nan),
                     np.zeros(n, bool), tuple(cfg.index.against))
    params = index_params(cfg, bands, rows)
    for j, path in enumerate(cfg.index.against):
        index = without_run(open_index(path), run_key)
        check_compatible(index.params, params, path)
        for part in _chunks(np.flatnonzero(valid & (m.doc < 0)), _budget_rows(cfg)):
            found = match_index(index, digest[part], files.gather(part),
                                threshold=cfg.lsh.threshold, bands=bands, rows=rows)
            hit = found.doc >= 0
            g = part[hit]
            m.index[g], m.doc[g] = j, found.doc[hit]
            m.similarity[g], m.exact[g] = found.similarity[hit], found.exact[hit]
    return m


def apply_matches(dec: Decisions, digest: np.ndarray, m: IndexMatches) -> np.ndarray:
    """Remove every cluster that holds a matched row (pure; changes ``dec`` and ``m``).

    A row without a match of its own takes its cluster's first matched row's match. Returns the
    rows that took a match this way (their similarity to the index document is still to be
    estimated).
    """
    hit = np.flatnonzero(m.doc >= 0)
    dec.stats.update(index_matches=0, index_removed=0, index_exact=0)
    if len(hit) == 0:
        return hit
    label = dec.cluster
    order = np.lexsort((hit, label[hit]))
    first = np.ones(len(order), bool)
    first[1:] = label[hit[order]][1:] != label[hit[order]][:-1]
    clusters, giver = label[hit[order][first]], hit[order][first]
    valid = dec.survivor >= 0
    rows = np.flatnonzero(valid & np.isin(label, clusters))
    src = giver[np.searchsorted(clusters, label[rows])]
    own = m.doc[rows] >= 0
    src = np.where(own, rows, src)
    inherited = rows[~own]
    m.index[inherited] = m.index[src[~own]]
    m.doc[inherited] = m.doc[src[~own]]
    same_text = (digest[rows] == digest[src]).all(axis=1)
    m.exact[rows] = m.exact[src] & same_text
    dec.action[rows] = np.where(m.exact[rows], EXACT, NEAR)
    dec.similarity[rows] = np.where(own, m.similarity[rows], np.nan)
    dec.similarity[rows[m.exact[rows]]] = 1.0
    m.similarity[rows] = dec.similarity[rows]
    dec.stats["index_matches"] = len(hit)
    dec.stats["index_removed"] = len(rows)
    dec.stats["index_exact"] = int(m.exact[rows].sum())
    return inherited[~m.exact[inherited]]


def finish_matches(files, dec: Decisions, m: IndexMatches, inherited: np.ndarray) -> None:
    """Estimate the similarity of rows that took their cluster's match, and name every match
    (index document id, original file and row) for the manifest."""
    from dedupe.index import lookup, open_index, signatures
    from dedupe.near.minhash import jaccard_estimate

    n = len(m.doc)
    ids = np.full(n, None, object)
    names = np.full(n, None, object)
    src_rows = np.full(n, -1, np.int64)
    for j, path in enumerate(m.paths):
        sel = np.flatnonzero(m.index == j)
        if len(sel) == 0:
            continue
        index = open_index(path)
        i_ids, i_files, i_rows = lookup(index, m.doc[sel])
        ids[sel] = i_ids.to_numpy(zero_copy_only=False)
        names[sel] = i_files.to_numpy(zero_copy_only=False)
        src_rows[sel] = i_rows
        todo = np.intersect1d(inherited, sel)
        for part in _chunks(todo, 1 << 16):
            docs = m.doc[part]
            uniq = np.unique(docs)
            theirs = signatures(index, uniq)[np.searchsorted(uniq, docs)]
            sim = jaccard_estimate(files.gather(part), theirs)
            dec.similarity[part] = sim
            m.similarity[part] = sim
    m.ids = pa.array(ids, pa.string())
    m.files = pa.array(names, pa.string())
    m.rows = src_rows


def manifest_columns(m: IndexMatches | None, lo: int, hi: int, n: int) -> dict:
    """The four ``matched_*`` manifest columns of global rows ``lo:hi`` (null: no match)."""
    if m is None or m.ids is None:
        return {"matched_index": pa.nulls(hi - lo, pa.string()),
                "matched_id": pa.nulls(hi - lo, pa.string()),
                "matched_file": pa.nulls(hi - lo, pa.string()),
                "matched_row": pa.nulls(hi - lo, pa.int64())}
    idx = m.index[lo:hi]
    paths = np.array([*m.paths, None], object)
    return {"matched_index": pa.array(paths[np.where(idx < 0, len(m.paths), idx)], pa.string()),
            "matched_id": m.ids.slice(lo, hi - lo),
            "matched_file": m.files.slice(lo, hi - lo),
            "matched_row": pa.array(m.rows[lo:hi], pa.int64(), mask=m.rows[lo:hi] < 0)}


def written_by(path: str, run_key: str) -> bool:
    """Whether the index at ``path`` holds generations and every one was written by the run
    ``run_key`` (the same config and inputs: what this run would write again)."""
    from dedupe.index import open_index

    if not os.path.exists(os.path.join(path, "header.json")):
        return False
    gens = open_index(path).generations
    return bool(gens) and all(g.run == run_key for g in gens)


def check_write_target(cfg, sources, run_key: str) -> None:
    """Refuse a ``--write-index`` folder before any work: one that is, holds or sits inside an
    input or the work folder, holds the run's output folder, or already holds anything but
    what this same run wrote there (``--write-index`` creates an index and never replaces one,
    whatever ``--overwrite`` says: that flag is about the run folder)."""
    from dedupe.io.folders import check_not_protected, is_within, protected_paths

    path = cfg.index.write
    if not path:
        return
    check_not_protected(path, protected_paths(cfg, sources), "index folder")
    if is_within(cfg.output.out, path):
        raise OutputError(f"--write-index {path} would hold the run's own output folder "
                          f"{cfg.output.out}: choose another folder")
    if not os.path.isdir(path) or not os.listdir(path) or written_by(path, run_key):
        return
    if os.path.exists(os.path.join(path, "header.json")):
        raise OutputError(f"--write-index {path} already holds an index; --write-index makes a "
                          "new one and never replaces an index: add to it with --against "
                          f"{path} --update-index, or choose another folder")
    raise OutputError(f"--write-index {path} exists and is not empty: choose another folder")


@dataclass(frozen=True)
class KeptChunk:
    """One index generation's documents: kept rows ``lo:hi`` (in row order) of each listed work
    task, read from its decision and sign files by the engine task that writes the
    generation (:func:`dedupe.index.writer.write_generation`), never by the main process."""

    picks: tuple[tuple[str, str, str, int, int], ...]  # decisions, sign file, source, lo, hi
    num_perm: int
    boilerplate: tuple | None = None

    def __len__(self) -> int:
        return sum(hi - lo for *_, lo, hi in self.picks)

    def load(self):
        from dedupe.index import IndexRows

        ids, names, rows, digests, sigs = [], [], [], [], []
        for decisions, sign, source, lo, hi in self.picks:
            kept = np.flatnonzero(read_ipc(decisions)["action"].to_numpy() == KEPT)[lo:hi]
            table = read_ipc(sign).take(pa.array(kept))
            ids.append(table["id"].combine_chunks())
            names.append(pa.array([source] * len(kept), pa.string()))
            rows.append(table["source_row"].to_numpy())
            digests.append(np.stack([table["digest_hi"].to_numpy(),
                                     table["digest_lo"].to_numpy()], 1))
            sigs.append(table["sig"].combine_chunks().flatten().to_numpy()
                        .reshape(-1, self.num_perm))
        return IndexRows(pa.concat_arrays(ids), pa.concat_arrays(names), np.concatenate(rows),
                         np.concatenate(digests), np.concatenate(sigs), self.boilerplate)


def store_kept(cfg, files, tasks, kept: np.ndarray, bands: int, rows: int,
               boilerplate=None, run_key: str = "", decision_paths=(), engine=None) -> dict:
    """Write the kept rows to ``--write-index`` (new) or append them to the first ``--against``
    index (``--update-index``), in generations of at most the memory budget, each written by an
    engine task (:class:`KeptChunk`) and all committed in one header write. ``boilerplate``:
    ``(keys, pages)`` of the run's boilerplate lines, stored with the first generation so later
    runs count those pages too. ``decision_paths``: each sign file's decisions, whose kept rows
    are ``kept``."""
    from dedupe.index import append_index, create_index, index_params
    from dedupe.pipeline.write import cut_shards

    params = index_params(cfg, bands, rows)
    counts = [int(kept[lo:hi].sum()) for lo, hi in itertools.pairwise(files.offsets)]
    chunks = [KeptChunk(tuple((decision_paths[t], files.paths[t], tasks[t].source.path, lo, hi)
                              for t, lo, hi in segments), cfg.minhash.num_perm,
                        boilerplate if i == 0 else None)
              for i, segments in enumerate(cut_shards(counts, None, _budget_rows(cfg), None))]

    out_path = cfg.output.out
    source = out_path if "://" in out_path else os.path.abspath(out_path)
    out = {"path": cfg.index.against[0] if cfg.index.update else cfg.index.write,
           "rows": int(kept.sum()), "mode": "update" if cfg.index.update else "new"}
    if cfg.index.update:
        from dedupe.index import open_index

        if run_key and any(g.run == run_key for g in open_index(out["path"]).generations):
            return {**out, "mode": "already there"}  # a rerun after the update was committed
        append_index(out["path"], params, chunks, source=source, run=run_key,
                     compression=cfg.output.compression, engine=engine)
    else:
        if run_key and written_by(out["path"], run_key):
            return {**out, "mode": "already there"}  # a rerun after the index was written
        create_index(out["path"], params, chunks, overwrite=False, source=source,
                     run=run_key, compression=cfg.output.compression, engine=engine)
    return out
