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
    seen: set[str] = set()
    for entry in bundle["entry"]:
        response = post_fhir(client, setup.raw_token, entry["resource"])
        ubrn = entry["resource"]["identifier"][0]["value"]
        if ubrn in seen:
            # ReferralAndAdvice carries the same UBRN twice: the referral, then the completed
            # advice request it came from. The second is another request under a used
            # identifier: refused (409), never a second referral, never taken for a retry.
            assert response.status_code == 409, response.content
            assert issues(response)[0]["code"] == "duplicate"
            assert "ServiceRequest.identifier[0]" in expressions(response)
            continue
        seen.add(ubrn)
        assert response.status_code == 201, response.content
        assert response["Content-Type"] == "application/fhir+json"
        assert response.json()["status"] == "active"
        # ... and the very same request again is a retry: the same referral.
        again = post_fhir(client, setup.raw_token, entry["resource"])
        assert again.status_code == 200 and again.json()["id"] == response.json()["id"]
    assert Referral.objects.count() == len(seen)
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
    assert {"201", "200", "400", "409", "413", "415", "422"} <= set(post["responses"])
    assert "/api/fhir/ServiceRequest/{referral_id}" in schema["paths"]

    def example(operation: dict, code: str) -> dict:
        return operation["responses"][code]["content"]["application/fhir+json"]["example"]

    assert example(post, "201")["resourceType"] == "ServiceRequest"
    # Each refusal's example is an OperationOutcome with the issue code that answer gives.
    for code, issue_code in {"400": "not-supported", "401": "login", "409": "duplicate", "413": "too-costly",
                             "415": "not-supported", "422": "value"}.items():
        outcome = example(post, code)
        assert outcome["resourceType"] == "OperationOutcome" and outcome["issue"][0]["code"] == issue_code, code
    search = schema["paths"]["/api/fhir/ServiceRequest"]["get"]
    bundle = example(search, "200")
    assert bundle["resourceType"] == "Bundle" and bundle["type"] == "searchset"
    assert bundle["entry"][0]["resource"]["resourceType"] == "ServiceRequest"
    read = schema["paths"]["/api/fhir/ServiceRequest/{referral_id}"]["get"]
    assert example(read, "404")["issue"][0]["code"] == "not-found"
    assert example(read, "401")["issue"][0]["code"] == "login"
    assert example(read, "200")["resourceType"] == "ServiceRequest"


# --- nothing cut, nothing merged: identifiers and other kept values -----------------------


def test_an_identifier_longer_than_is_kept_is_refused_never_cut(setup):
    """Cut to 200 characters, these two identifiers were one: the second patient's request
    was answered with the first patient's referral."""
    first = post_fhir(Client(), setup.raw_token, service_request("L" * 200 + "A"))
    second = post_fhir(Client(), setup.raw_token, service_request("L" * 200 + "B", nhs="9884814872"))
    for response in (first, second):
        assert response.status_code == 422, response.content
        assert expressions(response) == {"ServiceRequest.identifier[0].value"}
        assert issues(response)[0]["code"] == "too-long"
    system = {**service_request(), "identifier": [{"system": "https://example.org/" + "s" * 200, "value": "S-1"}]}
    response = post_fhir(Client(), setup.raw_token, system)
    assert response.status_code == 422 and expressions(response) == {"ServiceRequest.identifier[0].system"}
    # The index is the identifier's own: here the UBRN, second in the list.
    both = {**service_request(), "identifier": [{"system": "https://example.org/local", "value": "local-1"},
                                                {"system": "https://fhir.nhs.uk/Id/UBRN", "value": "U" * 201}]}
    assert expressions(post_fhir(Client(), setup.raw_token, both)) == {"ServiceRequest.identifier[1].value"}
    assert Referral.objects.count() == 0 and StatusEvent.objects.count() == 0
    # 200 characters fit, and are kept whole.
    assert post_fhir(Client(), setup.raw_token, service_request("L" * 200)).status_code == 201
    assert Referral.objects.get().identifier_value == "L" * 200


