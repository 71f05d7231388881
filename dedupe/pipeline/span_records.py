"""Span records, made in the sign stage: what the spans stage later reads instead of the text.

Each batch the sign stage reads also yields, from one tokenisation of the batch,
* repeat spans inside each document (``dedupe.spans.repeats.batch_repeats``), written to the
  task's ``repeats`` file;
* line records for boilerplate: ``(source_row, start, end, key)`` with one record per key kind
  (exact and skeleton, see :mod:`dedupe.spans.boilerplate`, and with ``spans.windows`` every run
  of ``spans.min_tokens`` tokens), written to the task's ``lines`` file as one Arrow record batch
  per key partition (``key % partitions``), so that the boilerplate stage
  (:mod:`dedupe.pipeline.boilerplate_stage`) reads one partition of every task at a time;
* with ``spans.near_passages``, the batch's passages (:mod:`dedupe.spans.passages`): one
  record each with its document, character range, digest and signature, written to the task's
  ``passages`` file in the layout of a sign file, so that the passage stage
  (:mod:`dedupe.pipeline.passage_stage`) decides them with the document machinery;
* optionally the Gopher repetition statistics.
"""

from __future__ import annotations

from contextlib import ExitStack

import numpy as np
import pyarrow as pa

from dedupe.io.fs import join, split
from dedupe.io.spill import ipc_file, ipc_writer, write_ipc
from dedupe.spans.boilerplate import line_keys_from_tokens
from dedupe.spans.passages import PASSAGE_SCHEME

__all__ = ["LINE_SCHEMA", "PASSAGE_SCHEME_KEY", "REPEAT_SCHEMA", "PassageSpill", "passage_path",
           "passage_table", "span_parts", "span_paths", "spans_enabled", "write_lines"]

# the passage scheme a passages file was made with (its Arrow metadata)
PASSAGE_SCHEME_KEY = "dedupe.scheme.passage"
_SKELETON_SALT = np.uint64(0x5BD1E9955BD1E995)
_WINDOW_SALT = np.uint64(0x27D4EB2F165667C5)

LINE_SCHEMA = pa.schema([("pos", pa.int64()), ("start", pa.int64()), ("end", pa.int64()),
                         ("key", pa.uint64())])
REPEAT_SCHEMA = pa.schema([("source_row", pa.int64()), ("start", pa.int64()),
                           ("end", pa.int64()), ("first_start", pa.int64()),
                           ("count", pa.int64()), ("exact", pa.bool_())])


def spans_enabled(cfg) -> bool:
    """Whether any span feature is on: then the sign stage writes span records and the
    spans stage runs."""
    sp = cfg.spans
    return (sp.repeats or sp.boilerplate or sp.windows or sp.stats or sp.gopher_filter
            or sp.near_passages)


def span_paths(sign_path: str) -> tuple[str, str]:
    """Where a task's repeat spans and boilerplate line records go, next to its sign file."""
    folder, name = split(sign_path)
    return (join(folder, name.replace("sign-", "repeats-")),
            join(folder, name.replace("sign-", "lines-")))


def passage_path(sign_path: str) -> str:
    """Where a task's passages go, next to its sign file."""
    folder, name = split(sign_path)
    return join(folder, name.replace("sign-", "passages-"))


