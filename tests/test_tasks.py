"""Work tasks that follow the data: units cut at row groups and inside a large row group."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
import textwrap
from dataclasses import replace

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import dedupe
from dedupe.io import sources
from dedupe.io.readers import list_rows, read_task
from dedupe.io.sources import (
    expand_inputs,
    join_tasks,
    rows_per_task,
    split_tasks,
    work_tasks,
)
from dedupe.pipeline import tasks as task_plan
from dedupe.pipeline.tasks import make_tasks
from tests.synth import make_corpus


def _file(path, group_sizes) -> pa.Table:
    n = sum(group_sizes)
    table = pa.table({"id": [f"r{i}" for i in range(n)], "text": [f"row {i}" for i in range(n)]})
    with pq.ParquetWriter(path, table.schema) as writer:
        lo = 0
        for size in group_sizes:
            writer.write_table(table.slice(lo, size), row_group_size=size)
            lo += size
    assert pq.read_metadata(path).num_row_groups == len(group_sizes)
    return table


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(groups=st.lists(st.integers(1, 300), min_size=1, max_size=6),
       task_rows=st.integers(1, 400), batch_rows=st.sampled_from([1, 7, 64, 4096]))
def test_work_tasks_read_every_row_once_in_order(tmp_path, groups, task_rows, batch_rows):
    path = tmp_path / "f.parquet"
    table = _file(path, groups)
    units = split_tasks(expand_inputs([str(path)]), task_rows=250)
    tasks = work_tasks(units, task_rows)
    assert [t.index for t in tasks] == list(range(len(tasks)))
    # the tasks of a unit follow each other and cover it exactly
    for u in units:
        mine = [t for t in tasks if t.unit_index == u.index]
        assert mine == tasks[mine[0].index:mine[-1].index + 1]
        assert mine[0].first_row == u.first_row
        assert sum(t.num_rows for t in mine) == u.num_rows
        assert all(t.num_rows <= task_rows for t in mine) or len(mine) == 1 or any(
            len(t.row_groups) == 1 for t in mine)
    rows, ids = [], []
    for t in tasks:
        got = list(read_task(t, ["id"], batch_rows=batch_rows))
        task_rows_read = np.concatenate([b.source_rows for b in got])
        assert len(task_rows_read) == t.num_rows
        rows.append(task_rows_read)
        ids.extend(x for b in got for x in b.batch.column("id").to_pylist())
    assert np.concatenate(rows).tolist() == list(range(table.num_rows))
    assert ids == table["id"].to_pylist()
    # any run of consecutive tasks of a unit joined reads exactly their rows, in one pass
    for u in units:
        mine = [t for t in tasks if t.unit_index == u.index]
        for a in range(len(mine)):
            b = min(len(mine), a + 1 + (a % 3))
            joined = join_tasks(mine[a:b])
            got = np.concatenate([x.source_rows for x in read_task(joined, ["id"],
                                                                   batch_rows=batch_rows)])
            assert got.tolist() == list(range(mine[a].first_row,
                                              mine[b - 1].first_row + mine[b - 1].num_rows))


def test_one_large_row_group_is_cut_into_ranges(tmp_path):
    path = tmp_path / "f.parquet"
    _file(path, [1000])
    units = split_tasks(expand_inputs([str(path)]))
    assert len(units) == 1
    tasks = work_tasks(units, 300)
    assert [(t.first_row, t.num_rows) for t in tasks] == [(0, 250), (250, 250), (500, 250),
                                                          (750, 250)]
    assert tasks[1].label.endswith("[rows 250-499]")
    assert {t.unit_index for t in tasks} == {0}
    # row groups are cut at their boundaries first: no task decodes rows it does not keep
    path2 = tmp_path / "g.parquet"
    _file(path2, [100] * 10)
    tasks = work_tasks(split_tasks(expand_inputs([str(path2)])), 300)
    assert [t.row_groups for t in tasks] == [(0, 1, 2), (3, 4, 5), (6, 7, 8), (9,)]
    assert all(t.groups_first_row < 0 for t in tasks)


def test_rows_per_task_gives_each_worker_several_tasks(tmp_path):
    path = tmp_path / "f.parquet"
    _file(path, [100_000])
    units = split_tasks(expand_inputs([str(path)]))
    assert rows_per_task(units, 1) == 0  # one worker: whole units
    assert work_tasks(units, 0) == [replace(units[0], unit=0)]
    for workers in (2, 4, 16):
        tasks = work_tasks(units, rows_per_task(units, workers))
        assert len(tasks) >= min(workers * sources.TASKS_PER_WORKER,
                                 100_000 // sources.MIN_TASK_ROWS)


@pytest.fixture(scope="module")
def one_group(tmp_path_factory):
    """1,200 pages in one Parquet file of one row group, and its serial run."""
    folder = tmp_path_factory.mktemp("one")
    pq.write_table(make_corpus(1200, seed=5), folder / "all.parquet", row_group_size=1200)
    reference = folder.parent / "one-serial"
    dedupe.run([folder / "all.parquet"], reference, engine__name="serial", rows_per_shard=500)
    return folder / "all.parquet", reference


def _same_bytes(a, b):
    names = sorted(os.path.relpath(os.path.join(r, f), a) for r, _, fs in os.walk(a) for f in fs
                   if f.endswith(".parquet"))
    assert names == sorted(os.path.relpath(os.path.join(r, f), b) for r, _, fs in os.walk(b)
                           for f in fs if f.endswith(".parquet"))
    assert "spans.parquet" in names and "manifest.parquet/part-00000.parquet" in names
    for name in names:
        assert (a / name).read_bytes() == (b / name).read_bytes(), name


def test_one_row_group_runs_as_several_tasks_with_the_same_outputs(one_group, tmp_path,
                                                                     monkeypatch):
    path, reference = one_group
    monkeypatch.setattr(sources, "MIN_TASK_ROWS", 64)  # tasks are planned in this process
    report = dedupe.run([path], tmp_path / "w2", workers=2, rows_per_shard=500)
    sign = next(s for s in report.stages if s["name"] == "sign")
    assert sign["tasks"] == 2 * sources.TASKS_PER_WORKER
    _same_bytes(reference, tmp_path / "w2")


HARNESS = textwrap.dedent("""
    import os, signal, sys
    import dedupe
    from dedupe.io import sources

    sources.MIN_TASK_ROWS = 64

    def progress(name, done, total, result):
        if name == "sign" and done >= 2:
            os.kill(os.getpid(), signal.SIGKILL)

    if __name__ == "__main__":
        dedupe.run([sys.argv[1]], sys.argv[2], workers=4, rows_per_shard=500, progress=progress)
