"""The governance services: each rule refuses bad input with a clear message and changes
nothing; each change appends to the audit chain; double submissions make one record."""

from __future__ import annotations

import datetime
import uuid

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from opencommissioning.audit.chain import verify
from opencommissioning.audit.models import AuditEvent
from opencommissioning.core.roles import Role
from opencommissioning.governance import queries, services
from opencommissioning.governance.models import (
    Breach,
    BreachKind,
    Conflict,
    Decision,
    GiftKind,
    Interest,
    InterestKind,
    Management,
    Vote,
    VoteChoice,
)
from tests.governance_helpers import make_board

pytestmark = pytest.mark.django_db
TODAY = timezone.localdate


@pytest.fixture
def board(people, commissioner, provider):
    return make_board(people, commissioner, provider)


def refused(call, field="__all__"):
    """Run ``call``; it must raise a ValidationError on ``field`` and change nothing."""
    events = AuditEvent.objects.count()
    with pytest.raises(ValidationError) as caught:
        call()
    assert field in caught.value.message_dict, caught.value.message_dict
    assert AuditEvent.objects.count() == events
    return " ".join(caught.value.message_dict[field])


def everyone_votes(board, choice=VoteChoice.FOR):
    for member in board.members:
        services.cast_vote(by=member, item=board.item, choice=choice)


# --- interests ------------------------------------------------------------------------


def test_declaring_an_interest_is_audited(people, provider):
    person = people[Role.CLINICAL_COMMISSIONER]
    interest = services.declare_interest(by=person, kind=InterestKind.FINANCIAL, organisation=provider,
                                         description="Shares", started_on=datetime.date(2024, 1, 1))
    event = AuditEvent.objects.get(action="interest.declare")
    assert event.object_id == str(interest.pk) and event.after["organisation"] == "R0A"
    assert verify().ok


@pytest.mark.parametrize(("changes", "field", "message"), [
    ({"ended_on": datetime.date(2023, 12, 31), "end_reason": "sold"}, "ended_on", "after the start date"),
    ({"ended_on": datetime.date(2024, 2, 1)}, "end_reason", "why the interest ended"),
    ({"organisation": None}, "organisation", "organisation or the matter"),
    ({"description": "  "}, "description", "Describe"),
    ({"kind": "bribe"}, "kind", "kind of interest"),
])
def test_a_bad_declaration_is_refused_and_changes_nothing(people, provider, changes, field, message):
    person = people[Role.CLINICAL_COMMISSIONER]
    arguments = {"by": person, "kind": InterestKind.FINANCIAL, "organisation": provider, "description": "Shares",
                 "started_on": datetime.date(2024, 1, 1)} | changes
    assert message in refused(lambda: services.declare_interest(**arguments), field)
    assert not Interest.objects.exists()


def test_the_database_refuses_an_end_without_a_reason(people, provider):
    interest = services.declare_interest(by=people[Role.CLINICAL_COMMISSIONER], kind=InterestKind.FINANCIAL,
                                         organisation=provider, description="Shares", started_on=datetime.date(2024, 1, 1))
    with pytest.raises(IntegrityError), transaction.atomic():
        Interest.objects.filter(pk=interest.pk).update(ended_on=datetime.date(2025, 1, 1))


def test_a_double_submission_returns_the_first_declaration(people, provider):
    key = uuid.uuid4()
    arguments = {"by": people[Role.CLINICAL_COMMISSIONER], "kind": InterestKind.FINANCIAL, "organisation": provider,
                 "description": "Shares", "started_on": datetime.date(2024, 1, 1), "idempotency_key": key}
    first = services.declare_interest(**arguments)
    events = AuditEvent.objects.count()
    assert services.declare_interest(**arguments) == first
    assert Interest.objects.count() == 1 and AuditEvent.objects.count() == events


def test_someone_else_cannot_declare_for_you(people, provider):
    refused(lambda: services.declare_interest(by=people[Role.HWB_MEMBER], person=people[Role.SENATE_MEMBER],
                                              kind=InterestKind.FINANCIAL, organisation=provider, description="x",
                                              started_on=datetime.date(2024, 1, 1)), "person")


