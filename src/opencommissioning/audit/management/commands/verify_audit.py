"""``manage.py verify_audit``: check every link of the audit chain."""

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from opencommissioning.audit.chain import verify


class Command(BaseCommand):
    help = "Verify the hash chain of the audit trail and name the first broken link."

    def handle(self, *args: Any, **options: Any) -> None:
        result = verify()
        if not result.ok:
            raise CommandError(str(result))
        self.stdout.write(self.style.SUCCESS(str(result)))
