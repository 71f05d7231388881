"""The decide stage as engine tasks over partitions: no process holds an entry per row.

:func:`dedupe.near.decide.decide` computes the same decisions from arrays in one process; here
each step is one ``engine.map`` whose tasks read their slice of the previous step's routed
files (:mod:`dedupe.io.routed`) and write their own, all under ``WORK/decide``:

1. ``digests`` (per sign file): every deduplicated row's digest, length and score, routed by
   digest to ``P`` partitions;
2. ``exact`` (per partition): exact groups; every row with its representative (its group's
   first row), routed by the representative's sign file;
3. ``bands`` (per sign file): the LSH keys of the representatives with shingles, routed by key
   range, so a bucket lies whole in one partition;
4. ``candidates`` (per partition): each band's candidate pairs (the same bucket rule as one
   process, :func:`dedupe.near.lsh.candidate_pairs`), routed by the pair's smaller row;
5. ``verify`` (per partition): distinct pairs, verified against the signatures (or shingle
   sets) read from the sign files; the edges that pass;
6. connected components in rounds (:mod:`dedupe.near.components`): a label per node range;
7. ``assign`` (per sign file): every row's cluster label (its representative's), routed by
   label;
8. ``survivors`` (per partition): cluster sizes, survivors by the policy, actions and the
   similarity of each near duplicate to its survivor, routed back by sign file;
9. ``decisions`` (per sign file): the file's decision columns (``decide-TTTTTT.arrow``).

Every step is a pure function of its inputs and sorts what it reads, so the result is the same
for any partition count, task order, worker count and engine. A file under its final name is a
finished task: a killed run resumes at the first missing file. The planner keeps file names,
row counts per sign file, and a few numbers per task.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

import numpy as np

from dedupe.io.fs import exists, join, makedirs, read_text, remove, remove_tree, size, write_text
from dedupe.io.routed import (
    map_missing,
    read_routed,
    routed_meta,
    sort_columns,
    write_routed,
    write_sorted,
)
from dedupe.io.spill import read_ipc
from dedupe.memory import PeakRSS
from dedupe.near.components import components_in_rounds, node_ranges, partition_of
from dedupe.near.decide import (
    EMPTY,
    KEPT,
    REJECTED,
    ROW_EMPTY,
    ROW_OK,
    cluster_actions,
    exact_similarity,
    pair_similarity,
    passes,
    survivors_by_policy,
    verify_pairs,
)
from dedupe.near.exact import exact_groups
from dedupe.near.lsh import (
    band_key,
    band_pairs,
    pair_keys,
    pair_keys_fit,
    unique_pair_keys,
    unique_pairs_first,
)
from dedupe.pipeline.store import FileList, OnFiles, SignFiles, band_column, status_path
from dedupe.text.hashing import fmix64_inplace

__all__ = ["DECISION_COLUMNS", "DecidePlan", "FileDecisions", "Member", "StepTask",
           "decide_in_tasks", "kept_mask", "kept_partitions", "make_plan", "partitions_for",
           "run_step",
           "stage_counter"]

DECISION_COLUMNS = ("action", "cluster", "survivor", "cluster_size", "similarity")
SHARED_STEPS = ("digests", "exact")  # the steps that do not depend on the LSH threshold
HIST_BINS = 50  # the similarity histogram of a sweep's candidates: bins of 0.02
MIN_PARTITION_ROWS = 4096  # below this a partition costs more to plan than to compute
# a partition's candidates task holds, per row and band, its (band, key, row) record (18 bytes)
# and the sorts' index arrays and pair lists: about 64 bytes a row and band, measured as the
# task's peak at 1M and 3M rows (19 bands: 434 MiB at 250k rows, 902 MiB at 750k)
BYTES_PER_ROW_BAND = 64
# candidate pairs are routed to PAIR_SLICES slices per partition; the verify tasks then take
# runs of slices of about a quarter of --memory-limit each, counted at BYTES_PER_PAIR a pair
# read (the routed record, the distinct-pair sort's temporaries, the similarity, the edges)
PAIR_SLICES = 16
BYTES_PER_PAIR = 96


def partitions_for(rows: int, workers: int, memory_bytes: int = 2 << 30, bands: int = 19) -> int:
    """Partitions for ``rows`` rows: a few per worker while there is work for them, and enough
    that the heaviest step's task holds about a quarter of ``--memory-limit`` (``bands``: the
    LSH bands, each a record per row), so a worker's memory stays bounded by the limit, not
    by the corpus."""
    per_worker = min(2 * workers, -(-rows // MIN_PARTITION_ROWS))
    per_partition = max(MIN_PARTITION_ROWS, memory_bytes // 4 // (BYTES_PER_ROW_BAND * bands))
    return max(1, per_worker, -(-rows // per_partition))


def kept_partitions(folder: str, cfg, rows: int, workers: int) -> int:
    """A decide stage's partition count: ``--partitions``, or chosen for the rows, workers and
    bands (:func:`partitions_for`); kept in ``folder/plan.json``, so a resumed run keeps the
    count its files were made with (the workers may differ)."""
    from dedupe.near.lsh import lsh_params

    path = join(folder, "plan.json")
    if exists(path):
        return int(json.loads(read_text(path))["partitions"])
    partitions = cfg.engine.partitions or partitions_for(rows, workers, cfg.engine.memory_bytes,
                                                         lsh_params(cfg)[0])
    write_text(path, json.dumps({"partitions": partitions}))
    return partitions


@dataclass(frozen=True)
class Member:
    """A threshold decided from another plan's candidates: its threshold, band count, folder
    (where its verify files go) and sample size (see ``DecidePlan.sample``)."""

    threshold: float
    bands: int
    folder: str
    sample: int = 0

    def path(self, step: str, i: int) -> str:
        return join(self.folder, f"{step}-{i:06d}.arrow")


@dataclass(frozen=True)
class DecidePlan(OnFiles):
    """What every task of the stage knows: the sign files and their global row offsets (in a
    file of the work folder, :class:`~dedupe.pipeline.store.FileList`), the LSH and clustering
    settings, the partition count and the folder of the step files."""

    files: FileList
    num_perm: int
    bands: int
    rows: int
    max_bucket: int
    threshold: float
    verify: str
    survivor: str
    partitions: int
    folder: str
    max_rows: int
    max_values: int
    status_folder: str | None = None  # rows rejected after signing (duplicate ids)
    # a sweep decides one set of sign files at many thresholds: the steps that do not depend
    # on the threshold (digests, exact groups) live in ``shared`` and are kept for the next
    shared: str | None = None
    # a sweep's view of the candidates: ``sample`` pairs per 0.1 of similarity and a histogram
    # (verify results), and at most ``max_pairs_per_row`` candidates per row (0: all)
    sample: int = 0
    max_pairs_per_row: int = 0
    # whether the sign files hold this b x r's band keys (a run's do; a sweep's thresholds
    # each band the signatures themselves)
    stored_keys: bool = True
    memory: int = 2 << 30  # --memory-limit: sizes the verify tasks (see verify_groups)
    # a sweep's other thresholds of the same rows per band and at most this plan's bands:
    # their candidates are this plan's pairs whose first colliding band is below their band
    # count, so this plan's bands, candidates and verify steps serve them too (see _verify)
    members: tuple[Member, ...] = ()
    # rows of one file with equal values of this sign-file column never pair (the passages
    # of one page: their overlapping windows would chain a page's passages into one cluster)
    group_column: str | None = None

    @property
    def n(self) -> int:
        return self.offsets[-1]

    def path(self, step: str, i: int) -> str:
        folder = self.shared if self.shared and step in SHARED_STEPS else self.folder
        return join(folder, f"{step}-{i:06d}.arrow")

    def paths(self, step: str, count: int) -> list[str]:
        return [self.path(step, i) for i in range(count)]

    def sign_files(self) -> SignFiles:
        return self.files.sign_files(self.num_perm)

    def status(self, t: int, table) -> np.ndarray:
        """Sign file ``t``'s row status, with the rows rejected after signing."""
        if self.status_folder:
            return read_ipc(status_path(self.status_folder, t))["status"].to_numpy()
        return table["status"].to_numpy()


