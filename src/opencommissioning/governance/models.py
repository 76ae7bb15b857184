"""Interests, gifts and hospitality, committees, meetings, decisions and breaches.

Writes go through :mod:`opencommissioning.governance.services`; the screening and quorum
rules live in :mod:`opencommissioning.governance.rules`. Nothing here is ever deleted:
interests, memberships and accountabilities are *ended* (a date and a reason), breaches
are *closed* (a date, who, and an outcome). Paired fields are kept consistent by
``CheckConstraint``s, so a half-recorded state cannot be saved even by a careless script.

Every model a form creates has an ``idempotency_key``: the form carries a fresh UUID in a
hidden field, and a second submission of the same form finds the first record instead of
making another.
"""

from __future__ import annotations

import datetime

from django.conf import settings
from django.db import models
from django.db.models import F, Q

from opencommissioning.core.models import Organisation


def _idempotency_key() -> models.UUIDField:
    return models.UUIDField(null=True, blank=True, unique=True, editable=False)


def _both_or_neither(a: str, b: str, *, b_is_text: bool = False) -> Q:
    """``a`` (a nullable field) and ``b`` set together, or both empty."""
    b_empty = Q(**{b: ""}) if b_is_text else Q(**{f"{b}__isnull": True})
    return (Q(**{f"{a}__isnull": True}) & b_empty) | (Q(**{f"{a}__isnull": False}) & ~b_empty)


class InterestKind(models.TextChoices):
    FINANCIAL = "financial", "Financial"
    NON_FINANCIAL_PROFESSIONAL = "non_financial_professional", "Non-financial professional"
    NON_FINANCIAL_PERSONAL = "non_financial_personal", "Non-financial personal"
    INDIRECT = "indirect", "Indirect (through a family member or close associate)"


class Interest(models.Model):
    """One declared interest: in an organisation from the directory, a matter, or both."""

    person = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="interests")
    kind = models.CharField(max_length=40, choices=InterestKind.choices)
    organisation = models.ForeignKey(
        Organisation, null=True, blank=True, on_delete=models.PROTECT, related_name="declared_interests"
    )
    matter = models.CharField(max_length=200, blank=True, help_text="A matter, when no organisation fits.")
    description = models.TextField(help_text="The nature of the interest, in plain words.")
    started_on = models.DateField()
    ended_on = models.DateField(null=True, blank=True)
    end_reason = models.CharField(max_length=400, blank=True)
    declared_at = models.DateTimeField()
    declared_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+")
    idempotency_key = _idempotency_key()

    class Meta:
        ordering = ["person__full_name", "-started_on", "pk"]
        constraints = [
            models.CheckConstraint(condition=Q(kind__in=InterestKind.values), name="interest_kind_known"),
            models.CheckConstraint(
                condition=Q(organisation__isnull=False) | ~Q(matter=""),
                name="interest_names_an_organisation_or_matter",
            ),
            models.CheckConstraint(
                condition=_both_or_neither("ended_on", "end_reason", b_is_text=True),
                name="interest_end_has_date_and_reason",
            ),
            models.CheckConstraint(
                condition=Q(ended_on__isnull=True) | Q(ended_on__gte=F("started_on")),
                name="interest_ends_after_it_starts",
            ),
        ]
        indexes = [models.Index(fields=["person", "ended_on"]), models.Index(fields=["organisation"])]

    def __str__(self) -> str:
        return f"{self.person}: {self.get_kind_display()} interest in {self.subject}"

    @property
    def subject(self) -> str:
        parts = [self.organisation.name if self.organisation_id else "", self.matter]
        return " — ".join(p for p in parts if p)

    def is_current_on(self, day: datetime.date) -> bool:
        return self.started_on <= day and (self.ended_on is None or self.ended_on >= day)

    @property
    def declared_late(self) -> bool:
        """Declared more than 28 days after it began (the rule in rules.DECLARE_WITHIN_DAYS)."""
        from .rules import DECLARE_WITHIN_DAYS

        return (self.declared_at.date() - self.started_on).days > DECLARE_WITHIN_DAYS


