"""Shared fixtures: small corpora written to temporary Parquet/JSONL files."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"


def shared_path(*parts: str) -> Path:
    """A path under ../shared, or skip the test with the reason."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"{path} is absent (the shared data folder is not next to this checkout)")
    return path


def write_jsonl(path: Path, rows: list[dict], compress: bool = False) -> Path:
    data = "".join(json.dumps(r) + "\n" for r in rows).encode()
    if compress:
        data = gzip.compress(data)
    path.write_bytes(data)
    return path


def write_parquet(path: Path, rows: list[dict] | pa.Table, **kw) -> Path:
    table = rows if isinstance(rows, pa.Table) else pa.Table.from_pylist(rows)
    pq.write_table(table, path, **kw)
    return path


@pytest.fixture
def serial_overrides():
    return {"engine__name": "serial"}


# --- fault-injection ledger: every fault test records what it injected and what came out ---

FAULTS: list[dict] = []


def rows_in_outputs(out: Path) -> tuple[int, int]:
    """``(input rows the manifest names, rows in the output shards)`` of a finished run, read
    from the files themselves; fails if the manifest names a row twice or its kept rows are not
    the rows in the shards."""
    import os

    import pyarrow.compute as pc

    m = pq.read_table(out / "manifest.parquet", columns=["source_file", "source_row", "action"])
    keys = set(zip(m["source_file"].to_pylist(), m["source_row"].to_pylist()))
    assert len(keys) == m.num_rows, "a row is in the manifest twice"
    data = out / "data"
    shard_rows = sum(pq.read_metadata(data / f).num_rows for f in os.listdir(data)
                     if not f.startswith("."))
    kept = m.filter(pc.equal(m["action"], "kept")).num_rows
    assert shard_rows == kept, f"{kept} kept rows in the manifest, {shard_rows} in the shards"
    return len(keys), shard_rows


@pytest.fixture
def fault_ledger():
    """``record(fault, rows_in, out)`` after a run that finished: the rows found in ``out``'s
    manifest and shards are counted from the files; ``record(fault, rows_in, None)`` after a
    run that stopped with a clear error (its input untouched, nothing found). Summarised at
    the end of the pytest run. Returns the rows lost (input rows not found)."""

    def record(fault: str, rows_in: int, out: Path | None) -> int:
        found, shards = rows_in_outputs(out) if out is not None else (0, 0)
        lost = rows_in - found if out is not None else 0
        FAULTS.append({"fault": fault, "completed": out is not None, "rows_in": rows_in,
                       "rows_found": found, "rows_in_shards": shards, "rows_lost": lost})
        return lost

    return record


def pytest_terminal_summary(terminalreporter):
    if not FAULTS:
        return
    done = [f for f in FAULTS if f["completed"]]
    stopped = [f for f in FAULTS if not f["completed"]]
    terminalreporter.write_sep("-", "fault injection")
    terminalreporter.write_line(
        f"faults injected: {len(FAULTS)}; runs completed: {len(done)}, with "
        f"{sum(f['rows_in'] for f in done)} input rows, found in their outputs: "
        f"{sum(f['rows_found'] for f in done)} manifest rows ("
        f"{sum(f['rows_in_shards'] for f in done)} in shards), rows lost: "
        f"{sum(f['rows_lost'] for f in done)}; runs stopped with a clear error: {len(stopped)}, "
        f"with {sum(f['rows_in'] for f in stopped)} input rows")
