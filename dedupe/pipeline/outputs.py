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
from dedupe.near.decide import KEPT
from dedupe.near.lsh import sorted_unique
from dedupe.pipeline.decide_tasks import DECISION_COLUMNS
from dedupe.pipeline.manifest import manifest_table
from dedupe.pipeline.store import FileList, SignFiles
from dedupe.pipeline.write import output_positions, write_shard

__all__ = ["ManifestPart", "manifest_parts", "scheme_metadata", "span_summary", "top_lines",
           "top_passages", "write_manifest_part", "write_output", "write_spans"]


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
    """One input unit's manifest file, written by an engine task from its sign files' final
    decision files (:mod:`dedupe.pipeline.finish`: actions, clusters, notes, span counts and
    ``--against`` matches), its sign files, and where its kept rows went (any sign file is
    read for the ids of its rows' survivors)."""

    path: str
    source_file: str
    members: tuple[int, ...]  # the unit's sign files (positions in the run's file list)
    files: FileList  # every sign file and its global row offset (a file's name, not the list)
    decision_paths: tuple[str, ...]  # the members' final decision files
    placements: tuple  # per member file: (shard, lo, hi, first_row) of its kept rows
    meta: dict
    compression: str

    @property
    def label(self) -> str:
        return self.path


def _output_columns(part: ManifestPart, action: np.ndarray) -> tuple[pa.Array, np.ndarray]:
    """``(output_file, output_row)`` of the unit's rows, from its files' placements."""
    files, rows = [], []
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
    decided = decided[0] if len(decided) == 1 else pa.concat_tables(decided)
    a = {c: decided[c].to_numpy() for c in DECISION_COLUMNS}
    survivor_id = _survivor_ids(part.files.sign_files(), a["survivor"])
    n = table.num_rows
    extra = {"matched_index": pa.nulls(n, pa.string()), "matched_id": pa.nulls(n, pa.string()),
             "matched_file": pa.nulls(n, pa.string()), "matched_row": pa.nulls(n, pa.int64())}
    if "matched_index" in decided.column_names:  # removed by an index: the survivor is its doc
        extra = {c: decided[c].combine_chunks() for c in extra}
        survivor_id = pc.if_else(pc.is_valid(extra["matched_index"]), extra["matched_id"],
                                 survivor_id)
    for c in ("spans", "span_chars"):
        if c in decided.column_names:
            extra[c] = decided[c].to_numpy().astype(np.int64)
    output_file, output_row = _output_columns(part, a["action"])
    note = decided["note"]
    note = note.to_numpy(zero_copy_only=False) if note.null_count < n else None
    m = manifest_table(table, part.source_file, a["action"], a["cluster"], a["cluster_size"],
                       survivor_id, a["similarity"], output_file, output_row, note,
                       {**extra, **_stat_columns(table)})
    # one chunk a column: the sign tables' chunks follow the work tasks, and Parquet's
    # encoding follows the chunks (see dedupe.io.writers)
    m = m.combine_chunks().replace_schema_metadata(
        {f"dedupe.{k}": v for k, v in part.meta.items()})
    write_parquet_atomic(m, part.path, part.compression)
    return {"rows": m.num_rows}


def manifest_parts(out, tasks, dec, placements, meta, compression: str = "zstd"
                   ) -> list[ManifestPart]:
    """The manifest's files, one per input unit (see :class:`ManifestPart`), for engine
    tasks. ``placements``: where each sign file's kept rows went (see
    :func:`dedupe.pipeline.write.shard_tasks`)."""
    folder = join(out, "manifest.parquet")
    makedirs(folder)
    return [ManifestPart(join(folder, f"part-{unit.unit_index:05d}.parquet"), unit.source.path,
                         tuple(members), dec.files, tuple(dec.paths[t] for t in members),
                         tuple(tuple(placements[t]) for t in members), meta, compression)
            for unit, members in _units(tasks)]


def write_output(task) -> dict:
    """The write stage's function: a shard (:class:`~dedupe.pipeline.write.ShardTask`) or a
    manifest file (:class:`ManifestPart`); both need only the shard plan, so one map runs
    them side by side."""
    if isinstance(task, ManifestPart):
        return write_manifest_part(task)
    return write_shard(task)


def _units(tasks):
    """``(first task, [task positions])`` of each input unit, in order."""
    out = []
    for t, task in enumerate(tasks):
        if out and task.unit_index == out[-1][0].unit_index:
            out[-1][1].append(t)
        else:
            out.append((task, [t]))
    return out


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


