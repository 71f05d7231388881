"""What the Ray engine costs next to the local process pool, on one machine.

Each engine runs the same job, ``dedupe.run(shards, out, engine=..., workers=...,
id_column="id")``, from Parquet shards on disk to a finished run folder (data shards, manifest,
``report.json``), on a generated corpus (``tests.synth.make_corpus(N, seed)``, written once as
4 Parquet shards; generation is not timed):

* ``serial-1w``: ``engine="serial", workers=1``: every task in the calling process;
* ``local-Nw``: ``engine="local", workers=N`` (default 2): a pool of N spawned worker processes;
* ``ray-Ncpu``: ``engine="ray", workers=N``: no address, so dedupe starts a local Ray itself with
  ``ray.init(num_cpus=N)`` and shuts it down at the end of the run; Ray's start (GCS server,
  raylet, agents, worker processes) and shutdown are inside the timed call, as a user pays them.

For each size in ``--docs`` the engines run interleaved inside every repeat (serial, local, ray,
serial, local, ray, ...) so that drift in the machine's load hits them alike; one unrecorded
warm-up run per engine on the smallest corpus comes first (disk cache, Ray's binaries). The
fixed cost is the same three engines on a ``--fixed-docs`` corpus (default 1,000 docs), where
start-up and shutdown dominate; the script also fits ``wall = a + b * docs`` per engine over all
sizes, so ``a`` estimates the fixed part and ``b`` the marginal cost per document.

Per run, the figures are:

* wall s: the ``dedupe.run`` call, timed inside the subprocess (not the interpreter's start or
  imports; the whole subprocess's wall time is kept as ``process_seconds``);
* docs/s: docs / wall s; ``x local``: wall s / local-Nw's wall s for the same size (above 1:
  slower than the process pool);
* CPU s: user + system CPU seconds of the subprocess and all its descendants (Ray's GCS server,
  raylet, agents, monitors and workers; the pool's workers), sampled with psutil every 50 ms and
  summed over processes by their last sample, so this includes the subprocess's own interpreter
  start and imports, and misses at most the last 50 ms of a process that exits between samples;
  the subprocess's ``getrusage`` (self + children) is kept in the JSON as a cross-check, but
  it counts only descendants that were waited for, which most of Ray's processes are not, so
  for Ray it reads far too low;
* peak RSS MiB: the largest sum, over one 50 ms sample, of the resident sets of the subprocess
  and all its descendants. A page shared by several processes (shared libraries, Ray's object
  store in ``/dev/shm``) counts once per process, so for many-process engines this overstates
  the memory actually used;
* stage seconds from the run's ``report.json``; ``outside stages`` is wall s minus their sum:
  input checks, engine start (``ray.init``) and close (``ray.shutdown`` or the pool's), the
  report, and removal of the work folder.

Table cells are medians over ``--repeats`` (each column's own median); every run is kept in
``--out-json``. The manifests (``OUT/manifest.parquet``, read as one table and sorted by
``source_file, source_row``) of every run are compared with that of the first local-Nw run of
the same size, as tables (schema, metadata and values) and as the bytes of the Parquet files.

Every measured run happens in a fresh interpreter (this script with ``--engine-run``) that
imports a frozen copy of the ``dedupe`` package (``snapshot.py``; its digest is printed), so
code edited while the benchmark runs is not measured; Ray's workers inherit that import path.
Every subprocess gets ``RAY_AUTH_MODE=disabled`` (Ray 2.60 needs it for multi-node use, so it is
set here too) and ``RAY_TMPDIR=WORKDIR/ray`` (the session folders of these runs stay apart from
other users' ``/tmp/ray``). CPU pressure (Linux PSI: the share of wall time some task waited
for a CPU) is recorded per run: on a shared machine a background job on one core inflates every
engine's wall time, so only figures from one invocation should be compared.

    python benchmarks/bench_ray.py --docs 20000 100000 --repeats 3 --out-json /tmp/bench_ray.json
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
from bench_engine import sample_tree, write_corpus  # same corpus files, same sampling
from snapshot import child_env, snapshot_dedupe, synth_digest

SAMPLE_S = 0.05
MiB = 1 << 20
SORT_KEYS = [("source_file", "ascending"), ("source_row", "ascending")]


def engines(workers: int) -> dict[str, tuple[str, int]]:
    """Label -> (engine name, workers), in the order they run inside a repeat."""
    return {
        "serial-1w": ("serial", 1),
        f"local-{workers}w": ("local", workers),
        f"ray-{workers}cpu": ("ray", workers),
    }


# --------------------------------------------------------------------------------------------
# the corpus, and one measured run (each in its own subprocess)
# --------------------------------------------------------------------------------------------


def prepare_corpus(workdir: Path, n_docs: int, seed: int, snapshot: Path, env: dict) -> list[str]:
    """The shard paths for ``(n_docs, seed)``, generated once per version of the generator."""
    folder = workdir / f"corpus-{n_docs}-s{seed}-{synth_digest(snapshot)}"
    if not (folder / "_COMPLETE").exists():
        print(f"generating {n_docs:,} docs (seed {seed}) in {folder}", flush=True)
        cmd = [sys.executable, os.path.abspath(__file__), "--prepare", str(folder),
               "--docs", str(n_docs), "--seed", str(seed)]
        subprocess.run(cmd, check=True, env=env)
    return sorted(str(p) for p in folder.glob("part-*.parquet"))


def child_main(args: argparse.Namespace) -> int:
    """One ``dedupe.run`` with one engine; writes its figures to ``--result`` as JSON."""
    import dedupe

    out = Path(args.run_out)
    shutil.rmtree(out, ignore_errors=True)
    engine, workers = args.engine_run.split(":")
    t0 = time.perf_counter()
    dedupe.run(sorted(args.inputs), out, engine=engine, workers=int(workers), id_column="id")
    seconds = time.perf_counter() - t0
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    report = json.loads((out / "report.json").read_text())
    res = {
        "seconds": seconds,
        "report_seconds": report["seconds"],
        "stages": {s["name"]: s["seconds"] for s in report["stages"]},
        "rows": report["rows"],
        "counts": report["counts"],
        "rusage_cpu_self": me.ru_utime + me.ru_stime,
        "rusage_cpu_children": kids.ru_utime + kids.ru_stime,
        "dedupe_file": dedupe.__file__,
    }
    Path(args.result).write_text(json.dumps(res))
    return 0


# --------------------------------------------------------------------------------------------
# the parent: launch, sample, compare manifests, tabulate
# --------------------------------------------------------------------------------------------


def cpu_pressure_total() -> float:
    """Microseconds some task waited for a CPU since boot (Linux PSI), or NaN."""
    try:
        with open("/proc/pressure/cpu") as fh:
            return float(fh.readline().split("total=")[1])
    except (OSError, IndexError, ValueError):
        return float("nan")


def launch(label: str, spec: tuple[str, int], paths: list[str], workdir: Path, env: dict) -> dict:
    """One run in a fresh interpreter, sampling the RSS and CPU of its whole process tree."""
    import psutil

    result = workdir / f"result-{label}.json"
    result.unlink(missing_ok=True)
    out = workdir / "runs" / label
    cmd = [sys.executable, os.path.abspath(__file__), "--engine-run", f"{spec[0]}:{spec[1]}",
           "--result", str(result), "--run-out", str(out), "--inputs", *paths]
    pressure0, wall0 = cpu_pressure_total(), time.perf_counter()
    proc = subprocess.Popen(cmd, env=env)
    ps = psutil.Process(proc.pid)
    peak, procs_peak, cpu = 0, 0, {}
    while proc.poll() is None:
        peak = max(peak, sample_tree(ps, cpu))
        procs_peak = max(procs_peak, len(cpu))
        time.sleep(SAMPLE_S)
    wall = time.perf_counter() - wall0
    if proc.returncode != 0:
        raise RuntimeError(f"{label} failed with exit status {proc.returncode}")
    res = json.loads(result.read_text())
    res.update(
        engine=label,
        process_seconds=wall,
        peak_tree_rss=peak,
        processes_seen=len(cpu),
        cpu_seconds_tree=sum(cpu.values()),
        cpu_pressure=(cpu_pressure_total() - pressure0) / 1e6 / wall,
        out=str(out),
    )
    return res


def manifest_of(out: str):
    """The run's manifest as one table sorted by source row, and a digest of its file bytes."""
    folder = Path(out) / "manifest.parquet"
    files = sorted(p for p in folder.rglob("*") if p.is_file()) if folder.is_dir() else [folder]
    digest = hashlib.sha256()
    for p in files:
        digest.update(p.relative_to(folder.parent).as_posix().encode() + b"\0")
        digest.update(hashlib.sha256(p.read_bytes()).digest())
    table = pq.read_table(folder).sort_by(SORT_KEYS).combine_chunks()
    return table, digest.hexdigest()


