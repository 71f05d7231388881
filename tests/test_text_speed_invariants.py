"""The signing path is pinned bit for bit: speed work on it must not change one output bit.

Random batches (hypothesis: unicode of every plane, empty and whitespace-only texts, nulls, CJK,
combining marks, Hangul jamo, emoji, very long tokens, sliced and large-string arrays) are
compared against ``_reference_*`` functions, copies of the code as it stood before the speed work
(the only change: Unicode properties come from the pinned data of ``dedupe.text.ucd``, as in the
package). The lookup tables are compared with the plain per-character loop that built them then.
The values themselves (canonical text, digests, signatures of a readable corpus) are pinned in
``golden/text.json`` (``test_golden.py``).
"""

from __future__ import annotations

import contextlib
import itertools

import numpy as np
import pyarrow as pa
import pytest
import unicodedata2
import xxhash
from hypothesis import given, settings
from hypothesis import strategies as st

import dedupe.near.minhash as minhash_module
import dedupe.text.normalize as normalize_module
import dedupe.text.shingle as shingle_module
from dedupe.config import NormalizeConfig
from dedupe.near.exact import digests
from dedupe.near.minhash import EMPTY, permutations, signatures
from dedupe.text import ucd
from dedupe.text.codepoints import decode_utf8
from dedupe.text.hashing import run_hashes
from dedupe.text.normalize import canonical_codepoints, char_table
from dedupe.text.shingle import ngram_hashes, shingle_batch
from dedupe.text.tokens import char_classes, tokenize
from tests.synth import make_corpus

# --- reference implementations: the code before the speed work, kept as it was -------------

_REF_M = np.uint64(0x9E3779B97F4A7C15)
_REF_K = np.uint64(0xC2B2AE3D27D4EB4F)
_REF_M_INV = np.uint64(pow(int(_REF_M), -1, 1 << 64))
_REF_SHINGLE_M = np.uint64(0xD6E8FEB86659FD93)
_REF_TABLE_SIZE = 0x30000
_REF_SPECIAL = np.uint32(0xFFFFFF00)
_REF_EXPAND = np.uint32(0xFFFFFFFE)
_REF_UNSAFE = np.uint32(0xFFFFFFFD)
_REF_SPACE = np.uint32(0x20)
_REF_BLOCK = 16384


def _reference_string_buffers(arr):
    off_t = np.int64 if pa.types.is_large_string(arr.type) else np.int32
    bufs = arr.buffers()
    offsets = np.frombuffer(bufs[1], dtype=off_t)[arr.offset : arr.offset + len(arr) + 1]
    offsets = offsets.astype(np.int64)
    data = np.frombuffer(bufs[2], dtype=np.uint8) if bufs[2] is not None else np.zeros(0, np.uint8)
    return offsets, data


def _reference_decode_utf8(arr):
    if arr.null_count:
        arr = arr.fill_null("")
    offsets, data = _reference_string_buffers(arr)
    lo, hi = int(offsets[0]), int(offsets[-1])
    raw = data[lo:hi]
    cps = np.frombuffer(raw.tobytes().decode("utf-8").encode("utf-32-le"), dtype="<u4")
    if len(cps) == len(raw):
        return cps.astype(np.uint32, copy=False), offsets - lo
    continuation = np.zeros(len(raw) + 1, np.int64)
    np.cumsum((raw & 0xC0) == 0x80, out=continuation[1:])
    rel = offsets - lo
    return cps.astype(np.uint32, copy=False), rel - continuation[rel]


def _reference_compact(values, offsets, keep):
    kept_before = np.zeros(len(keep) + 1, np.int64)
    np.cumsum(keep, out=kept_before[1:])
    return values[keep], kept_before[offsets]


def _reference_expand(cps, mapped, offsets, table):
    _, exp_start, exp_len, data = table
    where = np.flatnonzero(mapped == _REF_EXPAND)
    lens = np.ones(len(mapped), np.int64)
    lens[where] = exp_len[cps[where]]
    out_start = np.zeros(len(mapped) + 1, np.int64)
    np.cumsum(lens, out=out_start[1:])
    out = np.repeat(mapped, lens)
    sub_lens = lens[where]
    sub_pos = np.repeat(out_start[where], sub_lens)
    within = np.arange(len(sub_pos)) - np.repeat(np.cumsum(sub_lens) - sub_lens, sub_lens)
    out[sub_pos + within] = data[np.repeat(exp_start[cps[where]], sub_lens) + within]
    return out, out_start[offsets]


