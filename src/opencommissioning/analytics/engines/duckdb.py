"""The DuckDB engine (the default): in-process, reads Parquet in place, multi-threaded.

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
from pathlib import Path
from typing import TYPE_CHECKING, Any

import ibis

from .base import DataSource
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
        self._con = ibis.duckdb.connect(database, **config)

    @property
    def backend(self) -> Any:
        return self._con

    def open_table(self, table: str, data: DataSource) -> ir.Table:
        if table in data.tables:
            return ibis.memtable(data.tables[table])
        return self._con.read_parquet(data.parquet_files(table))

    def close(self) -> None:
        self._con.disconnect()