def span_parts(text: pa.Array, rows: np.ndarray, valid: np.ndarray, cfg):
    """``(repeats table, lines table, stats dict, passages table)`` for one batch (``valid``:
    rows to use).

    One tokenisation of the batch serves repeats, shared windows, passages and statistics.
    """
    from dedupe.spans.repeats import batch_repeats
    from dedupe.spans.stats import batch_repetition_stats
    from dedupe.spans.tokens import batch_tokens

    sp = cfg.spans
    text = text.fill_null("") if text.null_count else text
    repeats = lines = passages = None
    stats = {}
    tokens = batch_tokens(text)
    if sp.repeats:
        rep = batch_repeats(text, min_tokens=sp.min_tokens, near=sp.near,
                            near_threshold=sp.near_threshold, tokens=tokens)
        keep = valid[rep.doc]
        repeats = pa.table({"source_row": rows[rep.doc[keep]], "start": rep.start[keep],
                            "end": rep.end[keep], "first_start": rep.first_start[keep],
                            "count": rep.count[keep].astype(np.int64),
                            "exact": rep.exact[keep]}, schema=REPEAT_SCHEMA)
    parts = []
    if sp.boilerplate:
        ln = line_keys_from_tokens(tokens)
        keep = valid[ln.doc]
        doc, start, end = ln.doc[keep], ln.start[keep], ln.end[keep]
        skel = ln.skeleton[keep]
        has_skel = skel != 0
        parts.append(pa.table({
            "source_row": np.concatenate([rows[doc], rows[doc[has_skel]]]),
            "start": np.concatenate([start, start[has_skel]]),
            "end": np.concatenate([end, end[has_skel]]),
            "key": np.concatenate([ln.exact[keep], skel[has_skel] ^ _SKELETON_SALT]),
        }))
    if sp.windows:
        parts.append(_window_records(tokens, rows, valid, sp.min_tokens))
    if parts:
        lines = pa.concat_tables(parts)
    if sp.stats or sp.gopher_filter:
        stats = batch_repetition_stats(text, tokens=tokens)
    if sp.near_passages:
        passages = _passage_records(tokens, rows, valid, cfg)
    return repeats, lines, stats, passages


def _passage_records(tokens, rows: np.ndarray, valid: np.ndarray, cfg) -> pa.Table:
    """The batch's passages: document source row, character range, digest, shingle count and
    signature."""
    from dedupe.spans.passages import batch_passages

    sp = cfg.spans
    p = batch_passages(tokens, valid, size=sp.passage_tokens, stride=sp.passage_stride,
                       min_tokens=sp.min_tokens, ngram=sp.passage_ngram,
                       num_perm=sp.passage_num_perm, seed=cfg.minhash.seed)
    return pa.table({"doc_row": rows[p.doc], "start": p.start.astype(np.int64),
                     "end": p.end.astype(np.int64), "prev_end": p.prev_end.astype(np.int64),
                     "next_start": p.next_start.astype(np.int64), "digest_hi": p.digest[:, 0],
                     "digest_lo": p.digest[:, 1], "n_shingles": p.n_shingles,
                     "sig": pa.FixedSizeListArray.from_arrays(pa.array(p.sig.reshape(-1)),
                                                              sp.passage_num_perm)})


class PassageSpill:
    """A task's passages as the sign stage makes them, batch by batch, spilled to a part file
    next to the final one so the task never holds them all (about 35 a page, each with its
    signature); :meth:`finish` writes the final passages file from it one batch at a time."""

    def __init__(self, path: str):
        self.part = path + ".part"
        self.path = path
        self._stack = ExitStack()
        self._writer = None
        self._last = -1
        self.in_order = True  # every batch's pages after the previous batch's (read order)

    def add(self, table: pa.Table) -> None:
        if table.num_rows == 0:
            return
        if self._writer is None:
            self._writer = self._stack.enter_context(ipc_writer(self.part, table.schema))
        rows = table["doc_row"].to_numpy()
        self.in_order &= bool(rows[0] >= self._last)
        self._last = int(rows[-1])
        self._writer.write_table(table)

    def finish(self, doc_rows: np.ndarray, cfg, bands: int, rows: int) -> int:
        """Write the passages file (see :func:`passage_table`); returns the passage count."""
        from dedupe.io.fs import exists, remove

        self._stack.close()  # the part file appears whole
        if not exists(self.part):
            table = passage_table(_empty_passages(cfg.spans.passage_num_perm), doc_rows, 0,
                                  bands, rows)
            write_ipc(table, self.path, {PASSAGE_SCHEME_KEY: PASSAGE_SCHEME})
            return 0
        n = 0
        with ipc_file(self.part) as reader:
            batches = ((reader.get_batch(i) for i in range(reader.num_record_batches))
                       if self.in_order else
                       reader.read_all().sort_by([("doc_row", "ascending"),
                                                  ("start", "ascending")]).to_batches())
            writer = None
            with ExitStack() as stack:
                for batch in batches:
                    table = passage_table(pa.Table.from_batches([batch]), doc_rows, n, bands,
                                          rows)
                    if writer is None:
                        schema = table.schema.with_metadata(
                            {PASSAGE_SCHEME_KEY: PASSAGE_SCHEME})
                        writer = stack.enter_context(ipc_writer(self.path, schema))
                    writer.write_table(table.replace_schema_metadata(schema.metadata))
                    n += table.num_rows
        remove(self.part)
        return n

    def abort(self, exc: BaseException) -> None:
        """The task failed: the part file is discarded, never left under its name."""
        self._stack.__exit__(type(exc), exc, exc.__traceback__)


