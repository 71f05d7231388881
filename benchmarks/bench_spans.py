"""How well do shared-passage windows find copied text, and what does span detection cost?

Two questions the unit tests cannot answer, because they need real copies and large corpora:

**1. Copied passages across documents (PAN-13).** ``boilerplate_windows=True`` counts every run
of ``span_min_tokens`` tokens across the surviving pages and flags a run found in at least
``boilerplate_min_docs`` of them. Whether that finds copied passages, and only those, is
measured on the PAN-13 text-alignment corpus (``../shared/data/pan13``), whose suspicious
documents carry planted copies of passages of source documents with character offsets:

* ``02-no-obfuscation`` (verbatim copies) and ``03-random-obfuscation`` (copies with words
  shuffled, replaced, inserted, deleted) are the positives; ``01-no-plagiarism`` is the
  negatives (pairs of documents on one topic with nothing copied). ``05`` is not used (most of
  its labels are empty) and ``04`` (translation) is not part of the question.
* Each subset becomes one corpus: every document of its (susp, src) pairs, once. ``all`` is the
  three subsets together (documents shared between subsets appear once), the realistic setting
  in which unrelated documents can share text too.
* dedupe runs with ``boilerplate_windows=True, boilerplate=False, spans=False,
  boilerplate_min_docs=2, boilerplate_policy="all"`` and near-duplicate ``threshold`` 0.95
  (``--threshold``): at the default 0.75 a document that is mostly a copy of its source could be
  dropped as a near duplicate, and a dropped document has no spans. Extra runs at 0.75 show what
  the default costs. Window length ``span_min_tokens`` is 8, 10 (the default) and 15.
* **Gold** of a document is the union of the ``this`` ranges of its positive cases (when it is
  the suspicious document) and the ``source`` ranges (when it is the source); only pairs with
  both documents in the corpus count. Offsets in the labels match the stored texts, so gold and
  flagged ranges are compared as character ranges directly. The data README notes that a
  verbatim copy differs from its source only in line breaks, so every figure counts non-space
  characters only (``str.isspace``): whether a span or a label includes the newline at its edge
  must not move precision or recall.
* **precision** = flagged characters inside gold / flagged characters; **recall** = gold
  characters flagged / gold characters (gold in documents removed as duplicates counts as
  missed; ``R kept`` counts only surviving documents); **FP per 1k** = flagged characters per
  1,000 characters of the surviving negative documents (in ``all``: the documents that occur
  in no 02 or 03 pair).
* Flagged characters outside gold are split three ways, because PAN's labels cover only the
  planted cases and the documents are web pages that really do share text (four 01
  suspicious documents are byte-identical to source documents, for one): *edge* (in a
  flagged span that also covers gold, and occurs in another surviving document: overshoot at a
  case boundary into text that really is shared),
  *shared* (in a span with no gold, occurring in another surviving document: a real shared
  passage the labels do not name) and *unverified* (found in no other document). "Occurs" is
  checked independently of dedupe's hashes: plain substring search for pieces of at least
  ``span_min_tokens`` tokens over case- and punctuation-folded text. ``P*`` counts *edge* and
  *shared* as correct.
* Every span is also checked against its text: inside the document, starting and ending on a
  token (a run of letters, marks and digits), no overlap with the next span of the row, only in
  surviving rows, ``count >= min_docs``, and ``first_id``/``first_start`` pointing at the same
  ``span_min_tokens`` tokens. Problems are counted and the first few printed.
* ``--near-passages`` scores near-duplicate passages (``near_passages=True`` alone, passage
  thresholds ``--passage-threshold``) instead: the first copy in corpus order is kept, so the
  gold of a case is only its side in the later document of the two (the corpus file holds the
  documents in sorted id order, sources first), and a span's ``first_id`` need only name a
  document of the run. Near copies cannot be confirmed by substring search, so their
  *unverified* characters are mostly edited copies; ``P pairs`` is the precision over the spans
  whose first occurrence is in a document the labels pair with the span's own (PAN lists some
  of the sources a suspicious page copies from, not all: a span whose first occurrence is in an
  unlisted source cannot be scored either way).

**2. Cost of span detection.** Generated pages (``tests.synth.make_corpus(N, seed)``, written
once as four Parquet shards so that two workers have tasks to share) go through ``dedupe.run``
with (a) document-level dedup only (``spans=False, boilerplate=False``), (b) the defaults
(repeats inside a page + line boilerplate), (c) the defaults + ``repetition_stats=True``, (d)
the defaults + ``boilerplate_windows=True``, each with ``workers=1`` and ``workers=2``. Every
run is a fresh interpreter, so one run's memory high-water mark cannot leak into another's (the
parent never holds a corpus, and runs its PAN part only after the timings: Linux carries a
parent's RSS peak over fork and exec into the child's ``ru_maxrss``). The runs are interleaved
(repeat 1 of every setting, then repeat 2, ...) so that load from other jobs on a shared machine
falls on all settings alike; CPU pressure (Linux PSI, share of wall time some task waited for a
CPU) is recorded per run. Reported: median wall time of ``dedupe.run`` (imports excluded) over
``--repeats``, its ratio to (a) (the project's target: spans under 1.5x the document-only run),
the median per-stage seconds of ``report.json``, the largest ``peak_rss_main`` and
``peak_rss_worker`` of its stages, and the peak summed RSS and the CPU seconds (user + system,
less the interpreter's start and imports) of the run's process tree (sampled every 50 ms). On a
shared machine other jobs stretch wall time, so the CPU-seconds ratio is the steadier figure of
the two. The spans of every run are digested, so runs of one setting that disagree (between
repeats or between 1 and 2 workers) are reported.

The ``dedupe`` package is copied once at start and every run imports the copy, so a long
session measures one version of the code while others edit the working tree.

    python benchmarks/bench_spans.py --out-json /tmp/bench_spans.json
    python benchmarks/bench_spans.py --part pan --min-tokens 10 --max-pairs 300
    python benchmarks/bench_spans.py --part cost --docs 20000 --repeats 1
"""

