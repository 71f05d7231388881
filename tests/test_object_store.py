"""A work folder on an object store (``--workdir s3://bucket/prefix``), tested against an S3
server started here (moto's, from the ``test`` extra) and stopped after; skipped, with the
reason, where it cannot start."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import textwrap
import uuid
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

import dedupe
from dedupe.cli import main
from dedupe.io import fs
from dedupe.io.spill import ipc_metadata, read_ipc, write_ipc
from tests.synth import make_corpus

KEY = "testing"
RUN = {"id_column": "id", "rows_per_shard": 70}


@dataclass(frozen=True)
class Store:
    fs: pafs.S3FileSystem  # to look into the bucket as a user would
    endpoint: str  # host:port
    bucket: str

    def files(self, prefix: str) -> dict[str, object]:
        """``{key: modification time}`` of every object under ``prefix`` (folder markers not)."""
        sel = pafs.FileSelector(f"{self.bucket}/{prefix}", recursive=True, allow_not_found=True)
        return {i.path: i.mtime for i in self.fs.get_file_info(sel)
                if i.type == pafs.FileType.File}


@pytest.fixture(scope="module")
def store():
    """A moto S3 server on a free port, a fresh bucket, and the AWS_* variables that lead
    pyarrow (here and in every worker process, which inherits them) to it."""
    try:
        from moto.server import ThreadedMotoServer
    except ImportError:
        pytest.skip("moto[server] is not installed (pip install -e '.[test]')")
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # a line per request otherwise
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    try:
        server.start()
    except Exception as exc:  # any reason the server cannot run here
        pytest.skip(f"the S3 test server (moto) cannot start: {exc}")
    host, port = server.get_host_and_port()
    endpoint = f"{host}:{port}"
    bucket = f"dedupe-{uuid.uuid4().hex[:8]}"  # a new bucket: a new filesystem in fs's cache
    with pytest.MonkeyPatch.context() as mp:
        for name, value in (("AWS_ACCESS_KEY_ID", KEY), ("AWS_SECRET_ACCESS_KEY", KEY),
                            ("AWS_DEFAULT_REGION", "us-east-1"),
                            ("AWS_ENDPOINT_URL", f"http://{endpoint}")):
            mp.setenv(name, value)
        s3 = pafs.S3FileSystem(access_key=KEY, secret_key=KEY, region="us-east-1",
                               endpoint_override=endpoint, scheme="http",
                               allow_bucket_creation=True)
        s3.create_dir(bucket)
        yield Store(s3, endpoint, bucket)
    server.stop()


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """Six Parquet files with duplicates and boilerplate, and a run of them with the work
    folder on the local disk (the reference)."""
    folder = tmp_path_factory.mktemp("store-corpus")
    table = make_corpus(420, seed=8)
    for i in range(6):
        pq.write_table(table.slice(i * 70, 70), folder / f"part-{i}.parquet")
    reference = tmp_path_factory.mktemp("store-reference") / "run"
    dedupe.run([folder], reference, workers=2, **RUN)
    return folder, reference


def _same_outputs(a: Path, b: Path) -> None:
    assert pq.read_table(a / "manifest.parquet").equals(pq.read_table(b / "manifest.parquet"))
    assert pq.read_table(a / "spans.parquet").equals(pq.read_table(b / "spans.parquet"))
    names = sorted(os.listdir(a / "data"))
    assert names == sorted(os.listdir(b / "data")) and names
    for name in names:
        assert pq.read_table(a / "data" / name).equals(pq.read_table(b / "data" / name))


def test_layer_round_trip_with_the_endpoint_in_the_uri(store, monkeypatch):
    """The URI's query reaches the store without AWS_ENDPOINT_URL, and stays on every path
    joined to it or split from it."""
    monkeypatch.delenv("AWS_ENDPOINT_URL")
    base = f"s3://{store.bucket}/layer?endpoint_override={store.endpoint}&scheme=http"
    folder = fs.join(base, "sub")
    assert folder == (f"s3://{store.bucket}/layer/sub?endpoint_override={store.endpoint}"
                      "&scheme=http")
    fs.makedirs(folder)
    path = fs.join(folder, "t.arrow")
    assert fs.split(path) == (folder, "t.arrow")
    write_ipc(pa.table({"x": [1, 2, 3]}), path, {"k": "v"})
    fs.write_text(fs.join(folder, "plan.json"), "{}")
    assert read_ipc(path).column("x").to_pylist() == [1, 2, 3]
    assert ipc_metadata(path)[b"k"] == b"v"
    assert sorted(fs.listdir(folder)) == ["plan.json", "t.arrow"]
    assert fs.read_text(fs.join(folder, "plan.json")) == "{}"
    assert fs.size(path) == store.fs.get_file_info(f"{store.bucket}/layer/sub/t.arrow").size
    fs.remove_tree(folder)
    assert not fs.exists(path) and not store.files("layer")


def test_a_failed_write_leaves_no_object(store):
    """A file that fails halfway never shows up under its name: a resumed run would take it
    for a finished task."""
    path = f"s3://{store.bucket}/failed/x.arrow"
    with pytest.raises(RuntimeError), fs.open_output(path) as sink:
        sink.write(b"half a file")
        raise RuntimeError("killed halfway")
    assert not fs.exists(path) and not store.files("failed")


def test_run_with_the_work_folder_on_s3_matches_a_local_one(store, corpus, tmp_path):
    folder, reference = corpus
    out = tmp_path / "out"
    result = CliRunner().invoke(main, [
        "run", str(folder), "--out", str(out), "--workdir", f"s3://{store.bucket}/work",
        "--workers", "2", "--id-column", "id", "--rows-per-shard", "70", "--quiet"])
    assert result.exit_code == 0, result.output
    _same_outputs(reference, out)
    assert store.files("work") == {}, "the run left work files in the bucket"


HARNESS = textwrap.dedent("""
    import os, signal, sys
    import dedupe

    def progress(name, done, total, result):
        if name == "boilerplate" and done >= 2:
            os.kill(os.getpid(), signal.SIGKILL)

    if __name__ == "__main__":
        dedupe.run([sys.argv[1]], sys.argv[2], workdir=sys.argv[3] or None, workers=2,
                   id_column="id", rows_per_shard=70, progress=progress)
