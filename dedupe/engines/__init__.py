"""Engines run stage functions over tasks; see :mod:`dedupe.engines.base`."""

from __future__ import annotations

from dedupe.engines.base import Engine
from dedupe.engines.local import LocalEngine
from dedupe.engines.serial import SerialEngine

__all__ = ["Engine", "LocalEngine", "SerialEngine", "make_engine"]


def make_engine(cfg) -> Engine:
    """The engine an EngineConfig names."""
    if cfg.name == "serial" or (cfg.name == "local" and cfg.resolved_workers == 1):
        return SerialEngine()
    if cfg.name == "local":
        return LocalEngine(cfg.resolved_workers)
    from dedupe.engines.ray_engine import RayEngine

    return RayEngine(cfg.address, cfg.workers)
