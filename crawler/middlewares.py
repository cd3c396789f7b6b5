"""Downloader middleware keeping every request, redirects included, on its site's own hosts."""

from __future__ import annotations

from typing import Any

from scrapy import Request
from scrapy.exceptions import IgnoreRequest

from crawler.urls import host_of


class OffSiteRedirect(IgnoreRequest):
    """A redirect left the site's hosts; the page is recorded as not fetched."""


class StayOnSiteMiddleware:
    def __init__(self, crawler: Any) -> None:
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Any) -> StayOnSiteMiddleware:
        return cls(crawler)

    def process_request(self, request: Request) -> Any:
        site_id = request.meta.get("site_id")
        crawls = getattr(self.crawler.spider, "crawls", {})
        crawl = crawls.get(site_id)
        if crawl is None:
            return None
        host = host_of(request.url)
        if host not in crawl.links.hosts:
            crawl.links.refused["off_site_redirect"] += 1
            raise OffSiteRedirect(f"redirected off the site to {host}")
        return None
