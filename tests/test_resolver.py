"""Resolution against the loopback DNS server: what a unit is told about its domain."""

from __future__ import annotations

import time

import pytest

from badgewatch.config import DnsConfig
from badgewatch.resolver import (
    Addresses,
    LookupFailed,
    check_declared,
    lookup,
    lookup_ipv4,
    make_resolver,
)
from crawler.resolver import DnspythonResolver

HANDAN = "xn--ve4aqf.xn--zfr164b"  # 邯郸.政务


def test_make_resolver_uses_the_configured_server_without_cache(dns_server, dns_config) -> None:
    resolver = make_resolver(dns_config)
    assert resolver.lifetime == 2
    dns_server.set_records("邯郸.政务", a=["203.0.113.10"])
    assert lookup(resolver, "邯郸.政务").ipv4 == ("203.0.113.10",)
    dns_server.set_records("邯郸.政务", a=["203.0.113.99"])
    assert lookup(resolver, "邯郸.政务").ipv4 == ("203.0.113.99",)


def test_nameserver_may_be_given_by_host_name(dns_server, dns_config) -> None:
    dns_server.set_records("邯郸.政务", a=["203.0.113.10"])
    resolver = make_resolver(DnsConfig(nameservers=[f"localhost:{dns_server.port}"], timeout=2))
    assert lookup(resolver, HANDAN).ipv4 == ("203.0.113.10",)


def test_empty_nameserver_list_means_the_system_resolver() -> None:
    resolver = make_resolver(DnsConfig(nameservers=[], timeout=1.5))
    assert resolver.nameservers  # read from the system configuration; nothing is queried
    assert resolver.lifetime == 1.5


def test_lookup_accepts_unicode_and_ascii_names(dns_server, dns_config) -> None:
    dns_server.set_records("邯郸.政务", a=["203.0.113.10", "203.0.113.9"], aaaa=["2001:DB8::10"])
    resolver = make_resolver(dns_config)
    expected = Addresses(ipv4=("203.0.113.9", "203.0.113.10"), ipv6=("2001:db8::10",))
    assert lookup(resolver, "邯郸.政务") == expected
    assert lookup(resolver, HANDAN) == expected
    assert lookup(resolver, HANDAN.upper() + ".") == expected


def test_lookup_of_unknown_name_raises_with_reason(dns_config) -> None:
    with pytest.raises(LookupFailed) as failed:
        lookup(make_resolver(dns_config), "没有.政务")
    assert failed.value.reason == "nxdomain"
    assert "没有.政务" in failed.value.message


def test_declared_address_matches(dns_server, dns_config) -> None:
    dns_server.set_records("邯郸.政务", a=["203.0.113.10", "203.0.113.11"], aaaa=["2001:db8::10"])
    check = check_declared(make_resolver(dns_config), "邯郸.政务", "203.0.113.11", "2001:DB8:0::10")
    assert check.ok
    assert check.outcome == "ok"
    assert check.domain == HANDAN
    assert check.ipv4 == ("203.0.113.10", "203.0.113.11")
    assert check.ipv6 == ("2001:db8::10",)
    assert check.mismatches == ()


def test_missing_aaaa_does_not_matter_without_declared_ipv6(dns_server, dns_config) -> None:
    dns_server.set_records("邯郸.政务", a=["203.0.113.10"])
    check = check_declared(make_resolver(dns_config), HANDAN, "203.0.113.10")
    assert check.outcome == "ok"
    assert check.ipv6 == ()


def test_nxdomain_does_not_resolve(dns_config) -> None:
    check = check_declared(make_resolver(dns_config), "没有.政务", "203.0.113.10")
    assert check.outcome == "unresolvable"
    assert check.reason == "nxdomain"
    assert check.message.startswith("域名“没有.政务”无法解析")
    assert "域名不存在" in check.message


def test_no_a_record_does_not_resolve(dns_server, dns_config) -> None:
    dns_server.set_records("邯郸.政务", aaaa=["2001:db8::10"])
    check = check_declared(make_resolver(dns_config), "邯郸.政务", "203.0.113.10", "2001:db8::10")
    assert check.outcome == "unresolvable"
    assert check.reason == "no_a"
    assert "没有 IPv4（A）解析记录" in check.message


def test_servfail_and_refused_do_not_resolve(dns_server, dns_config) -> None:
    resolver = make_resolver(dns_config)
    dns_server.set_failure("邯郸.政务", "servfail")
    servfail = check_declared(resolver, "邯郸.政务", "203.0.113.10")
    dns_server.set_failure("邯郸.政务", "refused")
    refused = check_declared(resolver, "邯郸.政务", "203.0.113.10")
    assert (servfail.outcome, servfail.reason) == ("unresolvable", "servfail")
    assert "SERVFAIL" in servfail.message
    assert (refused.outcome, refused.reason) == ("unresolvable", "refused")
    assert "REFUSED" in refused.message


def test_silent_server_times_out_within_the_configured_timeout(dns_server, dns_config) -> None:
    dns_server.set_failure("邯郸.政务", "drop")
    resolver = make_resolver(DnsConfig(nameservers=dns_config.nameservers, timeout=0.5))
    started = time.monotonic()
    check = check_declared(resolver, "邯郸.政务", "203.0.113.10")
    assert time.monotonic() - started < 3
    assert (check.outcome, check.reason) == ("unresolvable", "timeout")
    assert "超时" in check.message
    assert "0.5 秒" in check.message


