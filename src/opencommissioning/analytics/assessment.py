"""The joint strategic needs assessment's computation: the catalogue at every level a
profile needs, in one call.

The data model has three levels (practice, commissioner, provider). A needs assessment
also needs groups of practices that the data does not name: localities, deprivation
quintiles of a commissioner's practices, England (every practice in the data), and spans
of months (the latest year). Rather than teach the compiler new levels, each grouping is a
**relabelled copy** of the data: the ``commissioner`` column holds the group's code
(``practice``, ``organisation`` and ``provider`` are emptied, so no practice- or
provider-level rows come out of the copy), and the catalogue runs at commissioner level.
Spans relabel ``period`` (months outside the span are dropped). Every rate, interval and
standardisation is therefore computed by the same engine and the same methods as the
native levels - including DSRs, which cannot be pooled from published results.

Indirectly standardised ratios take as reference all organisations in the data for the
same period (see the catalogue README); a grouping's copy covers every practice once, so
its reference rates are those of the native run.

:func:`compute` returns :data:`VALUES_SCHEMA`: the result schema plus ``lower_998`` and
``upper_998`` (each indicator is run again at 99.8% in the same pass: identical measures
are shared, so only the finishing step is repeated) and ``period_kind`` (``month`` or
``span``). A span's figures are a year's (:func:`per_year`): registered patients are the
average over its months, and rates are per year. Values of a period whose activity data holds no rows of the indicator's setting
(prescriptions loaded for one year of two, say) are left out rather than published as 0.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds

from . import methods
from .catalogue import Indicator, Quantity
from .compiler import RESULT_SCHEMA
from .datamodel import LEVEL_KEYS
from .engines import DataSource, Engine, Progress
from .runner import run_catalogue

VALUES_SCHEMA = pa.schema([
    *RESULT_SCHEMA,
    pa.field("lower_998", pa.float64()),
    pa.field("upper_998", pa.float64()),
    pa.field("period_kind", pa.string()),
])

#: The level name of each kind of grouping in the output.
GROUP_LEVELS = ("locality", "quintile", "england")
_SUFFIX = "__998"


@dataclass(frozen=True)
class Grouping:
    """Practices gathered into groups: ``groups`` maps a practice code to its group code;
    practices not in it are left out of the grouping. ``level`` names the output level."""

    level: str
    groups: Mapping[str, str]


def settings_needed(ind: Indicator) -> set[str] | None:
    """The activity settings an indicator counts (None: it does not filter on setting)."""
    needed: set[str] | None = None
    for q in (ind.numerator, ind.denominator):
        if q is None or q.table != "activity":
            continue
        for c in q.where:
            if c.column == "setting" and c.op in ("equals", "in"):
                values = {str(v) for v in c.values}
                needed = values if needed is None else needed & values
    return needed


def with_data(indicators: Iterable[Indicator], settings_present: Iterable[str]) -> tuple[list[Indicator], list[Indicator]]:
    """(indicators the data can answer, indicators whose activity setting has no rows):
    an indicator of prescriptions over a population would otherwise be a confident 0."""
    present = set(settings_present)
    ok: list[Indicator] = []
    missing: list[Indicator] = []
    for ind in indicators:
        needed = settings_needed(ind)
        (missing if needed is not None and not needed & present else ok).append(ind)
    return ok, missing


def _levels_of(ind: Indicator) -> list[str]:
    """Every native level an indicator can be computed at (its own first)."""
    out = [ind.level]
    for level in ("practice", "commissioner"):
        tables = [q.table for q in (ind.numerator, ind.denominator) if q is not None]
        if level not in out and all(LEVEL_KEYS[t][level] for t in tables):
            out.append(level)
    return out


def _variants(indicators: Sequence[Indicator], levels: Sequence[str] | None) -> list[Indicator]:
    out = []
    for ind in indicators:
        for level in _levels_of(ind):
            if levels is not None and level not in levels:
                continue
            base = dataclasses.replace(ind, level=level)
            out.append(base)
            out.append(dataclasses.replace(base, id=ind.id + _SUFFIX, confidence=0.998))
    return out


def _columns(indicators: Sequence[Indicator]) -> dict[str, set[str]]:
    cols: dict[str, set[str]] = {}
    for ind in indicators:
        for level in ("practice", "commissioner", "provider"):
            try:
                per_table = dataclasses.replace(ind, level=level).columns()
            except (KeyError, TypeError):
                continue
            for table, names in per_table.items():
                cols.setdefault(table, set()).update(n for n in names if n)
    return cols


def _read(data: DataSource, table: str, columns: set[str]) -> pa.Table:
    if table in data.tables:
        t = data.tables[table]
        return t.select([c for c in t.column_names if c in columns])
    dataset = ds.dataset(data.parquet_files(table), format="parquet")
    return dataset.to_table(columns=[c for c in dataset.schema.names if c in columns])


def _relabel_periods(table: pa.Table, spans: Mapping[str, Sequence[str]]) -> pa.Table:
    """Every row of the span's months, labelled with the span. A person counted in a month
    (``persons`` measures: a QOF register is a monthly snapshot) stays a separate person
    in each month, so over a span a persons count is person-months, over the population's
    person-months: the average monthly prevalence, never distinct people in a year over
    the list size twelve times over."""
    parts = []
    for label, months in spans.items():
        keep = table.filter(pc.is_in(table["period"], value_set=pa.array(list(months), pa.string())))
        if "person_id" in keep.column_names:
            monthly = pc.binary_join_element_wise(keep["period"], keep["person_id"], "|")
            keep = keep.set_column(keep.schema.get_field_index("person_id"), "person_id", monthly)
        parts.append(keep.set_column(keep.schema.get_field_index("period"), "period",
                                     pa.array([label] * keep.num_rows, pa.string())))
    return pa.concat_tables(parts) if parts else table.slice(0, 0)


def _regroup(table: pa.Table, name: str, grouping: Grouping) -> pa.Table:
    key = "organisation" if name == "population" else "practice"
    practices = list(grouping.groups)
    groups = pa.array([grouping.groups[p] for p in practices], pa.string())
    idx = pc.index_in(table[key], value_set=pa.array(practices, pa.string()))
    table = table.filter(pc.is_valid(idx))
    idx = pc.index_in(table[key], value_set=pa.array(practices, pa.string()))
    table = table.set_column(table.schema.get_field_index("commissioner"), "commissioner", groups.take(idx))
    for column in (key, "provider"):
        if column in table.column_names:
            i = table.schema.get_field_index(column)
            table = table.set_column(i, column, pa.nulls(table.num_rows, pa.string()))
    return table


def _finish(results: pa.Table, level_name: str | None, period_kind: str) -> pa.Table:
    """Join each 99.8% variant to its 95% row."""
    ids = results["indicator_id"]
    is998 = pc.ends_with(ids, _SUFFIX)
    main = results.filter(pc.invert(is998))
    wide = results.filter(is998)
    wide = wide.set_column(0, "indicator_id", pa.array([i[: -len(_SUFFIX)] for i in wide["indicator_id"].to_pylist()],
                                                        pa.string()))
    wide = wide.select(["indicator_id", "level", "organisation", "period", "lower", "upper"]).rename_columns(
        ["indicator_id", "level", "organisation", "period", "lower_998", "upper_998"])
    joined = main.join(wide, keys=["indicator_id", "level", "organisation", "period"], join_type="left outer")
    if level_name is not None:
        joined = joined.set_column(joined.schema.get_field_index("level"), "level",
                                   pa.array([level_name] * joined.num_rows, pa.string()))
    joined = joined.append_column("period_kind", pa.array([period_kind] * joined.num_rows, pa.string()))
    return joined.select(VALUES_SCHEMA.names).cast(VALUES_SCHEMA)


def _snapshot(q: Quantity | None) -> bool:
    """A monthly snapshot (a registered population, people on a register): over a span of
    months it is counted once a month, so the span's sum is person-months."""
    return q is not None and (q.table == "population" or q.measure == "persons")


