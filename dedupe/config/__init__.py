"""The one typed configuration of a run: a frozen dataclass tree, the only home of defaults.

Load it from TOML (sections named like the fields below) and apply ``key=value`` overrides with
dotted keys (``lsh.threshold=0.8``). Every command-line option maps to one key here.

    options     OPTION_KEYS (short option names -> keys), option_flag, how messages name them
    values      a value read as its field's type; Section, the base of every section
    checks      the ranges of the numeric options, sizes ("4GB"), shared checks of one value
    sections    InputConfig ... IndexConfig: fields, defaults and why, each section's checks
    tree        DedupeConfig: the sections together, checks across them, --set overrides
    load        load_config: a TOML file (or the defaults) plus overrides
"""

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
    parse_bytes,
)
from dedupe.config.load import MAX_CONFIG_BYTES, load_config
from dedupe.config.options import OPTION_KEYS, option_flag
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
from dedupe.config.tree import DedupeConfig

__all__ = [
    "INT64_MAX",
    "MAX_BATCH_ROWS",
    "MAX_CONFIG_BYTES",
    "MAX_MEMORY",
    "MAX_NGRAM",
    "MAX_NUM_PERM",
    "MAX_PARTITIONS",
    "MAX_ROW_BYTES",
    "MAX_SEED",
    "MAX_SPAN_TOKENS",
    "MAX_WORKERS",
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
    "parse_bytes",
]
