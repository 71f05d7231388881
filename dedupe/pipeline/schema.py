"""One schema for a run's inputs, decided before any row is signed and completed by the sign
stage.

Before signing, every input's schema (Parquet: the footer; JSONL: its first rows) is merged by
the rule of :mod:`dedupe.io.unify`: a column one file lacks is null in its rows, compatible types
are promoted, a column whose types have no common type is kept as text. Only the columns the run
itself uses (text, id, survivor, sweep labels) must agree: where they do not, the run stops with
an error naming both files -- or, with ``--on-bad-row reject``, every row of the odd file goes
to the manifest as rejected. Identical schemas give that same schema, so the output shards of
such a run have exactly the input schema.

A JSONL file's fields are only all known once every line is read: the sign stage records the
schema of the rows it read, and :func:`output_schema` merges those into the schema every output
shard is written with.
"""

from __future__ import annotations

import pyarrow as pa

from dedupe.errors import InputError
from dedupe.io.readers import read_schema
from dedupe.io.unify import is_text, merge_type, unify

__all__ = ["check_schemas", "key_columns", "output_schema"]

_HINT = ("give the column one type in every input, or pass --on-bad-row reject to record this "
         "file's rows as rejected")


def key_columns(cfg, extra=()) -> list[str]:
    """The columns a run reads: text, id, survivor (and ``extra``, e.g. sweep labels)."""
    cols = [cfg.input.text_column, cfg.input.id_column, cfg.cluster.survivor_column, *extra]
    return list(dict.fromkeys(c for c in cols if c))


def _key_problem(schema: pa.Schema, keys, seen: dict, text: str) -> tuple[str, str] | None:
    """``(column, problem)`` for the first key column this file lacks or disagrees on."""
    for c in keys:
        if c not in schema.names:
            return c, f"no column {c!r} (columns are {schema.names})"
        t = schema.field(c).type
        if c == text and not (is_text(t) or pa.types.is_null(t)):
            return c, f"the text column has type {t}, not string"
        if c in seen and not merge_type(seen[c][0], t)[1]:
            return c, f"column {c!r} has type {t} here but {seen[c][0]} in {seen[c][1]}"
    return None


def check_schemas(sources, cfg, *, extra_keys=(), keys_only: bool = False):
    """``(schema, reasons)``: the inputs' merged schema (only the key columns with
    ``keys_only``) and a reject reason per source whose key columns disagree (reject mode)."""
    text = cfg.input.text_column
    keys = key_columns(cfg, extra_keys)
    merged = None
    seen: dict[str, tuple[pa.DataType, str]] = {}  # key column -> (merged type, first file)
    reasons: dict[str, str] = {}
    lacking: dict[str, tuple[str, list[str]]] = {}  # key column -> a file without it, its columns
    for src in sources:
        schema = read_schema(src, max_row_bytes=cfg.input.max_row_bytes, text_column=text)
        if not schema.names:  # an empty file: nothing to compare
            continue
        if text not in schema.names:
            raise InputError(src.path, f"no text column {text!r}", column=text,
                             hint=f"columns are {schema.names}; pass --text-column")
        problem = _key_problem(schema, keys, seen, text)
        if problem is not None:
            column, message = problem
            if cfg.input.on_bad_row == "reject" and column != text:
                reasons[src.uri] = f"schema differs from the other inputs: {message}"
                if column not in schema.names:
                    lacking.setdefault(column, (src.path, schema.names))
                continue
            raise InputError(src.path, message, column=column,
                             hint=_HINT if column != text else "choose another --text-column")
        for c in keys:
            t = schema.field(c).type
            seen[c] = (merge_type(seen[c][0], t)[0], seen[c][1]) if c in seen else (t, src.path)
        if keys_only:
            schema = pa.schema([schema.field(c) for c in keys])
        merged, _ = unify(merged, schema)
    for column, (path, names) in lacking.items():
        if column not in seen:  # no input has it: a wrong option, not one odd file
            raise InputError(path, f"no column {column!r} in any input", column=column,
                             hint=f"columns are {names}; check the option that names it")
    if merged is None:
        merged = pa.schema([(text, pa.string())])
    return merged, reasons


def output_schema(schema: pa.Schema, observed, cfg) -> pa.Schema:
    """``schema`` merged with the schemas the sign stage saw, ``[(file, schema or None)]`` in
    task order: what every output shard is written with."""
    keys = key_columns(cfg)
    first: dict[str, tuple[pa.DataType, str]] = {}
    for path, seen in observed:
        if seen is None:
            continue
        for c in keys:
            if c not in seen.names:
                continue
            t = seen.field(c).type
            if c in first and not merge_type(first[c][0], t)[1]:
                raise InputError(path, f"column {c!r} has type {t} here but {first[c][0]} in "
                                 f"{first[c][1]}", column=c, hint=_HINT.split(", or")[0])
            first.setdefault(c, (t, path))
        schema, _ = unify(schema, seen)
    return _widen_nulls(schema)


def _widen_nulls(schema: pa.Schema) -> pa.Schema:
    """A column that is null in every row read is stored as string."""
    return pa.schema([f.with_type(pa.string()) if pa.types.is_null(f.type) else f for f in schema])
