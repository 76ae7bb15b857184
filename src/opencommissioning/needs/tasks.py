"""Background tasks (django-tasks; the database backend's worker is ``manage.py db_worker``)."""

from __future__ import annotations

from django_tasks import task

from . import services
from .models import ComputeRun


@task()
def load_dataset(load_id: int) -> str:
    load = services.run_load(load_id=load_id)
    return load.status


@task()
def recompute_values(run_id: int) -> str:
    run = ComputeRun.objects.get(pk=run_id)
    if run.status != "queued":
        return run.status  # run twice, or given up as stalled: nothing to do
    return services.recompute(by=run.requested_by, run=run).status
