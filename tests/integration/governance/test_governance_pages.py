"""Every governance page and download through the test client, with real records."""

from __future__ import annotations

import csv
import datetime
import io
import uuid

import pytest
from django.utils import timezone

from opencommissioning.core.roles import Role
from opencommissioning.governance import services
from opencommissioning.governance.models import (
    BreachKind,
    Committee,
    Conflict,
    Decision,
    Evidence,
    GiftHospitality,
    GiftKind,
    Interest,
    InterestKind,
    Management,
    Meeting,
    VoteChoice,
)
from tests.governance_helpers import make_board

pytestmark = pytest.mark.django_db


@pytest.fixture
def board(people, commissioner, provider):
    return make_board(people, commissioner, provider)


@pytest.fixture
def decided(board):
    """The board's item screened, the conflict excluded, votes cast and the decision recorded."""
    [conflict] = services.screen_item(by=board.secretary, item=board.item)
    services.manage_conflict(by=board.secretary, conflict=conflict, management=Management.EXCLUDED, reason="Paid adviser to the bidder")
    services.add_evidence(by=board.secretary, item=board.item, kind="advice", title="Senate advice on dermatology")
    for member in board.members:
        services.cast_vote(by=member, item=board.item, choice=VoteChoice.FOR)
    decision = services.record_decision(by=board.secretary, item=board.item, resolution="Award the contract", rationale="Best outcomes")
    breach = services.record_breach(by=board.secretary, person=board.conflicted, kind=BreachKind.UNDECLARED_INTEREST,
                                    description="A directorship not on the register")
    services.declare_gift(by=board.chair, kind=GiftKind.HOSPITALITY, description="Conference dinner", offered_by="A supplier",
                          value_pounds=60, offered_on=timezone.localdate(), accepted=True)
    return board, decision, breach


def text(response):
    return response.content.decode()


def test_every_signed_in_page_renders_with_records(client_as, decided):
    board, decision, breach = decided
    client = client_as(Role.COMMISSIONING_MANAGER)
    pages = [
        "/governance/", "/governance/interests/", "/governance/interests/?ended=1", "/governance/interests/new/",
        "/governance/interests/return/", f"/governance/interests/{board.interest.pk}/end/", "/governance/gifts-hospitality/",
        "/governance/gifts-hospitality/new/", "/governance/overdue/", "/governance/committees/", "/governance/committees/new/",
        f"/governance/committees/{board.committee.pk}/", "/governance/meetings/new/", f"/governance/meetings/{board.meeting.pk}/",
        f"/governance/meetings/{board.meeting.pk}/items/new/", f"/governance/items/{board.item.pk}/",
        f"/governance/items/{board.item.pk}/evidence/", "/governance/breaches/", "/governance/breaches/new/",
        f"/governance/breaches/{breach.pk}/", "/governance/accountability/", f"/governance/people/{board.chair.pk}/",
    ]
    for page in pages:
        response = client.get(page)
        assert response.status_code == 200, page
        assert 'class="nhsuk-header' in text(response), page


def test_the_item_page_shows_the_whole_chain(client_as, decided):
    board, decision, _ = decided
    page = text(client_as(Role.AUDITOR).get(f"/governance/items/{board.item.pk}/"))
    for expected in ("Senate advice on dermatology", board.conflicted.full_name, "Excluded from the item",
                     "Paid adviser to the bidder", "Award the contract", "3 for, 0 against", "Quorate"):
        assert expected in page


def test_public_registers_need_no_sign_in(client, decided):
    board, decision, breach = decided
    for register, expected in (("interests", "Paid adviser to the trust"), ("gifts-hospitality", "Conference dinner"),
                               ("decisions", "Award the contract"), ("breaches", "A directorship not on the register")):
        page = client.get(f"/public/registers/{register}/")
        assert page.status_code == 200 and expected in text(page), register
        assert f'href="/public/registers/{register}.csv"' in text(page)
        download = client.get(f"/public/registers/{register}.csv")
        assert download.status_code == 200 and download["Content-Type"].startswith("text/csv")
        assert download["Content-Disposition"] == f'inline; filename="{register}.csv"'
        rows = list(csv.DictReader(io.StringIO(text(download))))
        assert rows and rows[0]["id"], register
        as_json = client.get(f"/public/registers/{register}.json")
        assert as_json.status_code == 200 and as_json["Content-Type"].startswith("application/json")
        assert as_json.json()[0]["id"] == int(rows[0]["id"])


