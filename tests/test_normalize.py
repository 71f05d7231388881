"""Normalisation: variants a person would call the same text digest identically."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from dedupe.config import NormalizeConfig
from dedupe.near.exact import digests
from dedupe.text.codepoints import decode_utf8
from dedupe.text.normalize import canonical_codepoints, canonical_text
from dedupe.text.shingle import shingle_strings
from dedupe.text.tokens import tokenize

CFG = NormalizeConfig()


def digest_of(texts):
    cps, off = canonical_codepoints(pa.array(texts, pa.string()), CFG)
    return [tuple(d) for d in digests(cps, off)]


def test_case_quote_space_dash_variants_share_a_digest():
    variants = [
        "It's a \"great\" day - isn't it?",
        "IT\u2019S A \u201cGREAT\u201d DAY \u2014 ISN\u2019T IT?",
        "It's\u00a0a  \"great\"\tday \u2013 isn't\n\nit?  ",
        "\ufeffIt's a \u201cgreat\u201d day \u2212 isn\u2032t it?",
        "\uff29\uff54's a \"great\" day - isn't it?",
    ]
    d = digest_of(variants)
    assert len(set(d)) == 1, [canonical_text(v, CFG) for v in variants]


def test_different_words_do_not_share_a_digest():
    assert len(set(digest_of(["the cat sat", "the cat sat down", "the dog sat"]))) == 3


def test_switches_turn_steps_off():
    raw = "A\u00a0\u201cB\u201d"
    assert canonical_text(raw, NormalizeConfig(lowercase=False)) == 'A "B"'
    assert canonical_text(raw, NormalizeConfig(fold_punctuation=False)) == "a \u201cb\u201d"
    off = NormalizeConfig(
        nfkc=False, lowercase=False, fold_punctuation=False, fold_whitespace=False
    )
    assert canonical_text(raw, off) == raw


def test_combining_marks_compose_like_nfkc():
    # "e" + combining acute must equal the precomposed character after NFKC
    assert canonical_text("Cafe\u0301", CFG) == canonical_text("Caf\u00e9", CFG) == "caf\u00e9"


def test_letters_newer_than_the_python_are_normalised():
    """Characters of Unicode 14-16 (Python 3.10 knows 13.0, 3.13 knows 15.1) get their NFKC and
    lower-case mappings and count as letters under every Python: the Unicode data is pinned."""
    cases = {
        "\u2c2f": "\u2c5f",  # GLAGOLITIC CAPITAL LETTER CAUDATE CHRIVI (14.0) -> small
        "\U00010570": "\U00010597",  # VITHKUQI CAPITAL LETTER A (14.0) -> small
        "\ua7f2": "c",  # MODIFIER LETTER CAPITAL C (14.0): NFKC "C", then lower-cased
        "\U0001e030": "\u0430",  # MODIFIER LETTER CYRILLIC SMALL A (15.0): NFKC CYRILLIC a
        "\ua7dc": "\u019b",  # LATIN CAPITAL LETTER LAMBDA WITH STROKE (16.0) -> small
        "\U0001ccd6": "a",  # OUTLINED LATIN CAPITAL LETTER A (16.0): NFKC "A", lower-cased
    }
    for raw, want in cases.items():
        assert canonical_text(f"x{raw}y", CFG) == f"x{want}y", f"U+{ord(raw):04X}"
    cps, off = canonical_codepoints(pa.array(["ab\ua7dccd ok"]), CFG)
    starts, ends, _ = tokenize(cps, off)
    assert list(zip(starts.tolist(), ends.tolist())) == [(0, 5), (6, 8)]  # one word, not two


def test_every_space_separator_and_control_folds():
    """Whitespace is categories Zs, Zl, Zp and Cc: a run of them becomes one space."""
    text = "a\u2029b\u205fc\u1680d\x1fe\x85f\u2028 \u3000g"
    assert canonical_text(text, CFG) == "a b c d e f g"


def test_scripts_without_spaces_tokenise_per_character():
    for text in ["日本語のテキストです", "这是一个测试句子", "ภาษาไทยง่ายนิดเดียว"]:
        shingles = shingle_strings(canonical_text(text, CFG), "word", 3)
        assert len(shingles) >= len(text) - 3
        assert all(len(s.replace(" ", "")) == 3 for s in shingles)


def test_tokens_do_not_cross_documents():
    cps, off = decode_utf8(pa.array(["abc", "def", "", "g h"]))
    starts, ends, toff = tokenize(cps, off)
    assert toff.tolist() == [0, 1, 2, 2, 4]
    assert [(s, e) for s, e in zip(starts.tolist(), ends.tolist())] == [
        (0, 3),
        (3, 6),
        (6, 7),
        (8, 9),
    ]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.text(max_size=40), min_size=1, max_size=6))
def test_batch_equals_one_by_one_and_is_idempotent(texts):
    cps, off = canonical_codepoints(pa.array(texts, pa.string()), CFG)
    batch = [
        cps[off[i] : off[i + 1]].astype("<u4").tobytes().decode("utf-32-le")
        for i in range(len(texts))
    ]
    single = [canonical_text(t, CFG) for t in texts]
    assert batch == single
    for c in single:
        assert canonical_text(c, CFG) == c
        assert c == c.strip()
        assert "  " not in c


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=60))
def test_whitespace_and_case_never_split_a_digest(text):
    noisy = "  " + text.upper().replace(" ", " \u00a0\t ") + "\n"
    clean = text
    a, b = digest_of([noisy, clean])
    if canonical_text(text.upper(), CFG) == canonical_text(text, CFG):
        assert a == b


def test_decode_matches_python_on_mixed_text():
    texts = ["héllo wörld", "", "日本", "emoji \U0001f600 ok", None, "plain"]
    cps, off = decode_utf8(pa.array(texts, pa.string()))
    for i, t in enumerate(texts):
        got = cps[off[i] : off[i + 1]].astype("<u4").tobytes().decode("utf-32-le")
        assert got == (t or "")
    assert np.all(np.diff(off) >= 0)
