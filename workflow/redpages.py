"""网络红页: the micro-site badgewatch serves for a unit without a site of its own (seed step 五).

The unit edits a draft (profile, functions, address, contact, a few notices, the footer) and
publishes it; only the published content is served. Everything is plain text, escaped when
served. The footer is plain text plus, at most, the badge code issued for this very site, in
one of the two forms badgewatch issues (``issuance.issued_snippet``/``decoded_snippet``): it is
recognised whole, stored as typed and rebuilt from the site's identifier when served, so no
markup a unit typed ever reaches the page.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, Template
from markupsafe import Markup
from sqlalchemy import select
from sqlalchemy.orm import Session

from badgewatch.config import BadgeConfig, RedPagesConfig
from badgewatch.domains import FieldInvalid, display_domain
from badgewatch.templating import HTML_OPTIONS, html_environment
from badgewatch.vocabulary import RED_PAGE_LABELS
from store.models import RedPage, Site
from workflow import fields
from workflow.form import FieldError, FormInvalid
from workflow.issuance import BadgeCode, decoded_snippet, issued_snippet, make_code

MAX_NOTICES = 5
LIMITS = {"profile": 2000, "functions": 2000, "address": 400, "contact": 400, "footer": 2000}
NOTICE_TITLE_MAX = 100
NOTICE_TEXT_MAX = 1000
TEXT_KEYS = ("profile", "functions", "address", "contact")
# What the HTML tokenizer would read as the start of a tag, a comment or a declaration.
MARKUP_RE = re.compile(r"<[A-Za-z/!?]")


@dataclass(frozen=True)
class Notice:
    """One 通知公告: a title, its date and its text."""

    title: str
    on: date
    text: str


@dataclass(frozen=True)
class RedPageContent:
    """A red page's content, checked: what the draft and the published columns hold."""

    profile: str
    functions: str
    address: str
    contact: str
    notices: tuple[Notice, ...]
    footer: str

    def to_json(self) -> dict[str, Any]:
        return {
            **{key: getattr(self, key) for key in TEXT_KEYS},
            "notices": [
                {"title": n.title, "on": n.on.isoformat(), "text": n.text} for n in self.notices
            ],
            "footer": self.footer,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> RedPageContent:
        """Read stored content back as it was accepted (no re-validation)."""
        return cls(
            **{key: str(data.get(key, "")) for key in TEXT_KEYS},
            notices=tuple(
                Notice(n["title"], date.fromisoformat(n["on"]), n["text"])
                for n in data.get("notices", [])
            ),
            footer=str(data.get("footer", "")),
        )


EMPTY = RedPageContent("", "", "", "", (), "")


@dataclass(frozen=True)
class FooterPart:
    """A piece of the footer: plain text, or the site's badge code (``badge`` true)."""

    text: str
    badge: bool = False


def footer_parts(footer: str, badge: BadgeConfig, code: BadgeCode) -> list[FooterPart]:
    """Split a footer into plain text and this site's badge code; ``FieldInvalid`` naming what
    is wrong when anything else that is markup is in it."""
    snippets = (issued_snippet(badge, code), decoded_snippet(badge, code))
    parts: list[FooterPart] = []
    rest = footer
    while rest:
        found = [(rest.find(s), s) for s in snippets if s in rest]
        if not found:
            parts.append(FooterPart(rest))
            break
        at, snippet = min(found)
        if at:
            parts.append(FooterPart(rest[:at]))
        parts.append(FooterPart(snippet, badge=True))
        rest = rest[at + len(snippet):]
    for part in parts:
        if part.badge:
            continue
        markup = MARKUP_RE.search(part.text)
        if markup is None:
            continue
        if badge.span_id in part.text or "document.write" in part.text:
            raise FieldInvalid(
                "其中的网站标识代码不是本网站的，或已被改动：请从“标识管理”复制本网站的标识代码，"
                "原样粘贴"
            )
        shown = part.text[markup.start():markup.start() + 20]
        raise FieldInvalid(
            f"只能填写纯文字和本网站的标识代码，不能包含其他 HTML 标记（发现“{shown}”）"
        )
    return parts


def has_badge(parts: list[FooterPart]) -> bool:
    return any(part.badge for part in parts)


def parse_content(
    data: Mapping[str, Any], badge: BadgeConfig, code: BadgeCode
) -> RedPageContent:
    """Check what the unit typed; ``FormInvalid`` listing every problem, each naming its field.
    ``data``: the four texts, ``footer``, and ``notices`` as a list of {title, on, text}."""
    errors: list[FieldError] = []
    values: dict[str, str] = {}

    def error(key: str, label: str, message: str) -> None:
        errors.append(FieldError(key, label, message))

    for key in (*TEXT_KEYS, "footer"):
        raw = data.get(key)
        text = raw.strip() if isinstance(raw, str) else ""
        label = RED_PAGE_LABELS[key]
        try:
            fields.plain_text(text, multiline=True)
            if len(text) > LIMITS[key]:
                raise FieldInvalid(f"不能超过 {LIMITS[key]} 个字")
            if key == "footer":
                footer_parts(text, badge, code)
        except FieldInvalid as exc:
            error(key, label, exc.message)
        values[key] = text
    notices: list[Notice] = []
    raw_notices = data.get("notices") or []
    if len(raw_notices) > MAX_NOTICES:
        error("notices", RED_PAGE_LABELS["notices"], f"最多 {MAX_NOTICES} 条")
    for n, item in enumerate(raw_notices[:MAX_NOTICES], start=1):
        notice = _notice(item, n, error)
        if notice is not None:
            notices.append(notice)
    if errors:
        raise FormInvalid(errors)
    return RedPageContent(
        **{key: values[key] for key in TEXT_KEYS},
        notices=tuple(notices),
        footer=values["footer"],
    )


def _notice(item: Mapping[str, Any], n: int, error: Any) -> Notice | None:
    """One notice; a row left wholly empty is no notice."""
    title = str(item.get("title") or "").strip()
    on = str(item.get("on") or "").strip()
    text = str(item.get("text") or "").strip()
    if not (title or on or text):
        return None
    label = f"{RED_PAGE_LABELS['notices']}第 {n} 条"
    ok = True
    for key, value, limit in (("title", title, NOTICE_TITLE_MAX), ("text", text, NOTICE_TEXT_MAX)):
        name = "标题" if key == "title" else "内容"
        try:
            fields.required_text(value, max_length=limit)
            fields.plain_text(value, multiline=key == "text")
        except FieldInvalid as exc:
            error(f"notice.{n}.{key}", f"{label}{name}", exc.message)
            ok = False
    try:
        day = date.fromisoformat(on)
    except ValueError:
        error(f"notice.{n}.on", f"{label}日期", f"“{on}”不是日期，应为 2026-12-01 这样的格式")
        return None
    return Notice(title, day, text) if ok else None


# -- the rows --------------------------------------------------------------------------------


def create(session: Session, site: Site, now: datetime) -> RedPage:
    """The red page of a newly issued red-page site: an empty draft, nothing published."""
    page = session.scalar(select(RedPage).where(RedPage.site_id == site.id))
    if page is None:
        page = RedPage(site=site, draft=EMPTY.to_json(), published=None, updated_at=now)
        session.add(page)
    return page


def save(page: RedPage, content: RedPageContent, now: datetime, *, publish: bool) -> None:
    """Keep the draft; 发布 also makes it the page served."""
    page.draft = content.to_json()
    page.updated_at = now
    if publish:
        page.published = content.to_json()
        page.published_at = now


def site_code(site: Site, badge: BadgeConfig) -> BadgeCode:
    return make_code(badge, site.identifier, site.certificate or "")


def red_page_at(session: Session, host: str) -> tuple[Site, RedPage] | None:
    """The red page registered at ``host`` (an ASCII domain, lower case), published or not."""
    found = session.execute(
        select(Site, RedPage).join(RedPage, RedPage.site_id == Site.id).where(Site.domain == host)
    ).first()
    return None if found is None else (found[0], found[1])


# -- the served page -------------------------------------------------------------------------


@dataclass(frozen=True)
class RedPageView:
    """The context of the served page (the built-in template's, and a replacement's)."""

    site_name: str
    unit_name: str
    domain: str
    content: RedPageContent
    footer: list[Markup | str]  # text is escaped by the template; the badge code is markup
    paragraphs: Mapping[str, list[str]]  # each text as its lines
    labels: Mapping[str, str]


class RedPageRenderer:
    """Renders published red pages with the built-in template or ``[redpages] template``."""

    def __init__(self, config: RedPagesConfig, badge: BadgeConfig) -> None:
        self.badge = badge
        self.template = _template(config.template)

    def render(self, site: Site, content: RedPageContent) -> str:
        code = site_code(site, self.badge)
        try:
            parts = footer_parts(content.footer, self.badge, code)
        except FieldInvalid:
            # stored under another [badge] configuration: served as text, never as markup
            parts = [FooterPart(content.footer)]
        footer: list[Markup | str] = [
            Markup(part.text) if part.badge else part.text  # noqa: S704 - rebuilt, not typed
            for part in parts
        ]
        view = RedPageView(
            site_name=site.name,
            unit_name=site.unit.name,
            domain=display_domain(site.domain),
            content=content,
            footer=footer,
            paragraphs={key: _lines(getattr(content, key)) for key in TEXT_KEYS},
            labels=RED_PAGE_LABELS,
        )
        return self.template.render(page=view)


def _lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


def _template(path: Path | None) -> Template:
    if path is None:
        return html_environment("workflow").get_template("redpage.html")
    env = Environment(  # noqa: S701 - HTML_OPTIONS turns autoescaping on
        loader=FileSystemLoader(str(path.parent)), **HTML_OPTIONS
    )
    return env.get_template(path.name)
