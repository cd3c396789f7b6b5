"""The object-level rule on both database backends: what each person may see of applications
and sites (the office subtree is a recursive query), and 404 for everything else."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask
from sqlalchemy import select

from store.db import transaction
from store.models import User
from tests.webapp import Clock, World, log_in, make_app, populate
from web.permissions import visible_applications, visible_sites


@pytest.fixture
def world(db_url: str) -> World:
    return populate(db_url)


@pytest.fixture
def app(db_url: str, world: World) -> Iterator[Flask]:
    app = make_app(db_url, Clock())
    yield app
    app.extensions["badgewatch"].close()


@pytest.mark.parametrize(
    ("login", "application", "status"),
    [
        ("hz-office", "hz", 200),
        ("nb-office", "hz", 404),  # an office reviewer of another office
        ("hz-office", "nb", 404),
        ("hz-unit", "hz", 200),
        ("hz-unit", "nb", 404),  # another unit's
        ("nb-unit", "hz", 404),
        ("conac", "nb", 200),
        ("operator", "hz", 404),
    ],
)
def test_applications_outside_ones_reach_answer_404(
    app: Flask, world: World, login: str, application: str, status: int
) -> None:
    client = app.test_client()
    log_in(client, login)
    response = client.get(f"/applications/{world.applications[application]}")
    assert response.status_code == status
    missing = client.get("/applications/999999")
    assert missing.status_code == 404
    if status == 404:  # the same answer as for one that does not exist
        assert response.get_data() == missing.get_data()


def test_what_each_person_may_see(app: Flask) -> None:
    with transaction(app.extensions["badgewatch"].sessions) as db:

        def seen(login: str) -> tuple[set[str], set[str]]:
            user = db.scalar(select(User).where(User.login == login))
            assert user is not None
            return ({site.name for site in db.scalars(visible_sites(user))},
                    {a.site_name for a in db.scalars(visible_applications(user))})

        both = {"西湖区政府网", "宁波大数据网站"}
        assert seen("hz-office") == ({"西湖区政府网"}, {"杭州数据网<b>", "杭州政务网"})
        assert seen("nb-office") == ({"宁波大数据网站"}, {"宁波大数据网"})
        assert seen("hz-unit") == (set(), {"杭州数据网<b>", "杭州政务网"})
        assert seen("nb-unit") == ({"宁波大数据网站"}, {"宁波大数据网"})
        assert seen("conac") == (both, {"杭州数据网<b>", "杭州政务网", "宁波大数据网"})
        assert seen("operator") == (both, set())
