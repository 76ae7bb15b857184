"""Governance pages. Thin: reads from queries, every change through services, each view
declaring its permission. A refused change re-renders its page with the service's
message in an NHS error summary; nothing is changed."""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.forms import Form
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from opencommissioning.core.models import User
from opencommissioning.core.permissions import Perm, has_permission, public, requires

from . import queries, rules, services
from .forms import (
    AccountabilityForm,
    AgendaItemForm,
    AttendanceForm,
    BreachCloseForm,
    BreachForm,
    BreachNotesForm,
    CommitteeForm,
    CommitteeMemberForm,
    DecisionForm,
    DeclarationReturnForm,
    DeclareAtMeetingForm,
    EndInterestForm,
    EvidenceForm,
    GiftForm,
    InterestForm,
    ManageConflictForm,
    MeetingForm,
    VoteForm,
)
from .models import AgendaItem, Breach, Committee, Conflict, GiftHospitality, Interest, Meeting


def _get(model: Any, pk: int, what: str) -> Any:
    found = model.objects.filter(pk=pk).first()
    if found is None:
        raise Http404(f"There is no {what} {pk}")
    return found


def _apply(form: Form, error: ValidationError) -> None:
    if hasattr(error, "error_dict"):
        for field, errors in error.message_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, error.messages)


def _attempt(request: HttpRequest, form: Form, action: Callable[[dict[str, Any]], Any], success: str) -> Any:
    """Validate the form, call the service; return its result, or None (errors are on the form)."""
    if not form.is_valid():
        return None
    try:
        result = action(form.cleaned_data)
    except ValidationError as error:
        _apply(form, error)
        return None
    messages.success(request, success)
    return result


# --- overview, interests, gifts -------------------------------------------------------


@requires(Perm.VIEW_GOVERNANCE)
def index(request: HttpRequest) -> HttpResponse:
    user = request.user
    latest = queries.latest_declaration(user)  # type: ignore[arg-type]
    return render(request, "governance/index.html", {
        "my_interests": Interest.objects.filter(person=user, ended_on__isnull=True).select_related("organisation"),
        "my_latest": latest,
        "my_overdue": rules.declaration_overdue(latest, today=timezone.localdate()),
        "must_declare": has_permission(user, Perm.DECLARE_INTERESTS),
        "can_see_overdue": has_permission(user, Perm.VIEW_DECLARATION_STATUS),
        "overdue_count": len(queries.overdue_declarations()) if has_permission(user, Perm.VIEW_DECLARATION_STATUS) else 0,
        "committees": queries.committees(),
        "meetings": Meeting.objects.select_related("committee")[:10],
    })


@requires(Perm.VIEW_GOVERNANCE)
def interest_list(request: HttpRequest) -> HttpResponse:
    show_ended = request.GET.get("ended") == "1"
    interests = Interest.objects.select_related("person", "organisation")
    if not show_ended:
        interests = interests.filter(ended_on__isnull=True)
    return render(request, "governance/interest_list.html", {"interests": interests, "show_ended": show_ended})


@requires(Perm.DECLARE_INTERESTS)
def interest_new(request: HttpRequest) -> HttpResponse:
    form = InterestForm(request.POST or None)
    if request.method == "POST":
        made = _attempt(request, form, lambda d: services.declare_interest(
            by=request.user, kind=d["kind"], organisation=d["organisation"], matter=d["matter"],
            description=d["description"], started_on=d["started_on"], ended_on=d["ended_on"],
            end_reason=d["end_reason"], idempotency_key=d["idempotency_key"],
        ), "Your interest has been declared and added to the register.")
        if made is not None:
            return redirect("governance:index")
    return render(request, "governance/form_page.html", {
        "form": form, "title": "Declare an interest", "button": "Declare the interest",
        "lede": "Declare any interest that could be, or be seen to be, a conflict with your role in commissioning. "
                "Declare within 28 days of an interest arising or changing. Your declaration is published.",
        "back": reverse("governance:index"),
    })