from __future__ import annotations

import argparse
import bisect
import contextlib
import hashlib
import json
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import time
import unicodedata
from pathlib import Path

from bench_engine import write_corpus  # the same corpus files as the engine benchmark
from snapshot import child_env, snapshot_dedupe

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"
PAN = SHARED / "pan13"
POSITIVE = ("02-no-obfuscation", "03-random-obfuscation")
NEGATIVE = "01-no-plagiarism"
CORPORA = ("01", "02", "03", "all")
SUBSET_OF = {"01": (NEGATIVE,), "02": (POSITIVE[0],), "03": (POSITIVE[1],),
             "all": (NEGATIVE, *POSITIVE)}
WINDOW_OPTIONS = {"boilerplate_windows": True, "boilerplate": False, "spans": False,
                  "boilerplate_min_docs": 2, "boilerplate_policy": "all"}
# near passages across pages, alone (--near-passages): the first copy kept, later ones flagged
PASSAGE_OPTIONS = {"near_passages": True, "boilerplate": False, "spans": False}
COST_SETTINGS = {  # label -> dedupe.run options on top of the defaults
    "a doc-only": {"spans": False, "boilerplate": False},
    "b defaults": {},
    "c +stats": {"repetition_stats": True},
    "d +windows": {"boilerplate_windows": True},
}
SAMPLE_S = 0.05
QUIET_AVG10 = 10.0
MiB = 1 << 20
SHOW = 5
HEAD_CHARS = 2000  # enough text for the first span_min_tokens tokens of a span


# --------------------------------------------------------------------------------------------
# one dedupe run in a fresh interpreter
# --------------------------------------------------------------------------------------------


def spans_digest(path: Path) -> str:
    """Digest of ``spans.parquet`` in a canonical order: equal flags give equal digests."""
    import pyarrow.parquet as pq

    if not path.exists():
        return "none"
    table = pq.read_table(path)
    table = table.sort_by([(c, "ascending") for c in ("id", "start", "end", "kind")])
    digest = hashlib.sha256()
    for name in table.column_names:
        digest.update(name.encode() + repr(table[name].to_pylist()).encode())
    return digest.hexdigest()[:16]


def child_run(spec: dict) -> int:
    """Run ``dedupe.run`` once, as ``spec`` says, and write its figures to ``spec['result']``."""
    import resource

    import dedupe

    out = Path(spec["out"])
    before_cpu = time.process_time()  # interpreter start and imports: not the run's cost
    t0 = time.perf_counter()
    dedupe.run(spec["inputs"], out, overwrite=True, **spec["options"])
    wall = time.perf_counter() - t0
    report = json.loads((out / "report.json").read_text())
    result = {
        "wall_s": wall,
        "before_cpu_s": before_cpu,
        "report_s": report["seconds"],
        "stages": {s["name"]: s["seconds"] for s in report["stages"]},
        "peak_rss_main": max(s["peak_rss_main"] for s in report["stages"]),
        "peak_rss_worker": max(s["peak_rss_worker"] for s in report["stages"]),
        "maxrss_self": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
        "counts": report["counts"],
        "spans": {k: v for k, v in report.get("spans", {}).items() if k != "top_boilerplate"},
        "spans_digest": spans_digest(out / "spans.parquet"),
        "dedupe_file": dedupe.__file__,
    }
    Path(spec["result"]).write_text(json.dumps(result))
    if not spec.get("keep_output"):
        shutil.rmtree(out / "data", ignore_errors=True)
    return 0


def cpu_pressure() -> tuple[float, float]:
    """``(total microseconds some task waited for a CPU, avg10 %)`` from Linux PSI, or NaN."""
    try:
        with open("/proc/pressure/cpu") as fh:
            fields = dict(kv.split("=") for kv in fh.readline().split()[1:])
        return float(fields["total"]), float(fields["avg10"])
    except (OSError, KeyError, ValueError):
        return float("nan"), 0.0


FAILURES: list[dict] = []


def launch(spec: dict, snapshot: Path, workdir: Path, quiet_s: float = 0.0,
           tries: int = 3) -> dict:
    """One run in a fresh interpreter; a failed run is logged and tried again.

    On a shared machine a worker can die for reasons that are not the run's (a neighbour's
    test filling memory, a process killed from outside); one such death must not throw away
    half an hour of timings, but every failure is kept (``FAILURES``) and reported.
    """
    for attempt in range(1, tries + 1):
        res = _launch_once(spec, snapshot, workdir, quiet_s)
        if "error" not in res:
            res["attempt"] = attempt
            return res
        FAILURES.append({"spec": spec, "attempt": attempt, **res})
        print(f"    run failed (attempt {attempt}): {res['error']}", flush=True)
    raise RuntimeError(f"dedupe run failed {tries} times: {spec}")


