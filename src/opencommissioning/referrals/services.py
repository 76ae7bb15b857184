"""Every write to referrals: intake, the triage transitions, advice, tariff, tokens.

Keyword-only, ``by=`` the acting user (``None``: the system, or a practice's system
through its API token, named in the audit event), one transaction, one audit event.
Audit payloads carry references, codes and states, never the NHS number or clinical
text (the redaction filter is only a safety net).

The referral's steps are stamped with the time they happen. ``at=`` records a step that
happened earlier (the demo replays a month of triage this way); it may never be in the
future nor before the referral's last step, so a history always reads in order. The audit
event keeps the time it was written.

The triage state machine (every other move is refused)::

    awaiting_triage --claim--> in_triage --release--> awaiting_triage
    in_triage --route--> routed
    in_triage --advise--> advice_returned --reply--> awaiting_triage
                                          --convert--> awaiting_triage (as a referral)
                                          --close--> closed_with_advice
    in_triage --return--> returned
"""

from __future__ import annotations

import datetime
import hashlib
import io
import secrets
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.utils import timezone

from opencommissioning.audit.chain import record
from opencommissioning.core.importers import ImportProblem, ImportRejected, csv_records
from opencommissioning.core.models import Organisation, OrganisationKind, User

from . import pricing, queries
from .fhir import (
    ERS_SPECIALTY_SYSTEM,
    TREATMENT_FUNCTION_SYSTEM,
    IntakeRejected,
    Issue,
    ParsedReferral,
    nhs_number_fault,
)
from .models import (
    TOKEN_LABEL_MAX_LENGTH,
    TOKEN_REVOKE_REASON_MAX_LENGTH,
    AdviceEpisode,
    AdviceOutcome,
    AdvicePaymentScheme,
    FeeBasis,
    MarketForcesFactor,
    PracticeToken,
    Priority,
    ProviderService,
    Referral,
    ReferralAttachment,
    Requested,
    Source,
    Specialty,
    Status,
    StatusEvent,
    Tariff,
    TariffPrice,
)

# --- helpers ----------------------------------------------------------------------------


def _label(by: Any, token: PracticeToken | None = None) -> str:
    if by is not None:
        return getattr(by, "username", str(by))
    if token is not None:
        return f"{token.practice.ods_code} system (token {token.key_prefix}…)"
    return "system"


def _event(referral: Referral, *, action: str, from_status: str, by: Any, note: str = "", token: PracticeToken | None = None, at: datetime.datetime) -> None:
    StatusEvent.objects.create(
        referral=referral, at=at, action=action, from_status=from_status, to_status=referral.status,
        by=by if getattr(by, "pk", None) else None, by_label=_label(by, token), note=note,
    )


def _audit(referral: Referral, *, by: Any, action: str, before: dict[str, Any] | None = None, after: dict[str, Any] | None = None, summary: str = "") -> None:
    record(
        by=by,
        action=f"referral.{action}",
        obj=referral,
        summary=summary or f"{action.replace('_', ' ').capitalize()} {referral.reference}",
        before=before,
        after=after,
    )


def _when(at: datetime.datetime | None, referral: Referral | None = None) -> datetime.datetime:
    """The time of a step: now, or ``at`` (never in the future, never before the referral's
    last step)."""
    now = timezone.now()
    if at is None:
        return now
    if at > now:
        raise ValueError("a referral's step cannot be recorded in the future")
    if referral is not None and at < referral.updated_at:
        raise ValueError(f"a step of {referral.reference} cannot be recorded before its last step")
    return at


def _locked(referral: Referral | int) -> Referral:
    pk = referral.pk if isinstance(referral, Referral) else referral
    return Referral.objects.select_for_update().select_related("practice").get(pk=pk)


def _require(referral: Referral, *statuses: str) -> None:
    if referral.status not in statuses:
        allowed = " or ".join(Status(s).label.lower() for s in statuses)
        raise ValidationError({"status": f"{referral.reference} is {Status(referral.status).label.lower()}; this step needs it to be {allowed}"})


def _require_reviewer(by: Any, referral: Referral) -> None:
    if not queries.is_reviewer_for(by, referral):
        raise PermissionError("only a referral reviewer of the practice's commissioner may triage this referral")


def _require_claimed_by(by: Any, referral: Referral) -> None:
    _require(referral, Status.IN_TRIAGE)
    if referral.claimed_by_id != by.pk:
        raise ValidationError({"claimed_by": f"{referral.reference} is claimed by another reviewer; claim it first"})


def _require_referrer(by: Any, referral: Referral) -> None:
    if not queries.is_referrer_for(by, referral):
        raise PermissionError("only a referrer in the referring practice may do this")


# --- intake -----------------------------------------------------------------------------


