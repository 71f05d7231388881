"""JSON lines into Arrow tables: one row per line, or the line's problem, decided while reading.

Blocks of lines go through pyarrow's JSON reader, told the types seen so far (timestamps read as
the strings they are in the file, see :func:`dedupe.io.unify.json_hint`). A block that fails, or
that gives a different number of rows than it has lines (pyarrow reads ``{...} {...}`` on one
line as two rows), is cut in halves until every part parses; a single line that does not parse
is diagnosed with the ``json`` module and becomes a bad row with its reason: not JSON, two values
on one line, not an object, a field given twice, an unpaired surrogate (``"\\ud800"``, which
pyarrow refuses and Python cannot encode), a text field that is not a string. A valid line that
pyarrow refuses for a field's value (an array mixing numbers and strings) is kept, that field
read from then on as the text of its values as written, and so is a field whose integers a
float column would change (see :mod:`dedupe.io.rawjson`). Parts whose types
differ (a field that first appears, or changes type, after many rows) are merged by the rule of
:mod:`dedupe.io.unify`, so a late field never reaches the write stage as a surprise. A block
that parses costs one pass of pyarrow; a bad line costs about ``2 log2(block)`` small passes.
"""

from __future__ import annotations

import io
import json
import re

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pajson

from dedupe.errors import InputError
from dedupe.io.rawjson import (
    EXACT_FLOAT_INTEGERS,
    inexact_integers,
    top_level_fields,
    values_as_text,
)
from dedupe.io.unify import conform, has_timestamp, is_text, json_hint, unify

__all__ = ["BlockParser", "diagnose"]

_PARSE_ERRORS = (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError)
_SURROGATE = re.compile(r"[\ud800-\udfff]")


def _read(blob: bytes, longest: int, hint: pa.Schema | None) -> pa.Table:
    # pyarrow cuts its input into blocks (parsed in parallel) that must each hold whole lines
    parse = pajson.ParseOptions(explicit_schema=hint, unexpected_field_behavior="infer")
    read = pajson.ReadOptions(block_size=max(longest + 64, 1 << 20))
    return pajson.read_json(io.BytesIO(blob), read_options=read, parse_options=parse)


