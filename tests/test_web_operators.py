"""The operator's pages through Flask's test client: users (add with role and place, reset a
password, 停用), offices (list, add), the CSV import (all or nothing, every bad line named) and
监测状态; each change audited, and nobody else reaching them."""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from selectolax.lexbor import LexborHTMLParser as HTMLParser
from sqlalchemy import func, select

from store.db import transaction
from store.models import (
    AuditEntry,
    CrawlRun,
    Office,
    OfficeLevel,
    Role,
    RunState,
    Site,
    User,
)
from tests.webapp import PASSWORD, csrf_token, log_in, populate, serving

HEADER = "unit,office,site_name,domain,english_domain,ipv4,ipv6,site_id,certificate,notified_on"
GOOD = ("西湖区档案馆,330106,西湖区档案馆网站,档案.政务,,127.0.0.41,,CA330106000604258890041,,"
        "2026-11-20")


@pytest.fixture
def app(sqlite_url: str) -> Iterator[Flask]:
    populate(sqlite_url)
    with serving(sqlite_url) as app:
        yield app


@pytest.fixture
def operator(app: Flask) -> FlaskClient:
    client = app.test_client()
    log_in(client, "operator")
    return client


def form_post(client: FlaskClient, url: str, **data: object) -> tuple[int, HTMLParser]:
    token = csrf_token(client.get(url if not url.endswith(("password", "disable")) else
                                  url.rsplit("/", 1)[0]).get_data(as_text=True))
    response = client.post(url, data={"csrf_token": token, **data})
    return response.status_code, HTMLParser(response.get_data(as_text=True))


def db_of(app: Flask):  # type: ignore[no-untyped-def]
    return transaction(app.extensions["badgewatch"].sessions)


def test_add_a_reviewer_who_then_logs_in(app: Flask, operator: FlaskClient) -> None:
    with db_of(app) as db:
        hz = db.scalar(select(Office.id).where(Office.code == "330100"))
    status, page = form_post(operator, "/operator/users/new", name="新审核员",
                             role="office_reviewer", office="", unit="", login="hz-office-2",
                             password="short")
    assert status == 200
    errors = {e.attributes["id"]: e.text() for e in page.css(".error[id]")}
    assert "编办审核人员须选择所属编办" in errors["office-errors"]
    assert "密码至少需要" in errors["password-errors"]
    status, _ = form_post(operator, "/operator/users/new", name="新审核员",
                          role="office_reviewer", office=str(hz), unit="",
                          login="HZ-Office-2", password=PASSWORD)
    assert status == 302
    client = app.test_client()
    assert log_in(client, "hz-office-2").status_code == 302  # type: ignore[attr-defined]
    assert client.get("/office/").status_code == 200
    status, page = form_post(operator, "/operator/users/new", name="重复", role="conac_reviewer",
                             office="", unit="", login="hz-office-2", password=PASSWORD)
    assert "该用户名已被使用" in page.css_first("#login-errors").text()
    with db_of(app) as db:
        assert db.scalar(select(func.count()).select_from(AuditEntry)
                         .where(AuditEntry.action == "user.add")) == 1


def test_reset_password_and_disable_end_the_persons_sessions(
    app: Flask, operator: FlaskClient
) -> None:
    unit = app.test_client()
    log_in(unit, "hz-unit")
    assert unit.get("/unit/").status_code == 200
    with db_of(app) as db:
        person = db.scalar(select(User.id).where(User.login == "hz-unit"))
    status, _ = form_post(operator, f"/operator/users/{person}/password",
                          password="a new password 2")
    assert status == 302
    assert unit.get("/unit/").status_code == 302  # logged out
    log_in(unit, "hz-unit", "a new password 2")
    assert unit.get("/unit/").status_code == 200
    status, _ = form_post(operator, f"/operator/users/{person}/disable")
    assert status == 302
    assert unit.get("/unit/").status_code == 302
    response = log_in(unit, "hz-unit", "a new password 2")
    assert "用户名或密码错误" in response.get_data(as_text=True)  # type: ignore[attr-defined]
    page = HTMLParser(operator.get(f"/operator/users/{person}").get_data(as_text=True))
    assert page.css_first("#account-state").text() == "已停用"
    with db_of(app) as db:
        about = AuditEntry.object_id == str(person)
        actions = set(db.scalars(select(AuditEntry.action).where(about)))
        assert {"user.reset_password", "user.disable"} <= actions