def test_an_interest_is_ended_not_deleted(people, provider):
    person = people[Role.CLINICAL_COMMISSIONER]
    interest = services.declare_interest(by=person, kind=InterestKind.FINANCIAL, organisation=provider,
                                         description="Shares", started_on=datetime.date(2024, 1, 1))
    refused(lambda: services.end_interest(by=person, interest=interest, ended_on=datetime.date(2023, 1, 1), reason="sold"), "ended_on")
    refused(lambda: services.end_interest(by=person, interest=interest, ended_on=datetime.date(2025, 1, 1), reason=""), "reason")
    services.end_interest(by=person, interest=interest, ended_on=datetime.date(2025, 1, 1), reason="Sold the shares")
    interest.refresh_from_db()
    assert (interest.ended_on, interest.end_reason) == (datetime.date(2025, 1, 1), "Sold the shares")
    assert "already ended" in refused(lambda: services.end_interest(by=person, interest=interest, ended_on=TODAY(), reason="x"), "ended_on")


def test_nil_returns_and_who_is_overdue(people, provider, board):
    overdue = {s.person.username for s in queries.overdue_declarations()}
    # Board members and decision-making roles must declare; only the conflicted member has.
    assert Role.COMMISSIONING_MANAGER in overdue and Role.CLINICAL_COMMISSIONER in overdue
    assert Role.HWB_MEMBER not in overdue and Role.REFERRER not in overdue
    services.make_declaration_return(by=people[Role.COMMISSIONING_MANAGER], nil=True)
    assert Role.COMMISSIONING_MANAGER not in {s.person.username for s in queries.overdue_declarations()}
    assert "current interest" in refused(lambda: services.make_declaration_return(by=board.conflicted, nil=True), "nil")
    services.make_declaration_return(by=board.conflicted, nil=False)


def test_the_reminder_command_records_a_reminder_for_each_overdue_person(people, board):
    import io

    from django.core.management import call_command

    out = io.StringIO()
    call_command("send_declaration_reminders", stdout=out)
    assert "Recorded" in out.getvalue() and board.chair.full_name in out.getvalue()
    assert AuditEvent.objects.filter(action="interest.remind").count() == len(queries.overdue_declarations())


def test_gifts_are_declared_and_published_at_or_above_the_threshold(people):
    person = people[Role.CLINICAL_COMMISSIONER]
    for value in ("24.99", "25", "120"):
        services.declare_gift(by=person, kind=GiftKind.HOSPITALITY, description="Dinner", offered_by="A company",
                              value_pounds=value, offered_on=TODAY(), accepted=False)
    assert sorted(str(g.value_pounds) for g in queries.published_gifts()) == ["120.00", "25.00"]
    assert "£0 or more" in refused(lambda: services.declare_gift(by=person, kind=GiftKind.GIFT, description="x", offered_by="y",
                                                                 value_pounds=-1, offered_on=TODAY(), accepted=True), "value_pounds")


# --- screening, conflicts, votes ------------------------------------------------------


def test_screening_finds_the_conflicted_member_and_records_it_once(board):
    [conflict] = services.screen_item(by=board.secretary, item=board.item)
    assert conflict.person == board.conflicted and conflict.interest == board.interest
    assert services.screen_item(by=board.secretary, item=board.item) == []
    assert Conflict.objects.count() == 1


def test_a_vote_before_screening_is_refused(board):
    assert "screen" in refused(lambda: services.cast_vote(by=board.chair, item=board.item, choice=VoteChoice.FOR))


def test_a_conflicted_member_cannot_vote_until_a_management_action_allows_it(board):
    [conflict] = services.screen_item(by=board.secretary, item=board.item)
    vote = lambda: services.cast_vote(by=board.conflicted, item=board.item, choice=VoteChoice.FOR)  # noqa: E731
    assert "not yet managed" in refused(vote)
    services.manage_conflict(by=board.secretary, conflict=conflict, management=Management.EXCLUDED, reason="Adviser to the bidder")
    assert "excluded from the item" in refused(vote)
    services.manage_conflict(by=board.secretary, conflict=conflict, management=Management.DISCUSS_NOT_VOTE, reason="Expert view")
    assert "may discuss but not vote" in refused(vote)
    services.manage_conflict(by=board.secretary, conflict=conflict, management=Management.NO_ACTION, reason="Interest is trivial")
    assert vote().person == board.conflicted


def test_only_the_chair_can_override_with_a_written_reason_and_it_is_flagged(board):
    services.screen_item(by=board.secretary, item=board.item)
    assert "Only the chair" in refused(lambda: services.cast_vote(
        by=board.secretary, item=board.item, person=board.conflicted, choice=VoteChoice.FOR, override_reason="Needed"), "override_reason")
    vote = services.cast_vote(by=board.chair, item=board.item, person=board.conflicted, choice=VoteChoice.FOR,
                              override_reason="Only member with the expertise")
    assert vote.overridden
    assert "chair's override" in AuditEvent.objects.get(action="vote.cast").summary