def _reference_collapse_spaces(cps, offsets):
    space = cps == _REF_SPACE
    if not space.any():
        return cps, offsets
    prev = np.ones(len(cps), bool)
    prev[1:] = space[:-1]
    prev[offsets[:-1][offsets[:-1] < len(cps)]] = True
    cps, offsets = _reference_compact(cps, offsets, ~(space & prev))
    ends = offsets[1:][offsets[1:] > offsets[:-1]]
    trailing = ends[cps[ends - 1] == _REF_SPACE] - 1
    if len(trailing) == 0:
        return cps, offsets
    keep = np.ones(len(cps), bool)
    keep[trailing] = False
    return _reference_compact(cps, offsets, keep)


def _reference_python_nfkc(arr, docs):
    values = arr.to_pylist()
    for i in docs.tolist():
        values[i] = unicodedata2.normalize("NFKC", values[i])
    return pa.array(values, pa.string())


_REF_SINGLE_QUOTES = "\u2018\u2019\u201a\u201b\u2032\u2035\u02bc\u0060\u00b4\uff07"
_REF_DOUBLE_QUOTES = "\u201c\u201d\u201e\u201f\u2033\u2036\u00ab\u00bb\uff02"
_REF_ZERO_WIDTH = "\u200b\u200c\u200d\u2060\ufeff\u00ad"


def _reference_is_unsafe(ch, mapped):
    cp = ord(ch)
    if unicodedata2.combining(ch) or unicodedata2.category(ch)[0] == "M":
        return True
    if 0x1100 <= cp <= 0x11FF or 0x3130 <= cp <= 0x318F or 0xA960 <= cp <= 0xA97F:
        return True
    if 0xAC00 <= cp <= 0xD7FF:
        return True
    return any(unicodedata2.combining(m) for m in mapped)


def _reference_fold_char(ch, punctuation, whitespace):
    if punctuation:
        if ch in _REF_SINGLE_QUOTES:
            return "'"
        if ch in _REF_DOUBLE_QUOTES:
            return '"'
        if ch in _REF_ZERO_WIDTH:
            return ""
        if ch == "\u2212" or unicodedata2.category(ch) == "Pd":
            return "-"
    if whitespace and (ucd.is_space(ch) or unicodedata2.category(ch) == "Cc"):
        return " "
    return ch


def _reference_char_table(nfkc, lowercase, punctuation, whitespace):
    """Every code point through the whole chain, as the table was first built."""
    single = np.arange(_REF_TABLE_SIZE, dtype=np.uint32)
    exp_start = np.zeros(_REF_TABLE_SIZE, np.int64)
    exp_len = np.ones(_REF_TABLE_SIZE, np.int64)
    data = []
    for cp in range(_REF_TABLE_SIZE):
        if 0xD800 <= cp < 0xE000:
            continue
        ch = chr(cp)
        mapped = unicodedata2.normalize("NFKC", ch) if nfkc else ch
        if lowercase:
            mapped = ucd.lower(mapped)
            if nfkc:
                mapped = unicodedata2.normalize("NFKC", mapped)
        if nfkc and _reference_is_unsafe(ch, mapped):
            single[cp] = _REF_UNSAFE
            continue
        mapped = "".join(_reference_fold_char(m, punctuation, whitespace) for m in mapped)
        if len(mapped) == 1:
            single[cp] = ord(mapped)
        else:
            single[cp] = _REF_EXPAND
            exp_start[cp] = len(data)
            exp_len[cp] = len(mapped)
            data.extend(ord(m) for m in mapped)
    return single, exp_start, exp_len, np.array(data, dtype=np.uint32)


def _reference_char_classes():
    table = np.zeros(0x10000, dtype=np.uint8)
    for cp in range(0x10000):
        if not 0xD800 <= cp < 0xE000 and unicodedata2.category(chr(cp))[0] in "LMN":
            table[cp] = 1
    for lo, hi in ((0x0E00, 0x0EFF), (0x1000, 0x109F), (0x1780, 0x17FF), (0x2E80, 0x2FDF),
                   (0x3040, 0x30FF), (0x3100, 0x312F), (0x31F0, 0x31FF), (0x3400, 0x4DBF),
                   (0x4E00, 0x9FFF), (0xF900, 0xFAFF), (0xFF66, 0xFF9F)):
        seg = table[lo : hi + 1]
        seg[seg == 1] = 2
    return table


