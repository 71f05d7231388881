"""The ranges of the numeric options, sizes such as ``"4GB"``, and the checks of single values
that the config sections share (one of a few choices, a fraction, a column name)."""

from __future__ import annotations

import decimal
import re
from typing import Any

from dedupe.config.options import option_label, shown
from dedupe.errors import ConfigError

__all__ = [
    "INT64_MAX",
    "MAX_BATCH_ROWS",
    "MAX_MEMORY",
    "MAX_NGRAM",
    "MAX_NUM_PERM",
    "MAX_PARTITIONS",
    "MAX_ROW_BYTES",
    "MAX_SEED",
    "MAX_SPAN_TOKENS",
    "MAX_WORKERS",
    "RAY_ADDRESS",
    "check_choice",
    "check_column_name",
    "check_fraction",
    "parquet_codecs",
    "parse_bytes",
]

_UNITS = {"": 1, "B": 1, "KB": 1 << 10, "MB": 1 << 20, "GB": 1 << 30, "TB": 1 << 40,
          "PB": 1 << 50, "KIB": 1 << 10, "MIB": 1 << 20, "GIB": 1 << 30, "TIB": 1 << 40,
          "PIB": 1 << 50}
_SIZE_TEXT = re.compile(r"([0-9]+(?:\.[0-9]*)?|\.[0-9]+)([A-Z]*)")

# The ranges of the numeric options (the reasons are at the fields). A value outside its range
# stops the command when the config is built, with one line naming the flag, the key and the
# range. INT64_MAX bounds counts compared with row counts and byte offsets: numpy int64.
INT64_MAX = (1 << 63) - 1
MAX_BATCH_ROWS = 1 << 20
MAX_ROW_BYTES = 1 << 30
MAX_NGRAM = 100
MAX_NUM_PERM = 8192
MAX_SEED = (1 << 32) - 1
MAX_SPAN_TOKENS = 1000
MAX_PARTITIONS = 1 << 20
MAX_WORKERS = 1024
MAX_MEMORY = 1 << 50

# what ray.init takes: auto, local, HOST:PORT (a GCS address), ray://HOST:PORT (Ray Client)
RAY_ADDRESS = re.compile(
    r"auto|local|(?:ray://)?(?:[A-Za-z0-9][A-Za-z0-9._-]*|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?")


def _size_name(n: int) -> str:
    """``1 << 30`` as ``1GB``: the largest unit that divides ``n``."""
    for unit in ("PB", "TB", "GB", "MB", "KB"):
        if n % _UNITS[unit] == 0:
            return f"{n // _UNITS[unit]}{unit}"
    return f"{n} bytes"


def parse_bytes(name: str, value: Any, most: int = INT64_MAX,
                examples: str = "4GB, 512MB") -> int:
    """``"4GB"``, ``"512 MiB"``, ``"1.5G"`` or an integer number of bytes (units are binary),
    from 1 byte to ``most``; ``name`` (a config key) and ``examples`` go into the message."""
    out = 0
    if isinstance(value, int) and not isinstance(value, bool):
        out = value
    elif isinstance(value, str):
        match = _SIZE_TEXT.fullmatch(value.strip().upper().replace(" ", ""))
        if match:
            num, unit = match.groups()
            unit = unit + "B" if unit in ("K", "M", "G", "T", "P") else unit
            if unit in _UNITS:
                # exact (Decimal, not float: no overflow however long the digits); floored
                size = decimal.Decimal(num) * _UNITS[unit]
                out = int(size) if size <= most else most + 1
    if not 1 <= out <= most:
        raise ConfigError(f"{option_label(name)} = {shown(value)}: give a size from 1 byte to "
                          f"{_size_name(most)}, such as {examples} or a number of bytes")
    return out


def check_choice(name: str, value: Any, allowed: tuple) -> None:
    if value not in allowed:
        raise ConfigError(f"{option_label(name)} = {shown(value)} is not one of "
                          f"{', '.join(map(repr, allowed))}")


def check_fraction(name: str, value: float) -> None:
    if not 0.0 < value <= 1.0:
        raise ConfigError(f"{option_label(name)} = {value!r}: must be a number in (0, 1]")


def check_column_name(name: str, value: str | None, otherwise: str) -> None:
    if value is not None and not value.strip():
        raise ConfigError(f"{option_label(name)} = {value!r}: give a column name{otherwise}")


def parquet_codecs() -> tuple[str, ...]:
    """The Parquet compression codecs this pyarrow build can write (``none``: uncompressed)."""
    import pyarrow as pa

    return ("none", *(c for c in ("snappy", "gzip", "brotli", "lz4", "zstd")
                      if pa.Codec.is_available(c)))
