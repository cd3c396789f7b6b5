"""合规情况 in the browser: the office's page live from the database with the same figures as
its static report for the same data (both parsed), the filters, each site's page, the exports,
立即复查's rate limit, crawled markup shown as text, and 404 outside one's reach."""

from __future__ import annotations

import csv
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from selectolax.lexbor import LexborHTMLParser as HTMLParser
from sqlalchemy import select, text
from sqlalchemy.orm import Session, sessionmaker

from badgewatch.config import Config, load_config
from store.db import is_postgres, transaction
from store.models import (
    AuditEntry,
    CrawlJob,
    MonitorBeat,
    MonitorState,
    Office,
    Role,
    Site,
    Unit,
    User,
)
from tests.factories import HOSTILE_TITLE, badge, build, pages, register
from tests.factories import REPORT_NOW as NOW
from tests.webapp import SECRET, Clock, csrf_token, log_in
from web.accounts import hash_password
from web.app import create_app

PASSWORD = "correct horse 1"


@pytest.fixture
def app(db_url: str, sessions: sessionmaker[Session], tree: Config) -> Iterator[Flask]:
    with transaction(sessions) as db:
        secret = hash_password(PASSWORD)

        def person(login: str, role: Role, **place: object) -> None:
            db.add(User(name=f"{login}的姓名", role=role, login=login, password_hash=secret,
                        **place))

        offices = {o.code: o.id for o in db.scalars(select(Office))}
        unit = db.scalar(select(Unit).where(Unit.name == "杭州市数据资源管理局"))
        assert unit is not None
        person("zj-office", Role.OFFICE_REVIEWER, office_id=offices["330000"])
        person("hz-office", Role.OFFICE_REVIEWER, office_id=offices["330100"])
        person("xh-office", Role.OFFICE_REVIEWER, office_id=offices["330106"])
        person("nb-office", Role.OFFICE_REVIEWER, office_id=offices["330200"])
        person("conac", Role.CONAC_REVIEWER)
        person("hz-unit", Role.UNIT_HANDLER, unit_id=unit.id)
        person("operator", Role.OPERATOR)
    config = load_config(environ={
        "BADGEWATCH_DATABASE_URL": db_url, "BADGEWATCH_RENDER_ENABLED": "false",
        "BADGEWATCH_PATHS_DATA_DIR": str(tree.paths.data_dir),
    })
    app = create_app(config, secret_key=SECRET, clock=Clock(NOW))
    app.config["TESTING"] = True
    yield app
    app.extensions["badgewatch"].close()


def client_of(app: Flask, login: str) -> FlaskClient:
    client = app.test_client()
    log_in(client, login, PASSWORD)
    return client


def html(client: FlaskClient, url: str) -> HTMLParser:
    response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    return HTMLParser(response.get_data(as_text=True))


def figures(page: HTMLParser) -> dict[str, object]:
    """What an office page says: its cards, the offices beneath, its site table (as text)."""
    def texts(selector: str) -> list[list[str]]:
        return [[td.text(strip=True) for td in tr.css("td")] for tr in page.css(selector)]

    return {
        "cards": {c.attributes["id"]: c.css_first(".n").text(strip=True)
                  for c in page.css(".card")},
        "offices": texts("table.offices tbody tr"),
        "sites": texts("#site-table tbody tr"),
        "trend": [t.text() for t in page.css("svg title")],
    }


@pytest.mark.parametrize("code", ["330000", "330100", "330106"])
def test_the_live_page_says_what_the_static_report_says(
    app: Flask, sessions: sessionmaker[Session], tree: Config, tmp_path: Path, code: str
) -> None:
    static = build(sessions, tree, tmp_path / "out", code)
    report = figures(HTMLParser(static.offices[code].read_text("utf-8")))
    live = figures(html(client_of(app, "conac"), f"/compliance/offices/{code}"))
    assert live == report
    assert report["cards"]["count-total"] != "0" and report["sites"] and report["trend"]


