"""Benchmark: ``badgewatch sites import``, its speed on 10,000 sites and memory on a large file.

Speed. 10,000 generated sites into a fresh SQLite database, then the same file again. Baseline,
measured in the same run on the same file: a plain ``csv.reader`` pass plus one ``executemany``
INSERT of the same rows into a table of the same shape with the ``sqlite3`` module (no
validation, no checks). Prints rows/s of both, their ratio, and the time of the idempotent
re-import.

Memory. A large generated file (``--memory-mb``, 100 MB by default; 0 skips it) imported in a
child process of its own, from the file as the CLI does, into a fresh SQLite database. Baseline,
in the same run: a child that reads the same file with a plain ``csv.reader`` and keeps
nothing. Each child reports its peak RSS (``VmHWM``, interpreter and imports included) and its
RSS before the work; prints both peaks, their ratio and the import's growth against the file's
size.

    .venv/bin/python bench/import.py [--rows N] [--memory-mb M]
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import random
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import IO
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sqlalchemy.orm import Session, sessionmaker  # noqa: E402

from store.db import make_engine, session_factory, transaction  # noqa: E402
from store.migrate import upgrade  # noqa: E402
from store.models import Office, OfficeLevel  # noqa: E402
from workflow.importer import COLUMNS, import_sites  # noqa: E402
from workflow.workdays import WorkCalendar  # noqa: E402

PLACES = "杭州宁波温州嘉兴湖州绍兴金华衢州舟山台州丽水"
OFFICES_PER_PREFECTURE = 8
SITES_PER_UNIT = 2
ZONE = ZoneInfo("Asia/Shanghai")
BYTES_PER_ROW = 165  # about, in UTF-8; to size the memory file


def offices() -> list[tuple[str, str, str | None]]:
    """The offices (code, name, parent code) the generated sites belong to."""
    out: list[tuple[str, str, str | None]] = [("330000", "浙江省委编办", None)]
    for p, place in enumerate(PLACES[::2], start=1):
        prefecture = f"33{p:02d}00"
        out.append((prefecture, f"{place}{PLACES[2 * (p - 1) + 1]}市委编办", "330000"))
        for c in range(1, OFFICES_PER_PREFECTURE + 1):
            out.append((f"33{p:02d}{c:02d}", f"{place}第{c}县委编办", prefecture))
    return out


def write_csv(out: IO[str], rows: int, seed: int = 20240506) -> None:
    """``rows`` valid sites, as an office's export would list them."""
    rng = random.Random(seed)
    counties = [code for code, _, parent in offices() if parent and parent != "330000"]
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    first = date(2024, 1, 2)
    for i in range(rows):
        unit_no = i // SITES_PER_UNIT
        office = counties[unit_no % len(counties)]
        domain = f"县{i}政务网.政务"
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
                f"2001:db8::{i // 65536:x}:{i % 65536:x}" if i % 4 == 0 else "",
                f"CA33{i:019d}",
                f"{rng.getrandbits(128):032X}" if i % 5 else "",
                (first + timedelta(days=rng.randrange(700))).isoformat(),
            ]
        )


def generate(rows: int) -> bytes:
    out = io.StringIO()
    write_csv(out, rows)
    return out.getvalue().encode("utf-8")


def prepare(url: str) -> sessionmaker[Session]:
    """A fresh migrated database with the offices; its session factory."""
    upgrade(url)
    sessions = session_factory(make_engine(url))
    with transaction(sessions) as session:
        by_code: dict[str, Office] = {}
        for code, name, parent in offices():
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
    return sessions


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


