"""Threshold sweep: signatures once per shingling, every threshold decided from them.

For each ``(shingle, ngram, num_perm)`` the sign stage runs once (through the same engine and
stage function as ``dedupe run``); then, for each threshold, b x r is chosen exactly as
``dedupe run`` would choose it and the run's own decide stage (engine tasks over partitions,
:mod:`dedupe.pipeline.decide_tasks`) clusters the rows, so memory is bounded by
``--memory-limit``, not by the sample or the threshold. What is reused across thresholds, and
why it is exact: the digests and exact groups (they do not depend on the threshold), the
sign files, and the candidate pairs of thresholds with equal rows per band. Band ``k`` hashes
signature positions ``k*r .. k*r + r - 1`` whatever the band count, so the candidates of ``b``
bands are exactly the pairs of ``b' >= b`` bands whose first colliding band is below ``b``;
the threshold of most bands pairs and verifies once (a pair's similarity does not depend on
the threshold) and writes every such threshold's edges. Across different rows per band
nothing is reused: one b x r's candidates are not a subset of another's in general (a pair
that collides in one of 20 bands of 6 rows may collide in none of 9 bands of 14).

With labels, every setting is scored (pairwise precision, recall, F1, adjusted Rand index, rows
removed); without labels, the similarity of the lowest threshold's candidate pairs shows where
duplicates stop (a histogram and a sample per 0.1 band, gathered by the verify tasks). A row
with more candidate pairs than ``--max-pairs-per-row`` keeps those of the smallest pair hashes
(the same for any worker or partition count); the pairs left out are counted in the table's
``capped_pairs`` column, never silently.
"""

from __future__ import annotations

import itertools
import os
import shutil
import time
from dataclasses import dataclass, field, replace

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from dedupe.config import DedupeConfig
from dedupe.engines import make_engine
from dedupe.errors import ConfigError, InputError
from dedupe.evaluate.labelled_pairs import pairwise_from_pairs
from dedupe.evaluate.metrics import removed_fraction, score
from dedupe.io.folders import protected_paths
from dedupe.io.readers import read_task
from dedupe.io.sources import expand_inputs
from dedupe.io.spill import read_ipc
from dedupe.io.unify import cast, merge_type
from dedupe.near.decide import EMPTY, EXACT, NEAR, REJECTED
from dedupe.near.lsh import collision_probability, lsh_params
from dedupe.pipeline.decide_tasks import Member, decide_in_tasks, make_plan, partitions_for
from dedupe.pipeline.ids import mark_duplicate_ids
from dedupe.pipeline.run_folder import prepare_out
from dedupe.pipeline.schema import check_schemas
from dedupe.pipeline.sign import SignTask, sign_task
from dedupe.pipeline.store import SignFiles
from dedupe.pipeline.tasks import make_tasks

__all__ = ["SweepResult", "parse_grid", "sign_all", "sweep"]


def parse_grid(spec: str, kind=float, name: str = "grid") -> list:
    """``"0.05:0.95:0.05"`` (start:stop:step, inclusive) or ``"3,5,7"`` into a list; ``name``
    (the option) is named in the error."""
    spec = str(spec).strip()
    if kind is str:
        values = [x.strip() for x in spec.split(",") if x.strip()]
    else:
        try:
            if ":" in spec:
                start, stop, step = (float(x) for x in spec.split(":"))
                if step <= 0:
                    raise ValueError
                values = [kind(round(v, 10)) for v in np.arange(start, stop + step / 2, step)]
            else:
                values = [kind(x) for x in spec.split(",") if x.strip()]
        except ValueError:
            what = "integers" if kind is int else "numbers"
            raise ConfigError(f"{name} {spec!r}: use start:stop:step or a,b,c ({what})") from None
    if not values:
        raise ConfigError(f"{name} {spec!r} gives no value: use start:stop:step or a,b,c")
    return values


