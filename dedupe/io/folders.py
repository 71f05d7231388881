"""Output folders a command may write, replace and lock.

Three rules keep a run from destroying data it was never asked to touch:

* **Only dedupe's own folders are replaced.** Every folder dedupe creates (a run, a sweep, an
  index) holds a marker file, ``.dedupe``. ``--overwrite`` empties an existing folder only when
  it holds that marker (or another file the caller names, such as an index's ``header.json``);
  anything else is refused, whatever the flag says.
* **Never an input, never the work folder.** A folder that is, holds or sits inside an input or
  the work folder is refused as an output at all times: replacing it would delete the input,
  and writing inside an input folder would feed the outputs to the next run as input.
* **One writer at a time.** The writer holds an advisory lock on ``FOLDER/.lock`` for the whole
  run (``flock``, released by the kernel if the process dies) and writes who it is into the
  file; a second writer is refused with an error that names the first. The lock file is never
  deleted while held, so an ``--overwrite`` cannot slip past it. An object store has no lock:
  a folder there (``s3://bucket/prefix``) is locked through a local file named after its URI,
  so two writers on one machine are refused, but two machines are not told of each other.
"""

from __future__ import annotations

import contextlib
import datetime
import hashlib
import json
import os
import socket
import sys
import tempfile

from dedupe.errors import OutputError
from dedupe.io import fs

__all__ = ["LOCK", "MARKER", "FolderLock", "check_not_locked", "check_not_protected",
           "claim_folder", "empty_folder", "folder_lock", "is_within", "lock_path",
           "protected_paths", "write_marker"]

MARKER = ".dedupe"
LOCK = ".lock"


def _real(path: str) -> str:
    return os.path.realpath(os.path.expanduser(str(path)))


def _bare(uri: str) -> str:
    return str(uri).partition("?")[0].rstrip("/")


def is_within(child: str, parent: str) -> bool:
    """True if ``child`` is ``parent`` or lies below it: local paths with links resolved, URIs
    by their text (a local path is never within a URI)."""
    if fs.is_uri(child) or fs.is_uri(parent):
        c, p = _bare(child), _bare(parent)
        return fs.is_uri(child) == fs.is_uri(parent) and (c == p or c.startswith(p + "/"))
    c, p = _real(child), _real(parent)
    return c == p or c.startswith(p.rstrip(os.sep) + os.sep)


def check_not_protected(folder: str, protected: dict[str, list[str]], what: str) -> None:
    """Refuse ``folder`` as an output if it is, holds or sits inside a protected path.

    ``protected`` maps a description (``"input"``, ``"work folder"``) to its paths; a path on
    another filesystem (a URI against a local folder) cannot overlap it and is skipped.
    """
    for kind, paths in protected.items():
        for p in paths:
            if not p or fs.is_uri(p) != fs.is_uri(folder):
                continue
            if is_within(p, folder):
                relation = "is" if is_within(folder, p) else "holds"
                raise OutputError(
                    f"{what} {folder} {relation} the {kind} {p}; dedupe never writes over or "
                    f"deletes its {kind}: choose another folder")
            if fs.is_dir(p) and is_within(folder, p):
                raise OutputError(
                    f"{what} {folder} sits inside the {kind} {p}; its files would be read as "
                    f"{kind} by the next run: choose a folder outside it")


def protected_paths(cfg, sources) -> dict[str, list[str]]:
    """What an output folder must never be, hold or sit inside: the inputs (as given and as
    expanded from folders and globs) and an explicit work folder."""
    given = [p for p in cfg.input.paths if not any(ch in p for ch in "*?[")]
    return {"input": given + [s.uri for s in sources],
            "work folder": [cfg.output.workdir] if cfg.output.workdir else []}


def _holder(path: str) -> str:
    """Who holds the lock, as its holder wrote it (empty if unreadable)."""
    try:
        with open(path, encoding="utf-8") as fh:
            info = json.load(fh)
    except (OSError, ValueError):
        return ""
    return (f" (pid {info.get('pid')} on {info.get('host')}, started {info.get('started')}: "
            f"{info.get('command')})")


def _busy(path: str, folder: str, what: str) -> OutputError:
    return OutputError(f"another process is writing the {what} {folder}{_holder(path)}; wait "
                       "until it has finished or choose another folder")


def lock_path(folder: str) -> str:
    """The file whose ``flock`` locks ``folder``: ``FOLDER/.lock``, or for a folder on an
    object store (which has no lock) a local file named after its URI."""
    if not fs.is_uri(folder):
        return os.path.join(folder, LOCK)
    locks = os.path.join(tempfile.gettempdir(), "dedupe-locks")
    os.makedirs(locks, exist_ok=True)
    return os.path.join(locks, hashlib.sha256(_bare(folder).encode()).hexdigest()[:24] + LOCK)


