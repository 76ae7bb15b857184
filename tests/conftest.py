"""Shared fixtures: a small commissioner with practices, and one person per role."""

from __future__ import annotations

import datetime
import os
from collections.abc import Callable

import pytest
from django.test import Client
from hypothesis import settings as hypothesis_settings

from opencommissioning.core import services
from opencommissioning.core.models import Organisation, OrganisationKind, User
from opencommissioning.core.roles import Role

PASSWORD = "a-long-test-password-1"

# Hypothesis: `make test` (and so CI) uses the "ci" profile: the same examples every run,
# so a green run stays green until the code changes, and no time limit per example (no
# timings in tests; this machine is shared). Run `HYPOTHESIS_PROFILE=explore pytest` to
# search afresh, as a developer does before a change to the methods or the engines.
hypothesis_settings.register_profile("ci", derandomize=True, deadline=None, print_blob=True)
hypothesis_settings.register_profile("explore", deadline=None, print_blob=True)
hypothesis_settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "explore"))


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    """Strong hashing costs ~0.3 s a password; tests make dozens. Not for production."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def needs_store(settings, tmp_path_factory):
    """Each test loads needs data into its own store; tasks run at once; the other demos'
    tests skip the needs demo (its own test turns it on)."""
    base = tmp_path_factory.mktemp("needs")
    settings.NEEDS_STORE = base / "store"
    settings.NEEDS_UPLOADS = base / "uploads"
    settings.NEEDS_DEMO = False
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend", "QUEUES": ["default"]}}
    return base


@pytest.fixture
def real_transactions(transactional_db):
    """For tests that need real commits. The flush after such a test must empty the
    append-only audit table, so its guard is lifted here at teardown; the audit app puts
    it back on ``post_migrate``, which the flush sends."""
    yield
    from django.db import connection

    from opencommissioning.audit import guards

    guards.remove(connection)


@pytest.fixture
def commissioner(db: None) -> Organisation:
    return services.create_organisation(
        by=None, ods_code="02A", name="NHS TRAFFORD CCG", kind=OrganisationKind.COMMISSIONER,
        open_date=datetime.date(2013, 4, 1), postcode="M33 7FT",
    )


@pytest.fixture
def practices(commissioner: Organisation) -> list[Organisation]:
    return [
        services.create_organisation(
            by=None, ods_code=f"P9100{i}", name=f"Test Practice {i}", kind=OrganisationKind.PRACTICE,
            parent=commissioner, postcode="WA15 7XR",
        )
        for i in range(1, 4)
    ]


@pytest.fixture
def provider(db: None) -> Organisation:
    return services.create_organisation(
        by=None, ods_code="R0A", name="Manchester University NHS Foundation Trust",
        kind=OrganisationKind.PROVIDER,
    )


def make_person(role: str, organisation: Organisation, username: str | None = None) -> User:
    user = services.create_person(
        by=None, username=username or role, full_name=f"Test {role}", password=PASSWORD
    )
    services.add_membership(
        by=None, user=user, organisation=organisation, role=role, started_on=datetime.date(2020, 1, 1)
    )
    return user


@pytest.fixture
def people(commissioner: Organisation, practices: list[Organisation], provider: Organisation) -> dict[str, User]:
    """One person for every role, each in the organisation that role belongs to."""
    where = {Role.REFERRER: practices[0], Role.PROVIDER: provider}
    return {role: make_person(role, where.get(role, commissioner)) for role in Role.values}


@pytest.fixture
def client_as(people: dict[str, User]) -> Callable[[str | None], Client]:
    """A test client signed in with the given role (None: the public)."""

    def make(role: str | None) -> Client:
        client = Client()
        if role is not None:
            client.force_login(people[role])
        return client

    return make