_SPECIALTIES: dict[tuple[str, str], Specialty] = {}


def _specialty_by(kind: str, value: str) -> Specialty | None:
    """Specialties are reference data: read once per process, again on a miss."""
    key = (kind, value)
    if key not in _SPECIALTIES:
        _SPECIALTIES.clear()
        for s in Specialty.objects.all():
            _SPECIALTIES[("code", s.code)] = s
            if s.ers_code:
                _SPECIALTIES[("ers", s.ers_code.upper())] = s
    return _SPECIALTIES.get(key)


def resolve_specialty(codings: list[tuple[str, str]], path: str) -> Specialty | None:
    """The first coding we know, by e-RS specialty or treatment function code."""
    if not codings:
        return None
    for system, code in codings:
        if system == ERS_SPECIALTY_SYSTEM:
            found = _specialty_by("ers", code.upper())
        elif system == TREATMENT_FUNCTION_SYSTEM or not system:
            found = _specialty_by("code", code)
        else:
            continue
        if found:
            return found
    shown = ", ".join(f"{s or '(no system)'}|{c}" for s, c in codings)
    raise IntakeRejected([Issue(path, f"{path}: no specialty or treatment function we know matches {shown}", "code-invalid")])


@dataclass(frozen=True)
class Intake:
    referral: Referral
    created: bool


def receive_referral(*, token: PracticeToken, parsed: ParsedReferral) -> Intake:
    """A referral posted by a practice's system. Idempotent by identifier: the same request
    again (same identifier, same digest) from the same practice returns the referral it
    made, never a second one; another request under that identifier is refused (409)."""
    practice = token.practice
    if parsed.requester_ods and parsed.requester_ods != practice.ods_code:
        raise IntakeRejected([Issue(parsed.requester_path, f"{parsed.requester_path}: the requesting organisation {parsed.requester_ods} is not the practice this token was issued to ({practice.ods_code})", "security")], 422)
    specialty = resolve_specialty(parsed.specialty_codings, parsed.specialty_path)
    # No look-up first: a new referral (the usual case) is one INSERT; a retry meets the
    # unique constraint on the identifier and returns the referral already made.
    try:
        with transaction.atomic():
            referral = _create(
                by=None, token=token, practice=practice, source=Source.API,
                identifier_system=parsed.identifier_system, identifier_value=parsed.identifier_value,
                nhs_number=parsed.nhs_number, requested=parsed.requested, specialty=specialty,
                priority=parsed.priority, reason_codes=parsed.reason_codes, reason_text=parsed.reason_text,
                notes=parsed.notes, authored_on=parsed.authored_on, attachments=parsed.attachments,
                request_digest=parsed.digest,
            )
    except IntegrityError:
        # The identifier is taken: a retry (or two deliveries of the same request that
        # raced, the other one winning) returns its referral; another request is refused.
        existing = _existing(parsed.identifier_system, parsed.identifier_value, practice, path=parsed.identifier_path)
        if existing is None:
            raise
        check_same_request(existing, parsed.digest, path=parsed.identifier_path)
        return Intake(existing, False)
    return Intake(referral, True)


def _existing(system: str, value: str, practice: Organisation, *, path: str = "ServiceRequest.identifier") -> Referral | None:
    existing = Referral.objects.select_related("practice", "specialty", "routed_service__provider").filter(identifier_system=system, identifier_value=value).first()
    if existing is not None and existing.practice_id != practice.pk:
        raise IntakeRejected([Issue(path, f"{path}: this identifier is already used by a referral from another organisation", "duplicate")], 409)
    return existing


def different_request(path: str) -> Issue:
    return Issue(path, f"{path}: this identifier is already used for a different request (another patient, priority, "
                       "reason, specialty, status or content); nothing was changed. Send a new request under a new "
                       "identifier, or repeat the original request unchanged to read its referral", "duplicate")


def same_request(existing: Referral, digest: str) -> bool:
    """Whether a request with ``digest`` is the one that made ``existing`` (a retry). A
    referral kept from before digests were kept (blank) is taken to be the same."""
    return not existing.request_digest or existing.request_digest == digest


def check_same_request(existing: Referral, digest: str, *, path: str) -> None:
    """Refuse (409) a request whose content differs from the one that made ``existing``."""
    if not same_request(existing, digest):
        raise IntakeRejected([different_request(path)], 409)


