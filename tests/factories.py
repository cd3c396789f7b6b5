"""The builders tests share, and ``wait_for``, the one way a test waits: on state it can read
(rows, counters, a statement in flight), never on a fixed sleep.

Registered as a pytest plugin (see conftest.py), so its fixtures (``crawl_env``,
``render_config``, ``tree``) are there for every test module. No test module imports another.
"""

from __future__ import annotations

import asyncio
import copy
import json
import re
import signal
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import idna
import pytest
from click.testing import CliRunner, Result
from selectolax.lexbor import LexborHTMLParser, LexborNode
from sqlalchemy import Engine, event, update
from sqlalchemy.orm import Session, sessionmaker

from badgewatch.cli.main import cli
from badgewatch.config import BadgeConfig, Config, DnsConfig, PathsConfig
from badgewatch.domains import gov_domain
from crawler.checks.badge import BadgePatterns, SiteBadge
from crawler.render.browser import Renderer, RenderOutcome, browser_addresses
from monitor.deadlines import apply_check
from reports.build import ReportSet, write_reports
from store.db import make_engine, transaction
from store.models import (
    CrawlRun,
    Office,
    OfficeLevel,
    PageRender,
    PageResult,
    Role,
    RunState,
    Site,
    SiteCheck,
    SiteSource,
    SiteStatus,
    Unit,
    User,
)
from testbed.badgehost import Registration
from testbed.pngs import encode_rgb
from testbed.siteserver import Route, government_page
from workflow.issuance import decoded_snippet, issued_snippet, make_code
from workflow.service import Workflow
from workflow.workdays import WorkCalendar

ROOT = Path(__file__).resolve().parent.parent


# --- the application form and the office tree -----------------------------------------------

FORM: dict[str, Any] = {
    "kind": "new",
    "office": "330100",
    "unit": {
        "name": "杭州市数据资源管理局",
        "org_type": "政府",
        "address": "浙江省杭州市上城区解放东路18号",
        "functions": "负责全市数据资源管理和政务服务。",
    },
    "handler": {
        "name": "王经办",
        "landline": "0571-87654321",
        "mobile": "13905710001",
        "email": "handler@hz.example.cn",
    },
    "principal": {
        "name": "陈主任",
        "landline": "0571-87650000",
        "mobile": "13705710002",
        "email": "chief@hz.example.cn",
    },
    "site": {
        "name": "杭州市数据资源管理局网站",
        "domain": "杭州数据.政务",
        "english_domain": "data.hangzhou.example.cn",
        "ipv4": "127.0.0.21",
        "ipv6": None,
        "intro": "发布数据开放和政务服务信息。",
    },
}


def form_data(**site: Any) -> dict[str, Any]:
    data = copy.deepcopy(FORM)
    data["site"].update(site)
    return data


@pytest.fixture
def wf(sessions: sessionmaker[Session]) -> Workflow:
    """The workflow on the default settings, over the office tree of ``add_offices``."""
    with transaction(sessions) as session:
        add_offices(session)
    return Workflow(Config(), WorkCalendar())


def add_offices(session: Session) -> dict[str, Office]:
    """浙江 → 杭州 → 西湖区, plus 宁波 beside 杭州."""
    central = Office(code="100000", name="中央编办", level=OfficeLevel.CENTRAL)
    zj = Office(code="330000", name="浙江省委编办", level=OfficeLevel.PROVINCE, parent=central)
    hz = Office(code="330100", name="杭州市委编办", level=OfficeLevel.PREFECTURE, parent=zj)
    xh = Office(code="330106", name="西湖区委编办", level=OfficeLevel.COUNTY, parent=hz)
    nb = Office(code="330200", name="宁波市委编办", level=OfficeLevel.PREFECTURE, parent=zj)
    offices = {o.code: o for o in (central, zj, hz, xh, nb)}
    session.add_all(offices.values())
    return offices


# --- waiting on state ------------------------------------------------------------------------


