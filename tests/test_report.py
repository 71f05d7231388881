"""What report.json and report.md say about the run's stages."""

from __future__ import annotations

import json

import numpy as np

from dedupe.memory import high_water
from tests.conftest import write_parquet
from tests.synth import make_corpus
from tests.test_options import _run


def _stages(out) -> dict[str, dict]:
    return {s["name"]: s for s in json.loads((out / "report.json").read_text())["stages"]}


def test_peak_rss_is_measured_per_stage_not_since_the_process_started(tmp_path):
    table = make_corpus(160, seed=6)
    inputs = [write_parquet(tmp_path / "a.parquet", table.slice(0, 80)),
              write_parquet(tmp_path / "b.parquet", table.slice(80))]
    spike = np.ones(400 << 17)  # 400 MB held and freed before the run: not the run's memory
    spike[::512] = 2.0
    del spike
    before = high_water()
    _run("run", *inputs, "--out", tmp_path / "local", "--workers", "2", "-q")
    _run("run", *inputs, "--out", tmp_path / "serial", "--engine", "serial", "-q")
    for engine in ("local", "serial"):
        stages = _stages(tmp_path / engine)
        assert set(stages) == {"sign", "decide", "spans", "write", "manifest"}
        for st in stages.values():
            assert st["peak_rss_scope"] == "stage"
            assert 0 < st["peak_rss_main"] < before - (256 << 20), (engine, st)
            assert st["peak_rss_worker"] < before - (256 << 20), (engine, st)
        for name in ("sign", "decide", "spans", "write"):
            assert stages[name]["peak_rss_worker"] > 0, (engine, name)
        assert stages["decide"]["tasks"] > 0
    # the serial engine runs the tasks inside the stage: the stage's peak includes theirs
    serial = _stages(tmp_path / "serial")
    assert serial["sign"]["peak_rss_main"] >= serial["sign"]["peak_rss_worker"]
    md = (tmp_path / "local" / "report.md").read_text()
    assert "held during the stage" in md
    assert "| manifest |" in md and md.split("| manifest |")[1].split("\n")[0].endswith("| - |")
