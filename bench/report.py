"""Benchmark: ``write_reports`` for 1,000 sites with 200,000 stored page results.

Builds a fresh migrated SQLite database in a temporary directory with SQLAlchemy Core bulk
inserts (not timed): a province (330000), 10 prefectures beneath it and 4 counties beneath
each, one unit and about 20 sites per office (1,000 sites), about 70 % of them compliant and
the rest pending, overdue, regressed, unreachable or with a DNS mismatch; per site 30 daily
complete checks (one finished crawl run a day shared by every site) so the trend has a point
every day, and on each site's last check 200 page results, 30 % of them non-compliant
(``badge_missing`` / ``badge_inactive``) on the pending, overdue and regressed sites; a few
state changes per site for its history. Then ``reports.build.write_reports`` writes the whole
report set (every office with sites, ``office_code=None``) with the default ``Config``.

Baseline, measured in the same run on the same database: reading the same data back with
plain SQLAlchemy Core (offices, sites with their unit, every site check, every page result)
and writing the rows unformatted to one CSV file with ``csv.writer``. Each side runs in its
own fresh interpreter, so its peak RSS (``VmHWM`` at its end) is its own; the clocks (wall
and CPU) run around the work only (imports, engine and calendar are made before they start).
The two alternate for ``--rounds`` rounds (3); the medians of the times are compared.

The report set is checked before any speed is printed: one page per office with sites
(1 + 10 + 40) and per site (1,000), the province's JSON with the total and the per-state
counts that were generated, and the province's pages CSV with one row per non-compliant page
result stored. A run that fails a check is reported as BROKEN. Prints both times, their ratio,
the peak memory of each and the targets (under 30 s, under 500 MB peak RSS); writes
everything to var/bench-report.json.

    .venv/bin/python bench/report.py [--sites 1000 --pages-per-site 200]
"""

from __future__ import annotations

import argparse
import csv
import itertools
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sqlalchemy import insert, select, update  # noqa: E402

from store.db import make_engine, session_factory, transaction  # noqa: E402
from store.migrate import upgrade  # noqa: E402
from store.models import (  # noqa: E402
    CrawlRun,
    MonitorState,
    Office,
    OfficeLevel,
    PageResult,
    RunState,
    Site,
    SiteCheck,
    SiteSource,
    SiteStateChange,
    SiteStatus,
    Unit,
)

TARGET_SECONDS = 30.0
TARGET_PEAK_MB = 500.0
NOW = datetime(2026, 11, 20, 4, tzinfo=UTC)  # 12:00 in Beijing; the calendar knows 2026
DAYS = 30  # daily checks per site, the last one 2 hours before NOW
FAILING_SHARE = 0.3  # of the pages of a pending, overdue or regressed site
COMPLIANT_SHARE = 0.7  # of the sites
PREFECTURES = "杭州宁波温州嘉兴湖州绍兴金华衢州舟山台州"  # 10 names of 2 characters
COUNTIES_PER_PREFECTURE = 4
SECTIONS = ("xwzx", "zwgk", "tzgg", "bmdt", "zcwj")
BATCH = 20_000  # rows per bulk INSERT
OTHER_STATES = (
    MonitorState.PENDING,
    MonitorState.OVERDUE,
    MonitorState.REGRESSED,
    MonitorState.UNREACHABLE,
    MonitorState.DNS_MISMATCH,
)
STATUS_OF = {
    MonitorState.COMPLIANT: SiteStatus.COMPLIANT,
    MonitorState.PENDING: SiteStatus.NON_COMPLIANT,
    MonitorState.OVERDUE: SiteStatus.NON_COMPLIANT,
    MonitorState.REGRESSED: SiteStatus.NON_COMPLIANT,
    MonitorState.UNREACHABLE: SiteStatus.UNREACHABLE,
    MonitorState.DNS_MISMATCH: SiteStatus.DNS_MISMATCH,
}
# The day (0..DAYS-1) from which the site's last verdict holds; compliant before it.
TURNED_ON = {
    MonitorState.COMPLIANT: 0,
    MonitorState.PENDING: 0,
    MonitorState.OVERDUE: 0,
    MonitorState.REGRESSED: 20,
    MonitorState.UNREACHABLE: DAYS - 3,
    MonitorState.DNS_MISMATCH: DAYS - 5,
}
FAILING_STATES = (MonitorState.PENDING, MonitorState.OVERDUE, MonitorState.REGRESSED)


