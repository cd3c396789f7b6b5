"""``badgewatch crawl``, ``recheck``, ``status`` and ``check``: the compliance crawl."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import click
from sqlalchemy import select

from badgewatch.cli.main import emit, fail, runtime, translate_errors
from badgewatch.runtime import utcnow
from crawler.jobs import SiteJob, jobs_for
from crawler.launch import Progress, follow, start_run
from crawler.results import reap_stale_runs
from reports.status import find_site, site_summary
from store.db import transaction
from store.models import CrawlRun, Site, SiteCheck


def _progress_printer() -> Any:
    if not sys.stderr.isatty():
        return None

    def show(p: Progress) -> None:
        rate = p.pages / p.elapsed if p.elapsed > 0 else 0.0
        click.echo(
            f"\rsites {p.sites_finished}/{p.sites}  pages {p.pages}  {rate:.0f} pages/s   ",
            err=True,
            nl=False,
        )

    return show


def _run(
    jobs: list[SiteJob], trigger: str, env: dict[str, str] | None = None
) -> tuple[int, str | None, str]:
    rt = runtime()
    log_file = Path(rt.config.paths.data_dir) / "crawl.log"
    run_id, process = start_run(
        rt.sessions, rt.config, jobs, trigger=trigger, now=utcnow(), log_file=log_file, env=env
    )
    printer = _progress_printer()
    try:
        outcome = follow(rt.sessions, run_id, process, on_progress=printer)
    finally:
        _settle(run_id)
    if printer is not None:
        click.echo("", err=True)
    return run_id, outcome.finish_reason, outcome.state.value


def _settle(run_id: int) -> None:
    """Each site whose check this run completed gets its state by the monitor's rules, through
    the call the monitor and ``recheck`` make (the unit's notice is queued in the outbox as the
    monitor would queue it). Here, in the command that started the crawl: the crawler knows
    nothing of deadlines. Also after an interrupted run, for the sites it did complete."""
    from monitor.service import settle_sites

    rt = runtime()
    with transaction(rt.sessions) as session:
        site_ids = list(
            session.scalars(
                select(SiteCheck.site_id).where(
                    SiteCheck.run_id == run_id, SiteCheck.complete.is_(True)
                )
            )
        )
    settle_sites(rt, site_ids, now=utcnow())


def _standing(site: Site) -> dict[str, Any]:
    """The site's state and deadline figures today, by the function the report uses."""
    from workflow.deadlines import standing

    rt = runtime()
    today = rt.workflow.today(utcnow())
    return standing(site, today=today, calendar=rt.calendar).to_json()


def _summaries(run_id: int, site_ids: list[int], with_pages: bool) -> list[dict[str, Any]]:
    with transaction(runtime().sessions) as session:
        out = []
        for site_id in site_ids:
            site = session.get(Site, site_id)
            assert site is not None
            check = session.scalar(
                select(SiteCheck).where(SiteCheck.run_id == run_id, SiteCheck.site_id == site_id)
            )
            summary = site_summary(session, site, check=check, with_pages=with_pages)
            summary.update(_standing(site))
            summary["complete"] = bool(check and check.complete)
            out.append(summary)
        return out


def _state_text(s: dict[str, Any]) -> str:
    if s["working_days_left"] is not None:
        return f"{s['state']} ({s['working_days_left']} working days left)"
    if s["working_days_overdue"] is not None:
        return f"{s['state']} ({s['working_days_overdue']} working days overdue)"
    return str(s["state"])


def _print_sites(sites: list[dict[str, Any]]) -> None:
    for s in sites:
        click.echo(
            f"{s['domain']}\t{s['status']}\t{_state_text(s)}\tpages {s['pages_checked']} "
            f"failing {s['pages_failing']}\t{' '.join(s['reasons'])}"
        )
        for page in s.get("pages", []):
            click.echo(f"  {page['verdict']}\t{page['url']}\t{' '.join(page['reasons'])}")


def _sites_by_domain(domains: tuple[str, ...]) -> list[int]:
    with transaction(runtime().sessions) as session:
        ids = []
        for domain in domains:
            site = find_site(session, domain)
            if site is None:
                fail(f"--site: no registered site has the domain {domain}", bad_input=True)
            ids.append(site.id)
        return ids


@click.command("crawl")
@click.option("--site", "domains", multiple=True, help="Crawl only this site (repeatable).")
@click.option("--json", "as_json", is_flag=True)
@translate_errors
def crawl(domains: tuple[str, ...], as_json: bool) -> None:
    """Crawl every monitored site (or the given ones) now and print a per-site summary."""
    site_ids = _sites_by_domain(domains) if domains else None
    with transaction(runtime().sessions) as session:
        jobs = jobs_for(session, site_ids)
    if not jobs:
        fail("no sites to crawl: import or issue some first", bad_input=True)
    run_id, reason, state = _run(jobs, "cli")
    sites = _summaries(run_id, [j.site_id for j in jobs], with_pages=bool(domains))
    if as_json:
        emit({"run": {"id": run_id, "state": state, "finish_reason": reason}, "sites": sites})
    else:
        click.echo(f"run {run_id}: {state} ({reason})")
        _print_sites(sites)
    if state != "finished":
        sys.exit(1)


