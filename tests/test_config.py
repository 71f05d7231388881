"""Config values are typed and checked when the config is built: a wrong value stops every
command before any work, with one line naming the key, the value and what is allowed."""

from __future__ import annotations

import json
import os
import re
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
    ("input.batch_rows=0", ["input.batch_rows", "0", "from 1 to 1048576"]),
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
    (["sweep", SAMPLE, "--ngram", "0"], 2, ["minhash.ngram", "0", "from 1 to 100"]),
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
    with pytest.raises(ConfigError, match=r"\(lsh\.threshold\) = 'abc'"):
        dedupe.run_table(table, tmp_path / "b", engine__name="serial", threshold="abc")
    with pytest.raises(ConfigError, match=r"\(minhash\.num_perm\) = 64\.0: expected an integer"):
        dedupe.load_config(**{"minhash.num_perm": 64.0})
    with pytest.raises(ConfigError, match=r"output\.compression = 'lzo' is not one of"):
        dedupe.load_config(**{"output.compression": "lzo"})
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()
    report = dedupe.run_table(table, tmp_path / "c", engine__name="serial",
                              normalize__nfkc="false", threshold=1)
    assert report.parameters["normalize"]["nfkc"] is False
    assert report.parameters["lsh"]["threshold"] == 1.0


# One wrong value for every config key, given with --set: (setting, a word of what is allowed).
# The value itself must appear in the message too.
WRONG_VALUES = [
    ("input.paths=more.parquet", "INPUTS"),
    ("input.format=xml", "'jsonl'"),
    ("input.text_column=", "column name"),
    ("input.id_column= ", "null"),
    ("input.batch_rows=1048577", "from 1 to 1048576"),
    ("input.on_bad_row=skip", "'reject'"),
    ("input.max_doc_bytes=1073741825", "from 1 to 1073741824"),
    ("input.on_long_doc=cut", "'truncate'"),
    ("input.max_row_bytes=inf", "from 1 byte to 1GB"),
    ("normalize.nfkc=no", "true or false"),
    ("normalize.lowercase=1", "true or false"),
    ("normalize.fold_punctuation=yes", "true or false"),
    ("normalize.fold_whitespace=off", "true or false"),
    ("minhash.shingle=sentence", "'char'"),
    ("minhash.ngram=²", "integer"),
    ("minhash.num_perm=100000000", "from 1 to 8192"),
    ("minhash.seed=4294967296", "from 0 to 4294967295"),
    ("minhash.hash_scheme=md5", "'sha1'"),
    ("lsh.threshold=nan", "finite number"),
    ("lsh.bands=+-5", "integer or null"),
    ("lsh.rows=0", "from 1 to 8192"),
    ("lsh.fp_weight=-1", ">= 0"),
    ("lsh.fn_weight=inf", "finite number"),
    ("lsh.max_bucket_size=9223372036854775808", "from 1 to 9223372036854775807"),
    ("lsh.verify=maybe", "'exact'"),
    ("cluster.survivor=max:", "max:COLUMN"),
    ("spans.repeats=y", "true or false"),
    ("spans.min_tokens=1001", "from 1 to 1000"),
    ("spans.near=2", "true or false"),
    ("spans.near_threshold=0", "(0, 1]"),
    ("spans.boilerplate=on", "true or false"),
    ("spans.boilerplate_min_docs=0", "from 1 to 9223372036854775807"),
    ("spans.boilerplate_policy=none", "'keep_first'"),
    ("spans.windows=t", "true or false"),
    ("spans.partitions=1048577", "from 1 to 1048576"),
    ("spans.remove=nope", "true or false"),
    ("spans.min_length=-1", "from 0 to 1073741824"),
    ("spans.stats=10", "true or false"),
    ("spans.gopher_filter=0", "true or false"),
    ("spans.near_passages=maybe", "true or false"),
    ("spans.passage_threshold=1.5", "(0, 1]"),
    ("spans.passage_tokens=1", "from 2 to 1000"),
    ("spans.passage_stride=0", "from 1 to 1000"),
    ("spans.passage_ngram=0", "from 1 to"),
    ("spans.passage_num_perm=0", "from 1 to 8192"),
    ("output.out=elsewhere", "--out"),
    ("output.rows_per_shard=99999999999999999999999", "from 1 to 9223372036854775807"),
    ("output.bytes_per_shard=0", "from 1 to 9223372036854775807"),
    ("output.compression=lzo", "'zstd'"),
    ("output.overwrite=yes", "true or false"),
    ("output.workdir=", "OUT/_work"),
    ("engine.name=spark", "'ray'"),
    ("engine.workers=100000", "from 0 to 1024"),
    ("engine.address=auto", "--engine ray"),
    ("engine.memory_limit=1e400", "from 1 byte to 1PB"),
    ("engine.partitions=1048577", "from 0 to 1048576"),
    ("index.against=[1]", "list of strings"),
    ("index.write=", "null"),
    ("index.update=yes", "true or false"),
]


