"""``manage.py import_list_sizes``: registered patients by practice, sex and age band."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from opencommissioning.core.commandline import data_dir, progress_bar, rejected
from opencommissioning.core.importers import LIST_SIZE_FILE, ImportRejected
from opencommissioning.core.services import import_list_sizes


class Command(BaseCommand):
    help = "Load NHSBSA practice list sizes by sex and age band. All or nothing; idempotent."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--file", help=f"a list-size CSV (default: {LIST_SIZE_FILE} in the data directory)")
        parser.add_argument("--data-dir", help="defaults to OPENCOMMISSIONING_DATA_DIR")
        parser.add_argument("--commissioner", help="only practices of this CCG code (e.g. 02A)")

    def handle(self, *args: Any, **options: Any) -> None:
        path = Path(options["file"]) if options["file"] else data_dir(options["data_dir"]) / LIST_SIZE_FILE
        if not path.is_file():
            raise CommandError(f"The list-size file {path} does not exist.")
        try:
            summary = import_list_sizes(
                by=None, path=path, commissioner=options["commissioner"], progress=progress_bar
            )
        except ImportRejected as error:
            raise rejected(error) from None
        self.stdout.write(
            self.style.SUCCESS(
                f"List sizes from {path.name}: {summary.created} counts created, "
                f"{summary.updated} updated, {summary.unchanged} unchanged."
            )
        )
