"""Authentication for the HTTP API, through the same permission function as the pages."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja.security import SessionAuth

from opencommissioning.core.permissions import has_permission


class RequirePermission(SessionAuth):
    """A signed-in session whose roles grant ``permission``. Deny otherwise."""

    def __init__(self, permission: str) -> None:
        super().__init__()
        self.permission = permission

    def authenticate(self, request: HttpRequest, key: str | None) -> Any:
        user = getattr(request, "user", None)
        if user is not None and has_permission(user, self.permission):
            return user
        return None


class DenyAll(SessionAuth):
    """The API's default: an endpoint that names no permission is closed to everyone."""

    def authenticate(self, request: HttpRequest, key: str | None) -> Any:
        return None
