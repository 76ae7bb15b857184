"""Access control (deny by default) and a clear page when the database is down."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.db import DatabaseError, InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse
from django.template.loader import render_to_string

from .permissions import has_permission

logger = logging.getLogger(__name__)


def forbidden(request: HttpRequest, reason: str = "") -> HttpResponse:
    from django.shortcuts import render

    return render(request, "errors/403.html", {"reason": reason}, status=403)


class AccessControlMiddleware:
    """Refuse every view that has not declared who may see it.

    Views declare a permission with ``core.permissions.requires`` or ``public``. The
    HTTP API (django-ninja) is guarded by its own default authentication, which calls
    the same ``has_permission``.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(
        self, request: HttpRequest, view_func: Any, view_args: Any, view_kwargs: Any
    ) -> HttpResponse | None:
        permission = getattr(view_func, "oc_permission", None)
        if permission is None:
            if getattr(view_func, "oc_api_endpoint", False):
                return None  # the HTTP API: its own deny-by-default authentication decides
            logger.error("view %s declares no permission; refusing", getattr(view_func, "__qualname__", view_func))
            return forbidden(request, "This page has not been opened to any role.")
        if has_permission(request.user, permission):
            return None
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path(), settings.LOGIN_URL)
        return forbidden(request)


class DatabaseUnavailableMiddleware:
    """Turn a lost database connection into a plain 503 page, never a stack trace."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if isinstance(exception, OperationalError | InterfaceError):
            return self._unavailable(exception)
        if isinstance(exception, DatabaseError) and "connection" in str(exception).lower():
            return self._unavailable(exception)
        return None

    @staticmethod
    def _unavailable(error: Exception) -> HttpResponse:
        return database_unavailable_response(error)


def database_unavailable_response(error: BaseException) -> HttpResponse:
    """A 503 page that needs no database (so it renders while the database is down)."""
    logger.error("database unavailable: %s", type(error).__name__)
    body = render_to_string("errors/503.html")
    response = HttpResponse(body, status=503)
    response["Retry-After"] = "60"
    return response
