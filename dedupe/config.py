"""The one typed configuration of a run: a frozen dataclass tree, the only home of defaults.

Load it from TOML (sections named like the fields below) and apply ``key=value`` overrides with
dotted keys (``lsh.threshold=0.8``). Every command-line option maps to one key here.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import math
import numbers
import os
import sys
import types
import typing
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, ClassVar

from dedupe.errors import ConfigError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

__all__ = [
    "OPTION_KEYS",
    "ClusterConfig",
    "DedupeConfig",
    "EngineConfig",
    "IndexConfig",
    "InputConfig",
    "LSHConfig",
    "MinHashConfig",
    "NormalizeConfig",
    "OutputConfig",
    "SpansConfig",
    "load_config",
    "option_flag",
]


def _choice(name: str, value: Any, allowed: tuple) -> None:
    if value not in allowed:
        raise ConfigError(f"{name} = {value!r} is not one of {', '.join(map(repr, allowed))}")


class _WrongType(Exception):
    pass


def _to_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise _WrongType


def _to_int(value: Any) -> int:
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        return int(value)
    if isinstance(value, str) and value.strip().lstrip("+-").isdigit():
        return int(value.strip())
    raise _WrongType


def _to_float(value: Any) -> float:
    if isinstance(value, bool):
        raise _WrongType
    if isinstance(value, numbers.Real):
        out = float(value)
    elif isinstance(value, str):
        try:
            out = float(value.strip())
        except ValueError:
            raise _WrongType from None
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


def _convert(key: str, hint: Any, value: Any) -> Any:
    """``value`` as the annotated type ``hint``: the one place where config values are typed.

    Strings (``--set`` values, TOML strings) are read as the field's type; ``"null"`` is None
    where the field allows None. A bool is true or false, never a truthy string such as "no";
    an integer is never a float; a float is finite.
    """
    union = typing.get_origin(hint) in (typing.Union, types.UnionType)
    options = typing.get_args(hint) if union else (hint,)
    if type(None) in options and (value is None or value == "null"):
        return None
    for option in options:
        if option is type(None):
            continue
        convert, _ = _CONVERTERS[typing.get_origin(option) or option]
        try:
            return convert(value)
        except _WrongType:
            continue
    allowed = " or ".join(_CONVERTERS[typing.get_origin(o) or o][1] if o is not type(None)
                          else "null" for o in options)
    raise ConfigError(f"{key} = {value!r}: expected {allowed}")


@functools.cache
def _field_types(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


class _Section:
    """A config section: every field is converted to its annotated type when the section is
    created (from TOML, ``--set``, keyword arguments or code), then ``_check`` runs."""

    section: ClassVar[str] = ""

    def __post_init__(self):
        types_of = _field_types(type(self))
        for f in fields(self):  # type: ignore[arg-type]
            value = _convert(f"{self.section}.{f.name}", types_of[f.name], getattr(self, f.name))
            object.__setattr__(self, f.name, value)
        self._check()

    def _check(self) -> None:
        """Checks of values and of combinations, after the types are right."""


_UNITS = {"": 1, "B": 1, "KB": 1 << 10, "MB": 1 << 20, "GB": 1 << 30, "TB": 1 << 40,
          "KIB": 1 << 10, "MIB": 1 << 20, "GIB": 1 << 30, "TIB": 1 << 40}


def parse_bytes(name: str, value: Any) -> int:
    """``"4GB"``, ``"512 MiB"``, ``"1.5G"`` or an integer number of bytes (units are binary)."""
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    text = str(value).strip().upper().replace(" ", "")
    num = text.rstrip("KMGTIB")
    unit = text[len(num):]
    unit = unit + "B" if unit in ("K", "M", "G", "T") else unit
    try:
        out = int(float(num) * _UNITS[unit])
    except (KeyError, ValueError):
        out = 0
    if out <= 0:
        raise ConfigError(f"{name} = {value!r}: give a size such as 4GB, 512MB or bytes")
    return out


def _positive(name: str, value: int | None) -> None:
    if value is not None and value < 1:
        raise ConfigError(f"{name} = {value!r} must be a positive integer")


def _parquet_codecs() -> tuple[str, ...]:
    """The Parquet compression codecs this pyarrow build can write (``none``: uncompressed)."""
    import pyarrow as pa

    return ("none", *(c for c in ("snappy", "gzip", "brotli", "lz4", "zstd")
                      if pa.Codec.is_available(c)))


@dataclass(frozen=True)
class InputConfig(_Section):
    """Where rows come from and how a bad row is handled."""

    section: ClassVar[str] = "input"

    paths: tuple[str, ...] = ()
    format: str = "auto"  # auto | parquet | jsonl
    text_column: str = "text"
    id_column: str | None = None
    batch_rows: int = 1024  # ~2 MB of text: numpy temporaries stay small and cache-friendly
    on_bad_row: str = "error"  # error | reject
    # texts longer than this are hashed on their first max_doc_bytes bytes (or rejected with
    # on_long_doc = "reject"); the output keeps them whole. Bounds a worker's memory: a 50 MB
    # page hashed whole takes several GB of numpy temporaries.
    max_doc_bytes: int | None = 2_000_000
    on_long_doc: str = "truncate"  # truncate | reject
    # the most a reader holds of one row: a JSONL line longer than this is streamed past, never
    # held, and rejected (a JSON line cannot be parsed in part); so is a Parquet row whose text
    # is longer. A 300 MB line held whole took minutes and gigabytes; 64 MiB keeps a worker near
    # a gigabyte however hostile the input ("64MB", "1GB" or bytes; at most 1 GiB, pyarrow's
    # JSON block limit with room to spare)
    max_row_bytes: int | str = 64 << 20

    def _check(self):
        object.__setattr__(self, "max_row_bytes",
                           parse_bytes("input.max_row_bytes", self.max_row_bytes))
        if self.max_row_bytes > 1 << 30:
            raise ConfigError(f"input.max_row_bytes = {self.max_row_bytes!r} is over 1GB")
        _choice("input.format", self.format, ("auto", "parquet", "jsonl"))
        _choice("input.on_bad_row", self.on_bad_row, ("error", "reject"))
        _choice("input.on_long_doc", self.on_long_doc, ("truncate", "reject"))
        _positive("input.batch_rows", self.batch_rows)
        _positive("input.max_doc_bytes", self.max_doc_bytes)


@dataclass(frozen=True)
class NormalizeConfig(_Section):
    """Text normalisation before hashing (see :mod:`dedupe.text.normalize`)."""

    section: ClassVar[str] = "normalize"

    nfkc: bool = True
    lowercase: bool = True
    fold_punctuation: bool = True
    fold_whitespace: bool = True


@dataclass(frozen=True)
class MinHashConfig(_Section):
    """Shingling and signatures.

    Defaults: word 2-grams, 128 permutations, with ``lsh.threshold = 0.75``. Measured by
    ``benchmarks/defaults_table.py`` (README, "Defaults, and why"; min / median): on generated
    pages a copy with 5 % of its words edited keeps word 2-gram Jaccard 0.82 / 0.86 to its
    original and a copy with another site's header and footer 0.80 / 0.91, while pages sharing
    only a template stay below 0.1; on real news portal pages whose site chrome outweighs the
    article (CleanPortalEval), different articles of one blog reach 0.72. Longer n-grams pull
    edited copies down into that band (3-grams: 0.74 / 0.79; 5-grams: 0.59 / 0.67), so no
    threshold separates them; character 5-grams cost about four times as many shingles.
    """

    section: ClassVar[str] = "minhash"

    shingle: str = "word"  # word | char
    ngram: int = 2
    num_perm: int = 128
    seed: int = 1
    hash_scheme: str = "native"  # native | sha1 (datasketch's default hash function)

    def _check(self):
        _choice("minhash.shingle", self.shingle, ("word", "char"))
        _choice("minhash.hash_scheme", self.hash_scheme, ("native", "sha1"))
        _positive("minhash.ngram", self.ngram)
        _positive("minhash.num_perm", self.num_perm)
        if self.seed < 0:
            raise ConfigError(f"minhash.seed = {self.seed!r} must be a non-negative integer")


@dataclass(frozen=True)
class LSHConfig(_Section):
    """Banding and verification.

    ``bands`` x ``rows`` is chosen from ``threshold`` by minimising the weighted false-positive and
    false-negative areas under the S-curve (:func:`dedupe.near.lsh.optimal_bands`, datasketch's
    choice) unless both are given.
    Candidates are verified (estimated Jaccard >= threshold), so a false positive of the banding
    costs only a comparison; the default weights therefore favour recall.
    """

    section: ClassVar[str] = "lsh"

    threshold: float = 0.75
    bands: int | None = None
    rows: int | None = None
    fp_weight: float = 0.03
    fn_weight: float = 0.97
    max_bucket_size: int = 5000
    verify: str = "signature"  # signature | exact | none

    def _check(self):
        if not 0.0 < self.threshold <= 1.0:
            raise ConfigError(f"lsh.threshold = {self.threshold!r} must be in (0, 1]")
        _positive("lsh.bands", self.bands)
        _positive("lsh.rows", self.rows)
        if (self.bands is None) != (self.rows is None):
            raise ConfigError("lsh.bands and lsh.rows must be given together (or neither)")
        if self.fp_weight < 0 or self.fn_weight < 0 or self.fp_weight + self.fn_weight <= 0:
            raise ConfigError(f"lsh.fp_weight = {self.fp_weight!r}, lsh.fn_weight = "
                              f"{self.fn_weight!r}: both must be >= 0, and not both 0")
        _positive("lsh.max_bucket_size", self.max_bucket_size)
        _choice("lsh.verify", self.verify, ("signature", "exact", "none"))


@dataclass(frozen=True)
class ClusterConfig(_Section):
    """Which member of a duplicate cluster survives: ``first``, ``longest`` or ``max:COLUMN``."""

    section: ClassVar[str] = "cluster"

    survivor: str = "first"

    def _check(self):
        if self.survivor not in ("first", "longest") and not (
            self.survivor.startswith("max:") and len(self.survivor) > 4
        ):
            raise ConfigError(
                f"cluster.survivor = {self.survivor!r}: use 'first', 'longest' or 'max:COLUMN'"
            )

    @property
    def survivor_column(self) -> str | None:
        return self.survivor[4:] if self.survivor.startswith("max:") else None


@dataclass(frozen=True)
class SpansConfig(_Section):
    """Repeated spans inside a page and boilerplate across pages (see :mod:`dedupe.spans`).

    ``min_tokens`` 10: measured on 697 Common Crawl pages and 58 hand-cleaned CleanEval texts
    (benchmarks/span_min_tokens.py), 8 tokens starts flagging phrases that recur naturally in
    prose, 13 misses the shortest re-pasted citation of the seed page. ``boilerplate_min_docs``
    3: a line in three unrelated surviving pages is site chrome far more often than content.
    """

    section: ClassVar[str] = "spans"

    repeats: bool = True
    min_tokens: int = 10
    near: bool = True
    near_threshold: float = 0.8
    boilerplate: bool = True
    boilerplate_min_docs: int = 3
    boilerplate_policy: str = "all"  # all (CCNet: every copy) | keep_first
    windows: bool = False  # also count every run of min_tokens tokens across pages
    partitions: int = 16
    remove: bool = False
    min_length: int = 50
    stats: bool = False
    gopher_filter: bool = False

    def _check(self):
        _positive("spans.min_tokens", self.min_tokens)
        _positive("spans.boilerplate_min_docs", self.boilerplate_min_docs)
        _positive("spans.partitions", self.partitions)
        _choice("spans.boilerplate_policy", self.boilerplate_policy, ("all", "keep_first"))
        if not 0.0 < self.near_threshold <= 1.0:
            raise ConfigError(f"spans.near_threshold = {self.near_threshold!r} must be in (0, 1]")
        if self.min_length < 0:
            raise ConfigError(f"spans.min_length = {self.min_length!r} must be >= 0")


@dataclass(frozen=True)
class OutputConfig(_Section):
    """The run folder and how shards are cut."""

    section: ClassVar[str] = "output"

    out: str = ""
    rows_per_shard: int = 100_000
    bytes_per_shard: int | None = None
    compression: str = "zstd"  # of every Parquet file written: shards, manifest, spans, indexes
    overwrite: bool = False
    workdir: str | None = None

    def _check(self):
        _positive("output.rows_per_shard", self.rows_per_shard)
        _positive("output.bytes_per_shard", self.bytes_per_shard)
        _choice("output.compression", self.compression, _parquet_codecs())


@dataclass(frozen=True)
class EngineConfig(_Section):
    """Who runs the tasks: ``local`` (processes), ``serial`` (in this process, for tests)."""

    section: ClassVar[str] = "engine"

    name: str = "local"
    workers: int = 0  # 0: one per core (ray: the cluster's CPUs)
    address: str | None = None  # ray: auto, ray://host:10001, or None for a local Ray
    # what the main process may hold while deciding: sets how many signatures are read at once
    # when candidate pairs are verified ("2GB", "512MB" or bytes); the per-row arrays of the
    # decide stage (about 100 bytes a row) come on top
    memory_limit: str | int = "2GB"

    def _check(self):
        _choice("engine.name", self.name, ("local", "serial", "ray"))
        self.memory_bytes  # noqa: B018 - validates the value
        if self.workers < 0:
            raise ConfigError(f"engine.workers = {self.workers!r} must be >= 0 (0: all cores)")

    @property
    def memory_bytes(self) -> int:
        return parse_bytes("engine.memory_limit", self.memory_limit)

    @property
    def resolved_workers(self) -> int:
        if self.workers:
            return self.workers
        try:
            return max(1, len(os.sched_getaffinity(0)))
        except AttributeError:  # pragma: no cover - not on Linux
            return max(1, os.cpu_count() or 1)


@dataclass(frozen=True)
class IndexConfig(_Section):
    """Persistent indexes (see :mod:`dedupe.index`): match new rows against earlier runs' kept
    documents, and store this run's kept documents for later runs."""

    section: ClassVar[str] = "index"

    against: tuple[str, ...] = ()  # indexes whose documents remove matching new rows
    write: str | None = None  # create an index of this run's kept rows here
    update: bool = False  # append this run's kept rows to the first `against` index

    def _check(self):
        if self.update and not self.against:
            raise ConfigError("index.update (--update-index) needs an index to update: give it "
                              "with --against INDEX")
        if self.update and self.write:
            raise ConfigError("use either --write-index (a new index) or --update-index (append "
                              "to the --against index), not both")


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


