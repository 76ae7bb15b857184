"""Form fields and their messages; the rules live in services."""

from __future__ import annotations

from typing import Any

from django import forms
from django.db.models import QuerySet

from opencommissioning.core.models import Organisation

from .models import (
    TOKEN_LABEL_MAX_LENGTH,
    TOKEN_REVOKE_REASON_MAX_LENGTH,
    FeeBasis,
    Priority,
    ProviderService,
    Requested,
    Specialty,
)


class ReferralForm(forms.Form):
    practice = forms.ModelChoiceField(
        label="Referring from", queryset=Organisation.objects.none(), required=False, empty_label=None,
        error_messages={"required": "Choose the practice you are referring from",
                        "invalid_choice": "Choose one of the practices where you are a referrer"},
    )
    nhs_number = forms.CharField(label="NHS number", max_length=12, error_messages={"required": "Enter the patient's NHS number"})
    requested = forms.ChoiceField(label="What do you need?", choices=Requested.choices, initial=Requested.ADVICE, widget=forms.RadioSelect)
    specialty = forms.ModelChoiceField(label="Specialty", queryset=Specialty.objects.all(), required=False, empty_label="Not sure (triage will decide)")
    priority = forms.ChoiceField(label="Priority", choices=Priority.choices, initial=Priority.ROUTINE)
    reason_text = forms.CharField(label="Reason for referral", widget=forms.Textarea(attrs={"rows": 4}), error_messages={"required": "Enter the reason for the referral"})
    notes = forms.CharField(label="Supporting notes (optional)", widget=forms.Textarea(attrs={"rows": 4}), required=False)

    def __init__(self, *args: Any, practices: QuerySet[Organisation], **kwargs: Any) -> None:
        """``practices``: where the referrer may refer from. With one, it is the form's
        (hidden, and anything else sent is refused); with more, they choose."""
        super().__init__(*args, **kwargs)
        field = self.fields["practice"]
        field.queryset = practices  # type: ignore[attr-defined]
        if len(practices) > 1:
            field.required = True
        else:
            field.widget = forms.HiddenInput()
            field.initial = practices[0].pk if practices else None


class AdviceForm(forms.Form):
    advice = forms.CharField(label="Advice for the referrer", widget=forms.Textarea(attrs={"rows": 6}), error_messages={"required": "Enter the advice for the referrer"})
    specialty = forms.ModelChoiceField(label="Specialty the advice is given in", queryset=Specialty.objects.all(), required=False)


class ReturnForm(forms.Form):
    reasons = forms.CharField(label="Reasons for returning the referral", widget=forms.Textarea(attrs={"rows": 4}), error_messages={"required": "Enter the reasons for returning the referral"})


class RouteForm(forms.Form):
    service = forms.ModelChoiceField(label="Provider service", queryset=ProviderService.objects.filter(active=True), widget=forms.RadioSelect, error_messages={"required": "Choose the provider service to route the referral to"})


class ReplyForm(forms.Form):
    reply = forms.CharField(label="Your reply", widget=forms.Textarea(attrs={"rows": 4}), error_messages={"required": "Enter your reply to the advice"})


class TariffImportForm(forms.Form):
    name = forms.CharField(label="Tariff name", max_length=200)
    valid_from = forms.DateField(label="In force from (YYYY-MM-DD)")
    prices = forms.FileField(label="Prices CSV (treatment_function_code, first_attendance, follow_up)")
    market_forces = forms.FileField(label="Market forces factors CSV (provider_ods_code, market_forces_factor)")


class SchemeForm(forms.Form):
    valid_from = forms.DateField(label="In force from (YYYY-MM-DD)")
    basis = forms.ChoiceField(label="How advice is paid", choices=FeeBasis.choices, widget=forms.RadioSelect)
    fixed_fee = forms.DecimalField(label="Fixed fee per episode (£)", required=False, max_digits=10, decimal_places=2)
    percentage = forms.DecimalField(label="Percentage of the first attendance tariff price", required=False, max_digits=5, decimal_places=2)
    cap_per_practice_per_month = forms.DecimalField(label="Cap per practice per month (£)", max_digits=12, decimal_places=2)


class TokenIssueForm(forms.Form):
    label = forms.CharField(
        label="What the token is for", max_length=TOKEN_LABEL_MAX_LENGTH,
        help_text="The practice's system and site, so you can tell its tokens apart, for example: EMIS Web, main surgery",
        error_messages={"required": "Enter what the token is for, for example the practice's GP system",
                        "max_length": f"Keep what the token is for to {TOKEN_LABEL_MAX_LENGTH} characters or fewer"},
    )
    issue_key = forms.UUIDField(
        widget=forms.HiddenInput,
        error_messages={"required": "Open the page again and issue the token from there: the form was incomplete",
                        "invalid": "Open the page again and issue the token from there: the form was incomplete"},
    )


class TokenRevokeForm(forms.Form):
    reason = forms.CharField(
        label="Why are you revoking this token?", max_length=TOKEN_REVOKE_REASON_MAX_LENGTH, widget=forms.Textarea(attrs={"rows": 3}),
        error_messages={"required": "Give a reason for revoking the token",
                        "max_length": f"Keep the reason to {TOKEN_REVOKE_REASON_MAX_LENGTH} characters or fewer"},
    )
