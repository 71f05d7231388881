"""The one typed configuration of a run: a frozen dataclass tree, the only home of defaults.

Load it from TOML (sections named like the fields below) and apply ``key=value`` overrides with
dotted keys (``lsh.threshold=0.8``). Every command-line option maps to one key here.
"""

from __future__ import annotations

import dataclasses
import decimal
import functools
import hashlib
import json
import math
import numbers
import os
import re
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


def _label(key: str) -> str:
    """A config key as messages name it: with the command-line flag that sets it, if any
    (``--num-perm (minhash.num_perm)``)."""
    flag = _flags().get(key)
    return f"{flag} ({key})" if flag else key


@functools.cache
def _flags() -> dict[str, str]:
    return {key: "--" + name.replace("_", "-") for name, key in OPTION_KEYS.items()}


def _shown(value: Any) -> str:
    """``repr(value)`` for a message, cut short: a value can be a whole file's worth of text."""
    text = repr(value)
    return text if len(text) <= 80 else text[:60] + f"... ({len(text):,} characters)"


def _choice(name: str, value: Any, allowed: tuple) -> None:
    if value not in allowed:
        raise ConfigError(f"{_label(name)} = {_shown(value)} is not one of "
                          f"{', '.join(map(repr, allowed))}")


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
    raise ConfigError(f"{_label(key)} = {_shown(value)}: expected {allowed}")


def _is_count(hint: Any) -> bool:
    """An integer field (``int`` or ``int | None``), not a size that may be text (``"4GB"``)."""
    union = typing.get_origin(hint) in (typing.Union, types.UnionType)
    options = typing.get_args(hint) if union else (hint,)
    return int in options and str not in options