def _reference_canonical_codepoints(arr, cfg):
    if arr.null_count:
        arr = arr.fill_null("")
    cps, offsets = _reference_decode_utf8(arr)
    if not (cfg.nfkc or cfg.lowercase or cfg.fold_punctuation or cfg.fold_whitespace):
        return cps, offsets
    table = char_table(cfg.nfkc, cfg.lowercase, cfg.fold_punctuation, cfg.fold_whitespace)
    single = table[0]
    mapped = single[np.minimum(cps, _REF_TABLE_SIZE - 1)]
    beyond = cps >= _REF_TABLE_SIZE
    if beyond.any():
        mapped[beyond] = cps[beyond]
    special = mapped >= _REF_SPECIAL
    if special.any():
        unsafe = np.flatnonzero(mapped == _REF_UNSAFE)
        if len(unsafe):
            docs = np.unique(np.searchsorted(offsets, unsafe, "right") - 1)
            cps, offsets = _reference_decode_utf8(_reference_python_nfkc(arr, docs))
            mapped = single[np.minimum(cps, _REF_TABLE_SIZE - 1)]
            mapped[cps >= _REF_TABLE_SIZE] = cps[cps >= _REF_TABLE_SIZE]
            mapped[mapped == _REF_UNSAFE] = cps[mapped == _REF_UNSAFE]
        if (mapped == _REF_EXPAND).any():
            mapped, offsets = _reference_expand(cps, mapped, offsets, table)
    if cfg.fold_whitespace:
        mapped, offsets = _reference_collapse_spaces(mapped, offsets)
    return mapped, offsets


def _reference_digests(cps, offsets):
    raw = memoryview(cps.astype("<u4", copy=False).tobytes())
    bounds = (offsets * 4).tolist()
    out = np.empty((len(offsets) - 1, 2), np.uint64)
    values = [xxhash.xxh3_128_intdigest(raw[a:b]) for a, b in itertools.pairwise(bounds)]
    mask = (1 << 64) - 1
    out[:, 0] = [v >> 64 for v in values]
    out[:, 1] = [v & mask for v in values]
    return out


def _reference_fmix64(x):
    x = x ^ (x >> np.uint64(33))
    x = x * np.uint64(0xFF51AFD7ED558CCD)
    x ^= x >> np.uint64(33)
    x *= np.uint64(0xC4CEB9FE1A85EC53)
    x ^= x >> np.uint64(33)
    return x


def _reference_fmix32(x):
    x = x ^ (x >> np.uint32(16))
    x = x * np.uint32(0x85EBCA6B)
    x ^= x >> np.uint32(13)
    x *= np.uint32(0xC2B2AE35)
    x ^= x >> np.uint32(16)
    return x


def _reference_powers(n):
    fwd = np.full(max(n, 1), _REF_M, dtype=np.uint64)
    fwd[0] = 1
    inv = np.full(max(n, 1), _REF_M_INV, dtype=np.uint64)
    inv[0] = 1
    np.multiply.accumulate(fwd, out=fwd)
    np.multiply.accumulate(inv, out=inv)
    return fwd, inv


def _reference_run_hashes(cps, starts, ends):
    if len(starts) == 0:
        return np.zeros(0, np.uint64)
    fwd, inv = _reference_powers(len(cps) + 1)
    with np.errstate(over="ignore"):
        terms = (cps.astype(np.uint64) + np.uint64(1)) * fwd[: len(cps)]
        prefix = np.zeros(len(cps) + 1, np.uint64)
        np.cumsum(terms, out=prefix[1:])
        poly = (prefix[ends] - prefix[starts]) * inv[starts]
        lengths = (ends - starts).astype(np.uint64)
        return _reference_fmix64(poly ^ (lengths * _REF_K))


def _reference_classes(cps):
    table = char_classes()
    cls = np.full(len(cps), 1, dtype=np.uint8)
    bmp = cps < 0x10000
    cls[bmp] = table[cps[bmp]]
    cls[(cps >= 0x20000) & (cps < 0x40000)] = 2
    return cls


