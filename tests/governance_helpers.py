"""A small governing body for the governance tests: a chair, three voting members, a
secretary, a meeting today and an item about the provider. Built through the services."""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.utils import timezone

from opencommissioning.core.models import Organisation, User
from opencommissioning.core.roles import Role
from opencommissioning.governance import services
from opencommissioning.governance.models import (
    AgendaItem,
    Committee,
    CommitteeRole,
    Interest,
    InterestKind,
    Meeting,
)

SINCE = datetime.date(2020, 1, 1)


@dataclass
class Board:
    committee: Committee
    meeting: Meeting
    item: AgendaItem
    chair: User
    secretary: User
    conflicted: User  # has an interest in the provider
    members: list[User]  # voting members free of conflicts, chair first
    interest: Interest


def make_board(people: dict[str, User], commissioner: Organisation, provider: Organisation, *, quorum: int = 3) -> Board:
    secretary = people[Role.COMMISSIONING_MANAGER]
    chair = people[Role.CLINICAL_COMMISSIONER]
    conflicted = people[Role.HWB_MEMBER]
    others = [people[Role.PATIENT_REPRESENTATIVE], people[Role.SENATE_MEMBER]]
    committee = services.create_committee(by=secretary, name="Governing Body", organisation=commissioner, quorum=quorum,
                                          is_governing_body=True, remit="Commissioning decisions")
    services.add_committee_member(by=secretary, committee=committee, person=chair, role=CommitteeRole.CHAIR, started_on=SINCE)
    services.add_committee_member(by=secretary, committee=committee, person=secretary, role=CommitteeRole.SECRETARY, started_on=SINCE)
    for person in (conflicted, *others):
        services.add_committee_member(by=secretary, committee=committee, person=person, role=CommitteeRole.MEMBER, started_on=SINCE)
    interest = services.declare_interest(
        by=conflicted, kind=InterestKind.FINANCIAL, organisation=provider, description="Paid adviser to the trust",
        started_on=datetime.date(2021, 1, 1),
    )
    meeting = services.schedule_meeting(by=secretary, committee=committee, held_on=timezone.localdate(), title="Board meeting")
    services.record_attendance(by=secretary, meeting=meeting, attendees=[chair, secretary, conflicted, *others])
    item = services.add_agenda_item(by=secretary, meeting=meeting, title="Award the dermatology contract",
                                    organisations=[provider], matters=["Community dermatology"])
    return Board(committee, meeting, item, chair, secretary, conflicted, [chair, *others], interest)
