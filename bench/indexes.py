"""Benchmark: the plans of the report, web, queue and pruning queries on a filled PostgreSQL
database, before and after the indexes of migration ``b8e2d4f6a913``.

A fresh database (created beside the one of ``--url``, dropped at the end) is migrated to the
revision before the indexes and filled with ``generate_series``: ``--sites`` sites under a
province of 10 prefectures and 90 counties, ``--nights`` nightly checks per site (their runs,
queue jobs and a few state changes), page results for the last ``--kept`` nights of each site
(``--pages`` per check, one in fifty failing; the site the queries read has ``--big`` more
in its last check, as a large portal has) and three rendered pages for each last check.
Each query below, written as the product writes it (the file it comes from is named), is run
under ``EXPLAIN (ANALYZE)``; then the database is upgraded to the indexes, analysed, and the
queries run again; last, the page results older than ``--prune-days`` are pruned in batches.
Prints each plan's top node, its index and its time, before and after,
and writes var/bench-indexes.json.

    .venv/bin/python bench/indexes.py [--sites 5000 --nights 90 --kept 4 --pages 50]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
for path in (ROOT, ROOT / "bench"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

import sqlalchemy as sa  # noqa: E402
from pgtemp import temporary_database  # noqa: E402
from sqlalchemy import func, select  # noqa: E402
from sqlalchemy.dialects import postgresql  # noqa: E402

from store.db import make_engine, session_factory  # noqa: E402
from store.migrate import upgrade  # noqa: E402
from store.models import (  # noqa: E402
    CrawlJob,
    JobState,
    PageRender,
    PageResult,
    Site,
    SiteCheck,
    SiteStateChange,
    SiteStatus,
    Unit,
)
from store.retention import PRUNE_BATCH_ROWS, prune_page_results  # noqa: E402

BEFORE = "a9c4e1f7b203"  # the revision before the indexes
AFTER = "b8e2d4f6a913"
NOW = datetime(2026, 10, 31, 1, 0, tzinfo=UTC)

FILL = """
INSERT INTO offices (id, code, name, level, parent_id)
  SELECT 1, '330000', '浙江省委编办', 'province', NULL;
INSERT INTO offices (id, code, name, level, parent_id)
  SELECT 1 + n, (330000 + n * 100)::text, '市委编办' || n, 'prefecture', 1
  FROM generate_series(1, 10) n;
INSERT INTO offices (id, code, name, level, parent_id)
  SELECT 11 + n, (330000 + ((n - 1) / 9 + 1) * 100 + (n - 1) % 9 + 1)::text,
         '县委编办' || n, 'county', 2 + (n - 1) / 9
  FROM generate_series(1, 90) n;
INSERT INTO units (id, name, office_id)
  SELECT n, '单位' || n, 1 + n % 101 FROM generate_series(1, :sites) n;
INSERT INTO sites (id, unit_id, office_id, name, domain, ipv4, identifier, source, monitored,
                   created_at, status, state, ever_compliant, checked_at, state_since)
  SELECT n, n, 1 + n % 101, '网站' || n, 'site' || n || '.example.cn', '127.0.0.1',
         'CA' || lpad(n::text, 21, '0'), 'imported', true, :start, 'compliant', 'compliant',
         true, :now, :start
  FROM generate_series(1, :sites) n;
INSERT INTO crawl_runs (id, trigger, state, started_at, heartbeat_at, finished_at, sites, pages)
  SELECT d, 'nightly', 'finished', :start + d * interval '1 day',
         :start + d * interval '1 day' + interval '3 hours',
         :start + d * interval '1 day' + interval '3 hours', :sites, 0
  FROM generate_series(1, :nights) d;
