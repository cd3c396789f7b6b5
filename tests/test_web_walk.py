"""The seed's process in Debian's Chromium against `badgewatch web` (gunicorn) on loopback, as
four people, each in a browser of their own and finding every control by the label they read:
a unit registers (the 验证码 read from the local SMS gateway) and applies; its office rejects,
the unit corrects and resubmits, the office approves; CONAC rejects once, the unit resubmits,
both approve; the unit prints the letter and the form; the office confirms the materials; the
unit finds the code in 标识管理 and has the e-mail and the SMS (read from the local servers);
the site, served on loopback, carries the code; after a crawl the office opens the site,
presses 立即复查 and sees the verdict; the operator sees the monitor's health."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

import pytest
from playwright.sync_api import Browser, Locator, Page, expect
from playwright.sync_api._generated import LocatorAssertions

from tests.crawling import badgewatch
from tests.factories import pages
from tests.servers.mail import SmsGateway, SmtpServer
from tests.servers.sites import ServeSite
from tests.webapp import PASSWORD, World
from tests.webbrowser import fill, fill_application, log_in, open_page

DOMAIN = "走查.政务"
SITE = "杭州市走查网站"
MOBILE = "13905718888"
EMAIL = "zou@hz.example.cn"
LOGIN, UNIT_PASSWORD = "hz-walk", "a walking password"
FORGOTTEN = 1  # the page the unit forgets to put the code on, at first
RECHECK_WAIT = 180_000  # ms: a crawl of a few pages on loopback, run by the web app itself


@pytest.fixture
def web_env(crawl_env: dict[str, str], sms_gateway: SmsGateway,
            smtp_server: SmtpServer) -> dict[str, str]:
    """The crawl's settings (local DNS, loopback sites) and the local SMS and SMTP servers."""
    return crawl_env | {
        "BADGEWATCH_SMS_URL": sms_gateway.sms_url,
        "BADGEWATCH_SMTP_HOST": smtp_server.host,
        "BADGEWATCH_SMTP_PORT": str(smtp_server.port),
    }


@pytest.fixture
def people(browser: Browser) -> Iterator[Callable[[], Page]]:
    """A new person's browser each call; none may log a console error."""
    errors: list[str] = []
    opened: list[Page] = []

    def person() -> Page:
        opened.append(open_page(browser, errors))
        return opened[-1]

    yield person
    for page in opened:
        page.context.close()
    assert errors == [], errors


def status(page: Page) -> LocatorAssertions:
    return expect(page.get_by_role("status"))


def my_row(unit: Page) -> Locator:
    """The application's row in 我的申请, on a freshly loaded 首页."""
    unit.get_by_role("link", name="首页").click()
    return unit.get_by_role("row").filter(has_text=SITE).filter(has_text="申请")


def register(unit: Page, base: str, sms_gateway: SmsGateway) -> None:
    unit.goto(f"{base}/login")
    unit.get_by_role("link", name="新用户注册").click()
    fill(unit, {"单位名称": "杭州市走查单位", "通讯地址": "浙江省杭州市上城区2号",
                "经办人姓名": "周经办", "经办人手机": MOBILE})
    unit.get_by_label("组织机构类型", exact=True).select_option("政府")
    unit.get_by_label("同级编办", exact=True).select_option(label="330100 杭州市委编办")
    unit.get_by_role("button", name="获取验证码").click()
    status(unit).to_contain_text("验证码已发送")
    [sms] = sms_gateway.sms
    code = re.search(r"验证码为 (\d{6})", sms["message"])
    assert code is not None
    fill(unit, {"验证码": code.group(1), "经办人电子邮箱": EMAIL, "用户名": LOGIN,
                "密码": UNIT_PASSWORD, "确认密码": UNIT_PASSWORD})
    unit.get_by_role("button", name="注册").click()
    status(unit).to_contain_text("注册成功")
    log_in(unit, LOGIN, UNIT_PASSWORD)


def apply(unit: Page, ip: str) -> None:
    expect(unit.get_by_role("heading", name="网站开办审核/资质复核申请")).to_be_visible()
    unit.get_by_role("link", name="新增申请").click()
    expect(unit.get_by_label("开办主体名称", exact=True)).to_have_value("杭州市走查单位")
    fill_application(unit, site=SITE, domain=DOMAIN, ip=ip)
    unit.get_by_role("button", name="提交申请").click()
    status(unit).to_contain_text("已提交")
    expect(my_row(unit)).to_contain_text("待编办审核")


def decide(reviewer: Page, approve: str, reject: str | None = None, reason: str = "") -> None:
    """Open the application from the reviewer's 首页 and press ``approve`` or, with a
    ``reason``, ``reject``."""
    reviewer.get_by_role("link", name="首页").click()
    reviewer.get_by_role("link", name=SITE).click()
    if reject is not None:
        reviewer.get_by_label("不通过原因（单位将看到这一原因）").fill(reason)
        reviewer.get_by_role("button", name=reject, exact=True).click()
    else:
        reviewer.get_by_role("button", name=approve, exact=True).click()
    status(reviewer).to_contain_text("已办理")
    # No longer waiting for this reviewer; a rejected one is listed under 已退回 only.
    waiting = reviewer.get_by_role("row").filter(
        has=reviewer.get_by_role("link", name=SITE)).filter(has_not_text="不通过")
    expect(waiting).to_have_count(0)


