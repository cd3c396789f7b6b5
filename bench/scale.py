"""Benchmark: the nightly crawl on 1, 2 and 4 ``badgewatch worker`` processes on PostgreSQL, then
the same farm again unchanged (the incremental recrawl).

A loopback farm of ``--hosts`` × ``--pages`` government pages (``bench/crawl_farm.py``'s pages,
the site's badge in the footer of all but one page in fifty), served by one asyncio server per
loopback address on port 80 that delays every response by a random ``--delay-ms`` (100-300 ms
by default: small government servers), answers ``If-None-Match`` / ``If-Modified-Since`` with
``304`` and counts the bytes it sends; the names resolve through a ``LocalDnsServer``. Many
hosts share an address: Scrapy's per-host politeness (``CONCURRENT_REQUESTS_PER_DOMAIN`` =
``[crawl] per_host_concurrency``, AutoThrottle) keys on the host name, not the address.

For each worker count: a fresh PostgreSQL database (created and dropped here), migrated
(``badgewatch db upgrade``, Procrastinate's schema included), the sites imported, the nightly
run queued through the engine interface (``monitor.engine.engine_for``), then that many real
``badgewatch worker`` processes started at once and timed until no crawl job is queued or
running. Measured: pages/s, rows/s of ``page_results`` (mean, and the best 5 s window), the
peak RSS of the workers with their crawl processes (summed from ``/proc``), and the farm's
bytes. Then, on the last database, the nightly run is queued again on the unchanged farm: the
recrawl's pages/s and bytes against that database's first crawl.

    .venv/bin/python bench/scale.py        # 1,000 hosts × 100 pages; 1, 2, 4 workers; as root
    .venv/bin/python bench/scale.py --hosts 40 --pages 20 --workers 1,2    # a smoke run
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import random
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import suppress
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
HERE = Path(__file__).resolve().parent
for path in (ROOT, HERE):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

from crawl import _interrupt, prepare_database  # noqa: E402
from crawl_farm import (  # noqa: E402
    LIST_LINKS,
    NAV_PAGES,
    Farm,
    FarmSite,
    has_badge,
    page_links,
    page_path,
)
from pgtemp import temporary_database  # noqa: E402
from sqlalchemy import func, select, text  # noqa: E402

from badgewatch.config import BadgeConfig, load_config  # noqa: E402
from badgewatch.domains import gov_domain  # noqa: E402
from monitor.engine import engine_for  # noqa: E402
from store.db import make_engine, session_factory, transaction  # noqa: E402
from store.models import CrawlJob, JobState, PageResult, SiteCheck  # noqa: E402
from testbed.localdns import LocalDnsServer  # noqa: E402
from testbed.siteserver import government_page  # noqa: E402
from workflow.issuance import issued_snippet, make_code  # noqa: E402

ADMIN_URL = os.environ.get("BADGEWATCH_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
TARGET_SCALING = 1.7  # 2 workers against 1
TARGET_BYTES = 0.10  # the unchanged recrawl moves at most this share of the first crawl's bytes
NEVER = "0 0 1 29 2 *"  # 29 February: the workers' own schedule never fires during a run
SAMPLE_SECONDS = 0.5
WINDOW_SECONDS = 5.0
LAST_MODIFIED = format_datetime(datetime(2026, 1, 5, 8, 0, tzinfo=UTC), usegmt=True)
# Placeholders in the page templates, replaced by each site's own values when served.
ORG, CODE, SNIPPET = b"QQORGQQ", b"QQCODEQQ", b"<!--QQSNIPPETQQ-->"


# --- the farm: generated pages, a delaying server ------------------------------------------------


def scale_sites(count: int, addresses: int) -> tuple[FarmSite, ...]:
    """``count`` sites spread round-robin over ``addresses`` loopback addresses 127.3.0.N."""
    if not 1 <= count <= 99_999:
        raise SystemExit("--hosts: between 1 and 99,999")
    sites = []
    for i in range(count):
        name = f"邯郸第{i + 1:05d}县人民政府.政务"
        sites.append(
            FarmSite(
                index=i,
                name=name,
                host=gov_domain(name),
                ip=f"127.3.{i % addresses // 250}.{i % addresses % 250 + 1}",
                unit=f"邯郸第{i + 1:05d}县人民政府办公室",
                identifier=f"CA13004{60_000_001 + i:012d}0001",
                certificate=hashlib.sha256(f"bench-site-{i}".encode()).hexdigest()[:32].upper(),
            )
        )
    return tuple(sites)


class DelayFarm:
    """Every site's pages from one set of templates, each response after a random delay, with
    validators and ``304``; counts what it sends. Runs its own event loop in a thread."""

    def __init__(self, sites: tuple[FarmSite, ...], pages: int, size_kb: int,
                 delay: tuple[float, float]) -> None:
        self.sites = sites
        self.pages = pages
        self.delay = delay
        self.by_host = {site.host: site for site in sites}
        self.paths = {page_path(k): k for k in range(pages)}
        self.templates = [
            government_page(
                "QQORGQQ" if k == 0 else f"第{k}号_QQORGQQ",
                page_links(k, pages),
                SNIPPET.decode(),
                size_kb=size_kb,
                organizer="QQORGQQ",
                site_code="QQCODEQQ",
            ).encode("utf-8")
            for k in range(pages)
        ]
        badge = BadgeConfig()
        self.snippets = [
            issued_snippet(badge, make_code(badge, s.identifier, s.certificate)).encode()
            for s in sites
        ]
        self.bytes_sent = 0
        self.responses = 0
        self.not_modified = 0
        self.connections = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._servers: list[asyncio.base_events.Server] = []

    def reset(self) -> None:
        self.bytes_sent = self.responses = self.not_modified = self.connections = 0

    def page(self, site: FarmSite, k: int) -> bytes:
        body = self.templates[k]
        snippet = self.snippets[site.index] if has_badge(k) else b""
        org = site.unit.removesuffix("办公室").encode()
        return (
            body.replace(SNIPPET, snippet)
            .replace(ORG, org)
            .replace(CODE, f"13040{site.index:05d}".encode())
        )

    def answer(self, host: str, path: str, headers: dict[str, str]) -> tuple[int, str, bytes, str]:
        """(status, content type, body, etag) of one GET."""
        site = self.by_host.get(host.split(":", maxsplit=1)[0].lower())
        if site is None:
            return 404, "text/plain", b"no such site", ""
        if path == "/robots.txt":
            body = f"User-agent: *\nDisallow: /search/\n\nSitemap: http://{site.host}/sitemap.xml\n"
            return 200, "text/plain", body.encode(), ""
        if path == "/sitemap.xml":
            urls = "".join(
                f"<url><loc>http://{site.host}{page_path(k)}</loc></url>\n"
                for k in range(self.pages)
            )
            body = ('<?xml version="1.0" encoding="UTF-8"?>\n<urlset xmlns='
                    f'"http://www.sitemaps.org/schemas/sitemap/0.9">\n{urls}</urlset>\n')
            return 200, "application/xml", body.encode(), ""
        k = self.paths.get(path.split("?", maxsplit=1)[0])
        if k is None:
            return 404, "text/plain", b"not found", ""
        etag = f'"s{site.index}-p{k}"'
        if headers.get("if-none-match") == etag or (
            "if-none-match" not in headers and headers.get("if-modified-since") == LAST_MODIFIED
        ):
            return 304, "", b"", etag
        return 200, "text/html; charset=utf-8", self.page(site, k), etag

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
                    return
                lines = head.decode("latin-1").split("\r\n")
                method, target, _version = [*lines[0].split(" "), "", ""][:3]
                headers = {}
                for line in lines[1:]:
                    name, sep, value = line.partition(":")
                    if sep:
                        headers[name.strip().lower()] = value.strip()
                await asyncio.sleep(random.uniform(*self.delay))
                status, kind, body, etag = self.answer(headers.get("host", ""), target, headers)
                reason = {200: "OK", 304: "Not Modified", 404: "Not Found"}[status]
                out = [f"HTTP/1.1 {status} {reason}", "Server: bench-scale",
                       f"Last-Modified: {LAST_MODIFIED}"]
                if etag:
                    out.append(f"ETag: {etag}")
                if status != 304:
                    out += [f"Content-Type: {kind}", f"Content-Length: {len(body)}"]
                close = headers.get("connection", "").lower() == "close"
                out.append("Connection: close" if close else "Connection: keep-alive")
                data = ("\r\n".join(out) + "\r\n\r\n").encode()
                data += b"" if method == "HEAD" else body
                writer.write(data)
                self.bytes_sent += len(data)
                self.responses += 1
                self.not_modified += status == 304
                await writer.drain()
                if close:
                    return
        except ConnectionError:
            return
        finally:
            writer.close()

    def __enter__(self) -> DelayFarm:
        self._thread.start()
        for ip in sorted({site.ip for site in self.sites}):
            server = asyncio.run_coroutine_threadsafe(
                asyncio.start_server(self._serve, ip, 80, backlog=4096), self._loop
            ).result(10)
            self._servers.append(server)
        return self

    def __exit__(self, *exc: object) -> None:
        async def close() -> None:
            for server in self._servers:
                server.close()

        asyncio.run_coroutine_threadsafe(close(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)


# --- PostgreSQL, the workers, /proc ----------------------------------------------------------


def bench_env(url: str, nameserver: str, work: Path, pages: int) -> dict[str, str]:
    """The defaults (politeness included), plus what the loopback farm needs."""
    return {
        "BADGEWATCH_CONFIG": "",
        "BADGEWATCH_DATABASE_URL": url,
        "BADGEWATCH_PATHS_DATA_DIR": str(work),
        "BADGEWATCH_DNS_NAMESERVERS": nameserver,
        "BADGEWATCH_CRAWL_ALLOW_PRIVATE_NETWORKS": "true",
        "BADGEWATCH_CRAWL_MAX_PAGES_PER_SITE": str(2 * pages + 100),
        "BADGEWATCH_RENDER_ENABLED": "false",  # fetch, check, store, as the other crawl benches
        "BADGEWATCH_MONITOR_NIGHTLY_CRON": NEVER,  # queued here, once, not by the schedule
        "BADGEWATCH_MONITOR_DIGEST_CRON": NEVER,
    }


def _status(pid: int) -> dict[str, str]:
    try:
        text_ = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return {}
    return dict(line.split(":\t", 1) for line in text_.splitlines() if ":\t" in line)


def tree_rss_mb(roots: list[int]) -> list[float]:
    """Each root's RSS with all its descendants' (MB), read from /proc."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            ppid = _status(int(entry.name)).get("PPid")
            if ppid is not None:
                children.setdefault(int(ppid), []).append(int(entry.name))
    sums = []
    for root in roots:
        total, todo = 0, [root]
        while todo:
            pid = todo.pop()
            todo += children.get(pid, [])
            rss = _status(pid).get("VmRSS", "0 kB").split()[0]
            total += int(rss)
        sums.append(total / 1024)
    return sums


