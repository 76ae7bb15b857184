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

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from . import methods
from .catalogue import Condition, Indicator, Quantity
from .catalogue.schema import Scalar
from .datamodel import AGE_BANDS, LEVEL_KEYS, PARTITION_COLUMNS

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
    ``period``, ``age_band`` (when ``by_age``) and one per measure name.

    A ``persons`` plan holds only distinct-person counts: engines count them in two
    steps (one row per organisation, period and person, then a sum), which is many
    times faster than ``COUNT(DISTINCT ...) FILTER (...)`` per measure.
    Groups in which every measure is zero may be missing from a plan's output (the
    engines filter rows no measure can count before grouping); :func:`finish` reads a
    missing group as zeros."""

    table: str
    level: str
    key: str
    by_age: bool
    measures: tuple[tuple[str, Measure], ...]
    persons: bool = False

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


def _partition(table: str, measure: Measure) -> frozenset[Scalar] | None:
    """The values of the table's partition column (the activity ``setting``) a measure is
    restricted to, or None. Measures of different settings never count the same rows, so
    each setting's measures get a plan of their own: its query reads only that setting's
    rows (``necessary_conditions``) and tests only its own measures' conditions on them,
    instead of every measure's conditions on every row."""
    column = PARTITION_COLUMNS.get(table)
    allowed: frozenset[Scalar] | None = None
    for c in measure.where:
        if c.column == column and c.op in ("equals", "in"):
            values = frozenset(c.values)
            allowed = values if allowed is None else allowed & values
    return allowed


def compile_catalogue(indicators: Sequence[Indicator]) -> Compiled:
    """Group the indicators' numerators and denominators into shared plans: one per
    table, level, grouping by age band or not, distinct people or not, and setting."""
    plan_keys: list[tuple[str, str, bool, bool, frozenset[Scalar] | None]] = []
    plan_measures: list[dict[Measure, str]] = []

    def ref(table: str, level: str, by_age: bool, measure: Measure) -> Ref:
        key = (table, level, by_age, measure.kind == "persons", _partition(table, measure))
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
    for (table, level, by_age, persons, _part), names in zip(plan_keys, plan_measures, strict=True):
        key = LEVEL_KEYS[table][level]
        if key is None:  # the schema refuses these; keep the plan honest anyway
            raise ValueError(f"{table} has no {level} column")
        plans.append(Plan(table, level, key, by_age, tuple((n, m) for m, n in names.items()),
                          persons))
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


def necessary_conditions(measures: Sequence[Measure]) -> tuple[Condition, ...]:
    """Conditions every row counted by any of ``measures`` meets, cheap to test first.

    A condition shared by every measure is one; so is, for a column that every measure
    restricts to listed values (``equals``/``in``), "the column is one of the union of
    those values". Rows failing them add nothing to any measure, so an engine may drop
    them before grouping (a plan's output may then lack groups whose measures would all
    be zero, which :func:`finish` reads as zeros). Empty when some measure counts every
    row."""
    if not measures or any(not m.where for m in measures):
        return ()
    shared = [c for c in measures[0].where if all(c in m.where for m in measures[1:])]
    out: list[Condition] = list(shared)
    for column in sorted({c.column for c in measures[0].where if c.op in ("equals", "in")}):
        union: set[Scalar] = set()
        for m in measures:
            listed = [set(c.values) for c in m.where if c.column == column and c.op in ("equals", "in")]
            if not listed:
                break
            union |= set.intersection(*listed)
        else:
            if not any(c.column == column and set(c.values) == union for c in shared):
                out.append(Condition(column, "in", tuple(sorted(union, key=str))))
    return tuple(out)


