"""The demo: the whole product on one machine, on loopback only.

Ten demo agencies go through the workflow (some rejected and resubmitted, one stopped at the
paper materials) to issued badges; their sites are served on loopback addresses, each showing
one of the situations in ``SCENARIOS``; names resolve through the demo's own DNS server, the
badge script and certificate pages come from our own badge host. Then the crawler checks and
renders every issued site, the monitor's rules settle each site's state against its deadline,
the office reports are written, and the office digests (linking to them) and the unit notices
are delivered to a local SMTP server and SMS gateway.

It runs on the embedded default (SQLite under ``./var/demo``); nothing leaves the machine and
nothing keeps running afterwards.
"""

from __future__ import annotations

import shutil
import threading
import unicodedata
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from werkzeug.serving import make_server

from badgewatch.config import BadgeConfig, Config, load_config
from badgewatch.domains import display_domain
from badgewatch.resolver import make_resolver
from badgewatch.runtime import Runtime, utcnow
from crawler.jobs import jobs_for
from crawler.launch import follow, start_run
from monitor.notices import expiry_reminders, office_digests
from monitor.reporting import publish
from monitor.service import settle_sites
from notify.channels import channels_from_config
from notify.outbox import deliver_due
from reports.paths import LATEST
from reports.status import site_summary
from store.db import transaction
from store.migrate import upgrade
from store.models import CrawlRun, Office, OfficeLevel, RedPage, RunState, Site
from testbed.badgehost import BadgeHost, Registration
from testbed.localdns import LocalDnsServer
from testbed.sinks import LocalHttpSink, LocalSmtpSink
from testbed.siteserver import IpPool, SiteServer, government_page
from workflow import redpages, siteinfo
from workflow.deadlines import expiry_status
from workflow.documents import render_form, render_letter
from workflow.form import parse_form
from workflow.issuance import issued_snippet, make_code
from workflow.service import Actor, changing

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIApplication

OFFICES = [
    ("100000", "中央机构编制委员会办公室", OfficeLevel.CENTRAL, None),
    ("330000", "浙江省委机构编制委员会办公室", OfficeLevel.PROVINCE, "100000"),
    ("330100", "杭州市委机构编制委员会办公室", OfficeLevel.PREFECTURE, "330000"),
    ("330106", "杭州市西湖区委机构编制委员会办公室", OfficeLevel.COUNTY, "330100"),
]


@dataclass(frozen=True)
class DemoUnit:
    unit: str
    office: str
    org_type: str
    site: str
    domain: str
    story: str  # the workflow: "straight", "office_rejects", "conac_rejects", "materials_rejected"
    scenario: str  # what its site shows the crawler (see SCENARIOS)
    days_ago: int = 40  # when its application started; a recent one is inside its deadline
    expires_in: int | None = None  # days until its domain expires, as its unit sets it


# What each issued site shows the crawler, as the demo prints it (tests/test_demo.py holds the
# verdict the report must give each one).
SCENARIOS = {
    "compliant": "合规：每个页面底部中间都有本网站的标识",
    "some_pages_missing": "部分页面没有标识",
    "other_site_badge": "页面上挂的是其他网站的标识",
    "commented_out": "标识代码被注释掉",
    "hidden": "标识被样式隐藏",
    "not_centered": "标识在页面底部右侧，没有居中",
    "unreachable": "网站无法访问",
    "dns_mismatch": "域名解析到的地址与登记的不一致",
    "inside_deadline": "没有标识，但仍在整改期限内",
    "red_page": "网络红页：由 badgewatch 提供，页脚已放置标识",
}