def test_the_public_decision_register_shows_conflicts_and_their_management(client, decided):
    board, decision, _ = decided
    [row] = client.get("/public/registers/decisions.json").json()
    assert row["conflicts"] == [{
        "person": board.conflicted.full_name, "description": row["conflicts"][0]["description"],
        "source": "Found by screening the register", "management": "Excluded from the item", "reason": "Paid adviser to the bidder",
    }]
    assert row["chair_override"] is False and row["quorum_present"] == 3
    assert row["url"] == f"http://testserver/public/decisions/{decision.pk}/"
    page = text(client.get(f"/public/decisions/{decision.pk}/"))
    for expected in ("1. Evidence", "Clinical advice", "Senate advice on dermatology", "2. Conflicts of interest",
                     "Excluded from the item", "3. Votes", "4. Decision", "Award the contract"):
        assert expected in page
    assert "overrode" not in page


def test_the_public_interest_register_drops_interests_six_months_after_they_end(client, people, provider):
    person = people[Role.CLINICAL_COMMISSIONER]
    today = timezone.localdate()
    for days, description in ((30, "Ended last month"), (200, "Ended long ago")):
        services.declare_interest(by=person, kind=InterestKind.FINANCIAL, organisation=provider, description=description,
                                  started_on=datetime.date(2015, 1, 1), ended_on=today - datetime.timedelta(days=days), end_reason="Sold")
    descriptions = [r["description"] for r in client.get("/public/registers/interests.json").json()]
    assert descriptions == ["Ended last month"]
    assert Interest.objects.count() == 2  # kept, just not published


def test_gifts_below_the_threshold_are_not_published_and_the_form_says_so(client, client_as, people):
    services.declare_gift(by=people[Role.CLINICAL_COMMISSIONER], kind=GiftKind.GIFT, description="Biscuits", offered_by="A patient",
                          value_pounds=8, offered_on=timezone.localdate(), accepted=True)
    assert client.get("/public/registers/gifts-hospitality.json").json() == []
    assert "less than £25 need not be declared" in text(client_as(Role.CLINICAL_COMMISSIONER).get("/governance/gifts-hospitality/new/"))


def test_declaring_an_interest_through_the_form_and_a_double_submission(client_as, provider):
    client = client_as(Role.CLINICAL_COMMISSIONER)
    data = {"idempotency_key": str(uuid.uuid4()), "kind": InterestKind.FINANCIAL, "organisation": "r0a",
            "description": "Shares in the trust's subsidiary", "started_on": "2024-02-01"}
    assert client.post("/governance/interests/new/", data).status_code == 302
    assert client.post("/governance/interests/new/", data).status_code == 302
    assert Interest.objects.get().organisation == provider


def test_a_bad_declaration_shows_the_error_summary_and_changes_nothing(client_as):
    client = client_as(Role.CLINICAL_COMMISSIONER)
    response = client.post("/governance/interests/new/", {
        "idempotency_key": str(uuid.uuid4()), "kind": InterestKind.FINANCIAL, "organisation": "R0A", "description": "Shares",
        "started_on": "2024-02-01", "ended_on": "2024-01-01", "end_reason": "Sold"})
    page = text(response)
    assert response.status_code == 200 and "nhsuk-error-summary" in page and "<title>Error:" in page
    assert "The end date must be the same as or after the start date" in page and 'href="#id_ended_on"' in page
    unknown = client.post("/governance/interests/new/", {
        "idempotency_key": str(uuid.uuid4()), "kind": InterestKind.FINANCIAL, "organisation": "ZZZ9", "description": "x",
        "started_on": "2024-02-01"})
    assert "No organisation in the directory has the ODS code ZZZ9" in text(unknown)
    assert not Interest.objects.exists()


def test_gift_return_and_end_forms(client_as, people, provider):
    client = client_as(Role.CLINICAL_COMMISSIONER)
    gift = {"idempotency_key": str(uuid.uuid4()), "kind": "gift", "description": "A pen", "offered_by": "A supplier",
            "value_pounds": "30", "offered_on": "2026-01-05", "accepted": "no"}
    assert client.post("/governance/gifts-hospitality/new/", gift).status_code == 302
    assert GiftHospitality.objects.get().accepted is False
    nil = client.post("/governance/interests/return/", {"idempotency_key": str(uuid.uuid4()), "nil": "nil"})
    assert nil.status_code == 302
    interest = services.declare_interest(by=people[Role.CLINICAL_COMMISSIONER], kind=InterestKind.FINANCIAL, organisation=provider,
                                         description="Shares", started_on=datetime.date(2024, 1, 1))
    assert client.post(f"/governance/interests/{interest.pk}/end/", {"ended_on": "2025-01-01", "reason": "Sold"}).status_code == 302
    other = client_as(Role.HWB_MEMBER).post(f"/governance/interests/{interest.pk}/end/", {"ended_on": "2025-01-01", "reason": "x"})
    assert "You can only declare your own interests" in text(other)


