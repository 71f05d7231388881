"""The sections of the config, one frozen dataclass each: their fields, defaults and the reasons
for them, the range of every integer, and the checks of each section's own values."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import ClassVar

from dedupe.config.checks import (
    INT64_MAX,
    MAX_BATCH_ROWS,
    MAX_MEMORY,
    MAX_NGRAM,
    MAX_NUM_PERM,
    MAX_PARTITIONS,
    MAX_ROW_BYTES,
    MAX_SEED,
    MAX_SPAN_TOKENS,
    MAX_WORKERS,
    RAY_ADDRESS,
    check_choice,
    check_column_name,
    check_fraction,
    parquet_codecs,
    parse_bytes,
)
from dedupe.config.options import option_label, shown
from dedupe.config.values import Section
from dedupe.errors import ConfigError

__all__ = [
    "ClusterConfig",
    "EngineConfig",
    "IndexConfig",
    "InputConfig",
    "LSHConfig",
    "MinHashConfig",
    "NormalizeConfig",
    "OutputConfig",
    "SpansConfig",
]


@dataclass(frozen=True)
class InputConfig(Section):
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
        check_choice("input.format", self.format, ("auto", "parquet", "jsonl"))
        check_choice("input.on_bad_row", self.on_bad_row, ("error", "reject"))
        check_choice("input.on_long_doc", self.on_long_doc, ("truncate", "reject"))
        check_column_name("input.text_column", self.text_column, "")
        check_column_name("input.id_column", self.id_column, " (or null: ids are file:row)")


@dataclass(frozen=True)
class NormalizeConfig(Section):
    """Text normalisation before hashing (see :mod:`dedupe.text.normalize`)."""

    section: ClassVar[str] = "normalize"

    nfkc: bool = True
    lowercase: bool = True
    fold_punctuation: bool = True
    fold_whitespace: bool = True


@dataclass(frozen=True)
class MinHashConfig(Section):
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
        check_choice("minhash.shingle", self.shingle, ("word", "char"))
        check_choice("minhash.hash_scheme", self.hash_scheme, ("native", "sha1"))


@dataclass(frozen=True)
class LSHConfig(Section):
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
        check_fraction("lsh.threshold", self.threshold)
        if (self.bands is None) != (self.rows is None):
            raise ConfigError("--bands and --rows (lsh.bands and lsh.rows) must be given "
                              "together (or neither)")
        weights = self.fp_weight + self.fn_weight
        if self.fp_weight < 0 or self.fn_weight < 0 or not 0 < weights < math.inf:
            raise ConfigError(f"{option_label('lsh.fp_weight')} = {self.fp_weight!r}, "
                              f"{option_label('lsh.fn_weight')} = {self.fn_weight!r}: both must be "
                              ">= 0, not both 0, and their sum finite")
        check_choice("lsh.verify", self.verify, ("signature", "exact", "none"))


@dataclass(frozen=True)
class ClusterConfig(Section):
    """Which member of a duplicate cluster survives: ``first``, ``longest`` or ``max:COLUMN``."""

    section: ClassVar[str] = "cluster"

    survivor: str = "first"

    def _check(self):
        if self.survivor not in ("first", "longest") and not (
            self.survivor.startswith("max:") and len(self.survivor) > 4
        ):
            raise ConfigError(
                f"{option_label('cluster.survivor')} = {shown(self.survivor)}: use 'first', "
                "'longest' or 'max:COLUMN'"
            )

    @property
    def survivor_column(self) -> str | None:
        return self.survivor[4:] if self.survivor.startswith("max:") else None


@dataclass(frozen=True)
class SpansConfig(Section):
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
    near_threshold: float = 0.7  # dedupe.spans.repeats.DEFAULT_NEAR_THRESHOLD
    boilerplate: bool = True
    boilerplate_min_docs: int = 3
    boilerplate_policy: str = "all"  # all (CCNet: every copy) | keep_first
    windows: bool = False  # also count every run of min_tokens tokens across pages
    partitions: int = 16
    remove: bool = False
    min_length: int = 50
    stats: bool = False
    gopher_filter: bool = False
    # near-duplicate passages across pages (dedupe.spans.passages): windows of passage_tokens
    # tokens every passage_stride tokens, MinHash of their passage_ngram-token shingles with
    # passage_num_perm permutations, clustered at passage_threshold (measured on PAN-13 and
    # generated pages, see README: 128 permutations, not 64, halve the chance matches of
    # unrelated windows on one topic); off by default (a second decide stage over about
    # tokens / stride passages a page)
    near_passages: bool = False
    passage_threshold: float = 0.42
    passage_tokens: int = 40
    passage_stride: int = 10
    passage_ngram: int = 1
    passage_num_perm: int = 128

    # min_tokens: at most 1000 (windows cost one pass over the batch per token, and a longer
    # repeat is found whole by shorter windows); partitions: at most 2**20, one per 64 MB of a
    # 64 TiB input (each sign task writes every partition); min_length: at most 1 GiB, the
    # longest text read (max_row_bytes)
    limits: ClassVar[dict[str, tuple[int, int]]] = {
        "min_tokens": (1, MAX_SPAN_TOKENS), "boilerplate_min_docs": (1, INT64_MAX),
        "partitions": (1, MAX_PARTITIONS), "min_length": (0, MAX_ROW_BYTES),
        "passage_tokens": (2, MAX_SPAN_TOKENS), "passage_stride": (1, MAX_SPAN_TOKENS),
        "passage_ngram": (1, MAX_NGRAM), "passage_num_perm": (1, MAX_NUM_PERM)}

    def _check(self):
        check_choice("spans.boilerplate_policy", self.boilerplate_policy, ("all", "keep_first"))
        check_fraction("spans.near_threshold", self.near_threshold)
        check_fraction("spans.passage_threshold", self.passage_threshold)
        if self.passage_stride > self.passage_tokens:
            raise ConfigError(
                f"{option_label('spans.passage_stride')} = {self.passage_stride} is longer than "
                f"{option_label('spans.passage_tokens')} = {self.passage_tokens}: passages "
                "would leave tokens out")
        if self.passage_ngram > self.passage_tokens:
            raise ConfigError(
                f"spans.passage_ngram = {self.passage_ngram} is longer than "
                f"{option_label('spans.passage_tokens')} = {self.passage_tokens}")


@dataclass(frozen=True)
class OutputConfig(Section):
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
        check_choice("output.compression", self.compression, parquet_codecs())
        if self.workdir is not None and not self.workdir.strip():
            raise ConfigError(f"{option_label('output.workdir')} = {self.workdir!r}: give a folder "
                              "(or null: OUT/_work)")


@dataclass(frozen=True)
class EngineConfig(Section):
    """Who runs the tasks: ``local`` (processes), ``serial`` (in this process, for tests)."""

    section: ClassVar[str] = "engine"

    name: str = "local"
    workers: int = 0  # 0: one per core (ray: the cluster's CPUs)
    address: str | None = None  # ray: auto, ray://host:10001, or None for a local Ray
    # what one task may hold ("2GB", "512MB" or bytes; at most 1 PB): sizes the decide stage's
    # partitions (a quarter of it each) and how many signatures are read at once when candidate
    # pairs are verified or index generations written
    memory_limit: str | int = "2GB"
    # partitions of the decide stage's records (0: two per worker, more so that each holds a
    # quarter of memory_limit); any count gives the same decisions
    partitions: int = 0

    # workers: processes on this machine (a local Ray's CPUs too), at most 1024
    limits: ClassVar[dict[str, tuple[int, int]]] = {"workers": (0, MAX_WORKERS),
                                                    "partitions": (0, MAX_PARTITIONS)}

    def _check(self):
        check_choice("engine.name", self.name, ("local", "serial", "ray"))
        self.memory_bytes  # noqa: B018 - validates the value
        if self.address is not None:
            if self.name != "ray":
                raise ConfigError(f"{option_label('engine.address')} = {shown(self.address)}: an "
                                  "address is for a Ray cluster: give it with --engine ray")
            if not RAY_ADDRESS.fullmatch(self.address):
                raise ConfigError(f"{option_label('engine.address')} = {shown(self.address)}: give "
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
class IndexConfig(Section):
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
                raise ConfigError(f"{option_label(key)} = {path!r}: give an index folder"
                                  + (" (or null)" if key == "index.write" else ""))
        if self.update and not self.against:
            raise ConfigError("index.update (--update-index) needs an index to update: give it "
                              "with --against INDEX")
        if self.update and self.write:
            raise ConfigError("use either --write-index (a new index) or --update-index (append "
                              "to the --against index), not both")

