"""``badgewatch db``: the schema."""

from __future__ import annotations

import click

from badgewatch import localtime
from badgewatch.cli.main import emit, runtime
from badgewatch.runtime import utcnow
from store.migrate import upgrade
from store.retention import prune, prune_cutoff


@click.group("db")
def command() -> None:
    """Database schema commands."""


@command.command("upgrade")
@click.option("--revision", default="head", show_default=True)
def upgrade_command(revision: str) -> None:
    """Create or migrate the schema to the latest revision."""
    url = runtime().config.database.url
    upgrade(url, revision)
    click.echo(f"database at revision {revision}")


@command.command("prune")
@click.option("--json", "as_json", is_flag=True)
def prune_command(as_json: bool) -> None:
    """Delete page results, renders with their screenshots and finished queue jobs older than
    [store] keep_page_results_days (each site's last check and every site check are kept); the
    monitor's daily pass does the same."""
    rt = runtime()
    now, days = utcnow(), rt.config.store.keep_page_results_days
    pruned = prune(rt.sessions, now=now, keep_days=days, data_dir=rt.config.paths.data_dir)
    before = localtime.text(prune_cutoff(now, days), rt.config.calendar.zone)
    if as_json:
        emit({"deleted": pruned.page_results, "page_renders": pruned.page_renders,
              "screenshots": pruned.screenshots, "crawl_jobs": pruned.crawl_jobs,
              "before": before, "keep_days": days})
    else:
        click.echo(
            f"已删除 {pruned.page_results} 条早于 {before}（{days} 天前）的页面检查结果、"
            f"{pruned.page_renders} 条浏览器渲染记录（{pruned.screenshots} 张截图）和 "
            f"{pruned.crawl_jobs} 个已结束的检查任务；"
            "各网站最近一次检查的页面结果和截图、每次检查的汇总均保留"
        )
