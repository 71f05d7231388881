"""The Python API: the same run as ``dedupe run``, from paths or from an Arrow table."""

from __future__ import annotations

import os
import tempfile
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from dedupe.config import OPTION_KEYS, DedupeConfig, load_config
from dedupe.pipeline.runner import run_pipeline
from dedupe.report import RunReport

__all__ = ["run", "run_table"]


def _config(config: DedupeConfig | str | os.PathLike | None, overrides: dict) -> DedupeConfig:
    if config is None or isinstance(config, (str, os.PathLike)):
        return load_config(config, **overrides)
    return config.with_overrides(overrides) if overrides else config


def run(
    inputs,
    out: str | os.PathLike,
    config: DedupeConfig | str | None = None,
    *,
    progress=None,
    **overrides: Any,
) -> RunReport:
    """Deduplicate ``inputs`` (paths, folders, globs, URIs) into the run folder ``out``.

    ``overrides`` are the command-line option names (``threshold=0.8``, ``workers=2``) or any
    dotted config key with ``.`` written as ``__`` (``lsh__threshold=0.8``).
    """
    if isinstance(inputs, (str, os.PathLike)):
        inputs = [inputs]
    over = {OPTION_KEYS.get(k, k.replace("__", ".")): v for k, v in overrides.items()}
    over["input.paths"] = tuple(str(p) for p in inputs)
    over["output.out"] = str(out)
    return run_pipeline(_config(config, over), progress=progress)


def run_table(
    table: pa.Table,
    out: str | os.PathLike,
    config: DedupeConfig | str | None = None,
    *,
    name: str = "table",
    progress=None,
    **overrides: Any,
) -> RunReport:
    """Deduplicate an in-memory Arrow table (spilled to a temporary Parquet file first).

    The manifest names the source ``name`` and its rows by their table row numbers; ids default
    to ``name:row``.
    """
    over = {OPTION_KEYS.get(k, k.replace("__", ".")): v for k, v in overrides.items()}
    over["output.out"] = str(out)
    with tempfile.TemporaryDirectory(prefix="dedupe-table-") as tmp:
        path = os.path.join(tmp, "table.parquet")
        pq.write_table(table, path)
        over["input.paths"] = (path,)
        return run_pipeline(_config(config, over), progress=progress, source_names={path: name})
