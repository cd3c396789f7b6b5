"""Web accounts from the command line (user add --login, user passwd), the [web] settings and
the secret key, and logging in with what the CLI set."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import select

from badgewatch.cli.main import cli
from badgewatch.config import ConfigError, load_config, web_secret_key
from store.db import make_engine, session_factory, transaction
from store.models import AuditEntry, User, WebSession
from tests.webapp import SECRET, Clock, log_in, make_app

GOOD = "a long password"


@pytest.fixture
def env(sqlite_url: str) -> dict[str, str]:
    return {"BADGEWATCH_DATABASE_URL": sqlite_url, "BADGEWATCH_RENDER_ENABLED": "false"}


def run(env: dict[str, str], *args: str, stdin: str = "", code: int = 0) -> Result:
    result = CliRunner().invoke(cli, list(args), env=env, input=stdin, catch_exceptions=False)
    assert result.exit_code == code, result.output
    return result


def users(url: str) -> dict[str, User]:
    engine = make_engine(url)
    with transaction(session_factory(engine)) as db:
        found = {user.login or user.name: user for user in db.scalars(select(User))}
    engine.dispose()
    return found


def test_user_add_with_a_login_and_a_password_from_stdin(env: dict[str, str]) -> None:
    result = run(env, "user", "add", "陈复审", "--role", "conac_reviewer", "--login", "Chen.FS",
                 "--password-stdin", stdin=GOOD + "\n")
    assert "login chen.fs" in result.output
    chen = users(env["BADGEWATCH_DATABASE_URL"])["chen.fs"]
    assert chen.password_hash is not None and chen.password_hash.startswith("$argon2id$")
    assert GOOD not in chen.password_hash
    # a person of the workflow without a web account, as before
    run(env, "user", "add", "王运维", "--role", "operator")
    assert users(env["BADGEWATCH_DATABASE_URL"])["王运维"].login is None


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (["--login", "chen", "--password-stdin"], "short pw\n", "a password has at least 10"),
        (["--login", "chen", "--password-stdin"], "\n", "a password has at least 10"),
        (["--login", "x", "--password-stdin"], GOOD, "--login: 3 to 64 letters"),
        (["--login", "chen zhang", "--password-stdin"], GOOD, "--login: 3 to 64 letters"),
        (["--login", "chen"], "", "--login and --password-stdin go together"),
        (["--password-stdin"], GOOD, "--login and --password-stdin go together"),
    ],
)
def test_user_add_refuses_a_bad_login_or_password(
    env: dict[str, str], args: list[str], stdin: str, message: str
) -> None:
    result = run(env, "user", "add", "陈复审", "--role", "conac_reviewer", *args, stdin=stdin,
                 code=2)
    assert message in result.output
    assert users(env["BADGEWATCH_DATABASE_URL"]) == {}


def test_a_login_is_taken_once(env: dict[str, str]) -> None:
    run(env, "user", "add", "甲", "--role", "operator", "--login", "ops", "--password-stdin",
        stdin=GOOD)
    result = run(env, "user", "add", "乙", "--role", "operator", "--login", "OPS",
                 "--password-stdin", stdin=GOOD, code=2)
    assert "--login: ops is taken" in result.output


def test_passwd_changes_the_password_and_ends_sessions(env: dict[str, str]) -> None:
    url = env["BADGEWATCH_DATABASE_URL"]
    run(env, "user", "add", "陈复审", "--role", "conac_reviewer", "--login", "chen",
        "--password-stdin", stdin=GOOD)
    app = make_app(url, Clock())
    client = app.test_client()
    assert log_in(client, "chen", GOOD).status_code == 302  # type: ignore[attr-defined]
    assert client.get("/conac/").status_code == 200

    run(env, "user", "passwd", "chen", "--password-stdin", stdin="another long one\n")
    assert client.get("/conac/").status_code == 302  # logged out everywhere
    assert "用户名或密码错误" in log_in(client, "chen", GOOD).get_data(as_text=True)
    assert log_in(client, "chen", "another long one").status_code == 302  # type: ignore[attr-defined]

    assert "no user has the login nobody" in run(
        env, "user", "passwd", "nobody", "--password-stdin", stdin=GOOD, code=2).output
    assert "at least 10" in run(
        env, "user", "passwd", "chen", "--password-stdin", stdin="short", code=2).output
    with transaction(app.extensions["badgewatch"].sessions) as db:
        actions = [e.action for e in db.scalars(select(AuditEntry).order_by(AuditEntry.id))]
        assert db.scalar(select(WebSession.user_id)) is not None
    assert actions == ["user.add", "login", "user.passwd", "login.failed", "login"]
    app.extensions["badgewatch"].close()


def test_web_settings_are_checked_and_named(tmp_path: Path) -> None:
    config = load_config(environ={})
    assert config.web.bind == "127.0.0.1:8080" and config.web.public_url is None
    assert not config.web.secure_cookies
    https = load_config(environ={"BADGEWATCH_WEB_PUBLIC_URL": "https://bw.example.cn/"})
    assert https.web.secure_cookies
    for variable, value in [("BADGEWATCH_WEB_BIND", "8080"),
                            ("BADGEWATCH_WEB_PUBLIC_URL", "bw.example.cn"),
                            ("BADGEWATCH_WEB_SESSION_IDLE_MINUTES", "0"),
                            ("BADGEWATCH_WEB_LOCKOUT_LOGIN_FAILURES", "many")]:
        with pytest.raises(ConfigError) as info:
            load_config(environ={variable: value})
        setting = variable.removeprefix("BADGEWATCH_WEB_").lower()
        assert f"[web] {setting} (from {variable})" in str(info.value)
    path = tmp_path / "bw.toml"
    path.write_text('[web]\nsecret_key = "in a file"\n', encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(path, environ={})
    assert "set the environment variable BADGEWATCH_WEB_SECRET_KEY" in str(info.value)


def test_the_secret_key_comes_only_from_the_environment(sqlite_url: str) -> None:
    assert web_secret_key({"BADGEWATCH_WEB_SECRET_KEY": SECRET}) == SECRET
    for environ in ({}, {"BADGEWATCH_WEB_SECRET_KEY": "short"}):
        with pytest.raises(ConfigError) as info:
            web_secret_key(environ)
        assert "BADGEWATCH_WEB_SECRET_KEY" in str(info.value)
    env = {"BADGEWATCH_DATABASE_URL": sqlite_url, "BADGEWATCH_RENDER_ENABLED": "false",
           "BADGEWATCH_WEB_SECRET_KEY": ""}
    result = run(env, "web", code=2)
    assert "BADGEWATCH_WEB_SECRET_KEY is not set" in result.output
    result = run(env | {"BADGEWATCH_WEB_SECRET_KEY": SECRET}, "web", "--bind", "8080", code=2)
    assert "--bind: '8080' is not host:port" in result.output


def test_an_unmigrated_database_stops_the_web_command(tmp_path: Path) -> None:
    env = {"BADGEWATCH_DATABASE_URL": f"sqlite:///{tmp_path}/empty.db",
           "BADGEWATCH_RENDER_ENABLED": "false", "BADGEWATCH_WEB_SECRET_KEY": SECRET}
    result = run(env, "web", code=1)
    assert "badgewatch db upgrade" in result.output


def test_the_demo_accounts_log_in_to_their_home_pages(sqlite_url: str) -> None:
    from badgewatch.cli.demo import DEMO_UNIT, add_demo_accounts
    from store.models import Unit
    from tests.factories import add_offices

    engine = make_engine(sqlite_url)
    factory = session_factory(engine)
    with transaction(factory) as db:
        db.add(Unit(name=DEMO_UNIT, office=add_offices(db)["330100"]))
    accounts = add_demo_accounts(factory)
    engine.dispose()
    assert [login for login, _, _ in accounts] == ["unit", "office", "conac", "operator"]
    app = make_app(sqlite_url, Clock())
    for login, password, _ in accounts:
        client = app.test_client()
        log_in(client, login, password)
        page = client.get("/", follow_redirects=True)
        assert page.status_code == 200 and "<h2>首页</h2>" in page.get_data(as_text=True)
    app.extensions["badgewatch"].close()


def test_changing_ones_password_in_the_browser(sqlite_url: str) -> None:
    from html import unescape

    from tests.webapp import PASSWORD, csrf_token, populate

    populate(sqlite_url)
    app = make_app(sqlite_url, Clock())
    elsewhere, here = app.test_client(), app.test_client()
    log_in(elsewhere, "hz-office")
    log_in(here, "hz-office")

    def change(current: str, new: str, repeat: str) -> tuple[int, str]:
        page = here.get("/account/password").get_data(as_text=True)
        response = here.post("/account/password", data={
            "csrf_token": csrf_token(page), "current": current, "new": new, "repeat": repeat})
        return response.status_code, unescape(response.get_data(as_text=True))

    status, page = change("wrong one!!", "a new long one", "a new long one")
    assert status == 200 and "当前密码不正确" in page
    status, page = change(PASSWORD, "short", "short")
    assert "密码至少需要 10 个字符。" in page
    assert 'aria-describedby="new-errors"' in page  # the error sits beside its field
    status, page = change(PASSWORD, "a new long one", "another long one")
    assert "两次输入的新密码不一致" in page
    assert here.post("/account/password", data={  # no CSRF token: refused
        "current": PASSWORD, "new": "a new long one", "repeat": "a new long one"}
    ).status_code == 400

    status, _ = change(PASSWORD, "a new long one", "a new long one")
    assert status == 302
    assert "密码已修改" in here.get("/office/").get_data(as_text=True)  # this session stays
    assert elsewhere.get("/office/").status_code == 302  # the other one ended
    assert "用户名或密码错误" in log_in(app.test_client(), "hz-office").get_data(as_text=True)
    assert log_in(app.test_client(), "hz-office", "a new long one").status_code == 302  # type: ignore[attr-defined]
    with transaction(app.extensions["badgewatch"].sessions) as db:
        entry = db.scalar(select(AuditEntry).where(AuditEntry.action == "user.passwd"))
        assert entry is not None and entry.actor == "hz-office" and entry.address == "127.0.0.1"
    # guessing the current password is locked out like guessing at 登录
    for _ in range(5):
        status, page = change("a wrong guess", "whatever long", "whatever long")
    assert "已暂时锁定" in page and "2026-12-01 09:15（北京时间）" in page
    assert "已暂时锁定" in log_in(app.test_client(), "hz-office", "a new long one").get_data(
        as_text=True)
    app.extensions["badgewatch"].close()
