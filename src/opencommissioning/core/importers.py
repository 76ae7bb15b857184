"""Read and validate reference-data files: ODS organisations and practice list sizes.

Readers here only *read and check*: they return clean records and every problem found,
with the file, row number (as a spreadsheet shows it: the header is row 1), column and
reason. Writing is done, all or nothing, by :mod:`opencommissioning.core.services`.
"""

from __future__ import annotations

import csv
import datetime
import hashlib
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from .models import OrganisationKind

ProgressWrapper = Callable[[Iterable[Any], str, int | None], Iterable[Any]]


def no_progress(items: Iterable[Any], label: str, total: int | None) -> Iterable[Any]:
    return items


@dataclass(frozen=True)
class ImportProblem:
    file: str
    row: int | None
    column: str
    reason: str

    def __str__(self) -> str:
        where = f"{self.file}"
        if self.row is not None:
            where += f", row {self.row}"
        if self.column:
            where += f", column {self.column}"
        return f"{where}: {self.reason}"


class ImportRejected(Exception):
    """Raised with every problem found; nothing has been written."""

    def __init__(self, problems: list[ImportProblem]):
        self.problems = problems
        super().__init__(f"{len(problems)} problem(s) found; nothing was imported")


@dataclass
class OrganisationRecord:
    ods_code: str
    name: str
    kind: str
    parent_code: str | None
    open_date: datetime.date | None
    close_date: datetime.date | None
    postcode: str
    address: str
    source: str


@dataclass
class FileReport:
    path: Path
    sha256: str
    rows: int = 0
    accepted: int = 0
    skipped: int = 0


@dataclass
class ReadResult:
    records: list[Any] = field(default_factory=list)
    problems: list[ImportProblem] = field(default_factory=list)
    files: list[FileReport] = field(default_factory=list)


ODS_CODE = re.compile(r"^[A-Z0-9]{3,6}$")
# The UK postcode shape (outward code, space, inward code), as ODS publishes it.
POSTCODE = re.compile(r"^[A-Z]{1,2}[0-9][A-Z0-9]? ?[0-9][A-Z]{2}$")


def file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def count_rows(path: Path) -> int:
    """Data rows in a CSV file (quoted cells may span lines, so count records, not lines)."""
    with path.open(newline="", encoding="utf-8-sig") as handle:
        return max(sum(1 for _ in csv.reader(handle)) - 1, 0)


def csv_records(
    handle: IO[str], *, file: str, required: Iterable[str], problems: list[ImportProblem]
) -> Iterator[tuple[int, dict[str, str]]]:
    """Yield (spreadsheet row number, row with trimmed cells) from an open CSV, after
    checking its header has ``required``; a missing column or a row with more cells than
    the header is added to ``problems``. Every import reads its CSV through this."""
    reader = csv.DictReader(handle)
    reader.fieldnames = [h.strip() for h in (reader.fieldnames or [])]
    header = reader.fieldnames
    missing = [c for c in required if c not in header]
    if missing:
        problems.append(ImportProblem(file, 1, ", ".join(missing), "required column(s) missing from the header"))
        return
    for index, row in enumerate(reader, start=2):
        if None in row:  # more cells than header columns
            extra = len(row[None])  # type: ignore[index]
            problems.append(
                ImportProblem(file, index, "", f"the row has {len(header) + extra} cells; the header has {len(header)}")
            )
            continue
        yield index, {k: (v or "").strip() for k, v in row.items()}


def _rows(path: Path, required: Iterable[str], result: ReadResult) -> Iterator[tuple[int, dict[str, str]]]:
    with path.open(newline="", encoding="utf-8-sig") as handle:
        yield from csv_records(handle, file=path.name, required=required, problems=result.problems)


def parse_ods_date(value: str) -> datetime.date | None:
    """ODS dates are written YYYYMMDD; an empty cell is no date."""
    if not value:
        return None
    if not re.fullmatch(r"\d{8}", value):
        raise ValueError(f"{value!r} is not a date written YYYYMMDD")
    try:
        return datetime.date(int(value[:4]), int(value[4:6]), int(value[6:]))
    except ValueError as error:
        raise ValueError(f"{value!r} is not a real date ({error})") from None


def normalise_postcode(value: str) -> str:
    compact = value.replace(" ", "").upper()
    if len(compact) < 5:
        return value.upper()
    return f"{compact[:-3]} {compact[-3:]}"


def _check_common(
    file: str, index: int, row: dict[str, str], result: ReadResult, *, code_column: str, name_column: str
) -> tuple[str, str] | None:
    ok = True
    code = row[code_column].upper()
    name = row[name_column]
    if not ODS_CODE.fullmatch(code):
        result.problems.append(
            ImportProblem(file, index, code_column, f"{row[code_column]!r} is not an ODS code (3 to 6 letters and digits)")
        )
        ok = False
    if not name:
        result.problems.append(ImportProblem(file, index, name_column, "the name is empty"))
        ok = False
    return (code, name) if ok else None


