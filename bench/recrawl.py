"""Benchmark: an unchanged recrawl of the farm against the first crawl (the incremental crawl).

Serves the farm of ``bench/crawl.py`` (nginx on loopback, which answers ``If-None-Match`` and
``If-Modified-Since`` with ``304`` as most government servers do) and crawls it three times into
one SQLite database with the real ``python -m crawler.run``: (1) the first crawl, every page in
full; (2) the same farm again, unchanged, incremental by default (validators sent, the home page
and ``[crawl] full_fetch_sample`` of the pages in full); (3) once more with ``[crawl]
incremental = false``, the full refetch the recrawl replaces. Prints each run's pages/s and bytes
moved (Scrapy's ``downloader/request_bytes`` + ``downloader/response_bytes``) and the recrawl's
bytes against the first crawl's (target ≤ 10 %), and writes them to var/bench-recrawl.json.

    .venv/bin/python bench/recrawl.py [--sites 10 --pages 1000]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import sys
import tempfile
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
HERE = Path(__file__).resolve().parent
for path in (ROOT, HERE):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

from crawl import (  # noqa: E402
    _interrupt,
    _stop_children,
    farm_served,
    pipeline_env,
    prepare_database,
    timed_crawl,
)
from crawl_farm import Farm, FarmError, build_farm  # noqa: E402
from sqlalchemy import func, select  # noqa: E402

from badgewatch.config import load_config  # noqa: E402
from store.db import make_engine, session_factory, transaction  # noqa: E402
from store.models import CrawlRun, PageResult, RunState, SiteCheck  # noqa: E402
from store.records import reasons_of  # noqa: E402

TARGET_BYTES = 0.10  # the unchanged recrawl moves at most this share of the first crawl's bytes
RUN_TIMEOUT = 1800.0
RUNS = (
    ("first", "the first crawl, every page in full", {}),
    ("recrawl", "unchanged, incremental", {}),
    ("full", "unchanged, [crawl] incremental = false", {"BADGEWATCH_CRAWL_INCREMENTAL": "false"}),
)


@dataclass
class Crawl:
    name: str
    what: str
    pages: int = 0
    carried: int = 0
    not_modified: int = 0
    wall: float = 0.0
    request_bytes: int = 0
    response_bytes: int = 0
    responses: int = 0
    peak_rss_mb: float | None = None
    cpu_seconds: float | None = None
    load: float | None = None
    error: str | None = None
    reasons: dict[str, int] = field(default_factory=dict)

    @property
    def bytes(self) -> int:
        return self.request_bytes + self.response_bytes

    @property
    def pages_per_s(self) -> float:
        return self.pages / self.wall if self.wall > 0 else 0.0


def crawl(farm: Farm, env: dict[str, str], work: Path, crawl: Crawl) -> None:
    config = load_config(environ={**os.environ, **env})
    engine = make_engine(env["BADGEWATCH_DATABASE_URL"])
    factory = session_factory(engine)
    try:
        outcome, crawl.wall, crawl.peak_rss_mb, crawl.cpu_seconds = timed_crawl(
            factory, config, env, work / f"crawl-{crawl.name}.log"
        )
        _read(crawl, factory, outcome.run_id, farm)
    finally:
        engine.dispose()


def _read(crawl: Crawl, factory: Any, run_id: int, farm: Farm) -> None:
    """The run's figures from what it stored; anything short of a complete run is an error."""
    with transaction(factory) as session:
        run = session.get(CrawlRun, run_id)
        assert run is not None
        stats = run.stats or {}
        checks = session.scalars(select(SiteCheck).where(SiteCheck.run_id == run_id)).all()
        in_run = PageResult.check_id.in_(select(SiteCheck.id).where(SiteCheck.run_id == run_id))
        crawl.pages = session.scalar(select(func.count()).where(in_run)) or 0
        reasons: Counter[str] = Counter()
        for check in checks:
            reasons.update(reasons_of(check.reasons)["pages"])
        crawl.reasons = dict(reasons)
        crawl.carried = sum(check.pages_carried for check in checks)
        crawl.not_modified = int(stats.get("badgewatch/pages_not_modified", 0))
        crawl.request_bytes = int(stats.get("downloader/request_bytes", 0))
        crawl.response_bytes = int(stats.get("downloader/response_bytes", 0))
        crawl.responses = int(stats.get("downloader/response_count", 0))
        complete = sum(1 for check in checks if check.complete)
        if run.state is not RunState.FINISHED or complete != len(farm.sites):
            crawl.error = f"run {run.state.value} ({run.finish_reason}), {complete} sites complete"
        elif crawl.pages != farm.total_pages:
            crawl.error = f"{crawl.pages} page rows, expected {farm.total_pages}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sites", type=int, default=10)
    parser.add_argument("--pages", type=int, default=1000, help="pages per site")
    parser.add_argument("--farm", type=Path, default=ROOT / "var" / "bench-farm")
    parser.add_argument("--out", type=Path, default=ROOT / "var" / "bench-recrawl.json")
    parser.add_argument("--keep", action="store_true", help="keep the database and crawl logs")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, _interrupt)

    farm = build_farm(args.farm, args.sites, args.pages)
    print(
        f"farm:   {len(farm.sites)} sites × {farm.pages:,} pages = {farm.total_pages:,} pages, "
        f"{farm.bytes / farm.total_pages / 1024:.1f} KiB a page; {farm.directory}"
    )
    run_dir = Path(tempfile.mkdtemp(prefix="bw-bench-recrawl-"))
    crawls: list[Crawl] = []
    failed = False
    try:
        with farm_served(farm, run_dir) as (dns_server, nginx):
            env = pipeline_env(farm, dns_server.address, run_dir)
            prepare_database(farm, env)
            sample = load_config(environ={**os.environ, **env}).crawl.full_fetch_sample
            print(f"server: nginx {nginx.version}; full_fetch_sample {sample:g}; {run_dir}")
            for name, what, extra in RUNS:
                result = Crawl(name, what)
                crawl(farm, {**env, **extra}, run_dir, result)
                result.load = os.getloadavg()[0]
                crawls.append(result)
                print(
                    f"  {name:8} {result.pages:,} pages in {result.wall:.1f} s = "
                    f"{result.pages_per_s:.0f} pages/s, {result.bytes / 1e6:.1f} MB moved "
                    f"({result.responses:,} responses, {result.not_modified:,} × 304, "
                    f"{result.carried:,} carried), CPU {result.cpu_seconds or 0:.0f} s, "
                    f"peak RSS {result.peak_rss_mb or 0:.0f} MB, load {result.load:.1f}, "
                    f"{result.error or 'ok'}",
                    flush=True,
                )
                failed = failed or result.error is not None
    except (FarmError, KeyboardInterrupt) as exc:
        print(f"stopped: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    finally:
        _stop_children()
        if args.keep or failed:
            print(f"kept: {run_dir}")
        else:
            shutil.rmtree(run_dir, ignore_errors=True)
    first, recrawl, full = crawls
    share = recrawl.bytes / first.bytes if first.bytes else None
    same = recrawl.reasons == first.reasons
    print(
        f"\nrecrawl / first crawl: bytes {share:.1%} (target ≤ {TARGET_BYTES:.0%}: "
        f"{'PASS' if share is not None and share <= TARGET_BYTES else 'MISS'}), "
        f"pages/s ×{recrawl.pages_per_s / first.pages_per_s:.2f}, CPU "
        f"×{(recrawl.cpu_seconds or 0) / (first.cpu_seconds or 1):.2f}; "
        f"full refetch / first: bytes {full.bytes / first.bytes:.1%}, "
        f"pages/s ×{full.pages_per_s / first.pages_per_s:.2f}; "
        f"verdicts {'the same' if same else 'DIFFER'} ({recrawl.reasons})"
        if share is not None else "no bytes counted"
    )
    failed = failed or not same
    result = {
        "farm": {"sites": len(farm.sites), "pages": farm.pages, "bytes": farm.bytes},
        "full_fetch_sample": sample,
        "runs": [{**asdict(c), "bytes": c.bytes, "pages_per_s": c.pages_per_s} for c in crawls],
        "recrawl_bytes_share": share,
        "target_bytes_share": TARGET_BYTES,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, ensure_ascii=False, indent=1), encoding="utf-8")
    print(f"written: {args.out}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
