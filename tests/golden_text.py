"""A small corpus of tricky text and everything dedupe computes from it, for ``golden/text.json``.

Each document is short and says what it tests. For every document the golden file holds the
canonical text under each normalisation of ``CONFIGS``, the word tokens, the 128-bit digest,
the first values of the MinHash signatures of ``SIGNATURES``, the span tokens (raw, normalised,
hash) and the boilerplate keys of each line and paragraph: the values that are stored in sign
files and indexes and compared across runs. A person can read the canonical forms and tokens
and see what a change did; the hashes pin the rest bit for bit.

``test_golden.py`` compares these values with the file under the running Python and, where
other Pythons are installed, under each of them (their Unicode versions differ; the values must
not). Regenerate the file after a deliberate change (and bump the scheme it changes, see
``dedupe/schemes.py``)::

    python -m tests.golden_text --write
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa

from dedupe.config import NormalizeConfig
from dedupe.near.exact import digests
from dedupe.near.minhash import signatures
from dedupe.schemes import schemes
from dedupe.spans.boilerplate import line_keys_from_tokens
from dedupe.spans.tokens import batch_tokens
from dedupe.text import ucd
from dedupe.text.normalize import canonical_codepoints, canonical_text
from dedupe.text.shingle import shingle_batch
from dedupe.text.tokens import tokenize

GOLDEN = Path(__file__).resolve().parent / "golden" / "text.json"

# (what it tests, text). Unicode versions: 3.10 ships 13.0, 3.11 14.0, 3.12 15.0, 3.13 15.1.
DOCUMENTS = [
    ("plain ASCII with a copyright line",
     "The quick brown fox jumps over the lazy dog.\n(c) 2021 The Larchmont Journal. All rights "
     "reserved."),
    ("Hangul jamo compose into syllables (whole-document NFKC)",
     "\u1100\u1161\u11a8 \u1112\u1161\u11ab\u1100\u116e\u11a8 and \ud55c\uad6d"),
    ("combining accents compose; capitals lower-case",
     "cafe\u0301 CAFE\u0301 re\u0301sume\u0301 Cafe\u0301"),
    ("letters new in Unicode 14.0: Glagolitic capital caudate chrivi, Latin capital old Polish o, "
     "Vithkuqi capital a",
     "\u2c2fabc \ua7c0ld P\ua7c0lish \U00010570lbanian\n\u2c2f Capital lines Keep their shape "
     "here"),
    ("modifier letters new in Unicode 14.0 (NFKC to C, F, Q) and 15.0 (Cyrillic a, be, ve)",
     "\ua7f2\ua7f3\ua7f4 and \U0001e030\U0001e031\U0001e032 modifiers"),
    ("letters new since Unicode 15.1: Latin capital rams horn, lambda with stroke, outlined A B, "
     "Armenian modifier small eh",
     "\ua7cbams \ua7dcambda \U0001ccd6\U0001ccd7 \u0558"),
    ("special casing: dotted capital I, final sigma, sharp s, ligature",
     "\u0130stanbul \u039f\u0394\u03a5\u03a3\u03a3\u0395\u038e\u03a3 Stra\u00dfe STRASSE "
     "\ufb01ne"),
    ("fullwidth letters, curly quotes, dashes, minus, zero-width and soft hyphen",
     "\uff26\uff2f\uff2f \u201cquoted\u201d \u2018single\u2019 a\u2013b c\u2014d 3\u22121 "
     "zero\u200bwidth soft\u00adhyphen"),
    ("scripts written without spaces, emoji and a flag",
     "\u4e2d\u6587\u65e5\u672c\u8a9e \u0e20\u0e32\u0e29\u0e32\u0e44\u0e17\u0e22 "
     "\U0001f600 \U0001f1eb\U0001f1f7 \U00020000"),
    ("whitespace runs: ideographic space, no-break space, line separator, tabs, controls",
     "  one\u3000two\u00a0three\u2028four\t\tfive\x85six\x00seven  "),
    ("compatibility characters: square MHz, vulgar fraction, Roman numeral twelve, ellipsis",
     "\u3392 \u00bd \u216b wait\u2026"),
    ("a repeated paragraph, for span tokens and paragraph keys",
     "Related articles\nHow to bake bread\nHow to bake bread\n\nRelated articles\nHow to bake "
     "bread"),
]

# name -> NormalizeConfig; the first is the default
CONFIGS = {
    "default": NormalizeConfig(),
    "off": NormalizeConfig(nfkc=False, lowercase=False, fold_punctuation=False,
                           fold_whitespace=False),
    "whitespace only": NormalizeConfig(nfkc=False, lowercase=False, fold_punctuation=False),
    "no nfkc": NormalizeConfig(nfkc=False),
    "no whitespace folding": NormalizeConfig(fold_whitespace=False),
}

# name -> (config name, shingle kind, n, num_perm, seed); first FIRST_VALUES values are kept
SIGNATURES = {
    "default word 3, 128 perm, seed 1": ("default", "word", 3, 128, 1),
    "default char 5, 64 perm, seed 7": ("default", "char", 5, 64, 7),
    "off word 2, 16 perm, seed 3": ("off", "word", 2, 16, 3),
    "whitespace only word 1, 8 perm, seed 0": ("whitespace only", "word", 1, 8, 0),
    "no nfkc char 3, 32 perm, seed 1": ("no nfkc", "char", 3, 32, 1),
    "no whitespace folding word 5, 128 perm, seed 1": ("no whitespace folding", "word", 5, 128, 1),
}
FIRST_VALUES = 4


def _text(cps: np.ndarray) -> str:
    return cps.astype("<u4").tobytes().decode("utf-32-le")


def _hex(value) -> str:
    return f"{int(value):016x}"


def golden() -> dict:
    """Everything the golden file records, computed by the code as it stands."""
    texts = [text for _, text in DOCUMENTS]
    arr = pa.array(texts, pa.string())
    docs = [{"about": about, "text": text, "canonical": {}} for about, text in DOCUMENTS]
    canon = {}
    for name, cfg in CONFIGS.items():
        canon[name] = canonical_codepoints(arr, cfg)
        for i, doc in enumerate(docs):
            doc["canonical"][name] = canonical_text(texts[i], cfg)
    cps, offsets = canon["default"]
    starts, ends, tok_offsets = tokenize(cps, offsets)
    dig = digests(cps, offsets)
    for i, doc in enumerate(docs):
        lo, hi = tok_offsets[i], tok_offsets[i + 1]
        doc["tokens"] = [_text(cps[s:e]) for s, e in zip(starts[lo:hi], ends[lo:hi])]
        doc["digest"] = _hex(dig[i, 0]) + _hex(dig[i, 1])
        doc["signatures"] = {}
    for name, (cfg_name, kind, n, num_perm, seed) in SIGNATURES.items():
        cps, offsets = canon[cfg_name]
        sh = shingle_batch(cps, offsets, kind, n)
        sig = signatures(sh.hashes, sh.offsets, num_perm, seed)
        for i, doc in enumerate(docs):
            doc["signatures"][name] = sig[i, :FIRST_VALUES].tolist()
    _span_values(arr, docs)
    return {
        "regenerate": "python -m tests.golden_text --write",
        "schemes": schemes(),
        "documents": docs,
    }


def _span_values(arr: pa.Array, docs: list[dict]) -> None:
    """Span tokens (raw, normalised, hash) and the boilerplate keys of every line/paragraph."""
    tokens = batch_tokens(arr)
    lines = line_keys_from_tokens(tokens)
    for i, doc in enumerate(docs):
        starts, ends, hashes = tokens.doc_tokens(i)
        text = doc["text"]
        doc["span_tokens"] = [
            [text[s:e], ucd.casefold(ucd.nfkc(text[s:e])), _hex(h)]
            for s, e, h in zip(starts.tolist(), ends.tolist(), hashes.tolist())
        ]
        mine = np.flatnonzero(lines.doc == i)
        doc["line_keys"] = [
            [text[lines.start[j] : lines.end[j]], _hex(lines.exact[j]), _hex(lines.skeleton[j])]
            for j in mine.tolist()
        ]


def _shown(ch: str) -> str:
    """``ch`` as the file writes it: escaped when it would be invisible or merge with others."""
    cp = ord(ch)
    jamo = 0x1100 <= cp <= 0x11FF or 0xA960 <= cp <= 0xA97F or 0xD7B0 <= cp <= 0xD7FF
    if ch == " " or not (jamo or ucd.category(ch)[0] in "MCZ"):
        return ch
    if cp > 0xFFFF:
        high, low = divmod(cp - 0x10000, 0x400)
        return f"\\u{0xD800 + high:04x}\\u{0xDC00 + low:04x}"
    return f"\\u{cp:04x}"


def _layout(value, depth: int = 0) -> str:
    """JSON with one key per line and every list of plain values on one line."""
    pad = "  " * (depth + 1)
    if isinstance(value, dict):
        items = [f"{pad}{json.dumps(k)}: {_layout(v, depth + 1)}" for k, v in value.items()]
        return "{\n" + ",\n".join(items) + "\n" + "  " * depth + "}"
    if isinstance(value, list) and any(isinstance(v, (dict, list)) for v in value):
        items = [pad + _layout(v, depth + 1) for v in value]
        return "[\n" + ",\n".join(items) + "\n" + "  " * depth + "]"
    return json.dumps(value, ensure_ascii=False)


def dumps(values: dict) -> str:
    """The file's text: JSON with non-ASCII written as itself so a person can read it, except
    marks, controls, format characters, separators and conjoining jamo, which are escaped (they
    would be invisible, or display merged with their neighbours)."""
    text = _layout(values)
    return "".join(_shown(ch) if ord(ch) > 0x7E else ch for ch in text) + "\n"


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description="golden values of the tricky-text corpus")
    parser.add_argument("--write", action="store_true", help=f"write {GOLDEN}")
    args = parser.parse_args(argv)
    text = dumps(golden())
    if args.write:
        GOLDEN.write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)


if __name__ == "__main__":
    main()
