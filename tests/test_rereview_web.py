"""Re-review in the web: the form offers the unit's own sites (复核的已开办网站), refuses in words
beside the field (nothing saved), and the office sees the re-review in its lists, rejected ones
included; 标识管理 shows the re-review date and the same identifier."""

from __future__ import annotations

from datetime import timedelta

import pytest
from flask import Flask
from sqlalchemy import select

from badgewatch.domains import gov_domain
from store.db import transaction
from store.models import Application, AppState, Role, Site, SiteSource, Unit
from tests.test_web_units import (  # noqa: F401  (app, world: the fixtures)
    _sessions,
    _verified_mobile,
    _workflow,
    app,
    applications,
    error_beside,
    post_form,
    tree,
    world,
)
from tests.webapp import log_in
from workflow.service import Actor

DOMAIN = "杭州数据.政务"
IP = "127.0.0.21"
IDENTIFIER = "CA330010000600000420001"
CERTIFICATE = "0123456789ABCDEF0123456789ABCDEF"
OFFICE = Actor(Role.OFFICE_REVIEWER, "330100")


@pytest.fixture
def held(app: Flask) -> None:  # noqa: F811
    """The hz unit holds 杭州数据.政务 (issued, its badge placed); its handler's mobile is
    verified."""
    now = app.extensions["badgewatch"].now()
    with transaction(_sessions(app)) as db:
        unit = db.scalars(select(Unit).where(Unit.name == "杭州市数据资源管理局")).one()
        db.add(Site(unit_id=unit.id, office_id=unit.office_id, name="杭州市数据资源管理局网站",
                    domain=gov_domain(DOMAIN), ipv4=IP, identifier=IDENTIFIER,
                    certificate=CERTIFICATE, source=SiteSource.ISSUED,
                    notified_on=(now - timedelta(days=30)).date(),
                    placement_due=(now - timedelta(days=20)).date(), created_at=now))
    _verified_mobile(app, "hz-unit")


def test_the_select_offers_the_units_own_sites_only(app: Flask, held: None) -> None:  # noqa: F811
    client = app.test_client()
    log_in(client, "hz-unit")
    page = tree(client.get("/unit/applications/new"))
    label = page.css_first("label[for=site_identifier]")
    assert label is not None and label.text().strip() == "复核的已开办网站"
    options = {o.attributes.get("value"): o.text().strip()
               for o in page.css("#site_identifier option")}
    assert options == {
        "": "请选择网站所绑定的域名",
        IDENTIFIER: f"{DOMAIN}（杭州市数据资源管理局网站，{IDENTIFIER}）",
    }
    other = app.test_client()
    log_in(other, "nb-unit")
    values = {o.attributes.get("value") for o in tree(other.get("/unit/applications/new"))
              .css("#site_identifier option")}
    assert IDENTIFIER not in values and "CA60000002" in values


def test_refusals_beside_their_field_nothing_saved(app: Flask, held: None) -> None:  # noqa: F811
    client = app.test_client()
    log_in(client, "hz-unit")
    before = applications(app)
    page = tree(post_form(client, "/unit/applications/new", "submit"))
    assert "已发放网站标识" in error_beside(page, "site_domain")
    assert "已开办网站复核" in error_beside(page, "site_domain")
    page = tree(post_form(client, "/unit/applications/new", "submit", kind="rereview"))
    assert "已开办网站复核" in error_beside(page, "site_identifier")
    # Another unit's site cannot be named (a crafted value: the select never offers it).
    other = app.test_client()
    log_in(other, "nb-unit")
    _verified_mobile(app, "nb-unit", "+8613905710002")
    page = tree(post_form(other, "/unit/applications/new", "submit", kind="rereview",
                          unit_name="宁波市大数据局", site_identifier=IDENTIFIER,
                          handler_mobile="13905710002"))
    assert "已登记在其他单位名下" in error_beside(page, "site_domain")
    assert "本单位没有" in error_beside(page, "site_identifier")
    assert applications(app) == before


