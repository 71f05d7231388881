"""Fault injection: hostile input and a hostile machine; every input row accounted for.

Each test injects one fault, runs `dedupe run`, and checks the row accounting afterwards: every
input row exactly once across the output shards and the manifest, or a clear error and no
half-written file under a final name. The ledger prints totals at the end of the pytest run.
"""

from __future__ import annotations

import errno
import gzip
import io
import json
import os
import subprocess
import sys
import textwrap
from typing import ClassVar

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import dedupe
from dedupe.errors import DedupeError

pytestmark = pytest.mark.faults


def _run_and_account(fault, record, paths, out, rows_in, **kw):
    kw.setdefault("engine__name", "serial")
    try:
        dedupe.run(paths, out, **kw)
    except DedupeError as exc:
        record(fault, rows_in, None)
        # a clean stop: nothing under a final name that is not complete
        for name in os.listdir(out / "data") if (out / "data").exists() else []:
            pq.read_metadata(out / "data" / name)
        return exc
    assert record(fault, rows_in, out) == 0
    return None


def _texts(n, seed=0):
    rng = np.random.default_rng(seed)
    words = [f"w{i}" for i in range(3000)]
    return [" ".join(rng.choice(words, 40)) for _ in range(n)]


def test_bad_parquet_page_rejects_its_rows(tmp_path, fault_ledger):
    path = tmp_path / "a.parquet"
    pq.write_table(pa.table({"text": _texts(300)}), path, row_group_size=100, compression="zstd")
    meta = pq.read_metadata(path)
    col = meta.row_group(1).column(0)
    data = bytearray(path.read_bytes())
    mid = col.data_page_offset + col.total_compressed_size // 2
    data[mid : mid + 64] = b"\xff" * 64
    path.write_bytes(bytes(data))
    exc = _run_and_account(
        "bad Parquet page (error mode)", fault_ledger, [path], tmp_path / "e", 300
    )
    assert exc is not None and "a.parquet" in str(exc)
    assert (
        _run_and_account(
            "bad Parquet page (reject)",
            fault_ledger,
            [path],
            tmp_path / "r",
            300,
            on_bad_row="reject",
        )
        is None
    )
    m = pq.read_table(tmp_path / "r" / "manifest.parquet")
    rejected = m.filter(pa.compute.equal(m["action"], "rejected"))
    assert rejected.num_rows >= 1
    assert all(
        "unreadable Parquet data in row group" in r or "UTF-8" in r
        for r in rejected["reason"].to_pylist()
    )


