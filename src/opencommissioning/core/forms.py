from __future__ import annotations

from django import forms
from django.contrib.auth.forms import AuthenticationForm

from .models import OrganisationKind


class OrganisationSearchForm(forms.Form):
    q = forms.CharField(
        label="Name or ODS code", required=False, max_length=100, strip=True
    )
    kind = forms.ChoiceField(
        label="Kind of organisation",
        required=False,
        choices=[("", "Any kind"), *OrganisationKind.choices],
    )
    include_closed = forms.BooleanField(label="Include closed organisations", required=False)


class SignInForm(AuthenticationForm):
    error_messages = {
        "invalid_login": "The username or password is not right. Check them and try again.",
        "inactive": "This account has been switched off. Ask your commissioning manager.",
    }
