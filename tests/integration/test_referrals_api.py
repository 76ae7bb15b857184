"""The FHIR intake: real NHS payloads, invalid and replayed requests, real-world shapes."""

from __future__ import annotations

import base64
import copy
import datetime
import json
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client

from opencommissioning.audit.models import AuditEvent
from opencommissioning.core import services as core_services
from opencommissioning.core.models import OrganisationKind
from opencommissioning.referrals import services
from opencommissioning.referrals.models import Referral, StatusEvent
from tests.referrals_support import (
    INVALID_NHS,
    VALID_NHS,
    other_practice_token,
    post_fhir,
    service_request,
    set_up_referrals,
)

pytestmark = pytest.mark.django_db


def fhir_dir() -> Path:
    if settings.OPENCOMMISSIONING_DATA_DIR is None:
        pytest.skip("no data directory: the real NHS FHIR payloads are not available")
    path = Path(settings.OPENCOMMISSIONING_DATA_DIR) / "fhir"
    if not path.is_dir():
        pytest.skip("the data directory has no fhir/ folder")
    return path


def load(name: str) -> dict:
    return json.loads((fhir_dir() / name).read_text(encoding="utf-8"))


@pytest.fixture
def setup(practices, provider, commissioner):
    return set_up_referrals(practices, provider)


def issues(response) -> list[dict]:
    body = response.json()
    assert body["resourceType"] == "OperationOutcome"
    return body["issue"]


def expressions(response) -> set[str]:
    return {e for issue in issues(response) for e in issue.get("expression", [])}


# --- the real NHS payloads --------------------------------------------------------------


@pytest.mark.parametrize("name", [
    "e-referrals-service-api/ResponseExampleReferral.json",
    "e-referrals-service-api/ResponseExampleAdvice.json",
    "e-referrals-service-api/ResponseExampleReferralAndAdvice.json",
])
def test_the_e_referral_service_examples_are_accepted(setup, name):
    bundle = load(name)
    client = Client()
    for entry in bundle["entry"]:
        response = post_fhir(client, setup.raw_token, entry["resource"])
        assert response.status_code in (200, 201), response.content
        assert response["Content-Type"] == "application/fhir+json"
        assert response.json()["status"] == "active"
    identifiers = {e["resource"]["identifier"][0]["value"] for e in bundle["entry"]}
    # ReferralAndAdvice carries the same UBRN twice: one referral, never a second.
    assert Referral.objects.count() == len(identifiers)
    if name.endswith("ResponseExampleAdvice.json"):
        assert Referral.objects.get().requested == "advice"


def test_the_patient_care_examples_are_accepted_with_their_specialty(setup, commissioner):
    # The sandbox's requester organisation (R69) is set up as the token's practice.
    practice = core_services.create_organisation(by=None, ods_code="R69", name="Sandbox practice", kind=OrganisationKind.PRACTICE, parent=commissioner)
    raw = services.issue_practice_token(by=None, practice=practice)[1]
    bundle = load("e-referrals-service-patient-care-api/ServiceRequestsWithAppointmentAndTask.json")
    requests = [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "ServiceRequest"]
    assert len(requests) == 3
    for resource in requests:
        response = post_fhir(Client(), raw, resource)
        assert response.status_code == 201, response.content
        body = response.json()
        assert body["priority"] == "asap"
        assert body["performerType"]["coding"][0]["code"] == "330"
    assert Referral.objects.filter(practice=practice, specialty__code="330").count() == 3
    # ... but the same payloads from another practice's token are refused: R69 is not it.
    refused = post_fhir(Client(), setup.raw_token, requests[0])
    assert refused.status_code == 422
    assert any(e.endswith(".requester") for e in expressions(refused))


def test_the_bars_validation_bundle_is_read_but_refused_for_its_nhs_number_and_missing_identifier(setup):
    bundle = load("booking-and-referral-fhir-api/ValidationRequest (POST) .json")
    response = post_fhir(Client(), setup.raw_token, bundle)
    assert response.status_code == 422
    found = expressions(response)
    assert any(e.endswith(".identifier") and "ServiceRequest" not in e or e.endswith("resource.identifier") for e in found)
    assert any("identifier[0].value" in e for e in found)  # the Patient's NHS number
    assert INVALID_NHS not in response.content.decode()  # never echoed back
    assert Referral.objects.count() == 0
    # With a valid NHS number and an identifier it is accepted: the Bundle path works.
    fixed = copy.deepcopy(bundle)
    for entry in fixed["entry"]:
        resource = entry["resource"]
        if resource["resourceType"] == "Patient":
            resource["identifier"][0]["value"] = VALID_NHS
        if resource["resourceType"] == "ServiceRequest":
            resource["identifier"] = [{"system": "https://example.org/bars", "value": "bars-1"}]
    requester_ods = setup.token.practice.ods_code
    for entry in fixed["entry"]:
        if entry["resource"]["resourceType"] == "Organization":
            for ident in entry["resource"].get("identifier", []):
                if ident.get("system") == "https://fhir.nhs.uk/Id/ods-organization-code":
                    ident["value"] = requester_ods
    response = post_fhir(Client(), setup.raw_token, fixed)
    assert response.status_code == 201, response.content
    assert Referral.objects.get().nhs_number == VALID_NHS


