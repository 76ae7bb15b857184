"""Catalogue -> aggregate plans -> Ibis expressions; aggregates -> indicator values.

Compiling is in three steps, each small enough to check by eye:

1. :func:`compile_catalogue` turns indicators into a few :class:`Plan` s: one per
   (table, organisation level, by age band or not). A plan is one ``GROUP BY
   organisation, period[, age_band]`` over one table with a filtered aggregate per
   distinct numerator or denominator (``COUNT(*) FILTER (WHERE ...)``), so the whole
   catalogue reads each table only a handful of times. Identical measures are shared.
2. An engine runs the plans: :func:`to_ibis` gives the Ibis expression (DuckDB,
   Spark, or any Ibis backend); the reference engine evaluates the same plan in
   plain Python.
3. :func:`finish` aligns numerators with denominators and applies the statistical
   method from :mod:`opencommissioning.analytics.methods` in NumPy, then disclosure
   control. Every engine shares this step, so engines can only differ in step 2.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from . import methods
from .catalogue import Condition, Indicator, Quantity
from .datamodel import AGE_BANDS, LEVEL_KEYS

if TYPE_CHECKING:
    import ibis.expr.types as ir

MeasureKind = Literal["count", "persons", "sum", "sumsq", "nonnull"]

RESULT_SCHEMA = pa.schema([
    pa.field("indicator_id", pa.string()),
    pa.field("level", pa.string()),
    pa.field("organisation", pa.string()),
    pa.field("period", pa.string()),
    pa.field("numerator", pa.float64()),
    pa.field("denominator", pa.float64()),
    pa.field("value", pa.float64()),
    pa.field("lower", pa.float64()),
    pa.field("upper", pa.float64()),
    pa.field("confidence", pa.float64()),
    pa.field("multiplier", pa.float64()),
    pa.field("method", pa.string()),
    pa.field("polarity", pa.string()),
    pa.field("suppressed", pa.bool_()),
    pa.field("imd_quintile", pa.int8()),
])


@dataclass(frozen=True)
class Measure:
    kind: MeasureKind
    column: str | None
    where: tuple[Condition, ...]


@dataclass(frozen=True)
class Plan:
    """One grouped aggregate over one table. The output has columns ``organisation``,
    ``period``, ``age_band`` (when ``by_age``) and one per measure name."""

    table: str
    level: str
    key: str
    by_age: bool
    measures: tuple[tuple[str, Measure], ...]

    @property
    def group_columns(self) -> tuple[str, ...]:
        return ("organisation", "period", "age_band") if self.by_age else ("organisation", "period")


@dataclass(frozen=True)
class Ref:
    plan: int
    measure: str


@dataclass(frozen=True)
class Binding:
    indicator: Indicator
    numerator: Ref
    denominator: Ref | None
    # for a mean: the count of non-null values and the sum of squares
    count: Ref | None = None
    sumsq: Ref | None = None


@dataclass(frozen=True)
class Compiled:
    plans: tuple[Plan, ...]
    bindings: tuple[Binding, ...]


def compile_catalogue(indicators: Sequence[Indicator]) -> Compiled:
    """Group the indicators' numerators and denominators into shared plans."""
    plan_keys: list[tuple[str, str, bool]] = []
    plan_measures: list[dict[Measure, str]] = []

    def ref(table: str, level: str, by_age: bool, measure: Measure) -> Ref:
        key = (table, level, by_age)
        if key not in plan_keys:
            plan_keys.append(key)
            plan_measures.append({})
        i = plan_keys.index(key)
        names = plan_measures[i]
        if measure not in names:
            names[measure] = f"m{len(names)}"
        return Ref(i, names[measure])

    def quantity_ref(q: Quantity, ind: Indicator, kind: MeasureKind | None = None) -> Ref:
        by_age = ind.method in ("dsr", "isr")
        if kind is None:
            kind = {"count": "count", "persons": "persons", "sum": "sum", "mean": "sum",
                    "people": "sum"}[q.measure]  # type: ignore[assignment]
        column = "count" if q.measure == "people" else q.column
        if kind in ("count", "persons"):
            column = None
        assert kind is not None  # noqa: S101 - narrowing for mypy
        return ref(q.table, ind.level, by_age, Measure(kind, column, q.where))

    bindings = []
    for ind in indicators:
        num = quantity_ref(ind.numerator, ind)
        den = quantity_ref(ind.denominator, ind) if ind.denominator else None
        if ind.method == "mean":
            bindings.append(Binding(ind, num, None, quantity_ref(ind.numerator, ind, "nonnull"),
                                    quantity_ref(ind.numerator, ind, "sumsq")))
        else:
            bindings.append(Binding(ind, num, den))
    plans = []
    for (table, level, by_age), names in zip(plan_keys, plan_measures, strict=True):
        key = LEVEL_KEYS[table][level]
        if key is None:  # the schema refuses these; keep the plan honest anyway
            raise ValueError(f"{table} has no {level} column")
        plans.append(Plan(table, level, key, by_age, tuple((n, m) for m, n in names.items())))
    return Compiled(tuple(plans), tuple(bindings))


