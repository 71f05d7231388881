"""One schema for rows that come from different files (or different blocks of one JSONL file).

The rule, column by column (matched by name):

* equal types stay as they are; a column that one side lacks, or holds only nulls in, takes the
  other side's type (the rows that lack it get nulls);
* pyarrow's ``permissive`` promotions, none of which drops a value: integers widen, an integer
  and a float give a float (as JSON numbers do), ``string`` and ``large_string`` give
  ``large_string``, timestamp units give the finer unit; lists merge their item types and structs
  merge their fields by name, recursively;
* a dictionary-encoded column merges as its value type (two dictionaries of one value type stay
  a dictionary);
* anything else (a string in one file and a number or a timestamp in another, a struct in one and
  a string in the other) becomes a string column that holds every value as text (nested values
  as JSON). No value is lost and a run does not stop over a column it does not use; for the
  columns it does use (text, id, survivor, labels) the caller treats this case as a conflict.

:func:`conform` casts a batch to a merged schema by the same rule.
"""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from dedupe.errors import InputError

__all__ = [
    "cast",
    "conform",
    "decode",
    "has_timestamp",
    "invalid_utf8_rows",
    "is_text",
    "json_hint",
    "merge_type",
    "unify",
    "unview",
]

_CAST_ERRORS = (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError)
_is_view = getattr(pa.types, "is_string_view", lambda t: False)  # pyarrow >= 16
_is_binary_view = getattr(pa.types, "is_binary_view", lambda t: False)


def is_text(t: pa.DataType) -> bool:
    """A string type dedupe can hash (after :func:`decode`)."""
    if pa.types.is_dictionary(t):
        return is_text(t.value_type)
    return pa.types.is_string(t) or pa.types.is_large_string(t) or _is_view(t)


def decode(arr):
    """A dictionary-encoded or string-view column as a plain (large) string column."""
    if pa.types.is_dictionary(arr.type):
        arr = arr.dictionary_decode() if isinstance(arr, pa.Array) else pc.cast(
            arr, arr.type.value_type)
    if _is_view(arr.type):
        arr = arr.cast(pa.large_string())
    return arr


def _without_views(t: pa.DataType) -> pa.DataType:
    """``t`` with every string / binary view type (at any depth) as its large type."""
    if _is_view(t):
        return pa.large_string()
    if _is_binary_view(t):
        return pa.large_binary()
    if pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_fixed_size_list(t):
        item = _without_views(t.value_type)
        if item == t.value_type:
            return t
        if pa.types.is_fixed_size_list(t):
            return pa.list_(t.value_field.with_type(item), t.list_size)
        make = pa.large_list if pa.types.is_large_list(t) else pa.list_
        return make(t.value_field.with_type(item))
    if pa.types.is_struct(t):
        fields = [t.field(i) for i in range(t.num_fields)]
        plain = [f.with_type(_without_views(f.type)) for f in fields]
        return t if plain == fields else pa.struct(plain)
    if pa.types.is_map(t):
        key, item = _without_views(t.key_type), _without_views(t.item_type)
        return t if (key, item) == (t.key_type, t.item_type) else pa.map_(key, item)
    if pa.types.is_dictionary(t):
        value = _without_views(t.value_type)
        return t if value == t.value_type else pa.dictionary(t.index_type, value)
    return t


def unview(batch: pa.RecordBatch) -> pa.RecordBatch:
    """``batch`` with its string / binary view columns as large strings / binaries.

    pyarrow reads a Parquet column written from ``string_view`` back as that type, and many of
    its kernels (``take``, ``filter``, ``binary_length``) have none for it: every batch a
    reader yields holds only the plain types, and the write stage casts back to the input's
    view type (:func:`conform`), so the shards keep the input's schema."""
    plain = pa.schema([f.with_type(_without_views(f.type)) for f in batch.schema],
                      metadata=batch.schema.metadata)
    return batch if plain.equals(batch.schema) else batch.cast(plain)


def _plain(t: pa.DataType) -> pa.DataType:
    if pa.types.is_dictionary(t):
        t = t.value_type
    return pa.large_string() if _is_view(t) else t


def _text_type(a: pa.DataType, b: pa.DataType) -> pa.DataType:
    large = pa.types.is_large_string(_plain(a)) or pa.types.is_large_string(_plain(b))
    return pa.large_string() if large else pa.string()


