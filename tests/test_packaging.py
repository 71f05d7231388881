"""Nothing test-only ships: the installed package holds ``dedupe`` and nothing else.

The corpus generator (``tests.synth``), the tests, the benchmarks and any reference ("oracle")
implementation stay in the repository. The fast test applies the project's own package discovery
(``[tool.setuptools.packages.find]``); the slow one builds the wheel and lists its files.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.conftest import ROOT

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

# a path component that must not appear in what is installed
FORBIDDEN = re.compile(r"(^|[/.])(tests?|benchmarks|\w*synth\w*|\w*oracle\w*)([/.]|$)")


def _forbidden(names: list[str]) -> list[str]:
    return [n for n in names if FORBIDDEN.search(n)]


def test_forbidden_pattern():
    assert _forbidden(["tests/synth/corpus.py", "dedupe/synth.py", "dedupe.synth_words"]) == [
        "tests/synth/corpus.py",
        "dedupe/synth.py",
        "dedupe.synth_words",
    ]
    assert _forbidden(["dedupe.oracle", "benchmarks/x.py", "dedupe/testing.py"]) == [
        "dedupe.oracle",
        "benchmarks/x.py",
    ]
    assert _forbidden(["dedupe/spans/batch.py", "dedupe/pipeline/decide.py"]) == []


def test_package_discovery_finds_only_dedupe():
    import setuptools

    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    find = config["packages"]["find"]
    finder = (
        setuptools.find_namespace_packages
        if find.get("namespaces", True)
        else setuptools.find_packages
    )
    packages = finder(
        where=str(ROOT / find.get("where", ["."])[0]),
        include=find.get("include", ["*"]),
        exclude=find.get("exclude", ()),
    )
    assert "dedupe" in packages
    assert [p for p in packages if p.split(".")[0] != "dedupe"] == []
    assert _forbidden(packages) == []
    assert [k for k in config.get("package-data", {}) if k.split(".")[0] != "dedupe"] == []
    modules = [p.relative_to(ROOT).as_posix() for p in (ROOT / "dedupe").rglob("*.py")]
    assert _forbidden(modules) == []


# pip's messages when it cannot fetch the build backend (no network, no cached wheel)
_OFFLINE = ("No matching distribution found", "from versions: none", "Failed to establish")


@pytest.mark.slow
def test_wheel_holds_only_dedupe(tmp_path: Path):
    """Build the wheel from a copy that has tests/, benchmarks/ and data/ beside dedupe/."""
    src = tmp_path / "src"
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info", "build")
    for name in ("dedupe", "tests", "benchmarks", "data"):
        shutil.copytree(ROOT / name, src / name, ignore=ignore)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, src / name)
    cmd = [sys.executable, "-m", "pip", "wheel", str(src), "--no-deps", "-q", "-w", str(tmp_path)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    if proc.returncode != 0:
        output = proc.stdout + proc.stderr
        if any(s in output for s in _OFFLINE):
            pytest.skip(f"the build backend could not be fetched: {output[-300:]}")
        pytest.fail(f"pip wheel failed:\n{output[-2000:]}")
    (wheel,) = tmp_path.glob("dedupe-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    tops = {n.split("/")[0] for n in names}
    assert tops == {"dedupe", f"{wheel.name.split('-py')[0]}.dist-info"}, tops
    assert _forbidden(names) == []
    assert "dedupe/__init__.py" in names
    assert "dedupe/text/unicode_case.tsv" in names
