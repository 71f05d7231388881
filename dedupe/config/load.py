"""Loading a config: a TOML file (or the defaults) plus dotted-key overrides."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

from dedupe.config.tree import DedupeConfig
from dedupe.errors import ConfigError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

__all__ = ["MAX_CONFIG_BYTES", "load_config"]


# a config file is a few lines of TOML; more than this is some other file (or /dev/zero)
MAX_CONFIG_BYTES = 1 << 20


def load_config(path: str | os.PathLike | None = None, **overrides: Any) -> DedupeConfig:
    """Read a TOML file (or start from defaults) and apply dotted-key overrides."""
    data = {} if path is None else _read_toml(Path(path))
    config = DedupeConfig.from_dict(data)
    return config.with_overrides(overrides) if overrides else config


def _read_toml(p: Path) -> dict:
    """The tables of the config file ``p``; a file that cannot be read, or is not UTF-8 TOML,
    stops with one line naming it and the problem."""
    try:
        with open(p, "rb") as f:
            raw = f.read(MAX_CONFIG_BYTES + 1)
    except FileNotFoundError:
        raise ConfigError(f"config file {p} does not exist") from None
    except IsADirectoryError:
        raise ConfigError(f"config file {p} is a folder, not a TOML file") from None
    except OSError as exc:
        raise ConfigError(f"config file {p} cannot be read: {exc.strerror or exc}") from None
    if len(raw) > MAX_CONFIG_BYTES:
        raise ConfigError(f"config file {p} is over {MAX_CONFIG_BYTES >> 20} MB: not a dedupe "
                          "config (a few lines of TOML)")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"config file {p} is not UTF-8 text (byte {raw[exc.start]:#04x} at "
                          f"offset {exc.start}): give a TOML file") from None
    try:
        return tomllib.loads(text)
    except RecursionError:
        raise ConfigError(f"config file {p} is not valid TOML: nested too deeply") from None
    except ValueError as exc:  # TOMLDecodeError, or an integer of over 4300 digits
        raise ConfigError(f"config file {p} is not valid TOML: {exc}") from None