def resubmit(unit: Page, reason: str, summary: str) -> None:
    """The unit reads the reason beside its application, changes 网站简介 and submits again."""
    row = my_row(unit)
    expect(row).to_contain_text(f"不通过原因：{reason}")
    row.get_by_role("link", name="重新提交").click()
    expect(unit.get_by_text(reason)).to_be_visible()
    unit.get_by_label("网站简介", exact=True).fill(summary)
    unit.get_by_role("button", name="重新提交").click()
    status(unit).to_contain_text("已提交")
    expect(my_row(unit)).to_contain_text("待编办审核")


def print_documents(unit: Page) -> None:
    for link, heading in (("打印申请函", "关于申请对网站开办审核和资格复核的函"),
                          ("打印申请表", "党政机关网站开办审核和资格复核申请表")):
        my_row(unit).get_by_role("link", name=link).click()
        expect(unit.get_by_role("heading", name=heading)).to_be_visible()
        expect(unit.get_by_text(SITE).first).to_be_visible()
        unit.go_back()


def test_the_seeds_walk_from_registration_to_the_recheck(
    served: tuple[str, World], people: Callable[[], Page], sms_gateway: SmsGateway,
    smtp_server: SmtpServer, serve_site: ServeSite, crawl_env: dict[str, str],
) -> None:
    base, _ = served
    site = serve_site({"/": "建设中"}, names=[DOMAIN])
    unit, office, conac = people(), people(), people()

    register(unit, base, sms_gateway)
    apply(unit, site.ip)
    for reviewer, login in ((office, "hz-office"), (conac, "conac")):
        reviewer.goto(f"{base}/login")
        log_in(reviewer, login, PASSWORD)

    # The office rejects; the unit corrects and resubmits; the office approves.
    decide(office, "审核通过", "审核不通过", "网站简介过于简单，请补充。")
    expect(my_row(unit)).to_contain_text("编办审核不通过")
    resubmit(unit, "网站简介过于简单，请补充。", "发布杭州市走查单位的政务信息和办事服务。")
    decide(office, "审核通过")
    expect(my_row(unit)).to_contain_text("编办审核通过，待 CONAC 复审")

    # CONAC rejects once; the unit resubmits; the office and CONAC approve.
    decide(conac, "审核通过", "审核不通过", "请补充网站的主要栏目。")
    expect(my_row(unit)).to_contain_text("CONAC 复审不通过")
    resubmit(unit, "请补充网站的主要栏目。", "发布政务信息和办事服务，栏目：政务公开、办事服务。")
    decide(office, "审核通过")
    decide(conac, "审核通过")
    expect(my_row(unit)).to_contain_text("在线审核通过，待报送纸质材料")

    # The unit prints both documents; the office confirms the paper materials.
    print_documents(unit)
    decide(office, "确认材料")
    expect(my_row(unit)).to_contain_text("已发放网站标识")

    # 标识管理: the code to copy; the e-mail and the SMS with it have arrived.
    unit.get_by_role("link", name="首页").click()
    badge_row = unit.get_by_role("row").filter(has_text=SITE).filter(has_not_text="申请")
    badge_row.get_by_role("link", name=SITE).click()
    expect(unit.get_by_role("heading", name=f"标识管理：{SITE}")).to_be_visible()
    identifier = unit.locator("dt:text-is('网站标识编号') + dd").inner_text().strip()
    assert re.fullmatch(r"[0-9A-Z]+", identifier), identifier
    snippet = unit.get_by_label("标识代码").input_value()
    assert identifier in snippet and "</script>" in snippet
    expect(unit.get_by_text("尚未检查")).to_be_visible()
    [mail] = [m for m in smtp_server.received if identifier in m.text]
    assert mail.recipients == [EMAIL]
    assert any(identifier in sms["message"] and sms["phone"].endswith(MOBILE)
               for sms in sms_gateway.sms)

    # The site carries the code on every page but one; a crawl finds that page.
    routes = pages(3, lambda i: "" if i == FORGOTTEN else snippet)
    for path, route in routes.items():
        site.set_route(path, route)
    crawled = badgewatch(crawl_env, "crawl", "--site", DOMAIN, "--json")
    assert crawled.returncode == 0, crawled.stderr[-3000:]

    # The office opens the site and sees the verdict; so does the unit, with the page and why.
    office.get_by_role("link", name="合规情况").click()
    office.get_by_role("link", name=SITE).click()
    expect(office.get_by_role("heading", name=SITE)).to_be_visible()
    expect(office.locator("#site-state")).to_have_text("未合规（整改期限内）")
    unit.reload()
    failing = unit.get_by_role("row").filter(has_text=f"/p/{FORGOTTEN}.html")
    expect(failing).to_contain_text("请")  # the advice beside the reason

    # The unit adds the code to that page; the office presses 立即复查 and sees the new verdict
    # once the recheck (run by the web application itself: no monitor runs) has settled it.
    site.set_route(f"/p/{FORGOTTEN}.html", pages(3, lambda i: snippet)[f"/p/{FORGOTTEN}.html"])
    office.get_by_role("button", name="立即复查").click()
    expect(office.get_by_role("status")).to_contain_text("本页每 3 秒自动刷新")
    expect(office.get_by_role("button", name="立即复查")).to_be_visible(timeout=RECHECK_WAIT)
    expect(office.locator("#site-state")).to_have_text("合规")
    unit.reload()
    expect(unit.locator("span.badge").first).to_have_text("合规")
    expect(failing).to_have_count(0)

    # The operator finds the unit's handler among the users, and the monitor's health.
    operator = people()
    operator.goto(f"{base}/login")
    log_in(operator, "operator", PASSWORD)
    expect(operator.get_by_role("link", name="周经办")).to_be_visible()
    operator.get_by_role("link", name="监测状态").click()
    expect(operator.get_by_role("heading", name="监测状态")).to_be_visible()
