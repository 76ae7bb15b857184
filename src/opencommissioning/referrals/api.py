"""The FHIR referral intake: ``/api/fhir/ServiceRequest``, authenticated by practice token.

Errors are FHIR ``OperationOutcome`` resources naming each bad element. Learned from the
NHS e-Referral Service and BaRS APIs: a retried request (same identifier, same content)
returns the referral it made, another request under a used identifier is a conflict (409);
reads return the current state.
"""

from __future__ import annotations

import json
import logging
import uuid
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from ninja import NinjaAPI, Router
from ninja.errors import AuthenticationError
from ninja.security import HttpBearer

from . import queries, services
from .fhir import IntakeRejected, Issue, operation_outcome, parse, to_fhir
from .models import PracticeToken, Referral

logger = logging.getLogger(__name__)
FHIR_JSON = "application/fhir+json"
ACCEPTED_CONTENT_TYPES = frozenset({FHIR_JSON, "application/json"})


class PracticeTokenAuth(HttpBearer):
    """``Authorization: Bearer <token>``: a token issued to one open practice."""

    openapi_description = ("A token issued to one practice by a commissioning manager (`/referrals/tokens/`, "
                           "or `manage.py issue_practice_token <ODS code>`); a revoked token is refused at once.")

    def authenticate(self, request: HttpRequest, token: str) -> PracticeToken | None:
        return queries.authenticate_token(token)


router = Router(tags=["FHIR referrals"], auth=PracticeTokenAuth())


def fhir_response(document: dict[str, Any], status: int = 200, **headers: str) -> HttpResponse:
    response = HttpResponse(json.dumps(document, default=str), status=status, content_type=FHIR_JSON)
    for name, value in headers.items():
        response[name.replace("_", "-")] = value
    return response


def outcome_response(issues: list[Issue], status: int) -> HttpResponse:
    return fhir_response(operation_outcome(issues), status)


EXAMPLE_REQUEST = {
    "resourceType": "ServiceRequest",
    "identifier": [{"system": "https://fhir.nhs.uk/Id/UBRN", "value": "000000070000"}],
    "status": "active",
    "intent": "order",
    "priority": "routine",
    "subject": {"identifier": {"system": "https://fhir.nhs.uk/Id/nhs-number", "value": "9912003888"}},
    "requester": {"identifier": {"system": "https://fhir.nhs.uk/Id/ods-organization-code", "value": "P91001"}},
    "performerType": {"coding": [{"system": "https://fhir.nhs.uk/CodeSystem/eRS-Specialty", "code": "DERMATOLOGY"}]},
    "reasonCode": [{"coding": [{"system": "http://snomed.info/sct", "code": "126485001", "display": "Urticaria"}], "text": "Chronic urticaria, not settling"}],
    "note": [{"text": "Six months of antihistamines without effect."}],
}
EXAMPLE_ADVICE = {**EXAMPLE_REQUEST, "identifier": [{"system": "https://fhir.nhs.uk/Id/UBRN", "value": "000000070001"}],
                  "code": {"coding": [{"system": "https://fhir.nhs.uk/CodeSystem/servicerequest-code", "code": "advice-and-guidance"}]}}


def _example_outcome(code: str, diagnostics: str, expression: str = "") -> dict[str, Any]:
    return operation_outcome([Issue(expression, diagnostics, code)])


EXAMPLE_OUTCOME = {
    "resourceType": "OperationOutcome",
    "issue": [
        {"severity": "error", "code": "value", "diagnostics": "ServiceRequest.subject.identifier.value: the NHS number is not valid (it must be 10 digits and pass the check digit)", "expression": ["ServiceRequest.subject.identifier.value"]},
        {"severity": "error", "code": "code-invalid", "diagnostics": "ServiceRequest.priority: 'whenever' is not a FHIR request priority (routine, urgent, asap or stat)", "expression": ["ServiceRequest.priority"]},
    ],
}
EXAMPLE_REFERRAL = {**EXAMPLE_REQUEST, "id": "7b0c5f0e-8a52-4a3e-9d1e-2f4b8f1c9a11", "meta": {"versionId": "1", "lastUpdated": "2026-11-16T09:12:44+00:00"},
                    "identifier": [*EXAMPLE_REQUEST["identifier"], {"system": "https://opencommissioning.org.uk/Id/referral", "value": "OC-000042"}],
                    "extension": [{"url": "https://opencommissioning.org.uk/fhir/StructureDefinition/triage-state", "valueCode": "awaiting_triage"}]}
