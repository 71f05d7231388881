"""The one atomic-write mechanism (dedupe.io.atomic) and that nothing else renames files."""

from __future__ import annotations

import ast
import os
from pathlib import Path

import pytest

from dedupe.io.atomic import atomic_path, is_temporary, temporary_name, write_text_atomic

PACKAGE = Path(__file__).resolve().parents[1] / "dedupe"


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    path = tmp_path / "report.json"
    write_text_atomic(path, "old")
    with pytest.raises(RuntimeError), atomic_path(path) as tmp:
        Path(tmp).write_text("half of the new")
        raise RuntimeError("killed")
    assert path.read_text() == "old"
    assert os.listdir(tmp_path) == ["report.json"]


def test_a_failed_folder_write_leaves_nothing(tmp_path):
    with pytest.raises(OSError), atomic_path(tmp_path / "gen-00001", durable=True) as tmp:
        os.makedirs(os.path.join(tmp, "bands"))
        Path(tmp, "bands", "b0.parquet").write_bytes(b"x")
        raise OSError("disk full")
    assert os.listdir(tmp_path) == []


def test_a_finished_write_replaces_and_its_name_was_temporary(tmp_path):
    path = tmp_path / "x.arrow"
    seen = []
    with atomic_path(path) as tmp:
        seen.append(os.path.basename(tmp))
        assert not path.exists()
        Path(tmp).write_bytes(b"new")
    assert path.read_bytes() == b"new" and os.listdir(tmp_path) == ["x.arrow"]
    assert seen == [os.path.basename(temporary_name(path))]
    assert is_temporary(seen[0]) and not is_temporary("x.arrow")
    assert not is_temporary("part-00000.tmp-notes.parquet")  # a final name may hold ".tmp-"


def test_write_text_atomic_is_utf8(tmp_path):
    write_text_atomic(tmp_path / "r.md", "naïve — ok", durable=True)
    assert (tmp_path / "r.md").read_bytes() == "naïve — ok".encode()


def test_no_other_module_renames_files():
    """Every write-then-rename in the package goes through dedupe.io.atomic."""
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path == PACKAGE / "io" / "atomic.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (isinstance(node, ast.Attribute) and node.attr in ("replace", "rename")
                    and isinstance(node.value, ast.Name) and node.value.id == "os"):
                found.append(f"{path.relative_to(PACKAGE)}:{node.lineno}")
    assert found == []
