from __future__ import annotations

from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from opencommissioning.core.permissions import Perm, requires

from .chain import verify
from .models import AuditEvent


@requires(Perm.VIEW_AUDIT_TRAIL)
def event_list(request: HttpRequest) -> HttpResponse:
    events = AuditEvent.objects.select_related("actor").order_by("-sequence")
    object_type = request.GET.get("object_type", "").strip()
    if object_type:
        events = events.filter(object_type=object_type)
    page = Paginator(events, 50).get_page(request.GET.get("page"))
    verification = verify() if request.GET.get("verify") == "1" else None
    return render(
        request,
        "audit/event_list.html",
        {"page": page, "verification": verification, "object_type": object_type},
    )
