"""Schema checks before any work: the text column exists, every input shares one schema.

The first input's schema is the output schema. Another input may differ only in ways that cast
without loss (``large_string`` for ``string``, an integer column for a float one, a column that
is all null); anything else is an error naming both files and the column -- or, with
``--on-bad-row reject``, every row of the odd file goes to the manifest as rejected.
"""

from __future__ import annotations

import pyarrow as pa

from dedupe.errors import InputError
from dedupe.io.readers import read_schema

__all__ = ["check_schemas", "schema_difference"]


def _compatible(have: pa.DataType, want: pa.DataType) -> bool:
    if have == want or pa.types.is_null(have):
        return True
    strings = (pa.types.is_string, pa.types.is_large_string)
    if any(f(have) for f in strings) and any(f(want) for f in strings):
        return True
    if pa.types.is_integer(have) and (pa.types.is_floating(want) or pa.types.is_integer(want)):
        return True
    return bool(pa.types.is_floating(have) and pa.types.is_floating(want))


def schema_difference(have: pa.Schema, want: pa.Schema) -> tuple[str, str] | None:
    """``(column, problem)`` for the first disagreement, or None."""
    for f in want:
        if f.name not in have.names:
            return f.name, "is missing"
        t = have.field(f.name).type
        if not _compatible(t, f.type):
            return f.name, f"has type {t}, the first input has {f.type}"
    for name in have.names:
        if name not in want.names:
            return name, "is not in the first input"
    return None


def check_schemas(sources, cfg) -> tuple[pa.Schema, dict[str, str]]:
    """The output schema, and a reject reason per source whose schema disagrees (reject mode)."""
    text = cfg.input.text_column
    reference = None
    reasons: dict[str, str] = {}
    for src in sources:
        schema = read_schema(src)
        if not schema.names:  # an empty file: nothing to compare
            continue
        if reference is None:
            reference = _widen_nulls(schema)
            ref_path = src.path
            if text not in schema.names:
                raise InputError(
                    src.path,
                    f"no text column {text!r}",
                    column=text,
                    hint=f"columns are {schema.names}; pass --text-column",
                )
            for col in (cfg.input.id_column, cfg.cluster.survivor_column):
                if col and col not in schema.names:
                    raise InputError(
                        src.path,
                        f"no column {col!r}",
                        column=col,
                        hint=f"columns are {schema.names}",
                    )
            continue
        diff = schema_difference(schema, reference)
        if diff is None:
            continue
        column, problem = diff
        message = f"column {column!r} {problem} ({ref_path})"
        if cfg.input.on_bad_row == "reject" and column != text:
            reasons[src.uri] = f"schema differs from the first input: {message}"
        else:
            raise InputError(
                src.path,
                f"schema differs from the first input: {message}",
                column=column,
                hint="all inputs of a run must share one schema",
            )
    if reference is None:
        reference = pa.schema([(text, pa.string())])
    return reference, reasons


def _widen_nulls(schema: pa.Schema) -> pa.Schema:
    """A column inferred as null (all nulls in the sample) is stored as string."""
    return pa.schema([f.with_type(pa.string()) if pa.types.is_null(f.type) else f for f in schema])
