"""No NHS number reaches a log line, whichever logger writes it."""

import io
import logging

import pytest
from django.test import Client

VALID = "9434765919"


@pytest.fixture
def console():
    handlers = [h for h in logging.getLogger().handlers if isinstance(h, logging.StreamHandler)]
    assert handlers, "the console handler from settings.LOGGING is missing"
    stream = io.StringIO()
    old = [h.setStream(stream) for h in handlers]
    yield stream
    for handler, previous in zip(handlers, old, strict=True):
        handler.setStream(previous)


def test_every_configured_handler_redacts():
    from django.conf import settings

    for name, handler in settings.LOGGING["handlers"].items():
        assert "redact_patient_identifiers" in handler.get("filters", []), name


def test_application_log_lines_are_redacted(console):
    logging.getLogger("opencommissioning.referrals").warning("referral for patient %s", VALID)
    assert "referral for patient" in console.getvalue()
    assert VALID not in console.getvalue()


@pytest.mark.django_db
def test_django_request_logs_are_redacted(console):
    Client().get(f"/organisations/{VALID}/")  # a 302 to sign in: no log
    Client().get(f"/no-such-page/{VALID}/")   # a 404: Django logs the path
    assert "/no-such-page/" in console.getvalue()
    assert VALID not in console.getvalue()