def speed(rows: int) -> None:
    data = generate(rows)
    with tempfile.TemporaryDirectory(prefix="bw-bench-") as tmp:
        directory = Path(tmp)
        sessions = prepare(f"sqlite:///{directory / 'badgewatch.db'}")
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
                    zone=ZONE,
                )
            return time.perf_counter() - started, str(report)

        first, first_report = run()
        again, again_report = run()
        sessions.kw["bind"].dispose()
        base = baseline(directory / "baseline.db", data)

    print(f"rows: {rows} sites, {len(offices())} offices, {len(data) / 1e6:.1f} MB CSV")
    print(f"import:    {first:7.3f} s  {rows / first:9,.0f} rows/s  {first_report}")
    print(f"re-import: {again:7.3f} s  {rows / again:9,.0f} rows/s  {again_report}")
    print(f"baseline:  {base:7.3f} s  {rows / base:9,.0f} rows/s  (csv.reader + executemany)")
    print(f"ratio:     import is {first / base:.1f}x the baseline's time")
    target = 2_000
    verdict = "meets" if rows / first >= target else "MISSES"
    print(f"target:    {target:,} rows/s on SQLite: {verdict}")


# --- memory: each measurement in a child process of its own ------------------------------------


def _rss(field: str) -> float:
    """This process's ``VmRSS`` or ``VmHWM`` (peak) in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no {field} in /proc/self/status")


def child(kind: str, path: Path, url: str) -> None:
    """Run one measurement and print it as JSON: RSS before, peak RSS, seconds, rows."""
    before = _rss("VmRSS")
    started = time.perf_counter()
    if kind == "baseline":
        with path.open(newline="", encoding="utf-8-sig") as f:
            rows = sum(1 for _ in csv.reader(f)) - 1
    else:
        sessions = prepare(url)
        before = _rss("VmRSS")
        started = time.perf_counter()
        with path.open("rb") as stream, transaction(sessions) as session:
            report = import_sites(
                session, stream, calendar=WorkCalendar(), placement_days=5,
                now=datetime.now(UTC), zone=ZONE,
            )
        rows = report.created
    elapsed = time.perf_counter() - started
    print(json.dumps({"before": before, "peak": _rss("VmHWM"), "seconds": elapsed,
                      "rows": rows}))


def _measure(kind: str, path: Path, url: str) -> dict[str, float]:
    done = subprocess.run(
        [sys.executable, __file__, "--child", kind, str(path), url],
        check=True, capture_output=True, text=True,
    )
    result: dict[str, float] = json.loads(done.stdout.splitlines()[-1])
    return result


def memory(megabytes: int) -> None:
    rows = megabytes * 1_000_000 // BYTES_PER_ROW
    with tempfile.TemporaryDirectory(prefix="bw-bench-") as tmp:
        directory = Path(tmp)
        path = directory / "sites.csv"
        with path.open("w", encoding="utf-8", newline="") as out:
            write_csv(out, rows)
        size = path.stat().st_size / 1e6
        base = _measure("baseline", path, "")
        ours = _measure("import", path, f"sqlite:///{directory / 'badgewatch.db'}")
    print(f"\nmemory: {ours['rows']:,.0f} sites, {size:.0f} MB CSV, each in a child process")
    print(f"baseline:  peak RSS {base['peak']:6.0f} MB  ({base['seconds']:.1f} s, "
          "csv.reader over the file)")
    print(f"import:    peak RSS {ours['peak']:6.0f} MB  ({ours['seconds']:.1f} s, "
          f"{ours['rows'] / ours['seconds']:,.0f} rows/s; {ours['before']:.0f} MB before it "
          "started)")
    growth = ours["peak"] - ours["before"]
    print(f"ratio:     import peak is {ours['peak'] / base['peak']:.1f}x the baseline's; it grew "
          f"{growth:.0f} MB for a {size:.0f} MB file ({growth / size:.2f} MB per MB)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--memory-mb", type=int, default=100, help="0 skips the memory part")
    parser.add_argument("--child", nargs=3, metavar=("KIND", "FILE", "URL"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        kind, file, url = args.child
        child(kind, Path(file), url)
        return
    speed(args.rows)
    if args.memory_mb:
        memory(args.memory_mb)


if __name__ == "__main__":
    main()
