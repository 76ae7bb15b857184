"""The transparency portal: what the public sees without signing in."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from opencommissioning.core.models import Organisation, OrganisationKind
from opencommissioning.core.permissions import public


@public
def index(request: HttpRequest) -> HttpResponse:
    commissioners = Organisation.objects.filter(
        kind=OrganisationKind.COMMISSIONER, memberships__ended_on__isnull=True
    ).distinct()
    return render(request, "public/index.html", {"commissioners": commissioners})
