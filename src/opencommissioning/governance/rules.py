"""The governance rules, as plain functions: screening, quorum, who is overdue, what is published.

Services call these before they write; queries call them to show the same answer a
service would give. README.md in this folder explains them in plain words.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.db.models import Q

from opencommissioning.core.models import Organisation

DECLARE_WITHIN_DAYS = 28
"""An interest must be declared within 28 days of it arising (or of a change)."""

RETURN_DUE_MONTHS = 12
"""Everyone in a decision-making role makes a return (or declares) at least every 12 months."""

PUBLISH_INTEREST_MONTHS_AFTER_END = 6
"""An ended interest stays on the public register for six months after it ends."""

KEEP_RECORDS_YEARS = 6
"""Records are kept (and gifts published) for six years. Nothing is ever deleted."""


def months_before(day: datetime.date, months: int) -> datetime.date:
    """The same day ``months`` earlier, clamped to the end of a shorter month."""
    month_index = day.year * 12 + (day.month - 1) - months
    year, month = divmod(month_index, 12)
    month += 1
    for candidate in (day.day, 30, 29, 28):
        try:
            return datetime.date(year, month, min(day.day, candidate))
        except ValueError:
            continue
    raise AssertionError("unreachable")  # pragma: no cover


def gifts_threshold() -> Decimal:
    """Gifts and hospitality below this value (in pounds) need not be declared."""
    return Decimal(str(getattr(settings, "GOVERNANCE_GIFTS_THRESHOLD_POUNDS", 25)))


def normalise_matter(matter: str) -> str:
    return " ".join(matter.split()).casefold()


# --- screening ------------------------------------------------------------------------


def _up(organisation_id: int, parents: dict[int, set[int]]) -> set[int]:
    """Every ancestor of an organisation: its parent and its locality, and theirs."""
    seen: set[int] = set()
    stack = list(parents.get(organisation_id, ()))
    while stack:
        current = stack.pop()
        if current in seen:
            continue
        seen.add(current)
        stack.extend(parents.get(current, ()))
    return seen


def related_organisation_ids(organisation_ids: Iterable[int]) -> set[int]:
    """The organisations themselves, every ancestor, and every descendant.

    An organisation's ancestors are its ``parent`` and (for a practice) its ``locality``,
    walked upwards; its descendants are the organisations whose ancestors include it.
    """
    start = set(organisation_ids)
    if not start:
        return set()
    parents: dict[int, set[int]] = {}
    linked = Organisation.objects.filter(Q(parent__isnull=False) | Q(locality__isnull=False))
    for pk, parent_id, locality_id in linked.values_list("pk", "parent_id", "locality_id"):
        parents[pk] = {p for p in (parent_id, locality_id) if p is not None}
    related = set(start)
    for pk in start:
        related |= _up(pk, parents)
    # Descendants: anyone whose ancestors include one of ``start``.
    children: dict[int, set[int]] = {}
    for child, ups in parents.items():
        for up in ups:
            children.setdefault(up, set()).add(child)
    stack = list(start)
    while stack:
        current = stack.pop()
        for child in children.get(current, ()):
            if child not in related:
                related.add(child)
                stack.append(child)
    return related


@dataclass(frozen=True)
class Finding:
    """One conflict found by screening: a person, the interest, and why it touches the item."""

    person_id: int
    interest_id: int
    reason: str


def screen(
    *,
    interests: Iterable[object],
    item_organisation_ids: Iterable[int],
    item_matters: Iterable[str],
    on: datetime.date,
) -> list[Finding]:
    """The interests (current on ``on``) that touch an item's organisations or matters.

    An interest in organisation X conflicts with an item about X, about any ancestor of X
    (its parent commissioner, its locality) or about any descendant of X (a trust's
    sites, a commissioner's practices). An interest naming a matter conflicts with an
    item naming the same matter (ignoring case and spacing).
    """
    item_orgs = set(item_organisation_ids)
    related = related_organisation_ids(item_orgs)
    matters = {normalise_matter(m) for m in item_matters if m.strip()}
    findings: list[Finding] = []
    for interest in interests:
        if not interest.is_current_on(on):  # type: ignore[attr-defined]
            continue
        reasons: list[str] = []
        org_id = interest.organisation_id  # type: ignore[attr-defined]
        if org_id is not None and org_id in related:
            org = interest.organisation  # type: ignore[attr-defined]
            if org_id in item_orgs:
                reasons.append(f"the item concerns {org.name}")
            else:
                reasons.append(f"the item concerns an organisation linked to {org.name}")
        matter = normalise_matter(interest.matter)  # type: ignore[attr-defined]
        if matter and matter in matters:
            reasons.append(f"the item concerns the matter “{interest.matter}”")  # type: ignore[attr-defined]
        if reasons:
            findings.append(
                Finding(person_id=interest.person_id, interest_id=interest.pk, reason="; ".join(reasons))  # type: ignore[attr-defined]
            )
    return findings


# --- quorum ---------------------------------------------------------------------------


@dataclass(frozen=True)
class QuorumCheck:
    required: int
    present: int  # voting members present and free to take part in the item
    excluded: tuple[str, ...]  # names of members present but not free to vote

    @property
    def quorate(self) -> bool:
        return self.present >= self.required


def check_quorum(*, required: int, voting_present: dict[int, str], not_free_to_vote: set[int]) -> QuorumCheck:
    """Quorum after exclusions: voting members present, less anyone who may not vote on the item.

    ``voting_present`` maps the person id of each voting member present to their name;
    ``not_free_to_vote`` holds those whose conflict is managed by exclusion or by
    "may discuss but not vote", or is not yet managed at all.
    """
    excluded = tuple(sorted(name for pk, name in voting_present.items() if pk in not_free_to_vote))
    present = sum(1 for pk in voting_present if pk not in not_free_to_vote)
    return QuorumCheck(required=required, present=present, excluded=excluded)


# --- declarations ---------------------------------------------------------------------


def declaration_overdue(latest: datetime.datetime | None, *, today: datetime.date) -> bool:
    """Overdue when there has never been a declaration or return, or the last is over 12 months old."""
    if latest is None:
        return True
    return latest.date() < months_before(today, RETURN_DUE_MONTHS)


def interest_published(ended_on: datetime.date | None, *, today: datetime.date) -> bool:
    """On the public register while current, and for six months after it ends."""
    return ended_on is None or ended_on >= months_before(today, PUBLISH_INTEREST_MONTHS_AFTER_END)