def _create(*, by: Any, token: PracticeToken | None, practice: Organisation, source: str, identifier_system: str, identifier_value: str, nhs_number: str, requested: str, specialty: Specialty | None, priority: str, reason_codes: list[dict[str, str]], reason_text: str, notes: str, authored_on: datetime.datetime | None, attachments: Iterable[tuple[str, str, bytes]] = (), request_digest: str = "", at: datetime.datetime | None = None) -> Referral:
    now = _when(at)
    referral = Referral.objects.create(
        practice=practice, identifier_system=identifier_system, identifier_value=identifier_value,
        request_digest=request_digest, nhs_number=nhs_number, requested=requested, specialty=specialty, priority=priority,
        reason_codes=reason_codes, reason_text=reason_text, notes=notes, authored_on=authored_on,
        received_at=now, queued_at=now, updated_at=now, source=source, submitted_by=by if getattr(by, "pk", None) else None,
        token=token,
    )
    attached = 0
    for title, content_type, data in attachments:
        attached += 1
        ReferralAttachment.objects.create(referral=referral, title=title, content_type=content_type, size=len(data), data=data)
    _event(referral, action="received", from_status="", by=by, token=token, at=now,
           note="Received through the FHIR API" if source == Source.API else "Submitted on the referral form")
    record(
        by=by,
        action="referral.receive",
        obj=referral,
        summary=f"Received {referral.reference} from {practice.ods_code}" + (f" ({_label(None, token)})" if token else ""),
        after={
            "reference": referral.reference, "practice": practice.ods_code, "source": source,
            "requested": requested, "specialty": specialty.code if specialty else None, "priority": priority,
            "attachments": attached,
        },
    )
    return referral


@transaction.atomic
def submit_referral(*, by: User, practice: Organisation, nhs_number: str, specialty: Specialty | None, priority: str, requested: str, reason_text: str, notes: str = "") -> Referral:
    """A referral made on the form by a referrer in ``practice``."""
    if practice.pk not in queries.organisations_where(by, "referrer"):
        raise PermissionError("only a referrer in the practice may refer from it")
    errors: dict[str, str] = {}
    digits = "".join(nhs_number.split())
    if nhs_number_fault(digits) is not None:
        errors["nhs_number"] = "Enter a valid NHS number: 10 digits that pass the check digit, from a range issued to patients"
    if priority not in Priority.values:
        errors["priority"] = "Choose a priority"
    if requested not in Requested.values:
        errors["requested"] = "Choose a referral or advice and guidance"
    if not reason_text.strip():
        errors["reason_text"] = "Enter the reason for the referral"
    if errors:
        raise ValidationError(errors)
    identifier = f"{practice.ods_code}-{timezone.now():%Y%m%d%H%M%S}-{secrets.token_hex(4)}"
    return _create(
        by=by, token=None, practice=practice, source=Source.FORM,
        identifier_system="https://opencommissioning.org.uk/Id/form-referral", identifier_value=identifier,
        nhs_number=digits, requested=requested, specialty=specialty, priority=priority,
        reason_codes=[], reason_text=reason_text.strip(), notes=notes.strip(), authored_on=None,
    )


# --- triage -----------------------------------------------------------------------------


class AlreadyClaimed(ValidationError):
    pass


@transaction.atomic
def claim_referral(*, by: User, referral: Referral, at: datetime.datetime | None = None) -> Referral:
    """Claim one referral for triage. Safe under concurrency on every database: a single
    conditional UPDATE … WHERE status = awaiting triage AND claimed_by IS NULL, whose row
    count says who won (PostgreSQL re-checks the condition after a competing commit;
    SQLite runs writers one at a time)."""
    _require_reviewer(by, referral)
    now = _when(at, referral)
    won = Referral.objects.filter(pk=referral.pk, status=Status.AWAITING_TRIAGE, claimed_by__isnull=True).update(
        status=Status.IN_TRIAGE, claimed_by=by, claimed_at=now, version=F("version") + 1, updated_at=now
    )
    if won != 1:
        raise AlreadyClaimed({"claimed_by": f"{referral.reference} has already been claimed, or is no longer awaiting triage"})
    referral = Referral.objects.select_related("practice").get(pk=referral.pk)
    _event(referral, action="claim", from_status=Status.AWAITING_TRIAGE, by=by, at=now, note=f"Claimed for triage by {by.display_name}")
    _audit(referral, by=by, action="claim", before={"status": Status.AWAITING_TRIAGE}, after={"status": referral.status, "claimed_by": by.username})
    return referral


@transaction.atomic
def claim_next(*, by: User, specialty_code: str = "") -> Referral | None:
    """Claim the most urgent, longest-waiting unclaimed referral. On PostgreSQL the
    candidate row is locked with SKIP LOCKED, so reviewers claiming at once get
    different referrals instead of queueing on the same one."""
    candidates = (
        queries.reviewable(by).filter(status=Status.AWAITING_TRIAGE, claimed_by__isnull=True)
        .annotate(rank=queries.priority_rank()).order_by("rank", "received_at", "pk")
    )
    if specialty_code:
        candidates = candidates.filter(specialty__code=specialty_code)
    skip = connection.features.has_select_for_update_skip_locked
    for _attempt in range(5):
        qs = candidates.select_for_update(skip_locked=True, of=("self",)) if skip else candidates
        referral = qs.first()
        if referral is None:
            return None
        try:
            with transaction.atomic():
                return claim_referral(by=by, referral=referral)
        except AlreadyClaimed:
            continue
    return None


