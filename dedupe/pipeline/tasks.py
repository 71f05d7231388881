"""The work tasks of a run: the input's units (:func:`dedupe.io.sources.split_tasks`) cut so
that every worker has several tasks, however few and large the files are.

* Parquet: at row-group boundaries, and inside a row group larger than a task
  (:func:`dedupe.io.sources.work_tasks`).
* Plain JSONL: into byte ranges cut at line ends. A range's first row number is the count of
  rows before it, which one engine task per range counts (reading bytes, holding no line), so
  rows are numbered exactly as when the file is read whole. A compressed stream cannot be
  entered in the middle and stays one task.

How the input was cut is chosen once per run and kept in the work folder (``tasks.json``): a
resume with another ``--workers`` finds the same tasks, so the work files it finds are the ones
it would write. Outputs never depend on it (files written per input part follow the units).
"""

from __future__ import annotations

import itertools
import json
from dataclasses import replace

from dedupe.io.fs import exists, join, read_text, write_text
from dedupe.io.sources import TASKS_PER_WORKER, Task, rows_per_task, split_tasks, work_tasks
from dedupe.io.streams import count_lines, line_starts

__all__ = ["MIN_TASK_BYTES", "make_tasks"]

MIN_TASK_BYTES = 16 << 20  # a JSONL range smaller than this costs more to start than it saves
_PLAN = "tasks.json"


def make_tasks(sources, engine, work: str | None = None) -> list[Task]:
    """The work tasks for ``engine``'s workers (reusing the cut kept in ``work``, if any)."""
    units = split_tasks(sources)
    path = join(work, _PLAN) if work else None
    if path and exists(path):
        plan = json.loads(read_text(path))
    else:
        plan = {"rows_per_task": rows_per_task(units, engine.workers),
                "jsonl": _jsonl_ranges(units, engine)}
        if path:
            write_text(path, json.dumps(plan))
    tasks = work_tasks(units, int(plan["rows_per_task"]))
    return _cut_jsonl(tasks, plan["jsonl"])


def _splittable(u: Task) -> bool:
    return u.source.format == "jsonl" and u.source.compression is None and u.source.size > 0


def _jsonl_ranges(units: list[Task], engine) -> dict[str, list[list[int]]]:
    """``{unit index: [[start, end, first_line, first_row], ...]}`` for each plain JSONL file
    large enough to cut."""
    plain = [u for u in units if _splittable(u)]
    if engine.workers <= 1 or not plain:
        return {}
    total = sum(u.source.size for u in plain)
    target = max(MIN_TASK_BYTES, -(-total // (engine.workers * TASKS_PER_WORKER)))
    ranges: dict[int, list[tuple[int, int]]] = {}
    for u in plain:
        pieces = -(-u.source.size // target)
        if pieces < 2:
            continue
        guess = [u.source.size * k // pieces for k in range(1, pieces)]
        cuts = sorted({c for c in line_starts(u.source, guess) if 0 < c < u.source.size})
        bounds = [0, *cuts, u.source.size]
        if len(bounds) > 2:
            ranges[u.index] = list(itertools.pairwise(bounds))
    counted = [Task(0, units[i].source, byte_range=r) for i, rs in ranges.items() for r in rs]
    counts = iter(engine.map(count_lines, counted, stage="split"))
    out = {}
    for i, rs in ranges.items():
        line = row = 0
        out[str(i)] = []
        for start, end in rs:
            out[str(i)].append([start, end, line, row])
            lines, rows = next(counts)
            line, row = line + lines, row + rows
    return out


def _cut_jsonl(tasks: list[Task], plan: dict[str, list[list[int]]]) -> list[Task]:
    if not plan:
        return tasks
    out: list[Task] = []
    for t in tasks:
        for start, end, line, row in plan.get(str(t.unit_index), [[None] * 4]):
            if start is None:
                out.append(replace(t, index=len(out)))
            else:
                out.append(replace(t, index=len(out), byte_range=(start, end), first_line=line,
                                   first_row=row))
    return out