@dataclass
class Crawl:
    name: str
    workers: int
    pages: int = 0
    rows: int = 0
    wall: float = 0.0
    bytes: int = 0
    responses: int = 0
    not_modified: int = 0
    complete_sites: int = 0
    peak_rows_per_s: float = 0.0
    peak_rss_mb: float = 0.0  # all workers and their crawls, summed
    peak_worker_rss_mb: float = 0.0  # the largest one worker with its crawls
    load: float = 0.0
    page_results_bytes: int = 0  # the table with its indexes and TOAST, after the crawl
    database_bytes: int = 0
    error: str | None = None
    samples: list[tuple[float, int]] = field(default_factory=list)

    @property
    def pages_per_s(self) -> float:
        return self.pages / self.wall if self.wall > 0 else 0.0

    @property
    def first_row_s(self) -> float:
        """When the first page row was stored: the workers' start-up and first claims."""
        return next((t for t, rows in self.samples if rows > 0), self.wall)

    @property
    def rows_per_s(self) -> float:
        return self.rows / self.wall if self.wall > 0 else 0.0


def crawl(name: str, workers: int, env: dict[str, str], farm: DelayFarm, work: Path,
          concurrency: int, timeout: float) -> Crawl:
    """Queue the nightly run through the engine, start ``workers`` processes, time them until
    no crawl job is queued or running."""
    result = Crawl(name, workers)
    config = load_config(environ={**os.environ, **env})
    engine = make_engine(env["BADGEWATCH_DATABASE_URL"])
    sessions = session_factory(engine)
    try:
        with transaction(sessions) as session:
            rows_before = session.scalar(select(func.count()).select_from(PageResult)) or 0
            checks_before = session.scalar(select(func.max(SiteCheck.id))) or 0
        queue = engine_for(config, sessions)
        try:
            queued = queue.enqueue_nightly(now=datetime.now(UTC))
        finally:
            queue.close()
        if queued != len(farm.sites):
            result.error = f"{queued} sites queued, expected {len(farm.sites)}"
            return result
        farm.reset()
        processes = _start_workers(name, workers, env, work, concurrency)
        try:
            _watch(result, processes, sessions, rows_before, timeout, work)
        finally:
            _stop(processes)
        result.load = os.getloadavg()[0]
        result.bytes, result.responses, result.not_modified = (
            farm.bytes_sent, farm.responses, farm.not_modified
        )
        _read(result, sessions, rows_before, checks_before, farm)
    finally:
        engine.dispose()
    result.peak_rows_per_s = _best_window(result.samples)
    return result