def test_the_wrong_values_cover_every_key():
    keys = {f"{section}.{key}" for section, values in dedupe.DedupeConfig().to_dict().items()
            for key in values}
    assert sorted(s.partition("=")[0] for s, _ in WRONG_VALUES) == sorted(keys)


@pytest.mark.parametrize("setting,allowed", WRONG_VALUES)
def test_a_wrong_value_of_any_key_stops_the_run_before_any_work(tmp_path, setting, allowed):
    key, _, value = setting.partition("=")
    out = tmp_path / "out"
    result = _invoke(["run", SAMPLE, "--out", str(out), "--set", setting])
    _assert_clean_error(result, 2, key, value if value.strip() else repr(value), allowed)
    assert not out.exists()


@pytest.mark.parametrize("flags,words", [
    (["--memory-limit", "inf"], ["--memory-limit", "engine.memory_limit", "'inf'", "1PB"]),
    (["--max-row-bytes", "1e400"], ["--max-row-bytes", "'1e400'", "from 1 byte to 1GB"]),
    (["--max-row-bytes", "1" + "0" * 400 + ".5KB"], ["input.max_row_bytes", "1GB"]),
    (["--seed", "4294967296"], ["--seed", "minhash.seed", "4294967296", "from 0 to 4294967295"]),
    (["--seed", "-1"], ["--seed", "-1", "from 0 to 4294967295"]),
    (["--batch-rows", str(10**20)], ["--batch-rows", str(10**20), "from 1 to 1048576"]),
    (["--bands", "100", "--rows", "100"], ["--bands x --rows", "lsh.bands x lsh.rows", "10000",
                                           "--num-perm (minhash.num_perm) = 128"]),
    (["--num-perm", "100000000"], ["--num-perm", "100000000", "from 1 to 8192"]),
    (["--ngram", "101"], ["--ngram", "minhash.ngram", "from 1 to 100"]),
    (["--span-min-tokens", "5000"], ["--span-min-tokens", "from 1 to 1000"]),
    (["--workers", "100000"], ["--workers", "from 0 to 1024"]),
    (["--max-doc-bytes", "0"], ["--max-doc-bytes", "from 1 to 1073741824"]),
    (["--fp-weight", "1e308", "--fn-weight", "1e308"], ["--fp-weight", "sum finite"]),
    (["--engine", "ray", "--address", "head node"], ["engine.address", "'head node'",
                                                      "ray://HOST:PORT"]),
    (["--text-column", " "], ["--text-column", "column name"]),
    (["--against", ""], ["--against", "index folder"]),
])
def test_flags_out_of_range_stop_the_run_before_any_work(tmp_path, flags, words):
    # --dry-run: the old code ran (or planned) these; a plan must refuse them as a run does
    for extra in ([], ["--dry-run"]):
        out = tmp_path / "out"
        result = _invoke(["run", SAMPLE, "--out", str(out), *flags, *extra])
        _assert_clean_error(result, 2, *words)
        assert not out.exists()


