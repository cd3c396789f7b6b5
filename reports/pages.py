"""What each report page's template is given: one dataclass per page, its fields the names
the template uses (``reports/templates/``, rendered with StrictUndefined)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any, ClassVar

from jinja2 import Environment

from reports.data import Evidence, FailingPage, HistoryEntry, SiteRow
from store.models import MonitorState, Office


@dataclass(frozen=True)
class Page:
    """A page of the report set; ``template`` names its file in ``reports/templates/``."""

    template: ClassVar[str]

    generated_at: str

    def context(self) -> dict[str, Any]:
        """The names the template reads (the web application adds its own to them)."""
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def render(self, env: Environment) -> str:
        return env.get_template(self.template).render(self.context())


@dataclass(frozen=True)
class OfficeLink:
    """An office at the top of the set, as the index lists it."""

    name: str
    href: str
    total: int
    rate_text: str


@dataclass(frozen=True)
class IndexPage(Page):
    template: ClassVar[str] = "index.html"

    roots: list[OfficeLink]


@dataclass(frozen=True)
class StateCount:
    """One of an office's state cards (and the option of the state filter)."""

    state: str  # the state's value, used in CSS classes and ids
    name: str
    count: int


@dataclass(frozen=True)
class ChildOffice(OfficeLink):
    """An office beneath the one reported on, as its roll-up row shows it (its whole tree)."""

    level: str
    compliant: int
    failing: int
    overdue: int
    no_verdict: int


@dataclass(frozen=True)
class Exports:
    """The file names of an office's exports, beside its page in the report set."""

    code: str

    @property
    def csv(self) -> str:
        return f"office-{self.code}.csv"

    @property
    def pages(self) -> str:
        return f"office-{self.code}-pages.csv"

    @property
    def json(self) -> str:
        return f"office-{self.code}.json"


@dataclass(frozen=True)
class OfficePage(Page):
    template: ClassVar[str] = "office.html"

    office: Office
    parent_href: str | None
    parent_name: str | None
    scope_note: str
    total: int
    rate_text: str
    counts: list[StateCount]
    trend_days: int
    trend_svg: str
    children: list[ChildOffice]
    sites: list[SiteRow]
    state_rank: dict[MonitorState, int]
    exports: Exports


@dataclass(frozen=True)
class SitePage(Page):
    template: ClassVar[str] = "site.html"

    s: SiteRow
    office_href: str
    office_name: str
    dns_text: str
    render_note: str | None
    pages: list[FailingPage]
    failing_total: int
    evidence: list[Evidence]
    verdict_names: Mapping[str, str]
    history: list[HistoryEntry]
