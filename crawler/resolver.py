"""Which addresses the crawl may fetch, and host names resolved for Twisted and Scrapy.

The crawl must see what the registry's DNS says, not what the machine's resolver caches, and
must refuse loopback, private, link-local and reserved addresses unless configuration allows
them (tests and the demo serve their sites on loopback): a page may point anywhere, and a cloud
metadata service or an intranet must not be reachable through it. One :class:`AddressPolicy`
decides, for every DNS answer (here) and for every URL whose host is an address
(``crawler.middlewares.AddressPolicyMiddleware``), in every spelling a browser accepts:
``127.1``, ``2130706433``, ``0x7f.0.0.1``, ``0177.0.0.1``, ``[::ffff:127.0.0.1]``…

Only IPv4 is asked for (A records): the crawl connects over IPv4, and some DNS servers refuse or
drop AAAA questions. Answers are cached for the crawl, so one name gets one answer and one
verdict for its whole run; lookups run in threads.
"""

from __future__ import annotations

import ipaddress
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from twisted.internet import defer, threads
from twisted.internet.error import DNSLookupError
from twisted.internet.interfaces import IResolverSimple
from zope.interface import implementer

from badgewatch.config import Config, CrawlConfig, DnsConfig
from badgewatch.resolver import LookupFailed, display_name, lookup_ipv4, make_resolver
from crawler.urls import ip_literal

if TYPE_CHECKING:
    from scrapy.crawler import Crawler

__all__ = ["AddressPolicy", "AddressRefused", "DnspythonResolver", "ip_literal"]

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

SETTING = "[crawl] allow_private_networks"

# IPv6 prefixes that carry an IPv4 address the packet ends up at (NAT64 and 6to4 gateways).
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_SHARED = ipaddress.IPv4Network("100.64.0.0/10")
_RFC1918 = tuple(
    ipaddress.IPv4Network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16")
)
_UNIQUE_LOCAL = ipaddress.IPv6Network("fc00::/7")


class AddressRefused(DNSLookupError):
    """The address policy refused the host; the message says why and which setting allows it."""

    def __str__(self) -> str:
        # Twisted's errors prefix their docstring ("DNS lookup failed: …"); this one is not.
        return str(self.args[0]) if self.args else ""


