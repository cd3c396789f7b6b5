"""The crawl process: ``python -m crawler.run --run-id N --jobs FILE``.

Started by ``badgewatch crawl`` and by the monitor, never imported by them: a Twisted reactor
runs once per process. It dies with its parent, and a SIGTERM stops it cleanly with the run
recorded incomplete.
"""

from __future__ import annotations

import argparse
import ctypes
import signal
import sys
from pathlib import Path

from scrapy.crawler import CrawlerProcess

from badgewatch.config import load_config
from crawler import jobs as jobs_module
from crawler.results import ResultWriter
from crawler.settings import crawl_settings
from crawler.spiders.sites import SitesSpider
from store.db import make_engine, session_factory

PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    """Ask Linux to send SIGTERM when the parent process exits, so no crawl is orphaned."""
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except OSError:
        pass


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m crawler.run")
    parser.add_argument("--run-id", type=int, required=True)
    parser.add_argument("--jobs", type=Path, required=True, help="JSON file of site jobs")
    parser.add_argument("--log-level", default="INFO")
    args = parser.parse_args(argv)
    die_with_parent()

    config = load_config()
    site_jobs = jobs_module.loads(args.jobs.read_text(encoding="utf-8"))
    args.jobs.unlink(missing_ok=True)
    engine = make_engine(config.database.url)
    writer = ResultWriter(session_factory(engine), args.run_id)
    settings = crawl_settings(config)
    settings["LOG_LEVEL"] = args.log_level
    process = CrawlerProcess(settings)
    crawler = process.create_crawler(SitesSpider)
    process.crawl(crawler, jobs=site_jobs, writer=writer)
    process.start()
    engine.dispose()
    stats = crawler.stats.get_stats() if crawler.stats else {}
    return 0 if stats.get("finish_reason") == "finished" else 1


if __name__ == "__main__":
    sys.exit(main())
