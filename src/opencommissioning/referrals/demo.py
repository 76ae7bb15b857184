"""Demo referrals: practice tokens, reviewers, provider services with a tariff, and a
realistic month of referrals triaged in every way. Idempotent: a second run finds what
the first made. Synthetic patients only (NHS numbers from the 999 test range).

The month is the last complete calendar month, the one the commissioning view opens on.
Every referral's history happens inside it, in order (received, claimed, advised or routed
or returned, the practice's answer, claimed again, routed), stamped through the services'
``at=``: nothing later than the step after it, nothing in the future. The tokens, the
tariff and the advice scheme are dated before the month, as they would have been."""

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
DEMO_CAP = Decimal("150.00")
DEMO_TARIFF = "Demo outpatient tariff 2026/27 (illustrative prices)"
DEMO_TOKEN_LABEL = "demo GP system"  # noqa: S105 - what the token is for, not a secret
DEMO_SCHEME_FROM = datetime.date(2020, 4, 1)
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
            services.import_tariff(by=None, name=DEMO_TARIFF, valid_from=datetime.date(2020, 4, 1),
                                   prices_csv=prices, mff_csv=mff, prices_name="demo_prices.csv", mff_name="demo_mff.csv")
        if not AdvicePaymentScheme.objects.exists():
            # The cap is low enough that the busier practices reach it in the demo month.
            services.set_advice_scheme(by=None, valid_from=DEMO_SCHEME_FROM, basis="percentage", percentage=Decimal("25"),
                                       cap_per_practice_per_month=DEMO_CAP)

        # Tokens: kept in var/ so they stay the same between runs (only their hash is in the database).
        path = _tokens_file()
        stored: dict[str, str] = json.loads(path.read_text()) if path.exists() else {}
        for practice in practices[:DEMO_TOKEN_PRACTICES]:
            raw = stored.get(practice.ods_code) or f"oc_demo_{practice.ods_code}_{secrets.token_urlsafe(16)}"
            stored[practice.ods_code] = raw
            if not PracticeToken.objects.filter(key_hash=hashlib.sha256(raw.encode()).hexdigest()).exists():
                services.issue_practice_token(by=None, practice=practice, label=DEMO_TOKEN_LABEL, raw_token=raw)
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
            start, end = demo_month()
            _dated_before(start)
            _a_month_of_referrals(practices, reviewers, referrer, start=start, end=end)
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


def demo_month(today: datetime.date | None = None) -> tuple[datetime.datetime, datetime.datetime]:
    """The last complete calendar month (local time): its start, and the start of the next."""
    this_month = (today or timezone.localdate()).replace(day=1)
    first = (this_month - datetime.timedelta(days=1)).replace(day=1)
    tz = timezone.get_current_timezone()
    return (datetime.datetime.combine(first, datetime.time.min, tzinfo=tz),
            datetime.datetime.combine(this_month, datetime.time.min, tzinfo=tz))


def _dated_before(start: datetime.datetime) -> None:
    """The demo's tokens, tariff and advice scheme, just made, were in place before the month
    (a token's first referral is never older than the token)."""
    before = start - datetime.timedelta(days=7)
    PracticeToken.objects.filter(label=DEMO_TOKEN_LABEL, created_by__isnull=True, created_at__gt=before).update(created_at=before)
    Tariff.objects.filter(name=DEMO_TARIFF, imported_by__isnull=True, imported_at__gt=before).update(imported_at=before)
    AdvicePaymentScheme.objects.filter(valid_from=DEMO_SCHEME_FROM, created_by__isnull=True, created_at__gt=before).update(created_at=before)


def _practice_gp(practice: Organisation, referrer: User) -> User:
    """Who answers advice for ``practice``: the demo's referrer in their own practice, else a
    synthetic GP of that practice (no password: nobody signs in as them)."""
    if Membership.objects.filter(user=referrer, organisation=practice, role=Role.REFERRER, ended_on__isnull=True).exists():
        return referrer
    username = f"gp-{practice.ods_code.lower()}"
    gp = User.objects.filter(username=username).first()
    if gp is None:
        gp = core_services.create_person(by=None, username=username, full_name=f"Demo GP, {practice.name}", job_title="GP partner", password=None)
    if not Membership.objects.filter(user=gp, organisation=practice, role=Role.REFERRER, ended_on__isnull=True).exists():
        core_services.add_membership(by=None, user=gp, organisation=practice, role=Role.REFERRER, started_on=datetime.date(2026, 4, 1))
    return gp


