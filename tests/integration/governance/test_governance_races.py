"""Double submissions racing on real connections still make one vote and one decision."""

from __future__ import annotations

import uuid

import pytest
from django.db import connection

from opencommissioning.audit.chain import verify
from opencommissioning.governance import services
from opencommissioning.governance.models import Decision, Management, Vote, VoteChoice
from tests.concurrency import race
from tests.governance_helpers import make_board


@pytest.mark.django_db(transaction=True)
def test_the_same_form_submitted_at_once_makes_one_vote_and_one_decision(real_transactions, people, commissioner, provider):
    if connection.vendor != "postgresql":
        pytest.skip("races real connections on PostgreSQL; the in-memory SQLite test database's shared "
                    "cache fails table locks at once instead of queueing")
    board = make_board(people, commissioner, provider)
    [conflict] = services.screen_item(by=board.secretary, item=board.item)
    services.manage_conflict(by=board.secretary, conflict=conflict, management=Management.EXCLUDED, reason="Adviser")
    key = uuid.uuid4()
    votes = race(4, lambda i: services.cast_vote(by=board.chair, item=board.item, choice=VoteChoice.FOR, idempotency_key=key))
    assert {getattr(v, "pk", v) for v in votes} == {Vote.objects.get().pk}, votes
    for member in board.members[1:]:
        services.cast_vote(by=member, item=board.item, choice=VoteChoice.FOR)
    key = uuid.uuid4()
    decisions = race(3, lambda i: services.record_decision(by=board.secretary, item=board.item, resolution="Award",
                                                            rationale="Best bid", idempotency_key=key))
    assert {getattr(d, "pk", d) for d in decisions} == {Decision.objects.get().pk}, decisions
    assert verify().ok


@pytest.mark.django_db(transaction=True)
def test_the_same_declaration_submitted_at_once_makes_one_interest(real_transactions, people, provider):
    if connection.vendor != "postgresql":
        pytest.skip("races real connections on PostgreSQL")
    import datetime

    from opencommissioning.core.roles import Role
    from opencommissioning.governance.models import Interest, InterestKind

    person = people[Role.CLINICAL_COMMISSIONER]
    key = uuid.uuid4()
    made = race(4, lambda i: services.declare_interest(
        by=person, kind=InterestKind.FINANCIAL, organisation=provider, description="Shareholding",
        started_on=datetime.date(2025, 1, 1), idempotency_key=key,
    ))
    assert {getattr(m, "pk", m) for m in made} == {Interest.objects.get().pk}, made
    assert verify().ok