def test_the_invalid_bars_service_request_is_refused_naming_its_faults(setup):
    response = post_fhir(Client(), setup.raw_token, load("booking-and-referral-fhir-api/GET-success.json"))
    assert response.status_code == 400
    found = expressions(response)
    assert "ServiceRequest.basedOn" in found
    assert "ServiceRequest.PatientInstruction" in found
    assert "ServiceRequest.identifier" in found
    assert "ServiceRequest.subject" in found
    assert Referral.objects.count() == 0


def test_the_invalid_bars_111_bundle_is_refused_naming_its_faults(setup):
    response = post_fhir(Client(), setup.raw_token, load("booking-and-referral-fhir-api/POST-111ToEDServiceRequest.json"))
    assert response.status_code == 400
    text = " ".join(i["diagnostics"] for i in issues(response))
    found = expressions(response)
    assert any("destination[0].endpoint" in e for e in found)
    assert any(e.endswith(".basedOn (QuestionnaireResponse)") for e in found)
    assert any(".note (" in e for e in found)
    assert any("policyRule" in e for e in found)
    assert "NHS number is not valid" in text
    assert "3478526985" not in response.content.decode()
    assert Referral.objects.count() == 0 and StatusEvent.objects.count() == 0


# --- idempotency and reads --------------------------------------------------------------


def test_a_retry_returns_the_same_referral_never_a_second(setup):
    client = Client()
    first = post_fhir(client, setup.raw_token, service_request("R-1"))
    assert first.status_code == 201
    again = post_fhir(client, setup.raw_token, service_request("R-1"))
    assert again.status_code == 200
    assert again.json()["id"] == first.json()["id"]
    assert again["Location"] == first["Location"]
    assert Referral.objects.count() == 1
    assert AuditEvent.objects.filter(action="referral.receive").count() == 1


def test_the_same_identifier_from_another_practice_is_a_conflict(setup, commissioner):
    post_fhir(Client(), setup.raw_token, service_request("R-2"))
    other = post_fhir(Client(), other_practice_token(commissioner), service_request("R-2"))
    assert other.status_code == 409
    assert Referral.objects.count() == 1


def test_get_returns_the_current_state_and_only_to_its_practice(setup, commissioner, people):
    created = post_fhir(Client(), setup.raw_token, service_request("R-3")).json()
    url = f"/api/fhir/ServiceRequest/{created['id']}"
    auth = {"HTTP_AUTHORIZATION": f"Bearer {setup.raw_token}"}
    assert Client().get(url, **auth).json()["status"] == "active"
    referral = Referral.objects.get()
    reviewer = people["referral_reviewer"]
    services.claim_referral(by=reviewer, referral=referral)
    services.give_advice(by=reviewer, referral=referral, advice="Try a potent steroid for four weeks.")
    body = Client().get(url, **auth).json()
    assert body["status"] == "on-hold"
    assert body["meta"]["versionId"] == "3"
    assert Client().get(url, HTTP_AUTHORIZATION=f"Bearer {other_practice_token(commissioner)}").status_code == 404
    search = Client().get("/api/fhir/ServiceRequest", {"identifier": "https://fhir.nhs.uk/Id/UBRN|R-3"}, **auth).json()
    assert search["total"] == 1 and search["entry"][0]["resource"]["id"] == created["id"]


# --- real-world shapes ------------------------------------------------------------------


def test_no_token_or_a_revoked_token_is_refused_with_an_operation_outcome(setup):
    assert post_fhir(Client(), None, service_request()).status_code == 401
    assert post_fhir(Client(), "oc_not-a-token", service_request()).status_code == 401
    services.revoke_practice_token(by=None, token=setup.token, reason="practice system replaced")
    response = post_fhir(Client(), setup.raw_token, service_request())
    assert response.status_code == 401
    assert issues(response)[0]["code"] == "login"
    assert Referral.objects.count() == 0


