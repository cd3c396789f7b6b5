"""What a report shows, read from the store in a few set-wise queries.

``collect`` reads a whole office tree at once (offices, sites, their last complete checks, the
trend of past checks and the history of states) so that building a thousand site pages costs a
handful of queries plus one indexed query per site for its failing pages, read as each page is
written (``site_detail``), never all at once.
"""

from __future__ import annotations

import base64
from collections import Counter, defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import NamedTuple
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from badgewatch import localtime
from badgewatch.domains import display_domain, display_url
from badgewatch.localtime import cn_date
from badgewatch.vocabulary import (
    EXPIRY_LABELS,
    FOOTER_REASONS,
    LEVEL_LABELS,
    NOT_FAILURES,
    STATE_LABELS,
    STATE_NOTES,
    STATE_PROBLEMS,
    reason_advice,
    reason_counts,
    reason_text,
)
from store.models import (
    MonitorState,
    Office,
    PageRender,
    PageResult,
    RedPage,
    Site,
    SiteCheck,
    SiteStateChange,
    SiteStatus,
    Unit,
)
from store.records import DnsRecord, RenderSummary, reasons_of, renders_of
from workflow.deadlines import FAILING_STATES, ExpiryStatus, expiry_status, standing
from workflow.workdays import WorkCalendar

NO_VERDICT = (
    MonitorState.UNREACHABLE,
    MonitorState.DOMAIN_EXPIRED,
    MonitorState.DNS_MISMATCH,
    MonitorState.UNCHECKED,
)
"""States that say nothing about the badge: never counted against a site."""
STATE_ORDER = (
    MonitorState.OVERDUE,
    MonitorState.REGRESSED,
    MonitorState.PENDING,
    MonitorState.DOMAIN_EXPIRED,
    MonitorState.DNS_MISMATCH,
    MonitorState.UNREACHABLE,
    MonitorState.UNCHECKED,
    MonitorState.COMPLIANT,
)
"""How sites are listed by default: the ones that need action first."""

_IN_CHUNK = 500  # ids per IN (...) list


def _chunks(ids: Sequence[int]) -> Iterator[Sequence[int]]:
    for start in range(0, len(ids), _IN_CHUNK):
        yield ids[start : start + _IN_CHUNK]


