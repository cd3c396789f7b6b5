"""Benchmark: the compliance crawl of a farm of government sites served by nginx on loopback.

Generates (or reuses, in var/bench-farm) 20 sites × 1,000 pages of about 30 KB with real footers
and about 50 same-site links each, serves them with nginx on 127.0.1.N:80 with `.政务` names
from a local DNS server, then runs, alternating in rounds, (A) our full pipeline (fresh SQLite
database, sites imported, ``start_run`` + ``follow``: fetch, check, store), (B) a stock Scrapy
crawl that only follows LinkExtractor links, (C) (B) plus BeautifulSoup looking for the badge.
Prints pages/s of each, the ratios A/B and A/C and the peak RSS of A's crawl process against
the targets of issue 3, and writes them to var/bench-crawl.json.

    .venv/bin/python bench/crawl.py [--sites 20 --pages 1000 --rounds 2]
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from types import FrameType
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
HERE = Path(__file__).resolve().parent
for path in (ROOT, HERE):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

import scrapy  # noqa: E402
from crawl_farm import OFFICE_CODE, OFFICE_NAME, Farm, FarmError, Nginx, build_farm  # noqa: E402
from sqlalchemy import func, select  # noqa: E402

from badgewatch.config import load_config  # noqa: E402
from crawler.jobs import jobs_for  # noqa: E402
from crawler.launch import RunOutcome, follow, start_run  # noqa: E402
from store.db import make_engine, session_factory, transaction  # noqa: E402
from store.migrate import upgrade  # noqa: E402
from store.models import CrawlRun, Office, OfficeLevel, PageResult, RunState, SiteCheck  # noqa: E402
from store.records import reasons_of  # noqa: E402
from testbed.localdns import LocalDnsServer  # noqa: E402
from workflow.importer import COLUMNS, import_sites  # noqa: E402
from workflow.workdays import WorkCalendar  # noqa: E402

VARIANTS = {
    "A": "badgewatch: fetch+check+store",
    "B": "Scrapy + LinkExtractor",
    "C": "B + BeautifulSoup badge check",
}
TARGET_AB = 1.5
TARGET_AC = 3.0
TARGET_RSS_MB = 300.0
RUN_TIMEOUT = 1800.0
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
_children: list[subprocess.Popen[bytes]] = []  # crawl processes started here, stopped on exit


@dataclass
class Run:
    round: int
    variant: str
    pages: int = 0
    expected: int = 0
    wall: float = 0.0
    peak_rss_mb: float | None = None
    cpu_seconds: float | None = None
    load: float | None = None  # the machine's 1-minute load average when the run ended
    error: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)

    @property
    def pages_per_s(self) -> float:
        return self.pages / self.wall if self.wall > 0 else 0.0

    @property
    def pages_per_cpu_s(self) -> float | None:
        """Less sensitive than wall time to other work on the machine."""
        return self.pages / self.cpu_seconds if self.cpu_seconds else None


class ProcessWatch(threading.Thread):
    """Samples one process's peak RSS (VmHWM) and CPU time from /proc until it ends."""

    def __init__(self, pid: int, interval: float = 0.1) -> None:
        super().__init__(name=f"watch-{pid}", daemon=True)
        self.pid = pid
        self.interval = interval
        self.peak_kb = 0
        self.cpu_seconds = 0.0
        self._done = threading.Event()

    def run(self) -> None:
        while not self._done.is_set() and self.sample():
            self._done.wait(self.interval)

    def sample(self) -> bool:
        try:
            status = Path(f"/proc/{self.pid}/status").read_text()
            stat = Path(f"/proc/{self.pid}/stat").read_text()
        except OSError:
            return False
        for line in status.splitlines():
            if line.startswith(("VmHWM:", "VmRSS:")):
                self.peak_kb = max(self.peak_kb, int(line.split()[1]))
        fields = stat.rsplit(")", 1)[1].split()
        if fields[0] == "Z":
            return False
        self.cpu_seconds = (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS
        return True

    def finish(self) -> tuple[float | None, float | None]:
        self._done.set()
        self.join()
        peak = self.peak_kb * 1024 / 1e6 if self.peak_kb else None  # kB in /proc are KiB
        return peak, self.cpu_seconds or None


def _started(process: subprocess.Popen[bytes]) -> ProcessWatch:
    _children.append(process)
    watch = ProcessWatch(process.pid)
    watch.sample()
    watch.start()
    return watch


def _stop_children() -> None:
    for process in _children:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


# --- (A) our pipeline -----------------------------------------------------------------------


def sites_csv(farm: Farm) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for site in farm.sites:
        row = {
            "unit": site.unit,
            "office": OFFICE_CODE,
            "site_name": site.unit.removesuffix("办公室") + "门户网站",
            "domain": site.name,
            "english_domain": "",
            "ipv4": site.ip,
            "ipv6": "",
            "site_id": site.identifier,
            "certificate": site.certificate,
            "notified_on": date(2024, 5, 6).isoformat(),
        }
        writer.writerow([row[c] for c in COLUMNS])
    return out.getvalue().encode("utf-8")


def pipeline_env(farm: Farm, nameserver: str, work: Path) -> dict[str, str]:
    """The configuration of (A): the defaults, plus what the farm on loopback needs."""
    return {
        "BADGEWATCH_CONFIG": "",  # defaults plus these overrides, whatever the shell has set
        "BADGEWATCH_DATABASE_URL": f"sqlite:///{work / 'badgewatch.db'}",
        "BADGEWATCH_PATHS_DATA_DIR": str(work),
        "BADGEWATCH_DNS_NAMESERVERS": nameserver,
        "BADGEWATCH_CRAWL_ALLOW_PRIVATE_NETWORKS": "true",
        "BADGEWATCH_CRAWL_MAX_PAGES_PER_SITE": str(2 * farm.pages + 100),
        "BADGEWATCH_RENDER_ENABLED": "false",  # the issue measures fetch, check, store only
    }


def describe_pipeline(farm: Farm) -> str:
    env = pipeline_env(farm, "127.0.0.1:53", Path("var"))
    crawl = load_config(environ={**os.environ, **env}).crawl
    return (
        f"A's crawl settings: {crawl.concurrent_requests} requests, {crawl.per_host_concurrency}"
        f" per host, AutoThrottle {'on' if crawl.autothrottle else 'off'}, robots.txt "
        f"{'obeyed' if crawl.obey_robots else 'ignored'}, depth cap {crawl.max_depth}, "
        "no rendering"
    )


def prepare_database(farm: Farm, env: dict[str, str]) -> int:
    """A fresh migrated database at the URL of ``env`` with the farm's sites imported; returns
    how many were."""
    url = env["BADGEWATCH_DATABASE_URL"]
    config = load_config(environ={**os.environ, **env})
    upgrade(url)
    engine = make_engine(url)
    factory = session_factory(engine)
    try:
        with transaction(factory) as session:
            session.add(Office(code=OFFICE_CODE, name=OFFICE_NAME, level=OfficeLevel.PREFECTURE))
        with transaction(factory) as session:
            report = import_sites(
                session,
                sites_csv(farm),
                calendar=WorkCalendar(),
                placement_days=config.deadlines.placement_days,
                now=datetime.now(UTC),
                zone=config.calendar.zone,
            )
    finally:
        engine.dispose()
    return report.created


def run_pipeline(farm: Farm, nameserver: str, work: Path, round_no: int) -> Run:
    """(A): a fresh migrated SQLite database, the sites imported, start_run + follow."""
    run = Run(round_no, "A", expected=farm.total_pages)
    work.mkdir(parents=True)
    env = pipeline_env(farm, nameserver, work)
    run.detail["imported"] = prepare_database(farm, env)
    config = load_config(environ={**os.environ, **env})
    engine = make_engine(env["BADGEWATCH_DATABASE_URL"])
    factory = session_factory(engine)
    try:
        outcome, run.wall, run.peak_rss_mb, run.cpu_seconds = timed_crawl(
            factory, config, env, work / "crawl.log"
        )
        _verify_pipeline(run, factory, outcome.run_id, farm)
        run.detail["exit_code"] = outcome.exit_code
    finally:
        engine.dispose()
    return run


def timed_crawl(
    factory: Any, config: Any, env: dict[str, str], log_file: Path
) -> tuple[RunOutcome, float, float | None, float | None]:
    """Every site of the database crawled by ``start_run`` + ``follow``: the outcome, the
    wall time, the crawl process's peak RSS (MB) and CPU seconds."""
    with transaction(factory) as session:
        jobs = jobs_for(session)
    started = time.perf_counter()
    run_id, process = start_run(
        factory, config, jobs, trigger="bench", now=datetime.now(UTC), env=env, log_file=log_file
    )
    watch = _started(process)
    outcome = follow(factory, run_id, process, interval=0.05, timeout=RUN_TIMEOUT)
    wall = time.perf_counter() - started
    peak, cpu = watch.finish()
    return outcome, wall, peak, cpu


def _verify_pipeline(run: Run, factory: Any, run_id: int, farm: Farm) -> None:
    """Pages counted from the rows stored; anything short of a complete, correct run is an error."""
    missing = farm.missing_per_site() * len(farm.sites)
    with transaction(factory) as session:
        crawl_run = session.get(CrawlRun, run_id)
        assert crawl_run is not None
        checks = session.scalars(select(SiteCheck).where(SiteCheck.run_id == run_id)).all()
        in_run = PageResult.check_id.in_(select(SiteCheck.id).where(SiteCheck.run_id == run_id))
        run.pages = session.scalar(select(func.count()).where(in_run)) or 0
        urls = session.scalar(select(func.count(func.distinct(PageResult.url))).where(in_run))
        reasons: Counter[str] = Counter()
        for check in checks:
            reasons.update(reasons_of(check.reasons)["pages"])
        run.detail.update(
            state=crawl_run.state.value,
            finish_reason=crawl_run.finish_reason,
            sites_complete=sum(1 for c in checks if c.complete),
            distinct_urls=urls,
            reasons=dict(reasons),
            statuses=dict(Counter(str(c.status.value if c.status else None) for c in checks)),
        )
    problems = []
    if crawl_run.state is not RunState.FINISHED or crawl_run.finish_reason != "finished":
        problems.append(f"run {crawl_run.state.value} ({crawl_run.finish_reason})")
    if run.detail["sites_complete"] != len(farm.sites):
        problems.append(f"{run.detail['sites_complete']}/{len(farm.sites)} sites complete")
    if run.pages != farm.total_pages or urls != farm.total_pages:
        problems.append(f"{run.pages} page rows, {urls} distinct URLs")
    if reasons["ok"] != farm.total_pages - missing or reasons["badge_missing"] != missing:
        problems.append(f"verdicts {dict(reasons)}, expected {missing} badge_missing")
    if problems:
        run.error = "; ".join(problems)


# --- (B) and (C): the Scrapy baselines ------------------------------------------------------


def run_baseline(farm: Farm, nameserver: str, work: Path, round_no: int, variant: str) -> Run:
    run = Run(round_no, variant, expected=farm.total_pages)
    work.mkdir(parents=True)
    spec = work / "spec.json"
    spec.write_text(
        json.dumps(
            {
                "nameserver": nameserver,
                "sites": [{"hosts": [s.host], "identifier": s.identifier} for s in farm.sites],
            }
        ),
        encoding="utf-8",
    )
    stats_file = work / "stats.json"
    command = [
        sys.executable,
        str(HERE / "crawl_baselines.py"),
        "--spec",
        str(spec),
        "--stats",
        str(stats_file),
    ]
    if variant == "C":
        command.append("--badge")
    with open(work / "crawl.log", "wb") as log:
        started = time.perf_counter()
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
        watch = _started(process)
        try:
            code = process.wait(RUN_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.terminate()
            code = process.wait()
        run.wall = time.perf_counter() - started
        run.peak_rss_mb, run.cpu_seconds = watch.finish()
    stats: dict[str, Any] = (
        json.loads(stats_file.read_text(encoding="utf-8")) if stats_file.exists() else {}
    )
    run.pages = int(stats.get("response_received_count", 0))
    ok = int(stats.get("downloader/response_status_count/200", 0))
    missing = farm.missing_per_site() * len(farm.sites)
    run.detail.update(
        exit_code=code,
        finish_reason=stats.get("finish_reason"),
        status_200=ok,
        requests=stats.get("downloader/request_count"),
        errors=stats.get("log_count/ERROR", 0),
        badge_found=stats.get("bench/badge_found"),
        badge_missing=stats.get("bench/badge_missing"),
    )
    problems = []
    if code != 0 or stats.get("finish_reason") != "finished":
        problems.append(f"exit code {code}, finish reason {stats.get('finish_reason')}")
    if run.pages != farm.total_pages or ok != farm.total_pages:
        problems.append(f"{run.pages} responses, {ok} with status 200")
    if run.detail["errors"]:
        problems.append(f"{run.detail['errors']} errors logged")
    if variant == "C" and (
        run.detail["badge_missing"] != missing
        or run.detail["badge_found"] != farm.total_pages - missing
    ):
        problems.append(
            f"badge found {run.detail['badge_found']}, missing {run.detail['badge_missing']}"
            f" (expected {missing} missing)"
        )
    if problems:
        run.error = "; ".join(problems) + f" (log: {work / 'crawl.log'})"
    return run


# --- report ---------------------------------------------------------------------------------


def _median(runs: list[Run], variant: str, *, per_cpu: bool = False) -> float | None:
    ok = [r for r in runs if r.variant == variant and r.error is None]
    rates = [r.pages_per_cpu_s if per_cpu else r.pages_per_s for r in ok]
    values = [rate for rate in rates if rate is not None]
    return statistics.median(values) if values else None


def _ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a and b else None


def _verdict(ok: bool | None) -> str:
    return "n/a" if ok is None else "PASS" if ok else "MISS"


def report(farm: Farm, nginx: Nginx, runs: list[Run], args: argparse.Namespace) -> dict[str, Any]:
    print()
    print(
        f"{'round':>5}  {'variant':<34} {'pages':>7} {'wall s':>8} {'pages/s':>8} "
        f"{'peak RSS MB':>11} {'CPU s':>7} {'pages/CPU-s':>11} {'load':>5}  check"
    )
    for r in runs:
        rss = f"{r.peak_rss_mb:11.1f}" if r.peak_rss_mb else f"{'-':>11}"
        cpu = f"{r.cpu_seconds:7.1f}" if r.cpu_seconds else f"{'-':>7}"
        per_cpu = f"{r.pages_per_cpu_s:11.1f}" if r.pages_per_cpu_s else f"{'-':>11}"
        load = f"{r.load:5.1f}" if r.load is not None else f"{'-':>5}"
        print(
            f"{r.round:>5}  {r.variant + ' ' + VARIANTS[r.variant]:<34} {r.pages:>7} "
            f"{r.wall:8.1f} {r.pages_per_s:8.1f} {rss} {cpu} {per_cpu} {load}  "
            f"{r.error or 'ok'}"
        )
    present = [v for v in VARIANTS if any(r.variant == v for r in runs)]
    medians = {v: _median(runs, v) for v in present}
    per_cpu_medians = {v: _median(runs, v, per_cpu=True) for v in present}
    print()
    for variant, rate in medians.items():
        per_cpu_rate = per_cpu_medians[variant]
        shown = (
            f"{rate:8.1f} pages/s  {per_cpu_rate or 0:8.1f} pages/CPU-s"
            if rate is not None
            else "    n/a (every run failed)"
        )
        print(f"median {variant} {VARIANTS[variant]:<32} {shown}")
    a, b, c = medians.get("A"), medians.get("B"), medians.get("C")
    ratio_ab = _ratio(a, b)
    ratio_ac = _ratio(a, c)
    rss_a = [r.peak_rss_mb for r in runs if r.variant == "A" and r.peak_rss_mb]
    peak_a = max(rss_a) if rss_a else None
    targets = {
        "A/B": (ratio_ab, TARGET_AB, None if ratio_ab is None else ratio_ab >= TARGET_AB),
        "A/C": (ratio_ac, TARGET_AC, None if ratio_ac is None else ratio_ac >= TARGET_AC),
        "peak RSS A MB": (
            peak_a,
            TARGET_RSS_MB,
            None if peak_a is None else peak_a <= TARGET_RSS_MB,
        ),
    }
    print()
    for name, (value, target, ok) in targets.items():
        shown = f"{value:7.2f}" if value is not None else "    n/a"
        sign = "<=" if name.startswith("peak") else ">="
        print(f"{name:<14} {shown}   target {sign} {target:g}   {_verdict(ok)}")
    cpu_ab = _ratio(per_cpu_medians.get("A"), per_cpu_medians.get("B"))
    cpu_ac = _ratio(per_cpu_medians.get("A"), per_cpu_medians.get("C"))
    if cpu_ab or cpu_ac:
        print(
            f"per CPU-second of the crawl process: A/B {cpu_ab or 0:.2f}, A/C {cpu_ac or 0:.2f}"
            " (for information: the targets are on wall time)"
        )
    busiest = max((r.load for r in runs if r.load is not None), default=0.0)
    if busiest > (os.cpu_count() or 1):
        print(
            f"warning: load average reached {busiest:.1f} on {os.cpu_count()} CPUs during the"
            " runs: other work competed for the CPUs, so wall times are inflated unevenly"
        )
    return {
        "params": {"sites": args.sites, "pages": args.pages, "rounds": args.rounds},
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "scrapy": scrapy.__version__,
            "nginx": nginx.version,
            "nginx_workers": nginx.workers,
        },
        "farm": {
            "directory": str(farm.directory),
            "sites": len(farm.sites),
            "pages_per_site": farm.pages,
            "pages": farm.total_pages,
            "bytes": farm.bytes,
            "links_per_page": farm.links_per_page,
            "badge_missing": farm.missing_per_site() * len(farm.sites),
        },
        "runs": [
            asdict(r) | {"pages_per_s": r.pages_per_s, "pages_per_cpu_s": r.pages_per_cpu_s}
            for r in runs
        ],
        "median_pages_per_s": medians,
        "median_pages_per_cpu_s": per_cpu_medians,
        "targets": {
            name: {"value": value, "target": target, "pass": ok}
            for name, (value, target, ok) in targets.items()
        },
    }


# --- main -----------------------------------------------------------------------------------


@contextmanager
def farm_served(farm: Farm, run_dir: Path) -> Iterator[tuple[LocalDnsServer, Nginx]]:
    """The farm's names in a DNS server on loopback and its sites in nginx, while it lasts."""
    with (
        LocalDnsServer(farm.records(), host="127.0.0.1", port=0) as dns_server,
        Nginx(farm, run_dir) as nginx,
    ):
        yield dns_server, nginx


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sites", type=int, default=20)
    parser.add_argument("--pages", type=int, default=1000, help="pages per site")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--variants", default="ABC", help="which variants to run, in order")
    parser.add_argument("--farm", type=Path, default=ROOT / "var" / "bench-farm")
    parser.add_argument("--out", type=Path, default=ROOT / "var" / "bench-crawl.json")
    parser.add_argument("--keep", action="store_true", help="keep databases and crawl logs")
    args = parser.parse_args()
    variants = [v for v in args.variants.upper() if v in VARIANTS]
    signal.signal(signal.SIGTERM, _interrupt)

    started = time.perf_counter()
    farm = build_farm(args.farm, args.sites, args.pages)
    print(
        f"farm:   {len(farm.sites)} sites × {farm.pages:,} pages = {farm.total_pages:,} pages, "
        f"{farm.bytes / farm.total_pages / 1024:.1f} KiB a page ({farm.bytes / 1e6:,.0f} MB), "
        f"{farm.links_per_page:.0f} links a page, badge missing on "
        f"{farm.missing_per_site() * len(farm.sites):,} pages; {farm.directory} "
        f"({'reused' if farm.reused else f'generated in {time.perf_counter() - started:.1f} s'})"
    )
    run_dir = Path(tempfile.mkdtemp(prefix="bw-bench-crawl-"))
    runs: list[Run] = []
    failed = False
    try:
        with farm_served(farm, run_dir) as (dns_server, nginx):
            first, last = farm.sites[0], farm.sites[-1]
            print(
                f"server: nginx {nginx.version}, {len(farm.sites)} servers on "
                f"{first.ip}–{last.ip}:80, worker_processes {nginx.workers} "
                f"({os.cpu_count()} CPUs); DNS {dns_server.address}"
            )
            print(f"runs:   {args.rounds} rounds of {' '.join(variants)}; work dir {run_dir}")
            if "A" in variants:
                print(f"        {describe_pipeline(farm)}")
            for round_no in range(1, args.rounds + 1):
                for variant in variants:
                    work = run_dir / f"r{round_no}-{variant}"
                    if variant == "A":
                        run = run_pipeline(farm, dns_server.address, work, round_no)
                    else:
                        run = run_baseline(farm, dns_server.address, work, round_no, variant)
                    run.load = os.getloadavg()[0]
                    runs.append(run)
                    print(
                        f"  round {round_no} {variant}: {run.pages:,} pages in {run.wall:.1f} s "
                        f"= {run.pages_per_s:.1f} pages/s, peak RSS "
                        f"{run.peak_rss_mb or 0:.0f} MB, CPU {run.cpu_seconds or 0:.0f} s, "
                        f"load {run.load:.1f}, {run.error or 'ok'}",
                        flush=True,
                    )
                    failed = failed or run.error is not None
            result = report(farm, nginx, runs, args)
    except (FarmError, KeyboardInterrupt) as exc:
        failed = True
        print(f"stopped: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    finally:
        _stop_children()
        if args.keep or failed:
            print(f"kept: {run_dir}")
        else:
            shutil.rmtree(run_dir, ignore_errors=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, ensure_ascii=False, indent=1), encoding="utf-8")
    print(f"\nwritten: {args.out}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
