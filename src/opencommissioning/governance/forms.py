"""Form fields and their messages; the rules live in services (and rules.py).

Every creating form carries ``idempotency_key``: a fresh UUID in a hidden field, so a
second submission of the same form returns the record the first one made.
"""

from __future__ import annotations

import uuid
from typing import Any

from django import forms

from opencommissioning.core.models import Organisation, User

from .models import (
    BreachKind,
    Committee,
    CommitteeRole,
    EvidenceKind,
    GiftKind,
    InterestKind,
    Management,
    SubjectKind,
    VoteChoice,
)
from .rules import gifts_threshold

DATE_HINT = "For example, 2026-04-01"


def _date(label: str, *, required: bool = True, message: str = "") -> forms.DateField:
    return forms.DateField(
        label=label, required=required, help_text=DATE_HINT,
        error_messages={"required": message or f"Enter the {label.lower()}", "invalid": f"Enter the {label.lower()} as a date, like 2026-04-01"},
    )


def _text(label: str, *, required: bool = True, message: str = "", rows: int = 0, max_length: int | None = None,
          help_text: str = "") -> forms.CharField:
    widget = forms.Textarea(attrs={"rows": rows}) if rows else forms.TextInput()
    return forms.CharField(label=label, required=required, max_length=max_length, widget=widget, help_text=help_text,
                           error_messages={"required": message or f"Enter the {label.lower()}"})


class CreatingForm(forms.Form):
    idempotency_key = forms.UUIDField(widget=forms.HiddenInput, initial=uuid.uuid4)


class OrganisationCodeField(forms.CharField):
    """An ODS code, turned into the Organisation it names."""

    def clean(self, value: Any) -> Organisation | None:  # type: ignore[override]
        code = (super().clean(value) or "").strip().upper()
        if not code:
            return None
        organisation = Organisation.objects.filter(ods_code=code).first()
        if organisation is None:
            raise forms.ValidationError(f"No organisation in the directory has the ODS code {code}")
        return organisation


class InterestForm(CreatingForm):
    kind = forms.ChoiceField(label="Kind of interest", choices=InterestKind.choices, widget=forms.RadioSelect,
                             error_messages={"required": "Choose the kind of interest"})
    organisation = OrganisationCodeField(label="ODS code of the organisation (if any)", required=False, max_length=12,
                                         help_text="For example, R0A for a trust or P91004 for a practice")
    matter = _text("Matter (if no organisation fits)", required=False, max_length=200,
                   help_text="For example, 'community dermatology' or 'GP federation'")
    description = _text("Describe the interest", rows=3, message="Describe the interest")
    started_on = _date("Date the interest began")
    ended_on = _date("Date the interest ended (if it has)", required=False)
    end_reason = _text("Why it ended", required=False, max_length=400)


class EndInterestForm(forms.Form):
    ended_on = _date("Date the interest ended")
    reason = _text("Why it ended", max_length=400, message="Say why the interest ended")


class DeclarationReturnForm(CreatingForm):
    nil = forms.TypedChoiceField(
        label="Your return", coerce=lambda v: v == "nil", widget=forms.RadioSelect,
        choices=[("confirm", "My interests on the register are complete and correct"), ("nil", "I have no interests to declare (a nil return)")],
        error_messages={"required": "Choose a nil return or confirm your interests"},
    )