# short option names (the CLI flags, and keyword arguments of dedupe.run) -> config keys
OPTION_KEYS = {
    "text_column": "input.text_column",
    "id_column": "input.id_column",
    "format": "input.format",
    "on_bad_row": "input.on_bad_row",
    "max_doc_bytes": "input.max_doc_bytes",
    "on_long_doc": "input.on_long_doc",
    "max_row_bytes": "input.max_row_bytes",
    "batch_rows": "input.batch_rows",
    "shingle": "minhash.shingle",
    "ngram": "minhash.ngram",
    "num_perm": "minhash.num_perm",
    "seed": "minhash.seed",
    "hash_scheme": "minhash.hash_scheme",
    "threshold": "lsh.threshold",
    "bands": "lsh.bands",
    "rows": "lsh.rows",
    "fp_weight": "lsh.fp_weight",
    "fn_weight": "lsh.fn_weight",
    "max_bucket_size": "lsh.max_bucket_size",
    "verify": "lsh.verify",
    "survivor": "cluster.survivor",
    "spans": "spans.repeats", "span_min_tokens": "spans.min_tokens", "span_near": "spans.near",
    "boilerplate": "spans.boilerplate", "boilerplate_min_docs": "spans.boilerplate_min_docs",
    "boilerplate_policy": "spans.boilerplate_policy",
    "boilerplate_windows": "spans.windows", "remove_spans": "spans.remove",
    "min_length": "spans.min_length", "repetition_stats": "spans.stats",
    "gopher_filter": "spans.gopher_filter",
    "rows_per_shard": "output.rows_per_shard",
    "bytes_per_shard": "output.bytes_per_shard",
    "workdir": "output.workdir",
    "overwrite": "output.overwrite",
    "workers": "engine.workers",
    "address": "engine.address",
    "engine": "engine.name",
    "memory_limit": "engine.memory_limit",
    "against": "index.against",
    "write_index": "index.write",
    "update_index": "index.update",
}


def option_flag(key: str) -> str | None:
    """The command-line flag that sets config ``key`` (``"lsh.threshold"`` -> ``"--threshold"``),
    or None for a key only ``--set KEY=VALUE`` reaches.

    Derived from :data:`OPTION_KEYS`, the one table of short option names: the CLI maps its
    options to keys through it, and library messages that tell a user which option to change
    name the flag through this function, so neither spells the other's names.
    """
    for name, mapped in OPTION_KEYS.items():
        if mapped == key:
            return "--" + name.replace("_", "-")
    return None


def load_config(path: str | os.PathLike | None = None, **overrides: Any) -> DedupeConfig:
    """Read a TOML file (or start from defaults) and apply dotted-key overrides."""
    data: dict = {}
    if path is not None:
        p = Path(path)
        try:
            data = tomllib.loads(p.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"config file {p} does not exist") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"config file {p} is not valid TOML: {exc}") from None
    config = DedupeConfig.from_dict(data)
    return config.with_overrides(overrides) if overrides else config
