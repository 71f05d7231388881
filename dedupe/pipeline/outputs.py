"""The run's record, written after the shards: manifest parts, ``spans.parquet`` and the
figures the report shows about them.

The manifest has exactly one row per input row, written task by task; survivor ids are read
from the sign files only for the rows that are some row's survivor, and spans one task at a
time, so neither needs the corpus in memory.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from dedupe._version import __version__
from dedupe.io.fs import join, makedirs, open_output
from dedupe.io.spill import read_ipc
from dedupe.io.writers import write_parquet_atomic
from dedupe.near.decide import ACTIONS, KEPT
from dedupe.near.lsh import sorted_unique
from dedupe.pipeline.against import manifest_columns
from dedupe.pipeline.manifest import manifest_table
from dedupe.pipeline.store import FileList, SignFiles
from dedupe.pipeline.write import output_positions

__all__ = ["scheme_metadata", "span_summary", "top_lines", "write_manifest", "write_spans"]


def scheme_metadata(cfg, dec) -> dict[str, str]:
    """Everything a later run must match to compare signatures, stored in the manifest."""
    from dedupe.schemes import scheme_fields
    from dedupe.text.hashing import HASH_SCHEME

    mh = cfg.minhash
    return {
        "dedupe_version": __version__,
        "hash_scheme": HASH_SCHEME,
        **scheme_fields(),
        "hash_function": mh.hash_scheme,
        "shingle": mh.shingle,
        "ngram": str(mh.ngram),
        "num_perm": str(mh.num_perm),
        "seed": str(mh.seed),
        "normalize": json.dumps(asdict(cfg.normalize), sort_keys=True),
        "threshold": str(cfg.lsh.threshold),
        "bands": str(dec.stats["bands"]),
        "rows": str(dec.stats["rows"]),
    }


@dataclass(frozen=True)
class ManifestPart:
    """One input unit's manifest file, written by an engine task: the unit's decisions (arrays
    of its rows), where its kept rows went, and the sign files, which the task reads itself
    (the unit's for its columns, any file for the ids of its rows' survivors)."""

    path: str
    source_file: str
    members: tuple[int, ...]  # the unit's sign files (positions in the run's file list)
    files: FileList  # every sign file and its global row offset (a file's name, not the list)
    arrays: dict  # action and note of the unit's rows (the page filters may change them)
    decision_paths: tuple[str, ...]  # the members' decision files: the other columns
    placements: tuple  # per member file: (shard, lo, hi, first_row) of its kept rows
    extra: dict  # matched_* and span columns (the stat_ columns come from the sign files)
    meta: dict
    compression: str
    matched: tuple | None = None  # (mask, survivor id) of rows matched in an index

    @property
    def label(self) -> str:
        return self.path


def _output_columns(part: ManifestPart) -> tuple[pa.Array, np.ndarray]:
    """``(output_file, output_row)`` of the unit's rows, from its files' placements."""
    files, rows = [], []
    action = part.arrays["action"]
    offsets = part.files.offsets
    lo = offsets[part.members[0]]
    for t, placed in zip(part.members, part.placements):
        a, b = offsets[t] - lo, offsets[t + 1] - lo
        shard, row = output_positions(action[a:b] == KEPT, placed)
        files.append(shard)
        rows.append(row)
    shard = np.concatenate(files)
    names = np.array([f"data/part-{i:05d}.parquet" for i in range(shard.max(initial=-1) + 1)]
                     + [None], dtype=object)
    return pa.array(names[shard], pa.string()), np.concatenate(rows)


def write_manifest_part(part: ManifestPart) -> dict:
    """Build and write one manifest file (see :class:`ManifestPart`); returns its rows."""
    tables = [read_ipc(part.files.sign_paths[t]) for t in part.members]
    table = tables[0] if len(tables) == 1 else pa.concat_tables(tables)
    decided = [read_ipc(p) for p in part.decision_paths]
    a = {**{c: np.concatenate([d[c].to_numpy() for d in decided])
            for c in ("cluster", "survivor", "cluster_size", "similarity")}, **part.arrays}
    survivor_id = _survivor_ids(part.files.sign_files(), a["survivor"])
    if part.matched is not None:  # rows removed by an index: their survivor is its document
        survivor_id = pc.if_else(pa.array(part.matched[0]), part.matched[1], survivor_id)
    output_file, output_row = _output_columns(part)
    n = table.num_rows
    extra = {**manifest_columns(None, 0, n, n), **part.extra, **_stat_columns(table)}
    m = manifest_table(table, part.source_file, a["action"], a["cluster"], a["cluster_size"],
                       survivor_id, a["similarity"], output_file, output_row, a["note"], extra)
    # one chunk a column: the sign tables' chunks follow the work tasks, and Parquet's
    # encoding follows the chunks (see dedupe.io.writers)
    m = m.combine_chunks().replace_schema_metadata(
        {f"dedupe.{k}": v for k, v in part.meta.items()})
    write_parquet_atomic(m, part.path, part.compression)
    return {"rows": m.num_rows}


def write_manifest(engine, out, tasks, tables, dec, placements, meta, spans=None,
                   removed=None, matches=None, compression: str = "zstd",
                   progress=None) -> dict[str, int]:
    """The manifest, one file per input unit, each written by an engine task; returns the row
    count of every action. ``placements``: where each sign file's kept rows went (see
    :func:`dedupe.pipeline.write.shard_tasks`)."""
    folder = join(out, "manifest.parquet")
    makedirs(folder)
    n_spans = spans.n_spans if spans is not None else None
    offsets = tuple(int(o) for o in tables.offsets)
    noted = np.array(sorted(dec.note or ()), np.int64)  # rows with a note
    parts = []
    for unit, members in _units(tasks):
        lo, hi = offsets[members[0]], offsets[members[-1] + 1]
        arrays = {"action": dec.action[lo:hi], "note": _notes(dec.note, noted, lo, hi)}
        extra = {}  # the matched_* columns are all null without --against: the task makes them
        if matches is not None:
            extra = {k: _own(v) if isinstance(v, (pa.Array, pa.ChunkedArray)) else v
                     for k, v in manifest_columns(matches, lo, hi, len(dec.action)).items()}
        matched = None
        if matches is not None:
            matched = (matches.index[lo:hi] >= 0, _own(matches.ids.slice(lo, hi - lo)))
        if n_spans is not None:
            extra["spans"] = n_spans[lo:hi].astype(np.int64)
            extra["span_chars"] = removed[lo:hi].astype(np.int64)
        parts.append(ManifestPart(
            join(folder, f"part-{unit.unit_index:05d}.parquet"), unit.source.path,
            tuple(members), dec.files, arrays,
            tuple(dec.paths[t] for t in members), tuple(tuple(placements[t]) for t in members),
            extra, meta, compression, matched))
    engine.map(write_manifest_part, parts, stage="manifest", progress=progress)
    return {a: int((dec.action == i).sum()) for i, a in enumerate(ACTIONS)}


def _notes(notes: dict | None, noted: np.ndarray, lo: int, hi: int) -> np.ndarray | None:
    """The notes of rows ``lo:hi`` as an object array (None for a row without one)."""
    rows = noted[np.searchsorted(noted, lo) : np.searchsorted(noted, hi)]
    if not len(rows):
        return None
    out = np.full(hi - lo, None, object)
    for g in rows.tolist():
        out[g - lo] = notes[g]
    return out


def _own(values) -> pa.Array:
    """A copy of an Arrow slice that holds only its own rows (what a task is sent)."""
    arr = values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values
    return pa.concat_arrays([arr, arr.slice(0, 0)])


def _units(tasks):
    """``(first task, [task positions])`` of each input unit, in order."""
    out = []
    for t, task in enumerate(tasks):
        if out and task.unit_index == out[-1][0].unit_index:
            out[-1][1].append(t)
        else:
            out.append((task, [t]))
    return out


def _unit_spans(tasks, spans):
    """The spans table of each input unit (the work tasks of a unit put back together)."""
    parts = []
    for t, task in enumerate(tasks):
        if parts and task.unit_index != tasks[t - 1].unit_index:
            yield pa.concat_tables(parts).combine_chunks()
            parts = []
        parts.append(spans.task(t))
    if parts:
        yield pa.concat_tables(parts).combine_chunks()


def _survivor_ids(files: SignFiles, survivor: np.ndarray) -> pa.Array:
    """The id of every row's survivor (null for rejected rows), reading only the ids of rows
    that are some row's survivor."""
    have = survivor >= 0
    distinct = sorted_unique(survivor[have])
    ids = files.string_column("id", distinct)
    pos = np.searchsorted(distinct, np.where(have, survivor, distinct[0] if len(distinct) else 0))
    if not len(distinct):
        return pa.nulls(len(survivor), pa.string())
    return pc.if_else(pa.array(have), ids.take(pa.array(pos)), pa.scalar(None, pa.string()))