@transaction.atomic
def release_referral(*, by: User, referral: Referral) -> Referral:
    referral = _locked(referral)
    _require_claimed_by(by, referral)
    now = timezone.now()
    referral.status, referral.claimed_by, referral.claimed_at = Status.AWAITING_TRIAGE, None, None
    referral.version += 1
    referral.updated_at = now
    referral.save()
    _event(referral, action="release", from_status=Status.IN_TRIAGE, by=by, at=now, note="Released back to the worklist")
    _audit(referral, by=by, action="release", before={"status": Status.IN_TRIAGE}, after={"status": referral.status})
    return referral


def _decide(referral: Referral, to: str, now: datetime.datetime) -> None:
    referral.status = to
    referral.claimed_by = None
    referral.claimed_at = None
    referral.version += 1
    referral.updated_at = now
    if referral.first_decision_at is None:
        referral.first_decision_at = now


def _pending_episode(referral: Referral) -> AdviceEpisode | None:
    return referral.advice_episodes.select_for_update().filter(outcome=AdviceOutcome.PENDING).order_by("-given_at").first()


@transaction.atomic
def route_referral(*, by: User, referral: Referral, service: ProviderService, at: datetime.datetime | None = None) -> Referral:
    """Accept the referral and route it to a provider service, with its expected price."""
    referral = _locked(referral)
    _require_reviewer(by, referral)
    _require_claimed_by(by, referral)
    if not service.active:
        raise ValidationError({"service": f"{service} is not taking referrals"})
    now = _when(at, referral)
    price = queries.price_for(service, timezone.localdate(now))
    before = {"status": referral.status, "specialty": referral.specialty.code if referral.specialty_id else None}
    _decide(referral, Status.ROUTED, now)
    referral.requested = Requested.REFERRAL
    referral.specialty_id = service.specialty_id
    referral.routed_service, referral.routed_at, referral.routed_by = service, now, by
    referral.expected_price, referral.tariff = price.expected, price.tariff
    referral.save()
    episode = _pending_episode(referral)
    if episode is not None:
        episode.outcome, episode.outcome_at = AdviceOutcome.CONVERTED, now
        episode.save(update_fields=["outcome", "outcome_at"])
    price_text = f"expected price £{price.expected}" if price.expected is not None else "no tariff price for this specialty"
    _event(referral, action="route", from_status=Status.IN_TRIAGE, by=by, at=now,
           note=f"Accepted and routed to {service.name}, {service.provider.name} (about {service.waiting_weeks} weeks' wait; {price_text})")
    _audit(referral, by=by, action="route", before=before, after={
        "status": referral.status, "service": service.pk, "provider": service.provider.ods_code,
        "specialty": service.specialty.code, "expected_price": price.expected,
        "tariff": price.tariff.pk if price.tariff else None, "market_forces_factor": price.market_forces_factor,
    })
    return referral


@transaction.atomic
def give_advice(*, by: User, referral: Referral, advice: str, specialty: Specialty | None = None, at: datetime.datetime | None = None) -> AdviceEpisode:
    """Return advice and guidance to the referrer. The first advice on a referral opens
    a paid episode (fee by the scheme in force); advice after the referrer's reply
    continues the same episode and is not paid again."""
    referral = _locked(referral)
    _require_reviewer(by, referral)
    _require_claimed_by(by, referral)
    if not advice.strip():
        raise ValidationError({"advice": "Enter the advice for the referrer"})
    specialty = specialty or referral.specialty
    if specialty is None:
        raise ValidationError({"specialty": "Choose the specialty the advice is given in"})
    now = _when(at, referral)
    day = timezone.localdate(now)
    episode = _pending_episode(referral)
    if episode is None:
        scheme = queries.scheme_in_force(day)
        tariff = queries.tariff_in_force(day)
        tariff_price = None
        if tariff is not None:
            tariff_price = TariffPrice.objects.filter(tariff=tariff, specialty=specialty).values_list("first_attendance", flat=True).first()
        fee = Decimal("0.00")
        if scheme is not None:
            try:
                fee = pricing.advice_fee(basis=scheme.basis, fixed_fee=scheme.fixed_fee, percentage=scheme.percentage, tariff_price=tariff_price)
            except ValueError:
                fee = Decimal("0.00")  # no tariff price for the specialty: shown as such on the statement
        episode = AdviceEpisode.objects.create(
            referral=referral, practice=referral.practice, specialty=specialty, given_by=by, given_at=now,
            period=queries.month_start(day), advice=advice.strip(), scheme=scheme,
            tariff_price=tariff_price, fee=fee,
        )
        paid = True
    else:
        episode.advice = f"{episode.advice}\n\n{advice.strip()}"
        episode.save(update_fields=["advice"])
        paid = False
    before = {"status": referral.status}
    _decide(referral, Status.ADVICE_RETURNED, now)
    if referral.specialty_id is None:
        referral.specialty = specialty
    referral.save()
    _event(referral, action="advise", from_status=Status.IN_TRIAGE, by=by, at=now, note=advice.strip())
    _audit(referral, by=by, action="advise", before=before, after={
        "status": referral.status, "advice_episode": episode.pk, "specialty": specialty.code,
        "new_paid_episode": paid, "fee": episode.fee if paid else None,
    })
    return episode