def _start_workers(name: str, count: int, env: dict[str, str], work: Path,
                   concurrency: int) -> list[subprocess.Popen[bytes]]:
    processes = []
    for n in range(count):
        with open(work / f"{name}-worker{n + 1}.log", "ab") as log:
            processes.append(subprocess.Popen(
                [sys.executable, "-m", "badgewatch", "worker", "--concurrency", str(concurrency)],
                env={**os.environ, **env}, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
            ))
    return processes


def _watch(result: Crawl, processes: list[subprocess.Popen[bytes]], sessions: Any,
           rows_before: int, timeout: float, work: Path) -> None:
    """Samples rows and RSS until no crawl job is queued or running (or a worker died, or the
    time ran out); the wall time runs from the workers' start."""
    start = time.monotonic()
    active = (JobState.QUEUED, JobState.RUNNING)
    while True:
        time.sleep(SAMPLE_SECONDS)
        now = time.monotonic() - start
        with transaction(sessions) as session:
            left = session.scalar(
                select(func.count()).select_from(CrawlJob).where(CrawlJob.state.in_(active))
            ) or 0
            rows = session.scalar(select(func.count()).select_from(PageResult)) or 0
        result.samples.append((round(now, 2), rows - rows_before))
        trees = tree_rss_mb([p.pid for p in processes])
        result.peak_rss_mb = max(result.peak_rss_mb, sum(trees))
        result.peak_worker_rss_mb = max(result.peak_worker_rss_mb, *trees)
        dead = [p.pid for p in processes if p.poll() is not None]
        if not left:
            break
        if dead:
            result.error = f"worker(s) {dead} exited; see {work}"
            break
        if now > timeout:
            result.error = f"{left} jobs still active after {timeout:.0f} s"
            break
    result.wall = time.monotonic() - start


