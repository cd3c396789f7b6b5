"""The one permission rule of the web application, deny by default.

Every view declares who may reach it: ``@allow(Role.OFFICE_REVIEWER, ...)`` or ``@public``;
``check_request`` (run before every request) answers 404 for a view without a declaration and
for a role it does not name, exactly as for a page that does not exist. What a person may see
inside a page is decided here too: every query for applications or sites starts from
``visible_applications(user)`` or ``visible_sites(user)``, never from "all" filtered later.

Who sees what: a unit handler their unit's applications and sites; an office reviewer the
applications their office reviews and the sites of their office and every office beneath it;
CONAC everything; an operator administers (users, offices, sites) and sees every site but no
application. A crawl job (a recheck, a 自查) is seen with its site; a person's account by
operators only.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from flask import abort, current_app, flash, g, redirect, request, url_for
from sqlalchemy import Select, false, select
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response

from store.models import Application, CrawlJob, Office, PageRender, Role, Site, Unit, User

V = TypeVar("V", bound=Callable[..., Any])
Found = TypeVar("Found")

@dataclass(frozen=True)
class Access:
    """Who may reach a view: anyone (``public``) or a logged-in person in one of ``roles``."""

    roles: frozenset[Role]
    public: bool = False


_RULES: dict[Callable[..., Any], Access] = {}


def allow(*roles: Role) -> Callable[[V], V]:
    """Declare the roles that may reach this view (it then requires a login)."""
    if not roles or Role.SYSTEM in roles:
        raise ValueError("allow() names one or more roles of people")

    def declare(view: V) -> V:
        _RULES[view] = Access(frozenset(roles))
        return view

    return declare


def public(view: V) -> V:
    """Declare a view anyone may reach, logged in or not (the login page, stylesheets)."""
    _RULES[view] = Access(frozenset(), public=True)
    return view


def access_of(view: Callable[..., Any]) -> Access | None:
    """The declaration of ``view``, or None: a view without one is reachable by nobody."""
    return _RULES.get(view)


def check_request() -> Response | None:
    """Before every request: the declared rule of the view it routes to, applied to ``g.user``.
    Not logged in: to the login page; logged in in another role, or no rule: 404."""
    if request.endpoint is None:
        return None  # no such route: Flask answers 404 (or 405) itself
    view = current_app.view_functions[request.endpoint]
    access = access_of(view)
    if access is None:
        abort(404)
    if access.public:
        return None
    user: User | None = g.user
    if user is None:
        if g.get("session_expired"):
            flash("登录已超时，请重新登录。")
        return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
    if user.role not in access.roles:
        abort(404)
    return None


def place_name(session: Session, user: User) -> str:
    """Where a person works, as the header shows it: their unit, or their office's code and
    name; empty for CONAC and operators."""
    if user.unit_id is not None:
        unit = session.get(Unit, user.unit_id)
        return unit.name if unit else ""
    if user.office_id is not None:
        office = session.get(Office, user.office_id)
        return f"{office.code} {office.name}" if office else ""
    return ""


def office_subtree(office_id: int) -> Select[tuple[int]]:
    """The ids of an office and every office beneath it (a recursive query)."""
    tree = select(Office.id).where(Office.id == office_id).cte("subtree", recursive=True)
    tree = tree.union_all(select(Office.id).where(Office.parent_id == tree.c.id))
    return select(tree.c.id)


def visible_applications(user: User) -> Select[Application]:
    """The applications ``user`` may read; every query for applications starts here."""
    query = select(Application)
    if user.role is Role.UNIT_HANDLER and user.unit_id is not None:
        return query.where(Application.unit_id == user.unit_id)
    if user.role is Role.OFFICE_REVIEWER and user.office_id is not None:
        return query.where(Application.office_id == user.office_id)
    if user.role is Role.CONAC_REVIEWER:
        return query
    return query.where(false())


def visible_sites(user: User) -> Select[Site]:
    """The sites ``user`` may read; every query for sites starts here."""
    query = select(Site)
    if user.role is Role.UNIT_HANDLER and user.unit_id is not None:
        return query.where(Site.unit_id == user.unit_id)
    if user.role is Role.OFFICE_REVIEWER and user.office_id is not None:
        return query.where(Site.office_id.in_(office_subtree(user.office_id)))
    if user.role in (Role.CONAC_REVIEWER, Role.OPERATOR):
        return query
    return query.where(false())


def _or_404(found: Found | None) -> Found:
    """The object a visible_* query narrowed to one id found; 404 when there is none, as if
    it did not exist."""
    if found is None:
        abort(404)
    return found


def application_or_404(session: Session, user: User, application_id: int) -> Application:
    """One application ``user`` may read; anything else is 404, as if it did not exist."""
    query = visible_applications(user).where(Application.id == application_id)
    return _or_404(session.scalar(query))


def site_or_404(session: Session, user: User, site_id: int) -> Site:
    return _or_404(session.scalar(visible_sites(user).where(Site.id == site_id)))


def job_or_404(session: Session, user: User, job_id: int) -> CrawlJob:
    """A crawl job (a recheck, a 自查) of a site ``user`` may read; anything else is 404."""
    sites = visible_sites(user).with_only_columns(Site.id)
    return _or_404(
        session.scalar(select(CrawlJob).where(CrawlJob.id == job_id, CrawlJob.site_id.in_(sites)))
    )


def render_or_404(session: Session, user: User, site_id: int, render_id: int) -> PageRender:
    """A screenshot row of the last complete check of a site ``user`` may read; anything else
    (another site's, an older check's, one without a screenshot) is 404."""
    site = site_or_404(session, user, site_id)
    return _or_404(session.scalar(select(PageRender).where(
        PageRender.id == render_id,
        PageRender.check_id == site.last_check_id,
        PageRender.screenshot.is_not(None),
    )))


def visible_people(user: User) -> Select[User]:
    """The accounts ``user`` administers: every person's for an operator (never the system's),
    nobody's for anyone else."""
    query = select(User)
    if user.role is Role.OPERATOR:
        return query.where(User.role != Role.SYSTEM)
    return query.where(false())


def person_or_404(session: Session, user: User, person_id: int) -> User:
    return _or_404(session.scalar(visible_people(user).where(User.id == person_id)))


def visible_offices(user: User) -> Select[Office]:
    """The offices whose compliance ``user`` may read: an office reviewer's own office and
    every office beneath it; CONAC every office."""
    query = select(Office)
    if user.role is Role.OFFICE_REVIEWER and user.office_id is not None:
        return query.where(Office.id.in_(office_subtree(user.office_id)))
    if user.role is Role.CONAC_REVIEWER:
        return query
    return query.where(false())


def office_or_404(session: Session, user: User, code: str) -> Office:
    return _or_404(session.scalar(visible_offices(user).where(Office.code == code)))
