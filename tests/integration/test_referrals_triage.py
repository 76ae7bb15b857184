"""Triage transitions, the claim under concurrency, advice payment, tariff import, audit."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import connection

from opencommissioning.audit.chain import verify
from opencommissioning.audit.models import AuditEvent
from opencommissioning.core.importers import ImportRejected
from opencommissioning.core.roles import Role
from opencommissioning.referrals import queries, services
from opencommissioning.referrals.models import (
    AdviceEpisode,
    MarketForcesFactor,
    Referral,
    Specialty,
    Status,
    TariffPrice,
)
from tests.concurrency import race
from tests.referrals_support import (
    MFF_CSV,
    OTHER_VALID_NHS,
    PRICES_CSV,
    VALID_NHS,
    extra_reviewer,
    set_up_referrals,
)


@pytest.fixture
def setup(practices, provider):
    return set_up_referrals(practices, provider)


def submit(people, practices, *, nhs=VALID_NHS, requested="advice", specialty="330"):
    return services.submit_referral(
        by=people[Role.REFERRER], practice=practices[0], nhs_number=nhs,
        specialty=Specialty.objects.get(code=specialty) if specialty else None,
        priority="routine", requested=requested, reason_text="Rash, SECRET-CLINICAL-TEXT",
    )


@pytest.mark.django_db
def test_the_whole_advice_then_referral_path(setup, people, practices):
    reviewer, referrer = people[Role.REFERRAL_REVIEWER], people[Role.REFERRER]
    referral = submit(people, practices)
    services.claim_referral(by=reviewer, referral=referral)
    episode = services.give_advice(by=reviewer, referral=referral, advice="Try clobetasone for four weeks.")
    assert episode.fee == Decimal("40.00")  # 25% of £160
    referral.refresh_from_db()
    assert referral.status == Status.ADVICE_RETURNED and referral.fhir_status == "on-hold"
    services.convert_to_referral(by=referrer, referral=referral)
    services.claim_referral(by=reviewer, referral=referral)
    services.route_referral(by=reviewer, referral=referral, service=setup.dermatology)
    referral.refresh_from_db()
    assert referral.status == Status.ROUTED
    assert referral.expected_price == Decimal("168.00")  # £160 × MFF 1.05
    episode.refresh_from_db()
    assert episode.outcome == "converted"
    actions = list(referral.history.values_list("action", flat=True))
    assert actions == ["received", "claim", "advise", "convert", "claim", "route"]
    assert verify().ok


@pytest.mark.django_db
def test_transitions_out_of_order_are_refused(setup, people, practices):
    reviewer, referrer = people[Role.REFERRAL_REVIEWER], people[Role.REFERRER]
    referral = submit(people, practices)
    with pytest.raises(ValidationError, match="in triage"):
        services.route_referral(by=reviewer, referral=referral, service=setup.dermatology)
    with pytest.raises(ValidationError):
        services.convert_to_referral(by=referrer, referral=referral)
    services.claim_referral(by=reviewer, referral=referral)
    with pytest.raises(services.AlreadyClaimed):
        services.claim_referral(by=reviewer, referral=referral)
    with pytest.raises(ValidationError, match="reasons"):
        services.return_referral(by=reviewer, referral=referral, reasons="  ")
    services.return_referral(by=reviewer, referral=referral, reasons="Needs a blood test first")
    referral.refresh_from_db()
    assert referral.status == Status.RETURNED and referral.fhir_status == "revoked"
    with pytest.raises(ValidationError):
        services.give_advice(by=reviewer, referral=referral, advice="late")


@pytest.mark.django_db
def test_only_the_claiming_reviewer_decides_and_only_the_practice_converts(setup, people, practices, commissioner):
    referral = submit(people, practices)
    other = extra_reviewer(commissioner)
    services.claim_referral(by=people[Role.REFERRAL_REVIEWER], referral=referral)
    with pytest.raises(ValidationError, match="another reviewer"):
        services.give_advice(by=other, referral=referral, advice="x")
    with pytest.raises(PermissionError):
        services.claim_referral(by=people[Role.PROVIDER], referral=referral)
    services.give_advice(by=people[Role.REFERRAL_REVIEWER], referral=referral, advice="x")
    with pytest.raises(PermissionError):
        services.convert_to_referral(by=people[Role.REFERRAL_REVIEWER], referral=referral)


@pytest.mark.django_db
def test_a_reply_continues_the_same_paid_episode(setup, people, practices):
    reviewer, referrer = people[Role.REFERRAL_REVIEWER], people[Role.REFERRER]
    referral = submit(people, practices)
    services.claim_referral(by=reviewer, referral=referral)
    services.give_advice(by=reviewer, referral=referral, advice="First advice")
    services.reply_to_advice(by=referrer, referral=referral, reply="Already tried that")
    services.claim_referral(by=reviewer, referral=referral)
    services.give_advice(by=reviewer, referral=referral, advice="Second advice")
    assert AdviceEpisode.objects.count() == 1
    services.close_with_advice(by=referrer, referral=referral)
    referral.refresh_from_db()
    assert referral.status == Status.CLOSED_WITH_ADVICE and referral.fhir_status == "completed"


@pytest.mark.django_db
def test_the_statement_applies_the_cap_per_practice_per_month(practices, provider, people):
    set_up_referrals(practices, provider, cap=Decimal("100.00"))
    reviewer = people[Role.REFERRAL_REVIEWER]
    for i in range(4):
        referral = submit(people, practices, nhs=VALID_NHS if i % 2 else OTHER_VALID_NHS)
        services.claim_referral(by=reviewer, referral=referral)
        services.give_advice(by=reviewer, referral=referral, advice=f"advice {i}")
    statement = queries.statement(practices[0], datetime.date.today())  # noqa: DTZ011
    assert [line.line.paid for line in statement.lines] == [Decimal("40.00"), Decimal("40.00"), Decimal("20.00"), Decimal("0.00")]
    assert statement.total_fees == Decimal("160.00") and statement.total_paid == Decimal("100.00")
    assert statement.total_cap_applied == Decimal("60.00")
    assert queries.statement(practices[1], datetime.date.today()).lines == []  # noqa: DTZ011


@pytest.mark.django_db
def test_tariff_import_is_all_or_nothing_naming_every_problem(setup):
    before = TariffPrice.objects.count()
    bad_prices = "treatment_function_code,first_attendance,follow_up\n330,160,90\n999,12,1\n320,lots,1\n330,1,1\n"
    bad_mff = "provider_ods_code,market_forces_factor\nR0A,7\nZZZ,1.0\n"
    with pytest.raises(ImportRejected) as rejected:
        services.import_tariff(by=None, name="Bad", valid_from=datetime.date(2026, 4, 1), prices_csv=bad_prices, mff_csv=bad_mff)
    found = {(p.file, p.row, p.column) for p in rejected.value.problems}
    assert ("prices.csv", 3, "treatment_function_code") in found
    assert ("prices.csv", 4, "first_attendance") in found
    assert ("prices.csv", 5, "treatment_function_code") in found
    assert ("market_forces.csv", 2, "market_forces_factor") in found
    assert ("market_forces.csv", 3, "provider_ods_code") in found
    assert TariffPrice.objects.count() == before
    with pytest.raises(ImportRejected):
        services.import_tariff(by=None, name="No columns", valid_from=datetime.date(2026, 4, 1), prices_csv="a,b\n1,2\n", mff_csv=MFF_CSV)


@pytest.mark.django_db
def test_tariff_amounts_that_are_not_finite_or_do_not_fit_are_named_and_nothing_loads(setup, provider):
    """1e9999 raised a 500 (decimal.InvalidOperation); 123456789012345 was stored on SQLite
    and the tariffs page then failed for good (a numeric overflow on PostgreSQL)."""
    before = (TariffPrice.objects.count(), MarketForcesFactor.objects.count())
    prices = ("treatment_function_code,first_attendance,follow_up\n"
              "330,1e9999,90\n320,123456789012345,1\n100,NaN,1\n101,160.005,1\n110,12,Infinity\n120,-0.01,1\n130,100000.01,1\n"
              "300,100000.00,0\n")
    mff = f"provider_ods_code,market_forces_factor\n{provider.ods_code},1e9999\n"
    with pytest.raises(ImportRejected) as rejected:
        services.import_tariff(by=None, name="Huge", valid_from=datetime.date(2026, 4, 1), prices_csv=prices, mff_csv=mff)
    found = {(p.file, p.row, p.column): p.reason for p in rejected.value.problems}
    for row, column in ((2, "first_attendance"), (3, "first_attendance"), (4, "first_attendance"), (5, "first_attendance"),
                        (6, "follow_up"), (7, "first_attendance"), (8, "first_attendance")):
        assert ("prices.csv", row, column) in found, (row, column, found)
    assert ("market_forces.csv", 2, "market_forces_factor") in found
    assert "decimal places" in found[("prices.csv", 5, "first_attendance")]
    assert "£100,000.00" in found[("prices.csv", 3, "first_attendance")]
    assert len(found) == 8  # row 9 (exactly £100,000.00 and £0) is fine
    assert (TariffPrice.objects.count(), MarketForcesFactor.objects.count()) == before
    many_places = f"provider_ods_code,market_forces_factor\n{provider.ods_code},1.000001\n"
    with pytest.raises(ImportRejected) as rejected:
        services.import_tariff(by=None, name="Fine", valid_from=datetime.date(2026, 4, 1), prices_csv=PRICES_CSV, mff_csv=many_places)
    assert [(p.row, p.column) for p in rejected.value.problems] == [(2, "market_forces_factor")]


@pytest.mark.django_db
def test_a_tariff_name_or_file_names_too_long_to_keep_are_refused_not_cut(setup):
    with pytest.raises(ImportRejected) as rejected:
        services.import_tariff(by=None, name="T" * 201, valid_from=datetime.date(2026, 4, 1), prices_csv=PRICES_CSV, mff_csv=MFF_CSV,
                               prices_name="p" * 250 + ".csv", mff_name="m" * 250 + ".csv")
    assert {(p.file, p.column) for p in rejected.value.problems} == {("form", "name"), ("form", "files")}


@pytest.mark.django_db
def test_audit_payloads_and_logs_carry_no_identifiers_or_clinical_text(setup, people, practices, caplog):
    reviewer = people[Role.REFERRAL_REVIEWER]
    referral = submit(people, practices)
    services.claim_referral(by=reviewer, referral=referral)
    services.give_advice(by=reviewer, referral=referral, advice="ADVICE-CLINICAL-TEXT")
    events = AuditEvent.objects.filter(action__startswith="referral.")
    assert events.count() == 3
    for event in events:
        text = f"{event.summary} {event.before} {event.after}"
        assert VALID_NHS not in text and "SECRET-CLINICAL-TEXT" not in text and "ADVICE-CLINICAL-TEXT" not in text
    assert VALID_NHS not in caplog.text




@pytest.mark.django_db(transaction=True)
def test_two_reviewers_can_never_both_claim_a_referral(real_transactions, practices, provider, people, commissioner):
    """Real connections (one per thread) racing to claim the same referrals."""
    if connection.vendor != "postgresql":
        pytest.skip("races real connections on PostgreSQL; the in-memory SQLite test database's shared "
                    "cache fails table locks at once instead of queueing (a file database serialises writers)")
    set_up_referrals(practices, provider)
    reviewers = [people[Role.REFERRAL_REVIEWER]] + [extra_reviewer(commissioner, f"reviewer{i}") for i in range(1, 6)]
    referral = submit(people, practices)
    results = race(len(reviewers), lambda i: services.claim_referral(by=reviewers[i], referral=referral))
    winners = [r for r in results if isinstance(r, Referral)]
    assert len(winners) == 1, results
    assert all(isinstance(r, services.AlreadyClaimed) for r in results if not isinstance(r, Referral)), results
    referral.refresh_from_db()
    assert referral.claimed_by_id == winners[0].claimed_by_id
    assert referral.history.filter(action="claim").count() == 1

    # claim_next: six reviewers, four referrals: each referral claimed exactly once.
    for _ in range(4):
        submit(people, practices)
    results = race(len(reviewers), lambda i: services.claim_next(by=reviewers[i]))
    claimed = [r.pk for r in results if isinstance(r, Referral)]
    assert len(claimed) == len(set(claimed)) == 4, results
    assert results.count(None) == 2, results  # nothing left for the other two

    # Both paths at once on the one referral waiting: half claim it by name (the conditional
    # UPDATE), half claim the next (SELECT … FOR UPDATE SKIP LOCKED, then the same UPDATE).
    last = submit(people, practices)

    def either(i):
        return services.claim_referral(by=reviewers[i], referral=last) if i % 2 else services.claim_next(by=reviewers[i])

    for _ in range(3):  # three rounds: which path wins changes from run to run
        results = race(len(reviewers), either)
        winners = [r for r in results if isinstance(r, Referral)]
        assert len(winners) == 1 and winners[0].pk == last.pk, results
        assert all(r is None or isinstance(r, services.AlreadyClaimed) for r in results if not isinstance(r, Referral)), results
        last.refresh_from_db()
        assert last.status == Status.IN_TRIAGE and last.claimed_by_id == winners[0].claimed_by_id
        services.release_referral(by=last.claimed_by, referral=last)
        last.refresh_from_db()
    assert last.history.filter(action="claim").count() == 3
    assert verify().ok