def _reference_tokenize(cps, offsets):
    n = len(cps)
    if n == 0:
        empty = np.zeros(0, np.int64)
        return empty, empty, np.zeros(len(offsets), np.int64)
    cls = _reference_classes(cps)
    is_tok = cls != 0
    boundary = np.zeros(n + 1, bool)
    boundary[offsets] = True
    prev = np.empty(n, np.uint8)
    prev[0] = 0
    prev[1:] = cls[:-1]
    start_mask = is_tok & ((prev != cls) | (cls == 2) | boundary[:n])
    starts = np.flatnonzero(start_mask)
    breaks = np.flatnonzero(np.concatenate([start_mask | ~is_tok, [True]]) | boundary)
    ends = breaks[np.searchsorted(breaks, starts, side="right")]
    token_offsets = np.searchsorted(starts, offsets)
    return starts.astype(np.int64), ends.astype(np.int64), token_offsets.astype(np.int64)


def _reference_ngram_hashes(items, offsets, n):
    """As before, except that a batch of fewer than ``n - 1`` items no longer raises.

    The old ``nxt[: total - j] = items[j:]`` failed with a broadcast error when
    ``total < j < 2 * total`` (e.g. one two-token document and ``n = 4``); every other input
    gave the values reproduced here.
    """
    total = len(items)
    counts = np.diff(offsets)
    doc_end = np.repeat(offsets[1:], counts)
    starts = np.arange(total, dtype=np.int64)
    doc_start = np.repeat(offsets[:-1], counts)
    short = np.repeat(counts < n, counts)
    valid = (starts + n <= doc_end) | (short & (starts == doc_start))
    acc = items.astype(np.uint64, copy=True)
    with np.errstate(over="ignore"):
        for j in range(1, n):
            nxt = np.zeros(total, np.uint64)
            nxt[: max(total - j, 0)] = items[j:]  # the one fix: see the docstring
            inside = starts + j < doc_end
            acc = np.where(inside, acc * _REF_SHINGLE_M + nxt, acc)
    sel = np.flatnonzero(valid)
    hashes = _reference_fmix64(acc[sel])
    folded = ((hashes >> np.uint64(32)) ^ (hashes & np.uint64(0xFFFFFFFF))).astype(np.uint32)
    doc_of_item = np.repeat(np.arange(len(counts)), counts)
    per_doc = np.bincount(doc_of_item[sel], minlength=len(counts))
    new_offsets = np.zeros(len(offsets), np.int64)
    np.cumsum(per_doc, out=new_offsets[1:])
    return folded, new_offsets


def _reference_shingle_batch(cps, offsets, kind, n):
    if kind == "word":
        starts, ends, tok_offsets = _reference_tokenize(cps, offsets)
        return _reference_ngram_hashes(_reference_run_hashes(cps, starts, ends), tok_offsets, n)
    return _reference_ngram_hashes(cps.astype(np.uint64), offsets, n)


def _reference_signatures(hashes, offsets, num_perm, seed):
    a, b = permutations(num_perm, seed)
    n_docs = len(offsets) - 1
    out = np.full((num_perm, n_docs), EMPTY, dtype=np.uint32)
    counts = np.diff(offsets)
    docs = np.flatnonzero(counts > 0)
    if len(docs) == 0:
        return np.ascontiguousarray(out.T)
    mixed = _reference_fmix32(hashes.astype(np.uint32, copy=False))
    starts = offsets[docs]
    cuts = np.unique(np.searchsorted(starts, np.arange(0, len(mixed), _REF_BLOCK), "left"))
    cuts = np.append(cuts[cuts < len(docs)], len(docs))
    buf = np.empty(num_perm * max(_REF_BLOCK, int(counts.max())) * 2, np.uint32)
    for c0, c1 in itertools.pairwise(cuts):
        s0 = int(starts[c0])
        s1 = int(offsets[docs[c1 - 1] + 1])
        width = s1 - s0
        if num_perm * width > len(buf):
            buf = np.empty(num_perm * width, np.uint32)
        t = buf[: num_perm * width].reshape(num_perm, width)
        np.multiply(a[:, None], mixed[None, s0:s1], out=t)
        np.add(t, b[:, None], out=t)
        out[:, docs[c0:c1]] = np.minimum.reduceat(t, starts[c0:c1] - s0, axis=1)
    return np.ascontiguousarray(out.T)