# --- the data ---------------------------------------------------------------------------------


def offices_tree() -> list[dict[str, Any]]:
    """1 province, 10 prefectures, 4 counties under each: rows for ``offices``."""
    rows: list[dict[str, Any]] = [
        {"id": 1, "code": "330000", "name": "浙江省委编办", "level": OfficeLevel.PROVINCE,
         "parent_id": None}
    ]
    for p in range(1, 11):
        place = PREFECTURES[2 * (p - 1) : 2 * p]
        prefecture = len(rows) + 1
        rows.append({"id": prefecture, "code": f"33{p:02d}00", "name": f"{place}市委编办",
                     "level": OfficeLevel.PREFECTURE, "parent_id": 1})
        for c in range(1, COUNTIES_PER_PREFECTURE + 1):
            rows.append({"id": len(rows) + 1, "code": f"33{p:02d}{c:02d}",
                         "name": f"{place}第{c}区县委编办", "level": OfficeLevel.COUNTY,
                         "parent_id": prefecture})
    return rows


def site_states(count: int, seed: int) -> list[MonitorState]:
    """70 % compliant, the rest spread evenly over the other states, in a seeded order."""
    compliant = round(count * COMPLIANT_SHARE)
    states = [MonitorState.COMPLIANT] * compliant
    states += [OTHER_STATES[n % len(OTHER_STATES)] for n in range(count - compliant)]
    random.Random(seed).shuffle(states)
    return states


def day_finished(day: int) -> datetime:
    """When the check of day ``day`` (0 = the oldest) finished: 10:00 in Beijing."""
    return NOW - timedelta(days=DAYS - 1 - day, hours=2)


def _in_batches(session: Any, model: type, rows: Iterator[dict[str, Any]]) -> int:
    batch: list[dict[str, Any]] = []
    total = 0
    for row in rows:
        batch.append(row)
        if len(batch) >= BATCH:
            session.execute(insert(model), batch)
            total += len(batch)
            batch = []
    if batch:
        session.execute(insert(model), batch)
        total += len(batch)
    return total


def _checks(i: int, state: MonitorState, pages: int, ipv4: str) -> list[dict[str, Any]]:
    """The site's daily complete checks, oldest first: compliant until ``TURNED_ON``."""
    status = STATUS_OF[state]
    failing = int(pages * FAILING_SHARE) if state in FAILING_STATES else 0
    out = []
    for d in range(DAYS):
        day_status = status if d >= TURNED_ON[state] else SiteStatus.COMPLIANT
        day_failing = failing if day_status is SiteStatus.NON_COMPLIANT else 0
        judged = day_status in (SiteStatus.COMPLIANT, SiteStatus.NON_COMPLIANT)
        # The last check always has its pages (every site has the same volume to report).
        counts = {"ok": pages - day_failing} if judged or d == DAYS - 1 else {}
        if day_failing:
            counts["badge_missing"] = (day_failing + 1) // 2
            counts["badge_inactive"] = day_failing // 2
        dns = (
            {"outcome": "mismatch", "ipv4": ["192.0.2.1"], "ipv6": [],
             "message": "域名解析到的地址与登记的地址不一致"}
            if day_status is SiteStatus.DNS_MISMATCH
            else {"outcome": "ok", "ipv4": [ipv4], "ipv6": []}
        )
        out.append({
            "id": i * DAYS + d + 1, "run_id": d + 1, "site_id": i + 1,
            "started_at": day_finished(d) - timedelta(minutes=5),
            "finished_at": day_finished(d), "complete": True, "status": day_status,
            "pages_checked": sum(counts.values()), "pages_failing": day_failing,
            "pages_not_checked": 0, "robots_excluded": 0, "home_fetched": judged,
            "dns": dns, "reasons": {"pages": counts}, "renders": {}, "note": None,
        })
    return out


