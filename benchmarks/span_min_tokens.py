"""How often does ``find_repeats`` flag text inside real pages, for each ``min_tokens``?

Two data sets from ``../shared/data`` (the script exits with a message where it is absent):

* ``dolma_cc``: 697 Common Crawl pages as extracted; they hold real in-page repeats (menus,
  re-pasted snippets) as well as natural phrases that recur.
* ``cleaneval_dev`` gold texts: hand-cleaned main content of 58 pages, where a flagged span is
  almost always a false positive. The ``URL:`` header and the ``<p>``/``<h>``/``<l>`` markers
  of the gold format are removed first; they are annotation, not page text.

For each ``min_tokens`` and for exact-only and near search it prints the share of pages with
at least one flagged span and flagged characters over all characters. ``--show N`` prints the
flagged spans at ``min_tokens = N`` for reading.

    python benchmarks/span_min_tokens.py [--show 10]
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import sys
import time
from pathlib import Path

from dedupe.spans import find_repeats, tokenize_offsets

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"
DOLMA = SHARED / "dolma_cc" / "CC-MAIN-20190717121559-20190717143559-00140.jsonl.gz"
CLEANEVAL = SHARED / "cleaneval_dev" / "GoldStandard"
SIZES = (5, 8, 10, 13, 15, 20)
_GOLD_MARKUP = re.compile(r"\A\s*URL:[^\n]*\n|<[phl]>")


def load_dolma() -> list[str]:
    with gzip.open(DOLMA, "rt", encoding="utf-8") as fh:
        return [json.loads(line)["text"] for line in fh]


def load_cleaneval() -> list[str]:
    paths = sorted(CLEANEVAL.glob("*.txt"), key=lambda p: int(p.stem) if p.stem.isdigit() else 0)
    return [_GOLD_MARKUP.sub("", p.read_text(encoding="utf-8", errors="replace")) for p in paths]


def measure(texts: list[str], min_tokens: int, near: bool) -> tuple[float, float, float]:
    """(share of pages flagged, share of characters flagged, seconds)."""
    flagged_pages = flagged_chars = 0
    begin = time.perf_counter()
    for text, tokens in texts:
        spans = find_repeats(text, min_tokens=min_tokens, near=near, tokens=tokens)
        flagged_pages += len(spans) > 0
        flagged_chars += int((spans.end - spans.start).sum())
    total_chars = sum(len(text) for text, _ in texts)
    return flagged_pages / len(texts), flagged_chars / total_chars, time.perf_counter() - begin


def show(name: str, texts: list[tuple[str, tuple]], min_tokens: int) -> None:
    for i, (text, tokens) in enumerate(texts):
        spans = find_repeats(text, min_tokens=min_tokens, tokens=tokens)
        for start, end, first in zip(spans.start, spans.end, spans.first_start, strict=True):
            snippet = " ".join(text[start:end].split())[:90]
            print(f"{name}[{i}] {start}-{end} (first {first}): {snippet}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--show", type=int, default=0, help="print spans at this min_tokens")
    args = parser.parse_args()
    if not DOLMA.exists() or not CLEANEVAL.exists():
        print(f"shared data not found under {SHARED}; nothing to measure", file=sys.stderr)
        return 1
    sets = {}
    for name, texts in (("dolma_cc", load_dolma()), ("cleaneval_gold", load_cleaneval())):
        sets[name] = [(text, tokenize_offsets(text)) for text in texts]
    if args.show:
        for name, texts in sets.items():
            show(name, texts, args.show)
        return 0
    print("| data set | pages | min_tokens | mode | pages flagged | chars flagged | time (s) |")
    print("|---|---:|---:|---|---:|---:|---:|")
    for name, texts in sets.items():
        for min_tokens in SIZES:
            for near in (False, True):
                pages, chars, secs = measure(texts, min_tokens, near)
                mode = "near" if near else "exact"
                print(
                    f"| {name} | {len(texts)} | {min_tokens} | {mode} | {pages:.1%} "
                    f"| {chars:.2%} | {secs:.2f} |"
                )
    return 0


if __name__ == "__main__":
    sys.exit(main())
