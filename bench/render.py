"""Benchmark: the rendered check, 1,000 renders through one Renderer, against pages on loopback.

Serves 50 distinct government pages (``government_page``, the site's issued badge snippet in
the centred footer) from a SiteServer on 127.0.2.x, our own badge host on another address (its
script fires the real tracker's beacon, which ``[render] blocked_hosts`` must stop), names from
a LocalDnsServer; then renders the pages in turn with ``Renderer.render(url, site, evidence)``
exactly as the crawl's render stage does (default ``[render]``; evidence kept as
``[render] evidence`` says: every sixth render, a site's home page, or all with
``--evidence all``), and samples the memory of the whole Chromium process tree every 0.2 s
(see ``TreeSample``). Every verdict must be compliant and the screenshots as many as the policy
says: a run with failures is reported as broken, never as fast.

Baseline, measured in the same run by the same Chromium binary with the same flags: the same
pages loaded with a bare Playwright ``page.goto()`` in one long-lived page (no probe, no
screenshot, no context replaced). Prints renders/s of both and their ratio, the peak
memory, the memory after the 100th and after the last render, and the targets of issue 4;
writes everything to var/bench-render.json.

    .venv/bin/python bench/render.py [--pages 1000] [--evidence failing_and_home|all]
        [--concurrency N] [--pages-per-context N]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from playwright.async_api import async_playwright  # noqa: E402
from pydantic import ValidationError  # noqa: E402

from badgewatch.config import BadgeConfig, Config, DnsConfig, RenderConfig  # noqa: E402
from crawler.checks.badge import BadgePatterns, SiteBadge  # noqa: E402
from crawler.render.browser import (  # noqa: E402
    Renderer,
    RenderOutcome,
    browser_addresses,
    host_resolver_rules,
)
from testbed.badgehost import BadgeHost, Registration  # noqa: E402
from testbed.localdns import LocalDnsServer  # noqa: E402
from testbed.siteserver import IpPool, SiteServer, government_page  # noqa: E402
from workflow.issuance import issued_snippet, make_code  # noqa: E402

TARGET_RATE = 8.0  # renders/s
TARGET_PEAK_MB = 1024.0  # whole browser tree, TreeSample.mem
TARGET_GROWTH = 0.20  # after the last render against after the 100th
CHECKPOINT = 100
DISTINCT_PAGES = 50
PAGE_SIZES_KB = (20, 30, 40, 60)
SAMPLE_INTERVAL = 0.2

SITE_NAME = "基准市人民政府.政务"
SITE_TITLE = "基准市人民政府"
IDENTIFIER = "CA330000000604258890010"
CERTIFICATE = "0A87C46FEE4D331AE053022819ACDC8C"
BADGE = BadgeConfig(
    script_base="http://dcs.bench.test/js",
    image_base="http://dcs.bench.test/image",
    certificate_url="http://bszs.bench.test/sitename?method=show&id={certificate}",
)
# The real badge script reports every view to this tracker; the default [render] blocks it.
BEACON_URL = "http://recv1.conac.cn/gs.gif"
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


# --- the browser's processes ----------------------------------------------------------------


def _parent_map() -> dict[int, int]:
    """pid -> parent pid of every process now running."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    return parents


def _exe_name(pid: int) -> str:
    try:
        return os.path.basename(os.readlink(f"/proc/{pid}/exe"))
    except OSError:
        return ""


def _descendants(roots: Iterable[int], parents: dict[int, int]) -> list[int]:
    children: dict[int, list[int]] = {}
    for pid, parent in parents.items():
        children.setdefault(parent, []).append(pid)
    out: list[int] = []
    stack = list(roots)
    while stack:
        pid = stack.pop()
        out.append(pid)
        stack.extend(children.get(pid, ()))
    return out


def browser_roots() -> list[int]:
    """Chromium's main process(es) under this Python process: the chromium processes whose
    parent is not chromium (Playwright's node driver launches them)."""
    parents = _parent_map()
    mine = _descendants([os.getpid()], parents)
    chromes = {pid for pid in mine if _exe_name(pid).startswith("chrom")}
    return sorted(pid for pid in chromes if parents.get(pid) not in chromes)