def median_row(runs: list[dict], n: int) -> dict:
    med = statistics.median
    stage_names = list(runs[0]["stages"])
    seconds = med(r["seconds"] for r in runs)
    return {
        "docs": n,
        "seconds": seconds,
        "seconds_all": [r["seconds"] for r in runs],
        "docs_per_s": n / seconds,
        "process_seconds": med(r["process_seconds"] for r in runs),
        "cpu_seconds": med(r["cpu_seconds_tree"] for r in runs),
        "cpu_seconds_all": [r["cpu_seconds_tree"] for r in runs],
        "rusage_cpu_seconds": med(r["rusage_cpu_self"] + r["rusage_cpu_children"] for r in runs),
        "peak_rss_mib": med(r["peak_tree_rss"] for r in runs) / MiB,
        "peak_rss_mib_all": [r["peak_tree_rss"] / MiB for r in runs],
        "processes_seen": max(r["processes_seen"] for r in runs),
        "cpu_pressure_all": [r["cpu_pressure"] for r in runs],
        "stages": {s: med(r["stages"][s] for r in runs) for s in stage_names},
        "outside_stages": med(r["seconds"] - sum(r["stages"].values()) for r in runs),
        "manifest_table_equal": all(r["manifest_table_equal"] for r in runs),
        "manifest_bytes_equal": all(r["manifest_bytes_equal"] for r in runs),
    }


