"""How a failing task stops a run: out of memory and system refusals say so, a bug keeps its
traceback (shown with DEDUPE_DEBUG=1), and every message names the stage and the task."""

from __future__ import annotations

import errno
import traceback

import pytest
from click.testing import CliRunner

import dedupe.pipeline.runner as runner
from dedupe.cli import main
from dedupe.engines import LocalEngine
from dedupe.errors import EngineError
from tests.conftest import write_parquet
from tests.synth import make_corpus


def _explode_in_sign(task):
    raise ValueError("sign went wrong")


def _worker_bug(task):
    raise KeyError(f"no such thing {task}")


@pytest.fixture
def corpus(tmp_path):
    return write_parquet(tmp_path / "c1.parquet", make_corpus(40, seed=1))


def _run(tmp_path, corpus, env=None):
    return CliRunner().invoke(main, ["run", str(corpus), "--out", str(tmp_path / "out"),
                                     "--engine", "serial", "-q"], env=env or {})


@pytest.mark.parametrize("error,expected", [
    (MemoryError(), "out of memory: lower --batch-rows"),
    (OSError(errno.ENOSPC, "No space left on device", "/work/sign-000000.arrow"),
     "the system refused: No space left on device (ENOSPC): /work/sign-000000.arrow"),
])
def test_memory_and_system_errors_name_their_cause_stage_and_task(tmp_path, corpus,
                                                                  monkeypatch, error, expected):
    def fail(task):
        raise error

    monkeypatch.setattr(runner, "sign_task", fail)
    result = _run(tmp_path, corpus)
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    line = result.output.strip()
    assert "\n" not in line
    assert f"stage 'sign', task {corpus}" in line and expected in line
    assert "MemoryError()" not in line and "OSError(" not in line


def test_a_bug_is_one_line_and_its_traceback_shows_with_dedupe_debug(tmp_path, corpus,
                                                                     monkeypatch):
    monkeypatch.setattr(runner, "sign_task", _explode_in_sign)
    plain = _run(tmp_path, corpus, {"DEDUPE_DEBUG": ""})
    assert plain.exit_code == 1
    assert "Traceback" not in plain.output
    assert "unexpected ValueError: sign went wrong" in plain.output
    assert "DEDUPE_DEBUG=1 shows the traceback" in plain.output
    debug = _run(tmp_path, corpus, {"DEDUPE_DEBUG": "1"})
    assert debug.exit_code == 1
    assert "Traceback" in debug.output and "_explode_in_sign" in debug.output
    assert debug.output.rstrip().splitlines()[-1].startswith("Error: stage 'sign'")


def test_a_worker_process_bug_keeps_the_worker_traceback():
    engine = LocalEngine(1)
    try:
        with pytest.raises(EngineError) as info:
            engine.map(_worker_bug, ["t0"], stage="sign")
    finally:
        engine.close()
    assert "unexpected KeyError" in str(info.value) and "task 0" in str(info.value)
    shown = "".join(traceback.format_exception(info.value))
    assert "_worker_bug" in shown  # the line that failed, inside the worker process
