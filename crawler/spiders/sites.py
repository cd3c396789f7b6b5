"""The compliance spider: every HTML page of each given site, checked for that site's badge.

Per site: resolve and compare the DNS with the registration, read each host's robots.txt,
then crawl from the home page of each domain and from the sitemaps (``crawler.sitemaps``),
breadth first, staying on the site's own hosts (``request.meta["site_hosts"]``, enforced with
the address policy by ``crawler.middlewares``). Each URL is yielded once (Scrapy pays per
yielded request, duplicates included). A page is decoded once as a browser decodes it
(``crawler.pages``); that text gives the links (selectolax), the title and the badge check, the
pure function of ``crawler.checks``. A site is finished when its last outstanding request is
answered.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from protego import Protego
from scrapy import Request, Spider, signals
from scrapy.exceptions import DontCloseSpider
from scrapy.http import Response, TextResponse
from twisted.python.failure import Failure

from badgewatch.config import Config
from badgewatch.resolver import DnsCheck, check_declared, make_resolver
from crawler.checks.badge import (
    BadgePatterns,
    PageVerdict,
    Policy,
    SiteBadge,
    check_page,
    fetch_failed,
)
from crawler.jobs import SiteJob
from crawler.middlewares import SITE_HOSTS, OffSiteRedirect
from crawler.pages import fetch_reason, is_html, read_page, too_large
from crawler.render.browser import browser_addresses
from crawler.render.stage import RenderStage, SiteSample
from crawler.results import ResultWriter, SiteTally
from crawler.sitemaps import SitemapBudget, read_sitemap
from crawler.urls import LinkFilter, host_of, request_url
from store.records import DnsRecord

log = logging.getLogger(__name__)

DNS_CONCURRENCY = 16


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class SiteCrawl:
    """One site's state during the crawl."""

    job: SiteJob
    badge: SiteBadge
    links: LinkFilter
    tally: SiteTally
    sitemaps: SitemapBudget
    robots: dict[str, Protego | None] = field(default_factory=dict)
    sample: SiteSample | None = None
    failing_urls: set[str] = field(default_factory=set)
    pending: int = 0
    done: bool = False
    rendering: bool = False