#: One example per answer, each as the endpoint gives it.
EXAMPLES: dict[str, dict[str, Any]] = {
    "200": EXAMPLE_REFERRAL,
    "201": EXAMPLE_REFERRAL,
    "search": {"resourceType": "Bundle", "type": "searchset", "total": 1, "entry": [
        {"fullUrl": f"/api/fhir/ServiceRequest/{EXAMPLE_REFERRAL['id']}", "resource": EXAMPLE_REFERRAL, "search": {"mode": "match"}},
    ]},
    "400": _example_outcome("not-supported", "resourceType: a Bundle of type 'searchset' is not a referral; post a ServiceRequest "
                            "(or a Bundle of type 'message' carrying exactly one)", "resourceType"),
    "401": _example_outcome("login", "give a valid practice token: Authorization: Bearer <token>"),
    "404": _example_outcome("not-found", "no referral of this practice has the id 7b0c5f0e-8a52-4a3e-9d1e-2f4b8f1c9a11", "ServiceRequest.id"),
    "409": _example_outcome("duplicate", "ServiceRequest.identifier[0]: this identifier is already used for a different request (another "
                            "patient, priority, reason, specialty, status or content); nothing was changed. Send a new request under a new "
                            "identifier, or repeat the original request unchanged to read its referral", "ServiceRequest.identifier[0]"),
    "413": _example_outcome("too-costly", "ServiceRequest.contained[0].content[0].attachment.data: the attachment is larger than the 5 MB allowed",
                            "ServiceRequest.contained[0].content[0].attachment.data"),
    "415": _example_outcome("not-supported", "send the body as application/fhir+json (or application/json), with that Content-Type header"),
    "422": EXAMPLE_OUTCOME,
}
_RESOURCE_SCHEMA = {"type": "object", "description": "A FHIR R4 resource", "additionalProperties": True}


def _responses(extra: dict[str, str], examples: dict[str, Any] | None = None) -> dict[str, Any]:
    """OpenAPI answers, each with its example: from ``examples``, else :data:`EXAMPLES`."""
    responses = {
        code: {"description": text, "content": {FHIR_JSON: {"schema": _RESOURCE_SCHEMA, "example": (examples or {}).get(code, EXAMPLES.get(code))}}}
        for code, text in extra.items()
    }
    responses["401"] = {"description": "No token, or a token that is unknown or revoked (OperationOutcome)",
                        "content": {FHIR_JSON: {"schema": _RESOURCE_SCHEMA, "example": EXAMPLES["401"]}}}
    return responses


@router.post(
    "/fhir/ServiceRequest",
    summary="Submit a referral (FHIR R4 ServiceRequest)",
    description=(
        "Post a FHIR R4 ServiceRequest (UK Core conventions), or a message Bundle carrying exactly one "
        "ServiceRequest and its Patient. The patient is named by NHS number (`subject.identifier` with "
        "system `https://fhir.nhs.uk/Id/nhs-number`, or the Bundle's Patient), which must pass the check "
        "digit. `status` must be `active`; `priority` one of routine, urgent, asap, stat. The specialty comes "
        "from `performerType` (e-RS specialty or treatment function code); `code` `advice-and-guidance` asks "
        "for advice. `identifier` is required and makes the call idempotent: a retry (the same request again) "
        "returns **200** with the referral the first call made (never a second one), the first call **201** with a "
        "`Location`. Send the body as `application/fhir+json` (or `application/json`). Refusals are OperationOutcomes "
        "naming each element: 400 (not valid FHIR R4, or not a ServiceRequest), 409 (the identifier is already used "
        "by another organisation, or for a different request: another patient, priority, reason, status…), 413 (body "
        "or attachment too large), 415 (another Content-Type), 422 (business rules, or a value longer than is kept). "
        "Nothing is stored when a request is refused."
    ),
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {FHIR_JSON: {"schema": _RESOURCE_SCHEMA, "examples": {
                "referral": {"summary": "A dermatology referral", "value": EXAMPLE_REQUEST},
                "advice": {"summary": "An advice and guidance request", "value": EXAMPLE_ADVICE},
            }}},
        },
        "responses": _responses({"201": "Created: the referral as it now stands", "200": "A retry: the referral the first call made",
                                 "400": "Not valid FHIR R4, or not a ServiceRequest",
                                 "409": "Identifier already used by another organisation, or for a different request",
                                 "413": "Too large", "415": "Not sent as application/fhir+json or application/json",
                                 "422": "Refused by a business rule"}),
    },
)
def create_service_request(request: HttpRequest) -> HttpResponse:
    token: PracticeToken = request.auth  # type: ignore[attr-defined]
    if (request.content_type or "").lower() not in ACCEPTED_CONTENT_TYPES:
        return outcome_response([Issue("", "send the body as application/fhir+json (or application/json), with that Content-Type header", "not-supported")], 415)
    limit = int(getattr(settings, "REFERRALS_MAX_REQUEST_BYTES", 12 * 1024 * 1024))
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > limit:
        return outcome_response([Issue("", f"the request is larger than the {limit // (1024 * 1024)} MB allowed", "too-costly")], 413)
    body = request.read(limit + 1)
    if len(body) > limit:
        return outcome_response([Issue("", f"the request is larger than the {limit // (1024 * 1024)} MB allowed", "too-costly")], 413)
    try:
        parsed = parse(body, max_attachment_bytes=services.max_attachment_bytes())
        intake = services.receive_referral(token=token, parsed=parsed)
    except IntakeRejected as rejected:
        known = _known_retry(token, rejected)
        if known is not None:
            if not services.same_request(known, rejected.digest):
                # Another request under an identifier this practice already used (e-RS's
                # completed advice request under the referral's UBRN, for one): a conflict,
                # with whatever else is wrong with it.
                issues = [services.different_request(rejected.identifier_path), *rejected.issues]
                logger.info("refused a referral from %s: identifier already used for a different request, HTTP 409", token.practice.ods_code)
                return outcome_response(issues, 409)
            # The same request again, refused now only because a rule changed since the
            # first was accepted: it returns that referral as it now stands.
            return fhir_response(to_fhir(known), 200, Location=f"/api/fhir/ServiceRequest/{known.public_id}", ETag=f'W/"{known.version}"')
        logger.info("refused a referral from %s: %s issue(s), HTTP %s", token.practice.ods_code, len(rejected.issues), rejected.status)
        return outcome_response(rejected.issues, rejected.status)
    referral = intake.referral
    location = f"/api/fhir/ServiceRequest/{referral.public_id}"
    return fhir_response(to_fhir(referral), 201 if intake.created else 200, Location=location, ETag=f'W/"{referral.version}"')


