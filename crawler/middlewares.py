"""Downloader middleware keeping every request, redirects included, on its site's own hosts."""

from __future__ import annotations

from typing import Any

from scrapy import Request, Spider
from scrapy.exceptions import IgnoreRequest

from crawler.urls import host_of


class OffSiteRedirect(IgnoreRequest):
    """A redirect left the site's hosts; the page is recorded as not fetched."""


class StayOnSiteMiddleware:
    def process_request(self, request: Request, spider: Spider) -> Any:
        site_id = request.meta.get("site_id")
        crawls = getattr(spider, "crawls", {})
        crawl = crawls.get(site_id)
        if crawl is None:
            return None
        host = host_of(request.url)
        if host not in crawl.links.hosts:
            crawl.links.refused["off_site_redirect"] += 1
            raise OffSiteRedirect(f"redirected off the site to {host}")
        return None