def playwright_driver() -> int | None:
    """The Playwright driver (node) this process talks to."""
    parents = _parent_map()
    for pid, parent in parents.items():
        if parent == os.getpid() and _exe_name(pid) == "node":
            return pid
    return None


def _status_kb(pid: int, key: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


@dataclass(frozen=True)
class TreeSample:
    """The browser tree's memory at one moment, in MB.

    ``mem`` is what the targets judge: the proportional share (PSS) of anonymous and shared
    memory, summed over the tree, plus the file-backed pages (binary, libraries, fonts) counted
    once, as the largest any one process maps. Plain PSS would also divide those file pages
    with every other Chromium on the machine (a test suite's, say), so it swings with them;
    the sum of RSS counts the pages the processes share once per process.
    """

    at: float  # seconds since the watch started
    done: int  # renders completed at that moment
    processes: int
    mem_mb: float
    pss_mb: float
    rss_mb: float


@dataclass(frozen=True)
class TreeCpu:
    processes: int
    cpu_seconds: float  # user+system of the live tree and of the children it has reaped


def tree_cpu(roots: list[int]) -> TreeCpu:
    pids = _descendants(roots, _parent_map())
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += sum(int(f) for f in fields[11:15])  # utime stime cutime cstime
    return TreeCpu(len(pids), total / _CLOCK_TICKS)


def process_cpu(pid: int | None) -> float:
    if pid is None:
        return 0.0
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS


def tree_memory(roots: list[int]) -> tuple[int, float, float, float]:
    """(processes, mem MB, PSS MB, RSS MB) of ``roots`` and all their descendants; see
    :class:`TreeSample` for ``mem``."""
    pids = _descendants(roots, _parent_map())
    own = pss = rss = file_once = 0
    counted = 0
    for pid in pids:
        try:
            rollup = Path(f"/proc/{pid}/smaps_rollup").read_text()
            file_once = max(file_once, _status_kb(pid, "RssFile:"))
        except OSError:
            continue  # ended between the listing and now
        for line in rollup.splitlines():
            key, _, value = line.partition(":")
            if key == "Pss":
                pss += int(value.split()[0])
            elif key == "Rss":
                rss += int(value.split()[0])
            elif key in ("Pss_Anon", "Pss_Shmem"):
                own += int(value.split()[0])
        counted += 1
    return counted, (own + file_once) / 1024, pss / 1024, rss / 1024


class TreeWatch(threading.Thread):
    """Polls the memory of the browser tree every ``interval`` seconds; keeps every sample."""

    def __init__(self, roots: Callable[[], list[int]], interval: float = SAMPLE_INTERVAL) -> None:
        super().__init__(name="tree-watch", daemon=True)
        self.roots = roots
        self.interval = interval
        self.done = 0  # renders completed, set by the event loop
        self.samples: list[TreeSample] = []
        self.cpu_seconds = 0.0  # this thread's own CPU: reading smaps_rollup is not free
        self._t0 = time.perf_counter()
        self._halt = threading.Event()
        self._lock = threading.Lock()

    def sample(self) -> TreeSample:
        roots = self.roots()
        processes, mem, pss, rss = tree_memory(roots) if roots else (0, 0.0, 0.0, 0.0)
        at = round(time.perf_counter() - self._t0, 3)
        point = TreeSample(at, self.done, processes, mem, pss, rss)
        with self._lock:
            self.samples.append(point)
        return point

    def run(self) -> None:
        started = time.thread_time()
        while not self._halt.wait(self.interval):
            self.sample()
        self.cpu_seconds = time.thread_time() - started

    def finish(self) -> None:
        self._halt.set()
        self.join()

    def peak(self) -> TreeSample:
        with self._lock:
            return max(self.samples, key=lambda s: s.mem_mb)

    def peaks(self) -> tuple[float, float, float, int]:
        """The highest mem, PSS, RSS and process count seen, each on its own."""
        with self._lock:
            return (
                max(s.mem_mb for s in self.samples),
                max(s.pss_mb for s in self.samples),
                max(s.rss_mb for s in self.samples),
                max(s.processes for s in self.samples),
            )


# --- the pages ------------------------------------------------------------------------------


def page_paths() -> list[str]:
    return ["/"] + [f"/xxgk/tzgg/{k:04d}.html" for k in range(1, DISTINCT_PAGES)]


def build_pages(snippet: str) -> dict[str, str]:
    """50 distinct pages of 20–60 KiB, each linking to 50 of the others, the badge in the footer."""
    paths = page_paths()
    pages: dict[str, str] = {}
    for k, path in enumerate(paths):
        links = [paths[(k + j) % len(paths)] for j in range(1, 51)]
        pages[path] = government_page(
            f"{SITE_TITLE} 通知公告 第{k}页" if k else SITE_TITLE,
            links,
            f"<!-- 网站标识 -->{snippet}",
            size_kb=PAGE_SIZES_KB[k % len(PAGE_SIZES_KB)],
            organizer=f"{SITE_TITLE}办公室",
            site_code="3300000001",
        )
    return pages


def bench_config(dns_address: str, data_dir: Path, render: RenderConfig) -> Config:
    """Defaults, except: [badge] at our badge host, [dns] at our server, private networks on,
    and ``[render]`` as asked (see :func:`render_settings`)."""
    config = Config()
    return config.model_copy(
        update={
            "render": render,
            "badge": BADGE,
            "dns": DnsConfig(nameservers=[dns_address], timeout=2),
            "crawl": config.crawl.model_copy(update={"allow_private_networks": True}),
            "paths": config.paths.model_copy(update={"data_dir": data_dir}),
        }
    )


def render_settings(**asked: str | int | None) -> RenderConfig:
    """The default ``[render]`` with the settings given on the command line, checked by the
    section's own rules (pydantic's ValidationError names a bad one)."""
    given = {key: value for key, value in asked.items() if value is not None}
    return RenderConfig.model_validate({**Config().render.model_dump(), **given})


# --- the two runs ---------------------------------------------------------------------------


@dataclass
class Run:
    name: str
    pages: int = 0
    wall: float = 0.0
    verdicts: dict[str, int] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)
    peak_mb: float = 0.0
    peak_pss_mb: float = 0.0
    peak_rss_mb: float = 0.0
    peak_processes: int = 0
    checkpoints: dict[str, dict[str, float]] = field(default_factory=dict)
    cpu_seconds: dict[str, float] = field(default_factory=dict)
    detail: dict[str, Any] = field(default_factory=dict)
    samples: list[TreeSample] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.pages / self.wall if self.wall > 0 else 0.0