@requires(Perm.DECLARE_INTERESTS)
def interest_end(request: HttpRequest, pk: int) -> HttpResponse:
    interest = _get(Interest, pk, "interest")
    form = EndInterestForm(request.POST or None)
    if request.method == "POST":
        done = _attempt(request, form, lambda d: services.end_interest(
            by=request.user, interest=interest, ended_on=d["ended_on"], reason=d["reason"]),
            "The interest has been ended. It stays on the public register for six months.")
        if done is not None:
            return redirect("governance:index")
    return render(request, "governance/form_page.html", {
        "form": form, "title": "End an interest", "button": "End the interest",
        "lede": f"{interest}. Nothing is deleted: the interest is kept on the record with its end date and reason.",
        "back": reverse("governance:index"),
    })


@requires(Perm.DECLARE_INTERESTS)
def declaration_return(request: HttpRequest) -> HttpResponse:
    form = DeclarationReturnForm(request.POST or None)
    if request.method == "POST":
        done = _attempt(request, form, lambda d: services.make_declaration_return(
            by=request.user, nil=d["nil"], idempotency_key=d["idempotency_key"]), "Your return has been recorded.")
        if done is not None:
            return redirect("governance:index")
    return render(request, "governance/form_page.html", {
        "form": form, "title": "Make your annual return", "button": "Submit your return",
        "lede": "Everyone in a decision-making role makes a return at least every 12 months: "
                "confirm your interests on the register, or make a nil return.",
        "back": reverse("governance:index"),
    })


@requires(Perm.VIEW_GOVERNANCE)
def gift_list(request: HttpRequest) -> HttpResponse:
    return render(request, "governance/gift_list.html", {
        "gifts": GiftHospitality.objects.select_related("person"), "threshold": rules.gifts_threshold(),
    })


@requires(Perm.DECLARE_INTERESTS)
def gift_new(request: HttpRequest) -> HttpResponse:
    form = GiftForm(request.POST or None)
    if request.method == "POST":
        made = _attempt(request, form, lambda d: services.declare_gift(
            by=request.user, kind=d["kind"], description=d["description"], offered_by=d["offered_by"],
            offered_by_organisation=d["offered_by_organisation"], value_pounds=d["value_pounds"],
            offered_on=d["offered_on"], accepted=d["accepted"], idempotency_key=d["idempotency_key"],
        ), "Your declaration of gifts or hospitality has been recorded.")
        if made is not None:
            return redirect("governance:gift_list")
    return render(request, "governance/form_page.html", {
        "form": form, "title": "Declare gifts or hospitality", "button": "Declare it",
        "lede": "Declare gifts and hospitality offered to you in your role, whether you accepted or declined them.",
        "back": reverse("governance:gift_list"),
    })


@requires(Perm.VIEW_DECLARATION_STATUS)
def overdue(request: HttpRequest) -> HttpResponse:
    statuses = queries.declaration_statuses()
    return render(request, "governance/overdue.html", {
        "overdue": [s for s in statuses if s.overdue], "up_to_date": [s for s in statuses if not s.overdue],
    })


# --- committees -----------------------------------------------------------------------


@requires(Perm.VIEW_GOVERNANCE)
def committee_list(request: HttpRequest) -> HttpResponse:
    return render(request, "governance/committee_list.html", {
        "committees": queries.committees(), "can_create": has_permission(request.user, Perm.MANAGE_COMMITTEES),
    })


@requires(Perm.MANAGE_COMMITTEES)
def committee_new(request: HttpRequest) -> HttpResponse:
    form = CommitteeForm(request.POST or None)
    if request.method == "POST":
        made = _attempt(request, form, lambda d: services.create_committee(
            by=request.user, name=d["name"], organisation=d["organisation"], quorum=d["quorum"],
            is_governing_body=d["is_governing_body"], reports_to=d["reports_to"], remit=d["remit"],
            idempotency_key=d["idempotency_key"]), "The committee has been created.")
        if made is not None:
            return redirect("governance:committee_detail", made.pk)
    return render(request, "governance/form_page.html", {
        "form": form, "title": "Set up a committee", "button": "Create the committee", "back": reverse("governance:committee_list"),
    })