def test_a_vote_from_a_non_member_or_an_absent_member_is_refused(board, people):
    services.screen_item(by=board.secretary, item=board.item)
    outsider = people[Role.AUDITOR]
    assert "not a voting member" in refused(lambda: services.cast_vote(by=outsider, item=board.item, choice=VoteChoice.FOR))
    assert "not a voting member" in refused(lambda: services.cast_vote(by=board.secretary, item=board.item, choice=VoteChoice.FOR))
    services.record_attendance(by=board.secretary, meeting=board.meeting, attendees=[board.chair, board.secretary])
    services.screen_item(by=board.secretary, item=board.item)
    assert "not recorded as attending" in refused(lambda: services.cast_vote(by=board.members[1], item=board.item, choice=VoteChoice.FOR))


def test_a_member_votes_once_and_a_resubmission_returns_the_vote(board):
    services.screen_item(by=board.secretary, item=board.item)
    key = uuid.uuid4()
    first = services.cast_vote(by=board.chair, item=board.item, choice=VoteChoice.FOR, idempotency_key=key)
    assert services.cast_vote(by=board.chair, item=board.item, choice=VoteChoice.FOR, idempotency_key=key) == first
    assert "already voted" in refused(lambda: services.cast_vote(by=board.chair, item=board.item, choice=VoteChoice.AGAINST))
    assert Vote.objects.count() == 1


def test_changing_attendance_means_screening_again(board):
    services.screen_item(by=board.secretary, item=board.item)
    services.record_attendance(by=board.secretary, meeting=board.meeting, attendees=[board.chair, board.secretary, *board.members[1:]])
    board.item.refresh_from_db()
    assert board.item.screened_at is None


def test_a_member_can_declare_at_the_meeting_and_must_then_be_managed(board):
    services.screen_item(by=board.secretary, item=board.item)
    member = board.members[1]
    services.declare_at_meeting(by=member, item=board.item, description="My sister works in the dermatology team")
    assert "not yet managed" in refused(lambda: services.cast_vote(by=member, item=board.item, choice=VoteChoice.FOR))


def test_only_the_secretary_or_chair_manage_conflicts(board):
    [conflict] = services.screen_item(by=board.secretary, item=board.item)
    assert "secretary or the chair" in refused(lambda: services.manage_conflict(
        by=board.members[1], conflict=conflict, management=Management.NO_ACTION, reason="x"))
    assert "reason" in refused(lambda: services.manage_conflict(
        by=board.chair, conflict=conflict, management=Management.EXCLUDED, reason=" "), "reason")


# --- decisions ------------------------------------------------------------------------


def test_a_decision_with_an_exclusion_passes_with_quorum(board):
    [conflict] = services.screen_item(by=board.secretary, item=board.item)
    services.manage_conflict(by=board.secretary, conflict=conflict, management=Management.EXCLUDED, reason="Adviser to the bidder")
    everyone_votes(board)
    decision = services.record_decision(by=board.secretary, item=board.item, resolution="Award it", rationale="Best bid")
    assert (decision.carried, decision.votes_for, decision.quorum_present, decision.quorum_required) == (True, 3, 3, 3)
    assert not decision.quorum_overridden
    assert AuditEvent.objects.filter(action="decision.record").exists() and verify().ok
    # The chair becomes accountable for carrying it out.
    assert decision.accountabilities.get().person == board.chair


def test_a_decision_with_unmanaged_conflicts_is_refused(board):
    services.screen_item(by=board.secretary, item=board.item)
    everyone_votes(board)
    assert board.conflicted.full_name in refused(lambda: services.record_decision(
        by=board.secretary, item=board.item, resolution="Award it", rationale="Best bid"))


