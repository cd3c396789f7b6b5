"""Markup a crawled site or a unit controls (a page's title and URL, a site's name) shows as
text on every live page that shows it: the office's site table, the site's page, the unit's
标识管理 and 自查's result. Each page is parsed: the text is there, and no element was
injected."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from selectolax.lexbor import LexborHTMLParser as HTMLParser
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from badgewatch.config import Config
from store.db import transaction
from store.models import (
    CrawlJob,
    JobState,
    Office,
    PageResult,
    Role,
    Site,
    SiteCheck,
    Unit,
    User,
)
from tests.factories import HOSTILE_TITLE, HOSTILE_URL
from tests.factories import REPORT_NOW as NOW
from tests.webapp import PASSWORD, Clock, log_in, make_app
from web.accounts import hash_password

HOSTILE_NAME = '<img src=x onerror="alert(2)">杭州市数据资源管理局网站'
SITE = "杭州市数据资源管理局网站"


@pytest.fixture
def db_url(sqlite_url: str) -> str:
    return sqlite_url


@pytest.fixture
def app(db_url: str, sessions: sessionmaker[Session], tree: Config) -> Iterator[Flask]:
    """The reports' tree (a page with a hostile title and URL on 杭州's data site), the site
    renamed with markup, its unit's handler and 杭州's reviewer."""
    with transaction(sessions) as db:
        secret = hash_password(PASSWORD)
        office = db.scalar(select(Office.id).where(Office.code == "330100"))
        unit = db.scalar(select(Unit.id).where(Unit.name == "杭州市数据资源管理局"))
        db.add_all([
            User(name="经办人", role=Role.UNIT_HANDLER, login="hz-unit", password_hash=secret,
                 unit_id=unit),
            User(name="审核人", role=Role.OFFICE_REVIEWER, login="hz-office",
                 password_hash=secret, office_id=office),
        ])
        db.execute(update(Site).where(Site.name == SITE).values(name=HOSTILE_NAME))
    app = make_app(db_url, Clock(NOW), BADGEWATCH_PATHS_DATA_DIR=str(tree.paths.data_dir))
    yield app
    app.extensions["badgewatch"].close()


def _page(client: FlaskClient, url: str) -> tuple[HTMLParser, str]:
    response = client.get(url)
    assert response.status_code == 200, url
    body = response.get_data(as_text=True)
    return HTMLParser(body), body


def _nothing_injected(page: HTMLParser, body: str) -> None:
    assert page.css("script") == [] and page.css("img[onerror]") == []
    assert not [n for n in page.css("*") if any(a.startswith("on") for a in n.attributes)]
    assert "<script>alert" not in body and "<img src=x" not in body


SHOWN_URL = HOSTILE_URL.replace("xn--6rtt7jbwbe2c.xn--zfr164b", "杭州数据.政务")


def _hostile_link(page: HTMLParser) -> None:
    """The hostile page's link: its address as crawled, its text as people read the domain."""
    links = [(a.attributes.get("href"), a.text()) for a in page.css("td.url a")]
    assert (HOSTILE_URL, SHOWN_URL) in links


def _texts(page: HTMLParser) -> str:
    body = page.body
    assert body is not None
    return body.text()


def _data_site(app: Flask) -> int:
    with transaction(app.extensions["badgewatch"].sessions) as db:
        found = db.scalar(select(Site.id).where(Site.name == HOSTILE_NAME))
        assert found is not None
        return found


def test_the_office_table_and_the_site_page_show_markup_as_text(app: Flask) -> None:
    client = app.test_client()
    log_in(client, "hz-office")
    table, body = _page(client, "/compliance/offices/330100")
    _nothing_injected(table, body)
    assert HOSTILE_NAME in [a.text() for a in table.css("#site-table tbody td a")]
    site, body = _page(client, f"/compliance/sites/{_data_site(app)}")
    _nothing_injected(site, body)
    text = _texts(site)
    assert HOSTILE_NAME in text and HOSTILE_TITLE in text
    _hostile_link(site)


def test_the_units_badge_page_shows_markup_as_text(app: Flask) -> None:
    client = app.test_client()
    log_in(client, "hz-unit")
    home, body = _page(client, "/unit/")
    _nothing_injected(home, body)
    assert HOSTILE_NAME in _texts(home)
    page, body = _page(client, f"/unit/sites/{_data_site(app)}")
    _nothing_injected(page, body)
    text = _texts(page)
    assert HOSTILE_NAME in text and HOSTILE_TITLE in text
    cells = [td.text() for td in page.css('td[data-label="未合规页面"]')]
    assert any(cell.startswith(SHOWN_URL) for cell in cells)


def test_the_selfcheck_result_shows_the_url_as_text(app: Flask) -> None:
    site_id = _data_site(app)
    with transaction(app.extensions["badgewatch"].sessions) as db:
        check = db.scalar(select(SiteCheck).where(SiteCheck.site_id == site_id)
                          .order_by(SiteCheck.id.desc()))
        assert check is not None
        job = CrawlJob(site_id=site_id, kind="recheck", priority=0, url=HOSTILE_URL,
                       state=JobState.DONE, run_id=check.run_id,
                       enqueued_at=NOW - timedelta(minutes=2), finished_at=NOW)
        db.add(job)
        db.flush()
        job_id = job.id
    client = app.test_client()
    log_in(client, "hz-unit")
    page, body = _page(client, f"/unit/selfcheck/jobs/{job_id}")
    _nothing_injected(page, body)
    assert f"网页：{HOSTILE_URL}" in _texts(page)
    assert page.css_first("#verdict-title .badge").text() == "不合规"


def test_the_exports_keep_formulas_and_markup_as_text(app: Flask) -> None:
    """A site named, or a page titled, like a spreadsheet formula is exported as text (the
    static report's rule) by the office's CSV downloads; the JSON keeps the name as it is."""
    formula = '=HYPERLINK("http://evil.example","点击")'
    with transaction(app.extensions["badgewatch"].sessions) as db:
        db.execute(update(Site).where(Site.name == HOSTILE_NAME).values(name=formula))
        db.execute(update(PageResult).where(PageResult.title == HOSTILE_TITLE)
                   .values(title="@SUM(1+1)"))
    client = app.test_client()
    log_in(client, "hz-office")
    sites = client.get("/compliance/offices/330100/sites.csv").data.decode("utf-8-sig")
    names = [row["网站名称"] for row in csv.DictReader(io.StringIO(sites))]
    assert "'" + formula in names and formula not in names
    pages = client.get("/compliance/offices/330100/pages.csv").data.decode("utf-8-sig")
    cells = [cell for row in csv.reader(io.StringIO(pages)) for cell in row]
    assert "'@SUM(1+1)" in cells and "@SUM(1+1)" not in cells and formula not in cells
    data = client.get("/compliance/offices/330100/data.json")
    assert data.mimetype == "application/json"
    assert formula in [s["name"] for s in json.loads(data.data)["sites"]]
