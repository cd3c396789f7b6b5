"""Benchmark: the office compliance page (合规情况) served live by gunicorn, against the time to
write the same office's static report.

Builds the data of ``bench/report.py`` (not timed; the same builder): a province (330000) with
1,000 sites over its 50 offices beneath and 200 stored page results per site, 30 days of checks.
Adds an office reviewer of the province and starts ``gunicorn -w WORKERS`` on a free loopback
port with ``web.app:create_app_from_env()``, as in production. Then two runs of ``--seconds``:
``--sessions`` logged-in sessions (20), each loading the province's compliance page every
``--interval`` seconds (2), each on its own connection; then the same with each session loading
a random site page of the province's tree (with its failing pages, as the static site page).
Each session loads its page once before the clock starts (when a worker first reads the
province's tree, which it then keeps under the data's version: web/compliance.py); those first
loads are printed apart.

Baseline, measured in the same run on the same database: ``write_reports`` of the province
(every office and site page beneath it, the exports). Every response is checked (status 200,
the page's heading) before any time is printed; a run with a failed response is BROKEN.
Prints p50 and p95 of each run, their ratio to the static report's time, and the target
(p95 under 500 ms); writes everything to var/bench-web.json.

    .venv/bin/python bench/web.py [--sites 1000 --pages-per-site 200 --seconds 30]
"""

from __future__ import annotations

import argparse
import http.cookiejar
import json
import os
import random
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sqlalchemy import select  # noqa: E402

from bench.report import NOW, build  # noqa: E402
from store.db import make_engine, session_factory, transaction  # noqa: E402
from store.migrate import upgrade  # noqa: E402
from store.models import Office, Role, Site, User  # noqa: E402

TARGET_P95_MS = 500.0
OFFICE = "330000"
LOGIN, PASSWORD = "bench-office", "bench password 1"
SECRET = "b" * 64
CSRF_RE = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def prepare(url: str, args: argparse.Namespace) -> tuple[dict[str, Any], list[int]]:
    """The report benchmark's data, an office reviewer of the province, the province's sites."""
    from web.accounts import hash_password

    upgrade(url)
    stored = build(url, args.sites, args.pages_per_site, args.seed)
    engine = make_engine(url)
    with transaction(session_factory(engine)) as session:
        office = session.scalar(select(Office).where(Office.code == OFFICE))
        assert office is not None
        session.add(User(name="基准审核员", role=Role.OFFICE_REVIEWER, office_id=office.id,
                         login=LOGIN, password_hash=hash_password(PASSWORD)))
        site_ids = list(session.scalars(select(Site.id)))
    engine.dispose()
    return stored, site_ids


