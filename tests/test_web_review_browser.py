"""The review in Debian's Chromium against `badgewatch web` (gunicorn, two workers): an office
reviewer approves an application and CONAC approves it, each finding every control by the label
they read; a reject without a reason is refused beside the field."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.webapp import PASSWORD, World
from tests.webbrowser import log_in


def test_the_office_then_conac_approve_an_application(
    served: tuple[str, World], page: Page
) -> None:
    base, _ = served
    page.goto(f"{base}/login")
    log_in(page, "hz-office", PASSWORD)
    page.get_by_role("link", name="杭州数据网<b>").click()
    expect(page.get_by_text("开办主体名称")).to_be_visible()
    # 审核不通过 needs a reason: refused, said beside the field, nothing changed
    page.get_by_role("button", name="审核不通过", exact=True).click()
    expect(page.get_by_text("审核不通过时必须填写原因")).to_be_visible()
    expect(page.get_by_role("button", name="审核通过", exact=True)).to_be_visible()
    page.get_by_role("button", name="审核通过", exact=True).click()
    expect(page.get_by_role("status")).to_contain_text("编办审核通过")
    expect(page.get_by_role("link", name="杭州数据网<b>")).to_have_count(0)
    page.get_by_role("button", name="退出").click()

    log_in(page, "conac", PASSWORD)
    expect(page.get_by_role("heading", name="待复审")).to_be_visible()
    page.get_by_role("link", name="杭州数据网<b>").click()
    page.get_by_role("button", name="审核通过", exact=True).click()
    expect(page.get_by_role("status")).to_contain_text("在线审核通过")
    page.get_by_role("button", name="退出").click()

    # The office now has it under 待确认材料, with its 10-working-day deadline.
    log_in(page, "hz-office", PASSWORD)
    row = page.locator("tr", has=page.get_by_role("link", name="杭州数据网<b>"))
    expect(row.locator("td[data-label=剩余工作日]")).to_have_text("10")
    expect(row.locator("td[data-label=状态]")).to_have_text("在线审核通过，待报送纸质材料")