# -- Ibis --------------------------------------------------------------------------

def ibis_predicate(t: ir.Table, where: Sequence[Condition]) -> ir.BooleanValue | None:
    """The Ibis boolean for ``where`` (all conditions); None when there are none."""
    import ibis

    parts: list[ir.BooleanValue] = []
    for c in where:
        col: Any = t[c.column]
        v = c.values
        if c.op == "equals":
            parts.append(col == v[0])
        elif c.op == "in":
            parts.append(col.isin(list(v)))
        elif c.op == "not_in":
            parts.append(col.notnull() & ~col.isin(list(v)))
        elif c.op == "starts_with":
            parts.append(ibis.or_(*(col.startswith(str(p)) for p in v)))
        elif c.op == "lt":
            parts.append(col < v[0])
        elif c.op == "le":
            parts.append(col <= v[0])
        elif c.op == "gt":
            parts.append(col > v[0])
        elif c.op == "ge":
            parts.append(col >= v[0])
        elif c.op == "between":
            parts.append((col >= v[0]) & (col <= v[1]))
        elif c.op == "is_null":
            parts.append(col.isnull())
        elif c.op == "not_null":
            parts.append(col.notnull())
        else:  # pragma: no cover - the schema refuses others
            raise ValueError(f"unknown operator {c.op}")
    if not parts:
        return None
    return ibis.and_(*parts)


def to_ibis(plan: Plan, t: ir.Table) -> ir.Table:
    """The Ibis expression for one plan over table ``t`` (any Ibis backend)."""
    aggs: dict[str, Any] = {}
    for name, m in plan.measures:
        cond = ibis_predicate(t, m.where)
        if m.kind == "count":
            aggs[name] = t.count(where=cond)
        elif m.kind == "persons":
            aggs[name] = t["person_id"].nunique(where=cond)
        elif m.kind == "sum":
            aggs[name] = t[m.column].cast("float64").sum(where=cond)
        elif m.kind == "sumsq":
            x = t[m.column].cast("float64")
            aggs[name] = (x * x).sum(where=cond)
        elif m.kind == "nonnull":
            aggs[name] = t[m.column].count(where=cond)
    groups: dict[str, Any] = {"organisation": t[plan.key], "period": t["period"]}
    if plan.by_age:
        groups["age_band"] = t["age_band"]
    return t.group_by(**groups).aggregate(**aggs)


# -- finishing: methods in NumPy ---------------------------------------------------

def allowed_bands(where: Sequence[Condition], matches: Callable[[Condition, object], bool]) -> list[str]:
    """The ESP2013 bands a population filter keeps (for DSR/ISR standard weights)."""
    return [b for b in AGE_BANDS if all(matches(c, b) for c in where if c.column == "age_band")]


def condition_matches(c: Condition, value: object) -> bool:
    """Plain-Python truth of one condition for one value (null is never a match,
    except for ``is_null``). Shared by the reference engine."""
    if c.op == "is_null":
        return value is None
    if c.op == "not_null":
        return value is not None
    if value is None:
        return False
    v = c.values
    x: Any = value
    if c.op == "equals":
        return bool(x == v[0])
    if c.op == "in":
        return x in v
    if c.op == "not_in":
        return x not in v
    if c.op == "starts_with":
        return any(str(x).startswith(str(p)) for p in v)
    if c.op == "lt":
        return bool(x < v[0])
    if c.op == "le":
        return bool(x <= v[0])
    if c.op == "gt":
        return bool(x > v[0])
    if c.op == "ge":
        return bool(x >= v[0])
    if c.op == "between":
        return bool(v[0] <= x <= v[1])
    raise ValueError(f"unknown operator {c.op}")  # pragma: no cover


