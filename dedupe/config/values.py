"""Reading a config value as its field's annotated type, and :class:`Section`, the base of
every config section, which does that for each field and checks each integer's range."""

from __future__ import annotations

import functools
import json
import math
import numbers
import os
import re
import types
import typing
from dataclasses import fields
from typing import Any, ClassVar

from dedupe.config.options import option_label, shown
from dedupe.errors import ConfigError

__all__ = ["Section", "convert", "is_count"]


class _WrongType(Exception):
    pass


def _to_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise _WrongType


# what an integer or a number typed as text may look like: ASCII digits only (Python's int()
# and float() also take other Unicode digits, such as "١٢", and underscores: "1_000")
_INT_TEXT = re.compile(r"[+-]?[0-9]+")
_FLOAT_TEXT = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")


def _to_int(value: Any) -> int:
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        return int(value)
    if isinstance(value, str) and _INT_TEXT.fullmatch(value.strip()):
        try:
            return int(value.strip())
        except ValueError:  # over Python's 4300 digits, far beyond any bound
            raise _WrongType from None
    raise _WrongType


def _to_float(value: Any) -> float:
    if isinstance(value, bool):
        raise _WrongType
    if isinstance(value, numbers.Real):
        try:
            out = float(value)
        except OverflowError:  # an integer beyond the float range
            raise _WrongType from None
    elif isinstance(value, str) and _FLOAT_TEXT.fullmatch(value.strip()):
        out = float(value.strip())
    else:
        raise _WrongType
    if not math.isfinite(out):
        raise _WrongType
    return out


def _to_str(value: Any) -> str:
    if isinstance(value, (str, os.PathLike)):
        return os.fspath(value)
    raise _WrongType


def _to_strings(value: Any) -> tuple[str, ...]:
    """A list of strings; one string is a list of one (``--set`` may give a JSON list)."""
    if isinstance(value, (str, os.PathLike)):
        text = os.fspath(value)
        if not text.startswith("["):
            return (text,)
        try:
            value = json.loads(text)
        except ValueError:
            raise _WrongType from None
    if isinstance(value, (list, tuple)):
        return tuple(_to_str(v) for v in value)
    raise _WrongType


_CONVERTERS = {bool: (_to_bool, "true or false"), int: (_to_int, "an integer"),
               float: (_to_float, "a finite number"), str: (_to_str, "a string"),
               tuple: (_to_strings, "a list of strings")}


def _options(hint: Any) -> tuple:
    """The types a field annotated ``hint`` may hold: ``(int, NoneType)`` for ``int | None``."""
    union = typing.get_origin(hint) in (typing.Union, types.UnionType)
    return typing.get_args(hint) if union else (hint,)


def convert(key: str, hint: Any, value: Any) -> Any:
    """``value`` as the annotated type ``hint``: the one place where config values are typed.

    Strings (``--set`` values, TOML strings) are read as the field's type; ``"null"`` is None
    where the field allows None. A bool is true or false, never a truthy string such as "no";
    an integer is never a float; a float is finite.
    """
    options = _options(hint)
    if type(None) in options and (value is None or value == "null"):
        return None
    for option in options:
        if option is type(None):
            continue
        to_type, _ = _CONVERTERS[typing.get_origin(option) or option]
        try:
            return to_type(value)
        except _WrongType:
            continue
    allowed = " or ".join(_CONVERTERS[typing.get_origin(o) or o][1] if o is not type(None)
                          else "null" for o in options)
    raise ConfigError(f"{option_label(key)} = {shown(value)}: expected {allowed}")


def is_count(hint: Any) -> bool:
    """An integer field (``int`` or ``int | None``), not a size that may be text (``"4GB"``)."""
    options = _options(hint)
    return int in options and str not in options


@functools.cache
def _field_types(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


class Section:
    """A config section: every field is converted to its annotated type when the section is
    created (from TOML, ``--set``, keyword arguments or code), every integer is checked against
    its range in ``limits``, then ``_check`` runs."""

    section: ClassVar[str] = ""
    # (least, most) of every integer field: each one has a documented range, so that no value a
    # user can type overflows a numpy integer or makes a loop run for ever
    limits: ClassVar[dict[str, tuple[int, int]]] = {}

    def __post_init__(self):
        types_of = _field_types(type(self))
        for f in fields(self):  # type: ignore[arg-type]
            key = f"{self.section}.{f.name}"
            value = convert(key, types_of[f.name], getattr(self, f.name))
            object.__setattr__(self, f.name, value)
            if is_count(types_of[f.name]):
                if f.name not in self.limits:
                    raise TypeError(f"{key} is an integer without a range in {type(self)}.limits")
                least, most = self.limits[f.name]
                if value is not None and not least <= value <= most:
                    raise ConfigError(f"{option_label(key)} = {shown(value)}: must be an "
                                      f"integer from {least} to {most}")
        self._check()

    def _check(self) -> None:
        """Checks of values and of combinations, after the types are right."""
