"""Each referral page for each role, and who sees NHS numbers and clinical details."""

from __future__ import annotations

import datetime

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from opencommissioning.core.roles import Role
from opencommissioning.referrals import services
from opencommissioning.referrals.models import Referral, Tariff
from tests.referrals_support import (
    MFF_CSV,
    VALID_NHS,
    other_practice_token,
    post_fhir,
    service_request,
    set_up_referrals,
)

pytestmark = pytest.mark.django_db
SHOWN_NHS = "991 200 3888"


@pytest.fixture
def routed(practices, provider, people):
    """A referral from practice 1: advice given, converted, routed to the provider."""
    setup = set_up_referrals(practices, provider)
    post_fhir(Client(), setup.raw_token, service_request("P-1"))
    referral = Referral.objects.get()
    reviewer = people[Role.REFERRAL_REVIEWER]
    services.claim_referral(by=reviewer, referral=referral)
    services.give_advice(by=reviewer, referral=referral, advice="ADVICE-MARKER: try emollients")
    services.convert_to_referral(by=people[Role.REFERRER], referral=referral)
    services.claim_referral(by=reviewer, referral=referral)
    services.route_referral(by=reviewer, referral=referral, service=setup.dermatology)
    referral.refresh_from_db()
    return referral


@pytest.mark.parametrize("role", [Role.REFERRER, Role.REFERRAL_REVIEWER, Role.PROVIDER])
def test_the_referring_practice_reviewers_and_receiving_provider_see_the_details(routed, client_as, role):
    page = client_as(role).get(f"/referrals/{routed.public_id}/").content.decode()
    assert SHOWN_NHS in page and "CLINICAL-DETAIL-MARKER" in page and "ADVICE-MARKER" in page
    assert "Status history" in page and "Converted to a referral" in page
    listing = client_as(role).get("/referrals/").content.decode()
    assert routed.reference in listing and SHOWN_NHS in listing


@pytest.mark.parametrize("role", [Role.CLINICAL_COMMISSIONER, Role.COMMISSIONING_MANAGER, Role.AUDITOR, Role.PATIENT_REPRESENTATIVE])
def test_nobody_else_sees_identifiers_anywhere(routed, client_as, role):
    client = client_as(role)
    assert client.get(f"/referrals/{routed.public_id}/").status_code == 403
    month = f"{routed.received_at:%Y-%m}"
    for url in ("/referrals/commissioning/", f"/referrals/commissioning/referrals/?month={month}",
                f"/referrals/statements/P91001/{month}/", f"/referrals/statements/P91001/{month}.csv", "/audit/"):
        response = client.get(url)
        body = response.content.decode()
        assert VALID_NHS not in body and SHOWN_NHS not in body, url
        assert "CLINICAL-DETAIL-MARKER" not in body and "ADVICE-MARKER" not in body, url


def test_another_practice_and_another_provider_cannot_see_it(routed, commissioner, client_as):
    from opencommissioning.core import services as core_services
    from opencommissioning.core.models import OrganisationKind
    from tests.referrals_support import extra_reviewer  # noqa: F401

    other_provider = core_services.create_organisation(by=None, ods_code="RW3", name="Other Trust", kind=OrganisationKind.PROVIDER)
    person = core_services.create_person(by=None, username="otherprov", full_name="Other", password="a-long-test-password-1")
    core_services.add_membership(by=None, user=person, organisation=other_provider, role=Role.PROVIDER, started_on=datetime.date(2020, 1, 1))
    client = Client()
    client.force_login(person)
    assert client.get(f"/referrals/{routed.public_id}/").status_code == 404
    assert routed.reference not in client.get("/referrals/").content.decode()
    # Another practice's token cannot read it through the API either.
    token = other_practice_token(commissioner)
    assert Client().get(f"/api/fhir/ServiceRequest/{routed.public_id}", HTTP_AUTHORIZATION=f"Bearer {token}").status_code == 404


