"""Every route of the app as an attacker would use it, listed from ``app.url_map``: each role
asks for the objects of another unit or office by id (GET and POST with a valid CSRF token) and
gets 404, the same as for nothing, with the database unchanged; every POST route refuses a
missing, wrong or another session's CSRF token; every successful action is audited."""

from __future__ import annotations

import base64
import hashlib
import io
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, update

from store import models
from store.db import transaction
from store.models import AppState, JobState, Office, Site, User
from tests.factories import form_data
from tests.webapp import START, Clock, World, csrf_token, log_in, make_app, populate
from web.permissions import access_of

ROLES = {
    "hz-unit": models.Role.UNIT_HANDLER,
    "nb-unit": models.Role.UNIT_HANDLER,
    "hz-office": models.Role.OFFICE_REVIEWER,
    "nb-office": models.Role.OFFICE_REVIEWER,
    "conac": models.Role.CONAC_REVIEWER,
    "operator": models.Role.OPERATOR,
}
# Rules without an object in their path, and what they take: None (no object at all) or the
# form fields that carry an object id (filled from the other side's objects).
NO_OBJECT: dict[str, dict[str, str] | None] = {
    "auth.login": None,
    "auth.logout": None,
    "account.password": None,
    "home.index": None,
    "units.index": None,
    "units.new": None,
    "offices.index": None,
    "conac.index": None,
    "operators.index": None,
    "operators.add_user": None,
    "operators.offices": None,
    "operators.import_file": None,
    "operators.monitor": None,
    "siteinfo.operator_sites": None,
    "registration.register": None,
    "compliance.index": None,
    "selfcheck.selfcheck": {"site": "site_id"},
}
# The route arguments (and form fields) that name an object, as _objects fills them.
OBJECT_ARGUMENTS = ("application_id", "site_id", "render_id", "job_id", "code", "user_id")
# What an attacker may legitimately reach of the other side: CONAC reads every application,
# site and office and acts at the CONAC step; operators administer every person.
LEGITIMATE = {
    models.Role.CONAC_REVIEWER: {
        "applications.show", "conac.review", "compliance.office", "compliance.site",
        "compliance.recheck", "compliance.export_sites", "compliance.export_pages",
        "compliance.export_json",
    },
    models.Role.OPERATOR: {"operators.user", "operators.reset_password", "operators.disable",
                           "siteinfo.operator_info"},
}


@pytest.fixture
def world(sqlite_url: str) -> World:
    return populate(sqlite_url)


@pytest.fixture
def app(sqlite_url: str, world: World, tmp_path: Path) -> Iterator[Flask]:
    app = make_app(sqlite_url, Clock(), BADGEWATCH_PATHS_DATA_DIR=str(tmp_path / "var"))
    yield app
    app.extensions["badgewatch"].close()


def _sessions(app: Flask) -> Any:
    return app.extensions["badgewatch"].sessions


def _objects(app: Flask, world: World) -> dict[str, dict[str, list[Any]]]:
    """Each side's objects by the name of the route argument (or form field) naming them: the
    applications in every state a route acts on, the sites with a last check, its evidence
    screenshot and a queued recheck, the offices and the people."""
    shot = Path(app.extensions["badgewatch"].config.paths.data_dir) / "shots" / "home.png"
    shot.parent.mkdir(parents=True, exist_ok=True)
    shot.write_bytes(b"\x89PNG\r\n\x1a\nfake")
    sides: dict[str, dict[str, list[Any]]] = {}
    with transaction(_sessions(app)) as db:
        for side, codes, site_key in (("hz", ["330100", "330106"], "xh"),
                                      ("nb", ["330200"], "nb")):
            site = db.get(Site, world.sites[site_key])
            assert site is not None
            office = db.scalar(select(Office).where(Office.code == codes[0]))
            unit = db.scalar(select(models.Unit).where(models.Unit.office_id == office.id))
            ids = [world.applications[k] for k in world.applications if k.startswith(side)]
            for n, app_state in enumerate((AppState.DRAFT, AppState.OFFICE_REJECTED,
                                           AppState.APPROVED_ONLINE, AppState.ISSUED)):
                application = models.Application(
                    unit=unit, office=office, kind=models.ApplicationKind.NEW,
                    state=app_state, site_name=f"{side}-{n}", domain=f"{side}{n}.xn--zfr164b",
                    form=form_data(name=f"{side}-{n}"), created_at=START, updated_at=START,
                    version=1,
                )
                db.add(application)
                db.flush()
                ids.append(application.id)
            run = models.CrawlRun(trigger="test", state=models.RunState.FINISHED,
                                  started_at=START, heartbeat_at=START)
            db.add(run)
            db.flush()
            check = models.SiteCheck(run_id=run.id, site_id=site.id, started_at=START,
                                     finished_at=START, complete=True)
            db.add(check)
            db.flush()
            render = models.PageRender(
                check_id=check.id, url=f"http://{site.domain}/", viewport="desktop",
                verdict="non_compliant", reasons=["badge_missing"], message="",
                screenshot="shots/home.png", rendered_at=START,
            )
            job = models.CrawlJob(site_id=site.id, kind="recheck", priority=0,
                                  state=JobState.QUEUED, enqueued_at=START)
            db.add_all([render, job])
            db.execute(update(Site).where(Site.id == site.id).values(last_check_id=check.id))
            db.flush()
            people = db.scalars(select(User.id).where(User.login.like(f"{side}-%")))
            sides[side] = {
                "application_id": ids, "site_id": [site.id], "render_id": [render.id],
                "job_id": [job.id], "code": codes, "user_id": list(people),
                "domain": [site.domain],
            }
    return sides


