"""Canonical text, digests, signatures and span keys of a readable corpus, pinned in a file.

``golden/text.json`` (written by ``python -m tests.golden_text --write``) holds, for a dozen
short documents of tricky text, the canonical forms, tokens, digests, first signature values,
span token hashes and boilerplate keys. They must be the same under every Python dedupe
supports: each of 3.10-3.13 ships another Unicode version, and an index built under one is
compared with runs under another. The file is what every run of the suite checks; where other
Pythons are installed (PATH, or pyenv), the slow test computes the values under each of them in
a throwaway virtual environment and checks them against the same file.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from tests.golden_text import GOLDEN, golden

ROOT = Path(__file__).resolve().parents[1]
_RUNTIME = ("numpy", "pyarrow", "xxhash", "unicodedata2", "tomli")  # what the golden run imports


def _first_difference(want, got, where: str = "") -> str | None:
    """Path and both values of the first place where two JSON values differ."""
    if isinstance(want, dict) and isinstance(got, dict):
        for key in list(want) + [k for k in got if k not in want]:
            found = _first_difference(want.get(key), got.get(key), f"{where}.{key}")
            if found:
                return found
        return None
    if isinstance(want, list) and isinstance(got, list) and len(want) == len(got):
        for i, (a, b) in enumerate(zip(want, got)):
            found = _first_difference(a, b, f"{where}[{i}]")
            if found:
                return found
        return None
    return None if want == got else f"{where}: file {want!r}, computed {got!r}"


def _assert_matches_file(got: dict, who: str) -> None:
    want = json.loads(GOLDEN.read_text(encoding="utf-8"))
    diff = _first_difference(want, got)
    assert diff is None, (
        f"{who} computes other values than {GOLDEN.name}: {diff}. If the change is deliberate, "
        "bump the scheme it changes (dedupe/schemes.py) and regenerate with "
        "`python -m tests.golden_text --write`"
    )


def test_golden_values_match_the_file():
    _assert_matches_file(golden(), f"Python {sys.version.split()[0]}")


def test_golden_corpus_covers_the_unicode_differences():
    """The corpus holds characters on which the Pythons' own Unicode data disagree."""
    values = json.loads(GOLDEN.read_text(encoding="utf-8"))
    texts = "".join(d["text"] for d in values["documents"])
    for ch in ("\u2c2f", "\ua7c0", "\U00010570", "\ua7f2", "\U0001e030", "\ua7cb", "\U0001ccd6",
               "\u0558", "\u1100", "\u0301"):
        assert ch in texts, f"U+{ord(ch):04X} is missing from the golden corpus"


# --- the same values under every other installed Python -------------------------------------


def _version(python: str) -> tuple[int, int] | None:
    try:
        out = subprocess.run([python, "-c", "import sys; print(*sys.version_info[:2])"],
                             capture_output=True, text=True, timeout=30, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    major, minor = map(int, out.split())
    return major, minor


def _other_pythons() -> list[tuple[str, str]]:
    """``(version, path)`` of each Python 3.10+ found, other than the one running the tests."""
    candidates = [shutil.which(f"python3.{minor}") for minor in range(10, 16)]
    pyenv = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    candidates += [str(p) for p in sorted(pyenv.glob("3.*/bin/python"))]
    found: dict[tuple[int, int], str] = {}
    for path in filter(None, candidates):
        version = _version(path)
        if version and version >= (3, 10) and version != sys.version_info[:2]:
            found.setdefault(version, path)
    return [(f"{v[0]}.{v[1]}", p) for v, p in sorted(found.items())]


def _runtime_requirements() -> list[str]:
    """The pinned requirements (pyproject.toml) of the packages the golden run imports."""
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    return [d for d in deps if re.match(r"[A-Za-z0-9_.-]+", d).group(0).lower() in _RUNTIME]


def _venv(version: str, python: str) -> Path:
    """A virtual environment for ``python`` with the runtime packages, kept between runs."""
    folder = Path(tempfile.gettempdir()) / "dedupe-golden-venvs" / version
    requirements = _runtime_requirements()
    done = folder / "installed.txt"
    if done.exists() and done.read_text() == "\n".join(requirements):
        return folder
    shutil.rmtree(folder, ignore_errors=True)
    steps = ([python, "-m", "venv", str(folder)],
             [str(folder / "bin" / "python"), "-m", "pip", "install", "--quiet", *requirements])
    for step in steps:
        run = subprocess.run(step, capture_output=True, text=True, timeout=600)
        if run.returncode:
            shutil.rmtree(folder, ignore_errors=True)
            pytest.skip(f"cannot set up Python {version} with {requirements}: "
                        f"{(run.stderr or run.stdout).strip()[-400:]}")
    done.write_text("\n".join(requirements))
    return folder


_OTHERS = _other_pythons()


@pytest.mark.slow
@pytest.mark.parametrize(
    ("version", "python"),
    _OTHERS or [pytest.param("", "", marks=pytest.mark.skip(
        reason="no other Python 3.10+ found (PATH python3.1x, ~/.pyenv/versions); the golden "
               "file alone is checked"))],
    ids=[v for v, _ in _OTHERS] or ["none"],
)
def test_golden_values_are_the_same_under_other_pythons(version, python):
    venv = _venv(version, python)
    run = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "tests.golden_text"],
        cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True, text=True, timeout=300,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    _assert_matches_file(json.loads(run.stdout), f"Python {version} ({python})")
