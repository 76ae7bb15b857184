"""Practice API tokens on pages: a commissioning manager issues one (shown once, only its
hash kept), sees each practice's tokens and revokes one; every change audited; a revoked
token is refused by the FHIR endpoint; other commissioners' practices are out of reach."""

from __future__ import annotations

import datetime
import hashlib
import logging
import re
import uuid

import pytest
from django.db import connection
from django.test import Client

from opencommissioning.audit.chain import verify
from opencommissioning.audit.models import AuditEvent
from opencommissioning.core import services as core_services
from opencommissioning.core.models import OrganisationKind
from opencommissioning.core.roles import Role
from opencommissioning.referrals import services
from opencommissioning.referrals.models import PracticeToken, Referral
from tests.concurrency import race
from tests.referrals_support import post_fhir, service_request, set_up_referrals

pytestmark = pytest.mark.django_db
TOKEN = re.compile(r'<code class="oc-secret" id="token"[^>]*>(oc_[A-Za-z0-9_-]+)</code>')


def _issue_key(html: str) -> str:
    match = re.search(r'name="issue_key" value="([0-9a-f-]{36})"', html)
    assert match, "the issuing form carries a one-time key"
    return match.group(1)


def test_a_manager_issues_sees_and_revokes_a_token_and_the_fhir_endpoint_refuses_it(practices, provider, people, client_as, caplog):
    caplog.set_level(logging.DEBUG)
    set_up_referrals(practices, provider)  # practice 1 already has a token, issued by the system
    manager = people[Role.COMMISSIONING_MANAGER]
    client = client_as(Role.COMMISSIONING_MANAGER)

    index = client.get("/referrals/tokens/").content.decode()
    for practice in practices:
        assert f'href="/referrals/tokens/{practice.ods_code}/"' in index
    assert "/referrals/tokens/" in client.get("/referrals/commissioning/").content.decode()  # found from the figures

    page = client.get("/referrals/tokens/P91002/")
    assert page.status_code == 200 and "No token has been issued to this practice" in page.content.decode()
    key = _issue_key(page.content.decode())
    issued = client.post("/referrals/tokens/P91002/", {"label": "EMIS Web, main surgery", "issue_key": key})
    assert issued.status_code == 200 and "no-store" in issued["Cache-Control"]
    raw = TOKEN.search(issued.content.decode()).group(1)
    token = PracticeToken.objects.get(practice=practices[1])
    assert token.key_hash == hashlib.sha256(raw.encode()).hexdigest() and token.created_by == manager
    assert token.label == "EMIS Web, main surgery" and raw.startswith(token.key_prefix) and len(raw) > 40
    event = AuditEvent.objects.get(action="referral_token.issue", object_id=str(token.pk))
    assert event.actor == manager and event.after["practice"] == "P91002"

    # The same form sent again issues nothing and never shows the token again.
    again = client.post("/referrals/tokens/P91002/", {"label": "EMIS Web, main surgery", "issue_key": key}, follow=True)
    assert PracticeToken.objects.filter(practice=practices[1]).count() == 1
    assert "had already issued token" in again.content.decode() and raw not in again.content.decode()

    # The practice's system uses it; the page shows when it was last used.
    assert post_fhir(Client(), raw, service_request("TOKEN-1")).status_code == 201
    listing = client.get("/referrals/tokens/P91002/").content.decode()
    assert raw not in listing and f"{token.key_prefix}…" in listing and "1 referral in all" in listing
    assert "None yet" not in listing[listing.index(f'id="token-{token.pk}"'):]

    # Revoking needs a reason; then the endpoint refuses the token at once.
    revoke = f"/referrals/tokens/P91002/{token.pk}/revoke/"
    assert client.get(revoke).status_code == 200
    refused = client.post(revoke, {"reason": ""})
    assert refused.status_code == 400 and "Give a reason for revoking the token" in refused.content.decode()
    assert client.post(revoke, {"reason": "The practice replaced its GP system"}).status_code == 302
    token.refresh_from_db()
    assert token.revoked_at is not None and token.revoked_by == manager
    event = AuditEvent.objects.get(action="referral_token.revoke", object_id=str(token.pk))
    assert event.actor == manager and event.after["reason"] == "The practice replaced its GP system"
    response = post_fhir(Client(), raw, service_request("TOKEN-2"))
    assert response.status_code == 401 and response.json()["resourceType"] == "OperationOutcome"
    assert Client().get("/api/fhir/ServiceRequest", HTTP_AUTHORIZATION=f"Bearer {raw}").status_code == 401
    assert Referral.objects.filter(token=token).count() == 1  # its referral stays
    listing = client.get("/referrals/tokens/P91002/").content.decode()
    assert "Revoked" in listing and "The practice replaced its GP system" in listing

    # Revoking twice is refused; the page says it is done.
    assert "This token was revoked on" in client.get(revoke).content.decode()
    assert client.post(revoke, {"reason": "again"}).status_code == 400

    # The token itself is nowhere but in the one answer: not in the audit trail, the logs or the database.
    for stored in AuditEvent.objects.all():
        assert raw not in f"{stored.summary} {stored.before} {stored.after}"
    assert raw not in caplog.text
    assert not PracticeToken.objects.filter(label__contains=raw[3:]).exists() and raw not in str(list(PracticeToken.objects.values()))
    assert verify().ok


