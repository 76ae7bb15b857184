"""Foundation benchmark: the audit chain's cost, and the organisation import, each against
a baseline measured in the same process. Prints one JSON document on stdout."""

from __future__ import annotations

import csv
import json
import os
import time

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "opencommissioning.settings")
django.setup()

from django.conf import settings  # noqa: E402
from django.db import connection, transaction  # noqa: E402

from opencommissioning.audit.chain import record, verify  # noqa: E402
from opencommissioning.audit.models import AuditEvent  # noqa: E402
from opencommissioning.core.importers import ORGANISATION_FILES, PROVIDER_STATISTICS_FILES  # noqa: E402
from opencommissioning.core.models import Organisation  # noqa: E402
from opencommissioning.core.services import import_organisations  # noqa: E402

N_EVENTS = 3000


def timed(fn):
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def audit_appends():
    # Baseline: the same number of plain single-row inserts into a table with no chain.
    def baseline():
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("CREATE TEMPORARY TABLE bench_plain (n integer, payload text)")
            for i in range(N_EVENTS):
                cursor.execute("INSERT INTO bench_plain VALUES (%s, %s)", [i, json.dumps({"i": i, "name": "x" * 40})])

    def chained():
        with transaction.atomic():
            for i in range(N_EVENTS):
                record(by=None, action="bench.event", object_type="bench.Thing", object_id=str(i),
                       after={"i": i, "name": "x" * 40})

    base, chain = timed(baseline), timed(chained)

    def read_all():
        for _ in AuditEvent.objects.order_by("sequence").iterator(chunk_size=2000):
            pass

    read = timed(read_all)
    result = {}
    verify_seconds = timed(lambda: result.setdefault("v", verify()))
    assert result["v"].ok
    return {
        "events": N_EVENTS,
        "plain_insert_seconds": round(base, 4),
        "chained_append_seconds": round(chain, 4),
        "chained_appends_per_second": round(N_EVENTS / chain, 1),
        "append_over_plain_insert": round(chain / base, 2),
        "read_seconds": round(read, 4),
        "verify_seconds": round(verify_seconds, 4),
        "verified_events_per_second": round(N_EVENTS / verify_seconds, 1),
        "verify_over_read": round(verify_seconds / read, 2),
    }


def organisation_import():
    data_dir = settings.OPENCOMMISSIONING_DATA_DIR
    if data_dir is None:
        return {"skipped": "no data directory"}
    files = [data_dir / f for f in ORGANISATION_FILES.values()]
    files += [data_dir / f for f in PROVIDER_STATISTICS_FILES if (data_dir / f).is_file()]

    def parse_only():  # the baseline: reading the same CSV files with the standard library
        for path in files:
            with path.open(newline="", encoding="utf-8-sig") as handle:
                for _ in csv.DictReader(handle):
                    pass

    base = timed(parse_only)
    first = timed(lambda: import_organisations(by=None, data_dir=data_dir))
    again = timed(lambda: import_organisations(by=None, data_dir=data_dir))
    return {
        "organisations": Organisation.objects.count(),
        "csv_parse_seconds": round(base, 4),
        "first_import_seconds": round(first, 4),
        "rerun_import_seconds": round(again, 4),
        "import_over_csv_parse": round(first / base, 2),
    }


if __name__ == "__main__":
    print(json.dumps({"vendor": connection.vendor, "audit": audit_appends(), "import_organisations": organisation_import()}))