def _dump(app: Flask) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, to compare before and after."""
    with transaction(_sessions(app)) as db:
        return {
            table.name: sorted(map(tuple, db.execute(select(table)).all()), key=repr)
            for table in models.Base.metadata.sorted_tables
        }


def _cases(app: Flask, other: dict[str, list[Any]]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(endpoint, path, form) for every route, its object ids (in its path or in its form)
    those of ``other``; fails for a route no case covers."""
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        args = set(rule.arguments)
        if not args:
            assert rule.endpoint in NO_OBJECT, f"no case for {rule.rule} ({rule.endpoint})"
            yield rule.endpoint, rule.rule, {}
            fields = NO_OBJECT[rule.endpoint]
            if fields:
                for site_id in other["site_id"]:
                    yield rule.endpoint, rule.rule, {k: site_id for k in fields}
            continue
        unknown = args - other.keys()
        assert not unknown, f"no case for {rule.rule}: {unknown}"
        combos: list[dict[str, Any]] = [{}]
        for arg in sorted(args):
            combos = [{**c, arg: value} for c in combos for value in other[arg]]
        adapter = app.url_map.bind("localhost")
        for values in combos:
            yield rule.endpoint, adapter.build(rule.endpoint, values), {}


def _post_data(token: str, form: dict[str, Any], domain: str) -> dict[str, Any]:
    """What a real form of any route would post: a decision, a reason, a site and URL, a
    file, a new password."""
    return {
        "csrf_token": token, "decision": "reject", "reason": "不合格", "action": "url",
        "url": f"http://{domain}/", "password": "another password 2",
        "confirm": "another password 2", **form,
    }


@pytest.mark.parametrize("login", list(ROLES))
def test_another_sides_objects_answer_404_and_change_nothing(
    app: Flask, world: World, login: str
) -> None:
    sides = _objects(app, world)
    other = sides["nb" if login.startswith("hz") else "hz"]
    allowed = LEGITIMATE.get(ROLES[login], set())
    client = app.test_client()
    log_in(client, login)
    token = csrf_token(client.get("/", follow_redirects=True).get_data(as_text=True))
    before = _dump(app)
    wrong: list[str] = []
    endpoints = set()
    for endpoint, path, form in _cases(app, other):
        endpoints.add(endpoint)
        if endpoint in allowed or (not form and endpoint in NO_OBJECT):
            continue
        methods = app.url_map._rules_by_endpoint[endpoint][0].methods or set()
        if "GET" in methods and not form:  # a form field is read from a POST only
            status = client.get(path, query_string=form).status_code
            if status != 404:
                wrong.append(f"GET {path} {form}: {status}")
        if "POST" in methods:
            full = _post_data(token, form, other["domain"][0])
            # a real form's fields, the same with a file, and the token (and ids) alone
            upload = {"action": "file", "file": (io.BytesIO(b"<html></html>"), "index.html")}
            for kind, data in (("form", full), ("file", {**full, **upload}),
                               ("bare", {"csrf_token": token, **form})):
                status = client.post(path, data=data).status_code
                if status != 404:
                    wrong.append(f"POST {path} {form} {kind}: {status}")
    assert wrong == []
    assert _dump(app) == before
    assert allowed <= endpoints  # the legitimate ones are still routes


def test_object_routes_are_each_covered(app: Flask, world: World) -> None:
    """A route with an argument the table does not know, or a route without one that is not
    listed in NO_OBJECT, fails ``_cases`` (here proven on a route added for the test)."""
    from web.permissions import allow

    def view(thing_id: int) -> str:
        return "secret"

    app.add_url_rule("/things/<int:thing_id>", "things", allow(models.Role.OPERATOR)(view))
    with pytest.raises(AssertionError, match="no case for /things"):
        list(_cases(app, {key: [1] for key in OBJECT_ARGUMENTS}))


def _client_with_token(app: Flask, login: str) -> tuple[FlaskClient, str]:
    client = app.test_client()
    log_in(client, login)
    return client, csrf_token(client.get("/", follow_redirects=True).get_data(as_text=True))


