"""Issue 14 as its users meet it, in Debian's Chromium, every control found by its label: a unit
without a site of its own applies for a 网络红页, its office and CONAC approve it (the lists say it
is a red page), the unit edits its red page (a bad date and markup in the footer refused beside
their fields), places its badge code in the footer and publishes it; it then re-reviews the red
page choosing it in the form, and the re-review is approved with the same identifier; it enters
its domain's expiry date and ICP number in 网站信息, which the operator sees; another unit
reaches none of it."""

from __future__ import annotations

import urllib.request
from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import update

from badgewatch import localtime
from badgewatch.config import Config
from badgewatch.domains import gov_domain
from store.db import make_engine, session_factory, transaction
from store.models import User
from tests.webapp import PASSWORD, World
from tests.webbrowser import fill, log_in, open_page

RED = "杭州红页.政务"
RED_IP = "127.0.0.90"
SITE = "杭州市数据资源管理局网络红页"


@pytest.fixture
def web_env(dns_server, dns_config, sms_gateway) -> dict[str, str]:
    dns_server.set_records(RED, a=[RED_IP])
    return {
        "BADGEWATCH_DNS_NAMESERVERS": ",".join(dns_config.nameservers),
        "BADGEWATCH_SMS_URL": sms_gateway.sms_url,
        "BADGEWATCH_SMTP_PORT": "1",
        "BADGEWATCH_REDPAGES_ADDRESS": RED_IP,
    }


def _as(browser: Browser, base: str, login: str, errors: list[str]) -> Page:
    page = open_page(browser, errors)
    page.goto(f"{base}/login")
    log_in(page, login, PASSWORD)
    return page


def _decide(browser: Browser, base: str, login: str, button: str, kind: str) -> None:
    """A reviewer finds the application in its list, labelled ``kind``, and decides."""
    errors: list[str] = []
    page = _as(browser, base, login, errors)
    row = page.get_by_role("row").filter(has_text=SITE).filter(has_text=kind)
    expect(row).to_have_count(1)
    row.get_by_role("link", name=SITE).click()
    page.get_by_role("button", name=button).click()
    expect(page.get_by_role("status").first).to_contain_text("已办理")
    page.context.close()
    assert errors == [], errors


def _through(browser: Browser, base: str, kind: str) -> None:
    _decide(browser, base, "hz-office", "审核通过", kind)
    _decide(browser, base, "conac", "审核通过", kind)
    _decide(browser, base, "hz-office", "确认材料", kind)


def _served(base: str) -> str:
    """The red page as its domain's visitors get it (the Host is the red page's domain)."""
    request = urllib.request.Request(f"{base}/", headers={"Host": gov_domain(RED)})
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.read().decode("utf-8")


def _application(page: Page) -> None:
    """What a unit types on the form besides the site (the unit and its handler are filled in)."""
    fill(page, {
        "通讯地址": "浙江省杭州市上城区解放东路18号", "网站开办主体职能": "负责全市数据资源管理。",
        "经办人固定电话": "0571-87654321", "经办人电子邮箱": "handler@hz.example.cn",
        "网站主要负责人": "陈主任", "负责人固定电话": "0571-87650000",
        "负责人手机": "13705710002", "负责人电子邮箱": "chief@hz.example.cn",
        "网站简介": "发布数据开放和政务服务信息。",
    })


