"""The incremental recrawl: real crawls of sites on loopback, twice, through the real CLI.

The second crawl of a site asks for the pages the first one read with their validators; a page
that did not change (a 304, or the same body from a server that ignores validators) keeps its
verdict; a changed page is checked again; a recheck, and a site whose last full crawl is
``full_recrawl_days`` old, are crawled in full.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from sqlalchemy import func, select, update

from badgewatch.config import CrawlConfig
from crawler.known import Baseline, KnownPage, changed_since, full_reason
from store.db import make_engine, session_factory, transaction
from store.migrate import alembic_config, upgrade
from store.models import (
    MonitorState,
    PageResult,
    Site,
    SiteCheck,
    SiteStateChange,
    SiteStatus,
)
from store.retention import prune_page_results
from testbed.siteserver import Answer, Route, SiteServer, government_page
from tests.crawling import last_check
from tests.factories import (
    add_check,
    add_office,
    add_site,
    add_unit,
    ascii_name,
    badge,
    by_domain,
    loopback_env,
    register,
    run,
)

DOMAIN = "增量.政务"
PAGES = 6
MISSING = 3  # the page without the badge from the start
LAST_MODIFIED = "Mon, 30 Nov 2026 08:00:00 GMT"


@pytest.fixture
def env(tmp_path: Path, db_url: str, dns_config) -> dict[str, str]:
    return loopback_env(db_url, dns_config, tmp_path / "var", CRAWL_DOWNLOAD_TIMEOUT="2",
                        CRAWL_RETRIES="0", RENDER_ENABLED="false",
                        CRAWL_FULL_FETCH_SAMPLE="0")


@pytest.fixture
def sqlite_env(tmp_path: Path, sqlite_url: str, dns_config) -> dict[str, str]:
    return loopback_env(sqlite_url, dns_config, tmp_path / "var", CRAWL_DOWNLOAD_TIMEOUT="2",
                        CRAWL_RETRIES="0", RENDER_ENABLED="false",
                        CRAWL_FULL_FETCH_SAMPLE="0")


def page_path(i: int) -> str:
    return f"/p/{i}.html"


def site_routes(*, ignore_validators: bool = False) -> dict[str, Route | str]:
    """A home page and PAGES pages linking to each other, page MISSING without the badge; even
    pages give an ETag and a Last-Modified, odd ones a Last-Modified only."""
    links = [page_path(i) for i in range(PAGES)]
    routes: dict[str, Route | str] = {
        "/": Route(body=government_page("首页", links, badge(1), size_kb=8), etag='"home"'),
    }
    for i in range(PAGES):
        routes[page_path(i)] = page_route(i, "" if i == MISSING else badge(1),
                                          ignore_validators=ignore_validators)
    return routes


def page_route(i: int, footer: str, *, version: int = 1, ignore_validators: bool = False
               ) -> Route:
    links = [page_path(k) for k in range(PAGES)]
    return Route(
        body=government_page(f"页面{i}", links, footer, size_kb=8),
        etag=f'"p{i}-v{version}"' if i % 2 == 0 else None,
        last_modified=LAST_MODIFIED if version == 1 else "Tue, 01 Dec 2026 08:00:00 GMT",
        ignore_validators=ignore_validators,
    )


def crawl(env: dict[str, str]) -> dict[str, Any]:
    return by_domain(run(env, "crawl", "--site", DOMAIN, "--json").output)[ascii_name(DOMAIN)]


def page_answers(site: SiteServer) -> dict[str, Answer]:
    return {a.path: a for a in site.answers if a.path.startswith("/p/") or a.path == "/"}


def last_rows(env: dict[str, str]) -> tuple[SiteCheck, dict[str, PageResult]]:
    """The site's latest check and its page rows by path."""
    _, rows = last_check(env)
    engine = make_engine(env["BADGEWATCH_DATABASE_URL"])
    with transaction(session_factory(engine)) as session:
        check = session.scalars(select(SiteCheck).order_by(SiteCheck.id.desc())).first()
        assert check is not None
        session.expunge(check)
    engine.dispose()
    return check, rows


