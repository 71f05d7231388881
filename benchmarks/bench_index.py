"""Incremental dedup at scale: a 10M-document index queried by 1M new documents.

Three steps, each a fresh process, on the corpus of ``bench_scale.py generate``:

``python benchmarks/bench_scale.py run --dir CORPUS --sizes 10000000 --keep
--options "--write-index INDEX --no-spans --no-boilerplate"``
    the 10M run that writes the index (its ``write-index`` stage time is in report.json).

``python benchmarks/bench_index.py queries --old CORPUS --dir QUERIES --docs 1000000``
    new documents: fresh generated pages (seeds no old file used) with ``--copies`` of them
    (10 %) replaced by copies of random old pages, half verbatim and half with 5 % of their
    words replaced, so the index has something to find. The planted copies are listed in
    ``QUERIES/planted.parquet`` (new id, old id, kind).

``python benchmarks/bench_index.py run --index INDEX --queries QUERIES --out OUT``
    ``dedupe run QUERIES --against INDEX`` as a child process, sampled like ``bench_scale.py``
    (wall, peak RSS of the process tree and of the main process); then checks the planted
    copies: how many were matched, and to the right old document.

``python benchmarks/bench_index.py scratch --old CORPUS --queries QUERIES --out OUT``
    the alternative the index saves: old and new pages deduplicated together from scratch.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # for tests.synth
from bench_scale import measure

PER_FILE = 100_000


def _edit(rng: np.random.Generator, text: str, rate: float) -> str:
    words = text.split(" ")
    n = max(1, int(len(words) * rate))
    for i in rng.choice(len(words), n, replace=False).tolist():
        words[i] = f"x{rng.integers(1 << 30)}"
    return " ".join(words)


def queries(args) -> int:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from tests.synth import make_corpus

    old = sorted(Path(args.old).glob("part-*.parquet"))
    out = Path(args.dir)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(7)
    planted = {"id": [], "old_id": [], "kind": []}
    for f in range(-(-args.docs // PER_FILE)):
        started = time.perf_counter()
        table = make_corpus(PER_FILE, seed=90_000 + f)
        ids = [f"new{f:04d}-{i:06d}" for i in range(PER_FILE)]
        texts = table["text"].to_pylist()
        urls = table["url"].to_pylist()
        n_copy = int(PER_FILE * args.copies)
        src = pq.read_table(old[int(rng.integers(len(old)))], columns=["id", "url", "text"])
        take = rng.choice(src.num_rows, n_copy, replace=False)
        where = rng.choice(PER_FILE, n_copy, replace=False)
        src_ids = src["id"].to_pylist()
        src_text = src["text"].to_pylist()
        for j, (w, t) in enumerate(zip(where.tolist(), take.tolist())):
            edited = j % 2 == 1
            texts[w] = _edit(rng, src_text[t], 0.05) if edited else src_text[t]
            urls[w] = src["url"][t].as_py()
            planted["id"].append(ids[w])
            planted["old_id"].append(src_ids[t])
            planted["kind"].append("edited" if edited else "verbatim")
        pq.write_table(pa.table({"id": ids, "url": urls, "text": texts}),
                       out / f"part-{f:05d}.parquet", row_group_size=25_000, compression="zstd")
        print(f"queries part {f}: {time.perf_counter() - started:.1f} s", flush=True)
    pq.write_table(pa.table(planted), out / "planted.parquet")
    return 0


def run(args) -> int:
    import pyarrow.parquet as pq

    paths = sorted(str(p) for p in Path(args.queries).glob("part-*.parquet"))
    r = measure(paths, Path(args.out), ["--against", args.index, *args.options.split()])
    m = pq.read_table(Path(args.out) / "manifest.parquet",
                      columns=["id", "action", "matched_id", "matched_index"])
    planted = pq.read_table(Path(args.queries) / "planted.parquet").to_pylist()
    matched = dict(zip(m["id"].to_pylist(), m["matched_id"].to_pylist()))
    for kind in ("verbatim", "edited"):
        rows = [p for p in planted if p["kind"] == kind]
        found = sum(matched.get(p["id"]) is not None for p in rows)
        right = sum(matched.get(p["id"]) == p["old_id"] for p in rows)
        r[f"planted_{kind}"] = len(rows)
        r[f"found_{kind}"] = found
        r[f"right_doc_{kind}"] = right
    r["matched_total"] = sum(v is not None for v in matched.values())
    header = json.loads((Path(args.index) / "header.json").read_text())
    r["index_docs"] = header["rows"]
    r["index_generations"] = len(header["generations"])
    r["index_mib"] = round(sum(f.stat().st_size for f in Path(args.index).rglob("*")
                               if f.is_file()) / 2**20)
    print(json.dumps(r, indent=1))
    if args.out_json:
        Path(args.out_json).write_text(json.dumps(r, indent=1))
    return 0


def scratch(args) -> int:
    """The alternative: old and new deduplicated together from scratch, same options."""
    paths = sorted(str(p) for p in Path(args.old).glob("part-*.parquet"))
    paths += sorted(str(p) for p in Path(args.queries).glob("part-*.parquet"))
    r = measure(paths, Path(args.out), args.options.split())
    print(json.dumps(r, indent=1))
    if args.out_json:
        Path(args.out_json).write_text(json.dumps(r, indent=1))
    return 0


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    q = sub.add_parser("queries")
    q.add_argument("--old", required=True)
    q.add_argument("--dir", required=True)
    q.add_argument("--docs", type=int, default=1_000_000)
    q.add_argument("--copies", type=float, default=0.1)
    r = sub.add_parser("run")
    r.add_argument("--index", required=True)
    r.add_argument("--queries", required=True)
    r.add_argument("--out", default="/tmp/dedupe-index-run")
    r.add_argument("--options", default="--no-spans --no-boilerplate")
    r.add_argument("--out-json")
    s = sub.add_parser("scratch")
    s.add_argument("--old", required=True)
    s.add_argument("--queries", required=True)
    s.add_argument("--out", default="/tmp/dedupe-index-scratch")
    s.add_argument("--options", default="--no-spans --no-boilerplate")
    s.add_argument("--out-json")
    args = p.parse_args(argv)
    return {"queries": queries, "run": run, "scratch": scratch}[args.cmd](args)


if __name__ == "__main__":
    sys.exit(main())
