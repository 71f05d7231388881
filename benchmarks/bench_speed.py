"""Speed per core, end to end: dedupe next to the loops its users would otherwise write.

One worker (one core), 100,000 generated pages of 1-3 KB with planted near-duplicates in one
Parquet file (``bench_one_file``'s corpus), from Parquet to deduplicated Parquet, each system a
whole process, alternated in rounds so that machine noise hits all alike:

* ``dedupe`` with defaults (spans and boilerplate on), ``--workers 1``;
* ``dedupe --no-spans --no-boilerplate`` (document dedup alone), ``--workers 1``;
* the peer loops of ``../shared/peers`` (rensa, datasketch, gaoya with ``RAYON_NUM_THREADS=1``),
  as their documentation shows them; a peer that is not installed is reported as not run.

Reports median wall seconds, docs/s, peak RSS (``/usr/bin/time``), dedupe's ratio to each peer
measured in the same rounds, and the median seconds of dedupe's stages (``report.json``).

``--floor`` also measures, in this process (medians), what no build can avoid: starting Python
and importing dedupe, reading the text column, decoding it to code points, one multiply-add-min
pass over every shingle (one permutation's arithmetic; MinHash does 128 such passes, a
one-permutation scheme one), and writing the kept rows as Parquet with the run's compression.

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


def _median_time(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def floor(path: str, out: str, repeats: int) -> dict:
    """Seconds of the unavoidable parts of a run on ``path`` (``out``: a finished run's output
    folder, for its kept rows)."""
    import glob
    import io

    import numpy as np
    import pyarrow.parquet as pq

    from dedupe.text.codepoints import decode_utf8

    pf = pq.ParquetFile(path)

    def read():
        return [b.column(0) for b in pf.iter_batches(batch_size=1024, columns=["text"],
                                                     use_threads=False)]

    def decode():
        for text in batches:
            decode_utf8(text)

    batches = read()
    from dedupe.config import DedupeConfig
    from dedupe.near.signing import sign_arrays

    cfg = DedupeConfig()  # the defaults' shingles: the real hashes, made once, not timed
    hashes, starts = [], []
    total = 0
    for text in batches:
        sh = sign_arrays(text, cfg, keep_shingles=True)[4]
        hashes.append(sh.hashes)
        starts.append(sh.offsets[:-1][np.diff(sh.offsets) > 0] + total)
        total += len(sh.hashes)
    shingles, starts = np.concatenate(hashes), np.concatenate(starts)
    del hashes

    def one_pass():
        with np.errstate(over="ignore"):
            np.minimum.reduceat(shingles * np.uint32(0x9E3779B1) + np.uint32(7), starts)

    kept = pq.read_table(sorted(glob.glob(os.path.join(out, "data", "*.parquet"))))
    compression = DedupeConfig().output.compression

    def write():
        pq.write_table(kept, io.BytesIO(), compression=compression, row_group_size=64 * 1024)

    start = statistics.median(_timed([sys.executable, "-c", "import dedupe.cli"])["wall"]
                              for _ in range(repeats))
    return {"start_and_import": round(start, 2),
            "read_text": round(_median_time(read, repeats), 2),
            "decode_code_points": round(_median_time(decode, repeats), 2),
            "one_pass_over_shingles": round(_median_time(one_pass, repeats), 2),
            "shingles": len(shingles),
            "write_kept_rows": round(_median_time(write, repeats), 2)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--docs", type=int, default=100_000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--peers", default="rensa loop,datasketch loop,gaoya loop (1 thread)",
                    help="which peer loops to run (comma-separated names, or none)")
    ap.add_argument("--cache", default=os.path.join(tempfile.gettempdir(), "dedupe-bench"))
    ap.add_argument("--floor", action="store_true",
                    help="also measure the floor: start, read, decode, one pass, write")
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
        low = floor(path, os.path.join(tmp, "out"), args.repeats) if args.floor else None
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
    if low is not None:
        print(f"floor (seconds, medians): {low}")
    if args.out_json:
        with open(args.out_json, "w") as fh:
            json.dump({"docs": args.docs, "repeats": args.repeats, "table": table,
                       "floor": low}, fh, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
