"""The rendered stage inside a real crawl: sampling, stored verdicts and evidence, a crash."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import idna
import pytest
from click.testing import CliRunner
from sqlalchemy import select

from badgewatch.cli.main import cli
from store.db import make_engine, session_factory, transaction
from store.models import PageRender, SiteCheck
from testbed.badgehost import Registration
from testbed.siteserver import Route
from tests.factories import CERT, IDENT, loopback_env, page, set_ip, snippet

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts" / "render-crawl"
NAME = "渲染.政务"


def template(kind: str, footer: str, links: list[str], footer_style: str = "") -> str:
    """Pages of one template share their layout classes; the kinds differ."""
    nav = "".join(f'<a href="{link}">{link}</a> ' for link in links)
    style = footer_style or "text-align:center"
    return page(footer, footer_style=style).replace(
        '<div class="main">', f'<div class="main layout-{kind}"><nav class="nav-{kind}">{nav}</nav>'
    )


@pytest.fixture
def env(tmp_path, sqlite_url, dns_config, badge_host, request) -> dict[str, str]:
    badge_host.register(Registration(IDENT, CERT, "某某市人民政府办公室", "某某市人民政府网", NAME))
    data_dir = ARTIFACTS / request.node.name
    env = {
        **loopback_env(sqlite_url, dns_config, data_dir,
                       RENDER_BLOCKED_HOSTS="recv1.badges.test"),
        **badge_host.env,
    }
    runner = CliRunner()
    assert runner.invoke(cli, ["office", "add", "330000", "浙江", "--level", "province"],
                         env=env).exit_code == 0
    csv = tmp_path / "s.csv"
    csv.write_text(
        "unit,office,site_name,domain,english_domain,ipv4,ipv6,site_id,certificate,notified_on\n"
        f"单位,330000,渲染网站,{NAME},,127.0.0.1,,{IDENT},{CERT},2026-10-09\n",
        encoding="utf-8",
    )
    assert runner.invoke(cli, ["sites", "import", str(csv)], env=env).exit_code == 0
    return env


def test_crawl_renders_a_sample_and_stores_evidence(env, serve_site) -> None:
    ok = snippet_for(env)
    links = ["/news/1.html", "/news/2.html", "/news/3.html", "/about.html"]
    routes = {
        "/": template("home", ok, links),
        "/news/1.html": template("article", ok, links),
        "/news/2.html": template("article", ok, links),
        "/news/3.html": template("article", ok, links),
        # Statically fine, but this template puts the badge in the right corner.
        "/about.html": template("about", ok, links, footer_style="text-align:right"),
    }
    site = serve_site(routes, names=[NAME])
    set_ip(env, site.ip)
    result = CliRunner().invoke(cli, ["crawl", "--json", "--site", NAME], env=env)
    assert result.exit_code == 0, result.output
    [summary] = json.loads(result.output)["sites"]
    assert summary["status"] == "non_compliant"
    assert "badge_not_centered" in summary["reasons"]
    assert summary["pages_failing"] == 1
    # Rendered: the home page and one page per template (three templates), not every article.
    # Which article stands for its template is whichever the crawl met first.
    renders = {r["url"].rsplit("/", 1)[1] or "/": r for r in summary["renders"]}
    [article] = set(renders) - {"/", "about.html"}
    assert sorted(renders) == sorted(["/", article, "about.html"])
    assert article in {"1.html", "2.html", "3.html"}
    assert renders["about.html"]["reasons"] == ["badge_not_centered"]
    assert renders["/"]["verdict"] == "compliant"
    # Evidence ([render] evidence = failing_and_home): the failing page and the home page.
    assert renders[article]["screenshot"] is None
    for name in ("/", "about.html"):
        shot = Path(env["BADGEWATCH_PATHS_DATA_DIR"]) / renders[name]["screenshot"]
        assert shot.read_bytes()[:4] == b"\x89PNG"
    status = CliRunner().invoke(cli, ["status", "--site", NAME, "--json"], env=env)
    assert json.loads(status.output)["sites"][0]["renders"] == summary["renders"]


def snippet_for(env: dict[str, str]) -> str:
    from badgewatch.config import load_config

    return snippet(load_config(environ=env))


def test_killed_chromium_is_survived(env, serve_site) -> None:
    ok = snippet_for(env)
    kinds = ["a", "b", "c", "d", "e"]
    links = [f"/{k}.html" for k in kinds]
    routes: dict[str, Route | str] = {"/slow.png": Route(body=b"\x89PNG", content_type="image/png",
                                                         delay=2)}
    for kind in ["home", *kinds]:
        body = template(kind, ok, links).replace("</body>", '<img src="/slow.png"></body>')
        routes["/" if kind == "home" else f"/{kind}.html"] = body
    site = serve_site(routes, names=[NAME])
    set_ip(env, site.ip)
    crawl_env = {**os.environ, **env, "BADGEWATCH_RENDER_CONCURRENCY": "1"}
    crawl = subprocess.Popen(
        [".venv/bin/python", "-m", "badgewatch", "crawl", "--json"],
        env=crawl_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        cwd=Path(__file__).resolve().parent.parent,
    )
    # Wait until Chromium is rendering, then kill the whole browser (only ours: its
    # resolver rules name this test's site).
    ours = f"host-resolver-rules=.*MAP {idna.encode(NAME).decode()} "
    killed = False
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not killed:
        found = subprocess.run(
            ["pgrep", "-f", ours], check=False, capture_output=True, text=True
        ).stdout.split()
        if found and site.hits("/slow.png") >= 1:
            for pid in found:
                try:
                    os.kill(int(pid), signal.SIGKILL)
                    killed = True
                except ProcessLookupError:
                    pass
        time.sleep(0.1)
    assert killed, "Chromium never started rendering"
    out, err = crawl.communicate(timeout=120)
    assert crawl.returncode == 0, err.decode()[-2000:]
    [summary] = json.loads(out)["sites"]
    # The crash cost some renders, never the verdict: every page has its badge.
    assert summary["status"] == "compliant", summary
    engine = make_engine(env["BADGEWATCH_DATABASE_URL"])
    with transaction(session_factory(engine)) as session:
        check = session.scalars(select(SiteCheck)).one()
        assert check.complete
        assert check.renders["note"] == "could not check (render)"
        verdicts = [r.verdict for r in session.scalars(select(PageRender))]
    engine.dispose()
    assert "not_checked" in verdicts
    # The browser was relaunched: renders after the crash succeeded.
    assert "compliant" in verdicts
    assert subprocess.run(["pgrep", "-f", ours], check=False, capture_output=True).returncode == 1


def test_check_url_with_render(env, serve_site) -> None:
    ok = snippet_for(env)
    site = serve_site(
        {"/": template("home", ok, []),
         "/right.html": template("home", ok, [], footer_style="text-align:right")},
        names=[NAME],
    )
    set_ip(env, site.ip)
    runner = CliRunner()
    good = runner.invoke(cli, ["check", site.url("/", name=NAME), "--site", NAME, "--render",
                               "--json"], env=env)
    assert good.exit_code == 0, good.output
    data = json.loads(good.output)
    assert data["verdict"] == "compliant"
    assert data["rendered"]["verdict"] == "compliant"
    assert Path(data["rendered"]["screenshot"]).read_bytes()[:4] == b"\x89PNG"
    right = runner.invoke(cli, ["check", site.url("/right.html", name=NAME), "--site", NAME,
                                "--render", "--json"], env=env)
    assert right.exit_code == 3, right.output
    data = json.loads(right.output)
    assert data["reasons"] == ["badge_not_centered"]
    assert "底部中间" in data["message"]
    # A file cannot be rendered: there is no server to load the badge from.
    page_file = Path(env["BADGEWATCH_PATHS_DATA_DIR"]) / "t.html"
    page_file.parent.mkdir(parents=True, exist_ok=True)
    page_file.write_text(template("home", ok, []), encoding="utf-8")
    assert runner.invoke(cli, ["check", str(page_file), "--site", NAME, "--render"],
                         env=env).exit_code == 2


def test_an_incremental_recrawl_renders_what_the_last_check_rendered(env, serve_site) -> None:
    """A carried page is not rendered; the pages the last check rendered are read in full
    again, so a badge only the browser finds wrong stays caught on an unchanged site."""
    ok = snippet_for(env)
    links = ["/news/1.html", "/news/2.html", "/about.html"]
    bodies = {
        "/": template("home", ok, links),
        "/news/1.html": template("article", ok, links),
        "/news/2.html": template("article", ok, links),
        "/about.html": template("about", ok, links, footer_style="text-align:right"),
    }
    routes = {path: Route(body=body, etag=f'"{n}"')
              for n, (path, body) in enumerate(bodies.items())}
    site = serve_site(routes, names=[NAME])
    set_ip(env, site.ip)
    env = {**env, "BADGEWATCH_CRAWL_FULL_FETCH_SAMPLE": "0"}
    runs = []
    for _ in range(2):
        site.clear_requests()
        result = CliRunner().invoke(cli, ["crawl", "--json", "--site", NAME], env=env)
        assert result.exit_code == 0, result.output
        [summary] = json.loads(result.output)["sites"]
        runs.append(summary)
    first, second = runs
    rendered = sorted(r["url"] for r in first["renders"])
    assert sorted(r["url"] for r in second["renders"]) == rendered
    assert second["status"] == "non_compliant"
    assert "badge_not_centered" in second["reasons"]
    answers = {a.path: a for a in site.answers if a.path.endswith((".html", "/"))}
    [article] = [u.rsplit("/", 1)[1] for u in rendered if "/news/" in u]
    other = "/news/" + ("2.html" if article == "1.html" else "1.html")
    assert answers[other].status == 304  # not rendered last time: asked with its validator
    for path in ("/", "/about.html", f"/news/{article}"):
        assert (answers[path].if_none_match, answers[path].status) == (None, 200)
    engine = make_engine(env["BADGEWATCH_DATABASE_URL"])
    with transaction(session_factory(engine)) as session:
        check = session.scalars(select(SiteCheck).order_by(SiteCheck.id.desc())).first()
        assert check is not None and check.incremental and check.pages_carried == 1
    engine.dispose()