def to_ibis(plan: Plan, t: ir.Table) -> ir.Table:
    """The Ibis expression for one plan over table ``t`` (any Ibis backend)."""
    import ibis

    measures = [m for _, m in plan.measures]
    first = ibis_predicate(t, necessary_conditions(measures))
    if first is not None:
        t = t.filter(first)
    groups: dict[str, Any] = {"organisation": t[plan.key], "period": t["period"]}
    if plan.by_age:
        groups["age_band"] = t["age_band"]
    if plan.persons:
        # one row per (group, person) with a flag per measure, then sum the flags
        known = t["person_id"].notnull()
        flags = {}
        for name, m in plan.measures:
            cond = ibis_predicate(t, m.where)
            flags[name] = known if cond is None else cond
        people = t.filter(known & ibis.or_(*flags.values())).group_by(
            **groups, person_id=t["person_id"]
        ).aggregate(**{name: flag.any() for name, flag in flags.items()})
        return people.group_by(list(plan.group_columns)).aggregate(**{
            name: people[name].cast("int64").sum() for name in flags
        })
    aggs: dict[str, Any] = {}
    for name, m in plan.measures:
        cond = ibis_predicate(t, m.where)
        if m.kind == "count":
            aggs[name] = t.count(where=cond)
        elif m.kind == "persons":  # pragma: no cover - compile_catalogue gives them their own plan
            aggs[name] = t["person_id"].nunique(where=cond)
        elif m.kind == "sum":
            aggs[name] = t[m.column].cast("float64").sum(where=cond)
        elif m.kind == "sumsq":
            x = t[m.column].cast("float64")
            aggs[name] = (x * x).sum(where=cond)
        elif m.kind == "nonnull":
            aggs[name] = t[m.column].count(where=cond)
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


class _Keys:
    """Integer codes for (organisation, period) shared by every plan output of one run.

    Organisations and periods are numbered in sorted order, so ``key = organisation
    code x periods + period code`` sorts like (organisation, period) and a sorted array
    of keys is already in the order results are published in. Each output is coded once,
    however many indicators read it."""

    def __init__(self, outputs: Sequence[pa.Table]) -> None:
        def vocabulary(column: str) -> pa.Array:
            parts = [o[column].cast(pa.string()) for o in outputs if o.num_rows]
            if not parts:
                return pa.array([], pa.string())
            values = pc.unique(pa.chunked_array([c for p in parts for c in p.chunks], pa.string()))
            values = values.drop_null()
            return values.take(pc.sort_indices(values))

        self.organisations = vocabulary("organisation")
        self.periods = vocabulary("period")
        self.n_periods = max(len(self.periods), 1)
        self._cache: dict[int, np.ndarray[Any, np.dtype[np.int64]]] = {}
        self._bands: dict[int, np.ndarray[Any, np.dtype[np.int64]]] = {}
        self._bases: dict[int, _Base] = {}

    def base(self, table: pa.Table) -> _Base:
        """The result rows an output defines (shared by indicators with that denominator)."""
        found = self._bases.get(id(table))
        if found is None:
            found = self._bases[id(table)] = _Base(self, table)
        return found

    def of(self, table: pa.Table) -> np.ndarray[Any, np.dtype[np.int64]]:
        """The key of each row of ``table`` (-1 where the organisation is null)."""
        cached = self._cache.get(id(table))
        if cached is None:
            org = pc.index_in(table["organisation"].cast(pa.string()), value_set=self.organisations)
            per = pc.index_in(table["period"].cast(pa.string()), value_set=self.periods)
            o = np.asarray(org.fill_null(-1).to_numpy(), dtype=np.int64)
            q = np.asarray(per.fill_null(-1).to_numpy(), dtype=np.int64)
            cached = np.where((o >= 0) & (q >= 0), o * self.n_periods + q, -1)
            self._cache[id(table)] = cached
        return cached

    def bands(self, table: pa.Table) -> np.ndarray[Any, np.dtype[np.int64]]:
        """The position of each row's age band in :data:`AGE_BANDS` (-1 if none)."""
        cached = self._bands.get(id(table))
        if cached is None:
            idx = pc.index_in(table["age_band"].cast(pa.string()), value_set=pa.array(AGE_BANDS, pa.string()))
            cached = np.asarray(idx.fill_null(-1).to_numpy(), dtype=np.int64)
            self._bands[id(table)] = cached
        return cached