def verdicts(rows: dict[str, PageResult]) -> dict[str, tuple[Any, ...]]:
    return {path: (r.verdict, r.reasons, r.identifiers, r.http_status, r.title)
            for path, r in rows.items()}


def test_unchanged_site_recrawl_asks_with_validators_and_keeps_the_verdicts(
    env, tmp_path, serve_site
) -> None:
    site = serve_site(site_routes(), names=[DOMAIN])
    register(env, tmp_path, [(1, DOMAIN, site.ip, None)])
    first = crawl(env)
    assert first["status"] == "non_compliant"
    assert (first["pages_checked"], first["pages_failing"]) == (PAGES + 1, 1)
    first_check, first_rows = last_rows(env)
    assert not first_check.incremental
    # The first crawl sent no validators and stored each page's.
    assert not any(a.if_none_match or a.if_modified_since for a in site.answers)
    assert first_rows[page_path(0)].etag == '"p0-v1"'
    assert first_rows[page_path(1)].last_modified == LAST_MODIFIED
    assert all(row.digest for row in first_rows.values())

    site.clear_requests()
    second = crawl(env)
    answers = page_answers(site)
    # The home page in full; every other page asked with its validators and answered 304.
    assert (answers["/"].if_none_match, answers["/"].status) == (None, 200)
    for i in range(PAGES):
        answer = answers[page_path(i)]
        if i % 2 == 0:
            assert answer.if_none_match == f'"p{i}-v1"'
        assert answer.if_modified_since == LAST_MODIFIED
        assert answer.status == 304, answer
    # The same verdicts, carried, and the same site status.
    check, rows = last_rows(env)
    assert check.incremental and check.complete
    assert check.pages_carried == PAGES
    assert verdicts(rows) == verdicts(first_rows)
    assert {path for path, row in rows.items() if row.carried} == {
        page_path(i) for i in range(PAGES)
    }
    assert rows[page_path(0)].etag == '"p0-v1"'  # kept for the next night
    assert second["status"] == "non_compliant"
    assert (second["pages_checked"], second["pages_failing"]) == (PAGES + 1, 1)
    assert second["reasons"] == first["reasons"]
    [last_run] = json.loads(run(env, "status", "--json").output)["runs"][:1]
    assert last_run["stats"]["badgewatch/pages_not_modified"] == PAGES


def test_a_page_whose_footer_lost_the_badge_is_caught(env, tmp_path, serve_site) -> None:
    site = serve_site(site_routes(), names=[DOMAIN])
    site.set_route(page_path(MISSING), page_route(MISSING, badge(1)))
    register(env, tmp_path, [(1, DOMAIN, site.ip, None)])
    assert crawl(env)["status"] == "compliant"
    # The shared footer loses the badge on page 2 (an ETag page) and page 5 (Last-Modified
    # only): the server's validators change with the content.
    site.set_route(page_path(2), page_route(2, "", version=2))
    site.set_route(page_path(5), page_route(5, "", version=2))
    site.clear_requests()
    second = crawl(env)
    answers = page_answers(site)
    assert (answers[page_path(2)].if_none_match, answers[page_path(2)].status) == (
        '"p2-v1"', 200
    )
    assert (answers[page_path(5)].if_modified_since, answers[page_path(5)].status) == (
        LAST_MODIFIED, 200
    )
    assert second["status"] == "non_compliant"
    assert second["reasons"] == ["badge_missing"]
    check, rows = last_rows(env)
    assert check.incremental and check.pages_carried == PAGES - 2
    assert {path for path, r in rows.items() if r.verdict == "non_compliant"} == {
        page_path(2), page_path(5)
    }
    assert not rows[page_path(2)].carried
    assert rows[page_path(2)].etag == '"p2-v2"'


