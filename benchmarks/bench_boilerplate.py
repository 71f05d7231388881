"""How much of a page's boilerplate does cross-page line counting find, and how much of what it
flags is really boilerplate?

``dedupe run`` flags a line (or multi-line paragraph) as boilerplate when its key occurs in at
least ``boilerplate_min_docs`` surviving pages. Unit tests check the mechanics on made-up text;
this script measures it on real pages against hand-made gold main text, so that the default of
``min_docs`` and the skeleton key can be judged on evidence. Data come from ``../shared/data``
(the script exits with a message where it is absent):

* ``cleaneval_dev``: 58 pages from unrelated sites with gold main content;
* ``cleanportaleval``: 71 news pages from five portals (BBC, WSJ blogs, MSNBC, two Washington
  Post blogs), where site chrome repeats across the pages of one portal;
* ``dolma_cc``: 697 Common Crawl pages, already text; an end-to-end run with the defaults
  (except ``on_bad_row="reject"``: 27 pages have empty text, which the default refuses) and the
  top 20 boilerplate lines of ``report.json`` (no gold exists for it).

**Page text.** Boilerplate is exactly what main-content extractors throw away, so
``trafilatura.extract`` (even with ``favor_recall``) would leave almost nothing to find, and
``trafilatura.html2txt`` folds the whole page onto one line (its ``basic_cleaning`` also drops
``<footer>`` and ``<aside>``). The script therefore parses each page with trafilatura's
``load_html`` (encoding detection, repair of broken markup), removes only what a browser does
not show (``<head>``, scripts, styles, ``<noscript>``, ``<template>``, ``<svg>``, comments) and
writes all remaining text, one line per block element (``p``, ``div``, ``li``, ``td``, ``br``,
headings, ...), whitespace folded inside a line, no blank lines (so dedupe's multi-line
paragraph keys never repeat here and every flagged span is one line). Both data sets wrap each
page in a ``<text id=URL title=... encoding=...>`` annotation element, which is stripped first
(trafilatura rejects the wrapped file as not HTML). ``--extractor recall`` runs
``trafilatura.extract(favor_recall=True, include_comments=True, include_tables=True)``
instead, to show how little boilerplate survives a main-content extractor.

**Gold rule.** The gold file loses its ``URL:`` header and its ``<p>``/``<h>``/``<l>`` markers,
HTML entities are decoded; gold and page lines are cut into lower-cased words (``\\w+``). The
page's word stream is aligned to the gold word stream in order (``difflib.SequenceMatcher``,
no auto-junk, so the article's own order decides which ``news`` in a menu matches). A page line
is *content* when at least 80 % of its words are aligned to gold words; every other line
(including lines with no word, such as ``|`` or ``>>``) is *boilerplate*. In-order alignment is
used instead of a substring test because a substring test calls a menu item such as "News" or
"Sport" content whenever the word occurs anywhere in the article.

**Scores** (over the pages that survive document-level dedup; spans exist only for them): a
page line is *flagged* when a ``kind == 'boilerplate'`` span of ``spans.parquet`` covers it.
Line precision = flagged boilerplate lines / flagged lines; line recall = flagged boilerplate
lines / boilerplate lines. The character figures weight each line by its length. *Ceiling*:
the share of boilerplate characters in lines whose exact key (lower case, whitespace folded,
digits masked) occurs in at least ``min_docs`` surviving pages: a line that is unique to one
page can never be found by counting across pages, so recall is read against this figure
(dedupe's skeleton key can pass it a little).

Every span is also checked against the text: it must start and end on the trimmed line
boundaries of the page (offsets are Python ``str`` indices); mismatches are printed.

    python benchmarks/bench_boilerplate.py --out-json /tmp/boilerplate.json
    python benchmarks/bench_boilerplate.py --sets cleanportaleval --min-docs 2 --show 30
"""

from __future__ import annotations

import argparse
import bisect
import difflib
import gzip
import html
import json
import re
import shutil
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import pyarrow.parquet as pq