def _stat_columns(table) -> dict:
    return {name[5:]: table[name].to_numpy(zero_copy_only=False)
            for name in table.column_names if name.startswith("stat_")}


def write_spans(out: str, tasks, tables, spans, compression: str = "zstd") -> None:
    """``spans.parquet``: one row per flagged span of a surviving document, written input unit
    by input unit (one row group each, see :func:`_units`), appearing whole or not at all."""
    import pyarrow.parquet as pq

    schema = pa.schema([("id", pa.string()), ("start", pa.int64()), ("end", pa.int64()),
                        ("kind", pa.string()), ("count", pa.int64()), ("first_id", pa.string()),
                        ("first_start", pa.int64())])
    with open_output(join(out, "spans.parquet")) as sink, \
            pq.ParquetWriter(sink, schema, compression=compression) as writer:
        for part in _unit_spans(tasks, spans):
            if part.num_rows == 0:
                continue
            g, first = part["g"].to_numpy(), part["first_g"].to_numpy()
            rows = sorted_unique(np.concatenate([g, first]))
            ids = tables.string_column("id", rows)
            writer.write_table(pa.table({
                "id": ids.take(pa.array(np.searchsorted(rows, g))),
                "start": part["start"], "end": part["end"], "kind": part["kind"],
                "count": part["count"],
                "first_id": ids.take(pa.array(np.searchsorted(rows, first))),
                "first_start": part["first_start"]}, schema=schema))


