"""Stage 1, per task: read the text, normalise, digest, shingle, sign; write one Arrow file.

The file holds one row per source row of the task (rejected rows included, with their reason),
sorted by source row: ``source_row, id, length, nbytes, digest_hi, digest_lo, n_shingles,
status, reason, score, sig``. Everything later (exact groups, LSH, clusters, manifests) reads
these files, never the input text again -- only the final write stage rereads the input.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from dedupe.config import DedupeConfig
from dedupe.errors import InputError
from dedupe.io.readers import ReadBatch, list_rows, read_task
from dedupe.io.sources import Task
from dedupe.io.spill import ipc_metadata, write_ipc
from dedupe.io.unify import unify
from dedupe.memory import PeakRSS
from dedupe.near.decide import ROW_EMPTY, ROW_OK, ROW_REJECTED
from dedupe.near.minhash import EMPTY as EMPTY_SIGNATURE
from dedupe.near.signing import shingle_sets, sign_arrays, truncate
from dedupe.pipeline.span_records import (
    REPEAT_SCHEMA,
    PassageSpill,
    passage_path,
    span_parts,
    span_paths,
    spans_enabled,
    write_lines,
)
from dedupe.schemes import scheme_fields

__all__ = ["SignResult", "SignTask", "input_schema", "sign_task", "with_band_keys"]

OK, REJECTED, EMPTY = ROW_OK, ROW_REJECTED, ROW_EMPTY
_SCHEMA_KEY = b"dedupe.input_schema"


@dataclass(frozen=True)
class SignTask:
    task: Task
    config: DedupeConfig
    path: str  # where the task's Arrow file goes
    reject_reason: str | None = None  # set when the whole source is rejected (schema mismatch)
    lsh: tuple[int, int] | None = None  # (bands, rows): also write each band's LSH keys
    # check every column (not only the text, id and survivor columns) for rows that cannot be
    # written, and record the rows' schema: what `dedupe run` needs, `dedupe sweep` does not
    check_all_columns: bool = True

    @property
    def label(self) -> str:
        return self.task.label


@dataclass(frozen=True)
class SignResult:
    index: int
    rows: int
    rejected: int
    seconds: float
    peak_rss: int


def _no_shingles(n: int) -> pa.Array:
    return pa.LargeListArray.from_arrays(pa.array(np.zeros(n + 1, np.int64)),
                                         pa.array(np.zeros(0, np.uint32)))


def _bad(task: Task, cfg, row: int, reason: str, column: str):
    if cfg.input.on_bad_row == "error":
        raise InputError(
            task.source.path,
            reason,
            row=row,
            column=column,
            hint="fix the row, or pass --on-bad-row reject to record it",
        )


def _sign_batch(rb, st: SignTask, parts: list, extra: dict):
    """Sign one read batch: its rows' part of the sign file (rejected rows included) into
    ``parts``, its span records into ``extra``."""
    cfg, inp = st.config, st.config.input
    batch, rows = rb.batch, rb.source_rows
    if rb.rejected:
        r = np.array([x[0] for x in rb.rejected], np.int64)
        parts.append(_rejected_part(st, r, [x[1] for x in rb.rejected]))
    if batch.num_rows == 0:
        return
    text = _text_column(batch, st)
    status = np.zeros(batch.num_rows, np.int8)
    reasons = np.full(batch.num_rows, None, object)
    null = text.is_null().to_numpy(zero_copy_only=False)
    nbytes = pc.binary_length(text.fill_null("")).to_numpy(zero_copy_only=False).astype(np.int64)
    length = pc.utf8_length(text.fill_null("")).to_numpy(zero_copy_only=False).astype(np.int64)
    hashed = _long_texts(text, nbytes, status, reasons, inp)
    exact = cfg.lsh.verify == "exact"
    dig, n_sh, sig, canon_len, sh = sign_arrays(text, cfg, keep_shingles=exact)
    _mark_empty(status, reasons, null, nbytes, canon_len)
    ids = _ids(batch, rows, st)
    for i in np.flatnonzero(pc.is_null(ids).to_numpy(zero_copy_only=False) & (status == OK)):
        _bad(st.task, cfg, int(rows[i]), "id is null", inp.id_column)
        status[i], reasons[i] = REJECTED, "id is null"
    score = _scores(batch, st)
    stats = {}
    if spans_enabled(cfg):
        repeats, lines, stats, passages = span_parts(hashed, rows, status == OK, cfg)
        if repeats is not None:
            extra["repeats"].append(repeats)
        if lines is not None:
            extra["lines"].append(lines)
        if passages is not None:
            extra["passages"].add(passages)
    parts.append(
        pa.table(
            {
                **{f"stat_{k}": np.where(status == OK, v, np.nan) for k, v in stats.items()},
                "source_row": rows,
                "id": ids,
                "length": length,
                "nbytes": nbytes,
                "digest_hi": dig[:, 0],
                "digest_lo": dig[:, 1],
                "n_shingles": n_sh,
                "status": status,
                "reason": pa.array(reasons, pa.string()),
                "score": score,
                "sig": _sig_array(sig),
                **({"shingles": shingle_sets(sh)} if exact else {}),
            }
        )
    )


def _text_column(batch, st: SignTask) -> pa.Array:
    """The batch's text column, refused unless it holds strings."""
    inp = st.config.input
    text = batch.column(inp.text_column)
    if not (pa.types.is_string(text.type) or pa.types.is_large_string(text.type)):
        raise InputError(
            st.task.source.path,
            f"the text column has type {text.type}, not string",
            column=inp.text_column,
            hint="choose another --text-column",
        )
    return text


