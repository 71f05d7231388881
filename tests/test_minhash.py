"""MinHash signatures against datasketch, and estimates against true Jaccard."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest
from datasketch import MinHash

from dedupe.config import MinHashConfig, NormalizeConfig
from dedupe.near.compat import sha1_shingles
from dedupe.near.minhash import EMPTY, jaccard_estimate, permutations, signatures
from dedupe.text.normalize import canonical_codepoints, canonical_text
from dedupe.text.shingle import shingle_batch, shingle_strings

NORM = NormalizeConfig()
TEXTS = [
    "The quick brown fox jumps over the lazy dog near the river bank today.",
    "\uff34\uff48\uff45 \uff51\uff55\uff49\uff43\uff4b brown fox \u2014 jumps!",
    "日本語のテキストです。東京は晴れ。",
    "a b",
    "one",
    "",
]


def _batch(texts, kind, n, scheme="native"):
    cps, off = canonical_codepoints(pa.array(texts, pa.string()), NORM)
    if scheme == "sha1":
        return sha1_shingles(cps, off, kind, n)
    return shingle_batch(cps, off, kind, n)


def test_permutations_are_datasketchs():
    a, b = permutations(64, 7)
    m = MinHash(num_perm=64, seed=7)
    assert np.array_equal(a, m.permutations[0]) and np.array_equal(b, m.permutations[1])


@pytest.mark.parametrize("kind,n", [("word", 1), ("word", 3), ("word", 5), ("char", 4)])
def test_sha1_scheme_gives_datasketch_hashvalues(kind, n):
    sh = _batch(TEXTS, kind, n, scheme="sha1")
    sig = signatures(sh.hashes, sh.offsets, 128, 1)
    for i, text in enumerate(TEXTS):
        m = MinHash(num_perm=128, seed=1)  # datasketch defaults: affine32 + sha1_hash32
        for s in shingle_strings(canonical_text(text, NORM), kind, n):
            m.update(s.encode("utf-8"))
        assert np.array_equal(m.hashvalues, sig[i]), (text, kind, n)


@pytest.mark.parametrize("kind,n", [("word", 3), ("char", 5)])
def test_native_scheme_equals_datasketch_with_the_same_hash(kind, n):
    sh = _batch(TEXTS, kind, n)
    sig = signatures(sh.hashes, sh.offsets, 128, 3)
    for i, text in enumerate(TEXTS):
        strings = shingle_strings(canonical_text(text, NORM), kind, n)
        hashes = sh.hashes[sh.offsets[i] : sh.offsets[i + 1]].tolist()
        assert len(strings) == len(hashes)
        lookup = dict(zip(strings, hashes))
        m = MinHash(num_perm=128, seed=3, hashfunc=lookup.__getitem__)
        m.update_batch(strings)
        assert np.array_equal(m.hashvalues, sig[i])


def test_datasketch_lsh_accepts_our_signatures():
    from datasketch import MinHashLSH

    sh = _batch([*TEXTS[:2], TEXTS[0] + " extra"], "word", 3)
    sig = signatures(sh.hashes, sh.offsets, 128, 1)
    lsh = MinHashLSH(threshold=0.5, num_perm=128)
    for i, row in enumerate(sig):
        lsh.insert(str(i), MinHash(num_perm=128, seed=1, hashvalues=row, scheme="affine32"))
    found = lsh.query(MinHash(num_perm=128, seed=1, hashvalues=sig[0], scheme="affine32"))
    assert {"0", "2"} <= set(found)


def test_empty_documents_get_the_empty_signature():
    sh = _batch(["", "   ", "word"], "word", 3)
    sig = signatures(sh.hashes, sh.offsets, 16, 1)
    assert (sig[0] == EMPTY).all() and (sig[1] == EMPTY).all() and not (sig[2] == EMPTY).all()


def _pair_with_jaccard(rng, target: float, size: int = 400):
    """Two texts over distinct words whose word-1-gram Jaccard is exactly ``target``."""
    shared = round(size * 2 * target / (1 + target))
    only = size - shared
    words = [f"w{i}" for i in rng.permutation(10_000)[: shared + 2 * only]]
    a = words[:shared] + words[shared : shared + only]
    b = words[:shared] + words[shared + only :]
    true = shared / (shared + 2 * only)
    return " ".join(rng.permutation(a)), " ".join(rng.permutation(b)), true


def test_estimate_is_as_accurate_as_datasketch_across_a_similarity_sweep():
    rng = np.random.default_rng(0)
    ours, theirs = [], []
    for target in np.linspace(0.05, 0.95, 19):
        for _ in range(6):
            a, b, true = _pair_with_jaccard(rng, target)
            sh = _batch([a, b], "word", 1)
            seed = int(rng.integers(1, 1 << 30))
            sig = signatures(sh.hashes, sh.offsets, 128, seed)
            ours.append(jaccard_estimate(sig[0], sig[1]) - true)
            ma, mb = MinHash(num_perm=128, seed=seed), MinHash(num_perm=128, seed=seed)
            ma.update_batch([w.encode() for w in a.split()])
            mb.update_batch([w.encode() for w in b.split()])
            theirs.append(ma.jaccard(mb) - true)
    ours, theirs = np.abs(ours), np.abs(theirs)
    # MinHash standard error at 128 permutations is at most 0.044; allow noise around it
    assert ours.mean() < 0.05 and np.quantile(ours, 0.95) < 0.1
    assert ours.mean() < theirs.mean() * 1.3 + 0.005
    assert abs(np.mean(ours) - np.mean(theirs)) < 0.015


def test_config_rejects_nonsense():
    from dedupe.errors import ConfigError

    with pytest.raises(ConfigError, match=r"minhash\.shingle"):
        MinHashConfig(shingle="sentence")
    with pytest.raises(ConfigError, match="num_perm"):
        MinHashConfig(num_perm=0)
