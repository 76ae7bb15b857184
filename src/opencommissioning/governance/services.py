"""Every write to governance: declarations, committees, meetings, conflicts, votes, decisions, breaches.

Each function is keyword-only, takes ``by=`` (the acting user, or ``None`` for the
system), runs in one transaction, checks its rules first (raising ``ValidationError``
keyed by field, having changed nothing) and appends an event to the audit chain.

Creating functions take an ``idempotency_key`` (the hidden UUID each creating form
carries): when a record with that key exists, it is returned and nothing is written.
"""

from __future__ import annotations

import datetime
import functools
import uuid
from collections.abc import Callable, Iterable
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar

from django.core.exceptions import ValidationError
from django.db import IntegrityError, models, transaction
from django.utils import timezone

from opencommissioning.audit.chain import record
from opencommissioning.core.models import Organisation, User
from opencommissioning.core.permissions import current_roles
from opencommissioning.core.roles import Role

from . import rules
from .models import (
    Accountability,
    AgendaItem,
    Breach,
    BreachKind,
    Committee,
    CommitteeMember,
    CommitteeRole,
    Conflict,
    ConflictSource,
    Decision,
    DeclarationReminder,
    DeclarationReturn,
    Evidence,
    EvidenceKind,
    GiftHospitality,
    GiftKind,
    Interest,
    InterestKind,
    Management,
    Meeting,
    SubjectKind,
    Vote,
    VoteChoice,
)

M = TypeVar("M", bound=models.Model)
F = TypeVar("F", bound=Callable[..., Any])


def _already(model: type[M], idempotency_key: uuid.UUID | None) -> M | None:
    """The record a previous submission of the same form made, if any."""
    if idempotency_key is None:
        return None
    return model.objects.filter(idempotency_key=idempotency_key).first()


def idempotent(model: type[models.Model]) -> Callable[[F], F]:
    """Make a creating service safe when the same form arrives twice at the same moment.

    The first submission's insert wins the unique ``idempotency_key``; the second's insert
    fails when the first commits, its transaction rolls back, and it returns the record
    the first one made. Must sit outside ``@transaction.atomic``.
    """

    def decorate(service: F) -> F:
        @functools.wraps(service)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            try:
                return service(*args, **kwargs)
            except IntegrityError:
                key = kwargs.get("idempotency_key")
                if key is None or transaction.get_connection().in_atomic_block:
                    raise
                existing = model.objects.filter(idempotency_key=key).first()
                if existing is None:
                    raise
                return existing

        return wrapper  # type: ignore[return-value]

    return decorate


def _refuse(errors: dict[str, str]) -> None:
    if errors:
        raise ValidationError(errors)


def _name(person: Any) -> str:
    return getattr(person, "display_name", None) or str(person)


def is_manager(user: User | None) -> bool:
    return user is not None and Role.COMMISSIONING_MANAGER in current_roles(user)


def current_members(committee: Committee, on: datetime.date) -> list[CommitteeMember]:
    return [
        m for m in committee.members.select_related("person").filter(started_on__lte=on)
        if m.ended_on is None or m.ended_on >= on
    ]


def chair_of(committee: Committee, on: datetime.date) -> User | None:
    for member in current_members(committee, on):
        if member.role == CommitteeRole.CHAIR:
            return member.person
    return None


def may_run(user: User | None, committee: Committee, on: datetime.date | None = None) -> bool:
    """The system, a commissioning manager (acting as secretary), or the committee's chair or secretary."""
    if user is None:
        return True
    if is_manager(user):
        return True
    day = on or timezone.localdate()
    return any(
        m.person_id == user.pk and m.role in (CommitteeRole.CHAIR, CommitteeRole.SECRETARY)
        for m in current_members(committee, day)
    )


def _require_runner(by: User | None, committee: Committee, on: datetime.date | None = None) -> None:
    if not may_run(by, committee, on):
        raise ValidationError(
            {"__all__": f"Only the secretary or the chair of {committee.name} can do this."}
        )


def _require_open(meeting: Meeting) -> None:
    if meeting.closed_at is not None:
        raise ValidationError({"__all__": f"This meeting was closed on {timezone.localtime(meeting.closed_at):%d %B %Y}: nothing more can be recorded on it."})


# --- interests ------------------------------------------------------------------------


def interest_snapshot(interest: Interest) -> dict[str, Any]:
    return {
        "person": interest.person_id,
        "kind": interest.kind,
        "organisation": interest.organisation.ods_code if interest.organisation_id else None,
        "matter": interest.matter,
        "description": interest.description,
        "started_on": interest.started_on,
        "ended_on": interest.ended_on,
        "end_reason": interest.end_reason,
    }


def _may_declare_for(by: User | None, person: User) -> None:
    if by is not None and by.pk != person.pk and not is_manager(by):
        raise ValidationError({"person": "You can only declare your own interests."})