def test_a_server_that_ignores_validators_still_works(sqlite_env, tmp_path, serve_site) -> None:
    env = sqlite_env
    site = serve_site(site_routes(ignore_validators=True), names=[DOMAIN])
    site.set_route(page_path(4), government_page("无校验", [], badge(1), size_kb=4))
    register(env, tmp_path, [(1, DOMAIN, site.ip, None)])
    first = crawl(env)
    _, first_rows = last_rows(env)
    site.set_route(page_path(0), page_route(0, "", ignore_validators=True))  # badge removed
    site.clear_requests()
    second = crawl(env)
    answers = page_answers(site)
    # Asked with validators, always answered in full; the body's digest decides.
    assert answers[page_path(2)].if_none_match == '"p2-v1"'
    assert {a.status for a in answers.values()} == {200}
    assert answers[page_path(4)].if_none_match is None  # it gave no validators: digest only
    check, rows = last_rows(env)
    assert check.incremental
    carried = {path for path, r in rows.items() if r.carried}
    assert carried == {page_path(i) for i in range(1, PAGES)}
    assert rows[page_path(0)].verdict == "non_compliant"
    assert verdicts({p: rows[p] for p in carried}) == verdicts({p: first_rows[p] for p in carried})
    assert (first["pages_failing"], second["pages_failing"]) == (1, 2)


def test_sitemap_lastmod_puts_changed_pages_first(sqlite_env, tmp_path, serve_site) -> None:
    env = {**sqlite_env, "BADGEWATCH_CRAWL_PER_HOST_CONCURRENCY": "1",
           "BADGEWATCH_CRAWL_CONCURRENT_REQUESTS": "1"}
    site = serve_site(site_routes(), names=[DOMAIN])
    register(env, tmp_path, [(1, DOMAIN, site.ip, None)])

    def sitemap(changed: dict[int, str]) -> Route:
        urls = "".join(
            f"<url><loc>{site.url(page_path(i), name=DOMAIN)}</loc>"
            f"<lastmod>{changed.get(i, '2026-01-05')}</lastmod></url>"
            for i in range(PAGES)
        )
        return Route(body='<?xml version="1.0" encoding="UTF-8"?><urlset '
                     f'xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{urls}</urlset>',
                     content_type="application/xml")

    site.set_route("/sitemap.xml", sitemap({}))
    crawl(env)
    # Page 4 changes after the first crawl, and the sitemap says so.
    site.set_route(page_path(4), page_route(4, badge(1), version=2))
    site.set_route("/sitemap.xml", sitemap({4: datetime.now(UTC).isoformat()}))
    site.clear_requests()
    crawl(env)
    pages = [a.path for a in site.answers if a.path.startswith("/p/")]
    assert pages[0] == page_path(4), pages
    assert sorted(pages) == sorted(page_path(i) for i in range(PAGES))  # each once


def test_a_recheck_and_a_due_full_recrawl_fetch_every_page_in_full(
    sqlite_env, tmp_path, serve_site
) -> None:
    env = sqlite_env
    site = serve_site(site_routes(), names=[DOMAIN])
    register(env, tmp_path, [(1, DOMAIN, site.ip, None)])
    crawl(env)
    # A person's recheck: no validators, every page checked.
    site.clear_requests()
    out = json.loads(run(env, "recheck", DOMAIN, "--json").output)
    assert out["sites"][0]["status"] == "non_compliant"
    assert not any(a.if_none_match or a.if_modified_since for a in site.answers)
    check, rows = last_rows(env)
    assert not check.incremental and not any(r.carried for r in rows.values())
    # The next crawl is incremental again ...
    site.clear_requests()
    crawl(env)
    assert {a.status for p, a in page_answers(site).items() if p != "/"} == {304}
    # ... until the last full crawl is full_recrawl_days old.
    engine = make_engine(env["BADGEWATCH_DATABASE_URL"])
    with transaction(session_factory(engine)) as session:
        for check in session.scalars(select(SiteCheck)):
            check.started_at -= timedelta(days=7)
    engine.dispose()
    site.clear_requests()
    crawl(env)
    assert not any(a.if_none_match or a.if_modified_since for a in site.answers)
    check, rows = last_rows(env)
    assert not check.incremental and len(rows) == PAGES + 1
    assert not any(r.carried for r in rows.values())