def _known_retry(token: PracticeToken, rejected: IntakeRejected) -> Referral | None:
    if rejected.status != 422 or rejected.identifier is None:
        return None
    system, value = rejected.identifier
    return _own(token).filter(identifier_system=system, identifier_value=value).first()


def _own(token: PracticeToken) -> Any:
    return Referral.objects.filter(practice_id=token.practice_id).select_related("practice", "specialty", "routed_service__provider")


@router.get(
    "/fhir/ServiceRequest",
    summary="Find referrals by identifier (searchset Bundle)",
    description="`identifier=system|value` (or just the value). Only the calling practice's referrals are found.",
    openapi_extra={"responses": _responses({"200": "A searchset Bundle", "400": "No identifier to search for"}, examples={
        "200": EXAMPLES["search"],
        "400": _example_outcome("required", "identifier: give the identifier to search for (system|value)", "identifier"),
    })},
)
def search_service_requests(request: HttpRequest, identifier: str = "") -> HttpResponse:
    token: PracticeToken = request.auth  # type: ignore[attr-defined]
    found = _own(token)
    if "|" in identifier:
        system, value = identifier.split("|", 1)
        found = found.filter(identifier_system=system, identifier_value=value) if system else found.filter(identifier_value=value)
    elif identifier:
        found = found.filter(identifier_value=identifier)
    else:
        return outcome_response([Issue("identifier", "identifier: give the identifier to search for (system|value)", "required")], 400)
    entries = [{"fullUrl": f"/api/fhir/ServiceRequest/{r.public_id}", "resource": to_fhir(r), "search": {"mode": "match"}} for r in found[:50]]
    return fhir_response({"resourceType": "Bundle", "type": "searchset", "total": len(entries), "entry": entries})


@router.get(
    "/fhir/ServiceRequest/{referral_id}",
    summary="Read a referral's current state",
    description="The ServiceRequest as it now stands: `status` follows triage (active, on-hold while advice is with the practice, "
    "completed when advice was enough, revoked when returned); `performer` names the provider it was routed to.",
    openapi_extra={"responses": _responses({"200": "The referral", "404": "Not found (or not this practice's)"})},
)
def read_service_request(request: HttpRequest, referral_id: str) -> HttpResponse:
    token: PracticeToken = request.auth  # type: ignore[attr-defined]
    try:
        public_id = uuid.UUID(referral_id)
    except ValueError:
        public_id = None
    referral = _own(token).filter(public_id=public_id).first() if public_id else None
    if referral is None:
        return outcome_response([Issue("ServiceRequest.id", f"no referral of this practice has the id {referral_id}", "not-found")], 404)
    return fhir_response(to_fhir(referral), 200, ETag=f'W/"{referral.version}"')


def install(api: NinjaAPI) -> None:
    """Add the FHIR router, and answer refused FHIR calls with an OperationOutcome."""
    api.add_router("/", router)
    previous = api._exception_handlers.get(AuthenticationError)

    def unauthorised(request: HttpRequest, exc: Exception) -> HttpResponse:
        if request.path.startswith("/api/fhir/"):
            return outcome_response([Issue("", "give a valid practice token: Authorization: Bearer <token>", "login")], 401)
        if previous is not None:
            return previous(request, exc)  # type: ignore[no-any-return]
        return api.create_response(request, {"detail": "Unauthorized"}, status=401)

    api.add_exception_handler(AuthenticationError, unauthorised)
