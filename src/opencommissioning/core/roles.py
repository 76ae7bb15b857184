"""The roles people hold in a commissioning organisation (PRODUCT.md, "Who uses it").

The public has no role: anyone without a sign-in is the public.
"""

from django.db import models


class Role(models.TextChoices):
    CLINICAL_COMMISSIONER = "clinical_commissioner", "Clinical commissioner"
    COMMISSIONING_MANAGER = "commissioning_manager", "Commissioning manager or analyst"
    REFERRAL_REVIEWER = "referral_reviewer", "Referral reviewer (clinical triage)"
    REFERRER = "referrer", "Referrer (member practice)"
    PROVIDER = "provider", "Provider"
    SENATE_MEMBER = "senate_member", "Clinical senate or network member"
    HWB_MEMBER = "hwb_member", "Health and wellbeing board member"
    PATIENT_REPRESENTATIVE = "patient_representative", "Patient or public representative"
    AUDITOR = "auditor", "Auditor"


ALL_ROLES: frozenset[str] = frozenset(Role.values)
