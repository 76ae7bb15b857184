"""Demo referrals: practice tokens, reviewers, provider services with a tariff, and a
realistic month of referrals triaged in every way. Idempotent: a second run finds what
the first made. Synthetic patients only (NHS numbers from the 999 test range)."""

from __future__ import annotations

import datetime
import hashlib
import json
import random
import secrets
from decimal import Decimal
from pathlib import Path

import nhs_number
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from opencommissioning.core import services as core_services
from opencommissioning.core.models import Membership, Organisation, OrganisationKind, User
from opencommissioning.core.roles import Role

from . import services
from .models import AdvicePaymentScheme, PracticeToken, ProviderService, Referral, Specialty, Tariff
from .specialties import ensure_specialties

DEMO_TOKEN_PRACTICES = 3
DEMO_SERVICES = [  # (specialty code, name, waiting weeks)
    ("330", "Dermatology outpatients", 11), ("320", "Cardiology clinic", 14), ("110", "Orthopaedic clinic", 18),
    ("120", "ENT clinic", 9), ("301", "Gastroenterology clinic", 16), ("502", "Gynaecology clinic", 12),
]
DEMO_PRICES = {"100": (182, 121), "101": (131, 94), "110": (158, 98), "120": (126, 84), "130": (104, 71), "300": (231, 138),
               "301": (212, 128), "302": (222, 117), "320": (189, 109), "330": (121, 77), "340": (197, 121), "400": (218, 131),
               "410": (190, 110), "420": (226, 164), "502": (164, 108)}


def _tokens_file() -> Path:
    return Path(settings.VAR_DIR) / "demo-practice-tokens.json"


def _synthetic_nhs_number(rng: random.Random) -> str:
    """A valid NHS number in the 999 test range (never issued to a real patient)."""
    while True:
        digits = "999" + "".join(str(rng.randint(0, 9)) for _ in range(6))
        check = nhs_number.calculate_checksum(digits)
        if check is not None and check != 10:
            return digits + str(check)


def load_referrals_demo(*, commissioner: Organisation, provider: Organisation, reviewer: User | None = None, referrer: User | None = None) -> list[str]:
    """Seed the referral demo; returns notes for the command to print (tokens included)."""
    notes: list[str] = []
    with transaction.atomic():
        ensure_specialties()
        practices = list(
            Organisation.objects.filter(parent=commissioner, kind=OrganisationKind.PRACTICE, close_date__isnull=True)
            .filter(registered_population__isnull=False).distinct().order_by("ods_code")
        )
        providers = [provider, *Organisation.objects.filter(kind=OrganisationKind.PROVIDER, close_date__isnull=True).exclude(pk=provider.pk).order_by("ods_code")[:1]]
        for p in providers:
            for code, name, weeks in DEMO_SERVICES:
                specialty = Specialty.objects.get(code=code)
                if not ProviderService.objects.filter(provider=p, specialty=specialty).exists():
                    services.add_provider_service(by=None, provider=p, specialty=specialty, name=name, waiting_weeks=weeks + (3 if p != provider else 0))
        if not Tariff.objects.exists():
            prices = "treatment_function_code,first_attendance,follow_up\n" + "".join(f"{c},{f}.00,{u}.00\n" for c, (f, u) in DEMO_PRICES.items())
            mff = "provider_ods_code,market_forces_factor\n" + "".join(f"{p.ods_code},{1.0 + 0.03 * i:.5f}\n" for i, p in enumerate(providers))
            services.import_tariff(by=None, name="Demo outpatient tariff 2026/27 (illustrative prices)", valid_from=datetime.date(2020, 4, 1),
                                   prices_csv=prices, mff_csv=mff, prices_name="demo_prices.csv", mff_name="demo_mff.csv")
        if not AdvicePaymentScheme.objects.exists():
            services.set_advice_scheme(by=None, valid_from=datetime.date(2020, 4, 1), basis="percentage", percentage=Decimal("25"),
                                       cap_per_practice_per_month=Decimal("500.00"))

        # Tokens: kept in var/ so they stay the same between runs (only their hash is in the database).
        path = _tokens_file()
        stored: dict[str, str] = json.loads(path.read_text()) if path.exists() else {}
        for practice in practices[:DEMO_TOKEN_PRACTICES]:
            raw = stored.get(practice.ods_code) or f"oc_demo_{practice.ods_code}_{secrets.token_urlsafe(16)}"
            stored[practice.ods_code] = raw
            if not PracticeToken.objects.filter(key_hash=hashlib.sha256(raw.encode()).hexdigest()).exists():
                services.issue_practice_token(by=None, practice=practice, label="demo GP system", raw_token=raw)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(stored, indent=2))
        path.chmod(0o600)

        # A second reviewer, so two people can race for the worklist.
        reviewers = [reviewer] if reviewer else []
        second = User.objects.filter(username="reviewer2").first()
        if second is None:
            second = core_services.create_person(by=None, username="reviewer2", full_name="Dr Nia Evans", job_title="Triage GP", password=None)
        if not Membership.objects.filter(user=second, organisation=commissioner, role=Role.REFERRAL_REVIEWER, ended_on__isnull=True).exists():
            core_services.add_membership(by=None, user=second, organisation=commissioner, role=Role.REFERRAL_REVIEWER, started_on=datetime.date(2026, 4, 1))
        reviewers.append(second)

        if referrer is not None and practices and not Referral.objects.filter(practice__parent=commissioner).exists():
            _a_month_of_referrals(practices, reviewers, referrer)
    made = Referral.objects.filter(practice__parent=commissioner).count()
    notes.append(f"Referrals: {made} in the demo month; {ProviderService.objects.count()} provider services; tariff and advice scheme loaded")
    for code, raw in stored.items():
        notes.append(f"Practice API token for {code}: {raw}")
    if stored:
        code, raw = next(iter(stored.items()))
        notes.append(
            "Post a referral: curl -s -X POST http://127.0.0.1:8000/api/fhir/ServiceRequest "
            f"-H 'Authorization: Bearer {raw}' -H 'Content-Type: application/fhir+json' "
            "-d '{\"resourceType\":\"ServiceRequest\",\"identifier\":[{\"system\":\"https://fhir.nhs.uk/Id/UBRN\",\"value\":\"DEMO-1\"}],"
            "\"status\":\"active\",\"intent\":\"order\",\"priority\":\"routine\",\"subject\":{\"identifier\":{\"system\":"
            "\"https://fhir.nhs.uk/Id/nhs-number\",\"value\":\"9912003888\"}},\"performerType\":{\"coding\":[{\"system\":"
            "\"https://fhir.nhs.uk/CodeSystem/eRS-Specialty\",\"code\":\"DERMATOLOGY\"}]},\"reasonCode\":[{\"text\":\"Rash\"}]}'"
        )
    return notes