def test_an_office_reviewer_reads_their_subtree_only(app: Flask) -> None:
    hz = client_of(app, "hz-office")
    assert hz.get("/compliance/").headers["Location"].endswith("/compliance/offices/330100")
    page = html(hz, "/compliance/offices/330100")
    links = [a.attributes["href"] for a in page.css("table.offices a")]
    assert links == ["/compliance/offices/330106"]
    assert html(hz, "/compliance/offices/330106")
    for other in ("330000", "330200", "999999"):
        assert hz.get(f"/compliance/offices/{other}").status_code == 404
        assert hz.get(f"/compliance/offices/{other}/sites.csv").status_code == 404
    # The province's site is outside 杭州's reach, for reading and for 立即复查.
    with transaction(app.extensions["badgewatch"].sessions) as db:
        portal = db.scalar(select(Site.id).where(Site.name == "浙江省人民政府门户网站"))
    assert hz.get(f"/compliance/sites/{portal}").status_code == 404
    token = csrf_token(hz.get("/compliance/offices/330100").get_data(as_text=True))
    assert hz.post(f"/compliance/sites/{portal}/recheck",
                   data={"csrf_token": token}).status_code == 404
    with transaction(app.extensions["badgewatch"].sessions) as db:
        assert db.scalar(select(CrawlJob)) is None
    for login in ("nb-office", "hz-unit", "operator"):
        client = client_of(app, login)
        assert client.get("/compliance/offices/330100").status_code == 404
        assert client.get(f"/compliance/sites/{portal}").status_code == 404


def test_filters_by_state_reason_and_level(app: Flask) -> None:
    conac = client_of(app, "conac")

    def names(query: str) -> list[str]:
        page = html(conac, f"/compliance/offices/330000?{query}")
        return [tr.css_first("td a").text() for tr in page.css("#site-table tbody tr")]

    assert names("") == ["浙江省人民政府门户网站"]  # its own sites, as the report
    assert sorted(names("level=county")) == ["西湖区人民政府网站", "西湖区档案馆网站"]
    assert names("level=county&state=unreachable") == ["西湖区档案馆网站"]
    assert names("level=prefecture&reason=badge_other_site") == ["杭州市数据资源管理局网站"]
    assert names("level=prefecture&state=compliant") == ["杭州法院网"]
    page = html(conac, "/compliance/offices/330000?level=county&state=unreachable")
    selected = page.css_first("#state option[selected]")
    assert selected is not None and selected.text() == "无法访问"


def test_the_site_page_shows_crawled_markup_as_text(app: Flask) -> None:
    hz = client_of(app, "hz-office")
    page = html(hz, "/compliance/offices/330100")
    href = next(a.attributes["href"] for a in page.css("#site-table a")
                if a.text() == "杭州市数据资源管理局网站")
    response = hz.get(str(href))
    body = response.get_data(as_text=True)
    assert "<script>alert" not in body
    site = HTMLParser(body)
    assert HOSTILE_TITLE in [div.text() for div in site.css("#pages td.url div")]
    assert site.css_first("#site-state").text() == "逾期未整改"
    assert [b.text() for b in site.css("#recheck button")] == ["立即复查"]
    assert 'http-equiv="refresh"' not in body


def test_exports_of_the_subtree(app: Flask) -> None:
    hz = client_of(app, "hz-office")
    sites = hz.get("/compliance/offices/330100/sites.csv")
    assert sites.status_code == 200 and sites.data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(sites.data.decode("utf-8-sig").splitlines()))
    assert sorted(r["网站名称"] for r in rows) == [
        "杭州市数据资源管理局网站", "杭州法院网", "西湖区人民政府网站", "西湖区档案馆网站"]
    pages = hz.get("/compliance/offices/330100/pages.csv").data.decode("utf-8-sig")
    assert len(list(csv.DictReader(pages.splitlines()))) == 3
    data = json.loads(hz.get("/compliance/offices/330100/data.json").data)
    assert data["total"] == 4 and data["office"]["code"] == "330100"