def _changes(site: dict[str, Any], checks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """How the site came to its state: 1 to 3 state changes."""
    state = site["state"]
    path = [MonitorState.UNCHECKED, MonitorState.COMPLIANT]
    if state is MonitorState.PENDING:
        path = [MonitorState.UNCHECKED, MonitorState.PENDING]
    elif state is MonitorState.OVERDUE:
        path = [MonitorState.UNCHECKED, MonitorState.PENDING, MonitorState.OVERDUE]
    elif state is not MonitorState.COMPLIANT:
        path = [*path, state]
    return [
        {
            "site_id": site["id"], "from_state": before, "to_state": after,
            "at": checks[0]["finished_at"] + timedelta(hours=1) if n == 0
            else site["state_since"] + timedelta(minutes=n),
            "check_id": checks[0]["id"] if n == 0 else checks[-1]["id"],
            "detail": {"pages_failing": checks[-1]["pages_failing"]
                       if after in FAILING_STATES else 0},
        }
        for n, (before, after) in enumerate(itertools.pairwise(path))
    ]


def _page_results(
    sites: list[dict[str, Any]], last_checks: list[dict[str, Any]], pages: int
) -> Iterator[dict[str, Any]]:
    for site, check in zip(sites, last_checks, strict=True):
        home = f"http://{site['domain']}/"
        fetched = check["started_at"]
        for n in range(pages):
            # Three pages in ten fail, up to the check's count; the reasons alternate.
            rank = n // 10 * 3 + n % 10
            bad = n % 10 < 3 and rank < check["pages_failing"]
            yield {
                "check_id": check["id"],
                "url": home if n == 0 else f"{home}{SECTIONS[n % len(SECTIONS)]}/{n:04d}.html",
                "http_status": 200,
                "verdict": "non_compliant" if bad else "compliant",
                "reasons": (["badge_missing"] if rank % 2 == 0 else ["badge_inactive"])
                if bad else ["ok"],
                "identifiers": [],
                "badge_offset": None if bad else 28_000 + n,
                "badge_in_body": None if bad else True,
                "depth": min(n // 40, 4),
                "title": f"{site['name']}_关于第{n}号事项的通知公告",
                "fetched_at": fetched + timedelta(seconds=n),
            }


def build(url: str, sites: int, pages: int, seed: int) -> dict[str, Any]:
    """Fill the migrated database at ``url``; returns what was stored (for the checks)."""
    rng = random.Random(seed)
    offices = offices_tree()
    states = site_states(sites, seed)
    today = NOW.date()  # the same day in Beijing at 12:00
    runs = [
        {"id": d + 1, "trigger": "nightly", "state": RunState.FINISHED,
         "started_at": day_finished(d) - timedelta(hours=1), "heartbeat_at": day_finished(d),
         "finished_at": day_finished(d), "finish_reason": "finished", "sites": sites,
         "pages": sites * pages, "pid": None, "stats": None}
        for d in range(DAYS)
    ]
    units, site_rows, checks, changes = [], [], [], []
    last_checks: list[dict[str, Any]] = []
    for i, state in enumerate(states):
        office = offices[i % len(offices)]
        label = f"{office['name'][:2]}第{i + 1}号政务网"
        ipv4 = f"10.{i // 65536}.{i // 256 % 256}.{i % 256}"
        if state is MonitorState.PENDING:
            due: date = today + timedelta(days=rng.randrange(3, 25))
        else:
            due = today - timedelta(days=rng.randrange(40, 200))
        units.append({"id": i + 1, "name": f"{office['name'][:2]}第{i + 1}号单位",
                      "office_id": office["id"], "org_type": "行政机关"})
        site_checks = _checks(i, state, pages, ipv4)
        site = {
            "id": i + 1, "unit_id": i + 1, "office_id": office["id"],
            "name": f"{label}网站", "domain": f"{label}.政务".encode("idna").decode("ascii"),
            "ipv4": ipv4, "identifier": f"CA{office['code']}{i + 1:017d}",
            "source": SiteSource.ISSUED, "monitored": True,
            "created_at": day_finished(0) - timedelta(days=60),
            "notified_on": due - timedelta(days=14), "placement_due": due,
            "status": STATUS_OF[state], "checked_at": site_checks[-1]["finished_at"],
            "last_check_id": None, "state": state,
            "state_since": day_finished(TURNED_ON[state]) + timedelta(hours=1),
            "ever_compliant": state not in (MonitorState.PENDING, MonitorState.OVERDUE),
        }
        site_rows.append(site)
        checks += site_checks
        last_checks.append(site_checks[-1])
        changes += _changes(site, site_checks)

    engine = make_engine(url)
    with transaction(session_factory(engine)) as session:
        session.execute(insert(Office), offices)
        session.execute(insert(Unit), units)
        session.execute(insert(Site), site_rows)
        session.execute(insert(CrawlRun), runs)
        _in_batches(session, SiteCheck, iter(checks))
        stored = _in_batches(session, PageResult, _page_results(site_rows, last_checks, pages))
        session.execute(update(Site), [
            {"id": site["id"], "last_check_id": check["id"]}
            for site, check in zip(site_rows, last_checks, strict=True)
        ])
        session.execute(insert(SiteStateChange), changes)
    engine.dispose()
    by_id = {o["id"]: o for o in offices}
    covered = set()
    for office_id in {site["office_id"] for site in site_rows}:
        node: dict[str, Any] | None = by_id[office_id]
        while node is not None:
            covered.add(node["code"])
            node = by_id.get(node["parent_id"])
    return {
        "offices": len(offices),
        "offices_with_sites": len(covered),
        "sites": sites,
        "states": {s.value: n for s, n in Counter(states).items()},
        "site_checks": len(checks),
        "page_results": stored,
        "non_compliant_pages": sum(c["pages_failing"] for c in last_checks),
        "state_changes": len(changes),
    }


# --- the two measured children ----------------------------------------------------------------


def _proc_status() -> dict[str, float]:
    """VmRSS and VmHWM of this process, MB."""
    out = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            out[key] = int(value.split()[0]) / 1024
    return out


def child_report(db: Path, out: Path, data_dir: Path, profile: Path | None) -> dict[str, Any]:
    from badgewatch.config import Config, DatabaseConfig, PathsConfig
    from reports.build import write_reports
    from workflow.workdays import WorkCalendar

    url = f"sqlite:///{db}"
    config = Config(database=DatabaseConfig(url=url), paths=PathsConfig(data_dir=data_dir))
    calendar = WorkCalendar()
    calendar.is_workday(NOW.date())  # load the year's rules before the clock starts
    factory = session_factory(make_engine(url))
    before = _proc_status()
    profiler = None
    if profile is not None:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    started, cpu = time.perf_counter(), time.process_time()
    with transaction(factory) as session:
        result = write_reports(session, out, config=config, calendar=calendar, now=NOW)
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    if profiler is not None:
        profiler.disable()
        profiler.dump_stats(profile)
    return {"seconds": elapsed, "work_cpu_seconds": cpu, "before": before,
            "after": _proc_status(), "sites": result.sites, "offices": sorted(result.offices)}


def child_baseline(db: Path, out: Path) -> dict[str, Any]:
    url = f"sqlite:///{db}"
    engine = make_engine(url)
    sites, units = Site.__table__, Unit.__table__
    statements = [
        select(Office.__table__).order_by(Office.id),
        select(sites, units.c.name).join(units, units.c.id == sites.c.unit_id)
        .order_by(sites.c.id),
        select(SiteCheck.__table__).order_by(SiteCheck.id),
        select(PageResult.__table__).order_by(PageResult.id),
    ]
    with engine.connect() as conn:
        conn.exec_driver_sql("SELECT 1")  # open the connection before the clock starts
        before = _proc_status()
        started, cpu = time.perf_counter(), time.process_time()
        rows = 0
        with out.open("w", encoding="utf-8", newline="") as f:
            writer = csv.writer(f)
            for statement in statements:
                for row in conn.execute(statement):
                    writer.writerow(row)
                    rows += 1
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    return {"seconds": elapsed, "work_cpu_seconds": cpu, "before": before,
            "after": _proc_status(), "rows": rows}


def measure(args: list[str]) -> dict[str, Any]:
    """Run this script as a child with ``args``: what it reports (its work's wall and CPU
    time, its VmRSS before the work and VmHWM after it) plus its CPU time as a whole.

    The peak is the child's own VmHWM, which exec resets: the ``ru_maxrss`` of ``wait4``
    would also count the parent's RSS at the fork (exec carries the old high-water mark)."""
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as f:
        result_path = Path(f.name)
    try:
        started = time.perf_counter()
        proc = subprocess.Popen(
            [sys.executable, __file__, "--child-result", str(result_path), *args]
        )
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        wall = time.perf_counter() - started
        if proc.returncode != 0:
            raise SystemExit(f"child {args[:2]} failed with exit code {proc.returncode}")
        result = json.loads(result_path.read_text(encoding="utf-8"))
    finally:
        result_path.unlink(missing_ok=True)
    result.update(
        process_seconds=wall,
        cpu_seconds=usage.ru_utime + usage.ru_stime,
        peak_mb=result["after"]["VmHWM"],
    )
    return result


# --- checking the report set ------------------------------------------------------------------


def verify_files(out: Path, stored: dict[str, Any], child: dict[str, Any]) -> list[str]:
    """Every page and export there, as many as the data asks for."""
    problems = []
    offices = list(out.glob("office-*.html"))
    site_pages = list(out.glob("site-*.html"))
    if len(offices) != stored["offices_with_sites"]:
        problems.append(f"{len(offices)} office pages, expected {stored['offices_with_sites']}")
    if len(site_pages) != stored["sites"] or child["sites"] != stored["sites"]:
        problems.append(f"{len(site_pages)} site pages (ReportSet.sites {child['sites']}), "
                        f"expected {stored['sites']}")
    if len(child["offices"]) != stored["offices_with_sites"]:
        problems.append(f"ReportSet.offices has {len(child['offices'])} offices")
    if not (out / "index.html").is_file():
        problems.append("no index.html")
    for kind in ("json", "csv"):
        found = len(list(out.glob(f"office-??????.{kind}")))
        if found != stored["offices_with_sites"]:
            problems.append(f"{found} office .{kind} exports")
    return problems


def _csv_rows(path: Path) -> int:
    with path.open(encoding="utf-8-sig", newline="") as f:
        return sum(1 for _ in csv.reader(f)) - 1  # the header


def verify_province(out: Path, stored: dict[str, Any]) -> list[str]:
    """The province's JSON and CSVs hold the whole tree as generated."""
    problems = []
    province = out / "office-330000.json"
    if not province.is_file():
        return ["no office-330000.json"]
    data = json.loads(province.read_text(encoding="utf-8"))
    if data["total"] != stored["sites"] or len(data["sites"]) != stored["sites"]:
        problems.append(f"province JSON total {data['total']} with {len(data['sites'])} sites, "
                        f"expected {stored['sites']}")
    expected = {state.value: stored["states"].get(state.value, 0) for state in MonitorState}
    got = {state.value: data["counts"].get(state.value, 0) for state in MonitorState}
    if got != expected:
        problems.append(f"province JSON counts {got}, expected {expected}")
    if len(data["trend"]) != DAYS:
        problems.append(f"province trend has {len(data['trend'])} days, expected {DAYS}")
    failing = sum(s["pages_failing"] for s in data["sites"])
    if failing != stored["non_compliant_pages"]:
        problems.append(f"province JSON pages_failing {failing}, "
                        f"expected {stored['non_compliant_pages']}")
    rows = _csv_rows(out / "office-330000-pages.csv")
    if rows != stored["non_compliant_pages"]:
        problems.append(f"province pages CSV has {rows} rows, "
                        f"expected {stored['non_compliant_pages']}")
    rows = _csv_rows(out / "office-330000.csv")
    if rows != stored["sites"]:
        problems.append(f"province sites CSV has {rows} rows, expected {stored['sites']}")
    return problems


def _size_mb(directory: Path) -> float:
    return sum(p.stat().st_size for p in directory.rglob("*") if p.is_file()) / 1e6


def _mark(ok: bool, broken: bool) -> str:
    return "BROKEN" if broken else "PASS" if ok else "MISS"


# --- main -------------------------------------------------------------------------------------


def _rounds(args: argparse.Namespace, tmp: Path, stored: dict[str, Any]) -> dict[str, Any]:
    """Baseline and report alternately, ``--rounds`` times; every report set checked."""
    db = tmp / "badgewatch.db"
    runs: dict[str, list[dict[str, Any]]] = {"baseline": [], "report": []}
    problems: list[str] = []
    for n in range(1, args.rounds + 1):
        target = tmp / "baseline.csv"
        base = measure(["--child", "baseline", "--db", str(db), "--target", str(target)])
        base["csv_mb"] = target.stat().st_size / 1e6
        target.unlink()
        runs["baseline"].append(base)
        out = tmp / f"reports-{n}"
        report_args = ["--child", "report", "--db", str(db), "--target", str(out)]
        if args.profile:
            report_args += ["--profile", str(args.profile.resolve())]
        ours = measure(report_args)
        found = [*verify_files(out, stored, ours), *verify_province(out, stored)]
        problems += [f"round {n}: {problem}" for problem in found]
        ours.pop("offices")
        ours["output_mb"] = _size_mb(out)
        ours["files"] = sum(1 for p in out.iterdir() if p.is_file())
        runs["report"].append(ours)
        print(f"round {n}: baseline {base['seconds']:.2f} s, write_reports {ours['seconds']:.2f} s"
              f"{', BROKEN' if found else ''}", flush=True)
        if n < args.rounds or not args.keep:
            shutil.rmtree(out)
    return {"runs": runs, "problems": problems}


def _summary(runs: list[dict[str, Any]]) -> dict[str, float]:
    return {
        "seconds": statistics.median(r["seconds"] for r in runs),
        "work_cpu_seconds": statistics.median(r["work_cpu_seconds"] for r in runs),
        "peak_mb": max(r["peak_mb"] for r in runs),
        "before_mb": max(r["before"]["VmRSS"] for r in runs),
    }


def run(args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    """Build the data, run both children, check the report sets; everything measured."""
    db = tmp / "badgewatch.db"
    url = f"sqlite:///{db}"
    started = time.perf_counter()
    upgrade(url)
    stored = build(url, args.sites, args.pages_per_site, args.seed)
    build_seconds = time.perf_counter() - started
    db_mb = db.stat().st_size / 1e6
    print(f"data:    {stored['sites']:,} sites under {stored['offices']} offices "
          f"({stored['offices_with_sites']} with sites), {DAYS} daily checks each "
          f"({stored['site_checks']:,}), {stored['page_results']:,} page results on the "
          f"last checks ({stored['non_compliant_pages']:,} non-compliant), "
          f"{stored['state_changes']:,} state changes")
    print(f"         states {stored['states']}")
    print(f"         built in {build_seconds:.1f} s (not counted), database {db_mb:.0f} MB "
          f"in {tmp}")
    load_start = os.getloadavg()[0]
    print(f"machine: {os.cpu_count()} CPUs, load average {load_start:.2f} at start; "
          f"{args.rounds} round(s), baseline then write_reports", flush=True)
    measured = _rounds(args, tmp, stored)
    base, ours = _summary(measured["runs"]["baseline"]), _summary(measured["runs"]["report"])
    problems = measured["problems"]
    time_ok = ours["seconds"] < TARGET_SECONDS and not problems
    mem_ok = ours["peak_mb"] < TARGET_PEAK_MB and not problems
    return {
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "sites": args.sites,
        "pages_per_site": args.pages_per_site,
        "data": stored,
        "build_seconds": build_seconds,
        "database_mb": db_mb,
        "machine": {"cpus": os.cpu_count(), "load_start": load_start,
                    "load_end": os.getloadavg()[0]},
        "runs": measured["runs"],
        "baseline": base,
        "report": ours,
        "ratio_time": ours["seconds"] / base["seconds"],
        "ratio_cpu": ours["work_cpu_seconds"] / base["work_cpu_seconds"],
        "ratio_peak": ours["peak_mb"] / base["peak_mb"],
        "problems": problems,
        "targets": {
            "seconds": {"limit": TARGET_SECONDS, "value": ours["seconds"], "pass": time_ok},
            "peak_mb": {"limit": TARGET_PEAK_MB, "value": ours["peak_mb"], "pass": mem_ok},
        },
    }


def show(result: dict[str, Any]) -> None:
    base, ours, stored = result["baseline"], result["report"], result["data"]
    last_base, last_ours = result["runs"]["baseline"][-1], result["runs"]["report"][-1]
    problems = result["problems"]
    print(f"output:  {last_ours['files']:,} files, {last_ours['output_mb']:.1f} MB of reports; "
          f"baseline CSV {last_base['rows']:,} rows, {last_base['csv_mb']:.1f} MB")
    if problems:
        print("BROKEN: the report set is not what the data says:")
        for problem in problems:
            print(f"  - {problem}")
    else:
        print(f"checked: {stored['offices_with_sites']} office pages, {stored['sites']:,} site "
              f"pages, the province's JSON total and counts, {stored['non_compliant_pages']:,} "
              "rows in its pages CSV: all as generated, every round")
    print()
    print(f"  {'run':<29} {'wall s':>8} {'cpu s':>8} {'peak RSS':>10} {'RSS before work':>16}")
    names = (("baseline: Core read + CSV", "baseline"), ("write_reports", "report"))
    for name, key in names:
        for n, one in enumerate(result["runs"][key], start=1):
            print(f"  {name:<25} #{n:<2} {one['seconds']:8.2f} {one['work_cpu_seconds']:8.2f} "
                  f"{one['peak_mb']:7.0f} MB {one['before']['VmRSS']:13.0f} MB")
    for name, summary in (("baseline, median", base), ("write_reports, median", ours)):
        print(f"  {name:<29} {summary['seconds']:8.2f} {summary['work_cpu_seconds']:8.2f} "
              f"{summary['peak_mb']:7.0f} MB {summary['before_mb']:13.0f} MB")
    print("  (wall and CPU: the work alone, in a process of its own; peak RSS: that process's "
          "VmHWM, interpreter and imports included; medians of the times, maxima of the RSS)")
    print(f"  load average {result['machine']['load_end']:.2f} at the end")
    print()
    print(f"ratio:   write_reports takes {result['ratio_time']:.2f}× the baseline's wall time "
          f"({ours['seconds']:.2f} s against {base['seconds']:.2f} s), "
          f"{result['ratio_cpu']:.2f}× its CPU time and {result['ratio_peak']:.1f}× its peak RSS")
    targets = result["targets"]
    print("targets:")
    print(f"  time         < {TARGET_SECONDS:.0f} s    {ours['seconds']:8.2f} s   "
          f"{_mark(targets['seconds']['pass'], bool(problems))}")
    print(f"  peak RSS     < {TARGET_PEAK_MB:.0f} MB  {ours['peak_mb']:8.0f} MB  "
          f"{_mark(targets['peak_mb']['pass'], bool(problems))}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sites", type=int, default=1_000)
    parser.add_argument("--pages-per-site", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3, help="baseline + report rounds")
    parser.add_argument("--seed", type=int, default=20261120)
    parser.add_argument("--out", type=Path, default=ROOT / "var" / "bench-report.json")
    parser.add_argument("--keep", action="store_true",
                        help="keep the database and the last report set")
    parser.add_argument("--profile", type=Path,
                        help="cProfile write_reports into this file (its times then inflate)")
    # The measured children (this script run again): not for people.
    parser.add_argument("--child", choices=("report", "baseline"), help=argparse.SUPPRESS)
    parser.add_argument("--child-result", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--db", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--target", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.child:
        if args.child == "report":
            child = child_report(args.db, args.target, args.db.parent, args.profile)
        else:
            child = child_baseline(args.db, args.target)
        args.child_result.write_text(json.dumps(child), encoding="utf-8")
        return

    tmp = Path(tempfile.mkdtemp(prefix="bw-bench-report-"))
    try:
        result = run(args, tmp)
        show(result)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, ensure_ascii=False, indent=1), encoding="utf-8")
        print(f"written: {args.out}")
    finally:
        if args.keep:
            print(f"kept:    {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    if result["problems"]:
        sys.exit(1)


if __name__ == "__main__":
    main()
