"""Reads more than one page needs: the public registers (as rows with stable keys), who is
overdue, a decision's whole chain, and the accountability map."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any

from django.db.models import Max, Prefetch, Q, QuerySet
from django.urls import reverse
from django.utils import timezone

from opencommissioning.core.models import Membership, User
from opencommissioning.core.roles import Role

from . import rules
from .models import (
    EVIDENCE_ORDER,
    Accountability,
    AgendaItem,
    Breach,
    Committee,
    CommitteeMember,
    Conflict,
    Decision,
    EvidenceKind,
    GiftHospitality,
    Interest,
    Vote,
)

DECISION_MAKING_ROLES = (Role.CLINICAL_COMMISSIONER, Role.COMMISSIONING_MANAGER)
"""Roles whose holders must always keep a declaration; anyone on a committee must too."""


def _date(value: datetime.date | None) -> str:
    return value.isoformat() if value else ""


def _role_of(person: User) -> str:
    return person.job_title or ""


# --- the public registers -------------------------------------------------------------


def published_interests(today: datetime.date | None = None) -> QuerySet[Interest]:
    """Current interests, and those that ended less than six months ago."""
    today = today or timezone.localdate()
    cutoff = rules.months_before(today, rules.PUBLISH_INTEREST_MONTHS_AFTER_END)
    return (
        Interest.objects.filter(Q(ended_on__isnull=True) | Q(ended_on__gte=cutoff))
        .select_related("person", "organisation")
        .order_by("person__full_name", "person__username", "-started_on", "pk")
    )


def interest_rows(interests: Any) -> list[dict[str, Any]]:
    return [
        {
            "id": i.pk,
            "person": i.person.display_name,
            "position": _role_of(i.person),
            "kind": i.get_kind_display(),
            "organisation": i.organisation.name if i.organisation_id else "",
            "organisation_code": i.organisation.ods_code if i.organisation_id else "",
            "matter": i.matter,
            "description": i.description,
            "started_on": _date(i.started_on),
            "ended_on": _date(i.ended_on),
            "end_reason": i.end_reason,
            "declared_on": _date(timezone.localtime(i.declared_at).date()),
            "declared_late": i.declared_late,
        }
        for i in interests
    ]


def published_gifts(today: datetime.date | None = None) -> QuerySet[GiftHospitality]:
    """Declarations at or above the threshold, offered in the last six years."""
    today = today or timezone.localdate()
    since = rules.months_before(today, 12 * rules.KEEP_RECORDS_YEARS)
    return (
        GiftHospitality.objects.filter(value_pounds__gte=rules.gifts_threshold(), offered_on__gte=since)
        .select_related("person", "offered_by_organisation")
        .order_by("-offered_on", "pk")
    )


def gift_rows(gifts: Any) -> list[dict[str, Any]]:
    return [
        {
            "id": g.pk,
            "person": g.person.display_name,
            "position": _role_of(g.person),
            "kind": g.get_kind_display(),
            "description": g.description,
            "offered_by": g.offered_by,
            "offered_by_code": g.offered_by_organisation.ods_code if g.offered_by_organisation_id else "",
            "value_pounds": f"{g.value_pounds:.2f}",
            "offered_on": _date(g.offered_on),
            "accepted": g.accepted,
        }
        for g in gifts
    ]


def published_decisions() -> QuerySet[Decision]:
    return (
        Decision.objects.filter(decided_at__isnull=False)
        .select_related("item__meeting__committee")
        .prefetch_related(
            Prefetch("item__conflicts", queryset=Conflict.objects.select_related("person", "interest__organisation")),
            Prefetch("item__votes", queryset=Vote.objects.select_related("person")),
        )
        .order_by("-item__meeting__held_on", "-pk")
    )


def conflict_summary(conflict: Conflict) -> str:
    how = conflict.get_management_display() if conflict.management else "not managed"
    return f"{conflict.person.display_name}: {conflict.description} — {how} ({conflict.management_reason})"


def decision_rows(decisions: Any) -> list[dict[str, Any]]:
    rows = []
    for d in decisions:
        item = d.item
        meeting = item.meeting
        conflicts = list(item.conflicts.all())
        overridden_votes = [v for v in item.votes.all() if v.override_reason]
        rows.append({
            "id": d.pk,
            "url": reverse("governance_public:decision", args=[d.pk]),
            "committee": meeting.committee.name,
            "meeting_date": _date(meeting.held_on),
            "item": item.title,
            "resolution": d.resolution,
            "rationale": d.rationale,
            "carried": d.carried,
            "votes_for": d.votes_for,
            "votes_against": d.votes_against,
            "abstentions": d.abstentions,
            "quorum_required": d.quorum_required,
            "quorum_present": d.quorum_present,
            "chair_override": bool(d.override_reason or overridden_votes),
            "override_reasons": [r for r in [d.override_reason, *(v.override_reason for v in overridden_votes)] if r],
            "conflicts_declared": len(conflicts),
            "conflicts": [
                {
                    "person": c.person.display_name,
                    "description": c.description,
                    "source": c.get_source_display(),
                    "management": c.get_management_display() if c.management else "",
                    "reason": c.management_reason,
                }
                for c in conflicts
            ],
        })
    return rows


def published_breaches() -> QuerySet[Breach]:
    return Breach.objects.select_related("person", "item__meeting__committee").order_by("-reported_at", "pk")


def breach_rows(breaches: Any) -> list[dict[str, Any]]:
    return [
        {
            "id": b.pk,
            "person": b.person.display_name,
            "kind": b.get_kind_display(),
            "description": b.description,
            "item": b.item.title if b.item_id else "",
            "reported_on": _date(timezone.localtime(b.reported_at).date()),
            "status": b.status_label,
            "outcome": b.outcome,
            "closed_on": _date(timezone.localtime(b.closed_at).date()) if b.closed_at else "",
        }
        for b in breaches
    ]


# --- declarations due -----------------------------------------------------------------


def people_who_must_declare(today: datetime.date | None = None) -> list[User]:
    """Everyone holding a decision-making role, or sitting on a committee, today."""
    today = today or timezone.localdate()
    by_role = Membership.objects.filter(role__in=DECISION_MAKING_ROLES, started_on__lte=today).exclude(ended_on__lt=today)
    on_committee = CommitteeMember.objects.filter(started_on__lte=today).exclude(ended_on__lt=today)
    ids = set(by_role.values_list("user_id", flat=True)) | set(on_committee.values_list("person_id", flat=True))
    return list(User.objects.filter(pk__in=ids, is_active=True).order_by("full_name", "username"))


@dataclass(frozen=True)
class DeclarationStatus:
    person: User
    latest: datetime.datetime | None
    overdue: bool

    @property
    def reason(self) -> str:
        if self.latest is None:
            return "has never made a declaration or a nil return"
        return f"last declared on {timezone.localtime(self.latest):%d %B %Y}, more than {rules.RETURN_DUE_MONTHS} months ago"


def latest_declaration(person: User) -> datetime.datetime | None:
    dates = [
        Interest.objects.filter(person=person).aggregate(m=Max("declared_at"))["m"],
        person.declaration_returns.aggregate(m=Max("made_at"))["m"],  # type: ignore[attr-defined]
    ]
    present = [d for d in dates if d is not None]
    return max(present) if present else None


def declaration_statuses(today: datetime.date | None = None) -> list[DeclarationStatus]:
    today = today or timezone.localdate()
    statuses = []
    for person in people_who_must_declare(today):
        latest = latest_declaration(person)
        statuses.append(DeclarationStatus(person, latest, rules.declaration_overdue(latest, today=today)))
    return statuses


def overdue_declarations(today: datetime.date | None = None) -> list[DeclarationStatus]:
    return [s for s in declaration_statuses(today) if s.overdue]


# --- meetings, items and the decision chain -------------------------------------------


def item_for_page(pk: int) -> AgendaItem | None:
    return (
        AgendaItem.objects.select_related("meeting__committee")
        .prefetch_related("organisations", "evidence",
                          Prefetch("conflicts", queryset=Conflict.objects.select_related("person", "interest__organisation", "managed_by")),
                          Prefetch("votes", queryset=Vote.objects.select_related("person")))
        .filter(pk=pk).first()
    )


def evidence_by_kind(item: AgendaItem) -> list[tuple[str, list[Any]]]:
    groups = []
    for kind in EVIDENCE_ORDER:
        rows = [e for e in item.evidence.all() if e.kind == kind]
        groups.append((EvidenceKind(kind).label, rows))
    return groups


def decision_for_page(pk: int) -> Decision | None:
    return published_decisions().filter(pk=pk).first()


# --- accountability -------------------------------------------------------------------


def accountabilities() -> QuerySet[Accountability]:
    return Accountability.objects.filter(ended_on__isnull=True).select_related(
        "person", "committee", "accountable_to", "decision"
    ).order_by("subject_kind", "subject", "pk")


def committees() -> QuerySet[Committee]:
    return Committee.objects.select_related("organisation", "reports_to").prefetch_related(
        Prefetch("members", queryset=CommitteeMember.objects.filter(ended_on__isnull=True).select_related("person"))
    )


def item_attendance(item: AgendaItem) -> list[dict[str, Any]]:
    """Everyone present at the item's meeting, and whether they may vote on it, and why not."""
    meeting = item.meeting
    roles = {
        m.person_id: m for m in CommitteeMember.objects.filter(committee=meeting.committee, started_on__lte=meeting.held_on)
        .exclude(ended_on__lt=meeting.held_on)
    }
    conflicts: dict[int, list[Conflict]] = {}
    for conflict in item.conflicts.all():
        conflicts.setdefault(conflict.person_id, []).append(conflict)
    rows = []
    for person in meeting.attendees.order_by("full_name", "username"):
        member = roles.get(person.pk)
        own = conflicts.get(person.pk, [])
        if member is None or not member.votes:
            status, free = "Not a voting member", False
        elif any(not c.is_managed for c in own):
            status, free = "Conflict not yet managed: may not vote", False
        elif any(not c.allows_vote for c in own):
            status, free = next(c.get_management_display() for c in own if not c.allows_vote), False
        else:
            status, free = ("Conflict managed: may vote" if own else "Free to vote"), True
        rows.append({"person": person, "role": member.get_role_display() if member else "", "status": status, "free": free})
    return rows