def measure_size(n: int, args, labels: dict, workdir: Path, env: dict) -> dict:
    paths = prepare_corpus(workdir, n, args.seed, args.snapshot, env)
    runs: dict[str, list[dict]] = {label: [] for label in labels}
    local = next(lb for lb in labels if lb.startswith("local"))
    pending: list[tuple[dict, object, str]] = []  # runs waiting for the reference manifest
    ref: tuple | None = None
    for rep in range(args.repeats):
        for label, spec in labels.items():
            res = launch(label, spec, paths, workdir, env)
            if not res["dedupe_file"].startswith(str(args.snapshot)):
                raise SystemExit(f"{label} imported {res['dedupe_file']}, not the snapshot")
            table, digest = manifest_of(res["out"])
            res["manifest_digest"] = digest
            if ref is None and label == local:
                ref = (table, digest)
            pending.append((res, table, digest))
            if ref is not None:
                for r, t, d in pending:
                    r["manifest_table_equal"] = t.equals(ref[0], check_metadata=True)
                    r["manifest_bytes_equal"] = d == ref[1]
                pending = []
            runs[label].append(res)
            (workdir / f"runs-{n}.json").write_text(json.dumps(runs, indent=1))
            stages = " ".join(f"{k} {v:.2f}" for k, v in res["stages"].items())
            same = res.get("manifest_table_equal", "pending")
            print(
                f"  {n:>7,} [{rep + 1}] {label:<10} {res['seconds']:7.2f} s "
                f"(process {res['process_seconds']:6.2f} s)  cpu {res['cpu_seconds_tree']:7.2f} s "
                f"peak {res['peak_tree_rss'] / MiB:6.0f} MiB  {res['processes_seen']:2d} procs  "
                f"cpu pressure {res['cpu_pressure']:4.0%}  manifest = local: {same}  [{stages}]",
                flush=True,
            )
    rows = {label: median_row(r, n) for label, r in runs.items()}
    for row in rows.values():
        row["x_local"] = row["seconds"] / rows[local]["seconds"]
    return {"docs": n, "engines": rows, "runs": runs}