@transaction.atomic
def return_referral(*, by: User, referral: Referral, reasons: str, at: datetime.datetime | None = None) -> Referral:
    referral = _locked(referral)
    _require_reviewer(by, referral)
    _require_claimed_by(by, referral)
    if not reasons.strip():
        raise ValidationError({"reasons": "Enter the reasons for returning the referral"})
    now = _when(at, referral)
    _decide(referral, Status.RETURNED, now)
    referral.returned_at, referral.return_reason = now, reasons.strip()
    referral.save()
    episode = _pending_episode(referral)
    if episode is not None:
        episode.outcome, episode.outcome_at = AdviceOutcome.CLOSED, now
        episode.save(update_fields=["outcome", "outcome_at"])
    _event(referral, action="return", from_status=Status.IN_TRIAGE, by=by, at=now, note=reasons.strip())
    _audit(referral, by=by, action="return", before={"status": Status.IN_TRIAGE}, after={"status": referral.status})
    return referral


# --- the referrer's side of advice ------------------------------------------------------


@transaction.atomic
def reply_to_advice(*, by: User, referral: Referral, reply: str, at: datetime.datetime | None = None) -> Referral:
    """The referrer answers the advice; the referral goes back to triage (its queue clock
    restarts: ``queued_at``)."""
    referral = _locked(referral)
    _require_referrer(by, referral)
    _require(referral, Status.ADVICE_RETURNED)
    if not reply.strip():
        raise ValidationError({"reply": "Enter your reply to the advice"})
    now = _when(at, referral)
    episode = _pending_episode(referral)
    if episode is not None:
        episode.reply, episode.replied_at = reply.strip(), now
        episode.save(update_fields=["reply", "replied_at"])
    referral.status, referral.version, referral.updated_at = Status.AWAITING_TRIAGE, referral.version + 1, now
    referral.queued_at = now
    referral.save()
    _event(referral, action="reply", from_status=Status.ADVICE_RETURNED, by=by, at=now, note=reply.strip())
    _audit(referral, by=by, action="reply", before={"status": Status.ADVICE_RETURNED}, after={"status": referral.status})
    return referral


@transaction.atomic
def convert_to_referral(*, by: User, referral: Referral, at: datetime.datetime | None = None) -> Referral:
    """The referrer turns advice into a referral: back to triage, to be routed (its queue
    clock restarts: ``queued_at``)."""
    referral = _locked(referral)
    _require_referrer(by, referral)
    _require(referral, Status.ADVICE_RETURNED)
    now = _when(at, referral)
    episode = _pending_episode(referral)
    if episode is not None:
        episode.outcome, episode.outcome_at = AdviceOutcome.CONVERTED, now
        episode.save(update_fields=["outcome", "outcome_at"])
    before = {"status": referral.status, "requested": referral.requested}
    referral.status, referral.requested = Status.AWAITING_TRIAGE, Requested.REFERRAL
    referral.version, referral.updated_at, referral.queued_at = referral.version + 1, now, now
    referral.save()
    _event(referral, action="convert", from_status=Status.ADVICE_RETURNED, by=by, at=now, note="Converted to a referral by the practice")
    _audit(referral, by=by, action="convert", before=before, after={"status": referral.status, "requested": referral.requested, "advice_episode": episode.pk if episode else None})
    return referral


