"""Needs and outcomes: the records of loaded data, the computed indicator values, peers,
targets and joint strategy priorities.

Row-level data (population, activity, deprivation, published counts) is not here: it is
Parquet under ``settings.NEEDS_STORE`` (``store.py``), which the analytics engine reads in
place. The database keeps what a page needs: every load's record and every computed value.
Writes go through ``services.py``.
"""

from __future__ import annotations

import datetime

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from opencommissioning.core.models import Organisation, User


class Scope(models.TextChoices):
    LOCAL = "local", "Local (the commissioner's own practices)"
    NATIONAL = "national", "National (every commissioner, for comparators)"
    PUBLISHED = "published", "Published counts (comparators from official statistics)"


class Table(models.TextChoices):
    POPULATION = "population", "Registered population"
    ACTIVITY = "activity", "Activity"
    DEPRIVATION = "deprivation", "Practice deprivation and rurality"
    PUBLISHED = "published", "Published aggregate counts"


class LoadStatus(models.TextChoices):
    QUEUED = "queued", "Waiting for the background worker"
    RUNNING = "running", "Loading"
    LOADED = "loaded", "Loaded"
    REJECTED = "rejected", "Rejected: nothing was loaded"
    FAILED = "failed", "Failed: nothing was loaded"
    WITHDRAWN = "withdrawn", "Withdrawn"


ACTIVE_LOADS = (LoadStatus.QUEUED, LoadStatus.RUNNING, LoadStatus.LOADED)
FINISHED_LOADS = (LoadStatus.LOADED, LoadStatus.REJECTED, LoadStatus.FAILED, LoadStatus.WITHDRAWN)


def is_stale(last: datetime.datetime | None) -> bool:
    if last is None:
        return False
    return (timezone.now() - last).total_seconds() > settings.NEEDS_STALL_SECONDS


class WorkerProgress:
    """What a load and a recompute share: seen as stalled when in progress with no sign
    of life (``heartbeat_at``, else when it started or was asked for) for
    ``NEEDS_STALL_SECONDS``, because the worker died."""

    heartbeat_at: datetime.datetime | None
    started_at: datetime.datetime | None
    requested_at: datetime.datetime

    @property
    def in_progress(self) -> bool:
        raise NotImplementedError

    @property
    def last_activity(self) -> datetime.datetime:
        return self.heartbeat_at or self.started_at or self.requested_at

    @property
    def stalled(self) -> bool:
        return self.in_progress and is_stale(self.last_activity)