def _keys(table: pa.Table) -> pa.Array:
    joined = pc.binary_join_element_wise(
        table["organisation"].cast(pa.string()), table["period"].cast(pa.string()), "\x1f"
    )
    return joined.combine_chunks() if isinstance(joined, pa.ChunkedArray) else joined


def _values(table: pa.Table, name: str) -> np.ndarray[Any, np.dtype[np.float64]]:
    col = table[name].cast(pa.float64()).fill_null(0.0)
    return np.asarray(col.to_numpy(), dtype=np.float64)


class _Base:
    """The rows of one indicator's result: unique (organisation, period) pairs."""

    def __init__(self, table: pa.Table) -> None:
        # rows without an organisation at this level (e.g. no provider) are left out
        table = table.filter(pc.is_valid(table["organisation"]))
        keys = _keys(table)
        encoded = pc.unique(keys)
        self.keys = encoded
        first = np.asarray(pc.index_in(encoded, value_set=keys).to_numpy(zero_copy_only=False))
        self.organisation = table["organisation"].take(pa.array(first)).combine_chunks()
        self.period = table["period"].take(pa.array(first)).combine_chunks()

    def __len__(self) -> int:
        return len(self.keys)

    def index(self, table: pa.Table) -> np.ndarray[Any, np.dtype[np.int64]]:
        """Row of the base for each row of ``table`` (-1 where absent)."""
        idx = pc.index_in(_keys(table), value_set=self.keys, skip_nulls=True)
        return np.asarray(idx.fill_null(-1).to_numpy(), dtype=np.int64)


def _gather(base: _Base, table: pa.Table, name: str, bands: list[str] | None) -> np.ndarray[Any, np.dtype[np.float64]]:
    rows = base.index(table)
    vals = _values(table, name)
    if bands is None:
        out = np.zeros(len(base))
        keep = rows >= 0
        np.add.at(out, rows[keep], vals[keep])
        return out
    band = pc.index_in(table["age_band"], value_set=pa.array(bands, pa.string()))
    b = np.asarray(band.fill_null(-1).to_numpy(), dtype=np.int64)
    out2 = np.zeros((len(base), len(bands)))
    keep = (rows >= 0) & (b >= 0)
    np.add.at(out2, (rows[keep], b[keep]), vals[keep])
    return out2


def _check_numerator(ind: Indicator, base: _Base, num: np.ndarray[Any, Any], den: np.ndarray[Any, Any]) -> None:
    bad = np.flatnonzero(num > den)
    if bad.size:
        i = int(bad[0])
        raise ValueError(
            f"{ind.path}: indicator {ind.id!r}: numerator {num[i]:g} exceeds denominator "
            f"{den[i]:g} for {base.organisation[i]} {base.period[i]} "
            f"({bad.size} organisation-period(s) in all)"
        )