@transaction.atomic
def close_with_advice(*, by: User, referral: Referral, at: datetime.datetime | None = None) -> Referral:
    referral = _locked(referral)
    _require_referrer(by, referral)
    _require(referral, Status.ADVICE_RETURNED)
    now = _when(at, referral)
    episode = _pending_episode(referral)
    if episode is not None:
        episode.outcome, episode.outcome_at = AdviceOutcome.CLOSED, now
        episode.save(update_fields=["outcome", "outcome_at"])
    referral.status, referral.version, referral.updated_at = Status.CLOSED_WITH_ADVICE, referral.version + 1, now
    referral.save()
    _event(referral, action="close", from_status=Status.ADVICE_RETURNED, by=by, at=now, note="The advice was enough: no referral needed")
    _audit(referral, by=by, action="close", before={"status": Status.ADVICE_RETURNED}, after={"status": referral.status})
    return referral


# --- practice tokens --------------------------------------------------------------------


class TokenAlreadyIssued(Exception):
    """The issuing form was sent before (its one-time key is used): the token it issued
    then is ``token``; it was shown once, in the answer to that request, and cannot be
    shown again."""

    def __init__(self, token: PracticeToken) -> None:
        super().__init__(f"this form already issued token {token.key_prefix}…")
        self.token = token


def _may_manage_tokens(by: User | None, practice: Organisation) -> None:
    """The system (``by=None``: the command line, the demo) or a commissioning manager of
    the practice's commissioner; anyone else is refused."""
    if by is not None and not queries.may_manage_tokens(by, practice):
        raise PermissionError("only a commissioning manager of the practice's commissioner may manage its API tokens")


@transaction.atomic
def issue_practice_token(*, by: User | None, practice: Organisation, label: str = "", raw_token: str | None = None,
                         issue_key: uuid.UUID | None = None) -> tuple[PracticeToken, str]:
    """A new API token for ``practice``. The token is returned once; only its hash and its
    first characters are kept. ``issue_key`` (the form's one-time key) makes a retry safe:
    a second request with the same key issues nothing and raises :class:`TokenAlreadyIssued`."""
    _may_manage_tokens(by, practice)
    if issue_key is not None:
        earlier = PracticeToken.objects.filter(issue_key=issue_key).select_related("practice").first()
        if earlier is not None:
            raise TokenAlreadyIssued(earlier)
    if practice.kind != OrganisationKind.PRACTICE:
        raise ValidationError({"practice": f"{practice} is not a practice"})
    if not practice.is_open:
        raise ValidationError({"practice": f"{practice} is closed"})
    if len(label.strip()) > TOKEN_LABEL_MAX_LENGTH:
        raise ValidationError({"label": f"Keep what the token is for to {TOKEN_LABEL_MAX_LENGTH} characters or fewer"})
    raw = raw_token or f"oc_{secrets.token_urlsafe(32)}"
    try:
        with transaction.atomic():  # a savepoint: a simultaneous retry meets the unique key
            token = PracticeToken.objects.create(
                practice=practice, label=label.strip(), key_prefix=raw[:10], key_hash=hashlib.sha256(raw.encode()).hexdigest(),
                created_at=timezone.now(), created_by=by, issue_key=issue_key,
            )
    except IntegrityError:
        earlier = PracticeToken.objects.filter(issue_key=issue_key).select_related("practice").first() if issue_key else None
        if earlier is None:
            raise
        raise TokenAlreadyIssued(earlier) from None
    record(by=by, action="referral_token.issue", obj=token, summary=f"Issued an API token to {practice.ods_code}",
           after={"practice": practice.ods_code, "prefix": token.key_prefix, "label": token.label})
    return token, raw


@transaction.atomic
def revoke_practice_token(*, by: User | None, token: PracticeToken, reason: str) -> PracticeToken:
    """Revoke ``token`` at once: the FHIR endpoint reads tokens from the database on every
    call, so the next request with it is refused (401)."""
    token = PracticeToken.objects.select_for_update().select_related("practice").get(pk=token.pk)
    _may_manage_tokens(by, token.practice)
    if token.revoked_at is not None:
        raise ValidationError({"token": "This token has already been revoked"})
    if not reason.strip():
        raise ValidationError({"reason": "Give a reason for revoking the token"})
    if len(reason.strip()) > TOKEN_REVOKE_REASON_MAX_LENGTH:
        raise ValidationError({"reason": f"Keep the reason to {TOKEN_REVOKE_REASON_MAX_LENGTH} characters or fewer"})
    token.revoked_at, token.revoked_by, token.revoke_reason = timezone.now(), by, reason.strip()
    token.save(update_fields=["revoked_at", "revoked_by", "revoke_reason"])
    record(by=by, action="referral_token.revoke", obj=token, summary=f"Revoked API token {token.key_prefix}…",
           after={"practice": token.practice.ods_code, "prefix": token.key_prefix, "reason": token.revoke_reason})
    return token


# --- provider directory, tariff and advice payment --------------------------------------