@functools.cache
def _field_types(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


class _Section:
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
            value = _convert(key, types_of[f.name], getattr(self, f.name))
            object.__setattr__(self, f.name, value)
            if _is_count(types_of[f.name]):
                if f.name not in self.limits:
                    raise TypeError(f"{key} is an integer without a range in {type(self)}.limits")
                least, most = self.limits[f.name]
                if value is not None and not least <= value <= most:
                    raise ConfigError(f"{_label(key)} = {_shown(value)}: must be an integer from "
                                      f"{least} to {most}")
        self._check()

    def _check(self) -> None:
        """Checks of values and of combinations, after the types are right."""


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
_RAY_ADDRESS = re.compile(
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
        raise ConfigError(f"{_label(name)} = {_shown(value)}: give a size from 1 byte to "
                          f"{_size_name(most)}, such as {examples} or a number of bytes")
    return out


def _fraction(name: str, value: float) -> None:
    if not 0.0 < value <= 1.0:
        raise ConfigError(f"{_label(name)} = {value!r}: must be a number in (0, 1]")


def _column_name(name: str, value: str | None, otherwise: str) -> None:
    if value is not None and not value.strip():
        raise ConfigError(f"{_label(name)} = {value!r}: give a column name{otherwise}")


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
    # ~2 MB of text: numpy temporaries stay small and cache-friendly (at most 2**20 rows: a
    # batch of a million pages already holds gigabytes of temporaries)
    batch_rows: int = 1024
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

    # max_doc_bytes: at most 1 GiB, as max_row_bytes (a longer text is never read)
    limits: ClassVar[dict[str, tuple[int, int]]] = {
        "batch_rows": (1, MAX_BATCH_ROWS), "max_doc_bytes": (1, MAX_ROW_BYTES)}

    def _check(self):
        object.__setattr__(self, "max_row_bytes", parse_bytes(
            "input.max_row_bytes", self.max_row_bytes, MAX_ROW_BYTES, "64MB, 512KB"))
        _choice("input.format", self.format, ("auto", "parquet", "jsonl"))
        _choice("input.on_bad_row", self.on_bad_row, ("error", "reject"))
        _choice("input.on_long_doc", self.on_long_doc, ("truncate", "reject"))
        _column_name("input.text_column", self.text_column, "")
        _column_name("input.id_column", self.id_column, " (or null: ids are file:row)")


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
    ngram: int = 2  # at most 100: hashing costs one pass over the batch per item of an n-gram
    # at most 8192: choosing bands x rows takes seconds there (about n log n), and the
    # estimate's error (0.5 / sqrt(num_perm)) no longer changes a decision
    num_perm: int = 128
    seed: int = 1  # 0 to 2**32 - 1: the seeds of numpy.random.RandomState, which draws (a, b)
    hash_scheme: str = "native"  # native | sha1 (datasketch's default hash function)

    limits: ClassVar[dict[str, tuple[int, int]]] = {
        "ngram": (1, MAX_NGRAM), "num_perm": (1, MAX_NUM_PERM), "seed": (0, MAX_SEED)}

    def _check(self):
        _choice("minhash.shingle", self.shingle, ("word", "char"))
        _choice("minhash.hash_scheme", self.hash_scheme, ("native", "sha1"))


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

    # bands and rows: each at most minhash.num_perm, and so is bands x rows (checked by
    # DedupeConfig, which sees both sections); max_bucket_size: any count of rows
    limits: ClassVar[dict[str, tuple[int, int]]] = {
        "bands": (1, MAX_NUM_PERM), "rows": (1, MAX_NUM_PERM),
        "max_bucket_size": (1, INT64_MAX)}

    def _check(self):
        _fraction("lsh.threshold", self.threshold)
        if (self.bands is None) != (self.rows is None):
            raise ConfigError("--bands and --rows (lsh.bands and lsh.rows) must be given "
                              "together (or neither)")
        weights = self.fp_weight + self.fn_weight
        if self.fp_weight < 0 or self.fn_weight < 0 or not 0 < weights < math.inf:
            raise ConfigError(f"{_label('lsh.fp_weight')} = {self.fp_weight!r}, "
                              f"{_label('lsh.fn_weight')} = {self.fn_weight!r}: both must be "
                              ">= 0, not both 0, and their sum finite")
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
                f"{_label('cluster.survivor')} = {_shown(self.survivor)}: use 'first', "
                "'longest' or 'max:COLUMN'"
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

    # min_tokens: at most 1000 (windows cost one pass over the batch per token, and a longer
    # repeat is found whole by shorter windows); partitions: at most 2**20, one per 64 MB of a
    # 64 TiB input (each sign task writes every partition); min_length: at most 1 GiB, the
    # longest text read (max_row_bytes)
    limits: ClassVar[dict[str, tuple[int, int]]] = {
        "min_tokens": (1, MAX_SPAN_TOKENS), "boilerplate_min_docs": (1, INT64_MAX),
        "partitions": (1, MAX_PARTITIONS), "min_length": (0, MAX_ROW_BYTES)}

    def _check(self):
        _choice("spans.boilerplate_policy", self.boilerplate_policy, ("all", "keep_first"))
        _fraction("spans.near_threshold", self.near_threshold)


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

    limits: ClassVar[dict[str, tuple[int, int]]] = {
        "rows_per_shard": (1, INT64_MAX), "bytes_per_shard": (1, INT64_MAX)}

    def _check(self):
        _choice("output.compression", self.compression, _parquet_codecs())
        if self.workdir is not None and not self.workdir.strip():
            raise ConfigError(f"{_label('output.workdir')} = {self.workdir!r}: give a folder "
                              "(or null: OUT/_work)")


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
    # (at most 1 PB)
    memory_limit: str | int = "2GB"

    # workers: processes on this machine (a local Ray's CPUs too), at most 1024
    limits: ClassVar[dict[str, tuple[int, int]]] = {"workers": (0, MAX_WORKERS)}

    def _check(self):
        _choice("engine.name", self.name, ("local", "serial", "ray"))
        self.memory_bytes  # noqa: B018 - validates the value
        if self.address is not None:
            if self.name != "ray":
                raise ConfigError(f"{_label('engine.address')} = {_shown(self.address)}: an "
                                  "address is for a Ray cluster: give it with --engine ray")
            if not _RAY_ADDRESS.fullmatch(self.address):
                raise ConfigError(f"{_label('engine.address')} = {_shown(self.address)}: give "
                                  "auto, local, HOST:PORT or ray://HOST:PORT")

    @property
    def memory_bytes(self) -> int:
        return parse_bytes("engine.memory_limit", self.memory_limit, MAX_MEMORY)

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
        for key, path in [("index.against", p) for p in self.against] + [
                ("index.write", self.write)]:
            if path is not None and not path.strip():
                raise ConfigError(f"{_label(key)} = {path!r}: give an index folder"
                                  + (" (or null)" if key == "index.write" else ""))
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

    def __post_init__(self):
        """Checks across sections (each section has checked its own values)."""
        bands, rows, num_perm = self.lsh.bands, self.lsh.rows, self.minhash.num_perm
        if bands is not None and rows is not None and bands * rows > num_perm:
            raise ConfigError(f"--bands x --rows (lsh.bands x lsh.rows) = {bands} x {rows} = "
                              f"{bands * rows}: must be at most {_label('minhash.num_perm')} = "
                              f"{num_perm}")

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
