"""The manifest: exactly one row per input row, saying what happened to it and why."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from dedupe.near.decide import ACTIONS

__all__ = ["MANIFEST_SCHEMA", "manifest_table"]

MANIFEST_SCHEMA = pa.schema(
    [
        ("id", pa.string()),
        ("source_file", pa.string()),
        ("source_row", pa.int64()),
        ("action", pa.string()),
        ("reason", pa.string()),
        ("cluster_id", pa.int64()),
        ("cluster_size", pa.int64()),
        ("survivor_id", pa.string()),
        ("similarity", pa.float64()),
        ("output_file", pa.string()),
        ("output_row", pa.int64()),
    ]
)


def manifest_table(
    sign: pa.Table,
    source_file: str,
    action: np.ndarray,
    cluster: np.ndarray,
    size: np.ndarray,
    survivor_id: pa.Array,
    similarity: np.ndarray,
    output_file: pa.Array,
    output_row: np.ndarray,
    note: np.ndarray | None = None,
    extra: dict | None = None,
) -> pa.Table:
    """Manifest rows of one task (``sign`` is its stage-1 table, rows in source order)."""
    n = sign.num_rows
    action_arr = pa.DictionaryArray.from_arrays(
        pa.array(action.astype(np.int32)), pa.array(ACTIONS)
    ).cast(pa.string())
    sim = pa.array(similarity, pa.float64(), from_pandas=True)
    other = sign["reason"].combine_chunks()
    if note is not None:
        other = pc.coalesce(other, pa.array(note, pa.string()))
    reason = _reasons(action_arr, size, survivor_id, sim, other)
    rejected = np.isin(action, [ACTIONS.index("rejected"), ACTIONS.index("empty")])
    table = pa.table(
        {
            "id": sign["id"],
            "source_file": pa.array([source_file] * n, pa.string()),
            "source_row": sign["source_row"],
            "action": action_arr,
            "reason": reason,
            "cluster_id": pa.array(np.where(rejected, 0, cluster), pa.int64(), mask=rejected),
            "cluster_size": pa.array(size, pa.int64(), mask=rejected),
            "survivor_id": survivor_id,
            "similarity": sim,
            "output_file": output_file,
            "output_row": pa.array(output_row, pa.int64(), mask=output_row < 0),
        },
        schema=MANIFEST_SCHEMA,
    )
    for name, values in (extra or {}).items():
        table = table.append_column(name, pa.array(values))
    return table


def _reasons(action: pa.Array, size: np.ndarray, survivor_id: pa.Array, sim: pa.Array,
             other: pa.Array) -> pa.Array:
    """The ``reason`` column: why a kept row was kept and which row an exact or near duplicate
    copies (with its estimated Jaccard); every other action gives the stage's own reason
    (``other``)."""
    sim_txt = pc.cast(pc.round(sim, 3), pa.string())
    kept_reason = pc.if_else(
        pc.equal(pa.array(size), 1),
        pa.scalar("unique"),
        pc.binary_join_element_wise(
            "survivor of a cluster of ", pc.cast(pa.array(size), pa.string()), " rows", ""
        ),
    )
    exact_reason = pc.binary_join_element_wise("same normalised text as ", survivor_id, "")
    near_reason = pc.binary_join_element_wise(
        "near duplicate of ", survivor_id, " (estimated Jaccard ", sim_txt, ")", ""
    )
    return pc.case_when(
        pc.make_struct(
            pc.equal(action, "kept"),
            pc.equal(action, "exact_duplicate"),
            pc.equal(action, "near_duplicate"),
        ),
        kept_reason,
        exact_reason,
        near_reason,
        other,
    )