def _post_routes(app: Flask) -> list[tuple[str, str | None]]:
    """Every POST route, with a login whose role may reach it (None: a public route)."""
    adapter = app.url_map.bind("localhost")
    routes = []
    for rule in app.url_map.iter_rules():
        if "POST" not in (rule.methods or set()):
            continue
        access = access_of(app.view_functions[rule.endpoint])
        assert access is not None, rule.rule
        login = None if access.public else next(
            name for name, role in ROLES.items() if role in access.roles)
        routes.append((adapter.build(rule.endpoint, dict.fromkeys(rule.arguments, 1)), login))
    return sorted(routes, key=repr)


def test_every_post_route_refuses_a_missing_wrong_or_foreign_csrf_token(app: Flask) -> None:
    routes = _post_routes(app)
    assert ("/logout", "hz-unit") in routes and ("/login", None) in routes
    assert len(routes) >= 12
    _, foreign = _client_with_token(app, "nb-unit")  # another session's token
    before = _dump(app)
    wrong = []
    for path, login in routes:
        if login is None:
            client = app.test_client()
            own = csrf_token(client.get("/login").get_data(as_text=True))
        else:
            client, own = _client_with_token(app, login)
        for token in (None, own[:-2] + "xx", foreign):
            data = {"csrf_token": token} if token else {}
            response = client.post(path, data=data)
            if response.status_code != 400 or "请求已失效" not in response.get_data(as_text=True):
                wrong.append(f"{login} {path} {token}: {response.status_code}")
    assert wrong == []
    after = _dump(app)
    # Only the logins of this test are new rows (sessions and their audit entries).
    for table in ("applications", "sites", "users", "offices", "crawl_jobs", "units",
                  "sms_codes", "outbox"):
        assert after[table] == before[table], table


def _assert_headers(response: Any, what: str) -> None:
    csp = response.headers.get("Content-Security-Policy", "")
    directives = dict(d.strip().partition(" ")[::2] for d in csp.split(";"))
    assert directives.get("default-src") == "'self'", what
    assert directives.get("script-src") == "'self'", what
    assert directives.get("frame-ancestors") == "'none'", what
    assert directives.get("object-src") == "'none'", what
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp, what
    if response.mimetype == "text/html" and response.status_code == 200 and (
            directives.get("style-src") != "'self'"):
        # Only a printed document widens it: by the hash of its own style, nothing else.
        body = response.get_data(as_text=True)
        styles = re.findall(r"<style>(.*?)</style>", body, re.DOTALL)
        hashes = [base64.b64encode(hashlib.sha256(s.encode()).digest()).decode() for s in styles]
        assert styles and directives["style-src"] == " ".join(
            ["'self'", *(f"'sha256-{h}'" for h in hashes)]), what
    else:
        assert directives.get("style-src") == "'self'", what
    if response.status_code == 200 and response.mimetype in (
            "text/html", "text/csv", "application/json"):
        assert response.headers.get("Cache-Control") == "no-store", what
    assert response.headers.get("X-Frame-Options") == "DENY", what
    assert response.headers.get("X-Content-Type-Options") == "nosniff", what


@pytest.mark.parametrize("login", [*ROLES, None])
def test_every_response_carries_the_security_headers(
    app: Flask, world: World, login: str | None
) -> None:
    """Each GET route with one's own objects (and the other side's: their 404s), whatever it
    answers: pages, redirects, 404, exports, screenshots, printed documents."""
    sides = _objects(app, world)
    with transaction(_sessions(app)) as db:  # printable documents for both units
        db.execute(update(models.Application).where(
            models.Application.state == AppState.SUBMITTED).values(state=AppState.ISSUED))
    client = app.test_client()
    if login is not None:
        log_in(client, login)
    seen = set()
    for side in sides.values():
        for endpoint, path, form in _cases(app, side):
            methods = app.url_map._rules_by_endpoint[endpoint][0].methods or set()
            if "GET" in methods and not form:
                response = client.get(path)
                seen.add((endpoint, response.status_code, response.mimetype))
                _assert_headers(response, f"{login} GET {path}: {response.status_code}")
    for path in ("/static/report.css", "/static/web.css", "/static/nothing.css", "/nowhere",
                 "/login?next=//evil.example"):
        _assert_headers(client.get(path), path)
    for method in ("POST", "PUT", "DELETE"):  # refused before any view: 400 or 405
        _assert_headers(client.open("/static/web.css", method=method), method)
    if login == "hz-office":
        assert ("compliance.export_sites", 200, "text/csv") in seen
        assert ("compliance.export_json", 200, "application/json") in seen
    if login == "nb-unit":
        assert ("units.letter", 200, "text/html") in seen
        assert ("units.form", 200, "text/html") in seen
        assert ("badges.evidence", 200, "image/png") in seen


def test_a_server_error_carries_the_security_headers(app: Flask) -> None:
    from web.permissions import public

    def broken() -> str:
        raise RuntimeError("boom")

    app.add_url_rule("/broken", "broken", public(broken))
    app.config["TESTING"] = False
    app.config["PROPAGATE_EXCEPTIONS"] = False
    response = app.test_client().get("/broken")
    assert response.status_code == 500
    assert "出错了" in response.get_data(as_text=True) and "boom" not in response.get_data(
        as_text=True)
    _assert_headers(response, "500")