def test_truncated_zstd(tmp_path, fault_ledger):
    import zstandard

    raw = "".join(json.dumps({"text": t}) + "\n" for t in _texts(3000)).encode()
    blob = zstandard.ZstdCompressor().compress(raw)
    path = tmp_path / "a.jsonl.zst"
    path.write_bytes(blob[: len(blob) // 2])
    exc = _run_and_account("truncated .zst", fault_ledger, [path], tmp_path / "e", 3000)
    assert exc is not None and "truncated or corrupt" in str(exc)
    assert (
        _run_and_account(
            "truncated .zst (reject)",
            fault_ledger,
            [path],
            tmp_path / "r",
            _readable_lines(raw, len(blob) // 2) + 1,
            on_bad_row="reject",
        )
        is None
    )


def _readable_lines(raw: bytes, cut: int) -> int:
    """How many whole lines a reader gets from the first ``cut`` compressed bytes."""
    import zstandard

    blob = zstandard.ZstdCompressor().compress(raw)[:cut]
    out = b""
    reader = zstandard.ZstdDecompressor().stream_reader(blob)
    try:
        while chunk := reader.read(1 << 16):
            out += chunk
    except zstandard.ZstdError:
        pass
    return out.count(b"\n")


def test_nul_bytes_and_control_characters(tmp_path, fault_ledger):
    path = tmp_path / "a.jsonl"
    path.write_bytes(
        b'{"text": "fine text one"}\n{"text": "nul \\u0000 escaped ok"}\n'
        b'{"text": "raw \x00 nul"}\n{"text": "tab\\tand\\u0007bell"}\n'
    )
    assert (
        _run_and_account("NUL bytes", fault_ledger, [path], tmp_path / "o", 4, on_bad_row="reject")
        is None
    )


def test_zero_row_files_and_all_unique(tmp_path, fault_ledger):
    corpus = tmp_path / "in"
    corpus.mkdir()
    pq.write_table(pa.table({"text": pa.array([], pa.string())}), corpus / "empty.parquet")
    (corpus / "empty.jsonl").write_text("")
    pq.write_table(pa.table({"text": _texts(200, seed=3)}), corpus / "full.parquet")
    assert _run_and_account("zero-row files", fault_ledger, [corpus], tmp_path / "o", 200) is None
    report = json.loads((tmp_path / "o" / "report.json").read_text())
    assert report["counts"]["kept"] == 200


def test_many_copies_of_one_document(tmp_path, fault_ledger):
    n = 100_000
    pq.write_table(
        pa.table({"text": ["the very same page, copied again and again"] * n}),
        tmp_path / "c.parquet",
        row_group_size=25_000,
    )
    assert (
        _run_and_account(
            "100k copies of one document",
            fault_ledger,
            [tmp_path / "c.parquet"],
            tmp_path / "o",
            n,
            workers=2,
            engine__name="local",
        )
        is None
    )
    report = json.loads((tmp_path / "o" / "report.json").read_text())
    assert report["counts"]["kept"] == 1 and report["counts"]["exact_duplicate"] == n - 1


def _mount_tmpfs(mnt, options: str):
    """A tmpfs at ``mnt`` with mount ``options``, or skip where mounting is not allowed."""
    mnt.mkdir()
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(mnt)],
                          capture_output=True)
    if proc.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs ({options}) here: needs root")
    return mnt


def test_disk_full_leaves_no_partial_shard(tmp_path, fault_ledger):
    mnt = _mount_tmpfs(tmp_path / "small", "size=1m")
    try:
        pq.write_table(pa.table({"text": _texts(20000, seed=5)}), tmp_path / "in.parquet")
        exc = _run_and_account(
            "disk full",
            fault_ledger,
            [tmp_path / "in.parquet"],
            mnt / "out",
            20000,
            workdir=str(tmp_path / "work"),
        )
        assert exc is not None and "disk is full" in str(exc)
        leftovers = [f for f in os.listdir(mnt / "out" / "data") if not f.startswith(".")]
        for name in leftovers:
            pq.read_metadata(mnt / "out" / "data" / name)  # complete, or not there at all
    finally:
        subprocess.run(["umount", str(mnt)], capture_output=True)


def test_read_only_output(tmp_path, fault_ledger):
    mnt = _mount_tmpfs(tmp_path / "ro", "ro,size=1m")
    try:
        pq.write_table(pa.table({"text": _texts(10)}), tmp_path / "in.parquet")
        exc = _run_and_account(
            "read-only output", fault_ledger, [tmp_path / "in.parquet"], mnt / "out", 10
        )
        assert exc is not None and "cannot create" in str(exc)
    finally:
        subprocess.run(["umount", str(mnt)], capture_output=True)


BIG = textwrap.dedent("""
    import resource, sys
    import numpy as np, pyarrow as pa, pyarrow.parquet as pq
    import dedupe
    if __name__ == "__main__":
        rng = np.random.default_rng(0)
        words = np.array([f"w{i}" for i in range(50000)])
        text = " ".join(words[rng.integers(0, 50000, 8_000_000)])[:50_000_000]
        pq.write_table(pa.table({"text": [text, "a small page"]}), sys.argv[1] + "/in.parquet")
        dedupe.run([sys.argv[1] + "/in.parquet"], sys.argv[1] + "/out", workers=1)
        print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
""")


@pytest.mark.slow
def test_fifty_megabyte_document_within_memory_budget(tmp_path, fault_ledger):
    script = tmp_path / "big.py"
    script.write_text(BIG)
    proc = subprocess.run(
        [sys.executable, str(script), str(tmp_path)], capture_output=True, text=True, timeout=600
    )
    assert proc.returncode == 0, proc.stderr
    peak_mib = int(proc.stdout.split()[-1]) / 1024
    assert fault_ledger("50 MB document", 2, tmp_path / "out") == 0
    assert peak_mib < 2048, f"peak RSS {peak_mib:.0f} MiB over the 2 GiB budget"
    out_text = pq.read_table(tmp_path / "out" / "data")["text"].to_pylist()
    assert max(len(t) for t in out_text) == 50_000_000  # hashed on a prefix, written whole


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.lists(st.one_of(st.none(), st.text(max_size=60)), min_size=1, max_size=40),
    st.sampled_from(["parquet", "jsonl", "jsonl.gz"]),
)
def test_reader_round_trip(tmp_path_factory, texts, fmt):
    from dedupe.io.readers import read_task
    from dedupe.io.sources import expand_inputs, split_tasks

    folder = tmp_path_factory.mktemp("rt")
    path = folder / f"in.{fmt}"
    if fmt == "parquet":
        pq.write_table(pa.table({"text": pa.array(texts, pa.string())}), path, row_group_size=7)
    else:
        raw = "".join(json.dumps({"text": t}) + "\n" for t in texts).encode()
        path.write_bytes(gzip.compress(raw) if fmt.endswith("gz") else raw)
    got = {}
    for task in split_tasks(expand_inputs([path])):
        for rb in read_task(task, ["text"], on_bad_row="reject"):
            assert not rb.rejected
            got.update(zip(rb.source_rows.tolist(), rb.batch.column(0).to_pylist()))
    assert [got[i] for i in range(len(texts))] == texts


