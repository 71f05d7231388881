"""Config values are typed and checked when the config is built: a wrong value stops every
command before any work, with one line naming the key, the value and what is allowed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

import dedupe
from dedupe.cli import main
from dedupe.errors import ConfigError
from tests.synth import make_corpus

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = str(ROOT / "data" / "sample")


def _invoke(args: list[str]):
    return CliRunner().invoke(main, args)


def _assert_clean_error(result, code: int, *words: str) -> None:
    """Exit status ``code``, no traceback, and a message naming every one of ``words``."""
    assert result.exit_code == code, (result.exit_code, result.output, result.exception)
    assert isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output
    message = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(message) == 1, result.output
    for word in words:
        assert word in message[0], (word, message[0])


@pytest.mark.parametrize("setting,words", [
    ("lsh.threshold=abc", ["lsh.threshold", "'abc'", "number"]),
    ("normalize.nfkc=no", ["normalize.nfkc", "'no'", "true or false"]),
    ("output.compression=bogus", ["output.compression", "'bogus'", "'zstd'", "'snappy'"]),
    ("minhash.ngram=2.5", ["minhash.ngram", "'2.5'", "integer"]),
    ("input.batch_rows=0", ["input.batch_rows", "0", "positive integer"]),
    ("lsh.bands=x", ["lsh.bands", "'x'", "integer or null"]),
    ("lsh.fp_weight=-1", ["lsh.fp_weight", "-1", ">= 0"]),
    ("lsh.nope=1", ["lsh.nope", "threshold"]),
    ("engine.memory_limit=lots", ["engine.memory_limit", "'lots'", "4GB"]),
])
def test_run_refuses_a_wrong_set_value_before_any_work(tmp_path, setting, words):
    out = tmp_path / "out"
    result = _invoke(["run", SAMPLE, "--out", str(out), "--set", setting])
    _assert_clean_error(result, 2, *words)
    assert not out.exists()


def test_a_wrong_value_in_the_config_file_is_named(tmp_path):
    cfg = tmp_path / "dedupe.toml"
    cfg.write_text('[normalize]\nnfkc = "no"\n')
    out = tmp_path / "out"
    result = _invoke(["run", SAMPLE, "--out", str(out), "--config", str(cfg)])
    _assert_clean_error(result, 2, "normalize.nfkc", "'no'", "true or false")
    cfg.write_text('[input]\nbatch_rows = 10.5\n')
    result = _invoke(["run", SAMPLE, "--out", str(out), "--config", str(cfg)])
    _assert_clean_error(result, 2, "input.batch_rows", "10.5", "integer")
    assert not out.exists()


@pytest.mark.parametrize("args,code,words", [
    (["sweep", SAMPLE, "--thresholds", "abc"], 2, ["--thresholds", "'abc'"]),
    (["sweep", SAMPLE, "--thresholds", "0.9:0.1:0.1"], 2, ["--thresholds", "no value"]),
    (["sweep", SAMPLE, "--thresholds", "0.5,1.5"], 2, ["lsh.threshold", "1.5", "(0, 1]"]),
    (["sweep", SAMPLE, "--ngram", "x"], 2, ["--ngram", "'x'", "integers"]),
    (["sweep", SAMPLE, "--ngram", "0"], 2, ["minhash.ngram", "0", "positive"]),
    (["sweep", SAMPLE, "--num-perm", "64,1.5"], 2, ["--num-perm", "'64,1.5'"]),
    (["sweep", SAMPLE, "--shingle", "word,sentence"], 2, ["minhash.shingle", "'sentence'"]),
    (["sweep", SAMPLE, "--set", "lsh.verify=maybe"], 2, ["lsh.verify", "'maybe'", "'exact'"]),
])
def test_sweep_refuses_a_wrong_grid_before_any_work(tmp_path, args, code, words):
    out = tmp_path / "sweep"
    _assert_clean_error(_invoke([*args, "--out", str(out)]), code, *words)
    assert not out.exists()


def test_plan_explain_and_index_name_the_wrong_value(tmp_path):
    _assert_clean_error(_invoke(["plan", SAMPLE, "--set", "minhash.num_perm=1.5"]), 2,
                        "minhash.num_perm", "'1.5'", "integer")
    missing = str(tmp_path / "no-such-run")
    _assert_clean_error(_invoke(["explain", missing, "row-1"]), 2, "no-such-run",
                        "does not exist")
    _assert_clean_error(_invoke(["explain", str(tmp_path), "row-1"]), 1, str(tmp_path),
                        "report.json")
    _assert_clean_error(_invoke(["index", "build", missing, "--out", str(tmp_path / "ix")]), 2,
                        "no-such-run", "does not exist")
    _assert_clean_error(_invoke(["index", "build", str(tmp_path), "--out", str(tmp_path / "i")]),
                        1, str(tmp_path), "report.json")
    _assert_clean_error(_invoke(["index", "info", str(tmp_path)]), 1, str(tmp_path),
                        "header.json")
    (tmp_path / "report.json").write_text("{not json")
    _assert_clean_error(_invoke(["explain", str(tmp_path), "row-1"]), 1,
                        str(tmp_path / "report.json"), "not a dedupe run report")


def test_set_values_are_read_as_their_keys_type(tmp_path):
    out = tmp_path / "out"
    result = _invoke(["run", SAMPLE, "--out", str(out), "-q", "--engine", "serial",
                      "--set", "normalize.nfkc=false", "--set", "lsh.threshold=0.8",
                      "--set", "minhash.num_perm=64", "--set", "input.id_column=null",
                      "--set", "input.text_column=text"])
    assert result.exit_code == 0, result.output
    params = json.loads((out / "report.json").read_text())["parameters"]
    assert params["normalize"]["nfkc"] is False
    assert params["lsh"]["threshold"] == 0.8 and params["minhash"]["num_perm"] == 64
    assert params["input"]["id_column"] is None


def test_library_calls_are_typed_the_same_way(tmp_path):
    table = make_corpus(20, seed=2)
    with pytest.raises(ConfigError, match=r"normalize\.nfkc = 'no': expected true or false"):
        dedupe.run_table(table, tmp_path / "a", engine__name="serial", normalize__nfkc="no")
    with pytest.raises(ConfigError, match=r"lsh\.threshold = 'abc'"):
        dedupe.run_table(table, tmp_path / "b", engine__name="serial", threshold="abc")
    with pytest.raises(ConfigError, match=r"minhash\.num_perm = 64\.0: expected an integer"):
        dedupe.load_config(**{"minhash.num_perm": 64.0})
    with pytest.raises(ConfigError, match=r"output\.compression = 'lzo' is not one of"):
        dedupe.load_config(**{"output.compression": "lzo"})
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()
    report = dedupe.run_table(table, tmp_path / "c", engine__name="serial",
                              normalize__nfkc="false", threshold=1)
    assert report.parameters["normalize"]["nfkc"] is False
    assert report.parameters["lsh"]["threshold"] == 1.0