def test_attachment_names_longer_than_is_kept_are_refused_and_reason_codes_kept_whole(setup):
    def with_attachment(identifier: str, **attachment: str) -> dict:
        return service_request(identifier, contained=[{"resourceType": "DocumentReference", "id": "letter", "status": "current", "content": [
            {"attachment": {"contentType": "text/plain", "title": "letter", "data": base64.b64encode(b"hello").decode(), **attachment}}]}],
            supportingInfo=[{"reference": "#letter"}])

    title = post_fhir(Client(), setup.raw_token, with_attachment("A-1", title="t" * 201))
    assert title.status_code == 422
    assert expressions(title) == {"ServiceRequest.contained[0].content[0].attachment.title"}
    kind = post_fhir(Client(), setup.raw_token, with_attachment("A-2", contentType="text/" + "x" * 100))
    assert kind.status_code == 422
    assert expressions(kind) == {"ServiceRequest.contained[0].content[0].attachment.contentType"}
    assert Referral.objects.count() == 0
    display = "D" * 300
    body = service_request("A-3", reasonCode=[{"coding": [{"system": "http://snomed.info/sct", "code": "126485001", "display": display}]}])
    assert post_fhir(Client(), setup.raw_token, body).status_code == 201
    assert Referral.objects.get().reason_codes[0]["display"] == display


# --- a replay with other content is a conflict ------------------------------------------


def test_the_same_identifier_for_a_different_request_is_a_conflict_and_changes_nothing(setup):
    client = Client()
    first = post_fhir(client, setup.raw_token, service_request("D-1", authoredOn="2026-11-02T09:00:00Z"))
    assert first.status_code == 201
    referral = Referral.objects.get()
    changes = {
        "patient": service_request("D-1", nhs="9884814872", authoredOn="2026-11-02T09:00:00Z"),
        "priority": service_request("D-1", priority="urgent", authoredOn="2026-11-02T09:00:00Z"),
        "reason": service_request("D-1", reasonCode=[{"text": "Chest pain"}], authoredOn="2026-11-02T09:00:00Z"),
        "specialty": service_request("D-1", specialty="CARDIOLOGY", authoredOn="2026-11-02T09:00:00Z"),
        "status": service_request("D-1", status="completed", authoredOn="2026-11-02T09:00:00Z"),
    }
    for what, body in changes.items():
        response = post_fhir(client, setup.raw_token, body)
        assert response.status_code == 409, (what, response.content)
        found = issues(response)
        assert found[0]["code"] == "duplicate" and found[0]["expression"] == ["ServiceRequest.identifier[0]"], what
        assert "already used for a different request" in found[0]["diagnostics"], what
        assert VALID_NHS not in response.content.decode() and "9884814872" not in response.content.decode()
    assert [i["expression"] for i in issues(post_fhir(client, setup.raw_token, changes["status"]))][1] == ["ServiceRequest.status"]
    unchanged = Referral.objects.get()
    assert (unchanged.pk, unchanged.nhs_number, unchanged.priority, unchanged.version) == (referral.pk, VALID_NHS, "routine", 1)
    assert unchanged.reason_text == referral.reason_text and unchanged.specialty_id == referral.specialty_id
    assert AuditEvent.objects.filter(action="referral.receive").count() == 1
    assert StatusEvent.objects.count() == 1

    # The same request formatted differently (key order, white space, the time zone written
    # another way, inside a message Bundle) is a retry: the same referral.
    same = service_request("D-1", authoredOn="2026-11-02T09:00:00+00:00")
    reformatted = json.dumps(same, indent=3, sort_keys=True)
    for body in (reformatted, {"resourceType": "Bundle", "type": "message", "entry": [{"fullUrl": "urn:uuid:1", "resource": same}]}):
        again = post_fhir(client, setup.raw_token, body)
        assert again.status_code == 200, again.content
        assert again.json()["id"] == first.json()["id"]
    assert Referral.objects.count() == 1


def test_a_referral_kept_before_digests_answers_a_retry_as_before(setup):
    post_fhir(Client(), setup.raw_token, service_request("OLD-1"))
    Referral.objects.update(request_digest="")  # received before the digest was kept
    again = post_fhir(Client(), setup.raw_token, service_request("OLD-1", priority="urgent"))
    assert again.status_code == 200
    assert Referral.objects.get().priority == "routine"


