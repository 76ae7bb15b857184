"""``manage.py import_dataset``: load population, activity, deprivation or published counts
(CSV or Parquet) into the needs store. All or nothing; the same file twice adds nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from opencommissioning.needs import services
from opencommissioning.needs.models import LoadStatus, Scope, Table


class Command(BaseCommand):
    help = "Check and load a CSV or Parquet file into the needs store (every problem is listed; nothing loads on any)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", help="a .csv or .parquet file")
        parser.add_argument("--table", required=True, choices=Table.values)
        parser.add_argument("--scope", default=Scope.LOCAL, choices=Scope.values)
        parser.add_argument("--source", required=True, help="where the data came from (publication or extract)")
        parser.add_argument("--synthetic", action="store_true", help="the data is made up")
        parser.add_argument("--replace-overlapping", action="store_true",
                            help="withdraw earlier loads of the same periods and organisations")
        parser.add_argument("--background", action="store_true", help="queue it for `manage.py db_worker` instead")

    def handle(self, *args: Any, **options: Any) -> None:
        path = Path(options["file"])
        if not path.is_file():
            raise CommandError(f"{path} does not exist")
        kwargs = {"by": None, "scope": options["scope"], "table": options["table"], "source": options["source"],
                  "path": path, "synthetic": options["synthetic"], "replace_overlapping": options["replace_overlapping"]}
        if options["background"]:
            load, created = services.request_load(file_name=path.name, **kwargs)
            self.stdout.write(f"Load {load.pk} is {'queued' if created else 'already ' + load.status}.")
            return
        load, created = services.load_file(**kwargs)
        if not created:
            self.stdout.write(self.style.WARNING(f"{path.name} was already loaded as load {load.pk}: nothing was added."))
            return
        if load.status != LoadStatus.LOADED:
            lines = [f"Nothing was loaded: {load.problem_count} problem(s) in {path.name}."]
            lines += [f"  - row {p[0] or 'header'}, column {p[1] or '-'}: {p[2]}" for p in load.problems[:200]]
            if load.problem_count > 200:
                lines.append(f"  … and {load.problem_count - 200} more.")
            raise CommandError("\n".join(lines))
        self.stdout.write(self.style.SUCCESS(
            f"Load {load.pk}: {load.rows:,} rows of {load.table} ({load.scope}), {load.period_range or 'no periods'}."))