class GiftForm(CreatingForm):
    kind = forms.ChoiceField(label="Gift or hospitality", choices=GiftKind.choices, widget=forms.RadioSelect,
                             error_messages={"required": "Choose gift or hospitality"})
    description = _text("What was offered", max_length=400)
    offered_by = _text("Who offered it", max_length=250, message="Say who offered it")
    offered_by_organisation = OrganisationCodeField(label="ODS code of the organisation that offered it (if any)", required=False, max_length=12)
    value_pounds = forms.DecimalField(label="Value in pounds", min_value=0, decimal_places=2, max_digits=10,
                                      error_messages={"required": "Enter the value in pounds", "invalid": "Enter the value in pounds, like 30 or 12.50",
                                                      "min_value": "The value must be £0 or more"})
    offered_on = _date("Date it was offered")
    accepted = forms.TypedChoiceField(label="Did you accept it?", coerce=lambda v: v == "yes", widget=forms.RadioSelect,
                                      choices=[("yes", "Accepted"), ("no", "Declined")],
                                      error_messages={"required": "Say whether you accepted or declined it"})

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["value_pounds"].help_text = (
            f"Gifts and hospitality worth less than £{gifts_threshold():.0f} need not be declared. "
            f"Those worth £{gifts_threshold():.0f} or more are published."
        )


class CommitteeForm(CreatingForm):
    name = _text("Name", max_length=250, message="Enter the committee's name")
    organisation = OrganisationCodeField(label="ODS code of the commissioner", max_length=12,
                                         error_messages={"required": "Enter the commissioner's ODS code"})
    quorum = forms.IntegerField(label="Quorum (voting members who must be present and free to vote)", min_value=1,
                                error_messages={"required": "Enter the quorum", "min_value": "The quorum must be at least 1"})
    is_governing_body = forms.BooleanField(label="This is the governing body", required=False)
    reports_to = forms.ModelChoiceField(label="Reports to", queryset=Committee.objects.filter(ended_on__isnull=True),
                                        required=False, empty_label="Nobody (it is the governing body)")
    remit = _text("Remit: what it is accountable for", required=False, rows=3)


class CommitteeMemberForm(forms.Form):
    person = forms.ModelChoiceField(label="Person", queryset=User.objects.filter(is_active=True),
                                    error_messages={"required": "Choose the person"})
    role = forms.ChoiceField(label="Role on the committee", choices=CommitteeRole.choices, widget=forms.RadioSelect,
                             error_messages={"required": "Choose the person's role on the committee"})
    started_on = _date("Date they joined")


class MeetingForm(CreatingForm):
    committee = forms.ModelChoiceField(label="Committee", queryset=Committee.objects.filter(ended_on__isnull=True),
                                       error_messages={"required": "Choose the committee"})
    title = _text("Title", max_length=250, message="Enter the meeting's title")
    held_on = _date("Date of the meeting")
    location = _text("Where", required=False, max_length=250)


