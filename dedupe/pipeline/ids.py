"""Ids from ``--id-column`` must be unique: a manifest row, ``dedupe explain`` and an index match
each name a row by its id, so two rows with one id would be indistinguishable.

The check runs as two engine maps, so no process holds an entry per row: ``hash`` (per sign
file) routes a 128-bit xxh3 digest of every considered row's id to a partition by its digest;
``groups`` (per partition) finds the rows whose digest an earlier row has and compares the two
ids as strings (a digest collision never makes a false duplicate), then routes each duplicate
with the earlier row back to its sign file. The first row (in input order) keeps the id; every
later one is a duplicate. Files live under ``WORK/ids`` and are reused by a resumed run.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import xxhash

from dedupe.errors import InputError
from dedupe.io.fs import join, makedirs
from dedupe.io.routed import map_missing, read_routed, write_routed
from dedupe.io.spill import read_ipc, write_ipc
from dedupe.near.decide import ROW_REJECTED
from dedupe.near.exact import exact_groups
from dedupe.pipeline.store import FileList, OnFiles, SignFiles, status_path

__all__ = ["IdTask", "id_task", "mark_duplicate_ids"]


@dataclass(frozen=True)
class IdTask(OnFiles):
    """Task ``index`` of step ``step`` (``hash``: a sign file, ``groups``: a partition)."""

    step: str
    index: int
    files: FileList  # the sign files and their row offsets (a file's name, not the list)
    partitions: int
    folder: str

    @property
    def out(self) -> str:
        return join(self.folder, f"{self.step}-{self.index:06d}.arrow")

    @property
    def label(self) -> str:
        return f"id {self.step} {self.index}"

    def paths(self, step: str, count: int) -> list[str]:
        return [join(self.folder, f"{step}-{i:06d}.arrow") for i in range(count)]


def _digests(ids: pa.Array) -> np.ndarray:
    """``(n, 2)`` uint64 xxh3-128 of every id (a null id as the empty string)."""
    digest = xxhash.xxh3_128_digest
    blob = b"".join(digest((v or "").encode("utf-8", "surrogatepass")) for v in ids.to_pylist())
    return np.frombuffer(blob, ">u8").astype(np.uint64).reshape(-1, 2)


def _hash(task: IdTask) -> dict:
    table = read_ipc(task.sign_paths[task.index])
    rows = np.flatnonzero(table["status"].to_numpy() != ROW_REJECTED)
    digest = _digests(table["id"].take(pa.array(rows)).combine_chunks())
    cols = {"row": task.offsets[task.index] + rows.astype(np.int64), "hi": digest[:, 0],
            "lo": digest[:, 1]}
    part = (digest[:, 0] % np.uint64(task.partitions)).astype(np.int64)
    write_routed(task.out, cols, part, task.partitions, {"result": {"rows": len(rows)}})
    return {"rows": len(rows)}


def _groups(task: IdTask) -> dict:
    rec = read_routed(task.paths("hash", len(task.sign_paths)), task.index, ("row", "hi", "lo"))
    rows = rec["row"]
    rep = rows[exact_groups(np.stack([rec["hi"], rec["lo"]], 1), rows)]
    later, first = rows[rep != rows], rep[rep != rows]
    if len(later):
        files = task.files.sign_files()
        both = np.unique(np.concatenate([later, first]))
        text = files.string_column("id", both).to_pylist()
        same = np.array([text[i] == text[j] for i, j in
                         zip(np.searchsorted(both, later), np.searchsorted(both, first))], bool)
        later, first = later[same], first[same]
    order = np.argsort(later)
    later, first = later[order], first[order]
    result = {"duplicates": len(later), "later": int(later[0]) if len(later) else -1,
              "first": int(first[0]) if len(later) else -1}
    part = task.file_of(later)
    write_routed(task.out, {"later": later, "first": first}, part, len(task.sign_paths),
                 {"result": result})
    return result


def id_task(task: IdTask) -> dict:
    """Run one task of the check (the engine's stage function)."""
    return _hash(task) if task.step == "hash" else _groups(task)


def _where(files: SignFiles, tasks, rows: np.ndarray) -> list[str]:
    """``FILE row R`` of each global row (any order), reading each file's rows at once."""
    uniq, inverse = np.unique(rows, return_inverse=True)
    files_of = np.searchsorted(files.offsets, uniq, side="right") - 1
    source_rows = files.values("source_row", uniq)
    names = [f"{tasks[t].source.path} row {int(r)}" for t, r in zip(files_of, source_rows)]
    return [names[i] for i in inverse]


def mark_duplicate_ids(cfg, engine, files: SignFiles, tasks, folder: str, partitions: int):
    """``(notes, status files)``: stop on a duplicate id (``on_bad_row = "error"``), or reject
    every later duplicate: ``status files`` holds each sign file's row status with those rows
    rejected, ``notes`` their manifest reasons (global row -> text). ``(None, ())`` without an
    id column or a duplicate."""
    column = cfg.input.id_column
    if column is None:
        return None, ()
    makedirs(folder)
    base = (FileList.write(join(folder, "files.json"), files.paths, files.offsets), partitions,
            folder)
    hashes = [IdTask("hash", t, *base) for t in range(len(files))]
    map_missing(engine, id_task, hashes, "decide")
    groups = [IdTask("groups", p, *base) for p in range(partitions)]
    results = map_missing(engine, id_task, groups, "decide")
    found = [r for r in results if r["duplicates"]]
    if not found:
        return None, ()
    if cfg.input.on_bad_row == "error":
        g, f = min((r["later"], r["first"]) for r in found)
        t = int(np.searchsorted(files.offsets, g, side="right") - 1)
        value = files.string_column("id", np.array([g])).to_pylist()[0]
        raise InputError(tasks[t].source.path, f"id {value!r} appears again",
                         row=int(files.values("source_row", np.array([g]))[0]), column=column,
                         hint=f"its first row is {_where(files, tasks, np.array([f]))[0]}; ids "
                              "must be unique, or pass --on-bad-row reject to keep the first")
    return _reject(files, tasks, folder, partitions)


def _reject(files: SignFiles, tasks, folder: str, partitions: int):
    """Each sign file's status with its later duplicates rejected, and their reasons."""
    notes: dict[int, str] = {}
    groups = [join(folder, f"groups-{p:06d}.arrow") for p in range(partitions)]
    paths = []
    for t in range(len(files)):
        rec = read_routed(groups, t, ("later", "first"))
        status = read_ipc(files.paths[t])["status"].to_numpy().copy()
        status[rec["later"] - files.offsets[t]] = ROW_REJECTED
        paths.append(status_path(folder, t))
        write_ipc(pa.table({"status": status}), paths[-1])
        if not len(rec["later"]):
            continue
        ids = files.string_column("id", rec["later"]).to_pylist()
        for g, where, value in zip(rec["later"].tolist(), _where(files, tasks, rec["first"]),
                                   ids):
            notes[g] = f"duplicate id {value!r}: the same id as {where}"
    return notes, tuple(paths)