UNITS = [
    DemoUnit("浙江省人民政府办公厅", "330000", "政府", "浙江省人民政府门户网站",
             "浙江省人民政府.政务", "straight", "compliant", expires_in=20),
    DemoUnit("杭州市人民政府办公厅", "330100", "政府", "杭州市人民政府门户网站",
             "杭州市人民政府.政务", "office_rejects", "some_pages_missing"),
    DemoUnit("杭州市西湖区人民政府办公室", "330106", "政府", "西湖区人民政府网站",
             "西湖区人民政府.政务", "conac_rejects", "other_site_badge"),
    DemoUnit("杭州市西湖区人民法院", "330106", "法院", "西湖区人民法院网",
             "西湖区人民法院.政务", "materials_rejected", "compliant"),
    DemoUnit("浙江省教育厅", "330000", "政府", "浙江省教育厅网站",
             "浙江教育.政务", "straight", "commented_out"),
    DemoUnit("浙江省财政厅", "330000", "政府", "浙江省财政厅网站",
             "浙江财政.政务", "straight", "hidden"),
    DemoUnit("杭州市数据资源管理局", "330100", "政府", "杭州市数据资源管理局网站",
             "杭州数据.政务", "straight", "not_centered"),
    DemoUnit("杭州市档案馆", "330100", "事业单位", "杭州市档案馆网站",
             "杭州档案.政务", "straight", "unreachable"),
    DemoUnit("杭州市西湖区市场监督管理局", "330106", "政府", "西湖区市场监督管理局网站",
             "西湖市场监管.政务", "straight", "dns_mismatch"),
    DemoUnit("杭州市西湖区文化和广电旅游体育局", "330106", "政府", "西湖区文化和广电旅游体育局网站",
             "西湖文旅.政务", "straight", "inside_deadline", days_ago=6),
    # No site of its own: a red page, served by badgewatch itself at [redpages] address.
    DemoUnit("杭州市西湖区司法局", "330106", "政府", "西湖区司法局网络红页",
             "西湖司法.政务", "straight", "red_page"),
]


# The site issued in step 1 that its unit then re-reviews (已开办网站复核): approved, it keeps
# its identifier and stays compliant through the crawl.
REREVIEWED = "浙江省人民政府.政务"


def _form(unit: DemoUnit, n: int, ip: str) -> dict[str, Any]:
    return {
        "kind": "new",
        "office": unit.office,
        "unit": {
            "name": unit.unit,
            "org_type": unit.org_type,
            "address": f"浙江省杭州市西湖区示范路 {n} 号",
            "functions": "负责本单位政务信息公开和政务服务。",
        },
        "handler": {
            "name": "张经办",
            "landline": f"0571-87{n:06d}",
            "mobile": f"13905{n:06d}",
            "email": f"handler{n}@demo.example.cn",
        },
        "principal": {
            "name": "李负责",
            "landline": f"0571-88{n:06d}",
            "mobile": f"13705{n:06d}",
            "email": f"principal{n}@demo.example.cn",
        },
        "site": {
            "name": unit.site,
            "domain": unit.domain,
            "english_domain": None,
            "ipv4": "" if unit.scenario == "red_page" else ip,
            "ipv6": None,
            "intro": f"{unit.site}是{unit.unit}的官方网站。",
            **({"red_page": True} if unit.scenario == "red_page" else {}),
        },
    }


DEMO_BADGE = BadgeConfig(
    script_base="http://dcs.demo.test/js",
    image_base="http://dcs.demo.test/image",
    certificate_url="http://bszs.demo.test/sitename?method=show&id={certificate}",
)
# A range of loopback addresses of its own, so the demo never meets the tests' sites.
DEMO_ADDRESSES = ("127.0.3.1", "127.0.3.254")


def _demo_config(
    base: Config, data_dir: Path, dns: str, smtp_port: int, sms_url: str, red_pages: str
) -> Config:
    return base.model_copy(
        update={
            "database": base.database.model_copy(
                update={"url": f"sqlite:///{data_dir / 'badgewatch.db'}"}
            ),
            "paths": base.paths.model_copy(update={"data_dir": data_dir}),
            "dns": base.dns.model_copy(update={"nameservers": [dns]}),
            "badge": DEMO_BADGE,
            "crawl": base.crawl.model_copy(update={"allow_private_networks": True}),
            "reports": base.reports.model_copy(update={"dir": None, "base_url": None}),
            "smtp": base.smtp.model_copy(
                update={"host": "127.0.0.1", "port": smtp_port, "username": None,
                        "password": None, "starttls": False}
            ),
            "sms": base.sms.model_copy(update={"kind": "http", "url": sms_url, "token": None}),
            "redpages": base.redpages.model_copy(update={"address": red_pages}),
        }
    )


