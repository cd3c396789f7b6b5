"""Host names resolved with dnspython against ``[dns] nameservers``, for Twisted and Scrapy.

The crawl must see what the registry's DNS says, not what the machine's resolver caches, and
must refuse private and loopback addresses unless configuration allows them (tests and the demo
serve their sites on loopback). Answers are cached for the crawl; lookups run in threads.
"""

from __future__ import annotations

import ipaddress
import threading
from collections.abc import Sequence
from typing import Any

from twisted.internet import defer, threads
from twisted.internet.error import DNSLookupError
from twisted.internet.interfaces import IResolverSimple
from zope.interface import implementer

from badgewatch.config import DnsConfig
from badgewatch.resolver import LookupFailed, lookup, make_resolver


class PrivateAddressRefused(DNSLookupError):
    """The name resolves only to private, loopback or reserved addresses."""


def is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address)
    return ip.is_global and not ip.is_multicast


@implementer(IResolverSimple)
class DnspythonResolver:
    """Twisted's simple resolver interface (IPv4), backed by badgewatch.resolver.lookup."""

    def __init__(self, reactor: Any, dns: DnsConfig, allow_private: bool) -> None:
        self.reactor = reactor
        self._resolver = make_resolver(dns)
        self._allow_private = allow_private
        self._cache: dict[str, str | Exception] = {}
        self._lock = threading.Lock()

    @classmethod
    def from_crawler(cls, crawler: Any, reactor: Any) -> DnspythonResolver:
        config = crawler.settings["BADGEWATCH_CONFIG"]
        return cls(reactor, config.dns, config.crawl.allow_private_networks)

    def install_on_reactor(self) -> None:
        self.reactor.installResolver(self)

    def resolve(self, name: str) -> str:
        """Blocking: the first acceptable IPv4 address of ``name``, or a DNSLookupError."""
        with self._lock:
            cached = self._cache.get(name)
        if cached is None:
            cached = self._lookup(name)
            with self._lock:
                self._cache[name] = cached
        if isinstance(cached, Exception):
            raise cached
        return cached

    def _lookup(self, name: str) -> str | Exception:
        try:
            ipaddress.ip_address(name)
            addresses: Sequence[str] = (name,)
        except ValueError:
            try:
                addresses = lookup(self._resolver, name).ipv4
            except LookupFailed as exc:
                return DNSLookupError(f"{name}: {exc.reason}")
        if not addresses:
            return DNSLookupError(f"{name}: no_a")
        usable = [a for a in addresses if self._allow_private or is_public(a)]
        if not usable:
            return PrivateAddressRefused(
                f"{name} resolves to {addresses[0]}, a private or loopback address "
                "(set [crawl] allow_private_networks to crawl it)"
            )
        return usable[0]

    def getHostByName(
        self, name: str, timeout: Sequence[int] = ()
    ) -> defer.Deferred[str]:
        with self._lock:
            cached = self._cache.get(name)
        if isinstance(cached, str):
            return defer.succeed(cached)
        return threads.deferToThreadPool(
            self.reactor, self.reactor.getThreadPool(), self.resolve, name
        )
