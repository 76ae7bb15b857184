"""make demo without the data directory: made-up practices, every figure labelled synthetic,
a recompute, a target and priorities; a second run changes nothing."""

from __future__ import annotations

import pytest

from opencommissioning.core.demo import load_demo
from opencommissioning.needs.models import ComputeRun, DatasetLoad, IndicatorValue, Priority, Target

pytestmark = pytest.mark.django_db


def test_the_synthetic_demo_computes_everything_once(settings, tmp_path, client):
    settings.VAR_DIR = tmp_path
    settings.NEEDS_DEMO = True
    result = load_demo(data_dir=None)
    loads = list(DatasetLoad.objects.all())
    assert {(load.scope, load.table) for load in loads} == {("local", "population"), ("local", "activity"),
                                                            ("local", "deprivation")}
    assert all(load.synthetic and load.status == "loaded" for load in loads)
    assert ComputeRun.objects.filter(status="done").count() == 1
    assert ComputeRun.objects.get().held_back == []  # every indicator has its activity, prescribing too
    assert IndicatorValue.objects.filter(level="practice", synthetic=True).exists()
    assert not IndicatorValue.objects.filter(synthetic=False).exists()
    assert Target.objects.count() == 1 and Priority.objects.count() == 2
    page = client.get(f"/public/profiles/{result.commissioner.ods_code}/").content.decode()
    assert "Some figures on this page are synthetic" in page
    load_demo(data_dir=None)
    assert DatasetLoad.objects.count() == len(loads) and ComputeRun.objects.count() == 1
