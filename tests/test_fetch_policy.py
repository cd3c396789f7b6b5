"""One fetch path and one address policy for the crawl and ``badgewatch check URL``.

The policy refuses loopback, private, link-local, shared, reserved and multicast addresses
(unless ``[crawl] allow_private_networks`` or ``[crawl] allowed_networks`` allows them) in every
spelling a browser accepts, after every DNS answer and after every redirect. Sites are real
servers on loopback; ``allowed_networks`` lets a test allow exactly one of them, so the others
stand for the private addresses a hostile page points at.
"""

from __future__ import annotations

import gzip
import json
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from testbed.siteserver import Route, government_page, redirect
from tests.crawling import badgewatch, crawl_site, last_check
from tests.factories import ascii_name, badge, identifier, register

IDENT = identifier(1)


# --- check URL --------------------------------------------------------------------------------


@pytest.fixture
def check_env(tmp_path: Path, sqlite_url: str, dns_config) -> dict[str, str]:
    return {
        "BADGEWATCH_CONFIG": "",
        "BADGEWATCH_DATABASE_URL": sqlite_url,
        "BADGEWATCH_DNS_NAMESERVERS": ",".join(dns_config.nameservers),
        "BADGEWATCH_CRAWL_ALLOW_PRIVATE_NETWORKS": "false",
        "BADGEWATCH_CRAWL_DOWNLOAD_TIMEOUT": "2",
        "BADGEWATCH_CRAWL_RETRIES": "1",
        "BADGEWATCH_RENDER_ENABLED": "false",
        "BADGEWATCH_PATHS_DATA_DIR": str(tmp_path / "var"),
    }


def check_url(env: dict[str, str], url: str, site: str = IDENT, timeout: float = 120.0) -> Any:
    done = badgewatch(env, "check", url, "--site", site, "--json", timeout=timeout)
    assert "Traceback" not in done.stderr, done.stderr
    data = json.loads(done.stdout) if done.stdout.strip() else None
    return done.returncode, data, done.stderr


def metadata_site(serve_site, names: tuple[str, ...] = ()) -> Any:
    """A server that answers like a cloud metadata service, with a valid badge page."""
    page = government_page("元数据", [], badge(1), size_kb=2)
    return serve_site({"/latest/meta-data/": page, "/": page}, names=names)


def test_check_refuses_every_spelling_of_a_loopback_address(check_env, serve_site) -> None:
    site = metadata_site(serve_site)
    n = int(site.ip.rsplit(".", 1)[1])
    spellings = [
        site.ip,
        f"127.{n}",
        str(2130706432 + n),
        f"0x7f.0.0.{n}",
        f"0177.0.0.{oct(n)[2:].zfill(4)}",
        f"[::ffff:127.0.0.{n}]",
        "[::1]",
    ]
    for host in spellings:
        code, data, _ = check_url(check_env, f"http://{host}/latest/meta-data/")
        assert code == 1, (host, data)
        assert data["verdict"] == "not_checked" and data["reasons"] == ["fetch_error"], host
        assert "回环地址" in data["message"], (host, data["message"])
        assert "[crawl] allow_private_networks" in data["message"], host
    assert site.requests == []
    # The same server is reached once private networks are allowed (the refusals above were
    # the policy's, not a dead server), through a short spelling too.
    allowed = {**check_env, "BADGEWATCH_CRAWL_ALLOW_PRIVATE_NETWORKS": "true"}
    for host in (site.ip, f"127.{n}"):
        code, data, _ = check_url(allowed, f"http://{host}/latest/meta-data/")
        assert (code, data["verdict"]) == (0, "compliant"), (host, data)
    assert site.hits("/latest/meta-data/") == 2


def test_check_refuses_names_that_resolve_to_private_addresses(
    check_env, serve_site, dns_server
) -> None:
    site = metadata_site(serve_site, names=["环回.政务"])
    dns_server.set_records("内网.政务", a=["10.1.2.3"])
    dns_server.set_records("元数据.政务", a=["169.254.169.254"])
    cases = [
        ("环回.政务", site.ip, "回环地址"),
        ("内网.政务", "10.1.2.3", "内网地址"),
        ("元数据.政务", "169.254.169.254", "链路本地地址"),
    ]
    for name, address, kind in cases:
        code, data, _ = check_url(check_env, f"http://{ascii_name(name)}/latest/meta-data/")
        assert code == 1, (name, data)
        message = data["message"]
        assert address in message and kind in message, message
        assert "[crawl] allow_private_networks" in message
        assert "DNS" not in message and "无法解析" not in message
    assert site.requests == []
    code, data, _ = check_url(check_env, f"http://{ascii_name('没有这个.政务')}/")
    assert code == 1
    assert "无法解析" in data["message"]


