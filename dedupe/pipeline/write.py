"""Stage 3, per output shard: reread the rows that survive and write one Parquet shard.

A shard is a list of segments ``(task, source rows)``; the shards are cut in the main process
from the kept-row counts (:func:`shard_tasks`), so shard names and contents never depend on the
worker count. Only the write stage reads every input column, and only for the rows it writes.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from dedupe.io.fs import join
from dedupe.io.readers import read_task
from dedupe.io.sources import Task, join_tasks
from dedupe.io.spill import read_ipc
from dedupe.io.unify import conform
from dedupe.io.writers import write_parquet_atomic
from dedupe.memory import PeakRSS
from dedupe.pipeline.decide_tasks import kept_mask
from dedupe.pipeline.finish import span_edits

__all__ = ["ShardTask", "cut_shards", "output_positions", "shard_tasks", "write_shard"]


@dataclass(frozen=True)
class ShardTask:
    index: int
    path: str
    # (task, picks): the task reads a unit's rows; each pick (decision file, sign file, lo, hi,
    # spans file) names a work task's kept rows lo:hi (in row order), which the writer looks
    # up itself, and with --remove-spans the work task's spans file (None: nothing to cut)
    segments: tuple[tuple[Task, tuple[tuple[str, str, int, int, str | None], ...]], ...]
    schema: pa.Schema
    text_column: str
    batch_rows: int
    compression: str
    max_row_bytes: int | None = None

    @property
    def label(self) -> str:
        return self.path


def cut_shards(
    kept_counts: list[int],
    kept_bytes: list[np.ndarray] | None,
    rows_per_shard: int,
    bytes_per_shard: int | None,
):
    """Cut the kept rows (in task order) into shards: ``[[(task_pos, lo, hi), ...], ...]``.

    ``kept_bytes[t]``: the running total of task ``t``'s kept rows' text bytes (``0`` first,
    one entry more than its kept rows), needed only with ``bytes_per_shard``. A shard closes
    when it reaches ``rows_per_shard`` rows or would pass ``bytes_per_shard`` bytes of text (a
    single larger row still gets a shard of its own).
    """
    shards: list[list[tuple[int, int, int]]] = []
    cur: list[tuple[int, int, int]] = []
    rows = 0
    size = 0
    limit = bytes_per_shard or 0
    for t, n in enumerate(kept_counts):
        lo = 0
        while lo < n:
            room = rows_per_shard - rows
            hi = min(n, lo + room)
            if limit:
                csum = kept_bytes[t][lo + 1 : hi + 1] - kept_bytes[t][lo]
                fit = int(np.searchsorted(csum, limit - size, side="right"))
                if fit == 0 and rows == 0:
                    fit = 1
                hi = lo + fit
            if hi > lo:
                cur.append((t, lo, hi))
                rows += hi - lo
                if limit:
                    size += int(kept_bytes[t][hi] - kept_bytes[t][lo])
                lo = hi
            # stopped before the task's end means the next row does not fit: close the shard
            if lo < n or rows >= rows_per_shard or (limit and size >= limit):
                shards.append(cur)
                cur, rows, size = [], 0, 0
    if cur:
        shards.append(cur)
    return shards


def _kept(decision_path: str, sign_path: str, nbytes: bool = False):
    """The source rows (and text bytes, with ``nbytes``) of a work task's kept rows, in row
    order, from its decision and sign files."""
    kept = kept_mask(decision_path)
    table = read_ipc(sign_path)
    rows = table["source_row"].to_numpy()[kept]
    return (rows, table["nbytes"].to_numpy()[kept]) if nbytes else rows


class _KeptBytes:
    """``[t]``: the running total of task ``t``'s kept rows' text bytes, read from its files
    when asked for (one task's at a time: :func:`cut_shards` walks the tasks in order)."""

    def __init__(self, decision_paths, sign_paths):
        self.decision_paths, self.sign_paths = decision_paths, sign_paths
        self._last: tuple[int, np.ndarray] | None = None

    def __getitem__(self, t: int) -> np.ndarray:
        if self._last is None or self._last[0] != t:
            _, nbytes = _kept(self.decision_paths[t], self.sign_paths[t], nbytes=True)
            self._last = (t, np.concatenate([[0], np.cumsum(nbytes)]))
        return self._last[1]


def shard_tasks(cfg, tasks, tables, dec, out: str, schema: pa.Schema, spans_paths=None):
    """``(shard tasks, placements)``: the kept rows of every task cut into shards
    (:func:`cut_shards`) from the kept-row counts ``dec.kept`` (and, with
    ``--bytes-per-shard``, one task's text sizes at a time); ``placements[t]`` lists
    ``(shard, lo, hi, first_row)`` for task ``t``: its kept rows ``lo:hi`` (in row order) are
    rows ``first_row...`` of shard ``shard`` (see :func:`output_positions`). ``dec.paths``
    holds the final decisions, which the writers read their rows from; ``spans_paths``: each
    task's spans file, which the writers cut with ``--remove-spans``."""
    sizes = _KeptBytes(dec.paths, tables.paths) if cfg.output.bytes_per_shard else None
    shards = cut_shards(dec.kept, sizes, cfg.output.rows_per_shard, cfg.output.bytes_per_shard)
    cut = cfg.spans.remove and spans_paths is not None
    placements: list[list[tuple[int, int, int, int]]] = [[] for _ in range(len(tables))]
    tasks_out = []
    for s, segments in enumerate(shards):
        path = join(out, "data", f"part-{s:05d}.parquet")
        segs = []
        row = 0
        for t, lo, hi in segments:
            segs.append((tasks[t], ((dec.paths[t], tables.paths[t], lo, hi,
                                     spans_paths[t] if cut else None),)))
            placements[t].append((s, lo, hi, row))
            row += hi - lo
        tasks_out.append(ShardTask(s, path, tuple(_by_unit(segs, tasks)), schema,
                                   cfg.input.text_column, cfg.input.batch_rows,
                                   cfg.output.compression, cfg.input.max_row_bytes))
    return tasks_out, placements


def output_positions(kept: np.ndarray, placements) -> tuple[np.ndarray, np.ndarray]:
    """``(shard, row)`` of each of a task's rows (``-1`` for a row not written): ``kept`` is
    the task's kept-row mask, ``placements`` its entries from :func:`shard_tasks`."""
    shard = np.full(len(kept), -1, np.int64)
    row = np.full(len(kept), -1, np.int64)
    where = np.flatnonzero(kept)
    for s, lo, hi, first in placements:
        shard[where[lo:hi]] = s
        row[where[lo:hi]] = np.arange(first, first + hi - lo)
    return shard, row


def _by_unit(segs: list, tasks: list) -> list:
    """The segments of work tasks cut from one input unit joined into one segment that reads
    the tasks from the first to the last (:func:`dedupe.io.sources.join_tasks`): the shard's
    writer reads each row group once, in batches that start where the unit's do, so the
    shard's chunks, and with them its bytes, never depend on how the unit was cut."""
    out = []
    i = 0
    while i < len(segs):
        j = i + 1
        while j < len(segs) and segs[j][0].unit_index == segs[i][0].unit_index:
            j += 1
        picks = tuple(p for _, own in segs[i:j] for p in own)
        out.append((join_tasks(tasks[segs[i][0].index:segs[j - 1][0].index + 1]), picks))
        i = j
    return out


def _cut_spans(batch: pa.RecordBatch, rows: np.ndarray, edit, text_column: str):
    """Replace the text of rows that have spans by the text with those spans cut out."""
    from dedupe.spans.edit import remove_spans

    span_rows, starts, ends = edit
    hit = np.flatnonzero(np.isin(rows, span_rows))
    if len(hit) == 0:
        return batch
    idx = batch.schema.get_field_index(text_column)
    values = batch.column(idx).to_pylist()
    for i in hit.tolist():
        sel = span_rows == rows[i]
        values[i] = remove_spans(values[i], starts[sel], ends[sel]).text
    column = pa.array(values, batch.schema.field(idx).type)
    return batch.set_column(idx, batch.schema.field(idx), column)


def write_shard(st: ShardTask) -> dict:
    """Read the segments' rows, keep the planned ones in order, write the shard."""
    t0 = time.perf_counter()
    rss = PeakRSS.start()
    pieces = []
    expected = 0
    for task, picks in st.segments:
        own = [_kept(d, p)[lo:hi] for d, p, lo, hi, _ in picks]
        keep_rows = np.concatenate(own)
        expected += len(keep_rows)
        cuts = [span_edits(sp, rows) for (*_, sp), rows in zip(picks, own) if sp is not None]
        edit = tuple(np.concatenate(c) for c in zip(*cuts)) if cuts else None
        for rb in read_task(
            task, None, batch_rows=st.batch_rows, on_bad_row="reject", text_column=st.text_column,
            max_row_bytes=st.max_row_bytes, schema_hint=st.schema, only_rows=keep_rows,
        ):
            if rb.batch.num_rows == 0:
                continue
            mask = np.isin(rb.source_rows, keep_rows, assume_unique=True)
            if mask.any():
                batch = conform(rb.batch.filter(pa.array(mask)), st.schema, task.source.path)
                if edit is not None:
                    batch = _cut_spans(batch, rb.source_rows[mask], edit, st.text_column)
                pieces.append(batch)
    table = pa.Table.from_batches(pieces, schema=st.schema)
    if table.num_rows != expected:
        from dedupe.errors import EngineError

        raise EngineError(
            "write",
            st.path,
            f"read {table.num_rows} rows back, expected "
            f"{expected}: the input changed during the run",
        )
    write_parquet_atomic(table, st.path, st.compression)
    return {"rows": table.num_rows, "seconds": time.perf_counter() - t0,
            "peak_rss": rss.stop()}
