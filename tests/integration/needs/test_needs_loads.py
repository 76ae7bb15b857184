"""Loads: every problem named at once and nothing loaded; the same file twice adds
nothing; overlapping loads refused unless replacing; background loads with progress."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.core.management.base import CommandError

from opencommissioning.audit.models import AuditEvent
from opencommissioning.core.roles import Role
from opencommissioning.needs import services, store
from opencommissioning.needs.models import DatasetLoad, LoadStatus

pytestmark = pytest.mark.django_db

GOOD = ("organisation,commissioner,period,sex,age_band,count\n"
        "P91001,02A,2024-04,F,0-4,120\nP91001,02A,2024-04,M,0-4,130\n")
BAD = ("organisation,commissioner,period,sex,age_band,count\n"
       "P91001,02A,2024-13,F,0-4,120\nP91001,02A,2024-04,X,0-4,-3\n")


def _upload(client, text: str, name: str = "population.csv", **extra):
    data = {"file": SimpleUploadedFile(name, text.encode(), content_type="text/csv"), "table": "population",
            "scope": "local", "source": "test extract", **extra}
    return client.post("/needs/data/", data)


def _store_files() -> list[Path]:
    return sorted(store.root().rglob("*.parquet")) if store.root().exists() else []


def test_a_bad_file_is_rejected_with_every_problem_and_loads_nothing(people, client_as, django_capture_on_commit_callbacks):
    client = client_as(Role.COMMISSIONING_MANAGER)
    with django_capture_on_commit_callbacks(execute=True):
        response = _upload(client, BAD)
    load = DatasetLoad.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/needs/data/{load.pk}/"
    assert load.status == LoadStatus.REJECTED and load.problem_count == 3
    page = client.get(f"/needs/data/{load.pk}/").content.decode()
    assert "Nothing was loaded: 3 problems" in page
    for text in ("&#x27;2024-13&#x27; is not a month written YYYY-MM", "&#x27;X&#x27; is not one of F, M", "-3 is below 0"):
        assert text in page
    assert _store_files() == []
    assert AuditEvent.objects.filter(action="needs.load.rejected").count() == 1


def test_a_good_file_loads_once_however_often_it_is_sent(people, client_as, django_capture_on_commit_callbacks):
    client = client_as(Role.COMMISSIONING_MANAGER)
    with django_capture_on_commit_callbacks(execute=True):
        _upload(client, GOOD)
    load = DatasetLoad.objects.get()
    assert (load.status, load.rows, load.periods, load.organisations) == ("loaded", 2, ["2024-04"], ["P91001"])
    assert load.requested_by == people[Role.COMMISSIONING_MANAGER] and len(load.file_digest) == 64
    with django_capture_on_commit_callbacks(execute=True):
        again = _upload(client, GOOD, name="copy.csv")
    assert again["Location"] == f"/needs/data/{load.pk}/" and DatasetLoad.objects.count() == 1
    assert len(_store_files()) == 1
    assert "Loaded" in client.get("/needs/data/").content.decode()


def test_overlapping_data_is_refused_unless_it_replaces(people, client_as, django_capture_on_commit_callbacks):
    client = client_as(Role.COMMISSIONING_MANAGER)
    corrected = GOOD.replace("120", "125")
    with django_capture_on_commit_callbacks(execute=True):
        _upload(client, GOOD)
        _upload(client, corrected)
    first, second = DatasetLoad.objects.order_by("pk")
    assert second.status == LoadStatus.REJECTED and "already loaded by load" in second.problems[0][2]
    with django_capture_on_commit_callbacks(execute=True):
        _upload(client, corrected, replace_overlapping="on")
    first.refresh_from_db()
    third = DatasetLoad.objects.order_by("pk").last()
    assert third.status == LoadStatus.LOADED and first.status == LoadStatus.WITHDRAWN and first.replaced_by == third
    assert [p.parent.name for p in _store_files()] == [f"load={third.pk}"]


def test_the_upload_form_names_bad_fields(people, client_as):
    response = client_as(Role.COMMISSIONING_MANAGER).post("/needs/data/", {
        "file": SimpleUploadedFile("notes.txt", b"hello"), "table": "population", "scope": "local", "source": "x"})
    assert response.status_code == 400 and "notes.txt is not a .csv or .parquet file" in response.content.decode()
    assert not DatasetLoad.objects.exists()


def test_a_queued_load_shows_progress_until_the_worker_runs_it(people, client_as, settings, real_transactions):
    """The real worker commits and closes its connection, so this test commits for real."""
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default"]}}
    client = client_as(Role.COMMISSIONING_MANAGER)
    _upload(client, GOOD)
    load = DatasetLoad.objects.get()
    assert load.status == LoadStatus.QUEUED
    partial = client.get(f"/needs/data/{load.pk}/progress/", headers={"HX-Request": "true"})
    assert 'hx-trigger="every 1s"' in partial.content.decode() and "Waiting for the background worker" in partial.content.decode()
    call_command("db_worker", "--batch", "--no-startup-delay", "--no-reload", stdout=io.StringIO(), stderr=io.StringIO())
    load.refresh_from_db()
    assert load.status == LoadStatus.LOADED and load.percent == 100
    done = client.get(f"/needs/data/{load.pk}/progress/", headers={"HX-Request": "true"})
    assert done["HX-Refresh"] == "true" and "every 1s" not in done.content.decode()


def test_the_command_loads_and_lists_every_problem(people, tmp_path):
    good, bad = tmp_path / "good.csv", tmp_path / "bad.csv"
    good.write_text(GOOD)
    bad.write_text(BAD)
    out = io.StringIO()
    call_command("import_dataset", str(good), "--table", "population", "--source", "test", stdout=out)
    assert "2 rows of population (local), 2024-04" in out.getvalue()
    call_command("import_dataset", str(good), "--table", "population", "--source", "test", stdout=out)
    assert "already loaded" in out.getvalue()
    with pytest.raises(CommandError) as caught:
        call_command("import_dataset", str(bad), "--table", "population", "--source", "test", stdout=out)
    assert "3 problem(s)" in str(caught.value) and "row 3, column sex: 'X' is not one of F, M" in str(caught.value)


def test_withdrawing_a_load_takes_it_out_of_the_store(people, client_as, tmp_path, django_capture_on_commit_callbacks):
    path = tmp_path / "p.csv"
    path.write_text(GOOD)
    load, _ = services.load_file(by=None, scope="local", table="population", source="t", path=path)
    client = client_as(Role.COMMISSIONING_MANAGER)
    assert client.post(f"/needs/data/{load.pk}/withdraw/", {"reason": ""}).status_code == 302
    load.refresh_from_db()
    assert load.status == LoadStatus.LOADED  # a reason is needed
    assert len(_store_files()) == 1
    with django_capture_on_commit_callbacks(execute=True):
        client.post(f"/needs/data/{load.pk}/withdraw/", {"reason": "wrong month"})
    load.refresh_from_db()
    assert load.status == LoadStatus.WITHDRAWN and load.withdrawn_reason == "wrong month"
    assert _store_files() == []


def test_sweeping_leaves_loads_in_progress_alone(people):
    for load_id in (41, 42):
        store.staging_folder(load_id).mkdir(parents=True)
    orphan = store.load_folder("local", "activity", 43)
    orphan.mkdir(parents=True)
    removed = store.sweep([], running=[41])
    assert store.staging_folder(41).exists() and not store.staging_folder(42).exists() and not orphan.exists()
    assert set(removed) == {store.staging_folder(42), orphan}
