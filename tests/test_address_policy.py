"""How the address policy reads hosts and addresses: every spelling a browser accepts."""

from __future__ import annotations

import ipaddress

import pytest

from badgewatch.config import ConfigError, load_config
from crawler.resolver import AddressPolicy, ip_literal


@pytest.mark.parametrize(
    ("host", "address"),
    [
        ("127.0.0.1", "127.0.0.1"),
        ("127.1", "127.0.0.1"),
        ("127.0.1", "127.0.0.1"),
        ("2130706433", "127.0.0.1"),
        ("0x7f.0.0.1", "127.0.0.1"),
        ("0X7F.1", "127.0.0.1"),
        ("0x7f000001", "127.0.0.1"),
        ("0177.0.0.1", "127.0.0.1"),
        ("017700000001", "127.0.0.1"),
        ("127.0.0.1.", "127.0.0.1"),
        ("0", "0.0.0.0"),
        ("10.1.2.3", "10.1.2.3"),
        ("169.254.169.254", "169.254.169.254"),
        ("::1", "::1"),
        ("[::1]", "::1"),
        ("::ffff:127.0.0.1", "::ffff:7f00:1"),
        ("[::ffff:7f00:1]", "::ffff:7f00:1"),
        ("fe80::1%eth0", "fe80::1"),
    ],
)
def test_every_spelling_of_an_address_is_read_as_a_browser_reads_it(host, address) -> None:
    assert ip_literal(host) == ipaddress.ip_address(address)


@pytest.mark.parametrize("host", ["example.gov.cn", "xn--ve4aqf.xn--zfr164b", "1.example", "a1"])
def test_names_are_not_addresses(host) -> None:
    assert ip_literal(host) is None


@pytest.mark.parametrize("host", ["256.1.1.1", "1.2.3.4.5", "4294967296", "0x1g.1", "1..2"])
def test_numbers_that_are_no_address_are_refused(host) -> None:
    with pytest.raises(ValueError):
        ip_literal(host)


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("127.0.0.1", "回环地址"),
        ("::1", "回环地址"),
        ("::ffff:127.0.0.1", "回环地址"),
        ("64:ff9b::7f00:1", "回环地址"),
        ("2002:7f00:1::1", "回环地址"),
        ("10.1.2.3", "内网地址"),
        ("172.16.0.9", "内网地址"),
        ("192.168.1.1", "内网地址"),
        ("fd00::1", "内网地址"),
        ("169.254.169.254", "链路本地地址"),
        ("fe80::1", "链路本地地址"),
        ("100.64.0.1", "共享地址"),
        ("0.0.0.0", "未指定地址"),
        ("::", "未指定地址"),
        ("224.0.0.1", "组播地址"),
        ("240.0.0.1", "保留地址"),
        ("192.0.2.1", "保留地址"),
    ],
)
def test_the_policy_names_what_it_refuses(address, kind) -> None:
    policy = AddressPolicy(allow_private=False)
    refusal = policy.refusal("site.example", ipaddress.ip_address(address))
    assert refusal is not None
    assert kind in refusal
    relaxed = AddressPolicy(allow_private=True).refusal("x", ipaddress.ip_address(address))
    if kind == "组播地址":  # no web server there: no setting allows it, none is suggested
        assert relaxed is not None and "allow_private_networks" not in refusal
    else:
        assert "[crawl] allow_private_networks" in refusal
        assert relaxed is None


def test_public_and_explicitly_allowed_addresses_pass() -> None:
    policy = AddressPolicy(allow_private=False, allowed_networks=("10.20.0.0/16",))
    for address in ("202.108.22.5", "2400:da00::6666", "10.20.3.4"):
        assert policy.refusal("x", ipaddress.ip_address(address)) is None
    assert policy.refusal("x", ipaddress.ip_address("10.21.0.1")) is not None




def test_allowed_networks_are_validated_at_start_up() -> None:
    config = load_config(environ={"BADGEWATCH_CRAWL_ALLOWED_NETWORKS": "10.20.0.0/16, 10.1.2.3"})
    assert config.crawl.allowed_networks == ["10.20.0.0/16", "10.1.2.3/32"]
    assert load_config(environ={}).crawl.allowed_networks == []
    with pytest.raises(ConfigError, match=r"\[crawl\] allowed_networks"):
        load_config(environ={"BADGEWATCH_CRAWL_ALLOWED_NETWORKS": "10.20.0.0/33"})
