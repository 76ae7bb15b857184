"""The needs API (read-only): computed indicator values of the latest recompute as JSON."""

from __future__ import annotations

from django.http import HttpRequest
from ninja import Router, Schema
from ninja.pagination import paginate

from opencommissioning.api_auth import RequirePermission
from opencommissioning.core.permissions import Perm

from . import catalogue, queries
from .models import IndicatorValue

router = Router(tags=["Needs and outcomes"])


class IndicatorOut(Schema):
    id: str
    title: str
    outcome_domain: int
    level: str
    method: str
    multiplier: float
    polarity: str
    unit: str


class ValueOut(Schema):
    indicator_id: str
    scope: str
    level: str
    organisation: str
    period: str
    period_kind: str
    numerator: float | None
    denominator: float | None
    value: float | None
    lower: float | None
    upper: float | None
    lower_998: float | None
    upper_998: float | None
    suppressed: bool
    synthetic: bool
    source: str


class Problem(Schema):
    detail: str


@router.get("/needs/indicators", response=list[IndicatorOut], auth=RequirePermission(Perm.VIEW_NEEDS),
            summary="The indicator catalogue")
def list_indicators(request: HttpRequest) -> object:
    return [IndicatorOut(id=i.id, title=i.title, outcome_domain=i.outcome_domain, level=i.level, method=i.method,
                         multiplier=i.multiplier, polarity=i.polarity, unit=i.unit) for i in catalogue.indicators()]


@router.get("/needs/indicators/{indicator_id}/values", response={200: list[ValueOut], 404: Problem},
            auth=RequirePermission(Perm.VIEW_NEEDS), summary="An indicator's values from the latest recompute")
@paginate
def indicator_values(request: HttpRequest, indicator_id: str, level: str = "", organisation: str = "",
                     period_kind: str = "") -> object:
    """Values for every organisation and period, filtered by level (practice, locality,
    commissioner, provider, quintile, england), organisation code and period kind (month,
    span). Empty before the first recompute."""
    run = queries.current_run()
    if catalogue.by_id(indicator_id) is None or run is None:
        return IndicatorValue.objects.none()
    qs = IndicatorValue.objects.filter(run=run, indicator_id=indicator_id)
    if level:
        qs = qs.filter(level=level)
    if organisation:
        qs = qs.filter(organisation=organisation.upper())
    if period_kind:
        qs = qs.filter(period_kind=period_kind)
    return qs.order_by("scope", "level", "organisation", "period")
