"""Reads about organisations and people that more than one place needs."""

from __future__ import annotations

import datetime

from django.db.models import Count, F, Q, QuerySet, Sum

from .models import Membership, Organisation, RegisteredPopulation


def search_organisations(
    query: str = "", kind: str = "", include_closed: bool = False
) -> QuerySet[Organisation]:
    """Organisations whose name contains ``query`` or whose ODS code starts with it."""
    organisations = Organisation.objects.select_related("parent")
    query = query.strip()
    if query:
        organisations = organisations.filter(
            Q(name__icontains=query) | Q(ods_code__istartswith=query)
        )
    if kind:
        organisations = organisations.filter(kind=kind)
    if not include_closed:
        organisations = organisations.filter(close_date__isnull=True)
    return organisations.order_by("name", "ods_code")


def organisation_by_code(ods_code: str) -> Organisation | None:
    return (
        Organisation.objects.select_related("parent", "parent__parent", "locality")
        .filter(ods_code__iexact=ods_code)
        .first()
    )


def members_filter(organisation: Organisation) -> Q:
    """The organisations that are part of ``organisation``: its children, and for a
    locality the practices placed in it."""
    return Q(parent=organisation) | Q(locality=organisation)


def children_of(organisation: Organisation) -> QuerySet[Organisation]:
    """Open ones first, then by kind and name."""
    return Organisation.objects.filter(members_filter(organisation)).order_by(
        F("close_date").asc(nulls_first=True), "kind", "name"
    ).annotate(n_children=Count("children"))


def current_members_of(organisation: Organisation) -> QuerySet[Membership]:
    return (
        organisation.memberships.filter(ended_on__isnull=True)
        .select_related("user")
        .order_by("role", "user__full_name")
    )


def _latest_total(population: QuerySet[RegisteredPopulation]) -> tuple[datetime.date, int] | None:
    """(latest period, patients summed over it) for a set of population counts."""
    latest = population.order_by("-period").values_list("period", flat=True).first()
    if latest is None:
        return None
    total = population.filter(period=latest).aggregate(n=Sum("patients"))["n"]
    return latest, int(total or 0)


def latest_list_size(organisation: Organisation) -> tuple[datetime.date, int] | None:
    """(period, registered patients) for the latest period loaded, if any."""
    return _latest_total(RegisteredPopulation.objects.filter(organisation=organisation))


def list_size_of_children(organisation: Organisation) -> int | None:
    """Registered patients summed over an organisation's member practices, latest period."""
    members = Organisation.objects.filter(members_filter(organisation))
    found = _latest_total(RegisteredPopulation.objects.filter(organisation__in=members))
    return found[1] if found else None
