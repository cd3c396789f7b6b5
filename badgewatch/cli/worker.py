"""``badgewatch worker``: run crawl work from the PostgreSQL queue (Procrastinate)."""

from __future__ import annotations

import logging

import click

from badgewatch.cli.main import fail, runtime


@click.command("worker")
@click.option("--concurrency", type=click.IntRange(min=1), default=None,
              help="Crawl processes run at once (default: [workers] concurrency).")
def command(concurrency: int | None) -> None:
    """Run crawls on this machine for the shared PostgreSQL queue, with any number of other
    workers; also fires the nightly run and the daily pass, once whatever their number.
    SIGTERM or Ctrl-C stops it; crawls it cannot finish go back to the queue."""
    from monitor.engine import uses_workers
    from monitor.workers import run_workers

    rt = runtime()
    config = rt.config
    if not uses_workers(config):
        fail("[database] url: `badgewatch worker` needs PostgreSQL (postgresql://...); on "
             "SQLite `badgewatch monitor` runs the crawls itself", bad_input=True)
    rt.sessions  # noqa: B018 - refuses a database without this version's schema, ours and
    # Procrastinate's ("run `badgewatch db upgrade`"), before any worker starts
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    run_workers(config, concurrency=concurrency or config.workers.concurrency)