def _check_grid(cfg: DedupeConfig, thresholds, ngrams, num_perms, shingles) -> None:
    """Every grid value is a valid config value: a wrong one stops the sweep before any work,
    with the config's own message (key, value, what is allowed)."""
    for th in thresholds:
        replace(cfg.lsh, threshold=th)
    for ngram in ngrams:
        replace(cfg.minhash, ngram=ngram)
    for num_perm in num_perms:
        replace(cfg.minhash, num_perm=num_perm)
    for shingle in shingles or ():
        replace(cfg.minhash, shingle=shingle)


@dataclass
class SweepResult:
    """Everything the sweep measured; ``table`` has one row per setting."""

    table: pa.Table
    labelled: bool
    similarities: dict = field(default_factory=dict)  # (shingle, ngram, num_perm) -> array
    removed: dict = field(default_factory=dict)  # unlabelled: threshold -> rows removed
    pairs: list = field(default_factory=list)  # sampled pairs for pairs.html
    best: dict | None = None
    files: dict = field(default_factory=dict)  # the outputs written: what -> file names


def _labels(tasks, tables, column: str, text_column: str) -> pa.Array:
    """The label column in global row order, as read (rows that could not be read are null).

    Read as Arrow arrays, never through numpy: an integer column's nulls stay nulls (numpy
    would make them NaN, which no check for a missing label sees)."""
    offsets = np.concatenate([[0], np.cumsum([t.num_rows for t in tables])]).astype(np.int64)
    positions, values = [], []
    for t, (task, table) in enumerate(zip(tasks, tables)):
        rows = table["source_row"].to_numpy()
        for rb in read_task(task, [column], on_bad_row="reject", text_column=text_column):
            positions.append(offsets[t] + np.searchsorted(rows, rb.source_rows))
            values.append(rb.batch.column(0))
    kind = pa.null()
    for v in values:
        kind, _ = merge_type(kind, v.type)
    read = pa.concat_arrays([cast(v, kind) for v in values]) if values else pa.nulls(0)
    where = np.full(int(offsets[-1]), -1, np.int64)
    if positions:
        where[np.concatenate(positions)] = np.arange(len(read))
    return read.take(pa.array(where, mask=where < 0))


def _check_labels(labels: pa.Array, valid: np.ndarray, tasks, tables, column: str) -> None:
    """Every row that is scored has a label (a null or NaN is none): else an error naming the
    first such row's file and row."""
    missing = np.flatnonzero(pc.is_null(labels, nan_is_null=True).to_numpy(
        zero_copy_only=False) & valid)
    if not len(missing):
        return
    offsets = np.concatenate([[0], np.cumsum([t.num_rows for t in tables])])
    g = int(missing[0])
    t = int(np.searchsorted(offsets, g, side="right") - 1)
    row = int(tables[t]["source_row"][g - int(offsets[t])].as_py())
    raise InputError(tasks[t].source.path, f"some rows have no label ({len(missing)} of "
                     f"{int(valid.sum())} scored rows; this is the first)", row=row,
                     column=column, hint="give every row a label, or score with --labels "
                                         "PAIRS instead")


def _label_codes(labels: pa.Array) -> np.ndarray:
    """One integer per distinct label (equal labels, equal codes), for the metrics."""
    codes = pc.dictionary_encode(labels).indices
    return codes.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64)


def _ids(tables) -> pa.Array:
    """Every row's id, in global row order (the columns' chunks joined, not converted)."""
    chunks = [c for t in tables for c in t["id"].chunks]
    return pa.concat_arrays(chunks) if chunks else pa.array([], pa.string())


def _pairs_labels(path: str, ids: np.ndarray):
    """A labelled pairs file (``id_a, id_b, duplicate``) as row indices."""
    import pyarrow.parquet as pq

    table = pq.read_table(path) if path.endswith((".parquet", ".pq")) else None
    if table is None:
        import pyarrow.csv as pacsv

        table = pacsv.read_csv(path)
    missing = {"id_a", "id_b", "duplicate"} - set(table.column_names)
    if missing:
        raise InputError(path, f"labelled pairs need columns id_a, id_b, duplicate; "
                               f"missing {sorted(missing)}")
    index = {v: i for i, v in enumerate(ids.tolist())}
    a, b, dup = [], [], []
    for x, y, d in zip(*(table[c].to_pylist() for c in ("id_a", "id_b", "duplicate"))):
        if str(x) in index and str(y) in index:
            a.append(index[str(x)])
            b.append(index[str(y)])
            dup.append(bool(d))
    if not a:
        raise InputError(path, "no labelled pair names two ids of the input")
    return np.array(a), np.array(b), np.array(dup)


