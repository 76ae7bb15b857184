"""Reads that more than one place needs: who may see which referral, the worklist,
tariff look-ups and payment statements.

Scoping (the privacy rule): a referral, with its NHS number and clinical details, is
visible to the referring practice's referrers, to the referral reviewers of that
practice's commissioner, and to the provider it was routed to. Nobody else.
"""

from __future__ import annotations

import datetime
import functools
import hashlib
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import connection
from django.db.models import Case, Count, IntegerField, Max, Q, QuerySet, Value, When
from django.utils import timezone

from opencommissioning.core.models import Organisation, OrganisationKind
from opencommissioning.core.permissions import Perm, has_permission
from opencommissioning.core.roles import Role

from . import pricing
from .models import (
    PRIORITY_ORDER,
    AdviceEpisode,
    AdvicePaymentScheme,
    MarketForcesFactor,
    PracticeToken,
    ProviderService,
    Referral,
    Status,
    Tariff,
    TariffPrice,
)


def organisations_where(user: Any, role: str) -> list[int]:
    """Organisations in which ``user`` holds ``role`` today."""
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        return []
    today = timezone.localdate()
    return list(
        user.memberships.filter(role=role, started_on__lte=today)
        .exclude(ended_on__lt=today)
        .values_list("organisation_id", flat=True)
    )


def referral_scope(user: Any) -> Q:
    """The referrals ``user`` may see with identifiers, as a filter (nothing: ``pk__in=[]``)."""
    if not has_permission(user, Perm.VIEW_PATIENT_IDENTIFIERS):
        return Q(pk__in=[])
    scope = Q(pk__in=[])
    practices = organisations_where(user, Role.REFERRER)
    if practices:
        scope |= Q(practice_id__in=practices)
    commissioners = organisations_where(user, Role.REFERRAL_REVIEWER)
    if commissioners:
        scope |= Q(practice__parent_id__in=commissioners)
    providers = organisations_where(user, Role.PROVIDER)
    if providers:
        scope |= Q(routed_service__provider_id__in=providers)
    return scope


def visible_referrals(user: Any) -> QuerySet[Referral]:
    return Referral.objects.filter(referral_scope(user)).select_related(
        "practice", "specialty", "routed_service__provider", "claimed_by"
    )


def referral_for(user: Any, public_id: Any) -> Referral | None:
    return visible_referrals(user).filter(public_id=public_id).first()


def is_referrer_for(user: Any, referral: Referral) -> bool:
    return referral.practice_id in organisations_where(user, Role.REFERRER)


def is_reviewer_for(user: Any, referral: Referral) -> bool:
    return referral.practice.parent_id in organisations_where(user, Role.REFERRAL_REVIEWER)


def priority_rank() -> Case:
    return Case(*(When(priority=p, then=Value(rank)) for p, rank in PRIORITY_ORDER.items()), default=Value(9), output_field=IntegerField())


def reviewable(user: Any) -> QuerySet[Referral]:
    commissioners = organisations_where(user, Role.REFERRAL_REVIEWER)
    return Referral.objects.filter(practice__parent_id__in=commissioners)


def worklist(user: Any, *, specialty: str = "", priority: str = "") -> QuerySet[Referral]:
    """Referrals waiting for (or in) triage, most urgent and longest waiting first."""
    qs = (
        reviewable(user)
        .filter(status__in=[Status.AWAITING_TRIAGE, Status.IN_TRIAGE])
        .select_related("practice", "specialty", "claimed_by")
        .annotate(rank=priority_rank())
        .order_by("rank", "received_at", "pk")
    )
    if specialty == "none":
        qs = qs.filter(specialty__isnull=True)
    elif specialty:
        qs = qs.filter(specialty__code=specialty)
    if priority:
        qs = qs.filter(priority=priority)
    return qs


OPEN_STATUSES = (Status.AWAITING_TRIAGE, Status.IN_TRIAGE)


@dataclass(frozen=True)
class Wait:
    """The two clocks of a referral awaiting (or in) triage, in whole days.

    ``days``: since it was received; it never stops or restarts while the referral is on the
    worklist, whatever happened in between (advice, a reply, a conversion).
    ``in_queue_days``: since it last entered the queue (``Referral.queued_at``: received, or
    sent back by the practice's reply to advice or its conversion to a referral; a reviewer's
    claim and release do not restart it). ``requeued``: it has been back to the practice."""

    days: int
    in_queue_days: int
    requeued: bool


