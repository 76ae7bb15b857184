"""The demo governing body: members, declarations, gifts, a meeting with a conflicted
member, decisions, a breach and accountabilities, all made through the services.

Called at the end of ``core.demo.load_demo`` inside its transaction. Idempotent: when the
governing body exists, nothing is done.
"""

from __future__ import annotations

import datetime

from django.utils import timezone

from opencommissioning.core import services as core_services
from opencommissioning.core.models import Membership, Organisation, OrganisationKind, User
from opencommissioning.core.roles import Role

from . import services
from .models import (
    BreachKind,
    Committee,
    CommitteeRole,
    EvidenceKind,
    GiftKind,
    InterestKind,
    Management,
    SubjectKind,
    VoteChoice,
)

EXTRA_PEOPLE = (
    # username, full name, job title; no sign-in (unusable password)
    ("lay-chair", "Mark Lewis", "Lay chair of the governing body"),
    ("secondary-care", "Dr Priya Shah", "Secondary care doctor on the governing body"),
    ("cfo", "Linda Evans", "Chief finance officer"),
    ("gp-member", "Dr Helen Ward", "GP member of the governing body"),
)


def governing_body_name(commissioner: Organisation) -> str:
    return f"{commissioner.name.title().replace('Nhs', 'NHS').replace('Ccg', 'CCG')} Governing Body"


def _person(username: str, full_name: str, job_title: str, commissioner: Organisation, since: datetime.date) -> User:
    user = User.objects.filter(username=username).first()
    if user is None:
        user = core_services.create_person(by=None, username=username, full_name=full_name, job_title=job_title)
    if not Membership.objects.filter(user=user, role=Role.CLINICAL_COMMISSIONER, ended_on__isnull=True).exists():
        core_services.add_membership(by=None, user=user, organisation=commissioner, role=Role.CLINICAL_COMMISSIONER, started_on=since)
    return user