def safe_href(url: str) -> str | None:
    """A crawled URL may be linked only when it is plain http(s); anything else is text."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    return url if parts.scheme in ("http", "https") and parts.netloc else None


def rate(compliant: int, judged: int) -> float | None:
    return compliant / judged if judged else None


@dataclass(frozen=True)
class Reason:
    code: str
    text: str
    advice: str
    pages: int = 0
    rendered: bool = False  # found by the browser, not in the page's markup

    @classmethod
    def of(cls, code: str, pages: int = 0, *, rendered: bool = False) -> Reason:
        return cls(code, reason_text(code), reason_advice(code), pages, rendered)


@dataclass
class SiteRow:
    """One site as the office table lists it."""

    id: int
    name: str
    domain: str  # as people read it (杭州数据.政务)
    ascii_domain: str
    unit: str
    office_code: str
    identifier: str
    state: MonitorState
    state_since: datetime | None
    deadline: date | None
    working_days_left: int | None  # pending: working days up to the deadline
    working_days_overdue: int | None  # overdue with a known deadline
    deadline_note: str  # the deadline column in words
    pages_checked: int
    pages_failing: int
    checked_at: datetime | None
    check_id: int | None
    reasons: list[Reason]
    dns: DnsRecord | None
    renders: RenderSummary
    file_name: str = ""
    # the footer numbers the site registered (None: not registered)
    site_code: str | None = None
    icp: str | None = None
    psb: str | None = None
    expires_on: date | None = None  # the domain's expiry date, if known
    expiry: ExpiryStatus | None = None  # expiring within 30 days, or expired

    @property
    def expiry_label(self) -> str:
        """域名即将到期 / 域名已过期, or empty."""
        return EXPIRY_LABELS[self.expiry] if self.expiry is not None else ""

    @property
    def expiry_note(self) -> str:
        """The domain expiry column in words: 域名即将到期 / 域名已过期 with the date."""
        if self.expiry is None or self.expires_on is None:
            return "—"
        return f"{self.expiry_label}（{cn_date(self.expires_on)}）"
    # the day its last re-review (已开办网站复核) was approved; its identifier stayed the same
    rereviewed_on: date | None = None
    red_page: bool = False  # 网络红页: served by badgewatch, its footer edited in 红页管理

    @property
    def footer_reasons(self) -> list[Reason]:
        """The footer's problems (registered numbers a page's footer lacks), of ``reasons``."""
        return [r for r in self.reasons if r.code in FOOTER_REASONS]

    @property
    def footer_note(self) -> str:
        """The footer column in words: the registered numbers' standing."""
        if not (self.site_code or self.icp or self.psb):
            return "未登记"
        if not self.footer_reasons:
            return "相符" if self.check_id is not None else "—"
        return "；".join(f"{r.text}（{r.pages} 页）" for r in self.footer_reasons)

    @property
    def state_name(self) -> str:
        return STATE_LABELS[self.state]

    @property
    def state_problem(self) -> str:
        """The problem a state without page reasons names (unreachable, DNS mismatch)."""
        return STATE_PROBLEMS.get(self.state, "")

    @property
    def state_note(self) -> tuple[str, str] | None:
        """What such a state means for the site, and what to do."""
        return STATE_NOTES.get(self.state)

    @property
    def failing(self) -> bool:
        return self.state in FAILING_STATES

    @property
    def sort_deadline(self) -> int:
        """A number that sorts the deadline column from most urgent to least."""
        if self.working_days_overdue is not None:
            return -self.working_days_overdue
        if self.working_days_left is not None:
            return self.working_days_left
        return 10_000 if self.state is not MonitorState.OVERDUE else -10_000


@dataclass(frozen=True)
class TrendPoint:
    day: date
    judged: int  # sites with a compliant or non-compliant verdict that day
    compliant: int

    @property
    def rate(self) -> float | None:
        return rate(self.compliant, self.judged)


@dataclass
class OfficeData:
    office: Office
    sites: list[SiteRow] = field(default_factory=list)  # its own sites
    children: list[OfficeData] = field(default_factory=list)
    trend: list[TrendPoint] = field(default_factory=list)

    @property
    def level_name(self) -> str:
        return LEVEL_LABELS.get(self.office.level, self.office.level.value)

    def all_sites(self) -> Iterator[SiteRow]:
        yield from self.sites
        for child in self.children:
            yield from child.all_sites()

    def counts(self, *, tree: bool = False) -> Counter[MonitorState]:
        rows = self.all_sites() if tree else iter(self.sites)
        return Counter(row.state for row in rows)

    def compliance(self, *, tree: bool = False) -> float | None:
        counts = self.counts(tree=tree)
        judged = counts[MonitorState.COMPLIANT] + sum(counts[s] for s in FAILING_STATES)
        return rate(counts[MonitorState.COMPLIANT], judged)

    def total(self, *, tree: bool = False) -> int:
        return sum(self.counts(tree=tree).values())

    def has_sites(self) -> bool:
        return any(True for _ in self.all_sites())

    def descendants(self) -> Iterator[OfficeData]:
        for child in self.children:
            yield child
            yield from child.descendants()


@dataclass(frozen=True)
class FailingPage:
    url: str
    display: str
    href: str | None
    title: str | None
    reasons: list[Reason]


@dataclass(frozen=True)
class Evidence:
    url: str
    display: str
    href: str | None
    viewport: str
    verdict: str
    reasons: list[Reason]
    message: str
    image: str | None  # a data: URI, so the page stands alone
    missing_image: bool  # a screenshot was recorded but its file is gone


