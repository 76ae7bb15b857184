"""The demo seeds a governing body whose decisions a lay reader can follow; twice changes nothing."""

from __future__ import annotations

import pytest

from opencommissioning.audit.chain import verify
from opencommissioning.core.demo import load_demo
from opencommissioning.governance.models import (
    Breach,
    Committee,
    Conflict,
    Decision,
    GiftHospitality,
    Interest,
    Vote,
)

pytestmark = pytest.mark.django_db

MODELS = (Committee, Interest, GiftHospitality, Conflict, Vote, Decision, Breach)


@pytest.fixture(autouse=True)
def private_var_dir(settings, tmp_path):
    settings.VAR_DIR = tmp_path


def test_the_demo_seeds_governance_and_a_second_run_changes_nothing(client):
    load_demo(data_dir=None)
    counts = [m.objects.count() for m in MODELS]
    assert all(counts), dict(zip([m.__name__ for m in MODELS], counts, strict=True))
    conflicted = Conflict.objects.select_related("person").filter(management="excluded").get()
    assert conflicted.person.username == "commissioner"
    assert not Vote.objects.filter(person=conflicted.person, item=conflicted.item).exists()
    decision = Decision.objects.get(item=conflicted.item)
    assert decision.carried and decision.quorum_present >= decision.quorum_required
    page = client.get(f"/public/decisions/{decision.pk}/").content.decode()
    assert "Excluded from the item" in page and "Patient panel survey" in page
    assert len(client.get("/public/registers/interests.json").json()) == 4
    assert verify().ok

    load_demo(data_dir=None)
    assert [m.objects.count() for m in MODELS] == counts
