"""Who may do what: one function, deny by default.

Every view declares the permission it needs with :func:`requires` (or :func:`public`);
:class:`~opencommissioning.core.middleware.AccessControlMiddleware` refuses any view
that declares nothing. :func:`has_permission` is the only place that decides.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import Any, TypeVar

from django.utils import timezone

from .roles import Role

PUBLIC = "public"
"""Anyone, signed in or not: the transparency portal, sign-in, health check."""

SIGNED_IN = "signed_in"
"""Anyone holding at least one current role."""


class Perm:
    """Named permissions. Add one here and give it to roles in ``ROLE_PERMISSIONS``."""

    VIEW_ORGANISATIONS = "organisations.view"
    VIEW_COMPONENTS = "components.view"
    VIEW_AUDIT_TRAIL = "audit.view"
    VIEW_PATIENT_IDENTIFIERS = "patients.view_identifiers"
    # Referrals (issue 6); each referral is further scoped in referrals/queries.py.
    VIEW_REFERRALS = "referrals.view"
    SUBMIT_REFERRALS = "referrals.submit"
    TRIAGE_REFERRALS = "referrals.triage"
    VIEW_REFERRAL_STATISTICS = "referrals.view_statistics"
    MANAGE_TARIFF = "referrals.manage_tariff"
    MANAGE_PRACTICE_TOKENS = "referrals.manage_practice_tokens"  # scoped to the manager's member practices
    VIEW_PAYMENT_STATEMENTS = "referrals.view_payment_statements"
    # Governance (issue 5); committee membership is further checked in governance/services.py.
    VIEW_GOVERNANCE = "governance.view"
    DECLARE_INTERESTS = "governance.declare_interests"
    VOTE = "governance.vote"
    RUN_MEETINGS = "governance.run_meetings"
    MANAGE_COMMITTEES = "governance.manage_committees"
    MANAGE_BREACHES = "governance.manage_breaches"
    VIEW_DECLARATION_STATUS = "governance.view_declaration_status"
    # Needs and outcomes (issue 4): aggregates only, never a patient.
    VIEW_NEEDS = "needs.view"
    LOAD_NEEDS_DATA = "needs.load_data"
    RECOMPUTE_NEEDS = "needs.recompute"
    EDIT_PEER_WEIGHTS = "needs.edit_peer_weights"
    SET_TARGETS = "needs.set_targets"
    RECORD_PRIORITIES = "needs.record_priorities"


ALL_PERMISSIONS = frozenset(
    v for k, v in vars(Perm).items() if not k.startswith("_") and isinstance(v, str)
)

_EVERY_ROLE = frozenset(Role)

ROLE_PERMISSIONS: dict[str, frozenset[str]] = {
    role: frozenset({Perm.VIEW_ORGANISATIONS, Perm.VIEW_COMPONENTS}) for role in _EVERY_ROLE
}
ROLE_PERMISSIONS[Role.AUDITOR] = ROLE_PERMISSIONS[Role.AUDITOR] | {Perm.VIEW_AUDIT_TRAIL}
ROLE_PERMISSIONS[Role.COMMISSIONING_MANAGER] = ROLE_PERMISSIONS[Role.COMMISSIONING_MANAGER] | {
    Perm.VIEW_AUDIT_TRAIL
}
# Patient identifiers: only those who handle a patient's referral (later issues scope this
# further to the referring practice and the receiving provider).
for _role in (Role.REFERRER, Role.REFERRAL_REVIEWER, Role.PROVIDER):
    ROLE_PERMISSIONS[_role] = ROLE_PERMISSIONS[_role] | {Perm.VIEW_PATIENT_IDENTIFIERS}

# Referrals (issue 6).
_REFERRAL_GRANTS: dict[str, set[str]] = {
    Role.REFERRER: {Perm.VIEW_REFERRALS, Perm.SUBMIT_REFERRALS, Perm.VIEW_REFERRAL_STATISTICS, Perm.VIEW_PAYMENT_STATEMENTS},
    Role.REFERRAL_REVIEWER: {Perm.VIEW_REFERRALS, Perm.TRIAGE_REFERRALS, Perm.VIEW_REFERRAL_STATISTICS, Perm.VIEW_PAYMENT_STATEMENTS},
    Role.PROVIDER: {Perm.VIEW_REFERRALS},
    Role.CLINICAL_COMMISSIONER: {Perm.VIEW_REFERRAL_STATISTICS, Perm.VIEW_PAYMENT_STATEMENTS},
    Role.COMMISSIONING_MANAGER: {Perm.VIEW_REFERRAL_STATISTICS, Perm.VIEW_PAYMENT_STATEMENTS, Perm.MANAGE_TARIFF,
                                 Perm.MANAGE_PRACTICE_TOKENS},
    Role.AUDITOR: {Perm.VIEW_REFERRAL_STATISTICS, Perm.VIEW_PAYMENT_STATEMENTS},
}
for _role, _granted in _REFERRAL_GRANTS.items():
    ROLE_PERMISSIONS[_role] = ROLE_PERMISSIONS[_role] | _granted

# Governance (issue 5). Everyone signed in reads it; those who take part in decisions
# declare and vote (services check committee membership, not just the role); the
# commissioning manager acts as secretary, and a chair runs their own committee's meetings.
_DECIDERS = (Role.CLINICAL_COMMISSIONER, Role.COMMISSIONING_MANAGER, Role.SENATE_MEMBER, Role.HWB_MEMBER,
             Role.PATIENT_REPRESENTATIVE)
for _role in _EVERY_ROLE:
    ROLE_PERMISSIONS[_role] = ROLE_PERMISSIONS[_role] | {Perm.VIEW_GOVERNANCE}
for _role in _DECIDERS:
    ROLE_PERMISSIONS[_role] = ROLE_PERMISSIONS[_role] | {Perm.DECLARE_INTERESTS, Perm.VOTE}
ROLE_PERMISSIONS[Role.CLINICAL_COMMISSIONER] = ROLE_PERMISSIONS[Role.CLINICAL_COMMISSIONER] | {Perm.RUN_MEETINGS}
ROLE_PERMISSIONS[Role.COMMISSIONING_MANAGER] = ROLE_PERMISSIONS[Role.COMMISSIONING_MANAGER] | {
    Perm.RUN_MEETINGS, Perm.MANAGE_COMMITTEES, Perm.MANAGE_BREACHES, Perm.VIEW_DECLARATION_STATUS
}
ROLE_PERMISSIONS[Role.AUDITOR] = ROLE_PERMISSIONS[Role.AUDITOR] | {Perm.VIEW_DECLARATION_STATUS}

# Needs and outcomes (issue 4): the joint strategic needs assessment is read by everyone who
# plans or scrutinises services (not providers: they see their own contracts); the analyst
# loads data, recomputes and sets peer weights; commissioners set targets; the health and
# wellbeing board records the joint strategy's priorities.
for _role in (Role.CLINICAL_COMMISSIONER, Role.COMMISSIONING_MANAGER, Role.REFERRAL_REVIEWER, Role.REFERRER,
              Role.SENATE_MEMBER, Role.HWB_MEMBER, Role.PATIENT_REPRESENTATIVE, Role.AUDITOR):
    ROLE_PERMISSIONS[_role] = ROLE_PERMISSIONS[_role] | {Perm.VIEW_NEEDS}
ROLE_PERMISSIONS[Role.COMMISSIONING_MANAGER] = ROLE_PERMISSIONS[Role.COMMISSIONING_MANAGER] | {
    Perm.LOAD_NEEDS_DATA, Perm.RECOMPUTE_NEEDS, Perm.EDIT_PEER_WEIGHTS, Perm.SET_TARGETS
}
ROLE_PERMISSIONS[Role.CLINICAL_COMMISSIONER] = ROLE_PERMISSIONS[Role.CLINICAL_COMMISSIONER] | {Perm.SET_TARGETS}
ROLE_PERMISSIONS[Role.HWB_MEMBER] = ROLE_PERMISSIONS[Role.HWB_MEMBER] | {Perm.RECORD_PRIORITIES}

for _role, _perms in ROLE_PERMISSIONS.items():
    unknown = _perms - ALL_PERMISSIONS
    if unknown:  # pragma: no cover - a programming error caught at import
        raise RuntimeError(f"role {_role} is given unknown permissions {sorted(unknown)}")


def current_roles(user: Any, on: datetime.date | None = None) -> frozenset[str]:
    """The roles ``user`` holds today (or ``on`` a given day), through any membership."""
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        return frozenset()
    day = on or timezone.localdate()
    cache_key = f"_oc_roles_{day.isoformat()}"
    cached = getattr(user, cache_key, None)
    if cached is not None:
        return cached  # type: ignore[no-any-return]
    roles = frozenset(
        user.memberships.filter(started_on__lte=day)
        .exclude(ended_on__lt=day)
        .values_list("role", flat=True)
    )
    setattr(user, cache_key, roles)
    return roles


def has_permission(user: Any, permission: str) -> bool:
    """True when ``user`` may do ``permission``. Deny unless a role allows it."""
    if permission == PUBLIC:
        return True
    roles = current_roles(user)
    if not roles:
        return False
    if permission == SIGNED_IN:
        return True
    return any(permission in ROLE_PERMISSIONS.get(role, frozenset()) for role in roles)


def permissions_of(user: Any) -> frozenset[str]:
    roles = current_roles(user)
    granted: set[str] = set()
    for role in roles:
        granted |= ROLE_PERMISSIONS.get(role, frozenset())
    return frozenset(granted)


V = TypeVar("V", bound=Callable[..., Any])


def requires(permission: str) -> Callable[[V], V]:
    """Declare the permission a view needs. The middleware enforces it."""
    if permission not in ALL_PERMISSIONS | {PUBLIC, SIGNED_IN}:
        raise ValueError(f"unknown permission {permission!r}")

    def decorate(view: V) -> V:
        view.oc_permission = permission  # type: ignore[attr-defined]
        return view

    return decorate


def public(view: V) -> V:
    """Declare a view open to everyone, signed in or not."""
    return requires(PUBLIC)(view)
