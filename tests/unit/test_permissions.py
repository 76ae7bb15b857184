import datetime

import pytest
from django.contrib.auth.models import AnonymousUser
from django.utils import timezone

from opencommissioning.core import services
from opencommissioning.core.permissions import (
    PUBLIC,
    ROLE_PERMISSIONS,
    SIGNED_IN,
    Perm,
    current_roles,
    has_permission,
    requires,
)
from opencommissioning.core.roles import Role

pytestmark = pytest.mark.django_db


def test_the_public_gets_only_public_things():
    anonymous = AnonymousUser()
    assert has_permission(anonymous, PUBLIC)
    assert not has_permission(anonymous, SIGNED_IN)
    assert not has_permission(anonymous, Perm.VIEW_ORGANISATIONS)
    assert not has_permission(None, Perm.VIEW_ORGANISATIONS)


def test_a_user_without_a_role_is_denied_everything_but_public(commissioner):
    user = services.create_person(by=None, username="norole", full_name="No Role")
    assert current_roles(user) == frozenset()
    assert has_permission(user, PUBLIC)
    assert not has_permission(user, SIGNED_IN)
    assert not has_permission(user, Perm.VIEW_ORGANISATIONS)


def test_roles_grant_exactly_what_the_table_says(people):
    for role, user in people.items():
        for permission in (Perm.VIEW_ORGANISATIONS, Perm.VIEW_AUDIT_TRAIL, Perm.VIEW_PATIENT_IDENTIFIERS):
            assert has_permission(user, permission) == (permission in ROLE_PERMISSIONS[role]), (role, permission)


def test_only_auditors_and_managers_read_the_audit_trail(people):
    allowed = {r for r, u in people.items() if has_permission(u, Perm.VIEW_AUDIT_TRAIL)}
    assert allowed == {Role.AUDITOR, Role.COMMISSIONING_MANAGER}


def test_patient_identifiers_only_for_roles_that_handle_referrals(people):
    allowed = {r for r, u in people.items() if has_permission(u, Perm.VIEW_PATIENT_IDENTIFIERS)}
    assert allowed == {Role.REFERRER, Role.REFERRAL_REVIEWER, Role.PROVIDER}


def test_an_ended_membership_stops_granting(people):
    auditor = people[Role.AUDITOR]
    membership = auditor.memberships.get()
    services.end_membership(by=None, membership=membership, ended_on=datetime.date(2021, 1, 1), reason="Left")
    auditor.refresh_from_db()
    fresh = type(auditor).objects.get(pk=auditor.pk)
    assert not has_permission(fresh, Perm.VIEW_AUDIT_TRAIL)
    assert not has_permission(fresh, SIGNED_IN)


def test_a_membership_starting_later_grants_nothing_yet(commissioner):
    user = services.create_person(by=None, username="future", full_name="Future Person")
    services.add_membership(
        by=None, user=user, organisation=commissioner, role=Role.AUDITOR,
        started_on=timezone.localdate() + datetime.timedelta(days=30),
    )
    assert not has_permission(user, Perm.VIEW_AUDIT_TRAIL)


def test_an_inactive_account_is_denied(people):
    user = people[Role.AUDITOR]
    user.is_active = False
    assert not has_permission(user, Perm.VIEW_AUDIT_TRAIL)


def test_unknown_permissions_cannot_be_declared():
    with pytest.raises(ValueError, match="unknown permission"):
        requires("organisations.delete_everything")
