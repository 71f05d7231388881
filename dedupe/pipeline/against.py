"""A run next to persistent indexes: ``--against`` removes what earlier runs kept, ``--write-index``
and ``--update-index`` store what this run keeps.

Matching happens after the run's own clusters are known. A new row whose digest or signature
matches an index document is removed, and so is every row of its cluster: the index documents
count as coming before every new row, so the cluster's survivor is the index document -- the
answer ``dedupe run OLD NEW`` gives with the ``first`` survivor policy. The manifest names the
match (``matched_index``, ``matched_id``, ``matched_file``, ``matched_row``: the index path and the
matched document's id and original file and row), never a placeholder.

The match runs as engine tasks (:func:`match_in_tasks`): per sign file, its rows' signatures
are read in batches of a quarter of ``engine.memory_limit`` and matched one band file at a time
(see :func:`dedupe.index.match_index`); the index is written in generations of the same size,
each by an engine task, committed together.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from dedupe.errors import OutputError
from dedupe.io.fs import join, makedirs
from dedupe.io.routed import map_missing, read_routed, write_routed, write_sorted
from dedupe.io.spill import read_ipc
from dedupe.near.decide import EXACT, NEAR
from dedupe.pipeline.decide_tasks import kept_mask, stage_counter
from dedupe.pipeline.store import FileList, OnFiles

__all__ = ["MATCH_COLUMNS", "AgainstPlan", "AgainstTask", "against_task", "check_write_target",
           "index_fingerprint", "match_in_tasks", "store_kept", "without_run", "written_by"]


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
    more on its way into Arrow)."""
    return max(1 << 12, cfg.engine.memory_bytes // 4 // (4 * cfg.minhash.num_perm))


def _chunks(rows: np.ndarray, size: int):
    for i in range(0, len(rows), size):
        yield rows[i : i + size]


MATCH_COLUMNS = ("matched_index", "matched_id", "matched_file", "matched_row")


@dataclass(frozen=True)
class AgainstPlan(OnFiles):
    """What every task of the ``--against`` match knows (see :func:`match_in_tasks`)."""

    files: FileList
    decision_paths: tuple[str, ...]  # the decide stage's decisions, one file per sign file
    against: tuple[str, ...]
    run_key: str
    threshold: float
    bands: int
    rows: int
    num_perm: int
    batch_rows: int
    partitions: int
    folder: str

    def path(self, step: str, i: int) -> str:
        return join(self.folder, f"{step}-{i:06d}.arrow")


@dataclass(frozen=True)
class AgainstTask:
    plan: AgainstPlan
    step: str  # "hits" per sign file, "givers" per partition, "matched" per sign file
    index: int

    @property
    def out(self) -> str:
        return self.plan.path(self.step, self.index)

    @property
    def label(self) -> str:
        return f"against {self.step} {self.index}"


def match_in_tasks(cfg, engine, files: FileList, decision_paths, bands: int, rows: int,
                   folder: str, partitions: int, run_key: str = "", progress=None
                   ) -> tuple[list[str], dict]:
    """``(decision files, stats)``: the run's decisions with the clusters that match an
    ``--against`` index removed, in three engine maps:

    1. ``hits`` (per sign file): its surviving rows matched against each index in order (the
       first match wins; generations this same run wrote are left out), in batches of a
       quarter of ``--memory-limit``; each hit with its cluster, routed by cluster;
    2. ``givers`` (per partition): each matched cluster's first hit (in row order);
    3. ``matched`` (per sign file): every surviving row of a matched cluster removed (``exact``
       when its text equals the giver's and the giver's match is exact, else ``near``), its
       similarity to the index document (its own match's, or estimated from the index
       document's signature), and the ``matched_*`` columns naming the document.

    No process holds an entry per row; the matched rows' decision files replace the decide
    stage's.
    """
    from dedupe.index import check_compatible, index_params, open_index

    params = index_params(cfg, bands, rows)
    for path in cfg.index.against:
        check_compatible(open_index(path).params, params, path)
    makedirs(folder)
    plan = AgainstPlan(files, tuple(decision_paths), tuple(cfg.index.against), run_key,
                       cfg.lsh.threshold, bands, rows, cfg.minhash.num_perm, _budget_rows(cfg),
                       partitions, folder)
    n = len(decision_paths)
    progress = stage_counter(progress, "index", 2 * n + partitions)  # one bar, three maps
    hits = map_missing(engine, against_task, [AgainstTask(plan, "hits", t) for t in range(n)],
                       "index", progress)
    map_missing(engine, against_task, [AgainstTask(plan, "givers", p)
                                       for p in range(partitions)], "index", progress)
    done = map_missing(engine, against_task, [AgainstTask(plan, "matched", t)
                                              for t in range(n)], "index", progress)
    stats = {"index_matches": sum(r["hits"] for r in hits),
             "index_removed": sum(r["removed"] for r in done),
             "index_exact": sum(r["exact"] for r in done)}
    return [plan.path("matched", t) for t in range(n)], stats


def against_task(task: AgainstTask) -> dict:
    return {"hits": _hits, "givers": _givers, "matched": _matched}[task.step](task)


def _digests(table) -> np.ndarray:
    return np.stack([table["digest_hi"].to_numpy(), table["digest_lo"].to_numpy()], axis=1)


def _hits(task: AgainstTask) -> dict:
    from dedupe.index import match_index, open_index

    plan, t = task.plan, task.index
    decided = read_ipc(plan.decision_paths[t])
    digest = _digests(read_ipc(plan.sign_paths[t]))
    sign_files = plan.files.sign_files(plan.num_perm)
    lo = plan.offsets[t]
    n = decided.num_rows
    index_of, doc = np.full(n, -1, np.int16), np.full(n, -1, np.int64)
    similarity, exact = np.full(n, np.nan), np.zeros(n, bool)
    valid = decided["survivor"].to_numpy() >= 0
    for j, path in enumerate(plan.against):
        index = without_run(open_index(path), plan.run_key)
        for part in _chunks(np.flatnonzero(valid & (doc < 0)), plan.batch_rows):
            found = match_index(index, digest[part], sign_files.gather(lo + part),
                                threshold=plan.threshold, bands=plan.bands, rows=plan.rows)
            hit = found.doc >= 0
            r = part[hit]
            index_of[r], doc[r] = j, found.doc[hit]
            similarity[r], exact[r] = found.similarity[hit], found.exact[hit]
    r = np.flatnonzero(doc >= 0)
    cluster = decided["cluster"].to_numpy()[r]
    cols = {"cluster": cluster, "row": lo + r, "index": index_of[r], "doc": doc[r],
            "similarity": similarity[r], "exact": exact[r], "digest_hi": digest[r, 0],
            "digest_lo": digest[r, 1]}
    write_routed(task.out, cols, cluster % plan.partitions, plan.partitions,
                 {"result": {"hits": len(r)}})
    return {"hits": len(r)}


def _givers(task: AgainstTask) -> dict:
    plan = task.plan
    names = ("cluster", "row", "index", "doc", "exact", "digest_hi", "digest_lo")
    rec = read_routed([plan.path("hits", t) for t in range(len(plan.decision_paths))],
                      task.index, names)
    order = np.lexsort((rec["row"], rec["cluster"]))
    first = np.ones(len(order), bool)
    first[1:] = rec["cluster"][order][1:] != rec["cluster"][order][:-1]
    pick = order[first]
    write_routed(task.out, {c: rec[c][pick] for c in names}, np.zeros(len(pick), np.int64), 1,
                 {"result": {"clusters": len(pick)}})
    return {"clusters": len(pick)}


def _matched(task: AgainstTask) -> dict:
    """Sign file ``t``'s decisions with its rows of matched clusters removed (see
    :func:`match_in_tasks`)."""
    from dedupe.index import lookup, open_index, signatures
    from dedupe.near.minhash import jaccard_estimate

    plan, t = task.plan, task.index
    decided = read_ipc(plan.decision_paths[t])
    digest = _digests(read_ipc(plan.sign_paths[t]))
    lo = plan.offsets[t]
    n = decided.num_rows
    cluster = decided["cluster"].to_numpy()
    valid = decided["survivor"].to_numpy() >= 0
    # the giver of each row's cluster, one partition of givers at a time
    giver_index, giver_doc = np.full(n, -1, np.int16), np.full(n, -1, np.int64)
    giver_exact, giver_digest = np.zeros(n, bool), np.zeros((n, 2), np.uint64)
    part_of = np.where(valid, cluster % plan.partitions, -1)
    for p in range(plan.partitions):
        mine = np.flatnonzero(part_of == p)
        if not len(mine):
            continue
        g = read_ipc(plan.path("givers", p))
        keys = g["cluster"].to_numpy()
        pos = np.minimum(np.searchsorted(keys, cluster[mine]), max(len(keys) - 1, 0))
        found = mine[keys[pos] == cluster[mine]] if len(keys) else mine[:0]
        at = pos[keys[pos] == cluster[mine]] if len(keys) else pos[:0]
        giver_index[found] = g["index"].to_numpy()[at]
        giver_doc[found] = g["doc"].to_numpy()[at]
        giver_exact[found] = g["exact"].to_numpy()[at]
        giver_digest[found] = _digests(g.take(pa.array(at)))
    # each row's own hit, if it has one
    h = read_ipc(plan.path("hits", t))
    hits = {c: h[c].to_numpy() for c in ("row", "index", "doc", "similarity", "exact")}
    own = np.zeros(n, bool)
    local = hits["row"] - lo
    own[local] = True
    index_of, doc = giver_index.copy(), giver_doc.copy()
    index_of[local], doc[local] = hits["index"], hits["doc"]
    exact = giver_exact & (digest == giver_digest).all(axis=1)
    exact[local] = hits["exact"]
    rows = np.flatnonzero(doc >= 0)
    action = decided["action"].to_numpy().copy()
    action[rows] = np.where(exact[rows], EXACT, NEAR)
    sim = decided["similarity"].to_numpy().copy()
    sim[rows] = np.nan
    sim[local] = hits["similarity"]
    sim[rows[exact[rows]]] = 1.0
    ids = np.full(n, None, object)
    names = np.full(n, None, object)
    src_rows = np.full(n, -1, np.int64)
    sign_files = plan.files.sign_files(plan.num_perm)
    for j, path in enumerate(plan.against):
        sel = np.flatnonzero(index_of == j)
        if not len(sel):
            continue
        index = open_index(path)
        i_ids, i_files, i_rows = lookup(index, doc[sel])
        ids[sel] = i_ids.to_numpy(zero_copy_only=False)
        names[sel] = i_files.to_numpy(zero_copy_only=False)
        src_rows[sel] = i_rows
        todo = sel[~own[sel] & ~exact[sel]]  # took their cluster's match: estimate
        for part in _chunks(todo, 1 << 16):
            uniq = np.unique(doc[part])
            theirs = signatures(index, uniq)[np.searchsorted(uniq, doc[part])]
            sim[part] = jaccard_estimate(sign_files.gather(lo + part), theirs)
    paths = np.array([*plan.against, None], object)
    result = {"removed": len(rows), "exact": int(exact[rows].sum())}
    cols = {**{c: decided[c] for c in decided.column_names}, "action": action,
            "similarity": sim,
            "matched_index": pa.array(paths[np.where(index_of < 0, len(paths) - 1, index_of)],
                                      pa.string()),
            "matched_id": pa.array(ids, pa.string()),
            "matched_file": pa.array(names, pa.string()),
            "matched_row": pa.array(src_rows, pa.int64(), mask=src_rows < 0)}
    write_sorted(task.out, cols, [0, n], {"result": result})
    return result


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
            kept = np.flatnonzero(kept_mask(decisions))[lo:hi]
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


def store_kept(cfg, files, tasks, counts: list[int], bands: int, rows: int,
               boilerplate=None, run_key: str = "", decision_paths=(), engine=None) -> dict:
    """Write the kept rows to ``--write-index`` (new) or append them to the first ``--against``
    index (``--update-index``), in generations of at most the memory budget, each written by an
    engine task (:class:`KeptChunk`) and all committed in one header write. ``boilerplate``:
    ``(keys, pages)`` of the run's boilerplate lines, stored with the first generation so later
    runs count those pages too. ``decision_paths``: each sign file's decisions, ``counts`` its
    kept rows."""
    from dedupe.index import append_index, create_index, index_params
    from dedupe.pipeline.write import cut_shards

    params = index_params(cfg, bands, rows)
    chunks = [KeptChunk(tuple((decision_paths[t], files.paths[t], tasks[t].source.path, lo, hi)
                              for t, lo, hi in segments), cfg.minhash.num_perm,
                        boilerplate if i == 0 else None)
              for i, segments in enumerate(cut_shards(counts, None, _budget_rows(cfg), None))]

    out_path = cfg.output.out
    source = out_path if "://" in out_path else os.path.abspath(out_path)
    out = {"path": cfg.index.against[0] if cfg.index.update else cfg.index.write,
           "rows": int(sum(counts)), "mode": "update" if cfg.index.update else "new"}
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