def _stop(processes: list[subprocess.Popen[bytes]]) -> None:
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    for process in processes:
        try:
            process.wait(60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _read(result: Crawl, sessions: Any, rows_before: int, checks_before: int,
          farm: DelayFarm) -> None:
    """What the crawl stored; anything short of every site complete with every page and the
    farm's verdicts is an error, never a fast run."""
    new_checks = select(SiteCheck.id).where(SiteCheck.id > checks_before)
    in_crawl = PageResult.check_id.in_(new_checks)
    with transaction(sessions) as session:
        rows = session.scalar(select(func.count()).select_from(PageResult)) or 0
        result.rows = rows - rows_before
        result.pages = session.scalar(select(func.count()).where(in_crawl)) or 0
        urls = session.scalar(select(func.count(func.distinct(PageResult.url))).where(in_crawl))
        failing = session.scalar(
            select(func.count()).where(in_crawl, PageResult.verdict != "compliant")
        ) or 0
        complete = select(SiteCheck.site_id).where(
            SiteCheck.id > checks_before, SiteCheck.complete.is_(True)
        ).subquery()
        result.complete_sites = session.scalar(
            select(func.count(func.distinct(complete.c.site_id)))
        ) or 0
        complete_checks = session.scalar(select(func.count()).select_from(complete)) or 0
        result.page_results_bytes = session.scalar(
            text("SELECT pg_total_relation_size('page_results')")
        ) or 0
        result.database_bytes = session.scalar(
            text("SELECT pg_database_size(current_database())")
        ) or 0
    missing = len(farm.sites) * sum(1 for k in range(farm.pages) if not has_badge(k))
    if result.error is not None:
        return
    if result.complete_sites != len(farm.sites):
        result.error = f"{result.complete_sites} of {len(farm.sites)} sites complete"
    elif complete_checks != len(farm.sites):
        result.error = f"{complete_checks} complete checks of {len(farm.sites)} sites"
    elif result.pages != len(farm.sites) * farm.pages or urls != result.pages:
        result.error = (f"{result.pages} page rows ({urls} distinct URLs), expected "
                        f"{len(farm.sites) * farm.pages}")
    elif failing != missing:
        result.error = f"{failing} failing pages, the farm has {missing} without the badge"


def _best_window(samples: list[tuple[float, int]]) -> float:
    best = 0.0
    for i, (t0, r0) in enumerate(samples):
        for t1, r1 in samples[i + 1:]:
            if t1 - t0 >= WINDOW_SECONDS:
                best = max(best, (r1 - r0) / (t1 - t0))
                break
    return best


# --- the run ---------------------------------------------------------------------------------


COLUMNS = (  # heading, width
    ("pages", 9), ("wall s", 8), ("pages/s", 8), ("1st row", 7), ("rows/s", 8),
    ("best 5s", 8), ("MB sent", 8), ("304s", 7), ("RSS/wkr", 8), ("RSS all", 8), ("load", 5),
)
HEADER = "  run         wkr" + "".join(f"{h:>{w + 2}}" for h, w in COLUMNS) + "  result"


def _line(c: Crawl) -> str:
    values = (
        f"{c.pages:,}", f"{c.wall:.1f}", f"{c.pages_per_s:.1f}", f"{c.first_row_s:.1f}",
        f"{c.rows_per_s:.1f}", f"{c.peak_rows_per_s:.1f}", f"{c.bytes / 1e6:.1f}",
        f"{c.not_modified:,}", f"{c.peak_worker_rss_mb:.0f}", f"{c.peak_rss_mb:.0f}",
        f"{c.load:.1f}",
    )
    cells = "".join(f"{v:>{w + 2}}" for v, (_h, w) in zip(values, COLUMNS, strict=True))
    return f"  {c.name:10}  {c.workers:>3}{cells}  {c.error or 'ok'}"


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=1000)
    parser.add_argument("--pages", type=int, default=100, help="pages per host")
    parser.add_argument("--workers", default="1,2,4", help="worker counts, comma-separated")
    parser.add_argument("--delay-ms", default="100-300", help="each response's delay, LOW-HIGH")
    parser.add_argument("--concurrency", type=int, default=None,
                        help="crawl processes per worker (default: [workers] concurrency)")
    parser.add_argument("--addresses", type=int, default=4, help="loopback addresses of the farm")
    parser.add_argument("--page-kb", type=int, default=30)
    parser.add_argument("--timeout", type=float, default=4 * 3600, help="seconds per crawl")
    parser.add_argument("--json", type=Path, nargs="?", const=ROOT / "var" / "bench-scale.json",
                        default=None, help="also write the figures (var/bench-scale.json)")
    parser.add_argument("--keep", action="store_true", help="keep the worker logs")
    args = parser.parse_args()
    try:
        args.counts = [int(n) for n in args.workers.split(",")]
        low, _, high = args.delay_ms.partition("-")
        args.delay = (int(low) / 1000, int(high or low) / 1000)
    except ValueError:
        parser.error("--workers: numbers separated by commas; --delay-ms: LOW-HIGH milliseconds")
    if args.pages < NAV_PAGES + 1 or min(args.counts) < 1 or not 1 <= args.addresses <= 250 * 250:
        parser.error(f"--pages at least {NAV_PAGES + 1}, --workers and --addresses at least 1")
    return args


