"""Read a FHIR R4 ServiceRequest (alone, or in a message Bundle) into plain values.

Structure is checked by ``fhir.resources`` (its R4B package reads R4 payloads); it does
not check code values, so status, intent and priority are checked here, as is the NHS
number (check digit, and a range that is issued: :func:`nhs_number_fault`). Every fault is
collected and reported at once as an :class:`Issue` naming the element (a FHIRPath-like
expression), never just the first. A value longer than the column that keeps it is refused,
never cut to fit.

:func:`request_digest` fingerprints what a request means (not how it is formatted), so a
retry can be told from another request sent under the same identifier.

No database here: the service resolves the specialty and the practice.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

import nhs_number
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.servicerequest import ServiceRequest
from pydantic import ValidationError

from .lengths import (
    ATTACHMENT_CONTENT_TYPE_MAX_LENGTH,
    ATTACHMENT_TITLE_MAX_LENGTH,
    IDENTIFIER_MAX_LENGTH,
)

NHS_NUMBER_SYSTEM = "https://fhir.nhs.uk/Id/nhs-number"
ODS_SYSTEM = "https://fhir.nhs.uk/Id/ods-organization-code"
UBRN_SYSTEM = "https://fhir.nhs.uk/Id/UBRN"
ERS_SPECIALTY_SYSTEM = "https://fhir.nhs.uk/CodeSystem/eRS-Specialty"
TREATMENT_FUNCTION_SYSTEM = "https://fhir.nhs.uk/CodeSystem/NHSDataModelAndDictionary-treatment-function"
ADVICE_CODE = "advice-and-guidance"

REQUEST_STATUS = {"draft", "active", "on-hold", "revoked", "completed", "entered-in-error", "unknown"}
REQUEST_INTENT = {"proposal", "plan", "directive", "order", "original-order", "reflex-order", "filler-order", "instance-order", "option"}
ACCEPTED_INTENT = {"proposal", "plan", "directive", "order", "original-order"}
REQUEST_PRIORITY = {"routine", "urgent", "asap", "stat"}


@dataclass(frozen=True)
class Issue:
    """One OperationOutcome issue: ``code`` is a FHIR issue-type code."""

    expression: str
    diagnostics: str
    code: str = "invalid"

    def as_fhir(self) -> dict[str, Any]:
        issue: dict[str, Any] = {"severity": "error", "code": self.code, "diagnostics": self.diagnostics}
        if self.expression:
            issue["expression"] = [self.expression]
        return issue


class IntakeRejected(Exception):
    """The request is refused; nothing was stored. ``status`` is the HTTP status.
    ``identifier`` and ``digest``, when the request named an identifier: the caller tells an
    identical retry of a referral already made (answered with it) from another request."""

    def __init__(self, issues: list[Issue], status: int = 422, identifier: tuple[str, str] | None = None,
                 digest: str = "", identifier_path: str = "ServiceRequest.identifier"):
        self.issues = issues
        self.status = status
        self.identifier = identifier
        self.digest = digest
        self.identifier_path = identifier_path
        super().__init__("; ".join(f"{i.expression}: {i.diagnostics}" for i in issues))


def operation_outcome(issues: list[Issue]) -> dict[str, Any]:
    return {"resourceType": "OperationOutcome", "issue": [i.as_fhir() for i in issues]}


@dataclass
class ParsedReferral:
    identifier_system: str
    identifier_value: str
    identifier_path: str  # e.g. ServiceRequest.identifier[0]
    digest: str  # request_digest(): what the request means, to tell a retry from another request
    nhs_number: str
    requested: str  # "referral" or "advice"
    priority: str
    specialty_codings: list[tuple[str, str]]
    specialty_path: str
    reason_codes: list[dict[str, str]]
    reason_text: str
    notes: str
    authored_on: datetime.datetime | None
    requester_ods: str | None
    requester_path: str
    attachments: list[tuple[str, str, bytes]] = field(default_factory=list)


def _loc(prefix: str, loc: tuple[Any, ...]) -> str:
    path = prefix
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        elif part in {"root", "__root__"}:
            continue
        else:
            path += f".{part}"
    return path


def _structure_issues(model: type[Any], data: dict[str, Any], prefix: str) -> list[Issue]:
    try:
        model.model_validate(data)
    except ValidationError as error:
        issues = []
        for err in error.errors():
            loc = tuple(err.get("loc", ()))
            where = _loc(prefix, loc)
            if prefix == "Bundle" and len(loc) >= 3 and loc[0] == "entry" and isinstance(loc[1], int):
                try:
                    kind = data["entry"][loc[1]]["resource"]["resourceType"]
                    where = f"{where} ({kind})"
                except (KeyError, IndexError, TypeError):
                    pass
            message = str(err.get("msg", "is not valid"))
            code = "required" if "missing" in str(err.get("type", "")) else ("structure" if "extra" in str(err.get("type", "")) else "invalid")
            if err.get("type") == "extra_forbidden":
                message = "is not an element of this resource in FHIR R4"
            issues.append(Issue(where, f"{where}: {message}", code))
        return issues
    return []


def _codings(concept: Any) -> list[dict[str, Any]]:
    if not isinstance(concept, dict):
        return []
    codings = concept.get("coding")
    return [c for c in codings if isinstance(c, dict)] if isinstance(codings, list) else []


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


class _Resolver:
    """Finds what a reference points to: a contained resource or a Bundle entry."""

    def __init__(self, resource: dict[str, Any], bundle: dict[str, Any] | None, prefix: str):
        self.contained = {f"#{r.get('id')}": (r, f"{prefix}.contained[{i}]") for i, r in enumerate(_list(resource.get("contained"))) if isinstance(r, dict)}
        self.entries: dict[str, tuple[dict[str, Any], str]] = {}
        if bundle is not None:
            for i, entry in enumerate(_list(bundle.get("entry"))):
                if not isinstance(entry, dict) or not isinstance(entry.get("resource"), dict):
                    continue
                res = entry["resource"]
                path = f"Bundle.entry[{i}].resource"
                if isinstance(entry.get("fullUrl"), str):
                    self.entries[entry["fullUrl"]] = (res, path)
                if res.get("id"):
                    self.entries[f"{res.get('resourceType')}/{res.get('id')}"] = (res, path)

    def resolve(self, reference: Any) -> tuple[dict[str, Any], str] | None:
        if not isinstance(reference, dict) or not isinstance(reference.get("reference"), str):
            return None
        ref = reference["reference"]
        return self.contained.get(ref) or self.entries.get(ref)

    def all_resources(self) -> list[tuple[dict[str, Any], str]]:
        return list(self.contained.values()) + list(self.entries.values())


def _ods_of(reference: Any, resolver: _Resolver, depth: int = 0) -> str | None:
    if not isinstance(reference, dict) or depth > 3:
        return None
    identifier = reference.get("identifier")
    if isinstance(identifier, dict) and identifier.get("system") == ODS_SYSTEM and identifier.get("value"):
        return str(identifier["value"]).strip().upper()
    found = resolver.resolve(reference)
    if found is None:
        return None
    resource, _ = found
    if resource.get("resourceType") == "Organization":
        for ident in _list(resource.get("identifier")):
            if isinstance(ident, dict) and ident.get("system") == ODS_SYSTEM and ident.get("value"):
                return str(ident["value"]).strip().upper()
        return None
    if resource.get("resourceType") == "PractitionerRole":
        return _ods_of(resource.get("organization"), resolver, depth + 1)
    return None


#: Where NHS numbers (and the other UK health numbers sharing their format) are issued, by
#: the ``nhs-number`` package's ranges: England, Wales and the Isle of Man; Scotland's CHI;
#: Northern Ireland's H&C; and 900 000 0000 to 999 999 9999, never issued to a patient and
#: kept for test patients (the e-RS sandbox, our demo and tests). Unallocated and reserved
#: ranges, and the Republic of Ireland's IHI, are refused.
ISSUED_NHS_NUMBER_REGIONS = (
    nhs_number.REGION_ENGLAND_WALES_IOM,
    nhs_number.REGION_SCOTLAND,
    nhs_number.REGION_NORTHERN_IRELAND,
    nhs_number.REGION_SYNTHETIC,
)


def nhs_number_fault(digits: str) -> str | None:
    """Why ``digits`` (spaces already taken out) is not an NHS number we accept, or None.
    The reason never repeats the number: it is a patient identifier."""
    if not (len(digits) == 10 and digits.isdigit() and nhs_number.is_valid(digits)):
        return "the NHS number is not valid (it must be 10 digits and pass the check digit)"
    if len(set(digits)) == 1:  # 0000000000 … 9999999999 pass the check digit; none is ever issued
        return "the NHS number is not valid (ten identical digits are never issued)"
    if not any(region.contains_number(digits) for region in ISSUED_NHS_NUMBER_REGIONS):
        return "the NHS number is not valid (it is in a range that is not issued to patients)"
    return None


def _nhs_number(sr: dict[str, Any], prefix: str, resolver: _Resolver, issues: list[Issue]) -> tuple[str, str]:
    """The patient's NHS number if it is acceptable ("" if not) and the digits as sent (for
    the request's digest)."""
    subject = sr.get("subject")
    candidates: list[tuple[Any, str]] = []
    if isinstance(subject, dict):
        ident = subject.get("identifier")
        if isinstance(ident, dict) and ident.get("system") == NHS_NUMBER_SYSTEM:
            candidates.append((ident.get("value"), f"{prefix}.subject.identifier.value"))
        found = resolver.resolve(subject)
        if found is not None and found[0].get("resourceType") == "Patient":
            patient, path = found
            for i, pid in enumerate(_list(patient.get("identifier"))):
                if isinstance(pid, dict) and pid.get("system") == NHS_NUMBER_SYSTEM:
                    candidates.append((pid.get("value"), f"{path}.identifier[{i}].value"))
    if not candidates:
        issues.append(Issue(
            f"{prefix}.subject",
            f"{prefix}.subject: identify the patient by NHS number (subject.identifier with system "
            f"{NHS_NUMBER_SYSTEM}, or a Patient resource in the Bundle that has one)",
            "required",
        ))
        return "", ""
    value, path = candidates[0]
    digits = "".join(str(value or "").split())
    fault = nhs_number_fault(digits)
    if fault is not None:
        # Never echo the number back: it is a patient identifier.
        issues.append(Issue(path, f"{path}: {fault}", "value"))
        return "", digits
    return digits, digits