class SitesSpider(Spider):
    name = "sites"

    def __init__(
        self, *args: Any, jobs: list[SiteJob], writer: ResultWriter, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.jobs = jobs
        self.writer = writer
        self.crawls: dict[int, SiteCrawl] = {}
        self.render_stage: RenderStage | None = None
        self._render_tasks: set[asyncio.Task[None]] = set()

    @classmethod
    def from_crawler(cls, crawler: Any, *args: Any, **kwargs: Any) -> SitesSpider:
        spider: SitesSpider = super().from_crawler(crawler, *args, **kwargs)
        crawler.signals.connect(spider.on_idle, signal=signals.spider_idle)
        crawler.signals.connect(spider.on_closed, signal=signals.spider_closed)
        return spider

    # -- set-up ----------------------------------------------------------------------------

    @property
    def config(self) -> Config:
        config: Config = self.settings["BADGEWATCH_CONFIG"]
        return config

    async def start(self) -> AsyncIterator[Request]:
        config = self.config
        jobs = self.jobs
        patterns = BadgePatterns.from_spec(config.badge.spec())
        self.policy = Policy.from_setting(config.crawl.failing_reasons)
        resolver = make_resolver(config.dns)
        if config.render.enabled:
            hosts = {host for job in jobs for host in job.hosts}
            addresses = await asyncio.to_thread(browser_addresses, config, hosts)
            self.render_stage = RenderStage(config, addresses, self.writer.run_id)
        for job, dns in await self._resolve_all(resolver, jobs):
            dns_info: DnsRecord = {
                "outcome": dns.outcome,
                "reason": dns.reason,
                "ipv4": list(dns.ipv4),
                "ipv6": list(dns.ipv6),
                "message": dns.message,
                "ipv6_error": dns.ipv6_error,
            }
            owned = (job.queue_job, job.owner) if job.queue_job and job.owner else None
            tally = self.writer.open_site(job.site_id, dns_info, utcnow(), owned)
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
                tally=tally,
                sitemaps=SitemapBudget.from_config(config.crawl, links.hosts, links.refused),
                sample=self.render_stage.sample() if self.render_stage else None,
            )
            self.crawls[job.site_id] = crawl
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
            self._maybe_finish(crawl)

    @staticmethod
    async def _resolve_all(
        resolver: Any, jobs: list[SiteJob]
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
        callback: Any,
        *,
        priority: int = 0,
        depth: int = 0,
        home: bool = False,
        meta: dict[str, Any] | None = None,
    ) -> Request:
        crawl.pending += 1
        return Request(
            url,
            callback=callback,
            errback=self.on_error,
            priority=priority,
            dont_filter=True,
            meta={
                "site_id": crawl.job.site_id,
                "depth": depth,
                "home": home,
                SITE_HOSTS: crawl.links.hosts,
                **(meta or {}),
            },
        )

    def _allowed(self, crawl: SiteCrawl, url: str) -> bool:
        if not self.config.crawl.obey_robots:
            return True
        robots = crawl.robots.get(host_of(url))
        if robots is None or robots.can_fetch(url, self.config.crawl.user_agent):
            return True
        crawl.tally.robots_excluded += 1
        return False

    def _page_requests(
        self, crawl: SiteCrawl, urls: list[str], *, depth: int, home: bool
    ) -> Iterator[Request]:
        for url in urls:
            if self._allowed(crawl, url):
                yield self._request(
                    crawl, url, self.parse_page, depth=depth, home=home, priority=-depth
                )

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

    def parse_robots(self, response: Response) -> Iterator[Any]:
        crawl = self.crawls[response.meta["site_id"]]
        try:
            host = host_of(response.url)
            robots = None
            if response.status == 200 and isinstance(response, TextResponse):
                robots = Protego.parse(response.text)
            crawl.robots[host] = robots
            yield from self._home_requests(crawl, host, robots)
        finally:
            self._answered(crawl)

    async def parse_sitemap(self, response: Response) -> AsyncIterator[Any]:
        crawl = self.crawls[response.meta["site_id"]]
        try:
            if response.status == 200 and response.body:
                # Parsed in a thread: a large sitemap must not stall the other sites.
                kind, locs = await asyncio.to_thread(
                    read_sitemap, response.body, self.config.crawl.max_sitemap_bytes
                )
                depth: int = response.meta.get("sitemap_depth", 0)
                if kind == "too_large":
                    crawl.links.refused["sitemap_too_large"] += 1
                elif kind == "sitemapindex":
                    for url in locs:
                        request = self._sitemap_request(crawl, url, depth + 1)
                        if request is not None:
                            yield request
                elif kind == "urlset":
                    urls = crawl.sitemaps.take(locs, crawl.links.admit_url)
                    for request in self._page_requests(crawl, urls, depth=1, home=False):
                        yield request
        finally:
            self._answered(crawl)

    def parse_page(self, response: Response) -> Iterator[Any]:
        crawl = self.crawls[response.meta["site_id"]]
        try:
            yield from self._check_and_follow(crawl, response)
        finally:
            self._answered(crawl)

    def _check_and_follow(self, crawl: SiteCrawl, response: Response) -> Iterator[Request]:
        depth: int = response.meta.get("depth", 0)
        crawl.links.mark_seen(response.url)
        content_type = response.headers.get(b"Content-Type") or b""
        if response.status >= 400:
            # Server errors (after retries) and missing pages are not checked, never failures.
            reason = f"服务器返回 HTTP {response.status}"
            failed = fetch_failed(reason)
            self._store(crawl, response.url, response.status, failed, depth, None, reason)
            return
        if not is_html(content_type):
            crawl.links.refused["not_html"] += 1
            return
        if response.meta.get("home"):
            crawl.tally.home_fetched = True
        page = read_page(response.body, content_type)
        verdict = check_page(page.text, crawl.badge, self.policy)
        self._store(crawl, response.url, response.status, verdict, depth, page.title)
        if crawl.sample is not None:
            crawl.sample.consider(
                response.url,
                home=bool(response.meta.get("home")) or crawl.job.only_url is not None,
                tree=page.tree,
                verdict=verdict,
            )
        if depth >= self.config.crawl.max_depth or crawl.job.only_url is not None:
            return
        admit, base, codec = crawl.links.admit, response.url, page.query_codec
        urls = [url for href in page.links() if (url := admit(href, base, codec))]
        yield from self._page_requests(crawl, urls, depth=depth + 1, home=False)

    def _store(
        self,
        crawl: SiteCrawl,
        url: str,
        status: int | None,
        verdict: PageVerdict,
        depth: int,
        title: str | None,
        error: str | None = None,
    ) -> None:
        tally = crawl.tally
        if verdict.verdict == "not_checked":
            tally.not_checked += 1
        else:
            tally.checked += 1
            if verdict.verdict == "non_compliant":
                tally.failing += 1
                crawl.failing_urls.add(url)
        for reason in verdict.reasons:
            tally.reasons[reason] += 1
        now = utcnow()
        self.writer.add_page(
            {
                "check_id": tally.check_id,
                "url": url,
                "http_status": status,
                "verdict": verdict.verdict,
                "reasons": list(verdict.reasons),
                "identifiers": list(verdict.identifiers),
                "badge_offset": verdict.offset,
                "badge_in_body": verdict.in_body,
                "depth": depth,
                "title": title,
                "error": error,
                "fetched_at": now,
            },
            now,
        )

    def on_error(self, failure: Failure) -> Iterator[Any]:
        request: Request = failure.request  # type: ignore[attr-defined]
        crawl = self.crawls[request.meta["site_id"]]
        try:
            exc = failure.value
            if isinstance(exc, OffSiteRedirect):
                crawl.links.refused["off_site_redirect"] += 1
            if request.callback == self.parse_page:
                # After a redirect off the site, the page is the one the site linked to.
                reason = fetch_reason(exc, request.meta.get("download_timeout"))
                self._store(
                    crawl,
                    request.meta.get("redirect_urls", [request.url])[0],
                    None,
                    fetch_failed(reason),
                    request.meta.get("depth", 0),
                    None,
                    reason,
                )
            elif request.callback == self.parse_sitemap:
                kind = "sitemap_too_large" if too_large(exc) else "sitemap_failed"
                crawl.links.refused[kind] += 1
            elif request.callback == self.parse_robots:
                host = host_of(request.url)
                crawl.robots[host] = None
                yield from self._home_requests(crawl, host, None)
        finally:
            self._answered(crawl)

    # -- completion ------------------------------------------------------------------------

    def _answered(self, crawl: SiteCrawl) -> None:
        crawl.pending -= 1
        self._maybe_finish(crawl)

    def _maybe_finish(self, crawl: SiteCrawl) -> None:
        if crawl.pending != 0 or crawl.done or crawl.rendering:
            return
        if self.render_stage is not None and crawl.sample is not None and crawl.sample.urls:
            crawl.rendering = True
            task = asyncio.ensure_future(self._render_then_close(crawl, self.render_stage))
            self._render_tasks.add(task)
            task.add_done_callback(self._render_tasks.discard)
            return
        self._close_site(crawl)

    async def _render_then_close(self, crawl: SiteCrawl, stage: RenderStage) -> None:
        assert crawl.sample is not None
        renders = await stage.render_site(crawl.job.site_id, crawl.badge, crawl.sample)
        if crawl.done:
            return
        tally = crawl.tally
        tally.renders = renders.summary()
        for _, outcome in renders.outcomes:
            if outcome.verdict.verdict != "non_compliant":
                continue
            for reason in outcome.verdict.reasons:
                tally.reasons[reason] += 1
            if outcome.url not in crawl.failing_urls:
                crawl.failing_urls.add(outcome.url)
                tally.failing += 1
        self.writer.add_renders(stage.rows(tally.check_id, renders), utcnow())
        self.crawler.stats.inc_value("badgewatch/pages_rendered", len(renders.outcomes))
        self._close_site(crawl)

    def _close_site(self, crawl: SiteCrawl) -> None:
        crawl.done = True
        crawl.tally.refused.update(crawl.links.refused)
        # A single-page recheck never replaces the site's status.
        self.writer.close_site(
            crawl.tally, utcnow(), finished=True, publish=crawl.job.only_url is None, note=None
        )
        self.crawler.stats.inc_value("badgewatch/sites_finished")

    def on_idle(self) -> None:
        """Scrapy is idle once the fetching is done; the rendered stage may still be running."""
        if self._render_tasks:
            raise DontCloseSpider

    async def on_closed(self) -> None:
        for task in list(self._render_tasks):
            task.cancel()
        if self.render_stage is not None:
            await self.render_stage.close()

    def closed(self, reason: str) -> None:
        finished = reason == "finished"
        for crawl in self.crawls.values():
            if not crawl.done:
                crawl.done = True
                self.writer.close_site(
                    crawl.tally, utcnow(), finished=False, publish=False,
                    note=f"crawl stopped: {reason}",
                )
        all_started = len(self.crawls) == len(self.jobs)
        stats = self.crawler.stats.get_stats() if self.crawler.stats else {}
        self.writer.finish(
            utcnow(),
            reason=reason,
            complete=finished and all_started,
            stats={
                key: value
                for key, value in stats.items()
                if isinstance(value, int | float | str) and not isinstance(value, bool)
            },
        )
