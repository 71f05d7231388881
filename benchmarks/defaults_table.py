"""The evidence behind dedupe's defaults (word 2-grams, 128 permutations, threshold 0.75).

Prints the two tables of README's "Defaults, and why" section and writes them as JSON.

**Table 1, true Jaccard of the shingle sets** (word 2-, 3- and 5-grams, character 5-grams) of
``--pages`` generated pages (``tests.synth.make_corpus``, seed ``--corpus-seed``, written with
``bench_engine.write_corpus``). Each text is first put in dedupe's canonical form
(``canonical_text`` with the default ``NormalizeConfig``), then cut into shingle strings by
``dedupe.text.shingle.shingle_strings``; the Jaccard is computed on those string sets, exactly,
not estimated (the mean set size per page is given too). A planted copy's ``cluster`` is the
row of its family's original, so each copy is compared with that row; min and median are given
for the 5 %-edited (``word_edits``), header + footer (``header_footer``: the same body served
with another site's template) and light paraphrase (``paraphrase_light``) copies. *Template
only* is the largest Jaccard between two pages of one site (``site`` column) from different
families: what a shared template alone reaches. *CleanPortalEval* is the largest Jaccard
between two pages of the 71 real news pages of ``../shared/data/cleanportaleval`` whose gold
articles differ (page text as ``bench_boilerplate.py`` extracts it: all visible text, one line
per block).

**Table 2, each candidate setting run end to end** with ``dedupe.run`` (``bench_engine``'s
``run_dedupe``: one worker, clusters read back from the manifest) for permutation seeds
1..``--seeds``. Span detection is switched off: it never changes the clusters. Per setting the
range over seeds of: pairs of CleanPortalEval pages with different gold articles put in one
cluster (pages with equal gold word lists are one article; two Washington Post pages are); the
LSH bands x rows dedupe chose; pairwise recall and precision on the generated pages against the
``cluster`` column (``dedupe.evaluate.score``); the share of 5 %-edited copies clustered with
their original.

Where ``../shared/data/cleanportaleval`` is absent its columns read "n/a" and a message says why.

    python benchmarks/defaults_table.py                      # 3,000 pages, seeds 1-3
    python benchmarks/defaults_table.py --pages 1000 --seeds 1 --out /tmp/defaults.json
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # for tests.synth (write_corpus)
from bench_boilerplate import SHARED, load_gold_set
from bench_engine import run_dedupe, variant_recall, write_corpus

from dedupe.config import NormalizeConfig
from dedupe.evaluate import pair_counts, score
from dedupe.text.normalize import canonical_text
from dedupe.text.shingle import shingle_strings

PORTAL = SHARED / "cleanportaleval"
SHINGLES = (("word 2-grams", "word", 2), ("word 3-grams", "word", 3),
            ("word 5-grams", "word", 5), ("char 5-grams", "char", 5))
FAMILIES = {"word_edits": "5 % words edited", "header_footer": "header + footer added",
            "paraphrase_light": "light paraphrase"}
SETTINGS = ((3, 0.6), (3, 0.7), (2, 0.7), (2, 0.75), (2, 0.8))  # (word n-gram, threshold)
NO_SPANS = {"spans": False, "boilerplate": False}
RESULTS = Path(__file__).resolve().parent / "results" / "defaults_table.json"


# --------------------------------------------------------------------------------------------
# the data


def generated_pages(folder: Path, pages: int, seed: int) -> tuple[list[str], pa.Table]:
    """Shard paths and the columns the tables need (text, site, cluster, variant)."""
    write_corpus(folder, pages, seed)
    paths = sorted(str(p) for p in folder.glob("part-*.parquet"))
    columns = ["text", "site", "cluster", "variant"]
    return paths, pa.concat_tables(pq.read_table(p, columns=columns) for p in paths)


class Portal(NamedTuple):
    """CleanPortalEval written as one Parquet file, with an article label per page."""

    paths: list[str]
    names: list[str]
    texts: list[str]
    article: np.ndarray


def portal_pages(folder: Path) -> Portal | None:
    """CleanPortalEval's pages with gold, labelled by article (equal gold words: one article)."""
    if not PORTAL.exists():
        print(f"{PORTAL} not found: CleanPortalEval figures are skipped", file=sys.stderr)
        return None
    docs, gold = load_gold_set(PORTAL.name, "full")
    names = sorted(docs)
    articles: dict[tuple, int] = {}
    article = np.array([articles.setdefault(tuple(gold[k]), len(articles)) for k in names])
    texts = [docs[k] for k in names]
    path = folder / "cleanportaleval.parquet"
    pq.write_table(pa.table({"id": names, "text": texts}), path)
    return Portal([str(path)], names, texts, article)


