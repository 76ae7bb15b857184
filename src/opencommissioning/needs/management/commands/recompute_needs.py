"""``manage.py recompute_needs``: compute every indicator value from the loaded data."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from opencommissioning.needs import services


class Command(BaseCommand):
    help = "Recompute every needs indicator (all levels, spans, peers) from the loaded data; prints the time taken."

    def handle(self, *args: Any, **options: Any) -> None:
        run = services.recompute(by=None)
        self.stdout.write(self.style.SUCCESS(
            f"Recompute {run.pk}: {run.values_count:,} values in {run.seconds} s ({run.engine}); "
            f"no data for {len(run.held_back)} indicator(s)."))
