"""The needs assessment's demo data, loaded by ``core.demo.load_demo`` (``make demo``).

With the data directory (NHS Trafford CCG, 02A):

* **local population**: the real NHSBSA list sizes (Jan-Mar 2016) of the commissioner's
  practices by sex and age, split into 5-year bands with England's shares, for each of 24
  months (Apr 2024 - Mar 2026);
* **local deprivation**: the real OHID IMD 2019 score of each practice's population and
  NHS Digital's rural/urban flag;
* **local activity**: SYNTHETIC, from the analytics generator for every patient of those
  practices: admissions, outpatient referrals, A&E and QOF registers for 24 months, and
  prescriptions and outpatient attendances (four million rows a year, so only for the
  latest 12 months, to keep ``make demo`` quick); practices differ by deprivation, chance
  and a practice effect, and one practice's emergency admissions fall by a quarter from
  June 2025 (a service change for SPC to find);
* **national**: a SYNTHETIC sample (0.4% of the patients of 2,500 practices drawn at random
  from England's, 12 months) for the funnel of commissioners and England comparators;
* **published**: real QOF prevalence and RTT by CCG and A&E by provider.

Without it: a made-up commissioner's made-up practices, all synthetic and labelled so.
Idempotent: the generator is deterministic, so a second run finds every file loaded.
"""

from __future__ import annotations

import csv
import datetime
import tempfile
from pathlib import Path

import pyarrow.dataset as ds
import pyarrow.parquet as pq
from django.utils import timezone

from opencommissioning.analytics.synthetic import LIST_SIZES, Change, made_up_practices, synthesise
from opencommissioning.core.models import Organisation, OrganisationKind, User

from . import realdata, services
from .models import DatasetLoad, LoadStatus, Priority, Target

LOCAL_START, LOCAL_MONTHS = "2024-04", 24
NATIONAL_START, NATIONAL_MONTHS = "2025-04", 12
KINDS = ("emergency", "elective", "referral", "ae", "DM", "HYP", "COPD", "AF")
YEAR_KINDS = ("prescription", "attendance")  # the bulk of the rows: the latest 12 months only
YEAR_START, YEAR_MONTHS = "2025-04", 12
NATIONAL_FRACTION = 0.004
NATIONAL_PRACTICES = 2500


def _one_file(folder: Path, out: Path, *more: Path) -> Path:
    """A synthesised table (folders of Parquet parts) as one Parquet file to load."""
    files = [str(f) for d in (folder, *more) for f in sorted(d.rglob("*.parquet"))]
    table = ds.dataset(files, format="parquet").to_table()
    pq.write_table(table, out, row_group_size=256 * 1024)
    return out


def _practice_codes(data_dir: Path, commissioner: str) -> list[str]:
    with (data_dir / LIST_SIZES).open(newline="", encoding="utf-8") as handle:
        return [r["practice_code"] for r in csv.DictReader(handle) if r["pco_code"].upper().startswith(commissioner)]


def _load(scope: str, table: str, source: str, path: Path, synthetic: bool, notes: list[str]) -> DatasetLoad:
    # a newer version of the demo's own file replaces the one an older checkout loaded
    load, created = services.load_file(by=None, scope=scope, table=table, source=source, path=path, synthetic=synthetic,
                                       file_name=path.name, replace_overlapping=True)
    if load.status != LoadStatus.LOADED:
        problems = "; ".join(str(p) for p in load.problems[:5])
        raise RuntimeError(f"demo load of {path.name} was {load.status}: {problems}")
    notes.append(f"{'Loaded' if created else 'Already loaded'} {table} ({scope}): {load.rows:,} rows from {path.name}")
    return load