@idempotent(Interest)
@transaction.atomic
def declare_interest(
    *,
    by: User | None,
    person: User | None = None,
    kind: str,
    organisation: Organisation | None = None,
    matter: str = "",
    description: str,
    started_on: datetime.date,
    ended_on: datetime.date | None = None,
    end_reason: str = "",
    idempotency_key: uuid.UUID | None = None,
) -> Interest:
    if (existing := _already(Interest, idempotency_key)) is not None:
        return existing
    person = person or by
    if person is None:
        raise ValidationError({"person": "Say whose interest this is."})
    _may_declare_for(by, person)
    matter, description, end_reason = matter.strip(), description.strip(), end_reason.strip()
    errors: dict[str, str] = {}
    if kind not in InterestKind.values:
        errors["kind"] = "Choose the kind of interest."
    if organisation is None and not matter:
        errors["organisation"] = "Name the organisation or the matter the interest is in."
    if not description:
        errors["description"] = "Describe the interest."
    if started_on > timezone.localdate():
        errors["started_on"] = "The start date must be today or in the past."
    if ended_on is not None:
        if ended_on < started_on:
            errors["ended_on"] = "The end date must be the same as or after the start date."
        if not end_reason:
            errors["end_reason"] = "Say why the interest ended."
    elif end_reason:
        errors["ended_on"] = "Give the date the interest ended, or leave the reason empty."
    _refuse(errors)
    interest = Interest.objects.create(
        person=person, kind=kind, organisation=organisation, matter=matter, description=description,
        started_on=started_on, ended_on=ended_on, end_reason=end_reason,
        declared_at=timezone.now(), declared_by=by, idempotency_key=idempotency_key,
    )
    record(
        by=by, action="interest.declare", obj=interest,
        summary=f"{_name(person)} declared a {interest.get_kind_display().lower()} interest in {interest.subject}",
        after=interest_snapshot(interest),
    )
    return interest


@transaction.atomic
def end_interest(*, by: User | None, interest: Interest, ended_on: datetime.date, reason: str) -> Interest:
    interest = Interest.objects.select_for_update().get(pk=interest.pk)
    _may_declare_for(by, interest.person)
    reason = reason.strip()
    errors: dict[str, str] = {}
    if interest.ended_on is not None:
        errors["ended_on"] = f"This interest already ended on {interest.ended_on:%d %B %Y}."
    elif ended_on < interest.started_on:
        errors["ended_on"] = "The end date must be the same as or after the start date."
    elif ended_on > timezone.localdate():
        errors["ended_on"] = "The end date must be today or in the past."
    if not reason:
        errors["reason"] = "Say why the interest ended."
    _refuse(errors)
    before = interest_snapshot(interest)
    interest.ended_on, interest.end_reason = ended_on, reason
    interest.save(update_fields=["ended_on", "end_reason"])
    record(
        by=by, action="interest.end", obj=interest, summary=f"{_name(interest.person)}'s interest in {interest.subject} ended",
        before={"ended_on": before["ended_on"], "end_reason": before["end_reason"]},
        after={"ended_on": ended_on, "end_reason": reason},
    )
    return interest


@idempotent(DeclarationReturn)
@transaction.atomic
def make_declaration_return(
    *, by: User, nil: bool, idempotency_key: uuid.UUID | None = None
) -> DeclarationReturn:
    """A nil return ("I have no interests") or a confirmation that the register is complete."""
    if (existing := _already(DeclarationReturn, idempotency_key)) is not None:
        return existing
    today = timezone.localdate()
    current = [i for i in Interest.objects.filter(person=by, ended_on__isnull=True) if i.is_current_on(today)]
    if nil and current:
        raise ValidationError(
            {"nil": f"You have {len(current)} current interest{'s' if len(current) != 1 else ''} on the register: "
                    "confirm them, or end them first, instead of making a nil return."}
        )
    if not nil and not current:
        raise ValidationError({"nil": "You have no current interests to confirm: make a nil return instead."})
    made = DeclarationReturn.objects.create(person=by, nil=nil, made_at=timezone.now(), idempotency_key=idempotency_key)
    record(
        by=by, action="interest.nil_return" if nil else "interest.confirm", obj=made,
        summary=f"{_name(by)} made a {'nil return' if nil else 'confirmation of their interests'}",
        after={"person": by.pk, "nil": nil, "current_interests": [i.pk for i in current]},
    )
    return made


@transaction.atomic
def record_reminders(*, by: User | None, overdue: Iterable[tuple[User, str]]) -> list[DeclarationReminder]:
    """Record a reminder for each overdue person (``queries.overdue_declarations`` finds them)."""
    now = timezone.now()
    made = []
    for person, reason in overdue:
        reminder = DeclarationReminder.objects.create(person=person, sent_at=now, reason=reason)
        record(by=by, action="interest.remind", obj=reminder, summary=f"Reminded {_name(person)}: {reason}",
               after={"person": person.pk, "reason": reason})
        made.append(reminder)
    return made


# --- gifts and hospitality ------------------------------------------------------------


