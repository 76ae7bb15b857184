"""Remind everyone whose declaration of interests is overdue, and record each reminder.

No email is sent (there is no mail service yet): the reminders are recorded, printed, and
shown on the "Overdue declarations" page. ``--dry-run`` lists without recording.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from opencommissioning.governance import queries, services


class Command(BaseCommand):
    help = "Record a reminder for everyone whose declaration of interests is overdue."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--dry-run", action="store_true", help="list who is overdue without recording reminders")

    def handle(self, *args: Any, **options: Any) -> None:
        overdue = queries.overdue_declarations()
        if not overdue:
            self.stdout.write("Nobody's declaration is overdue.")
            return
        for status in overdue:
            self.stdout.write(f"{status.person.display_name} ({status.person.username}): {status.reason}")
        if options["dry_run"]:
            self.stdout.write(f"{len(overdue)} overdue; no reminders recorded (--dry-run).")
            return
        made = services.record_reminders(by=None, overdue=[(s.person, s.reason) for s in overdue])
        self.stdout.write(self.style.SUCCESS(f"Recorded {len(made)} reminder{'s' if len(made) != 1 else ''}."))
