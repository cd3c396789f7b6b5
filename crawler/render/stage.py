"""The rendered stage of a crawl: which pages of a site to render, rendering them, the rows.

Rendering costs about a hundred times a plain fetch, so a site gets a sample: its home page,
one page per distinct page template the crawl met, and every page whose badge the static check
saw injected by script or could not follow. The item pipeline (``crawler.pipelines``) starts
the stage when a site's static crawl ends, and finishes the site's check when it is done.
"""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from selectolax.lexbor import LexborHTMLParser

from badgewatch.config import Config
from crawler.checks.badge import PageVerdict, SiteBadge
from crawler.render.browser import Renderer, RenderOutcome
from store.records import RenderSummary

UNDECIDED_FORMS = frozenset({"injected", "scripted", "unknown"})


def template_signature(tree: LexborHTMLParser) -> str:
    """Pages built from one template share the classes and ids of their outer layout."""
    names: set[str] = set()
    for node in tree.css("body > *, body > * > *, body > * > * > *"):
        attrs = node.attributes
        names.add(node.tag or "")
        names.update((attrs.get("class") or "").split())
        if attrs.get("id"):
            names.add("#" + str(attrs["id"]))
    return hashlib.blake2b(" ".join(sorted(names)).encode(), digest_size=8).hexdigest()


@dataclass
class SiteSample:
    """The pages of one site chosen for rendering, and why."""

    limit: int
    urls: dict[str, str] = field(default_factory=dict)
    templates: set[str] = field(default_factory=set)
    undecided: int = 0

    def consider(
        self, url: str, *, home: bool, tree: LexborHTMLParser | None, verdict: PageVerdict
    ) -> None:
        if url in self.urls:
            return
        if home:
            self.urls[url] = "home"
            return
        if self.undecided < self.limit and any(b.form in UNDECIDED_FORMS for b in verdict.badges):
            self.undecided += 1
            self.urls[url] = "undecided"
            return
        if tree is not None and len(self.templates) < self.limit:
            signature = template_signature(tree)
            if signature not in self.templates:
                self.templates.add(signature)
                self.urls[url] = "template"


@dataclass(frozen=True)
class SiteRenders:
    outcomes: list[tuple[str, RenderOutcome]]  # (viewport, outcome)
    crashed: bool

    def summary(self) -> RenderSummary:
        verdicts = [o.verdict.verdict for _, o in self.outcomes]
        return {
            "rendered": len(verdicts),
            "failing": verdicts.count("non_compliant"),
            "not_checked": verdicts.count("not_checked"),
            "note": "could not check (render)" if self.crashed else None,
        }


class RenderStage:
    """One Renderer for the crawl process, and the evidence folder of this run."""

    def __init__(self, config: Config, addresses: dict[str, str], run_id: int) -> None:
        self.config = config
        self.renderer = Renderer.from_config(config, addresses)
        self.data_dir = Path(config.paths.data_dir)
        self.evidence_dir = Path("evidence") / f"run-{run_id}"

    def sample(self) -> SiteSample:
        return SiteSample(limit=self.config.render.sample_per_site)

    async def render_site(self, site_id: int, badge: SiteBadge, sample: SiteSample) -> SiteRenders:
        viewports = ["desktop", "mobile"] if self.config.render.mobile else ["desktop"]
        jobs = []
        for n, url in enumerate(sample.urls):
            for viewport in viewports:
                relative = self.evidence_dir / f"site-{site_id}" / f"{n:03d}-{viewport}.png"
                jobs.append((viewport, url, relative))

        keep_all = self.config.render.evidence == "all"

        async def one(viewport: str, url: str, relative: Path) -> tuple[str, RenderOutcome]:
            outcome = await self.renderer.render(
                url,
                badge,
                self.data_dir / relative,
                mobile=viewport == "mobile",
                keep_compliant=keep_all or sample.urls[url] == "home",
            )
            return viewport, outcome

        outcomes = list(await asyncio.gather(*(one(*job) for job in jobs)))
        return SiteRenders(outcomes, crashed=any(o.crashed for _, o in outcomes))

    def rows(self, check_id: int, renders: SiteRenders) -> list[dict[str, Any]]:
        now = datetime.now(UTC)
        return [
            {
                "check_id": check_id,
                "url": outcome.url,
                "viewport": viewport,
                "verdict": outcome.verdict.verdict,
                "reasons": list(outcome.verdict.reasons),
                "message": outcome.verdict.message,
                "screenshot": str(outcome.screenshot.relative_to(self.data_dir))
                if outcome.screenshot is not None
                else None,
                "measurement": outcome.measurement,
                "rendered_at": now,
            }
            for viewport, outcome in renders.outcomes
        ]

    async def close(self) -> None:
        await self.renderer.close()