def _dates_and_postcode(
    file: str, index: int, row: dict[str, str], result: ReadResult
) -> tuple[datetime.date | None, datetime.date | None, str] | None:
    ok = True
    dates: dict[str, datetime.date | None] = {}
    for column in ("open_date", "close_date"):
        try:
            dates[column] = parse_ods_date(row[column])
        except ValueError as error:
            result.problems.append(ImportProblem(file, index, column, str(error)))
            ok = False
    opened, closed = dates.get("open_date"), dates.get("close_date")
    if opened and closed and closed < opened:
        result.problems.append(
            ImportProblem(file, index, "close_date", f"closes ({closed}) before it opens ({opened})")
        )
        ok = False
    postcode = normalise_postcode(row["postcode"]) if row["postcode"] else ""
    if postcode and not POSTCODE.fullmatch(postcode):
        result.problems.append(
            ImportProblem(file, index, "postcode", f"{row['postcode']!r} is not a UK postcode")
        )
        ok = False
    return (opened, closed, postcode) if ok else None


def _address(row: dict[str, str]) -> str:
    return ", ".join(row[f"address_{i}"] for i in range(1, 6) if row.get(f"address_{i}"))


ADDRESS_COLUMNS = [f"address_{i}" for i in range(1, 6)]
CCG_COLUMNS = ["organisation_code", "name", "postcode", "open_date", "close_date", "organisation_sub_type_code", *ADDRESS_COLUMNS]
PRACTICE_COLUMNS = [
    "organisation_code", "name", "postcode", "open_date", "close_date", "status_code",
    "commissioner_code", "prescribing_setting", *ADDRESS_COLUMNS,
]
TRUST_COLUMNS_STP = ["member_type", "member_name", "member_code"]
TRUST_COLUMNS_STATS = ["trust_code", "trust_name"]


def read_ccgs(path: Path, result: ReadResult, progress: ProgressWrapper = no_progress) -> None:
    """The ODS ``eccg`` file: sub-type C rows are CCGs (commissioners); hubs (H) are skipped."""
    report = FileReport(path, file_digest(path))
    result.files.append(report)
    for index, row in progress(_rows(path, CCG_COLUMNS, result), f"CCGs ({path.name})", count_rows(path)):
        report.rows += 1
        if row["organisation_sub_type_code"] != "C":
            report.skipped += 1
            continue
        common = _check_common(path.name, index, row, result, code_column="organisation_code", name_column="name")
        extra = _dates_and_postcode(path.name, index, row, result)
        if common and extra:
            report.accepted += 1
            result.records.append(
                OrganisationRecord(common[0], common[1], OrganisationKind.COMMISSIONER, None, *extra, _address(row), path.name)
            )


def read_practices(path: Path, result: ReadResult, progress: ProgressWrapper = no_progress) -> None:
    """The ODS ``epraccur`` file: prescribing setting 4 rows are GP practices."""
    report = FileReport(path, file_digest(path))
    result.files.append(report)
    for index, row in progress(_rows(path, PRACTICE_COLUMNS, result), f"practices ({path.name})", count_rows(path)):
        report.rows += 1
        setting = row["prescribing_setting"]
        if not setting.isdigit():
            result.problems.append(
                ImportProblem(path.name, index, "prescribing_setting", f"{setting!r} is not a number")
            )
            continue
        if int(setting) != 4:
            report.skipped += 1
            continue
        common = _check_common(path.name, index, row, result, code_column="organisation_code", name_column="name")
        extra = _dates_and_postcode(path.name, index, row, result)
        if row["status_code"] not in {"A", "C", "D", "P"}:
            result.problems.append(
                ImportProblem(path.name, index, "status_code", f"{row['status_code']!r} is not A, C, D or P")
            )
            continue
        parent = row["commissioner_code"].upper() or None
        if common and extra:
            report.accepted += 1
            result.records.append(
                OrganisationRecord(common[0], common[1], OrganisationKind.PRACTICE, parent, *extra, _address(row), path.name)
            )


def read_trusts(paths: list[Path], result: ReadResult, progress: ProgressWrapper = no_progress) -> None:
    """NHS trusts named in the STP membership file and the provider statistics files."""
    names: dict[str, tuple[str, str]] = {}
    for path in paths:
        report = FileReport(path, file_digest(path))
        result.files.append(report)
        with path.open(newline="", encoding="utf-8-sig") as handle:
            header = next(csv.reader(handle), [])
        stp = "member_type" in header
        if stp:
            columns, code_column, name_column = TRUST_COLUMNS_STP, "member_code", "member_name"
        else:
            columns, code_column, name_column = TRUST_COLUMNS_STATS, "trust_code", "trust_name"
        for index, row in progress(_rows(path, columns, result), f"trusts ({path.name})", count_rows(path)):
            report.rows += 1
            if stp and row["member_type"] != "NHS trust":
                report.skipped += 1
                continue
            common = _check_common(path.name, index, row, result, code_column=code_column, name_column=name_column)
            if common is None:
                continue
            report.accepted += 1
            # First file wins for the name (STP file first: it is ODS's own).
            names.setdefault(common[0], (common[1], path.name))
    for code, (name, source) in sorted(names.items()):
        result.records.append(
            OrganisationRecord(code, name, OrganisationKind.PROVIDER, None, None, None, "", "", source)
        )


