"""Writing a report set: an HTML page per office and per site, with CSV and JSON exports.

A report set is one flat directory, so every link in it is relative and it can be copied,
zipped or served as it is::

    index.html                  the offices at the top of the set
    office-330000.html          an office: counts, rate, trend, the offices beneath, its sites
    office-330000.csv / .json   that office's whole tree of sites (CSV opens in Excel)
    office-330000-pages.csv     every failing page of those sites with its reasons
    site-<domain>.html          a site: problems and fixes, failing pages, screenshots, history

The set is written into a fresh directory beside the target and moved into place at the end,
so readers never see half a report and a failure leaves the previous one untouched.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from datetime import date, datetime
from pathlib import Path
from typing import IO, Any, TypedDict
from zoneinfo import ZoneInfo

from jinja2 import Environment
from sqlalchemy.orm import Session

from badgewatch import localtime
from badgewatch.config import Config
from badgewatch.localtime import cn_date, cn_time
from badgewatch.templating import html_environment
from badgewatch.vocabulary import EXPIRY_LABELS, STATE_LABELS, VERDICT_LABELS, reason_text
from reports.charts import trend_svg
from reports.data import (
    NO_VERDICT,
    STATE_ORDER,
    FailingRow,
    OfficeData,
    SiteRow,
    collect,
    failing_rows,
    office_tree,
    site_detail,
    tree_trend,
)
from reports.pages import (
    ChildOffice,
    Exports,
    IndexPage,
    OfficeLink,
    OfficePage,
    SitePage,
    StateCount,
)
from store.models import MonitorState, Office
from store.records import DnsRecord, RenderSummary
from workflow.deadlines import FAILING_STATES
from workflow.workdays import WorkCalendar

CARD_ORDER = (
    MonitorState.COMPLIANT,
    MonitorState.PENDING,
    MonitorState.OVERDUE,
    MonitorState.REGRESSED,
    MonitorState.UNREACHABLE,
    MonitorState.DOMAIN_EXPIRED,
    MonitorState.DNS_MISMATCH,
    MonitorState.UNCHECKED,
)
TITLE_LIMIT = 200  # characters of a crawled page title shown; titles can be anything
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


class ReportError(Exception):
    """The report cannot be made as asked (an unknown office); the message is for people."""


def neutralise(value: Any) -> Any:
    """A CSV cell a spreadsheet would run as a formula is prefixed with an apostrophe, so it
    shows as the text it is. Numbers we wrote ourselves are left as numbers."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def office_file(code: str) -> str:
    return f"office-{code}.html"


def site_file(ascii_domain: str) -> str:
    # ASCII domains are letters, digits, hyphens and dots: safe as file names everywhere.
    return f"site-{ascii_domain}.html"


def _environment(zone: ZoneInfo) -> Environment:
    env = html_environment("reports")

    def time_filter(moment: datetime) -> str:
        return cn_time(moment, zone)

    def date_filter(moment: datetime) -> str:
        return cn_date(localtime.today(moment, zone))

    env.filters["localtime"] = time_filter
    env.filters["localdate"] = date_filter
    env.filters["cndate"] = cn_date
    return env


@dataclass(frozen=True)
class ReportSet:
    directory: Path
    index: Path
    offices: dict[str, Path]  # office code → its page
    sites: int


def _rate_text(value: float | None) -> str:
    return f"{value:.1%}" if value is not None else "—"


def _dns_text(dns: DnsRecord | None) -> str:
    if not dns:
        return "尚未检查"
    addresses = "、".join([*dns.get("ipv4", []), *dns.get("ipv6", [])])
    if dns.get("outcome") == "ok":
        return f"正常，解析到 {addresses}" if addresses else "正常"
    return str(dns.get("message") or "域名解析异常")


def _render_note(renders: RenderSummary) -> str | None:
    """The rendered sample in words; a browser that failed never counts against the site."""
    done = renders["rendered"]
    if not done:
        return None
    parts = [f"在浏览器中打开了 {done} 个页面"]
    if renders["failing"]:
        parts.append(f"其中 {renders['failing']} 个未通过")
    if renders["not_checked"]:
        parts.append(f"{renders['not_checked']} 个未能完成浏览器检查（不计为不合规）")
    if renders["note"]:
        parts.append("浏览器意外退出，部分页面未能检查（不计为不合规）")
    return "，".join(parts)


