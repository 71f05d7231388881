"""A persistent, versioned index of kept documents: new runs match against it by merges.

``create_index`` / ``append_index`` write immutable generations (see :mod:`dedupe.index.store`
for the layout and the crash-safety rule), ``match_index`` finds each new row's exact or near
copy among them and ``lookup`` names the matched documents (see :mod:`dedupe.index.query`),
``index_params`` / ``check_compatible`` decide whether a run's signatures can be compared with
an index's at all (:mod:`dedupe.index.format`), and ``build_from_run`` indexes a finished run.
"""

from __future__ import annotations

from dedupe.index.build import build_from_run
from dedupe.index.format import FORMAT_VERSION, check_compatible, index_params
from dedupe.index.query import (
    MAX_FANOUT,
    Match,
    boilerplate_counts,
    lookup,
    match_index,
    signatures,
)
from dedupe.index.store import Index, IndexRows, open_index
from dedupe.index.writer import append_index, create_index

__all__ = [
    "FORMAT_VERSION",
    "MAX_FANOUT",
    "Index",
    "IndexRows",
    "Match",
    "append_index",
    "boilerplate_counts",
    "build_from_run",
    "check_compatible",
    "create_index",
    "index_params",
    "lookup",
    "match_index",
    "open_index",
    "signatures",
]