def _launch_once(spec: dict, snapshot: Path, workdir: Path, quiet_s: float) -> dict:
    """Run once, sampling the summed RSS of the process tree every ``SAMPLE_S`` seconds."""
    import psutil

    begin = time.monotonic()
    while quiet_s and time.monotonic() - begin < quiet_s and cpu_pressure()[1] > QUIET_AVG10:
        time.sleep(2.0)
    waited = time.monotonic() - begin
    result = Path(spec["result"])
    result.unlink(missing_ok=True)
    cmd = [sys.executable, os.path.abspath(__file__), "--child", json.dumps(spec)]
    log = workdir / "child-stderr.txt"
    p0, w0 = cpu_pressure()[0], time.perf_counter()
    with open(log, "wb") as err:
        proc = subprocess.Popen(cmd, env=child_env(snapshot), cwd=workdir, stderr=err)
        tree, peak, cpu = psutil.Process(proc.pid), 0, {}
        while proc.poll() is None:
            total = 0
            try:
                members = [tree, *tree.children(recursive=True)]
            except psutil.NoSuchProcess:
                members = []
            for member in members:
                with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied), \
                        member.oneshot():
                    total += member.memory_info().rss
                    times = member.cpu_times()
                    cpu[member.pid] = times.user + times.system
            peak = max(peak, total)
            time.sleep(SAMPLE_S)
    elapsed = time.perf_counter() - w0
    stderr = log.read_text(errors="replace")
    sys.stderr.write(stderr)
    if proc.returncode != 0:
        last = [ln for ln in stderr.splitlines() if ln.strip()][-1:] or ["(no stderr)"]
        return {"error": f"exit status {proc.returncode}: {last[0]}", "stderr_tail": stderr[-3000:],
                "seconds": elapsed, "tree_peak_rss": peak, "when": time.strftime("%H:%M:%S")}
    res = json.loads(result.read_text())
    if not res["dedupe_file"].startswith(str(snapshot)):
        raise RuntimeError(f"run imported {res['dedupe_file']}, not the snapshot {snapshot}")
    res["tree_peak_rss"] = peak
    res["cpu_s"] = sum(cpu.values()) - res["before_cpu_s"]
    res["cpu_pressure"] = (cpu_pressure()[0] - p0) / 1e6 / elapsed
    res["waited_s"] = waited
    return res


# --------------------------------------------------------------------------------------------
# part 1: PAN-13 copied passages
# --------------------------------------------------------------------------------------------

_WS_CODES = None


def space_mask(text: str):
    """``str.isspace`` of every character, vectorised over the text's code points."""
    import numpy as np

    global _WS_CODES
    if _WS_CODES is None:
        _WS_CODES = np.array([c for c in range(0x3001) if chr(c).isspace()], np.uint32)
    cps = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), np.uint32)
    return np.isin(cps, _WS_CODES)


def is_token_char(ch: str) -> bool:
    """A character of a token in dedupe's sense: a letter, a mark or a digit."""
    return unicodedata.category(ch)[0] in "LMN"


_TOKEN = re.compile(r"[^\W_]+")


def fold(text: str) -> str:
    """Case-folded tokens joined by single spaces, wrapped in spaces (whole-token matching)."""
    return _join(t.casefold() for t in _TOKEN.findall(text))


def _join(tokens) -> str:
    return " " + " ".join(tokens) + " "


def load_pan():
    import pyarrow.parquet as pq

    docs_path, cases_path = PAN / "pan13_docs.parquet", PAN / "pan_cases.jsonl"
    if not docs_path.exists() or not cases_path.exists():
        raise SystemExit(f"PAN-13 data not found under {PAN} (see ../shared/data/README.md)")
    table = pq.read_table(docs_path, columns=["doc_id", "text"])
    docs = dict(zip(table["doc_id"].to_pylist(), table["text"].to_pylist()))
    with open(cases_path, encoding="utf-8") as fh:
        pairs = [json.loads(line) for line in fh]
    return docs, pairs


def pan_corpora(docs: dict, pairs: list[dict], max_pairs: int, seed: int) -> dict:
    """Per corpus: its pairs (sampled per subset when ``max_pairs``) and its documents."""
    rng = random.Random(seed)
    chosen = {}
    for subset in (NEGATIVE, *POSITIVE):
        own = [p for p in pairs if p["subset"] == subset]
        if max_pairs and len(own) > max_pairs:
            own = rng.sample(own, max_pairs)
        chosen[subset] = own
    out = {}
    for name in CORPORA:
        ps = [p for s in SUBSET_OF[name] for p in chosen[s]]
        ids = sorted({d for p in ps for d in (p["susp"], p["src"])})
        # pairs of any subset whose documents both landed in this corpus: their copies are
        # real copies between two documents of the run, whatever subset lists them
        inside = set(ids)
        stray = sorted({p["subset"] for p in pairs if p["susp"] in inside and p["src"] in inside}
                       - set(SUBSET_OF[name]))
        out[name] = {"pairs": ps, "ids": ids, "stray_subsets": stray}
    return out


def verbatim_check(docs: dict, pairs: list[dict]) -> dict:
    """How many 02 cases equal their source after folding whitespace (the README's claim)."""
    same = total = 0
    for p in pairs:
        if p["subset"] != POSITIVE[0]:
            continue
        for c in p["cases"]:
            a = docs[p["susp"]][c["this_offset"] : c["this_offset"] + c["this_length"]]
            b = docs[p["src"]][c["source_offset"] : c["source_offset"] + c["source_length"]]
            total += 1
            same += " ".join(a.split()) == " ".join(b.split())
    return {"cases": total, "equal_after_folding_whitespace": same}