class AttendanceForm(forms.Form):
    attendees = forms.ModelMultipleChoiceField(label="Who is present", queryset=User.objects.none(),
                                               widget=forms.CheckboxSelectMultiple, required=False)

    def __init__(self, *args: Any, members: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if members is not None:
            self.fields["attendees"].queryset = members  # type: ignore[attr-defined]


class SplitCodesField(forms.CharField):
    def clean(self, value: Any) -> list[Organisation]:  # type: ignore[override]
        text = super().clean(value) or ""
        codes = [c.strip().upper() for c in text.replace(",", " ").split() if c.strip()]
        found = {o.ods_code: o for o in Organisation.objects.filter(ods_code__in=codes)}
        missing = [c for c in codes if c not in found]
        if missing:
            raise forms.ValidationError(f"No organisation in the directory has the ODS code {', '.join(missing)}")
        return [found[c] for c in dict.fromkeys(codes)]


class AgendaItemForm(CreatingForm):
    title = _text("Title", max_length=250, message="Enter the item's title")
    description = _text("What the item is about", required=False, rows=3)
    organisations = SplitCodesField(label="Organisations it concerns (ODS codes)", required=False,
                                    help_text="Separate codes with spaces or commas, for example R0A P91004")
    matters = _text("Matters it concerns", required=False, rows=2,
                    help_text="One per line, for example 'community dermatology'")
    needs_decision = forms.BooleanField(label="The committee will decide on this item", required=False, initial=True)

    def clean_matters(self) -> list[str]:
        return [line.strip() for line in self.cleaned_data["matters"].splitlines() if line.strip()]


class EvidenceForm(CreatingForm):
    kind = forms.ChoiceField(label="Kind of evidence", choices=EvidenceKind.choices, widget=forms.RadioSelect,
                             error_messages={"required": "Choose the kind of evidence"})
    title = _text("Title", max_length=250, message="Enter the evidence's title")
    url = _text("Link", required=False, max_length=500, help_text="https://… or a page on this site, like /organisations/R0A/")
    summary = _text("What it shows", required=False, rows=3)


class DeclareAtMeetingForm(CreatingForm):
    person = forms.ModelChoiceField(label="Member declaring", queryset=User.objects.none(),
                                    error_messages={"required": "Choose the member declaring"})
    description = _text("The interest declared", rows=3, message="Describe the interest being declared")

    def __init__(self, *args: Any, attendees: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if attendees is not None:
            self.fields["person"].queryset = attendees  # type: ignore[attr-defined]


class ManageConflictForm(forms.Form):
    management = forms.ChoiceField(label="How is the conflict managed?", choices=Management.choices, widget=forms.RadioSelect,
                                   error_messages={"required": "Choose how the conflict is managed"})
    reason = _text("Reason", rows=2, message="Give the reason for managing the conflict this way")


class VoteForm(CreatingForm):
    person = forms.ModelChoiceField(label="Member voting", queryset=User.objects.none(), required=False,
                                    empty_label="Me")
    choice = forms.ChoiceField(label="Vote", choices=VoteChoice.choices, widget=forms.RadioSelect,
                               error_messages={"required": "Choose for, against or abstain"})
    override_reason = _text("Chair's override: written reason for letting a conflicted member vote (published)",
                            required=False, rows=2)

    def __init__(self, *args: Any, attendees: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if attendees is not None:
            self.fields["person"].queryset = attendees  # type: ignore[attr-defined]


class DecisionForm(CreatingForm):
    resolution = _text("What was decided", rows=3, message="Enter what was decided")
    rationale = _text("Why: the reasons and the evidence relied on", rows=4,
                      message="Enter the reasons for the decision and the evidence it relied on")
    override_reason = _text("Chair's override: written reason for deciding without a quorum (published)",
                            required=False, rows=2)


class BreachForm(CreatingForm):
    person = forms.ModelChoiceField(label="Person", queryset=User.objects.filter(is_active=True),
                                    error_messages={"required": "Choose the person"})
    kind = forms.ChoiceField(label="Kind of breach", choices=BreachKind.choices, widget=forms.RadioSelect,
                             error_messages={"required": "Choose the kind of breach"})
    description = _text("What happened", rows=4, message="Describe the breach")


class BreachNotesForm(forms.Form):
    notes = _text("Investigation notes", rows=4, message="Describe the investigation")


class BreachCloseForm(forms.Form):
    outcome = _text("Outcome", rows=3, message="Record the outcome of the investigation")


class AccountabilityForm(CreatingForm):
    subject_kind = forms.ChoiceField(label="Accountable for a", choices=SubjectKind.choices, widget=forms.RadioSelect,
                                     error_messages={"required": "Choose a budget line, service, decision or committee"})
    subject = _text("Name of the budget line, service, decision or committee", max_length=250,
                    message="Name the budget line, service, decision or committee")
    person = forms.ModelChoiceField(label="Who is accountable", queryset=User.objects.filter(is_active=True),
                                    error_messages={"required": "Choose who is accountable"})
    committee = forms.ModelChoiceField(label="Accountable to the committee", queryset=Committee.objects.filter(ended_on__isnull=True),
                                       required=False, empty_label="No committee")
    accountable_to = forms.ModelChoiceField(label="Accountable to the person", queryset=User.objects.filter(is_active=True),
                                            required=False, empty_label="No one person")
    for_what = _text("For what", rows=3, message="Say what the person is accountable for")
    started_on = _date("From")
