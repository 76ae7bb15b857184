"""The screening and quorum rules, and the dates that decide what is due and published."""

from __future__ import annotations

import datetime
from decimal import Decimal
from types import SimpleNamespace

import pytest

from opencommissioning.core import services as core_services
from opencommissioning.core.models import OrganisationKind
from opencommissioning.governance import rules

D = datetime.date
MEETING = D(2026, 5, 14)
LONG_AGO = D(2020, 1, 1)


def interest(pk, organisation=None, matter="", started_on=LONG_AGO, ended_on=None, person_id=1):
    """A stand-in for an Interest: the rule needs only these attributes."""
    made = SimpleNamespace(pk=pk, person_id=person_id, organisation=organisation,
                           organisation_id=organisation.pk if organisation else None, matter=matter,
                           started_on=started_on, ended_on=ended_on)
    made.is_current_on = lambda day: made.started_on <= day and (made.ended_on is None or made.ended_on >= day)
    return made


def found(interests, organisations=(), matters=(), on=MEETING):
    return {f.interest_id for f in rules.screen(interests=interests, item_organisation_ids=[o.pk for o in organisations],
                                                 item_matters=matters, on=on)}


@pytest.fixture
def directory(commissioner, practices, provider):
    locality = core_services.create_organisation(by=None, ods_code="02A-NOR", name="North locality",
                                                 kind=OrganisationKind.LOCALITY, parent=commissioner, is_local_code=True)
    core_services.update_organisation(by=None, organisation=practices[0], locality=locality)
    site = core_services.create_organisation(by=None, ods_code="R0A01", name="Wythenshawe Hospital",
                                             kind=OrganisationKind.PROVIDER, parent=provider)
    other_trust = core_services.create_organisation(by=None, ods_code="RBV", name="The Christie", kind=OrganisationKind.PROVIDER)
    return SimpleNamespace(commissioner=commissioner, practices=practices, provider=provider, locality=locality,
                           site=site, other_trust=other_trust)


@pytest.mark.django_db
class TestScreening:
    def test_an_interest_in_a_trust_conflicts_with_an_item_naming_that_trust(self, directory):
        assert found([interest(1, directory.provider)], [directory.provider]) == {1}

    def test_a_gp_partners_interest_in_a_practice_conflicts_with_the_commissioners_contract_with_it(self, directory):
        # The item names the commissioner and the practice; the partner's interest is in the practice.
        practice = directory.practices[0]
        assert found([interest(1, practice)], [directory.commissioner, practice]) == {1}

    def test_an_interest_in_a_practice_conflicts_with_an_item_about_its_parent_commissioner(self, directory):
        assert found([interest(1, directory.practices[1])], [directory.commissioner]) == {1}

    def test_an_interest_in_a_practice_conflicts_with_an_item_about_its_locality(self, directory):
        assert found([interest(1, directory.practices[0])], [directory.locality]) == {1}

    def test_an_interest_in_an_organisation_conflicts_with_an_item_about_its_children(self, directory):
        assert found([interest(1, directory.commissioner)], [directory.practices[2]]) == {1}
        assert found([interest(2, directory.provider)], [directory.site]) == {2}
        assert found([interest(3, directory.site)], [directory.provider]) == {3}

    def test_a_sibling_or_unrelated_organisation_does_not_conflict(self, directory):
        assert found([interest(1, directory.practices[1])], [directory.practices[2]]) == set()
        assert found([interest(2, directory.other_trust)], [directory.provider]) == set()
        assert found([interest(3, directory.practices[1])], [directory.provider]) == set()

    def test_matters_match_ignoring_case_and_spacing(self, directory):
        assert found([interest(1, matter="Community  Dermatology")], matters=["community dermatology"]) == {1}
        assert found([interest(2, matter="Dermatology")], matters=["community dermatology"]) == set()

    def test_only_interests_current_on_the_meeting_date_count(self, directory):
        ended = interest(1, directory.provider, ended_on=MEETING - datetime.timedelta(days=1))
        ends_that_day = interest(2, directory.provider, ended_on=MEETING)
        future = interest(3, directory.provider, started_on=MEETING + datetime.timedelta(days=1))
        assert found([ended, ends_that_day, future], [directory.provider]) == {2}

    def test_the_finding_says_why(self, directory):
        [finding] = rules.screen(interests=[interest(1, directory.practices[1], person_id=7)],
                                 item_organisation_ids=[directory.commissioner.pk], item_matters=[], on=MEETING)
        assert finding.person_id == 7
        assert "linked to Test Practice 2" in finding.reason

    def test_an_item_with_no_organisations_or_matters_finds_nothing(self, directory):
        assert found([interest(1, directory.provider, matter="x")]) == set()


class TestQuorum:
    def test_quorum_counts_voting_members_present_less_those_not_free_to_vote(self):
        check = rules.check_quorum(required=3, voting_present={1: "A", 2: "B", 3: "C", 4: "D"}, not_free_to_vote={2})
        assert (check.present, check.quorate, check.excluded) == (3, True, ("B",))

    def test_exclusions_can_make_a_meeting_inquorate(self):
        check = rules.check_quorum(required=3, voting_present={1: "A", 2: "B", 3: "C"}, not_free_to_vote={2, 3, 9})
        assert (check.present, check.quorate, check.excluded) == (1, False, ("B", "C"))

    def test_a_meeting_with_nobody_present_is_not_quorate(self):
        assert not rules.check_quorum(required=1, voting_present={}, not_free_to_vote=set()).quorate


class TestDates:
    @pytest.mark.parametrize(("day", "months", "expected"), [
        (D(2026, 8, 31), 6, D(2026, 2, 28)),
        (D(2024, 8, 31), 6, D(2024, 2, 29)),
        (D(2026, 3, 15), 12, D(2025, 3, 15)),
        (D(2026, 1, 10), 1, D(2025, 12, 10)),
    ])
    def test_months_before(self, day, months, expected):
        assert rules.months_before(day, months) == expected

    def test_a_declaration_is_overdue_when_missing_or_over_twelve_months_old(self):
        today = D(2026, 6, 1)
        at = lambda d: datetime.datetime(d.year, d.month, d.day, 12, tzinfo=datetime.UTC)  # noqa: E731
        assert rules.declaration_overdue(None, today=today)
        assert rules.declaration_overdue(at(D(2025, 5, 31)), today=today)
        assert not rules.declaration_overdue(at(D(2025, 6, 1)), today=today)

    def test_an_interest_is_published_until_six_months_after_it_ends(self):
        today = D(2026, 6, 1)
        assert rules.interest_published(None, today=today)
        assert rules.interest_published(D(2025, 12, 1), today=today)
        assert not rules.interest_published(D(2025, 11, 30), today=today)

    def test_the_gifts_threshold_is_a_setting(self, settings):
        assert rules.gifts_threshold() == Decimal(25)
        settings.GOVERNANCE_GIFTS_THRESHOLD_POUNDS = 50
        assert rules.gifts_threshold() == Decimal(50)
