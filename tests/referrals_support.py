"""Shared set-up for the referral tests: specialties, services, a tariff, a scheme, a token."""

from __future__ import annotations

import datetime
import json
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from opencommissioning.core import services as core_services
from opencommissioning.core.models import Organisation, OrganisationKind, RegisteredPopulation, User
from opencommissioning.core.roles import Role
from opencommissioning.referrals import services
from opencommissioning.referrals.models import ProviderService, Specialty
from opencommissioning.referrals.specialties import ensure_specialties

VALID_NHS = "9912003888"  # e-RS sandbox test number: passes the check digit
OTHER_VALID_NHS = "9884814872"
INVALID_NHS = "3478526985"  # the BaRS example's: fails the check digit

PRICES_CSV = "treatment_function_code,first_attendance,follow_up\n330,160.00,90.00\n320,210.00,110.00\n"
MFF_CSV = "provider_ods_code,market_forces_factor\nR0A,1.05000\n"


@dataclass
class Setup:
    token: Any
    raw_token: str
    dermatology: ProviderService
    cardiology: ProviderService
    tariff: Any
    scheme: Any


def set_up_referrals(practices: list[Organisation], provider: Organisation, *, cap: Decimal = Decimal("100.00")) -> Setup:
    ensure_specialties()
    for i, practice in enumerate(practices):
        RegisteredPopulation.objects.get_or_create(
            organisation=practice, period=datetime.date(2026, 1, 1), sex="F", age_band="All",
            defaults={"patients": 4000 + 1000 * i, "source": "test"},
        )
    derm = services.add_provider_service(by=None, provider=provider, specialty=Specialty.objects.get(code="330"), name="Dermatology outpatients", waiting_weeks=9)
    cardio = services.add_provider_service(by=None, provider=provider, specialty=Specialty.objects.get(code="320"), name="Cardiology clinic", waiting_weeks=14)
    tariff = services.import_tariff(by=None, name="Test tariff", valid_from=datetime.date(2020, 4, 1), prices_csv=PRICES_CSV, mff_csv=MFF_CSV)
    scheme = services.set_advice_scheme(by=None, valid_from=datetime.date(2020, 4, 1), basis="percentage", percentage=Decimal("25"), cap_per_practice_per_month=cap)
    token, raw = services.issue_practice_token(by=None, practice=practices[0], label="test EMIS")
    return Setup(token, raw, derm, cardio, tariff, scheme)


def other_practice_token(commissioner: Organisation, code: str = "P91009") -> str:
    practice = Organisation.objects.filter(ods_code=code).first() or core_services.create_organisation(
        by=None, ods_code=code, name=f"Practice {code}", kind=OrganisationKind.PRACTICE, parent=commissioner
    )
    return services.issue_practice_token(by=None, practice=practice)[1]


def service_request(identifier: str = "000000090001", *, nhs: str = VALID_NHS, specialty: str | None = "DERMATOLOGY", **changes: Any) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "ServiceRequest",
        "identifier": [{"system": "https://fhir.nhs.uk/Id/UBRN", "value": identifier}],
        "status": "active",
        "intent": "order",
        "priority": "routine",
        "subject": {"identifier": {"system": "https://fhir.nhs.uk/Id/nhs-number", "value": nhs}},
        "reasonCode": [{"text": "Itchy rash for six months, CLINICAL-DETAIL-MARKER"}],
        "note": [{"text": "Tried emollients. NOTE-MARKER"}],
    }
    if specialty:
        resource["performerType"] = {"coding": [{"system": "https://fhir.nhs.uk/CodeSystem/eRS-Specialty", "code": specialty}]}
    resource.update(changes)
    return {k: v for k, v in resource.items() if v is not None}


def post_fhir(client: Any, token: str | None, body: Any, **extra: Any) -> Any:
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}
    data = body if isinstance(body, bytes | str) else json.dumps(body)
    return client.post("/api/fhir/ServiceRequest", data=data, content_type="application/fhir+json", **headers, **extra)


def extra_reviewer(commissioner: Organisation, username: str = "reviewer2") -> User:
    """A second reviewer at the commissioner (beyond the one-per-role ``people`` fixture)."""
    user = core_services.create_person(by=None, username=username, full_name=f"Dr {username}", password="a-long-test-password-1")
    core_services.add_membership(by=None, user=user, organisation=commissioner, role=Role.REFERRAL_REVIEWER, started_on=datetime.date(2020, 1, 1))
    return user