def test_the_meeting_journey_through_the_pages(client_as, board):
    secretary, chair = client_as(Role.COMMISSIONING_MANAGER), client_as(Role.CLINICAL_COMMISSIONER)
    item = f"/governance/items/{board.item.pk}/"
    assert secretary.post(f"{item}screen/").status_code == 302
    conflict = Conflict.objects.get()
    # The conflicted member is stopped, with the reason on the page.
    refused = client_as(Role.HWB_MEMBER).post(f"{item}vote/", {"vote-idempotency_key": str(uuid.uuid4()), "vote-choice": "for"})
    assert refused.status_code == 200 and "has a conflict of interest in this item and may not vote" in text(refused)
    bad = secretary.post(f"/governance/conflicts/{conflict.pk}/manage/", {f"conflict-{conflict.pk}-management": "excluded"})
    assert "Give the reason for managing the conflict this way" in text(bad)
    secretary.post(f"/governance/conflicts/{conflict.pk}/manage/", {
        f"conflict-{conflict.pk}-management": "excluded", f"conflict-{conflict.pk}-reason": "Adviser to the bidder"})
    for role in (Role.CLINICAL_COMMISSIONER, Role.PATIENT_REPRESENTATIVE, Role.SENATE_MEMBER):
        assert client_as(role).post(f"{item}vote/", {"vote-idempotency_key": str(uuid.uuid4()), "vote-choice": "for"}).status_code == 302
    decision = {"decision-idempotency_key": str(uuid.uuid4()), "decision-resolution": "Award", "decision-rationale": "Best bid"}
    assert chair.post(f"{item}decide/", decision).status_code == 302
    assert chair.post(f"{item}decide/", decision).status_code == 302  # the same form again: the same decision
    assert Decision.objects.count() == 1
    assert secretary.post(f"/governance/meetings/{board.meeting.pk}/close/").status_code == 302
    assert Meeting.objects.get().closed_at is not None


def test_a_member_who_is_not_on_the_committee_is_refused_a_vote(client_as, board):
    services.screen_item(by=board.secretary, item=board.item)
    # A patient representative role is allowed to vote somewhere, but the auditor is not even allowed by role.
    assert client_as(Role.AUDITOR).post(f"/governance/items/{board.item.pk}/vote/", {}).status_code == 403
    response = client_as(Role.COMMISSIONING_MANAGER).post(
        f"/governance/items/{board.item.pk}/vote/", {"vote-idempotency_key": str(uuid.uuid4()), "vote-choice": "for"})
    assert "is not a voting member of Governing Body" in text(response)


def test_a_clinical_commissioner_who_is_not_chair_cannot_run_the_meeting(client_as, board, people, commissioner):
    from tests.conftest import make_person

    other = make_person(Role.CLINICAL_COMMISSIONER, commissioner, username="other-gp")
    client = client_as(None)
    client.force_login(other)
    response = client.post(f"/governance/meetings/{board.meeting.pk}/attendance/", {"attendees": [board.chair.pk]})
    assert "Only the secretary or the chair" in text(response)


def test_setting_up_a_committee_meeting_and_item_through_the_forms(client_as, commissioner, provider, people):
    client = client_as(Role.COMMISSIONING_MANAGER)
    response = client.post("/governance/committees/new/", {"idempotency_key": str(uuid.uuid4()), "name": "Quality Committee",
                                                         "organisation": "02A", "quorum": "2", "remit": "Quality"})
    committee = Committee.objects.get()
    assert response["Location"] == f"/governance/committees/{committee.pk}/"
    member = client.post(f"/governance/committees/{committee.pk}/members/", {
        "member-person": people[Role.CLINICAL_COMMISSIONER].pk, "member-role": "chair", "member-started_on": "2025-01-01"})
    assert member.status_code == 302
    meeting = client.post("/governance/meetings/new/", {"idempotency_key": str(uuid.uuid4()), "committee": committee.pk,
                                                      "title": "Quality review", "held_on": "2026-03-01"})
    assert meeting.status_code == 302
    meeting_pk = Meeting.objects.get().pk
    item = client.post(f"/governance/meetings/{meeting_pk}/items/new/", {
        "idempotency_key": str(uuid.uuid4()), "title": "Dermatology quality", "organisations": "R0A, 02A",
        "matters": "community dermatology\nwaiting times", "needs_decision": "on"})
    assert item.status_code == 302
    created = Meeting.objects.get().items.get()
    assert {o.ods_code for o in created.organisations.all()} == {"R0A", "02A"}
    assert created.matters == ["community dermatology", "waiting times"]
    evidence = client.post(f"/governance/items/{created.pk}/evidence/", {
        "idempotency_key": str(uuid.uuid4()), "kind": "indicator", "title": "Waits", "url": "ftp://x"})
    assert "Enter a link starting with https:// or /" in text(evidence) and not Evidence.objects.exists()