def measure(args: argparse.Namespace, sites: tuple[FarmSite, ...], concurrency: int,
            run_dir: Path, crawls: list[Crawl]) -> None:
    """Each worker count on a fresh database; the recrawl after the last one."""
    farm_for_import = Farm(Path("."), sites, args.pages, args.page_kb, 0,
                           NAV_PAGES + LIST_LINKS, reused=False)
    with (
        LocalDnsServer({s.host: {"A": [s.ip]} for s in sites}) as dns,
        DelayFarm(sites, args.pages, args.page_kb, args.delay) as farm,
    ):
        for position, count in enumerate(args.counts):
            work = run_dir / f"w{count}"
            work.mkdir()
            with temporary_database(ADMIN_URL, "bw_scale") as url:
                env = bench_env(url, dns.address, work, args.pages)
                subprocess.run([sys.executable, "-m", "badgewatch", "db", "upgrade"],
                               env={**os.environ, **env}, cwd=ROOT, check=True,
                               capture_output=True, timeout=600)
                prepare_database(farm_for_import, env)
                first = crawl("first", count, env, farm, work, concurrency, args.timeout)
                crawls.append(first)
                print(_line(first), flush=True)
                if position == len(args.counts) - 1 and first.error is None:
                    again = crawl("recrawl", count, env, farm, work, concurrency, args.timeout)
                    crawls.append(again)
                    print(_line(again), flush=True)