def top_lines(top: list[dict], tasks, tables, cfg, n: int = 20) -> list[dict]:
    """Attach the text to the most frequent boilerplate lines (reads only the rows needed)."""
    from dedupe.pipeline.fetch import fetch_values

    if not top:
        return []
    offsets = np.concatenate([[0], np.cumsum([t.num_rows for t in tables])])
    texts = fetch_values(tasks, tables, [it["g"] for it in top], cfg.input.text_column)
    out, seen = [], set()
    for it in top:
        t = int(np.searchsorted(offsets, it["g"], side="right") - 1)
        line = (texts.get(it["g"]) or "")[it["start"] : it["end"]]
        if line.strip() in seen or len(out) == n:  # one line under two keys is listed once
            continue
        seen.add(line.strip())
        out.append({"docs": it["docs"], "text": line,
                    "source_file": tasks[t].source.path,
                    "source_row": int(tables[t]["source_row"][it["g"] - offsets[t]].as_py()),
                    "start": it["start"], "end": it["end"]})
    return out


def span_summary(spans, stats) -> dict:
    out = {"file": "spans.parquet", **{k: dict(v) for k, v in spans.summary.items()}}
    out["boilerplate_keys"] = int(stats.get("keys", 0))
    out["top_boilerplate"] = stats.get("top_lines", [])
    return out