class DatasetLoad(WorkerProgress, models.Model):
    """One file loaded (or refused) into the store: what, from where, by whom, when."""

    scope = models.CharField(max_length=20, choices=Scope.choices)
    table = models.CharField(max_length=20, choices=Table.choices)
    source = models.CharField(max_length=300, help_text="Where the data came from (publication, extract).")
    synthetic = models.BooleanField(default=False, help_text="Made-up data from the generator, not real.")
    file_name = models.CharField(max_length=300)
    file_format = models.CharField(max_length=10)
    file_digest = models.CharField("SHA-256 of the file", max_length=64)
    file_bytes = models.BigIntegerField(default=0)
    replace_overlapping = models.BooleanField(default=False)
    status = models.CharField(max_length=20, choices=LoadStatus.choices, default=LoadStatus.QUEUED)
    stage = models.CharField(max_length=100, blank=True)
    progress_done = models.PositiveIntegerField(default=0)
    progress_total = models.PositiveIntegerField(default=100)
    rows = models.BigIntegerField(default=0)
    periods = models.JSONField(default=list, blank=True)
    organisations = models.JSONField(default=list, blank=True)
    counts_by_setting = models.JSONField(default=dict, blank=True)
    problems = models.JSONField(default=list, blank=True, help_text="[row, column, reason], the first 1,000.")
    problem_count = models.PositiveIntegerField(default=0)
    message = models.TextField(blank=True)
    upload_path = models.CharField(max_length=500, blank=True)
    requested_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    requested_at = models.DateTimeField()
    started_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True, help_text="When the worker last showed it was alive.")
    task_id = models.CharField(max_length=64, blank=True, help_text="The background task running this attempt.")
    retry_of = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="retries",
                                 help_text="The stalled or failed attempt this load tries again.")
    finished_at = models.DateTimeField(null=True, blank=True)
    replaced_by = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="replaced")
    partly_replaced = models.JSONField(default=list, blank=True,
                                       help_text="[{load, rows, slices}]: later loads that replaced some of its rows.")
    withdrawn_at = models.DateTimeField(null=True, blank=True)
    withdrawn_reason = models.CharField(max_length=400, blank=True)

    class Meta:
        ordering = ["-requested_at", "-pk"]
        constraints = [
            models.CheckConstraint(condition=Q(status__in=LoadStatus.values), name="needs_load_status_known"),
            models.CheckConstraint(condition=Q(scope__in=Scope.values), name="needs_load_scope_known"),
            models.CheckConstraint(condition=Q(table__in=Table.values), name="needs_load_table_known"),
            # the same file is loaded once into a scope's table (a retry finds the first)
            models.UniqueConstraint(fields=["scope", "table", "file_digest"],
                                    condition=Q(status__in=["queued", "running", "loaded"]),
                                    name="needs_one_active_load_per_file"),
            # paired fields
            models.CheckConstraint(condition=(Q(withdrawn_at__isnull=True) & Q(withdrawn_reason=""))
                                   | (Q(withdrawn_at__isnull=False) & ~Q(withdrawn_reason="")),
                                   name="needs_load_withdrawal_has_date_and_reason"),
            models.CheckConstraint(condition=Q(finished_at__isnull=True, status__in=["queued", "running"])
                                   | Q(finished_at__isnull=False, status__in=["loaded", "rejected", "failed", "withdrawn"]),
                                   name="needs_load_finished_when_done"),
        ]

    def __str__(self) -> str:
        return f"Load {self.pk}: {self.get_table_display()} from {self.file_name}"

    @property
    def percent(self) -> int:
        if self.status in FINISHED_LOADS:
            return 100
        return int(100 * self.progress_done / max(self.progress_total, 1))

    @property
    def in_progress(self) -> bool:
        return self.status in (LoadStatus.QUEUED, LoadStatus.RUNNING)


    @property
    def period_range(self) -> str:
        if not self.periods:
            return ""
        return self.periods[0] if len(self.periods) == 1 else f"{self.periods[0]} to {self.periods[-1]}"


class RunStatus(models.TextChoices):
    QUEUED = "queued", "Waiting for the background worker"
    RUNNING = "running", "Computing"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"


class ComputeRun(WorkerProgress, models.Model):
    """One recompute of every indicator value from the loaded data. Pages read the values
    of the latest finished run."""

    status = models.CharField(max_length=20, choices=RunStatus.choices, default=RunStatus.QUEUED)
    requested_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    requested_at = models.DateTimeField()
    started_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True, help_text="When the worker last showed it was alive.")
    task_id = models.CharField(max_length=64, blank=True, help_text="The background task running this run.")
    retry_of = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="retries")
    finished_at = models.DateTimeField(null=True, blank=True)
    engine = models.CharField(max_length=20, blank=True)
    seconds = models.FloatField(null=True, blank=True)
    values_count = models.PositiveIntegerField(default=0)
    loads = models.JSONField(default=list, blank=True, help_text="Ids of the loads the run read.")
    held_back = models.JSONField(default=list, blank=True, help_text="Indicators with no data loaded.")
    spans = models.JSONField(default=dict, blank=True, help_text="Scope -> span labels computed.")
    span_gaps = models.JSONField(default=dict, blank=True, help_text="Scope -> span label -> months with no activity data.")
    synthetic_scopes = models.JSONField(default=list, blank=True)
    message = models.TextField(blank=True)

    class Meta:
        ordering = ["-requested_at", "-pk"]
        constraints = [models.CheckConstraint(condition=Q(status__in=RunStatus.values), name="needs_run_status_known")]

    def __str__(self) -> str:
        return f"Recompute {self.pk} ({self.get_status_display()})"

    @property
    def in_progress(self) -> bool:
        return self.status in (RunStatus.QUEUED, RunStatus.RUNNING)



class Level(models.TextChoices):
    PRACTICE = "practice", "Practice"
    LOCALITY = "locality", "Locality"
    COMMISSIONER = "commissioner", "Commissioner"
    PROVIDER = "provider", "Provider"
    QUINTILE = "quintile", "Deprivation quintile of a commissioner's practices"
    ENGLAND = "england", "England"


