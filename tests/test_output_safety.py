"""Output folders: --overwrite replaces only what dedupe made, never an input or the work
folder, and one writer at a time holds a run, sweep or index folder."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

import dedupe
from dedupe.cli import main
from dedupe.io.folders import FolderLock
from tests.conftest import write_parquet
from tests.synth import make_corpus

SERIAL = {"engine__name": "serial", "spans": False, "boilerplate": False}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    folder = tmp_path_factory.mktemp("corp")
    write_parquet(folder / "a.parquet", make_corpus(120, seed=5))
    return folder


def _files(folder) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def test_overwrite_never_deletes_the_input(tmp_path, corpus):
    """`dedupe run corp --out corp --overwrite` once deleted the corpus."""
    corp = tmp_path / "corp"
    corp.mkdir()
    (corp / "a.parquet").write_bytes((corpus / "a.parquet").read_bytes())
    before = _files(corp)
    result = CliRunner().invoke(main, ["run", str(corp), "--out", str(corp), "--overwrite",
                                       "--engine", "serial", "-q"])
    assert result.exit_code == 1
    assert "is the input" in result.output and "Traceback" not in result.output
    assert _files(corp) == before
    with pytest.raises(dedupe.OutputError, match="holds the input"):
        dedupe.run([corp / "a.parquet"], corp, overwrite=True, **SERIAL)
    assert _files(corp) == before
    with pytest.raises(dedupe.OutputError, match="sits inside the input"):
        dedupe.run([corp], corp / "deduped", **SERIAL)
    assert _files(corp) == before


def test_overwrite_replaces_only_a_folder_dedupe_made(tmp_path, corpus):
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "notes.txt").write_text("keep me")
    with pytest.raises(dedupe.OutputError, match="already exists"):
        dedupe.run([corpus], precious, **SERIAL)
    with pytest.raises(dedupe.OutputError, match="not made by dedupe"):
        dedupe.run([corpus], precious, overwrite=True, **SERIAL)
    assert (precious / "notes.txt").read_text() == "keep me"
    out = tmp_path / "run"
    dedupe.run([corpus], out, **SERIAL)
    assert json.loads((out / ".dedupe").read_text())["kind"] == "run"
    (out / "stale.txt").write_text("from an earlier run")
    report = dedupe.run([corpus], out, overwrite=True, **SERIAL)
    assert not (out / "stale.txt").exists()
    assert pq.read_table(out / "manifest.parquet").num_rows == report.rows == 120


def test_work_folder_is_protected(tmp_path, corpus):
    work = tmp_path / "work"
    work.mkdir()
    (work / "keep.bin").write_bytes(b"x")
    with pytest.raises(dedupe.OutputError, match="work folder"):
        dedupe.run([corpus], work, overwrite=True, workdir=str(work), **SERIAL)
    with pytest.raises(dedupe.OutputError, match="sits inside the work folder"):
        dedupe.run([corpus], work / "out", workdir=str(work), **SERIAL)
    with pytest.raises(dedupe.OutputError, match="holds the work folder"):
        dedupe.run([corpus], tmp_path, overwrite=True, workdir=str(work), **SERIAL)
    assert (work / "keep.bin").exists()


def test_sweep_and_index_build_follow_the_same_rules(tmp_path, corpus):
    corp = tmp_path / "corp"
    corp.mkdir()
    (corp / "a.parquet").write_bytes((corpus / "a.parquet").read_bytes())
    runner = CliRunner()
    result = runner.invoke(main, ["sweep", str(corp), "--out", str(corp), "--overwrite",
                                  "--thresholds", "0.8"])
    assert result.exit_code == 1 and "is the input" in result.output
    assert (corp / "a.parquet").exists()
    run_dir = tmp_path / "run"
    dedupe.run([corp], run_dir, **SERIAL)
    result = runner.invoke(main, ["index", "build", str(run_dir), "--out", str(run_dir),
                                  "--overwrite"])
    assert result.exit_code == 1 and "is the run folder" in result.output
    assert (run_dir / "report.json").exists()
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "x.txt").write_text("x")
    result = runner.invoke(main, ["index", "build", str(run_dir), "--out", str(foreign),
                                  "--overwrite"])
    assert result.exit_code == 1 and "not made by dedupe" in result.output
    assert (foreign / "x.txt").exists()
    sweep_out = tmp_path / "sweep"
    assert runner.invoke(main, ["sweep", str(corp), "--out", str(sweep_out),
                                "--thresholds", "0.8"]).exit_code == 0
    assert json.loads((sweep_out / ".dedupe").read_text())["kind"] == "sweep"
    assert runner.invoke(main, ["sweep", str(corp), "--out", str(sweep_out), "--overwrite",
                                "--thresholds", "0.7"]).exit_code == 0


def test_a_second_writer_is_refused_naming_the_first(tmp_path, corpus):
    out = tmp_path / "o"
    out.mkdir()
    holder = FolderLock(str(out), "run folder")
    try:
        with pytest.raises(dedupe.OutputError, match=f"pid {os.getpid()}"):
            dedupe.run([corpus], out, overwrite=True, **SERIAL)
    finally:
        holder.release()
    dedupe.run([corpus], out, overwrite=True, **SERIAL)


def _start_and_pause(cmd, out):
    """Start ``cmd``, wait until it holds the lock on ``out``, and pause it (SIGSTOP) while it
    still holds it; None if it finished first."""
    first = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.time() + 120
    while time.time() < deadline and first.poll() is None:
        try:
            if json.loads((out / ".lock").read_text()).get("pid") == first.pid:
                break
        except (OSError, ValueError):
            pass
        time.sleep(0.005)
    os.kill(first.pid, signal.SIGSTOP)
    if first.poll() is None and not (out / "report.json").exists():
        return first
    os.kill(first.pid, signal.SIGCONT)
    first.communicate(timeout=120)
    return None


def test_two_runs_into_one_folder_at_once(tmp_path):
    """The second run (--overwrite) once deleted the first one's work folder mid-run."""
    write_parquet(tmp_path / "big.parquet", make_corpus(3000, seed=9))
    for attempt in range(5):
        out = tmp_path / f"o{attempt}"
        cmd = [sys.executable, "-m", "dedupe.cli", "run", str(tmp_path / "big.parquet"),
               "--out", str(out), "-q", "--workers", "1"]
        first = _start_and_pause(cmd, out)
        if first is not None:
            break
    else:
        pytest.fail("the first run always finished before it could be paused")
    try:
        second = subprocess.run([*cmd, "--overwrite"], capture_output=True, text=True)
    finally:
        os.kill(first.pid, signal.SIGCONT)
    assert second.returncode == 1, (second.stdout, second.stderr)
    assert "another process is writing" in second.stderr, second.stderr
    assert f"pid {first.pid}" in second.stderr and "Traceback" not in second.stderr
    output, _ = first.communicate(timeout=300)
    assert first.returncode == 0, output
    assert pq.read_table(out / "manifest.parquet").num_rows == 3000


@pytest.mark.parametrize("command", ["run", "sweep"])
def test_a_run_still_starting_is_named_not_called_foreign(tmp_path, corpus, command):
    """A writer that holds the lock but has not yet written its marker (a folder with only
    ``.lock`` and an empty ``data/``) must be reported as busy, not as a folder dedupe did not
    make, and must be left untouched."""
    out = tmp_path / "o"
    (out / "data").mkdir(parents=True)
    lock = FolderLock(str(out), "run folder")
    try:
        result = CliRunner().invoke(main, [command, str(corpus), "--out", str(out),
                                           "--overwrite", "--workers", "1"])
    finally:
        lock.release()
    assert result.exit_code == 1, result.output
    assert "another process is writing" in result.output and f"pid {os.getpid()}" in result.output
    assert (out / "data").is_dir()
