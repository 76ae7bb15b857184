"""Keep patient identifiers out of audit payloads and log lines.

Two nets: fields whose *names* say they hold a patient identifier are replaced whole,
and any string that contains a ten-digit number passing the NHS number check digit
(with or without spaces) has that number masked.
"""

from __future__ import annotations

import logging
import re
from typing import Any

REDACTED = "[redacted]"

#: Field names that always hold patient-identifying values.
PATIENT_IDENTIFIER_FIELDS = frozenset(
    {
        "nhs_number",
        "nhsnumber",
        "patient_nhs_number",
        "patient_identifier",
        "patient_name",
        "patient_address",
        "patient_postcode",
        "date_of_birth",
        "birth_date",
        "birthdate",
        "dob",
    }
)

_TEN_DIGITS = re.compile(r"(?<!\d)(\d{3})[ -]?(\d{3})[ -]?(\d{4})(?!\d)")


def is_valid_nhs_number(digits: str) -> bool:
    """Modulus 11 check of a ten-digit NHS number (NHS Data Dictionary)."""
    if len(digits) != 10 or not digits.isdigit():
        return False
    total = sum(int(d) * w for d, w in zip(digits[:9], range(10, 1, -1), strict=True))
    check = 11 - total % 11
    if check == 11:
        check = 0
    return check != 10 and check == int(digits[9])


def redact_text(text: str) -> str:
    def _mask(match: re.Match[str]) -> str:
        digits = "".join(match.groups())
        return REDACTED if is_valid_nhs_number(digits) else match.group(0)

    return _TEN_DIGITS.sub(_mask, text)


def redact(value: Any) -> Any:
    """Return a copy of ``value`` (JSON-like) with patient identifiers removed."""
    if isinstance(value, dict):
        return {
            k: (REDACTED if str(k).lower() in PATIENT_IDENTIFIER_FIELDS else redact(v))
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [redact(v) for v in value]
    if isinstance(value, str):
        return redact_text(value)
    return value


class RedactingFilter(logging.Filter):
    """A logging filter that masks NHS numbers in the message and its arguments."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a badly formed log call must not lose the line
            message = str(record.msg)
        record.msg = redact_text(message)
        record.args = None
        return True
