"""Scheme tags: one dict, recorded by every writer and checked before anything is compared."""

from __future__ import annotations

from dedupe.schemes import SCHEME_KEYS, scheme_mismatch, schemes


def test_schemes_name_every_tag_and_the_unicode_version():
    tags = schemes()
    assert tuple(tags) == SCHEME_KEYS
    assert tags["unicode"] == "18.0.0" and tags["case_table"].startswith("18.0.0/")
    assert tags["minhash"] == "dedupe-minhash-v2" and tags["span_tokens"] == "dedupe-span-tokens-v2"


def test_mismatch_names_the_first_tag_that_differs_or_is_missing():
    tags = schemes()
    assert scheme_mismatch(tags) is None
    assert scheme_mismatch({**tags, "unicode": "14.0.0"}) == ("unicode", "14.0.0", "18.0.0")
    older = {k: v for k, v in tags.items() if k != "line_key"}
    assert scheme_mismatch(older) == ("line_key", "(not recorded)", tags["line_key"])


def test_every_artefact_of_a_run_records_the_same_tags(tmp_path):
    """Sign files, manifest, report and index header all carry the one ``schemes()`` dict."""
    import json

    import pyarrow.parquet as pq

    import dedupe
    from dedupe.io.spill import ipc_metadata
    from dedupe.schemes import recorded_schemes
    from tests.synth import make_corpus

    work, out, idx = tmp_path / "work", tmp_path / "run", tmp_path / "idx"
    signed = {}

    def progress(stage, done, total, result):  # the work folder goes when the run ends
        for path in work.glob("*/sign-*.arrow"):
            signed[path] = recorded_schemes(ipc_metadata(str(path)), "dedupe.scheme.")

    dedupe.run_table(make_corpus(40, seed=3), out, engine__name="serial", workdir=str(work),
                     write_index=str(idx), progress=progress)
    tags = schemes()
    assert signed and all(v == tags for v in signed.values())
    manifest = next((out / "manifest.parquet").iterdir())
    assert recorded_schemes(pq.read_schema(manifest).metadata, "dedupe.scheme.") == tags
    report = json.loads((out / "report.json").read_text())
    assert recorded_schemes(report["versions"]) == tags
    assert report["versions"]["unicodedata2"].startswith("18.")
    header = json.loads((idx / "header.json").read_text())
    assert recorded_schemes(header["params"]) == tags
