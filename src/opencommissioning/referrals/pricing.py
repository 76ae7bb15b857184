"""Pricing rules as pure functions (no database): expected price, advice fee, the cap.

Money is :class:`~decimal.Decimal`, rounded half up to the penny.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

PENNY = Decimal("0.01")

#: What a tariff may hold, checked on import (every problem named, nothing loaded):
#: an attendance price from £0 to £100,000 in pounds and pence (outpatient attendances cost
#: hundreds of pounds: more is a mistake in the file, such as pence in a pounds column); a
#: market forces factor from 0.5 to 2 with at most 5 decimal places. With these, a price
#: after its market forces factor always fits the money columns (10 digits, 2 after the point).
MAX_ATTENDANCE_PRICE = Decimal("100000.00")
MIN_MARKET_FORCES_FACTOR, MAX_MARKET_FORCES_FACTOR = Decimal("0.5"), Decimal("2")
MARKET_FORCES_FACTOR_PLACES = 5


def money(value: Decimal) -> Decimal:
    return value.quantize(PENNY, rounding=ROUND_HALF_UP)


def expected_price(first_attendance: Decimal, market_forces_factor: Decimal | None) -> Decimal:
    """The first attendance price adjusted by the provider's market forces factor
    (1 when the tariff names no factor for that provider)."""
    return money(first_attendance * (market_forces_factor if market_forces_factor is not None else Decimal(1)))


def advice_fee(
    *, basis: str, fixed_fee: Decimal | None, percentage: Decimal | None, tariff_price: Decimal | None
) -> Decimal:
    """One advice episode's fee before the cap.

    ``basis`` "fixed": the fixed fee. "percentage": that percentage of the specialty's
    first attendance tariff price (national, before any market forces factor); with no
    tariff price for the specialty it raises ``ValueError``, which the caller reports.
    """
    if basis == "fixed":
        if fixed_fee is None:
            raise ValueError("the fixed-fee scheme has no fee")
        return money(fixed_fee)
    if basis == "percentage":
        if percentage is None:
            raise ValueError("the percentage scheme has no percentage")
        if tariff_price is None:
            raise ValueError("the tariff has no first attendance price for this specialty")
        return money(tariff_price * percentage / Decimal(100))
    raise ValueError(f"unknown fee basis {basis!r}")


@dataclass(frozen=True)
class CappedLine:
    fee: Decimal
    paid: Decimal
    cap_applied: Decimal  # fee - paid: what the cap took off this episode
    running_total: Decimal  # paid so far in the period, this episode included


def apply_cap(fees: Sequence[Decimal], cap: Decimal) -> list[CappedLine]:
    """Pay episodes in order until the cap for the period is reached; the episode that
    crosses the cap is paid the remainder, later ones nothing."""
    if cap < 0:
        raise ValueError("the cap cannot be negative")
    lines: list[CappedLine] = []
    total = Decimal("0.00")
    for fee in fees:
        if fee < 0:
            raise ValueError("a fee cannot be negative")
        paid = money(min(fee, max(cap - total, Decimal(0))))
        total += paid
        lines.append(CappedLine(fee=money(fee), paid=paid, cap_applied=money(fee - paid), running_total=money(total)))
    return lines