def _too_long(value: str, limit: int, where: str, what: str, issues: list[Issue]) -> bool:
    """Refuse a value longer than its column (naming the element): never cut it to fit."""
    if len(value) <= limit:
        return False
    issues.append(Issue(where, f"{where}: the {what} is {len(value)} characters long; at most {limit} are kept, "
                               "so it is refused rather than cut", "too-long"))
    return True


def _attachments(resolver: _Resolver, max_bytes: int, issues: list[Issue]) -> list[tuple[str, str, bytes]]:
    found: list[tuple[str, str, bytes]] = []
    for resource, path in resolver.all_resources():
        if resource.get("resourceType") != "DocumentReference":
            continue
        for i, content in enumerate(_list(resource.get("content"))):
            attachment = content.get("attachment") if isinstance(content, dict) else None
            if not isinstance(attachment, dict) or not isinstance(attachment.get("data"), str):
                continue
            where = f"{path}.content[{i}].attachment"
            encoded = attachment["data"]
            if len(encoded) * 3 // 4 > max_bytes + 3:
                issues.append(Issue(f"{where}.data", f"{where}.data: the attachment is larger than the {max_bytes // (1024 * 1024)} MB allowed", "too-costly"))
                continue
            try:
                data = base64.b64decode(encoded, validate=True)
            except (binascii.Error, ValueError):
                issues.append(Issue(f"{where}.data", f"{where}.data: the attachment data is not valid base64", "invalid"))
                continue
            if len(data) > max_bytes:
                issues.append(Issue(f"{where}.data", f"{where}.data: the attachment is larger than the {max_bytes // (1024 * 1024)} MB allowed", "too-costly"))
                continue
            title = str(attachment.get("title") or "")
            content_type = str(attachment.get("contentType") or "application/octet-stream")
            long_title = _too_long(title, ATTACHMENT_TITLE_MAX_LENGTH, f"{where}.title", "attachment's title", issues)
            long_type = _too_long(content_type, ATTACHMENT_CONTENT_TYPE_MAX_LENGTH, f"{where}.contentType", "attachment's content type", issues)
            if not (long_title or long_type):
                found.append((title, content_type, data))
    return found


