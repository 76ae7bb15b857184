"""Every write to needs and outcomes: loads, recomputes, peer weights, targets, priorities.

Each function is keyword-only, takes ``by=`` (the acting user, or ``None`` for the system),
checks its rules first (raising ``ValidationError`` keyed by field, having changed
nothing) and appends an event to the audit chain in the transaction that makes the change.

A load is two steps, so a large file never holds up a page: :func:`request_load` records
the request and queues :func:`run_load` on the background worker (django-tasks, database
backend); :func:`load_file` does both at once for the command line and the demo. A load
is all or nothing: the file is read and every row and column checked first; if anything
is wrong the load is *rejected* with every problem recorded and nothing is written.
Loading the same file (same SHA-256) into the same table again returns the first load.
"""

from __future__ import annotations

import datetime
import hashlib
import logging
import shutil
import threading
import time
import traceback
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import Model
from django.utils import timezone

from opencommissioning.analytics.profiles import DEFAULT_WEIGHTS, FEATURES
from opencommissioning.analytics.validation import UnreadableFile, check_table, read_table
from opencommissioning.audit.chain import record
from opencommissioning.core.models import Organisation, OrganisationKind, User

from . import catalogue, store
from .models import (
    ACTIVE_LOADS,
    ComputeRun,
    DatasetLoad,
    IndicatorValue,
    LoadStatus,
    PeerFeatures,
    PeerLink,
    PeerSettings,
    Priority,
    PriorityIndicator,
    RunStatus,
    Scope,
    Table,
    Target,
)

logger = logging.getLogger(__name__)


def file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _refuse(errors: dict[str, str]) -> None:
    if errors:
        raise ValidationError(errors)


# -- loads --------------------------------------------------------------------------------

def _existing(scope: str, table: str, digest: str) -> DatasetLoad | None:
    return DatasetLoad.objects.filter(scope=scope, table=table, file_digest=digest, status__in=ACTIVE_LOADS).first()


def request_load(*, by: User | None, scope: str, table: str, source: str, path: Path, file_name: str,
                 synthetic: bool = False, replace_overlapping: bool = False,
                 background: bool = True) -> tuple[DatasetLoad, bool]:
    """Record a load of the file at ``path`` (moved into the uploads folder) and queue it.
    Returns (load, created): the same file already loaded or on its way returns that load
    and ``created`` False, and the file is discarded."""
    errors = {}
    if scope not in Scope.values:
        errors["scope"] = f"unknown scope {scope!r}"
    if table not in Table.values:
        errors["table"] = f"unknown table {table!r}"
    if table == Table.PUBLISHED and scope != Scope.PUBLISHED:
        errors["table"] = "published counts are loaded into the published scope"
    if scope == Scope.PUBLISHED and table != Table.PUBLISHED:
        errors["scope"] = "the published scope holds published counts only"
    if not source.strip():
        errors["source"] = "say where the data came from (the publication or extract)"
    fmt = Path(file_name).suffix.lstrip(".").lower()
    if fmt not in ("csv", "parquet"):
        errors["file"] = f"{file_name} is not a .csv or .parquet file"
    _refuse(errors)
    digest = file_digest(path)
    existing = _existing(scope, table, digest)
    stale: DatasetLoad | None = None
    if existing is not None:
        if not existing.stalled:
            return existing, False
        # the earlier attempt's worker died: mark it failed and start afresh
        stale = _give_up_load(by=by, load_id=existing.pk)
        if stale.upload_path:  # the file was sent again: the stale attempt's copy is not needed
            Path(stale.upload_path).unlink(missing_ok=True)
            DatasetLoad.objects.filter(pk=stale.pk).update(upload_path="")
    uploads = Path(settings.NEEDS_UPLOADS)
    uploads.mkdir(parents=True, exist_ok=True)
    kept = uploads / f"{uuid.uuid4().hex}.{fmt}"
    shutil.copyfile(path, kept)
    try:
        with transaction.atomic():
            load = DatasetLoad.objects.create(
                scope=scope, table=table, source=source.strip(), synthetic=synthetic, file_name=Path(file_name).name,
                file_format=fmt, file_digest=digest, file_bytes=kept.stat().st_size,
                replace_overlapping=replace_overlapping, upload_path=str(kept), requested_by=by,
                requested_at=timezone.now(), stage="Waiting for the background worker", retry_of=stale,
            )
            record(by=by, action="needs.load.request", obj=load,
                   summary=f"Asked to load {load.file_name} into {scope} {table}",
                   after={"scope": scope, "table": table, "source": load.source, "file": load.file_name,
                          "sha256": digest, "bytes": load.file_bytes, "synthetic": synthetic})
            if background:
                _enqueue_load(load.pk)
    except IntegrityError:  # the same file requested at the same moment: the first one wins
        kept.unlink(missing_ok=True)
        existing = _existing(scope, table, digest)
        if existing is None:
            raise
        return existing, False
    return load, True


