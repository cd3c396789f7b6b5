"""The web application's guards, through Flask's test client on a real migrated database: the
one permission rule on every route, 404 for what is not yours, CSRF, CSP, sessions, lockout,
no open redirect."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from flask import Flask
from sqlalchemy import func, select, update

from store.db import make_engine, session_factory, transaction
from store.models import AuditEntry, LoginFailure, User, WebSession
from tests.webapp import PASSWORD, Clock, World, csrf_token, log_in, make_app, populate
from web import sessions
from web.permissions import access_of


@pytest.fixture
def db_url(sqlite_url: str) -> str:
    """The database backend is not what these tests are about: SQLite is enough."""
    return sqlite_url


@pytest.fixture
def world(db_url: str) -> World:
    return populate(db_url)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def app(db_url: str, world: World, clock: Clock) -> Iterator[Flask]:
    app = make_app(db_url, clock)
    yield app
    app.extensions["badgewatch"].close()


def count(app: Flask, what: object) -> int:
    with transaction(app.extensions["badgewatch"].sessions) as db:
        return int(db.scalar(select(func.count()).select_from(what)) or 0)


def test_every_route_declares_who_may_reach_it(app: Flask) -> None:
    undeclared = [
        rule.rule for rule in app.url_map.iter_rules()
        if access_of(app.view_functions[rule.endpoint]) is None
    ]
    assert undeclared == []
    # Every blueprint registered is in the listing, with every route of its own.
    listed = {rule.endpoint.partition(".")[0] for rule in app.url_map.iter_rules()}
    assert set(app.blueprints) <= listed
    assert set(app.blueprints) >= {"auth", "account", "home", "applications", "units",
                                   "offices", "conac", "operators", "registration",
                                   "badges", "selfcheck", "compliance"}
    assert len(list(app.url_map.iter_rules())) >= 30


def test_a_route_without_a_rule_answers_404_even_logged_in(app: Flask) -> None:
    app.add_url_rule("/undeclared", "undeclared", lambda: "secret")
    client = app.test_client()
    log_in(client, "conac")
    assert client.get("/undeclared").status_code == 404


@pytest.mark.parametrize(
    ("login", "path", "status"),
    [
        ("hz-unit", "/unit/", 200),
        ("hz-unit", "/office/", 404),
        ("hz-unit", "/conac/", 404),
        ("hz-unit", "/operator/", 404),
        ("hz-office", "/office/", 200),
        ("hz-office", "/unit/", 404),
        ("conac", "/conac/", 200),
        ("conac", "/operator/", 404),
        ("operator", "/operator/", 200),
        ("operator", "/office/", 404),
    ],
)
def test_each_role_reaches_its_own_pages_only(app: Flask, login: str, path: str,
                                              status: int) -> None:
    client = app.test_client()
    log_in(client, login)
    assert client.get(path).status_code == status


def test_lists_hold_only_what_one_may_see(app: Flask) -> None:
    client = app.test_client()
    log_in(client, "hz-office")
    page = client.get("/office/").get_data(as_text=True)
    assert "杭州数据网&lt;b&gt;" in page  # a name with markup shows as text
    assert "宁波大数据网" not in page
    client = app.test_client()
    log_in(client, "nb-unit")
    page = client.get("/unit/").get_data(as_text=True)
    assert "宁波大数据网" in page and "宁波大数据网站" in page
    assert "杭州" not in page and "西湖区政府网" not in page


def test_anonymous_is_sent_to_login(app: Flask) -> None:
    response = app.test_client().get("/office/")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=/office/")


def test_csp_and_frame_headers_on_every_page(app: Flask, world: World) -> None:
    client = app.test_client()
    pages = ["/login", "/static/report.css", "/static/web.css", "/no-such-page", "/"]
    log_in(client, "hz-office")
    pages += ["/", "/office/", f"/applications/{world.applications['hz']}", "/unit/"]
    for path in pages:
        response = client.get(path)
        csp = response.headers["Content-Security-Policy"]
        assert "default-src 'self'" in csp and "script-src 'self'" in csp, path
        assert "unsafe-inline" not in csp and "frame-ancestors 'none'" in csp, path
        assert response.headers["X-Frame-Options"] == "DENY", path
        assert response.headers["X-Content-Type-Options"] == "nosniff", path
        if response.mimetype == "text/html":
            assert "<script" not in response.get_data(as_text=True), path
            assert " style=" not in response.get_data(as_text=True), path


def test_post_without_or_with_a_wrong_csrf_token_is_refused(app: Flask) -> None:
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    missing = client.post("/login", data={"login": "conac", "password": PASSWORD})
    wrong = client.post("/login", data={"login": "conac", "password": PASSWORD,
                                        "csrf_token": csrf_token(page)[:-2] + "xx"})
    for response in (missing, wrong):
        assert response.status_code == 400
        assert "请求已失效" in response.get_data(as_text=True)
    assert count(app, WebSession) == 0
    # logged in, logout without a token is refused too and the session stays
    log_in(client, "conac")
    assert client.post("/logout").status_code == 400
    assert client.get("/conac/").status_code == 200


def test_login_starts_a_new_session_and_logout_ends_it(app: Flask) -> None:
    client = app.test_client()
    log_in(client, "hz-unit")
    first = client.get_cookie(sessions.COOKIE)
    assert first is not None and first.http_only and first.same_site == "Lax"
    assert not first.secure  # no https public_url
    # A browser holding a known token (planted by someone else) logs in: it gets a new one.
    planted = app.test_client()
    planted.set_cookie(sessions.COOKIE, first.value)
    page = planted.get("/unit/").get_data(as_text=True)
    planted.post("/login", data={"csrf_token": csrf_token(page), "login": "hz-unit",
                                 "password": PASSWORD})
    second = planted.get_cookie(sessions.COOKIE)
    assert second is not None and second.value != first.value
    assert count(app, WebSession) == 1  # the first one is gone
    client = planted
    page = client.get("/unit/").get_data(as_text=True)
    response = client.post("/logout", data={"csrf_token": csrf_token(page)})
    assert response.status_code == 302
    assert count(app, WebSession) == 0
    client.set_cookie(sessions.COOKIE, second.value)  # the old token is worthless
    assert client.get("/unit/").status_code == 302
    with transaction(app.extensions["badgewatch"].sessions) as db:
        actions = list(db.scalars(select(AuditEntry.action).order_by(AuditEntry.id)))
    assert actions == ["login", "login", "logout"]


def test_secure_cookies_behind_https(db_url: str, world: World, clock: Clock,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    from badgewatch.config import load_config
    from tests.webapp import SECRET
    from web.app import create_app

    config = load_config(environ={"BADGEWATCH_DATABASE_URL": db_url,
                                  "BADGEWATCH_RENDER_ENABLED": "false",
                                  "BADGEWATCH_WEB_PUBLIC_URL": "https://bw.example.cn"})
    app = create_app(config, secret_key=SECRET, clock=clock)
    client = app.test_client()
    log_in(client, "conac")
    cookie = client.get_cookie(sessions.COOKIE)
    assert cookie is not None and cookie.secure
    app.extensions["badgewatch"].close()


@pytest.mark.parametrize(
    ("idle", "minutes"),
    [(True, 31), (False, 12 * 60 + 1)],
)
def test_expired_session_is_refused(app: Flask, clock: Clock, idle: bool, minutes: int) -> None:
    client = app.test_client()
    log_in(client, "conac")
    if not idle:  # active all along, yet past the absolute limit
        for _ in range(minutes // 20 - 1):  # up to 11 h 40 min, never idle 20 minutes
            clock.advance(minutes=20)
            assert client.get("/conac/").status_code == 200
        clock.advance(minutes=minutes % 20 + 20)
    else:
        clock.advance(minutes=minutes)
    response = client.get("/conac/")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")
    assert count(app, WebSession) == 0
    assert "登录已超时" in client.get(response.headers["Location"]).get_data(as_text=True)


def test_a_disabled_accounts_session_ends_however_it_survived(app: Flask, clock: Clock) -> None:
    """A login racing the operator's 停用 (or a row written by hand) leaves a session of a
    disabled account: it is refused at its next request and its row deleted."""
    client = app.test_client()
    log_in(client, "hz-office")
    assert client.get("/office/").status_code == 200
    with transaction(app.extensions["badgewatch"].sessions) as db:
        db.execute(update(User).where(User.login == "hz-office")
                   .values(disabled_at=clock.now))
    response = client.get("/office/")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")
    assert count(app, WebSession) == 0


@pytest.mark.parametrize(
    "target",
    ["//evil.example", "https://evil.example/", "/\\evil.example", "http:/evil.example",
     "javascript:alert(1)", "///evil.example", " //evil.example", "/\t/evil.example",
     "/\\\\evil.example", "https:evil.example", "/\n/evil.example"],
)
def test_no_open_redirect_after_login(app: Flask, target: str) -> None:
    client = app.test_client()
    response = log_in(client, "conac", next_url=target)
    assert response.status_code == 302  # type: ignore[attr-defined]
    assert response.headers["Location"] == "/"  # type: ignore[attr-defined]
    # Already logged in, the login page sends one on at once: the same rule.
    again = client.get("/login", query_string={"next": target})
    assert again.status_code == 302 and again.headers["Location"] == "/"


def test_next_leads_to_a_local_path(app: Flask, world: World) -> None:
    target = f"/applications/{world.applications['nb']}"
    response = log_in(app.test_client(), "conac", next_url=target)
    assert response.headers["Location"] == target  # type: ignore[attr-defined]


def test_wrong_password_and_lockout_per_login(app: Flask, clock: Clock) -> None:
    client = app.test_client()
    for _ in range(4):
        page = log_in(client, "hz-office", "wrong password").get_data(as_text=True)
        assert "用户名或密码错误" in page
    page = log_in(client, "hz-office", "wrong password").get_data(as_text=True)
    # locked for 15 minutes from 09:00 Beijing time (01:00 UTC)
    assert "已暂时锁定" in page and "2026-12-01 09:15" in page
    clock.advance(minutes=14)
    page = log_in(client, "hz-office").get_data(as_text=True)  # the right password: still locked
    assert "已暂时锁定" in page and "2026-12-01 09:15" in page
    assert count(app, WebSession) == 0
    other = app.test_client()  # another login from the same address is not locked
    assert log_in(other, "conac").status_code == 302  # type: ignore[attr-defined]
    clock.advance(minutes=1)
    assert log_in(client, "hz-office").status_code == 302  # type: ignore[attr-defined]
    assert count(app, LoginFailure) == 0  # a good login clears its failures


def test_lockout_per_address_and_across_restarts(db_url: str, world: World,
                                                 clock: Clock) -> None:
    from badgewatch.config import load_config
    from tests.webapp import SECRET
    from web.app import create_app

    config = load_config(environ={"BADGEWATCH_DATABASE_URL": db_url,
                                  "BADGEWATCH_RENDER_ENABLED": "false",
                                  "BADGEWATCH_WEB_LOCKOUT_ADDRESS_FAILURES": "3"})
    app = create_app(config, secret_key=SECRET, clock=clock)
    client = app.test_client()
    for login in ("a-guess", "b-guess", "c-guess"):
        log_in(client, login, "nope nope nope")
    app.extensions["badgewatch"].close()
    restarted = create_app(config, secret_key=SECRET, clock=clock)  # another process
    page = log_in(restarted.test_client(), "conac").get_data(as_text=True)
    assert "已暂时锁定" in page
    clock.advance(minutes=15)
    assert log_in(restarted.test_client(), "conac").status_code == 302  # type: ignore[attr-defined]
    restarted.extensions["badgewatch"].close()


def test_lockout_rule() -> None:
    from datetime import UTC, datetime

    from web.lockout import Limits, locked_until

    rule = Limits(3, timedelta(minutes=10), timedelta(minutes=15))
    t0 = datetime(2026, 12, 1, tzinfo=UTC)
    at = [t0 + timedelta(minutes=m) for m in (0, 4, 9)]
    assert locked_until(at, rule, t0 + timedelta(minutes=9)) == t0 + timedelta(minutes=24)
    assert locked_until(at, rule, t0 + timedelta(minutes=24)) is None
    spread = [t0 + timedelta(minutes=m) for m in (0, 6, 12)]  # never 3 within 10 minutes
    assert locked_until(spread, rule, t0 + timedelta(minutes=12)) is None
    # after a lock lifts, one more failure does not lock again at once
    again = [*at, t0 + timedelta(minutes=25)]
    assert locked_until(again, rule, t0 + timedelta(minutes=25)) is None


def test_failed_logins_are_audited_with_the_address(app: Flask) -> None:
    log_in(app.test_client(), "nobody-here", "whatever pw")
    engine = make_engine(app.extensions["badgewatch"].config.database.url)
    with transaction(session_factory(engine)) as db:
        entry = db.scalar(select(AuditEntry))
        assert entry is not None
        assert (entry.action, entry.actor, entry.address) == ("login.failed", "nobody-here",
                                                              "127.0.0.1")
    engine.dispose()