def request_digest(*, identifier: tuple[str, str], nhs_digits: str, status: Any, intent: Any, requested: str, priority: Any,
                   specialty_codings: list[tuple[str, str]], reason_codes: list[dict[str, str]], reason_text: str, notes: str,
                   authored_on: Any, requester_ods: str | None, attachments: list[tuple[str, str, bytes]]) -> str:
    """SHA-256 of what a request means: the values read from it, never its formatting (key
    order, white space, a plain resource or the same one in a Bundle, ``Z`` or ``+00:00``),
    so an identical retry has the same digest and a request with another patient, priority,
    reason, status, specialty, note or attachment has another."""
    if isinstance(authored_on, datetime.datetime):
        authored_on = authored_on.astimezone(datetime.UTC).isoformat()
    content = {
        "identifier": list(identifier), "nhs_number": nhs_digits, "status": status, "intent": intent,
        "requested": requested, "priority": priority, "specialty": [list(c) for c in specialty_codings],
        "reason_codes": reason_codes, "reason_text": reason_text, "notes": notes, "authored_on": authored_on,
        "requester": requester_ods,
        "attachments": [[title, kind, hashlib.sha256(data).hexdigest()] for title, kind, data in attachments],
    }
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def parse(body: bytes, *, max_attachment_bytes: int) -> ParsedReferral:
    """Read a request body; raise :class:`IntakeRejected` naming every fault."""
    try:
        document = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise IntakeRejected([Issue("", f"the body is not JSON: {error}", "structure")], 400) from None
    except RecursionError:
        raise IntakeRejected([Issue("", "the body is not a FHIR resource: its JSON is nested too deeply to read", "structure")], 400) from None
    if not isinstance(document, dict):
        raise IntakeRejected([Issue("", "the body must be a FHIR resource (a JSON object)", "structure")], 400)
    try:
        return _parse(document, max_attachment_bytes=max_attachment_bytes)
    except RecursionError:  # a deeply nested element inside an otherwise readable resource
        raise IntakeRejected([Issue("", "the body is not a valid FHIR resource: an element is nested too deeply to read", "structure")], 400) from None


