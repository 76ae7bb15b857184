"""import_organisations and import_list_sizes: all or nothing, every problem named, idempotent."""

import csv
import io
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from opencommissioning.audit.chain import verify
from opencommissioning.audit.models import AuditEvent
from opencommissioning.core.importers import ImportRejected
from opencommissioning.core.models import Organisation, RegisteredPopulation
from opencommissioning.core.services import import_list_sizes, import_organisations

pytestmark = pytest.mark.django_db

CCG_HEADER = ["organisation_code", "name", "national_grouping", "high_level_health_geography",
              "address_1", "address_2", "address_3", "address_4", "address_5", "postcode",
              "open_date", "close_date", "organisation_sub_type_code"]
PRACTICE_HEADER = ["organisation_code", "name", "national_grouping", "high_level_health_geography",
                   "address_1", "address_2", "address_3", "address_4", "address_5", "postcode",
                   "open_date", "close_date", "status_code", "organisation_sub_type_code",
                   "commissioner_code", "join_commissioner_date", "left_commissioner_date",
                   "provider_purchaser_code", "prescribing_setting"]
STP_HEADER = ["nhse_region", "stp_code", "stp_ons_code", "stp_name", "member_type", "member_name", "member_code"]


def write(path: Path, header, rows):
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)


def ccg(code, name, postcode="M33 7FT", opened="20130401", closed="", subtype="C"):
    return [code, name, "Y54", "Q73", "FIRST FLOOR", "", "", "SALE", "", postcode, opened, closed, subtype]


def practice(code, name, commissioner="02A", postcode="WA15 7XR", opened="19740401", closed="", status="A", setting="4"):
    return [code, name, "Y54", "Q73", "THE SURGERY", "", "", "ALTRINCHAM", "", postcode, opened, closed,
            status, "B", commissioner, "20130401", "", commissioner, setting]


@pytest.fixture
def data_dir(tmp_path):
    write(tmp_path / "ods_eccg_ccgs_2016.csv", CCG_HEADER, [
        ccg("02A", "NHS TRAFFORD CCG"),
        ccg("00C", "NHS DARLINGTON CCG", postcode="DL3 6JL"),
        ccg("0AR", "A COMMISSIONING HUB", subtype="H"),
    ])
    write(tmp_path / "ods_epraccur_gp_practices_2016-02.csv", PRACTICE_HEADER, [
        practice("P91003", "PARK MEDICAL PRACTICE"),
        practice("P91004", "ALTRINCHAM MEDICAL PRACTICE"),
        practice("P91099", "OLD SURGERY", closed="20100331", status="C"),
        practice("Y00001", "A WALK-IN CENTRE", setting="0"),
    ])
    write(tmp_path / "nhse_stp_membership_ccgs_trusts_2019.csv", STP_HEADER, [
        ["North West (Y62)", "QOP", "E54000007", "Greater Manchester", "CCG", "NHS Trafford CCG", "02A"],
        ["North West (Y62)", "QOP", "E54000007", "Greater Manchester", "NHS trust", "Manchester University NHS Foundation Trust", "R0A"],
    ])
    write(tmp_path / "nhse_provider_ae_attendances_2022-05.csv", ["trust_code", "trust_name", "no_attendance_total"], [
        ["R0A", "Manchester University NHS Foundation Trust", "39499"],
        ["RBV", "The Christie NHS Foundation Trust", "0"],
    ])
    return tmp_path


def test_loads_ccgs_practices_and_trusts(data_dir):
    summary = import_organisations(by=None, data_dir=data_dir)
    assert summary.created == 7  # 2 CCGs, 3 practices, 2 trusts; the hub and walk-in centre are skipped
    trafford = Organisation.objects.get(ods_code="02A")
    assert trafford.kind == "commissioner"
    assert set(trafford.children.values_list("ods_code", flat=True)) == {"P91003", "P91004", "P91099"}
    old = Organisation.objects.get(ods_code="P91099")
    assert old.close_date.isoformat() == "2010-03-31" and not old.is_open
    assert Organisation.objects.get(ods_code="RBV").kind == "provider"
    assert not Organisation.objects.filter(ods_code__in=["0AR", "Y00001"]).exists()
    assert AuditEvent.objects.filter(action="organisation.import").count() == 1
    assert verify().ok


def test_rerunning_changes_nothing_and_records_nothing(data_dir):
    import_organisations(by=None, data_dir=data_dir)
    events = AuditEvent.objects.count()
    summary = import_organisations(by=None, data_dir=data_dir)
    assert (summary.created, summary.updated, summary.unchanged) == (0, 0, 7)
    assert AuditEvent.objects.count() == events