def test_integers_and_numbers_are_plain_ascii():
    for text in ("+-5", "²", "\u0661\u0662", "1_0", "0x10", "5.", "1e3", "", "++5"):
        with pytest.raises(ConfigError, match=r"\(minhash\.ngram\) = .*expected an integer"):
            dedupe.load_config(**{"minhash.ngram": text})
    big = "9" * 5000  # over Python's int() digit limit: a message, not a ValueError
    with pytest.raises(ConfigError, match=r"expected an integer"):
        dedupe.load_config(**{"minhash.ngram": big})
    for text in ("\u0661.\u0665", "0_.5", "nan", "inf", "-infinity", ".", "1e400", "0x1p-1"):
        with pytest.raises(ConfigError, match=r"\(lsh\.threshold\) = .*expected a finite"):
            dedupe.load_config(**{"lsh.threshold": text})
    with pytest.raises(ConfigError, match="expected a finite number"):
        dedupe.load_config(**{"lsh.threshold": 10**400})  # float() of it overflows
    cfg = dedupe.load_config(**{"minhash.ngram": " +3 ", "lsh.threshold": "5e-1",
                                "lsh.fp_weight": ".5", "lsh.fn_weight": "2."})
    assert (cfg.minhash.ngram, cfg.lsh.threshold, cfg.lsh.fp_weight) == (3, 0.5, 0.5)


def test_sizes_are_checked_and_exact():
    from dedupe.config import parse_bytes

    assert parse_bytes("x", " 512 MiB ") == 512 << 20
    assert parse_bytes("x", "1.5g") == 3 << 29
    assert parse_bytes("x", ".5KB") == 512
    assert parse_bytes("x", "1PB") == 1 << 50
    for bad in ("inf", "nan", "1e400", "1e3", "-1", "0.4", "\u0661GB", "4XB", "GB", "1.5.5",
                "1" + "0" * 400, 0, -1, 1 << 51, "2PB"):
        with pytest.raises(ConfigError, match=r"memory_limit\) = .*from 1 byte to 1PB, such"):
            dedupe.load_config(**{"engine.memory_limit": bad})
    for bad in (True, 2.5):
        with pytest.raises(ConfigError, match=r"memory_limit\) = .*expected a string or an"):
            dedupe.load_config(**{"engine.memory_limit": bad})
    with pytest.raises(ConfigError, match=r"input\.max_row_bytes.* = 1073741825: .* to 1GB"):
        dedupe.load_config(**{"input.max_row_bytes": (1 << 30) + 1})


def test_the_ends_of_a_range_are_allowed(tmp_path):
    cfg = dedupe.load_config(**{"minhash.seed": 2**32 - 1, "minhash.num_perm": 8192,
                                "lsh.bands": 64, "lsh.rows": 128, "engine.name": "ray",
                                "engine.address": "ray://10.0.0.1:10001", "engine.workers": 1024,
                                "input.batch_rows": 1 << 20, "input.max_row_bytes": "1GB",
                                "spans.partitions": 1 << 20, "engine.memory_limit": "1PB"})
    assert cfg.minhash.seed == 2**32 - 1 and cfg.lsh.bands * cfg.lsh.rows == 8192
    for address in ("auto", "local", "head:6379", "[::1]:6379", "10.0.0.1:6379", "ray://head"):
        assert dedupe.load_config(**{"engine.name": "ray", "engine.address": address})
    for seed in (0, 2**32 - 1):  # both ends of the seed range sign a corpus
        report = dedupe.run_table(make_corpus(20, seed=2), tmp_path / f"s{seed}",
                                  engine__name="serial", seed=seed, spans__min_tokens=1000,
                                  spans__min_length=0, ngram=100)
        assert report.parameters["minhash"]["seed"] == seed


def _config_problems(tmp_path: Path) -> list[tuple[Path, str]]:
    binary = tmp_path / "bin.toml"
    binary.write_bytes(bytes(range(256)))
    folder = tmp_path / "folder.toml"
    folder.mkdir()
    huge = tmp_path / "huge.toml"
    huge.write_bytes(b"#" * ((1 << 20) + 1))
    deep = tmp_path / "deep.toml"
    deep.write_text("a = " + "[" * 100_000 + "]" * 100_000 + "\n")
    digits = tmp_path / "digits.toml"
    digits.write_text("[lsh]\nbands = " + "9" * 5000 + "\n")
    return [(binary, "not UTF-8 text (byte 0x80 at offset 128)"), (folder, "a folder"),
            (huge, "over 1 MB"), (deep, "not valid TOML: nested too deeply"),
            (digits, "not valid TOML")]


def test_a_config_file_that_is_no_toml_text_is_named(tmp_path):
    out = tmp_path / "out"
    for path, words in _config_problems(tmp_path):
        with pytest.raises(ConfigError, match=f"config file {path} is {re.escape(words)}"):
            dedupe.run(SAMPLE, out, config=str(path))
        result = _invoke(["run", SAMPLE, "--out", str(out), "--config", str(path)])
        # click refuses a folder itself ("is a directory"), with a usage line before it
        _assert_clean_error(result, 2, str(path), "directory" if path.is_dir() else words)
    assert not out.exists()


