"""A unit in Debian's Chromium re-reviews its site: 已开办网站复核, the site chosen by its label
in 复核的已开办网站, submitted, and listed as a re-review of that site."""

from __future__ import annotations

from datetime import UTC, datetime

from playwright.sync_api import Page, expect
from sqlalchemy import select, update

from badgewatch.domains import gov_domain
from store.db import make_engine, session_factory, transaction
from store.models import Site, SiteSource, Unit, User
from tests.test_web_units_browser import web_env  # noqa: F401  (the local DNS and SMS)
from tests.webapp import PASSWORD, World
from tests.webbrowser import fill, fill_application, log_in

DOMAIN = "杭州数据.政务"
IP = "127.0.0.21"
IDENTIFIER = "CA330010000600000420001"


def test_a_unit_rereviews_its_site(served: tuple[str, World], sqlite_url: str, page: Page,
                                   dns_server) -> None:
    base, _ = served
    dns_server.set_records(DOMAIN, a=[IP])
    engine = make_engine(sqlite_url)
    with transaction(session_factory(engine)) as db:
        unit = db.scalars(select(Unit).where(Unit.name == "杭州市数据资源管理局")).one()
        db.add(Site(unit_id=unit.id, office_id=unit.office_id, name="杭州市数据资源管理局网站",
                    domain=gov_domain(DOMAIN), ipv4=IP, identifier=IDENTIFIER,
                    source=SiteSource.ISSUED, created_at=datetime(2026, 10, 1, tzinfo=UTC)))
        # The handler's mobile is verified already: no 验证码 needed.
        db.execute(update(User).where(User.login == "hz-unit").values(mobile="+8613905710001"))
    engine.dispose()

    page.goto(f"{base}/login")
    log_in(page, "hz-unit", PASSWORD)
    page.get_by_role("link", name="新增申请").click()
    fill_application(page, site="杭州市数据资源管理局门户网站", domain=DOMAIN, ip=IP)
    fill(page, {"通讯地址": "浙江省杭州市上城区解放东路18号",
                "经办人电子邮箱": "handler@hz.example.cn"})
    # As a new site: refused beside the domain, with what to do instead.
    page.get_by_role("button", name="提交申请").click()
    expect(page.get_by_text("请将申请类型选为“已开办网站复核”并选择该网站")).to_be_visible()
    page.get_by_label("已开办网站复核", exact=True).check()
    page.get_by_label("复核的已开办网站", exact=True).select_option(
        label=f"{DOMAIN}（杭州市数据资源管理局网站，{IDENTIFIER}）"
    )
    page.get_by_role("button", name="提交申请").click()
    expect(page.get_by_role("status")).to_contain_text("已提交")
    row = page.get_by_role("row").filter(has_text="杭州市数据资源管理局门户网站")
    expect(row).to_contain_text("待编办审核")
    expect(row).to_contain_text(f"已开办网站复核（{IDENTIFIER}）")
