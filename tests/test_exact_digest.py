"""Exact digests cover the whole text, also past the hashing prefix (--max-doc-bytes)."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq
from hypothesis import given, settings
from hypothesis import strategies as st

import dedupe
from dedupe.config import NormalizeConfig
from dedupe.near.exact import digests, long_text_digest
from dedupe.text.normalize import canonical_codepoints

# spaces of several kinds, combining marks, Hangul jamo and syllables, ligatures, dashes,
# quotes, zero-width characters, ideographs and a half-width voiced mark that composes
_ALPHABET = list("ab Z  \n\t\u00a0\u3000x\u0301\u0308e\u1100\u1161\u11a8\uac00\ufb01\u2014"
                 "\u201c\u00ad\u4e00\u200b\uff9e\u30ab\u00b4.,")


_CONFIGS = [NormalizeConfig(), NormalizeConfig(fold_whitespace=False),
            NormalizeConfig(nfkc=False, lowercase=False)]


@settings(max_examples=500, deadline=None)
@given(st.lists(st.sampled_from(_ALPHABET), max_size=80).map("".join), st.integers(2, 16),
       st.sampled_from(_CONFIGS))
def test_piecewise_digest_equals_the_whole_text_digest(text, piece, cfg):
    cps, offsets = canonical_codepoints(pa.array([text]), cfg)
    digest, length = long_text_digest(text, cfg, piece)
    assert length == offsets[1] - offsets[0]
    assert digest.tolist() == digests(cps, offsets)[0].tolist()


def _run(tmp_path, texts, name):
    pq.write_table(pa.table({"text": texts}), tmp_path / f"{name}.parquet")
    dedupe.run([tmp_path / f"{name}.parquet"], tmp_path / f"out-{name}", max_doc_bytes=2000,
               engine__name="serial", spans=False, boilerplate=False)
    m = pq.read_table(tmp_path / f"out-{name}" / "manifest.parquet")
    return m["action"].to_pylist(), m["reason"].to_pylist()


def test_shared_prefix_is_not_an_exact_duplicate(tmp_path):
    words = " ".join(f"word{i}" for i in range(1000))  # about 9 KB, past the 2,000-byte prefix
    a = words + " and this page ends one way"
    b = words + " but that page ends another"
    actions, reasons = _run(tmp_path, [a, b], "prefix")
    assert actions[1] != "exact_duplicate", reasons[1]
    # texts equal after normalisation past the prefix still are exact duplicates
    c = words.upper().replace(" ", "  \n") + " AND THIS PAGE ENDS ONE WAY"
    actions, reasons = _run(tmp_path, [a, c], "same")
    assert actions == ["kept", "exact_duplicate"], reasons