def sign_all(cfg, tasks, engine, work: str, reasons: dict):
    """``(sign files, status folder or None, seconds)``: one shingling's sign files, and the
    rows rejected for a duplicate id."""
    folder = os.path.join(work, f"sign-{cfg.fingerprint()}")
    os.makedirs(folder, exist_ok=True)
    sts = [SignTask(t, cfg, os.path.join(folder, f"sign-{t.index:06d}.arrow"),
                    reasons.get(t.source.uri), check_all_columns=False) for t in tasks]
    t0 = time.perf_counter()
    engine.map(sign_task, sts, stage="sign")
    files = SignFiles([s.path for s in sts], cfg.minhash.num_perm)
    ids = os.path.join(folder, "ids")
    _, status_paths = mark_duplicate_ids(cfg, engine, files, tasks, ids,
                                         partitions_for(files.total_rows, engine.workers))
    return files, (ids if status_paths else None), time.perf_counter() - t0


def _decisions(paths, columns) -> dict[str, np.ndarray]:
    """Columns of the decision files in global row order (labelled sweeps: one entry a row)."""
    parts = [read_ipc(p) for p in paths]
    return {c: (np.concatenate([t[c].to_numpy() for t in parts]) if parts else np.zeros(0))
            for c in columns}


def _removed(paths) -> tuple[int, int]:
    """``(rows removed, rows deduplicated)`` counted one decision file at a time: a cluster
    keeps one row, the rest are removed (exact or near); rejected and empty rows do not
    count."""
    removed = valid = 0
    for p in paths:
        action = read_ipc(p)["action"].to_numpy()
        removed += int(np.isin(action, (EXACT, NEAR)).sum())
        valid += int((~np.isin(action, (REJECTED, EMPTY))).sum())
    return removed, valid


def sweep(cfg: DedupeConfig, out: str, *, thresholds, ngrams, num_perms, shingles=None,
          labels_column: str | None = None, labels_path: str | None = None,
          sample_pairs: int = 6, max_pairs_per_row: int = 0, progress=None,
          write: bool = True) -> SweepResult:
    """Run the grid (see module docstring); ``cfg`` supplies everything else. With ``write``
    the outputs (tables, plots, report) are written into ``out`` while it is still locked."""
    _check_grid(cfg, thresholds, ngrams, num_perms, shingles)
    sources = expand_inputs(cfg.input.paths, cfg.input.format)
    # only the columns the sweep reads must agree between files
    _, reasons = check_schemas(sources, cfg, keys_only=True,
                               extra_keys=[labels_column] if labels_column else [])
    _, lock = prepare_out(out, cfg.output.overwrite, kind="sweep",
                          protected=protected_paths(cfg, sources))
    try:
        result = _sweep_grid(cfg, out, sources, reasons, thresholds, ngrams, num_perms,
                             shingles, labels_column, labels_path, sample_pairs,
                             max_pairs_per_row, progress)
        if write:
            from dedupe.evaluate.sweep_report import write_sweep

            result.files = write_sweep(result, out, cfg.output.compression)
        return result
    finally:
        lock.release()