def main() -> int:
    args = _arguments()
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    sites = scale_sites(args.hosts, args.addresses)
    defaults = load_config(environ={"BADGEWATCH_CONFIG": ""})
    concurrency = args.concurrency or defaults.workers.concurrency
    run_dir = Path(tempfile.mkdtemp(prefix="bw-bench-scale-"))
    crawls: list[Crawl] = []
    signal.signal(signal.SIGTERM, _interrupt)
    low, high = args.delay
    print(
        f"farm:  {args.hosts:,} hosts × {args.pages:,} pages = {args.hosts * args.pages:,} pages "
        f"of ~{args.page_kb} KiB on {len({s.ip for s in sites})} loopback address(es), "
        f"each response delayed {low * 1000:.0f}-{high * 1000:.0f} ms\n"
        f"crawl: per_host_concurrency {defaults.crawl.per_host_concurrency}, AutoThrottle "
        f"{'on' if defaults.crawl.autothrottle else 'off'}, {defaults.crawl.concurrent_requests} "
        f"requests a process, {concurrency} crawl process(es) a worker, "
        f"{defaults.monitor.sites_per_process} sites a job; PostgreSQL {ADMIN_URL}; {run_dir}",
        flush=True,
    )
    print(HEADER, flush=True)
    try:
        measure(args, sites, concurrency, run_dir, crawls)
    except KeyboardInterrupt:
        print("stopped", file=sys.stderr)
        return 1
    finally:
        failed = any(c.error for c in crawls)
        if args.keep or failed:
            print(f"kept: {run_dir}")
        else:
            shutil.rmtree(run_dir, ignore_errors=True)
    summary = _summary(crawls, args.counts)
    for line in summary["lines"]:
        print(line)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        out = {
            "hosts": args.hosts, "pages": args.pages, "delay_ms": args.delay_ms,
            "concurrency": concurrency, "addresses": args.addresses, "page_kb": args.page_kb,
            "cpus": os.cpu_count(), "load_at_end": os.getloadavg(),
            "runs": [{**asdict(c), "pages_per_s": c.pages_per_s, "rows_per_s": c.rows_per_s,
                      "first_row_s": c.first_row_s}
                     for c in crawls],
            **{k: v for k, v in summary.items() if k != "lines"},
        }
        args.json.write_text(json.dumps(out, ensure_ascii=False, indent=1), encoding="utf-8")
        print(f"written: {args.json}")
    return 1 if failed or len(crawls) < len(args.counts) + 1 else 0


