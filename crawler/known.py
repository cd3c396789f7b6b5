"""What the last check of a site knows of its pages, and how tonight's crawl of it may use that.

An incremental crawl asks again for each page the site's last complete check read, with that
page's validators (``If-None-Match``, ``If-Modified-Since``); a ``304``, or a ``200`` whose body
has the same digest, carries the last verdict forward without running the page check again. The
crawl is full (no validators, every page checked) when a person asked for it (a recheck), when
the site has no previous check, when its last full crawl is ``[crawl] full_recrawl_days`` old,
or when what the page check compares changed since (the site's badge or footer numbers, the
failing reasons, the check's own code: :func:`check_key`). Even incremental, the home page and a
sample of ``[crawl] full_fetch_sample`` of the known pages, drawn afresh each check, are fetched
and checked in full, so a server whose validators lie is still caught.

The render stage samples among the pages read in full, as it always did (a carried page has no
markup to sample by and keeps its verdict). So that the sample stays what a full crawl would
render, every page the last check rendered (the home page, pages whose badge only a browser can
judge, one page per layout) is also fetched and checked in full.
"""

from __future__ import annotations

import hashlib
import zlib
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import cast

from sqlalchemy import select
from sqlalchemy.orm import Session

from badgewatch.badgespec import BadgeSpec
from badgewatch.config import CrawlConfig
from badgewatch.registrations import FooterRegistration
from badgewatch.vocabulary import CARRIED_MESSAGE
from crawler.checks.badge import PageVerdict, Policy, SiteBadge, Verdict
from store.models import PageRender, PageResult, Site, SiteCheck

_CHECKS = Path(__file__).resolve().parent / "checks"
_SAMPLE_SCALE = 2**32


def body_digest(body: bytes) -> str:
    """The digest a page's body is compared by (32 hex digits)."""
    return hashlib.blake2b(body, digest_size=16).hexdigest()


@cache
def _checks_source() -> str:
    """The page check's own code: a verdict is never carried across a change to it."""
    digest = hashlib.blake2b(digest_size=16)
    for path in sorted(_CHECKS.rglob("*.py")):
        digest.update(path.read_bytes())
    return digest.hexdigest()


def check_key(
    badge: SiteBadge, spec: BadgeSpec, policy: Policy, footer: FooterRegistration | None
) -> str:
    """Everything a page's verdict depends on besides the page: two checks with the same key
    give an unchanged page the same verdict."""
    parts = (
        badge.identifier,
        badge.certificate,
        repr(spec),
        sorted(policy.failures),
        repr(footer),
        _checks_source(),
    )
    return hashlib.blake2b(repr(parts).encode(), digest_size=16).hexdigest()


@dataclass(frozen=True, slots=True)
class KnownPage:
    """One page as the last check read it: what to ask with and the verdict to carry."""

    url: str
    depth: int
    status: int | None
    verdict: str
    reasons: tuple[str, ...]
    identifiers: tuple[str, ...]
    offset: int | None
    in_body: bool | None
    title: str | None
    etag: str | None
    last_modified: str | None
    digest: str | None
    fetched_at: datetime

    @property
    def readable(self) -> bool:
        """The last check read it (and stored its digest): its verdict may be carried."""
        return self.digest is not None

    def headers(self) -> dict[str, str]:
        """The conditional request's headers (none when the server gave no validators: the
        body's digest then decides)."""
        out = {}
        if self.etag:
            out["If-None-Match"] = self.etag
        if self.last_modified:
            out["If-Modified-Since"] = self.last_modified
        return out

    def carried_verdict(self) -> PageVerdict:
        return PageVerdict(
            verdict=cast(Verdict, self.verdict),
            reasons=self.reasons,
            message=CARRIED_MESSAGE,
            identifiers=self.identifiers,
            offset=self.offset,
            in_body=self.in_body,
        )