def _committee_page(request: HttpRequest, committee: Committee, member_form: Form | None = None) -> HttpResponse:
    today = timezone.localdate()
    return render(request, "governance/committee_detail.html", {
        "committee": committee,
        "members": services.current_members(committee, today),
        "meetings": committee.meetings.all(),
        "accountabilities": queries.accountabilities().filter(committee=committee),
        "sub_committees": committee.sub_committees.all(),
        "may_run": has_permission(request.user, Perm.RUN_MEETINGS) and services.may_run(request.user, committee),  # type: ignore[arg-type]
        "member_form": member_form or CommitteeMemberForm(prefix="member"),
        "error_form": member_form,
    })


@requires(Perm.VIEW_GOVERNANCE)
def committee_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return _committee_page(request, _get(Committee, pk, "committee"))


@requires(Perm.RUN_MEETINGS)
@require_POST
def committee_member_add(request: HttpRequest, pk: int) -> HttpResponse:
    committee = _get(Committee, pk, "committee")
    form = CommitteeMemberForm(request.POST, prefix="member")
    done = _attempt(request, form, lambda d: services.add_committee_member(
        by=request.user, committee=committee, person=d["person"], role=d["role"], started_on=d["started_on"]),
        "The member has been added.")
    if done is not None:
        return redirect("governance:committee_detail", committee.pk)
    return _committee_page(request, committee, form)


# --- meetings -------------------------------------------------------------------------


@requires(Perm.RUN_MEETINGS)
def meeting_new(request: HttpRequest) -> HttpResponse:
    form = MeetingForm(request.POST or None, initial={"committee": request.GET.get("committee")})
    if request.method == "POST":
        made = _attempt(request, form, lambda d: services.schedule_meeting(
            by=request.user, committee=d["committee"], held_on=d["held_on"], title=d["title"], location=d["location"],
            idempotency_key=d["idempotency_key"]), "The meeting has been set up.")
        if made is not None:
            return redirect("governance:meeting_detail", made.pk)
    return render(request, "governance/form_page.html", {
        "form": form, "title": "Set up a meeting", "button": "Set up the meeting", "back": reverse("governance:index"),
    })


def _members_queryset(meeting: Meeting) -> Any:
    ids = [m.person_id for m in services.current_members(meeting.committee, meeting.held_on)]
    return User.objects.filter(pk__in=ids)


def _meeting_page(request: HttpRequest, meeting: Meeting, attendance_form: Form | None = None) -> HttpResponse:
    members = services.current_members(meeting.committee, meeting.held_on)
    attendees = set(meeting.attendees.values_list("pk", flat=True))
    return render(request, "governance/meeting_detail.html", {
        "meeting": meeting,
        "members": [(m, m.person_id in attendees) for m in members],
        "items": meeting.items.prefetch_related("organisations", "conflicts").select_related("decision"),
        "may_run": has_permission(request.user, Perm.RUN_MEETINGS) and services.may_run(request.user, meeting.committee, meeting.held_on),  # type: ignore[arg-type]
        "attendance_form": attendance_form or AttendanceForm(members=_members_queryset(meeting), initial={"attendees": list(attendees)}),
        "error_form": attendance_form,
    })


@requires(Perm.VIEW_GOVERNANCE)
def meeting_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return _meeting_page(request, _get(Meeting, pk, "meeting"))


@requires(Perm.RUN_MEETINGS)
@require_POST
def meeting_attendance(request: HttpRequest, pk: int) -> HttpResponse:
    meeting = _get(Meeting, pk, "meeting")
    form = AttendanceForm(request.POST, members=_members_queryset(meeting))
    done = _attempt(request, form, lambda d: services.record_attendance(by=request.user, meeting=meeting, attendees=d["attendees"]),
                    "Attendance has been recorded. Screen each item for conflicts before it is discussed.")
    if done is not None:
        return redirect("governance:meeting_detail", meeting.pk)
    return _meeting_page(request, meeting, form)


