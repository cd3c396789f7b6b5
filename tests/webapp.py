"""Builders for the web application's tests: a migrated database with offices, units, people
who can log in and a few applications, and the app on it with a clock the test moves."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from badgewatch.config import Config, load_config
from store import models
from store.db import make_engine, session_factory, transaction
from store.models import AppState, Office, Role, Unit, User
from tests.factories import FORM, add_offices, form_data
from web.accounts import hash_password
from web.app import create_app

PASSWORD = "correct horse 1"
SECRET = "s" * 40
START = datetime(2026, 12, 1, 1, 0, tzinfo=UTC)  # 09:00 in Beijing, a Tuesday


@dataclass
class Clock:
    now: datetime = START

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@dataclass
class World:
    """Ids of what ``populate`` made: applications by name, sites by name."""

    applications: dict[str, int] = field(default_factory=dict)
    sites: dict[str, int] = field(default_factory=dict)


def _unit(session: Session, name: str, office: Office) -> Unit:
    unit = Unit(name=name, office=office, org_type="政府")
    session.add(unit)
    return unit


_HASHES: list[str] = []


def _person(session: Session, login: str, role: Role, **place: object) -> User:
    if not _HASHES:  # argon2 is slow by design: one hash serves every test person
        _HASHES.append(hash_password(PASSWORD))
    user = User(name=f"{login}的姓名", role=role, login=login, password_hash=_HASHES[0], **place)
    session.add(user)
    return user


def _application(
    session: Session, unit: Unit, office: Office, site_name: str, state: AppState, n: int
) -> models.Application:
    application = models.Application(
        unit=unit, office=office, kind=models.ApplicationKind.NEW, state=state, site_name=site_name,
        domain=f"site{n}.xn--zfr164b", form=form_data(name=site_name),
        created_at=START - timedelta(days=10 - n), updated_at=START - timedelta(days=10 - n),
        submitted_on=date(2026, 11, 20 + n), office_review_due=date(2026, 11, 27 + n),
        version=1,
    )
    session.add(application)
    return application


def populate(url: str) -> World:
    """杭州 (330100) with a unit and its reviewer, 宁波 (330200) likewise, 西湖区 (330106)
    beneath 杭州 with a site, CONAC and an operator; every login's password is PASSWORD."""
    engine = make_engine(url)
    world = World()
    with transaction(session_factory(engine)) as session:
        offices = add_offices(session)
        hz_unit = _unit(session, "杭州市数据资源管理局", offices["330100"])
        nb_unit = _unit(session, "宁波市大数据局", offices["330200"])
        xh_unit = _unit(session, "西湖区政府办", offices["330106"])
        session.flush()
        _person(session, "hz-unit", Role.UNIT_HANDLER, unit_id=hz_unit.id)
        _person(session, "nb-unit", Role.UNIT_HANDLER, unit_id=nb_unit.id)
        _person(session, "hz-office", Role.OFFICE_REVIEWER, office_id=offices["330100"].id)
        _person(session, "nb-office", Role.OFFICE_REVIEWER, office_id=offices["330200"].id)
        _person(session, "conac", Role.CONAC_REVIEWER)
        _person(session, "operator", Role.OPERATOR)
        apps = {
            "hz": _application(session, hz_unit, offices["330100"], "杭州数据网<b>",
                               AppState.SUBMITTED, 1),
            "nb": _application(session, nb_unit, offices["330200"], "宁波大数据网",
                               AppState.SUBMITTED, 2),
            "hz-conac": _application(session, hz_unit, offices["330100"], "杭州政务网",
                                     AppState.OFFICE_APPROVED, 3),
        }
        sites = {
            "xh": models.Site(unit=xh_unit, office=offices["330106"], name="西湖区政府网",
                       domain="xihu.xn--zfr164b", ipv4="127.0.0.31", identifier="CA60000001",
                       source=models.SiteSource.IMPORTED, created_at=START),
            "nb": models.Site(unit=nb_unit, office=offices["330200"], name="宁波大数据网站",
                       domain="nb.xn--zfr164b", ipv4="127.0.0.32", identifier="CA60000002",
                       source=models.SiteSource.IMPORTED, created_at=START),
        }
        session.add_all(sites.values())
        session.flush()
        world.applications = {key: app.id for key, app in apps.items()}
        world.sites = {key: site.id for key, site in sites.items()}
    engine.dispose()
    return world


def web_config(url: str, **environ: str) -> Config:
    """The settings on ``url``, browser checks off, with ``environ``'s ``BADGEWATCH_*``."""
    return load_config(environ={"BADGEWATCH_DATABASE_URL": url,
                                "BADGEWATCH_RENDER_ENABLED": "false", **environ})


def make_app(url: str, clock: Clock, **environ: str) -> Flask:
    app = create_app(web_config(url, **environ), secret_key=SECRET, clock=clock)
    app.config["TESTING"] = True
    return app


def local_services(dns_config: Any, sms_gateway: Any, data_dir: Path) -> dict[str, str]:
    """The settings of an app on the local DNS server and SMS gateway, with no mail server
    (emails stay in the outbox), for ``make_app``."""
    return {
        "BADGEWATCH_DNS_NAMESERVERS": ",".join(dns_config.nameservers),
        "BADGEWATCH_DNS_TIMEOUT": "1",
        "BADGEWATCH_SMS_URL": sms_gateway.sms_url,
        "BADGEWATCH_SMTP_PORT": "1",
        "BADGEWATCH_PATHS_DATA_DIR": str(data_dir),
    }


@contextmanager
def serving(url: str, clock: Clock | None = None, **environ: str) -> Iterator[Flask]:
    """The app on ``url`` for one test, its database connections closed after it."""
    app = make_app(url, clock or Clock(), **environ)
    try:
        yield app
    finally:
        app.extensions["badgewatch"].close()


CSRF_RE = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"|'
                     r'name="csrf_token" value="([^"]+)"')


def csrf_token(html: str) -> str:
    match = CSRF_RE.search(html)
    assert match, "no CSRF token on the page"
    return match.group(1) or match.group(2)


def log_in(client: FlaskClient, login: str, password: str = PASSWORD,
           next_url: str | None = None) -> object:
    page = client.get("/login")
    query = {"next": next_url} if next_url is not None else {}
    return client.post("/login", query_string=query, data={
        "csrf_token": csrf_token(page.get_data(as_text=True)),
        "login": login, "password": password,
    })


def typed(**changes: str) -> dict[str, str]:
    """FORM as a person types it into the application page's inputs."""
    data = {"kind": FORM["kind"]}
    for section in ("unit", "handler", "principal", "site"):
        for key, value in FORM[section].items():
            data[f"{section}_{key}"] = value or ""
    data.update(changes)
    return data


NEW_MOBILE = "13905719999"


def registration(**changes: str) -> dict[str, str]:
    """新用户注册 as a person fills it in (a unit under 杭州)."""
    data = {
        "unit_name": "杭州市新单位", "org_type": "政府", "address": "浙江省杭州市上城区1号",
        "office": "330100", "handler_name": "李经办", "mobile": NEW_MOBILE,
        "email": "li@hz.example.cn", "login": "hz-new", "password": "a good password",
        "repeat": "a good password",
    }
    data.update(changes)
    return data