def test_a_token_of_a_closed_practice_is_refused_and_a_good_token_names_its_practice(setup):
    from opencommissioning.core.models import Organisation
    from opencommissioning.referrals.models import PracticeToken
    from opencommissioning.referrals.queries import authenticate_token

    core_services.update_organisation(by=None, organisation=setup.token.practice, open_date=datetime.date(2010, 1, 1))
    found = authenticate_token(setup.raw_token)
    # Every field as the ORM reads it (types too: aware datetimes, dates, booleans).
    expected = PracticeToken.objects.select_related("practice").get(pk=setup.token.pk)
    for model, got, want in ((PracticeToken, found, expected), (Organisation, found.practice, expected.practice)):
        for field in model._meta.concrete_fields:
            value = getattr(got, field.attname)
            assert value == getattr(want, field.attname) and type(value) is type(getattr(want, field.attname)), field.name
    assert found.created_at.tzinfo is not None and found.practice.open_date is not None
    assert authenticate_token("") is None and authenticate_token("oc_not-a-token") is None
    core_services.update_organisation(by=None, organisation=setup.token.practice, close_date=datetime.date(2026, 1, 1))
    assert authenticate_token(setup.raw_token) is None
    assert post_fhir(Client(), setup.raw_token, service_request()).status_code == 401
    assert Referral.objects.count() == 0


def test_missing_identifier_is_refused(setup):
    response = post_fhir(Client(), setup.raw_token, service_request(identifier=None))
    assert response.status_code == 422
    assert expressions(response) == {"ServiceRequest.identifier"}


def test_a_wrong_nhs_number_is_refused_and_not_echoed(setup):
    response = post_fhir(Client(), setup.raw_token, service_request(nhs="9912003889"))
    assert response.status_code == 422
    assert expressions(response) == {"ServiceRequest.subject.identifier.value"}
    assert "9912003889" not in response.content.decode()
    assert Referral.objects.count() == 0


def test_unknown_practice_in_the_requester_is_refused(setup):
    body = service_request(requester={"identifier": {"system": "https://fhir.nhs.uk/Id/ods-organization-code", "value": "Y99999"}})
    response = post_fhir(Client(), setup.raw_token, body)
    assert response.status_code == 422
    assert expressions(response) == {"ServiceRequest.requester"}


def test_codes_are_checked_and_every_fault_named(setup):
    body = service_request(status="draft", intent="wish", priority="whenever", performerType={"coding": [{"system": "https://fhir.nhs.uk/CodeSystem/eRS-Specialty", "code": "ASTROLOGY"}]})
    response = post_fhir(Client(), setup.raw_token, body)
    assert response.status_code == 422
    assert {"ServiceRequest.status", "ServiceRequest.intent", "ServiceRequest.priority"} <= expressions(response)
    unknown = post_fhir(Client(), setup.raw_token, service_request(performerType={"coding": [{"system": "https://fhir.nhs.uk/CodeSystem/eRS-Specialty", "code": "ASTROLOGY"}]}))
    assert unknown.status_code == 422 and expressions(unknown) == {"ServiceRequest.performerType"}
    assert Referral.objects.count() == 0


def test_an_oversized_attachment_is_refused(setup, settings):
    settings.REFERRALS_MAX_ATTACHMENT_BYTES = 1024
    big = base64.b64encode(b"x" * 4096).decode()
    body = service_request(contained=[{"resourceType": "DocumentReference", "id": "letter", "status": "current",
                                       "content": [{"attachment": {"contentType": "application/pdf", "title": "letter", "data": big}}]}],
                           supportingInfo=[{"reference": "#letter"}])
    response = post_fhir(Client(), setup.raw_token, body)
    assert response.status_code == 413
    assert expressions(response) == {"ServiceRequest.contained[0].content[0].attachment.data"}
    small = service_request("R-small", contained=[{"resourceType": "DocumentReference", "id": "letter", "status": "current",
                                                   "content": [{"attachment": {"contentType": "text/plain", "title": "letter", "data": base64.b64encode(b"hello").decode()}}]}])
    assert post_fhir(Client(), setup.raw_token, small).status_code == 201
    assert Referral.objects.get().attachments.get().size == 5


def test_an_oversized_body_and_non_json_are_refused(setup, settings):
    settings.REFERRALS_MAX_REQUEST_BYTES = 2048
    response = post_fhir(Client(), setup.raw_token, json.dumps(service_request(note=[{"text": "x" * 5000}])))
    assert response.status_code == 413
    assert post_fhir(Client(), setup.raw_token, b"{not json").status_code == 400
    assert post_fhir(Client(), setup.raw_token, {"resourceType": "Patient"}).status_code == 400


def test_the_api_is_documented_with_examples(client):
    schema = client.get("/api/openapi.json").json()
    post = schema["paths"]["/api/fhir/ServiceRequest"]["post"]
    examples = post["requestBody"]["content"]["application/fhir+json"]["examples"]
    assert {"referral", "advice"} <= set(examples)
    assert {"201", "200", "400", "409", "413", "422"} <= set(post["responses"])
    assert "/api/fhir/ServiceRequest/{referral_id}" in schema["paths"]