def gold_masks(docs: dict, corpus: dict, later_only: bool = False) -> dict:
    """``{subset: {doc: bool mask}}`` of the positive cases whose both documents are present:
    both sides of every case, or with ``later_only`` only the side in the document that comes
    later in the corpus (near passages keep the first copy and flag the later one)."""
    import numpy as np

    ids = set(corpus["ids"])
    order = {d: i for i, d in enumerate(corpus["ids"])}
    masks: dict[str, dict] = {}
    for p in corpus["pairs"]:
        if p["subset"] not in POSITIVE or p["susp"] not in ids or p["src"] not in ids:
            continue
        sub = masks.setdefault(p["subset"], {})
        for c in p["cases"]:
            sides = ((p["susp"], c["this_offset"], c["this_length"]),
                     (p["src"], c["source_offset"], c["source_length"]))
            if later_only:
                sides = (max(sides, key=lambda side: order[side[0]]),)
            for doc, off, n in sides:
                m = sub.setdefault(doc, np.zeros(len(docs[doc]), bool))
                m[off : off + n] = True
    return masks


def check_spans(docs: dict, spans: list[dict], kept: set, min_docs: int, k: int,
                exact_first: bool = True) -> dict:
    """Problems with the spans themselves, whatever the labels say (see module docstring);
    near passages (``exact_first`` false) need not begin with the same tokens as their first
    occurrence, only point at a page of the run."""
    problems: dict[str, list] = {"bounds": [], "token_edge": [], "overlap": [], "not_kept": [],
                                 "count": [], "first": []}
    prev = {}
    for s in spans:
        doc, a, b = s["id"], s["start"], s["end"]
        text = docs.get(doc)
        if text is None or not 0 <= a < b <= len(text):
            problems["bounds"].append(s)
            continue
        if doc not in kept:
            problems["not_kept"].append(s)
        if (not is_token_char(text[a]) or (a > 0 and is_token_char(text[a - 1]))
                or not is_token_char(text[b - 1])
                or (b < len(text) and is_token_char(text[b]))):
            problems["token_edge"].append({**s, "text": text[max(0, a - 5) : a + 20]})
        if doc in prev and a < prev[doc]:
            problems["overlap"].append(s)
        prev[doc] = max(prev.get(doc, 0), b)
        if s["count"] < min_docs:
            problems["count"].append(s)
        first = docs.get(s["first_id"])
        if not exact_first:
            if first is None or not 0 <= s["first_start"] < len(first):
                problems["first"].append(s)
            continue
        head = fold(text[a : a + HEAD_CHARS])[1:].split(" ")[:k]
        there = (fold(first[s["first_start"] : s["first_start"] + HEAD_CHARS])[1:].split(" ")[:k]
                 if first else None)
        if head != there:
            problems["first"].append({**s, "here": " ".join(head),
                                      "there": None if there is None else " ".join(there)})
    return {k_: {"n": len(v), "examples": v[:SHOW]} for k_, v in problems.items()}


class SharedText:
    """Folded texts of the surviving documents, to ask whether a passage occurs in another one.

    This is an independent check of what dedupe's window hashes claim: plain substring search
    over case- and punctuation-folded text, whole tokens only.
    """

    def __init__(self, docs: dict, ids: list[str]):
        parts, self.starts, self.ids = [], [], []
        pos = 0
        for d in ids:
            f = fold(docs[d]) + "\x00"
            parts.append(f)
            self.starts.append(pos)
            self.ids.append(d)
            pos += len(f)
        self.blob = "".join(parts)

    def elsewhere(self, doc: str, needle: str, limit: int = 64) -> bool:
        """Whether the folded ``needle`` occurs in a document other than ``doc``."""
        if needle.strip() == "":
            return False
        at = self.blob.find(needle)
        for _ in range(limit):
            if at < 0:
                return False
            if self.ids[bisect.bisect_right(self.starts, at) - 1] != doc:
                return True
            at = self.blob.find(needle, at + 1)
        return False

    def covered(self, doc: str, text: str, k: int) -> list[tuple[int, int]]:
        """Character ranges of ``text`` made of ``k`` or more tokens that occur in another doc.

        A flagged span merges overlapping windows, which may be shared with different
        documents, so the whole span need not occur anywhere else; each maximal piece found
        elsewhere is grown greedily (binary search on its end: a substring of a found piece is
        found too), the next piece starting so that it overlaps the last by ``k - 1`` tokens.
        """
        toks = list(_TOKEN.finditer(text))
        words = [m.group().casefold() for m in toks]
        if self.elsewhere(doc, _join(words)):
            return [(toks[0].start(), toks[-1].end())] if toks else []
        ranges, i, n = [], 0, len(words)
        while i <= n - k:
            if not self.elsewhere(doc, _join(words[i : i + k])):
                i += 1
                continue
            lo, hi = i + k, n
            while lo < hi:
                mid = (lo + hi + 1) // 2
                if self.elsewhere(doc, _join(words[i:mid])):
                    lo = mid
                else:
                    hi = mid - 1
            ranges.append((toks[i].start(), toks[lo - 1].end()))
            if lo == n:
                break
            i = max(i + 1, lo - k + 1)
        return ranges


