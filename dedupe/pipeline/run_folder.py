"""The run folder: its fingerprint, creating, resuming or replacing it, and the report that ends it.

A run folder holds ``data/`` (the shards), ``manifest.parquet/``, ``report.json``/``report.md``
and, while the run is unfinished, ``_work/`` with the intermediate files and ``_work/run.json``
(the fingerprint of the config and inputs that started it). The same command after a crash
finds the same fingerprint and resumes; a folder with another fingerprint is refused. A sweep's
output folder is made the same way (``kind="sweep"``, no fingerprint).
"""

from __future__ import annotations

import hashlib
import json
import os

from dedupe.config import DedupeConfig
from dedupe.errors import OutputError
from dedupe.io import fs
from dedupe.io.atomic import is_temporary
from dedupe.io.folders import FolderLock, claim_folder, empty_folder, write_marker
from dedupe.pipeline.against import index_fingerprint
from dedupe.report import RunReport

__all__ = ["check_workdir", "prepare_out", "run_fingerprint", "work_folder", "write_report"]


_RUN_MARKER = ("_work", "run.json")


def run_fingerprint(cfg: DedupeConfig, sources, indexes: bool = True) -> str:
    """What a run's intermediate files depend on: the config (less the settings that cannot
    change any result: overwrite, work folder, engine and workers), every input file's path,
    size and modification time, and (``indexes``) the state of each ``--against`` index less
    what this very run added to it. A changed config never reuses stale work. With
    ``indexes`` False: the run's key in an index (output folder and index writing left out)."""
    data = cfg.to_dict()
    data["output"].pop("overwrite")
    data["output"].pop("workdir")
    data.pop("engine")
    # the files themselves (below), not how the paths were spelled from the current folder
    data["input"].pop("paths")
    if not fs.is_uri(data["output"]["out"]):
        data["output"]["out"] = os.path.abspath(data["output"]["out"])
    files = []
    for src in sources:
        mtime = os.path.getmtime(src.uri) if os.path.exists(src.uri) else ""
        files.append(f"{src.uri}|{src.size}|{mtime}")
    # the run's key in an index: the same data and config, whatever the output folder and
    # whether the index is written this time
    same = {**data, "output": {k: v for k, v in data["output"].items() if k != "out"},
            "index": {"against": data["index"]["against"]}}
    key = hashlib.sha256(json.dumps([same, files], sort_keys=True, default=str).encode())
    if not indexes:
        return key.hexdigest()[:16]
    files.extend(index_fingerprint(cfg.index.against, key.hexdigest()[:16]))
    blob = json.dumps([data, files], sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def _remove_partial_files(out: str) -> None:
    """Delete the temporary files a killed run left (never a file under a final name)."""
    for folder in (fs.join(out, "data"), fs.join(out, "manifest.parquet"), out):
        if not fs.is_dir(folder):
            continue
        for name in fs.listdir(folder):
            if is_temporary(name) or (name.startswith(".") and name.endswith(".tmp")):
                fs.remove(fs.join(folder, name))


def _resumable(out: str, fingerprint: str | None) -> bool:
    """An unfinished run of the same fingerprint is in ``out`` (refuses one of another)."""
    marker = fs.join(out, *_RUN_MARKER)
    if not fingerprint or not fs.exists(marker) or fs.exists(fs.join(out, "report.json")):
        return False
    if json.loads(fs.read_text(marker)).get("fingerprint") == fingerprint:
        return True
    raise OutputError(f"{out} holds an unfinished run with another config or input; pass "
                      "--overwrite to start again")


def _check_out_uri(out: str, kind: str) -> None:
    """An output folder on an object store: only a run's, and one pyarrow can open."""
    if kind != "run":
        raise OutputError(f"--out {out}: a {kind} folder must be a local path (only dedupe run "
                          "writes to an object store); give a local folder")
    try:
        fs.resolve(out)
    except ValueError as exc:
        raise OutputError(f"--out {out}: {exc}; give a local folder, or a URI that pyarrow "
                          "opens such as s3://bucket/prefix") from None


def prepare_out(out: str, overwrite: bool, fingerprint: str | None = None, *,
                kind: str = "run", protected: dict | None = None) -> tuple[bool, FolderLock]:
    """Create (or resume, or replace) the output folder and lock it for this process.

    Returns ``(resumed, lock)``: ``resumed`` is True when an unfinished run of the same
    fingerprint is there to resume; the caller releases ``lock`` when it is done. A non-empty
    folder is refused unless ``overwrite``, and even then unless dedupe made it; a folder that
    is, holds or sits inside an input or the work folder (``protected``) is always refused
    (see :mod:`dedupe.io.folders`).
    """
    if not out:
        raise OutputError("no output folder given (--out)")
    if fs.is_uri(out):
        _check_out_uri(out, kind)
    filled, resume = claim_folder(out, overwrite, kind, protected,
                                  resumable=lambda: _resumable(out, fingerprint))
    lock = FolderLock(out, f"{kind} folder")
    try:
        if resume:
            _remove_partial_files(out)
        elif filled:
            empty_folder(out)
        write_marker(out, kind)  # first, so the folder is never ours without saying so
        fs.makedirs(fs.join(out, "data"))
        fs.makedirs(fs.join(out, "_work"))
        if fingerprint:
            fs.write_text(fs.join(out, *_RUN_MARKER), json.dumps({"fingerprint": fingerprint}))
        if not fs.is_uri(out) and not os.access(out, os.W_OK):
            raise OutputError(f"{out} is not writable")
    except OSError as exc:
        lock.release()
        raise OutputError(f"cannot create {out}: {exc.strerror or exc}") from None
    except BaseException:
        lock.release()
        raise
    return resume, lock


def _workdir_error(workdir: str, exc: BaseException) -> OutputError:
    reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
    return OutputError(f"--workdir {workdir}: {reason}; give a local folder, or a URI that "
                       "pyarrow can write such as s3://bucket/prefix, with the bucket created "
                       "and its credentials and endpoint in the AWS_* environment variables")


def check_workdir(workdir: str | None) -> None:
    """Refuse a ``--workdir`` URI that pyarrow cannot open or create (an unknown scheme, no
    bucket, no credentials) before the output folder is touched. A local one is created with
    the run's folder, as always."""
    if not workdir or not fs.is_uri(workdir):
        return
    try:
        fs.makedirs(workdir)
    except (OSError, ValueError) as exc:
        raise _workdir_error(workdir, exc) from None


def work_folder(workdir: str | None, out: str, fingerprint: str) -> str:
    """This run's folder of intermediate files, created: ``WORKDIR/FINGERPRINT``, by default
    ``OUT/_work/FINGERPRINT``. Named by the fingerprint, so that a run of another config
    never reads them."""
    base = fs.local_path(workdir) if workdir else fs.join(out, "_work")
    work = fs.join(base, fingerprint)
    try:
        fs.makedirs(work)
    except (OSError, ValueError) as exc:
        if not workdir:
            raise
        raise _workdir_error(workdir, exc) from None
    return work


def write_report(out: str, report: RunReport) -> None:
    """``report.json`` and ``report.md`` into ``out``: the run is finished once they exist."""
    for name, text in (("report.json", report.to_json()), ("report.md", report.to_markdown())):
        fs.write_text(fs.join(out, name), text)