INSERT INTO site_checks (id, run_id, site_id, started_at, finished_at, complete, status,
                         pages_checked, pages_failing, pages_not_checked, robots_excluded,
                         home_fetched, dns, reasons, renders, incremental, pages_carried,
                         check_key)
  SELECT (d - 1) * :sites + s, d, s,
         :start + d * interval '1 day' + s * interval '1 ms',
         :start + d * interval '1 day' + interval '1 hour' + s * interval '1 ms',
         true, CASE WHEN (s + d) % 17 = 0 THEN 'non_compliant' ELSE 'compliant' END,
         :pages, CASE WHEN (s + d) % 17 = 0 THEN 1 ELSE 0 END, 0, 0, true,
         '{"outcome": "ok"}', '{"pages": {"ok": 1}, "refused": {}}', '{}',
         d % 7 <> 1, 0, 'k1'
  FROM generate_series(1, :nights) d, generate_series(1, :sites) s;
UPDATE sites SET last_check_id = (:nights - 1) * :sites + id;
INSERT INTO page_results (check_id, url, http_status, verdict, reasons, identifiers,
                          badge_offset, badge_in_body, depth, title, fetched_at, etag,
                          last_modified, digest, carried)
  SELECT (d - 1) * :sites + s, 'http://site' || s || '.example.cn/p/' || p || '.html', 200,
         CASE WHEN p % 50 = 7 THEN 'non_compliant' ELSE 'compliant' END,
         CASE WHEN p % 50 = 7 THEN '["badge_missing"]' ELSE '["ok"]' END::json, '[]',
         28000, true, least(p, 3), '通知公告' || p,
         :start + d * interval '1 day' + interval '1 hour', 'W/"' || p || '"',
         'Tue, 13 Oct 2026 08:00:00 GMT', md5(s::text || p::text), d % 7 <> 1
  FROM generate_series(:nights - :kept + 1, :nights) d, generate_series(1, :sites) s,
       generate_series(1, :pages) p;
INSERT INTO page_results (check_id, url, http_status, verdict, reasons, identifiers,
                          badge_offset, badge_in_body, depth, title, fetched_at, carried)
  SELECT (:nights - 1) * :sites + :sites / 2,
         'http://site' || :sites / 2 || '.example.cn/big/' || p || '.html', 200,
         CASE WHEN p % 50 = 7 THEN 'non_compliant' ELSE 'compliant' END,
         CASE WHEN p % 50 = 7 THEN '["badge_missing"]' ELSE '["ok"]' END::json, '[]',
         28000, true, 3, '通知公告' || p, :now, false
  FROM generate_series(1, :big) p;
INSERT INTO page_renders (check_id, url, viewport, verdict, reasons, message, rendered_at)
  SELECT (:nights - 1) * :sites + s, 'http://site' || s || '.example.cn/p/' || v || '.html',
         'desktop', 'compliant', '["ok"]', '', :now
  FROM generate_series(1, :sites) s, generate_series(1, 3) v;
INSERT INTO site_state_changes (site_id, from_state, to_state, at, check_id, detail)
  SELECT s, 'compliant', 'regressed', :start + d * interval '1 day', NULL, '{}'
  FROM generate_series(1, :sites) s, generate_series(1, :nights, 10) d;
INSERT INTO crawl_jobs (site_id, kind, priority, render, state, attempts, enqueued_at,
                        finished_at, run_id)
  SELECT s, 'nightly', 100, false, 'done', 1, :start + d * interval '1 day',
         :start + d * interval '1 day' + interval '2 hours', d
  FROM generate_series(1, :nights) d, generate_series(1, :sites) s;
INSERT INTO crawl_jobs (site_id, kind, priority, render, state, attempts, enqueued_at)
  SELECT s, 'nightly', 100, false, 'queued', 0, :now FROM generate_series(1, :sites) s;
SELECT setval(pg_get_serial_sequence(t, 'id'), (SELECT max(id) FROM offices))
  FROM (VALUES ('offices')) v(t);
