from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest
from django.urls import reverse

from .navigation import NAVIGATION
from .permissions import current_roles, has_permission
from .roles import Role


def platform(request: HttpRequest) -> dict[str, Any]:
    """What every page needs: the navigation this person may see, and their roles."""
    user = getattr(request, "user", None)
    path = request.path
    items = []
    for item in NAVIGATION:
        if not has_permission(user, item.permission):
            continue
        url = reverse(item.url_name)
        active = path == url if url == "/" else path.startswith(url)
        items.append({"label": item.label, "url": url, "active": active})
    roles = sorted(Role(r).label for r in current_roles(user))
    return {
        "navigation": items,
        "current_role_labels": roles,
        "service_name": "OpenCommissioning",
        "data_is_synthetic": settings.OPENCOMMISSIONING_DATA_DIR is None,
    }
