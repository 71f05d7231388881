"""``dedupe explain``: why a row was kept or removed, with both texts side by side."""

from __future__ import annotations

import difflib
import json
import os
import re
from dataclasses import dataclass

import pyarrow.compute as pc
import pyarrow.dataset as ds

from dedupe.errors import DedupeError
from dedupe.io.readers import read_task
from dedupe.io.sources import Task, expand_inputs

__all__ = ["Explanation", "explain", "word_diff"]


@dataclass
class Explanation:
    row: dict
    survivor: dict | None
    text: str | None
    survivor_text: str | None


def _manifest_row(run_dir: str, column: str, value) -> dict | None:
    dataset = ds.dataset(os.path.join(run_dir, "manifest.parquet"), format="parquet")
    table = dataset.to_table(filter=pc.field(column) == value)
    return table.slice(0, 1).to_pylist()[0] if table.num_rows else None


def _read_text(source_file: str, source_row: int, text_column: str, fmt: str,
               max_row_bytes: int | None = None) -> str | None:
    src = expand_inputs([source_file], fmt)[0]
    for rb in read_task(
        Task(0, src, None if src.format != "parquet" else _all_groups(src)),
        [text_column],
        on_bad_row="reject",
        text_column=text_column,
        max_row_bytes=max_row_bytes,
        only_rows=[source_row],
    ):
        hits = (rb.source_rows == source_row).nonzero()[0]
        if len(hits):
            return rb.batch.column(0)[int(hits[0])].as_py()
    return None


def _all_groups(src) -> tuple[int, ...]:
    import pyarrow.parquet as pq

    from dedupe.io.sources import open_source

    fs, path = open_source(src)
    with fs.open_input_file(path) as fh:
        return tuple(range(pq.ParquetFile(fh).metadata.num_row_groups))


def explain(run_dir: str, row_id: str) -> Explanation:
    """Look ``row_id`` up in a run folder's manifest and fetch both texts from the inputs."""
    report_path = os.path.join(run_dir, "report.json")
    if not os.path.exists(report_path):
        raise DedupeError(f"{run_dir} is not a finished dedupe run (no report.json)")
    try:
        with open(report_path, encoding="utf-8") as fh:
            params = json.load(fh)["parameters"]
    except (ValueError, KeyError, TypeError) as exc:
        raise DedupeError(f"{report_path}: not a dedupe run report ({exc})") from None
    text_column = params["input"]["text_column"]
    fmt = params["input"]["format"]
    limit = params["input"].get("max_row_bytes")
    row = _manifest_row(run_dir, "id", row_id)
    path, sep, number = row_id.rpartition(":")
    if row is None and sep and number.isdigit() and "://" not in path:
        # a file:row id typed with a path relative to this folder
        row = _manifest_row(run_dir, "id", f"{os.path.abspath(path)}:{number}")
    if row is None:
        raise DedupeError(f"no row with id {row_id!r} in {run_dir}/manifest.parquet")
    survivor = None
    if row.get("matched_id") is not None:  # removed by an --against index: an earlier run's row
        survivor = {"id": row["matched_id"], "source_file": row["matched_file"],
                    "source_row": row["matched_row"], "index": row["matched_index"]}
    elif row["survivor_id"] is not None and row["survivor_id"] != row["id"]:
        survivor = _manifest_row(run_dir, "id", row["survivor_id"])
    text = _read_text(row["source_file"], row["source_row"], text_column, fmt, limit)
    stext = None
    if survivor is not None:
        try:
            stext = _read_text(survivor["source_file"], survivor["source_row"], text_column, fmt,
                               limit)
        except DedupeError:  # an earlier run's input that is no longer where it was
            stext = None
    return Explanation(row, survivor, text, stext)


_TOKEN = re.compile(r"\s+|\w+|[^\w\s]")


def word_diff(a: str, b: str):
    """Opcodes over word tokens: ``[(tag, a_piece, b_piece), ...]`` with tag equal/delete/..."""
    ta, tb = _TOKEN.findall(a), _TOKEN.findall(b)
    matcher = difflib.SequenceMatcher(None, ta, tb, autojunk=False)
    return [
        (tag, "".join(ta[i1:i2]), "".join(tb[j1:j2]))
        for tag, i1, i2, j1, j2 in matcher.get_opcodes()
    ]