def _crawl_env(config: Config) -> dict[str, str]:
    """The crawl process reads its configuration from the environment: the demo's, whole."""
    return {
        "BADGEWATCH_CONFIG": "",
        "BADGEWATCH_DATABASE_URL": config.database.url,
        "BADGEWATCH_PATHS_DATA_DIR": str(config.paths.data_dir),
        "BADGEWATCH_DNS_NAMESERVERS": ",".join(config.dns.nameservers),
        "BADGEWATCH_CRAWL_ALLOW_PRIVATE_NETWORKS": "true",
        "BADGEWATCH_BADGE_SCRIPT_BASE": config.badge.script_base,
        "BADGEWATCH_BADGE_IMAGE_BASE": config.badge.image_base,
        "BADGEWATCH_BADGE_CERTIFICATE_URL": config.badge.certificate_url,
    }


@dataclass
class DemoSite:
    """A demo unit's site on loopback: where it is declared, where DNS sends the crawler."""

    unit: DemoUnit
    declared_ip: str
    server: SiteServer | None = None
    site_id: int | None = None


def _pages(site: Site, snippet: str, scenario: str, other_snippet: str) -> dict[str, str]:
    """Home page and five article pages of one template, showing ``scenario``."""
    paths = ["/", *(f"/xwzx/{n}.html" for n in range(1, 6))]
    footers = dict.fromkeys(paths, snippet)
    if scenario == "inside_deadline":
        footers = dict.fromkeys(paths, "")
    elif scenario == "some_pages_missing":
        footers.update({"/xwzx/2.html": "", "/xwzx/4.html": ""})
    elif scenario == "other_site_badge":
        footers = dict.fromkeys(paths, other_snippet)
    elif scenario == "commented_out":
        footers = dict.fromkeys(paths, f"<!-- {snippet} -->")
    elif scenario == "hidden":
        footers = dict.fromkeys(paths, f'<div style="display:none">{snippet}</div>')
    elif scenario == "not_centered":
        footers = dict.fromkeys(
            paths, f'<div style="text-align:right;width:1200px">{snippet}</div>'
        )
    return {
        path: government_page(
            site.name if path == "/" else f"新闻中心 - {site.name}",
            [p for p in paths if p != path],
            footers[path],
            size_kb=12,
            organizer=site.unit.name,
        )
        for path in paths
    }


# What answers a red page's domain: the web application built on the demo's configuration
# (``badgewatch.cli.demo`` passes ``web.app.create_app``; the demo itself imports no web code).
RedPageServer = Callable[[Config], "WSGIApplication"]


