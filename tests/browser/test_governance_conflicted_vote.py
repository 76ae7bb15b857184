"""A member with an interest in a provider is stopped from voting on an item about it; the
secretary records the exclusion; the decision passes with quorum; the public sees it all."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import expect

from opencommissioning.core.roles import Role
from opencommissioning.governance import services
from opencommissioning.governance.models import VoteChoice
from tests.conftest import PASSWORD
from tests.governance_helpers import make_board

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"


def sign_in(browser, live_server, username, path):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(10_000)
    page.goto(f"{live_server.url}/accounts/login/?next={path}")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    return page


def test_a_conflicted_member_is_stopped_and_the_record_shows_it(live_server, browser, people, commissioner, provider, real_transactions):
    board = make_board(people, commissioner, provider)
    item_path = f"/governance/items/{board.item.pk}/"

    # The secretary screens the item before it is discussed: the conflict is found.
    secretary = sign_in(browser, live_server, Role.COMMISSIONING_MANAGER, item_path)
    secretary.get_by_role("button", name="Screen attending members' interests").click()
    expect(secretary.locator(".nhsuk-notification-banner")).to_contain_text("1 new conflict found, 1 in all")
    card = secretary.locator(".nhsuk-card", has_text=board.conflicted.full_name)
    expect(card).to_contain_text("Paid adviser to the trust")
    expect(card).to_contain_text("Not yet managed")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    secretary.screenshot(path=str(SCREENSHOTS / "governance-item-screened.png"), full_page=True)

    # The conflicted member tries to vote and is refused, with the reason.
    member = sign_in(browser, live_server, Role.HWB_MEMBER, item_path)
    member.get_by_label("For", exact=True).check()
    member.get_by_role("button", name="Cast the vote").click()
    expect(member.locator(".nhsuk-error-summary")).to_contain_text("has a conflict of interest in this item and may not vote")
    expect(member.get_by_role("heading", name="3. Votes")).to_be_visible()
    expect(member.locator("#votes + p")).to_have_text("No votes have been cast.")

    # The secretary records the exclusion, with a reason.
    secretary.reload()
    card = secretary.locator(".nhsuk-card", has_text=board.conflicted.full_name)
    card.get_by_label("Excluded from the item").check()
    card.get_by_label("Reason").fill("Paid adviser to the bidder: left the room for this item")
    card.get_by_role("button", name="Record how it is managed").click()
    expect(secretary.locator("#quorum")).to_contain_text("3 of 3 voting members present and free to vote")

    # The chair votes in the browser; the other two members' votes are recorded.
    chair = sign_in(browser, live_server, Role.CLINICAL_COMMISSIONER, item_path)
    chair.get_by_label("For", exact=True).check()
    chair.get_by_role("button", name="Cast the vote").click()
    expect(chair.locator(".nhsuk-notification-banner")).to_contain_text("The vote has been recorded")
    for other in board.members[1:]:
        services.cast_vote(by=other, item=board.item, choice=VoteChoice.FOR)

    # The decision passes with quorum.
    secretary.reload()
    secretary.get_by_label("What was decided").fill("Award the community dermatology contract to the trust")
    secretary.get_by_label("Why: the reasons and the evidence relied on").fill("Highest score on outcomes and access")
    secretary.get_by_role("button", name="Record the decision").click()
    expect(secretary.locator(".nhsuk-notification-banner")).to_contain_text("The decision has been recorded")
    expect(secretary.locator("#decision ~ dl")).to_contain_text("3 for, 0 against")
    secretary.screenshot(path=str(SCREENSHOTS / "governance-item.png"), full_page=True)

    # The public decision register shows the conflict, how it was managed, the votes and the decision.
    public = browser.new_context().new_page()
    public.goto(f"{live_server.url}/public/registers/decisions/")
    card = public.locator(".nhsuk-card", has_text="Award the dermatology contract")
    expect(card).to_contain_text(board.conflicted.full_name)
    expect(card).to_contain_text("Excluded from the item")
    expect(card).to_contain_text("3 for, 0 against")
    card.get_by_role("link", name="Award the dermatology contract").click()
    expect(public.get_by_role("heading", level=1)).to_contain_text("Award the dermatology contract")
    expect(public.locator("body")).to_contain_text("Paid adviser to the bidder: left the room for this item")
    expect(public.locator("body")).not_to_contain_text(f"{board.conflicted.full_name}\nFor")
    public.screenshot(path=str(SCREENSHOTS / "public-decision.png"), full_page=True)
