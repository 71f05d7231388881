"""End-to-end speed and accuracy of ``dedupe run`` against the loops people write with peers.

A claim such as "N docs/s" means little unless every system does the same job on the same
input, so each system here goes from Parquet shards on disk to deduplicated Parquet on disk:

* ``dedupe-1w``: ``dedupe.run(..., workers=1)`` (runs in-process, serial engine);
* ``dedupe-Nw``: ``dedupe.run(..., workers=0)`` (a process pool, one worker per core);
* ``dedupe-1w-nospans``: as ``dedupe-1w`` with in-page repeat and cross-page boilerplate span
  detection switched off (``spans=False, boilerplate=False``), i.e. the near-duplicate work
  alone, the same job the peers do (only where this dedupe has those options);
* ``datasketch``: the plain loop from datasketch's documentation: one ``MinHash(num_perm=128)``
  per document fed its word n-gram shingles one ``update`` at a time, ``MinHashLSH`` with the
  bands x rows that dedupe chose, insert all, query each, union-find, keep the first row of
  each cluster;
* ``rensa``: the same shingles through rensa's batch API (``RMinHash.from_token_sets``,
  ``RMinHashLSH.insert_many`` / ``query_all``), union-find, keep the first of each cluster.

The peers take n, the threshold, the permutation count and bands x rows from the
``report.json`` of the first dedupe run, so they follow dedupe's defaults (or ``--ngram`` /
``--threshold``, which are passed to dedupe) rather than a copy of them that could go stale.

Neither peer verifies LSH candidates against the threshold (that is how both are usually
used), while dedupe does; dedupe also normalises text (NFKC, punctuation, whitespace) before
shingling, and the peers only lower-case and split on whitespace.

Generating the corpus (``tests.synth.make_corpus``, pages of 1-3 KB with planted near
duplicates) and writing its shards are not timed. Every measured run happens in a fresh
subprocess (this script with ``--system``), so one system's peak memory cannot leak into
another's figure; the parent samples the resident set of the subprocess and all its
descendants (summed) every 50 ms, and the subprocess reports its own ``ru_maxrss``. Accuracy is
pairwise precision / recall / F1 against the planted ``cluster`` column
(``dedupe.evaluate.score``), with each system's clusters mapped back to input row order.

Other people edit and test this repository on the same machine while a session runs, so the
``dedupe`` package is copied once at the start and every subprocess imports that copy (its
digest is printed and stored), and each run records the CPU seconds of its process tree and the
CPU pressure (Linux PSI) it ran under next to its wall time.

    python benchmarks/bench_engine.py --docs 100000 --repeats 3 --out-json /tmp/bench.json
    python benchmarks/bench_engine.py --scaling          # dedupe, 1 worker, 10k/30k/100k docs
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from snapshot import child_env, snapshot_dedupe, synth_digest

SHARDS = 4
PEERS = ("datasketch", "rensa")
# dedupe systems: (workers, options added to the run's own)
DEDUPE = {
    "dedupe-1w": (1, {}),
    "dedupe-Nw": (0, {}),
    "dedupe-1w-nospans": (1, {"spans": False, "boilerplate": False}),
}
SAMPLE_S = 0.05
QUIET_AVG10 = 5.0  # % of time some task waited for a CPU, over the last 10 s
SCALING_SIZES = (10_000, 30_000, 100_000)
MiB = 1 << 20


# --------------------------------------------------------------------------------------------
# the code under test, and the corpus
# --------------------------------------------------------------------------------------------


def write_corpus(folder: Path, n_docs: int, seed: int) -> None:
    """Generate the corpus, write it as ``SHARDS`` Parquet files plus the truth and its size.

    Runs in a subprocess (``--system prepare``): Linux carries a process's RSS high-water mark
    over fork and exec into the child's ``ru_maxrss``, so a parent that once held the corpus
    would inflate every later measurement. The parent only ever loads ``truth.npy``.
    """
    from tests.synth import make_corpus

    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    table = make_corpus(n_docs, seed=seed)
    step = -(-n_docs // SHARDS)
    for s in range(SHARDS):
        pq.write_table(table.slice(s * step, step), folder / f"part-{s:05d}.parquet")
    np.save(folder / "truth.npy", table["cluster"].to_numpy())
    variant = table["variant"].combine_chunks().dictionary_encode()
    np.save(folder / "variant.npy", variant.indices.to_numpy(zero_copy_only=False))
    text_bytes = int(pc.sum(pc.binary_length(table["text"])).as_py() or 0)
    (folder / "_COMPLETE").write_text(
        json.dumps(
            {"docs": n_docs, "text_bytes": text_bytes, "variants": variant.dictionary.to_pylist()}
        )
    )


def prepare_corpus(workdir: Path, n_docs: int, seed: int, snapshot: Path) -> dict:
    """Shard ``paths``, planted ``truth`` and ``variant`` per row, ``text_bytes``; made once.

    Reuse matters because generating 100k pages takes longer than some of the runs being
    measured, and the corpus is identical for the same ``(n_docs, seed)``.
    """
    folder = workdir / f"corpus-{n_docs}-s{seed}-{synth_digest(snapshot)}"
    done = folder / "_COMPLETE"
    if not done.exists():
        cmd = [
            sys.executable,
            os.path.abspath(__file__),
            "--system",
            "prepare",
            "--run-out",
            str(folder),
            "--docs",
            str(n_docs),
            "--seed",
            str(seed),
        ]
        subprocess.run(cmd, check=True, env=child_env(snapshot))
    meta = json.loads(done.read_text())
    return {
        "paths": sorted(str(p) for p in folder.glob("part-*.parquet")),
        "truth": np.load(folder / "truth.npy"),
        "text_bytes": meta["text_bytes"],
        "variant": np.array(meta["variants"], dtype=object)[np.load(folder / "variant.npy")],
    }


# --------------------------------------------------------------------------------------------
# the systems (each runs inside its own subprocess)
# --------------------------------------------------------------------------------------------


def word_shingles(text: str, n: int) -> set[str]:
    """Lower-cased whitespace-split word n-grams, the shingles most MinHash tutorials use."""
    words = text.lower().split()
    if len(words) < n:
        return {" ".join(words)}
    return {" ".join(words[i : i + n]) for i in range(len(words) - n + 1)}


class UnionFind:
    """Plain Python union-find; the root of a set is its smallest index (the row kept)."""

    def __init__(self, n: int):
        self.parent = list(range(n))

    def find(self, x: int) -> int:
        parent = self.parent
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            if rb < ra:
                ra, rb = rb, ra
            self.parent[rb] = ra


def _read_input(paths: list[str]) -> pa.Table:
    """All columns, in shard order: the peers write whole kept rows, as dedupe does."""
    return pa.concat_tables([pq.read_table(p) for p in paths])


def _write_kept(table: pa.Table, uf: UnionFind, out: Path) -> np.ndarray:
    """Write the first row of every cluster; return the cluster label (root) of every row."""
    roots = np.fromiter((uf.find(i) for i in range(table.num_rows)), np.int64, table.num_rows)
    kept = np.flatnonzero(roots == np.arange(table.num_rows))
    (out / "data").mkdir(parents=True, exist_ok=True)
    pq.write_table(
        table.take(pa.array(kept)), out / "data" / "part-00000.parquet", compression="zstd"
    )
    return roots


def run_datasketch(paths: list[str], out: Path, cfg: dict) -> dict:
    """The loop as datasketch's documentation teaches it: one object and one ``update`` per shingle.

    Its per-shingle Python cost is what people who write this loop pay, so it is kept as is
    (no ``update_batch``, no shared permutations) rather than tuned.
    """
    from datasketch import MinHash, MinHashLSH

    n, num_perm, bands, rows = cfg["ngram"], cfg["num_perm"], cfg["bands"], cfg["rows"]
    t0 = time.perf_counter()
    table = _read_input(paths)
    texts = table.column("text").to_pylist()
    t1 = time.perf_counter()
    minhashes = []
    for text in texts:
        m = MinHash(num_perm=num_perm)
        for sh in word_shingles(text, n):
            m.update(sh.encode("utf-8"))
        minhashes.append(m)
    t_sig = time.perf_counter()
    lsh = MinHashLSH(num_perm=num_perm, params=(bands, rows))
    for i, m in enumerate(minhashes):
        lsh.insert(i, m)
    uf = UnionFind(len(texts))
    for i, m in enumerate(minhashes):
        for j in lsh.query(m):
            uf.union(i, j)
    t2 = time.perf_counter()
    roots = _write_kept(table, uf, out)
    t3 = time.perf_counter()
    return {
        "seconds": t3 - t0,
        "core_seconds": t2 - t1,
        "sign_seconds": t_sig - t1,
        "read_seconds": t1 - t0,
        "write_seconds": t3 - t2,
        "pred": roots,
        "params": {**cfg, "num_perm": num_perm},
    }


def run_rensa(paths: list[str], out: Path, cfg: dict) -> dict:
    """rensa needs ``num_perm`` divisible by the band count; it gets ``bands * rows`` then."""
    from rensa import RMinHash, RMinHashLSH

    n, bands, rows = cfg["ngram"], cfg["bands"], cfg["rows"]
    num_perm = cfg["num_perm"]
    if num_perm % bands or num_perm // bands != rows:
        num_perm = bands * rows
    t0 = time.perf_counter()
    table = _read_input(paths)
    texts = table.column("text").to_pylist()
    t1 = time.perf_counter()
    token_sets = [list(word_shingles(text, n)) for text in texts]
    t_sh = time.perf_counter()
    minhashes = RMinHash.from_token_sets(token_sets, num_perm=num_perm, seed=1)
    t_sig = time.perf_counter()
    lsh = RMinHashLSH(threshold=cfg["threshold"], num_perm=num_perm, num_bands=bands)
    lsh.insert_many(minhashes)
    uf = UnionFind(len(texts))
    for i, cands in enumerate(lsh.query_all(minhashes)):
        for j in cands:
            uf.union(i, j)
    t2 = time.perf_counter()
    roots = _write_kept(table, uf, out)
    t3 = time.perf_counter()
    return {
        "seconds": t3 - t0,
        "core_seconds": t2 - t1,
        "shingle_seconds": t_sh - t1,
        "sign_seconds": t_sig - t_sh,
        "read_seconds": t1 - t0,
        "write_seconds": t3 - t2,
        "pred": roots,
        "params": {**cfg, "num_perm": num_perm},
    }


def run_dedupe(paths: list[str], out: Path, workers: int, options: dict) -> dict:
    """One ``dedupe.run``; its clusters are read back from the manifest, as a user would."""
    import dedupe

    t0 = time.perf_counter()
    dedupe.run(paths, out, workers=workers, id_column="id", **options)
    seconds = time.perf_counter() - t0
    report = json.loads((out / "report.json").read_text())
    manifest = pq.read_table(out / "manifest.parquet", columns=["id", "cluster_id"])
    ids = pa.concat_tables([pq.read_table(p, columns=["id"]) for p in paths])["id"]
    ids = ids.combine_chunks()
    pos = pc.index_in(ids, value_set=manifest["id"].combine_chunks())
    cluster = manifest["cluster_id"].combine_chunks().take(pos).to_numpy(zero_copy_only=False)
    missing = np.isnan(cluster) if cluster.dtype.kind == "f" else np.zeros(len(cluster), bool)
    pred = np.where(missing, -1 - np.arange(len(cluster)), np.nan_to_num(cluster)).astype(np.int64)
    stages = {s["name"]: s for s in report["stages"]}
    core = stages["sign"]["seconds"] + stages["decide"]["seconds"]
    return {
        "seconds": seconds,
        "core_seconds": core,
        "pred": pred,
        "stages": report["stages"],
        "lsh": {k: v for k, v in report["lsh"].items() if k != "s_curve"},
        "counts": report["counts"],
        "params": peer_settings(report),
    }


def peer_settings(report: dict) -> dict:
    """What the peers must match, from a dedupe ``report.json``."""
    mh, lsh = report["parameters"]["minhash"], report["parameters"]["lsh"]
    if mh["shingle"] != "word":
        raise SystemExit(f"the peers shingle words; dedupe ran with shingle={mh['shingle']!r}")
    return {
        "ngram": mh["ngram"],
        "num_perm": mh["num_perm"],
        "threshold": lsh["threshold"],
        "bands": report["lsh"]["bands"],
        "rows": report["lsh"]["rows"],
    }


def child_main(args: argparse.Namespace) -> int:
    """One measured run of one system; writes its figures to ``--result`` as JSON."""
    if args.system == "prepare":
        write_corpus(Path(args.run_out), args.docs, args.seed)
        return 0
    import psutil

    paths = sorted(args.inputs)
    out = Path(args.run_out)
    shutil.rmtree(out, ignore_errors=True)
    if args.system in DEDUPE:
        import dedupe  # noqa: F401  -- imported before the baseline, as for the peers
    elif args.system == "datasketch":
        import datasketch  # noqa: F401
    else:
        import rensa  # noqa: F401
    baseline = psutil.Process().memory_info().rss
    cpu0 = time.process_time()
    settings = json.loads(args.settings)
    if args.system in DEDUPE:
        workers, extra = DEDUPE[args.system]
        res = run_dedupe(paths, out, workers, {**settings, **extra})
    elif args.system == "datasketch":
        res = run_datasketch(paths, out, settings)
    elif args.system == "rensa":
        res = run_rensa(paths, out, settings)
    else:
        raise SystemExit(f"unknown system {args.system}")
    cpu = time.process_time() - cpu0
    np.save(out / "pred.npy", res.pop("pred"))
    res.update(
        system=args.system,
        dedupe_file=getattr(sys.modules.get("dedupe"), "__file__", None),
        cpu_seconds_main=cpu,
        baseline_rss=baseline,
        maxrss_self=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
        maxrss_children=resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024,
        pred_path=str(out / "pred.npy"),
    )
    Path(args.result).write_text(json.dumps(res))
    return 0


# --------------------------------------------------------------------------------------------
# the parent: launch, sample memory, score, tabulate
# --------------------------------------------------------------------------------------------


def cpu_pressure_total() -> float:
    """Microseconds that some task waited for a CPU since boot (Linux PSI), or NaN.

    Other jobs share this machine; the pressure during a run says how much of its wall time
    may be theirs rather than the system's, so each figure can be read with that in mind.
    """
    try:
        with open("/proc/pressure/cpu") as fh:
            return float(fh.readline().split("total=")[1])
    except (OSError, IndexError, ValueError):
        return float("nan")


def cpu_pressure_avg10() -> float:
    """Share (%) of the last 10 s in which some task waited for a CPU; 0 where unknown."""
    try:
        with open("/proc/pressure/cpu") as fh:
            return float(fh.readline().split("avg10=")[1].split()[0])
    except (OSError, IndexError, ValueError):
        return 0.0


def wait_for_quiet(limit_s: float) -> float:
    """Wait (at most ``limit_s``) until CPU pressure from other jobs has died down."""
    begin = time.monotonic()
    while time.monotonic() - begin < limit_s and cpu_pressure_avg10() > QUIET_AVG10:
        time.sleep(2.0)
    return time.monotonic() - begin


def sample_tree(proc, cpu: dict[int, float]) -> int:
    """Summed RSS of ``proc`` and its descendants; records each one's CPU seconds in ``cpu``."""
    import psutil

    total = 0
    try:
        procs = [proc, *proc.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0
    for p in procs:
        with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied), p.oneshot():
            total += p.memory_info().rss
            t = p.cpu_times()
            cpu[p.pid] = t.user + t.system
    return total


