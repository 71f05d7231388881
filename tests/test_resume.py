"""Crash and resume: SIGKILL at each stage, run the same command again, get the same output."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pyarrow.parquet as pq
import pytest

import dedupe
from tests.synth import make_corpus

pytestmark = pytest.mark.faults

HARNESS = textwrap.dedent("""
    import os, signal, sys
    import dedupe

    stage, after = sys.argv[3], int(sys.argv[4])

    def progress(name, done, total, result):
        if name == stage and done >= after:
            os.kill(os.getpid(), signal.SIGKILL)

    if __name__ == "__main__":
        dedupe.run([sys.argv[1]], sys.argv[2], workers=int(sys.argv[5]), id_column="id",
                   rows_per_shard=70, progress=progress)
""")


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    folder = tmp_path_factory.mktemp("resume")
    table = make_corpus(420, seed=8)
    for i in range(6):
        pq.write_table(table.slice(i * 70, 70), folder / f"part-{i}.parquet")
    reference = folder.parent / "reference"
    dedupe.run([folder], reference, workers=1, id_column="id", rows_per_shard=70)
    return folder, reference


def _same_outputs(a, b):
    assert pq.read_table(a / "manifest.parquet").equals(pq.read_table(b / "manifest.parquet"))
    assert pq.read_table(a / "spans.parquet").equals(pq.read_table(b / "spans.parquet"))
    names = sorted(os.listdir(a / "data"))
    assert names == sorted(os.listdir(b / "data"))
    for name in names:
        assert pq.read_table(a / "data" / name).equals(pq.read_table(b / "data" / name))


def _killed_run(folder, out, tmp_path, stage: str, after: int, workers: int) -> None:
    """Run the harness, which SIGKILLs the run after ``after`` tasks of ``stage``."""
    script = tmp_path / "harness.py"
    script.write_text(HARNESS)
    log = tmp_path / "log.txt"
    with open(log, "w") as fh:
        proc = subprocess.run([sys.executable, str(script), str(folder), str(out), stage,
                               str(after), str(workers)], stdout=fh, stderr=fh, timeout=300)
    assert proc.returncode == -9, log.read_text()


@pytest.mark.parametrize("stage,after,workers", [
    # decide: 34 tasks here (one partition): the 8th is a band-keys task, the 18th a
    # components round, the 30th a decision file
    ("sign", 2, 1), ("sign", 3, 2), ("decide", 1, 1), ("decide", 8, 1), ("decide", 18, 2),
    ("decide", 30, 2),
    ("boilerplate", 5, 1), ("finish", 3, 1), ("finish", 5, 2), ("write", 2, 2),
    ("manifest", 2, 1), ("manifest", 3, 2),
])
def test_sigkill_then_rerun_gives_the_same_result(corpus, tmp_path, stage, after, workers,
                                                  fault_ledger):
    folder, reference = corpus
    out = tmp_path / "out"
    _killed_run(folder, out, tmp_path, stage, after, workers)
    assert not (out / "report.json").exists()
    # no half-written file under a final name
    for name in os.listdir(out / "data"):
        if not name.startswith("."):  # temporary names are allowed to be partial
            pq.read_metadata(out / "data" / name)
    dedupe.run([folder], out, workers=workers, id_column="id", rows_per_shard=70)
    _same_outputs(reference, out)
    assert not (out / "_work").exists()
    assert not [n for n in os.listdir(out / "data") if n.startswith(".")]
    assert fault_ledger(f"SIGKILL during {stage}, then rerun", 420, out) == 0


def test_changed_config_does_not_reuse_an_unfinished_run(corpus, tmp_path):
    folder, _ = corpus
    out = tmp_path / "out"
    _killed_run(folder, out, tmp_path, "sign", 2, 1)
    with pytest.raises(dedupe.OutputError, match="unfinished run with another config"):
        dedupe.run([folder], out, workers=1, id_column="id", rows_per_shard=70, threshold=0.9)
    dedupe.run([folder], out, workers=1, id_column="id", rows_per_shard=70, threshold=0.9,
               overwrite=True)
    assert (out / "report.json").exists()


def test_finished_run_is_not_resumed(corpus, tmp_path):
    folder, reference = corpus
    with pytest.raises(dedupe.OutputError, match="--overwrite"):
        dedupe.run([folder], reference, workers=1, id_column="id", rows_per_shard=70)


def test_resume_removes_partial_temporary_files(corpus, tmp_path):
    folder, reference = corpus
    out = tmp_path / "out"
    _killed_run(folder, out, tmp_path, "sign", 2, 1)
    partial = out / "data" / ".part-00000.parquet.tmp-999"
    partial.write_bytes(b"PAR1")  # what a worker killed mid-write leaves behind
    dedupe.run([folder], out, workers=1, id_column="id", rows_per_shard=70)
    assert not partial.exists()
    _same_outputs(reference, out)


def _retag_sign_files(out, change) -> list:
    """Rewrite the unfinished run's sign files with their scheme metadata passed through
    ``change``, as if another dedupe (or other Unicode data) had written them."""
    from dedupe.io.spill import read_ipc, write_ipc

    paths = sorted(out.glob("_work/*/sign-*.arrow"))
    for path in paths:
        table = read_ipc(str(path))
        table = table.replace_schema_metadata(change(dict(table.schema.metadata or {})))
        write_ipc(table, str(path))
    return paths


@pytest.mark.parametrize(("change", "shown"), [
    (lambda m: {**m, b"dedupe.scheme.unicode": b"14.0.0"}, "scheme.unicode = 14.0.0, this run "
                                                           "uses 18.0.0"),
    (lambda m: {k: v for k, v in m.items() if not k.startswith(b"dedupe.scheme.")},
     "scheme.unicode = (not recorded), this run uses 18.0.0"),
    (lambda m: {**m, b"dedupe.scheme.minhash": b"dedupe-minhash-v1"},
     "scheme.minhash = dedupe-minhash-v1, this run uses dedupe-minhash-v2"),
], ids=["other-unicode", "untagged", "older-minhash"])
def test_resume_refuses_sign_files_of_other_schemes(corpus, tmp_path, change, shown):
    folder, reference = corpus
    out = tmp_path / "out"
    _killed_run(folder, out, tmp_path, "sign", 2, 1)
    paths = _retag_sign_files(out, change)
    assert len(paths) == 2
    with pytest.raises(dedupe.OutputError) as err:
        dedupe.run([folder], out, workers=1, id_column="id", rows_per_shard=70)
    assert str(err.value).startswith(f"{paths[0]} was signed with {shown}: ")
    assert "pass --overwrite to start again" in str(err.value)
    assert not (out / "report.json").exists()
    dedupe.run([folder], out, workers=1, id_column="id", rows_per_shard=70, overwrite=True)
    _same_outputs(reference, out)


def test_resumed_sign_files_record_the_schemes(corpus, tmp_path):
    from dedupe.io.spill import ipc_metadata
    from dedupe.schemes import recorded_schemes, schemes

    folder, _ = corpus
    out = tmp_path / "out"
    _killed_run(folder, out, tmp_path, "sign", 2, 1)
    (path,) = sorted(out.glob("_work/*/sign-000000.arrow"))
    assert recorded_schemes(ipc_metadata(str(path)), "dedupe.scheme.") == schemes()
