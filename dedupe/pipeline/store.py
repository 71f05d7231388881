"""The sign stage's files, read back lazily: the run never holds every signature at once.

Each task's Arrow file (see :mod:`dedupe.pipeline.sign`) is memory-mapped only while it is
read and released afterwards. :class:`SignFiles` behaves as a list of those tables (``len``,
indexing, iteration, ``num_rows``) and answers the questions the decide stage asks:

* ``column(name)``: one small per-row column over all files, as one array (a copy, so no file
  stays mapped);
* ``band(b, idx)``: band ``b``'s LSH keys of the global rows ``idx``, read from the ``band_BB``
  column the sign stage wrote (8 bytes a row, one band at a time);
* ``gather(idx)``: the signatures of the sorted global rows ``idx``, file by file;
* ``shingle_sets(idx)``: the same rows' shingle sets, for exact verification.

Memory is then bounded by one band's keys and the signatures of one batch of candidate pairs,
not by the number of rows times ``num_perm``.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence

import numpy as np
import pyarrow as pa

from dedupe.io.fs import read_text, size, write_text
from dedupe.io.spill import read_ipc

__all__ = ["FileList", "OnFiles", "SignFiles", "band_column", "load_sign_columns", "status_path"]


def band_column(b: int) -> str:
    return f"band_{b:02d}"


def status_path(folder: str, t: int) -> str:
    """Sign file ``t``'s row status after the duplicate-id check (in ``folder``)."""
    from dedupe.io.fs import join

    return join(folder, f"status-{t:06d}.arrow")


def load_sign_columns(paths: list[str], num_perm: int):
    """``(tables, columns)``: every sign file whole, and its per-row columns and signatures
    concatenated in task order. For a sweep, which decides many times over one set of files
    that it can hold in memory; a run reads them through :class:`SignFiles` instead."""
    tables = [read_ipc(p) for p in paths]
    cols = ["status", "digest_hi", "digest_lo", "n_shingles", "length", "score", "nbytes"]
    data = {
        c: np.concatenate([t[c].to_numpy() for t in tables]) if tables else np.zeros(0)
        for c in cols
    }
    sigs = [t["sig"].combine_chunks().values.to_numpy().reshape(-1, num_perm) for t in tables]
    data["sig"] = np.concatenate(sigs) if sigs else np.zeros((0, num_perm), np.uint32)
    return tables, data


