"""The edits that turn an original page into a planted copy: word edits, reordered sentences,
formatting noise, truncation and a different site template."""

from __future__ import annotations

import re
import unicodedata
from typing import TYPE_CHECKING

import numpy as np

from . import words

if TYPE_CHECKING:
    from .pages import Site

_SENTENCE = re.compile(r'(?<=[.!?"]) (?=[A-Z0-9"])')
_INNER_HYPHEN = re.compile(r"(?<=[a-z])-(?=[a-z])")
_YEAR = re.compile(r"\b(?:19|20)\d\d\b")
_WIDE_DIGITS = str.maketrans("0123456789", "".join(chr(0xFF10 + d) for d in range(10)))


def retouch(rng: np.random.Generator, text: str, n_words: int, topic: int) -> str:
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
    return retouch(rng, body, round(n_words * rate * rng.uniform(0.8, 1.2)), topic)


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


def _change_case(rng: np.random.Generator, text: str) -> str:
    """Whole page lower-cased, its first lines shouted, or one shouted paragraph."""
    mode, paras = int(rng.integers(3)), text.split("\n\n")
    if mode == 0:
        return text.lower()
    i = 0 if mode == 1 else int(rng.integers(len(paras)))
    paras[i] = paras[i].upper()
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
    if ops[3]:  # case changes
        text = _change_case(rng, text)
    if ops[4]:  # doubled spaces after sentences, then CRLF line ends or blank-ish lines
        line_end = (" \r\n", "\n \n")[int(rng.integers(2))]
        text = re.sub(r"([.?!]) ", r"\1  ", text).replace("\n", line_end)
    if ops[5]:  # typographic ellipsis, full-width digits in years
        text = _YEAR.sub(lambda m: m.group().translate(_WIDE_DIGITS), text.replace("...", "\u2026"))
    if ops[6]:
        text = unicodedata.normalize("NFD", text)
    return text


def copy_text(
    rng: np.random.Generator,
    variant: str,
    text: str,
    body: str,
    site: Site | None,
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
