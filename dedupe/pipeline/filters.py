"""Filters after the spans stage: rows that survive deduplication but fail a page-level test.

Two tests, each turning a ``kept`` row into another action with a note the manifest shows:
``filtered`` for a page above one of the Gopher repetition limits (``--gopher-filter``), and
``too_short`` for a page that ``--remove-spans`` leaves under ``--min-length`` characters.
"""

from __future__ import annotations

import numpy as np

from dedupe.near.decide import FILTERED, KEPT, TOO_SHORT
from dedupe.pipeline.store import SignFiles
from dedupe.spans.stats import GOPHER_REPETITION_LIMITS, gopher_failures, gopher_reason

__all__ = ["apply_filters"]


def apply_filters(cfg, dec, tables, removed) -> None:
    """Mark kept rows that the Gopher filter rejects or that span removal leaves too short;
    their reasons go in ``dec.note`` (global row -> text), one sign file at a time."""
    note = dec.note if dec.note is not None else {}
    if cfg.spans.gopher_filter:
        _gopher_filter(tables, dec.action == KEPT, dec.action, note, FILTERED)
    if cfg.spans.remove:
        for t in range(len(tables)):
            lo, hi = int(tables.offsets[t]), int(tables.offsets[t + 1])
            left = tables[t]["length"].to_numpy() - removed[lo:hi]
            short = np.flatnonzero((dec.action[lo:hi] == KEPT) & (left < cfg.spans.min_length))
            dec.action[lo + short] = TOO_SHORT
            for i in short.tolist():
                note[lo + i] = (f"{int(left[i])} characters left after removing "
                                f"{int(removed[lo + i])} in flagged spans (min_length "
                                f"{cfg.spans.min_length})")
    dec.note = note or None


def _gopher_filter(files: SignFiles, kept, action, note, filtered: int) -> None:
    """Mark kept rows above a Gopher repetition limit, one sign file's statistics at a time
    (every sign file has the ``stat_*`` columns when statistics are on)."""
    names = list(GOPHER_REPETITION_LIMITS)
    for t in range(len(files)):
        table = files[t]
        lo = int(files.offsets[t])
        stats = {n: table[f"stat_{n}"].to_numpy(zero_copy_only=False) for n in names}
        first = gopher_failures(stats)
        hit = np.flatnonzero(kept[lo : lo + table.num_rows] & (first >= 0))
        action[lo + hit] = filtered
        for i in hit.tolist():
            name = names[first[i]]
            note[lo + i] = f"Gopher repetition filter: {gopher_reason(name, stats[name][i])}"