""")


def test_killed_run_resumes_from_the_files_in_the_bucket(store, corpus, tmp_path):
    """SIGKILL in the boilerplate stage, then the same command: the sign files in the bucket
    are reused as they are (no sign task runs, no object is rewritten)."""
    folder, reference = corpus
    out, workdir = tmp_path / "out", f"s3://{store.bucket}/resume"
    script = tmp_path / "harness.py"
    script.write_text(HARNESS)
    proc = subprocess.run([sys.executable, str(script), str(folder), str(out), workdir],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == -9, proc.stderr
    signed = {k: t for k, t in store.files("resume").items() if "/sign-" in k}
    assert len(signed) == 6
    seen: dict = {}

    def progress(name, done, total, result):
        seen.setdefault(name, store.files("resume"))

    report = dedupe.run([folder], out, workdir=workdir, workers=2, progress=progress, **RUN)
    assert report.outputs["resumed"] is True
    assert "sign" not in seen
    assert {k: seen["decide"][k] for k in signed} == signed
    _same_outputs(reference, out)
    assert store.files("resume") == {}


@pytest.mark.parametrize("workdir,reason", [
    ("nosuch://bucket/work", "Unrecognized filesystem type"),
    ("s3:///work", "names no bucket"),
    ("s3://no-such-bucket-here/work", "not found"),
])
def test_a_bad_workdir_is_refused_in_one_line_before_any_work(store, corpus, tmp_path, workdir,
                                                              reason):
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["run", str(corpus[0]), "--out", str(out),
                                       "--workdir", workdir, "--quiet"])
    assert result.exit_code != 0
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and f"--workdir {workdir}" in lines[0] and reason in lines[0], \
        result.output
    assert not out.exists()


def _same_outputs_in_bucket(store: Store, reference: Path, prefix: str) -> None:
    """The run folder ``prefix`` in the bucket holds the same tables as ``reference``."""
    def read(name):
        return pq.read_table(f"{store.bucket}/{prefix}/{name}", filesystem=store.fs)

    assert read("manifest.parquet").equals(pq.read_table(reference / "manifest.parquet"))
    assert read("spans.parquet").equals(pq.read_table(reference / "spans.parquet"))
    names = sorted(os.listdir(reference / "data"))
    assert sorted(fs.listdir(f"s3://{store.bucket}/{prefix}/data")) == names
    for name in names:
        assert read(f"data/{name}").equals(pq.read_table(reference / "data" / name))


def _run_cli(*args: str):
    return CliRunner().invoke(main, ["run", *args, "--workers", "2", "--id-column", "id",
                                     "--rows-per-shard", "70", "--quiet"])


def test_run_folder_on_s3_matches_a_local_one(store, corpus):
    """``--out s3://...`` (its work folder inside it by default): the same files as a local
    run folder, the report and marker there, no work file left."""
    folder, reference = corpus
    result = _run_cli(str(folder), "--out", f"s3://{store.bucket}/run")
    assert result.exit_code == 0, result.output
    _same_outputs_in_bucket(store, reference, "run")
    names = set(fs.listdir(f"s3://{store.bucket}/run"))
    assert {"report.json", "report.md", ".dedupe"} <= names
    assert not [k for k in store.files("run") if "/_work/" in k]


def test_overwrite_on_s3_replaces_only_a_dedupe_folder(store, corpus):
    folder, _ = corpus
    out = f"s3://{store.bucket}/again"
    assert _run_cli(str(folder), "--out", out).exit_code == 0
    refused = _run_cli(str(folder), "--out", out)
    assert refused.exit_code != 0 and "pass --overwrite" in refused.output
    stray = f"s3://{store.bucket}/again/data/stray.txt"
    fs.write_text(stray, "left by hand")
    assert _run_cli(str(folder), "--out", out, "--overwrite").exit_code == 0
    assert not fs.exists(stray)
    foreign = f"s3://{store.bucket}/foreign"
    fs.write_text(fs.join(foreign, "notes.txt"), "not dedupe's")
    result = _run_cli(str(folder), "--out", foreign, "--overwrite")
    assert result.exit_code != 0 and "was not made by dedupe" in result.output
    assert fs.read_text(fs.join(foreign, "notes.txt")) == "not dedupe's"


def test_a_run_folder_on_s3_has_one_writer_on_this_machine(store, corpus):
    """An object store has no lock: a local file named after the URI stands in for it."""
    from dedupe.io.folders import FolderLock

    folder, _ = corpus
    out = f"s3://{store.bucket}/locked"
    lock = FolderLock(out, "run folder")
    try:
        result = _run_cli(str(folder), "--out", out)
    finally:
        lock.release()
    assert result.exit_code != 0 and "another process is writing" in result.output
    assert store.files("locked") == {}


def test_killed_run_with_out_on_s3_resumes(store, corpus, tmp_path):
    """SIGKILL in the write stage with the run folder in the bucket: the same command
    finishes it, keeping the shards already there."""
    folder, reference = corpus
    out = f"s3://{store.bucket}/killed"
    script = tmp_path / "harness.py"
    script.write_text(HARNESS.replace('"boilerplate"', '"write"'))
    proc = subprocess.run([sys.executable, str(script), str(folder), out, ""],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == -9, proc.stderr
    written = {k: t for k, t in store.files("killed/data").items()}
    assert written
    report = dedupe.run([folder], out, workers=2, **RUN)
    assert report.outputs["resumed"] is True
    assert {k: store.files("killed/data")[k] for k in written} == written
    _same_outputs_in_bucket(store, reference, "killed")


def test_a_bad_out_uri_is_refused_in_one_line(store, corpus):
    folder, _ = corpus
    result = _run_cli(str(folder), "--out", "nosuch://bucket/run")
    lines = result.output.strip().splitlines()
    assert result.exit_code != 0 and len(lines) == 1, result.output
    assert "--out nosuch://bucket/run" in lines[0] and "Unrecognized filesystem" in lines[0]


@pytest.mark.parametrize("out,workdir,relation", [
    ("run-holds", "run-holds/work", "holds the work folder"),
    ("work-holds/run", "work-holds", "sits inside the work folder"),
])
def test_a_run_folder_and_work_folder_on_s3_never_nest(store, corpus, out, workdir, relation):
    """The folder rules compare URIs too: replacing the run folder must never delete the
    work folder, nor the run folder's files be read as work files."""
    folder, _ = corpus
    base = f"s3://{store.bucket}"
    result = _run_cli(str(folder), "--out", f"{base}/{out}", "--workdir", f"{base}/{workdir}")
    assert result.exit_code != 0 and relation in result.output, result.output
    assert not store.files(out.split("/")[0])


@pytest.mark.slow
def test_two_node_ray_cluster_with_the_work_folder_on_s3(store, corpus, tmp_path, monkeypatch):
    """Ray without a shared disk: two nodes, every task's files (sign, decide steps,
    components rounds, shards' inputs) in the bucket; the same outputs as a local run."""
    ray = pytest.importorskip("ray", reason="ray is not installed (pip install 'dedupe[ray]')")
    from ray.cluster_utils import Cluster

    monkeypatch.setenv("RAY_AUTH_MODE", "disabled")  # Ray 2.60's default token auth, off here
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1})
    cluster.add_node(num_cpus=1)  # started after the store: it inherits the AWS_* variables
    try:
        cluster.wait_for_nodes()
        folder, reference = corpus
        dedupe.run([folder], tmp_path / "out", engine__name="ray", address=cluster.address,
                   workdir=f"s3://{store.bucket}/ray-work", partitions=5, **RUN)
        _same_outputs(reference, tmp_path / "out")
        assert store.files("ray-work") == {}, "the run left work files in the bucket"
    finally:
        if ray.is_initialized():
            ray.shutdown()
        cluster.shutdown()
        os.environ.pop("RAY_ADDRESS", None)
