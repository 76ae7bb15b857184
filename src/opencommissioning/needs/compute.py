"""Everything a recompute computes, from the store and the organisation directory, through
the analytics package. Nothing here writes to the database (``services.recompute`` does).

Per scope of loaded data:

* **local** (the commissioner's own practices): every indicator monthly at practice and
  commissioner level (and provider level for provider indicators), and for the latest
  12 months and the 12 before them at those levels and for each locality and each
  deprivation quintile of a commissioner's practices (quintiles of the practices' IMD
  2019 scores among that commissioner's practices);
* **national** (every commissioner, for comparators and the funnel of commissioners): the
  same spans at commissioner and provider level, and England (every practice in it);
* **published** counts: each indicator's method on the published numerator and denominator.

Then disclosure control of every count for the public pages, and each practice's and
commissioner's nearest neighbours on the analyst's weights.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
from django.conf import settings

from opencommissioning.analytics.assessment import Grouping, compute, with_data
from opencommissioning.analytics.engines import get_engine
from opencommissioning.analytics.profiles import (
    DEFAULT_WEIGHTS,
    local_quintiles,
    nearest_neighbours,
    peer_features,
    public_counts,
    public_values,
)
from opencommissioning.analytics.published import published_values, with_england
from opencommissioning.core.models import Organisation, OrganisationKind

from . import catalogue, store
from .models import DatasetLoad, Level, LoadStatus, PeerSettings, Scope

ENGLAND = "ENG"


def month_span(months: Sequence[str]) -> str:
    return f"{months[0]}/{months[-1]}"


def _month_index(month: str) -> int:
    return int(month[:4]) * 12 + int(month[5:7]) - 1


def _month(index: int) -> str:
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def consecutive(last: str, count: int = 12) -> list[str]:
    """``count`` consecutive calendar months ending with ``last``."""
    end = _month_index(last)
    return [_month(i) for i in range(end - count + 1, end + 1)]


def spans_for(periods: Sequence[str]) -> dict[str, list[str]]:
    """The year ending at the latest month present (12 consecutive calendar months, whether
    or not each has data: :func:`span_gaps` names those without) and, when the data covers
    every month of it, the year before."""
    months = sorted({p for p in periods if len(p) == 7})
    if not months:
        return {}
    latest = consecutive(months[-1])
    out: dict[str, list[str]] = {month_span(latest): latest}
    earlier = consecutive(_month(_month_index(latest[0]) - 1))
    if set(earlier) <= set(months):
        out[month_span(earlier)] = earlier
    return out


def span_gaps(spans: dict[str, list[str]], periods: Sequence[str]) -> dict[str, list[str]]:
    """The months of each span that hold no data."""
    present = set(periods)
    return {label: [m for m in months if m not in present] for label, months in spans.items()
            if any(m not in present for m in months)}


@dataclass
class Computed:
    values: list[dict[str, Any]] = field(default_factory=list)
    held_back: list[str] = field(default_factory=list)
    spans: dict[str, list[str]] = field(default_factory=dict)
    span_gaps: dict[str, dict[str, list[str]]] = field(default_factory=dict)
    loads: list[int] = field(default_factory=list)
    synthetic_scopes: list[str] = field(default_factory=list)
    features: list[tuple[str, str, dict[str, float], bool]] = field(default_factory=list)
    peers: list[tuple[str, str, str, int, float]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _loaded(scope: str) -> list[DatasetLoad]:
    return list(DatasetLoad.objects.filter(scope=scope, status=LoadStatus.LOADED))


def _settings_present(loads: Sequence[DatasetLoad]) -> set[str]:
    present: set[str] = set()
    for load in loads:
        if load.table == "activity":
            present |= {k for k, v in (load.counts_by_setting or {}).items() if v}
    return present


def _rows(table: pa.Table, scope: str, synthetic: bool, source: str = "") -> list[dict[str, Any]]:
    rows = table.to_pylist()
    for r in rows:
        r["scope"] = scope
        r["synthetic"] = synthetic
        r.setdefault("source", source)
        if r.get("source") is None:
            r["source"] = source
    return rows


def _groupings(practices: Sequence[str], deprivation: pa.Table | None) -> list[Grouping]:
    """Localities and deprivation quintiles of the practices in the local data."""
    orgs = {o.ods_code: o for o in Organisation.objects.filter(ods_code__in=practices, kind=OrganisationKind.PRACTICE)
            .select_related("locality", "parent")}
    localities = {code: o.locality.ods_code for code, o in orgs.items() if o.locality_id and o.locality}
    groupings = []
    if localities:
        groupings.append(Grouping(Level.LOCALITY, localities))
    if deprivation is not None and deprivation.num_rows:
        scores = {r["organisation"]: r["imd_score"] for r in deprivation.to_pylist() if r.get("imd_score") is not None}
        by_commissioner: dict[str, list[str]] = {}
        for code in practices:
            org = orgs.get(code)
            if org is not None and org.parent_id and code in scores:
                by_commissioner.setdefault(org.parent.ods_code if org.parent else "", []).append(code)
        groups: dict[str, str] = {}
        for commissioner, members in by_commissioner.items():
            if len(members) < 5:
                continue
            for code, q in local_quintiles(members, [scores[m] for m in members]).items():
                groups[code] = f"{commissioner}~Q{q}"
        if groups:
            groupings.append(Grouping(Level.QUINTILE, groups))
    return groupings


def _weights(level: str) -> tuple[dict[str, float], int]:
    saved = PeerSettings.objects.filter(level=level).first()
    if saved is None:
        return dict(DEFAULT_WEIGHTS), 5
    return {**DEFAULT_WEIGHTS, **{k: float(v) for k, v in saved.weights.items()}}, int(saved.neighbours)


def compute_all() -> Computed:
    out = Computed()
    engine = get_engine(settings.NEEDS_ENGINE)
    everything = catalogue.indicators()
    loaded = {s: _loaded(s) for s in Scope.values}
    out.loads = sorted(load.pk for loads in loaded.values() for load in loads)
    running = DatasetLoad.objects.filter(status__in=[LoadStatus.QUEUED, LoadStatus.RUNNING]).values_list("pk", flat=True)
    store.sweep([(load.scope, load.table, load.pk) for loads in loaded.values() for load in loads], running)
    held_back: set[str] = set()
    local_features: dict[str, dict[str, float]] = {}
    try:
        for scope in (Scope.LOCAL, Scope.NATIONAL):
            loads = loaded[scope]
            tables = {load.table for load in loads}
            if not {"population", "activity"} <= tables:
                continue
            synthetic = any(load.synthetic for load in loads if load.table in ("population", "activity"))
            if synthetic:
                out.synthetic_scopes.append(scope)
            usable, missing = with_data(everything, _settings_present(loads))
            held_back |= {i.id for i in missing}
            data = store.data_source(scope)
            periods = sorted({p for load in loads if load.table == "activity" for p in load.periods})
            spans = spans_for(periods)
            out.spans[scope] = list(spans)
            gaps = span_gaps(spans, periods)
            if gaps:
                out.span_gaps[scope] = gaps
            deprivation = data.arrow("deprivation") if data.has("deprivation") else None
            population = data.arrow("population")
            if scope == Scope.LOCAL:
                practices = sorted(set(population["organisation"].to_pylist()))
                table = compute(usable, engine, data, spans=spans, groupings=_groupings(practices, deprivation))
                out.values += _rows(table, scope, synthetic)
                feats = peer_features(population, deprivation, "practice")
                out.features += [("practice", c, f, synthetic) for c, f in feats.items()]
                weights, k = _weights("practice")
                for code, near in nearest_neighbours(feats, weights, k).items():
                    out.peers += [("practice", code, n.code, rank, n.distance) for rank, n in enumerate(near, 1)]
                local_features = peer_features(population, deprivation, "commissioner")
            else:
                practices = sorted(set(population["organisation"].to_pylist()))
                table = compute(usable, engine, data, monthly=False, spans=spans, monthly_levels=["commissioner", "provider"],
                                groupings=[Grouping(Level.ENGLAND, dict.fromkeys(practices, ENGLAND))])
                out.values += _rows(table, scope, synthetic)
                feats = peer_features(population, deprivation, "commissioner")
                feats.update(local_features)
                out.features += [("commissioner", c, f, synthetic) for c, f in feats.items()]
                weights, k = _weights("commissioner")
                for code, near in nearest_neighbours(feats, weights, k).items():
                    out.peers += [("commissioner", code, n.code, rank, n.distance) for rank, n in enumerate(near, 1)]
        if not out.features and local_features:
            out.features += [("commissioner", c, f, Scope.LOCAL in out.synthetic_scopes) for c, f in local_features.items()]
        published = [load for load in loaded[Scope.PUBLISHED] if load.table == "published"]
        if published:
            table = store.read(Scope.PUBLISHED, "published")
            if table is not None and table.num_rows:
                values = published_values(everything, with_england(table, ENGLAND))
                synthetic = any(load.synthetic for load in published)
                out.values += _rows(values, Scope.PUBLISHED, synthetic)
    finally:
        engine.close()
    out.held_back = sorted(held_back - {str(v["indicator_id"]) for v in out.values})
    if out.values:
        counts = public_counts([v["numerator"] for v in out.values], [v["denominator"] for v in out.values])
        for v, n, d, s in zip(out.values, counts.numerator, counts.denominator, counts.suppressed, strict=True):
            v["public_numerator"], v["public_denominator"], v["public_suppressed"] = n, d, s or bool(v.get("suppressed"))
        pv = public_values([str(v["method"]) for v in out.values], [float(v["multiplier"]) for v in out.values],
                           [float(v["confidence"]) for v in out.values], counts.numerator, counts.denominator,
                           [bool(v["public_suppressed"]) for v in out.values], [v["numerator"] for v in out.values],
                           [v["value"] for v in out.values], [v["lower"] for v in out.values],
                           [v["upper"] for v in out.values], [v["lower_998"] for v in out.values],
                           [v["upper_998"] for v in out.values])
        for i, v in enumerate(out.values):
            v["public_value"], v["public_lower"], v["public_upper"] = pv.value[i], pv.lower[i], pv.upper[i]
            v["public_lower_998"], v["public_upper_998"] = pv.lower_998[i], pv.upper_998[i]
    return out


def quintile_code(commissioner: str, quintile: int) -> str:
    return f"{commissioner}~Q{quintile}"