def test_a_request_racing_a_different_one_under_its_identifier_is_a_conflict(setup):
    """The insert meets the unique identifier (another delivery won): the loser is compared
    with the winner, not taken for a retry."""
    from opencommissioning.referrals.fhir import IntakeRejected, parse

    post_fhir(Client(), setup.raw_token, service_request("RACE-1"))
    other = parse(json.dumps(service_request("RACE-1", nhs="9884814872")).encode(), max_attachment_bytes=1024)
    with pytest.raises(IntakeRejected) as rejected:
        services.receive_referral(token=setup.token, parsed=other)
    assert rejected.value.status == 409 and rejected.value.issues[0].code == "duplicate"
    same = parse(json.dumps(service_request("RACE-1")).encode(), max_attachment_bytes=1024)
    intake = services.receive_referral(token=setup.token, parsed=same)
    assert not intake.created and Referral.objects.count() == 1


# --- bodies that are not a referral -------------------------------------------------------


def test_deeply_nested_json_is_refused_with_an_operation_outcome(setup):
    response = post_fhir(Client(), setup.raw_token, "[" * 5000 + "]" * 5000)
    assert response.status_code == 400
    assert response["Content-Type"] == "application/fhir+json"
    assert issues(response)[0]["code"] == "structure"
    nested: dict = {"resourceType": "DocumentReference", "id": "d", "status": "current", "content": []}
    for i in range(400):
        nested = {"resourceType": "DocumentReference", "id": f"d{i}", "status": "current", "content": [], "contained": [nested]}
    deep = post_fhir(Client(), setup.raw_token, json.dumps(service_request("DEEP-1", contained=[nested])))
    assert deep.status_code == 400 and deep.json()["resourceType"] == "OperationOutcome"
    assert Referral.objects.count() == 0


def test_only_fhir_json_or_json_is_read(setup):
    body = json.dumps(service_request("CT-1"))
    auth = {"HTTP_AUTHORIZATION": f"Bearer {setup.raw_token}"}
    for content_type in ("text/plain", "application/xml", "application/x-www-form-urlencoded"):
        response = Client().post("/api/fhir/ServiceRequest", data=body, content_type=content_type, **auth)
        assert response.status_code == 415, content_type
        assert issues(response)[0]["code"] == "not-supported"
    assert Referral.objects.count() == 0
    plain = Client().post("/api/fhir/ServiceRequest", data=body, content_type="application/json", **auth)
    assert plain.status_code == 201
    charset = Client().post("/api/fhir/ServiceRequest", data=json.dumps(service_request("CT-2")), content_type="application/fhir+json; charset=utf-8", **auth)
    assert charset.status_code == 201


def test_a_body_that_is_not_a_service_request_is_refused_naming_its_resource_type(setup):
    searchset = {"resourceType": "Bundle", "type": "searchset", "entry": [{"resource": service_request("B-1")}]}
    for body in (searchset, {"resourceType": "Bundle", "type": "transaction", "entry": [{"resource": service_request("B-2")}]},
                 {"resourceType": "Patient"}, {"resourceType": "Bundle"}):
        response = post_fhir(Client(), setup.raw_token, body)
        assert response.status_code == 400, body
        assert expressions(response) == {"resourceType"}, body
    assert Referral.objects.count() == 0


# --- NHS numbers ----------------------------------------------------------------------------


@pytest.mark.parametrize("nhs", ["0000000000", "9999999999", "1111111111", "5000000013", "8600000009", "8000000008", "0000000019"])
def test_numbers_that_pass_the_check_digit_but_are_never_issued_are_refused(setup, nhs):
    response = post_fhir(Client(), setup.raw_token, service_request("N-1", nhs=nhs))
    assert response.status_code == 422
    assert expressions(response) == {"ServiceRequest.subject.identifier.value"}
    assert nhs not in response.content.decode()
    assert Referral.objects.count() == 0


@pytest.mark.parametrize("nhs", ["4010232137", "6000000006", "9434765919", "9912003888"])
def test_issued_and_test_range_numbers_are_accepted(setup, nhs):
    assert post_fhir(Client(), setup.raw_token, service_request(f"N-{nhs}", nhs=nhs)).status_code == 201