def _parse(document: dict[str, Any], *, max_attachment_bytes: int) -> ParsedReferral:
    kind = document.get("resourceType")
    issues: list[Issue] = []
    bundle: dict[str, Any] | None = None
    if kind == "ServiceRequest":
        sr, prefix = document, "ServiceRequest"
        issues += _structure_issues(ServiceRequest, document, prefix)
    elif kind == "Bundle" and document.get("type") == "message":
        bundle = document
        issues += _structure_issues(Bundle, document, "Bundle")
        requests = [
            (e["resource"], f"Bundle.entry[{i}].resource")
            for i, e in enumerate(_list(document.get("entry")))
            if isinstance(e, dict) and isinstance(e.get("resource"), dict) and e["resource"].get("resourceType") == "ServiceRequest"
        ]
        if len(requests) != 1:
            issues.append(Issue("Bundle.entry", f"Bundle.entry: the Bundle must carry exactly one ServiceRequest (it has {len(requests)})", "invalid"))
            raise IntakeRejected(issues, 400 if issues[:-1] else 422)
        sr, prefix = requests[0]
    elif kind == "Bundle":
        # A searchset, a transaction or a collection is not a request for one referral (a
        # searchset is what a search returned); only a message Bundle (BaRS) carries one.
        raise IntakeRejected([Issue("resourceType", f"resourceType: a Bundle of type {document.get('type')!r} is not a referral; "
                                    "post a ServiceRequest (or a Bundle of type 'message' carrying exactly one)", "not-supported")], 400)
    else:
        shown = kind if isinstance(kind, str) and len(kind) <= 64 else "something else"
        raise IntakeRejected([Issue("resourceType", f"resourceType: expected ServiceRequest (or a message Bundle carrying one), not {shown!r}", "not-supported")], 400)
    structural = bool(issues)
    resolver = _Resolver(sr, bundle, prefix)

    identifier_system = identifier_value = ""
    identifier_path = f"{prefix}.identifier"
    identifiers = [(i, ident) for i, ident in enumerate(_list(sr.get("identifier"))) if isinstance(ident, dict) and ident.get("system") and ident.get("value")]
    if identifiers:
        index, chosen = next(((i, ident) for i, ident in identifiers if ident.get("system") == UBRN_SYSTEM), identifiers[0])
        identifier_path = f"{prefix}.identifier[{index}]"
        identifier_system, identifier_value = str(chosen["system"]), str(chosen["value"])
        long_system = _too_long(identifier_system, IDENTIFIER_MAX_LENGTH, f"{identifier_path}.system", "identifier's system", issues)
        long_value = _too_long(identifier_value, IDENTIFIER_MAX_LENGTH, f"{identifier_path}.value", "identifier's value", issues)
        if long_system or long_value:
            identifier_system = identifier_value = ""  # not one we could have stored: never a retry
    else:
        issues.append(Issue(f"{prefix}.identifier", f"{prefix}.identifier: give the request an identifier (system and value), so that a retry returns the same referral", "required"))

    status = sr.get("status")
    if status not in REQUEST_STATUS:
        issues.append(Issue(f"{prefix}.status", f"{prefix}.status: {status!r} is not a FHIR request status", "code-invalid"))
    elif status != "active":
        issues.append(Issue(f"{prefix}.status", f"{prefix}.status: a new referral must be 'active', not {status!r}", "business-rule"))
    intent = sr.get("intent")
    if intent not in REQUEST_INTENT:
        issues.append(Issue(f"{prefix}.intent", f"{prefix}.intent: {intent!r} is not a FHIR request intent", "code-invalid"))
    elif intent not in ACCEPTED_INTENT:
        issues.append(Issue(f"{prefix}.intent", f"{prefix}.intent: a referral's intent must be one of {', '.join(sorted(ACCEPTED_INTENT))}", "business-rule"))
    priority = sr.get("priority", "routine")
    if priority not in REQUEST_PRIORITY:
        issues.append(Issue(f"{prefix}.priority", f"{prefix}.priority: {priority!r} is not a FHIR request priority (routine, urgent, asap or stat)", "code-invalid"))

    nhs, nhs_digits = _nhs_number(sr, prefix, resolver, issues)
    attachments = _attachments(resolver, max_attachment_bytes, issues)

    requested = "referral"
    if any(c.get("code") == ADVICE_CODE for c in _codings(sr.get("code"))):
        requested = "advice"
    specialty_codings = [
        (str(c.get("system", "")), str(c.get("code", ""))) for c in _codings(sr.get("performerType")) if c.get("code")
    ]
    reason_codes = []
    texts = []
    for concept in _list(sr.get("reasonCode")):
        for c in _codings(concept):
            # Kept whole (a JSON list, no column length): never cut.
            reason_codes.append({k: str(c[k]) for k in ("system", "code", "display") if c.get(k)})
        if isinstance(concept, dict) and concept.get("text"):
            texts.append(str(concept["text"]))
    notes = "\n\n".join(str(n.get("text")) for n in _list(sr.get("note")) if isinstance(n, dict) and n.get("text"))
    authored_on = None
    if isinstance(sr.get("authoredOn"), str):
        try:
            authored_on = datetime.datetime.fromisoformat(sr["authoredOn"].replace("Z", "+00:00"))
            if authored_on.tzinfo is None:
                authored_on = None
        except ValueError:
            authored_on = None
    requester_ods = _ods_of(sr.get("requester"), resolver)
    reason_text = "\n".join(texts)
    digest = request_digest(
        identifier=(identifier_system, identifier_value), nhs_digits=nhs_digits, status=status, intent=intent,
        requested=requested, priority=priority, specialty_codings=specialty_codings, reason_codes=reason_codes,
        reason_text=reason_text, notes=notes, authored_on=authored_on or sr.get("authoredOn"),
        requester_ods=requester_ods, attachments=attachments,
    )

    if issues:
        if structural:
            code = 400
        elif any(i.code == "too-costly" for i in issues):
            code = 413
        else:
            code = 422
        raise IntakeRejected(issues, code, (identifier_system, identifier_value) if identifier_value else None,
                             digest=digest, identifier_path=identifier_path)
    return ParsedReferral(
        identifier_system=identifier_system,
        identifier_value=identifier_value,
        identifier_path=identifier_path,
        digest=digest,
        nhs_number=nhs,
        requested=requested,
        priority=str(priority),
        specialty_codings=specialty_codings,
        specialty_path=f"{prefix}.performerType",
        reason_codes=reason_codes,
        reason_text=reason_text,
        notes=notes,
        authored_on=authored_on,
        requester_ods=requester_ods,
        requester_path=f"{prefix}.requester",
        attachments=attachments,
    )


