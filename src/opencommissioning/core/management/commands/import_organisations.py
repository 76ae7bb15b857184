"""``manage.py import_organisations``: CCGs, GP practices and NHS trusts from ODS files."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from opencommissioning.core.commandline import data_dir, progress_bar, rejected
from opencommissioning.core.importers import ImportRejected
from opencommissioning.core.services import import_organisations


class Command(BaseCommand):
    help = (
        "Load commissioners (ODS eccg), GP practices (ODS epraccur) and NHS trusts (STP "
        "membership and provider statistics files) from the data directory. All or nothing; "
        "re-running changes nothing."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--data-dir", help="defaults to OPENCOMMISSIONING_DATA_DIR")

    def handle(self, *args: Any, **options: Any) -> None:
        folder = data_dir(options["data_dir"])
        self.stdout.write(f"Reading organisations from {folder} …")
        try:
            summary = import_organisations(by=None, data_dir=folder, progress=progress_bar)
        except ImportRejected as error:
            raise rejected(error) from None
        for report in summary.files:
            self.stdout.write(
                f"  {report.path.name}: {report.rows} rows read, {report.accepted} used, "
                f"{report.skipped} skipped (not a CCG, GP practice or NHS trust)"
            )
        for note in summary.notes:
            self.stdout.write(f"  Note: {note}")
        self.stdout.write(
            self.style.SUCCESS(
                f"Organisations: {summary.created} created, {summary.updated} updated, "
                f"{summary.unchanged} unchanged."
            )
        )