@pytest.fixture
def two_hosts(check_env, tmp_path: Path, serve_site, dns_server) -> dict[str, Any]:
    """样板.政务 (registered) on an allowed address; its English domain on another (private)
    one; another site, allowed too, with another unit's badge."""
    inside = serve_site(names=["www.yangban.example"])
    inside.set_route("/p.html", government_page("内部", [], badge(1), size_kb=2))
    foreign = serve_site({"/": government_page("他站", [], badge(9), size_kb=2)},
                         names=["冒用.政务"])
    main = serve_site(
        {
            "/": government_page("样板", [], badge(1), size_kb=2),
            quote("/新闻/一.html"): government_page("新闻", [], badge(1), size_kb=2),
            "/to-private": redirect("http://www.yangban.example/p.html"),
            "/to-literal": redirect(f"http://{inside.ip}/p.html"),
            "/to-odd-literal": redirect("http://2130706433/"),
            "/away": redirect(f"http://{ascii_name('冒用.政务')}/"),
            "/hop": redirect(quote("/新闻/一.html")),
            "/double-gzip": Route(
                body=gzip.compress(gzip.compress(
                    government_page("双重压缩", [], badge(1), size_kb=4).encode()
                )),
                headers={"Content-Encoding": "gzip, gzip"},
            ),
        },
        names=["样板.政务"],
    )
    env = {
        **check_env,
        "BADGEWATCH_CRAWL_ALLOWED_NETWORKS": f"{main.ip}/32,{foreign.ip}/32",
    }
    register(env, tmp_path, [(1, "样板.政务", main.ip, "www.yangban.example")])
    return {"env": env, "main": main, "inside": inside, "foreign": foreign}


def test_check_redirects_follow_the_site_and_the_policy(two_hosts) -> None:
    env, inside, foreign = (two_hosts[k] for k in ("env", "inside", "foreign"))

    code, data, _ = check_url(env, "http://样板.政务/hop")  # Unicode host, same-site redirect
    assert (code, data["verdict"]) == (0, "compliant"), data

    # To the site's own English domain, whose DNS points at a private address.
    code, data, _ = check_url(env, "http://样板.政务/to-private", site="样板.政务")
    assert code == 1, data
    assert inside.ip in data["message"] and "回环地址" in data["message"]

    for path in ("/to-literal", "/to-odd-literal", "/away"):
        code, data, _ = check_url(env, f"http://样板.政务{path}", site="样板.政务")
        assert code == 1, (path, data)
        assert data["reasons"] == ["fetch_error"], (path, data)
        assert "重定向" in data["message"], (path, data)
    assert inside.requests == [] and foreign.requests == []


def test_check_reads_unicode_urls_and_stacked_encodings(two_hosts) -> None:
    env = two_hosts["env"]
    code, data, _ = check_url(env, "http://样板.政务/新闻/一.html", site="样板.政务")
    assert (code, data["verdict"]) == (0, "compliant"), data
    code, data, _ = check_url(env, "http://xn--msvwp.xn--zfr164b/double-gzip")
    assert (code, data["verdict"]) == (0, "compliant"), data


def test_check_has_a_total_time_limit_against_a_slow_drip(check_env, serve_site) -> None:
    page = government_page("慢速", [], badge(1), size_kb=4)
    site = serve_site({"/": Route(body=page, chunk_size=8, chunk_delay=1.0)}, names=["慢.政务"])
    env = {**check_env, "BADGEWATCH_CRAWL_ALLOW_PRIVATE_NETWORKS": "true"}
    started = time.monotonic()
    code, data, _ = check_url(env, site.url("/", name="慢.政务"), timeout=150)
    elapsed = time.monotonic() - started
    assert code == 1, data
    assert "超时" in data["message"]
    # Two attempts of 2 s each (download_timeout × (retries + 1)), far from the 500 s the drip
    # would take; the margin covers starting the fetch process on a busy machine.
    assert elapsed < 100
    assert site.hits("/") == 2


def test_bad_urls_are_bad_input(check_env) -> None:
    for url in ("http://", "ftp://example.gov.cn/", "http://256.1.1.1/", "http://a b/"):
        done = badgewatch(check_env, "check", url, "--site", IDENT)
        assert done.returncode == 2, (url, done.stdout, done.stderr)
        assert "PATH_OR_URL" in done.stderr
        assert "Traceback" not in done.stderr


# --- the crawl --------------------------------------------------------------------------------