def check_consistency(result: ReadResult) -> None:
    """Across files: one record per code, and every parent code known."""
    seen: dict[str, OrganisationRecord] = {}
    for record in result.records:
        earlier = seen.get(record.ods_code)
        if earlier is not None and earlier.kind != record.kind:
            result.problems.append(
                ImportProblem(
                    record.source, None, "organisation_code",
                    f"{record.ods_code} is a {record.kind} here but a {earlier.kind} in {earlier.source}",
                )
            )
        elif earlier is not None:
            result.problems.append(
                ImportProblem(record.source, None, "organisation_code", f"{record.ods_code} appears twice")
            )
        seen[record.ods_code] = record


ORGANISATION_FILES = {
    "ccgs": "ods_eccg_ccgs_2016.csv",
    "practices": "ods_epraccur_gp_practices_2016-02.csv",
    "stp": "nhse_stp_membership_ccgs_trusts_2019.csv",
}
PROVIDER_STATISTICS_FILES = (
    "nhse_provider_ae_attendances_2022-05.csv",
    "nhse_provider_rtt_waiting_2022-05.csv",
    "nhse_provider_outpatient_referrals_mrr_2022-04.csv",
    "nhse_provider_cancer_waiting_times_2022-04.csv",
    "nhse_provider_diagnostic_waits_2022-04.csv",
    "nhse_provider_bed_occupancy_2021-22q4.csv",
)


def read_ods_directory(data_dir: Path, progress: ProgressWrapper = no_progress) -> ReadResult:
    """Read and check every organisation file in the data directory."""
    result = ReadResult()
    missing = [name for name in ORGANISATION_FILES.values() if not (data_dir / name).is_file()]
    if missing:
        result.problems.extend(ImportProblem(name, None, "", f"file not found in {data_dir}") for name in missing)
        return result
    read_ccgs(data_dir / ORGANISATION_FILES["ccgs"], result, progress)
    read_practices(data_dir / ORGANISATION_FILES["practices"], result, progress)
    trust_files = [data_dir / ORGANISATION_FILES["stp"]]
    trust_files += [data_dir / n for n in PROVIDER_STATISTICS_FILES if (data_dir / n).is_file()]
    read_trusts(trust_files, result, progress)
    check_consistency(result)
    return result


# --- list sizes -------------------------------------------------------------------------

LIST_SIZE_BANDS = ("0_4", "5_14", "15_24", "25_34", "35_44", "45_54", "55_64", "65_74", "75")
LIST_SIZE_FILE = "nhsbsa_practice_list_size_age_sex_2016_01-03.csv"


@dataclass
class ListSizeRecord:
    practice_code: str
    period: datetime.date
    sex: str
    age_band: str
    patients: int
    row: int


def band_label(band: str) -> str:
    return "75+" if band == "75" else band.replace("_", "-")


def read_list_sizes(
    path: Path, *, commissioner: str | None = None, progress: ProgressWrapper = no_progress
) -> ReadResult:
    """NHSBSA quarterly list sizes by practice, sex and age band (the STAR-PU bands)."""
    result = ReadResult()
    report = FileReport(path, file_digest(path))
    result.files.append(report)
    columns = ["quarter_start", "pco_code", "practice_code"] + [
        f"{sex}_{band}" for band in LIST_SIZE_BANDS for sex in ("male", "female")
    ]
    seen: set[tuple[str, datetime.date]] = set()
    for index, row in progress(_rows(path, columns, result), f"list sizes ({path.name})", count_rows(path)):
        report.rows += 1
        if commissioner and not row["pco_code"].upper().startswith(commissioner.upper()):
            report.skipped += 1
            continue
        try:
            period = datetime.date.fromisoformat(row["quarter_start"])
        except ValueError:
            result.problems.append(
                ImportProblem(path.name, index, "quarter_start", f"{row['quarter_start']!r} is not a date written YYYY-MM-DD")
            )
            continue
        code = row["practice_code"].upper()
        if not ODS_CODE.fullmatch(code):
            result.problems.append(ImportProblem(path.name, index, "practice_code", f"{code!r} is not an ODS code"))
            continue
        if (code, period) in seen:
            result.problems.append(
                ImportProblem(path.name, index, "practice_code", f"{code} appears twice for {period}")
            )
            continue
        seen.add((code, period))
        report.accepted += 1
        for band in LIST_SIZE_BANDS:
            for sex, column in (("M", f"male_{band}"), ("F", f"female_{band}")):
                value = row[column]
                if not value.isdigit():
                    result.problems.append(
                        ImportProblem(path.name, index, column, f"{value!r} is not a whole number of patients")
                    )
                    continue
                result.records.append(ListSizeRecord(code, period, sex, band_label(band), int(value), index))
    return result