def launch(
    system: str,
    paths: list[str],
    workdir: Path,
    snapshot: Path,
    settings: dict,
    quiet_s: float = 0.0,
) -> dict:
    """Run one system in a fresh interpreter, sampling the RSS and CPU of its process tree."""
    import psutil

    waited = wait_for_quiet(quiet_s) if quiet_s else 0.0
    result = workdir / f"result-{system}.json"
    result.unlink(missing_ok=True)
    cmd = [
        sys.executable,
        os.path.abspath(__file__),
        "--system",
        system,
        "--result",
        str(result),
        "--run-out",
        str(workdir / "runs" / system),
        "--settings",
        json.dumps(settings),
        "--inputs",
        *paths,
    ]
    pressure0, wall0 = cpu_pressure_total(), time.perf_counter()
    proc = subprocess.Popen(cmd, env=child_env(snapshot))
    ps = psutil.Process(proc.pid)
    peak, cpu = 0, {}
    while proc.poll() is None:
        peak = max(peak, sample_tree(ps, cpu))
        time.sleep(SAMPLE_S)
    wall = time.perf_counter() - wall0
    if proc.returncode != 0:
        raise RuntimeError(f"{system} failed with exit status {proc.returncode}")
    res = json.loads(result.read_text())
    res["peak_tree_rss"] = peak
    res["cpu_seconds_tree"] = sum(cpu.values())
    res["cpu_pressure"] = (cpu_pressure_total() - pressure0) / 1e6 / wall
    res["waited_for_quiet_s"] = waited
    return res


