"""What an index's numbers mean: the parameters they depend on, and the band key function.

A stored signature or band key can only be compared with one computed now when everything that
went into it is equal: the scheme tags of :mod:`dedupe.schemes` (the Unicode version and the
versions of the canonical text, digest, MinHash, band key and boilerplate key schemes), the
normalisation (it decides the canonical text, hence the digest and the shingles), the shingle
kind and size, the hash function, the number of permutations and their seed, the longest text
hashed in full (``input.max_doc_bytes``: longer texts are hashed on a prefix), and the band
layout ``bands x rows`` (a key hashes ``rows`` consecutive signature values). These are the
``COMPARED`` parameters; ``check_compatible`` refuses an index where any of them differs.
The threshold and the version of dedupe that wrote the index are recorded for people only.
"""

from __future__ import annotations

from dataclasses import fields

import numpy as np

from dedupe._version import __version__
from dedupe.config import DedupeConfig, NormalizeConfig, option_flag
from dedupe.errors import IndexMismatchError
from dedupe.near.lsh import band_key, lsh_params  # band_key: the run's key function, re-exported
from dedupe.near.minhash import EMPTY
from dedupe.schemes import SCHEME_KEYS, scheme_fields

__all__ = [
    "COMPARED",
    "FORMAT_VERSION",
    "band_key",
    "check_compatible",
    "has_signature",
    "index_params",
]

FORMAT_VERSION = 1

COMPARED = (
    *(f"scheme.{key}" for key in SCHEME_KEYS),
    "minhash.hash_scheme",
    *(f"normalize.{f.name}" for f in fields(NormalizeConfig)),
    "minhash.shingle",
    "minhash.ngram",
    "minhash.num_perm",
    "minhash.seed",
    "input.max_doc_bytes",
    "lsh.bands",
    "lsh.rows",
)

def index_params(cfg: DedupeConfig, bands: int | None = None, rows: int | None = None) -> dict:
    """The parameters an index records, as a flat JSON-ready dict keyed by config key.

    ``bands``/``rows`` default to the run's choice (:func:`dedupe.near.lsh.lsh_params`);
    pass the values a finished run reports to record exactly what it used.
    """
    if bands is None or rows is None:
        bands, rows = lsh_params(cfg)
    mh = cfg.minhash
    params = {
        **scheme_fields(),
        "minhash.hash_scheme": mh.hash_scheme,
        **{f"normalize.{f.name}": getattr(cfg.normalize, f.name) for f in fields(cfg.normalize)},
        "minhash.shingle": mh.shingle,
        "minhash.ngram": int(mh.ngram),
        "minhash.num_perm": int(mh.num_perm),
        "minhash.seed": int(mh.seed),
        "input.max_doc_bytes": cfg.input.max_doc_bytes,
        "lsh.bands": int(bands),
        "lsh.rows": int(rows),
        "lsh.threshold": float(cfg.lsh.threshold),
        "dedupe_version": __version__,
    }
    return params


def _hint(key: str, index_params: dict) -> str:
    """How to make a run match the index on ``key`` (or rebuild the index)."""
    value = index_params.get(key)
    if key not in index_params:
        return "rebuild the index with this version of dedupe"
    if key.startswith("scheme."):
        return ("its values were made by another version of dedupe or of its Unicode data: "
                "rebuild the index with this one, or run the dedupe that built it")
    if key in ("lsh.bands", "lsh.rows"):
        return (f"rebuild the index or run with {option_flag('lsh.bands')} "
                f"{index_params.get('lsh.bands')} {option_flag('lsh.rows')} "
                f"{index_params.get('lsh.rows')}")
    shown = value if isinstance(value, str) else _json(value)
    flag = option_flag(key)
    if flag is not None and not isinstance(value, bool) and value is not None:
        return f"rebuild the index or run with {flag} {shown}"
    return f"rebuild the index or run with --set {key}={shown}"


def _json(value) -> str:
    import json

    return json.dumps(value)


def check_compatible(header_params: dict, run_params: dict, index_path: str) -> None:
    """Raise :class:`IndexMismatchError` naming the first ``COMPARED`` parameter that differs.

    A key the index does not record (written by an older dedupe) counts as different: nothing
    proves the stored signatures were made the same way.
    """
    for key in COMPARED:
        have = header_params.get(key, "(not recorded)")
        want = run_params.get(key)
        if have != want or type(have) is not type(want):
            raise IndexMismatchError(str(index_path), key, have, want, _hint(key, header_params))


def has_signature(sigs: np.ndarray) -> np.ndarray:
    """Rows with at least one shingle: the run leaves all-``EMPTY`` signatures out of LSH.

    Computed in slices of 65,536 rows so the comparison's boolean temporary stays small.
    """
    out = np.empty(len(sigs), bool)
    for lo in range(0, len(sigs), 1 << 16):
        out[lo : lo + (1 << 16)] = (sigs[lo : lo + (1 << 16)] != EMPTY).any(axis=1)
    return out