@transaction.atomic
def add_provider_service(*, by: User | None, provider: Organisation, specialty: Specialty, name: str, waiting_weeks: int) -> ProviderService:
    if provider.kind != OrganisationKind.PROVIDER:
        raise ValidationError({"provider": f"{provider} is not a provider"})
    if waiting_weeks < 0:
        raise ValidationError({"waiting_weeks": "the waiting time cannot be negative"})
    service = ProviderService.objects.create(provider=provider, specialty=specialty, name=name.strip(), waiting_weeks=waiting_weeks)
    record(by=by, action="provider_service.create", obj=service, summary=f"Added the service {service}",
           after={"provider": provider.ods_code, "specialty": specialty.code, "name": service.name, "waiting_weeks": waiting_weeks})
    return service


PRICE_COLUMNS = ("treatment_function_code", "first_attendance", "follow_up")
MFF_COLUMNS = ("provider_ods_code", "market_forces_factor")


def _read_csv(name: str, text: str, columns: tuple[str, ...], problems: list[ImportProblem]) -> list[tuple[int, dict[str, str]]]:
    before = len(problems)
    rows = list(csv_records(io.StringIO(text.lstrip("\ufeff")), file=name, required=columns, problems=problems))
    if not rows and len(problems) == before:
        problems.append(ImportProblem(name, None, "", "the file has no rows"))
    return rows


def _decimal(value: str, name: str, row: int, column: str, problems: list[ImportProblem], what: str) -> Decimal | None:
    """A finite number, or None with the problem named."""
    try:
        amount = Decimal(value)
    except InvalidOperation:
        amount = None
    if amount is None or not amount.is_finite():
        problems.append(ImportProblem(name, row, column, f"{value!r} is not {what}"))
        return None
    return amount


def _places(amount: Decimal, places: int) -> bool:
    """Whether ``amount`` (already known to be small) has at most ``places`` decimal places."""
    return amount == amount.quantize(Decimal(1).scaleb(-places))


def _money(value: str, name: str, row: int, column: str, problems: list[ImportProblem]) -> Decimal | None:
    """A price in pounds and pence from £0 to ``pricing.MAX_ATTENDANCE_PRICE``: anything else
    is named (file, row, column), never rounded or cut to fit."""
    amount = _decimal(value.strip().replace("£", "").replace(",", ""), name, row, column, problems, "an amount of money")
    if amount is None:
        return None
    if amount < 0:
        problems.append(ImportProblem(name, row, column, f"{value!r} must be zero or more"))
        return None
    if amount > pricing.MAX_ATTENDANCE_PRICE:
        problems.append(ImportProblem(name, row, column, f"{value!r} is more than £{pricing.MAX_ATTENDANCE_PRICE:,}, the most an attendance price may be"))
        return None
    places = TariffPrice._meta.get_field(column).decimal_places  # type: ignore[union-attr]
    if not _places(amount, places):
        problems.append(ImportProblem(name, row, column, f"{value!r} has more than {places} decimal places: give pounds and pence"))
        return None
    return pricing.money(amount)


def _factor(value: str, name: str, row: int, column: str, problems: list[ImportProblem]) -> Decimal | None:
    low, high, places = pricing.MIN_MARKET_FORCES_FACTOR, pricing.MAX_MARKET_FORCES_FACTOR, pricing.MARKET_FORCES_FACTOR_PLACES
    factor = _decimal(value.strip(), name, row, column, problems, f"a factor between {low} and {high}")
    if factor is None:
        return None
    if not (low <= factor <= high):
        problems.append(ImportProblem(name, row, column, f"{value!r} is not a factor between {low} and {high}"))
        return None
    if not _places(factor, places):
        problems.append(ImportProblem(name, row, column, f"{value!r} has more than {places} decimal places"))
        return None
    return factor.quantize(Decimal(1).scaleb(-places))