# --- helpers ---------------------------------------------------------------------------------

_CONFIGS = (
    NormalizeConfig(),
    NormalizeConfig(nfkc=False, lowercase=False, fold_punctuation=False, fold_whitespace=False),
    NormalizeConfig(nfkc=False, lowercase=False, fold_punctuation=False),
    NormalizeConfig(nfkc=False),
    NormalizeConfig(fold_whitespace=False),
)


def _same(a, b) -> None:
    """Equal dtype, shape and bytes (bit-identical, not merely equal values)."""
    a, b = np.asarray(a), np.asarray(b)
    assert a.dtype == b.dtype, (a.dtype, b.dtype)
    assert a.shape == b.shape, (a.shape, b.shape)
    assert a.tobytes() == b.tobytes()


@contextlib.contextmanager
def _knobs(group: int | None, block: int | None):
    """Shrink the group and block sizes (and the expansion loop limit) so that small random
    batches take the multi-group, multi-block and vectorised-expansion paths too."""
    saved = (
        normalize_module._GROUP,
        shingle_module._GROUP,
        minhash_module._BLOCK,
        normalize_module._LOOP_EXPANSIONS,
    )
    try:
        if group is not None:
            normalize_module._GROUP = shingle_module._GROUP = group
            normalize_module._LOOP_EXPANSIONS = 0
        if block is not None:
            minhash_module._BLOCK = block
        yield
    finally:
        (
            normalize_module._GROUP,
            shingle_module._GROUP,
            minhash_module._BLOCK,
            normalize_module._LOOP_EXPANSIONS,
        ) = saved


_groups = st.sampled_from([None, 1, 4, 64])
_blocks = st.sampled_from([None, 1, 5, 100])


def _pipeline(arr, cfg, kind, n, num_perm, seed):
    cps, offsets = canonical_codepoints(arr, cfg)
    dig = digests(cps, offsets)
    sh = shingle_batch(cps, offsets, kind, n)
    sig = signatures(sh.hashes, sh.offsets, num_perm, seed)
    return cps, offsets, dig, sh.hashes, sh.offsets, sig


# --- a fixed corpus and the lookup tables ---------------------------------------------------


@pytest.fixture(scope="module")
def corpus_text():
    return make_corpus(300, seed=4).column("text").combine_chunks()


def test_fixed_corpus_in_slices_equals_whole_batch(corpus_text):
    cfg = _CONFIGS[0]
    whole = _pipeline(corpus_text, cfg, "word", 3, 128, 1)
    parts = [
        _pipeline(corpus_text.slice(i, 37), cfg, "word", 3, 128, 1)
        for i in range(0, len(corpus_text), 37)
    ]
    _same(np.concatenate([p[2] for p in parts]), whole[2])
    _same(np.concatenate([p[5] for p in parts]), whole[5])


def test_lookup_tables_match_the_per_character_loop():
    """The table build skips characters that every step leaves alone; the result must equal
    running the whole chain on every code point, for each configuration that uses a table."""
    _same(char_classes(), _reference_char_classes())
    for cfg in (_CONFIGS[0], *_CONFIGS[2:]):
        flags = (cfg.nfkc, cfg.lowercase, cfg.fold_punctuation, cfg.fold_whitespace)
        for got, want in zip(char_table(*flags), _reference_char_table(*flags)):
            _same(got, want)


# --- random inputs against the reference -----------------------------------------------------

