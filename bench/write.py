"""Benchmark: page results written by the crawl's ``ResultWriter`` on PostgreSQL, COPY against
the plain INSERT (executemany), in the same run and the same database.

A fresh PostgreSQL database (created beside the one of ``--url``, migrated, dropped at the end)
gets ``--sites`` sites; then, alternating in each round, a run writes ``--pages`` page rows per
site through the real writer (``open_site``, ``add_page`` in batches of ``BATCH_ROWS``,
``close_site`` with its publishing transaction), once with ``copy=True`` (the default, COPY)
and once with ``copy=False`` (the INSERT kept as the baseline). Rows as the crawl pipeline
builds them: URL, title, JSON reasons and identifiers, validators and digest. Prints rows/s of
each, the medians and COPY/INSERT; writes var/bench-write.json.

    .venv/bin/python bench/write.py [--sites 20 --pages 5000 --rounds 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
for path in (ROOT, ROOT / "bench"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

from pgtemp import temporary_database  # noqa: E402
from sqlalchemy import func, select  # noqa: E402

from crawler.results import ResultWriter, create_run  # noqa: E402
from store.db import make_engine, session_factory, transaction  # noqa: E402
from store.migrate import upgrade  # noqa: E402
from store.models import (  # noqa: E402
    Office,
    OfficeLevel,
    PageResult,
    Site,
    SiteSource,
    Unit,
)

NOW = datetime(2026, 10, 14, 1, 0, tzinfo=UTC)


def page_row(check_id: int, domain: str, n: int, now: datetime) -> dict[str, Any]:
    failing = n % 50 == 7
    return {
        "check_id": check_id,
        "url": f"http://{domain}/xwzx/2026/{n // 100}/t{n:06d}_通知公告.html",
        "http_status": 200,
        "verdict": "non_compliant" if failing else "compliant",
        "reasons": ["badge_missing", "footer_icp_missing"] if failing else ["ok"],
        "identifiers": [] if failing else ["CA330000000604258010001"],
        "badge_offset": None if failing else 28_000 + n % 900,
        "badge_in_body": None if failing else True,
        "depth": min(n, 3),
        "title": f"关于印发第{n}号通知的通知 - 浙江省人民政府",
        "error": None,
        "fetched_at": now,
        "etag": f'W/"{n:x}-5f1e2c3a"',
        "last_modified": "Tue, 13 Oct 2026 08:00:00 GMT",
        "digest": f"{n:032x}",
        "carried": n % 3 == 0,
    }


def prepare(factory: Any, sites: int) -> list[tuple[int, str]]:
    with transaction(factory) as session:
        office = Office(code="330000", name="浙江省委编办", level=OfficeLevel.PROVINCE)
        unit = Unit(name="浙江省人民政府办公厅", office=office)
        made = [
            Site(unit=unit, office=office, name=f"网站{n}", domain=f"site{n}.example.cn",
                 ipv4="127.0.0.1", identifier=f"CA{n:021d}", source=SiteSource.IMPORTED,
                 monitored=True, created_at=NOW)
            for n in range(sites)
        ]
        session.add_all(made)
        session.flush()
        return [(s.id, s.domain) for s in made]


def write_run(factory: Any, sites: list[tuple[int, str]], pages: int, *, copy: bool) -> float:
    """Seconds for one run's writes: every site opened, its rows added, its check closed."""
    with transaction(factory) as session:
        run_id = create_run(session, trigger="bench", now=NOW, sites=len(sites)).id
    started = time.perf_counter()
    writer = ResultWriter(factory, run_id, copy=copy)
    for site_id, domain in sites:
        tally = writer.open_site(site_id, {"outcome": "ok"}, NOW)
        for n in range(pages):
            # A fixed clock: batches close on BATCH_ROWS, as in a busy crawl.
            writer.add_page(page_row(tally.check_id, domain, n, NOW), NOW)
        tally.home_fetched, tally.checked = True, pages
        writer.close_site(tally, NOW, finished=True, publish=True, note=None)
    writer.finish(NOW, reason="finished", complete=True)
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--sites", type=int, default=20)
    parser.add_argument("--pages", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    results: dict[str, list[float]] = {"copy": [], "insert": []}
    with temporary_database(args.url, "bw_bench_write") as url:
        upgrade(url)
        engine = make_engine(url)
        factory = session_factory(engine)
        sites = prepare(factory, args.sites)
        rows = args.sites * args.pages
        for round_no in range(1, args.rounds + 1):
            order = ("insert", "copy") if round_no % 2 else ("copy", "insert")
            for path in order:
                seconds = write_run(factory, sites, args.pages, copy=path == "copy")
                results[path].append(rows / seconds)
                print(f"round {round_no} {path:6}  {rows} rows in {seconds:6.2f} s  "
                      f"{rows / seconds:9.0f} rows/s", flush=True)
        with transaction(factory) as session:
            stored = session.scalar(select(func.count()).select_from(PageResult))
        expected = rows * args.rounds * 2
        if stored != expected:
            print(f"ERROR: {stored} rows stored, {expected} expected", file=sys.stderr)
            return 1
        engine.dispose()

    copy, insert = statistics.median(results["copy"]), statistics.median(results["insert"])
    print(f"median  copy {copy:9.0f} rows/s  insert {insert:9.0f} rows/s  "
          f"copy/insert {copy / insert:.2f}x  ({args.sites} sites x {args.pages} pages, "
          f"{args.rounds} rounds)")
    out = ROOT / "var" / "bench-write.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({
        "sites": args.sites, "pages": args.pages, "rounds": args.rounds,
        "rows_per_second": results, "median_copy": copy, "median_insert": insert,
        "ratio": copy / insert, "at": datetime.now(UTC).isoformat(),
    }, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