def test_a_changed_registration_makes_the_crawl_full(sqlite_env, tmp_path, serve_site) -> None:
    env = sqlite_env
    site = serve_site(site_routes(), names=[DOMAIN])
    register(env, tmp_path, [(1, DOMAIN, site.ip, None)])
    crawl(env)
    engine = make_engine(env["BADGEWATCH_DATABASE_URL"])
    with transaction(session_factory(engine)) as session:
        session.execute(update(Site).values(certificate=None))
    engine.dispose()
    site.clear_requests()
    crawl(env)
    assert not any(a.if_none_match or a.if_modified_since for a in site.answers)
    check, _ = last_rows(env)
    assert not check.incremental


# -- the rules, on a fixed clock ------------------------------------------------------------

NOW = datetime(2026, 12, 1, 18, 0, tzinfo=UTC)


def _last(key: str = "k") -> SiteCheck:
    return SiteCheck(check_key=key)


@pytest.mark.parametrize(
    ("last_full_days", "requested", "enabled", "key", "expected"),
    [
        (1, False, True, "k", None),
        (6.99, False, True, "k", None),
        (7, False, True, "k", "full recrawl due"),
        (None, False, True, "k", "full recrawl due"),
        (1, True, True, "k", "recheck"),
        (1, False, False, "k", "incremental off"),
        (1, False, True, "other", "check changed"),
    ],
)
def test_when_a_crawl_is_full(last_full_days, requested, enabled, key, expected) -> None:
    last_full = NOW - timedelta(days=last_full_days) if last_full_days is not None else None
    assert full_reason(
        full_requested=requested, enabled=enabled, last=_last(), last_full_at=last_full,
        key=key, now=NOW, full_recrawl_days=7,
    ) == expected
    assert full_reason(
        full_requested=False, enabled=True, last=None, last_full_at=None, key="k", now=NOW,
        full_recrawl_days=7,
    ) == "first check"


def _known(url: str) -> KnownPage:
    return KnownPage(url, 1, 200, "compliant", ("ok",), (), None, None, None, '"e"', None,
                     "d" * 32, NOW)


def test_the_full_fetch_sample_draws_its_share_afresh_each_run() -> None:
    urls = [f"http://x.example/p/{i}.html" for i in range(20_000)]
    pages = {url: _known(url) for url in urls}
    one = Baseline(True, "incremental", "k", pages, sample=0.05, salt=1)
    other = Baseline(True, "incremental", "k", pages, sample=0.05, salt=2)
    drawn = {url for url in urls if one.conditional(url) is None}
    assert 0.04 < len(drawn) / len(urls) < 0.06
    assert drawn != {url for url in urls if other.conditional(url) is None}
    assert Baseline(True, "incremental", "k", pages, sample=0.0).conditional(urls[0]) is not None
    assert Baseline(True, "incremental", "k", pages, sample=1.0).conditional(urls[0]) is None
    assert Baseline(False, "recheck", "k", pages).conditional(urls[0]) is None
    rendered = Baseline(True, "incremental", "k", pages, rendered=frozenset(urls[:1]))
    assert rendered.conditional(urls[0]) is None and rendered.conditional(urls[1]) is not None
    assert CrawlConfig().full_fetch_sample == 0.05 and CrawlConfig().full_recrawl_days == 7


@pytest.mark.parametrize(
    ("lastmod", "expected"),
    [
        ("2026-12-01T19:00:00+00:00", True),
        ("2026-12-02T01:00:00+08:00", False),  # 17:00 UTC, before the fetch
        ("2026-12-01", True),  # the day of the fetch: may have changed after it
        ("2026-11-30", False),
        ("yesterday", None),
        (None, None),
    ],
)
def test_what_a_lastmod_says(lastmod, expected) -> None:
    assert changed_since(lastmod, NOW) is expected


# -- pruning ----------------------------------------------------------------------------------


