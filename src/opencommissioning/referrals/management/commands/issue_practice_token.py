"""``manage.py issue_practice_token <ODS code>``: a FHIR API token for one practice."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from opencommissioning.core.models import Organisation
from opencommissioning.referrals import services


class Command(BaseCommand):
    help = "Issue an API token to a practice (printed once; only its hash is kept)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("ods_code")
        parser.add_argument("--label", default="", help="what the token is for, e.g. the GP system")

    def handle(self, *args: Any, **options: Any) -> None:
        practice = Organisation.objects.filter(ods_code=options["ods_code"].upper()).first()
        if practice is None:
            raise CommandError(f"No organisation has the code {options['ods_code']}")
        try:
            _token, raw = services.issue_practice_token(by=None, practice=practice, label=options["label"])
        except ValidationError as error:
            raise CommandError("; ".join(error.messages)) from None
        self.stdout.write(f"Token for {practice.name} ({practice.ods_code}), shown once:\n{raw}")