def _empty_passages(num_perm: int) -> pa.Table:
    z = np.zeros(0, np.int64)
    return pa.table({"doc_row": z, "start": z, "end": z, "prev_end": z, "next_start": z,
                     "digest_hi": np.zeros(0, np.uint64), "digest_lo": np.zeros(0, np.uint64),
                     "n_shingles": np.zeros(0, np.int32),
                     "sig": pa.FixedSizeListArray.from_arrays(pa.array(np.zeros(0, np.uint32)),
                                                              num_perm)})


def passage_table(table: pa.Table, doc_rows: np.ndarray, first: int, bands: int,
                  rows: int) -> pa.Table:
    """Passage records (in page then position order) in the layout of a sign file (see
    :mod:`dedupe.pipeline.sign`): ``source_row`` the passage's number in the task (from
    ``first``), ``doc_local`` its page's row in the task's sign file (``doc_rows``: its sorted
    source rows), every passage ``OK`` (the passage stage sets the passages of removed pages
    aside), each band's LSH keys."""
    from dedupe.near.decide import ROW_OK
    from dedupe.pipeline.sign import with_band_keys

    n = table.num_rows
    length = table["end"].to_numpy() - table["start"].to_numpy()
    table = pa.table({
        "source_row": np.arange(first, first + n, dtype=np.int64),
        "doc_row": table["doc_row"],
        "doc_local": np.searchsorted(doc_rows, table["doc_row"].to_numpy()).astype(np.int64),
        "start": table["start"], "end": table["end"],
        "prev_end": table["prev_end"], "next_start": table["next_start"],
        "length": length, "nbytes": length,
        "digest_hi": table["digest_hi"], "digest_lo": table["digest_lo"],
        "n_shingles": table["n_shingles"],
        "status": np.full(n, ROW_OK, np.int8),
        "reason": pa.nulls(n, pa.string()),
        "score": np.full(n, np.nan),
        "sig": table["sig"],
    })
    return with_band_keys(table, bands, rows)


def _window_records(tokens, rows: np.ndarray, valid: np.ndarray, k: int) -> pa.Table:
    """Every run of ``k`` tokens of the valid documents as a record keyed by its hash."""
    from dedupe.spans.windows import window_hashes

    keys = window_hashes(tokens.hashes, k) ^ _WINDOW_SALT
    tdoc = tokens.token_doc()
    first = np.arange(len(keys))
    last = first + k - 1
    inside = (last < len(tdoc)) & (tdoc[np.minimum(last, len(tdoc) - 1)] == tdoc[first])
    inside &= valid[tdoc[first]] if len(first) else inside
    first, last = first[inside], last[inside]
    doc = tdoc[first]
    base = tokens.offsets[doc]
    return pa.table({"source_row": rows[doc], "start": tokens.starts[first] - base,
                     "end": tokens.ends[last] - base, "key": keys[inside]})


def write_lines(parts: list[pa.Table], sorted_rows: np.ndarray, path: str, partitions: int):
    """The task's line records as one record batch per key partition (``pos`` = sign-table row)."""
    if parts:
        table = pa.concat_tables(parts)
        src = table["source_row"].to_numpy()
        key = table["key"].to_numpy()
    else:
        src = np.zeros(0, np.int64)
        key = np.zeros(0, np.uint64)
        table = None
    pos = np.searchsorted(sorted_rows, src)
    part = (key % np.uint64(partitions)).astype(np.int64)
    order = np.argsort(part, kind="stable")
    bounds = np.searchsorted(part[order], np.arange(partitions + 1))
    cols = {"pos": pos, "start": None, "end": None, "key": key}
    if table is not None:
        cols["start"] = table["start"].to_numpy()
        cols["end"] = table["end"].to_numpy()
    else:
        cols["start"] = cols["end"] = np.zeros(0, np.int64)
    with ipc_writer(path, LINE_SCHEMA) as writer:
        for p in range(partitions):
            sel = order[bounds[p] : bounds[p + 1]]
            writer.write_batch(pa.record_batch([pa.array(cols[c][sel]) for c in LINE_SCHEMA.names],
                                               schema=LINE_SCHEMA))