def test_the_referrer_submits_on_the_form(practices, provider, client_as):
    set_up_referrals(practices, provider)
    client = client_as(Role.REFERRER)
    bad = client.post("/referrals/new/", {"nhs_number": "1234567890", "requested": "advice", "priority": "routine", "reason_text": "x"})
    assert bad.status_code == 200 and "Enter a valid NHS number" in bad.content.decode()
    assert Referral.objects.count() == 0
    good = client.post("/referrals/new/", {"nhs_number": "991 200 3888", "requested": "advice", "priority": "urgent", "specialty": "", "reason_text": "Palpitations"})
    assert good.status_code == 302
    assert Referral.objects.get().source == "form"


def test_the_worklist_and_triage_pages(routed, practices, client_as, people):
    client = client_as(Role.REFERRAL_REVIEWER)
    services.submit_referral(by=people[Role.REFERRER], practice=practices[0], nhs_number=VALID_NHS, specialty=None, priority="urgent", requested="referral", reason_text="chest pain")
    page = client.get("/referrals/worklist/").content.decode()
    assert "1 referral awaiting" in page and "Urgent" in page
    waiting = Referral.objects.get(status="awaiting_triage")
    assert client.post(f"/referrals/{waiting.public_id}/claim/").status_code == 302
    route = client.get(f"/referrals/{waiting.public_id}/route/").content.decode()
    assert "9 weeks" in route and "£168.00" in route  # waiting time and tariff price with MFF
    assert client.post(f"/referrals/{waiting.public_id}/return/", {"reasons": ""}).status_code == 200
    assert client.post(f"/referrals/{waiting.public_id}/return/", {"reasons": "Use the chest pain pathway"}).status_code == 302
    waiting.refresh_from_db()
    assert waiting.status == "returned"


def test_commissioning_view_numbers_trace_to_referrals(routed, client_as):
    client = client_as(Role.COMMISSIONING_MANAGER)
    month = f"{routed.received_at:%Y-%m}"
    page = client.get(f"/referrals/commissioning/?month={month}").content.decode()
    assert 'data-vega-spec="funnel-spec"' in page and "Funnel plot" in page
    assert "practice=P91001" in page
    drill = client.get(f"/referrals/commissioning/referrals/?month={month}&practice=P91001").content.decode()
    assert routed.reference in drill and "1 referral" in drill
    advice = client.get(f"/referrals/commissioning/referrals/?month={month}&specialty=330&advice=converted").content.decode()
    assert routed.reference in advice


def test_statement_page_and_csv(routed, client_as):
    month = f"{routed.received_at:%Y-%m}"
    page = client_as(Role.REFERRER).get(f"/referrals/statements/P91001/{month}/").content.decode()
    assert routed.reference in page and "£40.00" in page
    csv_text = client_as(Role.COMMISSIONING_MANAGER).get(f"/referrals/statements/P91001/{month}.csv").content.decode()
    assert routed.reference in csv_text and "TOTAL" in csv_text
    # A referrer cannot read another practice's statement.
    assert client_as(Role.REFERRER).get(f"/referrals/statements/P91002/{month}/").status_code == 404


def test_tariff_import_page(client_as, practices, provider):
    set_up_referrals(practices, provider)
    client = client_as(Role.COMMISSIONING_MANAGER)
    count = Tariff.objects.count()
    bad = client.post("/referrals/tariffs/", {
        "tariff-name": "2026/27", "tariff-valid_from": "2026-04-01",
        "tariff-prices": SimpleUploadedFile("prices.csv", b"treatment_function_code,first_attendance,follow_up\n330,-5,1\n"),
        "tariff-market_forces": SimpleUploadedFile("mff.csv", MFF_CSV.encode()),
    })
    assert "prices.csv, row 2, column first_attendance" in bad.content.decode()
    assert Tariff.objects.count() == count
    good = client.post("/referrals/tariffs/", {
        "tariff-name": "2026/27", "tariff-valid_from": "2026-04-01",
        "tariff-prices": SimpleUploadedFile("prices.csv", b"treatment_function_code,first_attendance,follow_up\n330,170,95\n"),
        "tariff-market_forces": SimpleUploadedFile("mff.csv", MFF_CSV.encode()),
    })
    assert good.status_code == 302 and Tariff.objects.count() == count + 1