"""


@dataclass
class Query:
    name: str
    source: str
    statement: Any


def queries(sites: int, nights: int) -> list[Query]:
    site = sites // 2
    last = (nights - 1) * sites + site
    since = NOW - timedelta(days=30)
    some = list(range(1, min(sites, 1000) + 1))
    return [
        Query("failing pages of a site's last check", "reports/data.py failing_rows, "
              "monitor/notices.py",
              select(PageResult.url, PageResult.title, PageResult.reasons)
              .where(PageResult.check_id == last, PageResult.verdict == "non_compliant")
              .order_by(PageResult.depth, PageResult.id)),
        Query("every page of a check", "reports/status.py",
              select(PageResult.url, PageResult.verdict, PageResult.reasons)
              .where(PageResult.check_id == last).order_by(PageResult.id)),
        Query("the known pages for an incremental crawl", "crawler/known.py known_pages",
              select(PageResult.url, PageResult.etag, PageResult.digest)
              .where(PageResult.check_id == last)),
        Query("last full check of a site", "crawler/known.py last_full_check_at",
              select(SiteCheck.started_at)
              .where(SiteCheck.site_id == site, SiteCheck.complete.is_(True),
                     SiteCheck.incremental.is_(False), SiteCheck.check_key.is_not(None))
              .order_by(SiteCheck.started_at.desc()).limit(1)),
        Query("30-day trend of 1,000 sites", "reports/data.py _trends",
              select(SiteCheck.site_id, SiteCheck.finished_at, SiteCheck.status)
              .where(SiteCheck.site_id.in_(some), SiteCheck.complete.is_(True),
                     SiteCheck.finished_at >= since,
                     SiteCheck.status.in_([SiteStatus.COMPLIANT, SiteStatus.NON_COMPLIANT]))),
        Query("a site's state history", "reports/data.py site_detail",
              select(SiteStateChange)
              .where(SiteStateChange.site_id == site)
              .order_by(SiteStateChange.at.desc(), SiteStateChange.id.desc())),
        Query("sites of a prefecture's subtree", "reports/data.py office tree",
              select(Site.id, Unit.name).join(Unit, Unit.id == Site.unit_id)
              .where(Site.office_id.in_(list(range(2, 12))), Site.monitored.is_(True))),
        Query("the data version", "web/compliance.py _data_version",
              select(func.max(Site.checked_at), func.max(Site.state_since),
                     func.count(Site.id), func.max(Site.id))),
        Query("rendered evidence of a check", "web/badges.py, reports/status.py",
              select(PageRender.url).where(PageRender.check_id == last)
              .order_by(PageRender.id)),
        Query("claim queued jobs", "store/queue.py claim (_queued)",
              select(CrawlJob.id).where(CrawlJob.state == JobState.QUEUED)
              .order_by(CrawlJob.priority, CrawlJob.id).limit(8)),
        Query("a site's last recheck", "web/rechecks.py",
              select(CrawlJob.id).where(CrawlJob.site_id == site, CrawlJob.kind == "recheck")
              .order_by(CrawlJob.id.desc()).limit(1)),
        Query("one pruning batch", "store/retention.py _prune_batch",
              select(PageResult.id, PageResult.fetched_at)
              .where(PageResult.fetched_at < NOW - timedelta(days=2),
                     PageResult.check_id.not_in(
                         select(Site.last_check_id).where(Site.last_check_id.is_not(None))))
              .order_by(PageResult.fetched_at).limit(5000)),
    ]


def explain(conn: sa.Connection, statement: Any) -> tuple[str, float]:
    compiled = statement.compile(dialect=postgresql.dialect(),
                                 compile_kwargs={"literal_binds": True})
    plan = conn.exec_driver_sql(f"EXPLAIN (ANALYZE, FORMAT JSON) {compiled}").scalar_one()
    top = plan[0]["Plan"]
    return summary(top), float(plan[0]["Execution Time"])


def summary(node: dict[str, Any]) -> str:
    """The plan's node types, outermost first, with the index each scan uses."""
    parts = []
    stack = [node]
    while stack:
        n = stack.pop(0)
        label = n["Node Type"]
        if "Index Name" in n:
            label += f" {n['Index Name']}"
        elif "Relation Name" in n:
            label += f" {n['Relation Name']}"
        parts.append(label)
        stack.extend(n.get("Plans", []))
    return " > ".join(parts)


