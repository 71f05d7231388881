"""Running text for generated pages: paragraphs, headlines and short passages in other scripts.

Text is drawn as integer token codes with numpy, a whole chunk of documents at a time, and only the
final join touches Python strings.
"""

from __future__ import annotations

import numpy as np

from . import words

_INNER_P = np.cumsum([0.92, 0.06, 0.01, 0.005, 0.005])  # none , " -" ; :
_INNER_CODE = np.array([0, 2, 7, 6, 5])  # indexes into words.SUFFIXES
_END_P = np.cumsum([0.88, 0.06, 0.03, 0.03])  # . ? ! ...
_END_CODE = np.array([1, 3, 4, 9])
_TOKEN_BYTES = 6.0  # mean token length plus its space, measured; sizes the token draw


def _word_ids(rng: np.random.Generator, topics: np.ndarray, n_tok: np.ndarray) -> np.ndarray:
    """Vocabulary ids: 64% common words, 31% the document's topic words, 5% numbers, dates and
    names."""
    v, total = words.vocab(), int(n_tok.sum())
    doc = np.repeat(np.arange(len(n_tok)), n_tok)
    u, wid = rng.random(total), np.empty(total, dtype=np.int64)
    is_common, is_topic = u < 0.64, (u >= 0.64) & (u < 0.95)
    is_special = ~(is_common | is_topic)
    wid[is_common] = np.searchsorted(v.common_cdf, rng.random(int(is_common.sum())))
    wid[is_topic] = (
        v.topic_base
        + topics[doc[is_topic]] * 30
        + np.searchsorted(v.topic_cdf, rng.random(int(is_topic.sum())))
    )
    wid[is_special] = v.special_base + rng.integers(0, v.n_special, int(is_special.sum()))
    return wid