""")


@pytest.mark.faults
def test_a_resume_with_other_workers_reads_the_same_tasks(one_group, tmp_path):
    """Killed after two of eight sign tasks with four workers, then run again with one: the
    tasks the first run chose are kept (its finished sign files are reused, not mixed with
    tasks of another size), and the outputs are those of an uninterrupted run."""
    path, reference = one_group
    script = tmp_path / "harness.py"
    script.write_text(HARNESS)
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, str(script), str(path), str(out)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == -9, proc.stderr
    signed = [n for r, _, fs in os.walk(out / "_work") for n in fs if n.startswith("sign-")]
    assert len(signed) >= 2
    report = dedupe.run([path], out, workers=1, rows_per_shard=500)
    assert report.outputs["resumed"] is True
    sign = next(s for s in report.stages if s["name"] == "sign")
    assert sign["tasks"] == 4 * sources.TASKS_PER_WORKER
    _same_bytes(reference, out)


class _Engine:
    """A serial engine that says it has ``workers`` workers (tasks are sized for them)."""

    name = "serial"

    def __init__(self, workers):
        self.workers = workers

    def map(self, fn, tasks, *, stage, progress=None):
        return [fn(t) for t in tasks]


_LINE = st.one_of(
    st.builds(lambda i, s: json.dumps({"id": f"r{i}", "text": s}), st.integers(0, 10**6),
              st.text(max_size=40)),
    st.sampled_from(["", "   ", "\t", "\r"]),  # blank lines: not rows, but lines
)


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(lines=st.lists(_LINE, min_size=1, max_size=60), bom=st.booleans(),
       crlf=st.booleans(), last_newline=st.booleans(), workers=st.integers(2, 6),
       min_bytes=st.integers(1, 400))
def test_jsonl_byte_ranges_number_rows_as_the_whole_file(tmp_path, monkeypatch, lines, bom,
                                                          crlf, last_newline, workers,
                                                          min_bytes):
    monkeypatch.setattr(task_plan, "MIN_TASK_BYTES", min_bytes)
    end = "\r\n" if crlf else "\n"
    data = end.join(lines) + (end if last_newline else "")
    path = tmp_path / "f.jsonl"
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + data.encode())
    srcs = expand_inputs([str(path)])
    whole = split_tasks(srcs)[0]
    tasks = make_tasks(srcs, _Engine(workers))
    assert {t.unit_index for t in tasks} == {0}
    assert list_rows(join_tasks(tasks)).tolist() == list_rows(whole).tolist()
    if len(tasks) > 1:
        assert tasks[0].byte_range[0] == 0 and tasks[-1].byte_range[1] == path.stat().st_size
        assert all(a.byte_range[1] == b.byte_range[0] for a, b in itertools.pairwise(tasks))
    assert list_rows_of(tasks) == list_rows(whole).tolist()

    def rows(task_list, only=None):
        out = []
        for t in task_list:
            for b in read_task(t, ["id", "text"], batch_rows=7, on_bad_row="reject",
                               only_rows=only):
                out.extend(zip(b.source_rows.tolist(), b.batch.column("id").to_pylist(),
                               b.batch.column("text").to_pylist()))
        return out

    assert rows(tasks) == rows([whole])
    every_other = list_rows(whole)[::2]  # the write stage reads only the rows it keeps
    assert rows(tasks, every_other) == rows([whole], every_other)


def list_rows_of(tasks):
    return [r for t in tasks for r in list_rows(t).tolist()]


def test_a_bad_line_in_a_later_range_is_named_by_its_line_in_the_file(tmp_path, monkeypatch):
    monkeypatch.setattr(task_plan, "MIN_TASK_BYTES", 200)
    rows = [json.dumps({"id": f"r{i}", "text": f"page {i} " * 5}) for i in range(60)]
    rows[47] = '{"id": "r47", "text": broken'
    path = tmp_path / "f.jsonl"
    path.write_text("\n".join(rows[:10]) + "\n\n\n" + "\n".join(rows[10:]) + "\n")
    tasks = make_tasks(expand_inputs([str(path)]), _Engine(4))
    assert len(tasks) >= 4
    bad = [r for t in tasks for b in read_task(t, ["id"], on_bad_row="reject")
           for r in b.rejected]
    assert [r[0] for r in bad] == [47]
    assert "line 50" in bad[0][1]  # 47 rows + 2 blank lines before it, counted from 1


def test_one_jsonl_file_runs_as_several_tasks_with_the_same_outputs(tmp_path, monkeypatch):
    table = make_corpus(900, seed=6).drop_columns(["cluster", "variant"])
    path = tmp_path / "all.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in table.to_pylist()))
    reference = tmp_path / "serial"
    dedupe.run([path], reference, engine__name="serial", rows_per_shard=400)
    monkeypatch.setattr(task_plan, "MIN_TASK_BYTES", 1 << 16)
    report = dedupe.run([path], tmp_path / "w2", workers=2, rows_per_shard=400)
    sign = next(s for s in report.stages if s["name"] == "sign")
    assert sign["tasks"] == 2 * sources.TASKS_PER_WORKER
    _same_bytes(reference, tmp_path / "w2")


def test_spans_cut_from_rows_of_several_tasks_as_from_one(one_group, tmp_path, monkeypatch):
    """--remove-spans: a shard whose rows come from several tasks of one row group cuts the
    same spans out of the same rows as the serial run."""
    path, _ = one_group
    dedupe.run([path], tmp_path / "serial", engine__name="serial", rows_per_shard=500,
               remove_spans=True)
    monkeypatch.setattr(sources, "MIN_TASK_ROWS", 64)
    dedupe.run([path], tmp_path / "w2", workers=2, rows_per_shard=500, remove_spans=True)
    _same_bytes(tmp_path / "serial", tmp_path / "w2")