@requires(Perm.RUN_MEETINGS)
def meeting_item_new(request: HttpRequest, pk: int) -> HttpResponse:
    meeting = _get(Meeting, pk, "meeting")
    form = AgendaItemForm(request.POST or None)
    if request.method == "POST":
        made = _attempt(request, form, lambda d: services.add_agenda_item(
            by=request.user, meeting=meeting, title=d["title"], description=d["description"],
            organisations=d["organisations"], matters=d["matters"], needs_decision=d["needs_decision"],
            idempotency_key=d["idempotency_key"]), "The item has been added to the agenda.")
        if made is not None:
            return redirect("governance:item_detail", made.pk)
    return render(request, "governance/form_page.html", {
        "form": form, "title": "Add an agenda item", "button": "Add the item", "caption": str(meeting),
        "lede": "Name every organisation and matter the item concerns: members' interests are screened against them.",
        "back": reverse("governance:meeting_detail", args=[meeting.pk]),
    })


@requires(Perm.RUN_MEETINGS)
@require_POST
def meeting_close(request: HttpRequest, pk: int) -> HttpResponse:
    meeting = _get(Meeting, pk, "meeting")
    try:
        services.close_meeting(by=request.user, meeting=meeting)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, "The meeting has been closed.")
    return redirect("governance:meeting_detail", meeting.pk)


# --- agenda items: screening, conflicts, votes, decisions -----------------------------


def _item_or_404(pk: int) -> AgendaItem:
    item = queries.item_for_page(pk)
    if item is None:
        raise Http404(f"There is no agenda item {pk}")
    return item


def _item_page(request: HttpRequest, item: AgendaItem, *, error_form: Form | None = None, **bound: Form) -> HttpResponse:
    meeting = item.meeting
    user = request.user
    may_run = has_permission(user, Perm.RUN_MEETINGS) and services.may_run(user, meeting.committee, meeting.held_on)  # type: ignore[arg-type]
    attendees = meeting.attendees.all()
    is_voter = services.voting_member(meeting.committee, user, meeting.held_on) is not None  # type: ignore[arg-type]
    conflicts = list(item.conflicts.all())
    manage_forms = {c.pk: ManageConflictForm(prefix=f"conflict-{c.pk}", initial={"management": c.management or None}) for c in conflicts}
    if "manage_form" in bound:
        manage_forms[bound["manage_form"].conflict_pk] = bound["manage_form"]  # type: ignore[attr-defined]
    decision = getattr(item, "decision", None)
    return render(request, "governance/item_detail.html", {
        "item": item,
        "meeting": meeting,
        "evidence_groups": queries.evidence_by_kind(item),
        "conflicts": [(c, manage_forms[c.pk]) for c in conflicts],
        "votes": item.votes.all(),
        "decision": decision,
        "quorum": services.quorum_for(item),
        "attendance": queries.item_attendance(item),
        "may_run": may_run,
        "is_open": meeting.closed_at is None,
        "may_vote": has_permission(user, Perm.VOTE) and (is_voter or may_run),
        "may_declare": has_permission(user, Perm.VOTE) and (meeting.attendees.filter(pk=user.pk).exists() or may_run),
        "declare_form": bound.get("declare_form") or DeclareAtMeetingForm(prefix="declare", attendees=attendees, initial={"person": user.pk}),
        "vote_form": bound.get("vote_form") or VoteForm(prefix="vote", attendees=attendees),
        "decision_form": bound.get("decision_form") or DecisionForm(prefix="decision"),
        "error_form": error_form,
    })


@requires(Perm.VIEW_GOVERNANCE)
def item_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return _item_page(request, _item_or_404(pk))


@requires(Perm.RUN_MEETINGS)
@require_POST
def item_screen(request: HttpRequest, pk: int) -> HttpResponse:
    item = _item_or_404(pk)
    try:
        new = services.screen_item(by=request.user, item=item)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        total = Conflict.objects.filter(item=item).count()
        messages.success(request, f"Screened against attending members' interests: {len(new)} new conflict{'s' if len(new) != 1 else ''} found, {total} in all.")
    return redirect("governance:item_detail", item.pk)