def _child_summary(child: OfficeData, href: str) -> ChildOffice:
    counts = child.counts(tree=True)
    return ChildOffice(
        name=child.office.name,
        level=child.level_name,
        href=href,
        total=sum(counts.values()),
        compliant=counts[MonitorState.COMPLIANT],
        failing=sum(counts[s] for s in FAILING_STATES),
        overdue=counts[MonitorState.OVERDUE],
        no_verdict=sum(counts[s] for s in NO_VERDICT),
        rate_text=_rate_text(child.compliance(tree=True)),
    )


def office_page(
    node: OfficeData,
    *,
    office_href: Callable[[str], str],
    parent: Office | None,
    generated_at: str,
    trend_days: int,
) -> OfficePage:
    """What an office's page shows, in the static report and the web application alike:
    counts, rate, trend, the offices beneath and ``parent`` (linked by ``office_href(code)``),
    its own sites (each linked by its ``file_name``)."""
    counts = node.counts(tree=True)
    own = node.office
    scope = (
        f"统计范围：{own.name}本级及所属 {len(list(node.descendants()))} 个下级编办的网站。"
        if node.children
        else f"统计范围：{own.name}负责审核的网站。"
    )
    return OfficePage(
        office=own,
        generated_at=generated_at,
        parent_href=office_href(parent.code) if parent else None,
        parent_name=parent.name if parent else None,
        scope_note=scope,
        total=sum(counts.values()),
        rate_text=_rate_text(node.compliance(tree=True)),
        counts=[StateCount(s.value, STATE_LABELS[s], counts[s]) for s in CARD_ORDER],
        trend_days=trend_days,
        trend_svg=trend_svg(tree_trend(node)),
        children=[
            _child_summary(child, office_href(child.office.code)) for child in node.children
        ],
        sites=node.sites,
        state_rank={s: n for n, s in enumerate(STATE_ORDER)},
        exports=Exports(own.code),
    )


def site_page(
    session: Session,
    row: SiteRow,
    failing: list[FailingRow],
    *,
    config: Config,
    office_href: str,
    office_name: str,
    generated_at: str,
) -> SitePage:
    """What a site's page shows, in the static report and the web application alike."""
    detail = site_detail(
        session,
        row,
        failing,
        data_dir=Path(config.paths.data_dir),
        max_pages=config.reports.max_pages_listed,
    )
    pages = [
        page if not page.title or len(page.title) <= TITLE_LIMIT
        else replace(page, title=page.title[:TITLE_LIMIT] + "…")
        for page in detail.failing_pages
    ]
    return SitePage(
        s=row,
        generated_at=generated_at,
        office_href=office_href,
        office_name=office_name,
        dns_text=_dns_text(row.dns),
        render_note=_render_note(row.renders),
        pages=pages,
        failing_total=detail.failing_total,
        evidence=detail.evidence,
        verdict_names=VERDICT_LABELS,
        history=detail.history,
    )


@dataclass
class _Writer:
    session: Session
    out: Path
    config: Config
    env: Environment
    generated_at: str
    trend_days: int

    def office_page(self, node: OfficeData, parent: OfficeData | None) -> Path:
        html = office_page(
            node, office_href=office_file, parent=parent.office if parent else None,
            generated_at=self.generated_at, trend_days=self.trend_days,
        ).render(self.env)
        path = self.out / office_file(node.office.code)
        path.write_text(html, encoding="utf-8")
        return path

    def site_page(self, row: SiteRow, office: Office, failing: list[FailingRow]) -> None:
        html = site_page(
            self.session, row, failing, config=self.config,
            office_href=office_file(office.code), office_name=office.name,
            generated_at=self.generated_at,
        ).render(self.env)
        (self.out / row.file_name).write_text(html, encoding="utf-8")

    def exports(self, node: OfficeData, parts: dict[str, Path]) -> None:
        names = Exports(node.office.code)
        rows = list(node.all_sites())
        with (self.out / names.csv).open("w", encoding="utf-8-sig", newline="") as f:
            site_csv(f, rows, self.config.calendar.zone)
        with (self.out / names.pages).open("wb") as f:
            f.write(PAGES_HEADER.encode("utf-8-sig"))
            for office in (node, *node.descendants()):
                with parts[office.office.code].open("rb") as part:
                    shutil.copyfileobj(part, f)
        (self.out / names.json).write_text(
            json.dumps(office_json(node, self.generated_at), ensure_ascii=False, indent=1),
            encoding="utf-8",
        )

    def site_pages(self, node: OfficeData, directory: Path) -> Path:
        """The pages of the office's own sites, and their failing pages as a CSV part that
        every office above it reuses; each site's failing pages are read once for both."""
        path = directory / f"{node.office.code}.csv"
        with path.open("w", encoding="utf-8", newline="") as f:
            writer = csv.writer(f)
            for row in node.sites:
                failing = failing_rows(self.session, row)
                self.site_page(row, node.office, failing)
                writer.writerows(page_rows(row, failing))
        return path