def _values(table: pa.Table, name: str) -> np.ndarray[Any, np.dtype[np.float64]]:
    col = table[name].cast(pa.float64()).fill_null(0.0)
    return np.asarray(col.to_numpy(), dtype=np.float64)


class _Base:
    """The rows of one indicator's result: the unique (organisation, period) keys of one
    plan output, in publishing order."""

    def __init__(self, keys: _Keys, table: pa.Table) -> None:
        k = keys.of(table)
        self.keys: np.ndarray[Any, np.dtype[np.int64]] = np.unique(k[k >= 0])
        self._codes = keys
        self._rows: dict[int, np.ndarray[Any, np.dtype[np.int64]]] = {}
        self._gathered: dict[tuple[int, str, tuple[str, ...] | None], np.ndarray[Any, np.dtype[np.float64]]] = {}

    def __len__(self) -> int:
        return len(self.keys)

    @functools.cached_property
    def organisation(self) -> pa.Array:
        return self._codes.organisations.take(pa.array(self.keys // self._codes.n_periods))

    @functools.cached_property
    def period(self) -> pa.Array:
        return self._codes.periods.take(pa.array(self.keys % self._codes.n_periods))

    def index(self, table: pa.Table) -> np.ndarray[Any, np.dtype[np.int64]]:
        """Row of the base for each row of ``table`` (-1 where absent)."""
        found = self._rows.get(id(table))
        if found is not None:
            return found
        k = self._codes.of(table)
        if not len(self.keys):
            found = np.full(len(k), -1, dtype=np.int64)
        else:
            pos = np.minimum(np.searchsorted(self.keys, k), len(self.keys) - 1)
            found = np.where((k >= 0) & (self.keys[pos] == k), pos, -1)
        self._rows[id(table)] = found
        return found


def _gather(base: _Base, table: pa.Table, name: str, bands: list[str] | None) -> np.ndarray[Any, np.dtype[np.float64]]:
    """Sum measure ``name`` of ``table`` onto the base rows (and the given age bands).
    Indicators sharing a denominator share the result (callers never write to it)."""
    memo = (id(table), name, tuple(bands) if bands is not None else None)
    found = base._gathered.get(memo)
    if found is None:
        found = base._gathered[memo] = _gather_uncached(base, table, name, bands)
    return found


def _gather_uncached(base: _Base, table: pa.Table, name: str, bands: list[str] | None) -> np.ndarray[Any, np.dtype[np.float64]]:
    rows = base.index(table)
    vals = _values(table, name)
    if bands is None:
        keep = rows >= 0
        return np.bincount(rows[keep], weights=vals[keep], minlength=len(base)).astype(np.float64)
    position = np.full(len(AGE_BANDS), -1, dtype=np.int64)
    position[[AGE_BANDS.index(b) for b in bands]] = np.arange(len(bands))
    band = base._codes.bands(table)
    b = np.where(band >= 0, position[band], -1)
    keep = (rows >= 0) & (b >= 0)
    flat = np.bincount(rows[keep] * len(bands) + b[keep], weights=vals[keep],
                       minlength=len(base) * len(bands))
    return flat.reshape(len(base), len(bands)).astype(np.float64)


def _check_numerator(ind: Indicator, base: _Base, num: np.ndarray[Any, Any], den: np.ndarray[Any, Any]) -> None:
    bad = np.flatnonzero(num > den)
    if bad.size:
        i = int(bad[0])
        raise ValueError(
            f"{ind.path}: indicator {ind.id!r}: numerator {num[i]:g} exceeds denominator "
            f"{den[i]:g} for {base.organisation[i]} {base.period[i]} "
            f"({bad.size} organisation-period(s) in all)"
        )


def finish_one(binding: Binding, outputs: Sequence[pa.Table], deprivation: pa.Table | None = None,
               keys: _Keys | None = None, *, publish: bool = False) -> pa.Table:
    """One indicator's result table from the plan outputs, sorted by organisation and
    period.

    ``publish=False`` (the default, for internal callers such as the needs assessment,
    which applies its own public rounding): exact counts, values and intervals, nothing
    suppressed - not for publication. ``publish=True`` applies the indicator's disclosure
    rule so that nothing published can be worked back to an exact count: small counts are
    suppressed (value and interval null), the numerator is rounded, and the value and
    interval are computed from the rounded numerator with the indicator's method -
    proportion and crude rate directly, an ISR as the rounded total observed over the
    expected count; a mean is suppressed when its number of records is at or below the
    threshold and its count and total are rounded; a DSR (from the exact counts by age
    band, which are never published) publishes its rounded total. See the README."""
    keys = keys or _Keys(outputs)
    ind = binding.indicator
    rule = ind.disclosure if publish else None
    num_t = outputs[binding.numerator.plan]
    conf = ind.confidence
    mult = ind.multiplier
    by_age = ind.method in ("dsr", "isr")
    suppressed: np.ndarray[Any, np.dtype[np.bool_]]
    if ind.method == "mean":
        if binding.count is None or binding.sumsq is None:  # pragma: no cover
            raise ValueError("a mean binding needs count and sumsq")
        base = keys.base(num_t)
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
        suppressed = np.zeros(len(counts), dtype=bool)
        if rule is not None:
            # the rule applies to the number of records (admissions), the count shown
            dc = methods.disclosure_control(counts, rule.suppress_at_or_below, rule.round_to)
            suppressed = np.array(dc.suppressed, dtype=bool)
            denominator = np.array(dc.value, dtype=np.float64)
            numerator = np.array(methods.disclosure_control(sums, 0, rule.round_to).value, dtype=np.float64)
    else:
        if binding.denominator is None:  # pragma: no cover
            raise ValueError("a denominator is required")
        den_t = outputs[binding.denominator.plan]
        base = keys.base(den_t)
        published: np.ndarray[Any, np.dtype[np.float64]] | None = None
        if by_age:
            assert ind.denominator is not None  # noqa: S101 - narrowing for mypy
            bands = allowed_bands(ind.denominator.where, condition_matches)
            obs = _gather(base, num_t, binding.numerator.measure, bands)
            pops = _gather(base, den_t, binding.denominator.measure, bands)
            keep = pops.sum(axis=1) > 0
            obs, pops = obs[keep], pops[keep]
            numerator, denominator = obs.sum(axis=1), pops.sum(axis=1)
        else:
            num = _gather(base, num_t, binding.numerator.measure, None)
            den = _gather(base, den_t, binding.denominator.measure, None)
            keep = den > 0
            numerator, denominator = num[keep], den[keep]
            if ind.method == "proportion":
                _check_numerator(ind, base, num * keep, den)
        suppressed = np.zeros(len(numerator), dtype=bool)
        counted = numerator  # the count the value and interval are computed from
        if rule is not None:
            dc = methods.disclosure_control(numerator, rule.suppress_at_or_below, rule.round_to)
            suppressed = np.array(dc.suppressed, dtype=bool)
            published = np.array(dc.value, dtype=np.float64)
            if ind.method == "proportion":
                # a count rounded above its denominator would be a proportion over 100%
                # and would show the complement (denominator - numerator) is small
                suppressed |= np.nan_to_num(published) > denominator
            counted = np.where(suppressed, 0.0, published)
        if ind.method == "dsr":
            band_idx = [AGE_BANDS.index(b) for b in bands]
            d = methods.dsr(obs, pops, standard_populations=np.asarray(methods.ESP2013)[band_idx],
                            confidence=conf, multiplier=mult)
            value, lower, upper = np.asarray(d.value), np.asarray(d.lower), np.asarray(d.upper)
        elif ind.method == "isr":
            periods = (base.keys % keys.n_periods)[keep]
            ref_counts = np.zeros_like(obs)
            ref_pops = np.zeros_like(pops)
            for p in np.unique(periods):
                sel = periods == p
                ref_counts[sel] = obs[sel].sum(axis=0)
                ref_pops[sel] = pops[sel].sum(axis=0)
            # the reference rates are the exact ones; the observed count is the
            # published (rounded) total when a disclosure rule applies
            s = methods.isr(obs if rule is None else counted, pops, ref_counts, ref_pops,
                            confidence=conf, kind="ratio", multiplier=mult)
            value, lower, upper = np.asarray(s.value), np.asarray(s.lower), np.asarray(s.upper)
        elif ind.method == "proportion":
            p = methods.proportion(counted, denominator, confidence=conf, multiplier=mult)
            value, lower, upper = np.asarray(p.value), np.asarray(p.lower), np.asarray(p.upper)
        else:
            c = methods.rate(counted, denominator, confidence=conf, multiplier=mult)
            value, lower, upper = np.asarray(c.value), np.asarray(c.lower), np.asarray(c.upper)
        if published is not None:
            numerator = published
    organisation = base.organisation.filter(pa.array(keep))
    period = base.period.filter(pa.array(keep))
    n = len(organisation)
    quintile: pa.Array = pa.nulls(n, pa.int8())
    if deprivation is not None and ind.level == "practice" and n:
        pos = pc.index_in(organisation, value_set=deprivation["organisation"].combine_chunks())
        quintile = deprivation["imd_quintile"].combine_chunks().cast(pa.int8()).take(pos)

    def col(x: np.ndarray[Any, Any]) -> pa.Array:
        x = np.asarray(x, dtype=np.float64).copy()
        x[suppressed] = np.nan
        return pa.array(x, pa.float64(), from_pandas=True)

    return pa.table({
        "indicator_id": pa.repeat(pa.scalar(ind.id, pa.string()), n),
        "level": pa.repeat(pa.scalar(ind.level, pa.string()), n),
        "organisation": organisation.cast(pa.string()),
        "period": period.cast(pa.string()),
        "numerator": col(numerator),
        # a mean's denominator (its count of records) is null where suppressed
        "denominator": pa.array(np.asarray(denominator, dtype=np.float64), pa.float64(), from_pandas=True),
        "value": col(value),
        "lower": col(lower),
        "upper": col(upper),
        "confidence": pa.repeat(pa.scalar(conf, pa.float64()), n),
        "multiplier": pa.repeat(pa.scalar(mult, pa.float64()), n),
        "method": pa.repeat(pa.scalar(ind.method, pa.string()), n),
        "polarity": pa.repeat(pa.scalar(ind.polarity, pa.string()), n),
        "suppressed": pa.array(suppressed, pa.bool_()),
        "imd_quintile": quintile,
    }, schema=RESULT_SCHEMA)


#: Parquet/Arrow metadata saying whether a result table may be published.
PUBLISHED_METADATA = {b"opencommissioning.disclosure": b"applied: each indicator's disclosure rule"}
EXACT_METADATA = {b"opencommissioning.disclosure": b"none: exact figures, NOT FOR PUBLICATION"}


def finish(compiled: Compiled, outputs: Sequence[pa.Table], deprivation: pa.Table | None = None,
           *, publish: bool = False) -> pa.Table:
    """Every indicator's results, sorted by indicator, organisation and period: exact
    (the default; not for publication) or, with ``publish=True``, through each
    indicator's disclosure rule (:func:`finish_one`). The table's schema metadata says
    which (:data:`PUBLISHED_METADATA` / :data:`EXACT_METADATA`)."""
    keys = _Keys(outputs)
    bindings = sorted(compiled.bindings, key=lambda b: b.indicator.id)
    parts = [finish_one(b, outputs, deprivation, keys, publish=publish) for b in bindings]
    table = pa.concat_tables(parts) if parts else RESULT_SCHEMA.empty_table()
    return table.replace_schema_metadata(PUBLISHED_METADATA if publish else EXACT_METADATA)