# fmt: off
_PIECES = [
    " ", "  ", "\t", "\n", "\r\n", "\u00a0", "\u3000", "\u2028", "\x00", "\x85", "\u200b",
    "\ufeff", "\u00ad", "e\u0301", "\u0301", "\u1100\u1161\u11a8", "\ud55c\uad6d",
    "\u65e5\u672c\u8a9e", "\u3072\u3089\u304c\u306a", "\u0e20\u0e32\u0e29\u0e32\u0e44\u0e17\u0e22",
    "\U0001f600", "\U0001f44d\U0001f3fd", "\U0001f1eb\U0001f1f7", "\U00020000\U0002a6d6",
    "\U00030000", "\U000e0041", "\U000f0000", "\U0010ffff", "\ufb01", "\u2026", "\u216b", "\u0130",
    "\u1e9e", "\u03a3\u0391\u03a3", "\u2014", "\u2212", "\u201c", "\u2019", "'", "-",
    "\uff21\uff42", "\u00bd", "\u33a1", "Hello", "WORLD", "x" * 300, "\u00e9" * 120, "\u4e00" * 50,
    "0123",
]
# fmt: on
_texts = st.lists(
    st.one_of(st.text(st.characters(codec="utf-8"), max_size=12), st.sampled_from(_PIECES)),
    max_size=25,
).map("".join)
_docs = st.lists(
    st.one_of(
        _texts, st.just(""), st.sampled_from([" ", " \t\n  ", "\u3000\u00a0", "\u200b"]), st.none()
    ),
    max_size=14,
)


@st.composite
def _arrays(draw):
    texts = draw(_docs)
    typ = draw(st.sampled_from([pa.string(), pa.large_string()]))
    lead = draw(st.lists(_texts, max_size=2))
    tail = draw(st.lists(_texts, max_size=2))
    arr = pa.array(lead + texts + tail, typ)
    return arr.slice(len(lead), len(texts))


@settings(max_examples=300, deadline=None)
@given(_arrays(), st.integers(0, len(_CONFIGS) - 1), _groups)
def test_canonical_codepoints_and_digests_match_reference(arr, ci, group):
    cfg = _CONFIGS[ci]
    with _knobs(group, None):
        cps, offsets = canonical_codepoints(arr, cfg)
    ref_cps, ref_offsets = _reference_canonical_codepoints(arr, cfg)
    _same(cps, ref_cps)
    _same(offsets, ref_offsets)
    _same(digests(cps, offsets), _reference_digests(ref_cps, ref_offsets))


@settings(max_examples=300, deadline=None)
@given(_arrays())
def test_decode_matches_reference(arr):
    cps, offsets = decode_utf8(arr)
    ref_cps, ref_offsets = _reference_decode_utf8(arr)
    _same(cps, ref_cps)
    _same(offsets, ref_offsets)


@settings(max_examples=300, deadline=None)
@given(
    _arrays(),
    st.integers(0, len(_CONFIGS) - 1),
    st.sampled_from(["word", "char"]),
    st.integers(1, 5),
    st.sampled_from([1, 3, 16, 128]),
    st.integers(0, 2**32 - 1),
    _groups,
    _blocks,
)
def test_shingles_and_signatures_match_reference(arr, ci, kind, n, num_perm, seed, group, block):
    cps, offsets = _reference_canonical_codepoints(arr, _CONFIGS[ci])
    with _knobs(group, block):
        sh = shingle_batch(cps, offsets, kind, n)
        sig = signatures(sh.hashes, sh.offsets, num_perm, seed)
    ref_hashes, ref_offsets = _reference_shingle_batch(cps, offsets, kind, n)
    _same(sh.hashes, ref_hashes)
    _same(sh.offsets, ref_offsets)
    _same(sig, _reference_signatures(ref_hashes, ref_offsets, num_perm, seed))
    assert sig.flags.c_contiguous


_raw_cps = st.lists(
    st.one_of(
        st.integers(0, 0x7F),
        st.integers(0, 0x10FFFF),
        st.integers(0, 2**32 - 1),
        st.sampled_from(
            [0x20, 0x41, 0x4E00, 0x0E01, 0x0301, 0xD800, 0x20000, 0x3FFFF, 0x40000, 0xFFFF, 0x10000]
        ),
    ),
    max_size=80,
)


def _offsets(size: int, cuts: list[int], whole: bool) -> np.ndarray:
    """Sorted document offsets into ``size`` items; with ``whole`` False they need not start at
    0 nor end at ``size`` (the items outside belong to no document)."""
    inner = sorted(min(c, size) for c in cuts)
    if whole or not inner:
        inner = [0, *inner, size]
    return np.array(inner, np.int64)


@settings(max_examples=300, deadline=None)
@given(_raw_cps, st.lists(st.integers(0, 80), max_size=8), st.booleans())
def test_tokenize_matches_reference_on_raw_code_points(values, cuts, whole):
    cps = np.array(values, np.uint32)
    offsets = _offsets(len(cps), cuts, whole)
    got = tokenize(cps, offsets)
    ref = _reference_tokenize(cps, offsets)
    for g, r in zip(got, ref):
        _same(g, r)
    _same(run_hashes(cps, got[0], got[1]), _reference_run_hashes(cps, ref[0], ref[1]))