def test_rechecks_are_queued_and_limited_per_minute(app: Flask) -> None:
    hz = client_of(app, "hz-office")
    with transaction(app.extensions["badgewatch"].sessions) as db:
        ids = list(db.scalars(select(Site.id).where(Site.office_id.in_(
            select(Office.id).where(Office.code.in_(["330100", "330106"]))))))
    token = csrf_token(hz.get("/compliance/offices/330100").get_data(as_text=True))
    limit = app.extensions["badgewatch"].web.rechecks_per_minute
    # A running monitor (on PostgreSQL, a worker) would take them: these pretend to beat, so
    # nothing runs here.
    with transaction(app.extensions["badgewatch"].sessions) as db:
        db.add(MonitorBeat(id="test", host="test", pid=1, started_at=NOW, heartbeat_at=NOW))
        if is_postgres(db):
            db.execute(text("INSERT INTO procrastinate_workers DEFAULT VALUES"))
    for site_id in ids[:limit]:
        response = hz.post(f"/compliance/sites/{site_id}/recheck", data={"csrf_token": token})
        assert response.status_code == 302
        assert "复查" in html(hz, f"/compliance/sites/{site_id}").css_first(
            "#recheck-progress").text()
    refused = hz.post(f"/compliance/sites/{ids[limit]}/recheck", data={"csrf_token": token},
                      follow_redirects=True)
    assert "每分钟最多可申请复查" in refused.get_data(as_text=True)
    with transaction(app.extensions["badgewatch"].sessions) as db:
        assert len(db.scalars(select(CrawlJob)).all()) == limit
        assert len(db.scalars(select(AuditEntry).where(
            AuditEntry.action == "site.recheck")).all()) == limit


def test_a_recheck_from_the_site_page_runs_and_shows_the_new_verdict(
    crawl_env: dict[str, str], tmp_path: Path, serve_site: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """No monitor runs: the web application runs the queued recheck itself, against a site on
    loopback, and the page refreshes itself until the verdict is there."""
    served = serve_site(pages(1, lambda i: badge(1)), names=["复查.政务"])
    register(crawl_env, tmp_path, [(1, "复查.政务", served.ip, None)])
    for name, value in crawl_env.items():
        monkeypatch.setenv(name, value)
    app = create_app(load_config(), secret_key=SECRET)
    app.config["TESTING"] = True
    try:
        with transaction(app.extensions["badgewatch"].sessions) as db:
            office = db.scalar(select(Office.id).where(Office.code == "330000"))
            site_id = db.scalar(select(Site.id))
            db.add(User(name="审核员", role=Role.OFFICE_REVIEWER, office_id=office,
                        login="zj-office", password_hash=hash_password(PASSWORD)))
        client = client_of(app, "zj-office")
        url = f"/compliance/sites/{site_id}"
        assert html(client, url).css_first("#site-state").text() == "尚未检查"
        token = csrf_token(client.get(url).get_data(as_text=True))
        assert client.post(f"{url}/recheck", data={"csrf_token": token}).status_code == 302
        waiting = client.get(url).get_data(as_text=True)
        assert 'http-equiv="refresh"' in waiting and "立即复查" not in waiting
        deadline = time.monotonic() + 180
        while (page := html(client, url)).css_first("#recheck-progress") is not None:
            assert time.monotonic() < deadline, "the recheck did not finish"
            time.sleep(0.5)
        assert page.css_first("#site-state").text() == "合规"
        assert [b.text() for b in page.css("#recheck button")] == ["立即复查"]
    finally:
        for thread in threading.enumerate():
            if thread.name.startswith("recheck-"):
                thread.join(timeout=60)
        app.extensions["badgewatch"].close()


def test_conac_reads_every_office_from_the_top(app: Flask) -> None:
    conac = client_of(app, "conac")
    page = html(conac, "/compliance/")
    rows = [[td.text(strip=True) for td in tr.css("td")] for tr in page.css("tbody tr")]
    assert rows == [["浙江省委编办", "5", "50.0%"]]
    link = page.css_first("tbody a")
    assert link is not None and link.attributes["href"] == "/compliance/offices/330000"
    assert html(conac, "/compliance/offices/330200")  # an office without sites: empty, not 404


def test_the_live_page_follows_a_settled_verdict_at_once(app: Flask) -> None:
    """Each worker keeps the trees it read, under the version of the data: a new verdict
    (the site's state settled) shows on the next load."""
    conac = client_of(app, "conac")
    before = figures(html(conac, "/compliance/offices/330106"))["cards"]
    with transaction(app.extensions["badgewatch"].sessions) as db:
        site = db.scalar(select(Site).where(Site.name == "西湖区档案馆网站"))
        assert site is not None and site.state is MonitorState.UNREACHABLE
        site.state, site.state_since = MonitorState.COMPLIANT, NOW
    after = figures(html(conac, "/compliance/offices/330106"))["cards"]
    assert before["count-unreachable"] == "1" and after["count-unreachable"] == "0"  # type: ignore[index]
    assert after["count-compliant"] == str(int(before["count-compliant"]) + 1)  # type: ignore[index]
