"""Writes to organisations, people and memberships.

Every function here is keyword-only, takes ``by=`` (the acting user, or ``None`` for the
system), runs in one transaction and appends to the audit chain.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from opencommissioning.audit.chain import record

from .importers import (
    FileReport,
    ImportProblem,
    ImportRejected,
    OrganisationRecord,
    ProgressWrapper,
    no_progress,
    read_list_sizes,
    read_ods_directory,
)
from .models import Membership, Organisation, OrganisationKind, RegisteredPopulation, User
from .roles import Role

ORGANISATION_FIELDS = (
    "ods_code",
    "name",
    "kind",
    "parent_id",
    "locality_id",
    "open_date",
    "close_date",
    "postcode",
    "address",
    "is_local_code",
    "source",
)


def organisation_snapshot(organisation: Organisation) -> dict[str, Any]:
    return {field: getattr(organisation, field) for field in ORGANISATION_FIELDS}


def _check_organisation(*, kind: str, open_date: Any, close_date: Any) -> None:
    errors: dict[str, str] = {}
    if kind not in OrganisationKind.values:
        errors["kind"] = f"unknown organisation kind {kind!r}"
    if open_date and close_date and close_date < open_date:
        errors["close_date"] = "the close date is before the open date"
    if errors:
        raise ValidationError(errors)


@transaction.atomic
def create_organisation(
    *,
    by: User | None,
    ods_code: str,
    name: str,
    kind: str,
    parent: Organisation | None = None,
    open_date: datetime.date | None = None,
    close_date: datetime.date | None = None,
    postcode: str = "",
    address: str = "",
    is_local_code: bool = False,
    source: str = "",
) -> Organisation:
    _check_organisation(kind=kind, open_date=open_date, close_date=close_date)
    organisation = Organisation.objects.create(
        ods_code=ods_code.strip().upper(),
        name=name.strip(),
        kind=kind,
        parent=parent,
        open_date=open_date,
        close_date=close_date,
        postcode=postcode.strip().upper(),
        address=address.strip(),
        is_local_code=is_local_code,
        source=source,
    )
    record(
        by=by,
        action="organisation.create",
        obj=organisation,
        summary=f"Created {organisation}",
        after=organisation_snapshot(organisation),
    )
    return organisation


@transaction.atomic
def update_organisation(*, by: User | None, organisation: Organisation, **changes: Any) -> bool:
    """Change the named fields; returns False (and records nothing) when nothing changed."""
    unknown = set(changes) - set(ORGANISATION_FIELDS) - {"parent", "locality"}
    if unknown:
        raise ValueError(f"cannot change {sorted(unknown)} on an organisation")
    for relation in ("parent", "locality"):
        if relation in changes:
            related = changes.pop(relation)
            changes[f"{relation}_id"] = related.pk if related else None
    before = organisation_snapshot(organisation)
    for name, value in changes.items():
        setattr(organisation, name, value)
    after = organisation_snapshot(organisation)
    if after == before:
        return False
    _check_organisation(
        kind=organisation.kind, open_date=organisation.open_date, close_date=organisation.close_date
    )
    organisation.save()
    changed = {k for k in after if after[k] != before[k]}
    record(
        by=by,
        action="organisation.update",
        obj=organisation,
        summary=f"Changed {', '.join(sorted(changed))} of {organisation}",
        before={k: before[k] for k in changed},
        after={k: after[k] for k in changed},
    )
    return True


@transaction.atomic
def create_person(
    *,
    by: User | None,
    username: str,
    full_name: str,
    email: str = "",
    job_title: str = "",
    password: str | None = None,
) -> User:
    if User.objects.filter(username__iexact=username).exists():
        raise ValidationError({"username": f"the username {username!r} is taken"})
    person = User(username=username, full_name=full_name, email=email, job_title=job_title)
    if password:
        person.set_password(password)
    else:
        person.set_unusable_password()
    person.save()
    record(
        by=by,
        action="person.create",
        obj=person,
        summary=f"Created the account {username}",
        after={"username": username, "full_name": full_name, "job_title": job_title},
    )
    return person


@transaction.atomic
def add_membership(
    *,
    by: User | None,
    user: User,
    organisation: Organisation,
    role: str,
    started_on: datetime.date,
) -> Membership:
    if role not in Role.values:
        raise ValidationError({"role": f"unknown role {role!r}"})
    if (
        Membership.objects.select_for_update()
        .filter(user=user, organisation=organisation, role=role, ended_on__isnull=True)
        .exists()
    ):
        raise ValidationError(
            {"role": f"{user} already holds the role {Role(role).label} in {organisation.name}"}
        )
    membership = Membership.objects.create(
        user=user, organisation=organisation, role=role, started_on=started_on
    )
    record(
        by=by,
        action="membership.start",
        obj=membership,
        summary=f"{user} became {Role(role).label} in {organisation.name}",
        after={
            "user": user.username,
            "organisation": organisation.ods_code,
            "role": role,
            "started_on": started_on,
        },
    )
    return membership


@transaction.atomic
def end_membership(
    *, by: User | None, membership: Membership, ended_on: datetime.date, reason: str
) -> Membership:
    if membership.ended_on is not None:
        raise ValidationError({"ended_on": "this membership has already ended"})
    if not reason.strip():
        raise ValidationError({"reason": "give a reason for ending the membership"})
    if ended_on < membership.started_on:
        raise ValidationError({"ended_on": "a membership cannot end before it starts"})
    membership.ended_on = ended_on
    membership.end_reason = reason.strip()
    membership.save(update_fields=["ended_on", "end_reason"])
    record(
        by=by,
        action="membership.end",
        obj=membership,
        summary=f"{membership.user} stopped being {membership.get_role_display()} "
        f"in {membership.organisation.name}",
        before={"ended_on": None},
        after={"ended_on": ended_on, "end_reason": membership.end_reason},
    )
    return membership


# --- reference data imports -----------------------------------------------------------


@dataclass
class ImportSummary:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    files: list[FileReport] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.created or self.updated)


def _record_fields(record: OrganisationRecord) -> dict[str, Any]:
    return {
        "name": record.name,
        "kind": record.kind,
        "open_date": record.open_date,
        "close_date": record.close_date,
        "postcode": record.postcode,
        "address": record.address,
        "source": record.source,
    }


@transaction.atomic
def import_organisations(
    *, by: User | None, data_dir: Path, progress: ProgressWrapper = no_progress
) -> ImportSummary:
    """Load CCGs, practices and NHS trusts from the ODS files in ``data_dir``.

    All or nothing: every file is read and checked first; any problem raises
    :class:`ImportRejected` with all of them and nothing is written. Re-running with the
    same files changes nothing and records nothing.
    """
    result = read_ods_directory(data_dir, progress)
    if result.problems:
        raise ImportRejected(result.problems)
    summary = ImportSummary(files=result.files)
    existing = {o.ods_code: o for o in Organisation.objects.all()}
    created_codes: list[str] = []
    updated: dict[str, dict[str, list[Any]]] = {}
    to_create: list[Organisation] = []
    to_update: list[Organisation] = []
    for rec in progress(result.records, "checking against the directory", len(result.records)):
        fields = _record_fields(rec)
        organisation = existing.get(rec.ods_code)
        if organisation is None:
            organisation = Organisation(ods_code=rec.ods_code, **fields)
            to_create.append(organisation)
            existing[rec.ods_code] = organisation
            created_codes.append(rec.ods_code)
            continue
        if organisation.is_local_code:
            raise ImportRejected(
                [ImportProblem(rec.source, None, "organisation_code",
                               f"{rec.ods_code} is already used as a local code for {organisation.name}")]
            )
        changes = {k: [getattr(organisation, k), v] for k, v in fields.items() if getattr(organisation, k) != v}
        if changes:
            for k, (_old, new) in changes.items():
                setattr(organisation, k, new)
            to_update.append(organisation)
            updated[rec.ods_code] = changes
    Organisation.objects.bulk_create(to_create, batch_size=1000)
    if to_update:
        Organisation.objects.bulk_update(to_update, list(_record_fields(result.records[0])), batch_size=1000)

    # Second pass: practices point at their commissioner.
    ids = dict(Organisation.objects.values_list("ods_code", "pk"))
    reparent: list[Organisation] = []
    unknown_parents: set[str] = set()
    fresh = {o.ods_code: o for o in Organisation.objects.filter(ods_code__in=[r.ods_code for r in result.records if r.parent_code])}
    for rec in result.records:
        if not rec.parent_code:
            continue
        parent_id = ids.get(rec.parent_code)
        if parent_id is None:
            unknown_parents.add(rec.parent_code)
        organisation = fresh[rec.ods_code]
        if organisation.parent_id != parent_id:
            old_parent = organisation.parent_id
            organisation.parent_id = parent_id
            reparent.append(organisation)
            if rec.ods_code not in created_codes:
                updated.setdefault(rec.ods_code, {})["parent_id"] = [old_parent, parent_id]
    Organisation.objects.bulk_update(reparent, ["parent"], batch_size=1000)

    summary.created = len(created_codes)
    summary.updated = len(updated)
    summary.unchanged = len(result.records) - summary.created - summary.updated
    if unknown_parents:
        summary.notes.append(
            f"{len(unknown_parents)} commissioner code(s) named by practices are not CCGs in the "
            f"CCG file and were left unlinked: {', '.join(sorted(unknown_parents)[:20])}"
        )
    if summary.changed:
        record(
            by=by,
            action="organisation.import",
            object_type="core.Organisation",
            summary=f"Imported ODS organisations: {summary.created} created, {summary.updated} updated",
            after={
                "files": {f.path.name: f.sha256 for f in result.files},
                "created": created_codes,
                "updated": updated,
            },
        )
    return summary


@transaction.atomic
def import_list_sizes(
    *,
    by: User | None,
    path: Path,
    commissioner: str | None = None,
    progress: ProgressWrapper = no_progress,
) -> ImportSummary:
    """Load practice list sizes by sex and age band; all or nothing, idempotent."""
    result = read_list_sizes(path, commissioner=commissioner, progress=progress)
    codes = {r.practice_code for r in result.records}
    practices = dict(
        Organisation.objects.filter(ods_code__in=codes, kind=OrganisationKind.PRACTICE).values_list("ods_code", "pk")
    )
    reported: set[str] = set()
    for rec in result.records:
        if rec.practice_code not in practices and rec.practice_code not in reported:
            reported.add(rec.practice_code)
            result.problems.append(
                ImportProblem(path.name, rec.row, "practice_code",
                              f"{rec.practice_code} is not a practice in the directory (run import_organisations first)")
            )
    if result.problems:
        raise ImportRejected(result.problems)
    summary = ImportSummary(files=result.files)
    existing = {
        (o.organisation_id, o.period, o.sex, o.age_band): o
        for o in RegisteredPopulation.objects.filter(organisation_id__in=practices.values())
    }
    to_create: list[RegisteredPopulation] = []
    to_update: list[RegisteredPopulation] = []
    for rec in progress(result.records, "list sizes", len(result.records)):
        key = (practices[rec.practice_code], rec.period, rec.sex, rec.age_band)
        row = existing.get(key)
        if row is None:
            to_create.append(
                RegisteredPopulation(
                    organisation_id=key[0], period=rec.period, sex=rec.sex, age_band=rec.age_band,
                    patients=rec.patients, source=path.name,
                )
            )
        elif row.patients != rec.patients:
            row.patients = rec.patients
            row.source = path.name
            to_update.append(row)
    RegisteredPopulation.objects.bulk_create(to_create, batch_size=2000)
    RegisteredPopulation.objects.bulk_update(to_update, ["patients", "source"], batch_size=2000)
    summary.created, summary.updated = len(to_create), len(to_update)
    summary.unchanged = len(result.records) - summary.created - summary.updated
    if summary.changed:
        record(
            by=by,
            action="population.import",
            object_type="core.RegisteredPopulation",
            summary=f"Imported list sizes from {path.name}: {summary.created} counts created, "
            f"{summary.updated} updated, for {len(codes)} practices",
            after={"file": path.name, "sha256": result.files[0].sha256, "commissioner": commissioner,
                   "practices": sorted(codes), "created": summary.created, "updated": summary.updated},
        )
    return summary
