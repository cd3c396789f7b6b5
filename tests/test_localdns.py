"""The loopback DNS server answers like an authoritative server, over UDP and TCP."""

from __future__ import annotations

import socket
import threading

import dns.exception
import dns.flags
import dns.message
import dns.query
import dns.rcode
import dns.rdatatype
import pytest

from testbed.localdns import LocalDnsServer

HANDAN = "xn--ve4aqf.xn--zfr164b"  # 邯郸.政务


def ask(server: LocalDnsServer, name: str, rdtype: str = "A", *, tcp: bool = False):
    query = dns.message.make_query(name, rdtype)
    if tcp:
        return dns.query.tcp(query, "127.0.0.1", port=server.port, timeout=2)
    return dns.query.udp(query, "127.0.0.1", port=server.port, timeout=2)


def addresses(response) -> list[str]:
    return sorted(rdata.to_text() for rrset in response.answer for rdata in rrset)


@pytest.mark.parametrize("tcp", [False, True], ids=["udp", "tcp"])
def test_names_in_any_spelling_answer_the_same(tcp: bool) -> None:
    records = {
        "邯郸.政务": {"A": ["203.0.113.10"], "AAAA": ["2001:DB8::10"]},
        "WWW.XN--VE4AQF.XN--ZFR164B.": {"a": ["203.0.113.11"]},
    }
    with LocalDnsServer(records) as server:
        for name in ("邯郸.政务", HANDAN, HANDAN.upper() + "."):
            response = ask(server, name, tcp=tcp)
            assert response.rcode() == dns.rcode.NOERROR
            assert response.flags & dns.flags.AA
            assert addresses(response) == ["203.0.113.10"]
        assert addresses(ask(server, "邯郸.政务", "AAAA", tcp=tcp)) == ["2001:db8::10"]
        assert addresses(ask(server, "www.邯郸.政务", tcp=tcp)) == ["203.0.113.11"]


def test_unknown_name_is_nxdomain_and_missing_type_is_empty(dns_server, dns_config) -> None:
    dns_server.set_records("邯郸.政务", a=["203.0.113.10"])
    dns_server.set_records("a.b.政务", aaaa=["2001:db8::1"])

    unknown = ask(dns_server, "不存在.政务")
    assert unknown.rcode() == dns.rcode.NXDOMAIN
    assert unknown.answer == []

    no_aaaa = ask(dns_server, "邯郸.政务", "AAAA")
    assert no_aaaa.rcode() == dns.rcode.NOERROR
    assert no_aaaa.answer == []

    # A name that only has names below it exists, with no records of its own.
    parent = ask(dns_server, "b.政务")
    assert parent.rcode() == dns.rcode.NOERROR
    assert parent.answer == []


def test_records_change_while_running(dns_server, dns_config) -> None:
    dns_server.set_records("变更.政务", a=["192.0.2.1", "192.0.2.2"])
    assert addresses(ask(dns_server, "变更.政务")) == ["192.0.2.1", "192.0.2.2"]

    dns_server.set_records("XN--VORQ85B.政务", a=["192.0.2.9"])  # the same name in punycode
    assert addresses(ask(dns_server, "变更.政务")) == ["192.0.2.9"]

    dns_server.remove("变更.政务.")
    assert ask(dns_server, "变更.政务").rcode() == dns.rcode.NXDOMAIN


def test_failures_can_be_served(dns_server, dns_config) -> None:
    dns_server.set_failure("坏.政务", "servfail")
    assert ask(dns_server, "坏.政务").rcode() == dns.rcode.SERVFAIL
    dns_server.set_failure("坏.政务", "refused")
    assert ask(dns_server, "坏.政务", tcp=True).rcode() == dns.rcode.REFUSED
    dns_server.set_failure("坏.政务", "drop")
    with pytest.raises(dns.exception.Timeout):
        query = dns.message.make_query("坏.政务", "A")
        dns.query.udp(query, "127.0.0.1", port=dns_server.port, timeout=0.3)
    dns_server.set_records("坏.政务", a=["192.0.2.3"])
    assert addresses(ask(dns_server, "坏.政务")) == ["192.0.2.3"]


