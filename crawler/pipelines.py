"""The item pipeline of the compliance crawl: the spider's items become rows and verdicts.

``SiteResultsPipeline`` owns the ``ResultWriter`` and each site's tally. A site opens with its
``SiteOpened``; each ``PageItem`` is counted and written; once a site's ``SiteCrawled`` and all
the pages it announced are in, the render stage (when rendering is on) renders the site's
sample, and only then is the site's check finished. At the end of the crawl the sites still
open are closed unpublished and the run is finished.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import UTC, datetime

from scrapy import signals
from scrapy.crawler import Crawler
from scrapy.exceptions import DontCloseSpider

from badgewatch.config import Config
from crawler.checks.badge import SiteBadge
from crawler.items import PageItem, SiteCounts, SiteCrawled, SiteOpened
from crawler.jobs import SiteJob
from crawler.render.browser import browser_addresses
from crawler.render.stage import RenderStage, SiteSample
from crawler.results import ResultWriter, SiteTally
from crawler.spiders.sites import SitesSpider


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class SiteResults:
    """One site's tally while its items come in."""

    job: SiteJob
    badge: SiteBadge
    counts: SiteCounts
    tally: SiteTally
    sample: SiteSample | None = None
    failing_urls: set[str] = field(default_factory=set)
    pages: int = 0  # page items written
    announced: int | None = None  # page items the spider yielded, once its crawl ended
    done: bool = False
    rendering: bool = False


class SiteResultsPipeline:
    """Tallies and writes the sites spider's items; renders each site's sample at its end."""

    def __init__(self, crawler: Crawler, jobs: list[SiteJob], writer: ResultWriter) -> None:
        self.crawler = crawler
        self.config: Config = crawler.settings["BADGEWATCH_CONFIG"]
        self.jobs = jobs
        self.writer = writer
        self.sites: dict[int, SiteResults] = {}
        self.render_stage: RenderStage | None = None
        self._render_tasks: set[asyncio.Task[None]] = set()

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> SiteResultsPipeline:
        spider = crawler.spider
        if not isinstance(spider, SitesSpider):
            raise TypeError(f"{cls.__name__} serves the sites spider, not {spider!r}")
        pipeline = cls(crawler, spider.jobs, spider.writer)
        crawler.signals.connect(pipeline.spider_idle, signal=signals.spider_idle)
        crawler.signals.connect(pipeline.spider_closed, signal=signals.spider_closed)
        return pipeline

    async def open_spider(self) -> None:
        if self.config.render.enabled:
            hosts = {host for job in self.jobs for host in job.hosts}
            addresses = await asyncio.to_thread(browser_addresses, self.config, hosts)
            self.render_stage = RenderStage(self.config, addresses, self.writer.run_id)

    def process_item(self, item: object) -> object:
        if isinstance(item, PageItem):
            self._page(self.sites[item.site_id], item)
        elif isinstance(item, SiteOpened):
            self._open(item)
        elif isinstance(item, SiteCrawled):
            site = self.sites[item.site_id]
            site.announced = item.pages
            self._maybe_finish(site)
        return item

    # -- items -----------------------------------------------------------------------------

    def _open(self, item: SiteOpened) -> None:
        job = item.job
        owned = (job.queue_job, job.owner) if job.queue_job and job.owner else None
        tally = self.writer.open_site(
            job.site_id, item.dns, utcnow(), owned,
            incremental=item.incremental, check_key=item.check_key,
        )
        self.sites[job.site_id] = SiteResults(
            job=job,
            badge=item.badge,
            counts=item.counts,
            tally=tally,
            sample=self.render_stage.sample() if self.render_stage else None,
        )

    def _page(self, site: SiteResults, item: PageItem) -> None:
        tally, verdict = site.tally, item.verdict
        if item.home:
            tally.home_fetched = True
        if verdict.verdict == "not_checked":
            tally.not_checked += 1
        else:
            tally.checked += 1
            if verdict.verdict == "non_compliant":
                tally.failing += 1
                site.failing_urls.add(item.url)
        for reason in verdict.reasons:
            tally.reasons[reason] += 1
        if item.carried:
            tally.carried += 1
        now = utcnow()
        self.writer.add_page(
            {
                "check_id": tally.check_id,
                "url": item.url,
                "http_status": item.status,
                "verdict": verdict.verdict,
                "reasons": list(verdict.reasons),
                "identifiers": list(verdict.identifiers),
                "badge_offset": verdict.offset,
                "badge_in_body": verdict.in_body,
                "depth": item.depth,
                "title": item.title,
                "error": item.error,
                "fetched_at": now,
                "etag": item.etag,
                "last_modified": item.last_modified,
                "digest": item.digest,
                "carried": item.carried,
            },
            now,
        )
        site.pages += 1
        if site.sample is not None and item.tree is not None:
            site.sample.consider(
                item.url,
                home=item.home or site.job.only_url is not None,
                tree=item.tree,
                verdict=verdict,
            )
        self._maybe_finish(site)

    # -- a site's end ----------------------------------------------------------------------

    def _maybe_finish(self, site: SiteResults) -> None:
        if site.announced is None or site.pages < site.announced:
            return
        if site.done or site.rendering:
            return
        if self.render_stage is not None and site.sample is not None and site.sample.urls:
            site.rendering = True
            task = asyncio.ensure_future(self._render_then_close(site, self.render_stage))
            self._render_tasks.add(task)
            task.add_done_callback(self._render_tasks.discard)
            return
        self._close_site(site)

    async def _render_then_close(self, site: SiteResults, stage: RenderStage) -> None:
        assert site.sample is not None
        renders = await stage.render_site(site.job.site_id, site.badge, site.sample)
        if site.done:
            return
        tally = site.tally
        tally.renders = renders.summary()
        for _, outcome in renders.outcomes:
            if outcome.verdict.verdict != "non_compliant":
                continue
            for reason in outcome.verdict.reasons:
                tally.reasons[reason] += 1
            if outcome.url not in site.failing_urls:
                site.failing_urls.add(outcome.url)
                tally.failing += 1
        self.writer.add_renders(stage.rows(tally.check_id, renders), utcnow())
        self._stats_inc("badgewatch/pages_rendered", len(renders.outcomes))
        self._close_site(site)

    def _close_site(self, site: SiteResults) -> None:
        site.done = True
        site.tally.robots_excluded = site.counts.robots_excluded
        site.tally.refused.update(site.counts.refused)
        # A single-page recheck never replaces the site's status.
        self.writer.close_site(
            site.tally, utcnow(), finished=True, publish=site.job.only_url is None, note=None
        )
        self._stats_inc("badgewatch/sites_finished")

    def _stats_inc(self, key: str, count: int = 1) -> None:
        if self.crawler.stats is not None:
            self.crawler.stats.inc_value(key, count)

    # -- the crawl's end -------------------------------------------------------------------

    def spider_idle(self) -> None:
        """Scrapy is idle once the fetching is done; the render stage may still be running."""
        if self._render_tasks:
            raise DontCloseSpider

    async def spider_closed(self, reason: str) -> None:
        finished = reason == "finished"
        for site in self.sites.values():
            if not site.done:
                site.done = True
                site.tally.robots_excluded = site.counts.robots_excluded
                self.writer.close_site(
                    site.tally, utcnow(), finished=False, publish=False,
                    note=f"crawl stopped: {reason}",
                )
        all_started = len(self.sites) == len(self.jobs)
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
        for task in list(self._render_tasks):
            task.cancel()
        if self.render_stage is not None:
            await self.render_stage.close()
