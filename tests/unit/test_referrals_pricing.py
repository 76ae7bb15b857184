"""Pricing rules: expected price with the market forces factor, advice fees, the cap."""

from decimal import Decimal as D

import pytest

from opencommissioning.referrals.pricing import advice_fee, apply_cap, expected_price


def test_expected_price_applies_the_market_forces_factor_to_the_penny():
    assert expected_price(D("160.00"), D("1.05000")) == D("168.00")
    assert expected_price(D("100.00"), D("1.00005")) == D("100.01")  # half up
    assert expected_price(D("160.00"), None) == D("160.00")


def test_advice_fee_fixed_or_percentage_of_tariff():
    assert advice_fee(basis="fixed", fixed_fee=D("25"), percentage=None, tariff_price=None) == D("25.00")
    assert advice_fee(basis="percentage", fixed_fee=None, percentage=D("25"), tariff_price=D("160.00")) == D("40.00")
    assert advice_fee(basis="percentage", fixed_fee=None, percentage=D("12.5"), tariff_price=D("99.99")) == D("12.50")
    with pytest.raises(ValueError, match="no first attendance price"):
        advice_fee(basis="percentage", fixed_fee=None, percentage=D("25"), tariff_price=None)
    with pytest.raises(ValueError, match="unknown fee basis"):
        advice_fee(basis="per-minute", fixed_fee=None, percentage=None, tariff_price=None)


def test_the_cap_pays_in_order_then_the_remainder_then_nothing():
    lines = apply_cap([D("40"), D("40"), D("40"), D("40")], D("100"))
    assert [line.paid for line in lines] == [D("40.00"), D("40.00"), D("20.00"), D("0.00")]
    assert [line.cap_applied for line in lines] == [D("0.00"), D("0.00"), D("20.00"), D("40.00")]
    assert lines[-1].running_total == D("100.00")


def test_a_cap_never_reached_and_a_zero_cap():
    assert sum(line.paid for line in apply_cap([D("10"), D("5")], D("100"))) == D("15")
    assert all(line.paid == 0 for line in apply_cap([D("10"), D("5")], D("0")))
    assert apply_cap([], D("10")) == []
    with pytest.raises(ValueError):
        apply_cap([D("-1")], D("10"))


def test_the_largest_tariff_price_after_the_largest_factor_fits_the_money_columns():
    from opencommissioning.referrals.models import AdviceEpisode, Referral, TariffPrice
    from opencommissioning.referrals.pricing import MAX_ATTENDANCE_PRICE, MAX_MARKET_FORCES_FACTOR

    largest = expected_price(MAX_ATTENDANCE_PRICE, MAX_MARKET_FORCES_FACTOR)
    for field in (TariffPrice._meta.get_field("first_attendance"), Referral._meta.get_field("expected_price"),
                  AdviceEpisode._meta.get_field("tariff_price"), AdviceEpisode._meta.get_field("fee")):
        whole_digits = field.max_digits - field.decimal_places
        assert largest < D(10) ** whole_digits, field
