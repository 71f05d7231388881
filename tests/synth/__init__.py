"""Synthetic web corpus with planted near-duplicate truth, for tests, benchmarks and the sample.

Dedup quality can only be measured against known answers, and real crawls come without them. This
package writes English-looking web pages (site header and footer, a title, paragraphs with quotes,
numbers, dates and names, now and then a repeated "related articles" list or a paragraph in another
script) and plants copies of some of them through the edits that real crawls show: exact mirrors,
formatting noise, word edits, a different site template, truncation and light paraphrase. The
``cluster`` column records which rows are one family, so precision and recall can be computed.

Text is drawn as integer token codes with numpy, a whole chunk of documents at a time, and only the
final join touches Python strings; 100,000 pages take seconds, not minutes.

It lives under ``tests/`` and is not part of the installed package: import it as ``tests.synth``
from the repository root (scripts under ``benchmarks/`` and ``data/`` put the root on
``sys.path``). Modules: :mod:`.words` (vocabulary), :mod:`.text` (running text), :mod:`.edits`
(how copies differ), :mod:`.pages` (sites and original pages), :mod:`.corpus` (whole tables).
"""

from __future__ import annotations

from .corpus import SCHEMA, VARIANTS, interleave, make_corpus, make_title_list_pages

__all__ = ["SCHEMA", "VARIANTS", "interleave", "make_corpus", "make_title_list_pages"]