def test_add_an_office_under_its_parent(app: Flask, operator: FlaskClient) -> None:
    status, page = form_post(operator, "/operator/offices", code="330108", name="滨江区委编办",
                             level="county", parent="330000")
    assert status == 200
    assert "上级应为地市级编办" in page.css_first("#parent-errors").text()
    status, _ = form_post(operator, "/operator/offices", code="330108", name="滨江区委编办",
                          level="county", parent="330100")
    assert status == 302
    with db_of(app) as db:
        office = db.scalar(select(Office).where(Office.code == "330108"))
        assert office is not None and office.level is OfficeLevel.COUNTY
    rows = HTMLParser(operator.get("/operator/offices").get_data(as_text=True)).css("tbody tr")
    assert any("滨江区委编办" in row.text() for row in rows)


def upload(client: FlaskClient, text: str) -> tuple[int, HTMLParser]:
    token = csrf_token(client.get("/operator/import").get_data(as_text=True))
    response = client.post("/operator/import", content_type="multipart/form-data", data={
        "csrf_token": token, "file": (io.BytesIO(text.encode("utf-8")), "sites.csv"),
    })
    return response.status_code, HTMLParser(response.get_data(as_text=True))


def test_import_is_all_or_nothing_with_every_bad_line_named(
    app: Flask, operator: FlaskClient
) -> None:
    def sites() -> int:
        with db_of(app) as db:
            return int(db.scalar(select(func.count()).select_from(Site)) or 0)

    before = sites()
    bad = "\n".join([HEADER, GOOD, GOOD.replace("档案", "<b>坏</b>").replace("0041", "0042"),
                     "单位,999999,网站,x.政务,,1.2.3,,1,,2026-11-20"]) + "\n"
    status, page = upload(operator, bad)
    assert status == 200
    lines = {tr.css_first("td").text() for tr in page.css("#import-errors tbody tr")}
    assert {"3", "4"} <= lines and "2" not in lines
    assert any("“<b>坏</b>.政务”" in tr.text() for tr in page.css("#import-errors tbody tr"))
    assert sites() == before
    status, page = upload(operator, HEADER + "\n" + GOOD + "\n")
    assert "新增 1 个网站" in page.css_first("#import-result").text()
    assert sites() == before + 1


def test_monitor_status_says_what_the_cli_says(operator: FlaskClient) -> None:
    page = HTMLParser(operator.get("/operator/monitor").get_data(as_text=True))
    text = page.css_first("#monitor").text()
    assert "未运行" in text and "0 个等待" in text
    assert page.css_first("#engine").text().startswith("单机调度")


def test_monitor_status_shows_each_nights_throughput(app: Flask, operator: FlaskClient) -> None:
    """A night is all its nightly runs, from the first start to the last end, however many
    workers ran them; it began on the evening's day (Beijing time), past midnight included."""
    beijing_1am = datetime(2026, 11, 30, 17, 0, tzinfo=UTC)  # 1 December, 01:00 in Beijing

    def run(trigger: str, started: datetime, seconds: float, sites: int, pages: int) -> CrawlRun:
        return CrawlRun(trigger=trigger, state=RunState.FINISHED, started_at=started,
                        heartbeat_at=started, finished_at=started + timedelta(seconds=seconds),
                        sites=sites, pages=pages)

    with db_of(app) as db:
        db.add_all([
            run("nightly", beijing_1am, 100, 10, 1000),
            run("nightly", beijing_1am + timedelta(seconds=50), 150, 10, 1000),  # ends at 200 s
            run("nightly", beijing_1am - timedelta(days=1, minutes=30), 50, 5, 100),
            run("recheck", beijing_1am + timedelta(hours=8), 10, 1, 60),
        ])
    page = HTMLParser(operator.get("/operator/monitor").get_data(as_text=True))
    nights = [(n.prev.text() if n.prev else "", n.text()) for n in page.css("dd.recent-night")]
    assert nights == [
        ("2026年11月30日夜间检查",
         "2 次检查，20 个网站，2000 个网页，用时 200.0 秒，每秒 10.0 个网页"),
        ("2026年11月29日夜间检查",
         "1 次检查，5 个网站，100 个网页，用时 50.0 秒，每秒 2.0 个网页"),
    ]
    assert len(page.css("dd.recent-run")) == 4


@pytest.mark.parametrize("login", ["hz-unit", "hz-office", "conac"])
def test_nobody_else_reaches_the_operators_pages(app: Flask, login: str) -> None:
    client = app.test_client()
    log_in(client, login)
    for url in ("/operator/", "/operator/users/new", "/operator/offices", "/operator/import",
                "/operator/monitor", "/operator/users/1"):
        assert client.get(url).status_code == 404, url
    with db_of(app) as db:
        operator_id = db.scalar(select(User.id).where(User.role == Role.OPERATOR))
    token = csrf_token(client.get("/", follow_redirects=True).get_data(as_text=True))
    response = client.post(f"/operator/users/{operator_id}/disable", data={"csrf_token": token})
    assert response.status_code == 404
