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


def _crash(load: DatasetLoad, minutes: int = 30) -> None:
    """What a worker killed while checking leaves: a running load with old progress and a
    partly written staging folder."""
    import datetime

    from django.utils import timezone

    old = timezone.now() - datetime.timedelta(minutes=minutes)
    DatasetLoad.objects.filter(pk=load.pk).update(status=LoadStatus.RUNNING, started_at=old, heartbeat_at=old,
                                                  stage="Checking 2 rows", progress_done=20)
    folder = store.staging_folder(load.pk)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "part-00000.parquet").write_bytes(b"half a file")


def test_a_stalled_load_says_so_and_can_be_tried_again(people, client_as, settings, tmp_path,
                                                       django_capture_on_commit_callbacks):
    settings.NEEDS_STALL_SECONDS = 60
    path = tmp_path / "p.csv"
    path.write_text(GOOD)
    load, _ = services.request_load(by=None, scope="local", table="population", source="t", path=path,
                                    file_name="p.csv", background=False)
    _crash(load)
    client = client_as(Role.COMMISSIONING_MANAGER)
    page = client.get(f"/needs/data/{load.pk}/").content.decode()
    assert "Stalled" in page and "Try again" in page and "every 1s" not in page
    assert "Stalled" in client.get("/needs/data/").content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/needs/data/{load.pk}/retry/")
    load.refresh_from_db()
    fresh = DatasetLoad.objects.get(retry_of=load)
    assert response["Location"] == f"/needs/data/{fresh.pk}/"
    assert load.status == LoadStatus.FAILED and "the background worker stopped" in load.problems[0][2]
    assert fresh.status == LoadStatus.LOADED and fresh.rows == 2
    assert [p.parent.name for p in _store_files()] == [f"load={fresh.pk}"]  # the half file is gone, nothing doubled
    assert AuditEvent.objects.filter(action="needs.load.stalled").count() == 1
    assert AuditEvent.objects.filter(action="needs.load.retry").count() == 1
    # a load that is neither stalled nor failed is not tried again
    client.post(f"/needs/data/{fresh.pk}/retry/")
    assert DatasetLoad.objects.count() == 2


def test_uploading_the_file_of_a_stalled_load_again_starts_a_fresh_attempt(people, client_as, settings,
                                                                          django_capture_on_commit_callbacks):
    settings.NEEDS_STALL_SECONDS = 60
    client = client_as(Role.COMMISSIONING_MANAGER)
    _upload(client, GOOD)  # queued; the worker dies
    stuck = DatasetLoad.objects.get()
    _crash(stuck)
    with django_capture_on_commit_callbacks(execute=True):
        response = _upload(client, GOOD)
    stuck.refresh_from_db()
    fresh = DatasetLoad.objects.exclude(pk=stuck.pk).get()
    assert response["Location"] == f"/needs/data/{fresh.pk}/" and fresh.retry_of == stuck
    assert (stuck.status, fresh.status) == (LoadStatus.FAILED, LoadStatus.LOADED)
    assert [p.parent.name for p in _store_files()] == [f"load={fresh.pk}"]
    # a load in progress that is not stalled is still found, not started twice
    DatasetLoad.objects.filter(pk=fresh.pk).update(status=LoadStatus.FAILED)
    _upload(client, GOOD)
    live = DatasetLoad.objects.order_by("pk").last()
    _upload(client, GOOD)
    assert DatasetLoad.objects.order_by("pk").last() == live


def test_a_worker_that_wakes_after_its_load_was_given_up_publishes_nothing(people, settings, tmp_path):
    settings.NEEDS_STALL_SECONDS = 60
    path = tmp_path / "p.csv"
    path.write_text(GOOD)
    load, _ = services.request_load(by=None, scope="local", table="population", source="t", path=path,
                                    file_name="p.csv", background=False)
    _crash(load)
    services._give_up_load(by=None, load_id=load.pk)
    DatasetLoad.objects.filter(pk=load.pk).update(upload_path=str(path))
    woke = services._run_claimed(DatasetLoad.objects.get(pk=load.pk))
    assert woke.status == LoadStatus.FAILED and _store_files() == []
    # and the task run a second time does nothing
    assert services.run_load(load_id=load.pk).status == LoadStatus.FAILED