# --------------------------------------------------------------------------------------------
# table 1: true Jaccard


def shingle_ids(texts: list[str], kind: str, n: int) -> list[np.ndarray]:
    """Each text's set of canonical shingles, as sorted integer ids of one shared vocabulary."""
    cfg, vocab = NormalizeConfig(), {}
    return [
        np.unique(np.fromiter(
            (vocab.setdefault(s, len(vocab)) for s in shingle_strings(canonical_text(t, cfg),
                                                                      kind, n)), np.int64))
        for t in texts
    ]


def jaccard(a: np.ndarray, b: np.ndarray) -> float:
    inter = len(np.intersect1d(a, b, assume_unique=True))
    union = len(a) + len(b) - inter
    return inter / union if union else 1.0


def pairwise_jaccard(sets: list[np.ndarray]) -> np.ndarray:
    """All-pairs Jaccard of a group: intersections as one product of 0/1 matrices.

    Only shingles held by two or more members can be shared, so the matrix has one column per
    such shingle, which keeps it small (a few hundred pages, a few thousand columns).
    """
    ids, counts = np.unique(np.concatenate(sets), return_counts=True)
    shared = ids[counts > 1]
    member = np.zeros((len(sets), len(shared)), np.float32)
    for i, s in enumerate(sets):
        member[i, np.searchsorted(shared, s[np.isin(s, shared, assume_unique=True)])] = 1.0
    inter = member @ member.T
    size = np.array([len(s) for s in sets], np.float64)
    union = size[:, None] + size[None, :] - inter
    return np.divide(inter, union, out=np.zeros_like(union), where=union > 0)


def largest_across(sets: list[np.ndarray], group: np.ndarray, label: np.ndarray):
    """The largest Jaccard between two members of one ``group`` whose ``label``s differ."""
    best = (0.0, -1, -1)
    for g in np.unique(group):
        rows = np.flatnonzero(group == g)
        sim = pairwise_jaccard([sets[r] for r in rows])
        sim[label[rows][:, None] == label[rows][None, :]] = -1.0  # same family, and the diagonal
        i, j = np.unravel_index(int(np.argmax(sim)), sim.shape)
        if sim[i, j] > best[0]:
            best = (float(sim[i, j]), int(rows[i]), int(rows[j]))
    return best


def jaccard_row(corpus: pa.Table, portal, kind: str, n: int) -> dict:
    """One row of table 1 for one shingle kind."""
    sets = shingle_ids(corpus["text"].to_pylist(), kind, n)
    cluster = corpus["cluster"].to_numpy()
    variant = np.asarray(corpus["variant"].to_pylist())
    row = {"shingles_mean": float(np.mean([len(s) for s in sets]))}
    for family in FAMILIES:
        copies = np.flatnonzero(variant == family)
        sims = [jaccard(sets[c], sets[cluster[c]]) for c in copies]
        row[family] = {"min": min(sims), "median": float(np.median(sims)), "copies": len(sims)}
    site = np.asarray(corpus["site"].to_pylist())
    row["template_only_max"] = largest_across(sets, site, cluster)[0]
    if portal is not None:
        sets = shingle_ids(portal.texts, kind, n)
        value, i, j = largest_across(sets, np.zeros(len(sets)), portal.article)
        row["portal_max"] = {"jaccard": value, "pages": [portal.names[i], portal.names[j]]}
    return row


def jaccard_table(corpus: pa.Table, portal) -> dict:
    table = {}
    for name, kind, n in SHINGLES:
        started = time.perf_counter()
        table[name] = jaccard_row(corpus, portal, kind, n)
        print(f"  Jaccard, {name}: {time.perf_counter() - started:.1f} s", flush=True)
    return table


# --------------------------------------------------------------------------------------------
# table 2: the settings, end to end


def setting_runs(ngram: int, threshold: float, seeds: int, corpus: tuple, portal,
                 tmp: Path) -> list[dict]:
    """One ``dedupe.run`` per seed on the generated pages, and one on CleanPortalEval."""
    paths, table = corpus
    truth = table["cluster"].to_numpy()
    variant = np.asarray(table["variant"].to_pylist())
    runs = []
    for seed in range(1, seeds + 1):
        options = {"ngram": ngram, "threshold": threshold, "seed": seed, **NO_SPANS}
        res = run_dedupe(paths, tmp / f"gen-{ngram}-{threshold}-{seed}", 1, options)
        got = score(truth, res["pred"])
        run = {"seed": seed, "bands": res["lsh"]["bands"], "rows": res["lsh"]["rows"],
               "precision": got["precision"], "recall": got["recall"],
               "edited_caught": variant_recall(truth, variant, res["pred"])["word_edits"]}
        if portal is not None:
            res = run_dedupe(portal.paths, tmp / f"portal-{ngram}-{threshold}-{seed}", 1, options)
            run["portal_joined"] = pair_counts(portal.article, res["pred"]).fp
        runs.append(run)
    return runs


