"""The crawler end to end: sites on loopback, `.政务` names from the local DNS, the real CLI."""

from __future__ import annotations

import json

from sqlalchemy import select

from store.db import make_engine, session_factory, transaction
from store.models import CrawlRun, PageResult, RunState, SiteCheck
from testbed.siteserver import Route, government_page, redirect
from tests.factories import (
    HEADER,
    ascii_name,
    badge,
    by_domain,
    certificate,
    identifier,
    pages,
    register,
    run,
    wait_for,
)


def test_crawl_several_sites(crawl_env, tmp_path, serve_site, dns_server) -> None:
    good = serve_site(
        pages(6, lambda i: badge(1) if i % 2 else badge(1, decoded=True)),
        names=["合规.政务", "www.good.example.cn"],
    )
    partly = serve_site(pages(6, lambda i: "" if i in (2, 4) else badge(2)), names=["缺失.政务"])
    other = serve_site(pages(3, lambda i: badge(9)), names=["冒用.政务"])
    moved = serve_site(pages(2, lambda i: badge(4)), names=["迁移.政务"])
    dns_server.set_records("无法访问.政务", a=["127.0.0.1"])  # nothing listens on :80 there
    register(
        crawl_env,
        tmp_path,
        [
            (1, "合规.政务", good.ip, "www.good.example.cn"),
            (2, "缺失.政务", partly.ip, None),
            (3, "冒用.政务", other.ip, None),
            (4, "迁移.政务", "127.0.0.254", None),  # registered elsewhere than DNS says
            (5, "无法访问.政务", "127.0.0.1", None),
        ],
    )
    result = run(crawl_env, "crawl", "--json", code=None)
    data = json.loads(result.output)
    assert data["run"]["state"] == "finished", result.output
    sites = by_domain(result.output)
    # The crawl really ran: Scrapy's own counters, not only an exit code.
    [last_run] = json.loads(run(crawl_env, "status", "--json").output)["runs"]
    stats = last_run["stats"]
    assert stats["downloader/response_count"] >= 28
    assert stats["badgewatch/sites_finished"] == 5
    assert not [key for key in stats if key.startswith("spider_exceptions")]
    # Only the unreachable site's robots.txt, home page and sitemap failed, after a retry each.
    assert stats["retry/max_reached"] == 3

    s = sites[ascii_name("合规.政务")]
    assert s["status"] == "compliant"
    assert s["pages_checked"] == 14  # both hosts: home + 6 pages each
    assert s["pages_failing"] == 0

    s = sites[ascii_name("缺失.政务")]
    assert s["status"] == "non_compliant"
    assert (s["pages_checked"], s["pages_failing"]) == (7, 2)
    assert s["reasons"] == ["badge_missing"]

    s = sites[ascii_name("冒用.政务")]
    assert s["status"] == "non_compliant"
    assert s["reasons"] == ["badge_other_site"]

    assert sites[ascii_name("迁移.政务")]["status"] == "dns_mismatch"
    assert "dns_mismatch" in sites[ascii_name("迁移.政务")]["reasons"]
    assert moved.hits("/") == 1

    s = sites[ascii_name("无法访问.政务")]
    assert s["status"] == "unreachable"
    assert s["pages_failing"] == 0

    # Every page was stored once, with its verdict and reasons.
    engine = make_engine(crawl_env["BADGEWATCH_DATABASE_URL"])
    with transaction(session_factory(engine)) as session:
        rows = session.execute(select(PageResult.url, PageResult.verdict)).all()
        urls = [u for u, _ in rows]
        assert len(urls) == len(set(urls))
        assert len(rows) == 14 + 7 + 4 + 3 + 1  # the unreachable site: its home page, unfetched
    engine.dispose()

    # status --site lists the pages with their verdicts.
    out = run(crawl_env, "status", "--site", "缺失.政务", "--json").output
    [site] = json.loads(out)["sites"]
    failing = sorted(p["url"] for p in site["pages"] if p["verdict"] == "non_compliant")
    assert [u.rsplit("/", 1)[1] for u in failing] == ["2.html", "4.html"]
    assert all(p["reasons"] == ["badge_missing"] for p in site["pages"] if p["url"] in failing)


