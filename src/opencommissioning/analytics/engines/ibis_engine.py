"""Shared code for engines that run the compiled plans through Ibis."""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from ..compiler import Plan, to_ibis
from .base import DataSource, Engine, Progress

if TYPE_CHECKING:
    import ibis.expr.types as ir


class IbisEngine(Engine):
    """Subclasses give a backend connection and a way to open each table; ``fetch`` runs
    one expression (by default the Ibis backend's ``to_pyarrow``)."""

    @property
    @abstractmethod
    def backend(self) -> Any: ...

    @abstractmethod
    def open_table(self, table: str, data: DataSource) -> ir.Table: ...

    def expressions(self, plans: Sequence[Plan], data: DataSource) -> list[ir.Table]:
        """The Ibis expression of each plan (for inspection: ``ibis.to_sql(expr)``)."""
        opened: dict[str, ir.Table] = {}
        exprs = []
        for plan in plans:
            if plan.table not in opened:
                opened[plan.table] = self.open_table(plan.table, data)
            exprs.append(to_ibis(plan, opened[plan.table]))
        return exprs

    def fetch(self, expr: ir.Table) -> pa.Table:
        """The result of one plan's expression as an Arrow table."""
        result: pa.Table = self.backend.to_pyarrow(expr)
        return result

    def execute(self, plans: Sequence[Plan], data: DataSource, progress: Progress | None = None) -> list[pa.Table]:
        out = []
        for plan, expr in zip(plans, self.expressions(plans, data), strict=True):
            out.append(self.fetch(expr))
            if progress:
                progress(f"{plan.table} by {plan.level}")
        return out
