"""The demo commissioning organisation: real ODS data where we have it, people for every role.

Run by ``manage.py load_demo`` (and so by ``make demo``). Idempotent: a second run finds
what the first made and changes nothing; demo passwords are kept in ``var/`` so they stay
the same between runs. Demo only: these sign-ins must never exist in production.
"""

from __future__ import annotations

import csv
import datetime
import json
import random
import secrets
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.db import transaction

from . import services
from .importers import LIST_SIZE_BANDS, ProgressWrapper, band_label, no_progress
from .models import Membership, Organisation, OrganisationKind, RegisteredPopulation, User
from .roles import Role

DEMO_COMMISSIONER = "02A"  # NHS Trafford CCG: real practices, localities and list sizes
DEMO_PROVIDER = "R0A"  # Manchester University NHS Foundation Trust
TRAFFORD_LOCALITY_FILE = "nhsd_trafford_gp_registered_patients_2026-01.csv"
SYNTHETIC_COMMISSIONER = "99Z"
STARTED_ON = datetime.date(2026, 4, 1)


@dataclass(frozen=True)
class DemoPerson:
    username: str
    full_name: str
    job_title: str
    role: str
    where: str  # "commissioner", "practice", "provider", "senate", "hwb"


DEMO_PEOPLE: tuple[DemoPerson, ...] = (
    DemoPerson("commissioner", "Dr Asha Patel", "GP lead and governing body member", Role.CLINICAL_COMMISSIONER, "commissioner"),
    DemoPerson("manager", "Sam Okafor", "Commissioning manager", Role.COMMISSIONING_MANAGER, "commissioner"),
    DemoPerson("reviewer", "Dr Tom Reilly", "Clinical triage lead", Role.REFERRAL_REVIEWER, "commissioner"),
    DemoPerson("referrer", "Dr Mei Chen", "GP partner", Role.REFERRER, "practice"),
    DemoPerson("provider", "Jo Harris", "Contracts lead", Role.PROVIDER, "provider"),
    DemoPerson("senate", "Prof Lena Brooks", "Clinical senate chair", Role.SENATE_MEMBER, "senate"),
    DemoPerson("hwb", "Cllr Dev Sharma", "Health and wellbeing board member", Role.HWB_MEMBER, "hwb"),
    DemoPerson("patientrep", "Pat Morgan", "Patient representative", Role.PATIENT_REPRESENTATIVE, "commissioner"),
    DemoPerson("auditor", "Ravi Menon", "Internal auditor", Role.AUDITOR, "commissioner"),
)


@dataclass
class DemoResult:
    commissioner: Organisation
    synthetic: bool
    credentials: list[tuple[DemoPerson, str]]
    notes: list[str]


def _credentials_file() -> Path:
    return Path(settings.VAR_DIR) / "demo-credentials.json"


def _demo_passwords() -> dict[str, str]:
    path = _credentials_file()
    stored: dict[str, str] = json.loads(path.read_text()) if path.exists() else {}
    changed = False
    for person in DEMO_PEOPLE:
        if person.username not in stored:
            stored[person.username] = f"demo-{person.username}-{secrets.token_hex(3)}"
            changed = True
    if changed:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(stored, indent=2))
        path.chmod(0o600)
    return stored


def _get_or_create_local(
    *, code: str, name: str, kind: str, parent: Organisation | None, synthetic: bool = False
) -> Organisation:
    existing = Organisation.objects.filter(ods_code=code).first()
    if existing:
        return existing
    return services.create_organisation(
        by=None, ods_code=code, name=name, kind=kind, parent=parent, is_local_code=True,
        source="synthetic demo data" if synthetic else "demo set-up",
    )


def _localities(commissioner: Organisation, data_dir: Path, notes: list[str]) -> None:
    """Trafford's four localities, with the practices the Trafford Data Lab places in each."""
    path = data_dir / TRAFFORD_LOCALITY_FILE
    if commissioner.ods_code != "02A" or not path.is_file():
        return
    with path.open(newline="", encoding="utf-8-sig") as handle:
        rows = list(csv.DictReader(handle))
    localities: dict[str, Organisation] = {}
    placed = 0
    for row in rows:
        name = row["locality"].strip()
        if not name:
            continue
        if name not in localities:
            localities[name] = _get_or_create_local(
                code=f"02A-{name[:3].upper()}", name=f"Trafford {name} locality",
                kind=OrganisationKind.LOCALITY, parent=commissioner,
            )
        practice = Organisation.objects.filter(ods_code=row["practice_code"].strip().upper(), kind=OrganisationKind.PRACTICE).first()
        if practice and practice.locality_id != localities[name].pk:
            services.update_organisation(by=None, organisation=practice, locality=localities[name])
        if practice:
            placed += 1
    notes.append(f"{len(localities)} localities, {placed} practices placed in them ({TRAFFORD_LOCALITY_FILE})")


