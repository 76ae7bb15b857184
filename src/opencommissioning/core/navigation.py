"""The header navigation: one list, filtered by what the signed-in person may see."""

from __future__ import annotations

from dataclasses import dataclass

from .permissions import PUBLIC, SIGNED_IN, Perm


@dataclass(frozen=True)
class NavItem:
    label: str
    url_name: str
    permission: str


NAVIGATION: tuple[NavItem, ...] = (
    NavItem("Home", "core:home", SIGNED_IN),
    NavItem("Organisations", "core:organisation_list", Perm.VIEW_ORGANISATIONS),
    NavItem("Needs", "needs:index", Perm.VIEW_NEEDS),
    NavItem("Referrals", "referrals:list", Perm.VIEW_REFERRALS),
    NavItem("Referral figures", "referrals:commissioning", Perm.VIEW_REFERRAL_STATISTICS),
    NavItem("Governance", "governance:index", Perm.VIEW_GOVERNANCE),
    NavItem("Audit trail", "audit:event_list", Perm.VIEW_AUDIT_TRAIL),
    NavItem("Components", "core:components", Perm.VIEW_COMPONENTS),
    NavItem("Public portal", "public:index", PUBLIC),
)
