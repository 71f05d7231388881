"""Accuracy of dedupe next to its peers on labelled near-duplicate data, one metric for all.

Speed benchmarks say little about whether a tool finds the right duplicates, and accuracy
figures quoted by each project are computed by each project's own code on its own data. Here
every system clusters the same rows, and every clustering is graded by the same function,
``dedupe.evaluate.score`` (pairwise precision, recall, F1 and adjusted Rand index against
reference clusters), so differences come from the systems and not from the grading.

Each system is reported at two settings per data set:

* ``defaults``: what a user gets without tuning (the library's documented defaults);
* ``best``: the best pairwise F1 over a grid of thresholds (0.05..0.95 step 0.05) and, where
  cheap, shingle sizes; for datatrove, whose threshold is implied by bands x rows, over a few
  bands x rows choices. This is tuned on the evaluation data itself, for every system alike, so
  it is an upper bound of what each method can do, not a held-out estimate. text-dedup and
  datatrove run their whole pipeline once per setting, so they are swept at their default
  5-grams only (``--td-ngrams`` / ``--dt-ngrams`` widen that); where another system's best
  uses another n, a ``best at n=5`` row shows it under the same restriction.

``seconds`` is the wall time of one run at that setting, imports and interpreter start
excluded: for datasketch and rensa the signature time for that n plus the LSH and clustering
time; for the others the whole call (reading the JSONL, writing their outputs). It is one run
on a shared 2-core machine, so read it as an order of magnitude.

Systems (see ``--help`` for the grids):

* ``dedupe``: ``dedupe.run(...)`` with spans and boilerplate off; the grid is scored with
  ``dedupe sweep`` (same decision code as ``dedupe run``), then the best setting is run again
  with ``dedupe.run`` and that run is what the table reports.
* ``datasketch``: the loop its documentation shows: ``MinHash(num_perm=128)`` over lower-cased
  whitespace word n-grams, ``MinHashLSH(threshold=t, num_perm=128)``, insert all, query each,
  union-find over the candidates (not verified, as in the documentation).
* ``rensa``: ``RMinHashDeduplicator(threshold, num_perm=128, use_lsh=True)`` as in its README
  (which verifies LSH candidates against the threshold); every document is attached to the kept
  documents that ``get_duplicate_sets`` reports for it, through union-find.
* ``text-dedup``: its MinHash command (``text_dedup.minhash``) on the JSONL through
  ``datasets``' local JSON loader, with ``--debug`` so that it writes its union-find
  (``uf.pkl``), from which cluster labels are read.
* ``datatrove``: its four MinHash steps (signature, buckets, cluster with ``save_cluster_id``,
  filter with ``load_cluster_ids``) on a ``JsonlReader``; cluster ids are read back from the kept
  and the removed documents that the filter writes.

text-dedup and datatrove pin versions that conflict with the project's environment, so they run
in a separate interpreter (``--peers-python``, a virtualenv with both installed) as
``bench_peers.py --worker NAME``; that mode imports nothing from dedupe. A peer that cannot be
imported or fails is reported as not run, with the reason, instead of stopping the benchmark.
Setting that interpreter up (the extra packages are what datatrove's MinHash path needs but does
not declare: spaCy for its English word tokenizer, ``tokenizers`` imported by its package,
``orjson`` for its JSONL reader; and datatrove 0.10.1 hashes ``str``, which xxhash 4 refuses)::

    python -m venv /tmp/peers-venv
    /tmp/peers-venv/bin/pip install text-dedup datatrove spacy tokenizers orjson "xxhash<4"

Data sets (``--data-root`` holds the first two):

* ``onestop``: OneStopEnglish, 189 articles each rewritten at three reading levels; a cluster
  is one article. Rewrites for learners are hard near-duplicates: graded, not copied.
* ``pan13``: PAN 2013 text alignment. Positives are the pairs of subset ``02-no-obfuscation``
  (a suspicious document and a source it copies passages from, verbatim); clusters are the
  connected components of those pairs, so a source copied into two suspicious documents joins
  them. Every other document of a ``01-no-plagiarism`` pair is its own cluster (negatives).
  Copies are partial (a passage inside a longer document), which document-level near-duplicate
  detection is not designed for: low recall is expected.
* ``synth``: ``tests.synth.make_corpus(5000, seed=3)``, planted clusters of edited copies.

    python benchmarks/bench_peers.py --out-json /tmp/bench_peers.json
    python benchmarks/bench_peers.py --resume ...     # reuse finished text-dedup / datatrove runs
    python benchmarks/bench_peers.py --datasets onestop --systems dedupe,datasketch,rensa
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.metadata
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from snapshot import snapshot_dedupe

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"
DATASETS = ("onestop", "pan13", "synth")
SYSTEMS = ("dedupe", "datasketch", "rensa", "text-dedup", "datatrove")
WORKER_SYSTEMS = ("text-dedup", "datatrove")
NUM_PERM = 128
DEFAULT_PEERS_PYTHON = "/tmp/peers-venv/bin/python"

# Documented defaults, each from the peer's own API or README (checked against the installed
# versions): datasketch's MinHashLSH(threshold=0.9, num_perm=128) constructor; rensa's README
# deduplicator example (threshold 0.8, 128 permutations, tokens from ``text.split()``);
# text-dedup's ``minhash`` command (5-grams, 250 permutations, threshold 0.7); datatrove's
# MinhashConfig (5-grams, 14 buckets x 8 hashes). dedupe's own defaults come from its config.
DATASKETCH_DEFAULT = {"ngram": 5, "threshold": 0.9}
RENSA_DEFAULT = {"ngram": 1, "threshold": 0.8, "tokens": "split"}
TEXT_DEDUP_DEFAULT = {"ngram": 5, "threshold": 0.7}
DATATROVE_DEFAULT = {"ngram": 5, "bands": 14, "rows": 8}

# bands x rows for datatrove's sweep: implied thresholds (1/b)^(1/r) of 0.10, 0.13, 0.29,
# 0.42, 0.61, 0.72 (its default), 0.79 and 0.86; 112-128 hashes like the default, except 0.10,
# which needs 100 bands of 2 (the low end is where graded rewrites are found).
DATATROVE_GRID = ((100, 2), (64, 2), (42, 3), (32, 4), (20, 6), (14, 8), (11, 10), (8, 14))


# --------------------------------------------------------------------------------------------
# helpers shared by the parent and the workers (standard library only)
# --------------------------------------------------------------------------------------------


class UnionFind:
    """Union-find over row indices; every peer's pairwise output becomes clusters through it."""

    def __init__(self, n: int):
        self.parent = list(range(n))

    def find(self, x: int) -> int:
        parent = self.parent
        root = x
        while parent[root] != root:
            root = parent[root]
        while parent[x] != root:  # path compression keeps later finds short
            parent[x], x = root, parent[x]
        return root

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)

    def labels(self) -> list[int]:
        return [self.find(i) for i in range(len(self.parent))]