def _summary(crawls: list[Crawl], counts: list[int]) -> dict[str, Any]:
    firsts = {c.workers: c for c in crawls if c.name == "first" and c.error is None}
    base = firsts.get(1)
    lines = ["", "scaling against 1 worker (pages/s, same run):"]
    scaling: dict[int, float] = {}
    for count in counts:
        c = firsts.get(count)
        if c is None or base is None or not base.pages_per_s:
            lines.append(f"  {count} worker(s): not measured")
            continue
        scaling[count] = c.pages_per_s / base.pages_per_s
        verdict = "PASS" if scaling[count] >= TARGET_SCALING else "MISS"
        target = f" (target ≥ {TARGET_SCALING}: {verdict})" if count == 2 else ""
        lines.append(f"  {count} worker(s): ×{scaling[count]:.2f} (ideal ×{count}){target}")
    share = speed = None
    again = next((c for c in crawls if c.name == "recrawl" and c.error is None), None)
    first = firsts.get(again.workers) if again else None
    if again and first and first.bytes:
        share = again.bytes / first.bytes
        speed = again.pages_per_s / first.pages_per_s if first.pages_per_s else None
        lines.append(
            f"recrawl / first crawl ({again.workers} worker(s)): bytes {share:.1%} "
            f"(target ≤ {TARGET_BYTES:.0%}: {'PASS' if share <= TARGET_BYTES else 'MISS'}), "
            f"pages/s ×{speed or 0:.2f}"
        )
    else:
        lines.append("recrawl: not measured")
    last = crawls[-1] if crawls else None
    row_bytes = None
    if last and last.rows:
        total_rows = sum(c.rows for c in crawls if c.workers == last.workers)
        row_bytes = last.page_results_bytes / total_rows
        lines.append(
            f"page_results on PostgreSQL: {last.page_results_bytes / 1e6:.1f} MB for "
            f"{total_rows:,} rows = {row_bytes:,.0f} bytes a row (indexes and TOAST included); "
            f"the whole database {last.database_bytes / 1e6:.1f} MB"
        )
    return {"lines": lines, "scaling": scaling, "recrawl_bytes_share": share,
            "recrawl_speed": speed, "page_result_row_bytes": row_bytes,
            "target_scaling": TARGET_SCALING, "target_bytes": TARGET_BYTES}


if __name__ == "__main__":
    with suppress(BrokenPipeError):
        sys.exit(main())
