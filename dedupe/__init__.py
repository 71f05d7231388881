"""dedupe: near-duplicate and boilerplate deduplication for large web-text corpora."""

from __future__ import annotations

from dedupe._version import __version__
from dedupe.api import run, run_table
from dedupe.config import DedupeConfig, load_config
from dedupe.errors import ConfigError, DedupeError, EngineError, InputError, OutputError
from dedupe.report import RunReport

__all__ = [
    "ConfigError",
    "DedupeConfig",
    "DedupeError",
    "EngineError",
    "InputError",
    "OutputError",
    "RunReport",
    "__version__",
    "load_config",
    "run",
    "run_table",
]
