"""The shapes of the JSON a site check stores and of the page rows read back, defined once.

The crawl writes them (``crawler/results.py``); the CLI, the monitor and the reports read
them. Reasons and renders are read through ``reasons_of`` and ``renders_of``, which accept every
row ever written (a check that never closed, or rendered nothing, stores ``{}``), so no
reader checks shapes on its own. Standard library only.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import NotRequired, TypedDict


class Unwritten(TypedDict):
    """``{}``: what a check stores before it closes, and when nothing was rendered."""


class DnsRecord(TypedDict):
    """What the DNS said about a site when its check began (``site_checks.dns``); every
    check has one, so it is read as stored."""

    outcome: str  # ok | unresolvable | mismatch
    reason: str
    ipv4: list[str]
    ipv6: list[str]
    message: str
    ipv6_error: NotRequired[str | None]  # not in rows written before it was recorded


class CheckReasons(TypedDict):
    """Reason codes with their page counts, and why pages were refused (``site_checks.reasons``)."""

    pages: dict[str, int]
    refused: dict[str, int]


class RenderSummary(TypedDict):
    """The rendered sample of a check (``site_checks.renders``); all zero when none was."""

    rendered: int
    failing: int
    not_checked: int
    note: str | None  # "could not check (render)" when the browser failed


class PageRow(TypedDict):
    """One checked page as the CLI's ``--json`` shows it."""

    url: str
    verdict: str
    reasons: list[str]
    http_status: int | None
    error: str | None


class RenderRow(TypedDict):
    """One rendered page as the CLI's ``--json`` shows it."""

    url: str
    viewport: str
    verdict: str
    reasons: list[str]
    message: str
    screenshot: str | None


def _counts(raw: object) -> dict[str, int]:
    if not isinstance(raw, Mapping):
        return {}
    return {str(code): int(n) for code, n in raw.items()}


def reasons_of(raw: object) -> CheckReasons:
    """A check's reasons as stored, or none for a check that never closed."""
    if not isinstance(raw, Mapping):
        return CheckReasons(pages={}, refused={})
    return CheckReasons(pages=_counts(raw.get("pages")), refused=_counts(raw.get("refused")))


def renders_of(raw: object) -> RenderSummary:
    """A check's rendered sample as stored, all zero when nothing was rendered."""
    found = raw if isinstance(raw, Mapping) else {}
    note = found.get("note")
    return RenderSummary(
        rendered=int(found.get("rendered") or 0),
        failing=int(found.get("failing") or 0),
        not_checked=int(found.get("not_checked") or 0),
        note=str(note) if note else None,
    )