@dataclass(frozen=True)
class HistoryEntry:
    at: datetime
    from_name: str
    to_name: str
    to_state: MonitorState
    pages_failing: int | None


@dataclass
class SiteDetail:
    row: SiteRow
    failing_pages: list[FailingPage]
    failing_total: int
    evidence: list[Evidence]
    history: list[HistoryEntry]


# --- reading ---------------------------------------------------------------------------------


def office_tree(session: Session, code: str | None) -> list[Office]:
    """The offices a report covers, parents before children: ``code`` and every office beneath
    it, or every office when ``code`` is None."""
    offices = list(session.scalars(select(Office).order_by(Office.code)))
    if code is None:
        return offices
    by_parent: dict[int | None, list[Office]] = defaultdict(list)
    for office in offices:
        by_parent[office.parent_id].append(office)
    root = next((o for o in offices if o.code == code), None)
    if root is None:
        return []
    out, todo = [], [root]
    while todo:
        office = todo.pop(0)
        out.append(office)
        todo.extend(by_parent[office.id])
    return out


def _deadline(
    site: Site, *, today: date, calendar: WorkCalendar
) -> tuple[int | None, int | None, str]:
    """The working days left or overdue (the same figures as ``badgewatch status``), in words."""
    found = standing(site, today=today, calendar=calendar)
    left, over = found.working_days_left, found.working_days_overdue
    if site.state not in FAILING_STATES:
        return None, None, "—"
    if found.unknown_year is not None:
        return None, None, f"无法计算（{found.unknown_year}）"
    if site.state is MonitorState.REGRESSED:
        return None, None, "已过首次整改期限"
    if left is not None:
        return left, None, f"剩余 {left} 个工作日"
    if over is not None:
        return None, over, f"逾期 {over} 个工作日"
    return None, None, "已逾期（无登记期限）"


def _site_row(
    site: Site,
    unit_name: str,
    office_code: str,
    check: SiteCheck | None,
    *,
    today: date,
    calendar: WorkCalendar,
    red_page: bool = False,
) -> SiteRow:
    left, over, note = _deadline(site, today=today, calendar=calendar)
    return SiteRow(
        id=site.id,
        name=site.name,
        domain=display_domain(site.domain),
        ascii_domain=site.domain,
        unit=unit_name,
        office_code=office_code,
        identifier=site.identifier,
        state=site.state,
        state_since=site.state_since,
        deadline=site.placement_due,
        working_days_left=left,
        working_days_overdue=over,
        deadline_note=note,
        pages_checked=check.pages_checked if check else 0,
        pages_failing=check.pages_failing if check else 0,
        checked_at=site.checked_at,
        check_id=check.id if check else None,
        reasons=[
            Reason.of(c, n) for c, n in reason_counts(reasons_of(check.reasons)["pages"])
        ] if check else [],
        dns=check.dns if check else None,
        renders=renders_of(check.renders if check else None),
        site_code=site.site_code,
        icp=site.icp,
        psb=site.psb,
        expires_on=site.expires_on,
        expiry=expiry_status(site.expires_on, today),
        rereviewed_on=site.rereviewed_on,
        red_page=red_page,
    )


def site_row(session: Session, site: Site, *, today: date, calendar: WorkCalendar) -> SiteRow:
    """One site's row as ``collect`` makes it, for a page about that site alone."""
    check = session.get(SiteCheck, site.last_check_id) if site.last_check_id is not None else None
    red_page = session.scalar(select(RedPage.id).where(RedPage.site_id == site.id)) is not None
    return _site_row(site, site.unit.name, site.office.code, check, today=today,
                     calendar=calendar, red_page=red_page)