def _token_codes(rng: np.random.Generator, topics: np.ndarray, n_tok: np.ndarray):
    """Token form codes for a run of documents, with sentence starts and ends, and quote counts.

    One stream for all documents (see :func:`_word_ids`); sentences of 6-24 tokens, 8% of them
    with a quotation running to their end.
    """
    wid = _word_ids(rng, topics, n_tok)
    total = len(wid)
    is_end = np.zeros(total, dtype=bool)
    ends = np.cumsum(rng.integers(6, 25, total // 6 + 2)) - 1
    is_end[ends[ends < total]] = True
    is_end[np.cumsum(n_tok) - 1] = True
    end_idx = np.flatnonzero(is_end)
    start_idx = np.concatenate(([0], end_idx[:-1] + 1))
    cap = np.zeros(total, dtype=np.int64)
    cap[start_idx] = 1
    suffix = _INNER_CODE[np.searchsorted(_INNER_P, rng.random(total) * 0.999999)]
    suffix[end_idx] = _END_CODE[np.searchsorted(_END_P, rng.random(len(end_idx)) * 0.999999)]
    prefix, length = np.zeros(total, dtype=np.int64), end_idx - start_idx + 1
    quoted = (rng.random(len(end_idx)) < 0.08) & (length >= 5)
    qs, ql = start_idx[quoted], length[quoted]
    open_at = qs + 1 + (rng.random(len(qs)) * (ql - 3)).astype(np.int64)
    prefix[open_at], suffix[open_at - 1], suffix[end_idx[quoted]] = 1, 2, 8
    code = ((wid * 2 + prefix) * 2 + cap) * len(words.SUFFIXES) + suffix
    return code, suffix, start_idx, end_idx, np.concatenate(([0], np.cumsum(prefix)))


def paragraphs(rng: np.random.Generator, topics: np.ndarray, goals: np.ndarray) -> list[list[str]]:
    """Paragraph lists, one per document, each close to ``goals[d]`` bytes of ASCII text.

    Each document ends at the sentence end nearest its byte goal; where whole sentences are too
    coarse for that (short goals) it ends mid-sentence with a full stop, closing any quotation.
    """
    n_tok = (goals / _TOKEN_BYTES * 1.3 + 40).astype(np.int64)  # 30% spare, so no page runs dry
    code, suffix, start_idx, end_idx, opened = _token_codes(rng, topics, n_tok)
    stops = np.cumsum(n_tok)
    starts = stops - n_tok
    size = words.vocab().form_len[code] + 1
    cum = np.cumsum(size)
    goal = cum[starts] - size[starts] + goals
    j = np.minimum(np.searchsorted(cum[end_idx], goal), len(end_idx) - 1)
    hi = np.minimum(end_idx[j], stops - 1)
    lo = end_idx[np.maximum(j - 1, 0)]
    cut = np.where((lo >= starts) & (np.abs(cum[lo] - goal) < np.abs(cum[hi] - goal)), lo, hi)
    loose = np.flatnonzero(np.abs(cum[cut] - goal) > 0.04 * goals + 20)
    tok = np.minimum(np.searchsorted(cum, goal[loose]), stops[loose] - 1)
    in_quote = opened[tok + 1] > opened[start_idx[np.searchsorted(end_idx, tok)]]
    code[tok] += np.where(in_quote, 8, 1) - suffix[tok]
    cut[loose] = tok
    group_end = np.cumsum(rng.integers(2, 6, len(end_idx))) - 1  # 2-5 sentences a paragraph
    para_end = end_idx[group_end[group_end < len(end_idx)]]
    first, last = np.searchsorted(para_end, starts), np.searchsorted(para_end, cut)
    toks, pe = words.vocab().forms[code].tolist(), para_end.tolist()
    out = []
    for s, c, a, b in zip(
        starts.tolist(), cut.tolist(), first.tolist(), last.tolist(), strict=True
    ):
        paras = []
        for e in [*pe[a:b], c]:
            paras.append(" ".join(toks[s : e + 1]))
            s = e + 1
        out.append(paras)
    return out


def titles(rng: np.random.Generator, topics: np.ndarray, patterns: tuple[str, ...]) -> list[str]:
    """Headlines (or search-query titles) built from the given topics' words."""
    v, k = words.vocab(), len(topics)
    pat, tw = rng.integers(0, len(patterns), k).tolist(), rng.integers(0, 30, (k, 2)).tolist()
    place = rng.integers(0, len(words.PLACES), k).tolist()
    first, last = rng.integers(0, 40, (2, k)).tolist()
    num, year = rng.integers(3, 15, k).tolist(), rng.integers(2015, 2025, k).tolist()
    out = []
    for i, t in enumerate(topics.tolist()):
        a, b = v.topics[t][tw[i][0]], v.topics[t][tw[i][1]]
        s = patterns[pat[i]].format(
            t=a,
            u=b,
            T=words.cap(a),
            U=words.cap(b),
            p=words.PLACES[place[i]],
            P=words.PLACES[place[i]],
            n=num[i],
            N=f"{words.FIRST_NAMES[first[i]]} {words.LAST_NAMES[last[i]]}",
            y=year[i],
        )
        out.append(words.cap(s))
    return out


def _foreign_sentence(rng: np.random.Generator, kind: int) -> str:
    """One sentence of Chinese (0), Japanese (1), Thai (2), or English with accented words (3)."""
    n = int(rng.integers(8, 20))
    if kind == 0:
        s = "".join(words.HANZI[i] for i in rng.integers(0, len(words.HANZI), n))
        return s[: n // 2] + "\uff0c" + s[n // 2 :] + "\u3002"
    if kind == 1:
        pool = words.HIRAGANA * 2 + words.KANJI_JA
        s = "".join(pool[i] for i in rng.integers(0, len(pool), n))
        return s[: n // 2] + "\u3001" + s[n // 2 :] + "\u3002"
    if kind == 2:
        c, vw = rng.integers(0, len(words.THAI_CONSONANTS), (2, n))
        pairs = zip(c, vw, strict=True)
        return "".join(words.THAI_CONSONANTS[a] + words.THAI_VOWELS[b % 8] for a, b in pairs) + " "
    acc = [words.ACCENTED[i] for i in rng.integers(0, len(words.ACCENTED), n)]
    com = [words.vocab().common[i] for i in rng.integers(0, 120, n)]
    mix = [a if r < 0.35 else c for a, c, r in zip(acc, com, rng.random(n), strict=True)]
    return words.cap(" ".join(mix)) + ". "


def foreign(rng: np.random.Generator, kind: int, budget: int) -> str:
    """About ``budget`` bytes of Chinese, Japanese, Thai, or English with accented words."""
    out: list[str] = []
    while sum(len(s.encode()) for s in out) < budget:
        out.append(_foreign_sentence(rng, kind))
    return "".join(out).strip()