def test_recheck_page_keeps_site_status(crawl_env, tmp_path, serve_site) -> None:
    site = serve_site(pages(3, lambda i: badge(1)), names=["复查.政务"])
    register(crawl_env, tmp_path, [(1, "复查.政务", site.ip, None)])
    first = by_domain(run(crawl_env, "crawl", "--json").output)[ascii_name("复查.政务")]
    assert first["status"] == "compliant"
    # The webmaster breaks one page; a page recheck reports it without judging the whole site.
    site.set_route("/p/1.html", government_page("页面1", [], "", size_kb=8))
    out = run(crawl_env, "recheck", site.url("/p/1.html", name="复查.政务"), "--json").output
    [checked] = json.loads(out)["sites"]
    assert [(p["verdict"], p["reasons"]) for p in checked["pages"]] == [
        ("non_compliant", ["badge_missing"])
    ]
    status = json.loads(run(crawl_env, "status", "--json").output)["sites"][0]
    assert status["status"] == "compliant"
    assert status["checked_at"] == first["checked_at"]
    # A whole-site recheck does judge it.
    again = json.loads(run(crawl_env, "recheck", "复查.政务", "--json").output)["sites"][0]
    assert again["status"] == "non_compliant"


def test_hostile_and_broken_sites(crawl_env, tmp_path, serve_site) -> None:
    ok = badge(1)
    links = [
        "/big.html", "/bomb.html", "/slow.html", "/error.html", "/loop1.html", "/away.html",
        "/report.pdf", "/file", "/gbk.html", "/liar.html", "/broken.html", "/many.html",
        "/cal?d=1", "/private.html",
    ]
    home = government_page("首页", links, ok, size_kb=4)
    many = "<html><body>" + "".join(
        f'<a href="/m/{i}.html">{i}</a>' for i in range(20_000)
    ) + ok + "</body></html>"
    calendar = government_page("日历", ["/cal?d=1"], ok, size_kb=2)
    routes: dict[str, Route | str] = {
        "/": home,
        "/robots.txt": Route(body="User-agent: *\nDisallow: /private.html\n",
                             content_type="text/plain"),
        "/big.html": "<html><body>" + "x" * 1_200_000 + ok + "</body></html>",
        "/bomb.html": Route(body=("<html><body>" + " " * 3_000_000 + "</body></html>"), gzip=True),
        "/slow.html": Route(body=home, delay=5),
        "/error.html": Route(status=500, body="oops"),
        "/loop1.html": redirect("/loop2.html"),
        "/loop2.html": redirect("/loop1.html"),
        "/away.html": redirect("http://www.example.com/"),
        "/report.pdf": Route(body=b"%PDF-1.4", content_type="application/pdf"),
        "/file": Route(body=b"%PDF-1.4", content_type="application/pdf"),
        "/gbk.html": Route(
            body=government_page("国标页面", [], ok, size_kb=4, charset="gbk").encode("gbk"),
            content_type="text/html; charset=gbk",
        ),
        "/liar.html": Route(
            body=government_page("谎报编码", [], ok, size_kb=4, charset="gb2312").encode("utf-8"),
            content_type="text/html; charset=gb2312",
        ),
        "/broken.html": "<html><body><div><p><table><tr><td>未闭合" + ok + "<div></span>",
        "/many.html": many,
        "/private.html": government_page("内部", [], "", size_kb=2),
    }
    for i in range(1, 120):
        routes[f"/cal?d={i}"] = calendar.replace("/cal?d=1", f"/cal?d={i + 1}")
    site = serve_site(routes, names=["刁难.政务"])
    register(crawl_env, tmp_path, [(1, "刁难.政务", site.ip, None)])
    env = {
        **crawl_env,
        "BADGEWATCH_CRAWL_MAX_PAGE_BYTES": "1000000",
        "BADGEWATCH_CRAWL_MAX_PAGES_PER_SITE": "300",
        "BADGEWATCH_CRAWL_MAX_QUERY_VARIANTS": "20",
    }
    out = run(env, "status", "--json")  # nothing crawled yet
    assert json.loads(out.output)["sites"][0]["status"] == "unchecked"
    result = run(env, "crawl", "--site", "刁难.政务", "--json", code=None)
    [s] = json.loads(result.output)["sites"]
    pages_by_path = {p["url"].split(".xn--zfr164b", 1)[-1]: p for p in s["pages"]}

    # Pages that could not be fetched are not checked, and never make the site fail.
    for path in ("/big.html", "/bomb.html", "/slow.html", "/error.html", "/loop1.html"):
        assert pages_by_path[path]["verdict"] == "not_checked", path
        assert pages_by_path[path]["reasons"] == ["fetch_error"], path
    assert site.hits("/error.html") == 2  # retried once
    # A redirect off the site is not followed.
    assert pages_by_path["/away.html"]["verdict"] == "not_checked"
    assert not any("example.com" in url for url in pages_by_path)
    # Attachments are not pages.
    assert "/report.pdf" not in pages_by_path and site.hits("/report.pdf") == 0
    assert "/file" not in pages_by_path
    # Chinese encodings: real GBK, and a page whose declared charset lies.
    assert pages_by_path["/gbk.html"]["verdict"] == "compliant"
    assert pages_by_path["/liar.html"]["verdict"] == "compliant"
    assert pages_by_path["/broken.html"]["verdict"] == "compliant"
    # Traps and caps: the crawl ends, within the page cap and the query-variant cap.
    assert pages_by_path["/many.html"]["verdict"] == "compliant"
    calendar_pages = [p for p in pages_by_path if p.startswith("/cal?")]
    assert 0 < len(calendar_pages) <= 20
    assert s["pages_checked"] + s["pages_not_checked"] <= 300
    # robots.txt is obeyed and what it excluded is counted.
    assert "/private.html" not in pages_by_path and site.hits("/private.html") == 0
    assert s["robots_excluded"] == 1
    assert s["status"] == "compliant", s