class Meter:
    """Memory and CPU of one browser tree, of the Playwright driver and of this process, from
    start() to stop(); checkpoint() samples the memory at once."""

    def __init__(self, roots: list[int], interval: float) -> None:
        self.roots = roots
        self.driver = playwright_driver()
        self.watch = TreeWatch(lambda: roots, interval)
        self._cpu = (0.0, 0.0, 0.0)

    def _cpu_now(self) -> tuple[float, float, float]:
        return (
            tree_cpu(self.roots).cpu_seconds,
            process_cpu(self.driver),
            sum(os.times()[:2]),
        )

    def start(self) -> None:
        self._cpu = self._cpu_now()
        self.watch.sample()
        self.watch.start()

    def checkpoint(self) -> dict[str, float]:
        point = self.watch.sample()
        driver_kb = _status_kb(self.driver, "VmRSS:") if self.driver else 0
        return {
            "done": point.done,
            "processes": point.processes,
            "mem_mb": round(point.mem_mb, 1),
            "pss_mb": round(point.pss_mb, 1),
            "rss_mb": round(point.rss_mb, 1),
            "driver_rss_mb": round(driver_kb / 1024, 1),
            "python_rss_mb": round(_status_kb(os.getpid(), "VmRSS:") / 1024, 1),
        }

    def stop(self, run: Run) -> None:
        """Fill in the run's CPU seconds, peaks and samples (the tree must still be alive)."""
        now = self._cpu_now()
        self.finish(run)
        sampler = self.watch.cpu_seconds
        run.cpu_seconds = {
            "browser_tree": round(now[0] - self._cpu[0], 1),
            "playwright_driver": round(now[1] - self._cpu[1], 1),
            "python": round(now[2] - self._cpu[2] - sampler, 1),
            "memory_sampler": round(sampler, 1),
        }

    def finish(self, run: Run) -> None:
        if not self.watch.is_alive():
            return
        self.watch.finish()
        mem, pss, rss, processes = self.watch.peaks()
        run.peak_mb, run.peak_pss_mb, run.peak_rss_mb = round(mem, 1), round(pss, 1), round(rss, 1)
        run.peak_processes = processes
        run.samples = list(self.watch.samples)


