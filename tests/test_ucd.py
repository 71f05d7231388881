"""The pinned Unicode data: the shipped case table, whitespace and letters, and version checks."""

from __future__ import annotations

import re
import sys
import unicodedata
from pathlib import Path

import pytest

from dedupe.errors import DedupeError
from dedupe.text import ucd

ROOT = Path(__file__).resolve().parents[1]


def _assigned_here():
    """Code points this Python's own Unicode data assigns (surrogates left out)."""
    for cp in range(0x110000):
        ch = chr(cp)
        if not 0xD800 <= cp < 0xE000 and unicodedata.category(ch) != "Cn":
            yield ch


def test_case_table_equals_this_python_where_both_know_the_character():
    """Case pairs are stable across Unicode versions, so on every character this Python knows
    the table must give exactly ``str.lower``, ``str.casefold`` and ``str.isupper``; a table
    decoded wrongly, or cut short, differs somewhere."""
    upper = ucd.upper_mask(0x110000)
    wrong = [
        f"U+{ord(ch):04X}"
        for ch in _assigned_here()
        if (ucd.lower(ch), ucd.casefold(ch), bool(upper[ord(ch)]))
        != (ch.lower(), ch.casefold(), ch.isupper())
    ]
    assert not wrong, f"{len(wrong)} differ, first {wrong[:10]}"


def test_long_texts_map_like_each_character_alone():
    """A long text is mapped by a gather over its code points, a short one (and so each single
    character above) by ``str.translate``: both must agree on every code point, lone surrogates
    and code points past the table included, and on characters that map to several."""
    everything = "".join(map(chr, range(0x110000)))
    for fn in (ucd.lower, ucd.casefold):
        assert fn(everything) == "".join(fn(ch) for ch in everything)
    assert ucd.casefold("Stra\u00dfe " * 20) == "strasse " * 20


def test_case_table_knows_letters_newer_than_this_python():
    # LATIN CAPITAL LETTER LAMBDA WITH STROKE (16.0) and GARAY CAPITAL LETTER A (16.0)
    assert ucd.lower("\ua7dc\U00010d50") == "\u019b\U00010d70"
    assert ucd.casefold("\ua7dc") == "\u019b"
    assert ucd.upper_mask(0x110000)[0xA7DC] and not ucd.upper_mask(0x110000)[0x019B]
    # full mappings: one character becomes two
    assert ucd.lower("\u0130") == "i\u0307" and ucd.casefold("Stra\u00dfe") == "strasse"


def test_whitespace_and_alphanumerics_equal_this_pythons():
    """``str.isspace`` (and ``split``, ``strip``, ``re``'s ``\\s``) still serve per-document
    span code; they must agree with the pinned rule on every code point, and ``is_alnum`` with
    ``str.isalnum`` wherever this Python knows the character."""
    spaces = [cp for cp in range(0x110000) if ucd.is_space(chr(cp)) != chr(cp).isspace()]
    assert not spaces, [hex(cp) for cp in spaces]
    alnum = [ch for ch in _assigned_here() if ucd.is_alnum(ch) != ch.isalnum()]
    assert not alnum, [f"U+{ord(ch):04X}" for ch in alnum[:10]]
    assert ucd.is_alnum("\ua7dc")  # a letter of Unicode 16.0


def test_whitespace_lies_in_the_basic_plane():
    """``space_mask`` looks at the BMP only: no astral code point may be whitespace."""
    assert not any(ucd.is_space(chr(cp)) for cp in range(0x10000, 0x110000))
    mask = ucd.space_mask(0x110000)
    assert mask.sum() == sum(ucd.is_space(chr(cp)) for cp in range(0x10000) if not
                             0xD800 <= cp < 0xE000)


def test_a_table_of_another_unicode_version_is_refused(monkeypatch):
    ucd.case_table.cache_clear()
    monkeypatch.setattr(ucd, "UNICODE_VERSION", "99.0.0")
    try:
        with pytest.raises(DedupeError) as err:
            ucd.case_table()
    finally:
        ucd.case_table.cache_clear()
    msg = str(err.value)
    assert "unicode_case.tsv holds the case mappings of Unicode 18.0.0" in msg
    assert "unicodedata2 has Unicode 99.0.0" in msg
    assert "pip install 'unicodedata2>=18,<19'" in msg and "make_unicode_tables.py" in msg


def test_a_table_without_its_version_is_refused():
    with pytest.raises(DedupeError, match="format '2' is not 1 or no Unicode version"):
        ucd.parse_case_table("# format\t2\n# unicode\t18.0.0\n0041\t0061\t0061\t1\n")
    with pytest.raises(DedupeError, match="regenerate it"):
        ucd.parse_case_table("# format\t1\n0041\t0061\t0061\t1\n")


def test_pin_and_table_agree_with_pyproject():
    """The installed unicodedata2 is the pinned one, the pin in the error message is the
    pyproject's, and the table ships with the package."""
    if sys.version_info >= (3, 11):
        import tomllib
    else:
        import tomli as tomllib
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    pins = [d for d in project["project"]["dependencies"] if d.startswith("unicodedata2")]
    assert [re.sub(r"\s", "", p) for p in pins] == [ucd.UNICODEDATA2_PIN]
    assert ucd.UNICODE_VERSION.split(".")[0] == re.search(r">=(\d+)", ucd.UNICODEDATA2_PIN).group(1)
    assert ucd.CASE_TABLE in project["tool"]["setuptools"]["package-data"]["dedupe.text"]