def merge_type(a: pa.DataType, b: pa.DataType) -> tuple[pa.DataType, bool]:
    """The merged type of ``a`` and ``b`` and whether every value keeps its type (False: the
    column falls back to text)."""
    if a == b:
        return a, True
    if pa.types.is_null(a):
        return b, True
    if pa.types.is_null(b):
        return a, True
    if pa.types.is_dictionary(a) or pa.types.is_dictionary(b) or _is_view(a) or _is_view(b):
        if a.equals(b):
            return a, True
        return merge_type(_plain(a), _plain(b))
    if pa.types.is_struct(a) and pa.types.is_struct(b):
        return _merge_struct(a, b)
    if _is_list(a) and _is_list(b):
        item, same = merge_type(a.value_type, b.value_type)
        large = pa.types.is_large_list(a) or pa.types.is_large_list(b)
        return (pa.large_list(item) if large else pa.list_(item)), same
    try:
        one = pa.unify_schemas([pa.schema([("x", a)]), pa.schema([("x", b)])],
                               promote_options="permissive")
        return one.field("x").type, True
    except _CAST_ERRORS:
        return _text_type(a, b), False


def _is_list(t: pa.DataType) -> bool:
    return pa.types.is_list(t) or pa.types.is_large_list(t)


def _merge_struct(a: pa.StructType, b: pa.StructType) -> tuple[pa.DataType, bool]:
    fields, same = [], True
    names_b = {b.field(i).name: b.field(i) for i in range(b.num_fields)}
    for i in range(a.num_fields):
        fa = a.field(i)
        if fa.name in names_b:
            t, ok = merge_type(fa.type, names_b.pop(fa.name).type)
            fields.append(fa.with_type(t).with_nullable(True))
            same = same and ok
        else:
            fields.append(fa.with_nullable(True))
    fields.extend(f.with_nullable(True) for f in names_b.values())
    return pa.struct(fields), same


def unify(a: pa.Schema | None, b: pa.Schema | None) -> tuple[pa.Schema, list[str]]:
    """``a`` and ``b`` merged (fields in first-seen order) and the columns that fell back to
    text. Equal schemas come back unchanged (less any schema-level metadata)."""
    if a is None or b is None:
        one = a if b is None else b
        return (pa.schema(list(one)) if one is not None else pa.schema([])), []
    if a.equals(b):
        return pa.schema(list(a)), []
    fields, lossy = [], []
    index_b = {f.name: f for f in b}
    for fa in a:
        fb = index_b.pop(fa.name, None)
        if fb is None:
            fields.append(fa.with_nullable(True))
            continue
        t, same = merge_type(fa.type, fb.type)
        if not same:
            lossy.append(fa.name)
        fields.append(fa.with_type(t).with_nullable(fa.nullable or fb.nullable))
    fields.extend(f.with_nullable(True) for f in index_b.values())
    return pa.schema(fields), lossy


def json_hint(schema: pa.Schema | None) -> pa.Schema | None:
    """The part of ``schema`` that pyarrow's JSON reader can be told to expect, with every
    timestamp read as the string it is in the file (a JSON file has no timestamps: pyarrow
    guesses them from ISO-looking strings, one block at a time, so the same field came out as
    a timestamp in one file and a string in the next). Other fields are left to inference."""
    if schema is None:
        return None
    fields = [f.with_type(t) for f in schema if (t := _json_type(f.type)) is not None]
    return pa.schema(fields) if fields else None


def _json_type(t: pa.DataType) -> pa.DataType | None:
    t = _plain(t)
    if pa.types.is_timestamp(t) or pa.types.is_large_string(t) or pa.types.is_string(t):
        return pa.string()
    if pa.types.is_boolean(t):
        return t
    if pa.types.is_integer(t):
        return pa.int64()
    if pa.types.is_floating(t):
        return pa.float64()
    if _is_list(t):
        item = _json_type(t.value_type)
        return pa.list_(item) if item is not None else None
    if pa.types.is_struct(t):
        fields = [t.field(i) for i in range(t.num_fields)]
        kept = [f.with_type(u) for f in fields if (u := _json_type(f.type)) is not None]
        return pa.struct(kept) if kept else None
    return None


def has_timestamp(t: pa.DataType) -> bool:
    if pa.types.is_timestamp(t):
        return True
    if _is_list(t):
        return has_timestamp(t.value_type)
    if pa.types.is_struct(t):
        return any(has_timestamp(t.field(i).type) for i in range(t.num_fields))
    return False


