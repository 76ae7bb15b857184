"""The commissioning view: referral rates, advice conversion, triage outcomes and waits.

Aggregates only: counts by practice and specialty, never a patient identifier or clinical
detail. Every count can be followed to the referrals behind it (by reference, practice,
specialty and state) on the de-identified drill-down list. Intervals and the funnel come
from :mod:`opencommissioning.analytics.methods`.
"""

from __future__ import annotations

import datetime
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from django.db.models import Max, Q, QuerySet
from django.utils import timezone

from opencommissioning.analytics.methods import funnel_limits, funnel_significance, proportion, rate
from opencommissioning.core.charts import FLAG_TAG_COLOURS, FLAG_TEXT
from opencommissioning.core.models import Organisation, OrganisationKind, RegisteredPopulation
from opencommissioning.core.roles import Role

from .models import AdviceEpisode, AdviceOutcome, Referral, Specialty, Status
from .queries import OPEN_STATUSES, organisations_where

PER = 1000


def commissioners_of(user: Any) -> list[int]:
    """The commissioners whose figures ``user`` may read: where they work, or the
    commissioner of their practice."""
    ids: set[int] = set()
    for role in Role.values:
        for org_id in organisations_where(user, role):
            ids.add(org_id)
    orgs = Organisation.objects.filter(pk__in=ids)
    return sorted({o.pk for o in orgs if o.kind == OrganisationKind.COMMISSIONER} | {o.parent_id for o in orgs if o.kind == OrganisationKind.PRACTICE and o.parent_id})


def month_bounds(month: datetime.date) -> tuple[datetime.datetime, datetime.datetime]:
    start = month.replace(day=1)
    end = (start + datetime.timedelta(days=32)).replace(day=1)
    tz = timezone.get_current_timezone()
    return (datetime.datetime.combine(start, datetime.time.min, tzinfo=tz), datetime.datetime.combine(end, datetime.time.min, tzinfo=tz))


def months_available(commissioners: list[int]) -> list[datetime.date]:
    dates = Referral.objects.filter(practice__parent_id__in=commissioners).dates("received_at", "month", order="DESC")
    return list(dates)


def referrals_in(commissioners: list[int], month: datetime.date) -> QuerySet[Referral]:
    start, end = month_bounds(month)
    return Referral.objects.filter(practice__parent_id__in=commissioners, received_at__gte=start, received_at__lt=end)


def list_sizes(commissioners: list[int]) -> dict[int, int]:
    """Each practice's registered patients in its latest period."""
    latest = dict(
        RegisteredPopulation.objects.filter(organisation__parent_id__in=commissioners, organisation__kind=OrganisationKind.PRACTICE)
        .values_list("organisation_id").annotate(latest=Max("period")).values_list("organisation_id", "latest")
    )
    sizes: dict[int, int] = defaultdict(int)
    for org_id, period, patients in RegisteredPopulation.objects.filter(organisation_id__in=latest).values_list("organisation_id", "period", "patients"):
        if latest[org_id] == period:
            sizes[org_id] += patients
    return dict(sizes)


@dataclass
class PracticeRow:
    practice: Organisation
    patients: int
    referrals: int
    rate: float
    lower: float
    upper: float
    flag: str

    @property
    def flag_text(self) -> str:
        return FLAG_TEXT.get(self.flag, self.flag)

    @property
    def flag_colour(self) -> str:
        return FLAG_TAG_COLOURS.get(self.flag, "grey")


@dataclass
class Funnel:
    """The funnel's 95% and 99.8% limits around ``target`` at each list size in ``grid``
    (``analytics.methods.funnel_limits``; NaN where a limit does not exist)."""

    target: float
    grid: list[float]
    lower_95: list[float]
    upper_95: list[float]
    lower_998: list[float]
    upper_998: list[float]