def test_private_address_refused_unless_allowed(crawl_env, tmp_path, serve_site) -> None:
    site = serve_site(pages(2, lambda i: badge(1)), names=["内网.政务"])
    register(crawl_env, tmp_path, [(1, "内网.政务", site.ip, None)])
    env = {**crawl_env, "BADGEWATCH_CRAWL_ALLOW_PRIVATE_NETWORKS": "false"}
    [s] = json.loads(run(env, "crawl", "--json").output)["sites"]
    assert s["status"] == "unreachable"
    assert s["pages_failing"] == 0
    assert site.hits("/") == 0
    [s] = json.loads(run(crawl_env, "crawl", "--json").output)["sites"]
    assert s["status"] == "compliant"


def test_killed_crawl_keeps_previous_verdict(crawl_env, tmp_path, serve_site) -> None:
    import os
    import signal
    import subprocess
    import sys

    routes = pages(150, lambda i: badge(1))
    site = serve_site(routes, names=["中断.政务"])
    register(crawl_env, tmp_path, [(1, "中断.政务", site.ip, None)])
    first = json.loads(run(crawl_env, "crawl", "--json").output)["sites"][0]
    assert first["status"] == "compliant", first

    # Now every page is slow and missing its badge; kill the crawl part-way.
    for path in list(routes):
        site.set_route(path, Route(body=government_page(path, list(routes), "", 8), delay=0.3))
    env = {**os.environ, **crawl_env}
    parent = subprocess.Popen(
        [sys.executable, "-m", "badgewatch", "crawl", "--json"], env=env,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    engine = make_engine(crawl_env["BADGEWATCH_DATABASE_URL"])
    factory = session_factory(engine)

    def crawl_pid() -> int | None:
        """The second run's crawl process, once it has written five pages."""
        with transaction(factory) as session:
            run_row = session.scalars(select(CrawlRun).order_by(CrawlRun.id.desc())).first()
            if run_row is not None and run_row.id > 1 and run_row.pages >= 5:
                return run_row.pid
        return None

    child_pid = wait_for(crawl_pid, 60, "the crawl to get going")
    os.kill(child_pid, signal.SIGKILL)
    out, err = parent.communicate(timeout=60)
    assert parent.returncode == 1, (out, err)

    status = json.loads(run(crawl_env, "status", "--json").output)
    [s] = status["sites"]
    assert s["status"] == "compliant"
    assert s["checked_at"] == first["checked_at"]
    latest = status["runs"][0]
    assert latest["state"] == "incomplete"
    with transaction(factory) as session:
        checks = session.scalars(select(SiteCheck).order_by(SiteCheck.id)).all()
        assert [c.complete for c in checks] == [True, False]
        runs = session.scalars(select(CrawlRun).order_by(CrawlRun.id)).all()
        assert [r.state for r in runs] == [RunState.FINISHED, RunState.INCOMPLETE]
    engine.dispose()


def test_registered_footer_numbers_checked_on_each_page(crawl_env, tmp_path, serve_site) -> None:
    site = serve_site(pages(2, lambda i: badge(1)), names=["页脚.政务"])
    run(crawl_env, "office", "add", "330000", "浙江省委编办", "--level", "province")
    path = tmp_path / "sites.csv"
    path.write_text(
        f"{HEADER},site_code,icp\n单位1,330000,网站1,页脚.政务,,{site.ip},,{identifier(1)},"
        f"{certificate(1)},2026-10-09,1304000009,冀ICP备99999999号\n",
        encoding="utf-8",
    )
    run(crawl_env, "sites", "import", str(path))
    out = run(crawl_env, "recheck", site.url("/p/1.html", name="页脚.政务"), "--json").output
    [checked] = json.loads(out)["sites"]
    # the testbed's footer shows 网站标识码：1304000009 and another ICP number: a warning
    assert [(p["verdict"], p["reasons"]) for p in checked["pages"]] == [
        ("compliant", ["ok", "icp_mismatch"])
    ]