def _synthetic_commissioner(notes: list[str]) -> Organisation:
    """No data directory: a made-up commissioner, clearly labelled, so the demo still runs."""
    commissioner = _get_or_create_local(
        code=SYNTHETIC_COMMISSIONER, name="Synthetic Demo CCG (not real data)",
        kind=OrganisationKind.COMMISSIONER, parent=None, synthetic=True,
    )
    rng = random.Random(20160101)  # noqa: S311 - demo data, not security
    period = datetime.date(2016, 1, 1)
    for i in range(1, 13):
        practice = _get_or_create_local(
            code=f"Z9{i:04d}", name=f"Synthetic Practice {i}", kind=OrganisationKind.PRACTICE,
            parent=commissioner, synthetic=True,
        )
        if not RegisteredPopulation.objects.filter(organisation=practice).exists():
            RegisteredPopulation.objects.bulk_create(
                RegisteredPopulation(
                    organisation=practice, period=period, sex=sex, age_band=band_label(band),
                    patients=rng.randint(150, 900), source="synthetic",
                )
                for band in LIST_SIZE_BANDS
                for sex in ("M", "F")
            )
    _get_or_create_local(
        code="Z8001", name="Synthetic Hospital Trust", kind=OrganisationKind.PROVIDER, parent=None, synthetic=True
    )
    notes.append("No data directory: a synthetic commissioner with 12 synthetic practices was made.")
    return commissioner


def load_demo(
    *, data_dir: Path | None, commissioner_code: str = DEMO_COMMISSIONER, progress: ProgressWrapper = no_progress
) -> DemoResult:
    notes: list[str] = []
    synthetic = data_dir is None
    with transaction.atomic():
        if data_dir is not None:
            summary = services.import_organisations(by=None, data_dir=data_dir, progress=progress)
            notes.append(f"ODS organisations: {summary.created} created, {summary.updated} updated, {summary.unchanged} unchanged")
            commissioner = Organisation.objects.get(ods_code=commissioner_code, kind=OrganisationKind.COMMISSIONER)
            population = services.import_list_sizes(
                by=None, path=data_dir / "nhsbsa_practice_list_size_age_sex_2016_01-03.csv",
                commissioner=commissioner_code, progress=progress,
            )
            notes.append(f"List sizes for {commissioner.name}: {population.created} counts created, {population.unchanged} unchanged")
            _localities(commissioner, data_dir, notes)
            provider = Organisation.objects.get(ods_code=DEMO_PROVIDER)
        else:
            commissioner = _synthetic_commissioner(notes)
            provider = Organisation.objects.get(ods_code="Z8001")

        practice = (
            Organisation.objects.filter(parent=commissioner, kind=OrganisationKind.PRACTICE, close_date__isnull=True)
            .filter(registered_population__isnull=False).distinct().order_by("ods_code").first()
        )
        if practice is None:
            raise RuntimeError(f"{commissioner} has no open practice with a list size to seat the referrer")
        region = "North West" if commissioner.ods_code == "02A" else "Synthetic"
        senate = _get_or_create_local(
            code="SEN-NW" if not synthetic else "SEN-Z", name=f"{region} Clinical Senate",
            kind=OrganisationKind.CLINICAL_SENATE, parent=None, synthetic=synthetic,
        )
        hwb_name = "Trafford" if commissioner.ods_code == "02A" else "Synthetic"
        hwb = _get_or_create_local(
            code=f"HWB-{commissioner.ods_code}", name=f"{hwb_name} Health and Wellbeing Board",
            kind=OrganisationKind.HEALTH_AND_WELLBEING_BOARD, parent=None, synthetic=synthetic,
        )
        places = {"commissioner": commissioner, "practice": practice, "provider": provider, "senate": senate, "hwb": hwb}

        passwords = _demo_passwords()
        credentials = []
        users: dict[str, User] = {}
        for person in DEMO_PEOPLE:
            user = User.objects.filter(username=person.username).first()
            if user is None:
                user = services.create_person(
                    by=None, username=person.username, full_name=person.full_name,
                    job_title=person.job_title, password=passwords[person.username],
                )
            elif not user.check_password(passwords[person.username]):
                user.set_password(passwords[person.username])
                user.save(update_fields=["password"])
            organisation = places[person.where]
            if not Membership.objects.filter(user=user, organisation=organisation, role=person.role, ended_on__isnull=True).exists():
                services.add_membership(by=None, user=user, organisation=organisation, role=person.role, started_on=STARTED_ON)
            credentials.append((person, passwords[person.username]))
            users[person.username] = user

        from opencommissioning.governance.demo import load_governance_demo

        notes.append(load_governance_demo(commissioner=commissioner, provider=provider, people=users))
    # Referrals (issue 6): tokens, services, tariff and a month of referrals; idempotent.
    from opencommissioning.referrals.demo import load_referrals_demo

    notes += load_referrals_demo(
        commissioner=commissioner, provider=provider,
        reviewer=User.objects.get(username="reviewer"), referrer=User.objects.get(username="referrer"),
    )
    # Needs and outcomes (issue 4): loads, a recompute, a target and strategy priorities.
    from opencommissioning.needs.demo import load_needs_demo

    if settings.NEEDS_DEMO:
        notes += load_needs_demo(commissioner=commissioner, data_dir=data_dir,
                                 people={p.username: User.objects.get(username=p.username) for p in DEMO_PEOPLE})
    return DemoResult(commissioner=commissioner, synthetic=synthetic, credentials=credentials, notes=notes)