import dedupe

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"
GOLD_SETS = ("cleaneval_dev", "cleanportaleval")
DOLMA = SHARED / "dolma_cc" / "CC-MAIN-20190717121559-20190717143559-00140.jsonl.gz"
CONTENT_SHARE = 0.8
_GOLD_MARKUP = re.compile(r"\A\s*URL:[^\n]*\n|</?[phl]>")
_WORD = re.compile(r"\w+")
_TEXT_WRAPPER = re.compile(rb"\A\s*<text\s[^>]*>|</text>\s*\Z")
_INVISIBLE = ("head", "script", "style", "noscript", "template", "svg", "iframe", "object")
_BLOCK = frozenset((
    "address", "article", "aside", "blockquote", "body", "br", "center", "dd", "details",
    "dialog", "dir", "div", "dl", "dt", "fieldset", "figcaption", "figure", "footer", "form",
    "frame", "frameset", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "html", "legend",
    "li", "main", "menu", "nav", "ol", "option", "p", "pre", "section", "select", "summary",
    "table", "tbody", "td", "textarea", "tfoot", "th", "thead", "title", "tr", "ul",
))


# --------------------------------------------------------------------------------------------
# page text and gold


def page_text(raw: bytes, extractor: str) -> str:
    """Visible text of a page, one line per block element (see the module docstring)."""
    import trafilatura
    from lxml import etree
    from trafilatura.utils import load_html

    raw = _TEXT_WRAPPER.sub(b"", raw)  # CleanEval's <text id=URL title=...> annotation
    if b"<html" not in raw[:4096].lower():  # a bare fragment: trafilatura wants a document
        raw = b"<html><body>" + raw + b"</body></html>"
    if extractor == "recall":
        return trafilatura.extract(raw, favor_recall=True, include_comments=True,
                                   include_tables=True, deduplicate=False) or ""
    tree = load_html(raw)
    if tree is None:
        return ""
    for elem in tree.xpath("|".join(f"//{tag}" for tag in _INVISIBLE)):
        _drop(elem)
    for elem in tree.xpath("//comment()|//processing-instruction()"):
        _drop(elem)
    parts: list[str] = []
    for event, elem in etree.iterwalk(tree, events=("start", "end")):
        block = isinstance(elem.tag, str) and elem.tag.lower() in _BLOCK
        if block:
            parts.append("\n")
        if event == "start":
            parts.append(elem.text or "")
        elif elem is not tree:
            parts.append(elem.tail or "")
    lines = (" ".join(line.split()) for line in "".join(parts).split("\n"))
    return "\n".join(line for line in lines if line)


def _drop(elem) -> None:
    """Remove an element but keep its tail text, which belongs to the parent."""
    parent = elem.getparent()
    if parent is None:
        return
    tail = elem.tail
    prev = elem.getprevious()
    if tail:
        if prev is not None:
            prev.tail = (prev.tail or "") + tail
        else:
            parent.text = (parent.text or "") + tail
    parent.remove(elem)


def gold_words(path: Path) -> list[str]:
    """Lower-cased words of a gold file, without its header, markers and entities."""
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")
    text = html.unescape(_GOLD_MARKUP.sub(" ", text))
    return _WORD.findall(text.lower())


def page_lines(text: str) -> list[tuple[int, int]]:
    """``(start, end)`` of every non-blank line, trimmed, as Python ``str`` indices."""
    out = []
    pos = 0
    for line in text.split("\n"):
        stripped = line.strip()
        if stripped:
            lead = len(line) - len(line.lstrip())
            out.append((pos + lead, pos + lead + len(stripped)))
        pos += len(line) + 1
    return out


def label_lines(text: str, lines: list[tuple[int, int]], gold: list[str]) -> list[bool]:
    """``True`` for a boilerplate line: under 80 % of its words aligned in order to the gold."""
    words: list[str] = []
    owner: list[int] = []
    for i, (s, e) in enumerate(lines):
        w = _WORD.findall(text[s:e].lower())
        words += w
        owner += [i] * len(w)
    aligned = [0] * len(lines)
    matcher = difflib.SequenceMatcher(None, words, gold, autojunk=False)
    for a, _, size in matcher.get_matching_blocks():
        for k in range(a, a + size):
            aligned[owner[k]] += 1
    totals = Counter(owner)
    return [totals[i] == 0 or aligned[i] < CONTENT_SHARE * totals[i] for i in range(len(lines))]


def line_key(line: str) -> str:
    """A plain stand-in for dedupe's exact key: lower case, whitespace folded, digits masked."""
    return re.sub(r"\d", "0", " ".join(line.lower().split()))


# --------------------------------------------------------------------------------------------
# running dedupe and scoring


def write_jsonl(rows: list[dict], path: Path) -> None:
    with path.open("w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")


