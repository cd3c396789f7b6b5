"""The compliance spider: every HTML page of each given site, checked for that site's badge.

Per site: resolve and compare the DNS with the registration, read each host's robots.txt,
then crawl from the home page of each domain and from the sitemaps (``crawler.sitemaps``),
breadth first, staying on the site's own hosts (``request.meta["site_hosts"]``, enforced with
the address policy by ``crawler.middlewares``). Each URL is yielded once (Scrapy pays per
yielded request, duplicates included). A page is decoded once as a browser decodes it
(``crawler.pages``); that text gives the links (selectolax), the title and the badge check, the
pure function of ``crawler.checks``. The spider only fetches and checks: it yields items
(``crawler.items``), a site's start, each page's verdict, and the site's end once its last
outstanding request is answered; the item pipeline (``crawler.pipelines``) tallies and writes
them and has each site rendered before its check is finished.

An incremental crawl (``crawler.known``) asks for every page the site's last check read, with
its validators (those nothing led to yet once robots.txt and the sitemaps are read), new pages
and those the sitemaps' ``lastmod`` says changed first, and carries the last verdict of a page
that did not change instead of checking it again.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import chain
from typing import Any

from dns.resolver import Resolver
from protego import Protego
from scrapy import Request, Spider
from scrapy.http import Response, TextResponse
from twisted.python.failure import Failure

from badgewatch.config import Config
from badgewatch.registrations import FooterRegistration
from badgewatch.resolver import DnsCheck, check_declared, make_resolver
from crawler.checks.badge import BadgePatterns, Policy, SiteBadge, check_page
from crawler.items import PageItem, SiteCounts, SiteCrawled, SiteOpened
from crawler.jobs import SiteJob
from crawler.known import Baseline, KnownPage, body_digest, changed_since, check_key
from crawler.middlewares import SITE_HOSTS, OffSiteRedirect
from crawler.pages import fetch_reason, is_html, read_page, too_large
from crawler.results import ResultWriter
from crawler.sitemaps import SitemapBudget, dated_urls, read_sitemap
from crawler.urls import LinkFilter, host_of, request_url
from store.records import DnsRecord

log = logging.getLogger(__name__)

DNS_CONCURRENCY = 16
CHANGED_PRIORITY = 30  # an incremental crawl's new and changed pages, before the unchanged
KNOWN = "known_page"  # request.meta: the KnownPage a conditional request was sent for

Output = Request | PageItem | SiteOpened | SiteCrawled


@dataclass
class SiteCrawl:
    """One site's frontier during the crawl."""

    job: SiteJob
    badge: SiteBadge
    links: LinkFilter
    sitemaps: SitemapBudget
    counts: SiteCounts
    footer: FooterRegistration | None = None  # the site's registered footer numbers
    robots: dict[str, Protego | None] = field(default_factory=dict)
    pending: int = 0  # requests not yet answered
    pages: int = 0  # page items yielded
    known: Baseline = field(default_factory=lambda: Baseline(False, "first check", ""))
    discovering: int = 0  # robots.txt and sitemap requests not yet answered
    seeded: bool = False  # the known pages were released
    deferred: list[tuple[str, int]] = field(default_factory=list)  # known pages held back
    lastmods: dict[str, str] = field(default_factory=dict)  # the sitemaps' lastmod by URL


