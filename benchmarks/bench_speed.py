"""Speed per core, end to end: dedupe next to the loops its users would otherwise write.

One worker (one core), 100,000 generated pages of 1-3 KB with planted near-duplicates in one
Parquet file (``bench_one_file``'s corpus), from Parquet to deduplicated Parquet, each system a
whole process, alternated in rounds so that machine noise hits all alike:

* ``dedupe`` with defaults (spans and boilerplate on), ``--workers 1``;
* ``dedupe --no-spans --no-boilerplate`` (document dedup alone), ``--workers 1``;
* the peer loops of ``../shared/peers`` (rensa, datasketch, gaoya with ``RAYON_NUM_THREADS=1``),
  as their documentation shows them; a peer that is not installed is reported as not run.

Reports median wall seconds, docs/s, peak RSS (``/usr/bin/time``), dedupe's ratio to each peer
measured in the same rounds, and the median seconds of dedupe's stages (``report.json``) with
the sign stage's parts.

    python benchmarks/bench_speed.py --repeats 3 --out-json benchmarks/results/speed_100k.json
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
sys.path.insert(0, HERE)

from bench_one_file import corpus  # noqa: E402

PEERS = os.path.join(os.path.dirname(ROOT), "shared", "peers")
MODES = {"dedupe defaults": [], "dedupe --no-spans --no-boilerplate":
         ["--no-spans", "--no-boilerplate"]}
PEER_LOOPS = {"rensa loop": "rensa_loop.py", "datasketch loop": "datasketch_loop.py",
              "gaoya loop (1 thread)": "gaoya_loop.py"}


def _timed(cmd: list[str], env: dict | None = None) -> dict:
    """Wall seconds and peak RSS (MiB, the largest process) of a command."""
    t0 = time.perf_counter()
    proc = subprocess.run(["/usr/bin/time", "-f", "%M", *cmd], capture_output=True, text=True,
                          env={**os.environ, **(env or {})})
    wall = time.perf_counter() - t0
    if proc.returncode:
        return {"error": proc.stderr.strip().splitlines()[-3:]}
    return {"wall": wall, "rss_mib": int(proc.stderr.strip().splitlines()[-1]) / 1024}


def _dedupe(path: str, out: str, extra: list[str]) -> dict:
    got = _timed([sys.executable, "-m", "dedupe.cli", "run", path, "--out", out, "--overwrite",
                  "-q", "--workers", "1", *extra])
    if "error" in got:
        raise SystemExit(f"dedupe failed: {got['error']}")
    with open(os.path.join(out, "report.json")) as fh:
        report = json.load(fh)
    got["stages"] = {s["name"]: s["seconds"] for s in report["stages"]}
    return got


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--docs", type=int, default=100_000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--peers", default="rensa loop,datasketch loop,gaoya loop (1 thread)",
                    help="which peer loops to run (comma-separated names, or none)")
    ap.add_argument("--cache", default=os.path.join(tempfile.gettempdir(), "dedupe-bench"))
    ap.add_argument("--out-json")
    args = ap.parse_args()
    path = corpus(args.cache, args.docs)
    peers = [p for p in args.peers.split(",") if p and p != "none"]
    runs: dict[str, list] = {name: [] for name in [*MODES, *peers]}
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(args.repeats):
            for mode, extra in MODES.items():
                runs[mode].append(_dedupe(path, os.path.join(tmp, "out"), extra))
            for name in peers:
                script = os.path.join(PEERS, PEER_LOOPS[name])
                runs[name].append(_timed([sys.executable, script, path,
                                          os.path.join(tmp, "peer.parquet")],
                                         {"RAYON_NUM_THREADS": "1"}))
    table = {}
    for name, got in runs.items():
        ok = [r for r in got if "error" not in r]
        if not ok:
            table[name] = {"not run": got[0]["error"] if got else "no runs"}
            continue
        wall = statistics.median(r["wall"] for r in ok)
        table[name] = {"seconds": round(wall, 2), "docs_per_s": round(args.docs / wall),
                       "peak_rss_mib": round(max(r["rss_mib"] for r in ok)),
                       "walls": [round(r["wall"], 2) for r in ok]}
        if "stages" in ok[0]:
            table[name]["stages"] = {s: round(statistics.median(r["stages"][s] for r in ok), 2)
                                     for s in ok[0]["stages"]}
    base = table["dedupe defaults"]["seconds"]
    print(f"{args.docs:,} pages, one worker, medians of {args.repeats}")
    print(f"{'system':<40} {'seconds':>8} {'docs/s':>8} {'peak MiB':>9} {'defaults x':>11}")
    for name, row in table.items():
        if "not run" in row:
            print(f"{name:<40} not run: {row['not run']}")
            continue
        print(f"{name:<40} {row['seconds']:>8.2f} {row['docs_per_s']:>8,} "
              f"{row['peak_rss_mib']:>9,} {row['seconds'] / base:>10.2f}x")
    for mode in MODES:
        print(f"{mode} stages: {table[mode].get('stages')}")
    if args.out_json:
        with open(args.out_json, "w") as fh:
            json.dump({"docs": args.docs, "repeats": args.repeats, "table": table}, fh,
                      indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
