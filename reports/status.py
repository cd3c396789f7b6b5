"""What the CLI and the demo (and the web pages to come) read back: each site's last complete
verdict and its pages."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from badgewatch.domains import FieldInvalid, english_domain, gov_domain
from store.models import PageRender, PageResult, Site, SiteCheck, SiteStatus
from store.records import PageRow, RenderRow, reasons_of

SITE_REASONS = {
    SiteStatus.DNS_MISMATCH: "dns_mismatch",
    SiteStatus.UNREACHABLE: "unreachable",
}


def _site_reasons(site: Site, check: SiteCheck | None) -> list[str]:
    if check is None:
        return []
    reasons = [SITE_REASONS[site.status]] if site.status in SITE_REASONS else []
    pages = reasons_of(check.reasons)["pages"]
    reasons.extend(sorted(code for code in pages if code != "ok"))
    return reasons


def page_rows(session: Session, check_id: int) -> list[PageRow]:
    rows = session.execute(
        select(
            PageResult.url,
            PageResult.verdict,
            PageResult.reasons,
            PageResult.http_status,
            PageResult.error,
        )
        .where(PageResult.check_id == check_id)
        .order_by(PageResult.id)
    )
    return [
        PageRow(url=url, verdict=verdict, reasons=list(reasons), http_status=status, error=error)
        for url, verdict, reasons, status, error in rows
    ]


def render_rows(session: Session, check_id: int) -> list[RenderRow]:
    rows = session.scalars(
        select(PageRender).where(PageRender.check_id == check_id).order_by(PageRender.id)
    )
    return [
        RenderRow(
            url=r.url,
            viewport=r.viewport,
            verdict=r.verdict,
            reasons=list(r.reasons),
            message=r.message,
            screenshot=r.screenshot,
        )
        for r in rows
    ]


def site_summary(
    session: Session, site: Site, *, check: SiteCheck | None = None, with_pages: bool = False
) -> dict[str, Any]:
    """One site in the documented ``--json`` shape; ``check`` defaults to the last complete."""
    check = check if check is not None else site.last_check
    summary: dict[str, Any] = {
        "domain": site.domain,
        "name": site.name,
        "identifier": site.identifier,
        "status": site.status.value,
        "reasons": _site_reasons(site, check),
        "pages_checked": check.pages_checked if check else 0,
        "pages_failing": check.pages_failing if check else 0,
        "pages_not_checked": check.pages_not_checked if check else 0,
        "robots_excluded": check.robots_excluded if check else 0,
        "checked_at": site.checked_at.isoformat() if site.checked_at else None,
        "dns": check.dns if check else None,
    }
    if with_pages:
        summary["pages"] = page_rows(session, check.id) if check else []
        summary["renders"] = render_rows(session, check.id) if check else []
    return summary


def find_site(session: Session, domain: str) -> Site | None:
    """A site by its .政务 domain (either form) or its English domain."""
    for canon in (gov_domain, english_domain):
        try:
            name = canon(domain)
        except FieldInvalid:
            continue
        site = session.scalar(
            select(Site).where((Site.domain == name) | (Site.english_domain == name))
        )
        if site is not None:
            return site
    return None