def test_a_decision_without_quorum_is_refused_unless_the_chair_overrides(people, commissioner, provider):
    board = make_board(people, commissioner, provider, quorum=4)
    [conflict] = services.screen_item(by=board.secretary, item=board.item)
    services.manage_conflict(by=board.secretary, conflict=conflict, management=Management.EXCLUDED, reason="Adviser")
    everyone_votes(board)
    decide = lambda by, reason="": services.record_decision(  # noqa: E731
        by=by, item=board.item, resolution="Award it", rationale="Best bid", override_reason=reason)
    message = refused(lambda: decide(board.secretary))
    assert "not quorate" in message and "4 voting members" in message and board.conflicted.full_name in message
    assert "Only the chair" in refused(lambda: decide(board.secretary, "Urgent"), "override_reason")
    decision = decide(board.chair, "The contract ends this month; patients would lose the service")
    assert decision.quorum_overridden and decision.quorum_present == 3
    assert queries.decision_rows([decision])[0]["chair_override"] is True


def test_the_database_refuses_a_decision_without_quorum_or_reason(board):
    with pytest.raises(IntegrityError), transaction.atomic():
        Decision.objects.create(item=board.item, resolution="x", rationale="y", carried=True, votes_for=1, votes_against=0,
                                abstentions=0, quorum_required=3, quorum_present=1, decided_at=timezone.now(), decided_by=board.chair)
    with pytest.raises(IntegrityError), transaction.atomic():
        Decision.objects.create(item=board.item, resolution="x", rationale="y", carried=True, votes_for=1, votes_against=0,
                                abstentions=0, quorum_required=1, quorum_present=1, decided_at=timezone.now(), decided_by=None)


def test_no_decision_on_a_closed_meeting_and_none_twice(board):
    [conflict] = services.screen_item(by=board.secretary, item=board.item)
    services.manage_conflict(by=board.secretary, conflict=conflict, management=Management.EXCLUDED, reason="Adviser")
    everyone_votes(board)
    key = uuid.uuid4()
    first = services.record_decision(by=board.secretary, item=board.item, resolution="A", rationale="B", idempotency_key=key)
    assert services.record_decision(by=board.secretary, item=board.item, resolution="A", rationale="B", idempotency_key=key) == first
    assert "already been recorded" in refused(lambda: services.record_decision(by=board.secretary, item=board.item, resolution="A", rationale="B"))
    services.close_meeting(by=board.secretary, meeting=board.meeting)
    item = services.add_agenda_item  # no new items on a closed meeting either
    assert "closed" in refused(lambda: item(by=board.secretary, meeting=board.meeting, title="Late item"))
    assert "closed" in refused(lambda: services.record_decision(by=board.secretary, item=board.item, resolution="A", rationale="B"))


def test_a_vote_found_conflicted_after_it_was_cast_is_not_counted_and_is_a_breach(board):
    services.screen_item(by=board.secretary, item=board.item)
    member = board.members[1]
    services.cast_vote(by=member, item=board.item, choice=VoteChoice.AGAINST)
    conflict = services.declare_at_meeting(by=board.secretary, item=board.item, person=member, description="Remembered a shareholding")
    for c in Conflict.objects.all():
        services.manage_conflict(by=board.secretary, conflict=c, management=Management.EXCLUDED, reason="Financial interest")
    services.cast_vote(by=board.chair, item=board.item, choice=VoteChoice.FOR)
    services.cast_vote(by=board.members[2], item=board.item, choice=VoteChoice.FOR)
    with pytest.raises(ValidationError):  # two excluded: 2 of 3 free to vote
        services.record_decision(by=board.secretary, item=board.item, resolution="A", rationale="B")
    decision = services.record_decision(by=board.chair, item=board.item, resolution="A", rationale="B", override_reason="Urgent")
    assert (decision.votes_for, decision.votes_against) == (2, 0)
    breach = Breach.objects.get()
    assert breach.person == member and breach.kind == BreachKind.VOTED_WHILE_CONFLICTED and conflict.item == breach.item


# --- breaches -------------------------------------------------------------------------


def test_a_breach_is_recorded_investigated_and_closed(board):
    breach = services.record_breach(by=board.secretary, person=board.members[1], kind=BreachKind.UNDECLARED_INTEREST,
                                    description="A directorship not on the register")
    assert "Record the outcome" in refused(lambda: services.close_breach(by=board.secretary, breach=breach, outcome=""), "outcome")
    services.investigate_breach(by=board.secretary, breach=breach, notes="Asked to declare")
    services.close_breach(by=board.secretary, breach=breach, outcome="Declared; reminded of the policy")
    breach.refresh_from_db()
    assert breach.status == "closed"
    assert "already closed" in refused(lambda: services.close_breach(by=board.secretary, breach=breach, outcome="again"))
    with pytest.raises(IntegrityError), transaction.atomic():
        Breach.objects.filter(pk=breach.pk).update(outcome="")
