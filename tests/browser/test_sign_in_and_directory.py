"""A commissioner signs in and opens the organisation directory, in a real browser."""

import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from opencommissioning.core.roles import Role
from tests.conftest import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"


def test_commissioner_signs_in_and_finds_a_practice(live_server, page, people, practices, real_transactions):
    outside_requests = []
    page.on("request", lambda r: outside_requests.append(r.url) if not r.url.startswith(live_server.url) else None)

    page.goto(f"{live_server.url}/organisations/")
    expect(page).to_have_url(re.compile(r"/accounts/login/"))
    page.get_by_label("Username").fill("clinical_commissioner")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()

    expect(page.get_by_role("heading", level=1, name="Organisations")).to_be_visible()
    page.get_by_label("Name or ODS code").fill("P91002")
    page.get_by_role("button", name="Search").click()
    expect(page.get_by_role("link", name="Test Practice 2")).to_be_visible()
    expect(page.get_by_role("link", name="Test Practice 1")).to_have_count(0)
    page.get_by_role("link", name="Test Practice 2").click()

    expect(page.get_by_role("heading", level=1)).to_contain_text("Test Practice 2")
    expect(page.get_by_role("link", name="NHS TRAFFORD CCG").first).to_be_visible()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "organisation-page.png"), full_page=True)

    # The header shows who is signed in, and the NHS.UK styles loaded from our own server.
    expect(page.locator("header")).to_contain_text("Clinical commissioner")
    assert page.evaluate("getComputedStyle(document.querySelector('header')).backgroundColor") != "rgba(0, 0, 0, 0)"
    assert outside_requests == []


def test_a_wrong_password_is_refused_with_a_message(live_server, page, people, real_transactions):
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Username").fill(Role.AUDITOR)
    page.get_by_label("Password").fill("not-the-password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator(".nhsuk-error-summary")).to_contain_text("The username or password is not right")