def _long_texts(text: pa.Array, nbytes: np.ndarray, status, reasons, inp) -> pa.Array:
    """The texts the span records are made from: cut to ``input.max_doc_bytes``. With
    ``on_long_doc = "reject"`` a longer text's row is rejected, with its size as the reason."""
    if inp.max_doc_bytes is None:
        return text
    too_long = nbytes > inp.max_doc_bytes
    if inp.on_long_doc == "reject":
        for i in np.flatnonzero(too_long & (status == OK)):
            status[i] = REJECTED
            reasons[i] = f"text is {nbytes[i]} bytes, over max_doc_bytes={inp.max_doc_bytes}"
    return truncate(text, inp.max_doc_bytes)


def _scores(batch, st: SignTask) -> np.ndarray:
    """The ``max:COLUMN`` survivor score of every row (NaN without such a policy)."""
    col = st.config.cluster.survivor_column
    if col is None:
        return np.full(batch.num_rows, np.nan)
    try:
        return pc.cast(batch.column(col), pa.float64()).to_numpy(zero_copy_only=False)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        raise InputError(
            st.task.source.path, f"survivor column {col!r} is not numeric", column=col
        ) from None


def _mark_empty(status, reasons, null, nbytes, canon_len) -> None:
    """Null, empty and whitespace-only texts are ordinary rows with nothing to deduplicate:
    status ``EMPTY`` and the reason the manifest shows (never an error: real crawls have them,
    Common Crawl pages whose extraction left nothing among them)."""
    for mask, why in ((null, "text is null"),
                      (~null & (nbytes == 0), "text is empty"),
                      (~null & (nbytes > 0) & (canon_len == 0),
                       "text is whitespace only (or characters normalisation removes)")):
        hit = mask & (status == OK)
        status[hit] = EMPTY
        reasons[hit] = why


def with_band_keys(table: pa.Table, bands: int, rows: int) -> pa.Table:
    """Add one ``band_BB`` uint64 column per LSH band (keys as :class:`ArraySignatures` makes
    them), so the decide stage reads 8 bytes a row per band instead of whole signatures."""
    from dedupe.near.lsh import band_key
    from dedupe.pipeline.store import band_column

    k = table.schema.field("sig").type.list_size
    values = table["sig"].combine_chunks().flatten().to_numpy().reshape(-1, k)
    for b in range(bands):
        keys = band_key(values, b, rows)
        table = table.append_column(band_column(b), pa.array(keys, pa.uint64()))
    return table


def _ids(batch, rows, st: SignTask) -> pa.Array:
    inp = st.config.input
    if inp.id_column is not None:
        column = batch.column(inp.id_column)
        try:
            return pc.cast(column, pa.string())
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            raise InputError(
                st.task.source.path,
                f"the id column has type {column.type}, which cannot be written as text",
                column=inp.id_column,
                hint="choose another --id-column, or leave it out for file:row ids",
            ) from None
    prefix = st.task.source.path + ":"
    return pa.array([prefix + str(r) for r in rows.tolist()], pa.string())


def _sig_array(sig: np.ndarray) -> pa.Array:
    return pa.FixedSizeListArray.from_arrays(pa.array(sig.reshape(-1)), sig.shape[1])


def _rejected_part(st: SignTask, rows: np.ndarray, reasons: list[str]) -> pa.Table:
    k = st.config.minhash.num_perm
    n = len(rows)
    prefix = st.task.source.path + ":"
    return pa.table(
        {
            "source_row": rows,
            "id": pa.array([prefix + str(r) for r in rows.tolist()], pa.string()),
            "length": np.zeros(n, np.int64),
            "nbytes": np.zeros(n, np.int64),
            "digest_hi": np.zeros(n, np.uint64),
            "digest_lo": np.zeros(n, np.uint64),
            "n_shingles": np.zeros(n, np.int32),
            "status": np.full(n, REJECTED, np.int8),
            "reason": pa.array(reasons, pa.string()),
            "score": np.full(n, np.nan),
            "sig": _sig_array(np.full((n, k), EMPTY_SIGNATURE, np.uint32)),
            **(
                {"shingles": _no_shingles(n)}
                if st.config.lsh.verify == "exact"
                else {}
            ),
        }
    )


