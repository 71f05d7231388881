"""The terminal view: every progress bar on one line of an 80-column terminal."""

from __future__ import annotations

import io
from pathlib import Path

from click.testing import CliRunner
from rich.console import Console

from dedupe.cli import main
from dedupe.progress import RichProgress

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample"
STAGES = ("sign", "decide", "boilerplate", "finish", "write")


def _bars(output: str) -> dict[str, list[str]]:
    """The lines that start with a stage name (a wrapped bar leaves a line that does not)."""
    lines = output.splitlines()
    return {s: [line for line in lines if line.split(" ", 1)[0] == s] for s in STAGES}


def test_run_bars_fit_80_columns_and_decide_shows_its_rows(tmp_path):
    result = CliRunner(env={"COLUMNS": "80"}).invoke(
        main, ["run", str(SAMPLE), "--out", str(tmp_path / "o"), "--engine", "serial"])
    assert result.exit_code == 0, result.output
    bars = _bars(result.output)
    for stage, lines in bars.items():
        assert len(lines) == 1, (stage, result.output)
        assert len(lines[0]) <= 80 and lines[0].endswith("0:00:00"), lines[0]
        assert " rows " in lines[0] and "/s " in lines[0], lines[0]
    assert result.output.splitlines()[:5] == [bars[s][0] for s in STAGES]  # nothing wrapped
    assert " 400 rows " in bars["decide"][0]  # every row decided, not "0 rows 0 rows/s"
    assert " 400 rows " in bars["finish"][0]  # every row's final decision written
    assert " 0 rows" not in result.output


def test_large_counts_and_a_running_stage_stay_on_one_line():
    buf = io.StringIO()
    console = Console(file=buf, width=80, force_terminal=False, color_system=None)
    with RichProgress(console) as progress:
        progress("sign", 6000, 12345, {"rows": 13_063})
        progress("sign", 12345, 12345, {"rows": 1_234_567_890})
        progress("decide", 0, 1, None)  # started, still running when the view closes
        progress("boilerplate", 1024, 1024, {"rows": 98_765_432_100})
        progress("finish", 7, 1024, {"rows": 70_000})
        progress("write", 3, 40, None)  # a task without rows so far
    bars = _bars(buf.getvalue())
    assert buf.getvalue().splitlines() == [bars[s][0] for s in STAGES]  # nothing wrapped
    for stage, lines in bars.items():
        assert len(lines) == 1 and len(lines[0]) <= 80, (stage, buf.getvalue())
    assert "1.23G rows" in bars["sign"][0] and "12.3k/12.3k" in bars["sign"][0]
    assert "0/?" in bars["decide"][0] and "rows" not in bars["decide"][0]
    assert "98.8G rows" in bars["boilerplate"][0]
    assert "3/40" in bars["write"][0] and "rows" not in bars["write"][0]
