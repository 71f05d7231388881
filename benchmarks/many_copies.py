"""One page copied N times: does ``dedupe run`` keep one, call the rest exact duplicates and
lose no row, and what does it cost?

The fault suite runs 100,000 copies (``tests/test_faults.py``); this script runs as many as asked.
It writes a Parquet file of ``--copies`` rows (``id``, ``text``: the same one-line text every
time, row groups of 100,000 rows), runs ``dedupe run`` on it with ``--workers`` as a child
process (``bench_scale.measure``: wall time, and the summed resident memory of the child and all
its descendants sampled every 0.2 s) and then reads the outputs back:

* the manifest holds every input row exactly once (``source_row`` 0..N-1, one each);
* one row is ``kept`` and the other N-1 are ``exact_duplicate``, all in one cluster;
* the data shards hold exactly one row, the kept one.

It prints the figures and the checks, and exits 1 when a check fails.

    python benchmarks/many_copies.py --copies 1000000 --workers 1
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from bench_scale import measure

TEXT = "the very same page, copied again and again"
ROW_GROUP = 100_000


def write_copies(path: Path, copies: int) -> None:
    """``copies`` rows of the same text, written one row group at a time."""
    schema = pa.schema([("id", pa.string()), ("text", pa.string())])
    with pq.ParquetWriter(path, schema, compression="zstd") as writer:
        for start in range(0, copies, ROW_GROUP):
            rows = range(start, min(start + ROW_GROUP, copies))
            ids = pa.array([f"copy-{r:09d}" for r in rows], pa.string())
            text = pa.array([TEXT] * len(rows), pa.string())
            writer.write_table(pa.table([ids, text], schema=schema))


def check_outputs(out: Path, copies: int) -> dict:
    """What the manifest and the data shards say, and which of the promised facts fail."""
    manifest = pq.read_table(out / "manifest.parquet",
                             columns=["id", "source_row", "action", "cluster_id"])
    rows = np.sort(manifest["source_row"].to_numpy())
    actions = {a["values"]: a["counts"]
               for a in pc.value_counts(manifest["action"].combine_chunks()).to_pylist()}
    shard_rows = sum(pq.read_metadata(p).num_rows for p in (out / "data").glob("*.parquet"))
    kept = pc.equal(manifest["action"], "kept")
    kept_ids = manifest.filter(kept)["id"].to_pylist()
    facts = {
        "manifest rows = copies": manifest.num_rows == copies,
        "every source row once": len(rows) == copies and bool(np.all(rows == np.arange(copies))),
        "1 kept": actions.get("kept", 0) == 1,
        "N-1 exact duplicates": actions.get("exact_duplicate", 0) == copies - 1,
        "one cluster": pc.count_distinct(manifest["cluster_id"]).as_py() == 1,
        "1 row in the data shards": shard_rows == 1,
        "the kept row is in the data shards": _shard_ids(out) == kept_ids,
    }
    return {"actions": actions, "shard_rows": shard_rows, "kept_id": kept_ids,
            "failed": [name for name, ok in facts.items() if not ok]}


def _shard_ids(out: Path) -> list[str]:
    return [i for p in sorted((out / "data").glob("*.parquet"))
            for i in pq.read_table(p, columns=["id"])["id"].to_pylist()]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--copies", type=int, default=1_000_000, help="rows [1000000]")
    parser.add_argument("--workers", type=int, default=1, help="dedupe run --workers [1]")
    parser.add_argument("--dir", type=Path, default=None,
                        help="work folder, kept afterwards (default: a temporary one, removed)")
    parser.add_argument("--out-json", type=Path, default=None)
    args = parser.parse_args(argv)
    folder = args.dir or Path(tempfile.mkdtemp(prefix="many-copies-"))
    folder.mkdir(parents=True, exist_ok=True)
    try:
        started = time.perf_counter()
        write_copies(folder / "copies.parquet", args.copies)
        print(f"{args.copies:,} copies written in {time.perf_counter() - started:.1f} s",
              flush=True)
        run = measure([str(folder / "copies.parquet")], folder / "out",
                      ["--workers", str(args.workers)])
        result = {"copies": args.copies, "workers": args.workers, "text": TEXT, **run,
                  **check_outputs(folder / "out", args.copies)}
    finally:
        if args.dir is None:
            shutil.rmtree(folder, ignore_errors=True)
    print(f"{args.copies:,} copies, --workers {args.workers}: {result['wall_s']} s, "
          f"peak RSS {result['peak_rss_tree_mib']:,} MiB (all processes; main "
          f"{result['peak_rss_main_mib']:,} MiB), actions {result['actions']}, "
          f"{result['shard_rows']} row in the data shards; stages {result['stages']}")
    print("checks: " + ("all passed" if not result["failed"]
                        else "FAILED: " + ", ".join(result["failed"])))
    if args.out_json:
        args.out_json.write_text(json.dumps(result, indent=1) + "\n")
    return 1 if result["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