def _sweep_grid(cfg, out, sources, reasons, thresholds, ngrams, num_perms, shingles,
                labels_column, labels_path, sample_pairs, max_pairs_per_row,
                progress) -> SweepResult:
    work = os.path.join(out, "_work")
    engine = make_engine(cfg.engine)
    tasks = make_tasks(sources, engine)
    base = cfg.with_overrides({"spans.repeats": False, "spans.boilerplate": False,
                               "spans.windows": False, "spans.stats": False})
    rows, done = [], []
    result = SweepResult(pa.table({}), bool(labels_column or labels_path))
    truth = pairs = None
    settings = list(itertools.product(shingles or [cfg.minhash.shingle], ngrams, num_perms))
    total = len(settings) * len(thresholds)
    low = min(thresholds)
    try:
        for shingle, ngram, num_perm in settings:
            vcfg = replace(base, minhash=replace(base.minhash, shingle=shingle,
                                                 ngram=int(ngram), num_perm=int(num_perm)))
            files, status_folder, sign_s = sign_all(vcfg, tasks, engine, work, reasons)
            folder = os.path.join(work, f"decide-{vcfg.fingerprint()}")
            shared = os.path.join(folder, "shared")
            os.makedirs(shared, exist_ok=True)
            # one partition count for every threshold: the shared files are routed by it
            bands = max(lsh_params(replace(vcfg, lsh=replace(vcfg.lsh, threshold=float(th))))[0]
                        for th in thresholds)
            partitions = cfg.engine.partitions or partitions_for(
                files.total_rows, engine.workers, cfg.engine.memory_bytes, bands)
            plans = {}
            for i, th in enumerate(thresholds):
                tcfg = replace(vcfg, lsh=replace(vcfg.lsh, threshold=float(th)),
                               engine=replace(vcfg.engine, partitions=partitions))
                plans[i] = make_plan(tcfg, files.paths, files.num_rows,
                                     os.path.join(folder, f"t{i:03d}"), engine.workers,
                                     status_folder, shared=shared,
                                     sample=sample_pairs if th == low else 0,
                                     max_pairs_per_row=max_pairs_per_row, stored_keys=False)
            plans = _share_candidates(plans)
            for i in _leaders_first(plans):
                th, plan = thresholds[i], plans[i]
                t0 = time.perf_counter()
                paths, stats, _ = decide_in_tasks(engine, plan)
                row = {"shingle": shingle, "ngram": int(ngram), "num_perm": int(num_perm),
                       "threshold": float(th), "bands": stats["bands"], "rows": stats["rows"]}
                if truth is None and labels_column:
                    labels = _labels(tasks, files, labels_column, cfg.input.text_column)
                if pairs is None and labels_path:
                    ids = np.array(_ids(files).to_pylist())
                    pairs = _pairs_labels(labels_path, ids)
                if labels_column or labels_path:
                    dec = _decisions(paths, ("action", "cluster"))
                    valid = ~np.isin(dec["action"], (REJECTED, EMPTY))
                    if truth is None and labels_column:
                        _check_labels(labels, valid, tasks, files, labels_column)
                        truth = _label_codes(labels)
                    pred = dec["cluster"][valid]
                    row.update(_scores(truth, pairs, pred, valid, dec["cluster"]))
                    row["removed_fraction"] = removed_fraction(pred)
                    row["rows_removed"] = int(len(pred) - len(np.unique(pred)))
                else:
                    removed, n_valid = _removed(paths)
                    row.update(_scores(None, None, None, None, None))
                    row["removed_fraction"] = removed / n_valid if n_valid else 0.0
                    row["rows_removed"] = removed
                row["candidate_pairs"] = int(stats.get("candidate_pairs", 0))
                row["capped_pairs"] = int(stats.get("capped_pairs", 0))
                if th == low:
                    key = (shingle, int(ngram), int(num_perm))
                    result.similarities[key] = np.array(stats.get("similarity_hist", []))
                    if not result.pairs:
                        result.pairs = _sample_pairs(stats.get("sample_pairs", []), tasks,
                                                     files, cfg.input.text_column,
                                                     sample_pairs)
                shutil.rmtree(plan.folder, ignore_errors=True)
                dt = time.perf_counter() - t0
                # this setting's own decide and scoring (a group's shared candidates and
                # verification in its first setting's); its shingling's signing, once for all
                row["seconds"] = round(dt, 4)
                row["sign_seconds"] = round(sign_s, 4)
                rows.append((i, row))
                if progress:
                    progress("sweep", len(done) + len(rows), total, {"rows": files.total_rows})
            shutil.rmtree(folder, ignore_errors=True)
            done.extend(row for _, row in sorted(rows))  # in the grid's order
            rows = []
    finally:
        engine.close()
        shutil.rmtree(work, ignore_errors=True)
    rows = done
    result.table = pa.Table.from_pylist(rows)
    if result.labelled and rows:
        best = max(rows, key=lambda r: (r["f1"], r["ari"], -r["threshold"]))
        result.best = best
    return result