def test_a_tariff_amount_too_big_to_keep_is_named_on_the_page_and_the_page_keeps_working(client_as, practices, provider):
    set_up_referrals(practices, provider)
    client = client_as(Role.COMMISSIONING_MANAGER)
    count = Tariff.objects.count()
    for amount in (b"123456789012345", b"1e9999"):
        bad = client.post("/referrals/tariffs/", {
            "tariff-name": "2026/27", "tariff-valid_from": "2026-04-01",
            "tariff-prices": SimpleUploadedFile("prices.csv", b"treatment_function_code,first_attendance,follow_up\n330," + amount + b",95\n"),
            "tariff-market_forces": SimpleUploadedFile("mff.csv", MFF_CSV.encode()),
        })
        assert bad.status_code == 200
        assert "prices.csv, row 2, column first_attendance" in bad.content.decode()
    assert Tariff.objects.count() == count
    assert client.get("/referrals/tariffs/").status_code == 200


def test_a_tiny_practice_puts_the_funnel_on_a_log_axis(practices, provider, client_as):
    """List sizes from 20 to 5,000: a linear axis would squash every practice but one
    against it, so the axis is logarithmic and the text alternative says so."""
    from opencommissioning.core.models import RegisteredPopulation

    setup = set_up_referrals(practices, provider)
    RegisteredPopulation.objects.filter(organisation=practices[2]).update(patients=20)
    post_fhir(Client(), setup.raw_token, service_request("LOG-1"))
    month = f"{Referral.objects.first().received_at:%Y-%m}"
    response = client_as(Role.COMMISSIONING_MANAGER).get(f"/referrals/commissioning/?month={month}")
    lines = response.context["funnel_spec"]["layer"][0]
    assert lines["encoding"]["x"]["scale"]["type"] == "log"
    assert "log scale" in response.context["funnel_description"]


def test_the_funnel_plot_is_vega_lite_from_the_analytics_package_and_exports(practices, provider, commissioner, client_as):
    import json
    import re

    import numpy as np

    from opencommissioning.analytics.methods import funnel_limits, funnel_significance, rate

    setup = set_up_referrals(practices, provider)  # list sizes 4,000, 5,000 and 6,000
    for i in range(40):
        post_fhir(Client(), setup.raw_token, service_request(f"F-{i}"))
    post_fhir(Client(), other_practice_token(commissioner, "P91002"), service_request("F-other"))
    month = f"{Referral.objects.first().received_at:%Y-%m}"
    client = client_as(Role.COMMISSIONING_MANAGER)
    response = client.get(f"/referrals/commissioning/?month={month}")
    html = response.content.decode()
    spec = response.context["funnel_spec"]
    embedded = re.search(r'<script id="funnel-spec" type="application/json">(.*?)</script>', html, re.S)
    assert 'data-vega-spec="funnel-spec"' in html and embedded and json.loads(embedded.group(1)) == spec

    lines, target_rule, dots = spec["layer"]
    assert "type" not in lines["encoding"]["x"]["scale"]  # list sizes 4,000 to 6,000: a linear axis
    counts, pops = np.array([40.0, 1.0, 0.0]), np.array([4000.0, 5000.0, 6000.0])
    expected = rate(counts, pops, multiplier=1000)
    flags = funnel_significance("rate", counts, pops, multiplier=1000)
    points = {p["code"]: p for p in dots["data"]["values"]}
    assert set(points) == {"P91001", "P91002", "P91003"}
    for i, code in enumerate(["P91001", "P91002", "P91003"]):
        assert points[code]["x"] == pops[i] and points[code]["value"] == pytest.approx(float(expected.value[i]))
        assert points[code]["flag"] == str(flags.flag[i]) and points[code]["referrals"] == counts[i]
        assert points[code]["href"] == f"/referrals/commissioning/referrals/?month={month}&practice={code}"
    assert points["P91001"]["flag"] == "high 99.8"
    assert dots["encoding"]["color"]["field"] == "flag" and dots["encoding"]["href"]["field"] == "href"
    assert target_rule["data"]["values"] == [{"y": pytest.approx(float(flags.target))}]
    limits = funnel_limits("rate", [4000.0], float(flags.target), multiplier=1000)
    at_4000 = {(v["line"], v["side"]): v["y"] for v in lines["data"]["values"] if v["x"] == 4000}
    assert at_4000[("99.8% limits", "upper")] == pytest.approx(float(limits.upper_998[0]))
    assert at_4000[("95% limits", "lower")] == pytest.approx(float(limits.lower_95[0]))
    assert VALID_NHS not in json.dumps(spec) and "CLINICAL-DETAIL-MARKER" not in json.dumps(spec)
    # the text alternative names the outlier; the table beside the chart gives every figure
    assert "Above the limits: Test Practice 1 (outside the 99.8% limits)" in response.context["funnel_description"]
    assert "High (outside 99.8% limits)" in html[html.index('id="practice-rates"'):]
    # a dot's link leads to the referrals behind it
    drill = client.get(points["P91001"]["href"]).content.decode()
    assert "40 referrals" in drill

    png = client.get(f"/referrals/commissioning/funnel.png?month={month}")
    assert png.status_code == 200 and png.content[:8] == b"\x89PNG\r\n\x1a\n"
    assert png["Content-Disposition"] == f'attachment; filename="referral-funnel-{month}.png"'
    svg = client.get(f"/referrals/commissioning/funnel.svg?month={month}&specialty=330")
    assert svg.status_code == 200 and b"<svg" in svg.content
    assert b"/referrals/commissioning/referrals/" not in svg.content  # no links that would point nowhere in a paper
    assert client.get(f"/referrals/commissioning/funnel.gif?month={month}").status_code == 404
    assert client.get("/referrals/commissioning/funnel.png?month=2001-01").status_code == 404  # no referrals then