def test_crawl_refuses_redirects_and_hosts_on_private_addresses_with_the_reason(
    crawl_env, tmp_path: Path, serve_site, dns_server
) -> None:
    inside = serve_site(names=["www.neiwang.example"])
    inside.set_route("/", government_page("内部", [], badge(1), size_kb=2))
    main = serve_site(
        {
            "/": government_page("首页", ["/to-private", "/to-literal"], badge(1), size_kb=2),
            "/to-private": redirect("http://www.neiwang.example/"),
            "/to-literal": redirect(f"http://{inside.ip}/"),
            "/robots.txt": Route(body="User-agent: *\n", content_type="text/plain"),
        },
        names=["策略.政务"],
    )
    register(crawl_env, tmp_path, [(1, "策略.政务", main.ip, "www.neiwang.example")])
    env = {
        **crawl_env,
        "BADGEWATCH_CRAWL_ALLOW_PRIVATE_NETWORKS": "false",
        "BADGEWATCH_CRAWL_ALLOWED_NETWORKS": f"{main.ip}/32",
    }

    s = crawl_site(env, "策略.政务")

    assert inside.requests == []
    errors = {p["url"]: p["error"] for p in s["pages"] if p["verdict"] == "not_checked"}
    home = "http://www.neiwang.example/"
    assert inside.ip in errors[home] and "回环地址" in errors[home]
    assert "[crawl] allow_private_networks" in errors[home]
    private = next(u for u in errors if u.endswith("/to-private"))
    assert inside.ip in errors[private]
    literal = next(u for u in errors if u.endswith("/to-literal"))
    assert "重定向" in errors[literal]
    assert s["status"] == "compliant"  # the .政务 home page was reached and has the badge
    # Refusals are not retried, and the refused counters say why pages were left out.
    assert s["stats"]["downloader/exception_type_count/crawler.middlewares.AddressNotAllowed"] == 4
    assert "retry/count" not in s["stats"]
    refused, _ = last_check(env)
    assert refused["off_site_redirect"] == 1


def test_crawl_needs_only_ipv4_and_says_why_it_refused_an_address(
    crawl_env, tmp_path: Path, serve_site, dns_server
) -> None:
    """A DNS server that refuses or drops AAAA questions does not stop the crawl (the failure
    is noted in the site's DNS info); a private answer is refused with the policy's reason."""
    refused = serve_site(
        {"/": government_page("首页", [], badge(1), size_kb=2)}, names=["无六.政务"]
    )
    dropped = serve_site(
        {"/": government_page("首页", [], badge(2), size_kb=2)}, names=["丢六.政务"]
    )
    dns_server.set_failure("无六.政务", "refused", rdtype="AAAA")
    dns_server.set_failure("丢六.政务", "drop", rdtype="AAAA")
    dns_server.set_records("十网.政务", a=["10.1.2.3"])
    register(crawl_env, tmp_path, [
        (1, "无六.政务", refused.ip, None),
        (2, "丢六.政务", dropped.ip, None),
        (3, "十网.政务", "10.1.2.3", None),
    ])
    env = {
        **crawl_env,
        "BADGEWATCH_CRAWL_ALLOW_PRIVATE_NETWORKS": "false",
        "BADGEWATCH_CRAWL_ALLOWED_NETWORKS": f"{refused.ip}/32,{dropped.ip}/32",
        "BADGEWATCH_DNS_TIMEOUT": "1",
    }

    done = badgewatch(env, "crawl", "--json")
    assert done.returncode == 0, done.stderr[-3000:]
    sites = {s["domain"]: s for s in json.loads(done.stdout)["sites"]}

    for name, rcode in (("无六.政务", "REFUSED"), ("丢六.政务", "超时")):
        s = sites[ascii_name(name)]
        assert s["status"] == "compliant", s
        assert s["dns"]["outcome"] == "ok"
        assert s["dns"]["ipv4"] and s["dns"]["ipv6"] == []
        assert rcode in s["dns"]["ipv6_error"], s["dns"]
    s = sites[ascii_name("十网.政务")]
    assert s["status"] == "unreachable"
    status = badgewatch(env, "status", "--site", "十网.政务", "--json")
    [site] = json.loads(status.stdout)["sites"]
    [home] = [p for p in site["pages"] if p["url"].endswith(".xn--zfr164b/")]
    assert home["reasons"] == ["fetch_error"]
    assert "10.1.2.3" in home["error"] and "内网地址" in home["error"]
    assert "[crawl] allow_private_networks" in home["error"]
    assert "DNS" not in home["error"]