def rate_per_year(ind: Indicator) -> bool:
    """Whether a span's figure for ``ind`` is a rate per year: events (not a snapshot) over
    a population counted once a month (:func:`per_year` scales it)."""
    return ind.method in ("crude_rate", "dsr") and _snapshot(ind.denominator) and not _snapshot(ind.numerator)


def per_year(values: pa.Table, indicators: Sequence[Indicator], spans: Mapping[str, Sequence[str]]) -> pa.Table:
    """Span values as a year's figures. The engine counts a monthly snapshot (registered
    patients, a register) once a month, so over a span its total is person-months; here it
    becomes the **average over the span's months** (patients, not person-months) and a rate
    of events over it is **per year** (for a crude rate or a DSR, the events of the span
    over the average population: the monthly-average rate times the number of months; the
    intervals scale the same way, exactly, as they rest on the same event counts). A
    proportion of two snapshots (a prevalence) keeps its value and gets Wilson's interval
    on the average counts, not on person-months (which would be 12 times too precise). ISRs
    and means are ratios of like with like and are unchanged, but for their counts."""
    if values.num_rows == 0 or not spans:
        return values
    by_id = {i.id: i for i in indicators}
    cols = {n: np.asarray(values[n].to_numpy(zero_copy_only=False), dtype=np.float64).copy()
            for n in ("numerator", "denominator", "value", "lower", "upper", "lower_998", "upper_998", "confidence",
                      "multiplier")}
    ids = values["indicator_id"].to_pylist()
    periods = values["period"].to_pylist()
    kinds = values["period_kind"].to_pylist()
    wilson: list[int] = []
    for i, (ident, period, kind) in enumerate(zip(ids, periods, kinds, strict=True)):
        ind = by_id.get(ident)
        if kind != "span" or ind is None or period not in spans:
            continue
        months = float(len(spans[period]))
        num_snap, den_snap = _snapshot(ind.numerator), _snapshot(ind.denominator)
        if num_snap:
            cols["numerator"][i] /= months
        if den_snap:
            cols["denominator"][i] /= months
        if rate_per_year(ind):
            for n in ("value", "lower", "upper", "lower_998", "upper_998"):
                cols[n][i] *= months
        elif ind.method == "proportion" and num_snap and den_snap:
            wilson.append(i)
    if wilson:
        idx = np.asarray(wilson)
        ok = np.isfinite(cols["numerator"][idx]) & (cols["denominator"][idx] > 0)
        idx = idx[ok]
        for conf_col, lo, hi in (("confidence", "lower", "upper"), (None, "lower_998", "upper_998")):
            for conf in (np.unique(cols["confidence"][idx]) if conf_col else [0.998]):
                sel = idx[cols["confidence"][idx] == conf] if conf_col else idx
                for mult in np.unique(cols["multiplier"][sel]):
                    part = sel[cols["multiplier"][sel] == mult]
                    r = methods.proportion(cols["numerator"][part], cols["denominator"][part], confidence=float(conf),
                                           multiplier=float(mult))
                    cols[lo][part] = np.asarray(r.lower)
                    cols[hi][part] = np.asarray(r.upper)
    out = values
    for n in ("numerator", "denominator", "value", "lower", "upper", "lower_998", "upper_998"):
        out = out.set_column(out.schema.get_field_index(n), n, pa.array(cols[n], pa.float64(), from_pandas=True))
    return out


