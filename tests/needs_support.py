"""Needs data for tests: seven practices of the test commissioner in two localities, 14
months of synthetic activity (one practice with emergency admissions far above the rest),
one tiny practice whose counts are small enough to be suppressed in public, real-shaped
published counts, loaded and recomputed through the services."""

from __future__ import annotations

import datetime
from pathlib import Path

import pyarrow.dataset as ds
import pyarrow.parquet as pq

from opencommissioning.analytics import datamodel
from opencommissioning.analytics.synthetic import Change, made_up_practices, synthesise
from opencommissioning.core import services as core_services
from opencommissioning.core.models import Organisation, OrganisationKind
from opencommissioning.needs import services

OUTLIER = "P91001"
TINY = "P91007"
MONTHS = 14
START = "2024-04"


def _practice(commissioner: Organisation, code: str, locality: Organisation) -> Organisation:
    existing = Organisation.objects.filter(ods_code=code).first()
    org = existing or core_services.create_organisation(by=None, ods_code=code, name=f"Test Practice {code[-1]}",
                                                        kind=OrganisationKind.PRACTICE, parent=commissioner)
    core_services.update_organisation(by=None, organisation=org, locality=locality)
    return org


def _one_file(folder: Path, out: Path) -> Path:
    pq.write_table(ds.dataset(folder, format="parquet").to_table(), out)
    return out


def months() -> list[str]:
    y, m = 2024, 4
    out = []
    for _ in range(MONTHS):
        out.append(f"{y:04d}-{m:02d}")
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return out


def load_needs(commissioner: Organisation, tmp: Path, *, recompute: bool = True) -> dict[str, Organisation]:
    """Organisations made (localities, practices); the data loaded; values computed."""
    north = Organisation.objects.filter(ods_code="02A-NOR").first() or core_services.create_organisation(
        by=None, ods_code="02A-NOR", name="Test North locality", kind=OrganisationKind.LOCALITY, parent=commissioner,
        is_local_code=True)
    south = Organisation.objects.filter(ods_code="02A-SOU").first() or core_services.create_organisation(
        by=None, ods_code="02A-SOU", name="Test South locality", kind=OrganisationKind.LOCALITY, parent=commissioner,
        is_local_code=True)
    codes = [f"P9100{i}" for i in range(1, 7)]
    orgs = {code: _practice(commissioner, code, north if i < 3 else south) for i, code in enumerate(codes)}
    orgs[TINY] = _practice(commissioner, TINY, south)
    folder = tmp / "synthetic"
    synthesise(folder, fraction=1.0, months=MONTHS, start=START, kinds=["emergency", "ae", "DM"], practice_sd=0.0,
               changes=[Change("emergency", START, 2.5, OUTLIER)], made_up=made_up_practices(codes, commissioner.ods_code),
               seed=7)
    tiny_population = [{"organisation": TINY, "commissioner": commissioner.ods_code, "period": p, "sex": "F",
                        "age_band": "40-44", "count": 60} for p in months()]
    tiny_activity = [{"person_id": f"{TINY}-{i}", "period": p, "activity_date": datetime.date(int(p[:4]), int(p[5:]), 10),
                      "setting": "admission", "practice": TINY, "commissioner": commissioner.ods_code, "sex": "F",
                      "age_band": "40-44", "admission_method": "emergency"} for i, p in enumerate(months()[-3:])]
    pq.write_table(datamodel.from_rows("population", tiny_population), tmp / "tiny-population.parquet")
    pq.write_table(datamodel.from_rows("activity", tiny_activity), tmp / "tiny-activity.parquet")
    published = [{"indicator_id": "qof_prevalence_diabetes", "level": "commissioner", "organisation": code,
                  "period": "2013-04/2014-03", "numerator": n, "denominator": d, "source": "QOF 2013-14 (test)"}
                 for code, n, d in (("02A", 10_000, 230_000), ("00C", 6_000, 106_000), ("00D", 18_000, 290_000))]
    pq.write_table(datamodel.from_rows("published", published), tmp / "published.parquet")
    for table in ("population", "deprivation", "activity"):
        services.load_file(by=None, scope="local", table=table, source="test data", synthetic=True,
                           path=_one_file(folder / table, tmp / f"{table}.parquet"))
    services.load_file(by=None, scope="local", table="population", source="test data", path=tmp / "tiny-population.parquet")
    services.load_file(by=None, scope="local", table="activity", source="test data", path=tmp / "tiny-activity.parquet")
    services.load_file(by=None, scope="published", table="published", source="test published counts",
                       path=tmp / "published.parquet")
    if recompute:
        services.recompute(by=None)
    return orgs