def load_needs_demo(*, commissioner: Organisation, data_dir: Path | None, people: dict[str, User]) -> list[str]:
    notes: list[str] = []
    with tempfile.TemporaryDirectory(prefix="oc-needs-demo-") as tmp:
        work = Path(tmp)
        code = commissioner.ods_code
        if data_dir is not None and (data_dir / LIST_SIZES).is_file():
            practices = _practice_codes(data_dir, code)
            change = Change("emergency", "2025-06", 0.75, practices[min(5, len(practices) - 1)])
            synthesise(work / "local", practice_codes=practices, fraction=1.0, months=LOCAL_MONTHS, start=LOCAL_START,
                       data_dir=data_dir, kinds=KINDS, practice_sd=0.12, changes=[change], main_provider={code: "R0A"},
                       seed=2024)
            synthesise(work / "year", practice_codes=practices, fraction=1.0, months=YEAR_MONTHS, start=YEAR_START,
                       data_dir=data_dir, kinds=YEAR_KINDS, practice_sd=0.12, main_provider={code: "R0A"}, seed=2026)
            synthesise(work / "national", practices=NATIONAL_PRACTICES, fraction=NATIONAL_FRACTION, months=NATIONAL_MONTHS,
                       start=NATIONAL_START, data_dir=data_dir, kinds=KINDS + YEAR_KINDS, practice_sd=0.12, seed=2025)
            real_population = ("NHSBSA practice list sizes, Jan-Mar 2016 (real), by sex and age split into 5-year bands "
                               "with England's shares; the same list each month")
            _load("local", "population", real_population, _one_file(work / "local" / "population", work / "population.parquet"),
                  False, notes)
            _load("local", "deprivation", "OHID Fingertips IMD 2019 score of each practice's population; NHS Digital "
                  "2022-23 practice rurality (real)", _one_file(work / "local" / "deprivation", work / "deprivation.parquet"),
                  False, notes)
            _load("local", "activity", "SYNTHETIC activity from the OpenCommissioning generator (not real patients)",
                  _one_file(work / "local" / "activity", work / "activity.parquet", work / "year" / "activity"), True, notes)
            for table in ("population", "deprivation", "activity"):
                _load("national", table, f"SYNTHETIC national sample ({NATIONAL_PRACTICES:,} practices drawn at random, {NATIONAL_FRACTION:.1%} of their patients, "
                      "from real list sizes and IMD scores)", _one_file(work / "national" / table, work / f"national-{table}.parquet"),
                      True, notes)
            published, published_notes = realdata.write_published(data_dir, work / "published.parquet")
            notes += published_notes
            if published is not None:
                _load("published", "published", "Real published counts: QOF 2013-14 by CCG, RTT by CCG Dec 2014-May 2015, "
                      "A&E by provider Apr 2016-Mar 2019", published, False, notes)
        else:
            practices = list(Organisation.objects.filter(parent=commissioner, kind=OrganisationKind.PRACTICE)
                             .order_by("ods_code").values_list("ods_code", flat=True))
            made_up = made_up_practices(practices, code)
            change = Change("emergency", "2025-06", 0.75, practices[min(5, len(practices) - 1)])
            synthesise(work / "local", fraction=1.0, months=LOCAL_MONTHS, start=LOCAL_START, kinds=KINDS, practice_sd=0.12,
                       changes=[change], made_up=made_up, seed=2024)
            synthesise(work / "year", fraction=1.0, months=YEAR_MONTHS, start=YEAR_START, kinds=YEAR_KINDS,
                       practice_sd=0.12, made_up=made_up, seed=2026)
            for table in ("population", "deprivation", "activity"):
                more = [work / "year" / "activity"] if table == "activity" else []
                _load("local", table, "SYNTHETIC made-up practices (no data directory was found)",
                      _one_file(work / "local" / table, work / f"{table}.parquet", *more), True, notes)
    loaded = sorted(DatasetLoad.objects.filter(status=LoadStatus.LOADED).values_list("pk", flat=True))
    from .queries import current_run

    latest = current_run()
    if latest is None or sorted(latest.loads) != loaded:
        run = services.recompute(by=None)
        notes.append(f"Computed {run.values_count:,} indicator values in {run.seconds} s ({run.engine})")
    else:
        notes.append(f"Indicator values are up to date (recompute {latest.pk})")
    _targets_and_priorities(commissioner, people, notes)
    return notes


def _targets_and_priorities(commissioner: Organisation, people: dict[str, User], notes: list[str]) -> None:
    lead = people.get("commissioner")
    if lead is not None and not Target.objects.filter(organisation=commissioner).exists():
        services.set_target(by=lead, organisation=commissioner, indicator_id="emergency_admissions_rate", value=9.0,
                            due_on=max(datetime.date(2027, 3, 31), timezone.localdate() + datetime.timedelta(days=90)),
                            note="Demo: fewer emergency admissions through proactive care of long-term conditions")
        notes.append("A demo target for emergency admissions was set")
    member = people.get("hwb")
    board = Organisation.objects.filter(kind=OrganisationKind.HEALTH_AND_WELLBEING_BOARD, ods_code=f"HWB-{commissioner.ods_code}").first()
    if member is not None and board is not None and not Priority.objects.filter(board=board).exists():
        services.record_priority(by=member, board=board, title="Fewer avoidable emergency admissions",
                                 description="People with long-term conditions are cared for at home and in the "
                                             "community, so fewer need an emergency admission.",
                                 indicator_ids=["acsc_chronic_emergency_admissions", "emergency_admissions_rate",
                                                "emergency_admissions_isr"])
        services.record_priority(by=member, board=board, title="Find undiagnosed diabetes and hypertension",
                                 description="Close the gap between recorded and expected prevalence.",
                                 indicator_ids=["qof_prevalence_diabetes", "qof_prevalence_hypertension"])
        notes.append("Two demo joint strategy priorities were recorded")

