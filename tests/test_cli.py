"""The command line end to end on the bundled sample, then the files it wrote."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from dedupe.cli import main

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "data" / "sample"


@pytest.fixture(scope="module")
def sample_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("cli") / "run"
    result = CliRunner().invoke(main, ["run", str(SAMPLE), "--out", str(out), "--workers", "1"])
    assert result.exit_code == 0, result.output
    return out, result


def test_run_writes_shards_manifest_and_report(sample_run):
    out, result = sample_run
    assert "kept" in result.output and "near_duplicate" in result.output
    manifest = pq.read_table(out / "manifest.parquet")
    assert manifest.num_rows == 400
    report = json.loads((out / "report.json").read_text())
    assert report["rows"] == 400
    assert sum(report["counts"].values()) == 400
    assert report["counts"]["near_duplicate"] > 0 and report["counts"]["exact_duplicate"] > 0
    assert (out / "report.md").read_text().startswith("# dedupe run report")
    data = pq.read_table(out / "data")
    assert data.num_rows == report["counts"]["kept"]
    assert data.schema.equals(pq.read_schema(SAMPLE / "web-000.parquet"))


def test_sample_accuracy_against_its_truth(sample_run):
    from dedupe.evaluate import score

    out, _ = sample_run
    manifest = pq.read_table(out / "manifest.parquet")
    data = pq.read_table(SAMPLE / "web-000.parquet").select(["id", "cluster"])
    truth = pq.read_table(ROOT / "data" / "sample_truth.parquet")
    m = manifest.to_pydict()
    pred_by_row = {
        (f.endswith(".parquet"), r): c
        for f, r, c in zip(m["source_file"], m["source_row"], m["cluster_id"])
    }
    pred = [pred_by_row[(True, i)] for i in range(data.num_rows)] + [
        pred_by_row[(False, i)] for i in range(truth.num_rows - data.num_rows)
    ]
    s = score(truth["cluster"].to_numpy(), pred)
    assert s["precision"] >= 0.98 and s["recall"] >= 0.95, s


def test_explain_shows_survivor_and_diff(sample_run):
    out, _ = sample_run
    manifest = pq.read_table(out / "manifest.parquet")
    near = manifest.filter(pc.equal(manifest["action"], "near_duplicate"))
    row = near.slice(0, 1).to_pylist()[0]
    result = CliRunner().invoke(main, ["explain", str(out), row["id"], "--width", "400"])
    assert result.exit_code == 0, result.output
    assert "near_duplicate" in result.output
    assert row["survivor_id"] in result.output
    assert "Jaccard" in result.output
    assert "only in the survivor" in result.output
    missing = CliRunner().invoke(main, ["explain", str(out), "no-such-id"])
    assert missing.exit_code != 0 and "no row with id" in missing.output


def test_explain_takes_a_file_row_id_relative_to_the_current_folder(sample_run, monkeypatch):
    out, _ = sample_run
    row = pq.read_table(out / "manifest.parquet").slice(3, 1).to_pylist()[0]
    path, _, number = row["id"].rpartition(":")
    monkeypatch.chdir(os.path.dirname(path))
    result = CliRunner().invoke(main, ["explain", str(out), f"{os.path.basename(path)}:{number}"])
    assert result.exit_code == 0, result.output
    assert row["action"] in result.output


def test_existing_output_is_refused(sample_run):
    out, _ = sample_run
    result = CliRunner().invoke(main, ["run", str(SAMPLE), "--out", str(out), "--workers", "1"])
    assert result.exit_code != 0 and "--overwrite" in result.output


def test_config_file_and_set_override(tmp_path):
    cfg = tmp_path / "dedupe.toml"
    cfg.write_text("[lsh]\nthreshold = 0.9\n[minhash]\nngram = 2\n[engine]\nworkers = 1\n")
    out = tmp_path / "o"
    result = CliRunner().invoke(
        main,
        [
            "run",
            str(SAMPLE),
            "--out",
            str(out),
            "--config",
            str(cfg),
            "--set",
            "minhash.num_perm=64",
            "-q",
        ],
    )
    assert result.exit_code == 0, result.output
    params = json.loads((out / "report.json").read_text())["parameters"]
    assert params["lsh"]["threshold"] == 0.9
    assert params["minhash"]["ngram"] == 2 and params["minhash"]["num_perm"] == 64
    bad = CliRunner().invoke(
        main, ["run", str(SAMPLE), "--out", str(tmp_path / "x"), "--set", "lsh.nope=1"]
    )
    assert bad.exit_code != 0 and "unknown option 'lsh.nope'" in bad.output


def test_bad_input_message_names_the_file(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"text": "fine words"}\nnot json\n')
    result = CliRunner().invoke(main, ["run", str(path), "--out", str(tmp_path / "o")])
    assert result.exit_code == 1
    assert "bad.jsonl, line 2 (row 1): not valid JSON" in result.output
    assert "Traceback" not in result.output


def test_installed_entry_point_runs(tmp_path):
    exe = Path(sys.executable).with_name("dedupe")
    if not exe.exists():
        pytest.skip("the dedupe console script is not installed next to this interpreter")
    proc = subprocess.run(
        [str(exe), "run", str(SAMPLE), "--out", str(tmp_path / "o"), "--workers", "2", "-q"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert pq.read_table(tmp_path / "o" / "manifest.parquet").num_rows == 400


def test_plan_and_dry_run_read_metadata_only(tmp_path):
    out = tmp_path / "never"
    result = CliRunner().invoke(main, ["run", str(SAMPLE), "--out", str(out), "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "documents: 400" in result.output and "bands x rows" in result.output
    assert "work folder" in result.output and "memory" in result.output
    assert not out.exists()
    plan = CliRunner().invoke(main, ["plan", str(SAMPLE / "web-000.parquet")])
    assert plan.exit_code == 0 and "documents: 200" in plan.output


def _corrupt_inputs(folder: Path) -> dict[str, tuple[Path, str]]:
    """Files that cannot be read, each with what the error must say about it."""
    import gzip

    good = (SAMPLE / "web-000.parquet").read_bytes()
    lines = b"".join(b'{"text": "page %d"}\n' % i for i in range(2000))
    files = {
        "truncated.parquet": (good[: len(good) // 2], "not a readable Parquet file"),
        "garbage.parquet": (b"no parquet here" * 10, "not a readable Parquet file"),
        "plain.jsonl.gz": (lines, "the stream cannot be read"),
        "cut.jsonl.gz": (gzip.compress(lines)[:200], "the stream cannot be read"),
        "garbage.jsonl.zst": (b"no zstd frame" * 10, "the stream cannot be read"),
    }
    out = {}
    for name, (data, says) in files.items():
        (folder / name).write_bytes(data)
        out[name] = (folder / name, says)
    return out


@pytest.mark.parametrize("name", ["truncated.parquet", "garbage.parquet", "plain.jsonl.gz",
                                  "cut.jsonl.gz", "garbage.jsonl.zst"])
def test_plan_and_dry_run_report_a_corrupt_input_in_one_line(tmp_path, name):
    path, says = _corrupt_inputs(tmp_path)[name]
    for args in (["plan", str(path)], ["run", str(path), "--out", str(tmp_path / "o"),
                                       "--dry-run"]):
        result = CliRunner().invoke(main, args)
        assert result.exit_code == 1, result.output
        assert "Traceback" not in result.output and result.exception is not None
        assert result.output.startswith(f"Error: {path}") and says in result.output
        assert len(result.output.strip().splitlines()) == 1


def test_plan_refuses_a_missing_text_column_as_run_does(tmp_path):
    path = SAMPLE / "web-000.parquet"
    plan = CliRunner().invoke(main, ["plan", str(path), "--text-column", "txt"])
    run = CliRunner().invoke(main, ["run", str(path), "--out", str(tmp_path / "o"), "-q",
                                    "--text-column", "txt", "--engine", "serial"])
    assert plan.exit_code == run.exit_code == 1
    assert "no text column 'txt'" in plan.output and "text: " not in plan.output
    assert plan.output == run.output


def test_span_options_reach_the_config(tmp_path, sample_run):
    out = tmp_path / "o"
    result = CliRunner().invoke(main, [
        "run", str(SAMPLE), "--out", str(out), "--workers", "1", "-q", "--remove-spans",
        "--min-length", "20", "--boilerplate-min-docs", "4", "--span-min-tokens", "12",
        "--boilerplate-policy", "keep_first", "--no-span-near", "--repetition-stats"])
    assert result.exit_code == 0, result.output
    spans = json.loads((out / "report.json").read_text())["parameters"]["spans"]
    assert spans["remove"] and spans["min_length"] == 20 and spans["boilerplate_min_docs"] == 4
    assert spans["min_tokens"] == 12 and spans["boilerplate_policy"] == "keep_first"
    assert spans["near"] is False and spans["stats"] is True
    assert pq.read_table(out / "spans.parquet").num_rows > 0
    assert "dup_line_frac" in pq.read_table(out / "manifest.parquet").column_names
    # and they change the run's outputs, compared with the defaults' run of the same sample
    default, _ = sample_run
    assert "dup_line_frac" not in pq.read_table(default / "manifest.parquet").column_names

    def boilerplate(run):
        spans = pq.read_table(run / "spans.parquet").to_pylist()
        return [s for s in spans if s["kind"] == "boilerplate"]

    # keep_first: the page a line is first seen on keeps it unflagged (all: every copy flagged)
    assert sum(s["id"] == s["first_id"] for s in boilerplate(default)) > 0
    assert sum(s["id"] == s["first_id"] for s in boilerplate(out)) == 0
    # --remove-spans: the flagged copies are cut out of the output text, the first one stays
    cookie = "We use cookies to improve your experience. Accept all"
    texts = {run: pq.read_table(run / "data")["text"].to_pylist() for run in (default, out)}
    assert sum(cookie in t for t in texts[default]) > 100
    assert sum(cookie in t for t in texts[out]) == 1
    cut = sum(map(len, texts[default])) - sum(map(len, texts[out]))
    report = json.loads((out / "report.json").read_text())
    assert cut > 0.8 * report["spans"]["boilerplate"]["chars"]


def test_every_option_flag_is_an_option_of_dedupe_run_and_back():
    """``config.OPTION_KEYS`` is the one table of option names: each flag the library names in
    a message (``option_flag``) is a real ``dedupe run`` option, and every ``dedupe run``
    option that sets a config key reaches it through the table (no option is dropped)."""
    from dedupe.config import OPTION_KEYS, option_flag

    params = {p.name: p for p in main.commands["run"].params}
    for name, key in OPTION_KEYS.items():
        assert option_flag(key) in params[name].opts, key
    own = {"inputs", "out", "config_path", "set_values", "overwrite", "quiet", "dry_run"}
    assert set(params) - own == set(OPTION_KEYS) - {"overwrite"}
    assert option_flag("lsh.threshold") == "--threshold"
    assert option_flag("spans.min_tokens") == "--span-min-tokens"
    assert option_flag("normalize.lowercase") is None  # reached by --set only
