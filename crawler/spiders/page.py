"""One page through the crawl's own downloader, for ``badgewatch check URL``.

The same Scrapy settings, middlewares (site hosts, address policy), resolver, time and size
limits and decoding as the crawl, and the same item: it yields the page's ``PageItem``, which
``crawler.fetch`` takes from Scrapy's ``item_scraped`` signal. There is no site and no pipeline.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

from scrapy import Request, Spider
from scrapy.http import Response
from twisted.python.failure import Failure

from badgewatch.config import Config
from crawler.checks.badge import Policy, SiteBadge, check_page
from crawler.items import PageItem
from crawler.middlewares import SITE_HOSTS
from crawler.pages import fetch_reason, is_html, read_page

NO_SITE = 0  # the site_id of a page checked on its own


class PageSpider(Spider):
    name = "page"

    def __init__(
        self, *args: Any, url: str, hosts: frozenset[str], badge: SiteBadge, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.url = url
        self.hosts = hosts
        self.badge = badge

    async def start(self) -> AsyncIterator[Request]:
        yield Request(
            self.url,
            callback=self.parse,
            errback=self.on_error,
            dont_filter=True,
            meta={SITE_HOSTS: self.hosts},
        )

    def parse(self, response: Response, **kwargs: Any) -> Iterator[PageItem]:
        content_type = response.headers.get(b"Content-Type") or b""
        if response.status >= 400:
            yield PageItem.http_error(NO_SITE, response.url, response.status)
        elif not is_html(content_type):
            shown = content_type.decode("latin-1")[:100]
            reason = f"不是 HTML 页面（Content-Type: {shown}）"
            yield PageItem.failed(NO_SITE, response.url, response.status, reason)
        else:
            page = read_page(response.body, content_type)
            config: Config = self.settings["BADGEWATCH_CONFIG"]
            policy = Policy.from_setting(config.crawl.failing_reasons)
            verdict = check_page(page.text, self.badge, policy)
            yield PageItem(NO_SITE, response.url, response.status, verdict, title=page.title)

    def on_error(self, failure: Failure) -> Iterator[PageItem]:
        request: Request = failure.request  # type: ignore[attr-defined]
        reason = fetch_reason(failure.value, request.meta.get("download_timeout"))
        yield PageItem.failed(NO_SITE, request.url, None, reason)