def wait_for(condition: Callable[[], Any], timeout: float, what: str) -> Any:
    """Poll ``condition`` until it returns something true (which is returned); fail the test,
    naming ``what``, if it does not within ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


@contextmanager
def statements_in_flight(engine: Engine) -> Iterator[dict[int, tuple[str, float]]]:
    """Each thread's statement sent to the database and not yet answered, with when it was sent
    (``time.monotonic``): a statement that stays in flight is a waiter blocked in the database,
    which a thread that merely has not started yet cannot fake."""
    flying: dict[int, tuple[str, float]] = {}

    def sent(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        flying[threading.get_ident()] = (statement, time.monotonic())

    def answered(*_args: Any) -> None:
        flying.pop(threading.get_ident(), None)

    listeners = [
        ("before_cursor_execute", sent),
        ("after_cursor_execute", answered),
        ("handle_error", answered),
    ]
    for name, listener in listeners:
        event.listen(engine, name, listener)
    try:
        yield flying
    finally:
        for name, listener in listeners:
            event.remove(engine, name, listener)


def waiting_in_database(
    flying: dict[int, tuple[str, float]], thread: threading.Thread, held: float = 0.5
) -> str | None:
    """The statement ``thread`` has been waiting on for at least ``held`` seconds, if any."""
    statement, since = flying.get(thread.ident or 0, ("", time.monotonic()))
    return statement if statement and time.monotonic() - since >= held else None


# --- sites to crawl, through the real CLI ----------------------------------------------------


HEADER = "unit,office,site_name,domain,english_domain,ipv4,ipv6,site_id,certificate,notified_on"


def identifier(n: int) -> str:
    """Site n's badge identifier."""
    return f"CA330000000604258{n:02d}0001"


def certificate(n: int) -> str:
    """Site n's badge certificate."""
    return f"0A87C46FEE4D331AE053022819AC{n:04X}"


def badge(n: int, decoded: bool = False) -> str:
    code = make_code(BadgeConfig(), identifier(n), certificate(n))
    return decoded_snippet(BadgeConfig(), code) if decoded else issued_snippet(BadgeConfig(), code)


def pages(n_pages: int, footer: Any, prefix: str = "/p/") -> dict[str, Route | str]:
    """A home page and n pages linking to each other; ``footer(i)`` gives page i's footer."""
    links = [f"{prefix}{i}.html" for i in range(n_pages)]
    routes: dict[str, Route | str] = {"/": government_page("首页", links, footer(-1), size_kb=8)}
    for i in range(n_pages):
        routes[f"{prefix}{i}.html"] = government_page(f"页面{i}", links, footer(i), size_kb=8)
    return routes


def stop_processes(processes: Sequence[subprocess.Popen[bytes]], timeout: float = 30) -> None:
    """SIGTERM to each process still running (a clean stop), SIGKILL after ``timeout``."""
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def loopback_env(database_url: str, dns_config: Any, data_dir: Path, **settings: str
                 ) -> dict[str, str]:
    """The environment of a ``badgewatch`` command against sites on loopback: no configuration
    file, this database, the local DNS, private addresses allowed, no autothrottle; each of
    ``settings`` is one more ``BADGEWATCH_`` variable, named by its suffix (``CRAWL_RETRIES``)."""
    return {
        "BADGEWATCH_CONFIG": "",
        "BADGEWATCH_DATABASE_URL": database_url,
        "BADGEWATCH_DNS_NAMESERVERS": ",".join(dns_config.nameservers),
        "BADGEWATCH_CRAWL_ALLOW_PRIVATE_NETWORKS": "true",
        "BADGEWATCH_CRAWL_AUTOTHROTTLE": "false",
        "BADGEWATCH_PATHS_DATA_DIR": str(data_dir),
        **{f"BADGEWATCH_{name}": value for name, value in settings.items()},
    }


@pytest.fixture
def crawl_env(tmp_path: Path, sqlite_url: str, dns_config) -> dict[str, str]:
    return loopback_env(sqlite_url, dns_config, tmp_path / "var", CRAWL_DOWNLOAD_TIMEOUT="2",
                        CRAWL_RETRIES="1", RENDER_ENABLED="false")


def run(env: dict[str, str], *args: str, code: int | None = 0) -> Result:
    result = CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)
    if code is not None:
        assert result.exit_code == code, result.output
    return result