def word_shingles(text: str, n: int) -> set[str]:
    """Lower-cased whitespace word n-grams, the tokenisation of datasketch's examples.

    A document shorter than ``n`` words gives one shingle (all its words) so that it still has
    a signature; datasketch would otherwise hash nothing and bucket every short document
    together.
    """
    words = text.lower().split()
    if len(words) < n:
        return {" ".join(words)}
    return {" ".join(words[i : i + n]) for i in range(len(words) - n + 1)}


def read_jsonl(path: Path) -> list[dict]:
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def versions(names: tuple[str, ...]) -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for name in names:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = None
    return out


def setting_key(setting: dict) -> str:
    return ",".join(f"{k}={setting[k]}" for k in sorted(setting))


def thresholds_grid(spec: str) -> list[float]:
    start, stop, step = (float(x) for x in spec.split(":"))
    count = round((stop - start) / step) + 1
    return [round(start + i * step, 4) for i in range(count)]


# --------------------------------------------------------------------------------------------
# data sets (parent only)
# --------------------------------------------------------------------------------------------


def _write_dataset(folder: Path, rows: list[dict], description: str) -> None:
    """Write one data set in the forms the systems read, all in the same row order.

    ``docs.jsonl`` (id, text) is what every system reads, so no system can see the labels;
    ``labelled.jsonl`` adds ``cluster`` for ``dedupe sweep``; ``shards/`` splits the rows in two
    files so that datatrove, which parallelises over files, can use both cores.
    """
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / "docs.jsonl", "w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps({"id": r["id"], "text": r["text"]}, ensure_ascii=False) + "\n")
    with open(folder / "labelled.jsonl", "w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps({"id": r["id"], "text": r["text"], "cluster": r["cluster"]},
                               ensure_ascii=False) + "\n")
    shards = folder / "shards"
    shards.mkdir(exist_ok=True)
    half = (len(rows) + 1) // 2
    for s, part in enumerate((rows[:half], rows[half:])):
        with open(shards / f"part-{s:05d}.jsonl", "w", encoding="utf-8") as f:
            for r in part:
                f.write(json.dumps({"id": r["id"], "text": r["text"]}, ensure_ascii=False) + "\n")
    truth = [str(r["cluster"]) for r in rows]
    (folder / "truth.json").write_text(json.dumps({
        "truth": truth, "description": description,
        "exact_pairs_across_clusters": exact_pairs_across_clusters(rows)}))


def exact_pairs_across_clusters(rows: list[dict]) -> int:
    """Pairs of documents with the same text (case and whitespace folded) but different labels.

    Every deduplicator must merge these, and the reference counts each such pair as a false
    positive: it bounds the precision any system can reach and is printed with each table.
    """
    groups: dict[str, Counter] = {}
    for r in rows:
        groups.setdefault(" ".join(r["text"].lower().split()), Counter())[str(r["cluster"])] += 1
    total = 0
    for labels in groups.values():
        n = sum(labels.values())
        total += n * (n - 1) // 2 - sum(c * (c - 1) // 2 for c in labels.values())
    return total


def _onestop_rows(root: Path) -> tuple[list[dict], str]:
    rows = read_jsonl(root / "onestopenglish" / "onestopenglish.jsonl")
    return ([{"id": r["id"], "text": r["text"], "cluster": r["cluster"]} for r in rows],
            "OneStopEnglish: each cluster is one article at 3 reading levels (graded rewrites)")