def future_problems(table: Any, *, first_row: int, today: datetime.date,
                    limit: int = 1000) -> tuple[list[list[Any]], int]:
    """Rows dated after the current month (a month, the end of a span of months, or an
    activity date after today): data cannot come from the future, and one such month would
    move "the latest 12 months" years ahead. Returns ([row, column, reason], count)."""
    import pyarrow.compute as pc

    problems: list[list[Any]] = []
    count = 0
    this_month = f"{today.year:04d}-{today.month:02d}"
    if "period" in table.column_names:
        ends = pc.utf8_slice_codeunits(pc.fill_null(table["period"], ""), -7, 2**31 - 1)
        late = pc.greater(ends, this_month).to_pylist()
        periods = table["period"].to_pylist()
        for i, bad in enumerate(late):
            if bad:
                count += 1
                if len(problems) < limit:
                    problems.append([first_row + i, "period",
                                     f"{periods[i]!r} is after the current month ({this_month}): data cannot be from the future"])
    if "activity_date" in table.column_names:
        dates = table["activity_date"].to_pylist()
        for i, d in enumerate(dates):
            if d is not None and d > today:
                count += 1
                if len(problems) < limit:
                    problems.append([first_row + i, "activity_date", f"{d.isoformat()} is after today ({today.isoformat()})"])
    problems.sort(key=lambda p: (p[0], p[1]))
    return problems, count


def _enqueue_on_commit(task: Any, model: type[Model], pk: int) -> None:
    """Queue ``task(pk)`` when the transaction commits, and remember the task's id on the
    load or recompute (so a stalled one's task can be marked failed)."""

    def enqueue() -> None:
        result = task.enqueue(pk)
        model._default_manager.filter(pk=pk, task_id="").update(task_id=str(result.id)[:64])

    transaction.on_commit(enqueue)


def _enqueue_load(load_id: int) -> None:
    from .tasks import load_dataset

    _enqueue_on_commit(load_dataset, DatasetLoad, load_id)


def _stall_reason(work: DatasetLoad | ComputeRun) -> str:
    """Why a stalled load or recompute was given up, in words."""
    last = timezone.localtime(work.last_activity)
    return (f"the background worker stopped: no progress since {last:%d %B %Y %H:%M:%S} "
            f"(more than {settings.NEEDS_STALL_SECONDS // 60 or 1} minute(s))")


def _progress(load: DatasetLoad, stage: str, done: int, total: int) -> None:
    """Progress is written outside the load's transaction so the page can show it (only
    while this attempt still runs: a stalled attempt given up stays failed)."""
    DatasetLoad.objects.filter(pk=load.pk, status=LoadStatus.RUNNING).update(
        stage=stage, progress_done=done, progress_total=max(total, 1), heartbeat_at=timezone.now())