def run_demo(
    out_dir: Path, echo: Callable[[str], None], red_pages: RedPageServer
) -> DemoResult:
    """Run the whole demo into ``out_dir`` (recreated); returns where its results are."""
    data_dir = out_dir.resolve()
    if data_dir.exists():
        shutil.rmtree(data_dir)
    data_dir.mkdir(parents=True)
    now = utcnow()
    pool = IpPool(*DEMO_ADDRESSES)
    badge_ip = pool.acquire()
    sites = [DemoSite(unit, pool.acquire()) for unit in UNITS]

    with ExitStack() as stack:
        dns = stack.enter_context(
            LocalDnsServer({s.unit.domain: {"A": [s.declared_ip]} for s in sites})
        )
        smtp = stack.enter_context(LocalSmtpSink())
        sms = stack.enter_context(LocalHttpSink())
        badges = stack.enter_context(BadgeHost(DEMO_BADGE, badge_ip))
        for name in badges.names:
            dns.set_records(name, a=[badge_ip])
        config = _demo_config(load_config(), data_dir, dns.address, smtp.port, sms.url("/sms"),
                              next(s.declared_ip for s in sites if s.unit.scenario == "red_page"))
        upgrade(config.database.url)
        rt = Runtime(config)
        stack.callback(rt.close)

        echo("== 1. the workflow: applications to issued badges")
        _offices(rt, echo)
        rereviewed = _applications(rt, sites, now=now, docs=data_dir / "documents", echo=echo)

        echo("\n== 2. the sites on loopback, as the crawler will find them")
        issued = [s for s in sites if s.site_id is not None]
        _serve(rt, issued, badges, dns, pool, stack, echo)
        _serve_red_pages(rt, issued, red_pages(config), stack, now)

        echo("\n== 3. the crawl: every page checked, a sample rendered in Chromium")
        run = _crawl(rt, [s.site_id for s in issued if s.site_id is not None], echo)
        crawl_done = utcnow()
        settle_sites(rt, [s.site_id for s in issued if s.site_id is not None], now=crawl_done)

        echo("\n== 4. the reports and the office digests")
        report = publish(rt, now=crawl_done)
        digest_at = utcnow()  # after the changes, so the digests list them
        _notices(rt, now=digest_at)
        deliver_due(rt.sessions, channels_from_config(config), now=digest_at,
                    notify=config.notify)
        summary = _summary(rt, issued)
        for line in summary:
            echo(line)
        for line in _rereview_summary(rt, rereviewed):
            echo(line)
        echo("")
        echo(f"email received by the local SMTP server: {len(smtp.received)}")
        for mail in smtp.received:
            echo(f"  to {', '.join(mail.recipients)}: {mail.subject}")
        echo(f"SMS received by the local gateway: {len(sms.sms)}")
        for body in sms.sms[:5]:
            echo(f"  to {body['phone']}: {body['message'][:60]}…")
        if len(sms.sms) > 5:
            echo(f"  … and {len(sms.sms) - 5} more")

    office_page = report.offices.get(OFFICES[1][0]) or report.index
    return DemoResult(
        data_dir=data_dir,
        run_id=run,
        report_dir=report.directory.parent / LATEST,
        office_report=report.directory.parent / LATEST / office_page.name,
    )


def _applications(
    rt: Runtime, sites: list[DemoSite], *, now: datetime, docs: Path,
    echo: Callable[[str], None],
) -> list[DemoSite]:
    """Every unit's application through the workflow, then the re-review of ``REREVIEWED``;
    returns the re-reviewed sites."""
    conac = Actor.parse("conac")
    docs.mkdir()
    for n, demo in enumerate(sites, start=1):
        start = now - timedelta(days=demo.unit.days_ago, hours=-n)
        demo.site_id = _walk_one(
            rt, demo.unit, n=n, ip=demo.declared_ip, now=start, conac=conac, docs=docs,
            echo=echo,
        )
    rereviewed = []
    for n, demo in enumerate(sites, start=1):
        if demo.unit.domain == REREVIEWED:
            _rereview_one(rt, demo, n=n, now=now - timedelta(days=20), conac=conac, echo=echo)
            rereviewed.append(demo)
    return rereviewed


@dataclass(frozen=True)
class DemoResult:
    data_dir: Path
    run_id: int
    report_dir: Path
    office_report: Path  # the province's page, which rolls up the offices beneath it


def _offices(rt: Runtime, echo: Callable[[str], None]) -> None:
    with transaction(rt.sessions) as session:
        by_code: dict[str, Office] = {}
        for code, name, level, parent in OFFICES:
            office = Office(code=code, name=name, level=level,
                            parent=by_code.get(parent) if parent else None,
                            email=f"bb{code}@demo.example.cn")
            session.add(office)
            by_code[code] = office
    echo(f"offices: {', '.join(code for code, *_ in OFFICES)}")