@idempotent(GiftHospitality)
@transaction.atomic
def declare_gift(
    *,
    by: User,
    kind: str,
    description: str,
    offered_by: str,
    value_pounds: Decimal | str | int,
    offered_on: datetime.date,
    accepted: bool,
    offered_by_organisation: Organisation | None = None,
    idempotency_key: uuid.UUID | None = None,
) -> GiftHospitality:
    if (existing := _already(GiftHospitality, idempotency_key)) is not None:
        return existing
    errors: dict[str, str] = {}
    if kind not in GiftKind.values:
        errors["kind"] = "Choose gift or hospitality."
    if not description.strip():
        errors["description"] = "Describe the gift or hospitality."
    if not offered_by.strip() and offered_by_organisation is None:
        errors["offered_by"] = "Say who offered it."
    try:
        value = Decimal(str(value_pounds)).quantize(Decimal("0.01"))
        if value < 0:
            errors["value_pounds"] = "The value must be £0 or more."
    except (InvalidOperation, ValueError):
        errors["value_pounds"] = "Enter the value in pounds, like 30 or 12.50."
        value = Decimal(0)
    if offered_on > timezone.localdate():
        errors["offered_on"] = "The date must be today or in the past."
    _refuse(errors)
    gift = GiftHospitality.objects.create(
        person=by, kind=kind, description=description.strip(),
        offered_by=offered_by.strip() or (offered_by_organisation.name if offered_by_organisation else ""),
        offered_by_organisation=offered_by_organisation, value_pounds=value, offered_on=offered_on,
        accepted=accepted, declared_at=timezone.now(), idempotency_key=idempotency_key,
    )
    record(
        by=by, action="gift.declare", obj=gift,
        summary=f"{_name(by)} declared {gift.get_kind_display().lower()} worth £{value} from {gift.offered_by} "
                f"({'accepted' if accepted else 'declined'})",
        after={"kind": kind, "description": gift.description, "offered_by": gift.offered_by,
               "value_pounds": value, "offered_on": offered_on, "accepted": accepted},
    )
    return gift


# --- committees -----------------------------------------------------------------------


@idempotent(Committee)
@transaction.atomic
def create_committee(
    *,
    by: User | None,
    name: str,
    organisation: Organisation,
    quorum: int,
    is_governing_body: bool = False,
    reports_to: Committee | None = None,
    remit: str = "",
    idempotency_key: uuid.UUID | None = None,
) -> Committee:
    if (existing := _already(Committee, idempotency_key)) is not None:
        return existing
    errors: dict[str, str] = {}
    if not name.strip():
        errors["name"] = "Enter the committee's name."
    if quorum < 1:
        errors["quorum"] = "The quorum must be at least 1."
    _refuse(errors)
    committee = Committee.objects.create(
        name=name.strip(), organisation=organisation, quorum=quorum, is_governing_body=is_governing_body,
        reports_to=reports_to, remit=remit.strip(), created_at=timezone.now(), idempotency_key=idempotency_key,
    )
    record(by=by, action="committee.create", obj=committee, summary=f"Created {committee.name}",
           after={"name": committee.name, "organisation": organisation.ods_code, "quorum": quorum,
                  "reports_to": reports_to.pk if reports_to else None, "remit": committee.remit})
    return committee


@transaction.atomic
def add_committee_member(
    *, by: User | None, committee: Committee, person: User, role: str, started_on: datetime.date
) -> CommitteeMember:
    _require_runner(by, committee)
    errors: dict[str, str] = {}
    if role not in CommitteeRole.values:
        errors["role"] = "Choose the member's role on the committee."
    if CommitteeMember.objects.select_for_update().filter(committee=committee, person=person, ended_on__isnull=True).exists():
        errors["person"] = f"{_name(person)} is already on {committee.name}."
    if role == CommitteeRole.CHAIR and CommitteeMember.objects.filter(
        committee=committee, role=CommitteeRole.CHAIR, ended_on__isnull=True
    ).exists():
        errors["role"] = f"{committee.name} already has a chair: end their membership first."
    _refuse(errors)
    member = CommitteeMember.objects.create(committee=committee, person=person, role=role, started_on=started_on)
    record(by=by, action="committee.member_add", obj=member,
           summary=f"{_name(person)} joined {committee.name} as {member.get_role_display().lower()}",
           after={"committee": committee.pk, "person": person.pk, "role": role, "started_on": started_on})
    return member


@transaction.atomic
def end_committee_membership(
    *, by: User | None, member: CommitteeMember, ended_on: datetime.date, reason: str
) -> CommitteeMember:
    _require_runner(by, member.committee)
    errors: dict[str, str] = {}
    if member.ended_on is not None:
        errors["ended_on"] = "This membership has already ended."
    elif ended_on < member.started_on:
        errors["ended_on"] = "A membership cannot end before it starts."
    if not reason.strip():
        errors["reason"] = "Say why the membership ended."
    _refuse(errors)
    member.ended_on, member.end_reason = ended_on, reason.strip()
    member.save(update_fields=["ended_on", "end_reason"])
    record(by=by, action="committee.member_end", obj=member, summary=f"{_name(member.person)} left {member.committee.name}",
           before={"ended_on": None}, after={"ended_on": ended_on, "end_reason": member.end_reason})
    return member


