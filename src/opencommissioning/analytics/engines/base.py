"""What every engine does, and where the data comes from."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from ..compiler import Plan

Progress = Callable[[str], None]


class MissingData(ValueError):
    """A table or column the catalogue needs is not in the data."""


@dataclass
class DataSource:
    """The three tables, either as Arrow tables in memory or as Parquet under a folder:
    ``FOLDER/<table>/**/*.parquet`` or ``FOLDER/<table>.parquet``."""

    tables: Mapping[str, pa.Table] = field(default_factory=dict)
    folder: Path | None = None

    @classmethod
    def from_folder(cls, folder: Path | str) -> DataSource:
        return cls(folder=Path(folder))

    def location(self, table: str) -> Path | None:
        if self.folder is None:
            return None
        if (self.folder / table).is_dir():
            return self.folder / table
        if (self.folder / f"{table}.parquet").is_file():
            return self.folder / f"{table}.parquet"
        return None

    def has(self, table: str) -> bool:
        return table in self.tables or self.location(table) is not None

    def describe(self, table: str) -> str:
        loc = self.location(table)
        return str(loc) if loc else f"the in-memory {table} table"

    def parquet_files(self, table: str) -> list[str]:
        loc = self.location(table)
        if loc is None:
            raise MissingData(f"no {table} data: expected {self.folder}/{table}/ or {table}.parquet")
        if loc.is_file():
            return [str(loc)]
        files = sorted(str(p) for p in loc.rglob("*.parquet"))
        if not files:
            raise MissingData(f"no Parquet files under {loc}")
        return files

    def file_schemas(self, table: str) -> list[tuple[str, pa.Schema | str]]:
        """Each Parquet file of ``table`` (or the in-memory table) with its schema, read
        from the file footers only; the reason instead of a schema for a file that is not
        readable Parquet. Engines read a folder's files as one table, so one file lacking a
        column, or holding it as another type, must be found before they run."""
        if table in self.tables:
            return [(self.describe(table), self.tables[table].schema)]
        out: list[tuple[str, pa.Schema | str]] = []
        for file in self.parquet_files(table):
            try:
                out.append((file, pq.read_schema(file)))
            except (pa.ArrowInvalid, OSError) as exc:
                out.append((file, f"not a readable Parquet file ({' '.join(str(exc).split())})"))
        return out

    def schema(self, table: str) -> pa.Schema:
        if table in self.tables:
            return self.tables[table].schema
        return ds.dataset(self.parquet_files(table), format="parquet").schema

    def arrow(self, table: str) -> pa.Table:
        """The whole table in memory (for the small tables and the reference engine)."""
        if table in self.tables:
            return self.tables[table]
        return ds.dataset(self.parquet_files(table), format="parquet").to_table()


class Engine(ABC):
    """Runs compiled plans; each output has the plan's group columns and measures."""

    name: str = ""

    @abstractmethod
    def execute(self, plans: Sequence[Plan], data: DataSource, progress: Progress | None = None) -> list[pa.Table]:
        ...

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections (optional)."""
