"""``dedupe plan`` / ``dedupe run --dry-run``: what a run will cost, from file metadata alone.

Parquet footers give exact row counts and the uncompressed size of the text column. JSONL files
have no footer: rows are estimated from the file size and the first megabytes of the stream
(compressed files: from the compressed bytes those lines took). The estimates of work-folder
disk and memory follow from what each stage stores per row (see the constants below).
"""

from __future__ import annotations

import gzip

import pyarrow.parquet as pq

from dedupe.errors import InputError
from dedupe.io.sources import expand_inputs, split_tasks
from dedupe.io.streams import open_file, open_stream
from dedupe.io.watch import data_error
from dedupe.near.lsh import lsh_params, s_curve
from dedupe.pipeline.schema import check_schemas

__all__ = ["estimate"]

# bytes per row of the sign file besides the signature: digest 16, id ~40, lengths and flags 40
_SIGN_ROW_OVERHEAD = 100
# the main process holds nothing per row (every stage is tasks over work-folder files), only
# per work task: its description, its sign, finish and shard results and placements (a few KB)
_MAIN_BYTES_PER_TASK = 4 << 10
_MAIN_BASE = 130 << 20  # the interpreter, numpy, pyarrow: the main process before any row
# boilerplate line records: about one line per 80 characters, 32 bytes each, exact + skeleton
_LINE_RECORD_PER_TEXT_BYTE = 2 * 32 / 80
# numpy temporaries of a worker per text byte of a batch (code points, tokens, shingles, blocks)
_WORKER_BYTES_PER_TEXT_BYTE = 60


def _parquet_stats(src, text_column: str) -> tuple[int, int, bool]:
    fh = open_file(src)
    with fh:
        try:
            meta = pq.ParquetFile(fh).metadata
        except Exception as exc:  # a storage failure raises in data_error; the rest is data
            reason = data_error(exc, fh, src.path)
            raise InputError(src.path, f"not a readable Parquet file: {reason}",
                             hint="the footer is missing or corrupt") from None
    text_bytes = 0
    for rg in range(meta.num_row_groups):
        group = meta.row_group(rg)
        for c in range(group.num_columns):
            col = group.column(c)
            if col.path_in_schema == text_column:
                text_bytes += col.total_uncompressed_size
    return meta.num_rows, text_bytes, True


_PIECE = 1 << 14  # small reads: a broken stream loses at most this much of the sample


def _jsonl_stats(src, on_bad_row: str, sample: int = 4 << 20) -> tuple[int, int, bool]:
    """Rows and bytes of a JSONL file from its first ``sample`` bytes. A stream that cannot be
    decoded stops the estimate as it stops the run (``--on-bad-row reject``: estimated from the
    part before the break)."""
    if src.compression == "gzip":  # Python's reader tells how many compressed bytes it took
        raw = open_file(src)
        stream = gzip.GzipFile(fileobj=raw)
    else:
        stream, raw = open_stream(src)
    pieces: list[bytes] = []
    got, broken = 0, False
    with raw:
        try:
            while got < sample:
                piece = stream.read(min(_PIECE, sample - got))
                if not piece:
                    break
                pieces.append(piece)
                got += len(piece)
        except Exception as exc:  # a storage failure raises in data_error; the rest is data
            reason = data_error(exc, raw, src.path)
            if on_bad_row == "error":
                raise InputError(src.path, f"the stream cannot be read: {reason}",
                                 hint="the file is truncated or corrupt; pass --on-bad-row "
                                      "reject to keep the rows before the break") from None
            broken = True
        used = raw.tell() or 1
    data = b"".join(pieces)
    lines = max(1, data.count(b"\n"))
    if broken or len(data) < sample:  # the whole file (or all of it that can be) was read
        return lines, len(data), not broken
    if src.compression not in (None, "gzip"):  # read ahead: the ratio of a typical stream
        used = max(1, len(data) // 4)
    ratio = len(data) / used
    total = int(src.size * ratio)
    return int(total / (len(data) / lines)), total, False


def estimate(cfg) -> dict:
    """Rows, bytes, work-folder disk and memory of a run of ``cfg``, without reading data."""
    sources = expand_inputs(cfg.input.paths, cfg.input.format)
    check_schemas(sources, cfg, keys_only=True)  # the errors the run would stop with first
    rows = text_bytes = 0
    exact = True
    for src in sources:
        if src.format == "parquet":
            r, b, e = _parquet_stats(src, cfg.input.text_column)
        else:
            r, b, e = _jsonl_stats(src, cfg.input.on_bad_row)
        rows, text_bytes, exact = rows + r, text_bytes + b, exact and e
    tasks = split_tasks(sources)
    k = cfg.minhash.num_perm
    bands, r = lsh_params(cfg)
    sign_disk = rows * (k * 4 + bands * 8 + _SIGN_ROW_OVERHEAD)
    line_disk = int(text_bytes * _LINE_RECORD_PER_TEXT_BYTE) if cfg.spans.boilerplate else 0
    window_disk = int(text_bytes / 6 * 32) if cfg.spans.windows else 0
    main_memory = len(tasks) * _MAIN_BYTES_PER_TASK + _MAIN_BASE
    avg_doc = text_bytes / rows if rows else 0
    # a sign task's batch, or a decide partition / a batch of signatures (verification, index
    # generations): a quarter of --memory-limit, held about twice while it is copied
    batch = int(cfg.input.batch_rows * avg_doc * _WORKER_BYTES_PER_TEXT_BYTE)
    partition = min(cfg.engine.memory_bytes // 2, rows * bands * 64 + int(rows * 0.5) * k * 8)
    worker_memory = max(batch, partition) + (150 << 20)
    return {
        "files": len(sources), "tasks": len(tasks), "rows": rows, "rows_exact": exact,
        "text_bytes": text_bytes,
        "work_disk_bytes": sign_disk + line_disk + window_disk,
        "output_bytes_estimate": int(text_bytes * 0.4),
        "main_memory_bytes": main_memory, "worker_memory_bytes": worker_memory,
        "workers": cfg.engine.resolved_workers, "bands": bands, "rows_per_band": r,
        "s_curve": s_curve(bands, r),
    }