# --- meetings and agenda items --------------------------------------------------------


@idempotent(Meeting)
@transaction.atomic
def schedule_meeting(
    *,
    by: User | None,
    committee: Committee,
    held_on: datetime.date,
    title: str,
    location: str = "",
    idempotency_key: uuid.UUID | None = None,
) -> Meeting:
    if (existing := _already(Meeting, idempotency_key)) is not None:
        return existing
    _require_runner(by, committee)
    errors: dict[str, str] = {}
    if not title.strip():
        errors["title"] = "Enter the meeting's title."
    if committee.ended_on is not None:
        errors["committee"] = f"{committee.name} was ended on {committee.ended_on:%d %B %Y}."
    _refuse(errors)
    meeting = Meeting.objects.create(
        committee=committee, held_on=held_on, title=title.strip(), location=location.strip(),
        created_at=timezone.now(), idempotency_key=idempotency_key,
    )
    record(by=by, action="meeting.schedule", obj=meeting, summary=f"Scheduled {meeting}",
           after={"committee": committee.pk, "held_on": held_on, "title": meeting.title, "location": meeting.location})
    return meeting


@transaction.atomic
def record_attendance(*, by: User | None, meeting: Meeting, attendees: Iterable[User]) -> Meeting:
    """Say who is present. Items not yet decided must be screened again afterwards."""
    meeting = Meeting.objects.select_for_update().get(pk=meeting.pk)
    _require_open(meeting)
    _require_runner(by, meeting.committee, meeting.held_on)
    attendees = list(attendees)
    members = {m.person_id for m in current_members(meeting.committee, meeting.held_on)}
    outsiders = [_name(p) for p in attendees if p.pk not in members]
    if outsiders:
        raise ValidationError({"attendees": f"Not members of {meeting.committee.name} on {meeting.held_on:%d %B %Y}: {', '.join(outsiders)}."})
    before = sorted(meeting.attendees.values_list("pk", flat=True))
    after = sorted(p.pk for p in attendees)
    if before == after:
        return meeting
    meeting.attendees.set(attendees)
    meeting.items.filter(decision__isnull=True).update(screened_at=None)
    record(by=by, action="meeting.attendance", obj=meeting, summary=f"Recorded who attended {meeting}",
           before={"attendees": before}, after={"attendees": after})
    return meeting


@idempotent(AgendaItem)
@transaction.atomic
def add_agenda_item(
    *,
    by: User | None,
    meeting: Meeting,
    title: str,
    description: str = "",
    organisations: Iterable[Organisation] = (),
    matters: Iterable[str] = (),
    needs_decision: bool = True,
    idempotency_key: uuid.UUID | None = None,
) -> AgendaItem:
    if (existing := _already(AgendaItem, idempotency_key)) is not None:
        return existing
    meeting = Meeting.objects.select_for_update().get(pk=meeting.pk)
    _require_open(meeting)
    _require_runner(by, meeting.committee, meeting.held_on)
    if not title.strip():
        raise ValidationError({"title": "Enter the item's title."})
    organisations = list(organisations)
    clean_matters = sorted({" ".join(m.split()) for m in matters if m.strip()}, key=str.casefold)
    number = (meeting.items.aggregate(n=models.Max("number"))["n"] or 0) + 1
    item = AgendaItem.objects.create(
        meeting=meeting, number=number, title=title.strip(), description=description.strip(),
        matters=clean_matters, needs_decision=needs_decision, idempotency_key=idempotency_key,
    )
    item.organisations.set(organisations)
    record(by=by, action="agenda_item.add", obj=item, summary=f"Added {item} to {meeting}",
           after={"meeting": meeting.pk, "number": number, "title": item.title,
                  "organisations": sorted(o.ods_code for o in organisations), "matters": clean_matters,
                  "needs_decision": needs_decision})
    return item


@idempotent(Evidence)
@transaction.atomic
def add_evidence(
    *,
    by: User | None,
    item: AgendaItem,
    kind: str,
    title: str,
    url: str = "",
    summary: str = "",
    idempotency_key: uuid.UUID | None = None,
) -> Evidence:
    if (existing := _already(Evidence, idempotency_key)) is not None:
        return existing
    _require_open(item.meeting)
    _require_runner(by, item.meeting.committee, item.meeting.held_on)
    errors: dict[str, str] = {}
    if kind not in EvidenceKind.values:
        errors["kind"] = "Choose the kind of evidence."
    if not title.strip():
        errors["title"] = "Enter the evidence's title."
    url = url.strip()
    if url and not (url.startswith("/") or url.startswith("https://") or url.startswith("http://")):
        errors["url"] = "Enter a link starting with https:// or /."
    if hasattr(item, "decision"):
        errors["__all__"] = "This item has been decided: evidence cannot be added afterwards."
    _refuse(errors)
    evidence = Evidence.objects.create(item=item, kind=kind, title=title.strip(), url=url, summary=summary.strip(),
                                       added_at=timezone.now(), idempotency_key=idempotency_key)
    record(by=by, action="evidence.add", obj=evidence, summary=f"Added {evidence.get_kind_display().lower()} “{evidence.title}” to {item}",
           after={"item": item.pk, "kind": kind, "title": evidence.title, "url": url})
    return evidence


