"""Which domain an application may claim, checked at create, update and submit.

A domain has one site and one open application at a time: a ``new`` application for a domain
that already has a badge is refused (the unit re-reviews it instead), a ``rereview`` must name a
site of its own unit that has one, a domain held by another unit (its site, or its open
application) is refused, and a second open application for the same domain is refused with the
申请序号 of the one to edit and resubmit. Open means submitted and not yet issued, rejected ones
waiting for their resubmission included. Domains are compared in both their stored (ASCII) and
Unicode forms (``政务`` = ``xn--zfr164b``).

The database holds the last rule too (``store.models.OPEN_DOMAIN_INDEX``): when two transactions
pass the check at the same moment, the second to write is refused by ``holding`` in the same
words.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from badgewatch.domains import display_domain
from store.db import is_postgres
from store.models import (
    OPEN_DOMAIN_INDEX,
    Application,
    ApplicationKind,
    AppState,
    RedPage,
    Site,
    Unit,
)
from workflow.form import LABELS, RED_PAGE, ApplicationForm, FieldError, FormInvalid

# Submitted and not yet issued; a rejected application waits for its resubmission.
OPEN_STATES = frozenset(AppState) - {AppState.DRAFT, AppState.ISSUED}


def _spellings(domain: str) -> set[str]:
    return {domain, display_domain(domain)}


def _error(path: str, message: str) -> FieldError:
    return FieldError(path, LABELS[path], message)


def holder_of(session: Session, domain: str) -> Site | None:
    """The site registered at ``domain``, in either spelling."""
    return session.scalar(select(Site).where(Site.domain.in_(_spellings(domain))))


def rereviewed_site(session: Session, reference: str) -> Site | None:
    """The site a re-review names: by identifier or by domain, in either spelling."""
    return session.scalar(
        select(Site).where(
            or_(Site.identifier == reference.upper(), Site.domain.in_(_spellings(reference)))
        )
    )


@dataclass(frozen=True)
class Claim:
    """What an application claims: its kind, its domain (ASCII) and, for a re-review, the
    site it names (identifier or domain, as ``site.identifier`` holds it)."""

    kind: ApplicationKind
    domain: str
    reference: str | None
    red_page: bool = False  # 无自建网站，开通网络红页 (a re-review's must match its site's)

    @classmethod
    def of_form(cls, form: ApplicationForm) -> Claim:
        return cls(form.kind, form.site.domain, form.site.identifier, form.site.red_page)

    @classmethod
    def of_application(cls, application: Application) -> Claim:
        site = application.rereview_site
        red_page = (application.form.get("site") or {}).get(RED_PAGE) is True
        return cls(application.kind, application.domain, site.identifier if site else None,
                   red_page)


def check_claim(
    session: Session, unit: Unit, claim: Claim, application_id: int | None
) -> Site | None:
    """Raise ``FormInvalid`` (every problem at once, nothing saved) unless the unit may apply
    for the claimed domain; return the site a re-review re-reviews (None for a new site)."""
    domain = claim.domain
    shown = display_domain(domain)
    errors: list[FieldError] = []
    holder = holder_of(session, domain)
    if holder is not None and holder.unit_id != unit.id:
        errors.append(_error(
            "site.domain",
            f"域名 {shown} 已登记在其他单位名下，不能为本单位申请；如有疑问请联系同级编办",
        ))
    others = session.scalars(
        select(Application)
        .where(
            Application.domain.in_(_spellings(domain)),
            Application.state.in_(OPEN_STATES),
            Application.id != (application_id or 0),
        )
        .order_by(Application.id)
    ).all()
    for other in others:
        if other.unit_id != unit.id:
            errors.append(_error(
                "site.domain", f"域名 {shown} 正由其他单位申请办理中，不能为本单位申请",
            ))
        else:
            errors.append(_error(
                "site.domain",
                f"域名 {shown} 已有办理中的申请（申请序号 {other.serial}），不能重复申请；"
                "请修改该申请后重新提交",
            ))
        break
    site = None
    if claim.kind is ApplicationKind.NEW:
        if holder is not None and holder.unit_id == unit.id:
            errors.append(_error(
                "site.domain",
                f"域名 {shown} 已发放网站标识（{holder.identifier}），不能再申请新开办网站；"
                "请将申请类型选为“已开办网站复核”并选择该网站",
            ))
    elif claim.reference is None:
        errors.append(_error(
            "site.identifier",
            "申请类型为“已开办网站复核”时必填：请选择本单位已发放网站标识的网站",
        ))
    else:
        reference = claim.reference
        site = rereviewed_site(session, reference)
        if site is None or site.unit_id != unit.id:
            shown_reference = display_domain(reference)
            errors.append(_error(
                "site.identifier",
                f"本单位没有网站标识代码或中文域名为 {shown_reference} 的已开办网站；"
                "只能复核本单位已发放网站标识的网站，尚无标识的网站请申请“新开办网站申请”",
            ))
            site = None
        elif site.domain != domain:
            errors.append(_error(
                "site.domain",
                f"复核申请的中文域名应为所复核网站的域名 {display_domain(site.domain)}",
            ))
        else:
            errors.extend(_red_page_matches(session, site, claim))
    if errors:
        raise FormInvalid(errors)
    return site


def _red_page_matches(session: Session, site: Site, claim: Claim) -> list[FieldError]:
    """A re-review of a red page is one (its address is the platform's), and only of one."""
    red_page = session.scalar(select(RedPage.id).where(RedPage.site_id == site.id)) is not None
    if red_page and not claim.red_page:
        return [_error(
            f"site.{RED_PAGE}",
            "所复核的网站是网络红页：请勾选“无自建网站，开通网络红页”，无需填写 IP 地址",
        )]
    if claim.red_page and not red_page:
        return [_error(
            f"site.{RED_PAGE}",
            "所复核的网站不是网络红页：请不要勾选此项，并填写网站的 IP 地址",
        )]
    return []


@contextmanager
def holding(session: Session, application: Application, claim: Claim) -> Iterator[None]:
    """Make the changes of the ``with`` block that open the claim, and write them at its end,
    so that the database's one-open-application-per-domain index decides a race ``check_claim``
    cannot see: the first transaction to write wins and this one raises ``FormInvalid`` in the
    claim check's words (the caller's transaction rolls back whole). On SQLite writers take
    turns and a loser's stale snapshot fails before this (as ``ConcurrentChange``); on
    PostgreSQL the write waits for the other transaction, then fails."""
    unit, application_id = application.unit, application.id
    try:
        if is_postgres(session):
            # A savepoint (what came before is written first), so the transaction stays
            # usable for the words below.
            with session.begin_nested():
                yield
                session.flush()
        else:
            yield
            session.flush()
    except IntegrityError as exc:
        if not _open_domain_taken(exc):
            raise
        if is_postgres(session):
            with session.no_autoflush:  # the other application is committed: say which
                check_claim(session, unit, claim, application_id)
        raise FormInvalid([_error(
            "site.domain",
            f"域名 {display_domain(claim.domain)} 已有办理中的申请，不能重复申请；请刷新后查看",
        )]) from exc


def _open_domain_taken(exc: IntegrityError) -> bool:
    """Whether ``exc`` is the open-domain index refusing a second open application."""
    diag = getattr(exc.orig, "diag", None)  # psycopg names the constraint; SQLite its column
    if diag is not None:
        return getattr(diag, "constraint_name", None) == OPEN_DOMAIN_INDEX
    return "UNIQUE constraint failed: applications.domain" in str(exc.orig)
