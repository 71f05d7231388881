"""The whole config of a run: :class:`DedupeConfig`, one field per section, with the checks
across sections, construction from nested tables and dotted-key (``--set``) overrides, and
the fingerprint that names a run's outputs."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field, fields
from typing import Any

from dedupe.config.options import option_label
from dedupe.config.sections import (
    ClusterConfig,
    EngineConfig,
    IndexConfig,
    InputConfig,
    LSHConfig,
    MinHashConfig,
    NormalizeConfig,
    OutputConfig,
    SpansConfig,
)
from dedupe.errors import ConfigError

__all__ = ["DedupeConfig"]


@dataclass(frozen=True)
class DedupeConfig:
    """Everything a run depends on."""

    input: InputConfig = field(default_factory=InputConfig)
    normalize: NormalizeConfig = field(default_factory=NormalizeConfig)
    minhash: MinHashConfig = field(default_factory=MinHashConfig)
    lsh: LSHConfig = field(default_factory=LSHConfig)
    cluster: ClusterConfig = field(default_factory=ClusterConfig)
    spans: SpansConfig = field(default_factory=SpansConfig)
    output: OutputConfig = field(default_factory=OutputConfig)
    engine: EngineConfig = field(default_factory=EngineConfig)
    index: IndexConfig = field(default_factory=IndexConfig)

    def __post_init__(self):
        """Checks across sections (each section has checked its own values)."""
        bands, rows, num_perm = self.lsh.bands, self.lsh.rows, self.minhash.num_perm
        if bands is not None and rows is not None and bands * rows > num_perm:
            raise ConfigError(f"--bands x --rows (lsh.bands x lsh.rows) = {bands} x {rows} = "
                              f"{bands * rows}: must be at most "
                              f"{option_label('minhash.num_perm')} = {num_perm}")

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> DedupeConfig:
        sections = {f.name: f.type for f in fields(cls)}
        kwargs = {}
        for name, values in data.items():
            if name not in sections:
                raise ConfigError(f"unknown config section [{name}]; known: {', '.join(sections)}")
            if not isinstance(values, dict):
                raise ConfigError(f"config section [{name}] must be a table")
            section_cls = type(getattr(cls(), name))
            known = {f.name for f in fields(section_cls)}
            unknown = set(values) - known
            if unknown:
                raise ConfigError(
                    f"unknown key(s) {', '.join(sorted(unknown))} in [{name}]; "
                    f"known: {', '.join(sorted(known))}"
                )
            try:
                kwargs[name] = section_cls(**values)
            except TypeError as exc:
                raise ConfigError(f"[{name}]: {exc}") from None
        return cls(**kwargs)

    def with_overrides(self, overrides: dict[str, Any]) -> DedupeConfig:
        """A copy with dotted keys replaced, e.g. ``{"lsh.threshold": 0.8}``."""
        data = self.to_dict()
        for key, value in overrides.items():
            section, _, name = key.partition(".")
            if section not in data:
                raise ConfigError(f"unknown option {key!r}; sections: {', '.join(data)}")
            if not name or name not in data[section]:
                raise ConfigError(f"unknown option {key!r}; keys of {section}: "
                                  f"{', '.join(sorted(data[section]))}")
            data[section][name] = value
        return DedupeConfig.from_dict(data)

    def fingerprint(self, *parts: str) -> str:
        """A short stable hash of the config (and extra parts such as the input file list)."""
        blob = json.dumps([self.to_dict(), parts], sort_keys=True, default=str).encode()
        return hashlib.sha256(blob).hexdigest()[:16]
