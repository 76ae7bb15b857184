"""In a real browser: a commissioner opens a practice profile, switches the indicator on
the funnel plot and finds the outlier; an anonymous visitor sees small numbers suppressed."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import expect

from opencommissioning.core.roles import Role
from tests.conftest import PASSWORD
from tests.needs_support import OUTLIER, TINY, load_needs, months

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"


def test_a_commissioner_finds_the_outlying_practice(live_server, page, people, commissioner, practices, tmp_path,
                                                     real_transactions):
    load_needs(commissioner, tmp_path)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Username").fill(Role.CLINICAL_COMMISSIONER)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.goto(f"{live_server.url}/needs/")
    page.locator("#practice-links").get_by_role("link", name=f"Test Practice 1 ({OUTLIER})").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Test Practice 1")
    expect(page.locator("#row-emergency_admissions_rate")).to_contain_text("Worse (99.8%)")
    expect(page.locator("#spine-3 svg")).to_be_visible()
    page.screenshot(path=str(SCREENSHOTS / "needs-practice-profile.png"), full_page=True)
    page.locator("#row-emergency_admissions_rate").get_by_role("link", name="Emergency admissions, all causes").click()
    expect(page.locator("#funnel svg")).to_be_visible()
    page.get_by_label("Indicator").select_option("ae_attendance_rate")  # submits the form on change
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "A&E attendances per 1,000 registered patients per year")  # the unit once, not twice
    page.get_by_label("Indicator").select_option("emergency_admissions_rate")
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Emergency admissions, all causes per 1,000 registered patients per year")
    expect(page.locator("#funnel svg")).to_be_visible()
    outliers = page.locator("#outlier-list")
    expect(outliers).to_contain_text("Test Practice 1")
    expect(outliers).to_contain_text("High (outside 99.8% limits)")
    page.screenshot(path=str(SCREENSHOTS / "needs-funnel-outlier.png"), full_page=True)
    outliers.get_by_role("link", name="Test Practice 1").click()
    expect(page).to_have_url(f"{live_server.url}/needs/profiles/{OUTLIER}/")


def test_the_public_sees_small_numbers_suppressed(live_server, page, people, commissioner, practices, tmp_path,
                                                  real_transactions):
    load_needs(commissioner, tmp_path)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.goto(f"{live_server.url}/public/profiles/02A/")
    expect(page.get_by_role("heading", level=1)).to_contain_text("health needs and outcomes")
    page.screenshot(path=str(SCREENSHOTS / "needs-public-profile.png"), full_page=True)
    page.locator("#row-emergency_admissions_rate").get_by_role("link").click()
    tiny = page.locator("#funnel-table tr", has_text="Test Practice 7")
    expect(tiny).to_contain_text("Not shown: a small number")
    expect(tiny.locator("td").nth(1)).to_have_text("*")
    expect(page.locator("#funnel svg")).to_be_visible()
    page.screenshot(path=str(SCREENSHOTS / "needs-public-variation.png"), full_page=True)
    # the tiny practice month by month: its months with 1 to 7 admissions are shown as
    # suppressed, not dropped, and no SPC limits are drawn for it
    page.goto(f"{live_server.url}/public/profiles/02A/variation/emergency_admissions_rate/?org={TINY}")
    monthly = page.locator("#spc-table tbody tr")
    expect(monthly).to_have_count(len(months()))
    expect(page.locator("#spc-table tbody tr", has_text="suppressed (1 to 7)")).to_have_count(3)
    expect(page.locator("#spc-summary")).to_contain_text("No SPC chart for the public")
    expect(page.locator("#spc svg")).to_be_visible()
    page.screenshot(path=str(SCREENSHOTS / "needs-public-suppressed-months.png"), full_page=True)