class SitesSpider(Spider):
    name = "sites"
    custom_settings: dict[str, Any] | None = {  # noqa: RUF012 (Scrapy's own declaration)
        "ITEM_PIPELINES": {"crawler.pipelines.SiteResultsPipeline": 300},
    }

    def __init__(
        self, *args: Any, jobs: list[SiteJob], writer: ResultWriter, **kwargs: Any
    ) -> None:
        """``jobs`` are the sites to crawl; ``writer`` is for the item pipeline, which writes
        the results (the stop handler of ``crawler.run`` holds the same writer)."""
        super().__init__(*args, **kwargs)
        self.jobs = jobs
        self.writer = writer
        self.crawls: dict[int, SiteCrawl] = {}

    # -- set-up ----------------------------------------------------------------------------

    @property
    def config(self) -> Config:
        config: Config = self.settings["BADGEWATCH_CONFIG"]
        return config

    async def start(self) -> AsyncIterator[Output]:
        config = self.config
        patterns = BadgePatterns.from_spec(config.badge.spec())
        self.policy = Policy.from_setting(config.crawl.failing_reasons)
        resolver = make_resolver(config.dns)
        for job, dns in await self._resolve_all(resolver, self.jobs):
            dns_info: DnsRecord = {
                "outcome": dns.outcome,
                "reason": dns.reason,
                "ipv4": list(dns.ipv4),
                "ipv6": list(dns.ipv6),
                "message": dns.message,
                "ipv6_error": dns.ipv6_error,
            }
            links = LinkFilter(
                hosts=frozenset(job.hosts),
                max_pages=job.max_pages or config.crawl.max_pages_per_site,
                max_query_variants=config.crawl.max_query_variants,
                max_url_length=config.crawl.max_url_length,
            )
            crawl = SiteCrawl(
                job=job,
                badge=SiteBadge(job.identifier, job.certificate, patterns),
                links=links,
                sitemaps=SitemapBudget.from_config(config.crawl, links.hosts, links.refused),
                counts=SiteCounts(refused=links.refused),
                footer=job.footer(),
            )
            key = check_key(crawl.badge, config.badge.spec(), self.policy, crawl.footer)
            crawl.known = await asyncio.to_thread(
                self.writer.baseline, job.site_id, key=key,
                full_requested=job.full or job.only_url is not None, crawl=config.crawl,
                now=datetime.now(UTC),
            )
            self.crawls[job.site_id] = crawl
            yield SiteOpened(
                job, crawl.badge, dns_info, crawl.counts,
                incremental=crawl.known.incremental, check_key=key,
            )
            if job.only_url is not None:
                url = request_url(job.only_url) or job.only_url
                for request in self._page_requests(crawl, [url], depth=0, home=False):
                    yield request
                continue
            for host in job.hosts:
                if config.crawl.obey_robots:
                    yield self._request(
                        crawl, f"http://{host}/robots.txt", self.parse_robots, priority=100
                    )
                else:
                    for request in self._home_requests(crawl, host, robots=None):
                        yield request
            for seed in self._release_known(crawl):
                yield seed
            for end in self._end(crawl):
                yield end

    @staticmethod
    async def _resolve_all(
        resolver: Resolver, jobs: list[SiteJob]
    ) -> list[tuple[SiteJob, DnsCheck]]:
        """The site-level DNS check of every job, a few lookups at a time, in threads."""
        limit = asyncio.Semaphore(DNS_CONCURRENCY)

        async def one(job: SiteJob) -> tuple[SiteJob, DnsCheck]:
            async with limit:
                check = await asyncio.to_thread(
                    check_declared, resolver, job.domain, job.ipv4, job.ipv6
                )
                return job, check

        return list(await asyncio.gather(*(one(job) for job in jobs)))

    # -- requests --------------------------------------------------------------------------

    def _request(
        self,
        crawl: SiteCrawl,
        url: str,
        callback: Callable[[Response], Iterable[Output] | AsyncIterator[Output]],
        *,
        priority: int = 0,
        depth: int = 0,
        home: bool = False,
        meta: dict[str, Any] | None = None,
    ) -> Request:
        crawl.pending += 1
        if callback in (self.parse_robots, self.parse_sitemap):
            crawl.discovering += 1
        known = crawl.known.conditional(url) if callback == self.parse_page and not home else None
        return Request(
            url,
            callback=callback,
            errback=self.on_error,
            priority=priority,
            headers=known.headers() if known is not None else None,
            dont_filter=True,
            meta={
                "site_id": crawl.job.site_id,
                "depth": depth,
                "home": home,
                SITE_HOSTS: crawl.links.hosts,
                **({KNOWN: known} if known is not None else {}),
                **(meta or {}),
            },
        )

    def _allowed(self, crawl: SiteCrawl, url: str) -> bool:
        if not self.config.crawl.obey_robots:
            return True
        robots = crawl.robots.get(host_of(url))
        if robots is None or robots.can_fetch(url, self.config.crawl.user_agent):
            return True
        crawl.counts.robots_excluded += 1
        return False

    def _page_requests(
        self, crawl: SiteCrawl, urls: list[str], *, depth: int, home: bool
    ) -> Iterator[Request]:
        for url in urls:
            if not self._allowed(crawl, url):
                continue
            priority = self._priority(crawl, url, depth)
            if priority != CHANGED_PRIORITY and not home and self._held_back(crawl, url):
                crawl.deferred.append((url, depth))
                continue
            yield self._request(
                crawl, url, self.parse_page, depth=depth, home=home, priority=priority
            )

    @staticmethod
    def _held_back(crawl: SiteCrawl, url: str) -> bool:
        """A known page found before the sitemaps are read waits for them: their
        ``lastmod`` may say it changed, and the changed pages go first."""
        return crawl.known.incremental and not crawl.seeded and url in crawl.known.pages

    @staticmethod
    def _priority(crawl: SiteCrawl, url: str, depth: int) -> int:
        """Breadth first; in an incremental crawl new pages and those whose sitemap
        ``lastmod`` is later than their last fetch come first."""
        if not crawl.known.incremental:
            return -depth
        known = crawl.known.pages.get(url)
        if known is None or changed_since(crawl.lastmods.get(url), known.fetched_at):
            return CHANGED_PRIORITY
        return -depth

    def _release_known(self, crawl: SiteCrawl) -> Iterator[Request]:
        """Once robots.txt and the sitemaps are read, every page the last check knew that
        nothing led to yet: an unchanged page is not read, so the pages only it links to
        are reached this way."""
        if crawl.seeded or crawl.discovering or not crawl.known.incremental:
            return
        crawl.seeded = True
        batch, crawl.deferred = crawl.deferred, []
        for known in crawl.known.pages.values():
            seed = crawl.links.admit_url(known.url)
            if seed is not None:
                batch.append((seed, known.depth))
        # Yielded in the order they should run too: Scrapy may start the first before it
        # has scheduled the rest.
        batch.sort(key=lambda item: -self._priority(crawl, *item))
        for url, depth in batch:
            yield from self._page_requests(crawl, [url], depth=depth, home=False)

    def _discovered(self, crawl: SiteCrawl) -> Iterator[Request]:
        """A robots.txt or sitemap request is answered."""
        crawl.discovering -= 1
        yield from self._release_known(crawl)

    def _home_requests(
        self, crawl: SiteCrawl, host: str, robots: Protego | None
    ) -> Iterator[Request]:
        home = crawl.links.admit_url(f"http://{host}/")
        if home is not None:
            yield self._request(crawl, home, self.parse_page, priority=50, home=True)
        sitemaps = list(robots.sitemaps) if robots is not None else []
        if not sitemaps:
            sitemaps = [f"http://{host}/sitemap.xml"]
        for url in sitemaps:
            request = self._sitemap_request(crawl, url, depth=0)
            if request is not None:
                yield request

    def _sitemap_request(self, crawl: SiteCrawl, url: str, depth: int) -> Request | None:
        """A sitemap fetched once per site, within its caps, up to the sitemap size limit
        (the protocol's 50 MB, over the page cap) rather than the page cap."""
        target = crawl.sitemaps.admit(url, depth)
        if target is None:
            return None
        return self._request(
            crawl,
            target,
            self.parse_sitemap,
            priority=40,
            meta={
                "sitemap_depth": depth,
                "download_maxsize": self.config.crawl.max_sitemap_bytes,
            },
        )

    # -- callbacks -------------------------------------------------------------------------

    def parse_robots(self, response: Response) -> Iterator[Output]:
        crawl = self.crawls[response.meta["site_id"]]
        requests = chain(self._read_robots(crawl, response), self._discovered(crawl))
        yield from self._answered(crawl, requests)

    def _read_robots(self, crawl: SiteCrawl, response: Response) -> Iterator[Request]:
        host = host_of(response.url)
        robots = None
        if response.status == 200 and isinstance(response, TextResponse):
            robots = Protego.parse(response.text)
        crawl.robots[host] = robots
        yield from self._home_requests(crawl, host, robots)

    async def parse_sitemap(self, response: Response) -> AsyncIterator[Output]:
        crawl = self.crawls[response.meta["site_id"]]
        try:
            read = await self._read_sitemap(crawl, response)
            requests: Iterator[Output] = chain(read, self._discovered(crawl))
        except Exception as exc:  # the site still ends; the error is Scrapy's to report
            requests = chain(self._discovered(crawl), _raising(exc))
        for output in self._answered(crawl, requests):
            yield output

    async def _read_sitemap(self, crawl: SiteCrawl, response: Response) -> Iterator[Request]:
        if response.status != 200 or not response.body:
            return iter(())
        # Parsed in a thread: a large sitemap must not stall the other sites.
        kind, entries = await asyncio.to_thread(
            read_sitemap, response.body, self.config.crawl.max_sitemap_bytes
        )
        depth: int = response.meta.get("sitemap_depth", 0)
        if kind == "too_large":
            crawl.links.refused["sitemap_too_large"] += 1
        elif kind == "sitemapindex":
            requests = (self._sitemap_request(crawl, url, depth + 1) for url, _ in entries)
            return (request for request in requests if request is not None)
        elif kind == "urlset":
            if crawl.known.incremental:
                crawl.lastmods.update(dated_urls(entries))
            urls = [url for url, _ in crawl.sitemaps.take(entries, crawl.links.admit_url)]
            return self._page_requests(crawl, urls, depth=1, home=False)
        return iter(())

    def parse_page(self, response: Response) -> Iterator[Output]:
        crawl = self.crawls[response.meta["site_id"]]
        yield from self._answered(crawl, self._check_and_follow(crawl, response))

    def _check_and_follow(self, crawl: SiteCrawl, response: Response) -> Iterator[Output]:
        depth: int = response.meta.get("depth", 0)
        crawl.links.mark_seen(response.url)
        known: KnownPage | None = response.meta.get(KNOWN)
        digest = body_digest(response.body) if response.status == 200 else None
        if known is not None:
            carried = self._carried(crawl, response, known, depth, digest)
            if carried is not None:
                yield self._page(crawl, carried)
                return
            if response.status == 304:  # not the page it was asked for (a redirect): in full
                yield self._request(crawl, response.url, self.parse_page, depth=depth)
                return
        content_type = response.headers.get(b"Content-Type") or b""
        if response.status >= 400:
            yield self._page(crawl, PageItem.http_error(
                crawl.job.site_id, response.url, response.status, depth
            ))
            return
        if not is_html(content_type):
            crawl.links.refused["not_html"] += 1
            return
        page = read_page(response.body, content_type)
        yield self._page(crawl, PageItem(
            crawl.job.site_id,
            response.url,
            response.status,
            check_page(page.text, crawl.badge, self.policy, footer=crawl.footer),
            depth,
            title=page.title,
            home=bool(response.meta.get("home")),
            tree=page.tree if self.config.render.enabled else None,
            etag=_header(response, b"ETag"),
            last_modified=_header(response, b"Last-Modified"),
            digest=digest,
        ))
        if depth >= self.config.crawl.max_depth or crawl.job.only_url is not None:
            return
        admit, base, codec = crawl.links.admit, response.url, page.query_codec
        urls = [url for href in page.links() if (url := admit(href, base, codec))]
        yield from self._page_requests(crawl, urls, depth=depth + 1, home=False)

    def _carried(
        self, crawl: SiteCrawl, response: Response, known: KnownPage, depth: int,
        digest: str | None,
    ) -> PageItem | None:
        """The last verdict of a page that did not change (a 304, or the same body from a
        server that ignores validators: ``digest``, the body's, None unless a 200), or None
        to check it."""
        if response.meta.get("redirect_urls") or response.url != known.url:
            return None
        if response.status == 304:
            self._stats_inc("badgewatch/pages_not_modified")
        elif digest is None or digest != known.digest:
            return None
        self._stats_inc("badgewatch/pages_carried")
        return PageItem(
            crawl.job.site_id,
            response.url,
            known.status,
            known.carried_verdict(),
            depth,
            title=known.title,
            etag=_header(response, b"ETag") or known.etag,
            last_modified=_header(response, b"Last-Modified") or known.last_modified,
            digest=known.digest,
            carried=True,
        )

    def _stats_inc(self, key: str) -> None:
        if self.crawler.stats is not None:
            self.crawler.stats.inc_value(key)

    def on_error(self, failure: Failure) -> Iterator[Output]:
        request: Request = failure.request  # type: ignore[attr-defined]
        crawl = self.crawls[request.meta["site_id"]]
        yield from self._answered(crawl, self._failed(crawl, request, failure.value))

    def _failed(
        self, crawl: SiteCrawl, request: Request, exc: BaseException | None
    ) -> Iterator[Output]:
        if isinstance(exc, OffSiteRedirect):
            crawl.links.refused["off_site_redirect"] += 1
        if request.callback == self.parse_page:
            # After a redirect off the site, the page is the one the site linked to.
            reason = fetch_reason(exc, request.meta.get("download_timeout"))
            url = request.meta.get("redirect_urls", [request.url])[0]
            yield self._page(crawl, PageItem.failed(
                crawl.job.site_id, url, None, reason, request.meta.get("depth", 0)
            ))
        elif request.callback == self.parse_sitemap:
            kind = "sitemap_too_large" if too_large(exc) else "sitemap_failed"
            crawl.links.refused[kind] += 1
        elif request.callback == self.parse_robots:
            host = host_of(request.url)
            crawl.robots[host] = None
            yield from self._home_requests(crawl, host, None)
        if request.callback in (self.parse_robots, self.parse_sitemap):
            yield from self._discovered(crawl)

    # -- a site's end ----------------------------------------------------------------------

    @staticmethod
    def _page(crawl: SiteCrawl, item: PageItem) -> PageItem:
        crawl.pages += 1
        return item

    def _answered(self, crawl: SiteCrawl, outputs: Iterator[Output]) -> Iterator[Output]:
        """A callback's outputs, then, once the request is answered, the site's end if it was
        the last one outstanding (also when the callback failed)."""
        try:
            yield from outputs
        except Exception:
            crawl.pending -= 1
            yield from self._end(crawl)
            raise
        crawl.pending -= 1
        yield from self._end(crawl)

    @staticmethod
    def _end(crawl: SiteCrawl) -> Iterator[SiteCrawled]:
        if crawl.pending == 0:
            yield SiteCrawled(crawl.job.site_id, crawl.pages)


def _header(response: Response, name: bytes) -> str | None:
    """A response header as text (validators are ASCII; anything else is kept as Latin-1)."""
    value = response.headers.get(name)
    return (value.decode("latin-1").strip() or None) if value else None


def _raising(exc: Exception) -> Iterator[Output]:
    """Outputs that are an exception, raised when they are read."""
    raise exc
    yield  # a generator: the exception comes when it is read