def fit(sizes: list[dict], label: str) -> dict:
    """Least squares ``wall = a + b * docs`` over the sizes measured."""
    xs = [s["docs"] for s in sizes]
    ys = [s["engines"][label]["seconds"] for s in sizes]
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    sxx = sum((x - mx) ** 2 for x in xs)
    b = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sxx if sxx else 0.0
    return {"fixed_s": my - b * mx, "s_per_100k_docs": b * 100_000}


def warm_up(args, labels: dict, workdir: Path, env: dict, n: int) -> None:
    paths = prepare_corpus(workdir, n, args.seed, args.snapshot, env)
    for label, spec in labels.items():
        res = launch(label, spec, paths, workdir, env)
        print(f"  warm-up {label:<10} {n:,} docs {res['seconds']:6.2f} s (not recorded)",
              flush=True)


def markdown(result: dict) -> str:
    labels = result["engines"]
    local = next(lb for lb in labels if lb.startswith("local"))
    lines = [
        f"dedupe source {result['dedupe_source']}; {result['cores']} cores; median of "
        f"{result['repeats']} interleaved runs per engine and size; {result['date']}.",
        f"Machine shared with a background job: {result['background']}",
        f"CPU pressure (PSI, share of wall time some task waited for a CPU) over all runs: "
        f"{result['cpu_pressure_min']:.0%} to {result['cpu_pressure_max']:.0%}.",
        "",
        f"| engine | docs | wall s (median) | docs/s | x {local} | CPU s | peak RSS MiB "
        f"| manifests identical |",
        "|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for size in result["sizes"]:
        for label, r in size["engines"].items():
            same = "yes" if r["manifest_table_equal"] else "NO"
            if r["manifest_table_equal"] and not r["manifest_bytes_equal"]:
                same += " (tables; file bytes differ)"
            elif r["manifest_bytes_equal"]:
                same += " (tables and file bytes)"
            tag = " (fixed cost)" if size["docs"] == result["fixed_docs"] else ""
            lines.append(
                f"| {label} | {size['docs']:,}{tag} | {r['seconds']:.2f} | "
                f"{r['docs_per_s']:,.0f} | {r['x_local']:.2f} | {r['cpu_seconds']:.1f} | "
                f"{r['peak_rss_mib']:,.0f} | {same} |"
            )
    stage_names = list(result["sizes"][0]["engines"][local]["stages"])
    lines += [
        "",
        "Where the time goes (medians, seconds; outside stages = wall - sum of stages: engine "
        "start and close, input checks, report):",
        "",
        f"| engine | docs | {' | '.join(stage_names)} | outside stages | process wall |",
        "|---|---:|" + "---:|" * (len(stage_names) + 2),
    ]
    for size in result["sizes"]:
        for label, r in size["engines"].items():
            cells = " | ".join(f"{r['stages'].get(s, 0.0):.2f}" for s in stage_names)
            lines.append(
                f"| {label} | {size['docs']:,} | {cells} | {r['outside_stages']:.2f} | "
                f"{r['process_seconds']:.2f} |"
            )
    lines += ["", "Fit wall = a + b * docs over the sizes measured:"]
    for label, f in result["fit"].items():
        lines.append(
            f"- {label}: a = {f['fixed_s']:.2f} s fixed, b = {f['s_per_100k_docs']:.1f} s "
            f"per 100,000 docs"
        )
    return "\n".join(lines)


def background_note() -> str:
    """Other processes using CPU now, outside this script's tree (a snapshot over 1 s)."""
    import psutil

    me = os.getpid()
    procs = [p for p in psutil.process_iter(["pid", "cmdline"]) if p.info["pid"] != me]
    for p in procs:
        with contextlib.suppress(psutil.Error):
            p.cpu_percent(None)
    time.sleep(1.0)
    busy = []
    for p in procs:
        with contextlib.suppress(psutil.Error):
            pct = p.cpu_percent(None)
            if pct >= 20:
                cmd = " ".join(p.info["cmdline"] or [])[:80]
                busy.append(f"{pct:.0f}% of a core: {cmd}")
    return "; ".join(busy) if busy else "none above 20% of a core at the start"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--docs", type=int, nargs="+", default=[20_000, 100_000])
    parser.add_argument("--fixed-docs", type=int, default=1_000,
                        help="corpus size for the fixed cost (0: skip)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2, help="local workers and Ray CPUs")
    parser.add_argument("--seed", type=int, default=0, help="corpus seed")
    parser.add_argument("--no-warmup", action="store_true")
    parser.add_argument("--out-json", help="write the figures and every run here")
    parser.add_argument("--workdir", default="/tmp/dedupe-bench-ray")
    # internal: corpus generation and one measured run, each in a subprocess
    parser.add_argument("--prepare", help=argparse.SUPPRESS)
    parser.add_argument("--engine-run", help=argparse.SUPPRESS)
    parser.add_argument("--result", help=argparse.SUPPRESS)
    parser.add_argument("--run-out", help=argparse.SUPPRESS)
    parser.add_argument("--inputs", nargs="*", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.prepare:
        write_corpus(Path(args.prepare), args.docs[0], args.seed)
        return 0
    if args.engine_run:
        return child_main(args)

    workdir = Path(args.workdir).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    args.snapshot, tag = snapshot_dedupe(workdir)
    env = {**child_env(args.snapshot), "RAY_AUTH_MODE": "disabled",
           "RAY_TMPDIR": str(workdir / "ray")}
    (workdir / "ray").mkdir(exist_ok=True)
    background = background_note()
    print(f"dedupe source {tag}, imported from {args.snapshot}", flush=True)
    print(f"background CPU users: {background}", flush=True)
    labels = engines(args.workers)
    sizes = sorted(set(args.docs) | ({args.fixed_docs} if args.fixed_docs else set()))
    if not args.no_warmup:
        warm_up(args, labels, workdir, env, sizes[0])
    measured = [measure_size(n, args, labels, workdir, env) for n in sizes]
    pressures = [r["cpu_pressure"] for s in measured for rs in s["runs"].values() for r in rs]
    result = {
        "what": "dedupe.run wall time per engine, Parquet shards -> run folder; medians",
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "dedupe_source": tag,
        "cores": os.cpu_count(),
        "workers": args.workers,
        "repeats": args.repeats,
        "seed": args.seed,
        "fixed_docs": args.fixed_docs,
        "background": background,
        "cpu_pressure_min": min(pressures),
        "cpu_pressure_max": max(pressures),
        "engines": {label: f"engine={e}, workers={w}" for label, (e, w) in labels.items()},
        "sizes": [{k: v for k, v in s.items() if k != "runs"} for s in measured],
        "fit": {label: fit(measured, label) for label in labels} if len(sizes) > 1 else {},
    }
    text = markdown(result)
    print("\n" + text, flush=True)
    if args.out_json:
        result["runs"] = {str(s["docs"]): s["runs"] for s in measured}
        Path(args.out_json).write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
