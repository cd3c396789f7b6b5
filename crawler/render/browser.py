"""Rendering pages in Debian's Chromium through Playwright, on the crawl's own asyncio loop.

The browser sees what the crawler saw: it is launched with host-resolver rules built from the
crawler's DNS answers (everything else resolves to nothing), and every request to a blocked or
third-party host is aborted, so the badge script's analytics beacons never leave the machine.
Each render gets a fresh context that is closed afterwards; a render that hangs is abandoned
after the page time limit; a browser that dies is relaunched, and the renders it took with it
are "could not check (render)", never failures.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from playwright.async_api import Browser, Playwright, Route, async_playwright
from playwright.async_api import Error as PlaywrightError

from badgewatch.config import Config, RenderConfig
from crawler.checks.badge import SiteBadge
from crawler.checks.rendered import (
    Measurement,
    RenderRules,
    RenderVerdict,
    judge,
    render_failed,
)
from crawler.render.probe import MEASURE, OUTLINE
from crawler.resolver import DnspythonResolver
from crawler.urls import host_of

log = logging.getLogger(__name__)

EVIDENCE_MARGIN = 240  # CSS pixels of page above the badge kept in the screenshot
EVIDENCE_MAX_HEIGHT = 700


@dataclass(frozen=True)
class RenderOutcome:
    url: str
    verdict: RenderVerdict
    screenshot: Path | None = None
    measurement: dict[str, Any] | None = None
    crashed: bool = False


def host_resolver_rules(addresses: dict[str, str]) -> str:
    """Chromium's --host-resolver-rules: our answers, and nothing for any other name."""
    rules = [f"MAP {host} {ip}" for host, ip in sorted(addresses.items())]
    rules.append("MAP * ~NOTFOUND")
    return ", ".join(rules)


def browser_addresses(config: Config, hosts: set[str]) -> dict[str, str]:
    """The crawler's own DNS answers (same nameservers, same private-address policy) for the
    given hosts and the badge hosts; hosts that do not resolve stay unmapped (blocking)."""
    resolver = DnspythonResolver(None, config.dns, config.crawl.allow_private_networks)
    badge = config.badge
    wanted = set(hosts) | {
        host_of(url) for url in (badge.script_base, badge.image_base, badge.certificate_url)
    }
    addresses: dict[str, str] = {}
    for host in sorted(wanted):
        try:
            addresses[host] = resolver.resolve(host)
        except Exception as exc:
            log.info("browser: %s not mapped (%s)", host, exc)
    return addresses


