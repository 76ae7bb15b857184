"""Published statistics in the data directory, turned into the published-counts table so
England and peer comparators are real where the data has them.

* QOF 2013-14 recorded prevalence by CCG (HSCIC): register size over list size for the
  diabetes, hypertension, COPD and atrial fibrillation registers (every CCG in England);
* consultant-led RTT by CCG, Dec 2014 - May 2015 (NHS England): admitted and non-admitted
  completed pathways within 18 weeks (known clock starts), all treatment functions;
* A&E attendances and 4-hour breaches by provider, Apr 2016 - Mar 2019 (NHS England, via
  NHSRdatasets): all types and type 1.

Readers return rows of the published table; loading them goes through the same checks
as any upload (``services.load_file``).
"""

from __future__ import annotations

import csv
from collections import defaultdict
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from opencommissioning.analytics.datamodel import arrow_schema

QOF_FILE = "qof_prevalence_by_ccg_2013-14.csv"
RTT_FILE = "rtt_by_ccg_tfc_summary_2014-12_to_2015-05.csv"
AE_FILE = "nhsr_ae_attendances.csv"
QOF_REGISTERS = {"DM": "qof_prevalence_diabetes", "HYP": "qof_prevalence_hypertension", "COPD": "qof_prevalence_copd",
                 "AF": "qof_prevalence_atrial_fibrillation"}
RTT_PARTS = {"admitted": "rtt_admitted_within_18_weeks", "non_admitted": "rtt_non_admitted_within_18_weeks"}
QOF_SOURCE = "HSCIC, Quality and Outcomes Framework 2013-14: recorded prevalence by CCG (real)"
RTT_SOURCE = "NHS England, consultant-led RTT waiting times by commissioner, completed pathways (real)"
AE_SOURCE = "NHS England, A&E attendances and emergency admissions by provider, via NHSRdatasets (real)"


def _csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8-sig") as handle:
        return list(csv.DictReader(handle))


def qof_rows(data_dir: Path) -> list[dict[str, Any]]:
    out = []
    for r in _csv(data_dir / QOF_FILE):
        ind = QOF_REGISTERS.get(r["indicator_group"].strip())
        if ind:
            out.append({"indicator_id": ind, "level": "commissioner", "organisation": r["ccgcode"].strip().upper(),
                        "period": "2013-04/2014-03", "numerator": float(r["disease_register_size"]),
                        "denominator": float(r["ccg_listsize"]), "source": QOF_SOURCE})
    return out


def rtt_rows(data_dir: Path) -> list[dict[str, Any]]:
    out = []
    for r in _csv(data_dir / RTT_FILE):
        ind = RTT_PARTS.get(r["rtt_part"])
        if ind and r["tfc_code"] == "999" and float(r["total_known_clock_start"] or 0) > 0:
            out.append({"indicator_id": ind, "level": "commissioner", "organisation": r["ccg_code"].strip().upper(),
                        "period": r["period"][:7], "numerator": float(r["within_18_weeks"]),
                        "denominator": float(r["total_known_clock_start"]), "source": RTT_SOURCE})
    return out


def ae_rows(data_dir: Path) -> list[dict[str, Any]]:
    totals: dict[tuple[str, str, str], list[float]] = defaultdict(lambda: [0.0, 0.0])
    for r in _csv(data_dir / AE_FILE):
        attendances, breaches = float(r["attendances"]), float(r["breaches"])
        if attendances <= 0:
            continue
        key = (r["org_code"].strip().upper(), r["period"][:7])
        for ind in ("ae_4_hours_all_types",) + (("ae_4_hours_type_1",) if r["type"] == "1" else ()):
            cell = totals[(ind, *key)]
            cell[0] += attendances - breaches
            cell[1] += attendances
    return [{"indicator_id": ind, "level": "provider", "organisation": org, "period": period, "numerator": n,
             "denominator": d, "source": AE_SOURCE} for (ind, org, period), (n, d) in sorted(totals.items())]


def write_published(data_dir: Path, out: Path) -> tuple[Path | None, list[str]]:
    """The published-counts Parquet file from every real file present, and notes."""
    rows: list[dict[str, Any]] = []
    notes = []
    for name, reader in ((QOF_FILE, qof_rows), (RTT_FILE, rtt_rows), (AE_FILE, ae_rows)):
        if (data_dir / name).is_file():
            got = reader(data_dir)
            rows += got
            notes.append(f"{name}: {len(got):,} published counts")
    if not rows:
        return None, notes
    schema = arrow_schema("published")
    table = pa.table({f.name: pa.array([r[f.name] for r in rows], f.type) for f in schema}, schema=schema)
    out.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, out)
    return out, notes