class DeclarationReturn(models.Model):
    """A person's periodic return: "I have no interests" (nil) or "my register is complete"."""

    person = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="declaration_returns")
    nil = models.BooleanField(help_text="True for a nil return: no interests to declare.")
    made_at = models.DateTimeField()
    idempotency_key = _idempotency_key()

    class Meta:
        ordering = ["-made_at"]

    def __str__(self) -> str:
        return f"{self.person}: {'nil return' if self.nil else 'declarations confirmed'} on {self.made_at:%Y-%m-%d}"


class DeclarationReminder(models.Model):
    """A reminder that a person's declaration is overdue (recorded; no email is sent)."""

    person = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="declaration_reminders")
    sent_at = models.DateTimeField()
    reason = models.CharField(max_length=400)

    class Meta:
        ordering = ["-sent_at"]

    def __str__(self) -> str:
        return f"Reminder to {self.person} on {self.sent_at:%Y-%m-%d}"


class GiftKind(models.TextChoices):
    GIFT = "gift", "Gift"
    HOSPITALITY = "hospitality", "Hospitality"


class GiftHospitality(models.Model):
    """A gift or hospitality offered to a person, accepted or declined."""

    person = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="gifts")
    kind = models.CharField(max_length=20, choices=GiftKind.choices)
    description = models.CharField(max_length=400)
    offered_by = models.CharField(max_length=250, help_text="Who offered it.")
    offered_by_organisation = models.ForeignKey(
        Organisation, null=True, blank=True, on_delete=models.PROTECT, related_name="gifts_offered"
    )
    value_pounds = models.DecimalField(max_digits=10, decimal_places=2)
    offered_on = models.DateField()
    accepted = models.BooleanField()
    declared_at = models.DateTimeField()
    idempotency_key = _idempotency_key()

    class Meta:
        ordering = ["-offered_on", "pk"]
        verbose_name_plural = "gifts and hospitality"
        constraints = [
            models.CheckConstraint(condition=Q(kind__in=GiftKind.values), name="gift_kind_known"),
            models.CheckConstraint(condition=Q(value_pounds__gte=0), name="gift_value_not_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.person}: {self.get_kind_display()} from {self.offered_by} (£{self.value_pounds})"


class Committee(models.Model):
    """A governing body or one of its committees: members, a quorum, and to whom it reports."""

    name = models.CharField(max_length=250)
    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="committees")
    is_governing_body = models.BooleanField(default=False)
    reports_to = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="sub_committees")
    quorum = models.PositiveSmallIntegerField(help_text="Voting members who must be present and free to vote.")
    remit = models.TextField(blank=True, help_text="What the committee is accountable for.")
    created_at = models.DateTimeField()
    ended_on = models.DateField(null=True, blank=True)
    end_reason = models.CharField(max_length=400, blank=True)
    idempotency_key = _idempotency_key()

    class Meta:
        ordering = ["-is_governing_body", "name"]
        constraints = [
            models.CheckConstraint(condition=Q(quorum__gte=1), name="committee_quorum_at_least_one"),
            models.CheckConstraint(
                condition=_both_or_neither("ended_on", "end_reason", b_is_text=True),
                name="committee_end_has_date_and_reason",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class CommitteeRole(models.TextChoices):
    CHAIR = "chair", "Chair"
    MEMBER = "member", "Member"
    SECRETARY = "secretary", "Secretary (not voting)"
    ATTENDEE = "attendee", "In attendance (not voting)"


VOTING_ROLES = frozenset({CommitteeRole.CHAIR, CommitteeRole.MEMBER})


class CommitteeMember(models.Model):
    committee = models.ForeignKey(Committee, on_delete=models.PROTECT, related_name="members")
    person = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="committee_memberships")
    role = models.CharField(max_length=20, choices=CommitteeRole.choices)
    started_on = models.DateField()
    ended_on = models.DateField(null=True, blank=True)
    end_reason = models.CharField(max_length=400, blank=True)

    class Meta:
        ordering = ["committee", "role", "person__full_name"]
        constraints = [
            models.CheckConstraint(condition=Q(role__in=CommitteeRole.values), name="committee_role_known"),
            models.CheckConstraint(
                condition=_both_or_neither("ended_on", "end_reason", b_is_text=True),
                name="committee_member_end_has_date_and_reason",
            ),
            models.CheckConstraint(
                condition=Q(ended_on__isnull=True) | Q(ended_on__gte=F("started_on")),
                name="committee_member_ends_after_it_starts",
            ),
            models.UniqueConstraint(
                fields=["committee", "person"], condition=Q(ended_on__isnull=True),
                name="one_open_committee_membership",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.person} — {self.get_role_display()} — {self.committee}"

    @property
    def votes(self) -> bool:
        return self.role in VOTING_ROLES

    def is_current_on(self, day: datetime.date) -> bool:
        return self.started_on <= day and (self.ended_on is None or self.ended_on >= day)


class MeetingStatus(models.TextChoices):
    OPEN = "open", "Open"
    CLOSED = "closed", "Closed"


class Meeting(models.Model):
    committee = models.ForeignKey(Committee, on_delete=models.PROTECT, related_name="meetings")
    held_on = models.DateField()
    title = models.CharField(max_length=250)
    location = models.CharField(max_length=250, blank=True)
    attendees = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="meetings_attended")
    created_at = models.DateTimeField()
    closed_at = models.DateTimeField(null=True, blank=True)
    closed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    idempotency_key = _idempotency_key()

    class Meta:
        ordering = ["-held_on", "pk"]
        constraints = [
            # closed_by may be the system (None), so only "closed_by needs closed_at" holds.
            models.CheckConstraint(
                condition=Q(closed_by__isnull=True) | Q(closed_at__isnull=False),
                name="meeting_closed_by_needs_closed_at",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.committee}: {self.title} ({self.held_on:%d %B %Y})"

    @property
    def status(self) -> str:
        return MeetingStatus.CLOSED if self.closed_at else MeetingStatus.OPEN


class AgendaItem(models.Model):
    meeting = models.ForeignKey(Meeting, on_delete=models.PROTECT, related_name="items")
    number = models.PositiveSmallIntegerField()
    title = models.CharField(max_length=250)
    description = models.TextField(blank=True)
    organisations = models.ManyToManyField(Organisation, blank=True, related_name="agenda_items")
    matters = models.JSONField(default=list, blank=True, help_text="Free-text matters the item concerns.")
    needs_decision = models.BooleanField(default=True)
    screened_at = models.DateTimeField(null=True, blank=True)
    idempotency_key = _idempotency_key()

    class Meta:
        ordering = ["meeting", "number"]
        constraints = [
            models.UniqueConstraint(fields=["meeting", "number"], name="one_agenda_item_per_number"),
        ]

    def __str__(self) -> str:
        return f"Item {self.number}: {self.title}"


class EvidenceKind(models.TextChoices):
    INDICATOR = "indicator", "Indicator or data"
    DOCUMENT = "document", "Document"
    ADVICE = "advice", "Clinical advice"
    ENGAGEMENT = "engagement", "Patient and public engagement"


EVIDENCE_ORDER = [EvidenceKind.INDICATOR, EvidenceKind.DOCUMENT, EvidenceKind.ADVICE, EvidenceKind.ENGAGEMENT]


class Evidence(models.Model):
    item = models.ForeignKey(AgendaItem, on_delete=models.PROTECT, related_name="evidence")
    kind = models.CharField(max_length=20, choices=EvidenceKind.choices)
    title = models.CharField(max_length=250)
    url = models.CharField(max_length=500, blank=True, help_text="A link, inside or outside the platform.")
    summary = models.TextField(blank=True)
    added_at = models.DateTimeField()
    idempotency_key = _idempotency_key()

    class Meta:
        ordering = ["item", "kind", "pk"]
        verbose_name_plural = "evidence"
        constraints = [models.CheckConstraint(condition=Q(kind__in=EvidenceKind.values), name="evidence_kind_known")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.title}"


class ConflictSource(models.TextChoices):
    SCREENING = "screening", "Found by screening the register"
    DECLARED = "declared", "Declared at the meeting"


class Management(models.TextChoices):
    NO_ACTION = "no_action", "No action: may discuss and vote"
    DISCUSS_NOT_VOTE = "discuss_not_vote", "May discuss but not vote"
    EXCLUDED = "excluded", "Excluded from the item"


MAY_VOTE = frozenset({Management.NO_ACTION})


class Conflict(models.Model):
    """A member's interest that touches an agenda item, and how the secretary managed it."""

    item = models.ForeignKey(AgendaItem, on_delete=models.PROTECT, related_name="conflicts")
    person = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="conflicts")
    interest = models.ForeignKey(Interest, null=True, blank=True, on_delete=models.PROTECT, related_name="conflicts")
    source = models.CharField(max_length=20, choices=ConflictSource.choices)
    description = models.TextField(help_text="What the conflict is, in plain words.")
    found_at = models.DateTimeField()
    management = models.CharField(max_length=20, choices=Management.choices, blank=True)
    management_reason = models.TextField(blank=True)
    managed_at = models.DateTimeField(null=True, blank=True)
    managed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    idempotency_key = _idempotency_key()

    class Meta:
        ordering = ["item", "person__full_name", "pk"]
        constraints = [
            models.CheckConstraint(condition=Q(source__in=ConflictSource.values), name="conflict_source_known"),
            models.CheckConstraint(
                condition=Q(management="") | Q(management__in=Management.values), name="conflict_management_known"
            ),
            # Paired: managed means an action, a reason and a time, together.
            models.CheckConstraint(
                condition=(Q(management="") & Q(management_reason="") & Q(managed_at__isnull=True))
                | (~Q(management="") & ~Q(management_reason="") & Q(managed_at__isnull=False)),
                name="conflict_management_has_action_reason_and_time",
            ),
            models.UniqueConstraint(
                fields=["item", "person", "interest"], condition=Q(interest__isnull=False),
                name="one_conflict_per_item_person_interest",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.person} on {self.item}: {self.description}"

    @property
    def is_managed(self) -> bool:
        return bool(self.management)

    @property
    def allows_vote(self) -> bool:
        return self.management in MAY_VOTE


class VoteChoice(models.TextChoices):
    FOR = "for", "For"
    AGAINST = "against", "Against"
    ABSTAIN = "abstain", "Abstain"


class Vote(models.Model):
    item = models.ForeignKey(AgendaItem, on_delete=models.PROTECT, related_name="votes")
    person = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="votes")
    choice = models.CharField(max_length=10, choices=VoteChoice.choices)
    cast_at = models.DateTimeField()
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+")
    override_reason = models.TextField(
        blank=True, help_text="The chair's written reason for letting a conflicted member vote."
    )
    idempotency_key = _idempotency_key()

    class Meta:
        ordering = ["item", "person__full_name"]
        constraints = [
            models.CheckConstraint(condition=Q(choice__in=VoteChoice.values), name="vote_choice_known"),
            models.UniqueConstraint(fields=["item", "person"], name="one_vote_per_member_per_item"),
        ]

    def __str__(self) -> str:
        return f"{self.person}: {self.get_choice_display()} on {self.item}"

    @property
    def overridden(self) -> bool:
        return bool(self.override_reason)


class Decision(models.Model):
    item = models.OneToOneField(AgendaItem, on_delete=models.PROTECT, related_name="decision")
    resolution = models.TextField(help_text="What was decided.")
    rationale = models.TextField(help_text="Why: the reasons and the evidence relied on.")
    carried = models.BooleanField()
    votes_for = models.PositiveSmallIntegerField()
    votes_against = models.PositiveSmallIntegerField()
    abstentions = models.PositiveSmallIntegerField()
    quorum_required = models.PositiveSmallIntegerField()
    quorum_present = models.PositiveSmallIntegerField(help_text="Voting members present and free to vote.")
    override_reason = models.TextField(blank=True, help_text="The chair's written reason for deciding without a quorum.")
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    idempotency_key = _idempotency_key()

    class Meta:
        ordering = ["-decided_at", "pk"]
        constraints = [
            # Paired: a decision is recorded at a time by someone, or not at all.
            models.CheckConstraint(
                condition=Q(decided_at__isnull=False, decided_by__isnull=False)
                | Q(decided_at__isnull=True, decided_by__isnull=True),
                name="decision_decided_at_and_by_together",
            ),
            models.CheckConstraint(
                condition=Q(quorum_present__gte=F("quorum_required")) | ~Q(override_reason=""),
                name="decision_without_quorum_needs_override_reason",
            ),
        ]

    def __str__(self) -> str:
        return f"Decision on {self.item}"

    @property
    def quorum_overridden(self) -> bool:
        return bool(self.override_reason)


class BreachKind(models.TextChoices):
    UNDECLARED_INTEREST = "undeclared_interest", "An interest that was not declared"
    VOTED_WHILE_CONFLICTED = "voted_while_conflicted", "A vote taken while conflicted"
    GIFT_NOT_DECLARED = "gift_not_declared", "A gift or hospitality not declared"
    OTHER = "other", "Another breach of the conflicts of interest policy"


class BreachStatus(models.TextChoices):
    OPEN = "open", "Reported"
    INVESTIGATING = "investigating", "Being investigated"
    CLOSED = "closed", "Closed"


class Breach(models.Model):
    person = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="breaches")
    kind = models.CharField(max_length=30, choices=BreachKind.choices)
    description = models.TextField()
    item = models.ForeignKey(AgendaItem, null=True, blank=True, on_delete=models.PROTECT, related_name="breaches")
    reported_at = models.DateTimeField()
    reported_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+")
    investigation = models.TextField(blank=True)
    investigation_started_at = models.DateTimeField(null=True, blank=True)
    outcome = models.TextField(blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    closed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    idempotency_key = _idempotency_key()

    class Meta:
        ordering = ["-reported_at", "pk"]
        verbose_name_plural = "breaches"
        constraints = [
            models.CheckConstraint(condition=Q(kind__in=BreachKind.values), name="breach_kind_known"),
            models.CheckConstraint(
                condition=_both_or_neither("investigation_started_at", "investigation", b_is_text=True),
                name="breach_investigation_has_time_and_notes",
            ),
            models.CheckConstraint(
                condition=_both_or_neither("closed_at", "outcome", b_is_text=True),
                name="breach_closed_with_an_outcome",
            ),
            models.CheckConstraint(
                condition=Q(closed_by__isnull=True) | Q(closed_at__isnull=False),
                name="breach_closed_by_needs_closed_at",
            ),
        ]

    def __str__(self) -> str:
        return f"Breach by {self.person}: {self.get_kind_display()}"

    @property
    def status(self) -> str:
        if self.closed_at:
            return BreachStatus.CLOSED
        if self.investigation_started_at:
            return BreachStatus.INVESTIGATING
        return BreachStatus.OPEN

    @property
    def status_label(self) -> str:
        return BreachStatus(self.status).label


class SubjectKind(models.TextChoices):
    BUDGET_LINE = "budget_line", "Budget line"
    SERVICE = "service", "Service"
    DECISION = "decision", "Decision"
    COMMITTEE = "committee", "Committee"


class Accountability(models.Model):
    """Who is accountable, to whom, and for what."""

    subject_kind = models.CharField(max_length=20, choices=SubjectKind.choices)
    subject = models.CharField(max_length=250, help_text="The budget line, service, decision or committee.")
    decision = models.ForeignKey(Decision, null=True, blank=True, on_delete=models.PROTECT, related_name="accountabilities")
    person = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="accountabilities")
    committee = models.ForeignKey(
        Committee, null=True, blank=True, on_delete=models.PROTECT, related_name="accountabilities",
        help_text="The committee the person answers to for this.",
    )
    accountable_to = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+",
        help_text="The person they answer to, when it is a person.",
    )
    for_what = models.TextField()
    started_on = models.DateField()
    ended_on = models.DateField(null=True, blank=True)
    end_reason = models.CharField(max_length=400, blank=True)
    idempotency_key = _idempotency_key()

    class Meta:
        ordering = ["subject_kind", "subject"]
        verbose_name_plural = "accountabilities"
        constraints = [
            models.CheckConstraint(condition=Q(subject_kind__in=SubjectKind.values), name="accountability_kind_known"),
            models.CheckConstraint(
                condition=Q(committee__isnull=False) | Q(accountable_to__isnull=False),
                name="accountability_names_to_whom",
            ),
            models.CheckConstraint(
                condition=_both_or_neither("ended_on", "end_reason", b_is_text=True),
                name="accountability_end_has_date_and_reason",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.person} accountable for {self.subject}"