def score_pan(docs: dict, corpus: dict, run_dir: Path, k: int, negatives: set,
              passages: bool = False) -> dict:
    """Character-level scores of one run (non-space characters; see module docstring);
    ``passages``: a near-passage run, scored against the later side of every case only."""
    import numpy as np
    import pyarrow.parquet as pq

    manifest = pq.read_table(run_dir / "manifest.parquet", columns=["id", "action"]).to_pylist()
    kept = {m["id"] for m in manifest if m["action"] == "kept"}
    removed = {m["id"]: m["action"] for m in manifest if m["action"] != "kept"}
    spans = pq.read_table(run_dir / "spans.parquet").to_pylist()
    checks = check_spans(docs, spans, kept, WINDOW_OPTIONS["boilerplate_min_docs"], k,
                         exact_first=not passages)
    golds = gold_masks(docs, corpus, later_only=passages)
    ids = corpus["ids"]
    gold = {d: np.zeros(len(docs[d]), bool) for d in ids}
    for sub in golds.values():
        for d, m in sub.items():
            gold[d] |= m
    flag = {d: np.zeros(len(docs[d]), bool) for d in ids}
    # near passages: flags whose first occurrence is in a document the labels never pair with
    # this one (PAN lists some source pages of a suspicious page, not all it copies from)
    paired = {frozenset((p["susp"], p["src"])) for p in corpus["pairs"]}
    unpaired = {d: np.zeros(len(docs[d]), bool) for d in ids}
    shared = SharedText(docs, sorted(kept))
    edge = {d: np.zeros(len(docs[d]), bool) for d in ids}
    verified = {d: np.zeros(len(docs[d]), bool) for d in ids}
    for s in spans:
        d, a, b = s["id"], s["start"], s["end"]
        if d not in flag or not 0 <= a < b <= len(docs[d]):
            continue
        flag[d][a:b] = True
        if passages and frozenset((d, s["first_id"])) not in paired:
            unpaired[d][a:b] = True
        if gold[d][a:b].any():
            edge[d][a:b] = True
            if gold[d][a:b].all():
                continue
        for x, y in shared.covered(d, docs[d][a:b], k):
            verified[d][a + x : a + y] = True
    tot = dict.fromkeys(("flagged", "tp", "gold", "gold_kept", "tp_kept", "edge", "shared",
                         "neg_chars", "neg_flagged", "neg_shared", "unpaired",
                         "unpaired_tp"), 0)
    per_subset = {s: {"gold": 0, "tp": 0} for s in golds}
    neg_docs_flagged = 0
    for d in ids:
        solid = ~space_mask(docs[d])
        g, f = gold[d] & solid, flag[d] & solid
        tot["flagged"] += int(f.sum())
        tot["tp"] += int((f & g).sum())
        tot["unpaired"] += int((f & unpaired[d]).sum())
        tot["unpaired_tp"] += int((f & unpaired[d] & g).sum())
        tot["gold"] += int(g.sum())
        if d in kept:
            tot["gold_kept"] += int(g.sum())
            tot["tp_kept"] += int((f & g).sum())
        tot["edge"] += int((f & ~g & edge[d] & verified[d]).sum())
        tot["shared"] += int((f & ~g & ~edge[d] & verified[d]).sum())
        for s, sub in golds.items():
            if d in sub:
                gs = sub[d] & solid
                per_subset[s]["gold"] += int(gs.sum())
                per_subset[s]["tp"] += int((gs & f).sum())
        if d in negatives and d in kept:
            tot["neg_chars"] += int(solid.sum())
            tot["neg_flagged"] += int(f.sum())
            tot["neg_shared"] += int((f & verified[d]).sum())
            neg_docs_flagged += bool(f.any())
    fp = tot["flagged"] - tot["tp"]
    res = {**tot, "unverified": fp - tot["edge"] - tot["shared"], "docs": len(ids),
           "kept": len(kept),
           "removed": removed, "spans": len(spans), "checks": checks,
           "negative_docs": len([d for d in negatives if d in kept]),
           "negative_docs_flagged": neg_docs_flagged}
    res["precision"] = tot["tp"] / tot["flagged"] if tot["flagged"] else None
    res["precision_shared_ok"] = ((tot["tp"] + tot["edge"] + tot["shared"]) / tot["flagged"]
                                  if tot["flagged"] else None)
    paired_flags = tot["flagged"] - tot["unpaired"]
    res["precision_labelled_pairs"] = ((tot["tp"] - tot["unpaired_tp"]) / paired_flags
                                       if passages and paired_flags else None)
    res["recall"] = tot["tp"] / tot["gold"] if tot["gold"] else None
    res["recall_kept"] = tot["tp_kept"] / tot["gold_kept"] if tot["gold_kept"] else None
    p, r = res["precision"], res["recall"]
    res["f1"] = 2 * p * r / (p + r) if p and r else None
    res["recall_by_subset"] = {s: v["tp"] / v["gold"] if v["gold"] else None
                               for s, v in per_subset.items()}
    res["fp_per_1k_negative"] = (1000 * tot["neg_flagged"] / tot["neg_chars"]
                                 if tot["neg_chars"] else None)
    res["missed_cases"] = missed_cases(docs, corpus, flag, kept, later_only=passages)
    return res


def missed_cases(docs: dict, corpus: dict, flag: dict, kept: set,
                 later_only: bool = False) -> dict:
    """Verbatim (02) cases between two surviving documents that are not flagged in full.

    A verbatim copy of ten or more tokens must be flagged on both sides (apart from the partial
    tokens at its cut edges), so each such case is worth looking at; near passages
    (``later_only``) flag only the side in the later document.
    """
    ids = set(corpus["ids"])
    order = {d: i for i, d in enumerate(corpus["ids"])}
    n, worst = 0, []
    for p in corpus["pairs"]:
        if (p["subset"] != POSITIVE[0] or p["susp"] not in ids or p["src"] not in ids
                or p["susp"] not in kept or p["src"] not in kept):
            continue
        for c in p["cases"]:
            sides = ((p["susp"], c["this_offset"], c["this_length"]),
                     (p["src"], c["source_offset"], c["source_length"]))
            if later_only:
                sides = (max(sides, key=lambda side: order[side[0]]),)
            for doc, off, ln in sides:
                solid = ~space_mask(docs[doc][off : off + ln])
                cover = float((flag[doc][off : off + ln] & solid).sum() / max(1, solid.sum()))
                if cover < 0.9:
                    n += 1
                    worst.append({"doc": doc, "offset": off, "length": ln,
                                  "covered": round(cover, 3), "pair": [p["susp"], p["src"]]})
    worst.sort(key=lambda w: w["covered"])
    return {"n": n, "examples": worst[:SHOW]}


