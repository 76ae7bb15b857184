import logging

from hypothesis import given
from hypothesis import strategies as st

from opencommissioning.audit.redaction import (
    REDACTED,
    RedactingFilter,
    is_valid_nhs_number,
    redact,
    redact_text,
)

VALID = "9434765919"  # a valid check digit (NHS Digital test number)


def test_check_digit():
    assert is_valid_nhs_number(VALID)
    assert not is_valid_nhs_number("9434765918")
    assert not is_valid_nhs_number("123")


@given(st.from_regex(r"[0-9]{10}", fullmatch=True))
def test_our_check_digit_agrees_with_the_nhs_number_package(digits):
    import nhs_number

    # Ours is the plain modulus-11 rule: it masks at least every number the package
    # accepts (the package may also refuse unallocated ranges).
    if nhs_number.is_valid(digits):
        assert is_valid_nhs_number(digits)


def test_nhs_numbers_in_text_are_masked_with_or_without_spaces():
    assert VALID not in redact_text(f"patient {VALID} referred")
    assert "943 476 5919" not in redact_text("patient 943 476 5919 referred")
    assert "943-476-5919" not in redact_text("patient 943-476-5919 referred")


def test_ten_digit_numbers_that_are_not_nhs_numbers_stay():
    assert redact_text("invoice 9434765918") == "invoice 9434765918"


def test_fields_named_like_patient_identifiers_are_replaced_whole():
    payload = {"nhs_number": "x", "Date_of_Birth": "1950-01-01", "nested": [{"patient_name": "A"}], "ok": 1}
    assert redact(payload) == {
        "nhs_number": REDACTED,
        "Date_of_Birth": REDACTED,
        "nested": [{"patient_name": REDACTED}],
        "ok": 1,
    }


no_digits = st.text(alphabet=st.characters(exclude_categories=("Nd",)), max_size=40)


@given(no_digits, no_digits, st.sampled_from(["", " ", "-"]))
def test_a_valid_nhs_number_never_survives_redaction(before, after, separator):
    number = separator.join([VALID[:3], VALID[3:6], VALID[6:]])
    assert number not in redact_text(f"{before}{number}{after}")


def test_log_lines_are_redacted():
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "referral for %s", (VALID,), None)
    RedactingFilter().filter(record)
    assert VALID not in record.getMessage()
    assert REDACTED in record.getMessage()
