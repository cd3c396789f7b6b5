"""网站信息 in Debian's Chromium: a unit opens its site's 标识管理, follows the link to 网站信息,
finds every field by its label, sees a bad date refused beside its field, then saves."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from playwright.sync_api import Page, expect

from badgewatch import localtime
from badgewatch.config import Config
from tests.webapp import PASSWORD, World
from tests.webbrowser import fill, log_in


def test_a_unit_sets_its_domains_expiry_date_in_the_browser(
    served: tuple[str, World], page: Page
) -> None:
    base, world = served
    page.goto(f"{base}/login")
    log_in(page, "nb-unit", PASSWORD)
    page.goto(f"{base}/unit/sites/{world.sites['nb']}")
    page.get_by_role("link", name="修改网站信息（域名到期日期、页脚备案号）").click()
    expect(page.get_by_role("heading", name="网站信息：宁波大数据网站")).to_be_visible()
    fill(page, {"域名到期日期": "2026-02-30", "ICP备案编号": "浙ICP备05018911号"})
    page.get_by_role("button", name="保存").click()
    date_field = page.get_by_label("域名到期日期", exact=True)
    expect(date_field).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#expires_on-errors")).to_have_text(
        "“2026-02-30”不是有效的日期，请按 YYYY-MM-DD 填写，如 2027-05-06")
    expect(page.get_by_label("ICP备案编号", exact=True)).to_have_value("浙ICP备05018911号")
    expect(page.locator("#expires-on")).to_have_text("未填写")  # nothing saved
    # The served app reads the clock: 20 days from today in Beijing is 域名即将到期.
    soon = localtime.today(datetime.now(UTC), Config().calendar.zone) + timedelta(days=20)
    date_field.fill(soon.isoformat())
    page.get_by_role("button", name="保存").click()
    expect(page.get_by_role("status").first).to_contain_text("已保存“宁波大数据网站”的网站信息")
    expect(page.locator("#expires-on")).to_have_text(
        f"{localtime.cn_date(soon)} 域名即将到期")
