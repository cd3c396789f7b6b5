"""Which sitemaps a site's crawl fetches, and the page URLs it takes from them.

A sitemap index may list itself, two may list each other, nest without end or list thousands of
files: each file is fetched once, indexes nest to ``[crawl] max_sitemap_depth``, and a site
fetches at most ``max_sitemaps`` files and takes at most ``max_sitemap_urls`` page URLs from
them (each with its ``lastmod``, which orders an incremental crawl's work: changed pages
first). Every refusal is counted in the site's refused counters under ``sitemap_*``. Sitemaps stay
on the site's own hosts. A file may be as large as the protocol allows (50 MB uncompressed,
``max_sitemap_bytes``), over the page cap; ``.xml.gz`` files are read too.
"""

from __future__ import annotations

import zlib
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Literal

from scrapy.utils.sitemap import Sitemap

from badgewatch.config import CrawlConfig
from crawler.urls import canonical, host_of, request_url

Kind = Literal["sitemapindex", "urlset", "other", "too_large"]
Entry = tuple[str, str | None]  # a URL and its lastmod
_GZIP_MAGIC = b"\x1f\x8b"


@dataclass
class SitemapBudget:
    """One site's sitemaps: those seen, and what is left of its caps."""

    hosts: frozenset[str]
    max_files: int
    max_depth: int
    max_urls: int
    refused: Counter[str]
    files: int = 0
    urls: int = 0
    _seen: set[str] = field(default_factory=set)

    @classmethod
    def from_config(
        cls, crawl: CrawlConfig, hosts: frozenset[str], refused: Counter[str]
    ) -> SitemapBudget:
        return cls(
            hosts=hosts,
            max_files=crawl.max_sitemaps,
            max_depth=crawl.max_sitemap_depth,
            max_urls=crawl.max_sitemap_urls,
            refused=refused,
        )

    def admit(self, url: str, depth: int) -> str | None:
        """The canonical URL of a sitemap to fetch at ``depth`` (0: from robots.txt or the
        default ``/sitemap.xml``), or None, counting why."""
        encoded = request_url(url)
        target = canonical(encoded) if encoded is not None else None
        if target is None:
            self.refused["sitemap_bad_url"] += 1
            return None
        if host_of(target) not in self.hosts:
            self.refused["sitemap_off_site"] += 1
            return None
        if target in self._seen:
            self.refused["sitemap_repeat"] += 1
            return None
        if depth > self.max_depth:
            self.refused["sitemap_depth"] += 1
            return None
        if self.files >= self.max_files:
            self.refused["sitemap_cap"] += 1
            return None
        self._seen.add(target)
        self.files += 1
        return target

    def take(
        self, entries: list[Entry], admit_page: Callable[[str], str | None]
    ) -> list[Entry]:
        """Page URLs from a urlset with their ``lastmod``, up to the site's cap; ``admit_page``
        is the link filter's ``admit_url`` (page cap, hosts, traps), and only what it admits
        counts as taken."""
        taken: list[Entry] = []
        for i, (loc, lastmod) in enumerate(entries):
            if self.urls >= self.max_urls:
                self.refused["sitemap_urls_cap"] += len(entries) - i
                break
            url = admit_page(loc)
            if url:
                taken.append((url, lastmod))
                self.urls += 1
        return taken


def dated_urls(entries: list[Entry]) -> Iterator[tuple[str, str]]:
    """The canonical URL and ``lastmod`` of each entry that has one."""
    for loc, lastmod in entries:
        encoded = request_url(loc) if lastmod else None
        url = canonical(encoded) if encoded is not None else None
        if url is not None and lastmod:
            yield url, lastmod


def read_sitemap(body: bytes, max_bytes: int) -> tuple[Kind, list[Entry]]:
    """The kind of a sitemap file and its ``<loc>`` URLs with their ``<lastmod>`` (or None),
    gunzipping ``.xml.gz`` bodies up to ``max_bytes``. Runs in a thread: a 50 MB file takes
    seconds to parse."""
    if body[:2] == _GZIP_MAGIC:
        inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        try:
            body = inflater.decompress(body, max_bytes + 1)
        except zlib.error:
            return "other", []
        if len(body) > max_bytes:
            return "too_large", []
    try:
        sitemap = Sitemap(body)
        if sitemap.type not in ("sitemapindex", "urlset"):
            return "other", []
        kind: Kind = "sitemapindex" if sitemap.type == "sitemapindex" else "urlset"
        return kind, [(entry["loc"], entry.get("lastmod")) for entry in sitemap if "loc" in entry]
    except Exception:  # lxml recovers from most damage; a file it cannot read is no sitemap
        return "other", []
