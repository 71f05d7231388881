"""The Unicode data behind canonical text and every key: pinned, so no result depends on the Python.

Python's ``unicodedata`` and ``str`` methods follow the interpreter's Unicode version (13.0 in
3.10, 14.0 in 3.11, 15.0 in 3.12, 15.1 in 3.13). A letter added in 14.0 is unassigned to 3.10, so
it is neither lower-cased nor a word character there, and the same page would get other digests,
signatures and span keys than under 3.11; an index built under one Python would be compared
with runs under another. Every property that decides a canonical form or a key therefore comes
from one Unicode version, recorded as ``UNICODE_VERSION`` in every stored artefact:

* NFKC, general category, canonical combining class, bidirectional class and numeric value:
  the ``unicodedata2`` package, pinned to one major version (= one Unicode version) in
  ``pyproject.toml``;
* lower-casing, case folding and the upper-case flag: ``unicode_case.tsv`` beside this module,
  CPython's ``str.lower``, ``str.casefold`` and ``str.isupper`` over that same Unicode version
  (full mappings, so U+0130 lower-cases to ``i`` + U+0307 and U+00DF folds to ``ss``), written
  by ``data/make_unicode_tables.py``; loading it refuses a table made for another version than
  the installed ``unicodedata2``;
* whitespace: Python's own definition of ``str.isspace`` (general category Zs, or bidirectional
  class WS, B or S) over the pinned data; alphanumeric: a letter (category L*) or a character
  with a numeric value, as ``str.isalnum``.

Every mapping is per character, with no context (no final-sigma rule), as the per-character
tables of :mod:`dedupe.text.normalize` need. That also makes it one gather over the code points
of a long text (span tokens fold the distinct tokens of a batch in one string), several times
faster than ``str.translate``'s lookup per character.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from importlib import resources

import numpy as np

from dedupe.errors import DedupeError

try:
    import unicodedata2
except ModuleNotFoundError:  # pragma: no cover - a dependency; only a stale environment lacks it
    raise ModuleNotFoundError(
        "dedupe needs the unicodedata2 package (its pinned Unicode data keeps signatures equal "
        "across Python versions): pip install 'unicodedata2>=18,<19'"
    ) from None

__all__ = [
    "UNICODEDATA2_PIN",
    "UNICODE_VERSION",
    "CaseTable",
    "case_table",
    "casefold",
    "category",
    "combining",
    "decomposition",
    "is_alnum",
    "is_space",
    "lower",
    "nfkc",
    "parse_case_table",
    "space_mask",
    "upper_mask",
]

UNICODE_VERSION: str = unicodedata2.unidata_version
CASE_TABLE = "unicode_case.tsv"
CASE_TABLE_FORMAT = 1
UNICODEDATA2_PIN = "unicodedata2>=18,<19"  # as in pyproject.toml
_SHORT = 64  # below this many characters str.translate beats the numpy round trip
_SEVERAL = np.uint32(0xFFFFFFFF)  # not a code point: the character maps to several (or none)

category = unicodedata2.category
combining = unicodedata2.combining
decomposition = unicodedata2.decomposition


def nfkc(text: str) -> str:
    """Unicode NFKC of ``text`` under the pinned Unicode version."""
    return unicodedata2.normalize("NFKC", text)


@dataclass(frozen=True)
class CaseTable:
    """Case mappings of one Unicode version, as ``str.translate`` tables (code point -> str).

    ``lower``/``fold`` hold only the code points that change; ``upper`` the upper-case ones.
    ``version`` names the table for the scheme tags: its Unicode version and file format.
    """

    unicode: str
    version: str
    lower: dict[int, str]
    fold: dict[int, str]
    upper: frozenset[int]


def _chars(field: str) -> str:
    return "".join(chr(int(h, 16)) for h in field.split())


def parse_case_table(text: str, name: str = CASE_TABLE) -> CaseTable:
    """Read the tab-separated table (see ``data/make_unicode_tables.py`` for the format)."""
    head: dict[str, str] = {}
    lower: dict[int, str] = {}
    fold: dict[int, str] = {}
    upper: set[int] = set()
    for line in text.splitlines():
        if line.startswith("#"):
            key, sep, value = line[1:].strip().partition("\t")
            if sep:
                head[key] = value
            continue
        code, low, folded, is_upper = line.split("\t")
        cp = int(code, 16)
        low, folded = _chars(low), _chars(folded)
        if low != chr(cp):
            lower[cp] = low
        if folded != chr(cp):
            fold[cp] = folded
        if is_upper == "1":
            upper.add(cp)
    if head.get("format") != str(CASE_TABLE_FORMAT) or "unicode" not in head:
        raise DedupeError(f"{name}: format {head.get('format')!r} is not {CASE_TABLE_FORMAT} or "
                          "no Unicode version is recorded; regenerate it with "
                          "`python data/make_unicode_tables.py`")
    version = f"{head['unicode']}/format-{CASE_TABLE_FORMAT}"
    return CaseTable(head["unicode"], version, lower, fold, frozenset(upper))


@functools.lru_cache(maxsize=1)
def case_table() -> CaseTable:
    """The shipped table, checked against the installed ``unicodedata2`` (read once a process).

    Mappings from one Unicode version with NFKC and categories from another would make a
    canonical form that neither version defines, so a mismatch stops here.
    """
    text = resources.files("dedupe.text").joinpath(CASE_TABLE).read_text(encoding="utf-8")
    table = parse_case_table(text)
    if table.unicode != UNICODE_VERSION:
        raise DedupeError(
            f"dedupe/text/{CASE_TABLE} holds the case mappings of Unicode {table.unicode}, but the "
            f"installed unicodedata2 has Unicode {UNICODE_VERSION}: install the pinned version "
            f"(pip install '{UNICODEDATA2_PIN}') or regenerate the table with "
            "`python data/make_unicode_tables.py` and bump the schemes in dedupe/schemes.py"
        )
    return table


@functools.lru_cache(maxsize=2)
def _gather_table(kind: str) -> tuple[np.ndarray, dict[int, str]]:
    """``(single, several)`` for ``kind`` ("lower" or "fold"): ``single[c]`` is the one character
    ``c`` maps to (``_SEVERAL`` when it maps to another number of them, found in ``several``);
    code points past the array map to themselves."""
    mapping = getattr(case_table(), kind)
    single = np.arange(max(mapping) + 1, dtype=np.uint32)
    several = {}
    for cp, mapped in mapping.items():
        if len(mapped) == 1:
            single[cp] = ord(mapped)
        else:
            single[cp] = _SEVERAL
            several[cp] = mapped
    single.flags.writeable = False
    return single, several


def _map(text: str, kind: str) -> str:
    """``text`` with every character replaced by its ``kind`` mapping.

    A short text goes through ``str.translate``; a long one is decoded to code points, mapped
    with one gather and encoded back, and only the rare characters that map to several are
    spliced in from Python. Lone surrogates pass through unchanged either way.
    """
    if len(text) < _SHORT:
        return text.translate(getattr(case_table(), kind))
    single, several = _gather_table(kind)
    cps = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), np.uint32)
    mapped = np.take(single, cps, mode="clip")
    if int(cps.max()) >= len(single):
        beyond = np.flatnonzero(cps >= len(single))
        mapped[beyond] = cps[beyond]
    spliced = np.flatnonzero(mapped == _SEVERAL).tolist()
    pieces, done = [], 0
    for pos in spliced:
        pieces.append(mapped[done:pos].tobytes().decode("utf-32-le", "surrogatepass"))
        pieces.append(several[int(cps[pos])])
        done = pos + 1
    pieces.append(mapped[done:].tobytes().decode("utf-32-le", "surrogatepass"))
    return "".join(pieces)


def lower(text: str) -> str:
    """Full lower-case mapping of every character (no final-sigma context)."""
    return _map(text, "lower")


def casefold(text: str) -> str:
    """Full case folding of every character, as ``str.casefold`` over the pinned version."""
    return _map(text, "fold")


def is_space(ch: str) -> bool:
    """``str.isspace`` over the pinned version: category Zs or bidirectional class WS, B, S."""
    return unicodedata2.category(ch) == "Zs" or unicodedata2.bidirectional(ch) in ("WS", "B", "S")


def is_alnum(ch: str) -> bool:
    """``str.isalnum`` over the pinned version: a letter or a character with a numeric value."""
    return unicodedata2.category(ch)[0] == "L" or unicodedata2.numeric(ch, None) is not None


@functools.lru_cache(maxsize=4)
def space_mask(size: int) -> np.ndarray:
    """Read-only ``is_space`` of every code point below ``size``.

    Unicode puts every space separator and every character of the whitespace bidirectional
    classes in the BMP, so the rest of ``size`` is False without a look (a test checks it).
    """
    mask = np.zeros(size, bool)
    for cp in range(min(size, 0x10000)):
        if not 0xD800 <= cp < 0xE000:
            mask[cp] = is_space(chr(cp))
    mask.flags.writeable = False
    return mask


@functools.lru_cache(maxsize=4)
def upper_mask(size: int) -> np.ndarray:
    """Read-only upper-case flag (``str.isupper`` of one character) below ``size``."""
    mask = np.zeros(size, bool)
    upper = np.fromiter(case_table().upper, np.int64)
    mask[upper[upper < size]] = True
    mask.flags.writeable = False
    return mask