def test_an_unreadable_config_file_is_named(tmp_path):
    path = tmp_path / ("x" * 300 + ".toml")  # unreadable for every user, root included
    with pytest.raises(ConfigError, match=r"config file .*x\.toml cannot be read: File name"):
        dedupe.load_config(path)
    path = tmp_path / "secret.toml"
    path.write_text("[lsh]\nthreshold = 0.8\n")
    path.chmod(0)
    if not os.access(path, os.R_OK):  # root reads files whatever their mode
        with pytest.raises(ConfigError, match=f"config file {path} cannot be read: Permission"):
            dedupe.load_config(path)


@pytest.mark.parametrize("flags,words", [
    (["--num-perm", "\u0661\u0662\u0668"], ["--num-perm", "expected an integer"]),  # was 128
    (["--threshold", "\u0660.\u0667"], ["--threshold", "expected a finite number"]),  # was 0.7
    (["--seed", "1_0"], ["--seed", "'1_0'", "expected an integer"]),  # was 10
])
def test_numeric_flags_take_ascii_digits_only(tmp_path, flags, words):
    out = tmp_path / "out"
    _assert_clean_error(_invoke(["run", SAMPLE, "--out", str(out), "--dry-run", *flags]), 2,
                        *words)
    _assert_clean_error(_invoke(["plan", SAMPLE, *flags[:2]]) if flags[0] != "--seed" else
                        _invoke(["plan", SAMPLE, "--set", f"minhash.seed={flags[1]}"]), 2, *words)


def test_sweep_checks_bands_against_every_num_perm_before_any_work(tmp_path):
    out = tmp_path / "sweep"
    result = _invoke(["sweep", SAMPLE, "--out", str(out), "--num-perm", "128,64",
                      "--set", "lsh.bands=20", "--set", "lsh.rows=5"])
    _assert_clean_error(result, 2, "lsh.bands x lsh.rows", "100", "(minhash.num_perm) = 64")
    assert not out.exists()


@pytest.mark.parametrize("args,words", [
    (["--thresholds", "0:1:1e-12"], ["--thresholds", "over 1000 values"]),  # was a MemoryError
    (["--thresholds", "0.1:0.9:0.0005"], ["--thresholds", "over 1000 values"]),
    (["--num-perm", "1:8192:1"], ["--num-perm", "over 1000 values"]),
    (["--thresholds", "0:inf:0.1"], ["--thresholds", "start:stop:step"]),
    (["--num-perm", "64,9000"], ["minhash.num_perm", "9000", "from 1 to 8192"]),
    (["--ngram", "3,1000"], ["minhash.ngram", "1000", "from 1 to 100"]),
    (["--workers", "-1"], ["--workers", "from 0 to 1024"]),
    (["--set", "input.paths=x.parquet"], ["input.paths", "INPUTS"]),
    (["--set", "output.out=elsewhere"], ["output.out", "--out"]),
])
def test_sweep_refuses_grids_and_options_out_of_range(tmp_path, args, words):
    out = tmp_path / "sweep"
    _assert_clean_error(_invoke(["sweep", SAMPLE, "--out", str(out), *args]), 2, *words)
    assert not out.exists()


def test_sweep_keeps_a_set_overwrite(tmp_path):
    out = tmp_path / "sweep"
    args = ["sweep", SAMPLE, "--out", str(out), "--thresholds", "0.8", "--num-perm", "16",
            "--set", "engine.name=serial"]
    assert _invoke(args).exit_code == 0
    (out / "sweep.parquet").unlink()
    refused = _invoke(args)
    assert refused.exit_code != 0 and "--overwrite" in refused.output
    result = _invoke([*args, "--set", "output.overwrite=true"])  # was replaced by False
    assert result.exit_code == 0, result.output
    assert (out / "sweep.parquet").exists()


@pytest.mark.parametrize("width", ["0", "-5", "x"])
def test_explain_width_must_be_positive(tmp_path, width):
    result = _invoke(["explain", str(tmp_path), "row-1", "--width", width])
    _assert_clean_error(result, 2, "--width")
