"""One page through the crawl's own downloader, for ``badgewatch check URL``.

The same Scrapy settings, middlewares (site hosts, address policy), resolver, time and size
limits and decoding as the crawl; only the page's verdict is kept.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

from scrapy import Request, Spider
from scrapy.http import Response
from twisted.python.failure import Failure

from badgewatch.config import Config
from crawler.checks.badge import PageVerdict, Policy, SiteBadge, check_page, fetch_failed
from crawler.middlewares import SITE_HOSTS
from crawler.pages import fetch_reason, is_html, read_page


class PageSpider(Spider):
    name = "page"

    def __init__(
        self, *args: Any, url: str, hosts: frozenset[str], badge: SiteBadge, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.url = url
        self.hosts = hosts
        self.badge = badge
        self.verdict: PageVerdict | None = None
        self.final_url: str | None = None

    async def start(self) -> AsyncIterator[Request]:
        yield Request(
            self.url,
            callback=self.parse,
            errback=self.on_error,
            dont_filter=True,
            meta={SITE_HOSTS: self.hosts},
        )

    def parse(self, response: Response, **kwargs: Any) -> Iterator[Any]:
        self.final_url = response.url
        content_type = response.headers.get(b"Content-Type") or b""
        if response.status >= 400:
            self.verdict = fetch_failed(f"服务器返回 HTTP {response.status}")
        elif not is_html(content_type):
            shown = content_type.decode("latin-1")[:100]
            self.verdict = fetch_failed(f"不是 HTML 页面（Content-Type: {shown}）")
        else:
            page = read_page(response.body, content_type)
            config: Config = self.settings["BADGEWATCH_CONFIG"]
            policy = Policy.from_setting(config.crawl.failing_reasons)
            self.verdict = check_page(page.text, self.badge, policy)
        yield from ()

    def on_error(self, failure: Failure) -> None:
        request: Request = failure.request  # type: ignore[attr-defined]
        reason = fetch_reason(failure.value, request.meta.get("download_timeout"))
        self.verdict = fetch_failed(reason)
