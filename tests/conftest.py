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


@pytest.fixture
def fault_ledger():
    """Record ``(fault, completed, rows_in, rows_lost)``; summarised at the end of the run."""

    def record(fault: str, completed: bool, rows_in: int, rows_lost: int) -> None:
        FAULTS.append({"fault": fault, "completed": completed, "rows_in": rows_in,
                       "rows_lost": rows_lost})

    return record


def pytest_terminal_summary(terminalreporter):
    if not FAULTS:
        return
    completed = sum(f["completed"] for f in FAULTS)
    lost = sum(f["rows_lost"] for f in FAULTS)
    rows = sum(f["rows_in"] for f in FAULTS)
    terminalreporter.write_sep("-", "fault injection")
    terminalreporter.write_line(
        f"faults injected: {len(FAULTS)}, runs completed: {completed}, runs stopped with a "
        f"clear error: {len(FAULTS) - completed}, input rows: {rows}, rows lost: {lost}")