def pan_part(args, snapshot: Path, workdir: Path) -> dict:
    import pyarrow as pa
    import pyarrow.parquet as pq

    docs, pairs = load_pan()
    corpora = pan_corpora(docs, pairs, args.max_pairs, args.seed)
    results: dict = {"verbatim_check": verbatim_check(docs, pairs), "corpora": {}, "runs": []}
    only_positive = {d for p in pairs if p["subset"] in POSITIVE for d in (p["susp"], p["src"])}
    for name in args.corpora:
        corpus = corpora[name]
        path = workdir / f"pan-{name}.parquet"
        pq.write_table(pa.table({"doc_id": corpus["ids"],
                                 "text": [docs[d] for d in corpus["ids"]]}), path)
        chars = sum(len(docs[d]) for d in corpus["ids"])
        # negatives: documents of 01 pairs that are in no positive pair of the whole data set
        negatives = ({d for p in corpus["pairs"] if p["subset"] == NEGATIVE
                      for d in (p["susp"], p["src"])} - only_positive) if name == "all" else (
                     set(corpus["ids"]) if name == "01" else set())
        results["corpora"][name] = {
            "pairs": len(corpus["pairs"]), "docs": len(corpus["ids"]), "chars": chars,
            "cases": sum(len(p["cases"]) for p in corpus["pairs"]),
            "stray_subsets": corpus["stray_subsets"], "negative_docs": len(negatives)}
        print(f"PAN corpus {name}: {len(corpus['pairs'])} pairs, {len(corpus['ids'])} docs, "
              f"{chars / 1e6:.1f} M chars", flush=True)
        if args.near_passages:
            settings = [(10, args.threshold, pt) for pt in args.passage_threshold]
        else:
            settings = [(k, args.threshold, None) for k in args.min_tokens]
            if name != "01" and args.default_threshold_run:
                settings.append((10, 0.75, None))
        for k, thr, pt in settings:
            label = f"{name}-k{k}-t{thr}" + (f"-p{pt}" if pt else "")
            run_dir = workdir / "pan-runs" / label
            options = ({**PASSAGE_OPTIONS, "passage_threshold": pt,
                        "passage_tokens": args.passage_tokens,
                        "passage_stride": args.passage_stride} if pt
                       else {**WINDOW_OPTIONS, "span_min_tokens": k})
            spec = {"inputs": [str(path)], "out": str(run_dir), "keep_output": True,
                    "result": str(workdir / "pan-result.json"),
                    "options": {**options, "threshold": thr,
                                "id_column": "doc_id", "on_bad_row": "reject",
                                "workers": args.pan_workers}}
            run = launch(spec, snapshot, workdir)
            scored = score_pan(docs, corpus, run_dir, k, negatives, passages=bool(pt))
            row = {"corpus": name, "min_tokens": k, "threshold": thr, "passages": pt,
                   "run_s": run["wall_s"], "stages": run["stages"], **scored}
            results["runs"].append(row)
            print(f"  {label}: {run['wall_s']:.1f} s, P {_f(row['precision'])} "
                  f"R {_f(row['recall'])} FP/1k {_f(row['fp_per_1k_negative'], 2)}", flush=True)
            for what, c in row["checks"].items():
                if c["n"]:
                    print(f"    span check {what}: {c['n']}; e.g. {c['examples'][:2]}")
    return results


def _setting(r: dict) -> str:
    """The k column: the window length, or ``p`` and the passage threshold."""
    return f"p{r['passages']}" if r.get("passages") else str(r["min_tokens"])


def _f(x, digits: int = 3) -> str:
    return "—" if x is None else f"{x:.{digits}f}"