def test_the_commissioning_view_opens_on_the_latest_complete_month(routed, client_as):
    """A referral this month and one last month: the page opens on last month (a month
    just begun would show a handful of referrals as a rate near zero)."""
    import datetime

    from django.utils import timezone

    last_month = (timezone.localdate().replace(day=1) - datetime.timedelta(days=1)).replace(day=15)
    Referral.objects.filter(pk=routed.pk).update(
        received_at=datetime.datetime.combine(last_month, datetime.time(12), tzinfo=datetime.UTC))
    token = services.issue_practice_token(by=None, practice=routed.practice)[1]
    post_fhir(Client(), token, service_request("P-2"))
    page = client_as(Role.COMMISSIONING_MANAGER).get("/referrals/commissioning/").content.decode()
    assert f"<h1>Referral figures, {last_month:%B %Y}</h1>" in page


def test_a_referral_back_from_advice_keeps_its_clock_and_shows_its_time_back_in_the_queue(practices, provider, people, client_as):
    """The wait used to stop at the first advice: a referral the practice sent back stayed on
    the worklist showing one day, and the commissioning view left it out of "Waiting now"."""
    import datetime

    from django.utils import timezone

    from opencommissioning.referrals import commissioning, queries
    from opencommissioning.referrals.models import Specialty

    set_up_referrals(practices, provider)
    reviewer, referrer = people[Role.REFERRAL_REVIEWER], people[Role.REFERRER]
    now = timezone.now()
    day = datetime.timedelta(days=1)
    referral = services._create(
        by=referrer, token=None, practice=practices[0], source="form", identifier_system="test", identifier_value="CLOCK-1",
        nhs_number=VALID_NHS, requested="advice", specialty=Specialty.objects.get(code="330"), priority="routine",
        reason_codes=[], reason_text="Rash", notes="", authored_on=None, at=now - 10 * day,
    )
    referral = services.claim_referral(by=reviewer, referral=referral, at=now - 9 * day)
    services.give_advice(by=reviewer, referral=referral, advice="Try emollients", at=now - 9 * day + datetime.timedelta(hours=1))
    services.reply_to_advice(by=referrer, referral=referral, reply="Tried them for a month", at=now - 2 * day)
    referral.refresh_from_db()
    assert referral.status == "awaiting_triage"
    assert [e.at for e in referral.history.all()] == sorted(e.at for e in referral.history.all())

    wait = queries.waiting(referral, now)
    assert (wait.days, wait.in_queue_days, wait.requeued) == (10, 2, True)
    worklist = client_as(Role.REFERRAL_REVIEWER).get("/referrals/worklist/")
    assert worklist.context["rows"][0][1] == wait
    assert "back from the practice" in worklist.content.decode()
    detail = client_as(Role.REFERRER).get(f"/referrals/{referral.public_id}/").content.decode()
    assert "waiting 10 days (2 days since it came back to triage" in detail

    view = commissioning.commissioning_view(people[Role.COMMISSIONING_MANAGER], month=timezone.localdate(referral.received_at))
    row = next(r for r in view.specialties if r.code == "330")
    assert row.waiting_now == row.in_triage_total == 1
    assert row.longest_waiting_days == 10
    assert row.median_wait_days == pytest.approx(1.0 + 1 / 24)  # to the first decision, the advice

    # A step cannot be recorded in the future, nor before the referral's last step.
    services.claim_referral(by=reviewer, referral=referral)
    referral.refresh_from_db()
    with pytest.raises(ValueError, match="future"):
        services.return_referral(by=reviewer, referral=referral, reasons="x", at=now + day)
    with pytest.raises(ValueError, match="before its last step"):
        services.return_referral(by=reviewer, referral=referral, reasons="x", at=now - 3 * day)