def register(env: dict[str, str], tmp_path: Path, rows: list[tuple[Any, ...]]) -> None:
    """Import sites: (n, domain, ipv4, english_domain)."""
    run(env, "office", "add", "330000", "浙江省委编办", "--level", "province")
    lines = [HEADER]
    for n, domain, ipv4, english in rows:
        lines.append(
            f"单位{n},330000,网站{n},{domain},{english or ''},{ipv4},,{identifier(n)},"
            f"{certificate(n)},2026-10-09"
        )
    path = tmp_path / "sites.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    run(env, "sites", "import", str(path))


def by_domain(output: str) -> dict[str, dict[str, Any]]:
    data = json.loads(output)
    return {site["domain"]: site for site in data["sites"]}


def ascii_name(name: str) -> str:
    return idna.encode(name).decode()


def set_ip(env: dict[str, str], ip: str) -> None:
    engine = make_engine(env["BADGEWATCH_DATABASE_URL"])
    with engine.begin() as conn:
        conn.exec_driver_sql("UPDATE sites SET ipv4 = ?", (ip,))
    engine.dispose()


# --- deadlines: a fixed clock, the official calendar, rows as the crawler writes them --------


CALENDAR = WorkCalendar()
NOTICE = date(2026, 9, 29)
DUE = date(2026, 10, 12)


def at(day: date, hour: int = 2) -> datetime:
    """A fixed moment on ``day`` (UTC; 02:00 UTC is 10:00 in Beijing, the same day)."""
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC)


def add_office(session: Session, code: str = "330100", *, email: str | None = None) -> Office:
    names = {"330100": "杭州市委编办", "330200": "宁波市委编办"}
    office = Office(
        code=code, name=names.get(code, f"{code}编办"), level=OfficeLevel.PREFECTURE, email=email
    )
    session.add(office)
    session.flush()
    return office


def add_unit(
    session: Session,
    office: Office,
    name: str = "杭州市数据资源管理局",
    handlers: Sequence[tuple[str, str | None, str | None]] = (
        ("王经办", "wang@hz.example.cn", "13905710001"),
    ),
) -> Unit:
    unit = Unit(name=name, office_id=office.id)
    session.add(unit)
    session.flush()
    for handler, email, mobile in handlers:
        session.add(
            User(
                name=handler,
                role=Role.UNIT_HANDLER,
                unit_id=unit.id,
                email=email,
                mobile=mobile,
            )
        )
    session.flush()
    return unit


_serial = iter(range(1, 10_000))


def add_site(
    session: Session,
    unit: Unit,
    *,
    domain: str = "杭州数据.政务",
    name: str = "杭州市数据资源管理局网站",
    notified_on: date | None = NOTICE,
    placement_due: date | None = DUE,
    source: SiteSource = SiteSource.ISSUED,
) -> Site:
    site = Site(
        unit_id=unit.id,
        office_id=unit.office_id,
        name=name,
        domain=gov_domain(domain),
        ipv4="127.0.0.21",
        identifier=f"CA{next(_serial):021d}",
        notified_on=notified_on,
        placement_due=placement_due,
        source=source,
        created_at=at(NOTICE),
    )
    session.add(site)
    session.flush()
    return site


def add_check(
    session: Session,
    site: Site,
    status: SiteStatus,
    *,
    now: datetime,
    failing: Sequence[tuple[str, Sequence[str]]] = (),
    passing: int = 1,
) -> SiteCheck:
    """A complete check as the crawler writes it: pages, counts, and the site's new verdict."""
    run = CrawlRun(
        trigger="nightly",
        state=RunState.FINISHED,
        started_at=now - timedelta(minutes=5),
        heartbeat_at=now,
        finished_at=now,
    )
    session.add(run)
    session.flush()
    reasons = dict(Counter(code for _, codes in failing for code in codes))
    if passing:
        reasons["ok"] = passing
    check = SiteCheck(
        run_id=run.id, site_id=site.id, started_at=run.started_at, finished_at=now,
        complete=True, status=status,
        pages_checked=len(failing) + passing, pages_failing=len(failing),
        home_fetched=status not in (SiteStatus.UNREACHABLE, SiteStatus.DNS_MISMATCH),
        dns={"outcome": "mismatch" if status is SiteStatus.DNS_MISMATCH else "ok"},
        reasons={"pages": reasons, "refused": {}},
        renders={},
    )
    session.add(check)
    session.flush()
    home = f"http://{site.domain}/"
    rows = [(url, "non_compliant", list(codes)) for url, codes in failing]
    rows += [(f"{home}ok-{n}.html", "compliant", ["ok"]) for n in range(passing)]
    for depth, (url, verdict, codes) in enumerate(rows):
        session.add(
            PageResult(
                check_id=check.id,
                url=url,
                http_status=200,
                verdict=verdict,
                reasons=codes,
                identifiers=[],
                depth=min(depth, 3),
                fetched_at=now,
            )
        )
    site.status = status
    site.checked_at = now
    site.last_check_id = check.id
    session.flush()
    return check


