"""One test per option that changes what a run writes: run the command, then read the files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from datasketch import MinHash

from dedupe.cli import main
from tests.conftest import write_jsonl, write_parquet
from tests.synth import make_corpus

NO_SPANS = ["--no-spans", "--no-boilerplate"]


def _run(*args: str) -> None:
    result = CliRunner().invoke(main, [str(a) for a in args])
    assert result.exit_code == 0, (result.output, result.exception)


def _run_cli(inputs, out, *options) -> dict:
    """``dedupe run`` in this process (serial engine); returns report.json."""
    _run("run", *inputs, "--out", out, "--engine", "serial", "-q", *options)
    return json.loads((Path(out) / "report.json").read_text())


def _manifest(out) -> list[dict]:
    table = pq.read_table(Path(out) / "manifest.parquet")
    return table.sort_by([("source_file", "ascending"), ("source_row", "ascending")]).to_pylist()


def _words(prefix: str, n: int) -> list[str]:
    return [f"{prefix}{i}" for i in range(n)]


def test_on_long_doc_reject_records_the_reason(tmp_path):
    long, short = " ".join(_words("w", 400)), " ".join(_words("s", 40))
    path = write_parquet(tmp_path / "in.parquet", [{"text": long}, {"text": short}])
    _run_cli([path], tmp_path / "cut", "--max-doc-bytes", "500")
    assert [r["action"] for r in _manifest(tmp_path / "cut")] == ["kept", "kept"]
    report = _run_cli([path], tmp_path / "rej", "--max-doc-bytes", "500",
                      "--on-long-doc", "reject")
    rows = _manifest(tmp_path / "rej")
    assert [r["action"] for r in rows] == ["rejected", "kept"]
    assert rows[0]["reason"] == f"text is {len(long)} bytes, over max_doc_bytes=500"
    assert report["counts"]["rejected"] == 1
    assert pq.read_table(tmp_path / "rej" / "data")["text"].to_pylist() == [short]


def test_fp_and_fn_weights_choose_the_bands(tmp_path):
    path = write_parquet(tmp_path / "in.parquet", make_corpus(40, seed=3))
    recall = _run_cli([path], tmp_path / "a", *NO_SPANS)["lsh"]
    precision = _run_cli([path], tmp_path / "b", *NO_SPANS, "--fp-weight", "0.9",
                         "--fn-weight", "0.1")["lsh"]
    assert (recall["bands"], recall["rows"]) != (precision["bands"], precision["rows"])
    # weighting false positives up makes pairs below the threshold rarer candidates
    assert precision["s_curve"]["0.6"] < recall["s_curve"]["0.6"] / 10
    assert "bands x rows = 8 x 16" in (tmp_path / "b" / "report.md").read_text()


def test_max_bucket_size_reports_oversized_buckets(tmp_path):
    base = _words("w", 60)
    pages = []
    for k in range(12):  # twelve copies of one page, one word edited in each
        words = list(base)
        words[5 * k] = f"edit{k}"
        pages.append({"text": " ".join(words)})
    path = write_parquet(tmp_path / "in.parquet", pages)
    free = _run_cli([path], tmp_path / "free", *NO_SPANS)
    capped = _run_cli([path], tmp_path / "capped", *NO_SPANS, "--max-bucket-size", "4")
    assert free["lsh"]["oversized_buckets"] == 0
    assert capped["lsh"]["oversized_buckets"] > 0
    assert capped["lsh"]["largest_bucket"] > 4
    md = (tmp_path / "capped" / "report.md").read_text()
    assert f"buckets over 4 members: {capped['lsh']['oversized_buckets']}" in md
    # cut buckets are still chained, so the copies stay one cluster
    assert capped["counts"]["kept"] == free["counts"]["kept"] == 1


def test_verify_none_keeps_unverified_candidates(tmp_path):
    base = _words("w", 60)
    other = " ".join(base[:30] + _words("x", 30))  # word 2-gram Jaccard about 0.33
    path = write_parquet(tmp_path / "in.parquet", [{"text": " ".join(base)}, {"text": other}])
    banding = ["--bands", "128", "--rows", "1", *NO_SPANS]  # any shared shingle collides
    checked = _run_cli([path], tmp_path / "sig", *banding)
    unchecked = _run_cli([path], tmp_path / "none", *banding, "--verify", "none")
    assert checked["lsh"]["candidate_pairs"] == unchecked["lsh"]["candidate_pairs"] == 1
    assert [r["action"] for r in _manifest(tmp_path / "sig")] == ["kept", "kept"]
    rows = _manifest(tmp_path / "none")
    assert [r["action"] for r in rows] == ["kept", "near_duplicate"]
    assert rows[1]["similarity"] < 0.5  # removed although far below the 0.75 threshold


def test_hash_scheme_sha1_run_matches_datasketch(tmp_path):
    from dedupe.config import NormalizeConfig
    from dedupe.text.normalize import canonical_text
    from dedupe.text.shingle import shingle_strings

    base = _words("w", 80)
    texts = [" ".join(base)]
    for k in range(1, 4):  # near copies, k words edited
        words = list(base)
        for j in range(k):
            words[20 * j + 3] = f"edit{j}"
        texts.append(" ".join(words))
    path = write_parquet(tmp_path / "in.parquet", [{"text": t} for t in texts])

    def datasketch_minhash(text: str) -> MinHash:
        m = MinHash(num_perm=128, seed=1)
        for s in shingle_strings(canonical_text(text, NormalizeConfig()), "word", 2):
            m.update(s.encode("utf-8"))
        return m

    sketches = [datasketch_minhash(t) for t in texts]
    for scheme in ("native", "sha1"):
        _run_cli([path], tmp_path / scheme, *NO_SPANS, "--hash-scheme", scheme)
    rows = _manifest(tmp_path / "sha1")
    assert [r["action"] for r in rows] == ["kept"] + ["near_duplicate"] * 3
    expected = [sketches[0].jaccard(s) for s in sketches[1:]]
    assert [r["similarity"] for r in rows[1:]] == expected
    native = [r["similarity"] for r in _manifest(tmp_path / "native")[1:]]
    assert native != expected  # the scheme changed the hash values
    meta = pq.read_schema(next((tmp_path / "sha1" / "manifest.parquet").iterdir())).metadata
    assert meta[b"dedupe.hash_function"] == b"sha1"


def test_format_jsonl_reads_a_file_of_any_name(tmp_path):
    rows = make_corpus(30, seed=8).select(["id", "text"]).to_pylist()
    path = write_jsonl(tmp_path / "pages.txt", rows)
    result = CliRunner().invoke(main, ["run", str(path), "--out", str(tmp_path / "auto"), "-q"])
    assert result.exit_code == 1 and "--format" in result.output
    report = _run_cli([path], tmp_path / "jsonl", "--format", "jsonl", "--id-column", "id")
    assert report["rows"] == 30
    assert {r["id"] for r in _manifest(tmp_path / "jsonl")} == {r["id"] for r in rows}


def _codecs(path: Path) -> set[str]:
    meta = pq.ParquetFile(path).metadata
    assert meta.num_row_groups > 0, f"{path} has no row group to read the codec from"
    return {meta.row_group(g).column(c).compression
            for g in range(meta.num_row_groups) for c in range(meta.num_columns)}


@pytest.mark.parametrize("codec", ["gzip", "none"])
def test_output_compression_applies_to_every_parquet_file(tmp_path, codec):
    want = "UNCOMPRESSED" if codec == "none" else codec.upper()
    path = write_parquet(tmp_path / "in.parquet", make_corpus(120, seed=4))
    setting = f"output.compression={codec}"
    run, index, built, sweep = (tmp_path / n for n in ("run", "index", "built", "sweep"))
    report = _run_cli([path], run, "--set", setting, "--write-index", index)
    assert report["spans"]["boilerplate"]["spans"] > 0  # spans.parquet has rows
    _run("index", "build", run, "--out", built)
    _run("sweep", path, "--out", sweep, "--thresholds", "0.7,0.8", "--set", setting,
         "--set", "engine.name=serial")
    files = [*run.rglob("*.parquet"), *index.rglob("*.parquet"), *built.rglob("*.parquet"),
             sweep / "sweep.parquet"]
    files = [f for f in files if f.is_file()]
    names = {str(f.relative_to(tmp_path)).split("/", 1)[0] + "/" + f.name for f in files}
    for must in ("run/part-00000.parquet", "run/spans.parquet", "index/docs.parquet",
                 "index/digests.parquet", "index/band-000.parquet", "index/boilerplate.parquet",
                 "built/docs.parquet", "sweep/sweep.parquet"):
        assert must in names, must
    assert len([f for f in files if "manifest.parquet" in str(f)]) == 1
    assert len([f for f in files if f.parent.name == "data"]) >= 1
    for f in files:
        assert _codecs(f) == {want}, f


def test_batch_rows_lowers_the_sign_tasks_peak_not_the_results(tmp_path):
    rng = np.random.default_rng(0)
    vocab = np.array(_words("w", 5000))
    inputs = []
    for f in range(2):  # two files of ~4 MB of text, one row group each: one task per worker
        texts = [" ".join(rng.choice(vocab, 1500)) for _ in range(600)]
        inputs.append(write_parquet(tmp_path / f"in{f}.parquet", pa.table({"text": texts})))
    peaks = {}
    for rows in (600, 8):
        out = tmp_path / f"b{rows}"
        _run("run", *inputs, "--out", out, "--workers", "2", "-q", *NO_SPANS,
             "--batch-rows", rows)
        sign = json.loads((out / "report.json").read_text())["stages"][0]
        assert sign["name"] == "sign" and sign["peak_rss_scope"] == "stage"
        peaks[rows] = sign["peak_rss_worker"]
    # 600 rows of 9 kB hashed at once hold tens of MB of numpy temporaries; 8 rows do not
    assert peaks[600] - peaks[8] > 24 << 20, {k: v >> 20 for k, v in peaks.items()}
    assert pq.read_table(tmp_path / "b8" / "manifest.parquet").equals(
        pq.read_table(tmp_path / "b600" / "manifest.parquet"))
    assert pq.read_table(tmp_path / "b8" / "data").equals(
        pq.read_table(tmp_path / "b600" / "data"))


# --- options whose effect a user checks in the outputs ------------------------------------------


def _texts(out) -> list[str]:
    return pq.read_table(Path(out) / "data")["text"].to_pylist()


def test_seed_changes_the_signatures_and_one_seed_gives_one_result(tmp_path):
    path = write_parquet(tmp_path / "in.parquet", make_corpus(60, seed=3))
    runs = {name: _run_cli([path], tmp_path / name, *NO_SPANS, "--seed", seed)
            for name, seed in (("a", 1), ("b", 1), ("c", 4294967295))}
    assert [runs[n]["parameters"]["minhash"]["seed"] for n in "abc"] == [1, 1, 4294967295]
    meta = {n: pq.read_schema(next((tmp_path / n / "manifest.parquet").iterdir())).metadata
            for n in "ac"}
    assert (meta["a"][b"dedupe.seed"], meta["c"][b"dedupe.seed"]) == (b"1", b"4294967295")
    manifests = {n: pq.read_table(tmp_path / n / "manifest.parquet") for n in "abc"}
    assert manifests["a"].equals(manifests["b"])  # one seed: the same result, run after run
    near = [i for i, a in enumerate(manifests["a"]["action"].to_pylist()) if a == "near_duplicate"]
    assert len(near) > 5
    sims = {n: [manifests[n]["similarity"][i].as_py() for i in near] for n in "ac"}
    # another seed, other permutations: the estimated Jaccard of the same pairs changes
    assert sum(x != y for x, y in zip(sims["a"], sims["c"])) > len(near) // 2


def _page_with_an_edited_repeat() -> str:
    """30 words, then the same 30 with every sixth word edited (83 % of tokens alike): no
    10-token window repeats verbatim, so only the near-repeat search finds the copy."""
    words = [f"w{i}" for i in range(30)]
    edited = [f"x{i}" if i % 6 == 5 else w for i, w in enumerate(words)]
    return " ".join(["intro", "text", *words, "middle", "part", "here", *edited, "the", "end"])


def _spans(out) -> list[tuple[str, int, int]]:
    table = pq.read_table(Path(out) / "spans.parquet")
    return [(s["kind"], s["start"], s["end"]) for s in table.to_pylist()]


def test_span_near_and_its_threshold_find_an_edited_repeat(tmp_path):
    page = _page_with_an_edited_repeat()
    path = write_parquet(tmp_path / "in.parquet", [{"text": page}])
    copy = page.index("w0 w1 w2 w3 w4 x5")
    want = [("repeat", copy, page.index(" x29"))]  # the copy, to its last word alike (w28)
    report = _run_cli([path], tmp_path / "near", "--no-boilerplate", "--span-near")
    assert _spans(tmp_path / "near") == want and report["spans"]["repeat"]["spans"] == 1
    _run_cli([path], tmp_path / "exact", "--no-boilerplate", "--no-span-near")
    assert _spans(tmp_path / "exact") == []
    # 83 % of the tokens alike: found at 0.8, not at 0.95
    _run_cli([path], tmp_path / "t80", "--no-boilerplate", "--set", "spans.near_threshold=0.8")
    _run_cli([path], tmp_path / "t95", "--no-boilerplate", "--set", "spans.near_threshold=0.95")
    assert _spans(tmp_path / "t80") == want and _spans(tmp_path / "t95") == []


def test_span_min_tokens_is_the_shortest_repeat_flagged(tmp_path):
    twelve = " ".join(f"r{i}" for i in range(12))
    page = f"a b {twelve} c d e {twelve} f"
    path = write_parquet(tmp_path / "in.parquet", [{"text": page}])
    second = page.rindex(twelve)
    for tokens, want in ((10, [("repeat", second, second + len(twelve))]),
                         (12, [("repeat", second, second + len(twelve))]), (13, [])):
        out = tmp_path / f"m{tokens}"
        _run_cli([path], out, "--no-boilerplate", "--no-span-near", "--span-min-tokens", tokens)
        assert _spans(out) == want, tokens


@pytest.mark.parametrize("key,a,b", [
    # the same page with typographic and with plain punctuation
    ("normalize.fold_punctuation", "\u201cHello\u201d \u2014 it\u2019s", "\"Hello\" - it's"),
    # the same page with other whitespace
    ("normalize.fold_whitespace", "Hello,  world!\n\n\t", "Hello, world! "),
])
def test_normalize_folding_makes_variants_exact_duplicates(tmp_path, key, a, b):
    body = " ".join(f"word{i}" for i in range(60))
    rows = [{"text": a + body}, {"text": b + body.replace(" ", "\n ", 5)}]
    if key == "normalize.fold_punctuation":
        rows[1]["text"] = b + body
    path = write_parquet(tmp_path / "in.parquet", rows)
    folded = _run_cli([path], tmp_path / "on", *NO_SPANS, "--set", f"{key}=true")
    kept = _run_cli([path], tmp_path / "off", *NO_SPANS, "--set", f"{key}=false")
    assert [r["action"] for r in _manifest(tmp_path / "on")] == ["kept", "exact_duplicate"]
    assert [r["action"] for r in _manifest(tmp_path / "off")] == ["kept", "near_duplicate"]
    assert folded["counts"]["exact_duplicate"] == 1 and kept["counts"]["exact_duplicate"] == 0
    assert kept["parameters"]["normalize"][key.split(".")[1]] is False


def test_format_parquet_reads_a_file_of_any_name(tmp_path):
    table = make_corpus(30, seed=8)
    path = write_parquet(tmp_path / "pages.bin", table)
    result = CliRunner().invoke(main, ["run", str(path), "--out", str(tmp_path / "auto"), "-q"])
    assert result.exit_code == 1 and "--format" in result.output
    report = _run_cli([path], tmp_path / "pq", "--format", "parquet", "--id-column", "id")
    assert report["rows"] == 30
    assert {r["id"] for r in _manifest(tmp_path / "pq")} == set(table["id"].to_pylist())
    jsonl = CliRunner().invoke(main, ["run", str(path), "--out", str(tmp_path / "j"), "-q",
                                      "--format", "jsonl", "--engine", "serial"])
    assert jsonl.exit_code == 1 and "pages.bin" in jsonl.output  # read as JSONL: not JSON


def test_quiet_writes_nothing_to_the_terminal_and_the_same_outputs(tmp_path):
    path = write_parquet(tmp_path / "in.parquet", make_corpus(40, seed=5))
    runs = {}
    for name, flags in (("loud", []), ("quiet", ["--quiet"]), ("q", ["-q"])):
        runs[name] = CliRunner().invoke(main, ["run", str(path), "--out", str(tmp_path / name),
                                               "--engine", "serial", *flags])
        assert runs[name].exit_code == 0, runs[name].output
    assert "sign" in runs["loud"].stderr and "rows" in runs["loud"].stderr  # progress bars
    assert "kept" in runs["loud"].stdout  # the summary
    for name in ("quiet", "q"):
        assert runs[name].stderr == "" and runs[name].stdout == ""
        assert pq.read_table(tmp_path / name / "manifest.parquet").equals(
            pq.read_table(tmp_path / "loud" / "manifest.parquet"))
        assert _texts(tmp_path / name) == _texts(tmp_path / "loud")


def test_sweep_has_a_row_per_shingle_num_perm_and_threshold(tmp_path):
    path = write_parquet(tmp_path / "in.parquet", make_corpus(60, seed=6))
    out = tmp_path / "sweep"
    result = CliRunner().invoke(main, [
        "sweep", str(path), "--out", str(out), "--thresholds", "0.7,0.9", "--shingle",
        "word,char", "--num-perm", "32,64", "--ngram", "3", "--set", "engine.name=serial"])
    assert result.exit_code == 0, result.output
    assert "8 settings" in result.output
    rows = pq.read_table(out / "sweep.parquet").to_pylist()
    settings = [(r["shingle"], r["ngram"], r["num_perm"], r["threshold"]) for r in rows]
    assert sorted(settings) == sorted((s, 3, p, t) for s in ("word", "char")
                                      for p in (32, 64) for t in (0.7, 0.9))
    # each setting was measured on its own: the bands follow num_perm
    bands = {(r["num_perm"], r["threshold"]): (r["bands"], r["rows"]) for r in rows}
    assert bands[(32, 0.7)] != bands[(64, 0.7)]
    report = (out / "report.md").read_text()
    for s, p in (("word", 32), ("word", 64), ("char", 32), ("char", 64)):
        assert f"| {s} | 3 | {p} | 0.70 |" in report


def test_partitions_split_the_decide_stage_not_the_results(tmp_path):
    """``--partitions`` sets how many tasks each decide step has (the report says how many;
    the verify tasks are cut by the pairs they read, about one per partition); the manifest,
    shards and spans are the same for one partition or many."""
    table = make_corpus(1500, seed=4)
    inputs = [write_parquet(tmp_path / "in.parquet", table, row_group_size=500)]
    reports = {p: _run_cli(inputs, tmp_path / f"p{p}", "--partitions", p) for p in (1, 7)}
    details = {p: next(s for s in reports[p]["stages"] if s["name"] == "decide")["details"]
               for p in (1, 7)}
    assert [details[p]["partitions"] for p in (1, 7)] == [1, 7]
    assert details[7]["steps"]["candidates"]["tasks"] == 7
    assert 7 <= details[7]["steps"]["verify"]["tasks"] <= 2 * 7 + 1
    assert details[1]["steps"]["verify"]["tasks"] <= 3
    assert reports[1]["counts"]["near_duplicate"] > 50
    assert _manifest(tmp_path / "p1") == _manifest(tmp_path / "p7")
    for name in ("data", "spans.parquet"):
        assert pq.read_table(tmp_path / "p1" / name).equals(pq.read_table(tmp_path / "p7" / name))