def _serve(
    rt: Runtime,
    issued: list[DemoSite],
    badges: BadgeHost,
    dns: LocalDnsServer,
    pool: IpPool,
    stack: ExitStack,
    echo: Callable[[str], None],
) -> None:
    badge = rt.config.badge
    with transaction(rt.sessions) as session:
        rows = {s.site_id: session.get(Site, s.site_id) for s in issued}
        other = next(r for r in rows.values() if r is not None)
        other_snippet = issued_snippet(
            badge, make_code(badge, other.identifier, other.certificate or "")
        )
        for demo in issued:
            site = rows[demo.site_id]
            assert site is not None and site.certificate is not None
            badges.register(Registration(site.identifier, site.certificate, site.unit.name,
                                         site.name, site.domain))
            scenario = demo.unit.scenario
            if scenario == "red_page":
                echo(f"  {_pad(display_domain(site.domain), 24)}{_pad(demo.declared_ip, 12)}"
                     f"{SCENARIOS[scenario]}")
                continue
            if scenario == "unreachable":
                echo(f"  {_pad(display_domain(site.domain), 24)}{_pad(demo.declared_ip, 12)}"
                     "nothing listens there")
                continue
            ip = demo.declared_ip
            if scenario == "dns_mismatch":
                ip = pool.acquire()
                dns.set_records(demo.unit.domain, a=[ip])
            snippet = issued_snippet(badge, make_code(badge, site.identifier, site.certificate))
            pages = _pages(site, snippet, scenario, other_snippet)
            demo.server = stack.enter_context(SiteServer(ip, pages, names=[site.domain]))
            moved = f" (DNS now says {ip})" if ip != demo.declared_ip else ""
            echo(f"  {_pad(display_domain(site.domain), 24)}{_pad(demo.declared_ip, 12)}"
                 f"{SCENARIOS[scenario]}{moved}")


def _serve_red_pages(
    rt: Runtime,
    issued: list[DemoSite],
    app: WSGIApplication,
    stack: ExitStack,
    now: datetime,
) -> None:
    """The red-page unit publishes its page with the badge in its footer, as it would in 红页管理;
    the web application then answers for its domain on ``[redpages] address``, port 80."""
    badge = rt.config.badge
    ip = rt.config.redpages.address
    assert ip is not None
    with transaction(rt.sessions) as session:
        for demo in issued:
            if demo.unit.scenario != "red_page":
                continue
            site = session.get(Site, demo.site_id)
            page = session.scalar(select(RedPage).where(RedPage.site_id == demo.site_id))
            assert site is not None and page is not None
            code = redpages.site_code(site, badge)
            content = redpages.parse_content({
                "profile": f"{site.unit.name}是负责全区司法行政工作的政府工作部门。",
                "functions": "负责全区法治宣传教育和人民调解工作。\n负责公共法律服务体系建设。",
                "address": "浙江省杭州市西湖区示范路 11 号",
                "contact": "0571-87000011",
                "notices": [{"title": "关于开展法治宣传月活动的通知", "on": "2026-11-02",
                             "text": "请各街道按要求组织开展。"}],
                "footer": f"主办单位：{site.unit.name}\n{issued_snippet(badge, code)}",
            }, badge, code)
            redpages.save(page, content, now, publish=True)
    server = make_server(ip, 80, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="demo-red-pages", daemon=True)
    thread.start()
    stack.callback(thread.join)
    stack.callback(server.server_close)
    stack.callback(server.shutdown)


def _notices(rt: Runtime, *, now: datetime) -> None:
    """The daily pass's reminders of expiring domains, and the office digests."""
    with transaction(rt.sessions) as session:
        day = rt.workflow.today(now)
        expiry_reminders(session, today=day, now=now, config=rt.config)
        office_digests(session, day=day, now=now, config=rt.config)


