"""``manage.py load_demo``: the demo commissioning organisation and a sign-in for every role."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from opencommissioning.core.commandline import progress_bar, rejected
from opencommissioning.core.demo import DEMO_COMMISSIONER, load_demo
from opencommissioning.core.importers import ImportRejected
from opencommissioning.core.roles import Role


class Command(BaseCommand):
    help = "Load the demo commissioner (real ODS data when the data directory exists) and demo sign-ins."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--commissioner", default=DEMO_COMMISSIONER, help="CCG code (default 02A, NHS Trafford CCG)")

    def handle(self, *args: Any, **options: Any) -> None:
        if settings.PRODUCTION:
            raise CommandError("Refusing to create demo sign-ins with OPENCOMMISSIONING_ENV=production.")
        data_dir = settings.OPENCOMMISSIONING_DATA_DIR
        if data_dir is None:
            self.stdout.write(self.style.WARNING("No data directory found: loading SYNTHETIC demo data."))
        else:
            self.stdout.write(f"Loading the demo commissioner from real data in {data_dir} …")
        try:
            result = load_demo(data_dir=data_dir, commissioner_code=options["commissioner"], progress=progress_bar)
        except ImportRejected as error:
            raise rejected(error) from None
        for note in result.notes:
            self.stdout.write(f"  {note}")
        self.stdout.write(self.style.SUCCESS(f"Demo commissioner: {result.commissioner.name} ({result.commissioner.ods_code})"))
        self.stdout.write("")
        self.stdout.write("Demo sign-ins (demo only; kept in var/demo-credentials.json):")
        width = max(len(p.username) for p, _ in result.credentials)
        for person, password in result.credentials:
            self.stdout.write(f"  {person.username:<{width}}  {password:<24}  {Role(person.role).label}")
