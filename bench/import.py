"""Benchmark: ``badgewatch sites import`` of 10,000 generated sites into a fresh SQLite database.

Baseline, measured in the same run on the same file: a plain ``csv.reader`` pass plus one
``executemany`` INSERT of the same rows into a table of the same shape with the ``sqlite3``
module (no validation, no checks). Prints rows/s of both, their ratio, and the time of the
idempotent re-import.

    .venv/bin/python bench/import.py [--rows N]
"""

from __future__ import annotations

import argparse
import csv
import io
import random
import sqlite3
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from store.db import make_engine, session_factory, transaction  # noqa: E402
from store.migrate import upgrade  # noqa: E402
from store.models import Office, OfficeLevel  # noqa: E402
from workflow.importer import COLUMNS, import_sites  # noqa: E402
from workflow.workdays import WorkCalendar  # noqa: E402

PLACES = "杭州宁波温州嘉兴湖州绍兴金华衢州舟山台州丽水"
OFFICES_PER_PREFECTURE = 8
SITES_PER_UNIT = 2


def generate(rows: int, seed: int = 20240506) -> tuple[bytes, list[tuple[str, str, str | None]]]:
    """The CSV file and the offices (code, name, parent code) it refers to."""
    rng = random.Random(seed)
    offices: list[tuple[str, str, str | None]] = [("330000", "浙江省委编办", None)]
    counties: list[str] = []
    for p, place in enumerate(PLACES[::2], start=1):
        prefecture = f"33{p:02d}00"
        offices.append((prefecture, f"{place}{PLACES[2 * (p - 1) + 1]}市委编办", "330000"))
        for c in range(1, OFFICES_PER_PREFECTURE + 1):
            code = f"33{p:02d}{c:02d}"
            offices.append((code, f"{place}第{c}县委编办", prefecture))
            counties.append(code)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    first = date(2024, 1, 2)
    for i in range(rows):
        unit_no = i // SITES_PER_UNIT
        office = counties[unit_no % len(counties)]
        label = f"县{i}政务网"
        domain = f"{label}.政务"
        if i % 2:
            domain = domain.encode("idna").decode()  # half of them in punycode
        writer.writerow(
            [
                f"第{unit_no}号单位",
                office,
                f"第{i}号网站",
                domain,
                f"www{i}.example.gov.cn" if i % 3 == 0 else "",
                f"10.{i // 65536}.{i // 256 % 256}.{i % 256}",
                f"2001:db8::{i:x}" if i % 4 == 0 else "",
                f"CA33{i:019d}",
                f"{rng.getrandbits(128):032X}" if i % 5 else "",
                (first + timedelta(days=rng.randrange(700))).isoformat(),
            ]
        )
    return out.getvalue().encode("utf-8"), offices


def baseline(path: Path, data: bytes) -> float:
    """csv.reader plus executemany into a same-shaped sqlite3 table; seconds."""
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute(
        "CREATE TABLE sites (id INTEGER PRIMARY KEY, unit_id INTEGER NOT NULL, "
        "office_id INTEGER NOT NULL, name VARCHAR(200) NOT NULL, "
        "domain VARCHAR(253) NOT NULL UNIQUE, english_domain VARCHAR(253), "
        "ipv4 VARCHAR(15) NOT NULL, ipv6 VARCHAR(45), identifier VARCHAR(40) NOT NULL UNIQUE, "
        "certificate VARCHAR(32), notified_on DATE, placement_due DATE, "
        "source VARCHAR(32) NOT NULL, monitored BOOLEAN NOT NULL, created_at DATETIME NOT NULL)"
    )
    conn.execute("CREATE INDEX ix_sites_office_id ON sites (office_id)")
    conn.execute("CREATE INDEX ix_sites_unit_id ON sites (unit_id)")
    conn.commit()
    now = datetime.now(UTC).isoformat()
    started = time.perf_counter()
    reader = csv.reader(io.StringIO(data.decode("utf-8-sig"), newline=""))
    next(reader)
    rows = [
        (1, 1, r[2], r[3], r[4] or None, r[5], r[6] or None, r[7], r[8] or None, r[9], r[9])
        for r in reader
    ]
    conn.executemany(
        "INSERT INTO sites (unit_id, office_id, name, domain, english_domain, ipv4, ipv6, "
        "identifier, certificate, notified_on, placement_due, source, monitored, created_at) "
        f"VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'imported', 1, '{now}')",
        rows,
    )
    conn.commit()
    elapsed = time.perf_counter() - started
    conn.close()
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000)
    args = parser.parse_args()
    rows: int = args.rows

    data, offices = generate(rows)
    with tempfile.TemporaryDirectory(prefix="bw-bench-") as tmp:
        directory = Path(tmp)
        (directory / "sites.csv").write_bytes(data)
        url = f"sqlite:///{directory / 'badgewatch.db'}"
        upgrade(url)
        engine = make_engine(url)
        sessions = session_factory(engine)
        with transaction(sessions) as session:
            by_code: dict[str, Office] = {}
            for code, name, parent in offices:
                level = (
                    OfficeLevel.PROVINCE
                    if parent is None
                    else OfficeLevel.PREFECTURE
                    if code.endswith("00")
                    else OfficeLevel.COUNTY
                )
                by_code[code] = Office(
                    code=code, name=name, level=level, parent=by_code.get(parent or "")
                )
                session.add(by_code[code])
        calendar = WorkCalendar()

        def run() -> tuple[float, str]:
            started = time.perf_counter()
            with transaction(sessions) as session:
                report = import_sites(
                    session,
                    data,
                    calendar=calendar,
                    placement_days=5,
                    now=datetime.now(UTC),
                )
            return time.perf_counter() - started, str(report)

        first, first_report = run()
        again, again_report = run()
        engine.dispose()
        base = baseline(directory / "baseline.db", data)

    print(f"rows: {rows} sites, {len(offices)} offices, {len(data) / 1e6:.1f} MB CSV")
    print(f"import:    {first:7.3f} s  {rows / first:9,.0f} rows/s  {first_report}")
    print(f"re-import: {again:7.3f} s  {rows / again:9,.0f} rows/s  {again_report}")
    print(f"baseline:  {base:7.3f} s  {rows / base:9,.0f} rows/s  (csv.reader + executemany)")
    print(f"ratio:     import is {first / base:.1f}x the baseline's time")
    target = 2_000
    verdict = "meets" if rows / first >= target else "MISSES"
    print(f"target:    {target:,} rows/s on SQLite: {verdict}")


if __name__ == "__main__":
    main()