@dataclass
class SpecialtyRow:
    specialty: Specialty | None
    referrals: int
    rate: float
    lower: float
    upper: float
    outcomes: dict[str, int]
    advice_episodes: int
    converted: int
    closed: int
    pending: int
    conversion: float | None
    conversion_lower: float | None
    conversion_upper: float | None
    median_wait_days: float | None
    p90_wait_days: float | None
    waiting_now: int
    longest_waiting_days: int | None

    @property
    def in_triage_total(self) -> int:
        return self.outcomes.get(Status.AWAITING_TRIAGE, 0) + self.outcomes.get(Status.IN_TRIAGE, 0)

    @property
    def code(self) -> str:
        return self.specialty.code if self.specialty else "none"


@dataclass
class View:
    month: datetime.date
    months: list[datetime.date]
    specialty: Specialty | None
    total_patients: int
    total_referrals: int
    overall_rate: float | None
    practices: list[PracticeRow] = field(default_factory=list)
    specialties: list[SpecialtyRow] = field(default_factory=list)
    funnel: Funnel | None = None
    unmatched_practices: int = 0


def _f(x: Any) -> float:
    return float(x)


def commissioning_view(user: Any, *, month: datetime.date | None = None, specialty_code: str = "") -> View:
    commissioners = commissioners_of(user)
    months = months_available(commissioners)
    if month is None:  # the latest complete month with referrals, else the current one
        this_month = timezone.localdate().replace(day=1)
        month = next((m for m in months if m < this_month), months[0] if months else this_month)
    month = month.replace(day=1)
    specialty = Specialty.objects.filter(code=specialty_code).first() if specialty_code else None
    base = referrals_in(commissioners, month)
    sizes = list_sizes(commissioners)
    practices = {p.pk: p for p in Organisation.objects.filter(pk__in=sizes)}
    counted = base.filter(specialty=specialty) if specialty else base
    by_practice = Counter(counted.values_list("practice_id", flat=True))
    total_patients = sum(sizes.values())
    view = View(month=month, months=months, specialty=specialty, total_patients=total_patients,
                total_referrals=counted.count(), overall_rate=None,
                unmatched_practices=len(set(by_practice) - set(sizes)))

    order = sorted(practices.values(), key=lambda p: p.name)
    if order:
        counts = np.array([by_practice.get(p.pk, 0) for p in order], dtype=float)
        pops = np.array([sizes[p.pk] for p in order], dtype=float)
        rates = rate(counts, pops, multiplier=PER)
        significance = funnel_significance("rate", counts, pops, multiplier=PER)
        for i, p in enumerate(order):
            view.practices.append(PracticeRow(p, int(pops[i]), int(counts[i]), _f(rates.value[i]), _f(rates.lower[i]), _f(rates.upper[i]), str(significance.flag[i])))
        view.overall_rate = float(significance.target)
        view.funnel = funnel(pops, view.overall_rate)

    # By specialty, over the whole registered population.
    rows: dict[int | None, dict[str, Any]] = defaultdict(lambda: {"n": 0, "outcomes": Counter(), "waits": [], "waiting": []})
    now = timezone.now()
    for spec_id, status, received, decided in base.values_list("specialty_id", "status", "received_at", "first_decision_at"):
        row = rows[spec_id]
        row["n"] += 1
        row["outcomes"][status] += 1
        if decided is not None:  # days to the first decision (advice, routing or return)
            row["waits"].append((decided - received).total_seconds() / 86400)
        if status in OPEN_STATUSES:  # every referral on the worklist, back from advice or not
            row["waiting"].append((now - received).days)
    start, end = month_bounds(month)
    episodes = AdviceEpisode.objects.filter(practice__parent_id__in=commissioners, given_at__gte=start, given_at__lt=end)
    advice: dict[int, Counter[str]] = defaultdict(Counter)
    for spec_id, outcome in episodes.values_list("specialty_id", "outcome"):
        advice[spec_id][outcome or "pending"] += 1
        rows[spec_id]  # noqa: B018 - make sure the specialty has a row
    specialties = {s.pk: s for s in Specialty.objects.filter(pk__in=[k for k in rows if k])}
    for spec_id, row in sorted(rows.items(), key=lambda kv: (kv[0] is None, specialties[kv[0]].name if kv[0] else "")):
        r = rate(row["n"], total_patients, multiplier=PER) if total_patients else None
        a = advice.get(spec_id, Counter())  # type: ignore[arg-type]
        decided = a[AdviceOutcome.CONVERTED] + a[AdviceOutcome.CLOSED]
        conv = proportion(a[AdviceOutcome.CONVERTED], decided) if decided else None
        waits = np.array(row["waits"], dtype=float)
        view.specialties.append(SpecialtyRow(
            specialty=specialties.get(spec_id) if spec_id else None,
            referrals=row["n"],
            rate=_f(r.value) if r else float("nan"), lower=_f(r.lower) if r else float("nan"), upper=_f(r.upper) if r else float("nan"),
            outcomes=dict(row["outcomes"]),
            advice_episodes=sum(a.values()), converted=a[AdviceOutcome.CONVERTED], closed=a[AdviceOutcome.CLOSED], pending=a["pending"],
            conversion=_f(conv.value) if conv else None, conversion_lower=_f(conv.lower) if conv else None, conversion_upper=_f(conv.upper) if conv else None,
            median_wait_days=float(np.median(waits)) if waits.size else None,
            p90_wait_days=float(np.percentile(waits, 90)) if waits.size else None,
            waiting_now=len(row["waiting"]), longest_waiting_days=max(row["waiting"]) if row["waiting"] else None,
        ))
    return view


