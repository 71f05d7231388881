"""The Ray engine runs the same stages and gives byte-identical manifests."""

from __future__ import annotations

import os
import sys

import pyarrow.parquet as pq
import pytest

import dedupe
from tests.synth import make_corpus


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    folder = tmp_path_factory.mktemp("ray")
    table = make_corpus(300, seed=12)
    for i in range(3):
        pq.write_table(table.slice(i * 100, 100), folder / f"p{i}.parquet")
    serial = folder.parent / "serial"
    dedupe.run([folder], serial, engine__name="serial", rows_per_shard=60)
    return folder, serial


def _same(a, b):
    for name in ("manifest.parquet", "spans.parquet", "data"):
        assert pq.read_table(a / name).equals(pq.read_table(b / name)), name


def test_missing_extra_names_the_install_command(monkeypatch):
    from dedupe.engines.ray_engine import _import_ray

    monkeypatch.setitem(sys.modules, "ray", None)
    with pytest.raises(dedupe.ConfigError, match=r"pip install 'dedupe\[ray\]'"):
        _import_ray()


@pytest.mark.slow
def test_local_ray_gives_identical_outputs(corpus, tmp_path):
    pytest.importorskip("ray", reason="ray is not installed (pip install 'dedupe[ray]')")
    folder, serial = corpus
    dedupe.run([folder], tmp_path / "r", engine__name="ray", workers=2, rows_per_shard=60)
    _same(serial, tmp_path / "r")


@pytest.mark.slow
def test_two_node_ray_cluster_gives_identical_outputs(corpus, tmp_path, monkeypatch):
    ray = pytest.importorskip("ray", reason="ray is not installed (pip install 'dedupe[ray]')")
    from ray.cluster_utils import Cluster

    # Ray 2.60 turns token authentication on by default; local test nodes run without it
    monkeypatch.setenv("RAY_AUTH_MODE", "disabled")
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1})
    cluster.add_node(num_cpus=1)
    try:
        cluster.wait_for_nodes()
        folder, serial = corpus
        # several decide partitions, so the decide steps' tasks run on both nodes
        dedupe.run([folder], tmp_path / "c", engine__name="ray", address=cluster.address,
                   rows_per_shard=60, partitions=5)
        _same(serial, tmp_path / "c")
    finally:
        if ray.is_initialized():
            ray.shutdown()
        cluster.shutdown()
        os.environ.pop("RAY_ADDRESS", None)