class Tally:
    """The verdicts of the renders and their evidence files."""

    def __init__(self, run: Run) -> None:
        self.run = run
        self.verdicts: Counter[str] = Counter()
        self.shots = 0
        self.shot_bytes = 0

    def add(self, outcome: RenderOutcome) -> None:
        key: str = outcome.verdict.verdict
        if key != "compliant" and outcome.verdict.reasons:
            key += ":" + ",".join(outcome.verdict.reasons)
        self.verdicts[key] += 1
        problem = None if key == "compliant" else f"{key} {outcome.verdict.message}"
        if outcome.screenshot is not None and outcome.screenshot.exists():
            self.shots += 1
            self.shot_bytes += outcome.screenshot.stat().st_size
        if problem is not None and len(self.run.failures) < 10:
            self.run.failures.append(f"{outcome.url}: {problem}")


async def run_renderer(
    config: Config, urls: list[str], evidence: Path, pages: int, interval: float
) -> Run:
    """N renders through one Renderer, as RenderStage.render_site calls it (gather; the
    Renderer's own semaphore bounds the concurrency), with a barrier after the 100th render so
    that both memory checkpoints see a browser with no render in flight."""
    run = Run("Renderer.render")
    hosts = {u.split("/")[2] for u in urls}
    renderer = Renderer.from_config(config, browser_addresses(config, hosts))
    site = SiteBadge(IDENTIFIER, CERTIFICATE, BadgePatterns.from_spec(config.badge.spec()))
    tally = Tally(run)
    meter: Meter | None = None

    # As RenderStage keeps evidence: every render with "all"; otherwise the failing ones and
    # each site's home page, here the first of every sample (home + sample_per_site pages).
    every = 1 if config.render.evidence == "all" else config.render.sample_per_site + 1

    async def one(i: int) -> None:
        outcome = await renderer.render(
            urls[i % len(urls)], site, evidence / f"{i:04d}.png", keep_compliant=i % every == 0
        )
        tally.add(outcome)
        if meter is not None:
            meter.watch.done += 1

    try:
        # One render before the clock starts: launching the browser is not a render.
        warm = await renderer.render(urls[0], site, evidence / "warm-up.png")
        if warm.verdict.verdict != "compliant":
            run.failures.append(f"warm-up {warm.url}: {warm.verdict}")
            return run
        run.detail["browser_launches"] = renderer.launches
        meter = Meter(browser_roots(), interval)
        run.detail["browser_roots"] = meter.roots
        blocked_before = renderer.blocked_requests
        meter.start()
        started = time.perf_counter()
        first = min(CHECKPOINT, pages)
        await asyncio.gather(*(one(i) for i in range(first)))
        run.checkpoints[f"after_{first}"] = meter.checkpoint()
        if pages > first:
            await asyncio.gather(*(one(i) for i in range(first, pages)))
            run.checkpoints[f"after_{pages}"] = meter.checkpoint()
        run.wall = time.perf_counter() - started
        run.pages = pages
        meter.stop(run)
        run.detail.update(
            launches=renderer.launches,
            blocked_requests=renderer.blocked_requests - blocked_before,
            screenshots=tally.shots,
            screenshot_mb=round(tally.shot_bytes / 1e6, 1),
            concurrency=config.render.concurrency,
            evidence=config.render.evidence,
        )
        expected_shots = len(range(0, pages, every))
        if tally.shots != expected_shots:
            run.failures.append(f"{tally.shots} screenshots, expected {expected_shots}")
    finally:
        if meter is not None:
            meter.finish(run)
        await renderer.close()
    run.verdicts = dict(tally.verdicts)
    if renderer.launches != 1:
        run.failures.append(f"Chromium was launched {renderer.launches} times")
    return run