@settings(max_examples=300, deadline=None)
@given(_raw_cps, st.lists(st.tuples(st.integers(0, 80), st.integers(0, 80)), max_size=20))
def test_run_hashes_match_reference_on_any_runs(values, pairs):
    cps = np.array(values, np.uint32)
    runs = [(min(a, b, len(cps)), min(max(a, b), len(cps))) for a, b in pairs]
    starts = np.array([r[0] for r in runs], np.int64)
    ends = np.array([r[1] for r in runs], np.int64)
    _same(run_hashes(cps, starts, ends), _reference_run_hashes(cps, starts, ends))


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.integers(0, 2**64 - 1), max_size=60),
    st.lists(st.integers(0, 60), max_size=8),
    st.integers(1, 6),
    st.booleans(),
)
def test_ngram_hashes_match_reference(values, cuts, n, whole):
    items = np.array(values, np.uint64)
    offsets = _offsets(len(items), cuts, whole)
    sh = ngram_hashes(items, offsets, n)
    # the old code needed offsets spanning all items; items outside the documents are unused
    first, last = int(offsets[0]), int(offsets[-1])
    ref_hashes, ref_offsets = _reference_ngram_hashes(items[first:last], offsets - first, n)
    _same(sh.hashes, ref_hashes)
    _same(sh.offsets, ref_offsets)


def test_long_documents_and_blocks_match_reference():
    rng = np.random.default_rng(5)
    words = np.array(["a", "b", "Be", "g\u00e9", "\u65e5\u672c", "x" * 300, "d\u0301"])
    texts = [
        " ".join(rng.choice(words, 17_000)),  # one document wider than a signature block
        "",
        " ".join(rng.choice(words, 10)),
        "\u3000 \t",
        "y" * 20_000,  # one very long token
        "\u2026" * 300 + "a\u200bb \u00ad " * 300 + "\ufdfa \ufb01" * 50,  # many expansions
        *(" ".join(rng.choice(words, int(k))) for k in rng.integers(1, 600, 40)),
    ]
    arr = pa.array(texts, pa.string())
    for cfg in (_CONFIGS[0], _CONFIGS[3]):
        cps, offsets = canonical_codepoints(arr, cfg)
        ref_cps, ref_offsets = _reference_canonical_codepoints(arr, cfg)
        _same(cps, ref_cps)
        _same(offsets, ref_offsets)
        for kind, n in (("word", 3), ("char", 4)):
            sh = shingle_batch(cps, offsets, kind, n)
            ref_hashes, ref_offsets_sh = _reference_shingle_batch(cps, offsets, kind, n)
            _same(sh.hashes, ref_hashes)
            _same(sh.offsets, ref_offsets_sh)
            for num_perm in (1, 128):
                _same(
                    signatures(sh.hashes, sh.offsets, num_perm, 1),
                    _reference_signatures(ref_hashes, ref_offsets_sh, num_perm, 1),
                )


def test_empty_batches_match_reference():
    for arr in (pa.array([], pa.string()), pa.array([None, ""], pa.string())):
        cps, offsets = canonical_codepoints(arr, _CONFIGS[0])
        ref = _reference_canonical_codepoints(arr, _CONFIGS[0])
        _same(cps, ref[0])
        _same(offsets, ref[1])
        sh = shingle_batch(cps, offsets, "word", 3)
        ref_sh = _reference_shingle_batch(cps, offsets, "word", 3)
        _same(sh.hashes, ref_sh[0])
        _same(sh.offsets, ref_sh[1])
        _same(
            signatures(sh.hashes, sh.offsets, 8, 1),
            _reference_signatures(ref_sh[0], ref_sh[1], 8, 1),
        )


def test_run_hashes_rejects_runs_outside_the_array():
    cps = np.arange(5, dtype=np.uint32)
    for starts, ends in (([0], [6]), ([-1], [2]), ([3], [2])):
        with pytest.raises(ValueError):
            run_hashes(cps, np.array(starts, np.int64), np.array(ends, np.int64))