def make_plan(cfg, sign_paths, num_rows, folder: str, workers: int,
              status_folder: str | None = None, **sweep) -> DecidePlan:
    """The plan of a run's decide stage. ``max_rows`` caps the signatures a verify task holds
    (a quarter of ``--memory-limit``), ``max_values`` the shingles of exact verification
    (about 40 bytes of numpy temporaries per shingle, see :mod:`dedupe.near.jaccard`)."""
    from dedupe.near.lsh import lsh_params

    bands, rows = lsh_params(cfg)
    offsets = np.concatenate([[0], np.cumsum(num_rows, dtype=np.int64)]).tolist()
    memory = cfg.engine.memory_bytes
    makedirs(folder)
    files = FileList.write(join(folder, "files.json"), sign_paths, offsets)
    return DecidePlan(
        files, cfg.minhash.num_perm, bands, rows,
        cfg.lsh.max_bucket_size, cfg.lsh.threshold, cfg.lsh.verify, cfg.cluster.survivor,
        cfg.engine.partitions or partitions_for(offsets[-1], workers, memory, bands), folder,
        max(1 << 12, memory // 4 // (4 * cfg.minhash.num_perm)),
        max(1 << 16, memory // 4 // 40), status_folder, memory=memory, **sweep)


def kept_mask(decision_path: str) -> np.ndarray:
    """One decision file's kept rows, as a mask (one byte a row of that file)."""
    return read_ipc(decision_path)["action"].to_numpy() == KEPT


class FileDecisions:
    """A run's decisions as the later stages see them: one decision file per sign file (the
    decide stage's, then ``--against``'s, then the finishing tasks' of
    :mod:`dedupe.pipeline.finish`), and per-file counts. Tasks read the files; the main
    process holds nothing with an entry per row."""

    def __init__(self, paths, stats: dict, files: FileList | None = None):
        self.paths = list(paths)
        self.files = files  # the sign files the decisions are of
        self.stats = dict(stats)
        self.note: dict[int, str] | None = None  # global row -> reason: duplicate ids only
        self.kept: list[int] = []  # kept rows per sign file, once finished
        self.counts: dict[str, int] = {}  # rows per action, once finished


@dataclass(frozen=True)
class StepTask:
    """Task ``index`` of step ``step`` (see the module docstring)."""

    plan: DecidePlan
    step: str
    index: int
    inputs: tuple[str, ...] = ()  # the label files (assign)
    slices: tuple[int, int] = (0, 0)  # the candidate slices it verifies (verify)

    @property
    def out(self) -> str:
        return self.plan.path(self.step, self.index)

    @property
    def label(self) -> str:
        return f"{self.step} {self.index}"


# --- the steps ----------------------------------------------------------------------------


def _digests(task: StepTask) -> dict:
    plan, t = task.plan, task.index
    table = read_ipc(plan.sign_paths[t])
    valid = np.flatnonzero(plan.status(t, table) == ROW_OK)
    hi = table["digest_hi"].to_numpy()[valid]
    cols = {"row": plan.offsets[t] + valid.astype(np.int64), "digest_hi": hi,
            "digest_lo": table["digest_lo"].to_numpy()[valid],
            "length": table["length"].to_numpy()[valid],
            "score": table["score"].to_numpy()[valid]}
    part = (hi % np.uint64(plan.partitions)).astype(np.int64)
    return _write(task, cols, part, {"rows": len(valid)})


def _exact(task: StepTask) -> dict:
    plan = task.plan
    rec = read_routed(plan.paths("digests", len(plan.sign_paths)), task.index,
                      ("row", "digest_hi", "digest_lo", "length", "score"))
    digest = np.stack([rec["digest_hi"], rec["digest_lo"]], axis=1)
    rec["rep"] = rec["row"][exact_groups(digest, rec["row"])]
    return _write(task, rec, plan.file_of(rec["rep"]), {"rows": len(rec["row"])}, by_file=True)


def _bands(task: StepTask) -> dict:
    plan, t = task.plan, task.index
    rec = read_routed(plan.paths("exact", plan.partitions), t, ("row", "rep"))
    table = read_ipc(plan.sign_paths[t])
    reps = np.sort(rec["row"][rec["row"] == rec["rep"]])
    local = reps - plan.offsets[t]
    keep = table["n_shingles"].to_numpy()[local] > 0
    reps, local = reps[keep], local[keep]
    if plan.stored_keys:
        keys = [table[band_column(b)].to_numpy()[local] for b in range(plan.bands)]
    else:
        sigs = plan.sign_files().gather(reps)
        keys = [band_key(sigs, b, plan.rows) for b in range(plan.bands)]
    key = np.concatenate(keys) if keys else np.zeros(0, np.uint64)
    band = np.repeat(np.arange(plan.bands, dtype=np.int16), len(reps))
    # key ranges: the top 32 bits of a uniform hash scaled to the partition count
    part = ((key >> np.uint64(32)) * np.uint64(plan.partitions) >> np.uint64(32)).astype(np.int64)
    cols = {"band": band, "key": key, "row": np.tile(reps, plan.bands)}
    return _write(task, cols, part, {"representatives": len(reps)})


def _candidates(task: StepTask) -> dict:
    plan = task.plan
    rec = read_routed(plan.paths("bands", len(plan.sign_paths)), task.index,
                      ("band", "key", "row"))
    # each pair once, with its first band when members (thresholds of fewer bands) need it;
    # a pair is one int64 key while the row and band counts allow (see pair_keys_fit)
    m, bands = plan.n, (plan.bands if plan.members else 1)
    coded = pair_keys_fit(m, bands)
    found, oversized, largest = [], 0, 1
    order = np.argsort(rec["band"].astype(np.uint16), kind="stable")  # one radix pass
    cuts = np.searchsorted(rec["band"][order], np.arange(plan.bands + 1))
    for b in range(plan.bands):
        sel = order[cuts[b] : cuts[b + 1]]
        if not len(sel):
            continue
        a, c, over, big = band_pairs(rec["key"][sel], rec["row"][sel], plan.max_bucket)
        found.append(pair_keys(a, c, b, m, bands) if coded
                     else (a, c, np.full(len(a), b, np.int16)))
        oversized += over
        largest = max(largest, big)
    del rec, order
    if coded:
        key = np.concatenate(found) if found else np.zeros(0, np.int64)
        del found
        a, b, first = unique_pair_keys(key, m, bands)
        del key
    else:
        a, b, first = unique_pairs_first(*(np.concatenate([f[i] for f in found] or [[]])
                                           for i in range(3)))
    cols = {"a": a, "b": b, "band": first} if plan.members else {"a": a, "b": b}
    slices = plan.partitions * PAIR_SLICES
    part = _pair_slice(a, slices)
    del a, b, first  # the dict holds the only references: sorted one column at a time
    offsets = sort_columns(cols, part, slices, task.out)
    del part
    result = {"oversized": oversized, "largest": largest}
    write_sorted(task.out, cols, offsets, {"result": result})
    return result


def _pair_slice(a: np.ndarray, slices: int) -> np.ndarray:
    """The candidate slice of pairs of smaller row ``a``: a hash of ``a``, so every pair of a
    row goes to one verify task (as the cap needs) and slices get about equal shares of the
    pairs. Not a range of rows: the smallest rows are the centres of the large buckets' stars
    and the smaller row of most pairs, so the first range would hold many times its share
    (measured at 1M pages: one verify task of 4.5 GB)."""
    x = a.astype(np.uint64)
    with np.errstate(over="ignore"):
        fmix64_inplace(x, None)
    x %= np.uint64(slices)
    return x.astype(np.uint16 if slices <= 1 << 16 else np.int64)


def verify_groups(plan: DecidePlan, candidate_paths) -> list[tuple[int, int]]:
    """The verify tasks: runs of candidate slices, cut where a task would read more pairs than
    a quarter of ``--memory-limit`` holds (``BYTES_PER_PAIR`` a pair), or more than an equal
    share over ``partitions`` tasks; known once the candidates are written, so a task's
    memory follows the pairs, not the rows (a low threshold has hundreds a row)."""
    slices = plan.partitions * PAIR_SLICES
    counts = np.zeros(slices, np.int64)
    for path in candidate_paths:
        counts += np.diff(np.asarray(routed_meta(path)["offsets"], np.int64))
    budget = max(1, min(plan.memory // 4 // BYTES_PER_PAIR,
                        -(-int(counts.sum()) // plan.partitions)))
    groups, start, held = [], 0, 0
    for i, c in enumerate(counts.tolist()):
        if held and held + c > budget:
            groups.append((start, i))
            start, held = i, 0
        held += c
    groups.append((start, slices))
    return groups


class _Rows:
    """The sign files seen through the sorted global rows ``ends``: index ``i`` is row
    ``ends[i]`` (so :func:`exact_similarity` needs set sizes only of the pairs' rows)."""

    def __init__(self, files: SignFiles, ends: np.ndarray):
        self.files, self.ends = files, ends

    def shingle_sets(self, idx):
        return self.files.shingle_sets(self.ends[idx])


def _verify(task: StepTask) -> dict:
    """The partition's distinct candidate pairs verified; the edges that pass, written for
    this plan and for each of its members (a member's candidates are the pairs whose first
    band is below its band count, capped per row on their own, with its own threshold)."""
    plan, (lo, hi) = task.plan, task.slices
    rec = read_routed(plan.paths("candidates", plan.partitions), lo,
                      ("a", "b", "band") if plan.members else ("a", "b"), hi)
    a, b, first = unique_pairs_first(rec["a"], rec["b"], rec.get("band", 0))
    del rec
    if plan.group_column and len(a):
        apart = _different_groups(plan, a, b)
        a, b, first = a[apart], b[apart], first[apart]
    own = Member(plan.threshold, plan.bands, plan.folder, plan.sample)
    # which of the pairs each threshold takes (a is sorted, as the cap needs)
    takes, capped = [], []
    for m in (own, *plan.members):
        mask = first < m.bands
        if plan.max_pairs_per_row:
            keep = _cap_mask(a, b, mask, plan.max_pairs_per_row)
            capped.append(int(mask.sum() - keep.sum()))
            mask = keep
        else:
            capped.append(0)
        takes.append(mask)
    needed = np.logical_or.reduce(takes)
    if not needed.all():
        a, b, takes = a[needed], b[needed], [t[needed] for t in takes]
    del first, needed
    files = plan.sign_files()
    exact = None
    if plan.verify == "exact" and len(a):
        ends = np.unique(np.concatenate([a, b]))
        sizes = files.values("n_shingles", ends)

        def exact(x, y):
            rows = _Rows(files, ends)
            return exact_similarity(rows, np.searchsorted(ends, x), np.searchsorted(ends, y),
                                    sizes, plan.max_values)
    # the similarity does not depend on the threshold: one verification for every member
    _, sim = verify_pairs(files, a, b, plan.threshold, plan.verify, exact, plan.max_rows)
    # edge files of dedupe.near.components (columns a and b, read whole); this task's own
    # last, since its file marks the task finished
    results = []
    for m, take, cap in reversed(list(zip((own, *plan.members), takes, capped))):
        passed = take & passes(sim, m.threshold, plan.verify)
        result = {"candidates": int(take.sum()), "verified": int(passed.sum()), "capped": cap}
        if m.sample:
            result["hist"] = np.histogram(sim[take], HIST_BINS, (0.0, 1.0))[0].tolist()
            result["sample"] = _sample(a[take], b[take], sim[take], m.sample)
        if m is own:
            result["members"] = results[::-1]
        write_routed(task.out if m is own else m.path("verify", task.index),
                     {"a": a[passed], "b": b[passed]}, np.zeros(int(passed.sum()), np.int64),
                     1, {"result": result})
        results.append(result)
    return result


def _different_groups(plan: DecidePlan, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Which pairs join rows of different groups (``plan.group_column``, within a file)."""
    ends = np.unique(np.concatenate([a, b]))
    group = plan.sign_files().values(plan.group_column, ends).astype(np.int64)
    file = plan.file_of(ends)
    ia, ib = np.searchsorted(ends, a), np.searchsorted(ends, b)
    return (file[ia] != file[ib]) | (group[ia] != group[ib])


def _pair_hash(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """A well-mixed 64-bit hash of each pair (splitmix64 of ``a``, then of that plus ``b``):
    what a sweep samples and caps by, the same for any partitioning."""
    def mix(x):
        x = (x + np.uint64(0x9E3779B97F4A7C15)) & np.uint64(0xFFFFFFFFFFFFFFFF)
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return x ^ (x >> np.uint64(31))

    with np.errstate(over="ignore"):  # rows are non-negative: their bits as unsigned
        return mix(mix(a.view(np.uint64)) + b.view(np.uint64))


def _cap_mask(a: np.ndarray, b: np.ndarray, mask: np.ndarray, per_row: int) -> np.ndarray:
    """Of the pairs in ``mask``, at most ``per_row`` per smaller row (``a``), those of the
    smallest pair hashes. Every pair of a row is in one verify task, so the cap is the same
    for any partition count."""
    keep = np.zeros(len(a), bool)
    sel = np.flatnonzero(mask)
    if not len(sel):
        return keep
    x = a[sel]
    order = np.lexsort((_pair_hash(x, b[sel]), x))
    x = x[order]
    starts = np.flatnonzero(np.r_[True, x[1:] != x[:-1]])
    rank = np.arange(len(x)) - np.repeat(starts, np.diff(np.r_[starts, len(x)]))
    keep[sel[order[rank < per_row]]] = True
    return keep


def _sample(a: np.ndarray, b: np.ndarray, sim: np.ndarray, per_band: int) -> list:
    """Up to ``per_band`` pairs of each 0.1-wide similarity band, those of the smallest pair
    hashes (so the stage's sample is the same for any partitioning): ``[hash, a, b, sim]``."""
    out = []
    h = _pair_hash(a, b)
    band = np.minimum((sim * 10).astype(np.uint8), 9)
    order = np.argsort(band, kind="stable")  # a radix sort of bytes
    cuts = np.searchsorted(band[order], np.arange(11))
    for k in range(10):
        sel = order[cuts[k] : cuts[k + 1]]
        if len(sel) > per_band:  # the smallest hashes without sorting them all
            sel = sel[np.argpartition(h[sel], per_band - 1)[:per_band]]
        for i in sel[np.lexsort((sel, h[sel]))].tolist():
            out.append([int(h[i]), int(a[i]), int(b[i]), float(sim[i])])
    return out


def _assign(task: StepTask) -> dict:
    plan, t, labels = task.plan, task.index, task.inputs
    rec = read_routed(plan.paths("exact", plan.partitions), t,
                      ("row", "rep", "digest_hi", "digest_lo", "length", "score"))
    lo, hi = plan.offsets[t], plan.offsets[t + 1]
    bounds = node_ranges(plan.n, plan.partitions)
    label = np.empty(hi - lo, np.int64)
    for p in range(int(partition_of(np.array([lo]), bounds)[0]), plan.partitions):
        first, last = int(bounds[p]), int(bounds[p + 1])
        if first >= hi:
            break
        part = read_ipc(labels[p])["label"].to_numpy()
        a, b = max(lo, first), min(hi, last)
        label[a - lo : b - lo] = part[a - first : b - first]
    rec["label"] = label[rec.pop("rep") - lo]
    return _write(task, rec, partition_of(rec["label"], bounds), {"rows": len(rec["row"])})


def _survivors(task: StepTask) -> dict:
    plan = task.plan
    rec = read_routed(plan.paths("assign", len(plan.sign_paths)), task.index,
                      ("label", "row", "digest_hi", "digest_lo", "length", "score"))
    order = np.argsort(rec["row"], kind="stable")
    rec = {k: v[order] for k, v in rec.items()}
    row, label = rec["row"], rec["label"]
    at = survivors_by_policy(label, row, rec["length"], rec["score"], plan.survivor)  # indexes
    survivor = row[at]
    _, inverse, counts = np.unique(label, return_inverse=True, return_counts=True)
    same = ((rec["digest_hi"] == rec["digest_hi"][at])
            & (rec["digest_lo"] == rec["digest_lo"][at]))
    action = cluster_actions(survivor == row, same)
    similarity = np.ones(len(row))
    near = np.flatnonzero((survivor != row) & ~same)
    if len(near):
        similarity[near] = pair_similarity(plan.sign_files(), row[near], survivor[near],
                                           plan.max_rows)
    size = counts[inverse]
    cols = {"row": row, "action": action, "survivor": survivor, "cluster_size": size,
            "similarity": similarity}
    return _write(task, cols, plan.file_of(row),
                  {"largest_cluster": int(counts.max()) if len(counts) else 0}, by_file=True)


def _decisions(task: StepTask) -> dict:
    plan, t = task.plan, task.index
    status = plan.status(t, read_ipc(plan.sign_paths[t]))
    n = len(status)
    own = plan.offsets[t] + np.arange(n, dtype=np.int64)
    action = np.full(n, REJECTED, np.int8)
    action[status == ROW_EMPTY] = EMPTY
    survivor, size, similarity = np.full(n, -1, np.int64), np.zeros(n, np.int64), np.full(n, np.nan)
    rec = read_routed(plan.paths("survivors", plan.partitions), t,
                      ("row", "action", "survivor", "cluster_size", "similarity"))
    local = rec["row"] - plan.offsets[t]
    action[local] = rec["action"]
    survivor[local] = rec["survivor"]
    size[local] = rec["cluster_size"]
    similarity[local] = rec["similarity"]
    cols = {"action": action, "cluster": np.where(survivor >= 0, survivor, own),
            "survivor": survivor, "cluster_size": size, "similarity": similarity}
    write_routed(task.out, cols, np.zeros(n, np.int64), 1, {"result": {"rows": n}})
    return {"rows": n}


_STEPS = {"digests": _digests, "exact": _exact, "bands": _bands, "candidates": _candidates,
          "verify": _verify, "assign": _assign, "survivors": _survivors,
          "decisions": _decisions}


def _write(task: StepTask, cols: dict, part: np.ndarray, result: dict,
           by_file: bool = False) -> dict:
    """Write the task's records routed to the next step's partitions (``by_file``: to the
    sign files' tasks); the result goes in the metadata, for a resumed run."""
    plan = task.plan
    parts = len(plan.sign_paths) if by_file else plan.partitions
    write_routed(task.out, cols, part, parts, {"result": result})
    return result


def run_step(task: StepTask) -> dict:
    """Run one task of a step (the engine's stage function); its result has the task's peak
    resident memory."""
    rss = PeakRSS.start()
    result = _STEPS[task.step](task)
    return {**result, "peak_rss": rss.stop()}


# --- the driver ---------------------------------------------------------------------------

# each step, and the steps that read its files (a step's files go once all of them finished)
_READERS = {"digests": ("exact",), "exact": ("bands", "assign"), "bands": ("candidates",),
            "candidates": ("verify",), "verify": ("components",), "components": ("assign",),
            "assign": ("survivors",), "survivors": ("decisions",), "decisions": ()}


def _count(plan: DecidePlan, step: str) -> int:
    per_file = ("digests", "bands", "assign", "decisions")
    if step == "verify":
        return len(_groups(plan.folder) or ())
    return len(plan.sign_paths) if step in per_file else plan.partitions


def _groups_path(folder: str) -> str:
    return join(folder, "verify-groups.json")


def _groups(folder: str) -> list[tuple[int, int]] | None:
    """The verify tasks' slices, once planned (None before)."""
    path = _groups_path(folder)
    return [tuple(g) for g in json.loads(read_text(path))] if exists(path) else None


def _outputs(plan: DecidePlan, step: str) -> list[str]:
    if step == "components":
        return [join(plan.folder, "components", f"labels-{p:05d}.arrow")
                for p in range(plan.partitions)]
    return plan.paths(step, _count(plan, step))


def _done(plan: DecidePlan, step: str) -> bool:
    if step == "verify" and _groups(plan.folder) is None:
        return False  # not planned yet
    return all(exists(p) for p in _outputs(plan, step))


def _run(engine, plan: DecidePlan, step: str, progress) -> list[dict]:
    """Every task's result: missing files are made, finished ones read back."""
    if step == "components":
        labels = _outputs(plan, "components")
        if not all(exists(p) for p in labels):
            components_in_rounds(engine, _outputs(plan, "verify"), plan.n,
                                 join(plan.folder, "components"), plan.partitions, progress)
        meta = routed_meta(labels[0])
        return [{"rounds": meta.get("round", 0),
                 "bytes": sum(size(p) for p in labels)}]
    labels = tuple(_outputs(plan, "components")) if step == "assign" else ()
    if step == "verify":
        groups = _groups(plan.folder)
        if groups is None:  # planned from the candidate files, for this plan and its members
            groups = verify_groups(plan, _outputs(plan, "candidates"))
            for folder in (*[m.folder for m in plan.members], plan.folder):
                write_text(_groups_path(folder), json.dumps(groups))
        tasks = [StepTask(plan, step, i, slices=g) for i, g in enumerate(groups)]
    else:
        tasks = [StepTask(plan, step, i, labels) for i in range(_count(plan, step))]
    results = map_missing(engine, run_step, tasks, "decide", progress)
    return [{**r, "bytes": size(t.out)} for t, r in zip(tasks, results)]


def _summary(step: str, results: list[dict], seconds: float) -> dict:
    """``{"stats": ..., "step": ...}``: the numbers of a step the report keeps with the LSH
    statistics, and its tasks, seconds and bytes written (the data moved to the next step)."""
    def total(key):
        return int(sum(r[key] for r in results))

    stats = {}
    if step == "bands":
        stats = {"exact_representatives": total("representatives")}
    elif step == "candidates":
        stats = {"oversized_buckets": total("oversized"),
                 "largest_bucket": max([r["largest"] for r in results], default=1)}
    elif step == "verify":
        cand, ok = total("candidates"), total("verified")
        stats = {"candidate_pairs": cand, "verified_pairs": ok, "rejected_pairs": cand - ok}
        if any(r.get("capped") for r in results):
            stats["capped_pairs"] = total("capped")
        if results and "hist" in results[0]:
            stats["similarity_hist"] = np.sum([r["hist"] for r in results], axis=0).tolist()
            stats["sample_pairs"] = [p for r in results for p in r["sample"]]
    elif step == "survivors":
        stats = {"largest_cluster": max([r["largest_cluster"] for r in results], default=0)}
    info = {"tasks": len(results), "seconds": round(seconds, 3), "bytes": total("bytes"),
            "peak_rss_worker": max([r.get("peak_rss", 0) for r in results], default=0)}
    if step == "components":
        info = {"rounds": results[0]["rounds"], "seconds": round(seconds, 3),
                "bytes": total("bytes")}
    return {"stats": stats, "step": info}


def _remove_consumed(plan: DecidePlan, finished: set) -> None:
    """Delete the files of every step whose readers have all finished: a killed run resumes
    from the newest finished step, which never needs them again."""
    for step, readers in _READERS.items():
        if not readers or not all(r in finished for r in readers):
            continue
        if plan.shared and step in SHARED_STEPS:
            continue  # the next threshold of a sweep reads them again
        if step == "components":
            remove_tree(join(plan.folder, "components"))
            continue
        for path in _outputs(plan, step):
            if exists(path):
                remove(path)


def _summary_path(plan: DecidePlan, step: str) -> str:
    folder = plan.shared if plan.shared and step in SHARED_STEPS else plan.folder
    return join(folder, f"{step}.json")


def _counting(progress, plan: DecidePlan, stage: str = "decide"):
    """A progress callback for every step's map (components rounds too) that reports the
    stage's tasks done so far as one count under ``stage``, against the tasks planned (the
    rounds are not known in advance: the total grows as they come)."""
    files, parts = len(plan.sign_paths), plan.partitions
    # four steps per sign file, four per partition, a scatter
    return stage_counter(progress, stage, 4 * files + 5 * parts)


def stage_counter(progress, stage: str, planned: int):
    """A progress callback for several maps that reports their tasks done so far as one count
    under ``stage``, against ``planned`` (or the count so far, once more ran)."""
    if progress is None:
        return None
    done = [0]

    def report(_stage, _done, _total, _result):
        done[0] += 1
        progress(stage, done[0], max(planned, done[0]), None)

    report.done = done
    return report


def decide_in_tasks(engine, plan: DecidePlan, progress=None, stage: str = "decide"
                    ) -> tuple[list[str], dict, dict]:
    """Run the stage (see the module docstring); returns the decision file of every sign file,
    the LSH statistics of the report, and the partition count with each step's tasks, seconds
    and bytes written (a resumed run reports the seconds its steps took when they ran)."""
    makedirs(plan.folder)
    progress = _counting(progress, plan, stage)
    order = list(_READERS)
    last = max([i for i, s in enumerate(order) if _done(plan, s)], default=-1)
    if last >= 0 and not exists(_summary_path(plan, order[last])):
        last -= 1  # killed before its summary was written: its results are read back
    finished = set(order[: last + 1])
    for step in order[last + 1 :]:
        started = time.perf_counter()
        results = _run(engine, plan, step, progress)
        summary = _summary(step, results, time.perf_counter() - started)
        write_text(_summary_path(plan, step), json.dumps(summary))
        for j, m in enumerate(plan.members):  # their bands, candidates and verify steps
            if step in ("bands", "candidates", "verify"):
                own = summary if step != "verify" else _summary(
                    step, [{**r["members"][j], "bytes": 0} for r in results], 0.0)
                write_text(join(m.folder, f"{step}.json"), json.dumps(own))
        finished.add(step)
        _remove_consumed(plan, finished)
    stats = {"bands": plan.bands, "rows": plan.rows}
    steps = {}
    for step in order:
        summary = json.loads(read_text(_summary_path(plan, step)))
        stats.update(summary["stats"])
        steps[step] = summary["step"]
    return _outputs(plan, "decisions"), stats, {"partitions": plan.partitions, "steps": steps}
