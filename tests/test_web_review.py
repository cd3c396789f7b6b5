"""The reviewers' pages through Flask's test client: 待审核 with its deadline, 审核通过 / 审核不通过
with a required reason shown back to the unit, 待确认材料, CONAC's 待复审, each decision through
the workflow and audited, and 404 for whoever it is not for."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient
from selectolax.lexbor import LexborHTMLParser as HTMLParser
from sqlalchemy import select

from store.db import transaction
from store.models import Application, AppState, AuditEntry, OutboxMessage, Site
from tests.webapp import World, csrf_token, log_in, populate, serving


@pytest.fixture
def world(sqlite_url: str) -> World:
    return populate(sqlite_url)


@pytest.fixture
def app(sqlite_url: str, world: World) -> Iterator[Flask]:
    with serving(sqlite_url) as app:
        yield app


def client_of(app: Flask, login: str) -> FlaskClient:
    client = app.test_client()
    log_in(client, login)
    return client


def page(client: FlaskClient, url: str) -> HTMLParser:
    response = client.get(url)
    assert response.status_code == 200, url
    return HTMLParser(response.get_data(as_text=True))


def post(client: FlaskClient, url: str, **data: str) -> tuple[int, str]:
    token = csrf_token(client.get("/", follow_redirects=True).get_data(as_text=True))
    response = client.post(url, data={"csrf_token": token, **data})
    return response.status_code, response.get_data(as_text=True)


def state_of(app: Flask, application_id: int) -> AppState:
    with transaction(app.extensions["badgewatch"].sessions) as db:
        application = db.get(Application, application_id)
        assert application is not None
        return application.state


def rows_of(tree: HTMLParser, heading: str) -> list[list[str]]:
    """The body rows of the table after the ``<h2>`` reading ``heading``."""
    h2 = next(h for h in tree.css("h2") if h.text(strip=True) == heading)
    node = h2.next
    while node is not None and node.css_first("table") is None:
        node = node.next
    assert node is not None
    return [[td.text(strip=True) for td in tr.css("td")] for tr in node.css("tbody tr")]


def test_to_review_lists_the_offices_own_with_deadline_and_days_left(
    app: Flask, world: World
) -> None:
    tree = page(client_of(app, "hz-office"), "/office/")
    rows = rows_of(tree, "待审核")
    assert [row[0] for row in rows] == ["杭州数据网<b>"]  # as text; not 宁波's
    # submitted 2026-11-21, due 2026-11-28 per the populated data; today is 2026-12-01
    assert rows[0][-2] == "2026-11-28"
    assert rows[0][-1].startswith("已逾期")
    assert rows_of(tree, "待确认材料") == [["暂无待确认材料的申请。"]]


def test_the_application_page_shows_every_field_and_the_decision(
    app: Flask, world: World
) -> None:
    tree = page(client_of(app, "hz-office"), f"/applications/{world.applications['hz']}")
    labels = [dt.text(strip=True) for dt in tree.css("dl.facts dt")]
    for label in ("开办主体名称", "组织机构类型", "通讯地址", "网站开办主体职能", "经办人姓名",
                  "经办人固定电话", "经办人手机", "经办人电子邮箱", "网站主要负责人",
                  "负责人固定电话", "负责人手机", "负责人电子邮箱", "申请类型", "网站名称",
                  "中文域名", "英文域名", "IP 地址（IPv4）", "IP 地址（IPv6）", "网站简介"):
        assert label in labels
    buttons = [b.text(strip=True) for b in tree.css("form button")]
    assert "审核通过" in buttons and "审核不通过" in buttons
    assert tree.css_first("label[for=reason]") is not None
    # The unit reads the same page without any decision on it.
    unit = page(client_of(app, "hz-unit"), f"/applications/{world.applications['hz']}")
    assert "审核通过" not in [b.text(strip=True) for b in unit.css("form button")]


def test_reject_needs_a_reason_and_the_unit_reads_it(app: Flask, world: World) -> None:
    office = client_of(app, "hz-office")
    url = f"/office/applications/{world.applications['hz']}/review"
    status, html = post(office, url, decision="reject", reason="  ")
    assert status == 200
    error = HTMLParser(html).css_first("#reason-errors")
    assert error is not None and "必须填写原因" in error.text()
    assert state_of(app, world.applications["hz"]) is AppState.SUBMITTED

    status, _ = post(office, url, decision="reject", reason="网站简介<未填写>完整")
    assert status == 302
    assert state_of(app, world.applications["hz"]) is AppState.OFFICE_REJECTED
    unit = page(client_of(app, "hz-unit"), f"/applications/{world.applications['hz']}")
    reasons = [td.text(strip=True) for td in unit.css("td[data-label=原因]")]
    assert "网站简介<未填写>完整" in reasons
    with transaction(app.extensions["badgewatch"].sessions) as db:
        action = AuditEntry.action == "application.review.reject"
        entry = db.scalar(select(AuditEntry).where(action))
        assert entry is not None and entry.actor == "hz-office"
        assert entry.object_id == str(world.applications["hz"]) and entry.address
        # The unit is told too: one email and one SMS, queued with the decision.
        notices = db.scalars(select(OutboxMessage).where(
            OutboxMessage.key.startswith(f"app-rejected:{world.applications['hz']}:")
        )).all()
        assert sorted(m.channel for m in notices) == ["email", "sms"]
        assert all("网站简介<未填写>完整" in m.body for m in notices)


def test_office_then_conac_approve_then_materials_issue_the_badge(
    app: Flask, world: World
) -> None:
    office = client_of(app, "hz-office")
    hz = world.applications["hz"]
    assert post(office, f"/office/applications/{hz}/review", decision="approve")[0] == 302
    assert state_of(app, hz) is AppState.OFFICE_APPROVED
    conac = client_of(app, "conac")
    assert {r[0] for r in rows_of(page(conac, "/conac/"), "待复审")} == {
        "杭州数据网<b>", "杭州政务网"}
    assert post(conac, f"/conac/applications/{hz}/review", decision="approve")[0] == 302
    assert state_of(app, hz) is AppState.APPROVED_ONLINE
    rows = rows_of(page(office, "/office/"), "待确认材料")
    assert rows[0][0] == "杭州数据网<b>"
    assert rows[0][-1] == "10"  # working days left of the 10-working-day deadline
    # The same decision twice: the workflow refuses it, nothing changes.
    status, html = post(conac, f"/conac/applications/{hz}/review", decision="approve")
    assert status == 409
    problem = HTMLParser(html).css_first("p.error")
    assert problem is not None and "不能在" in problem.text()
    assert state_of(app, hz) is AppState.APPROVED_ONLINE
    assert post(office, f"/office/applications/{hz}/materials", decision="approve")[0] == 302
    assert state_of(app, hz) is AppState.ISSUED
    with transaction(app.extensions["badgewatch"].sessions) as db:
        assert db.scalar(select(Site).where(Site.name == "杭州数据网<b>")) is not None


@pytest.mark.parametrize(
    ("login", "url"),
    [
        ("nb-office", "/office/applications/{hz}/review"),  # another office
        ("nb-office", "/office/applications/{hz}/materials"),
        ("hz-unit", "/office/applications/{hz}/review"),  # a unit
        ("hz-unit", "/conac/applications/{conac}/review"),
        ("hz-office", "/conac/applications/{conac}/review"),
        ("operator", "/office/applications/{hz}/review"),
        ("hz-office", "/office/applications/999999/review"),
    ],
)
def test_decisions_outside_ones_reach_answer_404(
    app: Flask, world: World, login: str, url: str
) -> None:
    client = client_of(app, login)
    target = url.format(hz=world.applications["hz"], conac=world.applications["hz-conac"])
    assert post(client, target, decision="approve")[0] == 404
    assert state_of(app, world.applications["hz"]) is AppState.SUBMITTED
    assert state_of(app, world.applications["hz-conac"]) is AppState.OFFICE_APPROVED


def test_a_decision_without_csrf_is_refused(app: Flask, world: World) -> None:
    client = client_of(app, "hz-office")
    response = client.post(f"/office/applications/{world.applications['hz']}/review",
                           data={"decision": "approve"})
    assert response.status_code == 400
    assert state_of(app, world.applications["hz"]) is AppState.SUBMITTED


def test_conac_rejects_with_a_reason(app: Flask, world: World) -> None:
    conac = client_of(app, "conac")
    url = f"/conac/applications/{world.applications['hz-conac']}/review"
    assert "必须填写原因" in post(conac, url, decision="reject")[1]
    assert post(conac, url, decision="reject", reason="域名与单位不符")[0] == 302
    assert state_of(app, world.applications["hz-conac"]) is AppState.CONAC_REJECTED