def _set_expiry(rt: Runtime, site_id: int, days: int, echo: Callable[[str], None]) -> None:
    """The unit enters its domain's expiry date (网站信息), as it would in the web."""
    expires_on = rt.workflow.today(utcnow()) + timedelta(days=days)
    with transaction(rt.sessions) as session:
        site = session.get(Site, site_id)
        assert site is not None
        siteinfo.update(site, {"expires_on": expires_on.isoformat()})
    echo(f"  domain expires on {expires_on} (in {days} days), as the unit entered it")


def _crawl(rt: Runtime, site_ids: list[int], echo: Callable[[str], None]) -> int:
    with transaction(rt.sessions) as session:
        jobs = jobs_for(session, site_ids)
    log_file = Path(rt.config.paths.data_dir) / "crawl.log"
    run_id, process = start_run(
        rt.sessions, rt.config, jobs, trigger="demo", now=utcnow(),
        env=_crawl_env(rt.config), log_file=log_file,
    )
    outcome = follow(rt.sessions, run_id, process, timeout=600)
    with transaction(rt.sessions) as session:
        run = session.get(CrawlRun, run_id)
        stats = run.stats or {} if run is not None else {}
    echo(f"  run {run_id}: {outcome.state.value}, {outcome.pages} pages checked, "
         f"{stats.get('badgewatch/pages_rendered', 0)} rendered (log: {log_file})")
    if outcome.state is not RunState.FINISHED:
        raise DemoFailed(f"the demo crawl did not finish ({outcome.finish_reason}); see {log_file}")
    return run_id


class DemoFailed(RuntimeError):
    """A step of the demo did not do what it must; the message says which."""


def _pad(text: str, width: int) -> str:
    """Left-justify for a terminal, where each Chinese character takes two columns."""
    columns = sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)
    return text + " " * max(1, width - columns)


def _summary(rt: Runtime, issued: list[DemoSite]) -> list[str]:
    lines = ["", f"{_pad('site', 26)}{_pad('state', 14)}reasons"]
    with transaction(rt.sessions) as session:
        for demo in issued:
            site = session.get(Site, demo.site_id)
            assert site is not None
            reasons = ", ".join(site_summary(session, site)["reasons"]) or "-"
            lines.append(f"{_pad(display_domain(site.domain), 26)}{_pad(site.state.value, 14)}"
                         f"{reasons}")
        today = rt.workflow.today(utcnow())
        for demo in issued:
            site = session.get(Site, demo.site_id)
            assert site is not None
            status = expiry_status(site.expires_on, today)
            if status is not None:
                lines.append(f"{_pad(display_domain(site.domain), 26)}domain {status} on "
                             f"{site.expires_on}: the unit was reminded, the digest lists it")
    return lines


def _rereview_summary(rt: Runtime, rereviewed: list[DemoSite]) -> list[str]:
    """Each re-reviewed site after the crawl: the identifier it kept, the day, its state."""
    lines = []
    with transaction(rt.sessions) as session:
        for demo in rereviewed:
            site = session.get(Site, demo.site_id)
            assert site is not None
            lines.append(
                f"re-reviewed: {display_domain(site.domain)} kept badge {site.identifier} "
                f"(复核通过 {site.rereviewed_on}), now {site.state.value}"
            )
    return lines