def _pan13_rows(root: Path) -> tuple[list[dict], str]:
    """Cluster labels for PAN 2013 (see the module docstring for the rules)."""
    import pyarrow.parquet as pq

    cases = read_jsonl(root / "pan13" / "pan_cases.jsonl")
    positive = [c for c in cases if c["subset"] == "02-no-obfuscation"]
    negative = [c for c in cases if c["subset"] == "01-no-plagiarism"]
    wanted = {d for c in positive + negative for d in (c["susp"], c["src"])}
    table = pq.read_table(root / "pan13" / "pan13_docs.parquet", columns=["doc_id", "text"])
    docs = [(d, t) for d, t in zip(table["doc_id"].to_pylist(), table["text"].to_pylist())
            if d in wanted]
    index = {d: i for i, (d, _) in enumerate(docs)}
    missing = wanted - set(index)
    if missing:
        raise SystemExit(f"pan13: {len(missing)} documents named in pan_cases.jsonl are missing")
    uf = UnionFind(len(docs))
    for c in positive:
        uf.union(index[c["susp"]], index[c["src"]])
    labels = uf.labels()
    rows = [{"id": d, "text": t, "cluster": docs[labels[i]][0]} for i, (d, t) in enumerate(docs)]
    in_pos = {d for c in positive for d in (c["susp"], c["src"])}
    description = (
        f"PAN 2013: {len(docs)} documents of the 01-no-plagiarism and 02-no-obfuscation pairs; "
        f"clusters = connected components of the {len(positive)} 02 pairs ({len(in_pos)} docs), "
        f"every other document a singleton; copies are partial (passages)"
    )
    return rows, description


def _synth_rows(n_docs: int, seed: int) -> tuple[list[dict], str]:
    from tests.synth import make_corpus

    table = make_corpus(n_docs, seed=seed)
    rows = [{"id": i, "text": t, "cluster": c} for i, t, c in
            zip(table["id"].to_pylist(), table["text"].to_pylist(), table["cluster"].to_pylist())]
    return rows, f"tests.synth.make_corpus({n_docs}, seed={seed}): planted clusters"


