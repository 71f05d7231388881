"""The short option names (command-line flags, keyword arguments of ``dedupe.run``) and how
messages name an option and its value."""

from __future__ import annotations

from typing import Any

__all__ = ["OPTION_KEYS", "option_flag", "option_label", "shown"]

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
    "near_passages": "spans.near_passages", "passage_threshold": "spans.passage_threshold",
    "passage_tokens": "spans.passage_tokens", "passage_stride": "spans.passage_stride",
    "rows_per_shard": "output.rows_per_shard",
    "bytes_per_shard": "output.bytes_per_shard",
    "workdir": "output.workdir",
    "overwrite": "output.overwrite",
    "workers": "engine.workers",
    "partitions": "engine.partitions",
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


def option_label(key: str) -> str:
    """A config key as messages name it: with the command-line flag that sets it, if any
    (``--num-perm (minhash.num_perm)``)."""
    flag = option_flag(key)
    return f"{flag} ({key})" if flag else key


def shown(value: Any) -> str:
    """``repr(value)`` for a message, cut short: a value can be a whole file's worth of text."""
    text = repr(value)
    return text if len(text) <= 80 else text[:60] + f"... ({len(text):,} characters)"
