"""`dedupe sweep`: the grid, the metrics per setting, the plots and the pairs page."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

import dedupe
from dedupe.cli import main
from dedupe.evaluate import score
from dedupe.evaluate.sweep import parse_grid
from tests.synth import make_corpus

COLUMNS = ["shingle", "ngram", "num_perm", "threshold", "bands", "rows", "precision", "recall",
           "f1", "ari", "removed_fraction", "seconds"]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    folder = tmp_path_factory.mktemp("sweep")
    table = make_corpus(300, seed=17)
    pq.write_table(table, folder / "c.parquet")
    return folder / "c.parquet", table


def test_parse_grid():
    assert parse_grid("0.1:0.3:0.1") == [0.1, 0.2, 0.3]
    assert parse_grid("3,5,7", int) == [3, 5, 7]
    with pytest.raises(dedupe.ConfigError):
        parse_grid("a:b")


def test_labelled_sweep_outputs_and_best_setting(corpus, tmp_path):
    path, _ = corpus
    out = tmp_path / "s"
    result = CliRunner().invoke(main, [
        "sweep", str(path), "--out", str(out), "--labels-column", "cluster",
        "--thresholds", "0.3:0.9:0.3", "--ngram", "2,3", "--num-perm", "64", "--workers", "1",
        "--id-column", "id"])
    assert result.exit_code == 0, result.output
    table = pq.read_table(out / "sweep.parquet")
    assert table.num_rows == 2 * 3
    assert all(c in table.column_names for c in COLUMNS)
    assert pacsv.read_csv(out / "sweep.csv").num_rows == 6
    rows = table.to_pylist()
    best = max(rows, key=lambda r: r["f1"])
    report = (out / "report.md").read_text()
    assert f"threshold {best['threshold']:.2f}" in report and "Best setting by F1" in report
    assert best["f1"] > 0.9
    for name in ("scores.png", "s_curve.png", "removal.png"):
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert f"({name})" in report
    assert (out / "pairs.html").read_text().count("<table>") > 0
    assert not (out / "_work").exists()


def test_sweep_scores_equal_a_real_run(corpus, tmp_path):
    """A sweep row must describe exactly what `dedupe run` does at that setting."""
    path, table = corpus
    from dedupe.config import load_config
    from dedupe.evaluate.sweep import sweep

    cfg = load_config(None, **{"input.paths": (str(path),), "input.id_column": "id",
                               "engine.name": "serial"})
    result = sweep(cfg, str(tmp_path / "s"), thresholds=[0.5, 0.8], ngrams=[2], num_perms=[128],
                   labels_column="cluster")
    for row in result.table.to_pylist():
        report = dedupe.run([path], tmp_path / f"r{row['threshold']}", engine__name="serial",
                            id_column="id", threshold=row["threshold"])
        m = pq.read_table(tmp_path / f"r{row['threshold']}" / "manifest.parquet")
        by_id = dict(zip(m["id"].to_pylist(), m["cluster_id"].to_pylist()))
        pred = [by_id[i] for i in table["id"].to_pylist()]
        s = score(table["cluster"].to_numpy(), pred)
        assert row["f1"] == pytest.approx(s["f1"]) and row["ari"] == pytest.approx(s["ari"])
        assert row["bands"] == report.lsh["bands"] and row["rows"] == report.lsh["rows"]
        assert row["removed_fraction"] == pytest.approx(s["removed_fraction"])


def test_labelled_pairs_file(corpus, tmp_path):
    path, table = corpus
    ids = table["id"].to_pylist()
    cluster = table["cluster"].to_numpy()
    rng = np.random.default_rng(0)
    a, b, dup = [], [], []
    for _ in range(400):
        i, j = rng.integers(0, len(ids), 2)
        if i != j:
            a.append(ids[i])
            b.append(ids[j])
            dup.append(bool(cluster[i] == cluster[j]))
    for c in np.unique(cluster):
        members = np.flatnonzero(cluster == c)
        if len(members) > 1:
            a.append(ids[members[0]])
            b.append(ids[members[1]])
            dup.append(True)
    pairs = tmp_path / "pairs.parquet"
    pq.write_table(pa.table({"id_a": a, "id_b": b, "duplicate": dup}), pairs)
    out = tmp_path / "p"
    result = CliRunner().invoke(main, ["sweep", str(path), "--out", str(out), "--labels",
                                       str(pairs), "--thresholds", "0.5,0.75", "--workers", "1",
                                       "--id-column", "id"])
    assert result.exit_code == 0, result.output
    rows = pq.read_table(out / "sweep.parquet").to_pylist()
    assert all(r["recall"] > 0.8 and r["precision"] > 0.9 for r in rows)


def test_unlabelled_sweep_shows_removal_and_pairs(corpus, tmp_path):
    path, _ = corpus
    out = tmp_path / "u"
    result = CliRunner().invoke(main, ["sweep", str(path), "--out", str(out), "--thresholds",
                                       "0.2:0.9:0.1", "--workers", "1"])
    assert result.exit_code == 0, result.output
    rows = sorted(pq.read_table(out / "sweep.parquet").to_pylist(), key=lambda r: r["threshold"])
    removed = [r["rows_removed"] for r in rows]
    assert removed == sorted(removed, reverse=True) and removed[0] > removed[-1]
    assert all(np.isnan(r["f1"]) for r in rows)
    page = (out / "pairs.html").read_text()
    assert "Estimated Jaccard 0.9-1.0" in page and "<ins>" in page
    assert "No labels were given" in (out / "report.md").read_text()


def test_empty_rows_and_on_bad_row(tmp_path):
    """An empty page never stops a sweep; a malformed line does unless --on-bad-row reject."""
    table = make_corpus(60, seed=3)
    lines = [{"id": i, "text": t} for i, t in enumerate(table["text"].to_pylist())]
    lines[16]["text"] = ""
    lines[17]["text"] = None
    body = "\n".join(__import__("json").dumps(r) for r in lines)
    path = tmp_path / "c.jsonl"
    path.write_text(body + "\n")
    runner = CliRunner()
    ok = runner.invoke(main, ["sweep", str(path), "--out", str(tmp_path / "a"),
                              "--thresholds", "0.8"])
    assert ok.exit_code == 0, ok.output
    path.write_text(body + "\n{not json\n")
    bad = runner.invoke(main, ["sweep", str(path), "--out", str(tmp_path / "b"),
                               "--thresholds", "0.8"])
    assert bad.exit_code == 1 and "--on-bad-row reject" in bad.output
    assert "Traceback" not in bad.output
    ok = runner.invoke(main, ["sweep", str(path), "--out", str(tmp_path / "c"),
                              "--thresholds", "0.8", "--on-bad-row", "reject"])
    assert ok.exit_code == 0, ok.output


@pytest.mark.parametrize("kind", [pa.int64(), pa.string()])
def test_rows_without_a_label_are_named_whatever_the_label_type(tmp_path, kind):
    """An integer label column's nulls are missing labels too (not one big cluster): the sweep
    stops naming the file and the row of the first one."""
    table = make_corpus(120, seed=5)
    first = table.slice(0, 60)
    first = first.set_column(first.schema.get_field_index("cluster"), "cluster",
                             first["cluster"].cast(pa.int32()).cast(kind))
    second = table.slice(60)
    labels = second["cluster"].to_pylist()
    labels[7] = labels[30] = None
    second = second.set_column(second.schema.get_field_index("cluster"), "cluster",
                               pa.array(labels, pa.int64()).cast(kind))
    pq.write_table(first, tmp_path / "a.parquet")
    pq.write_table(second, tmp_path / "b.parquet")
    result = CliRunner().invoke(main, [
        "sweep", str(tmp_path / "a.parquet"), str(tmp_path / "b.parquet"), "--out",
        str(tmp_path / "s"), "--labels-column", "cluster", "--thresholds", "0.7",
        "--workers", "1"])
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert f"{tmp_path / 'b.parquet'}, row 7, column 'cluster': some rows have no label" \
        in result.output


def test_integer_and_string_labels_score_alike(tmp_path):
    table = make_corpus(200, seed=6)
    pq.write_table(table, tmp_path / "int.parquet")
    as_text = table.set_column(table.schema.get_field_index("cluster"), "cluster",
                               table["cluster"].cast(pa.string()))
    pq.write_table(as_text, tmp_path / "str.parquet")
    rows = []
    for name in ("int", "str"):
        result = CliRunner().invoke(main, [
            "sweep", str(tmp_path / f"{name}.parquet"), "--out", str(tmp_path / name),
            "--labels-column", "cluster", "--thresholds", "0.5,0.8", "--workers", "1"])
        assert result.exit_code == 0, result.output
        rows.append(pq.read_table(tmp_path / name / "sweep.parquet")
                    .select(["threshold", "precision", "recall", "f1", "ari"]).to_pylist())
    assert rows[0] == rows[1]
    assert min(r["recall"] for r in rows[0]) > 0.5


def test_plots_leave_the_callers_matplotlib_alone(corpus, tmp_path):
    """A sweep run from a notebook must not switch the user's backend or leave figures open."""
    import matplotlib

    matplotlib.use("svg")
    import matplotlib.pyplot as plt

    plt.figure()
    before = plt.get_fignums()
    from dedupe.config import load_config
    from dedupe.evaluate.sweep import sweep

    path, _ = corpus
    cfg = load_config(None, **{"input.paths": (str(path),), "engine.name": "serial"})
    sweep(cfg, str(tmp_path / "s"), thresholds=[0.5, 0.8], ngrams=[2], num_perms=[64],
          labels_column="cluster")
    assert (tmp_path / "s" / "scores.png").read_bytes()[:4] == b"\x89PNG"
    assert matplotlib.get_backend() == "svg"
    assert plt.get_fignums() == before
    plt.close("all")


