"""Run a catalogue on an engine: check the data has every column, compile, execute,
finish."""

from __future__ import annotations

from collections.abc import Sequence

import pyarrow as pa

from .catalogue import Indicator
from .compiler import compile_catalogue, finish
from .engines import DataSource, Engine, MissingData, Progress


def check_columns(indicators: Sequence[Indicator], data: DataSource) -> None:
    """Raise :class:`MissingData` naming every (file, indicator, table, column) the data
    lacks."""
    problems: list[str] = []
    schemas: dict[str, set[str] | None] = {}
    for ind in indicators:
        for table, columns in sorted(ind.columns().items()):
            if table not in schemas:
                schemas[table] = set(data.schema(table).names) if data.has(table) else None
            have = schemas[table]
            if have is None:
                problems.append(f"{ind.path}: indicator {ind.id!r}: needs the {table} table, "
                                f"which is not in the data")
                continue
            for column in sorted(columns - have):
                problems.append(f"{ind.path}: indicator {ind.id!r}: column {column!r} is missing "
                                f"from {table} ({data.describe(table)})")
    if problems:
        raise MissingData(f"{len(problems)} problem(s) with the data:\n" +
                          "\n".join(f"  - {p}" for p in problems))


def run_catalogue(indicators: Sequence[Indicator], engine: Engine, data: DataSource,
                  progress: Progress | None = None) -> pa.Table:
    """Every indicator's values for every organisation and period (see
    :data:`~opencommissioning.analytics.compiler.RESULT_SCHEMA`)."""
    check_columns(indicators, data)
    compiled = compile_catalogue(indicators)
    outputs = engine.execute(compiled.plans, data, progress)
    deprivation = None
    if data.has("deprivation"):
        dep = data.arrow("deprivation")
        if {"organisation", "imd_quintile"} <= set(dep.schema.names):
            deprivation = dep
    return finish(compiled, outputs, deprivation)
