"""What the spiders yield: a site's start, each page's verdict, a site's end.

The spider decides what a page is and where to go next; the item pipeline
(``crawler.pipelines``) keeps the counts and writes them. A site ends in the pipeline once it
has its ``SiteCrawled`` and every page item the spider announced in it: the scraper may still
hold a page of another response when the spider sends the end.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from selectolax.lexbor import LexborHTMLParser

from crawler.checks.badge import PageVerdict, SiteBadge, fetch_failed
from crawler.jobs import SiteJob
from store.records import DnsRecord


@dataclass
class SiteCounts:
    """What the spider counts of a site's frontier, as it goes: URLs refused (by cause) and
    URLs robots.txt excluded. Handed over in ``SiteOpened``; read when the site ends."""

    refused: Counter[str] = field(default_factory=Counter)
    robots_excluded: int = 0


@dataclass(frozen=True)
class SiteOpened:
    """A site's crawl begins: its job, its badge, its DNS check (as stored) and its counts."""

    job: SiteJob
    badge: SiteBadge
    dns: DnsRecord
    counts: SiteCounts
    incremental: bool = False  # validators sent, unchanged pages carried (crawler.known)
    check_key: str | None = None


@dataclass(frozen=True)
class PageItem:
    """One page's verdict. ``home`` when it is the site's home page and was read; ``tree``,
    the page's parse tree, when it was read and rendering is on (the render stage samples
    pages by their layout). ``etag``, ``last_modified`` and ``digest`` are what the next crawl
    asks with and compares; ``carried`` when the page had not changed and ``verdict`` is the
    last check's (``crawler.known``)."""

    site_id: int
    url: str
    status: int | None
    verdict: PageVerdict
    depth: int = 0
    title: str | None = None
    error: str | None = None
    home: bool = False
    tree: LexborHTMLParser | None = field(default=None, repr=False, compare=False)
    etag: str | None = None
    last_modified: str | None = None
    digest: str | None = None
    carried: bool = False

    @classmethod
    def failed(
        cls, site_id: int, url: str, status: int | None, reason: str, depth: int = 0
    ) -> PageItem:
        """A page that could not be checked, and why."""
        return cls(site_id, url, status, fetch_failed(reason), depth, error=reason)

    @classmethod
    def http_error(cls, site_id: int, url: str, status: int, depth: int = 0) -> PageItem:
        """A page the server answered with an error (after retries): not checked, never a
        failure."""
        return cls.failed(site_id, url, status, f"服务器返回 HTTP {status}", depth)


@dataclass(frozen=True)
class SiteCrawled:
    """A site's last request is answered; ``pages`` page items were yielded for it."""

    site_id: int
    pages: int
