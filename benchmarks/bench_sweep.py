"""An unlabelled sweep on a real-sized sample: wall time and peak memory against one run.

Runs, as whole processes on the same file, ``dedupe run`` with defaults and ``dedupe sweep``
with ``--ngram`` (default ``2,5``) and the default thresholds (0.05-0.95), sampling the summed
resident memory of each process tree every 0.2 s, and prints wall seconds, peak RSS, the
sweep's time as a multiple of the run's, and the sweep's slowest settings.

    python benchmarks/bench_sweep.py --docs 100000
    python benchmarks/bench_sweep.py --docs 1000000 --ngram 2 --no-run   # one shingling
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, HERE)

from bench_one_file import corpus  # noqa: E402  the same one-row-group file


def measure(cmd: list[str]) -> dict:
    """Wall seconds and the peak summed RSS of the command's process tree."""
    import psutil

    started = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    root, peak = psutil.Process(proc.pid), 0
    while proc.poll() is None:
        try:
            procs = [root, *root.children(recursive=True)]
            peak = max(peak, sum(p.memory_info().rss for p in procs if p.is_running()))
        except psutil.Error:
            pass
        time.sleep(0.2)
    if proc.returncode:
        raise SystemExit(f"{' '.join(cmd)} failed: {proc.stderr.read().decode()[-2000:]}")
    return {"wall_s": round(time.perf_counter() - started, 1), "peak_rss_mib": peak >> 20}


def _median(measured: list[dict]) -> dict:
    """Median wall seconds and median peak RSS of several measurements."""
    return {k: statistics.median(m[k] for m in measured) for k in ("wall_s", "peak_rss_mib")}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--docs", type=int, default=100_000)
    ap.add_argument("--row-group", type=int, default=100_000,
                    help="rows per row group of the generated file (a 1M-page file in one "
                         "group would be one 2 GB column chunk)")
    ap.add_argument("--ngram", default="2,5")
    ap.add_argument("--workers", default="2")
    ap.add_argument("--cache", default=os.path.join(tempfile.gettempdir(), "dedupe-bench"))
    ap.add_argument("--extra", default="", help="more sweep options, e.g. --max-pairs-per-row 50")
    ap.add_argument("--repeat", type=int, default=1,
                    help="run and sweep this many times, alternated; medians are reported")
    ap.add_argument("--no-run", action="store_true", help="the sweep alone, no `dedupe run`")
    ap.add_argument("--out-json")
    args = ap.parse_args()
    path = corpus(args.cache, args.docs, args.row_group)
    work = tempfile.mkdtemp(prefix="bench-sweep-")
    exe = [sys.executable, "-m", "dedupe.cli"]
    runs, sweeps = [], []
    for _ in range(args.repeat):
        shutil.rmtree(f"{work}/run", ignore_errors=True)
        shutil.rmtree(f"{work}/sweep", ignore_errors=True)
        if not args.no_run:
            runs.append(measure([*exe, "run", path, "--out", f"{work}/run", "--workers",
                                 args.workers, "-q"]))
        sweeps.append(measure([*exe, "sweep", path, "--out", f"{work}/sweep", "--ngram",
                               args.ngram, "--workers", args.workers, "--quiet",
                               *args.extra.split()]))
    run, sweep = (_median(runs) if runs else None), _median(sweeps)
    import pyarrow.parquet as pq

    rows = pq.read_table(f"{work}/sweep/sweep.parquet").to_pylist()
    result = {"docs": args.docs, "ngram": args.ngram, "extra": args.extra, "run": run,
              "sweep": sweep, "ratio": round(sweep["wall_s"] / run["wall_s"], 2) if run else None,
              "sweep_s_per_1k_pages": round(sweep["wall_s"] / args.docs * 1000, 4),
              "runs": runs, "sweeps": sweeps,
              "settings": [{k: r[k] for k in ("ngram", "threshold", "bands", "rows", "seconds",
                                               "candidate_pairs", "capped_pairs",
                                               "removed_fraction")} for r in rows]}
    print(json.dumps({k: v for k, v in result.items() if k != "settings"}))
    for r in sorted(rows, key=lambda r: -r["seconds"])[:5]:
        print(f"  {r['ngram']}-grams threshold {r['threshold']:.2f}: {r['seconds']:.1f} s, "
              f"{r['candidate_pairs']:,} candidate pairs, {r['capped_pairs']:,} capped")
    if args.out_json:
        with open(args.out_json, "w") as fh:
            json.dump(result, fh, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