class BlockParser:
    """Parses the blocks of one file in order; remembers the merged schema for the next one.

    ``hint``: the types the caller requires (the write stage passes the run's schema). Fields
    in ``as_text`` are read as the text of their values as written (see
    :mod:`dedupe.io.rawjson`): a field pyarrow refuses, or one whose number a float64 column
    cannot hold exactly (an error instead where the caller fixed a numeric type). A string
    field of ``hint`` whose value is not a string in a block is read the same way.
    """

    def __init__(self, path: str, text_column: str, hint: pa.Schema | None = None):
        self.path = path
        self.text_column = text_column
        self.schema: pa.Schema | None = hint  # the types seen so far (or expected)
        self.fixed = hint
        self.as_text: set[str] = set()
        self.big_ints: set[str] = set()  # fields holding an integer past 2**53 as int64

    def parse(self, lines: list[bytes]) -> tuple[pa.Table, list[int], list[tuple[int, str]]]:
        """``(table, positions of the lines it holds, [(position, problem)])``."""
        while True:
            parts: list[tuple[pa.Table, int, int]] = []
            bad: list[tuple[int, str]] = []
            if lines:
                self._parse_range(lines, 0, len(lines), parts, bad)
            good = [i for table, lo, hi in parts for i in range(lo, hi)]
            if not parts:
                return pa.table({}), good, bad
            merged = parts[0][0].schema
            for table, _, _ in parts[1:]:
                merged, _ = unify(merged, table.schema)
            suspects: dict[str, list[int]] = {}  # float fields: lines read as 2**53 or more
            for table, lo, _ in parts:
                self.big_ints |= _big_int_columns(table)
                for name, rows in _floats_past_exact(table).items():
                    suspects.setdefault(name, []).extend((lo + rows).tolist())
            schema, _ = unify(self.schema, merged)
            inexact = self._inexact(schema, lines, suspects)
            if inexact:
                self._keep_as_text(inexact)  # and parse the block again, those fields as text
                continue
            self.schema = schema
            if len(parts) == 1:
                return parts[0][0], good, bad
            table = pa.concat_tables([conform(t, merged, self.path) for t, _, _ in parts])
            return table, good, bad

    def _inexact(self, schema: pa.Schema, lines: list[bytes],
                 suspects: dict[str, list[int]]) -> dict[str, int | None]:
        """Fields the merged ``schema`` holds as floats that have an integer no float64 holds
        exactly: as int64 (in this block or an earlier one), or as an integer literal that
        pyarrow read as a float (only the ``suspects`` lines, whose floats reached 2**53, are
        parsed again to see it)."""
        floats = {f.name for f in schema if _has_float(f.type)}
        found: dict[str, int | None] = dict.fromkeys(floats & self.big_ints)
        check = (floats & set(suspects)) - set(found)
        rows = sorted({i for name in check for i in suspects[name]})
        found.update(inexact_integers([lines[i] for i in rows], check))
        return found

    def _keep_as_text(self, fields: dict[str, int | None]) -> None:
        for name, value in fields.items():
            i = -1 if self.fixed is None else self.fixed.get_field_index(name)
            if i >= 0 and not is_text(self.fixed.field(i).type):
                number = "an integer" if value is None else f"the integer {value}"
                raise InputError(self.path, f"field {name!r} holds {number}, which the run's "
                                 f"{self.fixed.field(i).type} column (its type in the other "
                                 "inputs) cannot hold exactly", column=name,
                                 hint="give the field one type in every input, for example "
                                      "such numbers as strings")
        self.as_text |= set(fields)

    def _parse_range(self, lines, lo: int, hi: int, parts: list, bad: list) -> None:
        table = self._try(lines[lo:hi])
        if table is None and hi - lo == 1 and self._refused_as_text(lines[lo]):
            table = self._try(lines[lo:hi])
        if table is not None:
            parts.append((table, lo, hi))
        elif hi - lo == 1:
            bad.append((lo, diagnose(lines[lo], self.text_column)))
        else:
            mid = (lo + hi) // 2
            self._parse_range(lines, lo, mid, parts, bad)
            self._parse_range(lines, mid, hi, parts, bad)

    def _try(self, lines: list[bytes]) -> pa.Table | None:
        """The lines as a table of ``len(lines)`` rows with a string (or absent) text column,
        or None. With the types seen so far first: a string field whose value is not a
        string in these lines is then read as the text of that value (pyarrow names the
        field in its error); else with the types pyarrow infers."""
        if self.as_text:
            lines = [values_as_text(line, self.as_text) or line for line in lines]
        hint = json_hint(self.schema)
        if hint is not None:
            hint = pa.schema([f.with_type(pa.string()) if f.name in self.as_text else f
                              for f in hint])
            texts = {f.name for f in hint if pa.types.is_string(f.type)} - {self.text_column}
            rewrite: set[str] = set()
            tried = lines
            while True:
                try:
                    return self._table(tried, hint)
                except _PARSE_ERRORS as exc:
                    field = _not_a_string(str(exc))
                    if field not in texts or field in rewrite:
                        break
                    rewrite.add(field)
                    tried = [values_as_text(line, rewrite) or line for line in lines]
        try:
            return self._table(lines, None)
        except _PARSE_ERRORS:
            return None

    def _table(self, lines: list[bytes], hint: pa.Schema | None) -> pa.Table | None:
        blob, longest = b"\n".join(lines), max(map(len, lines))
        table = _read(blob, longest, hint)
        if has_timestamp(pa.struct(list(table.schema))):
            table = _read(blob, longest, json_hint(table.schema))
        if table.num_rows != len(lines):
            return None
        i = table.schema.get_field_index(self.text_column)
        if i >= 0 and not (is_text(table.schema.field(i).type)
                           or pa.types.is_null(table.schema.field(i).type)):
            return None
        return table

    def _refused_as_text(self, line: bytes) -> bool:
        """A valid row that pyarrow refuses (an array mixing numbers and strings): its arrays
        and objects that pyarrow cannot read alone become text fields. Whether any did."""
        try:
            fields = top_level_fields(line.decode("utf-8"))
        except UnicodeDecodeError:
            return False
        refused = []
        for key, start, end, value in fields or ():
            if (key == self.text_column or key in self.as_text
                    or not isinstance(value, (list, dict))):
                continue
            i = -1 if self.fixed is None else self.fixed.get_field_index(key)
            if i >= 0 and not is_text(self.fixed.field(i).type):
                continue
            raw = line.decode("utf-8")[start:end]
            try:
                _read(f"{{{json.dumps(key)}: {raw}}}".encode(), len(line) + 16, None)
            except _PARSE_ERRORS:
                refused.append(key)
        self.as_text.update(refused)
        return bool(refused)


_NOT_A_STRING = re.compile(r"Column\(/([^/)]*)[^ ]* changed from string to")


def _not_a_string(message: str) -> str | None:
    """The top-level field of pyarrow's "Column(/field) changed from string to ..." error."""
    found = _NOT_A_STRING.search(message)
    return found.group(1) if found else None


def _has_float(t: pa.DataType) -> bool:
    if pa.types.is_floating(t):
        return True
    if pa.types.is_list(t) or pa.types.is_large_list(t):
        return _has_float(t.value_type)
    if pa.types.is_struct(t):
        return any(_has_float(t.field(i).type) for i in range(t.num_fields))
    return False