@requires(Perm.RUN_MEETINGS)
def item_evidence(request: HttpRequest, pk: int) -> HttpResponse:
    item = _item_or_404(pk)
    form = EvidenceForm(request.POST or None)
    if request.method == "POST":
        made = _attempt(request, form, lambda d: services.add_evidence(
            by=request.user, item=item, kind=d["kind"], title=d["title"], url=d["url"], summary=d["summary"],
            idempotency_key=d["idempotency_key"]), "The evidence has been added.")
        if made is not None:
            return redirect("governance:item_detail", item.pk)
    return render(request, "governance/form_page.html", {
        "form": form, "title": "Add evidence", "caption": str(item), "button": "Add the evidence",
        "lede": "Link the indicators, documents, clinical advice and engagement the decision relies on.",
        "back": reverse("governance:item_detail", args=[item.pk]),
    })


@requires(Perm.VOTE)
@require_POST
def item_declare(request: HttpRequest, pk: int) -> HttpResponse:
    item = _item_or_404(pk)
    form = DeclareAtMeetingForm(request.POST, prefix="declare", attendees=item.meeting.attendees.all())
    done = _attempt(request, form, lambda d: services.declare_at_meeting(
        by=request.user, item=item, person=d["person"], description=d["description"], idempotency_key=d["idempotency_key"]),
        "The declaration has been recorded. The secretary will record how it is managed.")
    if done is not None:
        return redirect("governance:item_detail", item.pk)
    return _item_page(request, item, error_form=form, declare_form=form)


@requires(Perm.RUN_MEETINGS)
@require_POST
def conflict_manage(request: HttpRequest, pk: int) -> HttpResponse:
    conflict = _get(Conflict, pk, "conflict")
    form = ManageConflictForm(request.POST, prefix=f"conflict-{conflict.pk}")
    form.conflict_pk = conflict.pk  # type: ignore[attr-defined]
    done = _attempt(request, form, lambda d: services.manage_conflict(
        by=request.user, conflict=conflict, management=d["management"], reason=d["reason"]),
        f"How {conflict.person.display_name}'s conflict is managed has been recorded.")
    if done is not None:
        return redirect("governance:item_detail", conflict.item_id)
    return _item_page(request, _item_or_404(conflict.item_id), error_form=form, manage_form=form)


@requires(Perm.VOTE)
@require_POST
def item_vote(request: HttpRequest, pk: int) -> HttpResponse:
    item = _item_or_404(pk)
    form = VoteForm(request.POST, prefix="vote", attendees=item.meeting.attendees.all())
    done = _attempt(request, form, lambda d: services.cast_vote(
        by=request.user, item=item, person=d["person"], choice=d["choice"], override_reason=d["override_reason"],
        idempotency_key=d["idempotency_key"]), "The vote has been recorded.")
    if done is not None:
        return redirect("governance:item_detail", item.pk)
    return _item_page(request, item, error_form=form, vote_form=form)


@requires(Perm.RUN_MEETINGS)
@require_POST
def item_decide(request: HttpRequest, pk: int) -> HttpResponse:
    item = _item_or_404(pk)
    form = DecisionForm(request.POST, prefix="decision")
    done = _attempt(request, form, lambda d: services.record_decision(
        by=request.user, item=item, resolution=d["resolution"], rationale=d["rationale"],
        override_reason=d["override_reason"], idempotency_key=d["idempotency_key"]),
        "The decision has been recorded and published.")
    if done is not None:
        return redirect("governance:item_detail", item.pk)
    return _item_page(request, item, error_form=form, decision_form=form)


# --- breaches -------------------------------------------------------------------------


@requires(Perm.VIEW_GOVERNANCE)
def breach_list(request: HttpRequest) -> HttpResponse:
    return render(request, "governance/breach_list.html", {
        "breaches": queries.published_breaches(), "can_record": has_permission(request.user, Perm.MANAGE_BREACHES),
    })


@requires(Perm.MANAGE_BREACHES)
def breach_new(request: HttpRequest) -> HttpResponse:
    form = BreachForm(request.POST or None)
    if request.method == "POST":
        made = _attempt(request, form, lambda d: services.record_breach(
            by=request.user, person=d["person"], kind=d["kind"], description=d["description"],
            idempotency_key=d["idempotency_key"]), "The breach has been recorded and published.")
        if made is not None:
            return redirect("governance:breach_detail", made.pk)
    return render(request, "governance/form_page.html", {
        "form": form, "title": "Record a breach", "button": "Record the breach", "back": reverse("governance:breach_list"),
        "lede": "A breach is an interest not declared, a vote taken while conflicted, or any other breach of the policy. Breaches are published.",
    })