# --- office reports: a province, a prefecture and a county over three days -------------------


D1, D2, D3 = date(2026, 10, 8), date(2026, 10, 9), date(2026, 10, 13)
# The reports' three days and the moment they are built: 12:00 in Beijing, after the deadline.
REPORT_NOW = datetime(2026, 10, 13, 4, tzinfo=UTC)
HOSTILE_TITLE = '<script>alert("title")</script>通知公告'
HOSTILE_URL = 'http://xn--6rtt7jbwbe2c.xn--zfr164b/a"><script>alert(1)</script>.html'


def report_office(session: Session, code: str, name: str, level: OfficeLevel,
           parent: Office | None = None) -> Office:
    row = Office(code=code, name=name, level=level, parent=parent)
    session.add(row)
    session.flush()
    return row


def checked(session: Session, site: Site, day: date, status: SiteStatus,
            failing: list[tuple[str, list[str]]] | None = None, passing: int = 3) -> None:
    check = add_check(session, site, status, now=at(day), failing=failing or [],
                      passing=passing)
    apply_check(session, site, now=at(day, 3), calendar=CALENDAR, today=day)
    site.last_check_id = check.id


@pytest.fixture
def tree(sessions: sessionmaker[Session], tmp_path: Path) -> Config:
    """Five sites over three offices; returns a config whose data directory holds evidence."""
    evidence = tmp_path / "data" / "evidence" / "run-1" / "site-1"
    evidence.mkdir(parents=True)
    (evidence / "000-desktop.png").write_bytes(encode_rgb(40, 20, bytes([200, 30, 30]) * 800))
    with transaction(sessions) as session:
        zj = report_office(session, "330000", "浙江省委编办", OfficeLevel.PROVINCE)
        hz = report_office(session, "330100", "杭州市委编办", OfficeLevel.PREFECTURE, zj)
        xh = report_office(session, "330106", "西湖区委编办", OfficeLevel.COUNTY, hz)
        report_office(session, "330200", "宁波市委编办", OfficeLevel.PREFECTURE, zj)  # no sites

        portal = add_site(session, add_unit(session, zj, "浙江省人民政府办公厅"),
                          domain="浙江省人民政府.政务", name="浙江省人民政府门户网站")
        data = add_site(session, add_unit(session, hz, "杭州市数据资源管理局", ()),
                        domain="杭州数据.政务", name="杭州市数据资源管理局网站")
        court = add_site(session, add_unit(session, hz, "杭州市中级人民法院", ()),
                         domain="杭州法院.政务", name="杭州法院网")
        district = add_site(session, add_unit(session, xh, "西湖区人民政府办公室", ()),
                            domain="西湖区人民政府.政务", name="西湖区人民政府网站")
        gone = add_site(session, add_unit(session, xh, "西湖区档案馆", ()),
                        domain="西湖档案.政务", name="西湖区档案馆网站")

        for day in (D1, D2, D3):
            checked(session, portal, day, SiteStatus.COMPLIANT)
            checked(session, court, day, SiteStatus.COMPLIANT)
        home = f"http://{data.domain}/"
        for day in (D1, D2, D3):
            checked(session, data, day, SiteStatus.NON_COMPLIANT, [
                (home, ["badge_missing"]),
                (HOSTILE_URL, ["badge_other_site"]),
            ])
        checked(session, district, D1, SiteStatus.COMPLIANT)
        checked(session, district, D3, SiteStatus.NON_COMPLIANT,
                [(f"http://{district.domain}/news/1.html", ["badge_inactive"])])
        checked(session, gone, D3, SiteStatus.UNREACHABLE, passing=0)
        # The hostile page's title, and the render of the data site's home page.
        check_id = data.last_check_id
        session.execute(
            update(PageResult)
            .where(PageResult.check_id == check_id, PageResult.url == HOSTILE_URL)
            .values(title=HOSTILE_TITLE)
        )
        session.add(PageRender(
            check_id=check_id, url=home, viewport="desktop", verdict="non_compliant",
            reasons=["badge_not_rendered"], message="标识没有显示",
            screenshot="evidence/run-1/site-1/000-desktop.png", measurement=None,
            rendered_at=at(D3),
        ))
    return Config(paths=PathsConfig(data_dir=tmp_path / "data"))


