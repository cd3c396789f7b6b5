"""One URL rendered on demand (``badgewatch check URL --render``), outside any crawl."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from badgewatch.config import Config
from crawler.checks.badge import SiteBadge
from crawler.render.browser import Renderer, browser_addresses
from crawler.urls import host_of


async def render_one(config: Config, url: str, badge: SiteBadge) -> dict[str, Any]:
    """Render ``url`` with the crawler's DNS answers; the screenshot goes to the data dir."""
    renderer = Renderer.from_config(config, browser_addresses(config, {host_of(url)}))
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    evidence = Path(config.paths.data_dir) / "evidence" / "checks" / f"{stamp}.png"
    try:
        outcome = await renderer.render(url, badge, evidence)
    finally:
        await renderer.close()
    out = outcome.verdict.to_dict()
    if outcome.screenshot is not None:
        out["screenshot"] = str(outcome.screenshot)
    return out