@click.command("recheck")
@click.argument("target", metavar="DOMAIN_OR_URL")
@click.option("--render", is_flag=True, help="Render in Chromium even if [render] is disabled.")
@click.option("--wait", is_flag=True, help="With a monitor running, wait for the verdict.")
@click.option("--timeout", type=float, default=3600.0, show_default=True)
@click.option("--json", "as_json", is_flag=True)
@translate_errors
def recheck(target: str, render: bool, wait: bool, timeout: float, as_json: bool) -> None:
    """Recheck one site (by domain) or one page (by URL), ahead of nightly work.

    The recheck goes through the monitor's queue. With a monitor running it is queued (and,
    with --wait, awaited); without one, this command runs it itself and prints the verdict.
    """
    from monitor.engine import engine_for
    from monitor.recheck import RecheckTimeout
    from monitor.recheck import recheck as run_recheck

    rt = runtime()
    engine = engine_for(rt.config, rt.sessions)
    only_url = target if "://" in target else None
    domain = (urlsplit(target).hostname or target) if only_url else target
    with transaction(rt.sessions) as session:
        site = find_site(session, domain)
        if site is None:
            fail(f"DOMAIN_OR_URL: no registered site has the domain {domain}", bad_input=True)
        site_id = site.id
        running = engine.available(session, now=utcnow())
    try:
        job = run_recheck(
            rt.config, rt.sessions, engine, site_id, url=only_url, render=render,
            monitor_running=running, wait=wait, timeout=timeout,
        )
    except RecheckTimeout as exc:
        fail(f"{exc} after {timeout:g} s: see `badgewatch status` later, or wait longer with "
             "--timeout")
    finally:
        engine.close()
    if isinstance(job, int):
        if as_json:
            emit({"job": job, "state": "queued"})
        else:
            click.echo(f"recheck queued as job {job}; the running monitor or workers will do it")
        return
    job_id = job.id
    if job.run_id is None:
        fail(f"recheck job {job_id} did not run: {job.error or job.state.value}")
    sites = _summaries(job.run_id, [site_id], with_pages=True)
    if as_json:
        emit({"job": job_id, "state": job.state.value, "run": {"id": job.run_id},
              "sites": sites})
    else:
        _print_sites(sites)
    if job.state.value != "done":
        sys.exit(1)


@click.command("status")
@click.option("--site", "domain", help="One site, with its pages.")
@click.option("--json", "as_json", is_flag=True)
@translate_errors
def status(domain: str | None, as_json: bool) -> None:
    """Each site's last complete verdict."""
    rt = runtime()
    with transaction(rt.sessions) as session:
        reap_stale_runs(
            session, now=utcnow(), stale_after=timedelta(minutes=rt.config.crawl.stale_run_minutes)
        )
    with transaction(rt.sessions) as session:
        if domain is not None:
            site = find_site(session, domain)
            if site is None:
                fail(f"--site: no registered site has the domain {domain}", bad_input=True)
            sites = [site_summary(session, site, with_pages=True) | _standing(site)]
        else:
            sites = [
                site_summary(session, s) | _standing(s)
                for s in session.scalars(select(Site).order_by(Site.id))
            ]
        runs = [
            {
                "id": r.id,
                "state": r.state.value,
                "finish_reason": r.finish_reason,
                "pages": r.pages,
                "started_at": r.started_at.isoformat(),
                "stats": r.stats,
            }
            for r in session.scalars(select(CrawlRun).order_by(CrawlRun.id.desc()).limit(5))
        ]
    if as_json:
        emit({"sites": sites, "runs": runs})
    else:
        _print_sites(sites)


EXIT_NON_COMPLIANT = 3
# Time to start the fetch process (Python, Scrapy, the reactor) on a busy machine.
FETCH_START_SECONDS = 60.0
_HOST_CHARS = re.compile(r"[a-z0-9_.-]+")
VERDICT_KEYS = ("verdict", "reasons", "identifiers", "message")


def _request_target(target: str) -> tuple[str, str]:
    """The URL as a browser requests it (IDNA host, UTF-8 path, an address in its usual
    spelling) and its host; anything else is bad input."""
    from crawler.urls import ip_literal, request_url

    bad = f"PATH_OR_URL: {target} is not a file or an http(s) URL"
    try:
        parts = urlsplit(target.strip())
        _ = parts.port
    except ValueError:
        fail(bad, bad_input=True)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        fail(bad, bad_input=True)
    url = request_url(target.strip())
    if url is None:
        fail(bad, bad_input=True)
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    try:
        address = ip_literal(host)
    except ValueError:
        fail(f"PATH_OR_URL: {parts.hostname} is not a valid IP address", bad_input=True)
    if address is not None:
        host = str(address)
        netloc = (f"[{host}]" if address.version == 6 else host) + (
            f":{parts.port}" if parts.port else ""
        )
        url = urlunsplit(parts._replace(netloc=netloc))
    elif not _HOST_CHARS.fullmatch(host):
        fail(f"PATH_OR_URL: {parts.hostname} is not a valid host name", bad_input=True)
    return url, host


