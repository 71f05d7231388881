"""A JSON line's field values as they are written: for the fields dedupe keeps as JSON text.

pyarrow's JSON reader refuses some valid rows (an array that mixes numbers and strings) and reads
some numbers into a float64 column that cannot hold them (an integer past 2**53, or past int64).
Such a field is kept as a string holding its value exactly as the file writes it: the line is
rewritten with that value turned into a JSON string before pyarrow reads it. Only the lines of
a block that needs it pay for this (one scan of each line by Python's ``json`` module).
"""

from __future__ import annotations

import json
import re

__all__ = ["EXACT_FLOAT_INTEGERS", "inexact_integers", "top_level_fields", "values_as_text"]

EXACT_FLOAT_INTEGERS = 2**53  # float64 holds every integer up to this magnitude, no further

_DECODER = json.JSONDecoder()
_SPACE = re.compile(r"[ \t\n\r]*")


def top_level_fields(text: str) -> list[tuple[str, int, int, object]] | None:
    """``(key, start, end, value)`` for each field of the JSON object ``text`` (the value as
    written is ``text[start:end]``), or None when ``text`` is not exactly one JSON object."""
    try:
        i = _SPACE.match(text, 0).end()
        if text[i : i + 1] != "{":
            return None
        i = _SPACE.match(text, i + 1).end()
        fields: list[tuple[str, int, int, object]] = []
        while text[i : i + 1] != "}":
            if fields:
                if text[i : i + 1] != ",":
                    return None
                i = _SPACE.match(text, i + 1).end()
            if text[i : i + 1] != '"':
                return None
            key, i = _DECODER.raw_decode(text, i)
            i = _SPACE.match(text, i).end()
            if text[i : i + 1] != ":":
                return None
            start = _SPACE.match(text, i + 1).end()
            value, i = _DECODER.raw_decode(text, start)
            fields.append((key, start, i, value))
            i = _SPACE.match(text, i).end()
        return fields if _SPACE.match(text, i + 1).end() == len(text) else None
    except (ValueError, RecursionError):  # json.JSONDecodeError is a ValueError
        return None


def values_as_text(line: bytes, names) -> bytes | None:
    """``line`` with the value of each field in ``names`` that is neither a string nor null
    replaced by a JSON string of that value as written (``[550, "x"]`` becomes
    ``"[550, \\"x\\"]"``); None when the line is not one JSON object."""
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError:
        return None
    fields = top_level_fields(text)
    if fields is None:
        return None
    pieces, last = [], 0
    for key, start, end, value in fields:
        if key in names and value is not None and not isinstance(value, str):
            pieces += [text[last:start], json.dumps(text[start:end], ensure_ascii=False)]
            last = end
    if not pieces:
        return line
    pieces.append(text[last:])
    return "".join(pieces).encode("utf-8")


def inexact_integers(lines: list[bytes], names) -> dict[str, int]:
    """``{field: first such value}`` for the fields among ``names`` that hold, at any depth, an
    integer a float64 cannot hold exactly (the lines to look at: those whose float reads
    reached 2**53, see :mod:`dedupe.io.jsonl`)."""
    names = set(names)
    found: dict[str, int] = {}
    for line in lines:
        try:
            row = json.loads(line)
        except (ValueError, RecursionError):
            continue
        if not isinstance(row, dict):
            continue
        for name in names - set(found):
            value = _inexact(row.get(name))
            if value is not None:
                found[name] = value
    return found


def _inexact(value) -> int | None:
    stack = [value]
    while stack:
        v = stack.pop()
        if isinstance(v, bool):
            continue
        if isinstance(v, int) and abs(v) > EXACT_FLOAT_INTEGERS:
            return v
        if isinstance(v, list):
            stack.extend(v)
        elif isinstance(v, dict):
            stack.extend(v.values())
    return None
