"""The audit log has who, when and from which address for every state-changing route: each POST
route of ``app.url_map`` is done once successfully and its entry is read back. A new POST route
without a case here fails the test."""

from __future__ import annotations

import io
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, update

from store.db import transaction
from store.models import (
    Application,
    AppState,
    AuditEntry,
    MonitorBeat,
    Office,
    Site,
    User,
)
from tests import webapp
from tests.webapp import PASSWORD, START, World, csrf_token, log_in, populate
from workflow import redpages

DOMAIN = "杭州数据.政务"  # FORM's site
HANDLER_MOBILE = "+8613905710001"  # FORM's handler mobile, in E.164
IMPORT = ("unit,office,site_name,domain,english_domain,ipv4,ipv6,site_id,certificate,"
          "notified_on\n西湖区档案馆,330106,西湖区档案馆网站,档案.政务,,127.0.0.41,,"
          "CA330106000604258890041,,2026-11-20\n")


@pytest.fixture
def world(sqlite_url: str) -> World:
    return populate(sqlite_url)


@pytest.fixture
def app(sqlite_url: str, dns_server, dns_config, sms_gateway, tmp_path: Path) -> Iterator[Flask]:
    """On the local DNS server (FORM's site) and SMS gateway, with a monitor that beats: a
    recheck or 自查 stays queued for it, nothing crawls here."""
    dns_server.set_records(DOMAIN, a=["127.0.0.21"])
    services = webapp.local_services(dns_config, sms_gateway, tmp_path)
    with webapp.serving(sqlite_url, **services) as app:
        with _db(app) as db:
            db.add(MonitorBeat(id="test", host="test", pid=1, started_at=START,
                               heartbeat_at=START))
        yield app


def _db(app: Flask) -> Any:
    return transaction(app.extensions["badgewatch"].sessions)


def _client(app: Flask, login: str | None) -> FlaskClient:
    client = app.test_client()
    if login is not None:
        log_in(client, login)
    return client


def _post(client: FlaskClient, page: str, path: str | None = None, **data: Any) -> int:
    token = csrf_token(client.get(page, follow_redirects=True).get_data(as_text=True))
    return client.post(path or page, data={"csrf_token": token, **data}).status_code


def _set_state(app: Flask, application_id: int, state: AppState) -> None:
    with _db(app) as db:
        db.execute(update(Application).where(Application.id == application_id)
                   .values(state=state))


def _user_id(app: Flask, login: str) -> int:
    with _db(app) as db:
        found = db.scalar(select(User.id).where(User.login == login))
        assert found is not None
        return found


@dataclass(frozen=True)
class Trial:
    app: Flask
    world: World
    client: FlaskClient
    sms: Any  # the local SMS gateway


# Each POST route: who does it, how (returning the status of the successful POST) and the
# action the audit log then names.
Case = tuple[str | None, Callable[[Trial], int], str]


def _login(t: Trial) -> int:
    return log_in(t.client, "conac").status_code  # type: ignore[attr-defined]


def _logout(t: Trial) -> int:
    return _post(t.client, "/", "/logout")


def _password(t: Trial) -> int:
    return _post(t.client, "/account/password", current=PASSWORD, new="a new password 2",
                 repeat="a new password 2")


def _verified(t: Trial) -> None:
    """The form's handler mobile is the one verified at registration: no SMS code asked."""
    with _db(t.app) as db:
        db.execute(update(User).where(User.login == "hz-unit").values(mobile=HANDLER_MOBILE))


def _new_application(t: Trial) -> int:
    _verified(t)
    return _post(t.client, "/unit/applications/new", action="submit", **webapp.typed())


def _edit_application(t: Trial) -> int:
    _verified(t)
    _set_state(t.app, t.world.applications["hz"], AppState.DRAFT)
    path = f"/unit/applications/{t.world.applications['hz']}/edit"
    return _post(t.client, path, action="draft", **webapp.typed())


def _office_review(t: Trial) -> int:
    return _post(t.client, f"/applications/{t.world.applications['hz']}",
                 f"/office/applications/{t.world.applications['hz']}/review", decision="approve")


def _materials(t: Trial) -> int:
    _set_state(t.app, t.world.applications["hz"], AppState.APPROVED_ONLINE)
    return _post(t.client, f"/applications/{t.world.applications['hz']}",
                 f"/office/applications/{t.world.applications['hz']}/materials",
                 decision="reject", reason="材料不全")


def _conac_review(t: Trial) -> int:
    return _post(t.client, f"/applications/{t.world.applications['hz-conac']}",
                 f"/conac/applications/{t.world.applications['hz-conac']}/review",
                 decision="reject", reason="网站名称不规范")


def _recheck(t: Trial) -> int:
    path = f"/compliance/sites/{t.world.sites['xh']}"
    return _post(t.client, path, f"{path}/recheck")