def settings_table(seeds: int, corpus: tuple, portal, tmp: Path) -> list[dict]:
    rows = []
    for ngram, threshold in SETTINGS:
        started = time.perf_counter()
        runs = setting_runs(ngram, threshold, seeds, corpus, portal, tmp)
        rows.append({"ngram": ngram, "threshold": threshold, "runs": runs})
        print(f"  runs, word {ngram}-grams at {threshold}: {time.perf_counter() - started:.1f} s",
              flush=True)
    return rows


# --------------------------------------------------------------------------------------------
# Markdown


def spread(values: list, digits: int) -> str:
    """``lo-hi`` over seeds (one value where they agree), or n/a."""
    if not values:
        return "n/a"
    lo, hi = (f"{v:.{digits}f}" for v in (min(values), max(values)))
    return lo if lo == hi else f"{lo}-{hi}"


def markdown_jaccard(table: dict) -> str:
    out = ["| shingles | distinct per page (mean) | "
           + " | ".join(f"{v} (min / median)" for v in FAMILIES.values())
           + " | template only (max) | CleanPortalEval, different articles (max) |",
           "|---" * (len(FAMILIES) + 4) + "|"]
    pairs = {}
    for name, row in table.items():
        cells = [f"{row['shingles_mean']:,.0f}"]
        cells += [f"{row[f]['min']:.2f} / {row[f]['median']:.2f}" for f in FAMILIES]
        portal = row.get("portal_max")
        cells.append(f"{row['template_only_max']:.3f}")
        cells.append(f"{portal['jaccard']:.2f}" if portal else "n/a")
        out.append(f"| {name} | " + " | ".join(cells) + " |")
        if portal:
            pairs.setdefault(" ~ ".join(portal["pages"]), []).append(name)
    for pages, names in pairs.items():
        out.append(f"\nCleanPortalEval maximum, {', '.join(names)}: {pages}")
    return "\n".join(out)


def markdown_settings(rows: list[dict], pages: int) -> str:
    out = ["| setting | b x r | different articles joined on CleanPortalEval (pairs) "
           f"| recall on {pages:,} generated pages | 5 %-edited copies caught "
           "| pairwise precision |",
           "|---|---|---|---|---|---|"]
    for r in rows:
        runs = r["runs"]
        shape = sorted({f"{x['bands']} x {x['rows']}" for x in runs})
        joined = [x["portal_joined"] for x in runs if "portal_joined" in x]
        out.append(f"| word {r['ngram']}-grams, {r['threshold']} | {', '.join(shape)} "
                   f"| {spread(joined, 0)} | {spread([x['recall'] for x in runs], 3)} "
                   f"| {spread([x['edited_caught'] for x in runs], 3)} "
                   f"| {spread([x['precision'] for x in runs], 3)} |")
    return "\n".join(out)


# --------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pages", type=int, default=3000, help="generated pages [3000]")
    parser.add_argument("--seeds", type=int, default=3, help="permutation seeds 1..N [3]")
    parser.add_argument("--corpus-seed", type=int, default=0, help="make_corpus seed [0]")
    parser.add_argument("--out", type=Path, default=RESULTS, help=f"JSON file [{RESULTS}]")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    tmp = Path(tempfile.mkdtemp(prefix="defaults-table-"))
    try:
        corpus = generated_pages(tmp / "generated", args.pages, args.corpus_seed)
        portal = portal_pages(tmp)
        print(f"{args.pages:,} generated pages, CleanPortalEval "
              f"{'absent' if portal is None else f'{len(portal.names)} pages'}", flush=True)
        jac = jaccard_table(corpus[1], portal)
        runs = settings_table(args.seeds, corpus, portal, tmp / "runs")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"\nTrue Jaccard of the shingle sets, {args.pages:,} generated pages "
          f"(corpus seed {args.corpus_seed}):\n\n{markdown_jaccard(jac)}\n")
    seeds = f"seeds 1-{args.seeds}" if args.seeds > 1 else "seed 1"
    print(f"dedupe run, permutation {seeds}:\n\n"
          f"{markdown_settings(runs, args.pages)}\n")
    seconds = time.perf_counter() - started
    print(f"total {seconds:.0f} s")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({
        "pages": args.pages, "corpus_seed": args.corpus_seed, "seeds": args.seeds,
        "cleanportaleval": portal is not None, "jaccard": jac, "settings": runs,
        "seconds": round(seconds, 1), "date": time.strftime("%Y-%m-%d"),
        "python": platform.python_version(),
        "numpy": np.__version__, "pyarrow": pa.__version__,
    }, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