def median_run(runs: list[dict]) -> dict:
    """The run with the median wall time; peak memory is the largest seen over all runs."""
    ordered = sorted(runs, key=lambda r: r["seconds"])
    pick = dict(ordered[(len(ordered) - 1) // 2])
    pick["seconds_all"] = [r["seconds"] for r in runs]
    pick["seconds_median"] = statistics.median(pick["seconds_all"])
    pick["core_seconds_median"] = statistics.median(r["core_seconds"] for r in runs)
    pick["cpu_seconds_median"] = statistics.median(r["cpu_seconds_tree"] for r in runs)
    pick["cpu_pressure_all"] = [r["cpu_pressure"] for r in runs]
    for key in ("peak_tree_rss", "maxrss_self", "maxrss_children"):
        pick[key] = max(r[key] for r in runs)
    return pick


def dedupe_options(args: argparse.Namespace) -> dict:
    """The options given to ``dedupe.run``: only what the command line set explicitly."""
    return {
        k: v for k, v in (("ngram", args.ngram), ("threshold", args.threshold)) if v is not None
    }


def available_systems(args: argparse.Namespace) -> list[str]:
    """The systems to run: ``--systems`` or all, less the peers with ``--skip-peers``.

    ``dedupe-1w-nospans`` is dropped where this dedupe has no span options to switch off.
    """
    from dedupe.config import load_config
    from dedupe.errors import ConfigError

    names = args.systems.split(",") if args.systems else [*DEDUPE, *PEERS]
    unknown = set(names) - {*DEDUPE, *PEERS}
    if unknown:
        raise SystemExit(f"unknown system(s) {', '.join(sorted(unknown))}")
    try:
        load_config(**{"spans.repeats": False, "spans.boilerplate": False})
    except ConfigError:
        names = [s for s in names if s != "dedupe-1w-nospans"]
    return [s for s in names if not (args.skip_peers and s in PEERS)]


def variant_recall(truth: np.ndarray, variant: np.ndarray, pred: np.ndarray) -> dict:
    """Per planted variant: the share of copies put in the same cluster as their original.

    Pairwise recall says how many pairs were missed; this says which kind of edit lost them.
    """
    copy = variant != "original"
    together = pred[copy] == pred[truth[copy]]  # a family's cluster id is its original's row
    return {
        str(v): float(together[variant[copy] == v].mean())
        for v in sorted(set(variant[copy].tolist()))
    }


def compare(args: argparse.Namespace) -> dict:
    workdir = Path(args.workdir)
    corpus = prepare_corpus(workdir, args.docs, args.seed, args.snapshot)
    paths, truth, text_bytes = corpus["paths"], corpus["truth"], corpus["text_bytes"]
    n = len(truth)
    systems = available_systems(args)
    peer_repeats = args.peer_repeats or args.repeats
    runs: dict[str, list[dict]] = {s: [] for s in systems}
    peer_cfg: dict = {}
    # repeats are interleaved (all systems, then again) so drift in machine load spreads evenly
    for rep in range(max(args.repeats, peer_repeats)):
        for system in systems:
            is_peer = system in PEERS
            if rep >= (peer_repeats if is_peer else args.repeats):
                continue
            settings = peer_cfg if is_peer else dedupe_options(args)
            res = launch(system, paths, workdir, args.snapshot, settings, args.quiet_wait)
            if not is_peer and not peer_cfg:
                peer_cfg = res["params"]
            pred = np.load(res.pop("pred_path"))
            res["score"] = score_pred(truth, pred)
            res["variant_recall"] = variant_recall(truth, corpus["variant"], pred)
            runs[system].append(res)
            # every run is kept as it finishes, so a crash late in a long session loses little
            (workdir / f"runs-{args.docs}.json").write_text(json.dumps(runs, indent=1))
            print(
                f"  [{rep + 1}] {system:<17} {res['seconds']:8.2f} s  "
                f"cpu {res['cpu_seconds_tree']:8.2f} s  "
                f"peak {res['peak_tree_rss'] / MiB:7.0f} MiB  F1 {res['score']['f1']:.4f}  "
                f"cpu pressure {res['cpu_pressure']:.0%}",
                flush=True,
            )
    rows_out = {s: summarise(median_run(r), n, text_bytes) for s, r in runs.items()}
    for s in rows_out.values():
        for ref in PEERS:
            if ref in rows_out:
                s[f"speed_vs_{ref}"] = s["docs_per_s"] / rows_out[ref]["docs_per_s"]
                s[f"rss_vs_{ref}"] = s["peak_rss_mib"] / rows_out[ref]["peak_rss_mib"]
    result = {
        "what": "end-to-end Parquet -> deduplicated Parquet, median wall time of repeats",
        "docs": n,
        "text_bytes": text_bytes,
        "seed": args.seed,
        "shards": len(paths),
        "repeats": args.repeats,
        "peer_repeats": peer_repeats,
        "cores": os.cpu_count(),
        "settings": peer_cfg,
        "date": time.strftime("%Y-%m-%d"),
        "dedupe_source": args.snapshot_tag,
        "systems": rows_out,
    }
    if "dedupe-1w" in rows_out and "dedupe-Nw" in rows_out:
        result["dedupe_speedup_Nw_vs_1w"] = (
            rows_out["dedupe-1w"]["seconds"] / rows_out["dedupe-Nw"]["seconds"]
        )
        result["dedupe_cpu_ratio_Nw_vs_1w"] = (
            rows_out["dedupe-Nw"]["cpu_seconds"] / rows_out["dedupe-1w"]["cpu_seconds"]
        )
    print_table(result)
    return result


def score_pred(truth: np.ndarray, pred: np.ndarray) -> dict:
    from dedupe.evaluate import score

    return score(truth, pred)


def summarise(r: dict, n: int, text_bytes: int) -> dict:
    out = {
        "seconds": r["seconds_median"],
        "seconds_all": r["seconds_all"],
        "docs_per_s": n / r["seconds_median"],
        "mb_per_s": text_bytes / 1e6 / r["seconds_median"],
        "core_seconds": r["core_seconds_median"],
        "core_docs_per_s": n / r["core_seconds_median"],
        "peak_rss_mib": r["peak_tree_rss"] / MiB,
        "maxrss_self_mib": r["maxrss_self"] / MiB,
        "baseline_rss_mib": r["baseline_rss"] / MiB,
        "cpu_seconds_main": r["cpu_seconds_main"],
        "cpu_seconds": r["cpu_seconds_median"],
        "cpu_pressure_all": r["cpu_pressure_all"],
        "precision": r["score"]["precision"],
        "recall": r["score"]["recall"],
        "f1": r["score"]["f1"],
        "ari": r["score"]["ari"],
        "removed_fraction": r["score"]["removed_fraction"],
        "params": r["params"],
    }
    for key in (
        "stages",
        "lsh",
        "counts",
        "shingle_seconds",
        "sign_seconds",
        "read_seconds",
        "write_seconds",
        "variant_recall",
    ):
        if key in r:
            out[key] = r[key]
    return out


def print_table(res: dict) -> None:
    systems = res["systems"]
    refs = [ref for ref in PEERS if ref in systems]
    head = [
        "system",
        "wall s",
        "docs/s",
        "MB/s",
        "CPU s",
        "peak RSS MiB",
        "main RSS MiB",
        "precision",
        "recall",
        "F1",
        *[f"x {ref}" for ref in refs],
    ]
    lines = []
    for name, s in systems.items():
        cells = [
            name,
            f"{s['seconds']:.1f}",
            f"{s['docs_per_s']:,.0f}",
            f"{s['mb_per_s']:.2f}",
            f"{s['cpu_seconds']:.1f}",
            f"{s['peak_rss_mib']:,.0f}",
            f"{s['maxrss_self_mib']:,.0f}",
            f"{s['precision']:.4f}",
            f"{s['recall']:.4f}",
            f"{s['f1']:.4f}",
            *[f"{s[f'speed_vs_{ref}']:.2f}" for ref in refs],
        ]
        lines.append(cells)
    widths = [max(len(str(c)) for c in col) for col in zip(head, *lines, strict=True)]
    print()
    cfg = res["settings"]
    print(
        f"{res['docs']:,} docs, {res['text_bytes'] / 1e6:.1f} MB of text, {res['shards']} "
        f"Parquet shards, {res['cores']} cores; word {cfg['ngram']}-grams, {cfg['num_perm']} "
        f"permutations, threshold {cfg['threshold']}, LSH {cfg['bands']} bands x "
        f"{cfg['rows']} rows; median of {res['repeats']} (peers: {res['peer_repeats']}) runs; "
        f"dedupe source {res['dedupe_source']}"
    )
    for cells in [head, ["-" * w for w in widths], *lines]:
        print("| " + " | ".join(str(c).ljust(w) for c, w in zip(cells, widths, strict=True)) + " |")
    if "dedupe_speedup_Nw_vs_1w" in res:
        print(
            f"\ndedupe {res['cores']}-worker / 1-worker: wall speedup "
            f"{res['dedupe_speedup_Nw_vs_1w']:.2f}x, CPU seconds "
            f"{res['dedupe_cpu_ratio_Nw_vs_1w']:.2f}x"
        )
    print("signatures + LSH only (no read, no write; dedupe: sign + decide stages):")
    for name, s in systems.items():
        print(f"  {name:<17} {s['core_docs_per_s']:8,.0f} docs/s ({s['core_seconds']:.2f} s)")
    print("share of planted copies clustered with their original, by variant:")
    for name, s in systems.items():
        parts = ", ".join(f"{k} {v:.4f}" for k, v in s["variant_recall"].items())
        print(f"  {name:<17} {parts}")
    for name, s in systems.items():
        if "stages" in s:
            parts = ", ".join(f"{st['name']} {st['seconds']:.2f} s" for st in s["stages"])
            print(f"{name} stages: {parts}")


def scaling(args: argparse.Namespace) -> dict:
    """dedupe (1 worker) at growing sizes: does memory grow beyond signatures + band keys?

    The floor is what the decide stage must hold per row: a uint32 signature (``num_perm`` x 4
    bytes) and one uint64 key per band. The marginal bytes per added row, measured between the
    smallest and largest size, are compared with that floor; a multiple of it is memory that
    grows with the corpus without having to. ``--systems`` may add ``dedupe-1w-nospans``.
    """
    workdir = Path(args.workdir)
    names = args.systems.split(",") if args.systems else ["dedupe-1w"]
    if set(names) - set(DEDUPE):
        raise SystemExit(f"--scaling runs dedupe systems only: {', '.join(DEDUPE)}")
    rows_out = []
    for n in SCALING_SIZES:
        corpus = prepare_corpus(workdir, n, args.seed, args.snapshot)
        for system in names:
            res = launch(
                system,
                corpus["paths"],
                workdir,
                args.snapshot,
                dedupe_options(args),
                args.quiet_wait,
            )
            per_row = res["params"]["num_perm"] * 4 + res["params"]["bands"] * 8
            stages = {st["name"]: st for st in res["stages"]}
            row = {
                "system": system,
                "docs": n,
                "text_mb": corpus["text_bytes"] / 1e6,
                "seconds": res["seconds"],
                "docs_per_s": n / res["seconds"],
                "cpu_seconds": res["cpu_seconds_tree"],
                "cpu_pressure": res["cpu_pressure"],
                "peak_rss_mib": res["peak_tree_rss"] / MiB,
                "maxrss_self_mib": res["maxrss_self"] / MiB,
                "baseline_rss_mib": res["baseline_rss"] / MiB,
                "growth_mib": (res["maxrss_self"] - res["baseline_rss"]) / MiB,
                "floor_bytes_per_row": per_row,
                "sig_plus_band_keys_mib": n * per_row / MiB,
                "stage_seconds": {k: v["seconds"] for k, v in stages.items()},
                "stage_peak_rss_main_mib": {k: v["peak_rss_main"] / MiB for k, v in stages.items()},
            }
            rows_out.append(row)
            print(
                f"  {system:<17} {n:>7,} docs  {row['docs_per_s']:7,.0f} docs/s  "
                f"peak {row['peak_rss_mib']:6.0f} MiB  (+{row['growth_mib']:.0f} over imports; "
                f"signatures + band keys {row['sig_plus_band_keys_mib']:.0f} MiB)",
                flush=True,
            )
    print(
        "\n| system | docs | text MB | wall s | docs/s | CPU s | peak RSS MiB "
        "| after imports MiB | growth MiB | signatures + band keys MiB | sign s | decide s "
        "| write s |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows_out:
        st = r["stage_seconds"]
        print(
            f"| {r['system']} | {r['docs']:,} | {r['text_mb']:.1f} | {r['seconds']:.1f} | "
            f"{r['docs_per_s']:,.0f} | {r['cpu_seconds']:.1f} | {r['peak_rss_mib']:,.0f} | "
            f"{r['baseline_rss_mib']:.0f} | {r['growth_mib']:,.0f} | "
            f"{r['sig_plus_band_keys_mib']:.0f} | {st['sign']:.2f} | {st['decide']:.2f} | "
            f"{st['write']:.2f} |"
        )
    marginal = {}
    for system in names:
        mine = [r for r in rows_out if r["system"] == system]
        lo, hi = mine[0], mine[-1]
        per_row = (hi["growth_mib"] - lo["growth_mib"]) * MiB / (hi["docs"] - lo["docs"])
        marginal[system] = per_row
        print(
            f"{system}: {per_row:,.0f} bytes of peak memory per added row "
            f"({lo['docs']:,} -> {hi['docs']:,} docs), against {hi['floor_bytes_per_row']} "
            f"bytes of signature + band keys ({per_row / hi['floor_bytes_per_row']:.1f}x)"
        )
    return {
        "what": "dedupe run by corpus size",
        "date": time.strftime("%Y-%m-%d"),
        "dedupe_source": args.snapshot_tag,
        "cores": os.cpu_count(),
        "rows": rows_out,
        "marginal_bytes_per_row": marginal,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--docs", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--peer-repeats",
        type=int,
        default=0,
        help="repeats for datasketch and rensa (default: --repeats)",
    )
    parser.add_argument("--seed", type=int, default=0, help="corpus seed")
    parser.add_argument("--out-json", help="write the figures here")
    parser.add_argument("--skip-peers", action="store_true", help="time dedupe only")
    parser.add_argument(
        "--systems", help=f"comma-separated subset of {', '.join([*DEDUPE, *PEERS])}"
    )
    parser.add_argument(
        "--scaling", action="store_true", help="dedupe (1 worker) at 10k, 30k, 100k docs instead"
    )
    parser.add_argument("--workdir", default="/tmp/dedupe-bench-engine")
    parser.add_argument(
        "--dedupe-source",
        help="measure this earlier copy of the package (WORKDIR/dedupe-src-TAG) instead of "
        "copying the installed one now",
    )
    parser.add_argument("--ngram", type=int, help="word n-gram size for all (default: dedupe's)")
    parser.add_argument(
        "--threshold", type=float, help="Jaccard threshold for all (default: dedupe's)"
    )
    parser.add_argument(
        "--quiet-wait",
        type=float,
        default=120.0,
        help="before each run, wait up to this many seconds for other jobs' CPU "
        f"pressure (PSI avg10) to fall below {QUIET_AVG10:g}%%; 0: do not wait",
    )
    # internal: one measured run in a subprocess
    parser.add_argument("--system", help=argparse.SUPPRESS)
    parser.add_argument("--result", help=argparse.SUPPRESS)
    parser.add_argument("--run-out", help=argparse.SUPPRESS)
    parser.add_argument("--settings", default="{}", help=argparse.SUPPRESS)
    parser.add_argument("--inputs", nargs="*", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.system:
        return child_main(args)
    Path(args.workdir).mkdir(parents=True, exist_ok=True)
    if args.dedupe_source:  # a copy made by an earlier session: compare like with like
        args.snapshot = Path(args.dedupe_source).resolve()
        args.snapshot_tag = (args.snapshot / "_COMPLETE").read_text().strip()
    else:
        args.snapshot, args.snapshot_tag = snapshot_dedupe(Path(args.workdir))
    sys.path.insert(0, str(args.snapshot))  # this process scores with the same code
    print(f"dedupe source {args.snapshot_tag}, imported from {args.snapshot}", flush=True)
    result = scaling(args) if args.scaling else compare(args)
    if args.out_json:
        Path(args.out_json).write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