def conform(batch: pa.RecordBatch | pa.Table, schema: pa.Schema, path: str):
    """Cast ``batch`` to the run's merged ``schema`` (columns it lacks become nulls)."""
    if batch.schema.equals(schema):
        return batch
    extra = [n for n in batch.schema.names if n not in schema.names]
    if extra:
        raise InputError(path, f"column(s) {extra} are not in the run's schema: the input "
                         "changed during the run", column=extra[0],
                         hint="run the command again on the unchanged input")
    arrays = []
    for f in schema:
        i = batch.schema.get_field_index(f.name)
        if i < 0:
            arrays.append(pa.nulls(batch.num_rows, f.type))
            continue
        col = batch.column(i)
        if isinstance(col, pa.ChunkedArray):
            col = col.combine_chunks()
        try:
            arrays.append(cast(col, f.type))
        except _CAST_ERRORS as exc:
            raise InputError(path, f"column {f.name!r} of type {col.type} cannot be stored as "
                             f"the run's {f.type}: {exc}", column=f.name) from None
    if isinstance(batch, pa.Table):
        return pa.Table.from_arrays(arrays, schema=schema)
    return pa.RecordBatch.from_arrays(arrays, schema=schema)


def cast(arr: pa.Array, t: pa.DataType) -> pa.Array:
    """``arr`` as type ``t`` by the merge rule: pyarrow's cast, else text for what has none."""
    if arr.type == t:
        return arr
    if pa.types.is_null(arr.type):
        return pa.nulls(len(arr), t)
    if pa.types.is_dictionary(arr.type) and not pa.types.is_dictionary(t):
        return cast(arr.dictionary_decode(), t)
    try:
        return arr.cast(t)
    except _CAST_ERRORS:
        if pa.types.is_string(t) or pa.types.is_large_string(t):
            return _as_text(arr, t)
        if pa.types.is_struct(t) and pa.types.is_struct(arr.type):
            return _cast_struct(arr, t)
        if _is_list(t) and _is_list(arr.type):
            offsets = arr.offsets.to_numpy()
            values = arr.values.slice(int(offsets[0]), int(offsets[-1] - offsets[0]))
            large = pa.types.is_large_list(t)
            make = pa.LargeListArray if large else pa.ListArray
            rebased = pa.array(offsets - offsets[0], pa.int64() if large else pa.int32())
            return make.from_arrays(rebased, cast(values, t.value_type), t, mask=arr.is_null())
        raise


def _cast_struct(arr: pa.StructArray, t: pa.StructType) -> pa.Array:
    children = dict(zip([arr.type.field(i).name for i in range(arr.type.num_fields)],
                        arr.flatten()))
    fields = [t.field(i) for i in range(t.num_fields)]
    values = [cast(children[f.name], f.type) if f.name in children else pa.nulls(len(arr), f.type)
              for f in fields]
    return pa.StructArray.from_arrays(values, fields=fields, mask=arr.is_null())


def _as_text(arr: pa.Array, t: pa.DataType) -> pa.Array:
    """Each value as text: pyarrow's cast for scalars, JSON for nested values."""
    try:
        return pc.cast(arr, t)
    except _CAST_ERRORS:
        values = [None if v is None else json.dumps(v, ensure_ascii=False, default=str)
                  for v in arr.to_pylist()]
        return pa.array(values, t)


def invalid_utf8_rows(arr: pa.Array) -> np.ndarray:
    """Row positions of ``arr`` (any type) holding a string that is not valid UTF-8."""
    t = arr.type
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        return _bad_strings(arr, 0, len(arr))
    if pa.types.is_dictionary(t):
        bad = invalid_utf8_rows(arr.dictionary)
        return np.flatnonzero(np.isin(arr.indices.fill_null(-1).to_numpy(False), bad))
    if pa.types.is_struct(t):
        parts = [invalid_utf8_rows(child) for child in arr.flatten()]
        return np.unique(np.concatenate(parts)) if parts else np.zeros(0, np.int64)
    if _is_list(t):
        bad = invalid_utf8_rows(arr.flatten())
        parents = pc.list_parent_indices(arr).to_numpy()
        return np.unique(parents[bad])
    return np.zeros(0, np.int64)


def _bad_strings(arr: pa.Array, lo: int, hi: int) -> np.ndarray:
    """Bisect ``arr[lo:hi]`` with pyarrow's validation down to the invalid values."""
    try:
        arr.slice(lo, hi - lo).validate(full=True)
        return np.zeros(0, np.int64)
    except pa.ArrowInvalid:
        if hi - lo == 1:
            return np.array([lo], np.int64)
    mid = (lo + hi) // 2
    return np.concatenate([_bad_strings(arr, lo, mid), _bad_strings(arr, mid, hi)])