def print_pan(res: dict) -> None:
    vc = res["verbatim_check"]
    print(f"\n02 cases equal to their source after folding whitespace: "
          f"{vc['equal_after_folding_whitespace']} of {vc['cases']}")
    print("\nCorpora: " + "; ".join(
        f"{n}: {c['pairs']} pairs, {c['docs']} docs, {c['chars'] / 1e6:.2f} M chars, "
        f"{c['cases']} cases" + (f", also pairs of {c['stray_subsets']}" if c["stray_subsets"]
                                  else "") for n, c in res["corpora"].items()))
    print("\n### Copied passages (PAN-13): non-space characters, flagged vs gold\n")
    print("| corpus | k | thr | docs kept | gold chars | flagged chars | P | R | R kept | F1 "
          "| non-gold flagged: edge / shared / unverified | P* | P pairs | R 02 | R 03 "
          "| run s |")
    print("|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|")
    for r in res["runs"]:
        if not r["gold"]:
            continue
        by = r["recall_by_subset"]
        print(f"| {r['corpus']} | {_setting(r)} | {r['threshold']} | {r['kept']}/{r['docs']} "
              f"| {r['gold']:,} | {r['flagged']:,} | {_f(r['precision'])} | {_f(r['recall'])} "
              f"| {_f(r['recall_kept'])} | {_f(r['f1'])} "
              f"| {r['edge']:,} / {r['shared']:,} / {r['unverified']:,} "
              f"| {_f(r['precision_shared_ok'])} | {_f(r.get('precision_labelled_pairs'))} "
              f"| {_f(by.get(POSITIVE[0]))} "
              f"| {_f(by.get(POSITIVE[1]))} | {r['run_s']:.1f} |")
    print("\n### Negatives (01-no-plagiarism): flags where nothing was copied\n")
    print("| corpus | k | thr | negative docs | chars | flagged chars | FP per 1k chars "
          "| docs with a flag | flagged & shared elsewhere |")
    print("|---|--:|--:|--:|--:|--:|--:|--:|--:|")
    for r in res["runs"]:
        if not r["neg_chars"]:
            continue
        print(f"| {r['corpus']} | {_setting(r)} | {r['threshold']} | {r['negative_docs']} "
              f"| {r['neg_chars']:,} | {r['neg_flagged']:,} | {_f(r['fp_per_1k_negative'], 2)} "
              f"| {r['negative_docs_flagged']} | {r['neg_shared']:,} |")
    bad = [(r["corpus"], r["min_tokens"], r["threshold"], w, c["n"]) for r in res["runs"]
           for w, c in r["checks"].items() if c["n"]]
    print("\nSpan checks: " + ("all passed" if not bad else "; ".join(map(str, bad))))
    missed = [(r["corpus"], r["min_tokens"], r["threshold"], r["missed_cases"]) for r in res["runs"]
              if r["missed_cases"]["n"]]
    print("Verbatim (02) case sides between surviving documents flagged < 90 %: "
          + ("none" if not missed else "; ".join(map(str, missed))))
    seen = set()
    for r in res["runs"]:
        key = (r["corpus"], r["threshold"])
        if r["removed"] and key not in seen:
            seen.add(key)
            print(f"{r['corpus']} at threshold {r['threshold']}: {len(r['removed'])} documents "
                  f"removed by document-level dedup: {sorted(r['removed'].items())}")


# --------------------------------------------------------------------------------------------
# part 2: cost of span detection
# --------------------------------------------------------------------------------------------


def corpus_paths(workdir: Path, snapshot: Path, n_docs: int, seed: int) -> tuple[list[str], int]:
    folder = workdir / f"synth-{n_docs}-s{seed}-{snapshot.name}"
    if not (folder / "_COMPLETE").exists():
        cmd = [sys.executable, os.path.abspath(__file__), "--make-corpus", str(folder),
               "--docs", str(n_docs), "--seed", str(seed)]
        subprocess.run(cmd, check=True, env=child_env(snapshot), cwd=workdir)
    meta = json.loads((folder / "_COMPLETE").read_text())
    return sorted(str(p) for p in folder.glob("part-*.parquet")), meta["text_bytes"]


def cost_part(args, snapshot: Path, workdir: Path) -> dict:
    out: dict = {"sizes": {}}
    for n in args.docs:
        paths, nbytes = corpus_paths(workdir, snapshot, n, args.seed)
        runs: dict = {}
        t0 = time.perf_counter()
        for rep in range(args.repeats):
            for workers in args.workers:
                for label, opts in COST_SETTINGS.items():
                    spec = {"inputs": paths, "out": str(workdir / "cost-run"),
                            "result": str(workdir / "cost-result.json"),
                            "options": {**opts, "workers": workers, "id_column": "id"}}
                    res = launch(spec, snapshot, workdir, args.quiet_wait)
                    runs.setdefault(f"{workers}|{label}", []).append(res)
                    print(f"  N={n} rep {rep + 1} workers={workers} {label}: "
                          f"{res['wall_s']:.2f} s, CPU {res['cpu_s']:.1f} s, "
                          f"tree {res['tree_peak_rss'] / MiB:.0f} MiB, "
                          f"cpu pressure {res['cpu_pressure']:.0%}", flush=True)
        out["sizes"][str(n)] = summarise_cost(runs, n, nbytes, time.perf_counter() - t0)
    return out


def summarise_cost(runs: dict, n: int, nbytes: int, seconds: float) -> dict:
    rows = {}
    for key, rs in runs.items():
        workers, label = key.split("|")
        stages = sorted({s for r in rs for s in r["stages"]})
        rows[key] = {
            "workers": int(workers), "setting": label, "options": COST_SETTINGS[label],
            "wall_s_all": [r["wall_s"] for r in rs],
            "wall_s": statistics.median(r["wall_s"] for r in rs),
            "cpu_s_all": [r["cpu_s"] for r in rs],
            "cpu_s": statistics.median(r["cpu_s"] for r in rs),
            "stages_s": {s: statistics.median(r["stages"].get(s, 0.0) for r in rs)
                         for s in stages},
            "peak_rss_main": max(r["peak_rss_main"] for r in rs),
            "peak_rss_worker": max(r["peak_rss_worker"] for r in rs),
            "tree_peak_rss": max(r["tree_peak_rss"] for r in rs),
            "cpu_pressure_all": [round(r["cpu_pressure"], 3) for r in rs],
            "counts": rs[0]["counts"], "spans": rs[0]["spans"],
            "spans_digests": sorted({r["spans_digest"] for r in rs}),
            "counts_agree": all(r["counts"] == rs[0]["counts"] for r in rs),
        }
    for row in rows.values():
        base = rows[f"{row['workers']}|a doc-only"]
        row["x_wall"] = row["wall_s"] / base["wall_s"]
        row["x_cpu"] = row["cpu_s"] / base["cpu_s"]
        row["x_tree_rss"] = row["tree_peak_rss"] / base["tree_peak_rss"]
    # the same setting must flag the same spans with one worker or two
    disagree = []
    for label in COST_SETTINGS:
        digests = {d for k, r in rows.items() if k.endswith("|" + label)
                   for d in r["spans_digests"]}
        if len(digests) > 1:
            disagree.append(label)
    return {"docs": n, "text_bytes": nbytes, "seconds": seconds, "rows": rows,
            "spans_disagree": disagree}


