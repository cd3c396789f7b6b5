"""A compliant site is re-reviewed and approved, then crawled again: still compliant, the same
identifier on its pages and in its record. Real site on loopback, the real crawl process, the
CLI for everything, SQLite and PostgreSQL."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sqlalchemy import select

from store.db import make_engine, session_factory, transaction
from store.models import PageResult, Site
from tests.factories import ascii_name, badge, form_data, identifier, loopback_env, pages
from tests.test_crawl_states import OLD_NOTICE, register, run

NAME = "合规.政务"


def _status(env: dict[str, str]) -> dict[str, Any]:
    sites = json.loads(run(env, "status", "--json").output)["sites"]
    [site] = [s for s in sites if s["domain"] == ascii_name(NAME)]
    return site


def _page_identifiers(env: dict[str, str]) -> set[str]:
    """Every badge identifier the last check of the site read on its pages."""
    engine = make_engine(env["BADGEWATCH_DATABASE_URL"])
    with transaction(session_factory(engine)) as session:
        site = session.scalars(select(Site)).one()
        rows = session.scalars(
            select(PageResult).where(PageResult.check_id == site.last_check_id)
        ).all()
        found = {ident for row in rows for ident in row.identifiers}
        assert rows
    engine.dispose()
    return found


def test_a_rereviewed_compliant_site_stays_compliant(
    tmp_path: Path, db_url: str, dns_config, serve_site
) -> None:
    env = loopback_env(db_url, dns_config, tmp_path / "var", CRAWL_DOWNLOAD_TIMEOUT="2",
                       CRAWL_RETRIES="0", RENDER_ENABLED="false", SMTP_PORT="1",
                       SMS_KIND="none")
    site = serve_site(pages(2, lambda i: badge(1)), names=[NAME])
    register(env, tmp_path, [(1, NAME, site.ip, OLD_NOTICE)])
    run(env, "crawl", f"--site={NAME}")
    assert _status(env)["state"] == "compliant"
    assert _page_identifiers(env) == {identifier(1)}

    # The unit re-reviews it (a new name), through the same three steps.
    data = form_data(domain=NAME, ipv4=site.ip, name="网站1（复核后）", english_domain=None)
    data["kind"] = "rereview"
    data["office"] = "330000"
    data["unit"]["name"] = "单位1"
    path = tmp_path / "rereview.json"
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    app_id = run(env, "app", "new", str(path), "--as", "unit:单位1",
                 "--site", identifier(1)).output.strip()
    run(env, "app", "submit", app_id)
    run(env, "app", "review", app_id, "--as", "office:330000", "--approve")
    run(env, "app", "review", app_id, "--as", "conac", "--approve")
    issued = run(env, "app", "materials", app_id, "--as", "office:330000", "--confirm").output
    assert f"badge identifier {identifier(1)}" in issued
    assert _status(env)["state"] == "compliant"  # the approval itself changes nothing

    run(env, "crawl", f"--site={NAME}")
    after = _status(env)
    assert after["state"] == "compliant"
    assert _page_identifiers(env) == {identifier(1)}
    rows = json.loads(run(env, "sites", "list", "--json").output)["sites"]
    assert [(r["identifier"], r["name"]) for r in rows] == [(identifier(1), "网站1（复核后）")]
    assert rows[0]["rereviewed_on"] is not None
