"""Organisations, people and the roles they hold.

Writes go through :mod:`opencommissioning.core.services`; reads that are reused live in
:mod:`opencommissioning.core.queries`. Nothing here holds a business rule beyond the
invariants the database itself can guard.
"""

from __future__ import annotations

import datetime

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.db.models import Q

from .roles import Role


class User(AbstractUser):
    """A person who signs in. Their roles come from :class:`Membership`."""

    full_name = models.CharField(max_length=200, blank=True)
    job_title = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["full_name", "username"]

    def __str__(self) -> str:
        return self.full_name or self.username

    @property
    def display_name(self) -> str:
        return self.full_name or self.username


class OrganisationKind(models.TextChoices):
    COMMISSIONER = "commissioner", "Commissioner"
    PRACTICE = "practice", "Member practice"
    LOCALITY = "locality", "Locality"
    PROVIDER = "provider", "Provider"
    CLINICAL_SENATE = "clinical_senate", "Clinical senate"
    CLINICAL_NETWORK = "clinical_network", "Clinical network"
    HEALTH_AND_WELLBEING_BOARD = "hwb", "Health and wellbeing board"


class Organisation(models.Model):
    """An organisation named by its ODS code (or a local code where ODS has none)."""

    ods_code = models.CharField("ODS code", max_length=12, unique=True)
    name = models.CharField(max_length=250)
    kind = models.CharField(max_length=20, choices=OrganisationKind.choices)
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="children"
    )
    open_date = models.DateField(null=True, blank=True)
    close_date = models.DateField(null=True, blank=True)
    postcode = models.CharField(max_length=10, blank=True)
    address = models.CharField(max_length=400, blank=True)
    locality = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="locality_members",
        limit_choices_to={"kind": "locality"},
        help_text="For a practice: the locality it belongs to within its commissioner.",
    )
    is_local_code = models.BooleanField(
        default=False, help_text="True when the code is ours, not an ODS code (localities, boards)."
    )
    source = models.CharField(max_length=200, blank=True, help_text="Which file or action made it.")

    class Meta:
        ordering = ["name"]
        indexes = [models.Index(fields=["kind", "name"]), models.Index(fields=["parent", "kind"])]
        constraints = [
            models.CheckConstraint(
                condition=Q(close_date__isnull=True)
                | Q(open_date__isnull=True)
                | Q(close_date__gte=models.F("open_date")),
                name="organisation_closes_after_it_opens",
            ),
            models.CheckConstraint(
                condition=Q(kind__in=OrganisationKind.values), name="organisation_kind_known"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.ods_code})"

    def is_open_on(self, day: datetime.date) -> bool:
        if self.open_date and day < self.open_date:
            return False
        return not (self.close_date and day > self.close_date)

    @property
    def is_open(self) -> bool:
        return self.close_date is None


class Membership(models.Model):
    """A person holding a role in an organisation for a period."""

    user = models.ForeignKey(User, on_delete=models.PROTECT, related_name="memberships")
    organisation = models.ForeignKey(
        Organisation, on_delete=models.PROTECT, related_name="memberships"
    )
    role = models.CharField(max_length=40, choices=Role.choices)
    started_on = models.DateField()
    ended_on = models.DateField(null=True, blank=True)
    end_reason = models.CharField(max_length=400, blank=True)

    class Meta:
        ordering = ["organisation__name", "role"]
        constraints = [
            models.CheckConstraint(condition=Q(role__in=Role.values), name="membership_role_known"),
            # Paired fields: a membership ends with a date and a reason, or neither.
            models.CheckConstraint(
                condition=(Q(ended_on__isnull=True) & Q(end_reason=""))
                | (Q(ended_on__isnull=False) & ~Q(end_reason="")),
                name="membership_end_has_date_and_reason",
            ),
            models.CheckConstraint(
                condition=Q(ended_on__isnull=True) | Q(ended_on__gte=models.F("started_on")),
                name="membership_ends_after_it_starts",
            ),
            models.UniqueConstraint(
                fields=["user", "organisation", "role"],
                condition=Q(ended_on__isnull=True),
                name="one_open_membership_per_role",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} — {self.get_role_display()} — {self.organisation.name}"


class RegisteredPopulation(models.Model):
    """Patients registered with a practice in one period, by sex and age band."""

    organisation = models.ForeignKey(
        Organisation, on_delete=models.PROTECT, related_name="registered_population"
    )
    period = models.DateField(help_text="First day of the period (quarter or month).")
    sex = models.CharField(max_length=1, choices=[("M", "Male"), ("F", "Female")])
    age_band = models.CharField(max_length=10)
    patients = models.PositiveIntegerField()
    source = models.CharField(max_length=200)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organisation", "period", "sex", "age_band"],
                name="one_population_count_per_band",
            )
        ]
        indexes = [models.Index(fields=["organisation", "period"])]

    def __str__(self) -> str:
        return f"{self.organisation.ods_code} {self.period} {self.sex} {self.age_band}: {self.patients}"
