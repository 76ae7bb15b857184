"""The DuckDB engine (the default): in-process, reads Parquet in place, multi-threaded.

Ibis only writes the SQL here: each plan's expression is built on an unbound table
(``ibis.table(schema, name=...)``), compiled with ``ibis.to_sql(..., dialect="duckdb")``
and run on a plain DuckDB connection through DuckDB's own Python API
(``DuckDBPyConnection.sql(...).to_arrow_table()``). Ibis 12's DuckDB backend still calls
``fetch_arrow_table()``, deprecated in DuckDB 2.x, whenever it reads a table's schema;
the SQL is the same either way, so running it ourselves costs nothing and keeps the engine
on DuckDB's current API (``tests/unit/analytics/test_analytics_engine_data.py`` runs the
catalogue with DuckDB's deprecation warnings as errors).

Memory is bounded: ``memory_limit`` (default :data:`DEFAULT_MEMORY_LIMIT`, or
``$OPENCOMMISSIONING_DUCKDB_MEMORY_LIMIT``) caps DuckDB's buffers, and what does not fit
(the distinct-people grouping of 200 million rows, say) spills to ``temp_directory``, by
default a folder under the system's temporary directory, never the current directory
(DuckDB's own defaults are 80% of the machine's memory and ``./.tmp``). The engine shares
its machine with the web server, the database and the worker, so it must not take most
of it; on a large analysis server raise the limit."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
import ibis
import pyarrow as pa

from ..compiler import Plan
from .base import DataSource, Progress
from .ibis_engine import IbisEngine

if TYPE_CHECKING:
    import ibis.expr.types as ir


#: DuckDB's memory budget unless configured: 200 million activity rows run in it (spilling
#: a little) in about the time they take unbounded (bench/results/analytics.json).
DEFAULT_MEMORY_LIMIT = "3GB"


class DuckDBEngine(IbisEngine):
    name = "duckdb"

    def __init__(self, database: str = ":memory:", *, threads: int | None = None,
                 memory_limit: str | None = None, temp_directory: str | Path | None = None) -> None:
        config: dict[str, Any] = {
            "temp_directory": str(temp_directory or Path(tempfile.gettempdir()) / "opencommissioning-duckdb"),
        }
        if threads:
            config["threads"] = threads
        config["memory_limit"] = (memory_limit or os.environ.get("OPENCOMMISSIONING_DUCKDB_MEMORY_LIMIT")
                                  or DEFAULT_MEMORY_LIMIT)
        self._con = duckdb.connect(database, config=config)
        self._opened: set[str] = set()
        # as Ibis's own connection does: UTC, and no Python variables read as tables
        self._con.execute("SET TimeZone = 'UTC'")
        self._con.execute("SET python_enable_replacements = false")

    @property
    def backend(self) -> Any:
        """The DuckDB connection itself (not an Ibis backend)."""
        return self._con

    def open_table(self, table: str, data: DataSource) -> ir.Table:
        """An unbound Ibis table named ``oc_<table>``, backed by a DuckDB view of the
        Parquet files (or the registered in-memory Arrow table) until :meth:`execute`
        ends."""
        name = f"oc_{table}"
        self._release(name)
        if table in data.tables:
            arrow = data.tables[table]
            self._con.register(name, arrow)
            schema = arrow.schema
        else:
            self._con.read_parquet(data.parquet_files(table)).create_view(name, replace=True)
            schema = data.schema(table)
        self._opened.add(name)
        return ibis.table(ibis.Schema.from_pyarrow(schema), name=name)

    def _release(self, name: str) -> None:
        """Forget a view or registered table: a registered Arrow table would otherwise be
        kept alive, and would hide a later view of the same name."""
        self._con.unregister(name)
        self._con.execute(f'DROP VIEW IF EXISTS "{name}"')
        self._opened.discard(name)

    def execute(self, plans: Sequence[Plan], data: DataSource, progress: Progress | None = None) -> list[pa.Table]:
        try:
            return super().execute(plans, data, progress)
        finally:
            for name in sorted(self._opened):
                self._release(name)

    def sql(self, expr: ir.Table) -> str:
        """The DuckDB SQL of an expression built on :meth:`open_table`'s tables."""
        return str(ibis.to_sql(expr, dialect="duckdb"))

    def fetch(self, expr: ir.Table) -> pa.Table:
        result: pa.Table = self._con.sql(self.sql(expr)).to_arrow_table()
        return result

    def close(self) -> None:
        self._con.close()