@settings(
    max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.integers(1, 3), st.integers(0, 2**16), st.lists(st.integers(10, 60), min_size=4,
                                                         max_size=7))
def test_manifest_identical_under_random_worker_counts(tmp_path_factory, workers, seed, sizes):
    """Several input files (Parquet and JSONL: several tasks) and several shards; the serial
    engine and 1-3 worker processes give byte-identical manifests and shards."""
    from tests.synth import make_corpus

    folder = tmp_path_factory.mktemp("w")
    corpus = folder / "in"
    corpus.mkdir()
    table = make_corpus(sum(sizes), seed=seed)
    lo = 0
    for i, n in enumerate(sizes):
        part = table.slice(lo, n)
        lo += n
        if i % 2:
            (corpus / f"p{i}.jsonl").write_text(
                "".join(json.dumps(r) + "\n" for r in part.to_pylist()))
        else:
            pq.write_table(part, corpus / f"p{i}.parquet", row_group_size=17)
    opts = {"rows_per_shard": max(3, sum(sizes) // 8), "id_column": "id"}
    ra = dedupe.run([corpus], folder / "a", engine__name="serial", **opts)
    rb = dedupe.run([corpus], folder / "b", workers=workers, **opts)
    sign = next(st for st in rb.stages if st["name"] == "sign")
    assert sign["tasks"] == len(sizes) and rb.outputs["shards"] >= 3
    assert pq.read_table(folder / "a" / "manifest.parquet").equals(
        pq.read_table(folder / "b" / "manifest.parquet")
    )
    shards = sorted(p.name for p in (folder / "a" / "data").iterdir())
    assert shards == sorted(p.name for p in (folder / "b" / "data").iterdir())
    for name in shards:
        assert pq.read_table(folder / "a" / "data" / name).equals(
            pq.read_table(folder / "b" / "data" / name))
    assert ra.counts == rb.counts


class _FailingFile(io.BytesIO):
    """A file whose reads of bytes ``lo:hi`` fail the way a flaky disk or network does."""

    def __init__(self, data: bytes, lo: int, hi: int, error):
        super().__init__(data)
        self.lo, self.hi, self.error = lo, hi, error

    def read(self, n=-1):
        start = self.tell()
        end = len(self.getbuffer()) if n is None or n < 0 else start + n
        if start < self.hi and end > self.lo:
            raise self.error()
        return super().read(n)


def _flaky_filesystem():
    """An fsspec filesystem (``flaky://``) whose files fail to read in a chosen byte range."""
    fsspec = pytest.importorskip("fsspec")
    from fsspec.implementations.memory import MemoryFileSystem

    class FlakyFileSystem(MemoryFileSystem):
        protocol = "flaky"
        store: ClassVar[dict] = {}
        pseudo_dirs: ClassVar[list] = [""]
        faults: ClassVar[dict] = {}

        @classmethod
        def _strip_protocol(cls, path):
            return super()._strip_protocol(path.removeprefix("flaky://"))

        def _open(self, path, mode="rb", **kwargs):
            f = super()._open(path, mode, **kwargs)
            path = self._strip_protocol(path)
            if mode == "rb" and path in self.faults:
                return _FailingFile(f.getvalue(), *self.faults[path])
            return f

    fsspec.register_implementation("flaky", FlakyFileSystem, clobber=True)
    return FlakyFileSystem()


def _eio():
    return OSError(errno.EIO, "Input/output error")


@pytest.mark.parametrize("error,cause", [(_eio, "Input/output error"),
                                         (MemoryError, "out of memory"),
                                         (TimeoutError, "TimeoutError")])
@pytest.mark.parametrize("fmt", ["jsonl.gz", "parquet"])
@pytest.mark.parametrize("mode", ["error", "reject"])
def test_storage_failure_stops_the_run_with_its_cause(tmp_path, fault_ledger, error, cause,
                                                      fmt, mode):
    """Only bytes that do not decode become rejected rows; a read that fails (I/O error,
    timeout, no memory) stops the run, naming the file and the cause, in either mode."""
    fs = _flaky_filesystem()
    texts = _texts(3000, seed=11)
    path = f"/bucket/{fmt}-{mode}-{error.__name__}/a.{fmt}"
    if fmt == "parquet":
        sink = io.BytesIO()
        pq.write_table(pa.table({"text": texts}), sink, row_group_size=1000)
        data = sink.getvalue()
        col = pq.ParquetFile(io.BytesIO(data)).metadata.row_group(1).column(0)
        start = col.dictionary_page_offset or col.data_page_offset
        window = (start, start + col.total_compressed_size)
    else:
        data = gzip.compress("".join(json.dumps({"text": t}) + "\n" for t in texts).encode())
        window = (len(data) // 2, len(data))
    with fs.open(path, "wb") as fh:
        fh.write(data)
    fs.faults[path] = (*window, error)
    exc = _run_and_account(f"{cause} while reading {fmt} ({mode})", fault_ledger,
                           [f"flaky://{path}"], tmp_path / "o", 3000, on_bad_row=mode)
    assert exc is not None, "the run reported success over a failed read"
    assert f"a.{fmt}" in str(exc) and cause in str(exc)
    assert not (tmp_path / "o" / "report.json").exists()


@pytest.mark.parametrize("error,cause", [(_eio, "Input/output error"),
                                         (MemoryError, "out of memory"),
                                         (TimeoutError, "TimeoutError")])
def test_task_planning_names_a_failed_footer_read_by_its_cause(error, cause):
    """Planning tasks reads each Parquet footer: a read that fails there names its cause, not
    a corrupt footer (only bytes that do not parse are called that)."""
    from dedupe.errors import InputError
    from dedupe.io.sources import expand_inputs, split_tasks

    fs = _flaky_filesystem()
    sink = io.BytesIO()
    pq.write_table(pa.table({"text": _texts(50, seed=3)}), sink)
    data = sink.getvalue()
    path = f"/bucket/plan-{error.__name__}/a.parquet"
    with fs.open(path, "wb") as fh:
        fh.write(data)
    sources = expand_inputs([f"flaky://{path}"])
    fs.faults[path] = (len(data) - 8, len(data), error)
    with pytest.raises(InputError) as info:
        split_tasks(sources)
    assert "a.parquet" in str(info.value) and cause in str(info.value)
    assert "corrupt" not in str(info.value)
    del fs.faults[path]
    with fs.open(path, "wb") as fh:
        fh.write(data[:-8] + b"XXXXXXXX")  # bytes that are not a footer
    with pytest.raises(InputError, match=r"not a readable Parquet file.*footer is missing or "
                                         r"corrupt"):
        split_tasks(expand_inputs([f"flaky://{path}"]))