@transaction.atomic
def import_tariff(*, by: User | None, name: str, valid_from: datetime.date, prices_csv: str, mff_csv: str, prices_name: str = "prices.csv", mff_name: str = "market_forces.csv") -> Tariff:
    """Import a tariff: treatment function prices and provider market forces factors.

    All or nothing: both files are read and checked; any problem raises
    :class:`ImportRejected` naming every one (file, row, column) and nothing is written.
    """
    problems: list[ImportProblem] = []
    if not name.strip():
        problems.append(ImportProblem("form", None, "name", "give the tariff a name"))
    name_length = Tariff._meta.get_field("name").max_length or 0
    if len(name.strip()) > name_length:
        problems.append(ImportProblem("form", None, "name", f"the name is {len(name.strip())} characters long; keep it to {name_length} or fewer"))
    files_length = Tariff._meta.get_field("source_files").max_length or 0
    source_files = f"{prices_name}, {mff_name}"
    if len(source_files) > files_length:
        problems.append(ImportProblem("form", None, "files", f"the two file names are {len(source_files)} characters long together; "
                                                             f"rename the files to keep them to {files_length} or fewer, so they can be recorded whole"))
    specialties = {s.code: s for s in Specialty.objects.all()}
    prices: dict[str, tuple[Decimal, Decimal]] = {}
    for row, values in _read_csv(prices_name, prices_csv, PRICE_COLUMNS, problems):
        code = values["treatment_function_code"]
        if code not in specialties:
            problems.append(ImportProblem(prices_name, row, "treatment_function_code", f"{code!r} is not a treatment function code we know"))
        elif code in prices:
            problems.append(ImportProblem(prices_name, row, "treatment_function_code", f"{code} appears more than once"))
        first = _money(values["first_attendance"], prices_name, row, "first_attendance", problems)
        follow = _money(values["follow_up"], prices_name, row, "follow_up", problems)
        if code in specialties and first is not None and follow is not None and code not in prices:
            prices[code] = (first, follow)
    providers = {o.ods_code: o for o in Organisation.objects.filter(kind=OrganisationKind.PROVIDER)}
    factors: dict[str, Decimal] = {}
    for row, values in _read_csv(mff_name, mff_csv, MFF_COLUMNS, problems):
        code = values["provider_ods_code"].upper()
        if code not in providers:
            problems.append(ImportProblem(mff_name, row, "provider_ods_code", f"{code!r} is not a provider in the directory"))
        elif code in factors:
            problems.append(ImportProblem(mff_name, row, "provider_ods_code", f"{code} appears more than once"))
        factor = _factor(values["market_forces_factor"], mff_name, row, "market_forces_factor", problems)
        if factor is not None and code in providers and code not in factors:
            factors[code] = factor
    if problems:
        raise ImportRejected(problems)
    digest = hashlib.sha256((prices_csv + "\0" + mff_csv).encode()).hexdigest()
    tariff = Tariff.objects.create(name=name.strip(), valid_from=valid_from, imported_at=timezone.now(), imported_by=by,
                                   source_files=source_files, sha256=digest)
    TariffPrice.objects.bulk_create(TariffPrice(tariff=tariff, specialty=specialties[c], first_attendance=f, follow_up=u) for c, (f, u) in prices.items())
    MarketForcesFactor.objects.bulk_create(MarketForcesFactor(tariff=tariff, provider=providers[c], factor=v) for c, v in factors.items())
    record(by=by, action="tariff.import", obj=tariff, summary=f"Imported the tariff {tariff}: {len(prices)} prices, {len(factors)} market forces factors",
           after={"name": tariff.name, "valid_from": valid_from, "sha256": digest, "prices": {c: [f, u] for c, (f, u) in prices.items()},
                  "market_forces_factors": factors})
    return tariff


@transaction.atomic
def set_advice_scheme(*, by: User | None, valid_from: datetime.date, basis: str, cap_per_practice_per_month: Decimal, fixed_fee: Decimal | None = None, percentage: Decimal | None = None) -> AdvicePaymentScheme:
    errors: dict[str, str] = {}
    if basis == FeeBasis.FIXED:
        if fixed_fee is None or fixed_fee < 0:
            errors["fixed_fee"] = "Enter the fixed fee per advice episode (zero or more)"
        percentage = None
    elif basis == FeeBasis.PERCENTAGE:
        if percentage is None or not (Decimal(0) < percentage <= Decimal(100)):
            errors["percentage"] = "Enter a percentage of the tariff price above 0 and up to 100"
        fixed_fee = None
    else:
        errors["basis"] = "Choose a fixed fee or a percentage of the tariff price"
    if cap_per_practice_per_month is None or cap_per_practice_per_month < 0:
        errors["cap_per_practice_per_month"] = "Enter the cap per practice per month (zero or more)"
    if AdvicePaymentScheme.objects.filter(valid_from=valid_from).exists():
        errors["valid_from"] = f"a scheme already starts on {valid_from:%d %B %Y}"
    if errors:
        raise ValidationError(errors)
    scheme = AdvicePaymentScheme.objects.create(
        valid_from=valid_from, basis=basis, fixed_fee=fixed_fee, percentage=percentage,
        cap_per_practice_per_month=cap_per_practice_per_month, created_at=timezone.now(), created_by=by,
    )
    record(by=by, action="advice_scheme.create", obj=scheme, summary=f"Advice payment from {valid_from}: {scheme}",
           after={"valid_from": valid_from, "basis": basis, "fixed_fee": fixed_fee, "percentage": percentage, "cap": cap_per_practice_per_month})
    return scheme


def max_attachment_bytes() -> int:
    return int(getattr(settings, "REFERRALS_MAX_ATTACHMENT_BYTES", 5 * 1024 * 1024))