def write_spans(out: str, tasks, spans_paths, compression: str = "zstd",
                similarity: bool = False) -> None:
    """``spans.parquet``: one row per flagged span of a surviving document, copied from the
    sign files' spans files (:mod:`dedupe.pipeline.finish`, ids already there) input unit by
    input unit (one row group each, see :func:`_units`), appearing whole or not at all.
    ``similarity`` (with ``--near-passages``): also the estimated Jaccard of a near passage to
    its first occurrence (null for the other kinds)."""
    import pyarrow.parquet as pq

    schema = pa.schema([("id", pa.string()), ("start", pa.int64()), ("end", pa.int64()),
                        ("kind", pa.string()), ("count", pa.int64()), ("first_id", pa.string()),
                        ("first_start", pa.int64())]
                       + ([("similarity", pa.float64())] if similarity else []))
    with open_output(join(out, "spans.parquet")) as sink, \
            pq.ParquetWriter(sink, schema, compression=compression) as writer:
        for _unit, members in _units(tasks):
            part = pa.concat_tables([read_ipc(spans_paths[t]) for t in members])
            if part.num_rows:
                part = part.select(schema.names)
                if similarity:  # NaN (not a near passage) is written as null
                    sim = part["similarity"]
                    part = part.set_column(part.schema.get_field_index("similarity"), "similarity",
                                           pc.if_else(pc.is_nan(sim), None, sim))
                writer.write_table(part.cast(schema).combine_chunks())


def _place(tasks, tables):
    """A function from a global row to its ``(source file, source row)``."""
    offsets = np.concatenate([[0], np.cumsum([t.num_rows for t in tables])])

    def place(g: int) -> tuple[str, int]:
        t = int(np.searchsorted(offsets, g, side="right") - 1)
        return tasks[t].source.path, int(tables[t]["source_row"][g - offsets[t]].as_py())

    return place


def top_lines(top: list[dict], tasks, tables, cfg, n: int = 20) -> list[dict]:
    """Attach the text to the most frequent boilerplate lines (reads only the rows needed)."""
    from dedupe.pipeline.fetch import fetch_values

    if not top:
        return []
    place = _place(tasks, tables)
    texts = fetch_values(tasks, tables, [it["g"] for it in top], cfg.input.text_column)
    out, seen = [], set()
    for it in top:
        line = (texts.get(it["g"]) or "")[it["start"] : it["end"]]
        if line.strip() in seen or len(out) == n:  # one line under two keys is listed once
            continue
        seen.add(line.strip())
        file, row = place(it["g"])
        out.append({"docs": it["docs"], "text": line, "source_file": file, "source_row": row,
                    "start": it["start"], "end": it["end"]})
    return out


def top_passages(spans: list[dict], tasks, tables, cfg, n: int = 20) -> list[dict]:
    """The largest near-passage clusters: passages in the cluster, one later copy's text and
    place, and its cluster's first occurrence (``spans``: the finishing tasks' largest)."""
    from dedupe.pipeline.fetch import fetch_values

    best: dict[tuple[int, int], dict] = {}
    for it in sorted(spans, key=lambda it: (-it["count"], it["g"], it["start"])):
        best.setdefault((it["first_g"], it["first_start"]), it)
    top = list(best.values())[:n]
    if not top:
        return []
    place = _place(tasks, tables)
    texts = fetch_values(tasks, tables, [it["g"] for it in top], cfg.input.text_column)
    out = []
    for it in top:
        file, row = place(it["g"])
        first_file, first_row = place(it["first_g"])
        out.append({"passages": it["count"],
                    "text": (texts.get(it["g"]) or "")[it["start"] : it["end"]],
                    "source_file": file, "source_row": row, "start": it["start"],
                    "end": it["end"], "first_source_file": first_file,
                    "first_source_row": first_row, "first_start": it["first_start"]})
    return out


def span_summary(summary: dict, stats: dict) -> dict:
    """The report's ``spans`` section: spans, characters and documents per kind (summed over
    the finishing tasks), the boilerplate keys and the most frequent boilerplate lines; with
    near passages, the passage stage's figures and its largest clusters."""
    out = {"file": "spans.parquet", **{k: dict(v) for k, v in summary.items()}}
    out["boilerplate_keys"] = int(stats.get("keys", 0))
    out["top_boilerplate"] = stats.get("top_lines", [])
    if "passages" in stats:
        out["passages"] = {k: v for k, v in stats["passages"].items() if k != "steps"}
        out["top_near_passages"] = stats.get("top_passages", [])
    return out