def parse_page(path: Path) -> LexborHTMLParser:
    """A written page parsed back, as a browser reads it (HTML5 rules, entities decoded)."""
    return LexborHTMLParser(path.read_text("utf-8"))


def texts(tree: LexborHTMLParser | LexborNode, selector: str) -> list[str]:
    """The text a reader sees in each element ``selector`` finds, white space collapsed."""
    return [" ".join(node.text().split()) for node in tree.css(selector)]


def build(
    sessions: sessionmaker[Session], config: Config, out: Path, code: str | None
) -> ReportSet:
    """The reports of ``tree`` for office ``code`` (all offices when None), written to ``out``."""
    with transaction(sessions) as session:
        return write_reports(session, out, config=config, calendar=CALENDAR, now=REPORT_NOW,
                             office_code=code)


# --- the rendered check: a page, the badge host's registrations, one Renderer ----------------


RENDER_ARTIFACTS = ROOT / "test-artifacts" / "render"
IDENT = "CA330000000604258890010"
CERT = "0A87C46FEE4D331AE053022819ACDC8C"
OTHER_IDENT = "CA330000000604258900010"
OTHER_CERT = "1800CB4DBB7B99F0E06310291AAC09C6"
NAME = "显示.政务"


def page(footer: str, *, footer_style: str = "text-align:center", before: str = "") -> str:
    return f"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>显示检查</title>
<style>body{{margin:0;font-family:"WenQuanYi Zen Hei",sans-serif}}
.main{{height:1400px;background:#f4f6fa;padding:20px}}
.footer{{background:#1f4e8c;color:#fff;padding:16px 0}}</style></head>
<body>{before}<div class="main"><h1>某某市人民政府</h1><p>政务公开 · 政务服务 · 互动交流</p></div>
<div class="footer" style="{footer_style}">
<p>主办单位：某某市人民政府办公室 网站标识码：3300000001</p>
{footer}</div></body></html>"""


@pytest.fixture
def render_config(badge_host, badge_config, dns_config: DnsConfig, request) -> Config:
    badge_host.register(Registration(IDENT, CERT, "某某市人民政府办公室", "某某市人民政府网",
                                     NAME))
    badge_host.register(Registration(OTHER_IDENT, OTHER_CERT, "另一单位", "另一网站", "另一.政务"))
    data_dir = RENDER_ARTIFACTS / re.sub(r"[^\w.-]+", "_", request.node.name)
    config = Config()
    return config.model_copy(
        update={
            "badge": badge_config,
            "dns": dns_config,
            "crawl": config.crawl.model_copy(update={"allow_private_networks": True}),
            "paths": config.paths.model_copy(update={"data_dir": data_dir}),
            "render": config.render.model_copy(
                update={"blocked_hosts": ["recv1.badges.test"], "page_timeout": 30}
            ),
        }
    )


def snippet(config: Config, identifier: str = IDENT, cert: str = CERT) -> str:
    return issued_snippet(config.badge, make_code(config.badge, identifier, cert))


def render_all(config: Config, urls: dict[str, str]) -> dict[str, RenderOutcome]:
    """Render every page through one Renderer, as the crawl's render stage does."""
    site = SiteBadge(IDENT, CERT, BadgePatterns.from_spec(config.badge.spec()))
    hosts = {urlsplit(url).hostname or "" for url in urls.values()}

    async def go() -> list[RenderOutcome]:
        renderer = Renderer.from_config(config, browser_addresses(config, hosts))
        try:
            return list(await asyncio.gather(*(
                renderer.render(url, site, Path(config.paths.data_dir) / f"{name}.png")
                for name, url in urls.items()
            )))
        finally:
            await renderer.close()

    return dict(zip(urls, asyncio.run(go()), strict=True))