def test_pruning_keeps_each_sites_last_check_and_every_site_check(sessions, tmp_path) -> None:
    old, recent = NOW - timedelta(days=40), NOW - timedelta(days=2)
    with transaction(sessions) as session:
        office = add_office(session)
        unit = add_unit(session, office)
        quiet = add_site(session, unit, domain="久未检查.政务")
        busy = add_site(session, unit, domain="每晚检查.政务")
        quiet_last = add_check(session, quiet, SiteStatus.COMPLIANT, now=old, passing=3)
        busy_old = add_check(session, busy, SiteStatus.COMPLIANT, now=old, passing=3)
        busy_last = add_check(session, busy, SiteStatus.COMPLIANT, now=recent, passing=3)
        session.add(SiteStateChange(site_id=busy.id, from_state=MonitorState.PENDING,
                                    to_state=MonitorState.COMPLIANT, at=old,
                                    check_id=busy_old.id))
        ids = (quiet_last.id, busy_old.id, busy_last.id)
    assert prune_page_results(sessions, now=NOW, keep_days=30) == 3
    with transaction(sessions) as session:
        left = dict(session.execute(
            select(PageResult.check_id, func.count()).group_by(PageResult.check_id)
        ).all())
        # The quiet site's only check is 40 days old, yet the next crawl carries from it.
        assert left == {ids[0]: 3, ids[2]: 3}
        assert session.scalar(select(func.count()).select_from(SiteCheck)) == 3
        assert session.scalar(select(func.count()).select_from(SiteStateChange)) == 1
    assert prune_page_results(sessions, now=NOW, keep_days=30) == 0
    # With a shorter window the recent rows go too, never a site's last check.
    assert prune_page_results(sessions, now=NOW, keep_days=1) == 0


def test_db_prune_command(env, tmp_path) -> None:
    run(env, "db", "upgrade")
    engine = make_engine(env["BADGEWATCH_DATABASE_URL"])
    sessions = session_factory(engine)
    with transaction(sessions) as session:
        site = add_site(session, add_unit(session, add_office(session)))
        add_check(session, site, SiteStatus.COMPLIANT, now=datetime.now(UTC) - timedelta(days=50))
        add_check(session, site, SiteStatus.COMPLIANT, now=datetime.now(UTC) - timedelta(days=20))
        add_check(session, site, SiteStatus.COMPLIANT, now=datetime.now(UTC))
    engine.dispose()
    out = run(env, "db", "prune").output
    assert out.startswith("已删除 1 条早于 ")
    assert "（30 天前）" in out
    data = json.loads(run({**env, "BADGEWATCH_STORE_KEEP_PAGE_RESULTS_DAYS": "10"},
                          "db", "prune", "--json").output)
    assert (data["deleted"], data["keep_days"]) == (1, 10)
    bad = run({**env, "BADGEWATCH_STORE_KEEP_PAGE_RESULTS_DAYS": "0"}, "db", "prune", code=2)
    assert "keep_page_results_days" in bad.output


# -- the migration ----------------------------------------------------------------------------

PREVIOUS_HEAD = "a9c4e1b7d352"  # the revision before a9c4e1f7b203


def test_migration_adds_and_removes_the_incremental_columns(empty_db_url) -> None:
    upgrade(empty_db_url, PREVIOUS_HEAD)
    engine = make_engine(empty_db_url)
    with engine.begin() as conn:
        conn.execute(sa.text(
            "INSERT INTO crawl_runs (id, trigger, state, started_at, heartbeat_at, sites, pages)"
            " VALUES (1, 'cli', 'finished', :now, :now, 1, 1)"
        ), {"now": NOW})
    engine.dispose()
    upgrade(empty_db_url)
    engine = make_engine(empty_db_url)
    columns = {c["name"] for c in sa.inspect(engine).get_columns("page_results")}
    assert {"etag", "last_modified", "digest", "carried"} <= columns
    checks = {c["name"] for c in sa.inspect(engine).get_columns("site_checks")}
    assert {"incremental", "pages_carried", "check_key"} <= checks
    indexes = {i["name"] for i in sa.inspect(engine).get_indexes("page_results")}
    assert "ix_page_results_fetched_at" in indexes
    engine.dispose()
    command.downgrade(alembic_config(empty_db_url), PREVIOUS_HEAD)
    engine = make_engine(empty_db_url)
    columns = {c["name"] for c in sa.inspect(engine).get_columns("page_results")}
    assert not {"etag", "last_modified", "digest", "carried"} & columns
    assert "ix_page_results_fetched_at" not in {
        i["name"] for i in sa.inspect(engine).get_indexes("page_results")
    }
    engine.dispose()
    upgrade(empty_db_url)