def prepare(name: str, args: argparse.Namespace, workdir: Path) -> Path:
    """Write data set ``name`` under ``workdir/data/name`` (kept and reused between runs)."""
    folder = workdir / "data" / name
    if (folder / "truth.json").exists():
        return folder
    if name == "onestop":
        rows, description = _onestop_rows(args.data_root)
    elif name == "pan13":
        rows, description = _pan13_rows(args.data_root)
    else:
        rows, description = _synth_rows(args.synth_docs, args.synth_seed)
    tmp = folder.with_name(name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    _write_dataset(tmp, rows, description)
    tmp.rename(folder)
    return folder


# --------------------------------------------------------------------------------------------
# in-process systems: datasketch and rensa (parent)
# --------------------------------------------------------------------------------------------


def run_datasketch(texts: list[str], ngrams: list[int], thresholds: list[float]):
    """One result per (n, threshold); signatures are built once per n, the LSH per threshold.

    ``seconds`` is the signature time for that n plus the LSH and union-find time for that
    threshold: what one run at that setting would cost.
    """
    from datasketch import MinHash, MinHashLSH

    for n in ngrams:
        t0 = time.perf_counter()
        sigs = []
        for text in texts:
            m = MinHash(num_perm=NUM_PERM)
            m.update_batch([s.encode("utf-8") for s in word_shingles(text, n)])
            sigs.append(m)
        sign_s = time.perf_counter() - t0
        for t in thresholds:
            t1 = time.perf_counter()
            lsh = MinHashLSH(threshold=t, num_perm=NUM_PERM)
            for i, m in enumerate(sigs):
                lsh.insert(i, m)
            uf = UnionFind(len(texts))
            for i, m in enumerate(sigs):
                for j in lsh.query(m):
                    uf.union(i, j)
            pred = uf.labels()
            seconds = sign_s + time.perf_counter() - t1
            yield ({"ngram": n, "threshold": t},
                   {"pred": pred, "seconds": seconds, "bands": lsh.b, "rows": lsh.r})


def _rensa_tokens(texts: list[str], n: int | None) -> list[list[str]]:
    """README tokens (``text.split()``) when ``n`` is None, else lower-cased word n-grams."""
    if n is None:
        return [t.split() for t in texts]
    return [sorted(word_shingles(t, n)) for t in texts]


def _rensa_cluster(sketches, t: float) -> list[int]:
    from rensa import RMinHashDeduplicator

    dedup = RMinHashDeduplicator(threshold=t, num_perm=NUM_PERM, use_lsh=True)
    dedup.add_pairs((str(i), m) for i, m in enumerate(sketches))
    uf = UnionFind(len(sketches))
    for i, keys in enumerate(dedup.get_duplicate_sets(sketches)):
        for k in keys:
            uf.union(i, int(k))
    return uf.labels()


def run_rensa(texts: list[str], ngrams: list[int], thresholds: list[float]):
    """The README defaults first, then the grid; sketches are made once per tokenisation.

    Sketches use seed 42, the deduplicator's default, because it refuses sketches made with
    another seed.
    """
    from rensa import RMinHash

    plans = [(RENSA_DEFAULT, None, [RENSA_DEFAULT["threshold"]])]
    plans += [({"ngram": n}, n, thresholds) for n in ngrams]
    for base, n, grid in plans:
        t0 = time.perf_counter()
        sketches = RMinHash.from_token_sets(_rensa_tokens(texts, n), num_perm=NUM_PERM, seed=42)
        sign_s = time.perf_counter() - t0
        for t in grid:
            t1 = time.perf_counter()
            pred = _rensa_cluster(sketches, t)
            setting = {**base, "threshold": t}
            yield setting, {"pred": pred, "seconds": sign_s + time.perf_counter() - t1}


# --------------------------------------------------------------------------------------------
# workers: text-dedup and datatrove (run by the peers' interpreter)
# --------------------------------------------------------------------------------------------


def worker_text_dedup(folder: Path, setting: dict, scratch: Path) -> dict:
    """One run of ``text_dedup.minhash`` exactly as its command line would do it.

    The command is called in-process (click's ``main``) so that interpreter start and imports
    are not timed. The module draws its permutations from a module-level RandomState(42) on
    every call; it is re-seeded first so that each call sees the permutations a fresh
    ``python -m text_dedup.minhash`` would. Each run gets a fresh ``datasets`` cache so that no
    run reuses another's fingerprints.
    """
    import pickle

    import numpy as np
    import text_dedup.minhash as tdm
    from text_dedup.utils import optimal_param

    out = scratch / "out"
    cache = scratch / "cache"
    argv = ["--path", "json", "--data_files", str(folder / "docs.jsonl"), "--split", "train",
            "--cache_dir", str(cache), "--output", str(out), "--column", "text", "--debug",
            "--num_proc", str(os.cpu_count() or 1),
            "--ngram", str(setting["ngram"]), "--threshold", str(setting["threshold"])]
    tdm.RNG = np.random.RandomState(tdm.SEED)
    t0 = time.perf_counter()
    tdm.main.main(args=argv, standalone_mode=False)
    seconds = time.perf_counter() - t0
    with open(out / "uf.pkl", "rb") as f:
        uf = pickle.load(f)  # written by text-dedup's --debug a moment ago, in our scratch dir
    n = len(read_jsonl(folder / "docs.jsonl"))
    pred = [int(uf.find(i)) for i in range(n)]
    bands, rows = optimal_param(setting["threshold"], 250, false_positive_weight=0.5,
                                false_negative_weight=0.5)
    return {"pred": pred, "seconds": seconds, "bands": int(bands), "rows": int(rows)}


def worker_datatrove(folder: Path, setting: dict, scratch: Path) -> dict:
    """The four MinHash steps of datatrove, run locally the way its example pipeline does.

    The input is two JSONL shards, so the signature and filter steps run two tasks (one per
    file) and the bucket step one task per bucket, on two worker processes. Only the n-gram
    size, bucket count and hashes per bucket differ from ``MinhashConfig()``.
    """
    from datatrove.executor import LocalPipelineExecutor
    from datatrove.pipeline.dedup.minhash import (
        MinhashConfig,
        MinhashDedupBuckets,
        MinhashDedupCluster,
        MinhashDedupFilter,
        MinhashDedupSignature,
    )
    from datatrove.pipeline.readers import JsonlReader
    from datatrove.pipeline.writers import JsonlWriter

    cfg = MinhashConfig(n_grams=setting["ngram"], num_buckets=setting["bands"],
                        hashes_per_bucket=setting["rows"])
    shards = folder / "shards"
    tasks = len(list(shards.glob("*.jsonl")))
    workers = min(2, os.cpu_count() or 1)

    def reader():
        return JsonlReader(str(shards), glob_pattern="*.jsonl", text_key="text", id_key="id")

    logs = scratch / "logs"
    sig = LocalPipelineExecutor(
        pipeline=[reader(), MinhashDedupSignature(output_folder=str(scratch / "sigs"),
                                                  config=cfg)],
        tasks=tasks, workers=workers, logging_dir=str(logs / "signatures"))
    buckets = LocalPipelineExecutor(
        pipeline=[MinhashDedupBuckets(input_folder=str(scratch / "sigs"),
                                      output_folder=str(scratch / "buckets"), config=cfg)],
        tasks=cfg.num_buckets, workers=workers, logging_dir=str(logs / "buckets"), depends=sig)
    cluster = LocalPipelineExecutor(
        pipeline=[MinhashDedupCluster(input_folder=str(scratch / "buckets"),
                                      output_folder=str(scratch / "remove_ids"), config=cfg,
                                      save_cluster_id=True)],
        tasks=1, logging_dir=str(logs / "clusters"), depends=buckets)
    filt = LocalPipelineExecutor(
        pipeline=[reader(),
                  MinhashDedupFilter(input_folder=str(scratch / "remove_ids"),
                                     exclusion_writer=JsonlWriter(str(scratch / "removed")),
                                     load_cluster_ids=True),
                  JsonlWriter(str(scratch / "kept"))],
        tasks=tasks, workers=workers, logging_dir=str(logs / "filter"), depends=cluster)
    t0 = time.perf_counter()
    filt.run()
    seconds = time.perf_counter() - t0

    import gzip

    cluster_of: dict[str, int] = {}
    removed = 0
    for sub in ("kept", "removed"):
        for path in sorted((scratch / sub).glob("*.jsonl.gz")):
            with gzip.open(path, "rt", encoding="utf-8") as f:
                for line in f:
                    doc = json.loads(line)
                    # A shard in which nothing was removed gets no .remove file, and then the
                    # filter passes its documents through without a cluster id: singletons.
                    cid = doc.get("metadata", {}).get("minhash_cluster_id", -1)
                    cluster_of[str(doc["id"])] = int(cid)
                    removed += sub == "removed"
    ids = [str(r["id"]) for r in read_jsonl(folder / "docs.jsonl")]
    if len(cluster_of) != len(ids):
        raise RuntimeError(f"datatrove returned {len(cluster_of)} of {len(ids)} documents")
    # -1 marks a document in no cluster: give it a label of its own.
    pred = [cluster_of[d] if cluster_of[d] >= 0 else -1 - i for i, d in enumerate(ids)]
    return {"pred": pred, "seconds": seconds, "removed": removed}


WORKERS = {"text-dedup": worker_text_dedup, "datatrove": worker_datatrove}
WORKER_PACKAGES = {"text-dedup": ("text-dedup", "datasets", "numpy"),
                   "datatrove": ("datatrove", "spacy", "xxhash", "numpy")}


def worker_main(args: argparse.Namespace) -> int:
    """Run the listed settings of one peer; one result file per setting, written as it ends.

    Writing each result as soon as it exists lets the parent keep what finished when a later
    setting fails or the run is cut short.
    """
    os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("HF_DATASETS_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TQDM_DISABLE", "1")
    folder, results = Path(args.input), Path(args.result_dir)
    results.mkdir(parents=True, exist_ok=True)
    fn = WORKERS[args.worker]
    (results / "versions.json").write_text(json.dumps(versions(WORKER_PACKAGES[args.worker])))
    for setting in json.loads(args.settings):
        scratch = Path(tempfile.mkdtemp(prefix=f"bench-{args.worker}-", dir=args.scratch))
        try:
            res = fn(folder, setting, scratch)
        except Exception as exc:
            res = {"error": f"{type(exc).__name__}: {exc}"}
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
        name = hashlib.sha1(setting_key(setting).encode()).hexdigest()[:16]
        (results / f"{name}.json").write_text(json.dumps({"setting": setting, **res}))
        print(f"{args.worker} {setting_key(setting)}: "
              f"{res.get('error') or '%.1f s' % res['seconds']}", flush=True)
    return 0


# --------------------------------------------------------------------------------------------
# dedupe (parent)
# --------------------------------------------------------------------------------------------


def _dedupe_labels(out: Path, ids: list[str]) -> list[int]:
    """Cluster ids of a ``dedupe run`` in input row order; rows it skipped stay singletons."""
    import pyarrow.parquet as pq

    manifest = pq.read_table(out / "manifest.parquet", columns=["id", "cluster_id"])
    cluster = dict(zip(manifest["id"].to_pylist(), manifest["cluster_id"].to_pylist()))
    return [cluster[i] if cluster.get(i) is not None else -1 - k for k, i in enumerate(ids)]


def dedupe_run(folder: Path, scratch: Path, **options) -> dict:
    import dedupe

    ids = [str(r["id"]) for r in read_jsonl(folder / "docs.jsonl")]
    out = scratch / "dedupe-run"
    t0 = time.perf_counter()
    dedupe.run([str(folder / "docs.jsonl")], out, id_column="id", workers=2, overwrite=True,
               spans=False, boilerplate=False, **options)
    seconds = time.perf_counter() - t0
    report = json.loads((out / "report.json").read_text())
    params = report["parameters"]
    res = {"pred": _dedupe_labels(out, ids), "seconds": seconds,
           "bands": report["lsh"]["bands"], "rows": report["lsh"]["rows"],
           "ngram": params["minhash"]["ngram"], "threshold": params["lsh"]["threshold"]}
    shutil.rmtree(out, ignore_errors=True)
    return res


def dedupe_sweep(folder: Path, scratch: Path, ngrams: list[int], thresholds: str,
                 env: dict) -> list[dict]:
    """``dedupe sweep`` over the grid; its rows (already scored by ``score``) come back."""
    import pyarrow.parquet as pq

    out = scratch / "dedupe-sweep"
    cmd = [sys.executable, "-c", "from dedupe.cli import main; main()", "sweep",
           str(folder / "labelled.jsonl"), "--out", str(out), "--labels-column", "cluster",
           "--thresholds", thresholds, "--ngram", ",".join(map(str, ngrams)),
           "--id-column", "id", "--workers", "2", "--overwrite"]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"dedupe sweep failed: {proc.stderr[-2000:]}")
    rows = pq.read_table(out / "sweep.parquet").to_pylist()
    shutil.rmtree(out, ignore_errors=True)
    return rows


