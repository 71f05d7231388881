"""JSON lines into Arrow tables: one row per line, or the line's problem, decided while reading.

Blocks of lines go through pyarrow's JSON reader, told the types seen so far (timestamps read as
the strings they are in the file, see :func:`dedupe.io.unify.json_hint`). A block that fails, or
that gives a different number of rows than it has lines (pyarrow reads ``{...} {...}`` on one
line as two rows), is cut in halves until every part parses; a single line that does not parse
is diagnosed with the ``json`` module and becomes a bad row with its reason: not JSON, two values
on one line, not an object, a field given twice, an unpaired surrogate (``"\\ud800"``, which
pyarrow refuses and Python cannot encode), a text field that is not a string. Parts whose types
differ (a field that first appears, or changes type, after many rows) are merged by the rule of
:mod:`dedupe.io.unify`, so a late field never reaches the write stage as a surprise. A block
that parses costs one pass of pyarrow; a bad line costs about ``2 log2(block)`` small passes.
"""

from __future__ import annotations

import io
import json
import re

import pyarrow as pa
import pyarrow.json as pajson

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
    """Parses the blocks of one file in order; remembers the merged schema for the next one."""

    def __init__(self, path: str, text_column: str, hint: pa.Schema | None = None):
        self.path = path
        self.text_column = text_column
        self.schema: pa.Schema | None = hint  # the types seen so far (or expected)

    def parse(self, lines: list[bytes]) -> tuple[pa.Table, list[int], list[tuple[int, str]]]:
        """``(table, positions of the lines it holds, [(position, problem)])``."""
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
        if len(parts) == 1:
            table = parts[0][0]
        else:
            table = pa.concat_tables([conform(t, merged, self.path) for t, _, _ in parts])
        self.schema, _ = unify(self.schema, merged)
        return table, good, bad

    def _parse_range(self, lines, lo: int, hi: int, parts: list, bad: list) -> None:
        table = self._try(b"\n".join(lines[lo:hi]), max(map(len, lines[lo:hi])), hi - lo)
        if table is not None:
            parts.append((table, lo, hi))
        elif hi - lo == 1:
            bad.append((lo, diagnose(lines[lo], self.text_column)))
        else:
            mid = (lo + hi) // 2
            self._parse_range(lines, lo, mid, parts, bad)
            self._parse_range(lines, mid, hi, parts, bad)

    def _try(self, blob: bytes, longest: int, n: int) -> pa.Table | None:
        """The block as a table of ``n`` rows with a string (or absent) text column, or None."""
        hint = json_hint(self.schema)
        for h in (hint, None) if hint is not None else (None,):
            try:
                table = _read(blob, longest, h)
                if has_timestamp(pa.struct(list(table.schema))):
                    table = _read(blob, longest, json_hint(table.schema))
            except _PARSE_ERRORS:
                continue
            if table.num_rows != n:
                return None
            i = table.schema.get_field_index(self.text_column)
            if i >= 0 and not (is_text(table.schema.field(i).type)
                               or pa.types.is_null(table.schema.field(i).type)):
                return None
            return table
        return None


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
