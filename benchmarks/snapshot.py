"""Freeze the ``dedupe`` package for a benchmark session, shared by the benchmark scripts.

The package may be edited while a long benchmark runs; without a frozen copy the repeats of one
session could measure different code. Each file is read once and its bytes are both hashed and
written, so the digest names exactly what was copied; every measured run imports the copy. The
corpus generator ``tests.synth`` (not part of the installed package) is frozen with it, so that a
child process with the snapshot on its path imports both from the copy.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
from pathlib import Path

__all__ = ["child_env", "snapshot_dedupe", "synth_digest"]

ROOT = Path(__file__).resolve().parents[1]
SYNTH = ("tests/__init__.py", "tests/synth")  # copied next to ``dedupe`` (paths under ROOT)


def _generator_files() -> list[tuple[str, Path]]:
    """``(path under the snapshot root, source file)`` of the corpus generator."""
    out = []
    for rel in SYNTH:
        src = ROOT / rel
        paths = sorted(src.glob("*.py")) if src.is_dir() else [src]
        out += [(p.relative_to(ROOT).as_posix(), p) for p in paths]
    return out


def snapshot_dedupe(workdir: Path, prefix: str = "dedupe-src") -> tuple[Path, str]:
    """Copy ``dedupe`` as it is now into ``workdir/prefix-DIGEST``; return (root, digest)."""
    spec = importlib.util.find_spec("dedupe")
    if spec is None or spec.origin is None:
        raise SystemExit("dedupe is not importable; install it first (pip install -e .)")
    src = Path(spec.origin).parent
    files = sorted(p for p in src.rglob("*")
                   if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc")
    blobs = [("dedupe/" + p.relative_to(src).as_posix(), p.read_bytes()) for p in files]
    blobs += [(rel, p.read_bytes()) for rel, p in _generator_files()]
    digest = hashlib.sha256()
    for rel, data in blobs:
        digest.update(rel.encode() + b"\0" + hashlib.sha256(data).digest())
    tag = digest.hexdigest()[:12]
    root = workdir / f"{prefix}-{tag}"
    if not (root / "_COMPLETE").exists():
        shutil.rmtree(root, ignore_errors=True)
        for rel, data in blobs:
            dest = root / rel
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_bytes(data)
        (root / "_COMPLETE").write_text(tag)
    return root, tag


def synth_digest(snapshot: Path) -> str:
    """A short digest of the corpus generator frozen in ``snapshot``: names a cached corpus."""
    files = sorted((snapshot / "tests" / "synth").glob("*.py"))
    return hashlib.sha256(b"".join(p.read_bytes() for p in files)).hexdigest()[:8]


def child_env(snapshot: Path) -> dict[str, str]:
    """The environment of every subprocess: the snapshot first on the import path."""
    path = os.environ.get("PYTHONPATH")
    return {**os.environ, "PYTHONPATH": str(snapshot) + (os.pathsep + path if path else "")}