def test_breach_pages(client_as, board):
    client = client_as(Role.COMMISSIONING_MANAGER)
    response = client.post("/governance/breaches/new/", {"idempotency_key": str(uuid.uuid4()), "person": board.conflicted.pk,
                                                       "kind": "undeclared_interest", "description": "Found later"})
    pk = int(response["Location"].rstrip("/").rsplit("/", 1)[1])
    assert client.post(f"/governance/breaches/{pk}/investigate/", {"notes-notes": "Asked"}).status_code == 302
    assert "Record the outcome" in text(client.post(f"/governance/breaches/{pk}/close/", {"close-outcome": ""}))
    assert client.post(f"/governance/breaches/{pk}/close/", {"close-outcome": "Declared"}).status_code == 302
    assert "Closed" in text(client_as(None).get("/public/registers/breaches/"))


def test_the_overdue_page_lists_who_has_not_declared(client_as, board):
    page = text(client_as(Role.AUDITOR).get("/governance/overdue/"))
    overdue, up_to_date = page.split("Up to date")
    assert board.chair.full_name in overdue and board.conflicted.full_name in up_to_date


def test_the_public_portal_links_to_the_registers(client):
    page = text(client.get("/public/"))
    for register in ("interests", "gifts-hospitality", "decisions", "breaches"):
        assert f"/public/registers/{register}/" in page


def test_the_item_page_says_who_may_vote_and_why_not(client_as, board):
    [conflict] = services.screen_item(by=board.secretary, item=board.item)
    page = text(client_as(Role.AUDITOR).get(f"/governance/items/{board.item.pk}/"))
    present = page.split('id="present"')[1].split("</table>")[0]
    assert "Conflict not yet managed: may not vote" in present and "Free to vote" in present
    services.manage_conflict(by=board.secretary, conflict=conflict, management=Management.DISCUSS_NOT_VOTE, reason="Expert")
    present = text(client_as(Role.AUDITOR).get(f"/governance/items/{board.item.pk}/")).split('id="present"')[1]
    assert "May discuss but not vote" in present and "Not a voting member" in present


def test_recording_who_is_accountable(client_as, board, people):
    client = client_as(Role.COMMISSIONING_MANAGER)
    missing = client.post("/governance/accountability/new/", {
        "idempotency_key": str(uuid.uuid4()), "subject_kind": "budget_line", "subject": "Community services 2026/27",
        "person": board.secretary.pk, "for_what": "Spending within budget", "started_on": "2026-04-01"})
    assert "Say to whom the person is accountable" in text(missing)
    done = client.post("/governance/accountability/new/", {
        "idempotency_key": str(uuid.uuid4()), "subject_kind": "budget_line", "subject": "Community services 2026/27",
        "person": board.secretary.pk, "committee": board.committee.pk, "for_what": "Spending within budget",
        "started_on": "2026-04-01"})
    assert done.status_code == 302
    for page in ("/governance/accountability/", f"/governance/people/{board.secretary.pk}/", f"/governance/committees/{board.committee.pk}/"):
        assert "Community services 2026/27" in text(client_as(Role.REFERRER).get(page)), page


def test_a_chairs_override_is_flagged_on_the_public_record(client, people, commissioner, provider):
    board = make_board(people, commissioner, provider, quorum=4)
    [conflict] = services.screen_item(by=board.secretary, item=board.item)
    services.manage_conflict(by=board.secretary, conflict=conflict, management=Management.EXCLUDED, reason="Adviser")
    for member in board.members:
        services.cast_vote(by=member, item=board.item, choice=VoteChoice.FOR)
    decision = services.record_decision(by=board.chair, item=board.item, resolution="Award", rationale="Best bid",
                                        override_reason="The service ends this month without a decision")
    page = text(client.get(f"/public/decisions/{decision.pk}/"))
    assert "The chair overrode a safeguard on this decision" in page
    assert "The service ends this month without a decision" in page
    register = text(client.get("/public/registers/decisions/"))
    assert "Chair&#x27;s override" in register or "Chair's override" in register
