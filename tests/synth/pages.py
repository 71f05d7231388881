"""Original pages: sites with their templates, URLs, and page bodies, some of which repeat a span
of themselves (a paragraph pasted twice, a related-articles list, a seed-page-shaped title list)."""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from . import words
from .edits import retouch
from .text import foreign, paragraphs, titles

CHUNK = 2048  # documents per vectorised batch: bounds memory, and fixes the random stream
_PARA_REPEAT = (0.08, 0.15)  # byte share held back for a repeated paragraph, and its cap


@dataclass(frozen=True)
class Site:
    domain: str
    name: str
    nav: str
    cookie: str
    sections: tuple[str, ...]

    def wrap(self, body: str, year: int) -> str:
        """Header and footer lines that repeat on every page of the site (year aside)."""
        footer = f"Copyright {year} {self.name}. All rights reserved.\n{self.cookie}"
        return f"{self.name}\n{self.nav}\n\n{body}\n\n{footer}"


def sites(rng: np.random.Generator, n_sites: int) -> list[Site]:
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
        out.append(Site(f"site{k}.example", name, " | ".join(nav), cookie, sections or ("news",)))
    return out


def url(site: Site, section: int, title: str, num: int) -> str:
    slug = "-".join(re.sub(r"[^a-z0-9]+", " ", title.lower()).split()[:6])
    return f"https://{site.domain}/{site.sections[section % len(site.sections)]}/{slug}-{num}"


def _repeat_paragraph(rng: np.random.Generator, paras: list[str], cap: int, topic: int) -> None:
    """Paste a paragraph again later on the page, sometimes cut short or with a word changed."""
    i = int(rng.integers(len(paras)))
    copy = paras[i]
    if rng.random() < 0.5 or len(copy) > cap:
        copy = copy[: int(min(cap, len(copy)) * rng.uniform(0.4, 0.95))].rsplit(" ", 1)[0]
    if rng.random() < 0.4:
        copy = retouch(rng, copy, int(rng.integers(1, 3)), topic)
    paras.insert(int(rng.integers(i + 1, len(paras) + 1)), copy)


def _title_list(rng: np.random.Generator, n: int, query_style: bool) -> str:
    listed = titles(
        rng,
        rng.integers(0, len(words.vocab().topics), n),
        words.QUERY_PATTERNS if query_style else words.TITLE_PATTERNS,
    )
    return ", ".join(listed) + ","


def _plan(
    rng: np.random.Generator, target: int, title: str, layout: int, kind: int
) -> tuple[int, dict[str, str]]:
    """Byte goal left for the generated paragraphs, and the extra spans the page will carry;
    ``kind`` is the script of a foreign passage (see :func:`foreign`), or -1 for none."""
    goal, extra = target - len(title) - 2, {}
    if layout == 1:
        goal -= int(target * _PARA_REPEAT[0])
    elif layout >= 2:
        n_titles = max(3, int(target * (0.12 if layout == 2 else 0.1) / 35))
        extra["list"] = _title_list(rng, n_titles, layout == 3)
        goal -= (2 if layout == 2 else 3) * (len(extra["list"]) + 20)
    if kind >= 0:
        extra["foreign"] = foreign(rng, kind, int(rng.integers(target // 8, target // 4)))
        goal -= len(extra["foreign"].encode()) + 2
    return max(goal, 120), extra


def _related(rng: np.random.Generator, body: str, listed: str, topic: int) -> str:
    """``body`` with a related-articles list after its title, and again, perhaps cut short or
    with a word changed, at its end."""
    again = listed
    if rng.random() < 0.35:
        again = again.rsplit(", ", int(rng.integers(1, 3)))[0] + ","
    if rng.random() < 0.3:
        again = retouch(rng, again, 1, topic)
    body = body.replace("\n\n", f"\n\nRelated articles: {listed}\n\n", 1)
    return body + f"\n\nRelated articles: {again}"


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
        body = _related(rng, body, extra["list"], topic)
    elif layout == 3:
        lst = extra["list"]
        body = f'{lst} " /> {lst} " />\n\n{body}\n\n{lst}'
    return body


def pages(
    rng: np.random.Generator, n: int, lo: int, hi: int, n_sites: int, layout: np.ndarray
) -> dict[str, list]:
    """Original pages without site template, made ``CHUNK`` documents at a time."""
    cols: dict[str, list] = {"title": [], "body": [], "topic": [], "site": [], "section": []}
    for a in range(0, n, CHUNK):
        m = min(CHUNK, n - a)
        topics, targets = rng.integers(0, len(words.vocab().topics), m), rng.integers(lo, hi + 1, m)
        kinds = np.where(rng.random(m) < 0.01, rng.integers(0, 4, m), -1).tolist()
        heads = titles(rng, topics, words.TITLE_PATTERNS)
        lay, tgt, top = layout[a : a + m].tolist(), targets.tolist(), topics.tolist()
        plans = [_plan(rng, tgt[i], heads[i], lay[i], kinds[i]) for i in range(m)]
        bodies = paragraphs(rng, topics, np.array([g for g, _ in plans]))
        cols["body"] += [
            _compose(rng, heads[i], paras, plans[i][1], lay[i], tgt[i], top[i])
            for i, paras in enumerate(bodies)
        ]
        cols["title"] += heads
        cols["topic"] += topics.tolist()
        cols["site"] += rng.integers(0, n_sites, m).tolist()
        cols["section"] += rng.integers(0, 16, m).tolist()
    return cols
