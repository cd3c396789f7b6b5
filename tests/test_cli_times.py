"""Times an operator reads on the command line are on the clock of [calendar] timezone."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from click.testing import CliRunner
from sqlalchemy import select

from badgewatch.cli.main import cli
from store import queue
from store.db import make_engine, session_factory, transaction
from store.models import Site

HEADER = "unit,office,site_name,domain,english_domain,ipv4,ipv6,site_id,certificate,notified_on"


def test_monitor_status_shows_beijing_times(db_url: str, tmp_path: Path) -> None:
    env = {"BADGEWATCH_CONFIG": "", "BADGEWATCH_DATABASE_URL": db_url}
    runner = CliRunner()
    assert runner.invoke(cli, ["office", "add", "330000", "浙江省委编办", "--level", "province"],
                         env=env).exit_code == 0
    path = tmp_path / "sites.csv"
    path.write_text(
        f"{HEADER}\n单位,330000,网站,时间.政务,,10.0.0.1,,CA330000000604258890010,,2026-10-09\n",
        encoding="utf-8",
    )
    assert runner.invoke(cli, ["sites", "import", str(path)], env=env).exit_code == 0
    engine = make_engine(db_url)
    with transaction(session_factory(engine)) as session:
        site_id = session.scalars(select(Site.id)).one()
        # 00:30 on 14 October in Beijing; still the 13th in UTC.
        queue.enqueue(session, site_id, kind="recheck",
                      now=datetime(2026, 10, 13, 16, 30, tzinfo=UTC))
    engine.dispose()
    result = runner.invoke(cli, ["monitor", "status"], env=env)
    assert result.exit_code == 0, result.output
    assert "queue: 1 queued, 0 running, oldest since 2026-10-14 00:30" in result.output