def fill(url: str, args: argparse.Namespace) -> float:
    started = time.perf_counter()
    engine = make_engine(url)
    params = {"sites": args.sites, "nights": args.nights, "kept": args.kept,
              "pages": args.pages, "big": args.big, "now": NOW,
              "start": NOW - timedelta(days=args.nights + 1)}
    with engine.begin() as conn:
        for statement in FILL.split(";\n"):
            if statement.strip():
                conn.execute(sa.text(statement), params)
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("VACUUM ANALYZE")
    engine.dispose()
    return time.perf_counter() - started


def measure(url: str, args: argparse.Namespace) -> list[dict[str, Any]]:
    engine = make_engine(url)
    out = []
    with engine.connect() as conn:
        for query in queries(args.sites, args.nights):
            explain(conn, query.statement)  # warm the cache: both sides read from memory
            plan, ms = min((explain(conn, query.statement) for _ in range(3)),
                           key=lambda r: r[1])
            out.append({"query": query.name, "source": query.source, "plan": plan, "ms": ms})
    engine.dispose()
    return out


def run(url: str, args: argparse.Namespace) -> dict[str, Any]:
    """Fill at the revision before the indexes, measure, upgrade, measure, prune."""
    upgrade(url, BEFORE)
    seconds = fill(url, args)
    engine = make_engine(url)
    with engine.connect() as conn:
        sizes = {t: conn.exec_driver_sql(f"SELECT count(*) FROM {t}").scalar_one()
                 for t in ("sites", "site_checks", "page_results", "crawl_jobs")}
        db_size = conn.exec_driver_sql(
            "SELECT pg_size_pretty(pg_database_size(current_database()))").scalar_one()
    engine.dispose()
    print(f"filled in {seconds:.0f} s: " + ", ".join(f"{v:,} {k}" for k, v in sizes.items())
          + f"; {db_size}", flush=True)
    before = measure(url, args)
    upgrade(url, AFTER)
    engine = make_engine(url)
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("ANALYZE")
    after = measure(url, args)
    started = time.perf_counter()
    pruned = prune_page_results(session_factory(engine), now=NOW, keep_days=args.prune_days)
    prune_seconds = time.perf_counter() - started
    engine.dispose()
    return {"sizes": sizes, "database": db_size, "args": vars(args), "before": before,
            "after": after, "pruned": pruned, "prune_seconds": prune_seconds}


def report(result: dict[str, Any]) -> None:
    for b, a in zip(result["before"], result["after"], strict=True):
        changed = "plan changed" if b["plan"] != a["plan"] else "same plan"
        print(f"\n{b['query']} ({b['source']}): {changed}, "
              f"{b['ms']:.2f} ms -> {a['ms']:.2f} ms ({b['ms'] / max(a['ms'], 0.001):.1f}x)")
        print(f"  before: {b['plan']}")
        if b["plan"] != a["plan"]:
            print(f"  after:  {a['plan']}")
    pruned, seconds = result["pruned"], result["prune_seconds"]
    print(f"\nprune older than {result['args']['prune_days']} days (store/retention.py, "
          f"{PRUNE_BATCH_ROWS} rows per transaction): {pruned:,} rows in {seconds:.1f} s "
          f"({pruned / seconds:,.0f} rows/s)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--sites", type=int, default=5000)
    parser.add_argument("--nights", type=int, default=90)
    parser.add_argument("--kept", type=int, default=4)
    parser.add_argument("--pages", type=int, default=50)
    parser.add_argument("--big", type=int, default=20000,
                        help="more pages in the last check of the site the queries read")
    parser.add_argument("--prune-days", type=int, default=2,
                        help="at the end, prune page results older than this")
    parser.add_argument("--keep", action="store_true", help="keep the database")
    args = parser.parse_args()

    with temporary_database(args.url, "bw_bench_indexes", keep=args.keep) as url:
        result = run(url, args)
    report(result)
    out = ROOT / "var" / "bench-indexes.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