def collect(
    session: Session,
    *,
    code: str | None,
    today: date,
    calendar: WorkCalendar,
    zone: ZoneInfo,
    trend_days: int,
) -> list[OfficeData]:
    """The office trees a report covers (one root for ``code``), with every site's row and the
    trend of each office's own sites. Offices with no site in their tree are left out."""
    offices = office_tree(session, code)
    nodes = {o.id: OfficeData(o) for o in offices}
    roots: list[OfficeData] = []
    for office in offices:
        parent = nodes.get(office.parent_id) if office.parent_id is not None else None
        if parent is not None and office.code != code:
            parent.children.append(nodes[office.id])
        else:
            roots.append(nodes[office.id])

    office_ids = list(nodes)
    sites: list[tuple[Site, str]] = []
    red_pages: set[int] = set()
    for ids in _chunks(office_ids):
        for site, unit_name, red_page in session.execute(
            select(Site, Unit.name, RedPage.id)
            .join(Unit, Unit.id == Site.unit_id)
            .outerjoin(RedPage, RedPage.site_id == Site.id)
            .where(Site.office_id.in_(ids), Site.monitored.is_(True))
        ):
            sites.append((site, unit_name))
            if red_page is not None:
                red_pages.add(site.id)
    check_ids = [s.last_check_id for s, _ in sites if s.last_check_id is not None]
    checks: dict[int, SiteCheck] = {}
    for ids in _chunks(check_ids):
        found = session.scalars(select(SiteCheck).where(SiteCheck.id.in_(ids)))
        checks.update((c.id, c) for c in found)
    for site, unit_name in sites:
        check = checks.get(site.last_check_id) if site.last_check_id is not None else None
        node = nodes[site.office_id]
        node.sites.append(
            _site_row(site, unit_name, node.office.code, check, today=today, calendar=calendar,
                      red_page=site.id in red_pages)
        )
    order = {state: n for n, state in enumerate(STATE_ORDER)}
    for node in nodes.values():
        node.sites.sort(key=lambda r: (order[r.state], r.sort_deadline, r.ascii_domain))
        node.children = sorted(
            (c for c in node.children if c.has_sites()), key=lambda c: c.office.code
        )
    _trends(session, nodes, [s for s, _ in sites], today=today, zone=zone, days=trend_days)
    return [root for root in roots if code is not None or root.has_sites()]


def _trends(
    session: Session,
    nodes: dict[int, OfficeData],
    sites: Sequence[Site],
    *,
    today: date,
    zone: ZoneInfo,
    days: int,
) -> None:
    """Per office and day: of the sites checked completely that day, how many were compliant
    (a site checked twice that day counts once, by its last check)."""
    since = datetime.combine(today - timedelta(days=days - 1), datetime.min.time(), zone)
    office_of = {s.id: s.office_id for s in sites}
    last: dict[tuple[int, date], tuple[datetime, SiteStatus]] = {}
    for ids in _chunks(list(office_of)):
        rows = session.execute(
            select(SiteCheck.site_id, SiteCheck.finished_at, SiteCheck.status).where(
                SiteCheck.site_id.in_(ids),
                SiteCheck.complete.is_(True),
                SiteCheck.finished_at >= since,
                SiteCheck.status.in_([SiteStatus.COMPLIANT, SiteStatus.NON_COMPLIANT]),
            )
        )
        for site_id, finished, status in rows:
            if finished is None or status is None:
                continue
            day = localtime.today(finished, zone)
            seen = last.get((site_id, day))
            if seen is None or seen[0] < finished:
                last[(site_id, day)] = (finished, status)
    per_office: dict[int, dict[date, list[int]]] = defaultdict(lambda: defaultdict(lambda: [0, 0]))
    for (site_id, day), (_, status) in last.items():
        tally = per_office[office_of[site_id]][day]
        tally[0] += 1
        tally[1] += status is SiteStatus.COMPLIANT
    for office_id, by_day in per_office.items():
        nodes[office_id].trend = [
            TrendPoint(day, judged, compliant)
            for day, (judged, compliant) in sorted(by_day.items())
        ]