def run_dedupe(path: Path, out: Path, engine: dict, **over) -> tuple[dict, float]:
    """One ``dedupe.run``; returns the parsed ``report.json`` and the wall time."""
    t0 = time.perf_counter()
    dedupe.run([str(path)], str(out), id_column="id", overwrite=True, **engine, **over)
    seconds = time.perf_counter() - t0
    return json.loads((out / "report.json").read_text(encoding="utf-8")), seconds


def kept_ids(out: Path) -> set[str]:
    manifest = pq.read_table(out / "manifest.parquet", columns=["id", "action"]).to_pylist()
    return {r["id"] for r in manifest if r["action"] == "kept"}


def read_spans(out: Path) -> dict[str, list[tuple[int, int, int]]]:
    """Boilerplate spans per id: ``(start, end, count)`` sorted by start."""
    path = out / "spans.parquet"
    spans: dict[str, list[tuple[int, int, int]]] = {}
    if not path.exists():
        return spans
    for r in pq.read_table(path).to_pylist():
        if r["kind"] == "boilerplate":
            spans.setdefault(r["id"], []).append((r["start"], r["end"], r["count"]))
    for v in spans.values():
        v.sort()
    return spans


def check_offsets(doc_id: str, text: str, lines: list[tuple[int, int]],
                  spans: list[tuple[int, int, int]], problems: list[str]) -> None:
    """A span must start on a line start and end on a line end of the same page."""
    starts = {s for s, _ in lines}
    ends = {e for _, e in lines}
    for s, e, _ in spans:
        if not (0 <= s < e <= len(text)) or s not in starts or e not in ends:
            snippet = text[max(s, 0):min(e, len(text))][:60]
            problems.append(f"{doc_id}: span [{s}, {e}) is not on line boundaries "
                            f"(len {len(text)}): {snippet!r}")


def covered(lines: list[tuple[int, int]], spans: list[tuple[int, int, int]]) -> list[bool]:
    """Which lines lie inside some span (spans sorted by start)."""
    starts = [s for s, _, _ in spans]
    reach = []
    best = -1
    for _, e, _ in spans:
        best = max(best, e)
        reach.append(best)
    out = []
    for s, e in lines:
        i = bisect.bisect_right(starts, s) - 1
        out.append(i >= 0 and reach[i] >= e)
    return out


def score(docs: dict[str, str], labels: dict[str, list[bool]],
          lines: dict[str, list[tuple[int, int]]], out: Path, min_docs: int,
          problems: list[str], show: int) -> dict:
    """Line and character precision / recall, and the cross-page ceiling, over kept pages."""
    kept = kept_ids(out)
    spans = read_spans(out)
    for doc_id in spans.keys() - kept:
        problems.append(f"{doc_id}: boilerplate spans reported for a page that was not kept")
    key_docs: dict[str, set[str]] = {}
    for doc_id in kept:
        text = docs[doc_id]
        for s, e in lines[doc_id]:
            key_docs.setdefault(line_key(text[s:e]), set()).add(doc_id)
    c = Counter()
    examples: list[tuple[bool, str]] = []
    for doc_id in sorted(kept):
        text = docs[doc_id]
        doc_spans = spans.get(doc_id, [])
        check_offsets(doc_id, text, lines[doc_id], doc_spans, problems)
        flags = covered(lines[doc_id], doc_spans)
        for (s, e), bp, fl in zip(lines[doc_id], labels[doc_id], flags, strict=True):
            n = e - s
            reachable = len(key_docs[line_key(text[s:e])]) >= min_docs
            c["lines"] += 1
            c["chars"] += n
            c["bp_lines"] += bp
            c["bp_chars"] += n * bp
            c["flag_lines"] += fl
            c["flag_chars"] += n * fl
            c["tp_lines"] += fl and bp
            c["tp_chars"] += n * (fl and bp)
            c["reach_chars"] += n * (bp and reachable)
            if fl:
                examples.append((bp, text[s:e]))
    ratio = lambda a, b: c[a] / c[b] if c[b] else float("nan")  # noqa: E731
    if show:
        fps = Counter(t for bp, t in examples if not bp)
        print(f"\n  flagged lines that the gold calls content (top {show}):")
        for t, n in fps.most_common(show):
            print(f"    {n:4d}  {t[:100]}")
    return {
        "pages": len(docs), "kept_pages": len(kept), "lines": c["lines"],
        "boilerplate_lines": c["bp_lines"], "boilerplate_char_share": ratio("bp_chars", "chars"),
        "flagged_lines": c["flag_lines"], "flagged_chars": c["flag_chars"],
        "line_precision": ratio("tp_lines", "flag_lines"),
        "line_recall": ratio("tp_lines", "bp_lines"),
        "char_precision": ratio("tp_chars", "flag_chars"),
        "char_recall": ratio("tp_chars", "bp_chars"),
        "ceiling": ratio("reach_chars", "bp_chars"),
    }


