"""Scaling on one machine: wall time, peak memory and work-folder size at 1M, 3M and 10M pages.

Two steps, each a fresh process:

``python benchmarks/bench_scale.py generate --docs 10000000 --dir /data/scale``
    writes ``tests.synth.make_corpus`` pages (1-3 KB bodies, site template, 30 % planted
    copies inside each file) as Parquet files of ``--per-file`` rows, seed = file number, so the
    first 10 files of 100,000 rows are the 1M corpus, the first 30 the 3M corpus and so on.
    Columns: ``id, url, text``. Already written files are kept (the step resumes).

``python benchmarks/bench_scale.py run --dir /data/scale --sizes 1000000 3000000 10000000``
    runs ``dedupe run`` on the first files of each size as a child process and samples the
    summed RSS of its process tree and the size of its work folder every 0.2 s. Prints the
    scaling table (docs, wall s, docs/s, peak RSS of the tree and of the main process, peak
    work-folder size, output size) and, with ``--plot``, draws time and memory against size.

``python benchmarks/bench_scale.py table --json a.json b.json --plot scale.png``
    the table and plot again from the ``--out-json`` files of several ``run`` invocations.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # for tests.synth

PER_FILE = 100_000


def generate(args) -> int:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from tests.synth import make_corpus

    folder = Path(args.dir)
    folder.mkdir(parents=True, exist_ok=True)
    n_files = -(-args.docs // args.per_file)
    files = range(n_files)
    if args.part is not None:
        k, m = (int(x) for x in args.part.split("/"))
        files = [f for f in files if f % m == k]
    for f in files:
        path = folder / f"part-{f:05d}.parquet"
        if path.exists():
            continue
        started = time.perf_counter()
        table = make_corpus(args.per_file, seed=10_000 + f)
        ids = pa.array([f"{f:05d}-{i:06d}" for i in range(table.num_rows)])
        table = pa.table({"id": ids, "url": table["url"], "text": table["text"]})
        tmp = folder / f".part-{f:05d}.parquet.tmp"
        pq.write_table(table, tmp, row_group_size=25_000, compression="zstd")
        os.replace(tmp, path)
        print(f"{path.name}: {table.num_rows} rows in {time.perf_counter() - started:.1f} s",
              flush=True)
    return 0


def _folder_bytes(path: Path) -> int:
    total = 0
    for root, _, files in os.walk(path):
        for f in files:
            with contextlib.suppress(OSError):
                total += os.path.getsize(os.path.join(root, f))
    return total


def measure(paths: list[str], out: Path, options: list[str]) -> dict:
    """One ``dedupe run`` as a child process, sampled every 0.2 s (RSS) and 2 s (disk)."""
    import psutil

    cmd = [str(Path(sys.executable).parent / "dedupe"), "run", *paths, "--out", str(out),
           "--overwrite", "--id-column", "id", "-q", *options]
    started = time.perf_counter()
    proc = psutil.Popen(cmd)
    peak_tree = peak_main = peak_work = 0
    last_disk = 0.0
    work = out / "_work"
    while proc.poll() is None:
        try:
            procs = [proc, *proc.children(recursive=True)]
            rss = [p.memory_info().rss for p in procs]
            peak_tree = max(peak_tree, sum(rss))
            peak_main = max(peak_main, rss[0])
        except psutil.Error:
            pass
        if time.perf_counter() - last_disk > 2:
            peak_work = max(peak_work, _folder_bytes(work))
            last_disk = time.perf_counter()
        time.sleep(0.2)
    wall = time.perf_counter() - started
    if proc.returncode:
        raise SystemExit(f"dedupe run failed with exit code {proc.returncode}")
    report = json.loads((out / "report.json").read_text())
    return {
        "docs": report["rows"], "wall_s": round(wall, 1),
        "docs_per_s": round(report["rows"] / wall),
        "peak_rss_tree_mib": round(peak_tree / 2**20),
        "peak_rss_main_mib": round(peak_main / 2**20),
        "peak_work_mib": round(peak_work / 2**20),
        "output_mib": round(_folder_bytes(out / "data") / 2**20),
        "kept": report["counts"]["kept"],
        "stages": {s["name"]: round(s["seconds"], 1) for s in report["stages"]},
        # per stage: peak RSS of the main process and of one task (MiB), and the decide
        # stage's own steps (tasks, seconds, bytes written = data moved to the next step)
        "stage_rss_mib": {s["name"]: [round(s["peak_rss_main"] / 2**20),
                                      round(s["peak_rss_worker"] / 2**20)]
                          for s in report["stages"]},
        "decide": next((s.get("details") for s in report["stages"] if s["name"] == "decide"),
                       None),
        "input_mib": round(sum(os.path.getsize(p) for p in paths) / 2**20),
    }


def run(args) -> int:
    folder = Path(args.dir)
    files = sorted(str(p) for p in folder.glob("part-*.parquet"))
    results = []
    for size in args.sizes:
        n_files = -(-size // args.per_file)
        if n_files > len(files):
            raise SystemExit(f"{folder} holds {len(files)} files; {size} docs need {n_files}")
        out = Path(args.out) / f"run-{size}"
        # "{size}" in --options: the corpus size (a new --write-index folder per size)
        options = args.options.replace("{size}", str(size)).split() if args.options else []
        r = measure(files[:n_files], out, options)
        r["files"] = n_files
        results.append(r)
        print(json.dumps(r), flush=True)
        if not args.keep:
            import shutil

            shutil.rmtree(out, ignore_errors=True)
    if args.out_json:
        Path(args.out_json).write_text(json.dumps(results, indent=1))
    _table(results, args.plot)
    return 0


def _table(results: list[dict], plot: str | None) -> None:
    results = sorted(results, key=lambda r: r["docs"])
    print()
    print("| docs | wall s | docs/s | s per 1M docs | peak RSS, all processes (MiB) "
          "| peak RSS, main (MiB) | peak work folder (MiB) | output (MiB) | stages (s) |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    for r in results:
        stages = ", ".join(f"{k} {v}" for k, v in r["stages"].items())
        print(f"| {r['docs']:,} | {r['wall_s']:,} | {r['docs_per_s']:,} | "
              f"{r['wall_s'] / r['docs'] * 1e6:.0f} | "
              f"{r['peak_rss_tree_mib']:,} | {r['peak_rss_main_mib']:,} | "
              f"{r['peak_work_mib']:,} | {r['output_mib']:,} | {stages} |")
    if plot:
        _plot(results, plot)


def table(args) -> int:
    """The table (and plot) from the JSON files of earlier ``run`` invocations."""
    results = [r for path in args.json for r in json.loads(Path(path).read_text())]
    _table(results, args.plot)
    return 0


def _plot(results: list[dict], path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    docs = [r["docs"] / 1e6 for r in results]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4))
    ax1.plot(docs, [r["wall_s"] / 60 for r in results], "o-")
    ax1.set_xlabel("documents (millions)")
    ax1.set_ylabel("wall time (minutes)")
    ax1.set_title("Wall time against corpus size")
    ax1.set_xlim(0)
    ax1.set_ylim(0)
    ax2.plot(docs, [r["peak_rss_tree_mib"] / 1024 for r in results], "o-", label="all processes")
    ax2.plot(docs, [r["peak_rss_main_mib"] / 1024 for r in results], "s--", label="main process")
    ax2.axhline(4, color="grey", lw=0.8, ls=":", label="4 GiB")
    ax2.set_xlabel("documents (millions)")
    ax2.set_ylabel("peak RSS (GiB)")
    ax2.set_title("Peak memory")
    ax2.set_xlim(0)
    ax2.set_ylim(0)
    ax2.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    g = sub.add_parser("generate")
    g.add_argument("--docs", type=int, default=10_000_000)
    g.add_argument("--dir", required=True)
    g.add_argument("--per-file", type=int, default=PER_FILE)
    g.add_argument("--part", help="K/M: only files whose number is K modulo M (parallel runs)")
    r = sub.add_parser("run")
    r.add_argument("--dir", required=True)
    r.add_argument("--out", default="/tmp/dedupe-scale-runs")
    r.add_argument("--sizes", type=int, nargs="+", default=[1_000_000, 3_000_000, 10_000_000])
    r.add_argument("--per-file", type=int, default=PER_FILE)
    r.add_argument("--options", default="",
                   help="extra dedupe run options, one string; {size} is the corpus size")
    r.add_argument("--keep", action="store_true", help="keep each run folder")
    r.add_argument("--out-json")
    r.add_argument("--plot", help="PNG path for time and memory against corpus size")
    t = sub.add_parser("table")
    t.add_argument("--json", nargs="+", required=True)
    t.add_argument("--plot")
    args = p.parse_args(argv)
    return {"generate": generate, "run": run, "table": table}[args.cmd](args)


if __name__ == "__main__":
    sys.exit(main())