def _breach_page(request: HttpRequest, breach: Breach, *, notes_form: Form | None = None, close_form: Form | None = None) -> HttpResponse:
    return render(request, "governance/breach_detail.html", {
        "breach": breach, "can_manage": has_permission(request.user, Perm.MANAGE_BREACHES),
        "notes_form": notes_form or BreachNotesForm(prefix="notes"), "close_form": close_form or BreachCloseForm(prefix="close"),
        "error_form": notes_form or close_form,
    })


@requires(Perm.VIEW_GOVERNANCE)
def breach_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return _breach_page(request, _get(Breach, pk, "breach"))


@requires(Perm.MANAGE_BREACHES)
@require_POST
def breach_investigate(request: HttpRequest, pk: int) -> HttpResponse:
    breach = _get(Breach, pk, "breach")
    form = BreachNotesForm(request.POST, prefix="notes")
    if _attempt(request, form, lambda d: services.investigate_breach(by=request.user, breach=breach, notes=d["notes"]),
                "The investigation notes have been recorded.") is not None:
        return redirect("governance:breach_detail", breach.pk)
    return _breach_page(request, breach, notes_form=form)


@requires(Perm.MANAGE_BREACHES)
@require_POST
def breach_close(request: HttpRequest, pk: int) -> HttpResponse:
    breach = _get(Breach, pk, "breach")
    form = BreachCloseForm(request.POST, prefix="close")
    if _attempt(request, form, lambda d: services.close_breach(by=request.user, breach=breach, outcome=d["outcome"]),
                "The breach has been closed with its outcome.") is not None:
        return redirect("governance:breach_detail", breach.pk)
    return _breach_page(request, breach, close_form=form)


# --- accountability -------------------------------------------------------------------


@requires(Perm.VIEW_GOVERNANCE)
def accountability(request: HttpRequest) -> HttpResponse:
    return render(request, "governance/accountability.html", {
        "lines": queries.accountabilities(), "committees": queries.committees(),
        "can_record": has_permission(request.user, Perm.MANAGE_COMMITTEES),
    })


@requires(Perm.MANAGE_COMMITTEES)
def accountability_new(request: HttpRequest) -> HttpResponse:
    form = AccountabilityForm(request.POST or None)
    if request.method == "POST":
        made = _attempt(request, form, lambda d: services.assign_accountability(
            by=request.user, subject_kind=d["subject_kind"], subject=d["subject"], person=d["person"],
            committee=d["committee"], accountable_to=d["accountable_to"], for_what=d["for_what"],
            started_on=d["started_on"], idempotency_key=d["idempotency_key"]), "The accountability has been recorded.")
        if made is not None:
            return redirect("governance:accountability")
    return render(request, "governance/form_page.html", {
        "form": form, "title": "Record who is accountable", "button": "Record it", "back": reverse("governance:accountability"),
        "lede": "For a budget line, service, decision or committee: who is accountable, to whom, and for what.",
    })


@requires(Perm.VIEW_GOVERNANCE)
def person(request: HttpRequest, pk: int) -> HttpResponse:
    someone = _get(User, pk, "person")
    return render(request, "governance/person.html", {
        "person": someone,
        "lines": queries.accountabilities().filter(person=someone),
        "answering": queries.accountabilities().filter(accountable_to=someone),
        "committee_memberships": someone.committee_memberships.filter(ended_on__isnull=True).select_related("committee"),  # type: ignore[attr-defined]
        "interests": someone.interests.filter(ended_on__isnull=True).select_related("organisation"),  # type: ignore[attr-defined]
        "votes": someone.votes.select_related("item__meeting__committee", "item__decision"),  # type: ignore[attr-defined]
    })


# --- the public registers -------------------------------------------------------------

