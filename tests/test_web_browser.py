"""`badgewatch web` in Debian's Chromium: a person logs in by the labels they read, sees the home
page of their role, and logs out; a wrong password is said in Chinese. The app runs as it does
in production: gunicorn with two worker processes on a loopback port, a real database."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.webapp import PASSWORD, World
from tests.webbrowser import log_in


def test_an_office_reviewer_logs_in_sees_their_work_and_logs_out(
    served: tuple[str, World], page: Page
) -> None:
    base, world = served
    page.goto(f"{base}/office/")  # not logged in: the login page, then back here
    expect(page.get_by_role("heading", name="登录")).to_be_visible()
    log_in(page, "hz-office", "not the password")
    expect(page.get_by_role("alert")).to_have_text("用户名或密码错误。")
    log_in(page, "hz-office", PASSWORD)
    expect(page).to_have_url(f"{base}/office/")
    expect(page.get_by_role("heading", name="待审核")).to_be_visible()
    expect(page.get_by_role("heading", name="待确认材料")).to_be_visible()
    # the report's look: the shared stylesheet is applied (the red header band)
    band = page.locator("header.top").evaluate("e => getComputedStyle(e).backgroundColor")
    assert band == "rgb(166, 27, 27)"
    link = page.get_by_role("link", name="杭州数据网<b>")  # markup shows as text
    expect(link).to_be_visible()
    expect(page.get_by_text("宁波大数据网")).to_have_count(0)
    link.click()
    expect(page.get_by_role("heading", name="杭州数据网<b>")).to_be_visible()
    expect(page.get_by_text("待编办审核")).to_be_visible()
    # another office's application: the same page as one that does not exist
    page.goto(f"{base}/applications/{world.applications['nb']}")
    expect(page.get_by_role("heading", name="页面不存在")).to_be_visible()
    page.get_by_role("button", name="退出").click()
    expect(page.get_by_role("heading", name="登录")).to_be_visible()
    expect(page.get_by_text("您已退出。")).to_be_visible()
    page.goto(f"{base}/office/")
    expect(page.get_by_role("heading", name="登录")).to_be_visible()


@pytest.mark.parametrize(
    ("login", "headings"),
    [
        ("hz-unit", ["网站开办审核/资质复核申请", "我的申请", "标识管理"]),
        ("conac", ["待复审"]),
        ("operator", ["用户管理"]),
    ],
)
def test_each_role_lands_on_its_home_page(
    served: tuple[str, World], page: Page, login: str, headings: list[str]
) -> None:
    base, _ = served
    page.goto(f"{base}/login")
    log_in(page, login, PASSWORD)
    expect(page.get_by_role("heading", name="首页")).to_be_visible()
    for heading in headings:
        expect(page.get_by_role("heading", name=heading)).to_be_visible()