# --------------------------------------------------------------------------------------------
# orchestration (parent)
# --------------------------------------------------------------------------------------------


def _scored(truth: list[str], setting: dict, res: dict) -> dict:
    from dedupe.evaluate import score

    if "error" in res:
        return {"setting": setting, "error": res["error"]}
    s = score(truth, res["pred"])
    extra = {k: v for k, v in res.items() if k not in ("pred", "setting")}
    return {"setting": setting, **extra,
            **{k: s[k] for k in ("precision", "recall", "f1", "ari", "removed_fraction",
                                 "true_pairs", "predicted_pairs")}}


def _best(points: list[dict]) -> dict | None:
    ok = [p for p in points if "error" not in p]
    if not ok:
        return None
    # Highest F1; ties go to the higher ARI, then to the first setting of the grid.
    return max(ok, key=lambda p: (p["f1"], p["ari"]))


def _best_at_n5(points: list[dict]) -> dict | None:
    """Best over 5-gram settings only: text-dedup and datatrove default to 5-grams and are
    swept at n = 5 only (one full pipeline run per setting), so this row compares like with
    like when another system's overall best uses a different n."""
    return _best([p for p in points if p["setting"].get("ngram") == 5])


def _run_worker(system: str, folder: Path, settings: list[dict], args: argparse.Namespace,
                workdir: Path, log: Path) -> tuple[dict[str, dict], dict, str | None]:
    """Run ``settings`` of a worker peer; results by setting key, its versions, any failure."""
    results = workdir / "results" / folder.name / system
    done: dict[str, dict] = {}
    # Results are reused only for the very same input bytes (the synthetic corpus, say, follows
    # tests.synth, which may change between runs).
    digest = hashlib.sha256((folder / "docs.jsonl").read_bytes()).hexdigest()
    stamp = results / "input.sha256"
    if results.exists() and (not args.resume or not stamp.exists()
                             or stamp.read_text() != digest):
        shutil.rmtree(results)
    results.mkdir(parents=True, exist_ok=True)
    stamp.write_text(digest)
    for path in results.glob("*.json"):
        if path.name != "versions.json":
            rec = json.loads(path.read_text())
            if "error" not in rec:
                done[setting_key(rec["setting"])] = rec
    todo = [s for s in settings if setting_key(s) not in done]
    failure = None
    if todo:
        scratch = workdir / "scratch"
        scratch.mkdir(exist_ok=True)
        cmd = [args.peers_python, os.path.abspath(__file__), "--worker", system,
               "--input", str(folder), "--settings", json.dumps(todo),
               "--result-dir", str(results), "--scratch", str(scratch)]
        env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
        with open(log, "a", encoding="utf-8") as lf:
            lf.write(f"\n=== {system} on {folder.name}: {len(todo)} settings ===\n")
            lf.flush()
            proc = subprocess.run(cmd, stdout=lf, stderr=subprocess.STDOUT, env=env)
        if proc.returncode != 0:
            failure = f"worker exited with status {proc.returncode} (see {log})"
    for path in results.glob("*.json"):
        if path.name != "versions.json":
            rec = json.loads(path.read_text())
            done[setting_key(rec["setting"])] = rec
    vpath = results / "versions.json"
    vers = json.loads(vpath.read_text()) if vpath.exists() else {}
    return done, vers, failure


