"""A crawled page whose title and URLs carry script: the report shows them as text."""

from __future__ import annotations

import json

from click.testing import CliRunner
from selectolax.lexbor import LexborHTMLParser
from w3lib.url import safe_url_string

from badgewatch.cli.main import cli
from testbed.siteserver import government_page
from tests.factories import loopback_env, parse_page, set_ip, texts

NAME = "恶意标题.政务"
TITLE = '<script>alert("标题")</script>关于<img src=x onerror=alert(2)>的通知'
PATH = '/news/a"><script>alert(1)</script>.html'


def test_hostile_title_and_url_are_text_in_the_report(
    tmp_path, sqlite_url, dns_config, serve_site
) -> None:
    env = loopback_env(sqlite_url, dns_config, tmp_path / "data", RENDER_ENABLED="false")
    runner = CliRunner()
    assert runner.invoke(cli, ["office", "add", "330000", "浙江省委编办", "--level", "province"],
                         env=env).exit_code == 0
    csv = tmp_path / "s.csv"
    csv.write_text(
        "unit,office,site_name,domain,english_domain,ipv4,ipv6,site_id,certificate,notified_on\n"
        f"单位,330000,测试网站,{NAME},,127.0.0.1,,CA330000000604258890010,"
        "0A87C46FEE4D331AE053022819ACDC8C,2026-10-09\n",
        encoding="utf-8",
    )
    assert runner.invoke(cli, ["sites", "import", str(csv)], env=env).exit_code == 0
    # No badge anywhere, so both pages fail and are listed with their titles and URLs.
    page = government_page("测试", [PATH], "", size_kb=4).replace(
        "<title>测试</title>", f"<title>{TITLE}</title>"
    )
    site = serve_site({"/": page, safe_url_string(PATH): page}, names=[NAME])
    set_ip(env, site.ip)
    crawl = runner.invoke(cli, ["crawl", "--json", "--site", NAME], env=env)
    assert crawl.exit_code == 0, crawl.output
    [summary] = json.loads(crawl.output)["sites"]
    assert summary["status"] == "non_compliant" and summary["pages_failing"] == 2

    out = tmp_path / "report"
    done = runner.invoke(cli, ["report", "--office", "330000", "--out", str(out)], env=env)
    assert done.exit_code == 0, done.output
    [site_page] = out.glob("site-*.html")
    html = site_page.read_text("utf-8")
    tree = LexborHTMLParser(html)
    # The page runs no script and carries no handler: what the crawl brought in is only text.
    assert tree.css("script") == []
    assert not [n for n in tree.css("*") if any(a.startswith("on") for a in n.attributes)]
    titles = [n.text() for n in tree.css("#pages td.url div")]
    assert titles == [TITLE, TITLE]
    links = [a.attributes["href"] for a in tree.css("#pages td.url a")]
    assert f"http://{site.names[0]}{safe_url_string(PATH)}" in links
    # The office page's table shows the site; its search attribute is escaped too.
    office = parse_page(out / "office-330000.html")
    [row] = office.css("#site-table tbody tr")
    assert texts(row, 'td[data-label="网站"] a') == ["测试网站"]
    assert (row.attributes["data-search"] or "").startswith(f"测试网站 {NAME} ")
    assert not [s for s in office.css("script") if "alert" in s.text()]