def test_other_ipv4_resolves_elsewhere(dns_server, dns_config) -> None:
    dns_server.set_records("邯郸.政务", a=["198.51.100.7"])
    check = check_declared(make_resolver(dns_config), "邯郸.政务", "203.0.113.10")
    assert check.outcome == "mismatch"
    assert check.ipv4 == ("198.51.100.7",)
    assert [m.family for m in check.mismatches] == ["ipv4"]
    assert "198.51.100.7" in check.message
    assert "203.0.113.10" in check.message
    assert "不一致" in check.message


def test_declared_ipv6_missing_or_different_resolves_elsewhere(dns_server, dns_config) -> None:
    resolver = make_resolver(dns_config)
    dns_server.set_records("邯郸.政务", a=["203.0.113.10"])
    none = check_declared(resolver, "邯郸.政务", "203.0.113.10", "2001:db8::10")
    assert none.outcome == "mismatch"
    assert [m.family for m in none.mismatches] == ["ipv6"]
    assert "没有 IPv6（AAAA）解析记录" in none.message

    dns_server.set_records("邯郸.政务", a=["198.51.100.7"], aaaa=["2001:db8::99"])
    both = check_declared(resolver, "邯郸.政务", "203.0.113.10", "2001:db8::10")
    assert [m.family for m in both.mismatches] == ["ipv4", "ipv6"]
    assert "2001:db8::99" in both.mismatches[1].message


def test_does_not_resolve_and_resolves_elsewhere_read_differently(dns_server, dns_config) -> None:
    resolver = make_resolver(dns_config)
    dns_server.set_records("别处.政务", a=["198.51.100.7"])
    elsewhere = check_declared(resolver, "别处.政务", "203.0.113.10")
    nowhere = check_declared(resolver, "无处.政务", "203.0.113.10")
    assert {elsewhere.outcome, nowhere.outcome} == {"mismatch", "unresolvable"}
    assert "无法解析" in nowhere.message
    assert "无法解析" not in elsewhere.message
    assert "解析到的 IPv4 地址是 198.51.100.7" in elsewhere.message


@pytest.mark.parametrize(("failure", "said"), [("refused", "REFUSED"), ("drop", "超时")])
def test_aaaa_failure_is_noted_not_blocking(dns_server, dns_config, failure, said) -> None:
    """A server that refuses or drops AAAA still resolves the name; the failure is noted."""
    dns_server.set_records("邯郸.政务", a=["203.0.113.10"])
    dns_server.set_failure("邯郸.政务", failure, rdtype="AAAA")
    resolver = make_resolver(DnsConfig(nameservers=dns_config.nameservers, timeout=0.5))
    check = check_declared(resolver, "邯郸.政务", "203.0.113.10")
    assert (check.outcome, check.reason) == ("ok", "ok")
    assert check.ipv4 == ("203.0.113.10",)
    assert check.ipv6_error is not None and said in check.ipv6_error
    assert "IPv6" in check.ipv6_error
    # A declared IPv6 address cannot be confirmed: that is said, and the IPv4 answer is kept.
    declared = check_declared(resolver, "邯郸.政务", "203.0.113.10", "2001:db8::10")
    assert declared.outcome == "unresolvable"
    assert declared.ipv4 == ("203.0.113.10",)
    assert "IPv6" in declared.message and said in declared.message
    # The crawl asks only what it needs: IPv4.
    assert lookup_ipv4(resolver, "邯郸.政务") == ("203.0.113.10",)
    crawler = DnspythonResolver(None, DnsConfig(nameservers=dns_config.nameservers, timeout=0.5),
                                allow_private=False, allowed_networks=["203.0.113.0/24"])
    before = len(dns_server.queries())
    assert crawler.resolve(HANDAN) == "203.0.113.10"
    assert dns_server.queries()[before:] == [(HANDAN, "A")]


def test_crawler_resolver_reads_address_spellings_and_refuses_private_answers(
    dns_server, dns_config
) -> None:
    dns_server.set_records("内网.政务", a=["10.1.2.3"])
    dns_server.set_records("混合.政务", a=["10.1.2.3", "202.108.22.5"])
    strict = DnspythonResolver(None, dns_config, allow_private=False)
    with pytest.raises(Exception, match=r"10\.1\.2\.3") as refused:
        strict.resolve("xn--v6q792i.xn--zfr164b")
    assert "内网地址" in str(refused.value)
    assert str(refused.value).startswith("内网.政务 解析到 10.1.2.3")
    assert "allow_private_networks" in str(refused.value)
    assert strict.resolve("xn--8pr761d.xn--zfr164b") == "202.108.22.5"  # the public answer
    with pytest.raises(Exception, match="回环地址"):
        strict.resolve("0x7f.1")
    relaxed = DnspythonResolver(None, dns_config, allow_private=True)
    assert relaxed.resolve("0x7f.1") == "127.0.0.1"
    assert relaxed.resolve("2130706434") == "127.0.0.2"
    assert relaxed.resolve("0177.0.0.1") == "127.0.0.1"