def to_fhir(referral: Any, *, base_url: str = "") -> dict[str, Any]:
    """The referral as a ServiceRequest showing its current state (for GET)."""
    resource: dict[str, Any] = {
        "resourceType": "ServiceRequest",
        "id": str(referral.public_id),
        "meta": {"versionId": str(referral.version), "lastUpdated": referral.updated_at.isoformat()},
        "extension": [
            {
                "url": "https://opencommissioning.org.uk/fhir/StructureDefinition/triage-state",
                "valueCode": referral.status,
            }
        ],
        "identifier": [
            {"system": referral.identifier_system, "value": referral.identifier_value},
            {"system": "https://opencommissioning.org.uk/Id/referral", "value": referral.reference},
        ],
        "status": referral.fhir_status,
        "intent": "order",
        "priority": referral.priority,
        "subject": {"identifier": {"system": NHS_NUMBER_SYSTEM, "value": referral.nhs_number}},
        "requester": {"identifier": {"system": ODS_SYSTEM, "value": referral.practice.ods_code}},
        "authoredOn": (referral.authored_on or referral.received_at).isoformat(),
    }
    if referral.requested == "advice":
        resource["code"] = {"coding": [{"system": "https://fhir.nhs.uk/CodeSystem/servicerequest-code", "code": ADVICE_CODE}]}
    if referral.specialty_id:
        specialty = referral.specialty
        resource["performerType"] = {
            "coding": [{"system": TREATMENT_FUNCTION_SYSTEM, "code": specialty.code, "display": specialty.name}]
        }
    if referral.routed_service_id:
        provider = referral.routed_service.provider
        resource["performer"] = [{"identifier": {"system": ODS_SYSTEM, "value": provider.ods_code}, "display": provider.name}]
    if referral.status == "returned":
        resource["note"] = [{"text": f"Returned to the referrer: {referral.return_reason}"}]
    return resource


