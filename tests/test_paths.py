"""Ids and ``source_file`` do not depend on the folder a command runs from."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pyarrow.parquet as pq
from click.testing import CliRunner

import dedupe
from dedupe.cli import main
from tests.conftest import write_jsonl


def _corpus(root):
    folder = root / "corpus"
    folder.mkdir(parents=True)
    words = [f"w{i}" for i in range(400)]
    for f in range(2):
        rows = [{"text": " ".join(words[(f * 50 + i) * 3:(f * 50 + i) * 3 + 25])}
                for i in range(40)]
        rows.append(dict(rows[0]))  # an exact copy, so explain has a survivor to show
        write_jsonl(folder / f"part-{f}.jsonl", rows)
    (root / "elsewhere").mkdir()
    return folder


def _manifest(out):
    return pq.read_table(out / "manifest.parquet").sort_by([("id", "ascending")])


def test_ids_and_source_files_are_the_same_from_any_folder(tmp_path, monkeypatch):
    folder = _corpus(tmp_path / "data")
    monkeypatch.chdir(tmp_path / "data")
    dedupe.run(["corpus"], tmp_path / "a", engine__name="serial")
    dedupe.run(["corpus/part-0.jsonl", "corpus/part-1.jsonl"], tmp_path / "b",
               engine__name="serial")
    monkeypatch.chdir(tmp_path / "data" / "elsewhere")
    dedupe.run([os.path.join("..", "corpus")], tmp_path / "c", engine__name="serial")
    a, b, c = (_manifest(tmp_path / x) for x in "abc")
    assert a.equals(b) and a.equals(c)
    assert set(a["source_file"].to_pylist()) == {str(folder / "part-0.jsonl"),
                                                 str(folder / "part-1.jsonl")}
    assert a["id"][0].as_py() == f"{folder / 'part-0.jsonl'}:0"


HARNESS = textwrap.dedent("""
    import os, signal, sys
    import dedupe

    def progress(name, done, total, result):
        if name == "sign" and done >= 1:
            os.kill(os.getpid(), signal.SIGKILL)

    if __name__ == "__main__":
        dedupe.run(["corpus"], sys.argv[1], workers=1, progress=progress)
""")


def test_resume_after_cd_gives_the_ids_of_a_fresh_run(tmp_path):
    _corpus(tmp_path / "data")
    script = tmp_path / "harness.py"
    script.write_text(HARNESS)
    out = tmp_path / "run"
    proc = subprocess.run([sys.executable, str(script), str(out)], cwd=tmp_path / "data",
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode != 0 and (out / "_work" / "run.json").exists(), proc.stderr
    report = dedupe.run([tmp_path / "data" / "corpus"], out, workers=1)
    assert report.outputs["resumed"] is True
    dedupe.run([tmp_path / "data" / "corpus"], tmp_path / "fresh", workers=1)
    assert _manifest(out).equals(_manifest(tmp_path / "fresh"))


def test_explain_works_from_another_folder(tmp_path, monkeypatch):
    _corpus(tmp_path / "data")
    monkeypatch.chdir(tmp_path / "data")
    dedupe.run(["corpus"], tmp_path / "run", engine__name="serial")
    m = pq.read_table(tmp_path / "run" / "manifest.parquet").to_pylist()
    dup = next(r for r in m if r["action"] == "exact_duplicate")
    monkeypatch.chdir(tmp_path / "data" / "elsewhere")
    result = CliRunner().invoke(main, ["explain", str(tmp_path / "run"), dup["id"]])
    assert result.exit_code == 0, result.output
    assert "exact_duplicate" in result.output and "w0 w1 w2" in result.output
    report = json.loads((tmp_path / "run" / "report.json").read_text())
    assert all(os.path.isabs(p) for p in report["inputs"])
