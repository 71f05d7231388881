"""The runner: stage order, the run folder, row accounting. Reads like the recipe it is.

    sources -> tasks -> [sign]  per task: digest + signature files
            -> decide           exact groups, LSH, verification, clusters, survivors
            -> (index)          --against: clusters that match an index document
            -> (spans)          boilerplate of the survivors; per sign file: its spans, page
                                filters, final decisions (without spans only the last)
            -> [write]          per shard: surviving rows, input schema unchanged
            -> manifest, report
            -> (write-index)    --write-index / --update-index: the kept rows

Every input row ends up in exactly one place: an output shard (``kept``) or the manifest only
(every other action); the runner checks this before it reports success. The run folder itself
(fingerprint, resume, report) is :mod:`dedupe.pipeline.run_folder`. Every stage is engine tasks
over files of the work folder: the main process plans, waits and adds up counts, and holds
nothing with an entry per row.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np

from dedupe.config import DedupeConfig
from dedupe.engines import Engine, make_engine
from dedupe.errors import DedupeError, OutputError
from dedupe.io.folders import protected_paths
from dedupe.io.fs import exists, join, makedirs, open_input, remove_tree
from dedupe.io.routed import map_missing
from dedupe.io.sources import expand_inputs
from dedupe.io.spill import ipc_metadata, read_ipc
from dedupe.near.decide import ACTIONS, ROW_REJECTED
from dedupe.near.lsh import lsh_params, s_curve
from dedupe.pipeline.against import check_write_target, match_in_tasks, store_kept
from dedupe.pipeline.boilerplate_stage import boilerplate_key_counts, count_boilerplate
from dedupe.pipeline.decide_tasks import (
    FileDecisions,
    decide_in_tasks,
    kept_partitions,
    make_plan,
)
from dedupe.pipeline.finish import SPAN_KINDS, FinishTask, finish_file
from dedupe.pipeline.ids import mark_duplicate_ids
from dedupe.pipeline.outputs import (
    manifest_parts,
    scheme_metadata,
    span_summary,
    top_lines,
    top_passages,
    write_output,
    write_spans,
)
from dedupe.pipeline.passage_stage import decide_passages
from dedupe.pipeline.run_folder import (
    check_workdir,
    prepare_out,
    run_fingerprint,
    work_folder,
    write_report,
)
from dedupe.pipeline.schema import check_schemas, output_schema
from dedupe.pipeline.sign import SignResult, SignTask, input_schema, sign_task
from dedupe.pipeline.span_records import PASSAGE_SCHEME_KEY, passage_path, spans_enabled
from dedupe.pipeline.store import SignFiles
from dedupe.pipeline.tasks import make_tasks
from dedupe.pipeline.write import shard_tasks
from dedupe.report import RunReport, StageTimer, versions
from dedupe.schemes import recorded_schemes, scheme_mismatch

__all__ = ["run_pipeline"]


@dataclass
class _Run:
    """What every stage of one run needs, and the stage timings so far."""

    cfg: DedupeConfig
    engine: Engine
    work: str  # this run's intermediate files
    tasks: list  # the input tasks (dedupe.io.sources.Task)
    progress: Callable | None  # progress(stage, done, total, info)
    run_key: str  # names this run in an index
    stages: list[StageTimer] = field(default_factory=list)


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
        check_write_target(cfg, sources, run_key)
    check_workdir(cfg.output.workdir)
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
    work = work_folder(cfg.output.workdir, out, fingerprint)
    engine = make_engine(cfg.engine)
    run = _Run(cfg, engine, work, make_tasks(sources, engine, work), progress, run_key)
    try:
        sign_tasks, results = _sign_stage(run, task_reasons)
        if progress:
            progress("decide", 0, 1, None)  # started; no tasks to count
        # a JSONL file's fields are all known now: the shards' schema is final
        schema = output_schema(schema, [(s.task.source.path, input_schema(s.path))
                                        for s in sign_tasks], cfg)
        tables, dec = _decide_stage(run, sign_tasks)
        if progress:
            progress("decide", 1, 1, {"rows": tables.total_rows})
        spans, span_stats = _spans_stage(run, tables, dec)
        shards, wres = _write_stage(run, tables, dec, schema, spans)
        _manifest_stage(run, tables, dec, spans, span_stats)
        _check_accounting(results, dec.counts, wres)
        index_out = _index_stage(run, tables, dec, span_stats)
    finally:
        run.engine.close()
    report = _report(cfg, sources, dec, run.stages, shards, started, spans, span_stats)
    report.outputs["resumed"] = resumed
    if cfg.index.against:
        report.outputs["against"] = list(cfg.index.against)
    if index_out is not None:
        report.outputs["index"] = index_out
    write_report(out, report)  # the run is finished once report.json exists; only then does
    if not cfg.output.workdir:  # the work folder (and its resume marker) go
        remove_tree(join(out, "_work"))
    else:
        remove_tree(work)
    return report


def _sign_stage(run: _Run, task_reasons: dict):
    """``(sign tasks, results)``: one sign file per task, finished ones reused."""
    cfg = run.cfg
    with StageTimer("sign", tasks=len(run.tasks)) as st:
        sign_tasks = [
            SignTask(
                t,
                cfg,
                join(run.work, f"sign-{t.index:06d}.arrow"),
                task_reasons.get(t.source.uri),
                lsh_params(cfg),
            )
            for t in run.tasks
        ]
        results = _map_resumable(run.engine, sign_task, sign_tasks, "sign", run.progress,
                                 done=_signed, reload=_sign_result_from_file)
        st.rows = sum(r.rows for r in results)
        st.peak_rss_worker = max([r.peak_rss for r in results], default=0)
    run.stages.append(st)
    return sign_tasks, results


def _decide_stage(run: _Run, sign_tasks):
    """``(sign files, decisions)``: the decide stage, then the ``--against`` indexes (a stage
    of its own in the report), which replace the decision files of the rows they match."""
    cfg = run.cfg
    with StageTimer("decide") as st:
        tables = SignFiles([s.path for s in sign_tasks], cfg.minhash.num_perm)
        dec, st.details = _decide(run, tables)
        st.rows = tables.total_rows
        steps = st.details["steps"].values()
        st.tasks = sum(s.get("tasks", 0) for s in steps)
        st.peak_rss_worker = max(s.get("peak_rss_worker", 0) for s in steps)
    run.stages.append(st)
    partitions = st.details["partitions"]
    if cfg.index.against:
        with StageTimer("index") as st:
            dec.paths, stats = match_in_tasks(
                cfg, run.engine, dec.files, dec.paths, dec.stats["bands"], dec.stats["rows"],
                join(run.work, "against"), partitions, run.run_key, run.progress)
            dec.stats.update(stats)
            st.rows = stats["index_removed"]
        run.stages.append(st)
    return tables, dec


def _spans_stage(run: _Run, tables: SignFiles, dec):
    """``(spans files or None, span stats)``: with a span feature on, the boilerplate count
    over the kept rows, then one finishing task per sign file (its spans, the page filters,
    its final decisions: :mod:`dedupe.pipeline.finish`); without, only the finishing tasks,
    timed with the write stage."""
    cfg = run.cfg
    if not spans_enabled(cfg):
        return None, {}
    with StageTimer("spans") as st:
        boiler_paths, span_stats = count_boilerplate(cfg, run.engine, run.work, tables.paths,
                                                     tables.offsets[:-1], dec.paths,
                                                     run.progress, run.run_key)
        passages = None
        if cfg.spans.near_passages:
            passages, span_stats["passages"] = decide_passages(
                cfg, run.engine, run.work, tables.paths, dec.paths, run.progress)
        spans_paths = [join(run.work, f"spans-{t:06d}.arrow") for t in range(len(tables))]
        results = _finish(run, tables, dec, spans_paths, boiler_paths, passages)
        summary = {k: {"spans": 0, "chars": 0, "documents": 0} for k in SPAN_KINDS}
        for r in results:
            for k, acc in summary.items():
                for key in acc:
                    acc[key] += r["spans"][k][key]
        span_stats["summary"] = summary
        span_stats["boiler_paths"] = boiler_paths
        if passages is not None:
            span_stats["top_passage_spans"] = [it for r in results
                                               for it in r.get("top_passages", [])]
        st.rows = sum(r["span_rows"] for r in results)
        st.tasks = len(results)
        st.peak_rss_worker = max([span_stats.get("peak_rss", 0),
                                  *(r["peak_rss"] for r in results)])
    run.stages.append(st)
    return spans_paths, span_stats


def _finish(run: _Run, tables: SignFiles, dec, spans_paths, boiler_paths,
            passages=None) -> list[dict]:
    """One finishing task per sign file (:func:`dedupe.pipeline.finish.finish_file`); the
    decisions then point at their final files, with the kept rows and action counts."""
    cfg = run.cfg
    folder = join(run.work, "final")
    makedirs(folder)
    notes: list[list] = [[] for _ in range(len(tables))]
    for g, text in sorted((dec.note or {}).items()):
        t = int(np.searchsorted(tables.offsets, g, side="right") - 1)
        notes[t].append((g - int(tables.offsets[t]), text))
    sp = cfg.spans
    tasks = [FinishTask(dec.files, t, dec.paths[t], join(folder, f"decided-{t:06d}.arrow"),
                        spans_paths[t] if spans_paths else None, tuple(boiler_paths),
                        sp.repeats, sp.remove, sp.min_length, sp.gopher_filter, tuple(notes[t]),
                        passages)
             for t in range(len(tables))]
    results = map_missing(run.engine, finish_file, tasks, "finish", run.progress)
    dec.paths = [t.out for t in tasks]
    dec.kept = [r["actions"]["kept"] for r in results]
    dec.counts = {a: sum(r["actions"][a] for r in results) for a in ACTIONS}
    return results


def _write_stage(run: _Run, tables: SignFiles, dec, schema, spans_paths):
    """``(shard tasks, results)``: the output shards (finished ones kept) and the manifest's
    files, in one engine map: both need only the shard plan (where each sign file's kept rows
    go, see ``shard_tasks``), so a corpus of one input unit writes its one shard and its one
    manifest file on two cores. Progress counts them as ``write`` and ``manifest``."""
    cfg = run.cfg
    with StageTimer("write") as st:
        if spans_paths is None:
            _finish(run, tables, dec, None, ())
        shards, placements = shard_tasks(cfg, run.tasks, tables, dec, cfg.output.out, schema,
                                         spans_paths)
        parts = manifest_parts(cfg.output.out, run.tasks, dec, placements,
                               scheme_metadata(cfg, dec), cfg.output.compression)
        todo = [s for s in shards if not exists(s.path)]
        results = run.engine.map(write_output, todo + parts, stage="write",
                                 progress=_two_bars(run.progress, len(todo), len(parts)))
        fresh = dict(zip((s.index for s in todo), results))
        wres = [fresh[s.index] if s.index in fresh else _shard_result_from_file(s)
                for s in shards]
        st.rows = sum(r["rows"] for r in wres)
        st.tasks = len(shards) + len(parts)
        st.peak_rss_worker = max([r.get("peak_rss", 0) for r in results], default=0)
    run.stages.append(st)
    return shards, wres


def _two_bars(progress, first: int, second: int):
    """A progress callback for one map of ``first`` shard tasks then ``second`` manifest
    tasks (an engine reports its tasks in order): each counted under its own stage."""
    if progress is None:
        return None

    def report(_stage, done, _total, result):
        if done <= first:
            progress("write", done, first, result)
        else:
            progress("manifest", done - first, second, result)

    return report


def _manifest_stage(run: _Run, tables: SignFiles, dec, spans_paths, span_stats: dict) -> None:
    """``spans.parquet`` and the top boilerplate lines (the manifest's files were written with
    the shards, see :func:`_write_stage`)."""
    cfg = run.cfg
    with StageTimer("manifest", tasks=len(run.tasks)) as st:
        if spans_paths is not None:
            write_spans(cfg.output.out, run.tasks, spans_paths, cfg.output.compression,
                        similarity=cfg.spans.near_passages)
            span_stats["top_lines"] = top_lines(span_stats.pop("top", []), run.tasks,
                                                tables, cfg)
            if cfg.spans.near_passages:
                span_stats["top_passages"] = top_passages(
                    span_stats.pop("top_passage_spans", []), run.tasks, tables, cfg)
        st.rows = sum(dec.counts.values())
    run.stages.append(st)


def _index_stage(run: _Run, tables: SignFiles, dec, span_stats: dict) -> dict | None:
    """``--write-index`` / ``--update-index``: store the kept rows (and the run's boilerplate
    key counts); None when neither is asked for."""
    cfg = run.cfg
    if not (cfg.index.write or cfg.index.update):
        return None
    with StageTimer("write-index") as st:
        boiler = None
        if span_stats.get("boiler_paths"):
            boiler = boilerplate_key_counts(span_stats["boiler_paths"])
        index_out = store_kept(cfg, tables, run.tasks, dec.kept, dec.stats["bands"],
                               dec.stats["rows"], boiler, run.run_key, dec.paths, run.engine)
        st.rows = index_out["rows"]
    run.stages.append(st)
    return index_out


def _absolute_index_paths(cfg: DedupeConfig) -> DedupeConfig:
    """Local index paths made absolute: a run names an index, and finds its own generations in
    it, the same way from any folder and however the path was spelled."""
    def fix(p):
        return p if not p or "://" in p else os.path.abspath(p)

    idx = cfg.index
    return replace(cfg, index=replace(idx, against=tuple(fix(p) for p in idx.against),
                                      write=fix(idx.write)))


_INPUT_BYTES_PER_PARTITION = 64 << 20


def _sized_partitions(cfg: DedupeConfig, sources) -> DedupeConfig:
    """At least ``spans.partitions`` boilerplate key partitions, and one per 64 MB of input
    files, so that one partition's line records (about twice the compressed input) stay near
    128 MB in a worker however large the corpus."""
    want = -(-sum(max(0, s.size or 0) for s in sources) // _INPUT_BYTES_PER_PARTITION)
    if want <= cfg.spans.partitions:
        return cfg
    return replace(cfg, spans=replace(cfg.spans, partitions=int(want)))


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
    if not exists(st.path):
        return False
    mismatch = scheme_mismatch(recorded_schemes(ipc_metadata(st.path), "dedupe.scheme."))
    if mismatch:
        key, have, want = mismatch
        raise OutputError(f"{st.path} was signed with scheme.{key} = {have}, this run uses "
                          f"{want}: another version of dedupe or of its Unicode data started "
                          "this run; pass --overwrite to start again, or finish it with the "
                          "dedupe that started it")
    if st.config.spans.near_passages:
        _check_passage_scheme(passage_path(st.path))
    return True


def _check_passage_scheme(path: str) -> None:
    """A finished task's passages must be of this dedupe's passage scheme."""
    from dedupe.spans.passages import PASSAGE_SCHEME

    have = (ipc_metadata(path).get(PASSAGE_SCHEME_KEY.encode(), b"").decode()
            if exists(path) else "")
    if have != PASSAGE_SCHEME:
        raise OutputError(f"{path} holds passages of scheme {have or 'none'}, this run makes "
                          f"{PASSAGE_SCHEME}: another version of dedupe started this run; pass "
                          "--overwrite to start again, or finish it with the dedupe that "
                          "started it")


def _sign_result_from_file(st):
    table = read_ipc(st.path)
    rejected = int((table["status"].to_numpy() == ROW_REJECTED).sum())
    return SignResult(st.task.index, table.num_rows, rejected, 0.0, 0)


def _shard_result_from_file(st):
    import pyarrow.parquet as pq

    with open_input(st.path) as source:
        rows = pq.read_metadata(source).num_rows
    return {"rows": rows, "seconds": 0.0, "peak_rss": 0}


def _decide(run: _Run, files: SignFiles):
    """``(decisions, details)``: the decide stage as engine tasks over the sign files (see
    :mod:`dedupe.pipeline.decide_tasks`; details: its partitions and steps for the report).
    Rows whose ``--id-column`` value an earlier row has are rejected first (or stop the
    run)."""
    cfg = run.cfg
    folder = join(run.work, "decide")
    makedirs(folder)
    partitions = kept_partitions(folder, cfg, files.total_rows, run.engine.workers)
    notes, status_paths = mark_duplicate_ids(cfg, run.engine, files, run.tasks,
                                             join(run.work, "ids"), partitions)
    plan = make_plan(replace(cfg, engine=replace(cfg.engine, partitions=partitions)),
                     files.paths, files.num_rows, folder, run.engine.workers,
                     join(run.work, "ids") if status_paths else None)
    paths, stats, details = decide_in_tasks(run.engine, plan, run.progress)
    dec = FileDecisions(paths, stats, plan.files)
    dec.note = notes
    return dec, details


def _check_accounting(sign_results, counts, write_results) -> None:
    seen = sum(r.rows for r in sign_results)
    listed = sum(counts.values())
    written = sum(r["rows"] for r in write_results)
    if seen != listed or counts["kept"] != written:
        raise DedupeError(
            f"row accounting failed: {seen} rows read, {listed} in the manifest, "
            f"{counts['kept']} kept but {written} written"
        )


def _report(cfg, sources, dec, stages, shard_tasks, started, spans=None,
            span_stats=None) -> RunReport:
    lsh = dict(dec.stats)
    lsh["s_curve"] = s_curve(lsh["bands"], lsh["rows"])
    params = cfg.to_dict()
    params["input"]["paths"] = list(params["input"]["paths"])
    return RunReport(
        out=cfg.output.out,
        inputs=[s.path for s in sources],
        rows=sum(dec.counts.values()),
        counts=dec.counts,
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
        spans=span_summary(span_stats["summary"], span_stats) if spans is not None else {},
    )
