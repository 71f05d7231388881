"""A scaling model you can check: per-document costs measured by ``bench_scale.py``, projected to
1B and 10B documents on N machines.

    python benchmarks/scaling_model.py benchmarks/results/scale_partitioned.json \
        --machines 100 --cores 32

Reads the ``--out-json`` of ``bench_scale.py run`` (1M, 3M, 10M documents) and prints

1. per stage and size: core-seconds per document (stage seconds x the workers that ran it),
   bytes per document read, written to the work folder and moved between the decide stage's
   steps (the routed files each step writes and the next reads), and peak memory;
2. the projection to 1B and 10B documents on ``--machines`` machines of ``--cores`` cores:
   wall time per stage (core-seconds / all cores, the decide steps assumed as parallel as the
   sign stage, which holds while every step has more partitions than cores), work-folder size,
   data moved between steps, rounds of connected components, memory per worker and in the main
   process, and the next wall.

What is measured and what is assumed is printed next to each figure. The main process holds
nothing per row; what it holds per sign file (``MAIN_BYTES_PER_FILE``: the task's description,
its results and where its kept rows went) is read off the code, not measured at 100,000 files.
Every worker process reads the run's file list (every sign file's path and row offset, about
``LIST_BYTES_PER_FILE``) once.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from dedupe.pipeline.decide_tasks import partitions_for

MAIN_BYTES_PER_FILE = 4096.0  # a work task's description, results and placements
LIST_BYTES_PER_FILE = 80.0  # a sign file's path and offset in the run's file list
ROWS_PER_FILE = 100_000  # the measured corpus: one sign file per 100,000-row input file


def _per_doc(run: dict, workers: int) -> dict:
    docs = run["docs"]
    stages = run["stages"]
    steps = (run.get("decide") or {}).get("steps", {})
    moved = sum(s.get("bytes", 0) for name, s in steps.items() if name != "decisions")
    return {
        "docs": docs,
        "core_s_per_doc": {k: v * workers / docs for k, v in stages.items()},
        "input_bytes_per_doc": run["input_mib"] * 2**20 / docs,
        "work_bytes_per_doc": run["peak_work_mib"] * 2**20 / docs,
        "moved_bytes_per_doc": moved / docs,
        "output_bytes_per_doc": run["output_mib"] * 2**20 / docs,
        "rounds": steps.get("components", {}).get("rounds"),
        "partitions": (run.get("decide") or {}).get("partitions"),
        "worker_peak_mib": max(v[1] for v in run["stage_rss_mib"].values()),
        "main_peak_mib": run["peak_rss_main_mib"],
        "kept_share": run["kept"] / docs,
    }


def _fmt_bytes(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB", "PB"):
        if abs(n) < 1000:
            return f"{n:.3g} {unit}"
        n /= 1000
    return f"{n:.3g} EB"


def _fmt_s(s: float) -> str:
    if s < 120:
        return f"{s:.0f} s"
    if s < 7200:
        return f"{s / 60:.0f} min"
    return f"{s / 3600:.1f} h"


def measured_table(rows: list[dict]) -> str:
    lines = ["| docs | sign | decide | write | manifest | index | work folder | moved in decide "
             "| rounds | worker peak | main peak |",
             "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        c = r["core_s_per_doc"]
        us = {k: f"{c.get(k, 0) * 1e6:.0f} µs" for k in
              ("sign", "decide", "write", "manifest", "write-index")}
        lines.append(f"| {r['docs']:,} | {us['sign']} | {us['decide']} | {us['write']} | "
                     f"{us['manifest']} | {us['write-index']} | "
                     f"{r['work_bytes_per_doc']:.0f} B | {r['moved_bytes_per_doc']:.0f} B | "
                     f"{r['rounds']} | {r['worker_peak_mib']} MiB | {r['main_peak_mib']} MiB |")
    return "\n".join(lines)


def projection(base: dict, docs: int, machines: int, cores: int) -> dict:
    """One size on ``machines`` x ``cores``: from the per-document figures of ``base`` (the
    largest measured run)."""
    total_cores = machines * cores
    wall = {k: v * docs / total_cores for k, v in base["core_s_per_doc"].items()}
    # rounds: measured on planted clusters of at most a few pages; a component of diameter d
    # needs about 2 log2(d) rounds (measured on paths), so a template shared by a million pages
    # chained by near copies would add about 40
    return {
        "docs": docs,
        "wall_s": wall,
        "work_folder": base["work_bytes_per_doc"] * docs,
        "moved": base["moved_bytes_per_doc"] * docs,
        "partitions": partitions_for(docs, total_cores),
        "main_bytes": MAIN_BYTES_PER_FILE * docs / ROWS_PER_FILE,
        "list_bytes": LIST_BYTES_PER_FILE * docs / ROWS_PER_FILE,
        "worker_mib": base["worker_peak_mib"],
        "rounds": base["rounds"],
    }


def projection_table(projections: list[dict], machines: int, cores: int) -> str:
    lines = [f"On {machines} machines x {cores} cores:", "",
             "| docs | wall (sum of stages) | sign | decide | work folder | moved between "
             "decide steps | decide partitions | main process per-file state "
             "| file list per worker | per worker (measured peak) |",
             "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for p in projections:
        w = p["wall_s"]
        lines.append(f"| {p['docs']:,} | {_fmt_s(sum(w.values()))} | {_fmt_s(w.get('sign', 0))} | "
                     f"{_fmt_s(w.get('decide', 0))} | {_fmt_bytes(p['work_folder'])} | "
                     f"{_fmt_bytes(p['moved'])} | {p['partitions']:,} | "
                     f"{_fmt_bytes(p['main_bytes'])} | {_fmt_bytes(p['list_bytes'])} | "
                     f"{p['worker_mib']} MiB |")
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("json", help="bench_scale.py run --out-json file")
    ap.add_argument("--workers", type=int, default=2, help="workers of the measured runs")
    ap.add_argument("--machines", type=int, default=100)
    ap.add_argument("--cores", type=int, default=32)
    args = ap.parse_args()
    with open(args.json) as fh:
        runs = json.load(fh)
    rows = [_per_doc(r, args.workers) for r in sorted(runs, key=lambda r: r["docs"])]
    print("Measured, per document (core-seconds = stage seconds x workers):\n")
    print(measured_table(rows))
    base = rows[-1]
    print()
    print(projection_table([projection(base, d, args.machines, args.cores)
                            for d in (10**9, 10**10)], args.machines, args.cores))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
