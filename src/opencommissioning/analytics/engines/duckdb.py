"""The DuckDB engine (the default): in-process, reads Parquet in place, multi-threaded."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import ibis

from .base import DataSource
from .ibis_engine import IbisEngine

if TYPE_CHECKING:
    import ibis.expr.types as ir


class DuckDBEngine(IbisEngine):
    name = "duckdb"

    def __init__(self, database: str = ":memory:", *, threads: int | None = None,
                 memory_limit: str | None = None) -> None:
        config: dict[str, Any] = {}
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