def waiting(referral: Referral, now: datetime.datetime | None = None) -> Wait | None:
    """How long ``referral`` has waited, or None when it is not waiting for triage."""
    if referral.status not in OPEN_STATUSES:
        return None
    now = now or timezone.now()
    return Wait(
        days=max((now - referral.received_at).days, 0),
        in_queue_days=max((now - referral.queued_at).days, 0),
        requeued=referral.queued_at > referral.received_at,
    )


def authenticate_token(raw: str) -> PracticeToken | None:
    """The open practice's token whose SHA-256 is ``raw``'s, with its practice; else None.

    Read on every FHIR call, straight from the database (never cached: a revoked token or a
    closed practice is refused at once). The same row as ``PracticeToken.objects
    .select_related("practice").filter(key_hash=…, revoked_at__isnull=True,
    practice__close_date__isnull=True)``, read with one SQL statement built once per process
    from the models' own fields, and its values converted by Django's own converters for
    each field, without compiling that queryset on every call, which cost more than the
    rest of the look-up (``bench/referrals_inprocess.py``)."""
    if not raw:
        return None
    digest = hashlib.sha256(raw.encode("utf-8")).hexdigest()
    statement = _token_statement(connection.alias)
    with connection.cursor() as cursor:
        cursor.execute(statement.sql, [digest])
        row = cursor.fetchone()
    if row is None:
        return None
    values = list(row)
    for i, column, converters in statement.converters:
        for convert in converters:
            values[i] = convert(values[i], column, connection)
    split = len(statement.token_names)
    token = PracticeToken.from_db(connection.alias, statement.token_names, values[:split])
    token.practice = Organisation.from_db(connection.alias, statement.practice_names, values[split:])
    return token


@dataclass(frozen=True)
class _TokenStatement:
    sql: str
    token_names: list[str]
    practice_names: list[str]
    converters: list[tuple[int, Any, list[Any]]]  # (position, column, Django's converters for it)


@functools.cache
def _token_statement(alias: str) -> _TokenStatement:
    token_fields = list(PracticeToken._meta.concrete_fields)
    practice_fields = list(Organisation._meta.concrete_fields)
    quote = connection.ops.quote_name
    columns = [f"t.{quote(f.column)}" for f in token_fields] + [f"o.{quote(f.column)}" for f in practice_fields]
    tokens, practices = quote(PracticeToken._meta.db_table), quote(Organisation._meta.db_table)
    joined = f"o.{quote(Organisation._meta.pk.column)} = t.{quote(PracticeToken._meta.get_field('practice').column)}"
    where = (f"t.{quote(PracticeToken._meta.get_field('key_hash').column)} = %s "
             f"AND t.{quote(PracticeToken._meta.get_field('revoked_at').column)} IS NULL "
             f"AND o.{quote(Organisation._meta.get_field('close_date').column)} IS NULL")
    # Names from the models' metadata only; the token's digest is a parameter.
    sql = f"SELECT {', '.join(columns)} FROM {tokens} t JOIN {practices} o ON {joined} WHERE {where}"  # noqa: S608
    converters = []
    for i, (table, field) in enumerate([("t", f) for f in token_fields] + [("o", f) for f in practice_fields]):
        column = field.get_col(table)
        found = connection.ops.get_db_converters(column) + field.get_db_converters(connection)
        if found:
            converters.append((i, column, found))
    return _TokenStatement(sql, [f.attname for f in token_fields], [f.attname for f in practice_fields], converters)


# --- tariff and prices ------------------------------------------------------------------


def tariff_in_force(on: datetime.date) -> Tariff | None:
    return Tariff.objects.filter(valid_from__lte=on).order_by("-valid_from", "-imported_at").first()


def scheme_in_force(on: datetime.date) -> AdvicePaymentScheme | None:
    return AdvicePaymentScheme.objects.filter(valid_from__lte=on).order_by("-valid_from").first()


@dataclass(frozen=True)
class Price:
    tariff: Tariff | None
    first_attendance: Decimal | None
    market_forces_factor: Decimal | None
    expected: Decimal | None


def price_for(service: ProviderService, on: datetime.date) -> Price:
    tariff = tariff_in_force(on)
    if tariff is None:
        return Price(None, None, None, None)
    row = TariffPrice.objects.filter(tariff=tariff, specialty_id=service.specialty_id).first()
    mff = MarketForcesFactor.objects.filter(tariff=tariff, provider_id=service.provider_id).values_list("factor", flat=True).first()
    if row is None:
        return Price(tariff, None, mff, None)
    return Price(tariff, row.first_attendance, mff, pricing.expected_price(row.first_attendance, mff))