def static_report(url: str, out: Path) -> float:
    """Seconds to write the province's static report set (the baseline)."""
    from badgewatch.config import Config, DatabaseConfig, PathsConfig
    from reports.build import write_reports
    from workflow.workdays import WorkCalendar

    config = Config(database=DatabaseConfig(url=url), paths=PathsConfig(data_dir=out.parent))
    calendar = WorkCalendar()
    calendar.is_workday(NOW.date())
    engine = make_engine(url)
    started = time.perf_counter()
    with transaction(session_factory(engine)) as session:
        write_reports(session, out, config=config, calendar=calendar, now=NOW,
                      office_code=OFFICE)
    elapsed = time.perf_counter() - started
    engine.dispose()
    return elapsed


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def serve(url: str, workers: int, data_dir: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = os.environ | {
        "BADGEWATCH_CONFIG": "",
        "BADGEWATCH_DATABASE_URL": url,
        "BADGEWATCH_RENDER_ENABLED": "false",
        "BADGEWATCH_WEB_SECRET_KEY": SECRET,
        "BADGEWATCH_PATHS_DATA_DIR": str(data_dir),
    }
    gunicorn = Path(sys.executable).with_name("gunicorn")
    server = subprocess.Popen(
        [str(gunicorn), "-w", str(workers), "-b", f"127.0.0.1:{port}", "--log-level", "warning",
         "web.app:create_app_from_env()"],
        cwd=ROOT, env=env, start_new_session=True,
    )
    deadline = time.monotonic() + 60
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return server, f"http://127.0.0.1:{port}"
        except OSError:
            if server.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("gunicorn did not start") from None
            time.sleep(0.2)


def logged_in(base: str) -> urllib.request.OpenerDirector:
    """A session of the office reviewer: its own cookies."""
    opener = urllib.request.build_opener(
        urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
    )
    page = opener.open(f"{base}/login").read().decode("utf-8")
    match = CSRF_RE.search(page)
    assert match, "no CSRF token on the login page"
    form = urllib.parse.urlencode(
        {"csrf_token": match.group(1), "login": LOGIN, "password": PASSWORD}
    ).encode()
    landed = opener.open(f"{base}/login", data=form).read().decode("utf-8")
    assert "待审核" in landed, "the login failed"
    return opener


def load(base: str, args: argparse.Namespace, paths: list[str], expect: str) -> dict[str, Any]:
    """``--sessions`` sessions each loading one of ``paths`` every ``--interval`` seconds."""
    sessions = [logged_in(base) for _ in range(args.sessions)]
    # Each session's first load, before the clock: it is when a worker reads the office tree
    # it then keeps (web.compliance); reported apart as the cold loads.
    cold: list[float] = []
    for opener in sessions:
        tick = time.monotonic()
        opener.open(base + paths[0]).read()
        cold.append(time.monotonic() - tick)
    times: list[float] = []
    failures: list[str] = []
    lock = threading.Lock()
    stop = time.monotonic() + args.seconds

    def work(n: int, opener: urllib.request.OpenerDirector) -> None:
        rng = random.Random(n)
        time.sleep(rng.random() * args.interval)  # spread the sessions over the interval
        while time.monotonic() < stop:
            tick = time.monotonic()
            path = rng.choice(paths)
            try:
                with opener.open(base + path) as response:
                    body = response.read().decode("utf-8")
                    ok = response.status == 200 and expect in body
            except OSError as exc:
                ok, body = False, str(exc)
            elapsed = time.monotonic() - tick
            with lock:
                times.append(elapsed)
                if not ok:
                    failures.append(f"{path}: {body[:200]}")
            time.sleep(max(0.0, args.interval - elapsed))

    threads = [threading.Thread(target=work, args=(n, s)) for n, s in enumerate(sessions)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    ordered = sorted(times)
    return {
        "requests": len(times),
        "failures": failures[:5],
        "failed": len(failures),
        "p50_ms": statistics.median(ordered) * 1000 if ordered else None,
        "p95_ms": ordered[int(0.95 * (len(ordered) - 1))] * 1000 if ordered else None,
        "max_ms": ordered[-1] * 1000 if ordered else None,
        "cold_max_ms": max(cold) * 1000,
        "cold_median_ms": statistics.median(cold) * 1000,
    }


def run(args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    url = f"sqlite:///{tmp / 'bench.db'}"
    stored, site_ids = prepare(url, args)
    report_seconds = static_report(url, tmp / "report")
    server, base = serve(url, args.workers, tmp / "data")
    try:
        office = load(base, args, [f"/compliance/offices/{OFFICE}"], "合规情况")
        rng = random.Random(args.seed)
        sites = [f"/compliance/sites/{i}" for i in rng.sample(site_ids, min(200, len(site_ids)))]
        site = load(base, args, sites, "立即复查")
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
    return {"stored": stored, "workers": args.workers, "sessions": args.sessions,
            "interval": args.interval, "seconds": args.seconds,
            "static_report_seconds": report_seconds, "office_page": office, "site_page": site}


def show(result: dict[str, Any]) -> None:
    stored = result["stored"]
    print(f"data: {stored['sites']} sites, {stored['page_results']} page results; "
          f"gunicorn -w {result['workers']}, {result['sessions']} sessions every "
          f"{result['interval']:g} s for {result['seconds']:g} s")
    baseline = result["static_report_seconds"]
    print(f"baseline: the province's static report written in {baseline:.2f} s")
    for name in ("office_page", "site_page"):
        run_ = result[name]
        broken = run_["failed"] or not run_["requests"]
        mark = "BROKEN" if broken else ("ok" if run_["p95_ms"] < TARGET_P95_MS else "SLOW")
        print(f"{name}: {run_['requests']} requests, p50 {run_['p50_ms']:.0f} ms, "
              f"p95 {run_['p95_ms']:.0f} ms (target < {TARGET_P95_MS:.0f} ms: {mark}); "
              f"p50 / static report = {run_['p50_ms'] / 1000 / baseline:.3f}; "
              f"first loads (not counted): median {run_['cold_median_ms']:.0f} ms, "
              f"max {run_['cold_max_ms']:.0f} ms")
        for failure in run_["failures"]:
            print(f"  failed: {failure}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sites", type=int, default=1_000)
    parser.add_argument("--pages-per-site", type=int, default=200)
    parser.add_argument("--sessions", type=int, default=20)
    parser.add_argument("--interval", type=float, default=2.0)
    parser.add_argument("--seconds", type=float, default=30.0, help="per run")
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--seed", type=int, default=20261120)
    parser.add_argument("--out", type=Path, default=ROOT / "var" / "bench-web.json")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-web-") as tmp:
        result = run(args, Path(tmp))
    show(result)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, ensure_ascii=False, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
