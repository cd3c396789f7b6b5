"""The crawl process: ``python -m crawler.run --run-id N --jobs FILE [--parent-pid PID]``.

Started by ``badgewatch crawl`` and by the monitor, never imported by them: a Twisted reactor
runs once per process. It dies with its launcher, stops on SIGTERM (at once on a second SIGTERM
or a SIGINT), and a stopped or dying crawl has its run recorded incomplete at once and publishes
nothing more (``crawler.stops``).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

from scrapy.crawler import CrawlerProcess

from badgewatch.config import load_config
from crawler import jobs as jobs_module
from crawler.results import ResultWriter
from crawler.settings import crawl_settings
from crawler.spiders.sites import SitesSpider
from crawler.stops import CLOSED, StopHandler, Witness, die_with_parent
from store.db import make_engine, session_factory

log = logging.getLogger(__name__)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m crawler.run")
    parser.add_argument("--run-id", type=int, required=True)
    parser.add_argument("--jobs", type=Path, required=True, help="JSON file of site jobs")
    parser.add_argument(
        "--parent-pid", type=int, default=None,
        help="the launcher's pid; the crawl ends, unpublished, when that process is gone",
    )
    parser.add_argument("--log-level", default="INFO")
    args = parser.parse_args(argv)
    parent_pid: int = args.parent_pid if args.parent_pid is not None else os.getppid()

    config = load_config()
    # The witness first, then the stop handlers, so that any stop from here on is recorded;
    # then the tie to the launcher.
    witness = Witness.start(args.run_id, parent_pid)
    stops = StopHandler(witness)
    stops.install()
    if not die_with_parent(parent_pid):
        args.jobs.unlink(missing_ok=True)
        witness.tell("ended with its launching process")
        return 1

    site_jobs = jobs_module.loads(args.jobs.read_text(encoding="utf-8"))
    args.jobs.unlink(missing_ok=True)
    engine = make_engine(config.database.url)
    writer = ResultWriter(session_factory(engine), args.run_id, parent_pid=parent_pid)
    stops.writer = writer
    settings = crawl_settings(config)
    settings["LOG_LEVEL"] = args.log_level
    process = CrawlerProcess(settings)
    crawler = process.create_crawler(SitesSpider)
    process.crawl(crawler, jobs=site_jobs, writer=writer)

    def graceful() -> None:
        # Called from the signal handler: the reactor does the work, at its next turn. The
        # reactor is imported here, once CrawlerProcess has installed the asyncio one.
        from twisted.internet import reactor  # noqa: PLC0415

        call = reactor.callFromThread
        call(log.info, "stop requested: closing the crawl gracefully")
        call(process.stop)

    stops.graceful = graceful
    process.start(install_signal_handlers=False)
    engine.dispose()
    if writer.closed:
        witness.tell(CLOSED)
    stats = crawler.stats.get_stats() if crawler.stats else {}
    return 0 if stats.get("finish_reason") == "finished" and writer.stopped is None else 1


if __name__ == "__main__":
    sys.exit(main())