# --- screening and conflicts ----------------------------------------------------------


def findings_for(item: AgendaItem) -> list[rules.Finding]:
    """What screening the item now would find (no writes)."""
    meeting = item.meeting
    attendees = list(meeting.attendees.values_list("pk", flat=True))
    interests = Interest.objects.filter(person_id__in=attendees).select_related("organisation")
    return rules.screen(
        interests=interests,
        item_organisation_ids=item.organisations.values_list("pk", flat=True),
        item_matters=item.matters,
        on=meeting.held_on,
    )


@transaction.atomic
def screen_item(*, by: User | None, item: AgendaItem) -> list[Conflict]:
    """Screen every attending member's interests against the item; record each conflict found."""
    item = AgendaItem.objects.select_for_update().select_related("meeting__committee").get(pk=item.pk)
    _require_open(item.meeting)
    _require_runner(by, item.meeting.committee, item.meeting.held_on)
    if not item.meeting.attendees.exists():
        raise ValidationError({"__all__": "Record who is attending before screening the item."})
    if hasattr(item, "decision"):
        raise ValidationError({"__all__": "This item has been decided."})
    found = findings_for(item)
    known = set(item.conflicts.filter(interest__isnull=False).values_list("person_id", "interest_id"))
    now = timezone.now()
    new: list[Conflict] = []
    interests = {i.pk: i for i in Interest.objects.filter(pk__in=[f.interest_id for f in found]).select_related("organisation")}
    for finding in found:
        if (finding.person_id, finding.interest_id) in known:
            continue
        interest = interests[finding.interest_id]
        new.append(Conflict.objects.create(
            item=item, person_id=finding.person_id, interest=interest, source=ConflictSource.SCREENING,
            description=f"{interest.get_kind_display()} interest in {interest.subject} ({interest.description.rstrip('.')}): "
                        f"{finding.reason}.",
            found_at=now,
        ))
    item.screened_at = now
    item.save(update_fields=["screened_at"])
    record(by=by, action="agenda_item.screen", obj=item,
           summary=f"Screened {item}: {len(found)} conflict{'s' if len(found) != 1 else ''} found, {len(new)} new",
           after={"attendees": sorted(item.meeting.attendees.values_list("pk", flat=True)),
                  "findings": [{"person": f.person_id, "interest": f.interest_id, "reason": f.reason} for f in found]})
    return new


@idempotent(Conflict)
@transaction.atomic
def declare_at_meeting(
    *,
    by: User,
    item: AgendaItem,
    person: User | None = None,
    description: str,
    interest: Interest | None = None,
    idempotency_key: uuid.UUID | None = None,
) -> Conflict:
    """A member declares an interest in the item at the meeting (their own, or the secretary records it)."""
    if (existing := _already(Conflict, idempotency_key)) is not None:
        return existing
    person = person or by
    meeting = item.meeting
    _require_open(meeting)
    if by is not None and by.pk != person.pk:
        _require_runner(by, meeting.committee, meeting.held_on)
    errors: dict[str, str] = {}
    if not meeting.attendees.filter(pk=person.pk).exists():
        errors["person"] = f"{_name(person)} is not recorded as attending this meeting."
    if not description.strip():
        errors["description"] = "Describe the interest being declared."
    if interest is not None and interest.person_id != person.pk:
        errors["interest"] = "That interest belongs to someone else."
    if interest is not None and item.conflicts.filter(person=person, interest=interest).exists():
        errors["interest"] = "This interest is already recorded as a conflict on this item."
    if hasattr(item, "decision"):
        errors["__all__"] = "This item has been decided."
    _refuse(errors)
    conflict = Conflict.objects.create(
        item=item, person=person, interest=interest, source=ConflictSource.DECLARED, description=description.strip(),
        found_at=timezone.now(), idempotency_key=idempotency_key,
    )
    record(by=by, action="conflict.declare", obj=conflict, summary=f"{_name(person)} declared an interest in {item}",
           after={"item": item.pk, "person": person.pk, "interest": interest.pk if interest else None,
                  "description": conflict.description})
    return conflict


