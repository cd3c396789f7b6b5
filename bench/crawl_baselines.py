"""The baselines of ``bench/crawl.py``, each run as its own process (a reactor runs once).

(B) a stock Scrapy crawl: default settings, a callback that only follows the links Scrapy's
``LinkExtractor`` finds on the site's hosts. (C) the obvious checker: (B) plus BeautifulSoup
(lxml) over each whole page, looking for the site's badge.

Stock Scrapy resolves names with the system resolver, which knows nothing of ``.政务``; the
resolver here asks the farm's DNS server with dnspython, once per host, as ours does.

    python bench/crawl_baselines.py --spec SPEC.json --stats STATS.json [--badge]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from pathlib import Path
from typing import Any

import dns.resolver
from bs4 import BeautifulSoup
from dns.nameserver import Do53Nameserver
from scrapy import Request, Spider
from scrapy.crawler import Crawler, CrawlerProcess
from scrapy.http import Response, TextResponse
from scrapy.linkextractors import LinkExtractor
from scrapy.resolver import CachingThreadedResolver, dnscache
from twisted.internet import defer, threads

SPAN_ID = "_ideConac"


class FarmResolver(CachingThreadedResolver):
    """Scrapy's caching threaded resolver, asking ``BENCH_NAMESERVER`` through dnspython."""

    def __init__(self, reactor: Any, cache_size: int, timeout: float, nameserver: str) -> None:
        super().__init__(reactor, cache_size, timeout)
        host, _, port = nameserver.rpartition(":")
        self._resolver = dns.resolver.Resolver(configure=False)
        self._resolver.nameservers = [Do53Nameserver(host, int(port))]
        self._resolver.lifetime = timeout

    @classmethod
    def from_crawler(cls, crawler: Crawler, reactor: Any) -> FarmResolver:
        settings = crawler.settings
        return cls(
            reactor,
            settings.getint("DNSCACHE_SIZE"),
            settings.getfloat("DNS_TIMEOUT"),
            settings["BENCH_NAMESERVER"],
        )

    def _lookup(self, name: str) -> str:
        answer = self._resolver.resolve(name, "A")
        return str(answer[0])

    def getHostByName(self, name: str, timeout: Sequence[int] = ()) -> Any:
        if name in dnscache:
            return defer.succeed(dnscache[name])
        reactor: Any = self.reactor
        d = threads.deferToThreadPool(reactor, reactor.getThreadPool(), self._lookup, name)
        d.addCallback(self._cache_result, name)
        return d


class LinkSpider(Spider):
    """(B): follow every link on the site's hosts; with ``badge``, (C): also look for it."""

    name = "baseline"

    def __init__(self, sites: list[dict[str, Any]], badge: bool, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.sites = sites
        self.badge = badge
        self.allowed_domains = [host for site in sites for host in site["hosts"]]
        self.identifiers = {host: site["identifier"] for site in sites for host in site["hosts"]}
        self.links = LinkExtractor(allow_domains=self.allowed_domains)

    async def start(self) -> AsyncIterator[Request]:
        for site in self.sites:
            for host in site["hosts"]:
                yield Request(f"http://{host}/", callback=self.parse)

    def parse(self, response: Response) -> Iterator[Request]:
        assert isinstance(response, TextResponse)  # nginx serves the pages as text/html
        if self.badge:
            found = has_badge(response.text, self.identifiers[response.url.split("/")[2]])
            self.crawler.stats.inc_value("bench/badge_found" if found else "bench/badge_missing")
        for link in self.links.extract_links(response):
            yield Request(link.url, callback=self.parse)


def has_badge(text: str, identifier: str) -> bool:
    """The obvious check: the rendered span, or a script that writes the site's code."""
    soup = BeautifulSoup(text, "lxml")
    if soup.find(id=SPAN_ID) is not None:
        return True
    for script in soup.find_all("script"):
        if identifier in str(script.get("src") or ""):
            return True
        code = script.string or ""
        if "unescape" in code and identifier in code:
            return True
    return False


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spec", type=Path, required=True)
    parser.add_argument("--stats", type=Path, required=True)
    parser.add_argument("--badge", action="store_true", help="(C): BeautifulSoup on each page")
    args = parser.parse_args()
    spec = json.loads(args.spec.read_text(encoding="utf-8"))
    settings = {
        "REMOTE_CONTROL_ENABLED": False,
        "TELNETCONSOLE_ENABLED": False,
        "ROBOTSTXT_OBEY": False,
        "LOG_LEVEL": "INFO",
        "TWISTED_DNS_RESOLVER": f"{__name__}.FarmResolver",
        "BENCH_NAMESERVER": spec["nameserver"],
    }
    process = CrawlerProcess(settings)
    crawler = process.create_crawler(LinkSpider)
    started = time.monotonic()
    process.crawl(crawler, sites=spec["sites"], badge=args.badge)
    process.start()
    stats = dict(crawler.stats.get_stats()) if crawler.stats else {}
    stats["bench/elapsed"] = time.monotonic() - started
    args.stats.write_text(json.dumps(stats, default=str, indent=1), encoding="utf-8")
    return 0 if stats.get("finish_reason") == "finished" else 1


if __name__ == "__main__":
    sys.exit(main())