def warm_up() -> int:
    """Read one of each shape the intake meets, so that ``fhir.resources`` builds its
    validators (it builds nested types on first use) before the first real request rather
    than during it. No database. Called once per server process (``opencommissioning.wsgi``).
    Returns how many of the examples were accepted (two valid, one refused); a refusal never
    stops the server starting."""
    patient = {"resourceType": "Patient", "id": "p", "identifier": [{"system": NHS_NUMBER_SYSTEM, "value": "9912003888"}],
               "name": [{"family": "Warm", "given": ["Up"]}], "birthDate": "1970-01-01", "gender": "unknown"}
    request = {
        "resourceType": "ServiceRequest", "id": "s", "identifier": [{"system": UBRN_SYSTEM, "value": "warm-up"}],
        "status": "active", "intent": "order", "priority": "routine", "authoredOn": "2026-01-01T00:00:00+00:00",
        "subject": {"reference": "Patient/p"},
        "requester": {"identifier": {"system": ODS_SYSTEM, "value": "A00000"}, "display": "Warm-up practice"},
        "code": {"coding": [{"system": "https://fhir.nhs.uk/CodeSystem/servicerequest-code", "code": ADVICE_CODE}]},
        "performerType": {"coding": [{"system": ERS_SPECIALTY_SYSTEM, "code": "DERMATOLOGY"}]},
        "reasonCode": [{"coding": [{"system": "http://snomed.info/sct", "code": "126485001", "display": "Urticaria"}], "text": "warm-up"}],
        "note": [{"text": "warm-up"}], "supportingInfo": [{"reference": "DocumentReference/d"}],
        "contained": [{"resourceType": "Organization", "id": "o", "identifier": [{"system": ODS_SYSTEM, "value": "A00000"}]}],
    }
    document = {"resourceType": "DocumentReference", "id": "d", "status": "current",
                "content": [{"attachment": {"contentType": "text/plain", "title": "warm-up", "data": "d2FybS11cA=="}}]}
    bundle = {"resourceType": "Bundle", "type": "message", "entry": [
        {"fullUrl": "urn:uuid:s", "resource": request}, {"fullUrl": "urn:uuid:p", "resource": patient},
        {"fullUrl": "urn:uuid:d", "resource": document},
    ]}
    single = {**request, "subject": {"identifier": {"system": NHS_NUMBER_SYSTEM, "value": "9912003888"}}, "supportingInfo": []}
    accepted = 0
    for body in (single, bundle, {**single, "status": "bogus", "priority": 7}):
        try:
            parse(json.dumps(body).encode(), max_attachment_bytes=1024)
            accepted += 1
        except IntakeRejected:
            pass
    return accepted
