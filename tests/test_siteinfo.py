"""网站信息: a site's domain expiry date and footer numbers, set by a unit for its own sites and
by an operator for any site in the web (errors beside their fields, nothing half-saved,
audited), and by ``badgewatch sites set`` on the command line. SQLite and PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest
from click.testing import CliRunner, Result
from flask import Flask
from flask.testing import FlaskClient
from selectolax.lexbor import LexborHTMLParser
from sqlalchemy import select

from badgewatch.cli.main import cli
from store.db import make_engine, session_factory, transaction
from store.models import AuditEntry, Site
from tests.factories import texts
from tests.webapp import Clock, World, csrf_token, log_in, make_app, populate

EMPTY = {"expires_on": "", "site_code": "", "icp": "", "psb": ""}


@pytest.fixture
def world(db_url: str) -> World:
    return populate(db_url)


@pytest.fixture
def app(db_url: str, world: World) -> Iterator[Flask]:
    app = make_app(db_url, Clock())  # 2026-12-01, 09:00 in Beijing
    yield app
    app.extensions["badgewatch"].close()


def _site(app: Flask, site_id: int) -> Site:
    with transaction(app.extensions["badgewatch"].sessions) as db:
        site = db.get(Site, site_id)
        assert site is not None
        db.expunge(site)
        return site


def _audit(app: Flask) -> list[tuple[str, str, str | None, dict[str, Any]]]:
    with transaction(app.extensions["badgewatch"].sessions) as db:
        return [(e.actor, e.action, e.object_id, e.detail) for e in db.scalars(
            select(AuditEntry).where(AuditEntry.action == "site.info").order_by(AuditEntry.id))]


def _client(app: Flask, login: str) -> FlaskClient:
    client = app.test_client()
    log_in(client, login)
    return client


def _post(client: FlaskClient, path: str, **values: str) -> Any:
    token = csrf_token(client.get(path).get_data(as_text=True))
    return client.post(path, data={"csrf_token": token, **EMPTY, **values})


def _errors(html: str) -> dict[str, str]:
    page = LexborHTMLParser(html)
    return {node.attributes["id"].removesuffix("-errors"): node.text(strip=True)
            for node in page.css("span.error")}


def test_a_unit_sets_its_sites_expiry_and_numbers_and_sees_them(app: Flask, world: World) -> None:
    site_id = world.sites["nb"]  # 宁波大数据网站, nb-unit's
    client = _client(app, "nb-unit")
    path = f"/unit/sites/{site_id}/info"
    badge = client.get(f"/unit/sites/{site_id}").get_data(as_text=True)
    assert f'href="{path}"' in badge and "未填写" in badge
    response = _post(client, path, expires_on=" 2026-12-21 ", site_code="BM06000004",
                     icp="浙ICP备 05018911号", psb="")
    assert response.status_code == 302
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "已保存“宁波大数据网站”的网站信息：域名到期日期、网站标识码、ICP备案编号。" in page
    tree = LexborHTMLParser(page)
    assert texts(tree, "#expires-on") == ["2026年12月21日 域名即将到期"]
    assert "域名即将到期请及时续费确保挂标成功" in page
    site = _site(app, site_id)
    assert (site.expires_on, site.site_code, site.icp, site.psb) == (
        date(2026, 12, 21), "bm06000004", "浙ICP备05018911号", None)
    [(actor, _, object_id, detail)] = _audit(app)
    assert (actor, object_id) == ("nb-unit", str(site_id))
    assert detail["changes"][0] == {"field": "expires_on", "old": None, "new": "2026-12-21"}
    badge = LexborHTMLParser(client.get(f"/unit/sites/{site_id}").get_data(as_text=True))
    assert "2026年12月21日 域名即将到期" in texts(badge, "dl.facts dd")


def test_bad_values_are_refused_beside_their_fields_and_nothing_is_saved(
    app: Flask, world: World
) -> None:
    site_id = world.sites["nb"]
    client = _client(app, "nb-unit")
    path = f"/unit/sites/{site_id}/info"
    assert _post(client, path, expires_on="2027-01-31").status_code == 302
    response = _post(client, path, expires_on="2027-02-30", icp="05018911",
                     psb="京公网安备 11010202007232号")
    assert response.status_code == 200
    errors = _errors(response.get_data(as_text=True))
    assert errors == {
        "expires_on": "“2027-02-30”不是有效的日期，请按 YYYY-MM-DD 填写，如 2027-05-06",
        "icp": "ICP 备案编号格式不正确，应如“冀ICP备13016076号-2”",
    }
    site = _site(app, site_id)
    assert (site.expires_on, site.icp, site.psb) == (date(2027, 1, 31), None, None)
    assert len(_audit(app)) == 1  # the first save only


def test_a_unit_cannot_reach_another_units_site_nor_other_roles_the_unit_page(
    app: Flask, world: World
) -> None:
    site_id = world.sites["nb"]
    path = f"/unit/sites/{site_id}/info"
    own = _client(app, "nb-unit")
    token = csrf_token(own.get(path).get_data(as_text=True))
    for login in ("hz-unit", "nb-office", "conac"):
        client = _client(app, login)
        assert client.get(path).status_code == 404, login
        other = csrf_token(client.get("/", follow_redirects=True).get_data(as_text=True))
        response = client.post(path, data={"csrf_token": other, **EMPTY,
                                           "expires_on": "2027-01-01"})
        assert response.status_code == 404, login
    assert token and _site(app, site_id).expires_on is None
    assert _audit(app) == []


def test_an_operator_edits_any_site(app: Flask, world: World) -> None:
    client = _client(app, "operator")
    listing = LexborHTMLParser(client.get("/operator/sites").get_data(as_text=True))
    assert set(texts(listing, "#site-info td[data-label=网站]")) == {
        "西湖区政府网xihu.政务", "宁波大数据网站nb.政务"}
    site_id = world.sites["xh"]  # 西湖区政府办's
    path = f"/operator/sites/{site_id}"
    response = _post(client, path, expires_on="2026-11-30", psb="33010602011234")
    assert response.status_code == 302
    page = client.get(path).get_data(as_text=True)
    assert "2026年11月30日 域名已过期" in texts(LexborHTMLParser(page), "#expires-on")
    site = _site(app, site_id)
    assert (site.expires_on, site.psb) == (date(2026, 11, 30), "33010602011234")
    [(actor, _, object_id, _)] = _audit(app)
    assert (actor, object_id) == ("operator", str(site_id))
    # Clearing a value is a change too; saving the same again is none.
    assert _post(client, path, expires_on="2026-11-30").status_code == 302
    assert _site(app, site_id).psb is None
    assert _post(client, path, expires_on="2026-11-30").status_code == 302
    assert len(_audit(app)) == 2
    assert _client(app, "nb-unit").get(path).status_code == 404


# --- the command line --------------------------------------------------------------------------


def _cli(db_url: str, *args: str) -> Result:
    return CliRunner().invoke(cli, list(args), env={"BADGEWATCH_DATABASE_URL": db_url})


def _stored(db_url: str, domain: str) -> Site:
    engine = make_engine(db_url)
    try:
        with transaction(session_factory(engine)) as db:
            site = db.scalar(select(Site).where(Site.domain == domain))
            assert site is not None
            db.expunge(site)
            return site
    finally:
        engine.dispose()


def test_sites_set_by_domain_or_identifier(db_url: str, world: World) -> None:
    result = _cli(db_url, "sites", "set", "nb.政务",
                  "--expires-on", "2027-06-30", "--icp", "浙ICP备05018911号-2")
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        "nb.政务: expires_on - -> 2027-06-30",
        "nb.政务: icp - -> 浙ICP备05018911号-2",
    ]
    site = _stored(db_url, "nb.xn--zfr164b")
    assert (site.expires_on, site.icp) == (date(2027, 6, 30), "浙ICP备05018911号-2")
    # by identifier; '' clears; what is not given stays
    result = _cli(db_url, "sites", "set", "ca60000002", "--expires-on", "", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == {"site": "CA60000002", "changes": [
        {"field": "expires_on", "old": "2027-06-30", "new": None}]}
    site = _stored(db_url, "nb.xn--zfr164b")
    assert (site.expires_on, site.icp) == (None, "浙ICP备05018911号-2")
    listed = {s["domain"]: s for s in json.loads(
        _cli(db_url, "sites", "list", "--json").output)["sites"]}
    assert (listed["nb.xn--zfr164b"]["expires_on"], listed["nb.xn--zfr164b"]["icp"]) == (
        None, "浙ICP备05018911号-2")
    engine = make_engine(db_url)
    try:
        with transaction(session_factory(engine)) as db:
            audited = [(e.actor, e.action) for e in db.scalars(select(AuditEntry))]
    finally:
        engine.dispose()
    assert audited == [("cli", "site.info"), ("cli", "site.info")]


def test_sites_set_refuses_bad_values_naming_the_field_and_saves_nothing(
    db_url: str, world: World
) -> None:
    result = _cli(db_url, "sites", "set", "nb.政务", "--expires-on", "2027-13-01",
                  "--site-code", "123", "--psb", "京公网安备11010202007232号")
    assert result.exit_code == 2
    assert "--expires-on: “2027-13-01”不是有效的日期" in result.output
    assert "--site-code: 网站标识码应为 10 位数字" in result.output
    site = _stored(db_url, "nb.xn--zfr164b")
    assert (site.expires_on, site.site_code, site.psb) == (None, None, None)
    unknown = _cli(db_url, "sites", "set", "没有.政务", "--expires-on", "2027-01-01")
    assert unknown.exit_code == 2 and "SITE" in unknown.output
    nothing = _cli(db_url, "sites", "set", "nb.政务")
    assert nothing.exit_code == 2 and "nothing to set" in nothing.output


def test_the_web_compliance_pages_show_the_expiry_as_the_report_does(
    app: Flask, world: World
) -> None:
    """合规情况 reuses the report's partials and exports: the office sees what the unit set, on
    its next load (the office's tree read before the edit is not served again)."""
    office = _client(app, "nb-office")
    before = LexborHTMLParser(office.get("/compliance/offices/330200").get_data(as_text=True))
    assert texts(before, '#site-table td[data-label="域名到期"]') == ["—"]
    unit = _client(app, "nb-unit")
    assert _post(unit, f"/unit/sites/{world.sites['nb']}/info",
                 expires_on="2026-11-20").status_code == 302  # 11 days ago on 2026-12-01
    page = LexborHTMLParser(office.get("/compliance/offices/330200").get_data(as_text=True))
    assert texts(page, '#site-table td[data-label="域名到期"]') == ["域名已过期（2026年11月20日）"]
    data = office.get("/compliance/offices/330200/data.json").get_json()
    [site] = data["sites"]
    assert (site["expires_on"], site["expiry"]) == ("2026-11-20", "expired")