def print_cost(res: dict) -> None:
    print("\n### Cost of span detection (median of runs; x = ratio to a doc-only, same workers)\n")
    print("| N | workers | setting | wall s | x doc-only | CPU s | x CPU | sign | decide | spans "
          "| write | manifest | peak RSS main MiB | peak RSS worker MiB | tree peak MiB | x RSS "
          "| CPU pressure |")
    print("|--:|--:|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|")
    for n, size in res["sizes"].items():
        for r in sorted(size["rows"].values(), key=lambda r: (r["workers"], r["setting"])):
            st = r["stages_s"]
            print(f"| {int(n):,} | {r['workers']} | {r['setting']} | {r['wall_s']:.2f} "
                  f"| {r['x_wall']:.2f} | {r['cpu_s']:.1f} | {r['x_cpu']:.2f} "
                  f"| {st.get('sign', 0):.2f} | {st.get('decide', 0):.2f} "
                  f"| {st.get('spans', 0):.2f} | {st.get('write', 0):.2f} "
                  f"| {st.get('manifest', 0):.2f} | {r['peak_rss_main'] / MiB:.0f} "
                  f"| {r['peak_rss_worker'] / MiB:.0f} | {r['tree_peak_rss'] / MiB:.0f} "
                  f"| {r['x_tree_rss']:.2f} "
                  f"| {'/'.join(f'{p:.0%}' for p in r['cpu_pressure_all'])} |")
    for n, size in res["sizes"].items():
        if size["spans_disagree"]:
            print(f"N={n}: spans differ between runs of one setting: {size['spans_disagree']}")
        for r in size["rows"].values():
            if not r["counts_agree"]:
                print(f"N={n} {r['setting']} workers={r['workers']}: counts differ between runs")


# --------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--part", choices=("all", "pan", "cost"), default="all")
    parser.add_argument("--out-json", help="write every figure here")
    parser.add_argument("--workdir", default="/tmp/dedupe-bench-spans")
    parser.add_argument("--seed", type=int, default=0, help="corpus seed and PAN pair sample")
    pan = parser.add_argument_group("PAN-13")
    pan.add_argument("--corpora", nargs="+", choices=CORPORA, default=list(CORPORA))
    pan.add_argument("--min-tokens", nargs="+", type=int, default=[8, 10, 15])
    pan.add_argument("--threshold", type=float, default=0.95, help="near-duplicate threshold")
    pan.add_argument("--no-default-threshold-run", dest="default_threshold_run",
                     action="store_false", help="skip the extra runs at threshold 0.75, k=10")
    pan.add_argument("--max-pairs", type=int, default=0,
                     help="sample this many pairs per subset (0: all 1,000)")
    pan.add_argument("--pan-workers", type=int, default=1)
    pan.add_argument("--near-passages", action="store_true",
                     help="score near passages (--near-passages) instead of shared windows: "
                          "gold is the later side of every case")
    pan.add_argument("--passage-threshold", nargs="+", type=float, default=[0.42])
    pan.add_argument("--passage-tokens", type=int, default=40)
    pan.add_argument("--passage-stride", type=int, default=10)
    cost = parser.add_argument_group("cost")
    cost.add_argument("--docs", nargs="+", type=int, default=[20_000, 50_000])
    cost.add_argument("--repeats", type=int, default=3)
    cost.add_argument("--workers", nargs="+", type=int, default=[1, 2])
    cost.add_argument("--quiet-wait", type=float, default=30.0,
                      help="before each timed run wait up to this many seconds for CPU pressure "
                      f"(PSI avg10) below {QUIET_AVG10:g}%%; 0: do not wait")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--make-corpus", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return child_run(json.loads(args.child))
    if args.make_corpus:
        write_corpus(Path(args.make_corpus), args.docs[0], args.seed)
        return 0
    workdir = Path(args.workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    snapshot, tag = snapshot_dedupe(workdir, "dedupe")
    print(f"dedupe source {tag} (copied to {snapshot})", flush=True)
    t0 = time.perf_counter()
    result: dict = {"dedupe_source": tag, "argv": sys.argv[1:]}
    # timings first: the PAN part loads 30 MB of text into this process, whose RSS peak would
    # otherwise be inherited by every timed child's ru_maxrss
    if args.part in ("all", "cost"):
        result["cost"] = cost_part(args, snapshot, workdir)
        print_cost(result["cost"])
    if args.part in ("all", "pan"):
        result["pan"] = pan_part(args, snapshot, workdir)
        print_pan(result["pan"])
    result["failed_runs"] = FAILURES
    for f in FAILURES:
        print(f"failed run (tried again): {f['spec']['options']} at {f['when']}: {f['error']}")
    result["seconds"] = time.perf_counter() - t0
    print(f"\ntotal {result['seconds'] / 60:.1f} min")
    if args.out_json:
        Path(args.out_json).write_text(json.dumps(result, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