@transaction.atomic
def manage_conflict(*, by: User | None, conflict: Conflict, management: str, reason: str) -> Conflict:
    """The secretary (or chair) records how a conflict is managed, with a reason."""
    conflict = Conflict.objects.select_for_update().select_related("item__meeting__committee").get(pk=conflict.pk)
    meeting = conflict.item.meeting
    _require_open(meeting)
    _require_runner(by, meeting.committee, meeting.held_on)
    errors: dict[str, str] = {}
    if management not in Management.values:
        errors["management"] = "Choose how the conflict is managed."
    if not reason.strip():
        errors["reason"] = "Give the reason for managing the conflict this way."
    if hasattr(conflict.item, "decision"):
        errors["__all__"] = "This item has been decided: its conflicts can no longer be changed."
    _refuse(errors)
    before = {"management": conflict.management, "reason": conflict.management_reason}
    conflict.management, conflict.management_reason = management, reason.strip()
    conflict.managed_at, conflict.managed_by = timezone.now(), by
    conflict.save(update_fields=["management", "management_reason", "managed_at", "managed_by"])
    record(by=by, action="conflict.manage", obj=conflict,
           summary=f"{_name(conflict.person)}'s conflict on {conflict.item}: {conflict.get_management_display()}",
           before=before, after={"management": management, "reason": conflict.management_reason})
    return conflict


# --- votes and decisions --------------------------------------------------------------


def voting_member(committee: Committee, person: User, on: datetime.date) -> CommitteeMember | None:
    for member in current_members(committee, on):
        if member.person_id == person.pk and member.votes:
            return member
    return None


def blocking_conflicts(item: AgendaItem, person: User) -> list[Conflict]:
    """The person's conflicts on the item that stop them voting: unmanaged, or managed without a vote."""
    return [c for c in item.conflicts.filter(person=person) if not c.allows_vote]


@idempotent(Vote)
@transaction.atomic
def cast_vote(
    *,
    by: User | None,
    item: AgendaItem,
    person: User | None = None,
    choice: str,
    override_reason: str = "",
    idempotency_key: uuid.UUID | None = None,
) -> Vote:
    """A member votes on an item (or the secretary records their vote).

    Refused from anyone not a voting member present at the meeting, before the item has
    been screened, and from a member with a conflict on the item unless its management
    lets them vote, or the chair overrides with a written reason (flagged on the record).
    """
    if (existing := _already(Vote, idempotency_key)) is not None:
        return existing
    item = AgendaItem.objects.select_for_update().select_related("meeting__committee").get(pk=item.pk)
    if (existing := _already(Vote, idempotency_key)) is not None:  # a twin submission that held the lock first
        return existing
    person = person or by
    if person is None:
        raise ValidationError({"person": "Say whose vote this is."})
    meeting, committee = item.meeting, item.meeting.committee
    _require_open(meeting)
    if by is not None and by.pk != person.pk:
        _require_runner(by, committee, meeting.held_on)
    override_reason = override_reason.strip()
    errors: dict[str, str] = {}
    if choice not in VoteChoice.values:
        errors["choice"] = "Choose for, against or abstain."
    if not item.needs_decision:
        errors["__all__"] = "This item is for information: there is no vote on it."
    elif hasattr(item, "decision"):
        errors["__all__"] = "This item has been decided: votes can no longer be cast."
    elif voting_member(committee, person, meeting.held_on) is None:
        errors["__all__"] = f"{_name(person)} is not a voting member of {committee.name}, so cannot vote."
    elif not meeting.attendees.filter(pk=person.pk).exists():
        errors["__all__"] = f"{_name(person)} is not recorded as attending this meeting, so cannot vote."
    elif item.screened_at is None:
        errors["__all__"] = "The item has not been screened for conflicts of interest since attendance was recorded: screen it before voting."
    elif item.votes.filter(person=person).exists():
        errors["__all__"] = f"{_name(person)} has already voted on this item."
    else:
        blocking = blocking_conflicts(item, person)
        if blocking:
            if not override_reason:
                how = "; ".join(
                    f"{c.description} ({c.get_management_display().lower() if c.management else 'not yet managed by the secretary'})"
                    for c in blocking
                )
                errors["__all__"] = (
                    f"{_name(person)} has a conflict of interest in this item and may not vote: {how}. "
                    "Only the chair can override this, with a written reason that is published."
                )
            elif by is None or chair_of(committee, meeting.held_on) != by:
                errors["override_reason"] = "Only the chair can let a conflicted member vote."
        elif override_reason:
            override_reason = ""  # nothing to override: do not flag the record
    _refuse(errors)
    vote = Vote.objects.create(item=item, person=person, choice=choice, cast_at=timezone.now(), recorded_by=by,
                               override_reason=override_reason, idempotency_key=idempotency_key)
    record(by=by, action="vote.cast", obj=vote,
           summary=f"{_name(person)} voted {vote.get_choice_display().lower()} on {item}"
                   + (" (chair's override of a conflict)" if override_reason else ""),
           after={"item": item.pk, "person": person.pk, "choice": choice, "override_reason": override_reason})
    return vote


