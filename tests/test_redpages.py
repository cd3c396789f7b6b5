"""网络红页 (issue 14, item 4): a unit without a site applies for a red page, gets its badge,
edits and publishes its red page, which badgewatch serves at its `.政务` domain; the crawl and
the browser check it like any site."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import idna
import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from markupsafe import escape
from selectolax.lexbor import LexborHTMLParser
from sqlalchemy import select
from werkzeug.serving import make_server

from badgewatch.config import load_config
from store import models
from store.db import make_engine, session_factory, transaction
from store.models import RedPage, Role, Site, Unit, User
from testbed.badgehost import Registration
from tests.factories import form_data, loopback_env, run
from tests.webapp import SECRET, Clock, csrf_token, log_in
from web.accounts import hash_password
from web.app import create_app
from workflow.form import FormInvalid, parse_form
from workflow.issuance import decoded_snippet, issued_snippet, make_code

UNIT = "杭州市数据资源管理局"
DOMAIN = "杭州红页.政务"
ASCII = idna.encode(DOMAIN).decode()
PASSWORD = "correct horse 1"
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts" / "redpages"


def red_form(**site: Any) -> dict[str, Any]:
    data = form_data(domain=DOMAIN, name="杭州市数据资源管理局网络红页", ipv4="", red_page=True,
                     english_domain=None)
    data["site"].update(site)
    return data


# -- the application form ------------------------------------------------------------------------


def test_a_red_page_needs_no_ip_but_its_domain_must_resolve_to_the_red_page_address(
    dns_server, dns_config
) -> None:
    from badgewatch.resolver import make_resolver

    form = parse_form(red_form(), resolver=None, red_page_address="127.0.0.90")
    assert form.site.red_page and form.site.ipv4 == "127.0.0.90" and form.site.ipv6 is None
    assert parse_form(form.to_json(), resolver=None, red_page_address="127.0.0.90") == form
    # Resolving elsewhere is the domain's problem, said on the domain.
    dns_server.set_records(DOMAIN, a=["127.0.0.91"])
    with pytest.raises(FormInvalid) as caught:
        parse_form(red_form(), resolver=make_resolver(dns_config), red_page_address="127.0.0.90")
    [error] = caught.value.errors
    assert error.field == "site.domain" and "网络红页地址" in error.message
    dns_server.set_records(DOMAIN, a=["127.0.0.90"])
    assert parse_form(red_form(), resolver=make_resolver(dns_config),
                      red_page_address="127.0.0.90").site.ipv4 == "127.0.0.90"


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ({"site": {"ipv4": "203.0.113.9"}}, "site.ipv4", "无需填写 IP 地址"),
        ({"site": {"red_page": "yes", "ipv4": "203.0.113.9"}}, "site.red_page", "true 或 false"),
    ],
)
def test_red_page_form_refusals(change: dict[str, Any], field: str, words: str) -> None:
    data = red_form(**change.get("site", {}))
    data.update({k: v for k, v in change.items() if k != "site"})
    with pytest.raises(FormInvalid) as caught:
        parse_form(data, resolver=None, red_page_address="127.0.0.90")
    assert [(e.field, words in e.message) for e in caught.value.errors] == [(field, True)]


def test_without_a_red_page_address_the_deployment_offers_none() -> None:
    with pytest.raises(FormInvalid) as caught:
        parse_form(red_form(), resolver=None, red_page_address=None)
    # the IP address is then the unit's to give, as for any site
    assert [e.field for e in caught.value.errors] == ["site.red_page", "site.ipv4"]
    assert "未开通网络红页服务" in caught.value.errors[0].message


# -- the whole process ---------------------------------------------------------------------------


@pytest.fixture
def served(ip_pool) -> Iterator[tuple[str, list[Flask]]]:
    """A loopback address at port 80 where the test's web application answers."""
    ip = ip_pool.acquire()
    holder: list[Flask] = []

    def app(environ: Any, start_response: Any) -> Any:
        return holder[0](environ, start_response)

    server = make_server(ip, 80, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield ip, holder
    finally:
        server.shutdown()
        thread.join()
        ip_pool.release(ip)


def issue_red_page(env: dict[str, str], tmp_path: Path) -> None:
    """Apply (red page), office approve, CONAC approve, materials confirm."""
    run(env, "office", "add", "330000", "浙江省委编办", "--level", "province")
    run(env, "office", "add", "330100", "杭州市委编办", "--level", "prefecture",
        "--parent", "330000")
    path = tmp_path / "app.json"
    path.write_text(json.dumps(red_form(), ensure_ascii=False), encoding="utf-8")
    app_id = run(env, "app", "new", str(path), "--as", f"unit:{UNIT}").output.strip()
    run(env, "app", "submit", app_id)
    run(env, "app", "review", app_id, "--as", "office:330100", "--approve")
    run(env, "app", "review", app_id, "--as", "conac", "--approve")
    run(env, "app", "materials", app_id, "--as", "office:330100", "--confirm")
    # The list says which application is a red page's.
    assert run(env, "app", "list").output.rstrip("\n").endswith("\t网络红页")
    listed = json.loads(run(env, "app", "list", "--json").output)["applications"]
    assert [row["red_page"] for row in listed] == [True]
    shown = run(env, "app", "show", app_id).output
    assert f" {DOMAIN} [issued]" in shown and "  网络红页：无自建网站，开通网络红页" in shown


def add_handler(url: str, login: str, unit_name: str) -> None:
    sessions = session_factory(make_engine(url))
    with transaction(sessions) as db:
        unit = db.scalar(select(Unit).where(Unit.name == unit_name))
        if unit is None:
            office_id = db.scalar(select(Site.office_id))
            unit = Unit(name=unit_name, office_id=office_id, org_type="政府")
            db.add(unit)
            db.flush()
        db.add(User(name=login, role=Role.UNIT_HANDLER, login=login, unit_id=unit.id,
                    password_hash=hash_password(PASSWORD)))


def site_row(url: str) -> Site:
    sessions = session_factory(make_engine(url))
    with transaction(sessions) as db:
        site = db.scalar(select(Site).where(Site.domain == ASCII))
        assert site is not None
        db.expunge(site)
        return site


def editor_data(page_html: str, **changes: str) -> dict[str, str]:
    data = {
        "csrf_token": csrf_token(page_html),
        "profile": "杭州市数据资源管理局是市政府工作部门。",
        "functions": "负责全市数据资源管理。\n负责政务服务。",
        "address": "浙江省杭州市上城区解放东路18号",
        "contact": "0571-87654321",
        "notice_1_title": "关于开展数据开放工作的通知",
        "notice_1_on": "2026-11-30",
        "notice_1_text": "请各单位按要求报送。",
        "footer": "主办单位：杭州市数据资源管理局",
        "action": "publish",
    }
    data.update(changes)
    return data


def edit(client: FlaskClient, site_id: int, **changes: str) -> Any:
    page = client.get(f"/unit/redpages/{site_id}")
    assert page.status_code == 200
    return client.post(f"/unit/redpages/{site_id}",
                       data=editor_data(page.get_data(as_text=True), **changes))


def crawl(env: dict[str, str]) -> dict[str, Any]:
    result = run(env, "crawl", "--json", "--site", DOMAIN)
    [summary] = json.loads(result.output)["sites"]
    return summary


def test_a_red_page_from_application_to_compliant(
    tmp_path, sqlite_url, dns_server, dns_config, badge_host, served, smtp_server, sms_gateway,
    request,
) -> None:
    ip, holder = served
    dns_server.set_records(DOMAIN, a=[ip])
    env = {
        **loopback_env(sqlite_url, dns_config, ARTIFACTS / request.node.name,
                       REDPAGES_ADDRESS=ip, RENDER_BLOCKED_HOSTS="recv1.badges.test",
                       SMTP_HOST=smtp_server.host, SMTP_PORT=str(smtp_server.port),
                       SMS_URL=sms_gateway.sms_url),
        **badge_host.env,
    }
    issue_red_page(env, tmp_path)
    site = site_row(sqlite_url)
    assert site.ipv4 == ip  # a site like any other, at the red-page address
    badge_host.register(Registration(site.identifier, site.certificate or "", UNIT, site.name,
                                     DOMAIN))
    add_handler(sqlite_url, "hz-unit", UNIT)
    app = create_app(load_config(environ=env), secret_key=SECRET, clock=Clock())
    holder.append(app)
    client = app.test_client()
    log_in(client, "hz-unit")
    # Before anything is published the domain answers 404.
    assert client.get("/", headers={"Host": ASCII}).status_code == 404
    # The unit's home links to 红页管理.
    home = client.get("/unit/").get_data(as_text=True)
    assert f"/unit/redpages/{site.id}" in home

    # Published without the badge: the crawl finds it missing, inside the deadline.
    assert edit(client, site.id).status_code == 302
    first = crawl(env)
    assert first["status"] == "non_compliant" and "badge_missing" in first["reasons"]
    assert first["state"] == "pending"

    # The badge code pasted into the footer and published: compliant, rendered bottom centre.
    code = make_code(load_config(environ=env).badge, site.identifier, site.certificate or "")
    snippet = issued_snippet(load_config(environ=env).badge, code)
    edit(client, site.id, footer=f"主办单位：杭州市数据资源管理局\n{snippet}")
    second = crawl(env)
    assert second["status"] == "compliant", second
    assert second["state"] == "compliant"
    [home_render] = [r for r in second["renders"] if r["url"].endswith("/")]
    assert home_render["verdict"] == "compliant", home_render
    assert home_render["reasons"] == ["ok"]  # neither badge_not_bottom nor badge_not_centered


# -- editing, escaping, the footer, permissions (the app alone) ----------------------------------


@pytest.fixture
def red_site(sqlite_url) -> dict[str, Any]:
    """A red-page site issued to 杭州's unit, and 宁波's unit beside it."""
    from store.models import Office, OfficeLevel, SiteSource
    from tests.webapp import START
    from workflow import redpages

    sessions = session_factory(make_engine(sqlite_url))
    with transaction(sessions) as db:
        office = Office(code="330100", name="杭州市委编办", level=OfficeLevel.PREFECTURE)
        db.add(office)
        db.flush()
        site = Site(unit=Unit(name=UNIT, office=office, org_type="政府"), office=office,
                    name="杭州网络红页", domain=ASCII, ipv4="127.0.0.90",
                    identifier="CA330010000600000010001",
                    certificate="0A87C46FEE4D331AE053022819AC0001",
                    source=SiteSource.ISSUED, created_at=START)
        db.add(site)
        db.flush()
        redpages.create(db, site, START)
        site_id = site.id
    add_handler(sqlite_url, "hz-unit", UNIT)
    add_handler(sqlite_url, "nb-unit", "宁波市大数据局")
    config = load_config(environ={"BADGEWATCH_DATABASE_URL": sqlite_url,
                                  "BADGEWATCH_RENDER_ENABLED": "false",
                                  "BADGEWATCH_REDPAGES_ADDRESS": "127.0.0.90"})
    app = create_app(config, secret_key=SECRET, clock=Clock())
    app.config["TESTING"] = True
    code = make_code(config.badge, "CA330010000600000010001", "0A87C46FEE4D331AE053022819AC0001")
    return {"app": app, "site_id": site_id, "config": config, "code": code, "url": sqlite_url}


def served_page(client: FlaskClient, host: str = ASCII) -> Any:
    return client.get("/", headers={"Host": host})


def test_draft_and_publish(red_site) -> None:
    client = red_site["app"].test_client()
    log_in(client, "hz-unit")
    assert edit(client, red_site["site_id"], action="save").status_code == 302
    assert served_page(client).status_code == 404  # a draft is not served
    editor = client.get(f"/unit/redpages/{red_site['site_id']}").get_data(as_text=True)
    assert "未发布" in editor and "负责政务服务。" in editor
    edit(client, red_site["site_id"])
    page = served_page(client)
    assert page.status_code == 200
    # Only the badge's own scripts may run there: no inline script a unit could slip in.
    policy = page.headers["Content-Security-Policy"]
    assert "script-src " in policy and "'unsafe-inline'" not in policy.split("style-src")[0]
    tree = LexborHTMLParser(page.get_data(as_text=True))
    assert tree.css_first("h1").text() == "杭州网络红页"
    assert [p.text() for p in tree.css("#functions p")] == [
        "负责全市数据资源管理。", "负责政务服务。"]
    assert tree.css_first("#notices strong").text() == "关于开展数据开放工作的通知"
    # Both forms of the domain; anything else at the domain is 404; a logged-out visitor too.
    assert served_page(client, f"{ASCII.upper()}.:80").status_code == 200
    assert client.get("/unit/", headers={"Host": ASCII}).status_code == 404
    assert served_page(red_site["app"].test_client()).status_code == 200
    # A saved change is not live until published.
    edit(client, red_site["site_id"], profile="新的简介", action="save")
    assert "新的简介" not in served_page(client).get_data(as_text=True)
    assert "草稿有未发布的修改" in client.get(
        f"/unit/redpages/{red_site['site_id']}").get_data(as_text=True)
    edit(client, red_site["site_id"], profile="新的简介")
    assert "新的简介" in served_page(client).get_data(as_text=True)


@pytest.mark.parametrize("typed", ["<script>alert(1)</script>", '"><img src=x onerror=alert(1)>'])
def test_text_is_served_escaped(red_site, typed: str) -> None:
    client = red_site["app"].test_client()
    log_in(client, "hz-unit")
    edit(client, red_site["site_id"], profile=typed, notice_1_title=typed, contact=typed)
    html = served_page(client).get_data(as_text=True)
    tree = LexborHTMLParser(html)
    assert tree.css("script") == [] and tree.css("img") == []
    assert tree.css_first("#profile p").text() == typed
    assert tree.css_first("#notices strong").text() == typed


@pytest.mark.parametrize(
    ("footer", "words"),
    [
        ("版权所有<script>alert(1)</script>", "不能包含其他 HTML 标记"),
        ('"><img src=x onerror=alert(1)>', "不能包含其他 HTML 标记"),
        ("<a href='http://evil.example'>链接</a>", "不能包含其他 HTML 标记"),
    ],
)
def test_the_footer_refuses_markup(red_site, footer: str, words: str) -> None:
    client = red_site["app"].test_client()
    log_in(client, "hz-unit")
    response = edit(client, red_site["site_id"], footer=footer)
    assert response.status_code == 200
    tree = LexborHTMLParser(response.get_data(as_text=True))
    assert words in tree.css_first("#footer-errors").text()
    assert served_page(client).status_code == 404  # nothing published


def test_the_footer_takes_only_this_sites_badge(red_site) -> None:
    client = red_site["app"].test_client()
    log_in(client, "hz-unit")
    config = red_site["config"]
    other = make_code(config.badge, "CA330010000600000020001", "0A87C46FEE4D331AE053022819AC0002")
    response = edit(client, red_site["site_id"], footer=issued_snippet(config.badge, other))
    assert "不是本网站的" in LexborHTMLParser(
        response.get_data(as_text=True)).css_first("#footer-errors").text()
    # Both issued forms of its own code, with text around them, are taken and served whole.
    for snippet in (issued_snippet(config.badge, red_site["code"]),
                    decoded_snippet(config.badge, red_site["code"])):
        assert edit(client, red_site["site_id"], footer=f"主办：杭州 & 数据\n{snippet}"
                    ).status_code == 302
        html = served_page(client).get_data(as_text=True)
        assert snippet in html and "主办：杭州 &amp; 数据" in html
        tree = LexborHTMLParser(html)
        assert tree.css_first("footer script") is not None


def test_another_unit_cannot_see_or_edit_the_red_page(red_site) -> None:
    client = red_site["app"].test_client()
    log_in(client, "hz-unit")
    edit(client, red_site["site_id"], action="save", profile="草稿内容")
    other = red_site["app"].test_client()
    log_in(other, "nb-unit")
    assert other.get(f"/unit/redpages/{red_site['site_id']}").status_code == 404
    page = other.get("/unit/").get_data(as_text=True)
    token = csrf_token(page) if "csrf_token" in page else ""
    posted = other.post(f"/unit/redpages/{red_site['site_id']}",
                        data={"csrf_token": token, "profile": "篡改", "action": "publish"})
    assert posted.status_code == 404
    sessions = session_factory(make_engine(red_site["url"]))
    with transaction(sessions) as db:
        page_row = db.scalar(select(RedPage))
        assert page_row is not None
        assert page_row.draft["profile"] == "草稿内容" and page_row.published is None
    # Without CSRF token the owner's own post is refused too.
    refused = client.post(f"/unit/redpages/{red_site['site_id']}",
                          data={"profile": "x", "action": "publish"})
    assert refused.status_code == 400


# -- the migration -------------------------------------------------------------------------------


def test_the_migration_adds_and_removes_red_pages(empty_db_url: str) -> None:
    from alembic import command

    from store.migrate import alembic_config, upgrade

    upgrade(empty_db_url, "f3b7d2c91e08")
    engine = make_engine(empty_db_url)
    assert "red_pages" not in sa.inspect(engine).get_table_names()
    upgrade(empty_db_url)
    assert "red_pages" in sa.inspect(engine).get_table_names()
    assert {c["name"] for c in sa.inspect(engine).get_columns("red_pages")} == {
        "id", "site_id", "draft", "published", "updated_at", "published_at"}
    command.downgrade(alembic_config(empty_db_url), "f3b7d2c91e08")
    assert "red_pages" not in sa.inspect(engine).get_table_names()
    engine.dispose()


# -- the web form ------------------------------------------------------------------------------


def test_the_web_form_offers_a_red_page_where_the_deployment_serves_them(
    sqlite_url, dns_server, dns_config, sms_gateway, tmp_path
) -> None:
    from tests.webapp import local_services, make_app, populate, typed

    populate(sqlite_url)
    with transaction(session_factory(make_engine(sqlite_url))) as db:
        db.execute(sa.update(User).where(User.login == "hz-unit")
                   .values(mobile="+8613905710001"))
    services = local_services(dns_config, sms_gateway, tmp_path / "var")
    plain = make_app(sqlite_url, Clock(), **services)
    client = plain.test_client()
    log_in(client, "hz-unit")
    page = client.get("/unit/applications/new").get_data(as_text=True)
    assert 'name="site_red_page"' not in page  # no [redpages] address: no red page offered
    plain.extensions["badgewatch"].close()

    app = make_app(sqlite_url, Clock(), BADGEWATCH_REDPAGES_ADDRESS="127.0.0.90", **services)
    client = app.test_client()
    log_in(client, "hz-unit")
    page = client.get("/unit/applications/new").get_data(as_text=True)
    tree = LexborHTMLParser(page)
    assert tree.css_first('label[for="site_red_page"]').text() == "无自建网站，开通网络红页"
    assert "请将中文域名解析到网络红页地址 127.0.0.90" in page
    # The domain resolving elsewhere: said on the domain, nothing saved.
    dns_server.set_records(DOMAIN, a=["127.0.0.91"])
    data = {"csrf_token": csrf_token(page), "action": "submit",
            **typed(site_domain=DOMAIN, site_ipv4="", site_red_page="y")}
    refused = client.post("/unit/applications/new", data=data)
    assert refused.status_code == 200
    error = LexborHTMLParser(refused.get_data(as_text=True)).css_first("#site_domain-errors")
    assert error is not None and "网络红页地址" in error.text()
    dns_server.set_records(DOMAIN, a=["127.0.0.90"])
    assert client.post("/unit/applications/new", data=data).status_code == 302
    with transaction(app.extensions["badgewatch"].sessions) as db:
        application = db.scalars(select(models.Application)
                                 .where(models.Application.domain == ASCII)).one()
        assert application.form["site"]["red_page"] is True
        assert application.form["site"]["ipv4"] == "127.0.0.90"
    # Its page, as the reviewers read it too, says it is a red page.
    shown = LexborHTMLParser(client.get(f"/applications/{application.id}").get_data(as_text=True))
    rows = {dt.text().strip(): dd.text().strip()
            for dt, dd in zip(shown.css("dl.facts dt"), shown.css("dl.facts dd"), strict=True)}
    assert rows["无自建网站，开通网络红页"] == "是" and rows["中文域名"] == DOMAIN
    app.extensions["badgewatch"].close()


def test_a_notice_with_a_bad_date_is_refused_beside_its_field(red_site) -> None:
    client = red_site["app"].test_client()
    log_in(client, "hz-unit")
    response = edit(client, red_site["site_id"], notice_2_title="第二条", notice_2_on="12月1日",
                    notice_2_text="内容")
    assert response.status_code == 200
    error = LexborHTMLParser(response.get_data(as_text=True)).css_first("#notice_2_on-errors")
    assert error is not None and "不是日期" in error.text()
    assert served_page(client).status_code == 404


def test_the_redpages_settings_are_checked_at_start_up(tmp_path) -> None:
    from badgewatch.config import ConfigError

    assert load_config(environ={"BADGEWATCH_REDPAGES_ADDRESS": " 127.0.0.90 "}
                       ).redpages.address == "127.0.0.90"
    with pytest.raises(ConfigError, match=r"\[redpages\] address .*not an IPv4 address"):
        load_config(environ={"BADGEWATCH_REDPAGES_ADDRESS": "杭州"})
    with pytest.raises(ConfigError, match=r"\[redpages\] template .*does not exist"):
        load_config(environ={"BADGEWATCH_REDPAGES_TEMPLATE": str(tmp_path / "none.html")})


def test_a_template_of_the_deployments_own_replaces_the_built_in_page(red_site, tmp_path) -> None:
    from workflow.redpages import RedPageContent, RedPageRenderer

    own = tmp_path / "own.html"
    own.write_text("<main>{{ page.site_name }}|{{ page.content.profile }}|"
                   "{% for part in page.footer %}{{ part }}{% endfor %}</main>", "utf-8")
    config = red_site["config"]
    renderer = RedPageRenderer(config.redpages.model_copy(update={"template": own}), config.badge)
    with transaction(session_factory(make_engine(red_site["url"]))) as db:
        site = db.scalars(select(Site)).one()
        snippet = decoded_snippet(config.badge, red_site["code"])
        html = renderer.render(site, RedPageContent("<b>简介</b>", "", "", "", (),
                                                    f"页脚<i>{snippet}"))
    # a footer stored under other [badge] settings (no longer valid) is served as text only
    assert html == ("<main>杭州网络红页|&lt;b&gt;简介&lt;/b&gt;|页脚&lt;i&gt;"
                    + str(escape(snippet)) + "</main>")