def funnel(populations: np.ndarray, target: float) -> Funnel | None:
    """The limits over the span of the practices' list sizes (and at each of them), as
    ``analytics.profiles.funnel`` draws them for the needs pages; None when no practice has
    a list or no referral was made (a funnel around a rate of 0 says nothing)."""
    sizes = populations[np.isfinite(populations) & (populations > 0)]
    if not sizes.size or not np.isfinite(target) or target <= 0:
        return None
    grid = np.unique(np.concatenate([np.geomspace(sizes.min() * 0.8, sizes.max() * 1.1, 80), sizes]))
    limits = funnel_limits("rate", grid, target, multiplier=PER)

    def clean(values: Any) -> list[float]:
        return [float(v) for v in np.asarray(values, dtype=float)]

    return Funnel(target=target, grid=clean(grid), lower_95=clean(limits.lower_95), upper_95=clean(limits.upper_95),
                  lower_998=clean(limits.lower_998), upper_998=clean(limits.upper_998))


def drilldown(user: Any, *, month: datetime.date, practice: str = "", specialty: str = "", status: str = "", advice: str = "") -> QuerySet[Referral]:
    """The referrals behind a number: references and states only (the template shows no
    NHS number or clinical detail)."""
    commissioners = commissioners_of(user)
    qs = referrals_in(commissioners, month).select_related("practice", "specialty", "routed_service__provider").order_by("received_at", "pk")
    if practice:
        qs = qs.filter(practice__ods_code=practice)
    if specialty == "none":
        qs = qs.filter(specialty__isnull=True)
    elif specialty:
        qs = qs.filter(specialty__code=specialty)
    if status:
        qs = qs.filter(status=status)
    if advice:
        start, end = month_bounds(month)
        episodes = AdviceEpisode.objects.filter(given_at__gte=start, given_at__lt=end, practice__parent_id__in=commissioners)
        if specialty == "none":
            episodes = episodes.none()  # advice is always given in a specialty: none lacks one
        elif specialty:
            episodes = episodes.filter(specialty__code=specialty)
        if advice != "all":
            episodes = episodes.filter(outcome="" if advice == "pending" else advice)
        qs = Referral.objects.filter(Q(pk__in=episodes.values("referral_id"))).select_related("practice", "specialty", "routed_service__provider").order_by("received_at", "pk")
        if practice:
            qs = qs.filter(practice__ods_code=practice)
    return qs