@dataclass(frozen=True)
class Baseline:
    """Tonight's crawl of one site: incremental or full (``why`` says which and why), and the
    pages the last complete check knew (every one is asked for again, so pages reached only
    through unchanged pages are still visited)."""

    incremental: bool
    why: str
    check_key: str
    pages: dict[str, KnownPage] = field(default_factory=dict)
    sample: float = 0.0
    salt: int = 0
    rendered: frozenset[str] = frozenset()  # pages the last check rendered: in full again

    def sampled(self, url: str) -> bool:
        """In this check's full-fetch sample: a stable draw per (check, URL)."""
        draw = zlib.crc32(f"{self.salt}|{url}".encode())
        return draw < self.sample * _SAMPLE_SCALE

    def conditional(self, url: str) -> KnownPage | None:
        """The known page to ask ``url`` with its validators, or None to fetch it in full."""
        if not self.incremental:
            return None
        known = self.pages.get(url)
        if known is None or not known.readable or url in self.rendered or self.sampled(url):
            return None
        return known


def full_reason(
    *,
    full_requested: bool,
    enabled: bool,
    last: SiteCheck | None,
    last_full_at: datetime | None,
    key: str,
    now: datetime,
    full_recrawl_days: int,
) -> str | None:
    """Why tonight's crawl of a site must be full, or None when it may be incremental."""
    if full_requested:
        return "recheck"
    if not enabled:
        return "incremental off"
    if last is None:
        return "first check"
    if last.check_key != key:
        return "check changed"
    if last_full_at is None or now - last_full_at >= timedelta(days=full_recrawl_days):
        return "full recrawl due"
    return None


def last_full_check_at(session: Session, site_id: int) -> datetime | None:
    """When the site's last complete full crawl started."""
    return session.scalar(
        select(SiteCheck.started_at)
        .where(
            SiteCheck.site_id == site_id,
            SiteCheck.complete.is_(True),
            SiteCheck.incremental.is_(False),
            SiteCheck.check_key.is_not(None),
        )
        .order_by(SiteCheck.started_at.desc())
        .limit(1)
    )


def known_pages(session: Session, check_id: int) -> dict[str, KnownPage]:
    rows = session.execute(
        select(
            PageResult.url, PageResult.depth, PageResult.http_status, PageResult.verdict,
            PageResult.reasons, PageResult.identifiers, PageResult.badge_offset,
            PageResult.badge_in_body, PageResult.title, PageResult.etag,
            PageResult.last_modified, PageResult.digest, PageResult.fetched_at,
        ).where(PageResult.check_id == check_id)
    )
    pages = {}
    for row in rows:
        pages[row.url] = KnownPage(
            url=row.url, depth=row.depth, status=row.http_status, verdict=row.verdict,
            reasons=tuple(row.reasons), identifiers=tuple(row.identifiers),
            offset=row.badge_offset, in_body=row.badge_in_body, title=row.title,
            etag=row.etag, last_modified=row.last_modified, digest=row.digest,
            fetched_at=row.fetched_at,
        )
    return pages


def load_baseline(
    session: Session,
    site_id: int,
    *,
    key: str,
    full_requested: bool,
    crawl: CrawlConfig,
    now: datetime,
    salt: int,
) -> Baseline:
    """What the site's last complete check (``sites.last_check_id``) gives tonight's crawl."""
    last_id = session.scalar(select(Site.last_check_id).where(Site.id == site_id))
    last = session.get(SiteCheck, last_id) if last_id is not None else None
    why = full_reason(
        full_requested=full_requested,
        enabled=crawl.incremental,
        last=last,
        last_full_at=last_full_check_at(session, site_id) if last is not None else None,
        key=key,
        now=now,
        full_recrawl_days=crawl.full_recrawl_days,
    )
    if why is not None or last is None:
        return Baseline(False, why or "first check", key)
    rendered = session.scalars(select(PageRender.url).where(PageRender.check_id == last.id))
    return Baseline(
        True, "incremental", key, known_pages(session, last.id), crawl.full_fetch_sample, salt,
        frozenset(rendered),
    )


def changed_since(lastmod: str | None, fetched_at: datetime) -> bool | None:
    """What a sitemap's ``lastmod`` says of a page last fetched at ``fetched_at``: changed
    since (True), not (False), or nothing (None: absent or unreadable). A date alone counts
    as changed on the day the page was last fetched."""
    if not lastmod:
        return None
    text = lastmod.strip()
    try:
        if len(text) == 10:
            return datetime.fromisoformat(text).date() >= fetched_at.astimezone(UTC).date()
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    if fetched_at.tzinfo is None:
        fetched_at = fetched_at.replace(tzinfo=UTC)
    return moment > fetched_at