@contextmanager
def _heartbeat(model: type[Model], pk: int, running: str) -> Iterator[None]:
    """While the body runs, a thread writes ``heartbeat_at`` every NEEDS_HEARTBEAT_SECONDS,
    so a load or recompute whose worker died is seen as stalled, however long one step of
    a live one takes."""
    interval = float(settings.NEEDS_HEARTBEAT_SECONDS)
    if interval <= 0:
        yield
        return
    stop = threading.Event()

    def beat() -> None:
        try:
            while not stop.wait(interval):
                try:
                    model._default_manager.filter(pk=pk, status=running).update(heartbeat_at=timezone.now())
                except Exception:  # noqa: BLE001 - a missed beat (a locked SQLite file, say): try at the next
                    logger.warning("heartbeat of %s %s missed", model.__name__, pk, exc_info=True)
        finally:
            connection.close()

    thread = threading.Thread(target=beat, name=f"heartbeat-{model.__name__}-{pk}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def _fail_task(task_id: str, reason: str) -> None:
    """Mark a dead worker's task result failed (database backend only), so the task list
    does not show it running for ever."""
    if not task_id:
        return
    try:
        from django_tasks_db.models import DBTaskResult
    except ImportError:  # pragma: no cover - another backend keeps its own records
        return
    for result in DBTaskResult.objects.filter(id=task_id, status="RUNNING"):
        result.set_failed(RuntimeError(reason))


def _give_up_load(*, by: User | None, load_id: int) -> DatasetLoad:
    """Mark a stalled attempt failed (audited), remove anything it wrote to the store, and
    keep its uploaded file for the next attempt. Its worker, if it ever wakes, finds the
    attempt failed and publishes nothing."""
    with transaction.atomic():
        load = DatasetLoad.objects.select_for_update().get(pk=load_id)
        if not load.stalled:
            return load
        reason = f"{_stall_reason(load)} at \"{load.stage}\""
        before = {"status": load.status, "stage": load.stage, "percent": load.percent}
        load.status = LoadStatus.FAILED
        load.finished_at = timezone.now()
        load.problems = [[None, "", reason]]
        load.problem_count = 1
        load.message = reason
        load.stage = "Stalled: nothing was loaded"
        load.save()
        record(by=by, action="needs.load.stalled", obj=load, summary=f"Gave up load {load.pk} ({load.file_name}): {reason}",
               before=before, after={"status": LoadStatus.FAILED, "reason": reason})
        scope, table, pk, task_id = load.scope, load.table, load.pk, load.task_id
        transaction.on_commit(lambda: store.remove(scope, table, pk))
        transaction.on_commit(lambda: _fail_task(task_id, reason))
    return load


def retry_load(*, by: User | None, load: DatasetLoad) -> DatasetLoad:
    """Try a stalled or failed load again: the stale attempt is marked failed (its partial
    Parquet removed) and a fresh attempt of the same file is queued."""
    load = DatasetLoad.objects.get(pk=load.pk)
    upload = Path(load.upload_path) if load.upload_path else None
    errors = {}
    if not (load.stalled or load.status == LoadStatus.FAILED):
        errors["status"] = "only a stalled or failed load can be tried again"
    elif upload is None or not upload.exists():
        errors["file"] = "the uploaded file is no longer kept: upload it again"
    _refuse(errors)
    if load.stalled:
        load = _give_up_load(by=by, load_id=load.pk)
    with transaction.atomic():
        old = DatasetLoad.objects.select_for_update().get(pk=load.pk)
        _refuse({"status": "this load was already tried again"} if not old.upload_path else {})
        fresh = DatasetLoad.objects.create(
            scope=old.scope, table=old.table, source=old.source, synthetic=old.synthetic, file_name=old.file_name,
            file_format=old.file_format, file_digest=old.file_digest, file_bytes=old.file_bytes,
            replace_overlapping=old.replace_overlapping, upload_path=old.upload_path, requested_by=by,
            requested_at=timezone.now(), stage="Waiting for the background worker", retry_of=old)
        old.upload_path = ""
        old.save(update_fields=["upload_path"])
        record(by=by, action="needs.load.retry", obj=fresh, summary=f"Tried load {old.pk} ({old.file_name}) again as load {fresh.pk}",
               after={"retry_of": old.pk, "file": old.file_name, "sha256": old.file_digest})
        _enqueue_load(fresh.pk)
    return fresh


#: The columns that say which organisation and period (and, for published counts, which
#: indicator) a row is about: a correction replaces exactly these slices of earlier loads.
SLICE_COLUMNS = {"population": ("organisation", "period"), "activity": ("practice", "period"),
                 "deprivation": ("organisation",), "published": ("indicator_id", "level", "organisation", "period")}


def _slice_keys(table: Any, columns: tuple[str, ...]) -> Any:
    import pyarrow as pa
    import pyarrow.compute as pc

    parts = [pc.fill_null(table[c].cast(pa.string()), "") for c in columns]
    return parts[0] if len(parts) == 1 else pc.binary_join_element_wise(*parts, "|")


@dataclass
class Overlap:
    load: DatasetLoad
    keys: set[str]


def _overlapping(load: DatasetLoad, table: Any, periods: list[str], organisations: list[str]) -> list[Overlap]:
    """Loaded data of the same scope and table with rows for the same organisation and
    period (and, for published counts, indicator) as this file: loading both would count
    those rows twice. Only those slices overlap, not the whole earlier load."""
    import pyarrow as pa
    import pyarrow.compute as pc

    columns = SLICE_COLUMNS[load.table]
    out = []
    wanted_periods, wanted_orgs = set(periods), set(organisations)
    mine = None
    for other in DatasetLoad.objects.filter(scope=load.scope, table=load.table, status=LoadStatus.LOADED).exclude(pk=load.pk):
        same_periods = not periods or not other.periods or wanted_periods & set(other.periods)
        if not (same_periods and wanted_orgs & set(other.organisations)):
            continue
        if mine is None:
            mine = pc.unique(_slice_keys(table, columns))
        theirs = _slice_keys(store.read_load(other.scope, other.table, other.pk, list(columns)), columns)
        common = pc.filter(mine, pc.is_in(mine, value_set=pc.unique(theirs)))
        if len(common):
            out.append(Overlap(other, {str(k) for k in common.cast(pa.string()).to_pylist()}))
    return out


def _overlap_problems(table: Any, first_row: int, columns: tuple[str, ...], overlaps: list[Overlap],
                      limit: int = 1000) -> tuple[list[list[Any]], int]:
    """One problem per overlapping slice, against its organisation and period columns, at
    the first row of the slice in this file."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    keys = _slice_keys(table, columns)
    owner = {k: o.load for o in overlaps for k in o.keys}
    mask = pc.is_in(keys, value_set=pa.array(sorted(owner), pa.string()))
    problems: list[list[Any]] = []
    seen: set[str] = set()
    names = keys.to_pylist() if hasattr(keys, "to_pylist") else list(keys)
    for i in np.flatnonzero(np.asarray(mask.to_numpy(zero_copy_only=False), dtype=bool)):
        key = names[int(i)]
        if key in seen:
            continue
        seen.add(key)
        if len(problems) < limit:
            other = owner[key]
            slice_text = " ".join(k for k in key.split("|") if k)
            problems.append([first_row + int(i), ", ".join(columns),
                             f"{slice_text} is already loaded by load {other.pk} ({other.file_name}): withdraw it, or "
                             "load again choosing to replace overlapping data"])
    return problems, len(owner)


def run_load(*, load_id: int) -> DatasetLoad:
    """Check and write one requested load (the background task's body)."""
    load = DatasetLoad.objects.get(pk=load_id)
    if load.status != LoadStatus.QUEUED:
        return load  # a retry of a load that already ran
    now = timezone.now()
    claimed = DatasetLoad.objects.filter(pk=load.pk, status=LoadStatus.QUEUED).update(
        status=LoadStatus.RUNNING, started_at=now, heartbeat_at=now, stage="Reading the file", progress_done=0,
        progress_total=100)
    if not claimed:
        return DatasetLoad.objects.get(pk=load.pk)
    with _heartbeat(DatasetLoad, load.pk, LoadStatus.RUNNING):
        return _run_claimed(DatasetLoad.objects.get(pk=load.pk))


def _run_claimed(load: DatasetLoad) -> DatasetLoad:
    path = Path(load.upload_path)
    try:
        try:
            raw, first_row = read_table(path, file_format=load.file_format)
        except UnreadableFile as unreadable:
            return _reject(load, [[p.row, p.column, p.reason] for p in unreadable.problems], len(unreadable.problems))
        _progress(load, f"Checking {raw.num_rows:,} rows", 20, 100)
        checked = check_table(load.table, raw, first_row=first_row)
        del raw
        if not checked.ok or checked.table is None:
            return _reject(load, [[p.row, p.column, p.reason] for p in checked.problems], checked.problem_count)
        future, future_count = future_problems(checked.table, first_row=first_row, today=timezone.localdate())
        if future_count:
            return _reject(load, future, future_count)
        overlaps = _overlapping(load, checked.table, checked.periods, checked.organisations)
        if overlaps and not load.replace_overlapping:
            problems, count = _overlap_problems(checked.table, first_row, SLICE_COLUMNS[load.table], overlaps)
            return _reject(load, problems, count)
        if overlaps:
            _progress(load, "Taking the slices it replaces out of earlier loads", 55, 100)
        partial = {o.load.pk: _rewrite_without(load, o) for o in overlaps}
        total = checked.table.num_rows
        written = [0]

        def wrote(rows: int) -> None:
            written[0] += rows
            _progress(load, f"Writing {written[0]:,} of {total:,} rows", 60 + int(40 * written[0] / max(total, 1)), 100)

        _progress(load, "Writing", 60, 100)
        store.write_staged(load.pk, checked.table, wrote)
        if not _publish(load, checked.table.num_rows, checked, overlaps, partial):
            # this attempt was given up as stalled while it ran: publish nothing
            store.remove(load.scope, load.table, load.pk)
            return DatasetLoad.objects.get(pk=load.pk)
        path.unlink(missing_ok=True)
        return load
    except Exception as error:  # noqa: BLE001 - recorded on the load, never half-written
        logger.exception("load %s failed", load.pk)
        store.remove(load.scope, load.table, load.pk)
        return _finish_unloaded(load, LoadStatus.FAILED, [[None, "", f"the load failed: {type(error).__name__}: {error}"]],
                                1, traceback.format_exc(limit=3))


def _rewrite_without(load: DatasetLoad, overlap: Overlap) -> dict[str, Any] | None:
    """Write the earlier load's rows without the slices this load replaces (staged beside
    this load); None when nothing of it would be left (then it is withdrawn whole)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    other = overlap.load
    columns = SLICE_COLUMNS[other.table]
    rows = store.read_load(other.scope, other.table, other.pk)
    keep = pc.invert(pc.is_in(_slice_keys(rows, columns), value_set=pa.array(sorted(overlap.keys), pa.string())))
    left = rows.filter(keep)
    if left.num_rows == 0:
        return None
    store.write_rewrite(load.pk, other.pk, left)
    org_col = "practice" if other.table == "activity" else "organisation"
    by = "setting" if other.table == "activity" else ("indicator_id" if other.table == "published" else None)
    counts = other.counts_by_setting
    if by is not None:
        pairs = left[by].value_counts().to_pylist()
        counts = {str(p["values"]): int(p["counts"]) for p in pairs if p["values"] is not None}
    return {"rows": left.num_rows, "removed": rows.num_rows - left.num_rows, "slices": len(overlap.keys),
            "organisations": sorted(set(left[org_col].drop_null().to_pylist())),
            "periods": sorted(set(left["period"].drop_null().to_pylist())) if "period" in left.column_names else [],
            "counts_by_setting": counts}


@transaction.atomic
def _publish(load: DatasetLoad, total: int, checked: Any, overlaps: list[Overlap],
             partial: dict[int, dict[str, Any] | None]) -> bool:
    """Record the load as loaded, take the slices it replaces out of earlier loads, and move
    the folders into place, in one transaction; False (and nothing changed) when the
    attempt was given up as stalled meanwhile."""
    if DatasetLoad.objects.select_for_update().get(pk=load.pk).status != LoadStatus.RUNNING:
        return False
    swaps = []
    for overlap in overlaps:
        other = DatasetLoad.objects.select_for_update().get(pk=overlap.load.pk)
        rewritten = partial.get(other.pk)
        if rewritten is None:
            _withdraw(by=load.requested_by, load=other, reason=f"replaced by load {load.pk}", replaced_by=load)
            continue
        before = {"rows": other.rows, "organisations": len(other.organisations), "periods": other.period_range}
        other.rows = rewritten["rows"]
        other.organisations = rewritten["organisations"]
        other.periods = rewritten["periods"] or other.periods
        other.counts_by_setting = rewritten["counts_by_setting"]
        other.partly_replaced = [*other.partly_replaced, {"load": load.pk, "rows": rewritten["removed"],
                                                          "slices": rewritten["slices"]}]
        other.save(update_fields=["rows", "organisations", "periods", "counts_by_setting", "partly_replaced"])
        record(by=load.requested_by, action="needs.load.partly_replaced", obj=other,
               summary=f"Load {load.pk} replaced {rewritten['removed']:,} rows ({rewritten['slices']:,} organisation-"
                       f"period slices) of load {other.pk} ({other.file_name})",
               before=before, after={"rows": other.rows, "organisations": len(other.organisations),
                                     "replaced_by_load": load.pk, "slices": rewritten["slices"]})
        swaps.append(other)
    load.status = LoadStatus.LOADED
    load.rows = total
    load.periods = checked.periods
    load.organisations = checked.organisations
    load.counts_by_setting = checked.counts_by_setting
    load.finished_at = timezone.now()
    load.stage = "Loaded"
    load.progress_done = load.progress_total = 100
    load.upload_path = ""
    load.save()
    record(by=load.requested_by, action="needs.load", obj=load,
           summary=f"Loaded {total:,} rows of {load.table} from {load.file_name}",
           after={"rows": total, "periods": [checked.periods[0], checked.periods[-1]] if checked.periods else [],
                  "organisations": len(checked.organisations), "sha256": load.file_digest,
                  "counts_by_setting": checked.counts_by_setting,
                  "replaced": [o.load.pk for o in overlaps if partial.get(o.load.pk) is None],
                  "partly_replaced": [o.pk for o in swaps]})
    for other in swaps:
        aside = store.swap_rewrite(load.pk, other.pk, other.scope, other.table)
        transaction.on_commit(lambda aside=aside: store.discard(aside))
    store.publish(load.pk, load.scope, load.table)
    return True


def _reject(load: DatasetLoad, problems: list[list[Any]], count: int) -> DatasetLoad:
    return _finish_unloaded(load, LoadStatus.REJECTED, problems, count, "")


def _finish_unloaded(load: DatasetLoad, status: str, problems: list[list[Any]], count: int, message: str) -> DatasetLoad:
    """A rejected load's file is discarded (it must be corrected); a failed one's is kept
    so the analyst can try again."""
    upload = Path(load.upload_path) if load.upload_path and status == LoadStatus.REJECTED else None
    with transaction.atomic():
        current = DatasetLoad.objects.select_for_update().get(pk=load.pk)
        if current.status != LoadStatus.RUNNING:
            return current  # given up as stalled meanwhile
        load.status = status
        load.problems = problems[:1000]
        load.problem_count = count
        load.finished_at = timezone.now()
        load.stage = "Nothing was loaded"
        load.message = message
        if upload is not None:
            load.upload_path = ""
        load.save()
        record(by=load.requested_by, action=f"needs.load.{status}", obj=load,
               summary=f"Did not load {load.file_name}: {count} problem(s)",
               after={"problems": count, "first": problems[:5]})
    if upload is not None:
        upload.unlink(missing_ok=True)
    return load


def load_file(*, by: User | None, scope: str, table: str, source: str, path: Path, synthetic: bool = False,
              replace_overlapping: bool = False, file_name: str | None = None) -> tuple[DatasetLoad, bool]:
    """Request and run a load at once (the command line, the demo)."""
    load, created = request_load(by=by, scope=scope, table=table, source=source, path=path,
                                 file_name=file_name or path.name, synthetic=synthetic,
                                 replace_overlapping=replace_overlapping, background=False)
    if created:
        load = run_load(load_id=load.pk)
    return load, created


def _withdraw(*, by: User | None, load: DatasetLoad, reason: str, replaced_by: DatasetLoad | None = None) -> DatasetLoad:
    load.status = LoadStatus.WITHDRAWN
    load.withdrawn_at = timezone.now()
    load.withdrawn_reason = reason
    load.replaced_by = replaced_by
    load.save(update_fields=["status", "withdrawn_at", "withdrawn_reason", "replaced_by"])
    record(by=by, action="needs.load.withdraw", obj=load, summary=f"Withdrew load {load.pk} ({load.file_name}): {reason}",
           before={"status": LoadStatus.LOADED}, after={"status": LoadStatus.WITHDRAWN, "reason": reason})
    transaction.on_commit(lambda: store.remove(load.scope, load.table, load.pk))
    return load


@transaction.atomic
def withdraw_load(*, by: User | None, load: DatasetLoad, reason: str) -> DatasetLoad:
    """Take a loaded file's rows out of the store (the next recompute leaves them out)."""
    load = DatasetLoad.objects.select_for_update().get(pk=load.pk)
    _refuse({"status": "only a loaded file can be withdrawn"} if load.status != LoadStatus.LOADED else {})
    _refuse({"reason": "give a reason for withdrawing the load"} if not reason.strip() else {})
    return _withdraw(by=by, load=load, reason=reason.strip())


# -- recompute ----------------------------------------------------------------------------

def request_recompute(*, by: User | None) -> ComputeRun:
    """Queue a recompute on the background worker (one at a time: a queued or running one
    is returned instead of a second)."""
    with transaction.atomic():
        pending = ComputeRun.objects.select_for_update().filter(status__in=[RunStatus.QUEUED, RunStatus.RUNNING]).first()
        stale = None
        if pending is not None:
            if not pending.stalled:
                return pending
            stale = _give_up_run(by=by, run=pending)
        run = ComputeRun.objects.create(requested_by=by, requested_at=timezone.now(), retry_of=stale)
        record(by=by, action="needs.recompute.request", obj=run, summary="Asked to recompute every indicator",
               after={"retry_of": stale.pk if stale else None})
        from .tasks import recompute_values

        _enqueue_on_commit(recompute_values, ComputeRun, run.pk)
    return run


def _give_up_run(*, by: User | None, run: ComputeRun) -> ComputeRun:
    """Mark a stalled recompute failed (audited); its worker, if it wakes, stores nothing."""
    reason = _stall_reason(run)
    before = run.status
    ComputeRun.objects.filter(pk=run.pk).update(status=RunStatus.FAILED, finished_at=timezone.now(),
                                                message=f"Stalled: {reason}")
    run.refresh_from_db()
    record(by=by, action="needs.recompute.stalled", obj=run, summary=f"Gave up recompute {run.pk}: {reason}",
           before={"status": before}, after={"status": RunStatus.FAILED, "reason": reason})
    task_id = run.task_id
    transaction.on_commit(lambda: _fail_task(task_id, reason))
    return run


def retry_recompute(*, by: User | None, run: ComputeRun) -> ComputeRun:
    """Try a stalled or failed recompute again (a new run; a stalled one is marked failed)."""
    run = ComputeRun.objects.get(pk=run.pk)
    _refuse({"status": "only a stalled or failed recompute can be tried again"}
            if not (run.stalled or run.status == RunStatus.FAILED) else {})
    return request_recompute(by=by)


def recompute(*, by: User | None, run: ComputeRun | None = None) -> ComputeRun:
    """Compute every indicator value from the loaded data and store them (the previous
    run's values stay in place until this one has finished)."""
    from .compute import compute_all

    now = timezone.now()
    if run is None:
        with transaction.atomic():
            run = ComputeRun.objects.create(requested_by=by, requested_at=now, status=RunStatus.RUNNING,
                                            started_at=now, heartbeat_at=now, engine=settings.NEEDS_ENGINE)
    else:
        # claim it: a task run twice (or a run already given up) computes nothing
        claimed = ComputeRun.objects.filter(pk=run.pk, status=RunStatus.QUEUED).update(
            status=RunStatus.RUNNING, started_at=now, heartbeat_at=now, engine=settings.NEEDS_ENGINE)
        run.refresh_from_db()
        if not claimed:
            return run
    started = time.perf_counter()
    try:
        with _heartbeat(ComputeRun, run.pk, RunStatus.RUNNING):
            computed = compute_all()
    except Exception as error:
        logger.exception("recompute %s failed", run.pk)
        with transaction.atomic():
            if ComputeRun.objects.filter(pk=run.pk, status=RunStatus.RUNNING).update(
                    status=RunStatus.FAILED, finished_at=timezone.now(), message=f"{type(error).__name__}: {error}"):
                run.refresh_from_db()
                record(by=by, action="needs.recompute.failed", obj=run, summary=f"Recompute failed: {type(error).__name__}")
        raise
    fields = {f.name for f in IndicatorValue._meta.concrete_fields} - {"id", "run"}
    with transaction.atomic():
        current = ComputeRun.objects.select_for_update().get(pk=run.pk)
        if current.status != RunStatus.RUNNING:
            logger.warning("recompute %s was given up while it ran: its values are not stored", run.pk)
            return current
        IndicatorValue.objects.bulk_create(
            (IndicatorValue(run=run, **{k: v[k] for k in fields if k in v}) for v in computed.values), batch_size=2000)
        PeerFeatures.objects.bulk_create(PeerFeatures(run=run, level=level, organisation=code, features=feats,
                                                      synthetic=synthetic)
                                         for level, code, feats, synthetic in computed.features)
        PeerLink.objects.bulk_create(PeerLink(run=run, level=level, organisation=code, peer=peer, rank=rank, distance=d)
                                     for level, code, peer, rank, d in computed.peers)
        run.status = RunStatus.DONE
        run.finished_at = timezone.now()
        run.engine = settings.NEEDS_ENGINE
        run.seconds = round(time.perf_counter() - started, 2)
        run.values_count = len(computed.values)
        run.loads = computed.loads
        run.held_back = computed.held_back
        run.spans = computed.spans
        run.span_gaps = computed.span_gaps
        run.synthetic_scopes = computed.synthetic_scopes
        run.save()
        record(by=by, action="needs.recompute", obj=run,
               summary=f"Recomputed {run.values_count:,} indicator values in {run.seconds} s",
               after={"values": run.values_count, "loads": run.loads, "held_back": run.held_back,
                      "engine": run.engine, "seconds": run.seconds})
        # keep the two latest finished runs; older values are reproducible from the loads
        old = ComputeRun.objects.filter(status=RunStatus.DONE).exclude(pk=run.pk).order_by("-finished_at")[1:]
        IndicatorValue.objects.filter(run__in=list(old)).delete()
    return run


# -- peers --------------------------------------------------------------------------------

@transaction.atomic
def set_peer_weights(*, by: User | None, level: str, weights: dict[str, float], neighbours: int) -> PeerSettings:
    """The weights peers are matched on at a level (applied at the next recompute)."""
    errors = {}
    if level not in ("practice", "commissioner"):
        errors["level"] = "peers are matched for practices or commissioners"
    unknown = set(weights) - set(FEATURES)
    if unknown:
        errors["weights"] = f"unknown characteristic(s): {', '.join(sorted(unknown))}"
    if any(w < 0 or w > 10 for w in weights.values()):
        errors["weights"] = "each weight must be between 0 and 10"
    if weights and not any(w > 0 for w in weights.values()):
        errors["weights"] = "at least one characteristic needs a weight above 0"
    if not 1 <= neighbours <= 20:
        errors["neighbours"] = "choose between 1 and 20 neighbours"
    _refuse(errors)
    current = PeerSettings.objects.select_for_update().filter(level=level).first()
    before = {"weights": current.weights, "neighbours": current.neighbours} if current else \
        {"weights": DEFAULT_WEIGHTS, "neighbours": 5}
    saved = {**DEFAULT_WEIGHTS, **{k: float(v) for k, v in weights.items()}}
    current, _ = PeerSettings.objects.update_or_create(
        level=level, defaults={"weights": saved, "neighbours": neighbours, "updated_by": by, "updated_at": timezone.now()})
    record(by=by, action="needs.peers.weights", obj=current, summary=f"Changed the peer weights for {level}s",
           before=before, after={"weights": saved, "neighbours": neighbours})
    return current


# -- targets and priorities ------------------------------------------------------------

@transaction.atomic
def set_target(*, by: User, organisation: Organisation, indicator_id: str, value: float, due_on: datetime.date,
               note: str = "") -> Target:
    """A target for an indicator for one organisation (replacing any earlier one)."""
    ind = catalogue.by_id(indicator_id)
    errors = {}
    if ind is None:
        errors["indicator"] = f"{indicator_id!r} is not in the indicator catalogue"
    if organisation.kind not in (OrganisationKind.COMMISSIONER, OrganisationKind.PRACTICE, OrganisationKind.LOCALITY):
        errors["organisation"] = "targets are set for a commissioner, a locality or a practice"
    if value < 0 or (ind is not None and ind.method == "proportion" and value > ind.multiplier):
        errors["value"] = "the target is outside the indicator's possible values"
    if due_on <= timezone.localdate():
        errors["due_on"] = "the target date must be in the future"
    _refuse(errors)
    current = Target.objects.select_for_update().filter(organisation=organisation, indicator_id=indicator_id).first()
    before = {"value": current.value, "due_on": current.due_on, "note": current.note} if current else None
    target, _ = Target.objects.update_or_create(
        organisation=organisation, indicator_id=indicator_id,
        defaults={"value": value, "due_on": due_on, "note": note.strip(), "set_by": by, "set_at": timezone.now()})
    record(by=by, action="needs.target", obj=target,
           summary=f"Target for {indicator_id} at {organisation.ods_code}: {value:g} by {due_on}",
           before=before, after={"value": value, "due_on": due_on, "note": target.note,
                                 "organisation": organisation.ods_code, "indicator": indicator_id})
    return target


def record_priority(*, by: User, board: Organisation, title: str, description: str, indicator_ids: Iterable[str],
                    idempotency_key: uuid.UUID | None = None) -> Priority:
    """A joint health and wellbeing strategy priority with the indicators that measure it.
    A form submitted twice (same idempotency key) returns the first priority."""
    if idempotency_key is not None and (existing := Priority.objects.filter(idempotency_key=idempotency_key).first()):
        return existing
    ids = sorted(set(indicator_ids))
    errors = {}
    if board.kind != OrganisationKind.HEALTH_AND_WELLBEING_BOARD:
        errors["board"] = "priorities belong to a health and wellbeing board"
    if not title.strip():
        errors["title"] = "give the priority a title"
    unknown = [i for i in ids if catalogue.by_id(i) is None]
    if unknown:
        errors["indicators"] = f"not in the catalogue: {', '.join(unknown)}"
    if not ids:
        errors["indicators"] = "choose at least one indicator that measures the priority"
    _refuse(errors)
    try:
        with transaction.atomic():
            priority = Priority.objects.create(board=board, title=title.strip(), description=description.strip(),
                                               recorded_by=by, recorded_at=timezone.now(),
                                               idempotency_key=idempotency_key)
            PriorityIndicator.objects.bulk_create(PriorityIndicator(priority=priority, indicator_id=i) for i in ids)
            record(by=by, action="needs.priority", obj=priority, summary=f"Recorded the priority {priority.title}",
                   after={"board": board.ods_code, "title": priority.title, "indicators": ids})
    except IntegrityError:
        existing = Priority.objects.filter(idempotency_key=idempotency_key).first() if idempotency_key else None
        if existing is None:
            raise
        return existing
    return priority
