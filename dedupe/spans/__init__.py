"""Spans inside documents: repeated passages, span merging, span removal, repetition stats.

Everything here is pure computation on text and numpy arrays of character offsets (Python
``str`` indices into the original text); reading and writing happen elsewhere. The functions
exported here take one document; each has a batch form (``batch_tokens``, ``batch_repeats``,
``batch_repetition_stats``) that the pipeline uses, and the one-document form is that batch
code run on a batch of one.
"""

from dedupe.spans.edit import SpanEdit, rebuild, remove_spans
from dedupe.spans.merge import merge_spans
from dedupe.spans.repeats import DEFAULT_MIN_TOKENS, RepeatSpans, find_repeats
from dedupe.spans.stats import (
    GOPHER_REPETITION_LIMITS,
    passes_gopher_repetition,
    repetition_stats,
)
from dedupe.spans.tokens import TOKEN_HASH_VERSION, token_spans, tokenize_offsets
from dedupe.spans.windows import window_hashes

__all__ = [
    "DEFAULT_MIN_TOKENS",
    "GOPHER_REPETITION_LIMITS",
    "TOKEN_HASH_VERSION",
    "RepeatSpans",
    "SpanEdit",
    "find_repeats",
    "merge_spans",
    "passes_gopher_repetition",
    "rebuild",
    "remove_spans",
    "repetition_stats",
    "token_spans",
    "tokenize_offsets",
    "window_hashes",
]