def test_rereview_through_the_web_and_the_office_sees_it(app: Flask, held: None) -> None:  # noqa: F811
    client = app.test_client()
    log_in(client, "hz-unit")
    response = post_form(client, "/unit/applications/new", "submit", kind="rereview",
                         site_identifier=IDENTIFIER, site_name="杭州数据门户")
    assert response.status_code == 302
    with transaction(_sessions(app)) as db:
        application = db.scalars(select(Application).order_by(Application.id.desc())).first()
        assert application is not None and application.state is AppState.SUBMITTED
        assert application.rereview_site is not None
        assert application.rereview_site.identifier == IDENTIFIER
        app_id, serial = application.id, application.serial
    assert serial
    # The unit's list and the office's 待审核 say it is a re-review, and of which site.
    kind = f"已开办网站复核（{IDENTIFIER}）"
    assert kind in tree(client.get("/unit/")).body.text()
    office = app.test_client()
    log_in(office, "hz-office")
    rows = [row.text() for row in tree(office.get("/office/")).css("tr")]
    assert any(serial in row and kind in row for row in rows)
    shown = tree(office.get(f"/applications/{app_id}")).body.text()
    assert "复核的已开办网站" in shown and IDENTIFIER in shown
    # Rejected: it stays in the office's lists (已退回), the site as it was.
    with transaction(_sessions(app)) as db:
        _workflow(app).review(db, app_id, OFFICE, app.extensions["badgewatch"].now(),
                              approve=False, reason="网站名称不规范")
    page = tree(office.get("/office/"))
    returned = page.css("h2")[-1]
    assert returned.text() == "已退回"
    rows = [row.text() for row in page.css("tr")]
    assert any(serial in row and kind in row and "编办审核不通过" in row for row in rows), rows
    with transaction(_sessions(app)) as db:
        site = db.scalars(select(Site).where(Site.identifier == IDENTIFIER)).one()
        assert site.name == "杭州市数据资源管理局网站" and site.rereviewed_on is None
        site_id = site.id
    # Approved after the resubmit: 标识管理 shows the date, the same identifier and code.
    edit = f"/unit/applications/{app_id}/edit"
    chosen = tree(client.get(edit)).css_first(f"#site_identifier option[value={IDENTIFIER}]")
    assert chosen is not None and "selected" in chosen.attributes
    assert post_form(client, edit, "submit", kind="rereview", site_identifier=IDENTIFIER,
                     site_name="杭州数据门户").status_code == 302
    now = app.extensions["badgewatch"].now()
    with transaction(_sessions(app)) as db:
        flow = _workflow(app)
        flow.review(db, app_id, OFFICE, now, approve=True)
        flow.review(db, app_id, Actor(Role.CONAC_REVIEWER, "CONAC"), now, approve=True)
        flow.materials(db, app_id, OFFICE, now, confirm=True)
    badge = tree(client.get(f"/unit/sites/{site_id}"))
    facts = {dt.text(): dd.text() for dt, dd in zip(badge.css("dt"), badge.css("dd"),
                                                    strict=True)}
    assert facts["网站标识编号"] == IDENTIFIER
    assert facts["复核日期"].startswith(now.astimezone(app.extensions["badgewatch"].zone)
                                        .date().isoformat())
    assert f"{IDENTIFIER}.js" in badge.css_first("#badge-snippet").text()
    # The office's 合规情况 page of the site says it too, in the report's words.
    detail = tree(office.get(f"/compliance/sites/{site_id}"))
    facts = {dt.text(): dd.text() for dt, dd in zip(detail.css("dl dt"), detail.css("dl dd"),
                                                    strict=False)}
    assert facts["网站标识码"] == IDENTIFIER
    assert facts["复核日期"].endswith("（已开办网站复核通过，网站标识不变）")
