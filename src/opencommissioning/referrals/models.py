"""Referrals: FHIR intake, clinical triage, advice and guidance, tariff and payment.

Writes go through :mod:`opencommissioning.referrals.services` (states move only through
its named transitions); reads that are reused live in :mod:`.queries`. The database
guards the paired fields: a claim has a reviewer and a time, a routed referral has a
service, a time and a router, a returned referral has a reason, and so on.

Patient identifiers (the NHS number) and clinical details (reasons, notes, attachments,
advice text) live only on :class:`Referral`, :class:`ReferralAttachment`,
:class:`StatusEvent` notes and :class:`AdviceEpisode`; nothing else copies them.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import F, Q

from opencommissioning.core.models import Organisation

from .lengths import (
    ATTACHMENT_CONTENT_TYPE_MAX_LENGTH,
    ATTACHMENT_TITLE_MAX_LENGTH,
    IDENTIFIER_MAX_LENGTH,
)


class Specialty(models.Model):
    """A treatment function (NHS Data Dictionary) with its e-RS specialty code."""

    code = models.CharField("treatment function code", max_length=3, unique=True)
    name = models.CharField(max_length=120)
    ers_code = models.CharField("e-RS specialty code", max_length=60, blank=True)

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "specialties"

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"


class ProviderService(models.Model):
    """A service a provider offers for one specialty, with its declared waiting time."""

    provider = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="referral_services")
    specialty = models.ForeignKey(Specialty, on_delete=models.PROTECT, related_name="services")
    name = models.CharField(max_length=200)
    waiting_weeks = models.PositiveSmallIntegerField(help_text="Weeks from referral to first appointment, as declared.")
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["specialty__name", "provider__name", "name"]
        constraints = [
            models.UniqueConstraint(fields=["provider", "specialty", "name"], name="one_service_name_per_provider_specialty")
        ]

    def __str__(self) -> str:
        return f"{self.name} — {self.provider.name}"


TOKEN_LABEL_MAX_LENGTH, TOKEN_REVOKE_REASON_MAX_LENGTH = 200, 400


class PracticeToken(models.Model):
    """An API token issued to one practice. Only a SHA-256 of the token is stored."""

    practice = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="referral_tokens")
    label = models.CharField(max_length=TOKEN_LABEL_MAX_LENGTH, blank=True)
    key_prefix = models.CharField(max_length=12, help_text="The first characters, to recognise a token.")
    key_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField()
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    revoke_reason = models.CharField(max_length=TOKEN_REVOKE_REASON_MAX_LENGTH, blank=True)
    issue_key = models.UUIDField(
        null=True, blank=True, unique=True,
        help_text="The issuing form's one-time key: a form sent twice issues one token, not two.",
    )

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=(Q(revoked_at__isnull=True) & Q(revoke_reason=""))
                | (Q(revoked_at__isnull=False) & ~Q(revoke_reason="")),
                name="token_revocation_has_time_and_reason",
            )
        ]

    def __str__(self) -> str:
        return f"{self.key_prefix}… ({self.practice.ods_code})"


class Priority(models.TextChoices):
    """FHIR request-priority codes."""

    ROUTINE = "routine", "Routine"
    URGENT = "urgent", "Urgent"
    ASAP = "asap", "As soon as possible"
    STAT = "stat", "Immediately"


PRIORITY_ORDER = {Priority.STAT: 0, Priority.ASAP: 1, Priority.URGENT: 2, Priority.ROUTINE: 3}


class Requested(models.TextChoices):
    REFERRAL = "referral", "Referral"
    ADVICE = "advice", "Advice and guidance"


class Source(models.TextChoices):
    API = "api", "FHIR API"
    FORM = "form", "Form"


class Status(models.TextChoices):
    AWAITING_TRIAGE = "awaiting_triage", "Awaiting triage"
    IN_TRIAGE = "in_triage", "In triage"
    ADVICE_RETURNED = "advice_returned", "Advice returned to the referrer"
    ROUTED = "routed", "Accepted and routed to a provider"
    RETURNED = "returned", "Returned to the referrer"
    CLOSED_WITH_ADVICE = "closed_with_advice", "Closed: advice was enough"


#: The FHIR ServiceRequest.status that each triage state shows through the API.
FHIR_STATUS = {
    Status.AWAITING_TRIAGE: "active",
    Status.IN_TRIAGE: "active",
    Status.ADVICE_RETURNED: "on-hold",
    Status.ROUTED: "active",
    Status.RETURNED: "revoked",
    Status.CLOSED_WITH_ADVICE: "completed",
}


class Referral(models.Model):
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    practice = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="referrals")
    identifier_system = models.CharField(max_length=IDENTIFIER_MAX_LENGTH)
    identifier_value = models.CharField(max_length=IDENTIFIER_MAX_LENGTH)
    request_digest = models.CharField(
        max_length=64, blank=True,
        help_text="SHA-256 of the request's meaningful content (fhir.request_digest), kept to tell a retry "
                  "(same content: the same referral) from another request under the same identifier (409). "
                  "Blank for form referrals and for referrals received before it was kept.",
    )
    nhs_number = models.CharField("NHS number", max_length=10)
    requested = models.CharField(max_length=10, choices=Requested.choices, default=Requested.REFERRAL)
    specialty = models.ForeignKey(Specialty, null=True, blank=True, on_delete=models.PROTECT, related_name="referrals")
    priority = models.CharField(max_length=10, choices=Priority.choices, default=Priority.ROUTINE)
    reason_codes = models.JSONField(default=list, blank=True, help_text="[{system, code, display}]")
    reason_text = models.TextField(blank=True)
    notes = models.TextField(blank=True)
    authored_on = models.DateTimeField(null=True, blank=True)
    received_at = models.DateTimeField()
    queued_at = models.DateTimeField(
        help_text="When it last entered the triage queue: received, or sent back by the practice's reply or "
                  "conversion (a reviewer's release does not restart it).",
    )
    source = models.CharField(max_length=10, choices=Source.choices)
    submitted_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    token = models.ForeignKey(PracticeToken, null=True, blank=True, on_delete=models.PROTECT, related_name="referrals")

    status = models.CharField(max_length=20, choices=Status.choices, default=Status.AWAITING_TRIAGE)
    version = models.PositiveIntegerField(default=1, help_text="FHIR meta.versionId: one more at each step.")
    updated_at = models.DateTimeField()
    claimed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    claimed_at = models.DateTimeField(null=True, blank=True)
    first_decision_at = models.DateTimeField(null=True, blank=True)
    routed_service = models.ForeignKey(ProviderService, null=True, blank=True, on_delete=models.PROTECT, related_name="referrals")
    routed_at = models.DateTimeField(null=True, blank=True)
    routed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    expected_price = models.DecimalField(max_digits=10, decimal_places=2, null=True, blank=True)
    tariff = models.ForeignKey("Tariff", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    returned_at = models.DateTimeField(null=True, blank=True)
    return_reason = models.TextField(blank=True)

    class Meta:
        ordering = ["-received_at"]
        indexes = [
            models.Index(fields=["status", "specialty", "priority"]),
            models.Index(fields=["practice", "received_at"]),
        ]
        constraints = [
            models.UniqueConstraint(fields=["identifier_system", "identifier_value"], name="one_referral_per_identifier"),
            models.CheckConstraint(condition=Q(status__in=Status.values), name="referral_status_known"),
            models.CheckConstraint(condition=Q(priority__in=Priority.values), name="referral_priority_known"),
            models.CheckConstraint(condition=Q(nhs_number__regex=r"^[0-9]{10}$"), name="referral_nhs_number_ten_digits"),
            models.CheckConstraint(condition=Q(queued_at__gte=F("received_at")), name="referral_queued_after_received"),
            # A claim is a reviewer and a time, and only a referral in triage is claimed.
            models.CheckConstraint(
                condition=(Q(status=Status.IN_TRIAGE) & Q(claimed_by__isnull=False) & Q(claimed_at__isnull=False))
                | (~Q(status=Status.IN_TRIAGE) & Q(claimed_by__isnull=True) & Q(claimed_at__isnull=True)),
                name="referral_claim_is_paired_with_triage",
            ),
            models.CheckConstraint(
                condition=(Q(status=Status.ROUTED) & Q(routed_service__isnull=False) & Q(routed_at__isnull=False) & Q(routed_by__isnull=False))
                | (~Q(status=Status.ROUTED) & Q(routed_service__isnull=True) & Q(routed_at__isnull=True) & Q(routed_by__isnull=True) & Q(expected_price__isnull=True)),
                name="referral_routing_is_paired",
            ),
            models.CheckConstraint(
                condition=(Q(status=Status.RETURNED) & Q(returned_at__isnull=False) & ~Q(return_reason=""))
                | (~Q(status=Status.RETURNED) & Q(returned_at__isnull=True) & Q(return_reason="")),
                name="referral_return_has_time_and_reason",
            ),
        ]

    def __str__(self) -> str:
        return self.reference

    @property
    def reference(self) -> str:
        return f"OC-{self.pk:06d}" if self.pk else "OC-new"

    @property
    def fhir_status(self) -> str:
        return FHIR_STATUS[Status(self.status)]


class ReferralAttachment(models.Model):
    referral = models.ForeignKey(Referral, on_delete=models.PROTECT, related_name="attachments")
    title = models.CharField(max_length=ATTACHMENT_TITLE_MAX_LENGTH, blank=True)
    content_type = models.CharField(max_length=ATTACHMENT_CONTENT_TYPE_MAX_LENGTH)
    size = models.PositiveIntegerField()
    data = models.BinaryField()

    def __str__(self) -> str:
        return self.title or f"attachment {self.pk}"


class StatusEvent(models.Model):
    """One step in a referral's history, shown to the referrer. ``note`` may hold
    clinical text (the advice, the reasons), so it is shown only to those who may see
    the referral itself."""

    referral = models.ForeignKey(Referral, on_delete=models.PROTECT, related_name="history")
    at = models.DateTimeField()
    action = models.CharField(max_length=40)
    from_status = models.CharField(max_length=20, blank=True)
    to_status = models.CharField(max_length=20)
    by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    by_label = models.CharField(max_length=200)
    note = models.TextField(blank=True)

    class Meta:
        ordering = ["at", "pk"]

    def __str__(self) -> str:
        return f"{self.action} {self.from_status}→{self.to_status}"

    @property
    def to_status_label(self) -> str:
        return Status(self.to_status).label


class Tariff(models.Model):
    name = models.CharField(max_length=200)
    valid_from = models.DateField()
    imported_at = models.DateTimeField()
    imported_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    source_files = models.CharField(max_length=400)
    sha256 = models.CharField(max_length=64)

    class Meta:
        ordering = ["-valid_from", "-imported_at"]

    def __str__(self) -> str:
        return f"{self.name} (from {self.valid_from:%d %b %Y})"


class TariffPrice(models.Model):
    tariff = models.ForeignKey(Tariff, on_delete=models.CASCADE, related_name="prices")
    specialty = models.ForeignKey(Specialty, on_delete=models.PROTECT, related_name="+")
    first_attendance = models.DecimalField(max_digits=10, decimal_places=2)
    follow_up = models.DecimalField(max_digits=10, decimal_places=2)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tariff", "specialty"], name="one_price_per_tariff_specialty"),
            models.CheckConstraint(condition=Q(first_attendance__gte=0) & Q(follow_up__gte=0), name="tariff_prices_not_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.specialty_id}: £{self.first_attendance} / £{self.follow_up}"


class MarketForcesFactor(models.Model):
    tariff = models.ForeignKey(Tariff, on_delete=models.CASCADE, related_name="market_forces")
    provider = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="+")
    factor = models.DecimalField(max_digits=7, decimal_places=5)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tariff", "provider"], name="one_mff_per_tariff_provider"),
            models.CheckConstraint(condition=Q(factor__gt=0), name="mff_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.provider_id}: {self.factor}"


class FeeBasis(models.TextChoices):
    FIXED = "fixed", "Fixed fee per advice episode"
    PERCENTAGE = "percentage", "Percentage of the first attendance tariff price"


class AdvicePaymentScheme(models.Model):
    """How advice is paid from ``valid_from`` on: a fixed fee or a percentage of the
    tariff price, capped per practice per calendar month."""

    valid_from = models.DateField(unique=True)
    basis = models.CharField(max_length=12, choices=FeeBasis.choices)
    fixed_fee = models.DecimalField(max_digits=10, decimal_places=2, null=True, blank=True)
    percentage = models.DecimalField(max_digits=5, decimal_places=2, null=True, blank=True)
    cap_per_practice_per_month = models.DecimalField(max_digits=12, decimal_places=2)
    created_at = models.DateTimeField()
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["-valid_from"]
        constraints = [
            models.CheckConstraint(
                condition=(Q(basis=FeeBasis.FIXED) & Q(fixed_fee__isnull=False) & Q(fixed_fee__gte=0) & Q(percentage__isnull=True))
                | (Q(basis=FeeBasis.PERCENTAGE) & Q(percentage__isnull=False) & Q(percentage__gt=0) & Q(percentage__lte=100) & Q(fixed_fee__isnull=True)),
                name="advice_scheme_basis_has_its_amount",
            ),
            models.CheckConstraint(condition=Q(cap_per_practice_per_month__gte=0), name="advice_cap_not_negative"),
        ]

    def __str__(self) -> str:
        if self.basis == FeeBasis.FIXED:
            return f"£{self.fixed_fee} per episode, capped at £{self.cap_per_practice_per_month} per practice per month"
        return f"{self.percentage}% of tariff per episode, capped at £{self.cap_per_practice_per_month} per practice per month"


class AdviceOutcome(models.TextChoices):
    PENDING = "", "Waiting for the referrer"
    CONVERTED = "converted", "Converted to a referral"
    CLOSED = "closed", "Advice was enough"


class AdviceEpisode(models.Model):
    """Advice returned on one referral: paid once, whatever the referrer does next."""

    referral = models.ForeignKey(Referral, on_delete=models.PROTECT, related_name="advice_episodes")
    practice = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="+")
    specialty = models.ForeignKey(Specialty, on_delete=models.PROTECT, related_name="+")
    given_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    given_at = models.DateTimeField()
    period = models.DateField(help_text="First day of the month the advice was given in.")
    advice = models.TextField()
    scheme = models.ForeignKey(AdvicePaymentScheme, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    tariff_price = models.DecimalField(max_digits=10, decimal_places=2, null=True, blank=True)
    fee = models.DecimalField(max_digits=10, decimal_places=2, help_text="Before the cap.")
    reply = models.TextField(blank=True)
    replied_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(max_length=10, choices=AdviceOutcome.choices, blank=True, default="")
    outcome_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["given_at", "pk"]
        indexes = [models.Index(fields=["practice", "period"])]
        constraints = [
            models.CheckConstraint(
                condition=(Q(outcome="") & Q(outcome_at__isnull=True)) | (~Q(outcome="") & Q(outcome_at__isnull=False)),
                name="advice_outcome_has_time",
            ),
            models.CheckConstraint(
                condition=(Q(reply="") & Q(replied_at__isnull=True)) | (~Q(reply="") & Q(replied_at__isnull=False)),
                name="advice_reply_has_time",
            ),
            models.CheckConstraint(condition=Q(fee__gte=0), name="advice_fee_not_negative"),
        ]

    def __str__(self) -> str:
        return f"advice on referral {self.referral_id} ({self.given_at:%Y-%m-%d})"