def _with_stat_columns(table: pa.Table, cfg) -> pa.Table:
    """With statistics on, every statistic as a float64 ``stat_NAME`` column, last and in
    ``GOPHER_REPETITION_LIMITS`` order, NaN for a row without one (rejected, empty, or a task
    with no row at all): every sign file, and so every manifest part, has one schema."""
    from dedupe.spans.stats import GOPHER_REPETITION_LIMITS

    if not (cfg.spans.stats or cfg.spans.gopher_filter):
        return table
    have = {n: table[n] for n in table.column_names if n.startswith("stat_")}
    table = table.drop_columns(list(have))
    for name in GOPHER_REPETITION_LIMITS:
        column = have.get(f"stat_{name}")
        values = (np.full(table.num_rows, np.nan) if column is None
                  else column.to_numpy(zero_copy_only=False).astype(np.float64))
        table = table.append_column(f"stat_{name}", pa.array(values, pa.float64()))
    return table


_BATCH_BYTES = 16 << 20  # text bytes per piece: bounds numpy temporaries whatever the row size


def _by_bytes(rb, limit: int):
    """Cut a read batch into pieces of at most ``limit`` text bytes (at least one row each)."""
    batch = rb.batch
    if batch.num_rows <= 1 or batch.nbytes <= limit:
        yield rb
        return
    text = batch.column(0)
    size = pc.binary_length(text.fill_null("")).to_numpy(zero_copy_only=False).astype(np.int64)
    bounds = [0]
    total = 0
    for i, s in enumerate(size.tolist()):
        if total and total + s > limit:
            bounds.append(i)
            total = 0
        total += s
    bounds.append(batch.num_rows)
    for k, (lo, hi) in enumerate(itertools.pairwise(bounds)):
        yield ReadBatch(batch.slice(lo, hi - lo), rb.source_rows[lo:hi],
                        rb.rejected if k == 0 else [])


def _write_span_files(st: SignTask, table: pa.Table, extra: dict) -> None:
    sp = st.config.spans
    rep_path, line_path = span_paths(st.path)
    if sp.repeats:
        rep = (pa.concat_tables(extra["repeats"]) if extra["repeats"]
               else REPEAT_SCHEMA.empty_table())
        write_ipc(rep.sort_by([("source_row", "ascending"), ("start", "ascending")]), rep_path)
    if sp.boilerplate or sp.windows:
        write_lines(extra["lines"], table["source_row"].to_numpy(), line_path, sp.partitions)
    if sp.near_passages:
        from dedupe.near.lsh import lsh_params
        from dedupe.pipeline.passage_stage import passage_config

        extra["passages"].finish(table["source_row"].to_numpy(), st.config,
                                 *lsh_params(passage_config(st.config)))


def _reject_all(st: SignTask, parts: list) -> None:
    """Every row of a source that cannot join the run, each with the same reason."""
    rows = list_rows(st.task)
    parts.append(_rejected_part(st, rows, [st.reject_reason] * len(rows)))


def sign_task(st: SignTask) -> SignResult:
    """Run stage 1 for one task and write its Arrow file (temporary name, then rename)."""
    import time

    t0 = time.perf_counter()
    rss = PeakRSS.start()
    inp = st.config.input
    columns = [inp.text_column]
    for extra in (inp.id_column, st.config.cluster.survivor_column):
        if extra and extra not in columns:
            columns.append(extra)
    parts: list[pa.Table] = []
    extra: dict = {"repeats": [], "lines": [],
                   "passages": (PassageSpill(passage_path(st.path))
                                if st.config.spans.near_passages else None)}
    seen = None  # the schema of the task's rows, every column
    if st.reject_reason is not None:
        _reject_all(st, parts)
    else:
        try:
            for rb in read_task(
                st.task,
                columns,
                batch_rows=inp.batch_rows,
                on_bad_row=inp.on_bad_row,
                text_column=inp.text_column,
                max_row_bytes=inp.max_row_bytes,
                check_all_columns=st.check_all_columns,
            ):
                if rb.schema is not None and rb.batch.num_rows:
                    seen, _ = unify(seen, rb.schema)
                for piece in _by_bytes(rb, _BATCH_BYTES):
                    _sign_batch(piece, st, parts, extra)
        except BaseException as exc:
            if extra["passages"] is not None:
                extra["passages"].abort(exc)
            raise
    if parts:
        table = pa.concat_tables(parts, promote_options="default").sort_by("source_row")
    else:
        table = _rejected_part(st, np.zeros(0, np.int64), [])
    table = _with_stat_columns(table, st.config)
    _write_span_files(st, table, extra)
    if st.lsh is not None:
        table = with_band_keys(table, *st.lsh)
    if seen is not None:
        table = table.replace_schema_metadata({_SCHEMA_KEY: seen.serialize().to_pybytes()})
    # last: an existing sign file means the whole task finished; its schemes say how it was made
    write_ipc(table, st.path, {f"dedupe.{k}": v for k, v in scheme_fields().items()})
    rejected = int(pc.sum(pc.equal(table["status"], REJECTED)).as_py() or 0)
    return SignResult(st.task.index, table.num_rows, rejected, time.perf_counter() - t0,
                      rss.stop())


def input_schema(sign_path: str) -> pa.Schema | None:
    """The schema of the input rows a sign file covers (None: no row was read)."""
    import pyarrow.ipc as ipc

    blob = ipc_metadata(sign_path).get(_SCHEMA_KEY)
    return None if blob is None else ipc.read_schema(pa.py_buffer(blob))
