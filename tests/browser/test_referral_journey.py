"""One referral, in a real browser: a practice asks for advice, a reviewer advises, the
practice converts it to a referral, the reviewer routes it to a provider, the practice's
payment statement shows the advice episode, and the referral figures' funnel plot leads
from the practice's dot to the referral behind it."""

import re
from pathlib import Path

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from opencommissioning.core.roles import Role
from opencommissioning.referrals.models import Referral
from tests.conftest import PASSWORD
from tests.referrals_support import set_up_referrals

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"


def sign_in(browser, live_server, username):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(10_000)
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    return context, page


def test_a_referral_from_advice_to_provider_and_payment(live_server, browser, people, practices, provider, real_transactions):
    set_up_referrals(practices, provider)

    practice_ctx, gp = sign_in(browser, live_server, Role.REFERRER)
    gp.goto(f"{live_server.url}/referrals/new/")
    gp.get_by_label("NHS number").fill("991 200 3888")
    gp.get_by_label("Advice and guidance").check()
    gp.get_by_label("Specialty").select_option(label="Dermatology (330)")
    gp.get_by_label("Reason for referral").fill("Persistent plaque on the shin, not settling")
    gp.get_by_role("button", name="Send for triage").click()
    expect(gp.get_by_role("heading", level=1)).to_contain_text("Referral OC-")
    reference = gp.get_by_role("heading", level=1).inner_text().split()[-1]
    expect(gp.locator("#history")).to_contain_text("Awaiting triage")

    review_ctx, reviewer = sign_in(browser, live_server, Role.REFERRAL_REVIEWER)
    reviewer.goto(f"{live_server.url}/referrals/worklist/")
    expect(reviewer.get_by_role("link", name=reference)).to_be_visible()
    reviewer.get_by_role("button", name="Claim the next referral").click()
    reviewer.get_by_role("link", name="Return advice and guidance").click()
    reviewer.get_by_label("Advice for the referrer").fill("Likely discoid eczema: potent steroid for four weeks.")
    reviewer.get_by_role("button", name="Send advice to the referrer").click()
    expect(reviewer.locator("#history")).to_contain_text("Advice returned to the referrer")

    gp.reload()
    expect(gp.locator("#advice-1")).to_contain_text("discoid eczema")
    gp.get_by_role("button", name="Convert to a referral").click()
    expect(gp.locator("#history")).to_contain_text("Converted to a referral by the practice")

    reviewer.goto(f"{live_server.url}/referrals/worklist/")
    reviewer.get_by_role("link", name=reference).click()
    reviewer.get_by_role("button", name="Claim for triage").click()
    reviewer.get_by_role("link", name="Accept and route to a provider").click()
    expect(reviewer.locator("label", has_text="Dermatology outpatients")).to_contain_text("9 weeks")
    reviewer.get_by_label(re.compile("Dermatology outpatients")).check()
    reviewer.get_by_role("button", name="Route the referral").click()
    expect(reviewer.locator("#routed-to")).to_contain_text("£168.00")

    gp.reload()
    expect(gp.locator("#history")).to_contain_text("Accepted and routed to a provider")
    referral = Referral.objects.get()
    gp.goto(f"{live_server.url}/referrals/statements/{referral.practice.ods_code}/{timezone.localtime(referral.received_at):%Y-%m}/")
    expect(gp.locator("#statement")).to_contain_text(reference)
    expect(gp.locator("#statement")).to_contain_text("£40.00")
    expect(gp.locator("#statement")).to_contain_text("Converted to a referral")

    # The funnel plot is drawn by vega-embed; the first dot is Test Practice 1's.
    reviewer.goto(f"{live_server.url}/referrals/commissioning/")
    expect(reviewer.locator("#funnel svg")).to_be_visible()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    reviewer.screenshot(path=str(SCREENSHOTS / "referral-figures-funnel.png"), full_page=True)
    reviewer.locator("#funnel g.mark-symbol path").first.click()
    expect(reviewer).to_have_url(re.compile(r"/referrals/commissioning/referrals/\?month=\d{4}-\d{2}&practice=P91001$"))
    expect(reviewer.locator("#drilldown")).to_contain_text(reference)
    practice_ctx.close()
    review_ctx.close()