def _fetch_and_check(url: str, hosts: frozenset[str], badge: Any) -> dict[str, Any]:
    """The page's verdict from the crawl's own downloader, in a process of its own (a Twisted
    reactor runs once per process): same settings, address policy, limits and decoding."""
    from crawler.checks.badge import fetch_failed
    from crawler.settings import MAX_REDIRECTS

    crawl = runtime().config.crawl
    # A guard, never reached when Scrapy keeps its limits: each hop of a redirect chain gets
    # its attempts, each attempt its download_timeout.
    hops = MAX_REDIRECTS + 1
    limit = crawl.download_timeout * (crawl.retries + 1) * hops + FETCH_START_SECONDS
    command = [sys.executable, "-m", "crawler.fetch", "--url", url,
               "--identifier", badge.identifier]
    if badge.certificate:
        command += ["--certificate", badge.certificate]
    for host in sorted(hosts):
        command += ["--host", host]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=limit, check=False)
    except subprocess.TimeoutExpired:
        verdict = fetch_failed(f"检查在 {limit:g} 秒内没有完成（超时）")
        return {key: verdict.to_dict()[key] for key in VERDICT_KEYS}
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        detail = (done.stderr.strip().splitlines() or [f"exit code {done.returncode}"])[-1]
        fail(f"could not fetch {url}: the fetch process failed ({detail[:300]})")
    data: dict[str, Any] = json.loads(lines[-1])
    return {key: data[key] for key in VERDICT_KEYS}


def _check_target(target: str, badge: Any, site_hosts: frozenset[str]) -> dict[str, Any]:
    """The verdict for a file or a URL; a page that cannot be fetched is not checked."""
    from crawler.checks.badge import Policy, check_page

    if "://" not in target:
        path = Path(target)
        if not path.is_file():
            fail(f"PATH_OR_URL: {target} is not a file or an http(s) URL", bad_input=True)
        policy = Policy.from_setting(runtime().config.crawl.failing_reasons)
        verdict = check_page(path.read_bytes(), badge, policy)
        return {key: verdict.to_dict()[key] for key in VERDICT_KEYS}
    url, host = _request_target(target)
    return _fetch_and_check(url, site_hosts | {host}, badge)


@click.command("check")
@click.argument("target", metavar="PATH_OR_URL")
@click.option("--site", "site_ref", required=True, help="A registered domain or an identifier.")
@click.option("--render", is_flag=True, help="Also render the URL in Chromium.")
@click.option("--json", "as_json", is_flag=True)
def check(target: str, site_ref: str, render: bool, as_json: bool) -> None:
    """Check one file or URL for a site's badge (exit 0 compliant, 3 non-compliant, 2 bad input,
    1 when the page could not be fetched).

    A URL is fetched as the crawl fetches it: the site's own hosts, the address policy of
    [crawl], the same time and size limits and decoding."""
    from crawler.checks.badge import BadgePatterns, SiteBadge
    from workflow.fields import IDENTIFIER_RE

    rt = runtime()
    patterns = BadgePatterns.from_spec(rt.config.badge.spec())
    hosts: frozenset[str] = frozenset()
    if IDENTIFIER_RE.match(site_ref.strip().upper()):
        badge = SiteBadge(site_ref, None, patterns)
    else:
        with transaction(rt.sessions) as session:
            site = find_site(session, site_ref)
            if site is None:
                fail(f"--site: no registered site has the domain {site_ref}", bad_input=True)
            badge = SiteBadge(site.identifier, site.certificate, patterns)
            hosts = frozenset(h for h in (site.domain, site.english_domain) if h)
    if render and "://" not in target:
        fail("--render: give a URL; a file has no server to load the badge from", True)
    data = _check_target(target, badge, hosts)
    if render and data["verdict"] != "not_checked":
        # A page the fetch could not (or was not allowed to) reach is not rendered either.
        data = _with_render(data, _request_target(target)[0], badge)
    if as_json:
        emit(data)
    else:
        click.echo(f"{data['verdict']}: {', '.join(data['reasons'])}")
        click.echo(data["message"])
        if "screenshot" in data.get("rendered", {}):
            click.echo(f"screenshot: {data['rendered']['screenshot']}")
    if data["verdict"] == "non_compliant":
        sys.exit(EXIT_NON_COMPLIANT)
    if data["verdict"] == "not_checked":
        sys.exit(1)


def _with_render(data: dict[str, Any], url: str, badge: Any) -> dict[str, Any]:
    """Add the rendered verdict; the page fails if either check fails."""
    import asyncio

    from crawler.render.check import render_one

    rt = runtime()
    rendered = asyncio.run(render_one(rt.config, url, badge))
    out = dict(data, rendered=rendered)
    if rendered["verdict"] == "non_compliant":
        reasons = [r for r in data["reasons"] if r != "ok"] + rendered["reasons"]
        out.update(
            verdict="non_compliant",
            reasons=reasons,
            message=(data["message"] if data["verdict"] == "non_compliant" else "")
            + rendered["message"],
        )
    return out
