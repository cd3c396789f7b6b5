"""`badgewatch check`: a webmaster checks a template or a live page before deploying it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from badgewatch.cli.main import cli
from badgewatch.config import BadgeConfig
from testbed.siteserver import Route, government_page
from workflow.issuance import issued_snippet, make_code

IDENT = "CA330000000604258890010"
OTHER = "CA110000000604381890000"
CERT = "0A87C46FEE4D331AE053022819ACDC8C"


def snippet(identifier: str = IDENT) -> str:
    return issued_snippet(BadgeConfig(), make_code(BadgeConfig(), identifier, CERT))


def check(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(cli, ["check", *args], env={"BADGEWATCH_CONFIG": "", **(env or {})})


@pytest.mark.parametrize(
    ("footer", "code", "verdict", "reasons"),
    [
        (snippet(), 0, "compliant", ["ok"]),
        ("", 3, "non_compliant", ["badge_missing"]),
        (snippet(OTHER), 3, "non_compliant", ["badge_other_site"]),
        (f"<!-- {snippet()} -->", 3, "non_compliant", ["badge_inactive"]),
    ],
)
def test_file_against_bare_identifier(tmp_path: Path, footer, code, verdict, reasons) -> None:
    """A template on disk, a bare identifier: no database is needed at all."""
    page = tmp_path / "footer.html"
    page.write_text(government_page("模板", [], footer, size_kb=4), encoding="utf-8")
    result = check(str(page), "--site", IDENT, "--json",
                   env={"BADGEWATCH_DATABASE_URL": "sqlite:////nonexistent/dir/never.db"})
    assert result.exit_code == code, result.output
    data = json.loads(result.output)
    assert data["verdict"] == verdict
    assert data["reasons"][: len(reasons)] == reasons
    assert set(data) == {"verdict", "reasons", "identifiers", "message"}
    assert any("\u4e00" <= ch <= "\u9fff" for ch in data["message"])


def test_plain_output_and_bad_input(tmp_path: Path) -> None:
    page = tmp_path / "p.html"
    page.write_text(government_page("模板", [], snippet(), size_kb=4), encoding="utf-8")
    result = check(str(page), "--site", IDENT)
    assert result.exit_code == 0
    assert result.output.startswith("compliant: ok")
    assert check(str(tmp_path / "missing.html"), "--site", IDENT).exit_code == 2
    db = f"sqlite:///{tmp_path / 'empty.db'}"
    upgraded = CliRunner().invoke(cli, ["db", "upgrade"], env={"BADGEWATCH_DATABASE_URL": db})
    assert upgraded.exit_code == 0
    unknown = check(str(page), "--site", "未登记.政务", env={"BADGEWATCH_DATABASE_URL": db})
    assert unknown.exit_code == 2
    assert "未登记.政务" in unknown.output


def test_url_against_registered_domain(tmp_path, sqlite_url, dns_config, serve_site) -> None:
    site = serve_site(
        {
            "/": government_page("首页", [], snippet(), size_kb=4),
            "/gbk.html": Route(
                body=government_page("国标", [], snippet(), size_kb=4, charset="gbk").encode("gbk"),
                content_type="text/html; charset=gbk",
            ),
            "/bare.html": government_page("无标识", [], "", size_kb=4),
            "/down.html": Route(status=503, body="busy"),
        },
        names=["样板.政务"],
    )
    env = {
        "BADGEWATCH_DATABASE_URL": sqlite_url,
        "BADGEWATCH_DNS_NAMESERVERS": ",".join(dns_config.nameservers),
        "BADGEWATCH_CRAWL_ALLOW_PRIVATE_NETWORKS": "true",  # the sites are on loopback
    }
    runner = CliRunner()
    runner.invoke(cli, ["office", "add", "330000", "浙江", "--level", "province"], env=env)
    csv = tmp_path / "s.csv"
    csv.write_text(
        "unit,office,site_name,domain,english_domain,ipv4,ipv6,site_id,certificate,notified_on\n"
        f"单位,330000,样板网站,样板.政务,,{site.ip},,{IDENT},{CERT},2026-10-09\n",
        encoding="utf-8",
    )
    assert runner.invoke(cli, ["sites", "import", str(csv)], env=env).exit_code == 0

    ok = check(site.url("/", name="样板.政务"), "--site", "样板.政务", "--json", env=env)
    assert ok.exit_code == 0, ok.output
    assert json.loads(ok.output)["identifiers"] == [IDENT]
    gbk = check(site.url("/gbk.html", name="样板.政务"), "--site", "xn--msvwp.xn--zfr164b",
                "--json", env=env)
    assert gbk.exit_code == 0, gbk.output
    bare = check(site.url("/bare.html", name="样板.政务"), "--site", "样板.政务", "--json", env=env)
    assert bare.exit_code == 3
    assert json.loads(bare.output)["reasons"] == ["badge_missing"]
    # [crawl] failing_reasons decides for `check` as for the crawl, on a URL and on a file
    lenient = {**env, "BADGEWATCH_CRAWL_FAILING_REASONS": '["badge_other_site"]'}
    bare_url = check(site.url("/bare.html", name="样板.政务"), "--site", "样板.政务", "--json",
                     env=lenient)
    assert bare_url.exit_code == 0, bare_url.output
    assert json.loads(bare_url.output)["reasons"] == ["badge_missing"]
    bare_file = tmp_path / "bare.html"
    bare_file.write_text(government_page("无标识", [], "", size_kb=4), encoding="utf-8")
    assert check(str(bare_file), "--site", IDENT, env=lenient).exit_code == 0
    assert check(str(bare_file), "--site", IDENT, env=env).exit_code == 3
    down = check(site.url("/down.html", name="样板.政务"), "--site", IDENT, "--json", env=env)
    assert json.loads(down.output)["verdict"] == "not_checked"
    assert json.loads(down.output)["reasons"] == ["fetch_error"]
    assert down.exit_code == 1


@pytest.mark.parametrize("failure", ["refused", "drop"])
def test_url_whose_dns_refuses_or_drops_aaaa(tmp_path, dns_config, dns_server, serve_site,
                                             failure) -> None:
    """The fetch needs only IPv4: an AAAA question that fails does not stop it."""
    from tests.crawling import badgewatch

    site = serve_site({"/": government_page("首页", [], snippet(), size_kb=4)},
                      names=["单栈.政务"])
    dns_server.set_failure("单栈.政务", failure, rdtype="AAAA")
    env = {
        "BADGEWATCH_CONFIG": "",
        "BADGEWATCH_DATABASE_URL": f"sqlite:///{tmp_path / 'unused.db'}",
        "BADGEWATCH_DNS_NAMESERVERS": ",".join(dns_config.nameservers),
        "BADGEWATCH_DNS_TIMEOUT": "1",
        "BADGEWATCH_CRAWL_ALLOW_PRIVATE_NETWORKS": "true",
        "BADGEWATCH_PATHS_DATA_DIR": str(tmp_path / "var"),
    }
    done = badgewatch(env, "check", "http://单栈.政务/", "--site", IDENT, "--json", timeout=120)
    assert done.returncode == 0, (done.stdout, done.stderr)
    assert json.loads(done.stdout)["verdict"] == "compliant"
    assert site.hits("/") == 1
