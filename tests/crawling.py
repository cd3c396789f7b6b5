"""Running the real crawl from tests that must not hang when the crawl would not end.

``badgewatch crawl`` runs in its own process group with a generous limit; a crawl that does not
end within it fails the test instead of blocking the suite (its crawl process dies with it).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from store.db import make_engine, session_factory, transaction
from store.models import PageResult, SiteCheck

ROOT = Path(__file__).resolve().parent.parent


def badgewatch(
    env: dict[str, str], *args: str, timeout: float = 240.0
) -> subprocess.CompletedProcess[str]:
    """``python -m badgewatch ARGS`` with ``env``; fails the test if it outlives ``timeout``."""
    process = subprocess.Popen(
        [sys.executable, "-m", "badgewatch", *args],
        cwd=ROOT,
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        out, err = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        pytest.fail(f"badgewatch {' '.join(args)} was still running after {timeout:.0f} s")
    return subprocess.CompletedProcess(process.args, process.returncode, out, err)


def crawl_site(env: dict[str, str], domain: str, timeout: float = 240.0) -> dict[str, Any]:
    """Crawl one site; its JSON summary (pages included) plus the run's Scrapy stats."""
    done = badgewatch(env, "crawl", "--site", domain, "--json", timeout=timeout)
    assert done.returncode == 0, (done.stdout, done.stderr[-3000:])
    data = json.loads(done.stdout)
    [site] = data["sites"]
    status = badgewatch(env, "status", "--json")
    assert status.returncode == 0, status.stderr[-3000:]
    site["stats"] = json.loads(status.stdout)["runs"][0]["stats"]
    return dict(site)


def last_check(env: dict[str, str]) -> tuple[dict[str, Any], dict[str, PageResult]]:
    """The refused counters of the latest site check and its page rows by URL path."""
    engine = make_engine(env["BADGEWATCH_DATABASE_URL"])
    try:
        with transaction(session_factory(engine)) as session:
            check = session.scalars(select(SiteCheck).order_by(SiteCheck.id.desc())).first()
            assert check is not None
            rows = session.scalars(
                select(PageResult).where(PageResult.check_id == check.id)
            ).all()
            for row in rows:
                session.expunge(row)
            refused = dict(check.reasons.get("refused", {}))
    finally:
        engine.dispose()
    return refused, {_path(row.url): row for row in rows}


def _path(url: str) -> str:
    rest = url.split("://", 1)[1]
    slash = rest.find("/")
    return rest[slash:] if slash >= 0 else "/"
