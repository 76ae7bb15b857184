"""The DuckDB engine (the default): in-process, reads Parquet in place, multi-threaded.

With ``memory_limit`` set, DuckDB spills what does not fit (large groupings) to
``temp_directory``, by default a folder under the system's temporary directory, never the
current directory (DuckDB's own default for an in-memory database is ``./.tmp``)."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import ibis

from .base import DataSource
from .ibis_engine import IbisEngine

if TYPE_CHECKING:
    import ibis.expr.types as ir


class DuckDBEngine(IbisEngine):
    name = "duckdb"

    def __init__(self, database: str = ":memory:", *, threads: int | None = None,
                 memory_limit: str | None = None, temp_directory: str | Path | None = None) -> None:
        config: dict[str, Any] = {
            "temp_directory": str(temp_directory or Path(tempfile.gettempdir()) / "opencommissioning-duckdb"),
        }
        if threads:
            config["threads"] = threads
        if memory_limit:
            config["memory_limit"] = memory_limit
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