def _sweep(path, out, *options) -> list[dict]:
    """``dedupe sweep PATH --out OUT OPTIONS --quiet``; its table sorted by n-gram size and
    threshold."""
    result = CliRunner().invoke(main, ["sweep", str(path), "--out", str(out), *options,
                                       "--quiet"])
    assert result.exit_code == 0, result.output
    return _table(out)


def _table(out) -> list[dict]:
    return sorted(pq.read_table(out / "sweep.parquet").to_pylist(),
                  key=lambda r: (r["ngram"], r["threshold"]))


def test_unlabelled_sweep_removes_what_a_run_removes_for_any_workers(corpus, tmp_path):
    """Each unlabelled row describes what `dedupe run` removes at that setting, and the
    table is the same with one process and with two (the decide tasks of every threshold
    run on the engine, over partitions chosen for the rows and workers). Thresholds of equal
    rows per band (0.1 and 0.2; 0.3 and 0.35) share one set of candidate pairs and still
    match their own runs, given in any order."""
    path, _ = corpus
    tables = []
    for workers, grid in (("1", "0.1,0.2,0.3,0.35,0.6"), ("2", "0.6,0.35,0.2,0.3,0.1")):
        rows = _sweep(path, tmp_path / f"w{workers}", "--thresholds", grid,
                      "--ngram", "2,3", "--workers", workers)
        tables.append([{k: v for k, v in r.items() if "seconds" not in k
                        and not (isinstance(v, float) and np.isnan(v))}  # no labels: NaN
                       for r in rows])
    assert tables[0] == tables[1]
    assert [r["rows"] for r in tables[0][:5]] == [1, 1, 2, 2, 4]  # two shared groups
    for row in tables[0][:5]:  # 2-grams
        report = dedupe.run([path], tmp_path / f"r{row['threshold']}", workers=1,
                            threshold=row["threshold"], spans=False, boilerplate=False)
        removed = report.counts["exact_duplicate"] + report.counts["near_duplicate"]
        assert row["rows_removed"] == removed
        assert row["candidate_pairs"] == report.lsh["candidate_pairs"]
        assert row["capped_pairs"] == 0