async def run_baseline(config: Config, urls: list[str], pages: int, interval: float) -> Run:
    """The same pages, the same Chromium and flags, one long-lived page, page.goto() only."""
    run = Run("page.goto")
    hosts = {u.split("/")[2] for u in urls}
    rules = host_resolver_rules(browser_addresses(config, hosts))
    render = config.render
    statuses: Counter[str] = Counter()
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(render.executable_path),
            args=[*render.args, f"--host-resolver-rules={rules}"],
            headless=True,
        )
        try:
            context = await browser.new_context(
                viewport={"width": render.viewport_width, "height": render.viewport_height}
            )
            page = await context.new_page()
            await page.goto(urls[0], wait_until="load")  # warm-up, as for the renderer
            meter = Meter(browser_roots(), interval)
            meter.start()
            started = time.perf_counter()
            try:
                for i in range(pages):
                    url = urls[i % len(urls)]
                    response = await page.goto(
                        url, wait_until="load", timeout=render.page_timeout * 1000
                    )
                    status = str(response.status) if response is not None else "none"
                    statuses[status] += 1
                    if status != "200" and len(run.failures) < 10:
                        run.failures.append(f"{url}: HTTP {status}")
                    meter.watch.done += 1
                    if i + 1 in (min(CHECKPOINT, pages), pages):
                        run.checkpoints[f"after_{i + 1}"] = meter.checkpoint()
                run.wall = time.perf_counter() - started
                run.pages = pages
                meter.stop(run)
            finally:
                meter.finish(run)
        finally:
            await browser.close()
    run.verdicts = {f"HTTP {k}": v for k, v in statuses.items()}
    return run


# --- report ---------------------------------------------------------------------------------


