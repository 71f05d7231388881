"""Evaluation of deduplication output against reference clusters or labelled pairs."""

from dedupe.evaluate.labelled_pairs import pairwise_from_pairs
from dedupe.evaluate.metrics import (
    PairCounts,
    adjusted_rand_index,
    pair_counts,
    removed_fraction,
    score,
)

__all__ = [
    "PairCounts",
    "adjusted_rand_index",
    "pair_counts",
    "pairwise_from_pairs",
    "removed_fraction",
    "score",
]