def test_each_setting_reports_its_own_seconds(corpus, tmp_path):
    path, _ = corpus
    rows = _sweep(path, tmp_path / "s", "--thresholds", "0.1,0.5,0.9", "--workers", "1")
    assert len({r["sign_seconds"] for r in rows}) == 1  # signed once for the shingling
    assert len({r["seconds"] for r in rows}) == 3 and all(r["seconds"] > 0 for r in rows)
    # the lowest threshold has the most candidates, and costs the most to decide
    assert rows[0]["candidate_pairs"] > rows[-1]["candidate_pairs"]


def test_max_pairs_per_row_caps_candidates_and_says_so(corpus, tmp_path):
    path, _ = corpus
    rows = {}
    for cap in ("0", "2"):
        rows[cap] = _sweep(path, tmp_path / f"c{cap}", "--thresholds", "0.1,0.8", "--workers",
                           "1", "--max-pairs-per-row", cap)
    low, low_capped = rows["0"][0], rows["2"][0]
    assert low["capped_pairs"] == 0 and low_capped["capped_pairs"] > 0
    assert low_capped["candidate_pairs"] + low_capped["capped_pairs"] == low["candidate_pairs"]
    assert low_capped["candidate_pairs"] <= 2 * 300
    assert "capped_pairs" in pq.read_table(tmp_path / "c2" / "sweep.parquet").column_names
    # 0.1 and 0.2 share candidates (one row per band): 0.2 is capped on its own pairs, as
    # when swept alone
    both = _sweep(path, tmp_path / "b", "--thresholds", "0.1,0.2", "--workers", "1",
                  "--max-pairs-per-row", "2")
    alone = _sweep(path, tmp_path / "a", "--thresholds", "0.2", "--workers", "1",
                   "--max-pairs-per-row", "2")
    keys = ("candidate_pairs", "capped_pairs", "rows_removed", "bands", "rows")
    assert both[1]["rows"] == both[0]["rows"] == 1
    assert {k: both[1][k] for k in keys} == {k: alone[0][k] for k in keys}
    assert alone[0]["capped_pairs"] > 0


def test_similarity_histogram_and_sample_are_bounded(corpus, tmp_path):
    """The lowest threshold's candidates: a histogram of every pair, and a sample of at most
    six pairs per 0.1 band on pairs.html, whatever the corpus size."""
    from dedupe.config import load_config
    from dedupe.evaluate.sweep import sweep

    path, _ = corpus
    cfg = load_config(None, **{"input.paths": (str(path),), "engine.workers": 1})
    result = sweep(cfg, str(tmp_path / "h"), thresholds=[0.2, 0.7], ngrams=[2],
                   num_perms=[128])
    hist = result.similarities[("word", 2, 128)]
    low = min(result.table.to_pylist(), key=lambda r: r["threshold"])
    assert len(hist) == 50 and hist.sum() == low["candidate_pairs"] > 0
    assert 0 < len(result.pairs) <= 60
    per_band = {}
    for p in result.pairs:
        per_band[p["band"]] = per_band.get(p["band"], 0) + 1
        lo = float(p["band"].split("-")[0])
        assert lo <= p["similarity"] <= lo + 0.1 + 1e-9 and p["text_a"] and p["id_b"]
    assert max(per_band.values()) <= 6
