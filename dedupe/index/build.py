"""Build an index from a finished run folder: its kept rows, re-signed exactly as the run did.

Reads ``RUN/report.json`` (the full config and the run's ``bands x rows``), the kept rows of
``RUN/manifest.parquet/`` (id, original source file and row, and where the row was written), and
the text column of ``RUN/data/part-*.parquet``, shard by shard in batches. Each text is cut to
``input.max_doc_bytes`` and signed by :func:`dedupe.near.signing.sign_arrays` exactly as the sign
stage does, so the stored digests, signatures and band keys equal the run's.

Memory: the kept rows' manifest columns and their signatures (``4 * num_perm`` bytes a row) plus
one batch of text; the index writer then adds one band's keys.
"""

from __future__ import annotations

import json
import os

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from dedupe.config import DedupeConfig
from dedupe.errors import ConfigError, InputError
from dedupe.index.format import index_params
from dedupe.index.store import Index, IndexRows
from dedupe.index.writer import create_index
from dedupe.io.unify import decode
from dedupe.near.signing import sign_arrays

__all__ = ["build_from_run", "read_run_config"]

_MANIFEST_COLUMNS = ["id", "source_file", "source_row", "output_file", "output_row"]


def read_run_config(run_dir: str | os.PathLike) -> tuple[DedupeConfig, dict]:
    """The run's config and its ``report.json`` (refuses an unfinished run folder)."""
    path = os.path.join(run_dir, "report.json")
    try:
        with open(path, encoding="utf-8") as fh:
            report = json.load(fh)
    except FileNotFoundError:
        raise InputError(str(run_dir), "not a finished dedupe run (no report.json)",
                         hint="run `dedupe run INPUTS --out RUN` to the end first") from None
    except ValueError as exc:
        raise InputError(path, f"is not valid JSON: {exc}") from None
    return DedupeConfig.from_dict(report["parameters"]), report


def build_from_run(run_dir: str | os.PathLike, out_index: str | os.PathLike, *,
                   overwrite: bool = False, batch_rows: int = 4096) -> Index:
    """Index every kept row of the run at ``run_dir`` into a new index at ``out_index``."""
    run_dir = str(run_dir)
    cfg, report = read_run_config(run_dir)
    if cfg.spans.remove:
        raise ConfigError(
            f"{run_dir} was run with spans.remove = true: its output text has flagged spans cut "
            "out, so it no longer matches what the run signed; index it while it runs instead, "
            "with `dedupe run ... --write-index INDEX`")
    lsh = report.get("lsh", {})
    params = index_params(cfg, lsh.get("bands"), lsh.get("rows"))
    kept = kept_rows(run_dir)
    digest, sigs = _sign_kept(run_dir, kept, cfg, batch_rows)
    rows = IndexRows(kept["id"].combine_chunks(), kept["source_file"].combine_chunks(),
                     kept["source_row"].to_numpy(), digest, sigs)
    return create_index(out_index, params, rows, overwrite=overwrite, source=run_dir,
                        protected={"run folder": [run_dir]},
                        compression=cfg.output.compression)


def kept_rows(run_dir: str) -> pa.Table:
    """Manifest rows with ``action == "kept"``, sorted by ``(output_file, output_row)``."""
    folder = os.path.join(run_dir, "manifest.parquet")
    if not os.path.isdir(folder):
        raise InputError(folder, "missing: not a finished dedupe run")
    table = ds.dataset(folder, format="parquet").to_table(
        columns=_MANIFEST_COLUMNS, filter=pc.field("action") == "kept")
    return table.sort_by([("output_file", "ascending"), ("output_row", "ascending")])


def _sign_kept(run_dir: str, kept: pa.Table, cfg: DedupeConfig, batch_rows: int):
    """Digests and signatures of the kept rows, in ``kept`` order, shard by shard."""
    n, k = kept.num_rows, cfg.minhash.num_perm
    digest = np.empty((n, 2), np.uint64)
    sigs = np.empty((n, k), np.uint32)
    files = kept["output_file"].to_numpy(zero_copy_only=False)
    out_rows = kept["output_row"].to_numpy()
    cuts = np.flatnonzero(files[1:] != files[:-1]) + 1
    starts = np.r_[0, cuts] if n else np.zeros(0, np.int64)  # a run that kept no row: none
    for lo, hi in zip(starts.tolist(), np.r_[cuts, n].tolist()):
        path = os.path.join(run_dir, files[lo])
        _check_shard(path, out_rows[lo:hi])
        pos = lo
        for batch in pq.ParquetFile(path).iter_batches(batch_size=batch_rows,
                                                         columns=[cfg.input.text_column]):
            dig, _, sig, _, _ = sign_arrays(decode(batch.column(0)), cfg)
            digest[pos : pos + len(sig)] = dig
            sigs[pos : pos + len(sig)] = sig
            pos += len(sig)
    return digest, sigs


def _check_shard(path: str, out_rows: np.ndarray) -> None:
    """The manifest's kept rows of a shard must be exactly its rows 0..m-1."""
    try:
        rows = pq.read_metadata(path).num_rows
    except FileNotFoundError:
        raise InputError(path, "is named in the manifest but missing",
                         hint="the run folder is incomplete; run it again") from None
    if rows != len(out_rows) or not np.array_equal(out_rows, np.arange(rows)):
        raise InputError(path, f"holds {rows} rows but the manifest lists {len(out_rows)} kept "
                         "rows for it", hint="the run folder was changed after the run")
