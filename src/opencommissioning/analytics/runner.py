"""Run a catalogue on an engine: check the data has every column, compile, execute,
finish."""

from __future__ import annotations

from collections.abc import Sequence

import pyarrow as pa

from .catalogue import Indicator
from .compiler import compile_catalogue, finish
from .datamodel import TABLES
from .engines import DataSource, Engine, MissingData, Progress


def _fits(kind: str, t: pa.DataType) -> bool:
    """Whether a column stored as ``t`` can be read as the data model's ``kind``."""
    if pa.types.is_null(t):
        return True
    if pa.types.is_dictionary(t):
        t = t.value_type
    if kind == "string":
        return bool(pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t))
    if kind == "integer":
        return bool(pa.types.is_integer(t))
    if kind == "number":
        return bool(pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t))
    if kind == "date":
        return bool(pa.types.is_date(t) or pa.types.is_timestamp(t))
    return True  # pragma: no cover - every data-model column has one of the kinds above


_KIND_WORDS = {"string": "text", "integer": "whole numbers", "number": "numbers", "date": "dates"}


def _files(files: Sequence[str], of: int) -> str:
    shown = ", ".join(files[:3]) + (f" and {len(files) - 3} more" if len(files) > 3 else "")
    return f"{len(files)} of {of} file(s): {shown}" if of > 1 else shown


def check_columns(indicators: Sequence[Indicator], data: DataSource) -> None:
    """Raise :class:`MissingData` naming every problem with the data before an engine
    runs: a data folder that does not exist; a table the catalogue needs that is not
    there; a column missing from the table (file, indicator, table, column); a column
    missing from only some of a table's Parquet files, or stored as the wrong type (text
    for ``ae_minutes``, say), naming the files, the table and the column. Engines would
    otherwise fail with their own errors (DuckDB's schema mismatch, Ibis's type error)
    or, on Spark, silently read the missing column as nulls."""
    if data.folder is not None and not data.folder.is_dir():
        raise MissingData(f"the data folder {data.folder} was not found (it should hold population/, "
                          f"activity/ and deprivation/)")
    problems: list[str] = []
    needed: dict[str, dict[str, list[Indicator]]] = {}
    for ind in indicators:
        for table, columns in sorted(ind.columns().items()):
            for column in columns:
                needed.setdefault(table, {}).setdefault(column, []).append(ind)
    for table in sorted(needed):
        if not data.has(table):
            for ind in indicators:
                if table in ind.columns():
                    problems.append(f"{ind.path}: indicator {ind.id!r}: needs the {table} table, "
                                    f"which is not in the data ({data.folder or 'in memory'})")
            continue
        schemas = data.file_schemas(table)
        readable = [(f, s) for f, s in schemas if isinstance(s, pa.Schema)]
        problems.extend(f"{f}: {table}: {s}" for f, s in schemas if isinstance(s, str))
        for column, users in sorted(needed[table].items()):
            lacking = [f for f, s in readable if column not in s.names]
            if readable and len(lacking) == len(readable):
                problems.extend(f"{ind.path}: indicator {ind.id!r}: column {column!r} is missing from "
                                f"{table} ({data.describe(table)})" for ind in users)
                continue
            who = ", ".join(repr(ind.id) for ind in users[:3])
            who += f" and {len(users) - 3} more" if len(users) > 3 else ""
            if lacking:
                problems.append(f"{table}: column {column!r} is missing from {_files(lacking, len(readable))} "
                                f"(the other files have it; needed by {who})")
            spec = TABLES[table].get(column)
            if spec is None:  # pragma: no cover - the schema only accepts data-model columns
                continue
            wrong: dict[str, list[str]] = {}
            for f, s in readable:
                if column in s.names and not _fits(spec.kind, s.field(column).type):
                    wrong.setdefault(str(s.field(column).type), []).append(f)
            for stored, files in sorted(wrong.items()):
                problems.append(f"{table}: column {column!r} is stored as {stored} in "
                                f"{_files(files, len(readable))}; the data model holds "
                                f"{_KIND_WORDS[spec.kind]} ({spec.arrow}) (needed by {who})")
    if problems:
        raise MissingData(f"{len(problems)} problem(s) with the data:\n" +
                          "\n".join(f"  - {p}" for p in problems))


def run_catalogue(indicators: Sequence[Indicator], engine: Engine, data: DataSource,
                  progress: Progress | None = None, *, publish: bool = False) -> pa.Table:
    """Every indicator's values for every organisation and period (see
    :data:`~opencommissioning.analytics.compiler.RESULT_SCHEMA`).

    Exact by default - for internal use (the needs assessment computes exact figures for
    signed-in commissioners and applies its own public rounding), never for publication.
    ``publish=True`` passes every figure through its indicator's disclosure rule so that
    none can be worked back to an exact count (``compiler.finish_one``); the command
    line's ``run`` publishes unless given ``--exact``."""
    check_columns(indicators, data)
    compiled = compile_catalogue(indicators)
    outputs = engine.execute(compiled.plans, data, progress)
    deprivation = None
    if data.has("deprivation"):
        dep = data.arrow("deprivation")
        if {"organisation", "imd_quintile"} <= set(dep.schema.names):
            deprivation = dep
    return finish(compiled, outputs, deprivation, publish=publish)