def test_bad_input_is_refused_and_changes_nothing(practices, provider, people, client_as):
    set_up_referrals(practices, provider)
    client = client_as(Role.COMMISSIONING_MANAGER)
    count = PracticeToken.objects.count()
    no_label = client.post("/referrals/tokens/P91002/", {"label": "", "issue_key": str(uuid.uuid4())})
    assert no_label.status_code == 400 and "Enter what the token is for" in no_label.content.decode()
    no_key = client.post("/referrals/tokens/P91002/", {"label": "EMIS Web"})
    assert no_key.status_code == 400 and "the form was incomplete" in no_key.content.decode()
    core_services.update_organisation(by=None, organisation=practices[2], close_date=datetime.date(2025, 1, 1))
    closed = client.get("/referrals/tokens/P91003/").content.decode()
    assert "The practice is closed: no token can be issued to it." in closed
    refused = client.post("/referrals/tokens/P91003/", {"label": "EMIS Web", "issue_key": str(uuid.uuid4())})
    assert refused.status_code == 400 and "is closed" in refused.content.decode()
    assert PracticeToken.objects.count() == count


def test_another_commissioners_practices_are_out_of_reach(practices, provider, people, client_as):
    set_up_referrals(practices, provider)
    other = core_services.create_organisation(by=None, ods_code="00T", name="Other CCG", kind=OrganisationKind.COMMISSIONER)
    theirs = core_services.create_organisation(by=None, ods_code="Y99999", name="Their Practice",
                                               kind=OrganisationKind.PRACTICE, parent=other)
    their_token, _raw = services.issue_practice_token(by=None, practice=theirs)
    client = client_as(Role.COMMISSIONING_MANAGER)
    assert "Their Practice" not in client.get("/referrals/tokens/").content.decode()
    assert client.get("/referrals/tokens/Y99999/").status_code == 404
    assert client.post("/referrals/tokens/Y99999/", {"label": "x", "issue_key": str(uuid.uuid4())}).status_code == 404
    assert client.post(f"/referrals/tokens/Y99999/{their_token.pk}/revoke/", {"reason": "x"}).status_code == 404
    assert client.post(f"/referrals/tokens/P91001/{their_token.pk}/revoke/", {"reason": "x"}).status_code == 404
    with pytest.raises(PermissionError):
        services.issue_practice_token(by=people[Role.COMMISSIONING_MANAGER], practice=theirs)
    with pytest.raises(PermissionError):
        services.revoke_practice_token(by=people[Role.COMMISSIONING_MANAGER], token=their_token, reason="x")
    with pytest.raises(PermissionError):  # a clinical commissioner of the same commissioner has no say either
        services.issue_practice_token(by=people[Role.CLINICAL_COMMISSIONER], practice=practices[1])
    their_token.refresh_from_db()
    assert their_token.revoked_at is None and PracticeToken.objects.filter(practice=theirs).count() == 1


@pytest.mark.django_db(transaction=True)
def test_a_form_sent_twice_at_once_issues_one_token(real_transactions, practices, provider, people):
    """Real connections racing with the same one-time key: one token, the others told so."""
    if connection.vendor != "postgresql":
        pytest.skip("races real connections on PostgreSQL; the in-memory SQLite test database's shared "
                    "cache fails table locks at once instead of queueing (a file database serialises writers)")
    manager, key = people[Role.COMMISSIONING_MANAGER], uuid.uuid4()
    results = race(4, lambda i: services.issue_practice_token(by=manager, practice=practices[1], label="EMIS", issue_key=key))
    issued = [r for r in results if isinstance(r, tuple)]
    assert len(issued) == 1, results
    assert all(isinstance(r, services.TokenAlreadyIssued) and r.token.pk == issued[0][0].pk for r in results if r not in issued)
    assert PracticeToken.objects.filter(practice=practices[1]).count() == 1
    assert AuditEvent.objects.filter(action="referral_token.issue", object_id=str(issued[0][0].pk)).count() == 1
    assert verify().ok