REGISTERS: dict[str, dict[str, Any]] = {
    "interests": {
        "title": "Register of interests",
        "rows": lambda: queries.interest_rows(queries.published_interests()),
        "columns": ["id", "person", "position", "kind", "organisation", "organisation_code", "matter", "description",
                    "started_on", "ended_on", "end_reason", "declared_on", "declared_late"],
    },
    "gifts-hospitality": {
        "title": "Register of gifts and hospitality",
        "rows": lambda: queries.gift_rows(queries.published_gifts()),
        "columns": ["id", "person", "position", "kind", "description", "offered_by", "offered_by_code", "value_pounds",
                    "offered_on", "accepted"],
    },
    "decisions": {
        "title": "Register of decisions",
        "rows": lambda: queries.decision_rows(queries.published_decisions()),
        "columns": ["id", "committee", "meeting_date", "item", "resolution", "rationale", "carried", "votes_for",
                    "votes_against", "abstentions", "quorum_required", "quorum_present", "chair_override",
                    "override_reasons", "conflicts_declared", "conflicts", "url"],
    },
    "breaches": {
        "title": "Register of breaches",
        "rows": lambda: queries.breach_rows(queries.published_breaches()),
        "columns": ["id", "person", "kind", "description", "item", "reported_on", "status", "outcome", "closed_on"],
    },
}


def _csv_cell(value: Any) -> Any:
    if isinstance(value, list):
        return "; ".join(
            " — ".join(str(v) for v in item.values() if v) if isinstance(item, dict) else str(item) for item in value
        )
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, str) and value[:1] in ("=", "+", "@", "\t", "\r"):
        return "'" + value  # never let a spreadsheet run a declared "interest" as a formula
    return value


def _absolute(request: HttpRequest, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Downloads carry full addresses, so a row still leads to its page once saved elsewhere."""
    return [row | {"url": request.build_absolute_uri(row["url"])} if "url" in row else row for row in rows]


def register_page(register: str) -> Callable[[HttpRequest], HttpResponse]:
    @public
    def view(request: HttpRequest) -> HttpResponse:
        spec = REGISTERS[register]
        return render(request, f"governance/public/{register}.html", {
            "rows": spec["rows"](), "title": spec["title"], "register": register,
            "threshold": rules.gifts_threshold(), "today": timezone.localdate(),
        })

    view.__name__ = view.__qualname__ = f"register_{register.replace('-', '_')}"
    return view


def register_csv(register: str) -> Callable[[HttpRequest], HttpResponse]:
    @public
    def view(request: HttpRequest) -> HttpResponse:
        spec = REGISTERS[register]
        response = HttpResponse(content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'inline; filename="{register}.csv"'
        writer = csv.writer(response)
        writer.writerow(spec["columns"])
        for row in _absolute(request, spec["rows"]()):
            writer.writerow([_csv_cell(row[c]) for c in spec["columns"]])
        return response

    view.__name__ = view.__qualname__ = f"register_{register.replace('-', '_')}_csv"
    return view


def register_json(register: str) -> Callable[[HttpRequest], HttpResponse]:
    @public
    def view(request: HttpRequest) -> HttpResponse:
        spec = REGISTERS[register]
        rows = [{c: row[c] for c in spec["columns"]} for row in _absolute(request, spec["rows"]())]
        response = HttpResponse(json.dumps(rows, cls=DjangoJSONEncoder, ensure_ascii=False, indent=1),
                                content_type="application/json; charset=utf-8")
        response["Content-Disposition"] = f'inline; filename="{register}.json"'
        return response

    view.__name__ = view.__qualname__ = f"register_{register.replace('-', '_')}_json"
    return view


@public
def public_decision(request: HttpRequest, pk: int) -> HttpResponse:
    decision = queries.decision_for_page(pk)
    if decision is None:
        raise Http404(f"There is no published decision {pk}")
    item = decision.item
    return render(request, "governance/public/decision.html", {
        "decision": decision, "item": item, "meeting": item.meeting,
        "row": queries.decision_rows([decision])[0],
        "evidence_groups": queries.evidence_by_kind(item),
        "conflicts": item.conflicts.all(), "votes": item.votes.all(),
        "attendees": item.meeting.attendees.all(),
    })