def test_a_stalled_recompute_no_longer_blocks_the_next_one(people, client_as, settings,
                                                          django_capture_on_commit_callbacks):
    import datetime

    from django.utils import timezone

    from opencommissioning.needs.models import ComputeRun, RunStatus

    settings.NEEDS_STALL_SECONDS = 60
    old = timezone.now() - datetime.timedelta(minutes=30)
    stuck = ComputeRun.objects.create(requested_at=old, started_at=old, heartbeat_at=old, status=RunStatus.RUNNING)
    busy = ComputeRun.objects.create(requested_at=timezone.now(), status=RunStatus.QUEUED)
    assert services.request_recompute(by=None) == busy  # a live pending run is still returned
    ComputeRun.objects.filter(pk=busy.pk).delete()
    client = client_as(Role.COMMISSIONING_MANAGER)
    page = client.get("/needs/data/").content.decode()
    assert "Stalled" in page and f"/needs/recompute/{stuck.pk}/retry/" in page
    with django_capture_on_commit_callbacks(execute=True):
        client.post(f"/needs/recompute/{stuck.pk}/retry/")
    stuck.refresh_from_db()
    fresh = ComputeRun.objects.get(retry_of=stuck)
    assert stuck.status == RunStatus.FAILED and "Stalled" in stuck.message
    assert fresh.status == RunStatus.DONE
    assert AuditEvent.objects.filter(action="needs.recompute.stalled").count() == 1
    # the task run twice computes once
    from opencommissioning.needs.tasks import recompute_values

    assert recompute_values.call(fresh.pk) == RunStatus.DONE
    assert AuditEvent.objects.filter(action="needs.recompute").count() == 1


def test_months_after_the_current_month_are_refused_with_row_and_column(people, client_as,
                                                                         django_capture_on_commit_callbacks):
    future = ("person_id,period,activity_date,setting,practice,commissioner,sex,age_band,admission_method\n"
              "a1,2024-05,2024-05-03,ae_attendance,P91001,02A,F,0-4,\n"
              "a2,2031-01,2031-01-03,ae_attendance,P91001,02A,F,0-4,\n")
    with django_capture_on_commit_callbacks(execute=True):
        _upload(client_as(Role.COMMISSIONING_MANAGER), future, name="ae.csv", table="activity")
    load = DatasetLoad.objects.get()
    assert load.status == LoadStatus.REJECTED and load.problem_count == 2
    assert [p[:2] for p in load.problems] == [[3, "activity_date"], [3, "period"]]
    assert "'2031-01' is after the current month" in load.problems[1][2]
    assert _store_files() == []


def test_the_year_is_twelve_consecutive_months_and_gaps_are_named():
    from opencommissioning.needs.compute import span_gaps, spans_for

    spans = spans_for(["2024-01", "2024-02", "2025-06", "2025-07"])
    assert list(spans) == ["2024-08/2025-07"] and len(spans["2024-08/2025-07"]) == 12
    assert span_gaps(spans, ["2024-01", "2025-06", "2025-07"])["2024-08/2025-07"][:2] == ["2024-08", "2024-09"]
    whole = [f"{y}-{m:02d}" for y in (2023, 2024) for m in range(1, 13)]
    assert list(spans_for(whole)) == ["2024-01/2024-12", "2023-01/2023-12"]
    assert list(spans_for([*whole[1:]])) == ["2024-01/2024-12"]  # the year before lacks a month


def test_a_correction_replaces_only_the_overlapping_practice_months(people, client_as,
                                                                    django_capture_on_commit_callbacks):
    import pyarrow.dataset as ds

    whole = ("organisation,commissioner,period,sex,age_band,count\n"
             "P91001,02A,2024-04,F,0-4,120\nP91001,02A,2024-05,F,0-4,121\n"
             "P91002,02A,2024-04,F,0-4,80\nP91002,02A,2024-05,F,0-4,81\n")
    correction = "organisation,commissioner,period,sex,age_band,count\nP91002,02A,2024-05,F,0-4,85\n"
    client = client_as(Role.COMMISSIONING_MANAGER)
    with django_capture_on_commit_callbacks(execute=True):
        _upload(client, whole)
        _upload(client, correction, name="fix.csv")
    first, refused = DatasetLoad.objects.order_by("pk")
    assert refused.status == LoadStatus.REJECTED
    assert refused.problems == [[2, "organisation, period",
                                 f"P91002 2024-05 is already loaded by load {first.pk} (population.csv): withdraw it, "
                                 "or load again choosing to replace overlapping data"]]
    page = client.get(f"/needs/data/{refused.pk}/").content.decode()
    assert ">header<" not in page and ">organisation, period<" in page
    with django_capture_on_commit_callbacks(execute=True):
        _upload(client, correction, name="fix.csv", replace_overlapping="on")
    fix = DatasetLoad.objects.order_by("pk").last()
    first.refresh_from_db()
    assert fix.status == LoadStatus.LOADED and first.status == LoadStatus.LOADED  # not withdrawn
    assert first.rows == 3 and first.partly_replaced == [{"load": fix.pk, "rows": 1, "slices": 1}]
    rows = ds.dataset(store.scope_folder("local") / "population", format="parquet").to_table().to_pylist()
    assert sorted((r["organisation"], r["period"], r["count"]) for r in rows) == [
        ("P91001", "2024-04", 120), ("P91001", "2024-05", 121), ("P91002", "2024-04", 80), ("P91002", "2024-05", 85)]
    assert AuditEvent.objects.filter(action="needs.load.partly_replaced").count() == 1
    assert f"Load {fix.pk}</a> replaced 1 row" in client.get(f"/needs/data/{first.pk}/").content.decode()
    assert not list((store.root() / ".staging").glob("*"))  # nothing left over