def finish_one(binding: Binding, outputs: Sequence[pa.Table], deprivation: pa.Table | None = None) -> pa.Table:
    """One indicator's result table from the plan outputs."""
    ind = binding.indicator
    num_t = outputs[binding.numerator.plan]
    conf = ind.confidence
    mult = ind.multiplier
    by_age = ind.method in ("dsr", "isr")
    if ind.method == "mean":
        if binding.count is None or binding.sumsq is None:  # pragma: no cover
            raise ValueError("a mean binding needs count and sumsq")
        base = _Base(num_t)
        sums = _gather(base, num_t, binding.numerator.measure, None)
        counts = _gather(base, num_t, binding.count.measure, None)
        sumsq = _gather(base, num_t, binding.sumsq.measure, None)
        keep = counts > 0
        sums, counts, sumsq = sums[keep], counts[keep], sumsq[keep]
        with np.errstate(invalid="ignore", divide="ignore"):
            var = (sumsq - sums * sums / counts) / (counts - 1)
        sd = np.sqrt(np.where((counts > 1) & (var > 0), var, 0.0))
        r = methods.mean(sums=sums, counts=counts, stdevs=sd, confidence=conf)
        value = np.asarray(r.value) * mult
        lower, upper = np.asarray(r.lower) * mult, np.asarray(r.upper) * mult
        numerator, denominator = sums, counts
    else:
        if binding.denominator is None:  # pragma: no cover
            raise ValueError("a denominator is required")
        den_t = outputs[binding.denominator.plan]
        base = _Base(den_t)
        if by_age:
            assert ind.denominator is not None  # noqa: S101 - narrowing for mypy
            bands = allowed_bands(ind.denominator.where, condition_matches)
            obs = _gather(base, num_t, binding.numerator.measure, bands)
            pops = _gather(base, den_t, binding.denominator.measure, bands)
            keep = pops.sum(axis=1) > 0
            obs, pops = obs[keep], pops[keep]
            numerator, denominator = obs.sum(axis=1), pops.sum(axis=1)
            band_idx = [AGE_BANDS.index(b) for b in bands]
            if ind.method == "dsr":
                d = methods.dsr(obs, pops, standard_populations=np.asarray(methods.ESP2013)[band_idx],
                                confidence=conf, multiplier=mult)
                value, lower, upper = np.asarray(d.value), np.asarray(d.lower), np.asarray(d.upper)
            else:
                periods = np.asarray(base.period.to_numpy(zero_copy_only=False), dtype=object)[keep]
                ref_counts = np.zeros_like(obs)
                ref_pops = np.zeros_like(pops)
                for p in np.unique(periods):
                    sel = periods == p
                    ref_counts[sel] = obs[sel].sum(axis=0)
                    ref_pops[sel] = pops[sel].sum(axis=0)
                s = methods.isr(obs, pops, ref_counts, ref_pops, confidence=conf, kind="ratio",
                                multiplier=mult)
                value, lower, upper = np.asarray(s.value), np.asarray(s.lower), np.asarray(s.upper)
        else:
            num = _gather(base, num_t, binding.numerator.measure, None)
            den = _gather(base, den_t, binding.denominator.measure, None)
            keep = den > 0
            numerator, denominator = num[keep], den[keep]
            if ind.method == "proportion":
                _check_numerator(ind, base, num * keep, den)
                p = methods.proportion(numerator, denominator, confidence=conf, multiplier=mult)
                value, lower, upper = np.asarray(p.value), np.asarray(p.lower), np.asarray(p.upper)
            else:
                c = methods.rate(numerator, denominator, confidence=conf, multiplier=mult)
                value, lower, upper = np.asarray(c.value), np.asarray(c.lower), np.asarray(c.upper)
    organisation = base.organisation.filter(pa.array(keep))
    period = base.period.filter(pa.array(keep))
    n = len(organisation)
    suppressed = np.zeros(n, dtype=bool)
    published = numerator.astype(np.float64)
    if ind.disclosure is not None:
        dc = methods.disclosure_control(numerator, ind.disclosure.suppress_at_or_below,
                                        ind.disclosure.round_to)
        suppressed = np.asarray(dc.suppressed, dtype=bool)
        published = np.asarray(dc.value, dtype=np.float64)
    quintile: pa.Array = pa.nulls(n, pa.int8())
    if deprivation is not None and ind.level == "practice" and n:
        pos = pc.index_in(organisation, value_set=deprivation["organisation"].combine_chunks())
        quintile = deprivation["imd_quintile"].combine_chunks().cast(pa.int8()).take(pos)

    def col(x: np.ndarray[Any, Any]) -> pa.Array:
        x = np.asarray(x, dtype=np.float64).copy()
        x[suppressed] = np.nan
        return pa.array(x, pa.float64(), from_pandas=True)

    return pa.table({
        "indicator_id": pa.array([ind.id] * n, pa.string()),
        "level": pa.array([ind.level] * n, pa.string()),
        "organisation": organisation.cast(pa.string()),
        "period": period.cast(pa.string()),
        "numerator": col(published),
        "denominator": pa.array(np.asarray(denominator, dtype=np.float64), pa.float64()),
        "value": col(value),
        "lower": col(lower),
        "upper": col(upper),
        "confidence": pa.array([conf] * n, pa.float64()),
        "multiplier": pa.array([mult] * n, pa.float64()),
        "method": pa.array([ind.method] * n, pa.string()),
        "polarity": pa.array([ind.polarity] * n, pa.string()),
        "suppressed": pa.array(suppressed, pa.bool_()),
        "imd_quintile": quintile,
    }, schema=RESULT_SCHEMA)


def finish(compiled: Compiled, outputs: Sequence[pa.Table], deprivation: pa.Table | None = None) -> pa.Table:
    """Every indicator's results, sorted by indicator, organisation and period."""
    parts = [finish_one(b, outputs, deprivation) for b in compiled.bindings]
    if not parts:
        return RESULT_SCHEMA.empty_table()
    table = pa.concat_tables(parts)
    return table.sort_by([("indicator_id", "ascending"), ("organisation", "ascending"),
                          ("period", "ascending")])
