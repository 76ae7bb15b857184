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