def _destination(address: Address) -> Address:
    """The IPv4 address an IPv6 one leads to when it embeds one (mapped, NAT64, 6to4,
    Teredo)."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return address.ipv4_mapped
        if address in _NAT64:
            return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if address.sixtofour is not None:
            return address.sixtofour
        if address.teredo is not None:
            return address.teredo[1]
    return address


def _kind(address: Address) -> str | None:
    """What kind of non-public address this is, in the words the message uses; None: public."""
    if address.is_multicast:
        return "组播地址"
    if address.is_unspecified:
        return "未指定地址"
    if address.is_loopback:
        return "回环地址"
    if address.is_link_local:
        return "链路本地地址"
    if isinstance(address, ipaddress.IPv4Address):
        if address in _SHARED:
            return "运营商共享地址"
        if any(address in net for net in _RFC1918):
            return "内网地址"
    elif address in _UNIQUE_LOCAL or address.is_site_local:
        return "内网地址"
    if not address.is_global:
        return "保留地址"
    return None


@dataclass(frozen=True)
class AddressPolicy:
    """Public addresses only, unless private networks or some networks are allowed."""

    allow_private: bool
    allowed_networks: tuple[str, ...] = ()
    _networks: tuple[Network, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        nets = tuple(ipaddress.ip_network(n, strict=False) for n in self.allowed_networks)
        object.__setattr__(self, "_networks", nets)

    @classmethod
    def from_config(cls, crawl: CrawlConfig) -> AddressPolicy:
        return cls(crawl.allow_private_networks, tuple(crawl.allowed_networks))

    def _allowed(self, address: Address) -> bool:
        return any(address in net for net in self._networks if net.version == address.version)

    def refusal(self, host: str, address: Address, *, named: bool = False) -> str | None:
        """Why ``address`` (given as ``host``, or what the name ``host`` resolved to when
        ``named``) must not be fetched, in the words the user reads; None when it may be."""
        destination = _destination(address)
        kind = _kind(destination) or _kind(address)
        if kind is None or self._allowed(address) or self._allowed(destination):
            return None
        if self.allow_private and kind != "组播地址":
            return None
        shown = str(address) if destination == address else f"{address}（即 {destination}）"
        if named:
            subject = f"{display_name(host)} 解析到 {shown}，这是{kind}"
        elif host.strip("[]") == str(address):
            subject = f"{shown} 是{kind}"
        else:
            subject = f"{host} 即 {shown}，是{kind}"
        if kind == "组播地址":
            return subject + "，不能作为网站地址"
        return (
            f"{subject}；按设置 {SETTING} = false 不访问回环、内网、链路本地和保留地址"
            f"（在内网部署时可设为 true，或把该网段加入 [crawl] allowed_networks）"
        )

    def usable(self, host: str, addresses: Iterable[str]) -> str:
        """The first address of a DNS answer that may be fetched; AddressRefused if none."""
        first: str | None = None
        for text in addresses:
            address = ipaddress.ip_address(text)
            reason = self.refusal(host, address, named=True)
            if reason is None:
                return text
            first = first or reason
        raise AddressRefused(first or f"{host}: no address")


@implementer(IResolverSimple)
class DnspythonResolver:
    """Twisted's simple resolver interface (IPv4) through ``[dns]``, with the address policy."""

    def __init__(
        self,
        reactor: Any,
        dns: DnsConfig,
        allow_private: bool,
        allowed_networks: Sequence[str] = (),
    ) -> None:
        self.reactor = reactor
        self.policy = AddressPolicy(allow_private, tuple(allowed_networks))
        self._resolver = make_resolver(dns)
        self._cache: dict[str, str | Exception] = {}
        self._lock = threading.Lock()

    @classmethod
    def for_config(cls, config: Config, reactor: Any = None) -> DnspythonResolver:
        crawl = config.crawl
        return cls(reactor, config.dns, crawl.allow_private_networks, crawl.allowed_networks)

    @classmethod
    def from_crawler(cls, crawler: Crawler, reactor: Any) -> DnspythonResolver:
        return cls.for_config(crawler.settings["BADGEWATCH_CONFIG"], reactor)

    def install_on_reactor(self) -> None:
        self.reactor.installResolver(self)

    def cached(self, name: str) -> str | Exception | None:
        """The answer already known for ``name`` (an address or the failure), else None."""
        with self._lock:
            return self._cache.get(name.lower())

    def resolve(self, name: str) -> str:
        """Blocking: the first acceptable IPv4 address of ``name``; AddressRefused when the
        policy refuses every answer, DNSLookupError when there is none."""
        key = name.lower()
        cached = self.cached(key)
        if cached is None:
            cached = self._lookup(key)
            with self._lock:
                self._cache[key] = cached
        if isinstance(cached, Exception):
            raise cached
        return cached

    def _lookup(self, name: str) -> str | Exception:
        try:
            literal = ip_literal(name)
        except ValueError as exc:
            return DNSLookupError(str(exc))
        if literal is not None:
            reason = self.policy.refusal(name, literal)
            return AddressRefused(reason) if reason else str(_destination(literal))
        try:
            addresses = lookup_ipv4(self._resolver, name)
        except LookupFailed as exc:
            return DNSLookupError(exc.message)
        if not addresses:
            return DNSLookupError(f"域名“{name}”无法解析：没有 IPv4（A）解析记录")
        try:
            return self.policy.usable(name, addresses)
        except AddressRefused as exc:
            return exc

    def getHostByName(
        self, name: str, timeout: Sequence[int] = ()
    ) -> defer.Deferred[str]:
        cached = self.cached(name)
        if isinstance(cached, str):
            return defer.succeed(cached)
        return threads.deferToThreadPool(
            self.reactor, self.reactor.getThreadPool(), self.resolve, name
        )
