"""Downloader middlewares that every request passes, redirects included (a redirect comes back
through them as a new request): it stays on its site's hosts, and its address is one the
address policy allows. The crawl and ``badgewatch check URL`` run both."""

from __future__ import annotations

from collections.abc import Coroutine
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.exceptions import IgnoreRequest
from scrapy.utils.defer import maybe_deferred_to_future
from twisted.internet.error import DNSLookupError

from badgewatch.config import Config
from crawler.resolver import AddressPolicy, AddressRefused, DnspythonResolver
from crawler.urls import host_of, ip_literal

SITE_HOSTS = "site_hosts"  # request.meta: the hosts the request may go to (a frozenset)


class OffSiteRedirect(IgnoreRequest):
    """A redirect left the site's hosts; the page is recorded as not fetched."""


class AddressNotAllowed(IgnoreRequest):
    """The address policy refused the request's host; the message says why and what allows it."""


class HostUnresolved(IgnoreRequest):
    """The request's host name does not resolve; the message says what the DNS answered."""


class StayOnSiteMiddleware:
    """Refuses a request whose host is not among ``request.meta["site_hosts"]``."""

    def process_request(self, request: Request) -> None:
        hosts = request.meta.get(SITE_HOSTS)
        if hosts is None:
            return
        host = host_of(request.url)
        if host not in hosts:
            target = request.url if len(request.url) <= 200 else request.url[:200] + "…"
            raise OffSiteRedirect(f"重定向到本网站以外的地址 {target}，没有跟随")


class AddressPolicyMiddleware:
    """The address policy, before anything is sent.

    Twisted connects to a URL whose host is an IP address without asking the installed
    resolver, so addresses are judged here; names go through the crawl's resolver (one answer
    per name per run, judged by the same policy), whose reason Twisted's resolver interface
    would otherwise lose ("DNS lookup failed")."""

    def __init__(self, crawler: Crawler) -> None:
        config: Config = crawler.settings["BADGEWATCH_CONFIG"]
        self.config = config
        self.policy = AddressPolicy.from_config(config.crawl)
        self._resolver: DnspythonResolver | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> AddressPolicyMiddleware:
        return cls(crawler)

    def resolver(self) -> DnspythonResolver:
        """The resolver installed on the reactor (installed after middlewares are built), so
        the middleware and the connection see one answer; our own if another is installed."""
        if self._resolver is None:
            # Imported here: importing it installs a reactor, and Scrapy installs its own.
            from twisted.internet import reactor  # noqa: PLC0415

            installed = getattr(reactor, "resolver", None)
            if isinstance(installed, DnspythonResolver):
                self._resolver = installed
            else:
                self._resolver = DnspythonResolver.for_config(self.config, reactor)
        return self._resolver

    def process_request(self, request: Request) -> Request | Coroutine[Any, Any, None] | None:
        parts = urlsplit(request.url)
        host = (parts.hostname or "").lower()
        try:
            address = ip_literal(host)
        except ValueError as exc:
            raise AddressNotAllowed(f"{host} 不是有效的地址") from exc
        if address is not None:
            reason = self.policy.refusal(host, address)
            if reason is not None:
                raise AddressNotAllowed(reason)
            shown = f"[{address}]" if address.version == 6 else str(address)
            if host != shown.strip("[]"):
                # Browsers read 0x7f.1 as 127.0.0.1 and request that; so do we.
                netloc = shown + (f":{parts.port}" if parts.port else "")
                return request.replace(url=urlunsplit(parts._replace(netloc=netloc)))
            return None
        known = self.resolver().cached(host)
        if isinstance(known, str):
            return None
        if known is not None:
            raise _refusal(known)
        return self._resolve(host)

    async def _resolve(self, host: str) -> None:
        try:
            await maybe_deferred_to_future(self.resolver().getHostByName(host))
        except DNSLookupError as exc:
            raise _refusal(exc) from exc


def _refusal(failure: Exception) -> IgnoreRequest:
    """The refusal a request gets, with the resolver's own words (not Twisted's prefix)."""
    text = str(failure.args[0]) if failure.args else str(failure)
    if isinstance(failure, AddressRefused):
        return AddressNotAllowed(text)
    return HostUnresolved(text)