def _share_candidates(plans: dict) -> dict:
    """Thresholds of equal rows per band share one set of candidates: band ``k`` hashes the
    same signature positions whatever the band count, so the candidates of ``b`` bands are
    exactly the pairs of ``b' >= b`` bands that first collide in a band below ``b``. The
    plan of most bands (the first such threshold) becomes the group's leader and carries the
    others as members: it bands, pairs and verifies once (the similarity of a pair does not
    depend on the threshold) and writes every member's edges; each member then clusters on
    its own. Returns the plans with the leaders' members set."""
    groups: dict[int, list[int]] = {}
    for i, plan in plans.items():
        groups.setdefault(plan.rows, []).append(i)
    out = dict(plans)
    for members in groups.values():
        lead = max(members, key=lambda i: (plans[i].bands, -i))
        out[lead] = replace(plans[lead], members=tuple(
            Member(plans[i].threshold, plans[i].bands, plans[i].folder, plans[i].sample)
            for i in members if i != lead))
    return out


def _leaders_first(plans: dict) -> list[int]:
    """The order to decide in: each group's leader before its members (which read its
    files), otherwise the grid's order."""
    lead_of = {m.folder: i for i, p in plans.items() for m in p.members}
    order, seen = [], set()
    for i, plan in plans.items():
        lead = lead_of.get(plan.folder, i)
        for j in (lead, i):
            if j not in seen:
                seen.add(j)
                order.append(j)
    return order


def _scores(truth, pairs, pred, valid, cluster) -> dict:
    nan = float("nan")
    if truth is not None:
        s = score(truth[valid], pred)
        return {k: s[k] for k in ("precision", "recall", "f1", "ari")}
    if pairs is not None:
        a, b, dup = pairs
        c = pairwise_from_pairs((a, b, dup), cluster)
        return {"precision": c.precision, "recall": c.recall, "f1": c.f1, "ari": nan}
    return {"precision": nan, "recall": nan, "f1": nan, "ari": nan}


def _sample_pairs(sample: list, tasks, files, column, per_band) -> list[dict]:
    """Up to ``per_band`` candidate pairs of each 0.1-wide similarity band (those of the
    smallest pair hashes among every verify task's picks), texts and ids attached."""
    from dedupe.pipeline.fetch import fetch_values

    chosen = []
    for k in range(10):
        picks = sorted(p for p in sample if min(int(p[3] * 10), 9) == k)[:per_band]
        lo = k / 10
        chosen += [{"band": f"{lo:.1f}-{lo + 0.1:.1f}", "similarity": float(sim),
                    "a": int(a), "b": int(b)} for _, a, b, sim in picks]
    if not chosen:
        return []
    rows = np.unique([p["a"] for p in chosen] + [p["b"] for p in chosen])
    texts = fetch_values(tasks, files, rows.tolist(), column)
    ids = files.string_column("id", rows).to_pylist()
    for p in chosen:
        p["text_a"], p["text_b"] = texts.get(p["a"]) or "", texts.get(p["b"]) or ""
        p["id_a"] = ids[int(np.searchsorted(rows, p["a"]))]
        p["id_b"] = ids[int(np.searchsorted(rows, p["b"]))]
    return chosen


def s_curve_points(bands: int, rows: int, n: int = 101):
    s = np.linspace(0, 1, n)
    return s, collision_probability(s, bands, rows)