def chromium_version(path: Path) -> str:
    try:
        out = subprocess.run(
            [str(path), "--version"], capture_output=True, text=True, timeout=30, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    return out.stdout.strip() or "unknown"


def growth(run: Run, pages: int) -> float | None:
    first = run.checkpoints.get(f"after_{min(CHECKPOINT, pages)}")
    last = run.checkpoints.get(f"after_{pages}")
    if first is None or last is None or pages <= CHECKPOINT:
        return None
    return last["mem_mb"] / first["mem_mb"] - 1


def _row(run: Run) -> str:
    return (
        f"  {run.name:<16} {run.pages:>6,} {run.wall:>8.1f} {run.rate:>10.2f} "
        f"{run.peak_mb:>6.0f} MB {run.peak_pss_mb:>6.0f} MB {run.peak_rss_mb:>6.0f} MB "
        f"{run.peak_processes:>6}"
    )


def report(ours: Run, base: Run, pages: int, context: dict[str, Any]) -> dict[str, Any]:
    print(
        f"\n  {'run':<16} {'pages':>6} {'wall s':>8} {'pages/s':>10} "
        f"{'peak mem':>9} {'peak PSS':>9} {'peak RSS':>9} {'procs':>6}"
    )
    print(_row(ours))
    print(_row(base))
    print("  (browser tree; mem = PSS of anonymous and shared memory + file pages once)")
    ratio = ours.rate / base.rate if base.rate else 0.0
    per_render = {run.name: _cpu_ms(run) for run in (ours, base)}
    cost = sum(per_render[ours.name].values()) / max(sum(per_render[base.name].values()), 1e-9)
    print(
        f"\nratio:   Renderer.render {ours.rate:.2f} renders/s = {ratio:.2f}× the bare "
        f"page.goto's {base.rate:.2f} pages/s; a render costs {cost:.1f}× the CPU of a goto"
    )
    used = sum(ours.cpu_seconds.values()) / ours.wall if ours.wall else 0.0
    columns = ("browser_tree", "playwright_driver", "python", "memory_sampler")
    titles = ("browser", "driver", "python", "sampler")
    print("cpu:     ms a page" + "".join(f" {t:>8}" for t in titles))
    for name, ms in per_render.items():
        print(f"  {name:<16}" + "".join(f" {ms.get(c, 0):>8,.0f}" for c in columns))
    print(
        f"  the renders used {used:.2f} of {os.cpu_count()} CPUs; load average "
        f"{os.getloadavg()[0]:.2f} at the end"
    )
    print(
        f"{'memory:':<20} {'mem':>9} {'PSS':>9} {'RSS':>9} {'procs':>6} "
        f"{'driver RSS':>11} {'python RSS':>11}"
    )
    for name, point in ours.checkpoints.items():
        print(
            f"  {name.replace('_', ' '):<18} {point['mem_mb']:>6.0f} MB {point['pss_mb']:>6.0f} MB "
            f"{point['rss_mb']:>6.0f} MB {point['processes']:>6.0f} "
            f"{point['driver_rss_mb']:>8.0f} MB {point['python_rss_mb']:>8.0f} MB"
        )
    grown = growth(ours, pages)
    targets = [
        (
            "renders/s",
            f">= {TARGET_RATE:g}",
            ours.rate,
            ours.rate >= TARGET_RATE,
            f"{ours.rate:.2f}",
        ),
        (
            "peak memory",
            f"<= {TARGET_PEAK_MB:.0f} MB",
            ours.peak_mb,
            ours.peak_mb <= TARGET_PEAK_MB,
            f"{ours.peak_mb:.0f} MB",
        ),
        (
            f"growth {CHECKPOINT}→{pages}",
            f"<= {TARGET_GROWTH:.0%}",
            grown,
            grown is not None and grown <= TARGET_GROWTH,
            f"{grown:+.1%}" if grown is not None else "n/a (needs more pages)",
        ),
    ]
    print("targets:")
    for name, bound, value, ok, shown in targets:
        verdict = "n/a" if value is None else "PASS" if ok else "MISS"
        print(f"  {name:<16} {bound:<11} {shown:<28} {verdict}")
    return {
        **context,
        "ratio": round(ratio, 3),
        "cpu_ratio": round(cost, 2),
        "cpu_ms_per_page": per_render,
        "load_at_end": [round(x, 2) for x in os.getloadavg()],
        "growth": round(grown, 4) if grown is not None else None,
        "targets": {
            name: {"bound": bound, "value": value, "pass": ok}
            for name, bound, value, ok, _ in targets
        },
        "runs": [_run_json(ours), _run_json(base)],
    }


def _cpu_ms(run: Run) -> dict[str, float]:
    return (
        {k: round(v * 1000 / run.pages, 1) for k, v in run.cpu_seconds.items()} if run.pages else {}
    )


def _run_json(run: Run) -> dict[str, Any]:
    data = asdict(run)
    data["rate"] = round(run.rate, 3)
    data["wall"] = round(run.wall, 3)
    data["samples"] = [
        [s.at, s.done, s.processes, round(s.mem_mb, 1), round(s.pss_mb, 1), round(s.rss_mb, 1)]
        for s in run.samples
    ]
    data["sample_columns"] = ["at_s", "done", "processes", "mem_mb", "pss_mb", "rss_mb"]
    return data


# --- main -----------------------------------------------------------------------------------


def main() -> int:  # noqa: PLR0915 - one linear script: set up, run, print
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=1000, help="renders (cycling the 50 pages)")
    parser.add_argument(
        "--interval", type=float, default=SAMPLE_INTERVAL, help="seconds between memory samples"
    )
    parser.add_argument("--out", type=Path, default=ROOT / "var" / "bench-render.json")
    parser.add_argument(
        "--evidence",
        choices=["failing_and_home", "all"],
        default=Config().render.evidence,
        help="[render] evidence: screenshots of failing pages and home pages, or of every render",
    )
    parser.add_argument(
        "--concurrency", type=int, help="[render] concurrency: render lanes (default: the config's)"
    )
    parser.add_argument(
        "--pages-per-context",
        type=int,
        help="[render] pages_per_context: renders before a lane's context is replaced",
    )
    args = parser.parse_args()
    pages: int = args.pages
    try:
        render_config = render_settings(
            evidence=args.evidence,
            concurrency=args.concurrency,
            pages_per_context=args.pages_per_context,
        )
    except ValidationError as exc:
        parser.error(f"[render] {exc}")
    if pages < 1:
        parser.error("--pages must be at least 1")

    registration = Registration(
        IDENTIFIER, CERTIFICATE, f"{SITE_TITLE}办公室", f"{SITE_TITLE}门户网站", SITE_NAME
    )
    snippet = issued_snippet(BADGE, make_code(BADGE, IDENTIFIER, CERTIFICATE))
    routes = build_pages(snippet)
    pool = IpPool("127.0.2.1", "127.0.2.254")
    site_ip = pool.acquire()
    badge_ip = pool.acquire()
    site = SiteServer(site_ip, routes, names=[SITE_NAME]).start()
    badge = BadgeHost(BADGE, badge_ip, [registration], beacon_url=BEACON_URL).start()
    records = {name: {"A": [site_ip]} for name in site.names}
    records.update({name: {"A": [badge_ip]} for name in badge.names})
    urls = [site.url(path) for path in page_paths()]
    load = os.getloadavg()
    sizes = [len(body.encode()) / 1024 for body in routes.values()]
    try:
        with (
            LocalDnsServer(records, host="127.0.0.1", port=0) as dns,
            tempfile.TemporaryDirectory(prefix="bw-bench-render-") as tmp,
        ):
            config = bench_config(dns.address, Path(tmp), render_config)
            version = chromium_version(config.render.executable_path)
            print(
                f"pages:   {len(urls)} distinct government pages of {min(sizes):.0f}–"
                f"{max(sizes):.0f} KiB on {site.url('/')} ({site_ip}:80), badge host "
                f"{', '.join(badge.names)} ({badge_ip}:80), DNS {dns.address}"
            )
            render = config.render
            print(
                f"browser: {version}, [render]: concurrency {render.concurrency}, "
                f"pages_per_context {render.pages_per_context}, viewport "
                f"{render.viewport_width}×{render.viewport_height}, "
                f"page_timeout {render.page_timeout:g} s"
            )
            print(
                f"machine: {os.cpu_count()} CPUs, load average {load[0]:.2f} at start; "
                f"{pages:,} renders, memory polled every {args.interval:g} s",
                flush=True,
            )
            base = asyncio.run(run_baseline(config, urls, pages, args.interval))
            print(f"  baseline page.goto: {base.pages:,} pages in {base.wall:.1f} s", flush=True)
            evidence = Path(tmp) / "evidence"
            ours = asyncio.run(run_renderer(config, urls, evidence, pages, args.interval))
            print(f"  Renderer.render:    {ours.pages:,} renders in {ours.wall:.1f} s", flush=True)
    finally:
        site.stop()
        badge.stop()
    print(f"verdicts: {ours.verdicts}; baseline {base.verdicts}")
    print(
        f"detail:  {ours.detail.get('screenshots', 0):,} evidence PNGs "
        f"({ours.detail.get('screenshot_mb', 0)} MB; [render] evidence = "
        f"{ours.detail.get('evidence')}), "
        "beacons blocked by name resolution, "
        f"Chromium launched {ours.detail.get('launches', 0)}×, "
        f"launches {ours.detail.get('browser_launches')}"
    )
    context = {
        "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": {
            "cpus": os.cpu_count(),
            "load_at_start": [round(x, 2) for x in load],
            "python": platform.python_version(),
            "chromium": version,
        },
        "pages": pages,
        "distinct_pages": len(urls),
        "page_kib": [round(min(sizes)), round(max(sizes))],
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    broken = ours.failures or base.failures or ours.pages != pages or base.pages != pages
    if broken:
        print("\nBROKEN: the run did not render every page compliant; no speed is reported.")
        for line in ours.failures + base.failures:
            print(f"  {line}")
        result = {
            **context,
            "broken": True,
            "runs": [_run_json(ours), _run_json(base)],
        }
    else:
        result = {**report(ours, base, pages, context), "broken": False}
    args.out.write_text(json.dumps(result, ensure_ascii=False, indent=1), encoding="utf-8")
    print(f"\nwritten: {args.out}")
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main())
