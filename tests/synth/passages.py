"""Pages with passages planted across them: the truth for near-duplicate passages.

Each passage (``min_words`` to ``max_words`` words of running text, drawn fresh, so it occurs
nowhere else) is pasted into ``copies`` distinct pages as a paragraph of its own, every copy with
``edit_low`` to ``edit_high`` of its words replaced, inserted or dropped (:func:`.edits.retouch`;
the copy in the earliest page too: no copy is the pristine one). The pages are generated web
pages without site templates or in-page repeats (:func:`.corpus.make_corpus`), so the planted
copies are the only text pages share. With ``inside`` a page also gets a second, edited copy
of a passage of its own (near copies inside one page).
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from .corpus import make_corpus
from .edits import retouch
from .text import paragraphs

__all__ = ["planted_passages"]


def planted_passages(n_pages: int, *, seed: int = 0, n_passages: int = 20, copies: int = 3,
                     edit_low: float = 0.05, edit_high: float = 0.15, min_words: int = 60,
                     max_words: int = 120, inside: int = 0) -> tuple[pa.Table, list[dict]]:
    """``(pages, copies)``: a table ``id, text`` and one dict per planted copy: ``row``,
    ``start``, ``end`` (character offsets of the copy in the row's text), ``passage``,
    ``first`` (whether it is the copy in the earliest row of its passage) and ``inside``
    (a page's own second copy)."""
    rng = np.random.default_rng(seed)
    base = make_corpus(n_pages, seed=seed, dup_fraction=0.0, boilerplate=False, repeats=False)
    texts = base["text"].to_pylist()
    topics = rng.integers(0, 20, n_passages + inside)
    goals = rng.integers(min_words * 6, max_words * 6, n_passages + inside)
    passages = [" ".join(p) for p in paragraphs(rng, topics, goals)]
    planted: dict[int, list[tuple[int, str, bool]]] = {}
    for k in range(n_passages):
        for row in np.sort(rng.choice(n_pages, copies, replace=False)).tolist():
            planted.setdefault(row, []).append((k, _edited(rng, passages[k], edit_low,
                                                           edit_high, int(topics[k])), False))
    for j in range(inside):
        k = n_passages + j
        row = int(rng.integers(0, n_pages))
        planted.setdefault(row, []).append((k, passages[k], False))
        planted[row].append((k, _edited(rng, passages[k], edit_low, edit_high, int(topics[k])),
                             True))
    truth, seen = [], set()
    for row in sorted(planted):
        paras = texts[row].split("\n")
        cut = int(rng.integers(1, max(2, len(paras))))
        head, tail = "\n".join(paras[:cut]), "\n".join(paras[cut:])
        text = head
        for k, copy, second in planted[row]:
            text += "\n"
            truth.append({"row": row, "start": len(text), "end": len(text) + len(copy),
                          "passage": k, "first": k not in seen, "inside": second})
            seen.add(k)
            text += copy
        texts[row] = text + ("\n" + tail if tail else "")
    table = pa.table({"id": [f"page{i:06d}" for i in range(n_pages)], "text": texts})
    return table, truth


def _edited(rng: np.random.Generator, text: str, low: float, high: float, topic: int) -> str:
    n_words = text.count(" ") + 1
    return retouch(rng, text, round(n_words * rng.uniform(low, high)), topic)
