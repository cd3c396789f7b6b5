"""Where the nightly reports live and how a digest links to an office's page."""

from __future__ import annotations

from pathlib import Path

from badgewatch.config import Config

LATEST = "latest"


def reports_root(config: Config) -> Path:
    return Path(config.reports.dir or Path(config.paths.data_dir) / "reports")


def office_report_url(config: Config, code: str) -> str | None:
    """The office's page in the latest nightly report, by its day (a digest keeps pointing at
    the report it announced): under ``[reports] base_url`` when the reports are served, else a
    file:// URL; None while no report has that office."""
    latest = reports_root(config) / LATEST
    page = latest / f"office-{code}.html"
    if not page.exists():
        return None
    day = latest.resolve().name
    if config.reports.base_url:
        return f"{config.reports.base_url.rstrip('/')}/{day}/office-{code}.html"
    return (latest.resolve() / page.name).as_uri()