def _selfcheck(t: Trial) -> int:
    return _post(t.client, "/unit/selfcheck/", site=str(t.world.sites["nb"]), action="url",
                 url="http://nb.xn--zfr164b/index.html")


def _add_user(t: Trial) -> int:
    with _db(t.app) as db:
        hz = db.scalar(select(Office.id).where(Office.code == "330100"))
    return _post(t.client, "/operator/users/new", name="新审核员", role="office_reviewer",
                 office=str(hz), unit="", login="hz-office-2", password=PASSWORD)


def _reset(t: Trial) -> int:
    person = _user_id(t.app, "hz-unit")
    return _post(t.client, f"/operator/users/{person}", f"/operator/users/{person}/password",
                 password="a new password 2")


def _disable(t: Trial) -> int:
    person = _user_id(t.app, "hz-unit")
    return _post(t.client, f"/operator/users/{person}", f"/operator/users/{person}/disable")


def _add_office(t: Trial) -> int:
    return _post(t.client, "/operator/offices", code="330108", name="滨江区委编办",
                 level="county", parent="330100")


def _import(t: Trial) -> int:
    return _post(t.client, "/operator/import",
                 file=(io.BytesIO(IMPORT.encode("utf-8")), "sites.csv"))


def _site_info(t: Trial) -> int:
    path = f"/unit/sites/{t.world.sites['nb']}/info"
    return _post(t.client, path, expires_on="2027-01-31", site_code="", icp="", psb="")


def _operator_site_info(t: Trial) -> int:
    path = f"/operator/sites/{t.world.sites['xh']}"
    return _post(t.client, path, expires_on="", site_code="1300000065", icp="", psb="")


def _red_page(t: Trial) -> int:
    """nb's site made a red page (as issuance makes one), then published from 红页管理."""
    with _db(t.app) as db:
        site = db.get(Site, t.world.sites["nb"])
        assert site is not None
        redpages.create(db, site, START)
    path = f"/unit/redpages/{t.world.sites['nb']}"
    return _post(t.client, path, action="publish", profile="单位简介", functions="", address="",
                 contact="", footer="主办单位：宁波")


def _register(t: Trial) -> int:
    _post(t.client, "/register", action="code", **webapp.registration())
    sent = t.sms.sms[-1]["message"]
    code = re.search(r"验证码为 (\d{6})", sent)
    assert code
    return _post(t.client, "/register", action="register", code=code.group(1),
                 **webapp.registration())


CASES: dict[str, Case] = {
    "auth.login": (None, _login, "login"),
    "auth.logout": ("conac", _logout, "logout"),
    "account.password": ("hz-office", _password, "user.passwd"),
    "units.new": ("hz-unit", _new_application, "application.submit"),
    "units.edit": ("hz-unit", _edit_application, "application.update"),
    "offices.review": ("hz-office", _office_review, "application.review.approve"),
    "offices.materials": ("hz-office", _materials, "application.materials.reject"),
    "conac.review": ("conac", _conac_review, "application.review.reject"),
    "compliance.recheck": ("hz-office", _recheck, "site.recheck"),
    "selfcheck.selfcheck": ("nb-unit", _selfcheck, "selfcheck.url"),
    "operators.add_user": ("operator", _add_user, "user.add"),
    "operators.reset_password": ("operator", _reset, "user.reset_password"),
    "operators.disable": ("operator", _disable, "user.disable"),
    "operators.offices": ("operator", _add_office, "office.add"),
    "operators.import_file": ("operator", _import, "sites.import"),
    "registration.register": (None, _register, "unit.register"),
    "siteinfo.unit_info": ("nb-unit", _site_info, "site.info"),
    "siteinfo.operator_info": ("operator", _operator_site_info, "site.info"),
    "redpages.edit": ("nb-unit", _red_page, "redpage.publish"),
}


def test_every_post_route_has_a_case(app: Flask) -> None:
    posts = {rule.endpoint for rule in app.url_map.iter_rules()
             if "POST" in (rule.methods or set())}
    assert posts == set(CASES)


@pytest.mark.parametrize("endpoint", sorted(CASES))
def test_a_successful_action_is_audited_with_who_when_and_where(
    world: World, app: Flask, sms_gateway, endpoint: str
) -> None:
    login, act, action = CASES[endpoint]
    client = _client(app, login)
    with _db(app) as db:
        last = db.scalar(select(AuditEntry.id).order_by(AuditEntry.id.desc())) or 0
    status = act(Trial(app, world, client, sms_gateway))
    assert status in (200, 302)
    with _db(app) as db:
        entries = list(db.scalars(select(AuditEntry).where(AuditEntry.id > last)))
        done = [e for e in entries if e.action == action]
        assert done, (status, [e.action for e in entries])
        entry = done[-1]
        who = login or ("conac" if action == "login" else "hz-new")
        assert entry.user_id == _user_id(app, who)
        assert entry.at == START and entry.address == "127.0.0.1"
