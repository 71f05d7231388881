"""Synthetic web corpus with planted near-duplicate truth.

Dedup quality can only be measured against known answers, and real crawls come without them. This
module writes English-looking web pages (site header and footer, a title, paragraphs with quotes,
numbers, dates and names, now and then a repeated "related articles" list or a paragraph in another
script) and plants copies of some of them through the edits that real crawls show: exact mirrors,
formatting noise, word edits, a different site template, truncation and light paraphrase. The
``cluster`` column records which rows are one family, so precision and recall can be computed.

Text is drawn as integer token codes with numpy, a whole chunk of documents at a time, and only the
final join touches Python strings; 100,000 pages take seconds, not minutes.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, replace

import numpy as np
import pyarrow as pa

from dedupe import synth_words as words

__all__ = ["SCHEMA", "VARIANTS", "interleave", "make_corpus", "make_title_list_pages"]

VARIANTS = (
    "original",
    "exact_copy",
    "format_variant",
    "word_edits",
    "header_footer",
    "truncated",
    "paraphrase_light",
)
SCHEMA = pa.schema(
    [
        ("id", pa.string()),
        ("url", pa.string()),
        ("title", pa.string()),
        ("text", pa.string()),
        ("site", pa.string()),
        ("cluster", pa.int64()),
        ("variant", pa.string()),
        ("quality", pa.float64()),
    ]
)

_COPY_P = np.array([0.15, 0.20, 0.20, 0.15, 0.15, 0.15])  # over VARIANTS[1:]
_FAMILY_P = (0.55, 0.25, 0.12, 0.08)  # 1..4 copies per family, mean 1.73
_INNER_P = np.cumsum([0.92, 0.06, 0.01, 0.005, 0.005])  # none , " -" ; :
_INNER_CODE = np.array([0, 2, 7, 6, 5])  # indexes into synth_words.SUFFIXES
_END_P = np.cumsum([0.88, 0.06, 0.03, 0.03])  # . ? ! ...
_END_CODE = np.array([1, 3, 4, 9])
_TOKEN_BYTES = 6.0  # mean token length plus its space, measured; sizes the token draw
_CHUNK = 2048  # documents per vectorised batch: bounds memory, and fixes the random stream
_PARA_REPEAT = (0.08, 0.15)  # byte share held back for a repeated paragraph, and its cap
_SENTENCE = re.compile(r'(?<=[.!?"]) (?=[A-Z0-9"])')
_INNER_HYPHEN = re.compile(r"(?<=[a-z])-(?=[a-z])")
_YEAR = re.compile(r"\b(?:19|20)\d\d\b")
_WIDE_DIGITS = str.maketrans("0123456789", "".join(chr(0xFF10 + d) for d in range(10)))


def _token_codes(rng: np.random.Generator, topics: np.ndarray, n_tok: np.ndarray):
    """Token form codes for a run of documents, with sentence starts and ends, and quote counts.

    One stream for all documents: 64% common words, 31% the document's topic words, 5% numbers,
    dates and names; sentences of 6-24 tokens, 8% of them with a quotation running to their end.
    """
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


def _paragraphs(rng: np.random.Generator, topics: np.ndarray, goals: np.ndarray) -> list[list[str]]:
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


def _titles(rng: np.random.Generator, topics: np.ndarray, patterns: tuple[str, ...]) -> list[str]:
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


def _foreign(rng: np.random.Generator, kind: int, budget: int) -> str:
    """About ``budget`` bytes of Chinese, Japanese, Thai, or English with accented words."""
    out: list[str] = []
    while sum(len(s.encode()) for s in out) < budget:
        n = int(rng.integers(8, 20))
        if kind == 0:
            s = "".join(words.HANZI[i] for i in rng.integers(0, len(words.HANZI), n))
            out.append(s[: n // 2] + "\uff0c" + s[n // 2 :] + "\u3002")
        elif kind == 1:
            pool = words.HIRAGANA * 2 + words.KANJI_JA
            s = "".join(pool[i] for i in rng.integers(0, len(pool), n))
            out.append(s[: n // 2] + "\u3001" + s[n // 2 :] + "\u3002")
        elif kind == 2:
            c, vw = rng.integers(0, len(words.THAI_CONSONANTS), (2, n))
            out.append(
                "".join(
                    words.THAI_CONSONANTS[a] + words.THAI_VOWELS[b % 8]
                    for a, b in zip(c, vw, strict=True)
                )
                + " "
            )
        else:
            acc = [words.ACCENTED[i] for i in rng.integers(0, len(words.ACCENTED), n)]
            com = [words.vocab().common[i] for i in rng.integers(0, 120, n)]
            mix = [a if r < 0.35 else c for a, c, r in zip(acc, com, rng.random(n), strict=True)]
            out.append(words.cap(" ".join(mix)) + ". ")
    return "".join(out).strip()


def _retouch(rng: np.random.Generator, text: str, n_words: int, topic: int) -> str:
    """``text`` with about ``n_words`` words replaced, inserted or deleted at random places."""
    toks = text.split(" ")
    m = min(len(toks), n_words)
    pos = np.sort(rng.choice(len(toks), m, replace=False))[::-1].tolist()
    ops = rng.integers(0, 3, m).tolist()
    v = words.vocab()
    pool = [v.common[i] for i in rng.integers(0, 150, m)]
    pool = [
        w if r < 0.6 else v.topics[topic][i]
        for w, r, i in zip(pool, rng.random(m), rng.integers(0, 30, m), strict=True)
    ]
    for p, op, w in zip(pos, ops, pool, strict=True):
        t = toks[p]
        if "\n" in t or not t.isascii() or not t:
            continue
        core = t.strip('.,;:?!"')
        if op == 1:
            toks.insert(p, w)
        elif op == 2 and core == t:
            del toks[p]
        else:
            toks[p] = t.replace(core, w, 1) if core else w
    return " ".join(toks)


def _edit_words(rng: np.random.Generator, body: str, rate: float, topic: int) -> str:
    """Edit ``rate`` of the words, give or take a fifth (a binomial count would let short pages
    escape with almost no edits and blur the similarity band the variant stands for)."""
    n_words = body.count(" ") + 1
    return _retouch(rng, body, round(n_words * rate * rng.uniform(0.8, 1.2)), topic)


def _reorder(rng: np.random.Generator, body: str) -> str:
    """Swap adjacent sentences in one to three paragraphs: a light paraphrase of the order."""
    paras = body.split("\n\n")
    multi = [i for i, p in enumerate(paras) if len(_SENTENCE.split(p)) > 1]
    for i in rng.permutation(multi)[: int(rng.integers(1, 4))].tolist():
        sents = _SENTENCE.split(paras[i])
        j = int(rng.integers(0, len(sents) - 1))
        sents[j], sents[j + 1] = sents[j + 1], sents[j]
        paras[i] = " ".join(sents)
    return "\n\n".join(paras)


def _reformat(rng: np.random.Generator, text: str) -> str:
    """Formatting noise that NFKC, casefold and quote/dash/space folding all undo."""
    ops = rng.random(7) < 0.5
    ops[rng.choice(7, 2, replace=False)] = True
    if ops[0]:  # curly quotes and apostrophes
        text = re.sub(r'"(?=\w)', "\u201c", text).replace('"', "\u201d").replace("'", "\u2019")
    if ops[1]:  # en/em dashes between clauses, non-breaking hyphens inside compounds
        text = text.replace(" - ", (" \u2014 ", " \u2013 ")[int(rng.integers(2))])
        text = _INNER_HYPHEN.sub("\u2011", text)
    if ops[2]:  # no-break and narrow no-break spaces
        parts, flags = text.split(" "), (rng.random(text.count(" ")) < 0.05).tolist()
        seps = ["\u00a0" if f else " " for f in flags]
        text = "".join(p + s for p, s in zip(parts, [*seps, ""], strict=True))
    if ops[3]:  # case changes: whole page, first lines, or one shouted paragraph
        mode, paras = int(rng.integers(3)), text.split("\n\n")
        if mode == 0:
            text = text.lower()
        else:
            i = 0 if mode == 1 else int(rng.integers(len(paras)))
            paras[i] = paras[i].upper()
            text = "\n\n".join(paras)
    if ops[4]:  # doubled spaces after sentences, then CRLF line ends or blank-ish lines
        line_end = (" \r\n", "\n \n")[int(rng.integers(2))]
        text = re.sub(r"([.?!]) ", r"\1  ", text).replace("\n", line_end)
    if ops[5]:  # typographic ellipsis, full-width digits in years
        text = _YEAR.sub(lambda m: m.group().translate(_WIDE_DIGITS), text.replace("...", "\u2026"))
    if ops[6]:
        text = unicodedata.normalize("NFD", text)
    return text


@dataclass(frozen=True)
class _Site:
    domain: str
    name: str
    nav: str
    cookie: str
    sections: tuple[str, ...]

    def wrap(self, body: str, year: int) -> str:
        """Header and footer lines that repeat on every page of the site (year aside)."""
        footer = f"Copyright {year} {self.name}. All rights reserved.\n{self.cookie}"
        return f"{self.name}\n{self.nav}\n\n{body}\n\n{footer}"


def _sites(rng: np.random.Generator, n_sites: int) -> list[_Site]:
    n_names = len(words.PLACES) * len(words.OUTLETS)
    order, out = rng.permutation(n_names).tolist(), []
    for k in range(n_sites):
        j = order[k % n_names]
        name = f"The {words.PLACES[j % len(words.PLACES)]} {words.OUTLETS[j // len(words.PLACES)]}"
        name += f" {k // n_names + 1}" if k >= n_names else ""
        picks = rng.choice(len(words.NAV_ITEMS) - 1, int(rng.integers(3, 6)), replace=False) + 1
        nav = ["Home", *(words.NAV_ITEMS[i] for i in picks.tolist())]
        sections = tuple(n.lower() for n in nav if n not in ("Home", "Contact", "About"))
        cookie = words.COOKIE_NOTICES[int(rng.integers(len(words.COOKIE_NOTICES)))]
        out.append(_Site(f"site{k}.example", name, " | ".join(nav), cookie, sections or ("news",)))
    return out


def _url(site: _Site, section: int, title: str, num: int) -> str:
    slug = "-".join(re.sub(r"[^a-z0-9]+", " ", title.lower()).split()[:6])
    return f"https://{site.domain}/{site.sections[section % len(site.sections)]}/{slug}-{num}"


def _repeat_paragraph(rng: np.random.Generator, paras: list[str], cap: int, topic: int) -> None:
    """Paste a paragraph again later on the page, sometimes cut short or with a word changed."""
    i = int(rng.integers(len(paras)))
    copy = paras[i]
    if rng.random() < 0.5 or len(copy) > cap:
        copy = copy[: int(min(cap, len(copy)) * rng.uniform(0.4, 0.95))].rsplit(" ", 1)[0]
    if rng.random() < 0.4:
        copy = _retouch(rng, copy, int(rng.integers(1, 3)), topic)
    paras.insert(int(rng.integers(i + 1, len(paras) + 1)), copy)


def _title_list(rng: np.random.Generator, n: int, query_style: bool) -> str:
    titles = _titles(
        rng,
        rng.integers(0, len(words.vocab().topics), n),
        words.QUERY_PATTERNS if query_style else words.TITLE_PATTERNS,
    )
    return ", ".join(titles) + ","


def _plan(
    rng: np.random.Generator, target: int, title: str, layout: int, foreign: int
) -> tuple[int, dict[str, str]]:
    """Byte goal left for the generated paragraphs, and the extra spans the page will carry."""
    goal, extra = target - len(title) - 2, {}
    if layout == 1:
        goal -= int(target * _PARA_REPEAT[0])
    elif layout >= 2:
        n_titles = max(3, int(target * (0.12 if layout == 2 else 0.1) / 35))
        extra["list"] = _title_list(rng, n_titles, layout == 3)
        goal -= (2 if layout == 2 else 3) * (len(extra["list"]) + 20)
    if foreign >= 0:
        extra["foreign"] = _foreign(rng, foreign, int(rng.integers(target // 8, target // 4)))
        goal -= len(extra["foreign"].encode()) + 2
    return max(goal, 120), extra


def _compose(
    rng: np.random.Generator,
    title: str,
    paras: list[str],
    extra: dict[str, str],
    layout: int,
    target: int,
    topic: int,
) -> str:
    """Body text: layout 0 plain, 1 a paragraph pasted again, 2 a related-articles list shown
    twice, 3 the seed-page shape (a query-title list twice on top, once at the end)."""
    if "foreign" in extra:
        paras.insert(int(rng.integers(len(paras) + 1)), extra["foreign"])
    if layout == 1:
        _repeat_paragraph(rng, paras, int(target * _PARA_REPEAT[1]), topic)
    body = "\n\n".join([title, *paras])
    if layout == 2:
        again = extra["list"]
        if rng.random() < 0.35:
            again = again.rsplit(", ", int(rng.integers(1, 3)))[0] + ","
        if rng.random() < 0.3:
            again = _retouch(rng, again, 1, topic)
        body = body.replace("\n\n", f"\n\nRelated articles: {extra['list']}\n\n", 1)
        body += f"\n\nRelated articles: {again}"
    elif layout == 3:
        lst = extra["list"]
        body = f'{lst} " /> {lst} " />\n\n{body}\n\n{lst}'
    return body


def _pages(
    rng: np.random.Generator, n: int, lo: int, hi: int, n_sites: int, layout: np.ndarray
) -> dict[str, list]:
    """Original pages without site template, made ``_CHUNK`` documents at a time."""
    cols: dict[str, list] = {"title": [], "body": [], "topic": [], "site": [], "section": []}
    for a in range(0, n, _CHUNK):
        m = min(_CHUNK, n - a)
        topics, targets = rng.integers(0, len(words.vocab().topics), m), rng.integers(lo, hi + 1, m)
        foreign = np.where(rng.random(m) < 0.01, rng.integers(0, 4, m), -1).tolist()
        titles = _titles(rng, topics, words.TITLE_PATTERNS)
        lay, tgt, top = layout[a : a + m].tolist(), targets.tolist(), topics.tolist()
        plans = [_plan(rng, tgt[i], titles[i], lay[i], foreign[i]) for i in range(m)]
        bodies = _paragraphs(rng, topics, np.array([g for g, _ in plans]))
        cols["body"] += [
            _compose(rng, titles[i], paras, plans[i][1], lay[i], tgt[i], top[i])
            for i, paras in enumerate(bodies)
        ]
        cols["title"] += titles
        cols["topic"] += topics.tolist()
        cols["site"] += rng.integers(0, n_sites, m).tolist()
        cols["section"] += rng.integers(0, 16, m).tolist()
    return cols


def _table(cols: dict[str, list], cluster: np.ndarray, perm: np.ndarray) -> pa.Table:
    """Rows in ``perm`` order, renumbered so that ``cluster`` is the row of the family original."""
    inv = np.empty_like(perm)
    inv[perm] = np.arange(len(perm))
    order = perm.tolist()
    data = {k: [cols[k][i] for i in order] for k in ("url", "title", "text", "site", "variant")}
    data["id"] = [f"doc-{r:06d}" for r in range(len(perm))]
    data["cluster"] = inv[np.asarray(cluster, dtype=np.int64)[perm]]
    data["quality"] = np.asarray(cols["quality"], dtype=np.float64)[perm]
    return pa.table(data, schema=SCHEMA)


def _families(rng: np.random.Generator, n_orig: int, n_dup: int) -> np.ndarray:
    """The parent original of every planted copy; families hold 1 to 4 copies."""
    if n_dup == 0:
        return np.zeros(0, dtype=np.int64)
    mean = sum((k + 1) * p for k, p in enumerate(_FAMILY_P))
    sizes = rng.choice(4, min(n_orig, max(1, round(n_dup / mean))), p=_FAMILY_P) + 1
    while (diff := n_dup - int(sizes.sum())) != 0:
        room = np.flatnonzero(sizes < 4 if diff > 0 else sizes > 1)
        sizes[rng.choice(room, min(abs(diff), len(room)), replace=False)] += np.sign(diff)
    return np.repeat(rng.choice(n_orig, len(sizes), replace=False), sizes)


def _copy_text(
    rng: np.random.Generator,
    variant: str,
    text: str,
    body: str,
    site: _Site | None,
    year: int,
    topic: int,
) -> str:
    """The page text of one planted copy; ``site`` is the template it is served with, if any."""
    if variant == "exact_copy":
        return text
    if variant == "format_variant":
        return _reformat(rng, text)
    if variant == "truncated":  # a fetch cut off at a whitespace some 6-14% before the end
        cut = int(len(text) * rng.uniform(0.86, 0.94))
        return text[: max(text.rfind(" ", 0, cut), text.rfind("\n", 0, cut))].rstrip()
    if variant == "word_edits":
        body = _edit_words(rng, body, 0.05, topic)
    elif variant == "paraphrase_light":
        body = _edit_words(rng, _reorder(rng, body), 0.03, topic)
    return site.wrap(body, year) if site else body


def make_corpus(
    n_docs: int,
    *,
    seed: int = 0,
    dup_fraction: float = 0.3,
    min_bytes: int = 1000,
    max_bytes: int = 3000,
    n_sites: int = 8,
    boilerplate: bool = True,
    repeats: bool = True,
) -> pa.Table:
    """A shuffled table of ``n_docs`` web pages (columns as :data:`SCHEMA`) with planted truth.

    ``round(dup_fraction * n_docs)`` rows are copies of originals (variants in :data:`VARIANTS`);
    every family shares one ``cluster`` id, the output row of its single ``original``, so a unique
    page's cluster is its own row number. Body sizes are uniform in ``[min_bytes, max_bytes]``
    (title and paragraphs, before the site template). Without ``boilerplate`` pages carry no site
    template and ``header_footer`` copies are not made; without ``repeats`` no page repeats a span
    of itself. The same arguments always give the same table.
    """
    if n_docs < 0 or n_sites < 1 or not 200 <= min_bytes <= max_bytes:
        raise ValueError(
            f"need n_docs >= 0, n_sites >= 1 and 200 <= min_bytes <= max_bytes; got "
            f"{n_docs=}, {n_sites=}, {min_bytes=}, {max_bytes=}"
        )
    n_dup = round(dup_fraction * n_docs)
    n_orig = n_docs - n_dup
    if not 0 <= dup_fraction < 1 or n_dup > 4 * n_orig:
        raise ValueError(
            f"dup_fraction must lie in [0, 0.8], as a family holds at most 4 copies of its "
            f"original; got {dup_fraction}"
        )
    rng = np.random.default_rng(seed)
    sites = _sites(rng, n_sites)
    layout = np.where(
        rng.random(n_orig) < (0.1 if repeats else 0.0),
        rng.choice([1, 2, 3], n_orig, p=[0.55, 0.3, 0.15]),
        0,
    )
    pages = _pages(rng, n_orig, min_bytes, max_bytes, n_sites, layout)
    years = rng.integers(2018, 2025, n_docs).tolist()
    parents = _families(rng, n_orig, n_dup)
    p = _COPY_P.copy()
    if not boilerplate or n_sites == 1:
        p[3] = 0.0
    kinds = rng.choice(np.arange(1, 7), n_dup, p=p / p.sum()).tolist()
    cols: dict[str, list] = {
        "url": [],
        "title": list(pages["title"]),
        "text": [],
        "site": [],
        "variant": ["original"] * n_orig,
    }
    for i in range(n_orig):
        site = sites[pages["site"][i]]
        body = pages["body"][i]
        cols["text"].append(site.wrap(body, years[i]) if boilerplate else body)
        cols["url"].append(_url(site, pages["section"][i], pages["title"][i], 1000 + i))
        cols["site"].append(site.domain)
    for c, (parent, kind) in enumerate(zip(parents.tolist(), kinds, strict=True)):
        row, variant, site_id = n_orig + c, VARIANTS[kind], pages["site"][parent]
        url = f"{cols['url'][parent]}?ref={row}"
        if variant == "header_footer":
            other = int(rng.integers(n_sites - 1))
            site_id = other + (other >= site_id)
        site = sites[site_id]
        text = _copy_text(
            rng,
            variant,
            cols["text"][parent],
            pages["body"][parent],
            site if boilerplate else None,
            years[row],
            pages["topic"][parent],
        )
        if variant in ("word_edits", "header_footer", "paraphrase_light"):
            url = _url(site, pages["section"][parent] + 1, pages["title"][parent], 1000 + row)
        cols["text"].append(text)
        cols["url"].append(url)
        cols["site"].append(site.domain)
        cols["title"].append(pages["title"][parent])
        cols["variant"].append(variant)
    cols["quality"] = rng.random(n_docs).tolist()
    cluster = np.concatenate([np.arange(n_orig), parents]).astype(np.int64)
    return _table(cols, cluster, rng.permutation(n_docs))


def make_title_list_pages(
    n_pages: int, *, seed: int = 0, min_bytes: int = 3000, max_bytes: int = 6000
) -> pa.Table:
    """Unique pages shaped like a common scraping accident (``shared/corpus/seed_page.txt``).

    A long comma-separated list of query titles opens the page twice, each copy closed by a stray
    ``" />`` from broken markup, and ends it once more; the body between is ordinary text. They
    are originals in clusters of their own: the repeated list is a span-level problem.
    """
    rng = np.random.default_rng(seed)
    sites = [replace(_sites(rng, 1)[0], domain="listings.example")]
    pages = _pages(rng, n_pages, min_bytes, max_bytes, 1, np.full(n_pages, 3))
    cols = {
        "url": [
            _url(sites[0], s, t, 500 + i)
            for i, (s, t) in enumerate(zip(pages["section"], pages["title"], strict=True))
        ],
        "title": pages["title"],
        "text": pages["body"],
        "site": [sites[0].domain] * n_pages,
        "variant": ["original"] * n_pages,
        "quality": rng.random(n_pages).tolist(),
    }
    return _table(cols, np.arange(n_pages), np.arange(n_pages))


def interleave(*tables: pa.Table, seed: int = 0) -> pa.Table:
    """Concatenate generated tables and shuffle their rows, keeping ``cluster`` = original's row.

    Each input must follow that convention (as :func:`make_corpus` output does); ids are reissued.
    """
    offsets = np.cumsum([0, *(t.num_rows for t in tables)])
    cols = {
        k: [x for t in tables for x in t.column(k).to_pylist()]
        for k in ("url", "title", "text", "site", "variant", "quality")
    }
    cluster = np.concatenate(
        [t.column("cluster").to_numpy() + o for t, o in zip(tables, offsets[:-1], strict=True)]
    )
    return _table(cols, cluster, np.random.default_rng(seed).permutation(int(offsets[-1])))