def _big_int_columns(table: pa.Table) -> set[str]:
    """Columns holding, at any depth, an integer past 2**53 (exact as int64, not as float)."""
    return {name for name, column in zip(table.column_names, table.columns)
            if _has_int64(column.type) and any(_has_big_int(c) for c in column.chunks)}


def _floats_past_exact(table: pa.Table) -> dict[str, np.ndarray]:
    """``{column: rows}`` where a float (at any depth) is 2**53 or more in magnitude: where an
    integer literal may have lost digits (pyarrow reads it into a float column)."""
    out = {}
    for name, column in zip(table.column_names, table.columns):
        if not _has_float(column.type):
            continue
        rows, base = [], 0
        for chunk in column.chunks:
            rows.append(base + _rows_past_exact(chunk))
            base += len(chunk)
        hit = np.concatenate(rows) if rows else np.zeros(0, np.int64)
        if len(hit):
            out[name] = hit
    return out


def _rows_past_exact(arr: pa.Array) -> np.ndarray:
    t = arr.type
    if pa.types.is_floating(t):
        big = pc.greater_equal(pc.abs(arr), float(EXACT_FLOAT_INTEGERS)).fill_null(False)
        return np.flatnonzero(big.to_numpy(zero_copy_only=False))
    if pa.types.is_list(t) or pa.types.is_large_list(t):
        inner = _rows_past_exact(arr.flatten())
        if not len(inner):
            return inner
        parents = pc.list_parent_indices(arr).to_numpy()
        return np.unique(parents[inner])
    if pa.types.is_struct(t):
        parts = [_rows_past_exact(child) for child in arr.flatten()]
        return np.unique(np.concatenate(parts)) if parts else np.zeros(0, np.int64)
    return np.zeros(0, np.int64)


def _has_int64(t: pa.DataType) -> bool:
    if pa.types.is_integer(t):
        return t.bit_width == 64
    if pa.types.is_list(t) or pa.types.is_large_list(t):
        return _has_int64(t.value_type)
    if pa.types.is_struct(t):
        return any(_has_int64(t.field(i).type) for i in range(t.num_fields))
    return False


def _has_big_int(arr: pa.Array) -> bool:
    t = arr.type
    if pa.types.is_integer(t):
        if t.bit_width < 64 or not len(arr):
            return False
        low, high = pc.min_max(arr).values()
        return any(v.as_py() is not None and abs(v.as_py()) > EXACT_FLOAT_INTEGERS
                   for v in (low, high))
    if pa.types.is_list(t) or pa.types.is_large_list(t):
        return _has_big_int(arr.flatten())
    if pa.types.is_struct(t):
        return any(_has_big_int(child) for child in arr.flatten())
    return False


def diagnose(line: bytes, text_column: str) -> str:
    """What is wrong with one line that pyarrow could not read as one row."""
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError as exc:
        return f"invalid UTF-8 at byte {exc.start}"
    twice: list[str] = []

    def pairs(items):
        keys = [k for k, _ in items]
        if len(set(keys)) != len(keys) and not twice:
            twice.append(next(k for k in keys if keys.count(k) > 1))
        return dict(items)

    try:
        value = json.loads(text, object_pairs_hook=pairs)
    except RecursionError:
        return "nested too deeply to read"
    except json.JSONDecodeError as exc:
        if exc.msg == "Extra data":
            return (f"holds more than one JSON value (the second starts at character "
                    f"{exc.pos + 1}); a JSONL line holds exactly one object: put each value on "
                    "a line of its own")
        return f"not valid JSON: {exc.msg} at character {exc.pos + 1}"
    if not isinstance(value, dict):
        return f"a JSONL line must hold an object, not {_kind(value)}"
    if twice:
        return f"field {twice[0]!r} is given twice"
    found = _surrogate(value, "")
    if found:
        field, pos, char = found
        return (f"field {field!r} holds an unpaired surrogate {char!r} at character {pos + 1}: "
                "half of a UTF-16 pair, not valid Unicode")
    text_value = value.get(text_column)
    if text_value is not None and not isinstance(text_value, str):
        return f"the text field {text_column!r} is {_kind(text_value)}, not a string"
    return "cannot be read as a table row (pyarrow's JSON reader refuses it)"


def _kind(value) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return "a string" if isinstance(value, str) else "null"


def _surrogate(value, path: str):
    """``(field path, position, character)`` of the first unpaired surrogate, or None."""
    if isinstance(value, str):
        hit = _SURROGATE.search(value)
        return (path, hit.start(), hit.group()) if hit else None
    items = value.items() if isinstance(value, dict) else enumerate(value) \
        if isinstance(value, list) else ()
    for key, item in items:
        if isinstance(key, str):
            hit = _surrogate(key, path)
            if hit:
                return hit
        found = _surrogate(item, f"{path}.{key}" if path else str(key))
        if found:
            return found
    return None