def test_the_advice_drill_down_for_no_specialty_shows_no_episodes(routed, client_as):
    month = f"{routed.received_at:%Y-%m}"
    client = client_as(Role.COMMISSIONING_MANAGER)
    every = client.get(f"/referrals/commissioning/referrals/?month={month}&advice=all").content.decode()
    assert routed.reference in every and "1 referral" in every
    none = client.get(f"/referrals/commissioning/referrals/?month={month}&advice=all&specialty=none")
    assert routed.reference not in none.content.decode() and none.context["page"].paginator.count == 0


def test_a_referrer_in_several_practices_chooses_one_of_theirs(practices, provider, people, client_as):
    from opencommissioning.core import services as core_services

    set_up_referrals(practices, provider)
    referrer = people[Role.REFERRER]
    core_services.add_membership(by=None, user=referrer, organisation=practices[1], role=Role.REFERRER, started_on=datetime.date(2020, 1, 1))
    client = client_as(Role.REFERRER)
    form = client.get("/referrals/new/").content.decode()
    assert practices[0].name in form and practices[1].name in form and 'name="practice"' in form
    fields = {"nhs_number": VALID_NHS, "requested": "advice", "priority": "routine", "specialty": "", "reason_text": "Palpitations"}
    assert client.post("/referrals/new/", {**fields, "practice": practices[1].pk}).status_code == 302
    assert Referral.objects.get().practice == practices[1]
    missing = client.post("/referrals/new/", fields)
    assert "Choose the practice you are referring from" in missing.content.decode()
    other = client.post("/referrals/new/", {**fields, "practice": practices[2].pk})
    assert "Choose one of the practices where you are a referrer" in other.content.decode()
    assert Referral.objects.count() == 1


def test_a_referrer_in_one_practice_cannot_refer_from_another(practices, provider, client_as):
    set_up_referrals(practices, provider)
    client = client_as(Role.REFERRER)
    fields = {"nhs_number": VALID_NHS, "requested": "advice", "priority": "routine", "specialty": "", "reason_text": "Palpitations"}
    refused = client.post("/referrals/new/", {**fields, "practice": practices[1].pk})
    assert refused.status_code == 200 and "Choose one of the practices where you are a referrer" in refused.content.decode()
    assert Referral.objects.count() == 0
    assert client.post("/referrals/new/", {**fields, "practice": practices[0].pk}).status_code == 302
    assert Referral.objects.get().practice == practices[0]
