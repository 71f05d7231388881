"""Passage-threshold sweep: near-passage thresholds scored against labelled spans.

``dedupe sweep INPUTS --out DIR --passage-thresholds 0.35:0.55:0.05 --span-labels FILE`` signs
the pages once (with their passages), decides the documents once at the config's threshold,
then runs the passage stage of ``dedupe run --near-passages`` (:mod:`dedupe.pipeline.
passage_stage`) at every passage threshold and scores the ``near_passage`` spans against the
labels: character-level precision (flagged characters inside a labelled range / flagged
characters), recall (labelled characters flagged / labelled characters) and F1.

The labels are a Parquet or JSONL file with one row per range that should be flagged: ``id``
(the page's id, as ``--id-column`` gives it), ``start`` and ``end`` (Python ``str`` offsets).
Near passages keep the earliest copy in corpus order, so the ranges to label are the later
copies. Ranges of pages that are not in the inputs, or that document deduplication removes,
count as missed.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import replace

import numpy as np
import pyarrow as pa

from dedupe.engines import make_engine
from dedupe.errors import InputError
from dedupe.evaluate.sweep import sign_all
from dedupe.io.folders import protected_paths
from dedupe.io.sources import expand_inputs
from dedupe.near.lsh import lsh_params
from dedupe.pipeline.decide_tasks import decide_in_tasks, kept_mask, make_plan
from dedupe.pipeline.passage_stage import decide_passages, passage_config, passage_spans
from dedupe.pipeline.run_folder import prepare_out
from dedupe.pipeline.schema import check_schemas
from dedupe.pipeline.tasks import make_tasks

__all__ = ["read_span_labels", "sweep_passages"]

_COLUMNS = ("id", "start", "end")


def read_span_labels(path: str) -> dict[str, list[tuple[int, int]]]:
    """``{id: [(start, end), ...]}`` from a Parquet or JSONL file of labelled ranges."""
    import pyarrow.json as pj
    import pyarrow.parquet as pq

    try:
        table = (pj.read_json(path) if path.endswith((".jsonl", ".json", ".jsonl.gz"))
                 else pq.read_table(path))
    except (OSError, pa.ArrowInvalid) as exc:
        raise InputError(path, f"not a readable span label file: {exc}") from None
    missing = [c for c in _COLUMNS if c not in table.column_names]
    if missing:
        raise InputError(path, f"span labels need columns {list(_COLUMNS)}; missing {missing}",
                         column=missing[0])
    out: dict[str, list[tuple[int, int]]] = {}
    for row, (i, a, b) in enumerate(zip(*(table[c].to_pylist() for c in _COLUMNS),
                                        strict=True)):
        if i is None or a is None or b is None or not 0 <= a < b:
            raise InputError(path, f"a range needs an id and 0 <= start < end, got "
                                   f"{(i, a, b)}", row=row)
        out.setdefault(str(i), []).append((int(a), int(b)))
    return out


def sweep_passages(cfg, out: str, thresholds, labels_path: str) -> pa.Table:
    """Score every passage threshold (see the module docstring); writes ``sweep.parquet``,
    ``report.json`` and ``report.md`` into ``out`` and returns the table."""
    import pyarrow.parquet as pq

    labels = read_span_labels(labels_path)
    for th in thresholds:  # a wrong grid value stops the sweep before any work
        replace(cfg.spans, passage_threshold=float(th))
    sources = expand_inputs(cfg.input.paths, cfg.input.format)
    _, reasons = check_schemas(sources, cfg, keys_only=True)
    _, lock = prepare_out(out, cfg.output.overwrite, kind="sweep",
                          protected=protected_paths(cfg, sources))
    try:
        table = _sweep(cfg, out, sources, reasons, thresholds, labels)
        pq.write_table(table, os.path.join(out, "sweep.parquet"),
                       compression=cfg.output.compression)
        with open(os.path.join(out, "report.json"), "w") as fh:
            json.dump({"passage_thresholds": table.to_pylist(), "labels": labels_path,
                       "document_threshold": cfg.lsh.threshold}, fh, indent=2)
        with open(os.path.join(out, "report.md"), "w") as fh:
            fh.write(_markdown(table, labels_path, cfg))
        return table
    finally:
        lock.release()


def _sweep(cfg, out, sources, reasons, thresholds, labels) -> pa.Table:
    work = os.path.join(out, "_work")
    engine = make_engine(cfg.engine)
    tasks = make_tasks(sources, engine)
    base = cfg.with_overrides({"spans.repeats": False, "spans.boilerplate": False,
                               "spans.windows": False, "spans.stats": False,
                               "spans.gopher_filter": False, "spans.near_passages": True})
    t0 = time.perf_counter()
    # signed as a sweep signs (duplicate ids rejected as a run rejects them), then the
    # documents decided once; the passage files' band keys are those of the default threshold
    files, status_folder, _ = sign_all(base, tasks, engine, work, reasons)
    plan = make_plan(base, files.paths, files.num_rows, os.path.join(work, "decide"),
                     engine.workers, status_folder, stored_keys=False)
    decisions, _, _ = decide_in_tasks(engine, plan)
    shared_s = time.perf_counter() - t0
    stored = lsh_params(passage_config(base))
    rows = []
    for i, th in enumerate(thresholds):
        t1 = time.perf_counter()
        tcfg = replace(base, spans=replace(base.spans, passage_threshold=float(th)))
        pd, figures = decide_passages(
            tcfg, engine, os.path.join(work, f"passages-{i:03d}"), files.paths, decisions,
            stored_keys=lsh_params(passage_config(tcfg)) == stored)
        flagged = {}
        for t in range(len(files)):
            spans = passage_spans(pd, t, kept_mask(decisions[t]), files.offsets)
            if len(spans["g"]):
                order = np.argsort(spans["g"], kind="stable")
                ids = files.string_column("id", spans["g"][order]).to_pylist()
                for k, j in enumerate(order.tolist()):
                    flagged.setdefault(ids[k], []).append((int(spans["start"][j]),
                                                           int(spans["end"][j])))
        scores = span_scores(flagged, labels)
        rows.append({"passage_threshold": float(th), "bands": figures["bands"],
                     "rows": figures["rows"], "passages": figures["passages"],
                     "candidates": figures["candidates"], **scores,
                     "seconds": round(time.perf_counter() - t1 + (shared_s if i == 0 else 0), 3)})
    return pa.Table.from_pylist(rows)


def span_scores(flagged: dict, labels: dict) -> dict:
    """Character-level precision, recall and F1 of flagged ranges against labelled ones
    (``{id: [(start, end), ...]}`` each; ranges of one id may overlap)."""
    tp = fl = gold = 0
    for key in set(flagged) | set(labels):
        ranges = flagged.get(key, []) + labels.get(key, [])
        size = max(b for _, b in ranges)
        f = np.zeros(size, bool)
        g = np.zeros(size, bool)
        for a, b in flagged.get(key, []):
            f[a:b] = True
        for a, b in labels.get(key, []):
            g[a:b] = True
        tp += int((f & g).sum())
        fl += int(f.sum())
        gold += int(g.sum())
    p = tp / fl if fl else None
    r = tp / gold if gold else None
    return {"precision": p, "recall": r,
            "f1": 2 * p * r / (p + r) if p and r else None,
            "flagged_chars": fl, "labelled_chars": gold}


def _markdown(table: pa.Table, labels_path: str, cfg) -> str:
    def f(x):
        return "-" if x is None else f"{x:.3f}"

    lines = ["# Passage-threshold sweep", "",
             f"Labels: `{labels_path}`; document threshold {cfg.lsh.threshold}; passages of "
             f"{cfg.spans.passage_tokens} tokens every {cfg.spans.passage_stride}, "
             f"{cfg.spans.passage_num_perm} permutations.", "",
             "| passage threshold | b x r | passages | candidate pairs | precision | recall | F1 "
             "| flagged chars | labelled chars | seconds |",
             "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in table.to_pylist():
        lines.append(f"| {r['passage_threshold']:.2f} | {r['bands']} x {r['rows']} "
                     f"| {r['passages']:,} | {r['candidates']:,} | {f(r['precision'])} "
                     f"| {f(r['recall'])} | {f(r['f1'])} | {r['flagged_chars']:,} "
                     f"| {r['labelled_chars']:,} | {r['seconds']:.1f} |")
    return "\n".join(lines) + "\n"