PAGES_HEADER = "网站名称,域名,开办单位,页面地址,页面标题,问题\r\n"


def page_rows(row: SiteRow, failing: Iterable[FailingRow]) -> Iterator[list[Any]]:
    """The site's failing pages as rows of the pages CSV (after ``PAGES_HEADER``)."""
    for url, title, codes in failing:
        yield [neutralise(v) for v in (row.name, row.domain, row.unit, url, title or "")] + [
            neutralise("；".join(reason_text(c) for c in codes))
        ]
SITE_COLUMNS = (
    "编办代码", "网站名称", "域名", "开办单位", "网站标识码", "状态", "状态起始", "整改期限",
    "剩余工作日", "逾期工作日", "检查页面数", "未通过页面数", "主要问题", "最近完整检查",
    "政府网站标识码（登记）", "ICP备案编号（登记）", "公安机关备案编号（登记）", "页脚备案",
    "域名到期日期", "域名到期情况", "复核日期", "网络红页",
)


def site_csv(f: IO[str], rows: Iterable[SiteRow], zone: ZoneInfo) -> None:
    writer = csv.writer(f)
    writer.writerow(SITE_COLUMNS)
    for r in rows:
        writer.writerow(
            neutralise(v)
            for v in (
                r.office_code, r.name, r.domain, r.unit, r.identifier, r.state_name,
                localtime.text(r.state_since, zone) if r.state_since else "",
                r.deadline.isoformat() if r.deadline else "",
                r.working_days_left if r.working_days_left is not None else "",
                r.working_days_overdue if r.working_days_overdue is not None else "",
                r.pages_checked, r.pages_failing,
                "；".join(f"{x.text}（{x.pages} 页）" for x in r.reasons),
                localtime.text(r.checked_at, zone) if r.checked_at else "",
                r.site_code or "", r.icp or "", r.psb or "", r.footer_note,
                _iso(r.expires_on) or "", EXPIRY_LABELS[r.expiry] if r.expiry else "",
                _iso(r.rereviewed_on) or "", "是" if r.red_page else "",
            )
        )