class Renderer:
    """A Chromium shared by the renders of one crawl process."""

    def __init__(
        self,
        config: RenderConfig,
        addresses: dict[str, str],
        *,
        rules: RenderRules | None = None,
        allowed_hosts: set[str] | None = None,
        badge_hosts: set[str] | None = None,
    ) -> None:
        self.config = config
        # A request to the badge host that fails on the network is our outage, not the site's.
        self.badge_hosts = {h.lower() for h in (badge_hosts or set())}
        self.rules = rules or RenderRules()
        self.addresses = dict(addresses)
        # Hosts a page may load from: the crawl's (sites and badge host), unless configured
        # to allow third parties; blocked hosts are refused either way.
        self.allowed_hosts = set(allowed_hosts if allowed_hosts is not None else addresses)
        self.blocked_hosts = {h.lower() for h in config.blocked_hosts}
        self._playwright: Playwright | None = None
        self._browser: Browser | None = None
        self._launch_lock = asyncio.Lock()
        self._slots = asyncio.Semaphore(config.concurrency)
        self.launches = 0
        self.blocked_requests = 0

    @classmethod
    def from_config(cls, config: Config, addresses: dict[str, str]) -> Renderer:
        """The renderer of a badgewatch configuration: its rules, blocks and badge hosts."""
        return cls(
            config.render,
            addresses,
            rules=RenderRules(
                bottom_fraction=config.render.bottom_fraction,
                center_tolerance=config.render.center_tolerance,
                error_images=(config.badge.image_party_error, config.badge.image_institution_error),
            ),
            badge_hosts={host_of(config.badge.script_base), host_of(config.badge.image_base)},
        )

    # -- browser lifecycle -------------------------------------------------------------------

    async def _ensure_browser(self) -> Browser:
        async with self._launch_lock:
            if self._browser is not None and self._browser.is_connected():
                return self._browser
            if self._playwright is None:
                self._playwright = await async_playwright().start()
            rules = host_resolver_rules(self.addresses)
            args = [*self.config.args, f"--host-resolver-rules={rules}"]
            self._browser = await self._playwright.chromium.launch(
                executable_path=str(self.config.executable_path),
                args=args,
                headless=True,
                timeout=30_000,
            )
            self.launches += 1
            return self._browser

    @property
    def browser_pid(self) -> int | None:
        """The browser's process id (for tests and benchmarks that watch its memory)."""
        browser = self._browser
        if browser is None:
            return None
        process = getattr(getattr(browser, "_impl_obj", None), "_process", None)
        return getattr(process, "pid", None)

    async def close(self) -> None:
        if self._browser is not None:
            with contextlib.suppress(PlaywrightError, asyncio.TimeoutError):
                await asyncio.wait_for(self._browser.close(), 10)
            self._browser = None
        if self._playwright is not None:
            with contextlib.suppress(PlaywrightError, asyncio.TimeoutError):
                await asyncio.wait_for(self._playwright.stop(), 10)
            self._playwright = None

    async def _kill_browser(self) -> None:
        """A browser that does not answer is closed hard; the next render relaunches it."""
        browser, self._browser = self._browser, None
        if browser is not None:
            with contextlib.suppress(PlaywrightError, asyncio.TimeoutError):
                await asyncio.wait_for(browser.close(), 5)

    # -- rendering ---------------------------------------------------------------------------

    async def _route(self, route: Route) -> None:
        host = (urlsplit(route.request.url).hostname or "").lower()
        if host in self.blocked_hosts or (
            not self.config.allow_third_party and host not in self.allowed_hosts
        ):
            self.blocked_requests += 1
            await route.abort("blockedbyclient")
        else:
            await route.continue_()

    async def render(
        self, url: str, site: SiteBadge, evidence: Path | None = None, *, mobile: bool = False
    ) -> RenderOutcome:
        """Render one page and judge its badge; never raises for the page or the browser."""
        async with self._slots:
            try:
                return await asyncio.wait_for(
                    self._render(url, site, evidence, mobile),
                    timeout=self.config.page_timeout + 10,
                )
            except TimeoutError:
                await self._kill_browser()
                return RenderOutcome(url, render_failed("页面渲染超时"))
            except PlaywrightError as exc:
                crashed = self._browser is None or not self._browser.is_connected()
                first_line = str(exc).splitlines()[0][:120] if str(exc) else type(exc).__name__
                why = "浏览器意外退出" if crashed else f"浏览器错误：{first_line}"
                return RenderOutcome(url, render_failed(why), crashed=crashed)

    async def _render(
        self, url: str, site: SiteBadge, evidence: Path | None, mobile: bool
    ) -> RenderOutcome:
        browser = await self._ensure_browser()
        width, height = (
            (self.config.mobile_width, self.config.mobile_height)
            if mobile
            else (self.config.viewport_width, self.config.viewport_height)
        )
        context = await browser.new_context(
            viewport={"width": width, "height": height},
            is_mobile=mobile,
            service_workers="block",
            java_script_enabled=True,
        )
        try:
            await context.route("**/*", self._route)
            page = await context.new_page()
            badge_failures: list[str] = []
            page.on(
                "requestfailed",
                lambda request: badge_failures.append(request.url)
                if (urlsplit(request.url).hostname or "").lower() in self.badge_hosts
                else None,
            )
            timeout_ms = self.config.page_timeout * 1000
            page.set_default_timeout(timeout_ms)
            response = await page.goto(url, wait_until="load", timeout=timeout_ms)
            if response is None or response.status >= 400:
                status = response.status if response is not None else "无响应"
                return RenderOutcome(url, render_failed(f"HTTP {status}"))
            data: dict[str, Any] = await page.evaluate(MEASURE, {"spanId": site.patterns.span_id})
            if badge_failures:
                return RenderOutcome(url, render_failed("标识服务器无法访问"), measurement=data)
            measure = Measurement.from_probe(data)
            verdict = judge(measure, site, self.rules)
            shot = await self._evidence(page, data, evidence) if evidence is not None else None
            await page.close()
            return RenderOutcome(url, verdict, shot, data)
        finally:
            with contextlib.suppress(PlaywrightError):
                await context.close()

    async def _evidence(self, page: Any, data: dict[str, Any], path: Path) -> Path:
        """A PNG of the page's bottom with the badge, or the place it should be, outlined."""
        found = bool(data.get("filled"))
        box = await page.evaluate(OUTLINE, {"rect": data.get("rect"), "found": found})
        doc_height = max(float(box["docHeight"]), 1.0)
        top = max(0.0, float(box["y"]) - EVIDENCE_MARGIN)
        height = min(EVIDENCE_MAX_HEIGHT, doc_height - top)
        if height < 100:
            top = max(0.0, doc_height - EVIDENCE_MAX_HEIGHT)
            height = doc_height - top
        viewport = page.viewport_size or {"width": self.config.viewport_width}
        path.parent.mkdir(parents=True, exist_ok=True)
        await page.screenshot(
            path=str(path),
            full_page=True,
            clip={"x": 0, "y": top, "width": viewport["width"], "height": max(height, 1.0)},
        )
        return path
