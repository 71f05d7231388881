"""Writing an index: new generations, made visible by one header replacement (see
:mod:`dedupe.index.store` for the layout and the crash-safety rule)."""

from __future__ import annotations

import datetime
import json
import os
import shutil
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from dedupe._version import __version__
from dedupe.errors import OutputError
from dedupe.index.format import FORMAT_VERSION, band_key, check_compatible, has_signature
from dedupe.index.store import (
    DOCS_ROW_GROUP,
    FORMAT_NAME,
    GENERATION_NAME,
    HEADER,
    Index,
    IndexRows,
    open_index,
    read_header,
)
from dedupe.io.atomic import atomic_path, fsync_dir, is_temporary, write_text_atomic
from dedupe.io.folders import claim_folder, empty_folder, folder_lock, write_marker

__all__ = ["GenerationTask", "append_index", "create_index", "write_generation"]


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


def create_index(path: str | os.PathLike, params: dict, arrays, *,
                 overwrite: bool = False, source: str = "", run: str = "",
                 protected: dict | None = None, compression: str = "zstd",
                 engine=None) -> Index:
    """Create an index at ``path`` with ``arrays`` as its first generation.

    ``arrays`` is one :class:`IndexRows` or an iterable of them (one generation each, all
    committed together by the one header write, so a large run is indexed chunk by chunk).
    An existing non-empty folder is refused unless ``overwrite``; even then only a folder that
    dedupe made (an index or another dedupe folder) is emptied, and never one that is, holds or
    sits inside a ``protected`` path (see :mod:`dedupe.io.folders`). ``compression``: the Parquet
    codec of the new files. ``engine``: write the generations as its tasks (see
    :func:`write_generation`).
    """
    path = str(path)
    filled, _ = claim_folder(path, overwrite, "index", protected, recognise=(HEADER,))
    header = {"format": FORMAT_NAME, "format_version": FORMAT_VERSION,
              "dedupe_version": __version__, "created": _now(),
              "params": dict(params), "rows": 0, "generations": []}
    with folder_lock(path, "index"):
        if filled:
            empty_folder(path)
        write_marker(path, "index")
        _add_generations(path, header, arrays, params, source, run, compression, engine)
    return open_index(path)


def append_index(path: str | os.PathLike, params: dict, arrays, *,
                 source: str = "", run: str = "", compression: str = "zstd",
                 engine=None) -> Index:
    """Add ``arrays`` (one :class:`IndexRows` or an iterable of them) as new generations; doc
    numbers continue after the last one. All of them become visible in one header write: a
    crash before it leaves the index exactly as it was.

    Raises :class:`dedupe.errors.IndexMismatchError` when ``params`` differ from the index's.
    """
    path = str(path)
    check_compatible(read_header(path)["params"], params, path)
    with folder_lock(path, "index"):
        header = read_header(path)  # again, under the lock
        _remove_strays(path, header)
        _add_generations(path, header, arrays, params, source, run, compression, engine)
    return open_index(path)


@dataclass(frozen=True)
class GenerationTask:
    """Write generation ``name`` of the index at ``path``: ``rows`` is an :class:`IndexRows` or
    an object whose ``load()`` returns one (read by the task itself, in a worker)."""

    path: str
    name: str
    first_doc: int
    rows: object
    params: dict
    compression: str

    @property
    def label(self) -> str:
        return f"{self.path} {self.name}"


def write_generation(task: GenerationTask) -> dict:
    """Write one generation folder (an engine's stage function); returns its row count."""
    arrays = task.rows if isinstance(task.rows, IndexRows) else task.rows.load()
    _check_rows(arrays, task.params, task.path)
    _write_generation(task.path, task.name, arrays, task.first_doc, task.params,
                      task.compression)
    return {"rows": len(arrays)}


def _add_generations(path: str, header: dict, arrays, params: dict, source: str,
                     run: str = "", compression: str = "zstd", engine=None) -> None:
    """Write ``arrays`` as new generations, then commit the header that lists them. With an
    ``engine`` (and chunks that know their length), the generations are its tasks: their names
    and first documents are planned here from the chunks' lengths."""
    chunks = [arrays] if isinstance(arrays, IndexRows) else arrays
    if engine is None:
        for chunk in chunks:
            _check_rows(chunk, params, path)
            name, first_doc = _next_generation(header)
            _write_generation(path, name, chunk, first_doc, header["params"], compression)
            header = _listed(header, name, len(chunk), source, run)
    else:
        tasks = []
        for chunk in chunks:
            name, first_doc = _next_generation(header)
            tasks.append(GenerationTask(path, name, first_doc, chunk, header["params"],
                                        compression))
            header = _listed(header, name, len(chunk), source, run)
        engine.map(write_generation, tasks, stage="write-index")
    _commit_header(path, header)


def _check_rows(arrays: IndexRows, params: dict, path: str) -> None:
    n, k = len(arrays), int(params["minhash.num_perm"])
    if arrays.sigs.shape != (n, k) or arrays.digest.shape != (n, 2):
        raise OutputError(f"cannot write index {path}: signatures {arrays.sigs.shape} and "
                          f"digests {arrays.digest.shape} do not fit {n} rows of {k} permutations")
    if len(arrays.ids) != n or len(arrays.source_file) != n:
        raise OutputError(f"cannot write index {path}: ids, source files and rows differ in length")


