"""The analytics data model: three tables, their columns and types.

Indicators (``indicators/*.yaml``) filter and aggregate these tables; the engines read
them from Parquet files or in-memory Arrow tables. ``README.md`` alongside explains each
column; this module is the single source of their names and types.

* ``population`` - registered population by practice, month, sex and age band.
* ``activity`` - one row per event (an admission, an outpatient referral or attendance,
  an A&E attendance, a prescription, or a person's entry on a QOF disease register).
* ``deprivation`` - the Index of Multiple Deprivation score of each practice's
  registered population and its national quintile (1 = most deprived).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import pyarrow as pa

from .methods import ESP2013_BANDS

ColumnKind = Literal["string", "integer", "number", "date"]

#: The 19 age bands of the 2013 European Standard Population, used by every table.
AGE_BANDS: tuple[str, ...] = ESP2013_BANDS
SEXES: tuple[str, ...] = ("F", "M")
SETTINGS: tuple[str, ...] = (
    "admission",
    "outpatient_referral",
    "outpatient_attendance",
    "ae_attendance",
    "prescription",
    "register",
)
ADMISSION_METHODS: tuple[str, ...] = ("elective", "emergency", "maternity", "other")
LEVELS: tuple[str, ...] = ("practice", "commissioner", "provider")


@dataclass(frozen=True)
class Column:
    name: str
    kind: ColumnKind
    arrow: pa.DataType
    description: str
    values: tuple[str, ...] | None = None  # allowed values, for closed vocabularies


def _cols(*columns: Column) -> dict[str, Column]:
    return {c.name: c for c in columns}


POPULATION = _cols(
    Column("organisation", "string", pa.string(), "ODS code of the GP practice"),
    Column("commissioner", "string", pa.string(), "ODS code of the practice's commissioner"),
    Column("period", "string", pa.string(), "month, 'YYYY-MM'"),
    Column("sex", "string", pa.string(), "'F' or 'M'", SEXES),
    Column("age_band", "string", pa.string(), "ESP2013 band, '0-4' ... '90+'", AGE_BANDS),
    Column("count", "integer", pa.int64(), "registered patients"),
)

ACTIVITY = _cols(
    Column("person_id", "string", pa.string(), "pseudonymous person identifier"),
    Column("period", "string", pa.string(), "month of the event, 'YYYY-MM'"),
    Column("activity_date", "date", pa.date32(), "date of the event"),
    Column("setting", "string", pa.string(), "kind of event", SETTINGS),
    Column("practice", "string", pa.string(), "ODS code of the person's GP practice"),
    Column("commissioner", "string", pa.string(), "ODS code of the responsible commissioner"),
    Column("provider", "string", pa.string(), "ODS code of the provider (null for prescriptions, registers)"),
    Column("sex", "string", pa.string(), "'F' or 'M'", SEXES),
    Column("age_band", "string", pa.string(), "ESP2013 band at the event", AGE_BANDS),
    Column("admission_method", "string", pa.string(), "admissions only", ADMISSION_METHODS),
    Column("treatment_function", "string", pa.string(), "treatment function code, e.g. '110'"),
    Column("icd10", "string", pa.string(), "primary diagnosis, ICD-10 without the dot, e.g. 'J450'"),
    Column("hrg", "string", pa.string(), "Healthcare Resource Group, e.g. 'DZ15M'"),
    Column("bnf", "string", pa.string(), "BNF presentation code (prescriptions), e.g. '0501013K0AAAJAJ'"),
    Column("register", "string", pa.string(), "QOF register (setting 'register'), e.g. 'DM'"),
    Column("ae_department_type", "integer", pa.int8(), "A&E department type 1, 2 or 3"),
    Column("ae_minutes", "integer", pa.int32(), "A&E arrival to departure, minutes"),
    Column("rtt_days", "integer", pa.int32(), "referral-to-treatment wait at clock stop, days"),
    Column("length_of_stay", "integer", pa.int32(), "admissions: days from admission to discharge"),
    Column("items", "integer", pa.int32(), "prescriptions: items dispensed"),
    Column("cost", "number", pa.float64(), "pounds: tariff price or net ingredient cost"),
)

DEPRIVATION = _cols(
    Column("organisation", "string", pa.string(), "ODS code of the GP practice"),
    Column("imd_score", "number", pa.float64(), "IMD 2019 score of the registered population"),
    Column("imd_quintile", "integer", pa.int8(), "national quintile of practices, 1 = most deprived"),
    Column("rural", "number", pa.float64(), "share of the population in rural areas, 0-1 (optional)"),
)

#: Published aggregate counts (QOF registers by CCG, RTT pathways by CCG, A&E by trust...):
#: one row per indicator, organisation and period, already counted by the publisher. Not
#: an input of the catalogue's engines: :mod:`~opencommissioning.analytics.published`
#: applies each indicator's method to these counts.
PUBLISHED = _cols(
    Column("indicator_id", "string", pa.string(), "the catalogue indicator the counts are for"),
    Column("level", "string", pa.string(), "practice, commissioner or provider"),
    Column("organisation", "string", pa.string(), "ODS code"),
    Column("period", "string", pa.string(), "'YYYY-MM', or 'YYYY-MM/YYYY-MM' for a span of months"),
    Column("numerator", "number", pa.float64(), "events, register size or pathways meeting the standard"),
    Column("denominator", "number", pa.float64(), "population, list size or pathways"),
    Column("source", "string", pa.string(), "publication the counts were taken from"),
)

TABLES: dict[str, dict[str, Column]] = {
    "population": POPULATION,
    "activity": ACTIVITY,
    "deprivation": DEPRIVATION,
}

#: Every table a load may bring: the three tables the engines read, and published counts.
LOADABLE: dict[str, dict[str, Column]] = {**TABLES, "published": PUBLISHED}

#: Columns every row must have (the others may be empty, as the README says).
REQUIRED_COLUMNS: dict[str, tuple[str, ...]] = {
    "population": ("organisation", "commissioner", "period", "sex", "age_band", "count"),
    "activity": ("person_id", "period", "activity_date", "setting", "practice", "commissioner", "sex",
                 "age_band"),
    "deprivation": ("organisation", "imd_score", "imd_quintile"),
    "published": ("indicator_id", "level", "organisation", "period", "numerator", "denominator", "source"),
}

#: The column holding the organisation for each level, per table (None: not available).
LEVEL_KEYS: dict[str, dict[str, str | None]] = {
    "population": {"practice": "organisation", "commissioner": "commissioner", "provider": None},
    "activity": {"practice": "practice", "commissioner": "commissioner", "provider": "provider"},
}


#: The column that splits a table into kinds of row no measure counts together (an
#: admission is never a prescription): the compiler gives each kind its own query.
PARTITION_COLUMNS: dict[str, str] = {"activity": "setting"}


def arrow_schema(table: str) -> pa.Schema:
    """The Arrow schema of a table in the data model (or of the published counts)."""
    return pa.schema([pa.field(c.name, c.arrow) for c in LOADABLE[table].values()])


def empty_table(table: str) -> pa.Table:
    return arrow_schema(table).empty_table()


def from_rows(table: str, rows: list[dict[str, object]]) -> pa.Table:
    """An Arrow table of the data model's schema from a list of row dicts; missing
    columns are null."""
    schema = arrow_schema(table)
    columns = {f.name: [r.get(f.name) for r in rows] for f in schema}
    return pa.table({n: pa.array(v, type=schema.field(n).type) for n, v in columns.items()})
