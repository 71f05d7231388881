"""The runner: stage order, the run folder, row accounting. Reads like the recipe it is.

    sources -> tasks -> [sign]  per task: digest + signature files
            -> decide           exact groups, LSH, verification, clusters, survivors
            -> [write]          per shard: surviving rows, input schema unchanged
            -> manifest, report

Every input row ends up in exactly one place: an output shard (``kept``) or the manifest only
(every other action); the runner checks this before it reports success.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from dataclasses import replace

import numpy as np

from dedupe.config import DedupeConfig
from dedupe.engines import make_engine
from dedupe.errors import DedupeError, OutputError
from dedupe.io.folders import (
    FolderLock,
    check_not_protected,
    check_replaceable,
    empty_folder,
    protected_paths,
    write_marker,
)
from dedupe.io.sources import expand_inputs, plan_tasks
from dedupe.io.spill import ipc_metadata, read_ipc
from dedupe.near.decide import KEPT, decide, exact_similarity
from dedupe.near.lsh import lsh_params, s_curve
from dedupe.pipeline.outputs import (
    scheme_metadata,
    span_summary,
    top_lines,
    write_manifest,
    write_spans,
)
from dedupe.pipeline.schema import check_schemas, output_schema
from dedupe.pipeline.sign import SignTask, input_schema, sign_task, spans_enabled
from dedupe.pipeline.spans_plan import collect_spans
from dedupe.pipeline.store import SignFiles
from dedupe.pipeline.write import ShardTask, plan_shards, write_shard
from dedupe.report import RunReport, StageTimer, versions
from dedupe.schemes import recorded_schemes, scheme_mismatch

__all__ = ["prepare_out", "run_pipeline"]


_RUN_MARKER = "_work/run.json"


def run_fingerprint(cfg: DedupeConfig, sources, indexes: bool = True) -> str:
    """What a run's intermediate files depend on: the config (less the settings that cannot
    change any result: overwrite, work folder, engine and workers), every input file's path,
    size and modification time, and (``indexes``) the state of each ``--against`` index less
    what this very run added to it. A changed config never reuses stale work. With
    ``indexes`` False: the run's key in an index (output folder and index writing left out)."""
    data = cfg.to_dict()
    data["output"].pop("overwrite")
    data["output"].pop("workdir")
    data.pop("engine")
    # the files themselves (below), not how the paths were spelled from the current folder
    data["input"].pop("paths")
    data["output"]["out"] = os.path.abspath(data["output"]["out"])
    files = []
    for src in sources:
        mtime = os.path.getmtime(src.uri) if os.path.exists(src.uri) else ""
        files.append(f"{src.uri}|{src.size}|{mtime}")
    # the run's key in an index: the same data and config, whatever the output folder and
    # whether the index is written this time
    same = {**data, "output": {k: v for k, v in data["output"].items() if k != "out"},
            "index": {"against": data["index"]["against"]}}
    key = hashlib.sha256(json.dumps([same, files], sort_keys=True, default=str).encode())
    if not indexes:
        return key.hexdigest()[:16]
    from dedupe.pipeline.against import index_fingerprint

    files.extend(index_fingerprint(cfg.index.against, key.hexdigest()[:16]))
    blob = json.dumps([data, files], sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def _remove_partial_files(out: str) -> None:
    """Delete the temporary files a killed run left (never a file under a final name)."""
    for folder in (os.path.join(out, "data"), os.path.join(out, "manifest.parquet"), out):
        if not os.path.isdir(folder):
            continue
        for name in os.listdir(folder):
            if name.startswith(".") and ".tmp" in name:
                os.unlink(os.path.join(folder, name))


def _resumable(out: str, fingerprint: str | None) -> bool:
    """An unfinished run of the same fingerprint is in ``out`` (refuses one of another)."""
    marker = os.path.join(out, _RUN_MARKER)
    if not fingerprint or not os.path.exists(marker) or os.path.exists(
            os.path.join(out, "report.json")):
        return False
    with open(marker, encoding="utf-8") as fh:
        if json.load(fh).get("fingerprint") == fingerprint:
            return True
    raise OutputError(f"{out} holds an unfinished run with another config or input; pass "
                      "--overwrite to start again")


def prepare_out(out: str, overwrite: bool, fingerprint: str | None = None, *,
                kind: str = "run", protected: dict | None = None) -> tuple[bool, FolderLock]:
    """Create (or resume, or replace) the output folder and lock it for this process.

    Returns ``(resumed, lock)``: ``resumed`` is True when an unfinished run of the same
    fingerprint is there to resume; the caller releases ``lock`` when it is done. A non-empty
    folder is refused unless ``overwrite``, and even then unless dedupe made it; a folder that
    is, holds or sits inside an input or the work folder (``protected``) is always refused
    (see :mod:`dedupe.io.folders`).
    """
    if not out:
        raise OutputError("no output folder given (--out)")
    check_not_protected(out, protected or {}, f"{kind} folder")
    filled = check_replaceable(out, overwrite, kind)
    resume = filled and not overwrite and _resumable(out, fingerprint)
    if filled and not overwrite and not resume:
        raise OutputError(f"{out} already exists and is not empty; pass --overwrite to "
                          "replace it")
    try:
        os.makedirs(out, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create {out}: {exc.strerror or exc}") from None
    lock = FolderLock(out, f"{kind} folder")
    try:
        if resume:
            _remove_partial_files(out)
        elif filled:
            empty_folder(out)
        os.makedirs(os.path.join(out, "data"), exist_ok=True)
        os.makedirs(os.path.join(out, "_work"), exist_ok=True)
        write_marker(out, kind)
        if fingerprint:
            marker = os.path.join(out, _RUN_MARKER)
            with open(marker + ".tmp", "w", encoding="utf-8") as fh:
                json.dump({"fingerprint": fingerprint}, fh)
            os.replace(marker + ".tmp", marker)
        if not os.access(out, os.W_OK):
            raise OutputError(f"{out} is not writable")
    except OSError as exc:
        lock.release()
        raise OutputError(f"cannot create {out}: {exc.strerror or exc}") from None
    except BaseException:
        lock.release()
        raise
    return resume, lock


def _load_sign(paths: list[str], num_perm: int):
    tables = [read_ipc(p) for p in paths]
    cols = ["status", "digest_hi", "digest_lo", "n_shingles", "length", "score", "nbytes"]
    data = {
        c: np.concatenate([t[c].to_numpy() for t in tables]) if tables else np.zeros(0)
        for c in cols
    }
    sigs = [t["sig"].combine_chunks().values.to_numpy().reshape(-1, num_perm) for t in tables]
    data["sig"] = np.concatenate(sigs) if sigs else np.zeros((0, num_perm), np.uint32)
    return tables, data


def _map_resumable(engine, fn, tasks, stage, progress, *, done, reload):
    """``engine.map`` over the tasks whose output is not there yet; finished ones are read back.

    Every task output is written under a temporary name and renamed, so an existing final file
    is a finished task: after a crash the same command skips it.
    """
    todo = [t for t in tasks if not done(t)]
    fresh = iter(engine.map(fn, todo, stage=stage, progress=progress)) if todo else iter(())
    todo_ids = {id(t) for t in todo}
    return [next(fresh) if id(t) in todo_ids else reload(t) for t in tasks]


def _signed(st) -> bool:
    """Whether the task's sign file is there to reuse. One written under other scheme tags
    (another dedupe, or other Unicode data, started the run) is refused before any work:
    its digests and signatures cannot be compared with the ones this run makes."""
    if not os.path.exists(st.path):
        return False
    mismatch = scheme_mismatch(recorded_schemes(ipc_metadata(st.path), "dedupe.scheme."))
    if mismatch:
        key, have, want = mismatch
        raise OutputError(f"{st.path} was signed with scheme.{key} = {have}, this run uses "
                          f"{want}: another version of dedupe or of its Unicode data started "
                          "this run; pass --overwrite to start again, or finish it with the "
                          "dedupe that started it")
    return True


def _sign_result_from_file(st):
    from dedupe.pipeline.sign import REJECTED, SignResult

    table = read_ipc(st.path)
    rejected = int((table["status"].to_numpy() == REJECTED).sum())
    return SignResult(st.task.index, table.num_rows, rejected, 0.0, 0)


def _shard_result_from_file(st):
    import pyarrow.parquet as pq

    return {"rows": pq.read_metadata(st.path).num_rows, "seconds": 0.0, "peak_rss": 0}


_INPUT_BYTES_PER_PARTITION = 64 << 20


def _sized_partitions(cfg: DedupeConfig, sources) -> DedupeConfig:
    """At least ``spans.partitions`` boilerplate key partitions, and one per 64 MB of input
    files, so that one partition's line records (about twice the compressed input) stay near
    128 MB in a worker however large the corpus."""
    want = -(-sum(max(0, s.size or 0) for s in sources) // _INPUT_BYTES_PER_PARTITION)
    if want <= cfg.spans.partitions:
        return cfg
    return replace(cfg, spans=replace(cfg.spans, partitions=int(want)))


def _decide(cfg: DedupeConfig, files: SignFiles, tasks):
    """The decide stage over the sign files: small per-row columns in memory, signatures read
    one band or one batch of pairs at a time (see :mod:`dedupe.pipeline.store`). Rows whose
    ``--id-column`` value an earlier row has are rejected first (or stop the run)."""
    from dedupe.pipeline.ids import mark_duplicate_ids

    status = files.column("status").copy()
    notes = mark_duplicate_ids(cfg, files, tasks, status)
    digest = np.stack([files.column("digest_hi"), files.column("digest_lo")], axis=1)
    score = files.column("score") if cfg.cluster.survivor_column else None
    max_rows = max(1 << 12, cfg.engine.memory_bytes // 4 // (4 * cfg.minhash.num_perm))
    n_shingles = files.column("n_shingles")
    exact = None
    if cfg.lsh.verify == "exact":
        # about 40 bytes of numpy temporaries per shingle of a batch of pairs (see near.jaccard)
        max_values = max(1 << 16, cfg.engine.memory_bytes // 4 // 40)

        def exact(a, b):
            return exact_similarity(files, a, b, n_shingles, max_values)
    dec = decide(status, digest.astype(np.uint64), n_shingles, files, files.column("length"),
                 score, cfg, exact_jaccard=exact, max_rows=max_rows)
    dec.note = notes
    return dec


def _match_indexes(cfg: DedupeConfig, files: SignFiles, dec, run_key: str = ""):
    """``--against``: remove the clusters that match an index document (see
    :mod:`dedupe.pipeline.against`)."""
    from dedupe.pipeline.against import apply_matches, finish_matches, match_against

    digest = np.stack([files.column("digest_hi"), files.column("digest_lo")], axis=1)
    m = match_against(cfg, files, digest, dec.survivor >= 0, dec.stats["bands"],
                      dec.stats["rows"], run_key)
    inherited = apply_matches(dec, digest, m)
    finish_matches(files, dec, m, inherited)
    return m


def _absolute_index_paths(cfg: DedupeConfig) -> DedupeConfig:
    """Local index paths made absolute: a run names an index, and finds its own generations in
    it, the same way from any folder and however the path was spelled."""
    def fix(p):
        return p if not p or "://" in p else os.path.abspath(p)

    idx = cfg.index
    return replace(cfg, index=replace(idx, against=tuple(fix(p) for p in idx.against),
                                      write=fix(idx.write)))


def run_pipeline(cfg: DedupeConfig, progress=None, source_names=None) -> RunReport:
    """Run every stage for ``cfg`` (input paths and output folder included).

    ``source_names`` maps an input path to the name the manifest shows for it.
    """
    started = time.perf_counter()
    cfg = _absolute_index_paths(cfg)
    out = cfg.output.out
    sources = expand_inputs(cfg.input.paths, cfg.input.format)
    if source_names:
        sources = [replace(s, path=source_names.get(s.path, s.path)) for s in sources]
    schema, task_reasons = check_schemas(sources, cfg)
    cfg = _sized_partitions(cfg, sources)
    fingerprint = run_fingerprint(cfg, sources)
    run_key = run_fingerprint(cfg, sources, indexes=False)  # names this run in an index
    if cfg.index.write:
        from dedupe.pipeline.against import check_write_target

        check_write_target(cfg, sources, run_key)
    resumed, lock = prepare_out(out, cfg.output.overwrite, fingerprint,
                                protected=protected_paths(cfg, sources))
    try:
        return _run_locked(cfg, sources, schema, task_reasons, fingerprint, run_key, resumed,
                           progress, started)
    finally:
        lock.release()


def _run_locked(cfg, sources, schema, task_reasons, fingerprint, run_key, resumed, progress,
                started) -> RunReport:
    """The stages, while this process holds the output folder's lock."""
    out = cfg.output.out
    work = os.path.join(cfg.output.workdir or os.path.join(out, "_work"), fingerprint)
    os.makedirs(work, exist_ok=True)
    tasks = plan_tasks(sources)
    engine = make_engine(cfg.engine)
    stages: list[StageTimer] = []
    try:
        with StageTimer("sign", tasks=len(tasks)) as st:
            sign_tasks = [
                SignTask(
                    t,
                    cfg,
                    os.path.join(work, f"sign-{t.index:06d}.arrow"),
                    task_reasons.get(t.source.uri),
                    lsh_params(cfg),
                )
                for t in tasks
            ]
            results = _map_resumable(engine, sign_task, sign_tasks, "sign", progress,
                                     done=_signed, reload=_sign_result_from_file)
            st.rows = sum(r.rows for r in results)
            st.peak_rss_worker = max([r.peak_rss for r in results], default=0)
        stages.append(st)
        if progress:
            progress("decide", 0, 1, None)  # started; no tasks to count
        # a JSONL file's fields are all known now: the shards' schema is final
        schema = output_schema(schema, [(s.task.source.path, input_schema(s.path))
                                        for s in sign_tasks], cfg)
        with StageTimer("decide") as st:
            tables = SignFiles([s.path for s in sign_tasks], cfg.minhash.num_perm)
            dec = _decide(cfg, tables, tasks)
            st.rows = len(dec.action)
        stages.append(st)
        matches = None
        if cfg.index.against:
            with StageTimer("index") as st:
                matches = _match_indexes(cfg, tables, dec, run_key)
                st.rows = int((matches.index >= 0).sum())
            stages.append(st)
        if progress:
            progress("decide", 1, 1, {"rows": len(dec.action)})
        spans, span_stats, removed = None, {}, None
        if spans_enabled(cfg):
            with StageTimer("spans") as st:
                spans, span_stats = collect_spans(cfg, engine, work, [s.path for s in sign_tasks],
                                                  tables, dec.action == KEPT, progress, run_key)
                removed = spans.removed
                _apply_filters(cfg, dec, tables, tables.column("length"), removed)
                st.rows = spans.num_rows
                st.peak_rss_worker = span_stats.get("peak_rss", 0)
            stages.append(st)
        with StageTimer("write") as st:
            shard_tasks, out_file, out_row = _plan_write(cfg, tasks, tables, dec, out, schema,
                                                         spans)
            wres = _map_resumable(engine, write_shard, shard_tasks, "write", progress,
                                  done=lambda t: os.path.exists(t.path),
                                  reload=_shard_result_from_file)
            st.rows = sum(r["rows"] for r in wres)
            st.tasks = len(shard_tasks)
            st.peak_rss_worker = max([r["peak_rss"] for r in wres], default=0)
        stages.append(st)
        with StageTimer("manifest", tasks=len(tasks)) as st:
            meta = scheme_metadata(cfg, dec)
            counts = write_manifest(out, tasks, tables, dec, out_file, out_row, meta, spans,
                                     removed, matches, cfg.output.compression)
            if spans is not None:
                write_spans(out, tables, spans, cfg.output.compression)
                span_stats["top_lines"] = top_lines(span_stats.pop("top", []), tasks, tables,
                                                     cfg)
            st.rows = sum(counts.values())
        stages.append(st)
    finally:
        engine.close()
    _check_accounting(results, counts, wres)
    index_out = None
    if cfg.index.write or cfg.index.update:
        from dedupe.pipeline.against import store_kept

        with StageTimer("write-index") as st:
            boiler = None
            if spans is not None and spans.boiler_paths:
                from dedupe.pipeline.spans_plan import boilerplate_key_counts

                boiler = boilerplate_key_counts(spans.boiler_paths)
            index_out = store_kept(cfg, tables, tasks, dec.action == KEPT, dec.stats["bands"],
                                   dec.stats["rows"], boiler, run_key)
            st.rows = index_out["rows"]
        stages.append(st)
    report = _report(cfg, sources, dec, counts, stages, shard_tasks, started, spans, span_stats)
    report.outputs["resumed"] = resumed
    if matches is not None:
        report.outputs["against"] = list(cfg.index.against)
    if index_out is not None:
        report.outputs["index"] = index_out
    _write_report(out, report)  # the run is finished once report.json exists; only then does
    if not cfg.output.workdir:  # the work folder (and its resume marker) go
        shutil.rmtree(os.path.join(out, "_work"), ignore_errors=True)
    else:
        shutil.rmtree(work, ignore_errors=True)
    return report


def _edits_for(spans, g_sel: np.ndarray, source_rows: np.ndarray):
    """``(source_row, start, end)`` arrays of the spans of global rows ``g_sel`` (sorted; the
    task's spans table)."""
    g = spans["g"].to_numpy()
    lo, hi = np.searchsorted(g, g_sel[0]), np.searchsorted(g, g_sel[-1], side="right")
    gg = g[lo:hi]
    inside = np.isin(gg, g_sel)
    rows_of = source_rows[np.searchsorted(g_sel, gg[inside])]
    return (rows_of, spans["start"].to_numpy()[lo:hi][inside],
            spans["end"].to_numpy()[lo:hi][inside])


def _plan_write(cfg, tasks, tables, dec, out, schema, spans=None):
    kept_rows, kept_bytes, offsets = [], [], [0]
    for t in tables:
        offsets.append(offsets[-1] + t.num_rows)
    for i, t in enumerate(tables):
        act = dec.action[offsets[i] : offsets[i + 1]]
        mask = act == KEPT
        kept_rows.append(t["source_row"].to_numpy()[mask])
        kept_bytes.append(t["nbytes"].to_numpy()[mask])
    plan = plan_shards(kept_rows, kept_bytes, cfg.output.rows_per_shard, cfg.output.bytes_per_shard)
    n = len(dec.action)
    out_file = np.full(n, -1, np.int64)
    out_row = np.full(n, -1, np.int64)
    shard_tasks = []
    for s, segments in enumerate(plan):
        path = os.path.join(out, "data", f"part-{s:05d}.parquet")
        segs, edits = [], []
        row = 0
        for t, lo, hi in segments:
            segs.append((tasks[t], kept_rows[t][lo:hi]))
            glob_idx = offsets[t] + np.flatnonzero(dec.action[offsets[t] : offsets[t + 1]] == KEPT)
            sel = glob_idx[lo:hi]
            if cfg.spans.remove and spans is not None and spans.num_rows and len(sel):
                edits.append(_edits_for(spans.task(t), sel, kept_rows[t][lo:hi]))
            else:
                edits.append(None)
            out_file[sel] = s
            out_row[sel] = np.arange(row, row + hi - lo)
            row += hi - lo
        shard_tasks.append(
            ShardTask(
                s,
                path,
                tuple(segs),
                schema,
                cfg.input.text_column,
                cfg.input.batch_rows,
                cfg.output.compression,
                tuple(edits),
                cfg.input.max_row_bytes,
            )
        )
    return shard_tasks, out_file, out_row


def _apply_filters(cfg, dec, tables, length, removed) -> None:
    """Mark kept rows that the Gopher filter rejects or that span removal leaves too short."""
    from dedupe.near.decide import FILTERED, TOO_SHORT

    note = dec.note if dec.note is not None else np.full(len(dec.action), None, object)
    kept = dec.action == KEPT
    if cfg.spans.gopher_filter:
        _gopher_filter(tables, kept, dec.action, note, FILTERED)
    if cfg.spans.remove:
        left = length - removed
        short = (dec.action == KEPT) & (left < cfg.spans.min_length)
        dec.action[short] = TOO_SHORT
        for i in np.flatnonzero(short).tolist():
            note[i] = (f"{int(left[i])} characters left after removing {int(removed[i])} in "
                       f"flagged spans (min_length {cfg.spans.min_length})")
    dec.note = note


def _gopher_filter(files: SignFiles, kept, action, note, filtered: int) -> None:
    """Mark kept rows above a Gopher repetition limit, one sign file's statistics at a time
    (every sign file has the ``stat_*`` columns when statistics are on)."""
    from dedupe.spans.stats import GOPHER_REPETITION_LIMITS, gopher_failures, gopher_reason

    names = list(GOPHER_REPETITION_LIMITS)
    for t in range(len(files)):
        table = files[t]
        lo = int(files.offsets[t])
        stats = {n: table[f"stat_{n}"].to_numpy(zero_copy_only=False) for n in names}
        first = gopher_failures(stats)
        hit = np.flatnonzero(kept[lo : lo + table.num_rows] & (first >= 0))
        action[lo + hit] = filtered
        for i in hit.tolist():
            name = names[first[i]]
            note[lo + i] = f"Gopher repetition filter: {gopher_reason(name, stats[name][i])}"


def _check_accounting(sign_results, counts, write_results) -> None:
    seen = sum(r.rows for r in sign_results)
    listed = sum(counts.values())
    written = sum(r["rows"] for r in write_results)
    if seen != listed or counts["kept"] != written:
        raise DedupeError(
            f"row accounting failed: {seen} rows read, {listed} in the manifest, "
            f"{counts['kept']} kept but {written} written"
        )


def _report(cfg, sources, dec, counts, stages, shard_tasks, started, spans=None,
            span_stats=None) -> RunReport:
    lsh = dict(dec.stats)
    lsh["s_curve"] = s_curve(lsh["bands"], lsh["rows"])
    params = cfg.to_dict()
    params["input"]["paths"] = list(params["input"]["paths"])
    return RunReport(
        out=cfg.output.out,
        inputs=[s.path for s in sources],
        rows=len(dec.action),
        counts=counts,
        parameters=params,
        lsh=lsh,
        stages=[s.to_dict() for s in stages],
        outputs={
            "shards": len(shard_tasks),
            "data": "data/part-*.parquet",
            "manifest": "manifest.parquet/",
            "report": "report.json, report.md",
            **({"spans": "spans.parquet"} if spans is not None else {}),
        },
        versions=versions(),
        seconds=round(time.perf_counter() - started, 3),
        spans=span_summary(spans, span_stats) if spans is not None else {},
    )


def _write_report(out: str, report: RunReport) -> None:
    for name, text in (("report.json", report.to_json()), ("report.md", report.to_markdown())):
        tmp = os.path.join(out, f".{name}.tmp")
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, os.path.join(out, name))