def _iso(value: date | datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


class SiteJson(TypedDict):
    """A site in an office's JSON export."""

    office: str
    name: str
    domain: str
    domain_display: str
    unit: str
    identifier: str
    state: str
    state_name: str
    state_since: str | None
    placement_due: str | None
    working_days_left: int | None
    working_days_overdue: int | None
    pages_checked: int
    pages_failing: int
    reasons: dict[str, int]
    checked_at: str | None
    dns: DnsRecord | None
    page: str
    site_code: str | None
    icp: str | None
    psb: str | None
    footer_reasons: dict[str, int]
    expires_on: str | None
    expiry: str | None  # expiring (within 30 days) or expired
    rereviewed_on: str | None  # its last approved re-review (已开办网站复核); same identifier
    red_page: bool  # 网络红页, served by badgewatch


def _site_json(r: SiteRow) -> SiteJson:
    return {
        "office": r.office_code,
        "name": r.name,
        "domain": r.ascii_domain,
        "domain_display": r.domain,
        "unit": r.unit,
        "identifier": r.identifier,
        "state": r.state.value,
        "state_name": r.state_name,
        "state_since": _iso(r.state_since),
        "placement_due": _iso(r.deadline),
        "working_days_left": r.working_days_left,
        "working_days_overdue": r.working_days_overdue,
        "pages_checked": r.pages_checked,
        "pages_failing": r.pages_failing,
        "reasons": {x.code: x.pages for x in r.reasons},
        "checked_at": _iso(r.checked_at),
        "dns": r.dns,
        "page": r.file_name,
        "site_code": r.site_code,
        "icp": r.icp,
        "psb": r.psb,
        "footer_reasons": {x.code: x.pages for x in r.footer_reasons},
        "expires_on": _iso(r.expires_on),
        "expiry": r.expiry,
        "rereviewed_on": _iso(r.rereviewed_on),
        "red_page": r.red_page,
    }


def office_json(node: OfficeData, generated_at: str) -> dict[str, Any]:
    counts = node.counts(tree=True)
    return {
        "office": {"code": node.office.code, "name": node.office.name,
                   "level": node.office.level.value},
        "generated_at": generated_at,
        "counts": {s.value: counts[s] for s in STATE_ORDER},
        "total": sum(counts.values()),
        "compliance_rate": node.compliance(tree=True),
        "trend": [
            {"day": p.day.isoformat(), "judged": p.judged, "compliant": p.compliant,
             "rate": p.rate}
            for p in tree_trend(node)
        ],
        "offices": [
            {"code": c.office.code, "name": c.office.name, "total": c.total(tree=True),
             "compliance_rate": c.compliance(tree=True),
             "counts": {s.value: c.counts(tree=True)[s] for s in STATE_ORDER},
             "page": office_file(c.office.code)}
            for c in node.children
        ],
        "sites": [_site_json(r) for r in node.all_sites()],
    }


def _walk(roots: Iterable[OfficeData]) -> Iterator[tuple[OfficeData, OfficeData | None]]:
    """Every office with its parent, children after their parents."""
    todo: list[tuple[OfficeData, OfficeData | None]] = [(root, None) for root in roots]
    while todo:
        node, parent = todo.pop(0)
        yield node, parent
        todo.extend((child, node) for child in node.children)


def write_reports(
    session: Session,
    out: Path,
    *,
    config: Config,
    calendar: WorkCalendar,
    now: datetime,
    office_code: str | None = None,
) -> ReportSet:
    """Write the report set of ``office_code`` and every office beneath it (all offices with
    sites when None) to ``out``, replacing what was there only once it is complete."""
    zone = config.calendar.zone
    if office_code is not None and not office_tree(session, office_code):
        raise ReportError(f"编办代码 {office_code} 不存在")
    today = localtime.today(now, zone)
    roots = collect(
        session, code=office_code, today=today, calendar=calendar, zone=zone,
        trend_days=config.reports.trend_days,
    )
    out = out.resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}-", dir=out.parent))
    try:
        env = _environment(zone)
        offices = list(_walk(roots))
        writer = _Writer(
            session, staging, config, env,
            generated_at=cn_time(now, zone),
            trend_days=config.reports.trend_days,
        )
        for node, _ in offices:
            for row in node.sites:
                row.file_name = site_file(row.ascii_domain)
        parts_dir = staging / ".parts"
        parts_dir.mkdir()
        office_paths: dict[str, Path] = {}
        pages: dict[str, Path] = {}
        for node, parent in offices:
            office_paths[node.office.code] = writer.office_page(node, parent)
            pages[node.office.code] = writer.site_pages(node, parts_dir)
        for node, _ in offices:
            writer.exports(node, pages)
        shutil.rmtree(parts_dir)
        index = staging / "index.html"
        index.write_text(
            IndexPage(
                generated_at=writer.generated_at,
                roots=[
                    OfficeLink(r.office.name, office_file(r.office.code), r.total(tree=True),
                               _rate_text(r.compliance(tree=True)))
                    for r in roots
                ],
            ).render(env),
            encoding="utf-8",
        )
        _replace(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return ReportSet(
        directory=out,
        index=out / "index.html",
        offices={code: out / path.name for code, path in office_paths.items()},
        sites=sum(len(node.sites) for node, _ in offices),
    )


def _replace(staging: Path, out: Path) -> None:
    """Move the finished set into place; the old one is removed only after the swap."""
    os.chmod(staging, 0o755)  # noqa: S103 - mkdtemp's 0700 would hide it from the web server
    if out.is_symlink() or not out.exists():
        if out.is_symlink():
            out.unlink()
        staging.rename(out)
        return
    old = out.with_name(f".{out.name}-old-{os.getpid()}")
    out.rename(old)
    staging.rename(out)
    shutil.rmtree(old, ignore_errors=True)
