"""The reference engine: plain Python over rows, small and obviously correct.

It does not use Ibis or SQL at all: each plan is a loop over the table's rows that
tests every condition with :func:`~opencommissioning.analytics.compiler.condition_matches`
and adds to a dictionary keyed by (organisation, period[, age band]). It is slow - use
it for tests and for checking the other engines, not for England.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pyarrow as pa

from ..compiler import Measure, Plan, condition_matches
from .base import DataSource, Engine, Progress


def _matches(measure: Measure, row: dict[str, Any]) -> bool:
    return all(condition_matches(c, row.get(c.column)) for c in measure.where)


def run_plan(plan: Plan, rows: list[dict[str, Any]]) -> pa.Table:
    groups: dict[tuple[Any, ...], dict[str, Any]] = {}
    for row in rows:
        key: tuple[Any, ...] = (row.get(plan.key), row.get("period"))
        if plan.by_age:
            key += (row.get("age_band"),)
        acc = groups.get(key)
        if acc is None:
            acc = groups[key] = {name: (set() if m.kind == "persons" else 0) for name, m in plan.measures}
        for name, m in plan.measures:
            if not _matches(m, row):
                continue
            if m.kind == "count":
                acc[name] += 1
            elif m.kind == "persons":
                if row.get("person_id") is not None:
                    acc[name].add(row["person_id"])
            else:
                x = row.get(m.column or "")
                if x is None:
                    continue
                if m.kind == "sum":
                    acc[name] += float(x)
                elif m.kind == "sumsq":
                    acc[name] += float(x) * float(x)
                elif m.kind == "nonnull":
                    acc[name] += 1
    columns: dict[str, list[Any]] = {c: [] for c in plan.group_columns}
    for name, _ in plan.measures:
        columns[name] = []
    for key, acc in groups.items():
        for c, v in zip(plan.group_columns, key, strict=True):
            columns[c].append(v)
        for name, m in plan.measures:
            columns[name].append(len(acc[name]) if m.kind == "persons" else float(acc[name]))
    return pa.table({
        c: pa.array(v, pa.string() if c in plan.group_columns else pa.float64())
        for c, v in columns.items()
    })


class ReferenceEngine(Engine):
    name = "reference"

    def execute(self, plans: Sequence[Plan], data: DataSource, progress: Progress | None = None) -> list[pa.Table]:
        cache: dict[str, list[dict[str, Any]]] = {}
        out = []
        for plan in plans:
            if plan.table not in cache:
                cache[plan.table] = data.arrow(plan.table).to_pylist()
            out.append(run_plan(plan, cache[plan.table]))
            if progress:
                progress(f"{plan.table} by {plan.level}")
        return out