class SignFiles(Sequence):
    """The sign files of a run, in task order (global row ``g`` is row ``g - offsets[t]`` of
    file ``t``)."""

    def __init__(self, paths: list[str], num_perm: int, num_rows: list[int] | None = None):
        self.paths = list(paths)
        self.num_perm = num_perm
        self.num_rows = num_rows if num_rows is not None else [read_ipc(p).num_rows
                                                               for p in self.paths]
        self.offsets = np.concatenate([[0], np.cumsum(self.num_rows, dtype=np.int64)])

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [read_ipc(p) for p in self.paths[i]]
        return read_ipc(self.paths[i])

    @property
    def total_rows(self) -> int:
        return int(self.offsets[-1])

    def column(self, name: str) -> np.ndarray:
        parts = [read_ipc(p)[name].to_numpy() for p in self.paths]
        return np.concatenate(parts) if parts else np.zeros(0)

    def values(self, name: str, rows: np.ndarray) -> np.ndarray:
        """Values of a numeric column at the sorted global ``rows``, read file by file."""
        return self.columns((name,), rows)[name]

    def columns(self, names, rows: np.ndarray) -> dict[str, np.ndarray]:
        """Values of numeric columns at the sorted global ``rows``, each file read once."""
        rows = np.asarray(rows, np.int64)
        parts: dict[str, list] = {name: [] for name in names}
        for t, lo, hi in self._spans(rows):
            table = read_ipc(self.paths[t])
            for name in names:
                parts[name].append(table[name].to_numpy()[rows[lo:hi] - self.offsets[t]])
        return {name: np.concatenate(p) if p else np.zeros(0, np.int64)
                for name, p in parts.items()}

    def string_column(self, name: str, rows: np.ndarray) -> pa.Array:
        """Values of a string column at the sorted global ``rows``, read file by file."""
        rows = np.asarray(rows, np.int64)
        parts = []
        for t, lo, hi in self._spans(rows):
            col = read_ipc(self.paths[t])[name]
            parts.append(col.take(pa.array(rows[lo:hi] - self.offsets[t])).combine_chunks())
        return pa.concat_arrays(parts) if parts else pa.array([], pa.string())

    def band(self, b: int, idx: np.ndarray) -> np.ndarray:
        return self.column(band_column(b))[idx]

    def gather(self, idx: np.ndarray) -> np.ndarray:
        """``(len(idx), num_perm)`` signatures of the sorted global rows ``idx``."""
        idx = np.asarray(idx, np.int64)
        out = np.empty((len(idx), self.num_perm), np.uint32)
        for t, lo, hi in self._spans(idx):
            local = idx[lo:hi] - self.offsets[t]
            start = 0
            for chunk in read_ipc(self.paths[t])["sig"].chunks:
                n = len(chunk)
                sel = (local >= start) & (local < start + n)
                if sel.any():
                    values = chunk.flatten().to_numpy().reshape(n, self.num_perm)
                    out[lo + np.flatnonzero(sel)] = values[local[sel] - start]
                start += n
        return out

    def shingle_sets(self, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(offsets, values)``: the stored shingle sets (``--verify exact``) of the sorted
        global rows ``idx``, set ``i`` being ``values[offsets[i]:offsets[i + 1]]``. Only those
        rows' lists are copied out of each file, with 64-bit offsets."""
        idx = np.asarray(idx, np.int64)
        offsets, values, base = [np.zeros(1, np.int64)], [], 0
        for t, lo, hi in self._spans(idx):
            column = read_ipc(self.paths[t])["shingles"]
            lists = column.take(pa.array(idx[lo:hi] - self.offsets[t])).combine_chunks()
            own = lists.offsets.to_numpy().astype(np.int64)
            values.append(lists.values.slice(int(own[0]), int(own[-1] - own[0])).to_numpy())
            offsets.append(own[1:] - own[0] + base)
            base += int(own[-1] - own[0])
        flat = np.concatenate(values) if values else np.zeros(0, np.uint32)
        return np.concatenate(offsets), flat

    def _spans(self, rows: np.ndarray):
        """``(file, lo, hi)``: the slice of the sorted ``rows`` that falls in each file."""
        cuts = np.searchsorted(rows, self.offsets)
        for t in range(len(self.paths)):
            if cuts[t + 1] > cuts[t]:
                yield t, int(cuts[t]), int(cuts[t + 1])


class FileList:
    """A run's sign files (paths and global row offsets) in one JSON file of the work folder.

    A task is sent this file's name, not the list: with the list in every task of a step, the
    bytes the main process pickles would grow with the square of the file count (2.4 TB for
    10B rows in files of 100,000). A worker process reads it once and keeps it for its later
    tasks (the name holds the run's fingerprint, and a run never changes its list).
    """

    def __init__(self, path: str):
        self.path = path
        self._data: dict | None = None

    @classmethod
    def write(cls, path: str, sign_paths, offsets) -> FileList:
        write_text(path, json.dumps({"sign_paths": list(sign_paths),
                                     "offsets": [int(o) for o in offsets]}))
        _read_list.cache_clear()  # this process may have read an earlier run's list there
        return cls(path)

    def _load(self) -> dict:
        if self._data is None:
            self._data = _read_list(self.path, size(self.path))
        return self._data

    @property
    def sign_paths(self) -> list[str]:
        return self._load()["sign_paths"]

    @property
    def offsets(self) -> list[int]:
        return self._load()["offsets"]

    def sign_files(self, num_perm: int = 0) -> SignFiles:
        return SignFiles(self.sign_paths, num_perm, num_rows=np.diff(self.offsets).tolist())

    def __getstate__(self):
        return {"path": self.path}  # never the list itself

    def __setstate__(self, state):
        self.path, self._data = state["path"], None

    def __eq__(self, other):
        return isinstance(other, FileList) and other.path == self.path

    def __hash__(self):
        return hash(self.path)


@functools.lru_cache(maxsize=4)
def _read_list(path: str, nbytes: int) -> dict:
    """The list at ``path`` (kept by its size too: a long-lived worker, such as a Ray
    worker, may see a later run write another list under the same name)."""
    return json.loads(read_text(path))


class OnFiles:
    """For a task description that holds a :class:`FileList` as ``files``: the sign files, their
    row offsets, and the file of any global row."""

    files: FileList

    @property
    def sign_paths(self) -> list[str]:
        return self.files.sign_paths

    @property
    def offsets(self) -> list[int]:
        return self.files.offsets

    def file_of(self, rows: np.ndarray) -> np.ndarray:
        """The sign file of each global row."""
        return np.searchsorted(np.asarray(self.offsets), rows, side="right") - 1