def _check_peers_python(args: argparse.Namespace, system: str) -> str | None:
    """Why ``system`` cannot run in the peers' interpreter, or None when it can."""
    if not args.peers_python or not Path(args.peers_python).exists():
        return f"peers interpreter {args.peers_python!r} not found (see --peers-python)"
    module = {"text-dedup": "text_dedup.minhash",
              "datatrove": "datatrove.pipeline.dedup.minhash"}[system]
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    proc = subprocess.run([args.peers_python, "-c", f"import {module}"], capture_output=True,
                          text=True, env=env)
    if proc.returncode != 0:
        return f"cannot import {module}: {proc.stderr.strip().splitlines()[-1]}"
    return None


def bench_dataset(name: str, args: argparse.Namespace, workdir: Path, env: dict,
                  log: Path) -> dict:
    folder = prepare(name, args, workdir)
    meta = json.loads((folder / "truth.json").read_text())
    truth = meta["truth"]
    texts = [r["text"] for r in read_jsonl(folder / "docs.jsonl")]
    thresholds = thresholds_grid(args.thresholds)
    ngrams = [int(x) for x in args.ngrams.split(",")]
    sizes = Counter(truth).values()
    out = {"dataset": name, "description": meta["description"], "docs": len(truth),
           "clusters": len(sizes), "true_pairs": sum(c * (c - 1) // 2 for c in sizes),
           "exact_pairs_across_clusters": meta.get("exact_pairs_across_clusters"),
           "systems": {}}
    scratch = workdir / "scratch"
    scratch.mkdir(parents=True, exist_ok=True)
    for system in args.systems:
        t0 = time.perf_counter()
        entry: dict = {"defaults": None, "best": None, "sweep": []}
        print(f"[{name}] {system} ...", file=sys.stderr, flush=True)
        try:
            if system == "dedupe":
                # The first run in a process starts dedupe's worker pool; an untimed warm-up
                # keeps that out of the per-setting seconds, as imports are kept out for peers.
                dedupe_run(folder, scratch)
                entry["defaults"] = _scored(truth, {"config": "defaults"},
                                            dedupe_run(folder, scratch))
                rows = dedupe_sweep(folder, scratch, ngrams, args.thresholds, env)
                entry["sweep"] = [
                    {"setting": {"ngram": r["ngram"], "threshold": r["threshold"]},
                     **{k: r[k] for k in ("precision", "recall", "f1", "ari", "bands", "rows",
                                          "seconds")}} for r in rows]
                top = _best(entry["sweep"])
                best_run = dedupe_run(folder, scratch, ngram=top["setting"]["ngram"],
                                      threshold=top["setting"]["threshold"])
                entry["best"] = _scored(truth, dict(top["setting"]), best_run)
                entry["best"]["sweep_f1"] = top["f1"]
                top5 = _best_at_n5(entry["sweep"])
                if top5 is not None and top5["setting"] != top["setting"]:
                    run5 = dedupe_run(folder, scratch, ngram=5,
                                      threshold=top5["setting"]["threshold"])
                    entry["best_n5"] = _scored(truth, dict(top5["setting"]), run5)
                    entry["best_n5"]["sweep_f1"] = top5["f1"]
            elif system in ("datasketch", "rensa"):
                run = run_datasketch if system == "datasketch" else run_rensa
                points = [_scored(truth, s, r) for s, r in run(texts, ngrams, thresholds)]
                default = DATASKETCH_DEFAULT if system == "datasketch" else RENSA_DEFAULT
                entry["defaults"] = next(p for p in points if p["setting"] == default)
                entry["sweep"] = points
                entry["best"] = _best(points)
                entry["best_n5"] = _best_at_n5(points)
            else:
                reason = _check_peers_python(args, system)
                if reason:
                    raise RuntimeError(reason)
                if system == "text-dedup":
                    default = TEXT_DEDUP_DEFAULT
                    settings = [{"ngram": n, "threshold": t}
                                for n in args.td_ngrams for t in thresholds]
                else:
                    default = DATATROVE_DEFAULT
                    settings = [{"ngram": n, "bands": b, "rows": r}
                                for n in args.dt_ngrams for b, r in DATATROVE_GRID]
                if default not in settings:
                    settings.insert(0, default)
                done, vers, failure = _run_worker(system, folder, settings, args, workdir, log)
                entry["versions"] = vers
                points = [_scored(truth, rec["setting"], rec) for rec in
                          (done.get(setting_key(s)) for s in settings) if rec is not None]
                entry["sweep"] = points
                entry["defaults"] = next((p for p in points if p["setting"] == default), None)
                entry["best"] = _best(points)
                entry["best_n5"] = _best_at_n5(points)
                errors = [p["error"] for p in points if "error" in p]
                if failure or errors or len(points) < len(settings):
                    entry["problems"] = ([failure] if failure else []) + errors[:3] + (
                        [f"{len(settings) - len(points)} settings gave no result"]
                        if len(points) < len(settings) else [])
        except Exception as exc:
            entry["error"] = f"{type(exc).__name__}: {exc}"
            print(f"[{name}] {system} failed: {entry['error']}", file=sys.stderr, flush=True)
        entry["total_seconds"] = time.perf_counter() - t0
        out["systems"][system] = entry
        print(f"[{name}] {system} done in {entry['total_seconds']:.0f} s", file=sys.stderr,
              flush=True)
    return out


# --------------------------------------------------------------------------------------------
# report
# --------------------------------------------------------------------------------------------


def _param_cell(system: str, p: dict) -> str:
    s = p["setting"]
    if system == "datatrove":
        b, r = s["bands"], s["rows"]
        return f"{b}x{r} (~{(1 / b) ** (1 / r):.2f})"
    if system == "dedupe" and s.get("config") == "defaults":
        th = p.get("threshold")
    else:
        th = s["threshold"]
    cell = f"{th:.2f}"
    if p.get("bands"):
        cell += f" ({p['bands']}x{p['rows']})"
    return cell


def _shingle_cell(system: str, p: dict) -> str:
    s = p["setting"]
    if system == "rensa" and s.get("tokens") == "split":
        return "text.split()"
    n = p.get("ngram") if s.get("config") == "defaults" else s.get("ngram")
    return f"word {n}-gram"


def markdown(results: list[dict]) -> str:
    lines = []
    for ds in results:
        lines.append(f"### {ds['dataset']}: {ds['docs']} docs, {ds['clusters']} true clusters, "
                     f"{ds['true_pairs']} true pairs")
        lines.append("")
        lines.append(ds["description"])
        if ds.get("exact_pairs_across_clusters"):
            lines.append(f"(the reference splits {ds['exact_pairs_across_clusters']} pairs of "
                         "identical texts across clusters: each is a false positive for "
                         "every system)")
        lines.append("")
        lines.append("| system | setting | threshold (b x r) | shingles | precision | recall | "
                     "F1 | ARI | seconds |")
        lines.append("|---|---|---|---|---:|---:|---:|---:|---:|")
        for system, entry in ds["systems"].items():
            if entry.get("error") or (entry["defaults"] is None and entry["best"] is None):
                why = entry.get("error") or "; ".join(entry.get("problems", [])) or "no result"
                lines.append(f"| {system} | not run | {why} | | | | | | |")
                continue
            labels = ["defaults", "best"]
            n5 = entry.get("best_n5")
            if n5 and entry["best"] and n5["setting"] != entry["best"]["setting"]:
                labels.append("best_n5")
            for label in labels:
                p = entry.get(label)
                if p is None or "error" in p:
                    why = (p or {}).get("error", "no result")
                    lines.append(f"| {system} | {label} | failed: {why} | | | | | | |")
                    continue
                shown = "best at n=5" if label == "best_n5" else label
                lines.append(
                    f"| {system} | {shown} | {_param_cell(system, p)} | "
                    f"{_shingle_cell(system, p)} | {p['precision']:.3f} | {p['recall']:.3f} | "
                    f"{p['f1']:.3f} | {p['ari']:.3f} | {p['seconds']:.2f} |")
        for system, entry in ds["systems"].items():
            if entry.get("problems"):
                lines.append(f"{system}: " + "; ".join(entry["problems"]))
        lines.append("")
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------
# command line
# --------------------------------------------------------------------------------------------


def parse_args(argv=None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--datasets", default=",".join(DATASETS),
                    help=f"comma-separated, from {', '.join(DATASETS)}")
    ap.add_argument("--systems", default=",".join(SYSTEMS),
                    help=f"comma-separated, from {', '.join(SYSTEMS)}")
    ap.add_argument("--data-root", type=Path, default=SHARED,
                    help="folder with onestopenglish/ and pan13/ [../shared/data]")
    ap.add_argument("--synth-docs", type=int, default=5000)
    ap.add_argument("--synth-seed", type=int, default=3)
    ap.add_argument("--thresholds", default="0.05:0.95:0.05", help="start:stop:step")
    ap.add_argument("--ngrams", default="1,2,3,5",
                    help="word n-gram sizes swept for dedupe, datasketch and rensa")
    ap.add_argument("--td-ngrams", default="5",
                    help="n-gram sizes swept for text-dedup (one full pipeline run per "
                         "setting, so the default sweeps thresholds at its default n only)")
    ap.add_argument("--dt-ngrams", default="5",
                    help="n-gram sizes swept for datatrove (each with every b x r of the grid)")
    ap.add_argument("--peers-python", default=os.environ.get("PEERS_PYTHON",
                                                             DEFAULT_PEERS_PYTHON),
                    help="interpreter with text-dedup and datatrove installed")
    ap.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "bench-peers")
    ap.add_argument("--resume", action="store_true",
                    help="reuse text-dedup / datatrove results already in --workdir")
    ap.add_argument("--out-json", type=Path)
    ap.add_argument("--out-md", type=Path)
    # worker mode (internal)
    ap.add_argument("--worker", choices=WORKER_SYSTEMS, help=argparse.SUPPRESS)
    ap.add_argument("--input", help=argparse.SUPPRESS)
    ap.add_argument("--settings", help=argparse.SUPPRESS)
    ap.add_argument("--result-dir", help=argparse.SUPPRESS)
    ap.add_argument("--scratch", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        return args
    args.datasets = [d for d in args.datasets.split(",") if d]
    args.systems = [s for s in args.systems.split(",") if s]
    for d in args.datasets:
        if d not in DATASETS:
            ap.error(f"unknown data set {d!r}")
    for s in args.systems:
        if s not in SYSTEMS:
            ap.error(f"unknown system {s!r}")
    args.td_ngrams = [int(x) for x in args.td_ngrams.split(",")]
    args.dt_ngrams = [int(x) for x in args.dt_ngrams.split(",")]
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.worker:
        return worker_main(args)
    if {"onestop", "pan13"} & set(args.datasets) and not args.data_root.is_dir():
        raise SystemExit(f"data not found under {args.data_root} (see --data-root)")
    workdir = args.workdir.resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    snapshot, tag = snapshot_dedupe(workdir)
    sys.path.insert(0, str(snapshot))
    path = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = str(snapshot) + (os.pathsep + path if path else "")
    env = dict(os.environ)
    import dedupe

    if not Path(dedupe.__file__).resolve().is_relative_to(snapshot.resolve()):
        raise SystemExit(f"dedupe was imported from {dedupe.__file__}, not the snapshot")
    log = workdir / "workers.log"
    t0 = time.perf_counter()
    results = [bench_dataset(d, args, workdir, env, log) for d in args.datasets]
    total = time.perf_counter() - t0
    md = markdown(results)
    print(md)
    print(f"total wall time: {total:.0f} s; dedupe source digest {tag}")
    if args.out_md:
        args.out_md.write_text(md + "\n")
    if args.out_json:
        payload = {
            "dedupe_source": tag,
            "versions": versions(("dedupe", "datasketch", "rensa", "numpy", "pyarrow")),
            "python": sys.version.split()[0],
            "cpus": os.cpu_count(),
            "thresholds": args.thresholds, "ngrams": args.ngrams,
            "td_ngrams": args.td_ngrams, "dt_ngrams": args.dt_ngrams,
            "datatrove_grid": DATATROVE_GRID,
            "total_seconds": total,
            "datasets": results,
        }
        args.out_json.write_text(json.dumps(payload, indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
