"""The fetch process of ``badgewatch check URL``: ``python -m crawler.fetch --url URL …``.

A Twisted reactor runs once per process, so the command starts this process to fetch the page
through the crawl's own downloader (``crawler.spiders.page``) and writes the verdict of the page
item it yields as one JSON line on stdout. It dies with its parent.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import json
import signal
import sys

from scrapy import signals
from scrapy.crawler import CrawlerProcess

from badgewatch.config import load_config
from crawler.checks.badge import BadgePatterns, SiteBadge, fetch_failed
from crawler.items import PageItem
from crawler.settings import crawl_settings
from crawler.spiders.page import PageSpider

PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """A fetch whose command is gone has no one to report to: Linux kills it."""
    with contextlib.suppress(OSError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m crawler.fetch")
    parser.add_argument("--url", required=True, help="the page, as it is requested (ASCII)")
    parser.add_argument("--host", action="append", default=[], help="a host it may go to")
    parser.add_argument("--identifier", required=True)
    parser.add_argument("--certificate")
    args = parser.parse_args(argv)
    _die_with_parent()

    config = load_config()
    patterns = BadgePatterns.from_spec(config.badge.spec())
    badge = SiteBadge(args.identifier, args.certificate, patterns)
    settings = crawl_settings(config)
    settings.update(LOG_LEVEL="ERROR", LOGSTATS_INTERVAL=0.0)
    process = CrawlerProcess(settings)
    crawler = process.create_crawler(PageSpider)
    items: list[PageItem] = []

    def scraped(item: object) -> None:
        if isinstance(item, PageItem):
            items.append(item)

    crawler.signals.connect(scraped, signal=signals.item_scraped)
    process.crawl(crawler, url=args.url, hosts=frozenset(args.host), badge=badge)
    process.start()
    item = items[-1] if items else None
    verdict = item.verdict if item else fetch_failed("抓取进程没有得到结果")
    out = {key: verdict.to_dict()[key] for key in ("verdict", "reasons", "identifiers", "message")}
    # The page's final URL; none when it could not be fetched.
    out["url"] = item.url if item and item.status is not None else None
    sys.stdout.write(json.dumps(out, ensure_ascii=False) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
