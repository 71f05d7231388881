"""One file, one row group: does a second worker help?

Many corpora arrive as one large Parquet file written with one row group. Tasks used to follow
files and row groups, so such a corpus was one task and ran on one core whatever ``--workers``
said. This script measures ``dedupe run`` on such a file (``tests.synth.make_corpus`` pages,
one row group), as a whole process (``python -m dedupe.cli run``), with 1 and 2 workers run
alternately, ``--repeats`` times each, with defaults and with document dedup only
(``--no-spans --no-boilerplate``). It prints the median wall time, the per-stage medians from
``report.json``, the speedup of 2 workers over 1, and the largest resident set of any one
process of the run (GNU time).

    python benchmarks/bench_one_file.py --docs 100000 --repeats 3
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)


def corpus(cache: str, docs: int, row_group: int | None = None) -> str:
    """One Parquet file of ``docs`` generated pages, in one row group (or groups of
    ``row_group`` rows), made once in ``cache``."""
    name = "one-group" if not row_group or row_group >= docs else f"groups-{row_group}"
    path = os.path.join(cache, f"{name}-{docs}.parquet")
    if not os.path.exists(path):
        import pyarrow.parquet as pq

        from tests.synth import make_corpus

        os.makedirs(cache, exist_ok=True)
        table = make_corpus(docs, seed=1).drop_columns(["cluster", "variant"])
        pq.write_table(table, path + ".tmp", row_group_size=min(row_group or docs, docs))
        os.replace(path + ".tmp", path)
    return path


def one_run(path: str, out: str, workers: int, extra: list[str]) -> dict:
    cmd = [sys.executable, "-m", "dedupe.cli", "run", path, "--out", out, "--overwrite", "-q",
           "--workers", str(workers), *extra]
    t0 = time.perf_counter()
    proc = subprocess.run(["/usr/bin/time", "-f", "%M", *cmd], capture_output=True, text=True,
                          check=True)
    wall = time.perf_counter() - t0
    with open(os.path.join(out, "report.json")) as fh:
        report = json.load(fh)
    stages = {s["name"]: s["seconds"] for s in report["stages"]}
    tasks = {s["name"]: s.get("tasks") for s in report["stages"]}
    return {"wall": wall, "stages": stages, "sign_tasks": tasks.get("sign"),
            "max_rss_mb": int(proc.stderr.strip().splitlines()[-1]) / 1024}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--docs", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--cache", default=os.path.join(tempfile.gettempdir(), "dedupe-bench"))
    parser.add_argument("--out-json")
    args = parser.parse_args()
    path = corpus(args.cache, args.docs)
    modes = {"defaults": [], "document dedup only": ["--no-spans", "--no-boilerplate"]}
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for mode, extra in modes.items():
            runs = {1: [], 2: []}
            for _ in range(args.repeats):
                for w in (1, 2):
                    runs[w].append(one_run(path, os.path.join(tmp, f"w{w}"), w, extra))
            results[mode] = runs
            med = {w: statistics.median(r["wall"] for r in runs[w]) for w in runs}
            print(f"\n{mode}: {args.docs:,} docs, one file, one row group")
            print(f"{'workers':>8} {'wall s':>8} {'sign tasks':>10} {'max RSS MB':>11}  stages "
                  "(median s)")
            for w in (1, 2):
                names = list(runs[w][0]["stages"])
                st = " ".join(f"{n} {statistics.median(r['stages'][n] for r in runs[w]):.2f}"
                              for n in names)
                rss = max(r["max_rss_mb"] for r in runs[w])
                print(f"{w:>8} {med[w]:>8.2f} {runs[w][0]['sign_tasks']:>10} {rss:>11.0f}  {st}")
            print(f"speedup of 2 workers over 1: {med[1] / med[2]:.2f}x")
    if args.out_json:
        with open(args.out_json, "w") as fh:
            json.dump({"docs": args.docs, "results": results}, fh, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