def load_governance_demo(*, commissioner: Organisation, provider: Organisation, people: dict[str, User]) -> str:
    name = governing_body_name(commissioner)
    if Committee.objects.filter(name=name, organisation=commissioner).exists():
        return f"Governance: {name} already set up"
    today = timezone.localdate()
    since = today - datetime.timedelta(days=200)
    meeting_day = today - datetime.timedelta(days=14)
    practice = (
        Organisation.objects.filter(parent=commissioner, kind=OrganisationKind.PRACTICE, close_date__isnull=True)
        .order_by("ods_code").first()
    )
    extra = {u: _person(u, n, t, commissioner, since) for u, n, t in EXTRA_PEOPLE}
    gp, manager, patientrep = people["commissioner"], people["manager"], people["patientrep"]
    chair, doctor, cfo, helen = extra["lay-chair"], extra["secondary-care"], extra["cfo"], extra["gp-member"]

    # The governing body and a committee reporting to it.
    body = services.create_committee(
        by=manager, name=name, organisation=commissioner, quorum=4, is_governing_body=True,
        remit="Commissioning decisions for the population, the commissioner's budget, and its governance.",
    )
    primary = services.create_committee(
        by=manager, name="Primary Care Commissioning Committee", organisation=commissioner, quorum=3, reports_to=body,
        remit="Commissioning of GP services, where GP members are most often conflicted: a lay majority.",
    )
    for person, role in ((chair, CommitteeRole.CHAIR), (gp, CommitteeRole.MEMBER), (patientrep, CommitteeRole.MEMBER),
                         (doctor, CommitteeRole.MEMBER), (cfo, CommitteeRole.MEMBER), (helen, CommitteeRole.MEMBER),
                         (manager, CommitteeRole.SECRETARY)):
        services.add_committee_member(by=manager, committee=body, person=person, role=role, started_on=since)
    for person, role in ((patientrep, CommitteeRole.CHAIR), (chair, CommitteeRole.MEMBER), (cfo, CommitteeRole.MEMBER),
                         (gp, CommitteeRole.ATTENDEE), (manager, CommitteeRole.SECRETARY)):
        services.add_committee_member(by=manager, committee=primary, person=person, role=role, started_on=since)

    # Declarations: interests, nil returns, gifts and hospitality.
    services.declare_interest(
        by=gp, kind=InterestKind.INDIRECT, organisation=provider,
        description="My husband is a consultant dermatologist employed by the trust.", started_on=datetime.date(2019, 9, 1),
    )
    if practice is not None:
        services.declare_interest(
            by=gp, kind=InterestKind.FINANCIAL, organisation=practice,
            description="GP partner: a share of the practice's profits.", started_on=datetime.date(2012, 4, 1),
        )
    services.declare_interest(
        by=cfo, kind=InterestKind.NON_FINANCIAL_PERSONAL, matter="Trafford carers' charity",
        description="Unpaid trustee.", started_on=datetime.date(2021, 6, 1),
    )
    services.declare_interest(
        by=chair, kind=InterestKind.NON_FINANCIAL_PROFESSIONAL, matter="Community dermatology",
        description="Wrote a report on community dermatology for a national charity.",
        started_on=datetime.date(2020, 1, 1), ended_on=today - datetime.timedelta(days=60), end_reason="Report published; role over.",
    )
    services.make_declaration_return(by=doctor, nil=True)
    services.make_declaration_return(by=patientrep, nil=True)
    services.make_declaration_return(by=manager, nil=True)
    services.declare_gift(by=doctor, kind=GiftKind.HOSPITALITY, description="Dinner after a product launch",
                          offered_by="A pharmaceutical company", value_pounds=45, offered_on=today - datetime.timedelta(days=40),
                          accepted=False)
    services.declare_gift(by=chair, kind=GiftKind.HOSPITALITY, description="Conference place and lunch",
                          offered_by="NHS Confederation", value_pounds=120, offered_on=today - datetime.timedelta(days=90),
                          accepted=True)
    services.declare_gift(by=gp, kind=GiftKind.GIFT, description="A box of biscuits from a patient group",
                          offered_by="Patient participation group", value_pounds=8, offered_on=today - datetime.timedelta(days=20),
                          accepted=True)

    # A meeting in public with a conflicted member.
    meeting = services.schedule_meeting(by=manager, committee=body, held_on=meeting_day,
                                        title="Governing body meeting in public", location="Trafford Town Hall")
    services.record_attendance(by=manager, meeting=meeting, attendees=[chair, gp, patientrep, doctor, cfo, manager])
    derm = services.add_agenda_item(
        by=manager, meeting=meeting, title="Community dermatology: award of the contract",
        description="Award a three-year outcome-based contract for community dermatology.",
        organisations=[provider], matters=["community dermatology"],
    )
    for kind, title, url, summary in (
        (EvidenceKind.INDICATOR, "Dermatology referrals per 1,000 patients, by practice", f"/organisations/{commissioner.ods_code}/",
         "Referral rates vary threefold between practices; waits average 19 weeks."),
        (EvidenceKind.DOCUMENT, "Dermatology needs assessment and service specification", "",
         "Needs assessment shared with the health and wellbeing board."),
        (EvidenceKind.ADVICE, "Clinical senate advice on the dermatology pathway", "",
         "Supports community triage with photographs and advice and guidance."),
        (EvidenceKind.ENGAGEMENT, "Patient panel survey: 212 responses", "",
         "You said waits were too long and clinics too far away; the specification sets local clinics."),
    ):
        services.add_evidence(by=manager, item=derm, kind=kind, title=title, url=url, summary=summary)
    access = services.add_agenda_item(
        by=manager, meeting=meeting, title="Extended access: funding for member practices",
        description="Fund evening and weekend appointments across member practices.",
        organisations=[commissioner], matters=["extended access"],
    )
    services.add_evidence(by=manager, item=access, kind=EvidenceKind.INDICATOR, title="Patient survey: ease of getting an appointment",
                          summary="Below the England average in most practices.")

    for item in (derm, access):
        for conflict in services.screen_item(by=manager, item=item):
            if item == derm:
                services.manage_conflict(by=manager, conflict=conflict, management=Management.EXCLUDED,
                                         reason="Her husband works for the bidder: she left the room for this item.")
            else:
                services.manage_conflict(by=manager, conflict=conflict, management=Management.DISCUSS_NOT_VOTE,
                                         reason="A GP partner whose practice would receive the funding: her knowledge was heard, but she did not vote.")
        for member, choice in ((chair, VoteChoice.FOR), (patientrep, VoteChoice.FOR), (doctor, VoteChoice.FOR),
                               (cfo, VoteChoice.ABSTAIN if item == derm else VoteChoice.FOR)):
            services.cast_vote(by=member, item=item, choice=choice)
    derm_decision = services.record_decision(
        by=manager, item=derm, resolution="Award the community dermatology contract to the trust for three years from April.",
        rationale="The bid scored highest on outcomes and access; it answers the variation in referral rates, the senate's advice and what patients told us about waits.",
    )
    services.record_decision(
        by=manager, item=access, resolution="Fund extended access at every member practice for one year, then review.",
        rationale="Access is below the England average; the funding is offered to all practices on the same terms.",
    )
    services.close_meeting(by=manager, meeting=meeting)

    # A breach, being investigated.
    breach = services.record_breach(
        by=manager, person=helen, kind=BreachKind.UNDECLARED_INTEREST,
        description="A directorship of a GP federation was found on Companies House but is not on the register.",
    )
    services.investigate_breach(by=manager, breach=breach, notes="Dr Ward has been asked to declare it; she attended no meeting where it was relevant.")

    # Who is accountable for what.
    services.assign_accountability(by=manager, subject_kind=SubjectKind.BUDGET_LINE, subject="Community services budget 2026/27",
                                   person=cfo, committee=body, started_on=since,
                                   for_what="Keeping spending within the budget and reporting the forecast every month.")
    services.assign_accountability(by=manager, subject_kind=SubjectKind.SERVICE, subject="Community dermatology",
                                   person=manager, committee=body, accountable_to=gp, started_on=since,
                                   for_what="Managing the contract and its outcome measures.")
    services.assign_accountability(by=manager, subject_kind=SubjectKind.COMMITTEE, subject=primary.name,
                                   person=patientrep, committee=body, started_on=since,
                                   for_what="Chairing the committee and reporting its decisions to the governing body.")
    return (f"Governance: {name} with {body.members.count()} members, a meeting with a conflicted member, "
            f"decision {derm_decision.pk} on /public/decisions/{derm_decision.pk}/, published registers")