def load_gold_set(name: str, extractor: str) -> tuple[dict[str, str], dict[str, list[str]]]:
    """Page texts and gold words by file stem, for the pages that have both."""
    root = SHARED / name
    docs, gold = {}, {}
    for html_path in sorted((root / "input").glob("*.html")):
        gold_path = root / "GoldStandard" / f"{html_path.stem}.txt"
        if not gold_path.exists():
            continue
        text = page_text(html_path.read_bytes(), extractor)
        if not text:
            print(f"  {name}/{html_path.name}: no text extracted, skipped", file=sys.stderr)
            continue
        docs[html_path.stem] = text
        gold[html_path.stem] = gold_words(gold_path)
    return docs, gold


def gold_benchmark(name: str, args, tmp: Path, problems: list[str]) -> list[dict]:
    t0 = time.perf_counter()
    docs, gold = load_gold_set(name, args.extractor)
    t_extract = time.perf_counter() - t0
    lines = {k: page_lines(v) for k, v in docs.items()}
    t0 = time.perf_counter()
    labels = {k: label_lines(docs[k], lines[k], gold[k]) for k in docs}
    t_label = time.perf_counter() - t0
    path = tmp / f"{name}.jsonl"
    write_jsonl([{"id": k, "text": v} for k, v in docs.items()], path)
    print(f"{name}: {len(docs)} pages, {sum(map(len, lines.values())):,} lines, "
          f"extract {t_extract:.1f} s, gold labels {t_label:.1f} s")
    rows = []
    for min_docs in args.min_docs:
        out = tmp / f"{name}-md{min_docs}"
        _, seconds = run_dedupe(path, out, args.engine, spans=False, boilerplate=True,
                                boilerplate_min_docs=min_docs, boilerplate_policy="all",
                                remove_spans=False)
        row = {"set": name, "min_docs": min_docs, "dedupe_seconds": round(seconds, 2)}
        row |= score(docs, labels, lines, out, min_docs, problems, args.show)
        rows.append(row)
        print(f"  min_docs {min_docs}: dedupe {seconds:.2f} s, {row['flagged_lines']} lines "
              f"flagged, {row['kept_pages']}/{row['pages']} pages kept")
    return rows


def dolma_benchmark(args, tmp: Path, problems: list[str]) -> dict:
    """End-to-end run on real CC text with the defaults (empty rows rejected); the top 20 lines."""
    out = tmp / "dolma_cc"
    # the shard holds a page with empty text, which the default policy refuses to read
    report, seconds = run_dedupe(DOLMA, out, args.engine, on_bad_row="reject")
    with gzip.open(DOLMA, "rt", encoding="utf-8") as fh:
        texts = {str(r["id"]): r["text"] for r in map(json.loads, fh)}
    spans = read_spans(out)
    kept = kept_ids(out)
    for doc_id, doc_spans in spans.items():
        if doc_id not in kept:
            problems.append(f"dolma {doc_id}: boilerplate spans on a page that was not kept")
        check_offsets(f"dolma {doc_id}", texts[doc_id], page_lines(texts[doc_id]), doc_spans,
                      problems)
    # digits are masked in the exact key, so every number-only line of one length shares a key
    numeric = [texts[i][s:e] for i, v in spans.items() for s, e, _ in v
               if re.fullmatch(r"[\d\s.,:/-]+", texts[i][s:e])]
    sp = report.get("spans", {})
    top = [{"docs": t["docs"], "text": t.get("text")} for t in sp.get("top_boilerplate") or []]
    actions = Counter(r["action"] for r in
                      pq.read_table(out / "manifest.parquet", columns=["action"]).to_pylist())
    return {"set": "dolma_cc", "pages": len(texts), "dedupe_seconds": round(seconds, 2),
            "actions": dict(actions), "boilerplate": sp.get("boilerplate"),
            "repeat": sp.get("repeat"), "number_only_spans": len(numeric),
            "number_only_examples": Counter(numeric).most_common(10),
            "top_boilerplate": top[:20]}


