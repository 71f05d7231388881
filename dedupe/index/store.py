"""The index on disk: a folder of immutable generations and one header that lists them.

Layout::

    INDEX/
      header.json             format version, dedupe version, params, generations, total rows
      gen-00000/              one folder per generation, never changed once listed
        docs.parquet          doc int64 (global, contiguous across generations), id string,
                              source_file string, source_row int64, digest_hi uint64,
                              digest_lo uint64, sig fixed_size_list<uint32, num_perm>;
                              row groups of DOCS_ROW_GROUP rows, so a reader fetches only the
                              row groups that hold the docs it needs
        digests.parquet       digest_hi, digest_lo, doc; sorted by (digest_hi, digest_lo, doc)
        bands/band-BBB.parquet  key uint64, doc int64; sorted by (key, doc); one per band;
                              documents without shingles are left out (as the run leaves them
                              out of LSH)
        boilerplate.parquet   key uint64, docs int64 (optional: boilerplate line key counts)
      gen-00001/ ...

Crash safety: a generation is written into ``.gen-XXXXX.tmp-<pid>``, its files fsynced, and
renamed to ``gen-XXXXX``; only then is ``.header.json.tmp-<pid>`` written and ``os.replace``-d
onto ``header.json`` (:mod:`dedupe.io.atomic`). Readers trust only the generations the header
lists, so a writer killed at any point leaves the previous index readable; the next writer
deletes stray temporary folders and unlisted generation folders. One writer at a time (an
advisory lock on ``INDEX/.lock``).

Memory: writing holds the arrays given, one band's keys and sort order (16 bytes a row) and the
digest sort order; no copy of the signatures is made when they are C-contiguous.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from dedupe.errors import InputError
from dedupe.index.format import FORMAT_VERSION

__all__ = [
    "DOCS_ROW_GROUP",
    "FORMAT_NAME",
    "GENERATION_NAME",
    "HEADER",
    "Generation",
    "Index",
    "IndexRows",
    "open_index",
    "read_header",
]

DOCS_ROW_GROUP = 65_536  # 32 MiB of 128-permutation signatures: one read of a few candidates
HEADER = "header.json"
GENERATION_NAME = re.compile(r"^gen-(\d{5})$")  # a listed generation's folder name
FORMAT_NAME = "dedupe-index"  # header.json's "format": what says a folder is an index


@dataclass(frozen=True)
class IndexRows:
    """The documents of one generation, aligned row by row.

    ``boilerplate_keys`` is an optional ``(keys uint64, counts int64)`` pair: how many
    documents hold each boilerplate line key.
    """

    ids: pa.Array
    source_file: pa.Array
    source_row: np.ndarray
    digest: np.ndarray  # (n, 2) uint64: xxh3-128 hi, lo
    sigs: np.ndarray  # (n, num_perm) uint32
    boilerplate_keys: tuple[np.ndarray, np.ndarray] | None = None

    def __len__(self) -> int:
        return len(self.source_row)


@dataclass(frozen=True)
class Generation:
    """One listed generation: docs ``first_doc .. first_doc + rows - 1`` live in ``path``."""

    name: str
    path: str
    first_doc: int
    rows: int
    created: str
    source: str
    run: str = ""  # the key of the run that wrote it (config and inputs), when a run did

    def file(self, name: str) -> str:
        return os.path.join(self.path, name)

    def band_file(self, band: int) -> str:
        return os.path.join(self.path, "bands", f"band-{band:03d}.parquet")


@dataclass(frozen=True)
class Index:
    """An opened index: its header and the generations the header lists."""

    path: str
    header: dict
    generations: tuple[Generation, ...]

    @property
    def params(self) -> dict:
        return self.header["params"]

    @property
    def num_docs(self) -> int:
        return int(self.header["rows"])

    @property
    def bands(self) -> int:
        return int(self.params["lsh.bands"])

    @property
    def band_rows(self) -> int:
        return int(self.params["lsh.rows"])

    @property
    def num_perm(self) -> int:
        return int(self.params["minhash.num_perm"])

    def info(self) -> dict:
        """Header facts plus bytes on disk per file kind and per generation."""
        total = dict.fromkeys(("docs", "digests", "bands", "boilerplate"), 0)
        gens = []
        for g in self.generations:
            sizes = _generation_bytes(g.path)
            for k, v in sizes.items():
                total[k] += v
            gens.append({"name": g.name, "rows": g.rows, "first_doc": g.first_doc,
                         "created": g.created, "source": g.source,
                         "bytes": sum(sizes.values())})
        total["total"] = sum(total.values())
        h = self.header
        return {"path": self.path, "format_version": h["format_version"],
                "dedupe_version": h["dedupe_version"], "created": h["created"],
                "updated": h.get("updated", h["created"]), "rows": self.num_docs,
                "params": dict(self.params), "generations": gens, "bytes": total}


def _generation_bytes(path: str) -> dict[str, int]:
    sizes = dict.fromkeys(("docs", "digests", "bands", "boilerplate"), 0)
    for root, _, files in os.walk(path):
        for name in files:
            kind = "bands" if os.path.basename(root) == "bands" else name.split(".")[0]
            if kind in sizes:
                sizes[kind] += os.path.getsize(os.path.join(root, name))
    return sizes


# --- reading ---------------------------------------------------------------------------------


def read_header(path: str) -> dict:
    """The index's ``header.json``, refused unless it is this format and version."""
    file = os.path.join(path, HEADER)
    try:
        with open(file, encoding="utf-8") as fh:
            header = json.load(fh)
    except FileNotFoundError:
        raise InputError(str(path), "not a dedupe index (no header.json)",
                         hint="build one with `dedupe index build RUN --out INDEX`") from None
    except (OSError, ValueError) as exc:
        raise InputError(file, f"cannot read the index header: {exc}") from None
    if header.get("format") != FORMAT_NAME or header.get("format_version") != FORMAT_VERSION:
        raise InputError(file, f"index format {header.get('format')!r} version "
                         f"{header.get('format_version')!r} is not {FORMAT_NAME!r} version "
                         f"{FORMAT_VERSION}", hint="rebuild the index with this dedupe")
    return header


def open_index(path: str | os.PathLike) -> Index:
    """Open the index at ``path``: only generations listed in ``header.json`` are trusted."""
    path = str(path)
    header = read_header(path)
    gens = []
    for g in header["generations"]:
        folder = os.path.join(path, g["name"])
        if not os.path.exists(os.path.join(folder, "docs.parquet")):
            raise InputError(folder, "listed in header.json but its docs.parquet is missing",
                             hint="the index is damaged; rebuild it")
        gens.append(Generation(g["name"], folder, int(g["first_doc"]), int(g["rows"]),
                               g["created"], g.get("source", ""),
                               g.get("run", "")))
    return Index(path, header, tuple(gens))