def test_red_page_rereview_and_site_information_end_to_end(
    served: tuple[str, World], sqlite_url: str, page: Page, browser: Browser
) -> None:
    base, _ = served
    engine = make_engine(sqlite_url)
    with transaction(session_factory(engine)) as db:  # a verified mobile: no 验证码 needed
        db.execute(update(User).where(User.login == "hz-unit").values(mobile="+8613905710001"))
    engine.dispose()

    # 1. The unit applies for a red page: no IP address, the domain resolving to the platform.
    page.goto(f"{base}/login")
    log_in(page, "hz-unit", PASSWORD)
    page.get_by_role("link", name="新增申请").click()
    _application(page)
    fill(page, {"网站名称": SITE, "中文域名": RED})
    page.get_by_label("新开办网站申请", exact=True).check()
    page.get_by_label("无自建网站，开通网络红页", exact=True).check()
    page.get_by_role("button", name="提交申请").click()
    expect(page.get_by_role("status")).to_contain_text("已提交")
    expect(page.get_by_role("row").filter(has_text=SITE)).to_contain_text(
        "新开办网站申请（网络红页）")

    # 2. Its office and CONAC see it labelled a red page, approve it; the badge is issued.
    _through(browser, base, "新开办网站申请（网络红页）")
    page.goto(f"{base}/unit/")
    site_row = page.get_by_role("row").filter(has_text=RED)
    identifier = site_row.get_by_role("cell").nth(2).inner_text()
    assert identifier.startswith("CA33001")

    # 3. 标识管理 sends it to 红页管理, where the code goes into the footer.
    site_row.get_by_role("link", name=SITE).click()
    expect(page.get_by_text("此网站为网络红页：请在红页管理中将以下代码粘贴到“页脚”并发布")).to_be_visible()
    page.get_by_role("link", name="红页管理").click()
    expect(page.locator("#redpage-state")).to_have_text("未发布")
    code = page.get_by_label("标识代码", exact=True).input_value()
    assert f"{identifier}.js" in code
    fill(page, {"单位简介": "数据资源<script>alert(1)</script>管理",
                "主要职能": "负责数据资源管理。", "地址": "杭州市上城区解放东路18号",
                "联系方式": "0571-87654321",
                "第 1 条标题": "关于<b>开放</b>数据的通知", "第 1 条日期": "2026-13-01",
                "第 1 条内容": "通知内容。", "页脚": "版权所有 <a href='x'>杭州</a>"})
    page.get_by_role("button", name="发布").click()
    expect(page.locator("#notice_1_on-errors")).to_contain_text("“2026-13-01”不是日期")
    expect(page.locator("#footer-errors")).to_contain_text("不能包含其他 HTML 标记")
    expect(page.locator("#redpage-state")).to_have_text("未发布")  # nothing saved
    fill(page, {"第 1 条日期": "2026-11-30", "页脚": f"版权所有 杭州市数据资源管理局 {code}"})
    page.get_by_role("button", name="发布").click()
    expect(page.get_by_role("status").first).to_contain_text("网络红页已发布")
    expect(page.locator("#redpage-state")).to_have_text("已发布")
    served_html = _served(base)
    assert "数据资源&lt;script&gt;alert(1)&lt;/script&gt;管理" in served_html
    assert "关于&lt;b&gt;开放&lt;/b&gt;数据的通知" in served_html
    assert f"{identifier}.js" in served_html and "<script>alert" not in served_html

    # 4. It re-reviews the red page, choosing it in the form (name and domain come with it).
    page.goto(f"{base}/unit/")
    page.get_by_role("link", name="新增申请").click()
    _application(page)
    page.get_by_label("已开办网站复核", exact=True).check()
    page.get_by_label("复核的已开办网站", exact=True).select_option(
        label=f"{RED}（{SITE}，{identifier}）")
    page.get_by_role("button", name="提交申请").click()
    expect(page.get_by_role("status")).to_contain_text("已提交")
    kind = f"已开办网站复核（网络红页，{identifier}）"
    expect(page.get_by_role("row").filter(has_text=kind)).to_contain_text("待编办审核")
    _through(browser, base, kind)
    page.goto(f"{base}/unit/")
    site_row = page.get_by_role("row").filter(has_text=RED)
    expect(site_row).to_have_count(1)
    expect(site_row).to_contain_text(identifier)  # the same badge
    site_row.get_by_role("link", name=SITE).click()
    today = localtime.today(datetime.now(UTC), Config().calendar.zone)
    expect(page.get_by_text(f"{today.isoformat()}（已开办网站复核通过，标识不变）")).to_be_visible()

    # 5. 网站信息: the domain's expiry and the ICP number, then the operator sees them.
    page.get_by_role("link", name="修改网站信息（域名到期日期、页脚备案号）").click()
    soon = today + timedelta(days=20)
    fill(page, {"域名到期日期": "2026-02-30", "ICP备案编号": "浙ICP备05018911号"})
    page.get_by_role("button", name="保存").click()
    expect(page.locator("#expires_on-errors")).to_contain_text("“2026-02-30”不是有效的日期")
    page.get_by_label("域名到期日期", exact=True).fill(soon.isoformat())
    page.get_by_role("button", name="保存").click()
    expect(page.get_by_role("status").first).to_contain_text(f"已保存“{SITE}”的网站信息")
    expect(page.locator("#expires-on")).to_have_text(f"{localtime.cn_date(soon)} 域名即将到期")
    errors: list[str] = []
    operator = _as(browser, base, "operator", errors)
    operator.goto(f"{base}/operator/sites")
    row = operator.get_by_role("row").filter(has_text=SITE)
    expect(row).to_contain_text(localtime.cn_date(soon))
    operator.context.close()

    # 6. Another unit reaches none of it.
    other = _as(browser, base, "nb-unit", errors)
    site_path = page.url.rsplit("/info", 1)[0]
    for path in (site_path, f"{site_path}/info",
                 site_path.replace("/unit/sites/", "/unit/redpages/")):
        assert other.goto(path).status == 404, path  # type: ignore[union-attr]
    other.context.close()
    assert errors == [], errors
