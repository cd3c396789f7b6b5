"""What a crawl process is asked to do: plain, JSON-serialisable descriptions of sites.

The monitor (or a worker on another machine) hands these to ``python -m crawler.run``; the
crawl code never reads the sites table itself, so the same job runs anywhere.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from badgewatch.registrations import FooterRegistration
from store.models import Site


@dataclass(frozen=True)
class SiteJob:
    site_id: int
    domain: str  # ASCII form of the .政务 domain
    hosts: tuple[str, ...]  # every host of the site the crawl may fetch, ASCII
    ipv4: str
    ipv6: str | None
    identifier: str
    certificate: str | None
    max_pages: int | None = None
    # the footer numbers the site registered (canonical), compared with each page's footer
    site_code: str | None = None
    icp: str | None = None
    psb: str | None = None
    only_url: str | None = None  # a single-page recheck
    # Every page fetched and checked in full, no verdict carried (crawler.known): a recheck a
    # person asked for judges the site as it is now, whatever its validators say.
    full: bool = False
    queue_job: int | None = None  # the queue's job and this attempt's ownership token
    owner: str | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SiteJob:
        return cls(**{**data, "hosts": tuple(data["hosts"])})

    def footer(self) -> FooterRegistration | None:
        """The registered footer numbers the page check compares, or None."""
        registered = FooterRegistration(self.site_code, self.icp, self.psb)
        return registered or None


def job_for(
    site: Site,
    *,
    only_url: str | None = None,
    max_pages: int | None = None,
    queue_job: int | None = None,
    owner: str | None = None,
    full: bool = False,
) -> SiteJob:
    hosts = [site.domain]
    if site.english_domain:
        hosts.append(site.english_domain)
    return SiteJob(
        site_id=site.id,
        domain=site.domain,
        hosts=tuple(hosts),
        ipv4=site.ipv4,
        ipv6=site.ipv6,
        identifier=site.identifier,
        certificate=site.certificate,
        max_pages=max_pages,
        site_code=site.site_code,
        icp=site.icp,
        psb=site.psb,
        only_url=only_url,
        queue_job=queue_job,
        owner=owner,
        full=full,
    )


def jobs_for(session: Session, site_ids: list[int] | None = None) -> list[SiteJob]:
    """Jobs for the given sites, or for every monitored site."""
    query = select(Site).order_by(Site.id)
    query = query.where(Site.id.in_(site_ids)) if site_ids else query.where(Site.monitored)
    return [job_for(site) for site in session.scalars(query)]


def dumps(jobs: list[SiteJob]) -> str:
    return json.dumps([job.to_json() for job in jobs], ensure_ascii=False)


def loads(text: str) -> list[SiteJob]:
    return [SiteJob.from_json(item) for item in json.loads(text)]
