"""The referral demo: tokens, services, tariff, a month of referrals; idempotent."""

import json

import pytest
from django.test import Client

from opencommissioning.audit.chain import verify
from opencommissioning.core.demo import load_demo
from opencommissioning.referrals.models import AdviceEpisode, PracticeToken, Referral

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def private_var_dir(settings, tmp_path):
    settings.VAR_DIR = tmp_path


def test_the_demo_seeds_referrals_and_a_token_that_works(tmp_path):
    result = load_demo(data_dir=None)
    count = Referral.objects.count()
    assert count > 20
    assert {r.status for r in Referral.objects.all()} >= {"awaiting_triage", "routed", "advice_returned", "returned"}
    assert AdviceEpisode.objects.exists()
    token_notes = [n for n in result.notes if n.startswith("Practice API token")]
    assert token_notes and any("curl" in n for n in result.notes)
    tokens = json.loads((tmp_path / "demo-practice-tokens.json").read_text())
    code, raw = next(iter(tokens.items()))
    body = {"resourceType": "ServiceRequest", "identifier": [{"system": "x", "value": "curl-1"}], "status": "active",
            "intent": "order", "subject": {"identifier": {"system": "https://fhir.nhs.uk/Id/nhs-number", "value": "9912003888"}}}
    response = Client().post("/api/fhir/ServiceRequest", json.dumps(body), content_type="application/fhir+json", HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert response.status_code == 201
    load_demo(data_dir=None)
    assert Referral.objects.count() == count + 1
    assert PracticeToken.objects.count() == len(tokens)
    assert verify().ok


def test_the_demo_month_is_one_consistent_history_the_commissioning_view_opens_on():
    """The demo used to backdate only receipt: a referral received on 21 November said
    "Received / Claimed / Routed 6 December", the month's advice table was empty and its
    payment statements £0. Now every step happens in order, inside the last complete month."""
    from django.utils import timezone

    from opencommissioning.core.models import Organisation, User
    from opencommissioning.referrals import commissioning, queries
    from opencommissioning.referrals.demo import demo_month
    from opencommissioning.referrals.models import AdvicePaymentScheme, StatusEvent, Tariff

    load_demo(data_dir=None)
    start, end = demo_month()
    now = timezone.now()
    assert end <= now
    referrals = list(Referral.objects.prefetch_related("history", "advice_episodes"))
    assert len(referrals) > 20
    steps = {"claim": "claimed_at", "route": "routed_at", "return": "returned_at"}
    for referral in referrals:
        history = list(referral.history.all())
        times = [e.at for e in history]
        assert all(start <= t < end for t in times), referral
        assert times == sorted(times) and len(set(times)) == len(times), referral  # each step after the one before
        assert history[0].action == "received" and history[0].at == referral.received_at
        assert referral.updated_at == times[-1]
        assert referral.queued_at == max(e.at for e in history if e.action in ("received", "reply", "convert"))
        decisions = [e.at for e in history if e.action in ("advise", "route", "return")]
        assert referral.first_decision_at == (decisions[0] if decisions else None)
        for action, column in steps.items():
            value = getattr(referral, column)
            if value is not None:
                assert value == [e.at for e in history if e.action == action][-1], (referral, action)
        for episode in referral.advice_episodes.all():
            assert episode.given_at in times and start <= episode.given_at < end
            assert episode.period == timezone.localdate(start)
            assert episode.outcome_at is None or episode.outcome_at in times
            assert episode.replied_at is None or episode.replied_at in times
    assert not StatusEvent.objects.filter(at__gt=now).exists()
    assert not PracticeToken.objects.filter(created_at__gte=start).exists()
    assert not Tariff.objects.filter(imported_at__gte=start).exists()
    assert not AdvicePaymentScheme.objects.filter(created_at__gte=start).exists()

    # The commissioning view opens on that month and has something in every table.
    manager = User.objects.get(username="manager")
    view = commissioning.commissioning_view(manager)
    assert view.month == timezone.localdate(start)
    assert view.total_referrals == len(referrals)
    outcomes = {status for row in view.specialties for status, n in row.outcomes.items() if n}
    assert outcomes >= {"awaiting_triage", "routed", "advice_returned", "closed_with_advice", "returned"}
    assert sum(row.advice_episodes for row in view.specialties) == AdviceEpisode.objects.count() > 0
    assert sum(row.converted for row in view.specialties) > 0 and sum(row.closed for row in view.specialties) > 0
    assert any(row.conversion is not None for row in view.specialties)
    assert any(row.median_wait_days is not None for row in view.specialties)
    assert all(row.waiting_now == row.in_triage_total for row in view.specialties)
    assert any(r.queued_at > r.received_at and r.status == "awaiting_triage" for r in referrals)  # back in the queue

    # Each practice's payment statement for the month lists its episodes, the cap applied.
    commissioner = Organisation.objects.get(pk=view.practices[0].practice.parent_id)
    statements = [queries.statement(p, timezone.localdate(start)) for p in Organisation.objects.filter(parent=commissioner, kind="practice")]
    assert sum(len(s.lines) for s in statements) == AdviceEpisode.objects.count()
    assert all(s.cap is not None for s in statements)
    assert any(s.total_cap_applied > 0 for s in statements)  # the busier practices reach the cap
    assert all(s.total_paid <= s.cap for s in statements)
    page = Client()
    page.force_login(manager)
    month = f"{timezone.localdate(start):%Y-%m}"
    assert f"<h1>Referral figures, {timezone.localdate(start):%B %Y}</h1>" in page.get("/referrals/commissioning/").content.decode()
    busiest = max(statements, key=lambda s: s.total_cap_applied)
    shown = page.get(f"/referrals/statements/{busiest.practice.ods_code}/{month}/").content.decode()
    assert busiest.lines[0].episode.referral.reference in shown
