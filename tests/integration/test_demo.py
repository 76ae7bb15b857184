"""load_demo: one sign-in for every role, real data when the data directory has it."""

import io

import pytest
from django.core.management import call_command

from opencommissioning.audit.chain import verify
from opencommissioning.core.demo import DEMO_PEOPLE, load_demo
from opencommissioning.core.models import Organisation, User
from opencommissioning.core.permissions import current_roles
from opencommissioning.core.roles import Role

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def private_var_dir(settings, tmp_path):
    settings.VAR_DIR = tmp_path


def test_every_role_gets_a_sign_in_on_synthetic_data():
    result = load_demo(data_dir=None)
    assert result.synthetic
    assert {p.role for p in DEMO_PEOPLE} == set(Role.values)
    for person, password in result.credentials:
        user = User.objects.get(username=person.username)
        assert user.check_password(password)
        assert person.role in current_roles(user)
    assert Organisation.objects.filter(parent=result.commissioner, kind="practice").count() == 12
    assert verify().ok


def test_running_it_twice_changes_nothing():
    first = load_demo(data_dir=None)
    users, organisations = User.objects.count(), Organisation.objects.count()
    second = load_demo(data_dir=None)
    assert (User.objects.count(), Organisation.objects.count()) == (users, organisations)
    assert dict((p.username, pw) for p, pw in first.credentials) == dict((p.username, pw) for p, pw in second.credentials)


def test_the_command_prints_the_sign_ins(settings):
    settings.OPENCOMMISSIONING_DATA_DIR = None
    out = io.StringIO()
    call_command("load_demo", stdout=out)
    text = out.getvalue()
    assert "SYNTHETIC" in text
    for person in DEMO_PEOPLE:
        assert person.username in text


def test_the_command_refuses_production(settings):
    from django.core.management.base import CommandError

    settings.PRODUCTION = True
    with pytest.raises(CommandError, match="production"):
        call_command("load_demo", stdout=io.StringIO())


@pytest.mark.skipif(
    not __import__("django.conf").conf.settings.OPENCOMMISSIONING_DATA_DIR,
    reason="the real public data directory is not beside this checkout",
)
def test_the_real_demo_is_trafford_with_its_real_practices(settings):
    result = load_demo(data_dir=settings.OPENCOMMISSIONING_DATA_DIR)
    trafford = result.commissioner
    assert (trafford.ods_code, trafford.name) == ("02A", "NHS TRAFFORD CCG")
    practices = Organisation.objects.filter(parent=trafford, kind="practice", close_date__isnull=True)
    assert practices.filter(registered_population__isnull=False).distinct().count() >= 30
    assert Organisation.objects.filter(parent=trafford, kind="locality").count() == 4
    assert Organisation.objects.get(ods_code="R0A").kind == "provider"
    assert verify().ok