def test_a_changed_row_is_updated_and_audited_with_before_and_after(data_dir):
    import_organisations(by=None, data_dir=data_dir)
    write(data_dir / "ods_eccg_ccgs_2016.csv", CCG_HEADER, [
        ccg("02A", "NHS TRAFFORD CCG", postcode="M33 7FU"), ccg("00C", "NHS DARLINGTON CCG", postcode="DL3 6JL"),
    ])
    summary = import_organisations(by=None, data_dir=data_dir)
    assert summary.updated == 1
    event = AuditEvent.objects.filter(action="organisation.import").order_by("-sequence").first()
    assert event.after["updated"] == {"02A": {"postcode": ["M33 7FT", "M33 7FU"]}}


def test_bad_rows_are_all_reported_and_nothing_is_written(data_dir):
    write(data_dir / "ods_epraccur_gp_practices_2016-02.csv", PRACTICE_HEADER, [
        practice("P91003", "PARK MEDICAL PRACTICE"),
        practice("P9!003", "BAD CODE"),                         # row 3
        practice("P91005", "", opened="20160231"),              # row 4: no name, no such date
        practice("P91006", "CLOSES EARLY", opened="20100101", closed="20090101"),  # row 5
        practice("P91007", "BAD POSTCODE", postcode="NOT A CODE"),  # row 6
        practice("P91008", "BAD SETTING", setting="four"),      # row 7
    ])
    with pytest.raises(ImportRejected) as caught:
        import_organisations(by=None, data_dir=data_dir)
    found = {(p.row, p.column) for p in caught.value.problems}
    assert found == {
        (3, "organisation_code"), (4, "name"), (4, "open_date"), (5, "close_date"), (6, "postcode"),
        (7, "prescribing_setting"),
    }
    assert all(p.file == "ods_epraccur_gp_practices_2016-02.csv" for p in caught.value.problems)
    assert Organisation.objects.count() == 0
    assert AuditEvent.objects.count() == 0


def test_a_missing_column_is_named(data_dir):
    header = [c for c in CCG_HEADER if c != "postcode"]
    write(data_dir / "ods_eccg_ccgs_2016.csv", header, [])
    with pytest.raises(ImportRejected) as caught:
        import_organisations(by=None, data_dir=data_dir)
    assert any(p.column == "postcode" and p.row == 1 for p in caught.value.problems)


def test_the_command_lists_every_problem_and_fails(data_dir):
    write(data_dir / "ods_eccg_ccgs_2016.csv", CCG_HEADER, [ccg("02A", ""), ccg("00C", "X", opened="2013-04-01")])
    with pytest.raises(CommandError) as caught:
        call_command("import_organisations", data_dir=str(data_dir), stdout=io.StringIO())
    message = str(caught.value)
    assert "Nothing was imported: 2 problem(s) found" in message
    assert "row 2, column name" in message and "row 3, column open_date" in message
    assert Organisation.objects.count() == 0


def test_the_command_reports_what_it_did(data_dir):
    out = io.StringIO()
    call_command("import_organisations", data_dir=str(data_dir), stdout=out)
    assert "7 created" in out.getvalue()


def test_a_missing_data_directory_is_a_clear_error(tmp_path):
    with pytest.raises(CommandError, match="does not exist"):
        call_command("import_organisations", data_dir=str(tmp_path / "nowhere"))


LIST_HEADER = ["quarter_start", "pco_code", "practice_code"] + [
    f"{sex}_{band}" for band in ("0_4", "5_14", "15_24", "25_34", "35_44", "45_54", "55_64", "65_74", "75")
    for sex in ("male", "female")
]


def test_list_sizes_load_and_are_idempotent(data_dir):
    import_organisations(by=None, data_dir=data_dir)
    path = data_dir / "sizes.csv"
    write(path, LIST_HEADER, [["2016-01-01", "02A00", "P91003"] + [str(10 + i) for i in range(18)]])
    summary = import_list_sizes(by=None, path=path)
    assert summary.created == 18
    assert sum(RegisteredPopulation.objects.values_list("patients", flat=True)) == sum(range(10, 28))
    assert RegisteredPopulation.objects.filter(age_band="75+", sex="F").get().patients == 27
    assert import_list_sizes(by=None, path=path).created == 0


def test_list_sizes_reject_unknown_practices_and_bad_counts(data_dir):
    import_organisations(by=None, data_dir=data_dir)
    path = data_dir / "sizes.csv"
    write(path, LIST_HEADER, [
        ["2016-01-01", "02A00", "P91003"] + ["5"] * 17 + ["-1"],
        ["2016-01-01", "02A00", "Z99999"] + ["5"] * 18,
    ])
    with pytest.raises(ImportRejected) as caught:
        import_list_sizes(by=None, path=path)
    found = {(p.row, p.column) for p in caught.value.problems}
    assert found == {(2, "female_75"), (3, "practice_code")}
    assert RegisteredPopulation.objects.count() == 0