def check_not_locked(folder: str, what: str) -> None:
    """Refuse ``folder`` at once if another process holds its lock, before any other check
    could misread the half-made folder of a run that is still starting."""
    import fcntl

    path = lock_path(folder)
    try:
        fh = open(path, encoding="utf-8")  # noqa: SIM115 - closed below
    except OSError:
        return
    try:
        fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        raise _busy(path, folder, what) from None
    finally:
        fh.close()  # closing drops a lock this probe took


class FolderLock:
    """An exclusive advisory lock on ``FOLDER/.lock``; ``release()`` or the process's end frees
    it."""

    def __init__(self, folder: str, what: str):
        import fcntl

        self.path = lock_path(folder)
        self._fh = open(self.path, "a+", encoding="utf-8")  # noqa: SIM115 - held until release
        try:
            fcntl.flock(self._fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._fh.close()
            raise _busy(self.path, folder, what) from None
        self._fh.seek(0)
        self._fh.truncate()
        json.dump({"pid": os.getpid(), "host": socket.gethostname(),
                   "started": datetime.datetime.now().isoformat(timespec="seconds"),
                   "command": " ".join(os.path.basename(a) if i == 0 else a
                                       for i, a in enumerate(sys.argv))}, self._fh)
        self._fh.flush()

    def release(self) -> None:
        import fcntl

        if self._fh is not None and not self._fh.closed:
            fcntl.flock(self._fh, fcntl.LOCK_UN)
            self._fh.close()


@contextlib.contextmanager
def folder_lock(folder: str, what: str):
    """:class:`FolderLock` as a context manager."""
    lock = FolderLock(folder, what)
    try:
        yield lock
    finally:
        lock.release()


def _contents(folder: str) -> list[str]:
    return [n for n in fs.listdir(folder) if n != LOCK]


def is_dedupe_folder(folder: str, recognise: tuple[str, ...] = ()) -> bool:
    return any(fs.exists(fs.join(folder, m)) for m in (MARKER, *recognise))


def check_replaceable(folder: str, overwrite: bool, what: str,
                      recognise: tuple[str, ...] = ()) -> bool:
    """Whether ``folder`` exists with content; refuses content that may not be replaced.

    Returns False for a missing or empty folder. A non-empty one is refused without
    ``overwrite``, and with it unless it holds dedupe's marker (or a file in ``recognise``).
    """
    if not fs.exists(folder):
        return False
    if not fs.is_dir(folder):
        raise OutputError(f"{folder} exists and is not a folder")
    check_not_locked(folder, f"{what} folder")
    if not _contents(folder):
        return False
    if not overwrite:
        return True
    if not is_dedupe_folder(folder, recognise):
        raise OutputError(
            f"{folder} is not empty and was not made by dedupe (it has no {MARKER} file); "
            f"--overwrite replaces only a {what} folder that dedupe made: delete it yourself "
            "or choose another folder")
    return True


def claim_folder(folder: str, overwrite: bool, kind: str, protected: dict | None, *,
                 recognise: tuple[str, ...] = (), resumable=None) -> tuple[bool, bool]:
    """Check that a ``kind`` folder (run, sweep, index) may be written at ``folder`` under the
    rules above, and create it. Returns ``(filled, resume)``: whether it holds something, and
    whether that is an unfinished run to resume (``resumable()``, asked only for a filled folder
    without ``overwrite``). The caller locks it next."""
    check_not_protected(folder, protected or {}, f"{kind} folder")
    filled = check_replaceable(folder, overwrite, kind, recognise=recognise)
    resume = bool(filled and not overwrite and resumable is not None and resumable())
    if filled and not overwrite and not resume:
        raise OutputError(f"{folder} already exists and is not empty; pass --overwrite to "
                          "replace it")
    try:
        fs.makedirs(folder)
    except OSError as exc:
        raise OutputError(f"cannot create {folder}: {exc.strerror or exc}") from None
    return filled, resume


def empty_folder(folder: str) -> None:
    """Delete everything in ``folder`` but its (held) lock file."""
    for name in _contents(folder):
        full = fs.join(folder, name)
        if fs.is_dir(full) and not os.path.islink(full):
            fs.remove_tree(full, ignore_errors=False)
        else:
            fs.remove(full)


def write_marker(folder: str, kind: str) -> None:
    """Mark ``folder`` as one dedupe made (``kind``: run, sweep or index)."""
    from dedupe._version import __version__

    fs.write_text(fs.join(folder, MARKER),
                  json.dumps({"made_by": "dedupe", "kind": kind, "version": __version__}))