def services_with_prices(specialty_id: int | None, on: datetime.date) -> list[tuple[ProviderService, Price]]:
    services = ProviderService.objects.filter(active=True).select_related("provider", "specialty")
    if specialty_id:
        services = services.order_by(Case(When(specialty_id=specialty_id, then=Value(0)), default=Value(1)), "specialty__name", "waiting_weeks")
    return [(s, price_for(s, on)) for s in services]


# --- payment statements -----------------------------------------------------------------


@dataclass(frozen=True)
class StatementLine:
    episode: AdviceEpisode
    line: pricing.CappedLine


@dataclass(frozen=True)
class Statement:
    practice: Organisation
    period: datetime.date
    scheme: AdvicePaymentScheme | None
    cap: Decimal | None
    lines: list[StatementLine]
    total_fees: Decimal
    total_paid: Decimal
    total_cap_applied: Decimal


def month_start(day: datetime.date) -> datetime.date:
    return day.replace(day=1)


def statement(practice: Organisation, period: datetime.date) -> Statement:
    """Every advice episode for the practice's referrals given in the month, in the
    order given, with the month's cap applied (the scheme in force on the 1st)."""
    period = month_start(period)
    episodes = list(
        AdviceEpisode.objects.filter(practice=practice, period=period).select_related("referral", "specialty", "given_by", "scheme").order_by("given_at", "pk")
    )
    scheme = scheme_in_force(period) or (episodes[0].scheme if episodes else None)
    cap = scheme.cap_per_practice_per_month if scheme else None
    fees = [e.fee for e in episodes]
    capped = pricing.apply_cap(fees, cap) if cap is not None else [pricing.CappedLine(f, f, Decimal("0.00"), Decimal(0)) for f in fees]
    lines = [StatementLine(e, c) for e, c in zip(episodes, capped, strict=True)]
    return Statement(
        practice=practice,
        period=period,
        scheme=scheme,
        cap=cap,
        lines=lines,
        total_fees=sum((c.fee for c in capped), Decimal("0.00")),
        total_paid=sum((c.paid for c in capped), Decimal("0.00")),
        total_cap_applied=sum((c.cap_applied for c in capped), Decimal("0.00")),
    )


def statement_practices(user: Any) -> QuerySet[Organisation]:
    """Practices whose statements ``user`` may read: a referrer their own; commissioning
    staff and auditors every practice of their commissioner."""
    own = organisations_where(user, Role.REFERRER)
    commissioners = [
        org
        for role in (Role.COMMISSIONING_MANAGER, Role.CLINICAL_COMMISSIONER, Role.AUDITOR, Role.REFERRAL_REVIEWER)
        for org in organisations_where(user, role)
    ]
    return Organisation.objects.filter(Q(pk__in=own) | Q(parent_id__in=commissioners, kind="practice")).order_by("name")


# --- practice API tokens ----------------------------------------------------------------


def token_practices(user: Any) -> QuerySet[Organisation]:
    """The member practices whose API tokens ``user`` may issue, see and revoke: every
    practice of a commissioner where they are a commissioning manager."""
    commissioners = organisations_where(user, Role.COMMISSIONING_MANAGER)
    return Organisation.objects.filter(parent_id__in=commissioners, kind=OrganisationKind.PRACTICE).order_by("name")


def may_manage_tokens(user: Any, practice: Organisation) -> bool:
    return practice.kind == OrganisationKind.PRACTICE and practice.parent_id in organisations_where(user, Role.COMMISSIONING_MANAGER)


def practice_tokens(practice: Organisation) -> QuerySet[PracticeToken]:
    """The practice's tokens, newest first, each with the last referral received with it
    and how many (reads through the API are not recorded), who issued and who revoked it.
    Never the token itself: only its first characters and a hash are kept."""
    return (
        PracticeToken.objects.filter(practice=practice)
        .select_related("created_by", "revoked_by")
        .annotate(last_referral_at=Max("referrals__received_at"), referrals_made=Count("referrals"))
        .order_by("-created_at", "-pk")
    )


def token_counts(practices: QuerySet[Organisation]) -> QuerySet[Organisation]:
    """``practices`` with how many tokens each has open and the last referral received
    through the API."""
    return practices.annotate(
        open_tokens=Count("referral_tokens", filter=Q(referral_tokens__revoked_at__isnull=True), distinct=True),
        last_api_referral_at=Max("referral_tokens__referrals__received_at"),
    )