def tree_trend(node: OfficeData) -> list[TrendPoint]:
    """An office's trend over its whole tree (a province with its prefectures and counties)."""
    by_day: dict[date, list[int]] = defaultdict(lambda: [0, 0])
    for office in (node, *node.descendants()):
        for point in office.trend:
            by_day[point.day][0] += point.judged
            by_day[point.day][1] += point.compliant
    return [TrendPoint(day, j, c) for day, (j, c) in sorted(by_day.items())]


def _image(data_dir: Path, relative: str | None) -> tuple[str | None, bool]:
    if not relative:
        return None, False
    path = (data_dir / relative).resolve()
    if not path.is_relative_to(data_dir.resolve()) or not path.is_file():
        return None, True
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode("ascii"), False


def site_detail(
    session: Session,
    row: SiteRow,
    failing: Sequence[FailingRow],
    *,
    data_dir: Path,
    max_pages: int,
) -> SiteDetail:
    """A site's failing pages (``failing``, up to ``max_pages``, with the browser's failures
    added), its rendered evidence and its history."""
    pages = [
        FailingPage(url, display_url(url), safe_href(url), title, [Reason.of(c) for c in codes])
        for url, title, codes in failing[:max_pages]
    ]
    rendered_failures: list[Evidence] = []
    evidence: list[Evidence] = []
    if row.check_id is not None:
        for render in session.scalars(
            select(PageRender).where(PageRender.check_id == row.check_id).order_by(PageRender.id)
        ):
            image, missing = _image(data_dir, render.screenshot)
            item = Evidence(
                url=render.url,
                display=display_url(render.url),
                href=safe_href(render.url),
                viewport=render.viewport,
                verdict=render.verdict,
                reasons=[
                    Reason.of(c, rendered=True) for c in render.reasons if c not in NOT_FAILURES
                ],
                message=render.message,
                image=image,
                missing_image=missing,
            )
            evidence.append(item)
            if render.verdict == "non_compliant":
                rendered_failures.append(item)
    listed = {p.url: p for p in pages}
    for item in rendered_failures:
        page = listed.get(item.url)
        if page is not None:
            page.reasons.extend(r for r in item.reasons if r not in page.reasons)
        elif len(pages) < max_pages:
            listed[item.url] = FailingPage(item.url, item.display, item.href, None, item.reasons)
            pages.append(listed[item.url])
    evidence.sort(key=lambda e: (e.verdict != "non_compliant", e.url))
    history = [
        HistoryEntry(
            at=change.at,
            from_name=STATE_LABELS[change.from_state],
            to_name=STATE_LABELS[change.to_state],
            to_state=change.to_state,
            pages_failing=(change.detail or {}).get("pages_failing"),
        )
        for change in session.scalars(
            select(SiteStateChange)
            .where(SiteStateChange.site_id == row.id)
            .order_by(SiteStateChange.at.desc(), SiteStateChange.id.desc())
        )
    ]
    return SiteDetail(row, pages, max(row.pages_failing, len(pages)), evidence, history)


class FailingRow(NamedTuple):
    """A failing page of a check (its markup verdict), as the site page and the pages CSV
    read it."""

    url: str
    title: str | None
    reasons: list[str]  # failure reasons only: NOT_FAILURES left out


def failing_rows(session: Session, row: SiteRow) -> list[FailingRow]:
    """Every failing page of the site's last check (markup verdicts), read once for both the
    site page and the pages CSV."""
    if row.check_id is None or not row.pages_failing:
        return []
    return [
        FailingRow(url, title, [c for c in codes if c not in NOT_FAILURES])
        for url, title, codes in session.execute(
            select(PageResult.url, PageResult.title, PageResult.reasons)
            .where(PageResult.check_id == row.check_id, PageResult.verdict == "non_compliant")
            .order_by(PageResult.depth, PageResult.id)
        )
    ]
