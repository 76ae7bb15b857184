"""The treatment functions (NHS Data Dictionary) referrals are triaged in.

The migration ``0002_specialties`` loads the same list; :func:`ensure_specialties` puts
it back where a database was emptied (tests that flush, a fresh demo).
"""

from __future__ import annotations

from .migrations import _specialties_0002
from .models import Specialty

SPECIALTIES = _specialties_0002.SPECIALTIES


def ensure_specialties() -> int:
    """Create any missing specialty; returns how many were created."""
    known = set(Specialty.objects.values_list("code", flat=True))
    missing = [Specialty(code=c, name=n, ers_code=e) for c, n, e in SPECIALTIES if c not in known]
    Specialty.objects.bulk_create(missing)
    return len(missing)