@dataclass
class _Steps:
    """Applies workflow steps to one application, a day apart, echoing each new state."""

    rt: Runtime
    app_id: int
    now: datetime
    echo: Callable[[str], None]

    def __call__(self, label: str, action: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        self.now += timedelta(days=1)
        with changing(self.rt.sessions, self.app_id) as session:
            state = action(session, self.app_id, *args, self.now, **kwargs).state.value
        self.echo(f"  {label:<28} → {state}")


def _walk_one(
    rt: Runtime,
    unit: DemoUnit,
    *,
    n: int,
    ip: str,
    now: datetime,
    conac: Actor,
    docs: Path,
    echo: Callable[[str], None],
) -> int | None:
    """One application through the workflow; returns the issued site's id (None if stopped)."""
    wf = rt.workflow
    actor = Actor.parse(f"unit:{unit.unit}")
    reviewer = Actor.parse(f"office:{unit.office}")
    form = parse_form(_form(unit, n, ip), resolver=make_resolver(rt.config.dns),
                      red_page_address=rt.config.redpages.address)
    with transaction(rt.sessions) as session:
        app_id = wf.create(session, form, actor, now).id
    echo(f"\n#{app_id} {unit.unit} — {unit.site} ({display_domain(form.site.domain)})")
    step = _Steps(rt, app_id, now, echo)
    step("submit", wf.submit, actor)
    if unit.story == "office_rejects":
        step("office rejects", wf.review, reviewer, approve=False,
             reason="网站简介过于简单，请补充网站主要栏目和服务内容")
        step("unit resubmits", wf.submit, actor)
    step("office approves", wf.review, reviewer, approve=True)
    if unit.story == "conac_rejects":
        step("CONAC rejects", wf.review, conac, approve=False,
             reason="网站名称应与开办主体名称对应，请使用规范名称")
        step("unit resubmits", wf.submit, actor)
        step("office approves", wf.review, reviewer, approve=True)
    step("CONAC approves", wf.review, conac, approve=True)
    with transaction(rt.sessions) as session:
        application = wf.get(session, app_id)
        zone = rt.config.calendar.zone
        (docs / f"{app_id}-letter.html").write_text(render_letter(application, zone=zone), "utf-8")
        (docs / f"{app_id}-form.html").write_text(render_form(application, zone=zone), "utf-8")
    echo(f"  printed letter and form to {docs}/{app_id}-*.html")
    if unit.story == "materials_rejected":
        step("office rejects materials", wf.materials, reviewer, confirm=False,
             reason="申请表未加盖单位公章")
        echo("  (the unit must submit the application again)")
        return None
    step("office confirms materials", wf.materials, reviewer, confirm=True)
    with transaction(rt.sessions) as session:
        site = wf.get(session, app_id).site
        assert site is not None
        echo(f"  badge {site.identifier}, place by {site.placement_due}")
        site_id = site.id
    if unit.expires_in is not None:
        _set_expiry(rt, site_id, unit.expires_in, echo)
    return site_id


def _rereview_one(
    rt: Runtime,
    demo: DemoSite,
    *,
    n: int,
    now: datetime,
    conac: Actor,
    echo: Callable[[str], None],
) -> None:
    """The unit re-reviews its issued site (已开办网站复核) through the same steps; approved, the
    site keeps its identifier and the day is recorded."""
    unit = demo.unit
    wf = rt.workflow
    actor = Actor.parse(f"unit:{unit.unit}")
    reviewer = Actor.parse(f"office:{unit.office}")
    data = _form(unit, n, demo.declared_ip)
    data["kind"] = "rereview"
    data["site"]["identifier"] = unit.domain
    data["site"]["intro"] = f"{unit.site}是{unit.unit}的官方网站，提供政务公开和政务服务。"
    form = parse_form(data, resolver=make_resolver(rt.config.dns))
    with transaction(rt.sessions) as session:
        app_id = wf.create(session, form, actor, now).id
    echo(f"\n#{app_id} {unit.unit} — 已开办网站复核 {unit.site} "
         f"({display_domain(form.site.domain)})")
    step = _Steps(rt, app_id, now, echo)
    step("submit", wf.submit, actor)
    step("office approves", wf.review, reviewer, approve=True)
    step("CONAC approves", wf.review, conac, approve=True)
    step("office confirms materials", wf.materials, reviewer, confirm=True)
    with transaction(rt.sessions) as session:
        site = wf.get(session, app_id).site
        assert site is not None and site.id == demo.site_id
        echo(f"  badge {site.identifier} kept, re-reviewed on {site.rereviewed_on}")
