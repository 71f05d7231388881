"""Whole corpora: originals, their planted copies, and the table that records which is which."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pyarrow as pa

from .edits import copy_text
from .pages import Site, pages, sites, url

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


def _split(n_docs: int, dup_fraction: float, n_sites: int, lo: int, hi: int) -> tuple[int, int]:
    """``(originals, copies)`` for the arguments of :func:`make_corpus`, which it checks."""
    if n_docs < 0 or n_sites < 1 or not 200 <= lo <= hi:
        raise ValueError(
            f"need n_docs >= 0, n_sites >= 1 and 200 <= min_bytes <= max_bytes; got "
            f"{n_docs=}, {n_sites=}, min_bytes={lo}, max_bytes={hi}"
        )
    n_dup = round(dup_fraction * n_docs)
    n_orig = n_docs - n_dup
    if not 0 <= dup_fraction < 1 or n_dup > 4 * n_orig:
        raise ValueError(
            f"dup_fraction must lie in [0, 0.8], as a family holds at most 4 copies of its "
            f"original; got {dup_fraction}"
        )
    return n_orig, n_dup


def _originals(pages_: dict[str, list], all_sites: list[Site], years: list[int], boilerplate: bool):
    """Columns of the original rows, each served with its site's template (if ``boilerplate``)."""
    n_orig = len(pages_["title"])
    cols: dict[str, list] = {
        "url": [],
        "title": list(pages_["title"]),
        "text": [],
        "site": [],
        "variant": ["original"] * n_orig,
    }
    for i in range(n_orig):
        site = all_sites[pages_["site"][i]]
        body = pages_["body"][i]
        cols["text"].append(site.wrap(body, years[i]) if boilerplate else body)
        cols["url"].append(url(site, pages_["section"][i], pages_["title"][i], 1000 + i))
        cols["site"].append(site.domain)
    return cols


def _add_copy(
    rng: np.random.Generator,
    cols: dict[str, list],
    pages_: dict[str, list],
    all_sites: list[Site],
    parent: int,
    variant: str,
    year: int,
    boilerplate: bool,
) -> None:
    """Append one planted copy of row ``parent`` to ``cols``."""
    row, site_id = len(cols["text"]), pages_["site"][parent]
    link = f"{cols['url'][parent]}?ref={row}"
    if variant == "header_footer":
        other = int(rng.integers(len(all_sites) - 1))
        site_id = other + (other >= site_id)
    site = all_sites[site_id]
    text = copy_text(
        rng,
        variant,
        cols["text"][parent],
        pages_["body"][parent],
        site if boilerplate else None,
        year,
        pages_["topic"][parent],
    )
    if variant in ("word_edits", "header_footer", "paraphrase_light"):
        link = url(site, pages_["section"][parent] + 1, pages_["title"][parent], 1000 + row)
    cols["text"].append(text)
    cols["url"].append(link)
    cols["site"].append(site.domain)
    cols["title"].append(pages_["title"][parent])
    cols["variant"].append(variant)


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
    n_orig, n_dup = _split(n_docs, dup_fraction, n_sites, min_bytes, max_bytes)
    rng = np.random.default_rng(seed)
    all_sites = sites(rng, n_sites)
    layout = np.where(
        rng.random(n_orig) < (0.1 if repeats else 0.0),
        rng.choice([1, 2, 3], n_orig, p=[0.55, 0.3, 0.15]),
        0,
    )
    pages_ = pages(rng, n_orig, min_bytes, max_bytes, n_sites, layout)
    years = rng.integers(2018, 2025, n_docs).tolist()
    parents = _families(rng, n_orig, n_dup)
    p = _COPY_P.copy()
    if not boilerplate or n_sites == 1:
        p[3] = 0.0
    kinds = rng.choice(np.arange(1, 7), n_dup, p=p / p.sum()).tolist()
    cols = _originals(pages_, all_sites, years, boilerplate)
    for parent, kind in zip(parents.tolist(), kinds, strict=True):
        year = years[len(cols["text"])]
        _add_copy(rng, cols, pages_, all_sites, parent, VARIANTS[kind], year, boilerplate)
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
    site = replace(sites(rng, 1)[0], domain="listings.example")
    pages_ = pages(rng, n_pages, min_bytes, max_bytes, 1, np.full(n_pages, 3))
    cols = {
        "url": [
            url(site, s, t, 500 + i)
            for i, (s, t) in enumerate(zip(pages_["section"], pages_["title"], strict=True))
        ],
        "title": pages_["title"],
        "text": pages_["body"],
        "site": [site.domain] * n_pages,
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
