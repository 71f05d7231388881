"""Write ``dedupe/text/unicode_case.tsv``, the case table dedupe ships (run from the repo root).

Canonical text and span token keys lower-case and case-fold text. Python's ``str.lower`` and
``str.casefold`` follow the Unicode version of the running interpreter (13.0 in 3.10, 14.0 in 3.11,
15.0 in 3.12, 15.1 in 3.13), so the same page would get other digests and signatures under another
Python. dedupe therefore takes every Unicode property from the pinned ``unicodedata2`` package and
its case mappings from this table, built for the same Unicode version.

``unicodedata2`` exposes no case mapping, but its source distribution carries
``unicodedata2/unicodetype_db.h``: the tables CPython's ``Tools/unicode/makeunicodedata.py``
generates from ``UnicodeData.txt``, ``SpecialCasing.txt``, ``CaseFolding.txt`` and
``PropList.txt`` of that Unicode version, from which CPython builds ``str.lower``,
``str.casefold`` and ``str.isupper``. This script decodes them exactly as CPython's
``Objects/unicodectype.c`` does (``_PyUnicode_ToLowerFull``, ``_PyUnicode_ToFoldedFull``,
``_PyUnicode_IsUppercase``), so the table is what those methods return on a Python built with that
Unicode version. It then compares the result with the running interpreter's methods on every
code point the interpreter's own ``unicodedata`` assigns, and stops if any differs: that checks
the decoding against an independent implementation (case pairs are stable across Unicode versions).

Regenerate after changing the ``unicodedata2`` pin in ``pyproject.toml`` (the newest Python at hand
gives the widest check)::

    python data/make_unicode_tables.py                 # downloads the installed version's sdist
    python data/make_unicode_tables.py --sdist unicodedata2-18.0.0.tar.gz

A new Unicode version changes canonical text, so bump the schemes in ``dedupe/schemes.py`` too.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import re
import subprocess
import sys
import tarfile
import tempfile
import unicodedata
from pathlib import Path

import unicodedata2

OUT = Path(__file__).resolve().parent.parent / "dedupe" / "text" / "unicode_case.tsv"
FORMAT = 1

# Objects/unicodectype.c
_EXTENDED_CASE_MASK = 0x4000
_UPPER_MASK = 0x80


def _ints(block: str) -> list[int]:
    return [int(x) for x in re.findall(r"-?\d+", block)]


def _array(source: str, name: str) -> str:
    match = re.search(rf"{name}\[\] = \{{(.*?)\}};", source, re.S)
    if match is None:
        raise SystemExit(f"unicodetype_db.h: no array {name}; has the generator's format changed?")
    return match.group(1)


def parse_type_db(source: str):
    """``(records, extended, shift, index1, index2)`` of a ``unicodetype_db.h``.

    A record is ``(upper, lower, title, decimal, digit, flags)``, as ``_PyUnicode_TypeRecord``.
    """
    body = _array(source, "_PyUnicode_TypeRecords")
    records = [tuple(_ints(r)) for r in re.findall(r"\{([^{}]*)\}", body)]
    if any(len(r) != 6 for r in records):
        raise SystemExit("unicodetype_db.h: a type record without 6 fields")
    shift = int(re.search(r"#define SHIFT (\d+)", source).group(1))
    extended = _ints(_array(source, "_PyUnicode_ExtendedCase"))
    index1 = _ints(_array(source, "index1"))
    index2 = _ints(_array(source, "index2"))
    return records, extended, shift, index1, index2


def case_rows(source: str):
    """``(code point, lower, casefold, is upper)`` for every code point with a case property."""
    records, extended, shift, index1, index2 = parse_type_db(source)
    rows = []
    for cp in range(0x110000):
        index = index2[(index1[cp >> shift] << shift) + (cp & ((1 << shift) - 1))]
        _upper, lower, _title, _dec, _dig, flags = records[index]
        if flags & _EXTENDED_CASE_MASK:
            start, n = lower & 0xFFFF, lower >> 24
            low = "".join(map(chr, extended[start : start + n]))
            n_fold = (lower >> 20) & 7
            fold = "".join(map(chr, extended[start + n : start + n + n_fold])) if n_fold else low
        else:
            low = fold = chr(cp + lower)
        upper = bool(flags & _UPPER_MASK)
        if low != chr(cp) or fold != chr(cp) or upper:
            rows.append((cp, low, fold, upper))
    return rows


def check_against_interpreter(rows) -> list[str]:
    """Where the table and this Python's ``str`` methods differ on a code point both assign."""
    table = {cp: (low, fold, upper) for cp, low, fold, upper in rows}
    problems = []
    for cp in range(0x110000):
        ch = chr(cp)
        if 0xD800 <= cp < 0xE000 or unicodedata.category(ch) == "Cn":
            continue
        want = table.get(cp, (ch, ch, False))
        have = (ch.lower(), ch.casefold(), ch.isupper())
        if want != have:
            problems.append(f"U+{cp:04X}: table {want!r}, Python {have!r}")
    return problems


def _hex(text: str) -> str:
    return " ".join(f"{ord(c):04X}" for c in text)


def write_table(rows, version: str, package: str, path: Path) -> None:
    lines = [
        "# dedupe case table: full lower-case and case-fold mappings and the upper-case flag",
        f"# (str.lower, str.casefold, str.isupper) of Unicode {version}, decoded from",
        f"# unicodedata2 {package}'s unicodetype_db.h by data/make_unicode_tables.py.",
        "# Only code points with a mapping or the flag are listed; every other maps to itself.",
        "# Mappings are code points in hex, several separated by a space.",
        f"# format\t{FORMAT}",
        f"# unicode\t{version}",
        "# code point\tlower\tcasefold\tupper",
    ]
    for cp, low, fold, upper in rows:
        lines.append(f"{cp:04X}\t{_hex(low)}\t{_hex(fold)}\t{int(upper)}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _download_sdist(version: str, folder: str) -> Path:
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--no-binary", ":all:",
         "--dest", folder, f"unicodedata2=={version}"],
        check=True,
    )
    return next(Path(folder).glob("unicodedata2-*.tar.gz"))


def _read_type_db(sdist: Path) -> str:
    with tarfile.open(sdist) as tar:
        member = next((m for m in tar.getmembers() if m.name.endswith("/unicodetype_db.h")), None)
        if member is None:
            raise SystemExit(f"{sdist}: no unicodetype_db.h inside")
        return tar.extractfile(member).read().decode("utf-8")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sdist", type=Path,
                        help="unicodedata2 source archive (default: download it)")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    package = importlib.metadata.version("unicodedata2")
    with tempfile.TemporaryDirectory() as tmp:
        sdist = args.sdist or _download_sdist(package, tmp)
        if f"unicodedata2-{package}." not in sdist.name:
            raise SystemExit(f"{sdist.name} is not the installed unicodedata2 {package}: install "
                             "the matching version first, so the table and NFKC agree")
        rows = case_rows(_read_type_db(sdist))
    problems = check_against_interpreter(rows)
    if problems:
        raise SystemExit("the decoded table disagrees with this Python:\n" + "\n".join(problems))
    write_table(rows, unicodedata2.unidata_version, package, args.out)
    print(f"{args.out}: {len(rows)} code points, Unicode {unicodedata2.unidata_version}; agrees "
          f"with Python {sys.version.split()[0]} (Unicode {unicodedata.unidata_version}) on every "
          "code point it assigns")


if __name__ == "__main__":
    main()