def quorum_for(item: AgendaItem) -> rules.QuorumCheck:
    meeting = item.meeting
    members = {m.person_id: m for m in current_members(meeting.committee, meeting.held_on) if m.votes}
    present = {pk: _name(members[pk].person) for pk in meeting.attendees.values_list("pk", flat=True) if pk in members}
    not_free = {c.person_id for c in item.conflicts.all() if not c.allows_vote}
    return rules.check_quorum(required=meeting.committee.quorum, voting_present=present, not_free_to_vote=not_free)


@idempotent(Decision)
@transaction.atomic
def record_decision(
    *,
    by: User | None,
    item: AgendaItem,
    resolution: str,
    rationale: str,
    override_reason: str = "",
    idempotency_key: uuid.UUID | None = None,
) -> Decision:
    """Record the decision on an item: refused without a quorum (after exclusions) unless the chair overrides."""
    if (existing := _already(Decision, idempotency_key)) is not None:
        return existing
    item = AgendaItem.objects.select_for_update().select_related("meeting__committee").get(pk=item.pk)
    if (existing := _already(Decision, idempotency_key)) is not None:  # a twin submission that held the lock first
        return existing
    meeting, committee = item.meeting, item.meeting.committee
    _require_open(meeting)
    _require_runner(by, committee, meeting.held_on)
    override_reason = override_reason.strip()
    errors: dict[str, str] = {}
    if not resolution.strip():
        errors["resolution"] = "Enter what was decided."
    if not rationale.strip():
        errors["rationale"] = "Enter the reasons for the decision and the evidence it relied on."
    if not item.needs_decision:
        errors["__all__"] = "This item is for information: there is no decision to record."
    elif hasattr(item, "decision"):
        errors["__all__"] = "A decision has already been recorded on this item."
    elif item.screened_at is None:
        errors["__all__"] = "The item has not been screened for conflicts of interest: screen it first."
    elif unmanaged := [c for c in item.conflicts.select_related("person") if not c.is_managed]:
        errors["__all__"] = "Record how each conflict is managed first: " + ", ".join(sorted({_name(c.person) for c in unmanaged})) + "."
    elif not item.votes.exists():
        errors["__all__"] = "No votes have been recorded on this item."
    quorum = quorum_for(item)
    if "__all__" not in errors and not quorum.quorate:
        if not override_reason:
            excluded = f" (not free to vote: {', '.join(quorum.excluded)})" if quorum.excluded else ""
            errors["__all__"] = (
                f"The meeting is not quorate for this item: {quorum.required} voting members must be present and "
                f"free to vote, and {quorum.present} {'is' if quorum.present == 1 else 'are'}{excluded}. "
                "Only the chair can override this, with a written reason that is published."
            )
        elif by is None or chair_of(committee, meeting.held_on) != by:
            errors["override_reason"] = "Only the chair can record a decision without a quorum."
    if quorum.quorate:
        override_reason = ""
    _refuse(errors)

    # A vote from someone whose conflict (recorded after they voted) does not allow it is
    # not counted, and is recorded as a breach: the record always says so.
    counted: list[Vote] = []
    for vote in item.votes.select_related("person"):
        if not vote.override_reason and blocking_conflicts(item, vote.person):
            record_breach(
                by=by, person=vote.person, kind=BreachKind.VOTED_WHILE_CONFLICTED, item=item,
                description=f"{_name(vote.person)} voted on “{item.title}” while conflicted; the vote was not counted.",
            )
            continue
        counted.append(vote)
    votes_for = sum(1 for v in counted if v.choice == VoteChoice.FOR)
    votes_against = sum(1 for v in counted if v.choice == VoteChoice.AGAINST)
    abstentions = sum(1 for v in counted if v.choice == VoteChoice.ABSTAIN)
    decision = Decision.objects.create(
        item=item, resolution=resolution.strip(), rationale=rationale.strip(), carried=votes_for > votes_against,
        votes_for=votes_for, votes_against=votes_against, abstentions=abstentions,
        quorum_required=quorum.required, quorum_present=quorum.present, override_reason=override_reason,
        decided_at=timezone.now(), decided_by=by, idempotency_key=idempotency_key,
    )
    record(by=by, action="decision.record", obj=decision,
           summary=f"Decision on {item}: {'carried' if decision.carried else 'not carried'} {votes_for}–{votes_against}"
                   + (" without a quorum (chair's override)" if override_reason else ""),
           after={"item": item.pk, "resolution": decision.resolution, "rationale": decision.rationale,
                  "carried": decision.carried, "for": votes_for, "against": votes_against, "abstain": abstentions,
                  "quorum_required": quorum.required, "quorum_present": quorum.present,
                  "override_reason": override_reason})
    chair = chair_of(committee, meeting.held_on)
    if chair is not None:
        assign_accountability(
            by=by, subject_kind=SubjectKind.DECISION, subject=item.title, decision=decision, person=chair,
            committee=committee.reports_to or committee, started_on=meeting.held_on,
            for_what=f"Seeing that {committee.name}'s decision is carried out: {decision.resolution}",
        )
    return decision