def _a_month_of_referrals(practices: list[Organisation], reviewers: list[User], referrer: User, *,
                          start: datetime.datetime, end: datetime.datetime) -> None:
    """About 1.2 referrals per 1,000 patients in the month, triaged in every way. A referral
    arrives at least eight days and six hours before the month ends (on its ninth day
    from the end, by 6 pm), and its steps take at most about 7.6 days in all (triage within 3 days, a decision within 90 minutes of claiming, the
    practice's answer within 3 days of advice, a converted referral claimed again within 1.5
    days), so the whole history stays inside the month."""
    from django.db.models import Sum

    rng = random.Random(20260401)  # noqa: S311 - demo data, not security
    specialties = list(Specialty.objects.filter(code__in=[c for c, _, _ in DEMO_SERVICES]))
    hours = datetime.timedelta(hours=1)
    days = datetime.timedelta(days=1)
    last_arrival_day = (end - start).days - 9
    for practice in practices[:25]:
        patients = practice.registered_population.aggregate(n=Sum("patients"))["n"] or 0
        token = PracticeToken.objects.filter(practice=practice, revoked_at__isnull=True).first()
        gp = _practice_gp(practice, referrer)
        count = max(1, int(rng.gauss(patients / 1000 * 1.2, 2)))
        arrivals = sorted(start + rng.randint(0, last_arrival_day) * days + rng.uniform(8, 18) * hours for _ in range(count))
        for i, received in enumerate(arrivals):
            specialty = rng.choice(specialties)
            referral = services._create(
                by=None if token else gp, token=token, practice=practice, source="api" if token else "form",
                identifier_system="https://fhir.nhs.uk/Id/UBRN", identifier_value=f"DEMO-{practice.ods_code}-{i:04d}",
                nhs_number=_synthetic_nhs_number(rng), requested=rng.choice(["referral", "referral", "advice"]), specialty=specialty,
                priority=rng.choices(["routine", "urgent", "asap"], [80, 15, 5])[0], reason_codes=[],
                reason_text=f"Synthetic demo referral to {specialty.name}", notes="", authored_on=None, at=received,
            )
            fate = rng.random()
            if fate < 0.12:
                continue  # still waiting
            reviewer = rng.choice(reviewers)
            at = received + rng.uniform(2 * 60, 3 * 24 * 60) * hours / 60  # triage within three days
            referral = services.claim_referral(by=reviewer, referral=referral, at=at)
            at += rng.uniform(10, 90) * hours / 60
            if fate < 0.45:
                services.give_advice(by=reviewer, referral=referral, advice=f"Synthetic advice for {specialty.name}.", at=at)
                then = rng.random()
                at += rng.uniform(0.5, 3) * days
                if then < 0.35:
                    referral = services.convert_to_referral(by=gp, referral=referral, at=at)
                    if rng.random() < 0.8:  # most are triaged again at once; the rest wait, back in the queue
                        at += rng.uniform(0.2, 1.5) * days
                        referral = services.claim_referral(by=reviewer, referral=referral, at=at)
                        at += rng.uniform(10, 60) * hours / 60
                        service = ProviderService.objects.filter(specialty=specialty).order_by("?").first()
                        services.route_referral(by=reviewer, referral=referral, service=service, at=at)
                elif then < 0.75:
                    services.close_with_advice(by=gp, referral=referral, at=at)
                elif then < 0.85:
                    services.reply_to_advice(by=gp, referral=referral, reply="Tried that already; please advise again.", at=at)
                # else the practice has not answered yet
            elif fate < 0.9:
                service = ProviderService.objects.filter(specialty=specialty).order_by("?").first()
                services.route_referral(by=reviewer, referral=referral, service=service, at=at)
            else:
                services.return_referral(by=reviewer, referral=referral, reasons="Please add recent blood results and resubmit.", at=at)