@pytest.mark.parametrize("tcp", [False, True], ids=["udp", "tcp"])
def test_aaaa_alone_can_be_refused_as_dnsmasq_does(dns_server, dns_config, tcp: bool) -> None:
    """dnsmasq without upstream answers REFUSED to AAAA for names it holds only A records for."""
    dns_server.set_records("只有四.政务", a=["192.0.2.4"])
    dns_server.set_failure("只有四.政务", "refused", rdtype="AAAA")
    assert addresses(ask(dns_server, "只有四.政务", tcp=tcp)) == ["192.0.2.4"]
    assert ask(dns_server, "只有四.政务", "AAAA", tcp=tcp).rcode() == dns.rcode.REFUSED
    # New records answer AAAA again.
    dns_server.set_records("只有四.政务", a=["192.0.2.4"], aaaa=["2001:db8::4"])
    assert addresses(ask(dns_server, "只有四.政务", "AAAA", tcp=tcp)) == ["2001:db8::4"]


def test_aaaa_alone_can_be_dropped(dns_server, dns_config) -> None:
    dns_server.set_records("丢弃.政务", a=["192.0.2.5"])
    dns_server.set_failure("丢弃.政务", "drop", rdtype="AAAA")
    assert addresses(ask(dns_server, "丢弃.政务")) == ["192.0.2.5"]
    with pytest.raises(dns.exception.Timeout):
        query = dns.message.make_query("丢弃.政务", "AAAA")
        dns.query.udp(query, "127.0.0.1", port=dns_server.port, timeout=0.3)
    assert dns_server.queries()[-1] == ("xn--3hq642b.xn--zfr164b", "AAAA")
    with pytest.raises(ValueError, match="A or AAAA"):
        dns_server.set_failure("丢弃.政务", "drop", rdtype="MX")


def test_large_answer_is_truncated_over_udp_and_whole_over_tcp(dns_server, dns_config) -> None:
    many = [f"10.0.{i // 256}.{i % 256}" for i in range(200)]
    dns_server.set_records("多.政务", a=many)
    query = dns.message.make_query("多.政务", "A")  # no EDNS: 512 bytes at most over UDP
    udp = dns.query.udp(query, "127.0.0.1", port=dns_server.port, timeout=2)
    assert udp.flags & dns.flags.TC
    tcp = ask(dns_server, "多.政务", tcp=True)
    assert len(addresses(tcp)) == 200


def test_queries_are_logged_in_ascii(dns_server, dns_config) -> None:
    dns_server.set_records("邯郸.政务", a=["203.0.113.10"])
    ask(dns_server, "邯郸.政务", "AAAA")
    assert dns_server.queries()[-1] == (HANDAN, "AAAA")


def test_port_zero_picks_a_free_port_and_stop_releases_it() -> None:
    first = LocalDnsServer({"a.政务": {"A": ["192.0.2.1"]}})
    with pytest.raises(RuntimeError):
        _ = first.port
    with first, LocalDnsServer() as second:
        assert first.port != second.port
        assert first.address == f"127.0.0.1:{first.port}"
        assert addresses(ask(first, "a.政务")) == ["192.0.2.1"]
        assert ask(second, "a.政务").rcode() == dns.rcode.NXDOMAIN
        port = first.port
    first.stop()  # a second stop is harmless
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        udp.bind(("127.0.0.1", port))
    with LocalDnsServer(port=port) as again:
        assert again.port == port


def test_updates_from_other_threads_are_safe(dns_server, dns_config) -> None:
    old, new = ["192.0.2.1"], ["192.0.2.2", "192.0.2.3"]
    dns_server.set_records("并发.政务", a=old)
    stop = threading.Event()

    def flip() -> None:
        while not stop.is_set():
            dns_server.set_records("并发.政务", a=new)
            dns_server.set_records("并发.政务", a=old)

    writer = threading.Thread(target=flip)
    writer.start()
    try:
        seen = {tuple(addresses(ask(dns_server, "并发.政务"))) for _ in range(200)}
    finally:
        stop.set()
        writer.join()
    assert seen <= {tuple(old), tuple(new)}


def test_bad_records_are_refused_when_set() -> None:
    with pytest.raises(ValueError, match="IPv4"):
        LocalDnsServer({"a.政务": {"A": ["2001:db8::1"]}})
    with pytest.raises(ValueError):
        LocalDnsServer({"a.政务": {"A": ["999.1.1.1"]}})
    with pytest.raises(ValueError, match="only A and AAAA"):
        LocalDnsServer({"a.政务": {"MX": ["mail.a.政务"]}})