def fmt(x: float) -> str:
    return "n/a" if x != x else f"{x:.3f}"


def markdown(rows: list[dict]) -> str:
    head = ("| data set | min_docs | pages (kept) | flagged lines | line precision | line recall "
            "| char precision | char recall | ceiling |")
    out = [head, "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        out.append(f"| {r['set']} | {r['min_docs']} | {r['pages']} ({r['kept_pages']}) "
                   f"| {r['flagged_lines']:,} | {fmt(r['line_precision'])} "
                   f"| {fmt(r['line_recall'])} | {fmt(r['char_precision'])} "
                   f"| {fmt(r['char_recall'])} | {fmt(r['ceiling'])} |")
    return "\n".join(out)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sets", nargs="+", default=[*GOLD_SETS, "dolma_cc"],
                        choices=[*GOLD_SETS, "dolma_cc"])
    parser.add_argument("--min-docs", nargs="+", type=int, default=[2, 3])
    parser.add_argument("--extractor", choices=("full", "recall"), default="full",
                        help="full: all visible text (default); recall: trafilatura.extract")
    parser.add_argument("--workers", type=int, default=None,
                        help="dedupe workers (default: the serial engine, in this process)")
    parser.add_argument("--show", type=int, default=0,
                        help="print the N most common flagged lines that the gold calls content")
    parser.add_argument("--out-json", type=Path, default=None)
    parser.add_argument("--keep", type=Path, default=None,
                        help="write the JSONL inputs and run folders here and keep them")
    args = parser.parse_args()
    args.engine = {"engine__name": "serial"} if args.workers is None else {"workers": args.workers}
    needed = [SHARED / s for s in args.sets if s in GOLD_SETS]
    needed += [DOLMA] if "dolma_cc" in args.sets else []
    missing = [str(p) for p in needed if not p.exists()]
    if missing:
        print(f"shared data not found: {', '.join(missing)}; nothing to measure", file=sys.stderr)
        return 1
    try:
        import trafilatura  # noqa: F401
    except ImportError as exc:
        # trafilatura 2.x imports justext, which needs lxml's html cleaner as a separate package
        print(f"trafilatura is needed (pip install trafilatura lxml_html_clean): {exc}",
              file=sys.stderr)
        return 1

    begin = time.perf_counter()
    tmp = args.keep or Path(tempfile.mkdtemp(prefix="bench-boilerplate-"))
    tmp.mkdir(parents=True, exist_ok=True)
    problems: list[str] = []
    rows: list[dict] = []
    dolma = None
    try:
        for name in args.sets:
            if name in GOLD_SETS:
                rows += gold_benchmark(name, args, tmp, problems)
        if "dolma_cc" in args.sets:
            dolma = dolma_benchmark(args, tmp, problems)
    finally:
        if args.keep is None:
            shutil.rmtree(tmp, ignore_errors=True)
    total = time.perf_counter() - begin

    if rows:
        print(f"\nextractor: {args.extractor}\n")
        print(markdown(rows))
    if dolma:
        print(f"\ndolma_cc: {dolma['pages']} pages, dedupe {dolma['dedupe_seconds']} s, "
              f"actions {dolma['actions']}, boilerplate {dolma['boilerplate']}")
        print(f"number-only boilerplate spans: {dolma['number_only_spans']} "
              f"(most common {dolma['number_only_examples'][:5]})\n")
        print("| docs | line |\n|---:|---|")
        for t in dolma["top_boilerplate"]:
            text = (t["text"] or "").replace("|", "\\|").replace("\n", " / ")
            print(f"| {t['docs']} | {text[:100]} |")
    if problems:
        print(f"\n{len(problems)} span problems:")
        for p in problems[:20]:
            print(f"  {p}")
    print(f"\ntotal {total:.1f} s")
    if args.out_json:
        args.out_json.write_text(json.dumps(
            {"extractor": args.extractor, "gold_rule": f"content if >= {CONTENT_SHARE:.0%} of a "
             "line's words align in order to the gold words, otherwise boilerplate",
             "rows": rows, "dolma_cc": dolma, "problems": problems,
             "seconds": round(total, 1)}, indent=2, ensure_ascii=False), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