def coverage(data: DataSource) -> dict[str, set[str]]:
    """The months in which the activity data holds rows of each setting."""
    if not data.has("activity"):
        return {}
    if "activity" in data.tables:
        table = data.tables["activity"].select(["setting", "period"])
    else:
        table = ds.dataset(data.parquet_files("activity"), format="parquet").to_table(columns=["setting", "period"])
    pairs = table.group_by(["setting", "period"]).aggregate([])
    out: dict[str, set[str]] = {}
    for setting, period in zip(pairs["setting"].to_pylist(), pairs["period"].to_pylist(), strict=True):
        if setting is not None and period is not None:
            out.setdefault(str(setting), set()).add(str(period))
    return out


def _covered(values: pa.Table, indicators: Sequence[Indicator], months_of: Mapping[str, set[str]],
             spans: Mapping[str, Sequence[str]]) -> pa.Table:
    """Drop the values of periods whose activity data lacks the indicator's setting: an
    indicator of prescriptions in a month (or a year) for which no prescriptions were loaded
    would otherwise be a confident 0. A span needs the setting in every one of its months."""
    needed = {ind.id: settings_needed(ind) for ind in indicators}
    keep = []
    for ind_id, period in zip(values["indicator_id"].to_pylist(), values["period"].to_pylist(), strict=True):
        settings = needed.get(ind_id)
        if not settings:
            keep.append(True)
            continue
        present = set().union(*(months_of.get(s, set()) for s in settings))
        months = spans.get(period, [period])
        keep.append(all(m in present for m in months))
    return values.filter(pa.array(keep, pa.bool_()))


def compute(indicators: Sequence[Indicator], engine: Engine, data: DataSource, *,
            monthly: bool = True, spans: Mapping[str, Sequence[str]] | None = None,
            groupings: Sequence[Grouping] = (), monthly_levels: Sequence[str] | None = None,
            progress: Progress | None = None) -> pa.Table:
    """Every indicator at its native levels (monthly, and for each span of months), and at
    commissioner level for each grouping (for each span), as :data:`VALUES_SCHEMA`.

    ``monthly_levels`` limits the monthly run to some native levels (e.g. for a national
    dataset that only needs commissioners)."""
    parts: list[pa.Table] = []
    if monthly:
        parts.append(_finish(run_catalogue(_variants(indicators, monthly_levels), engine, data, progress),
                             None, "month"))
    if spans:
        needed = _columns(indicators)
        tables = {name: _read(data, name, cols) for name, cols in needed.items() if data.has(name)}
        if data.has("deprivation"):
            tables["deprivation"] = data.arrow("deprivation")
        spanned = {n: (_relabel_periods(t, spans) if n != "deprivation" else t) for n, t in tables.items()}
        parts.append(_finish(run_catalogue(_variants(indicators, monthly_levels), engine,
                                           DataSource(tables=spanned), progress), None, "span"))
        for grouping in groupings:
            grouped = {n: _regroup(t, n, grouping) for n, t in spanned.items() if n != "deprivation"}
            commissioner_level = [dataclasses.replace(ind, level="commissioner") for ind in indicators]
            parts.append(_finish(run_catalogue(_variants(commissioner_level, ["commissioner"]), engine,
                                               DataSource(tables=grouped), progress), grouping.level, "span"))
    if not parts:
        return VALUES_SCHEMA.empty_table()
    values = per_year(pa.concat_tables(parts), indicators, spans or {})
    return _covered(values, indicators, coverage(data), spans or {})
