"""Near-duplicate passages on generated pages: what is found, and what it costs.

Pages come from ``tests.synth.passages.planted_passages``: generated web pages (no site
template, no in-page repeats), with ``--passages`` passages of 60-120 words each pasted into
``--copies`` pages, every copy with 5-15 % of its words replaced, inserted or dropped, and
``--inside`` pages that hold a passage of their own twice (the second copy edited the same way).

**Found** (one run with ``--near-passages``, spans on): a later copy across pages counts as
found when ``near_passage`` spans cover at least half of it; precision is the share of
``near_passage`` characters inside later copies (first copies must stay whole). The same for
the in-page copies with ``repeat`` spans.

**Cost** (one worker, every run a whole process, alternated in rounds, medians): document
dedup alone (``--no-spans --no-boilerplate``), the defaults, and the defaults with
``--near-passages``; each as a multiple of the document-only run, and ``report.json``'s stages.

``--input FILE --id-column NAME`` measures the cost on a Parquet file of your own instead (no
planted truth, so nothing is scored).

    python benchmarks/bench_passages.py --pages 20000 --repeats 3 --out-json FILE
    python benchmarks/bench_passages.py --input pages.parquet --id-column doc_id
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

import numpy as np
import pyarrow.parquet as pq

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)

from tests.synth.passages import planted_passages  # noqa: E402

MODES = {"document only": ["--no-spans", "--no-boilerplate"], "defaults": [],
         "defaults + near passages": ["--near-passages"]}


def _run(path: str, out: str, extra: list[str], id_column: str = "id") -> dict:
    t0 = time.perf_counter()
    proc = subprocess.run(["/usr/bin/time", "-f", "%M", sys.executable, "-m", "dedupe.cli", "run",
                           path, "--out", out, "--overwrite", "-q", "--workers", "1",
                           "--id-column", id_column, "--on-bad-row", "reject", *extra],
                          capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if proc.returncode:
        raise SystemExit(f"dedupe failed: {proc.stderr[-2000:]}")
    with open(os.path.join(out, "report.json")) as fh:
        report = json.load(fh)
    return {"wall": wall, "rss_mib": int(proc.stderr.strip().splitlines()[-1]) / 1024,
            "stages": {s["name"]: s["seconds"] for s in report["stages"]},
            "spans": report.get("spans", {})}


def _cover(texts: list[str], index: dict, spans: list[dict], kind: str) -> dict:
    cover: dict[int, np.ndarray] = {}
    for s in spans:
        if s["kind"] == kind:
            r = index[s["id"]]
            cover.setdefault(r, np.zeros(len(texts[r]), bool))[s["start"] : s["end"]] = True
    return cover


def found(texts: list[str], ids: list[str], truth: list[dict], spans: list[dict]) -> dict:
    """Later copies across pages (near_passage) and second copies inside a page (repeat):
    share found, share of the kind's flagged characters inside them, first copies touched."""
    index = {d: i for i, d in enumerate(ids)}
    out = {}
    for name, kind, wanted in (("across pages", "near_passage",
                                lambda c: not c["first"] and not c["inside"]),
                               ("inside a page", "repeat", lambda c: c["inside"])):
        cover = _cover(texts, index, spans, kind)
        copies = [c for c in truth if wanted(c)]
        hit = [cover.get(c["row"], np.zeros(len(texts[c["row"]]), bool))[c["start"] : c["end"]]
               .mean() >= 0.5 for c in copies]
        gold: dict[int, np.ndarray] = {}
        for c in copies:
            gold.setdefault(c["row"], np.zeros(len(texts[c["row"]]), bool))[
                c["start"] : c["end"]] = True
        flagged = sum(int(m.sum()) for m in cover.values())
        inside = sum(int((m & gold.get(r, np.zeros(len(m), bool))).sum())
                     for r, m in cover.items())
        own = {c["passage"] for c in truth if c["inside"]}  # passages a page holds twice
        firsts = [c for c in truth if not c["inside"]
                  and (c["first"] and c["passage"] not in own if kind == "near_passage"
                       else c["passage"] in own)]
        touched = sum(bool(cover.get(c["row"], np.zeros(len(texts[c["row"]]), bool))[
            c["start"] : c["end"]].any()) for c in firsts)
        out[name] = {"copies": len(copies), "found": float(np.mean(hit)) if hit else None,
                     "precision": inside / flagged if flagged else None,
                     "first_copies_touched": touched, "first_copies": len(firsts)}
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pages", type=int, default=20_000)
    ap.add_argument("--passages", type=int, default=0, help="0: one per 40 pages")
    ap.add_argument("--copies", type=int, default=3)
    ap.add_argument("--inside", type=int, default=0, help="0: one per 100 pages")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--input", help="a Parquet file to time instead of generated pages")
    ap.add_argument("--id-column", default="id")
    ap.add_argument("--passage-threshold", type=float,
                    help="passed to the near-passage runs (default: dedupe's)")
    ap.add_argument("--out-json")
    args = ap.parse_args()
    runs: dict[str, list] = {m: [] for m in MODES}
    with tempfile.TemporaryDirectory() as tmp:
        if args.input:
            path, truth = args.input, []
        else:
            table, truth = planted_passages(
                args.pages, seed=args.seed, n_passages=args.passages or max(1, args.pages // 40),
                copies=args.copies, inside=args.inside or args.pages // 100)
            texts, ids = table["text"].to_pylist(), table["id"].to_pylist()
            path = os.path.join(tmp, "pages.parquet")
            pq.write_table(table, path)
        if args.passage_threshold is not None:
            MODES["defaults + near passages"] += ["--passage-threshold",
                                                  str(args.passage_threshold)]
        for _ in range(args.repeats):
            for mode, extra in MODES.items():
                runs[mode].append(_run(path, os.path.join(tmp, "out"), extra, args.id_column))
        spans = pq.read_table(os.path.join(tmp, "out", "spans.parquet")).to_pylist()
    quality = found(texts, ids, truth, spans) if truth else {}
    base = statistics.median(r["wall"] for r in runs["document only"])
    table_out = {}
    for mode, rs in runs.items():
        wall = statistics.median(r["wall"] for r in rs)
        table_out[mode] = {"seconds": round(wall, 2), "x_document_only": round(wall / base, 2),
                           "peak_rss_mib": round(max(r["rss_mib"] for r in rs)),
                           "walls": [round(r["wall"], 2) for r in rs],
                           "stages": {s: round(statistics.median(r["stages"].get(s, 0)
                                                                 for r in rs), 2)
                                      for s in rs[0]["stages"]}}
    passages = runs["defaults + near passages"][0]["spans"].get("passages", {})
    print(f"{args.input or f'{args.pages:,} pages, {len(truth)} planted copies'}, one worker, "
          f"medians of {args.repeats}")
    for mode, row in table_out.items():
        print(f"{mode:<28} {row['seconds']:>7.2f} s  {row['x_document_only']:.2f}x document "
              f"only  peak {row['peak_rss_mib']:,} MiB  stages {row['stages']}")
    print(f"passages: {passages}")
    for name, q in quality.items():
        print(f"{name}: {q}")
    if args.out_json:
        with open(args.out_json, "w") as fh:
            json.dump({"input": args.input, "pages": None if args.input else args.pages,
                       "repeats": args.repeats, "cost": table_out,
                       "passages": passages, "found": quality}, fh, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