@transaction.atomic
def close_meeting(*, by: User | None, meeting: Meeting) -> Meeting:
    meeting = Meeting.objects.select_for_update().get(pk=meeting.pk)
    _require_open(meeting)
    _require_runner(by, meeting.committee, meeting.held_on)
    meeting.closed_at, meeting.closed_by = timezone.now(), by
    meeting.save(update_fields=["closed_at", "closed_by"])
    undecided = list(meeting.items.filter(needs_decision=True, decision__isnull=True).values_list("number", flat=True))
    record(by=by, action="meeting.close", obj=meeting, summary=f"Closed {meeting}",
           before={"closed_at": None}, after={"closed_at": meeting.closed_at, "undecided_items": undecided})
    return meeting


# --- breaches -------------------------------------------------------------------------


@idempotent(Breach)
@transaction.atomic
def record_breach(
    *,
    by: User | None,
    person: User,
    kind: str,
    description: str,
    item: AgendaItem | None = None,
    idempotency_key: uuid.UUID | None = None,
) -> Breach:
    if (existing := _already(Breach, idempotency_key)) is not None:
        return existing
    errors: dict[str, str] = {}
    if kind not in BreachKind.values:
        errors["kind"] = "Choose the kind of breach."
    if not description.strip():
        errors["description"] = "Describe the breach."
    _refuse(errors)
    breach = Breach.objects.create(person=person, kind=kind, description=description.strip(), item=item,
                                   reported_at=timezone.now(), reported_by=by, idempotency_key=idempotency_key)
    record(by=by, action="breach.record", obj=breach, summary=f"Recorded a breach by {_name(person)}: {breach.get_kind_display()}",
           after={"person": person.pk, "kind": kind, "description": breach.description, "item": item.pk if item else None})
    return breach


@transaction.atomic
def investigate_breach(*, by: User | None, breach: Breach, notes: str) -> Breach:
    breach = Breach.objects.select_for_update().get(pk=breach.pk)
    errors: dict[str, str] = {}
    if breach.closed_at is not None:
        errors["__all__"] = "This breach is closed."
    if not notes.strip():
        errors["notes"] = "Describe the investigation."
    _refuse(errors)
    before = {"investigation": breach.investigation}
    breach.investigation = (breach.investigation + "\n\n" if breach.investigation else "") + notes.strip()
    breach.investigation_started_at = breach.investigation_started_at or timezone.now()
    breach.save(update_fields=["investigation", "investigation_started_at"])
    record(by=by, action="breach.investigate", obj=breach, summary=f"Investigation notes on {breach}",
           before=before, after={"investigation": breach.investigation})
    return breach


@transaction.atomic
def close_breach(*, by: User | None, breach: Breach, outcome: str) -> Breach:
    breach = Breach.objects.select_for_update().get(pk=breach.pk)
    errors: dict[str, str] = {}
    if breach.closed_at is not None:
        errors["__all__"] = "This breach is already closed."
    if not outcome.strip():
        errors["outcome"] = "Record the outcome of the investigation."
    _refuse(errors)
    breach.outcome, breach.closed_at, breach.closed_by = outcome.strip(), timezone.now(), by
    breach.save(update_fields=["outcome", "closed_at", "closed_by"])
    record(by=by, action="breach.close", obj=breach, summary=f"Closed {breach}", before={"outcome": ""},
           after={"outcome": breach.outcome})
    return breach


# --- accountability -------------------------------------------------------------------


@idempotent(Accountability)
@transaction.atomic
def assign_accountability(
    *,
    by: User | None,
    subject_kind: str,
    subject: str,
    person: User,
    for_what: str,
    started_on: datetime.date,
    committee: Committee | None = None,
    accountable_to: User | None = None,
    decision: Decision | None = None,
    idempotency_key: uuid.UUID | None = None,
) -> Accountability:
    if (existing := _already(Accountability, idempotency_key)) is not None:
        return existing
    errors: dict[str, str] = {}
    if subject_kind not in SubjectKind.values:
        errors["subject_kind"] = "Choose what the accountability is for."
    if not subject.strip():
        errors["subject"] = "Name the budget line, service, decision or committee."
    if not for_what.strip():
        errors["for_what"] = "Say what the person is accountable for."
    if committee is None and accountable_to is None:
        errors["accountable_to"] = "Say to whom the person is accountable: a committee or a person."
    _refuse(errors)
    line = Accountability.objects.create(
        subject_kind=subject_kind, subject=subject.strip(), decision=decision, person=person, committee=committee,
        accountable_to=accountable_to, for_what=for_what.strip(), started_on=started_on, idempotency_key=idempotency_key,
    )
    record(by=by, action="accountability.assign", obj=line, summary=f"{_name(person)} is accountable for {line.subject}",
           after={"subject_kind": subject_kind, "subject": line.subject, "person": person.pk,
                  "committee": committee.pk if committee else None,
                  "accountable_to": accountable_to.pk if accountable_to else None, "for_what": line.for_what})
    return line