def _a_month_of_referrals(practices: list[Organisation], reviewers: list[User], referrer: User) -> None:
    """About 1.2 referrals per 1,000 patients over the last month, triaged in every way."""
    from django.db.models import Sum

    rng = random.Random(20260401)  # noqa: S311 - demo data, not security
    specialties = list(Specialty.objects.filter(code__in=[c for c, _, _ in DEMO_SERVICES]))
    now = timezone.now()
    mine = _referrer_practices(referrer)
    for practice in practices[:25]:
        patients = practice.registered_population.aggregate(n=Sum("patients"))["n"] or 0
        tokens = PracticeToken.objects.filter(practice=practice, revoked_at__isnull=True).first()
        count = max(1, int(rng.gauss(patients / 1000 * 1.2, 2)))
        for i in range(count):
            specialty = rng.choice(specialties)
            referral = services._create(
                by=None, token=tokens, practice=practice, source="api" if tokens else "form",
                identifier_system="https://fhir.nhs.uk/Id/UBRN", identifier_value=f"DEMO-{practice.ods_code}-{i:04d}",
                nhs_number=_synthetic_nhs_number(rng), requested=rng.choice(["referral", "referral", "advice"]), specialty=specialty,
                priority=rng.choices(["routine", "urgent", "asap"], [80, 15, 5])[0], reason_codes=[],
                reason_text=f"Synthetic demo referral to {specialty.name}", notes="", authored_on=None,
            )
            received = now - datetime.timedelta(days=rng.uniform(0, 28), hours=rng.uniform(0, 8))
            Referral.objects.filter(pk=referral.pk).update(received_at=received)
            referral.refresh_from_db()
            fate = rng.random()
            if fate < 0.15:
                continue  # still waiting
            reviewer = rng.choice(reviewers)
            referral = services.claim_referral(by=reviewer, referral=referral)
            if fate < 0.45:
                services.give_advice(by=reviewer, referral=referral, advice=f"Synthetic advice for {specialty.name}.")
                then = rng.random()
                if practice.pk in mine and then < 0.35:
                    services.convert_to_referral(by=referrer, referral=referral)
                elif practice.pk in mine and then < 0.8:
                    services.close_with_advice(by=referrer, referral=referral)
            elif fate < 0.9:
                service = ProviderService.objects.filter(specialty=specialty).order_by("?").first()
                services.route_referral(by=reviewer, referral=referral, service=service)
            else:
                services.return_referral(by=reviewer, referral=referral, reasons="Please add recent blood results and resubmit.")
            # Decisions took a few days, like real triage.
            decided = received + datetime.timedelta(days=rng.uniform(0.2, 6))
            Referral.objects.filter(pk=referral.pk, first_decision_at__isnull=False).update(first_decision_at=min(decided, now))


def _referrer_practices(user: User) -> set[int]:
    return set(Membership.objects.filter(user=user, role=Role.REFERRER, ended_on__isnull=True).values_list("organisation_id", flat=True))
