"""Engines that run a compiled catalogue: ``reference`` (plain Python), ``duckdb``
(the default, in-process) and ``spark`` (PySpark, local or a cluster)."""

from __future__ import annotations

from typing import Any

from .base import DataSource, Engine, MissingData, Progress

ENGINES = ("reference", "duckdb", "spark")

__all__ = ["ENGINES", "DataSource", "Engine", "MissingData", "Progress", "get_engine"]


def get_engine(name: str, **options: Any) -> Engine:
    """An engine by name; options go to its constructor."""
    if name == "reference":
        from .reference import ReferenceEngine

        return ReferenceEngine()
    if name == "duckdb":
        from .duckdb import DuckDBEngine

        return DuckDBEngine(**options)
    if name == "spark":
        from .spark import SparkEngine

        return SparkEngine(**options)
    raise ValueError(f"unknown engine {name!r} (one of {', '.join(ENGINES)})")