def _remove_strays(path: str, header: dict) -> None:
    """Delete what a killed writer left: temporary folders and generations the header omits."""
    listed = {g["name"] for g in header["generations"]}
    for name in os.listdir(path):
        stray = is_temporary(name) or name == HEADER + ".tmp"  # (the name earlier versions used)
        stray = stray or (GENERATION_NAME.match(name) is not None and name not in listed)
        if stray:
            full = os.path.join(path, name)
            if os.path.isdir(full):
                shutil.rmtree(full)
            else:
                os.unlink(full)


def _next_generation(header: dict) -> tuple[str, int]:
    """The name and first document of the generation after the header's last one."""
    number = 1 + max([int(GENERATION_NAME.match(g["name"]).group(1))
                      for g in header["generations"]], default=-1)
    return f"gen-{number:05d}", int(header["rows"])


def _write_generation(path: str, name: str, arrays: IndexRows, first_doc: int, params: dict,
                      compression: str) -> None:
    """Write the generation folder and rename it into place (the header lists it later)."""
    try:
        with atomic_path(os.path.join(path, name), durable=True) as tmp:
            os.makedirs(os.path.join(tmp, "bands"))
            _write_docs(tmp, arrays, first_doc, compression)
            _write_digests(tmp, arrays.digest, first_doc, compression)
            _write_bands(tmp, arrays.sigs, first_doc, int(params["lsh.bands"]),
                         int(params["lsh.rows"]), compression)
            if arrays.boilerplate_keys is not None:
                _write_boilerplate(tmp, *arrays.boilerplate_keys, compression)
            _fsync_tree(tmp)
    except OSError as exc:
        raise OutputError(f"cannot write index {path}: {exc.strerror or exc}") from None


def _listed(header: dict, name: str, rows: int, source: str, run: str) -> dict:
    """The header with generation ``name`` of ``rows`` documents added (committed last)."""
    first_doc = int(header["rows"])
    now = _now()
    return {**header, "updated": now, "rows": first_doc + rows,
            "generations": [*header["generations"],
                            {"name": name, "rows": rows, "first_doc": first_doc,
                             "created": now, "source": source, **({"run": run} if run else {})}]}


def _commit_header(path: str, header: dict) -> None:
    """Make the new header visible in one ``os.replace``: the commit point of a write."""
    write_text_atomic(os.path.join(path, HEADER), json.dumps(header, indent=2, sort_keys=True),
                      durable=True)


def _fsync_tree(folder: str) -> None:
    for root, _, files in os.walk(folder):
        for name in files:
            fd = os.open(os.path.join(root, name), os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        fsync_dir(root)


def _write_docs(folder: str, arrays: IndexRows, first_doc: int, compression: str) -> None:
    n, k = arrays.sigs.shape
    sigs = np.ascontiguousarray(arrays.sigs, np.uint32)
    table = pa.table({
        "doc": np.arange(first_doc, first_doc + n, dtype=np.int64),
        "id": _strings(arrays.ids),
        "source_file": _strings(arrays.source_file),
        "source_row": np.asarray(arrays.source_row, np.int64),
        "digest_hi": np.ascontiguousarray(arrays.digest[:, 0], np.uint64),
        "digest_lo": np.ascontiguousarray(arrays.digest[:, 1], np.uint64),
        "sig": pa.FixedSizeListArray.from_arrays(pa.array(sigs.reshape(-1)), k),
    })
    pq.write_table(table, os.path.join(folder, "docs.parquet"), row_group_size=DOCS_ROW_GROUP,
                   compression=compression)


def _strings(values) -> pa.Array:
    if isinstance(values, (pa.Array, pa.ChunkedArray)):
        return values.cast(pa.string())
    return pa.array(values, pa.string())


def _write_digests(folder: str, digest: np.ndarray, first_doc: int, compression: str) -> None:
    order = np.lexsort((digest[:, 1], digest[:, 0]))  # stable: equal digests keep doc order
    table = pa.table({"digest_hi": digest[order, 0].astype(np.uint64),
                      "digest_lo": digest[order, 1].astype(np.uint64),
                      "doc": order.astype(np.int64) + first_doc})
    pq.write_table(table, os.path.join(folder, "digests.parquet"), compression=compression)


def _write_bands(folder: str, sigs: np.ndarray, first_doc: int, bands: int, rows: int,
                 compression: str) -> None:
    """One sorted ``(key, doc)`` file per band; one band's keys in memory at a time."""
    docs = np.flatnonzero(has_signature(sigs))
    for b in range(bands):
        keys = band_key(sigs, b, rows)[docs]
        order = np.argsort(keys, kind="stable")  # stable: equal keys keep doc order
        table = pa.table({"key": keys[order], "doc": docs[order] + first_doc})
        pq.write_table(table, os.path.join(folder, "bands", f"band-{b:03d}.parquet"),
                       compression=compression)


def _write_boilerplate(folder: str, keys: np.ndarray, counts: np.ndarray,
                       compression: str) -> None:
    keys = np.asarray(keys, np.uint64)
    order = np.argsort(keys, kind="stable")
    table = pa.table({"key": keys[order], "docs": np.asarray(counts, np.int64)[order]})
    pq.write_table(table, os.path.join(folder, "boilerplate.parquet"), compression=compression)