class IndicatorValue(models.Model):
    """One indicator's value for one organisation (or group) and period, as the analytics
    engine computed it; ``public_*`` are the counts after disclosure control."""

    run = models.ForeignKey(ComputeRun, on_delete=models.CASCADE, related_name="values")
    indicator_id = models.CharField(max_length=80)
    scope = models.CharField(max_length=20, choices=Scope.choices)
    level = models.CharField(max_length=20, choices=Level.choices)
    organisation = models.CharField(max_length=30)
    period = models.CharField(max_length=20)
    period_kind = models.CharField(max_length=10)  # "month" or "span"
    numerator = models.FloatField(null=True)
    denominator = models.FloatField(null=True)
    value = models.FloatField(null=True)
    lower = models.FloatField(null=True)
    upper = models.FloatField(null=True)
    lower_998 = models.FloatField(null=True)
    upper_998 = models.FloatField(null=True)
    suppressed = models.BooleanField(default=False)
    imd_quintile = models.SmallIntegerField(null=True)
    synthetic = models.BooleanField(default=False)
    source = models.CharField(max_length=300, blank=True)
    public_numerator = models.FloatField(null=True)
    public_denominator = models.FloatField(null=True)
    public_suppressed = models.BooleanField(default=True)
    # the value and intervals worked out again from the public counts (analytics.profiles.public_values)
    public_value = models.FloatField(null=True)
    public_lower = models.FloatField(null=True)
    public_upper = models.FloatField(null=True)
    public_lower_998 = models.FloatField(null=True)
    public_upper_998 = models.FloatField(null=True)

    class Meta:
        indexes = [
            models.Index(fields=["run", "indicator_id", "level", "period_kind"]),
            models.Index(fields=["run", "organisation", "period_kind"]),
        ]

    def __str__(self) -> str:
        return f"{self.indicator_id} {self.level} {self.organisation} {self.period}: {self.value}"


class PeerSettings(models.Model):
    """The weights of the characteristics peers are matched on, per level; an analyst
    edits them."""

    level = models.CharField(max_length=20, unique=True)
    weights = models.JSONField(default=dict)
    neighbours = models.PositiveSmallIntegerField(default=5)
    updated_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    updated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.CheckConstraint(condition=Q(neighbours__gte=1) & Q(neighbours__lte=20),
                                              name="needs_peer_neighbours_1_to_20")]

    def __str__(self) -> str:
        return f"Peer weights for {self.level}"


class PeerFeatures(models.Model):
    """An organisation's characteristics as the last recompute measured them."""

    run = models.ForeignKey(ComputeRun, on_delete=models.CASCADE, related_name="peer_features")
    level = models.CharField(max_length=20)
    organisation = models.CharField(max_length=30)
    features = models.JSONField(default=dict)
    synthetic = models.BooleanField(default=False)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["run", "level", "organisation"], name="needs_one_feature_row")]

    def __str__(self) -> str:
        return f"Characteristics of {self.organisation} ({self.level})"


class PeerLink(models.Model):
    """One of an organisation's nearest neighbours, nearest first."""

    run = models.ForeignKey(ComputeRun, on_delete=models.CASCADE, related_name="peers")
    level = models.CharField(max_length=20)
    organisation = models.CharField(max_length=30)
    peer = models.CharField(max_length=30)
    rank = models.PositiveSmallIntegerField()
    distance = models.FloatField()

    class Meta:
        ordering = ["organisation", "rank"]
        indexes = [models.Index(fields=["run", "level", "organisation"])]

    def __str__(self) -> str:
        return f"{self.peer} is neighbour {self.rank} of {self.organisation}"


class Target(models.Model):
    """A commissioner's target for an indicator for one organisation: a value by a date."""

    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="needs_targets")
    indicator_id = models.CharField(max_length=80)
    value = models.FloatField()
    due_on = models.DateField()
    note = models.CharField(max_length=500, blank=True)
    set_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    set_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["organisation", "indicator_id"], name="needs_one_target")]

    def __str__(self) -> str:
        return f"Target {self.value} for {self.indicator_id} by {self.due_on}"


class Priority(models.Model):
    """A joint health and wellbeing strategy priority, with the indicators that measure it."""

    board = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="strategy_priorities")
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    recorded_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    recorded_at = models.DateTimeField()
    idempotency_key = models.UUIDField(null=True, blank=True, unique=True)

    class Meta:
        ordering = ["board__name", "title"]

    def __str__(self) -> str:
        return self.title


class PriorityIndicator(models.Model):
    priority = models.ForeignKey(Priority, on_delete=models.CASCADE, related_name="indicators")
    indicator_id = models.CharField(max_length=80)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["priority", "indicator_id"], name="needs_indicator_once_per_priority")]

    def __str__(self) -> str:
        return f"{self.indicator_id} measures {self.priority}"
