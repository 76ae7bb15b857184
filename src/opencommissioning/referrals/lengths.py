"""Column lengths the models declare and the FHIR reader (``fhir.py``, which has no Django in
it) checks against: a longer value is refused, naming the element, never cut to fit (two
identifiers differing after the limit would otherwise become one referral)."""

IDENTIFIER_MAX_LENGTH = 200
ATTACHMENT_TITLE_MAX_LENGTH = 200
ATTACHMENT_CONTENT_TYPE_MAX_LENGTH = 100
