"""The Ray engine: the same stage functions as Ray tasks, on a laptop or a cluster.

No algorithm is copied for Ray: ``map(fn, tasks)`` submits ``fn`` as a remote function, one task
per item, and returns the results in task order, exactly like the local engine. Bulk data moves
through the work folder (Arrow files), so that folder must be storage every node sees: a shared
path, or ``--workdir`` on such a path or on an object store (``s3://bucket/prefix``). ``ray``
is an optional extra imported only here.
"""

from __future__ import annotations

from dedupe.engines.base import task_error
from dedupe.errors import ConfigError, DedupeError, EngineError

__all__ = ["RayEngine"]


def _import_ray():
    try:
        import ray
    except ImportError:
        raise ConfigError(
            "engine 'ray' needs the ray extra: pip install 'dedupe[ray]'"
        ) from None
    return ray


class RayEngine:
    name = "ray"

    def __init__(self, address: str | None = None, workers: int = 0):
        self._ray = _import_ray()
        self._owns = False
        if not self._ray.is_initialized():
            kwargs = {"ignore_reinit_error": True, "log_to_driver": False,
                      "include_dashboard": False}
            if address:
                kwargs["address"] = address
            elif workers:
                kwargs["num_cpus"] = workers
            # workers import dedupe from this interpreter's environment
            kwargs["runtime_env"] = {"env_vars": {"PYTHONHASHSEED": "0"}}
            self._ray.init(**kwargs)
            self._owns = True
        self.workers = int(self._ray.cluster_resources().get("CPU", 1))
        self._remote: dict = {}

    def _as_remote(self, fn):
        if fn not in self._remote:
            self._remote[fn] = self._ray.remote(num_cpus=1, max_retries=2)(fn)
        return self._remote[fn]

    def map(self, fn, tasks, *, stage, progress=None):
        if not tasks:
            return []
        remote = self._as_remote(fn)
        refs = [remote.remote(t) for t in tasks]
        index = {ref: i for i, ref in enumerate(refs)}
        results = [None] * len(refs)
        pending = list(refs)
        done = 0
        while pending:
            ready, pending = self._ray.wait(pending, num_returns=1)
            for ref in ready:
                i = index[ref]
                results[i] = self._get(ref, stage, tasks[i], i)
                done += 1
                if progress:
                    progress(stage, done, len(tasks), results[i])
        return results

    def _get(self, ref, stage, task, i):
        try:
            return self._ray.get(ref)
        except self._ray.exceptions.RayTaskError as exc:
            cause = exc.cause if hasattr(exc, "cause") else None
            if isinstance(cause, DedupeError):
                raise cause from None
            if isinstance(cause, Exception):
                raise task_error(stage, task, i, cause) from exc
            raise EngineError(stage, getattr(task, "label", str(i)), str(exc)) from None
        except self._ray.exceptions.RayError as exc:
            raise EngineError(stage, getattr(task, "label", str(i)), str(exc)) from None

    def close(self):
        if self._owns and self._ray.is_initialized():
            self._ray.shutdown()
            self._owns = False


