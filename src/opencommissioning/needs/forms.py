"""Form fields and their messages (the rules live in services)."""

from __future__ import annotations

import uuid

from django import forms

from opencommissioning.analytics.profiles import FEATURES

from . import catalogue
from .models import Scope, Table


def indicator_choices() -> list[tuple[str, str]]:
    return [(i.id, i.title) for i in catalogue.indicators()]


class UploadForm(forms.Form):
    file = forms.FileField(label="File (CSV or Parquet)", help_text="Columns named as in the data model; see the list below.")
    table = forms.ChoiceField(label="What the file holds", choices=Table.choices)
    scope = forms.ChoiceField(label="Whose data it is", choices=Scope.choices, initial=Scope.LOCAL)
    source = forms.CharField(label="Where it came from", max_length=300,
                             help_text="The publication or extract, with its date, e.g. 'SUS extract, April 2025'.")
    synthetic = forms.BooleanField(label="This is synthetic (made-up) data", required=False)
    replace_overlapping = forms.BooleanField(label="Replace earlier loads of the same periods and organisations",
                                             required=False)


class TargetForm(forms.Form):
    indicator = forms.ChoiceField(label="Indicator", choices=indicator_choices)
    value = forms.FloatField(label="Target value", help_text="In the indicator's own unit.")
    due_on = forms.DateField(label="To be reached by", help_text="For example, 2027-03-31.",
                             widget=forms.DateInput(attrs={"type": "date"}))
    note = forms.CharField(label="Why this target (optional)", max_length=500, required=False)


class PriorityForm(forms.Form):
    idempotency_key = forms.UUIDField(widget=forms.HiddenInput, initial=uuid.uuid4)
    title = forms.CharField(label="Priority", max_length=200)
    description = forms.CharField(label="What the board wants to change", widget=forms.Textarea(attrs={"rows": 3}),
                                  required=False)
    indicators = forms.MultipleChoiceField(label="Indicators that measure it", choices=indicator_choices,
                                           widget=forms.CheckboxSelectMultiple)


class PeerWeightsForm(forms.Form):
    neighbours = forms.IntegerField(label="How many nearest neighbours", min_value=1, max_value=20)

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        for name, label in FEATURES.items():
            self.fields[name] = forms.FloatField(label=label, min_value=0, max_value=10,
                                                 help_text="Weight from 0 (ignored) to 10.")
