"""Rendering pages in Debian's Chromium through Playwright, on the crawl's own asyncio loop.

The browser sees what the crawler saw: it is launched with host-resolver rules built from the
crawler's DNS answers (everything else resolves to nothing), and every request to a blocked or
third-party host is aborted, so the badge script's analytics beacons never leave the machine.
Each of ``[render] concurrency`` lanes renders in one long-lived page whose context (and so
its renderer process) is replaced every ``pages_per_context`` renders; a render that hangs is
abandoned after the page time limit; a browser that dies is relaunched, and the renders it took
with it are "could not check (render)", never failures.

What became of the badge's own requests is recorded per render (failures and HTTP errors here,
the page's policy violations and badge scripts by an init script), so that a badge the page
blocked is told apart from a badge host we could not reach (``crawler/checks/rendered.py``).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
from collections.abc import Collection
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from playwright.async_api import (
    Browser,
    BrowserContext,
    CDPSession,
    Page,
    Playwright,
    Request,
    Route,
    async_playwright,
)
from playwright.async_api import Error as PlaywrightError
from playwright.async_api import TimeoutError as PlaywrightTimeoutError

from badgewatch.config import Config, RenderConfig
from crawler.checks.badge import SiteBadge
from crawler.checks.rendered import (
    BadgeLoads,
    FailedLoad,
    Measurement,
    RenderRules,
    RenderVerdict,
    blocked_by,
    judge,
    render_failed,
)
from crawler.render.probe import LOADS, MEASURE, OUTLINE, PENDING
from crawler.resolver import DnspythonResolver
from crawler.urls import host_of

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RenderOutcome:
    url: str
    verdict: RenderVerdict
    screenshot: Path | None = None
    measurement: dict[str, Any] | None = None
    crashed: bool = False


@dataclass
class _Slot:
    """One of ``concurrency`` render lanes: a long-lived page in a recycled context."""

    badge_hosts: set[str]
    context: BrowserContext | None = None
    browser: Browser | None = None
    page: Page | None = None
    cdp: CDPSession | None = None  # the page's DevTools session, for the evidence capture
    mobile: bool = False
    uses: int = 0
    # The current render's requests to the badge hosts that failed.
    failed: list[Request] = field(default_factory=list)

    def request_failed(self, request: Request) -> None:
        if (urlsplit(request.url).hostname or "").lower() in self.badge_hosts:
            self.failed.append(request)

    async def loads(self, probe: dict[str, Any], pending: list[str] | None = None) -> BadgeLoads:
        """The badge's loads as the probe and the network saw them. A failed request's answer,
        if it got one (a 5xx whose body Chromium then abandoned), is asked for here, only
        when a request failed: listening to every response of every page costs more."""
        failed = [
            FailedLoad(r.url, r.resource_type, r.failure or "unknown") for r in self.failed[:10]
        ]
        http_errors = []
        for request in self.failed[:10]:
            with contextlib.suppress(PlaywrightError):
                answer = await request.response()
                if answer is not None and answer.status >= 400:
                    http_errors.append((request.url, answer.status))
        return BadgeLoads.from_probe(
            probe, failed=failed, http_errors=http_errors, pending=pending or ()
        )

    async def discard(self) -> None:
        context, self.context, self.page, self.cdp = self.context, None, None, None
        if context is not None:
            with contextlib.suppress(PlaywrightError, asyncio.TimeoutError):
                await asyncio.wait_for(context.close(), 10)


def host_resolver_rules(
    addresses: dict[str, str], *, blocked: Collection[str] = (), others: bool = False
) -> str:
    """Chromium's --host-resolver-rules: our answers for our hosts; blocked hosts resolve to
    nothing, and so does every other name unless third parties are allowed. Blocking by name
    costs nothing per request, where an interception handler costs a round trip each."""
    rules = [f"MAP {host} {ip}" for host, ip in sorted(addresses.items()) if host not in blocked]
    rules.extend(f"MAP {host} ~NOTFOUND" for host in sorted(blocked))
    if not others:
        rules.append("MAP * ~NOTFOUND")
    return ", ".join(rules)


def browser_addresses(config: Config, hosts: set[str]) -> dict[str, str]:
    """The crawler's own DNS answers (same nameservers, same private-address policy) for the
    given hosts and the badge hosts; hosts that do not resolve stay unmapped (blocking)."""
    resolver = DnspythonResolver.for_config(config)
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
        badge_hosts: set[str] | None = None,
    ) -> None:
        self.config = config
        # A request to the badge host that fails on the network is our outage, not the site's.
        self.badge_hosts = {h.lower() for h in (badge_hosts or set())}
        self.rules = rules or RenderRules()
        self.addresses = dict(addresses)
        self.blocked_hosts = {h.lower() for h in config.blocked_hosts}
        self._playwright: Playwright | None = None
        self._browser: Browser | None = None
        self._launch_lock = asyncio.Lock()
        self._free: asyncio.Queue[_Slot] = asyncio.Queue()
        for _ in range(config.concurrency):
            self._free.put_nowait(_Slot(self.badge_hosts))
        self.launches = 0
        self.blocked_requests = 0
        self.contexts_opened = 0

    @classmethod
    def from_config(cls, config: Config, addresses: dict[str, str]) -> Renderer:
        """The renderer of a badgewatch configuration: its rules, blocks and badge hosts."""
        return cls(
            config.render,
            addresses,
            rules=RenderRules(
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
            rules = host_resolver_rules(
                self.addresses,
                blocked=self.blocked_hosts,
                others=self.config.allow_third_party,
            )
            args = [*self.config.args, f"--host-resolver-rules={rules}"]
            self._browser = await self._playwright.chromium.launch(
                executable_path=str(self.config.executable_path),
                args=args,
                headless=True,
                timeout=30_000,
            )
            self.launches += 1
            return self._browser

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
        if host in self.blocked_hosts:
            self.blocked_requests += 1
            await route.abort("blockedbyclient")
        else:
            await route.continue_()

    async def render(
        self,
        url: str,
        site: SiteBadge,
        evidence: Path | None = None,
        *,
        mobile: bool = False,
        keep_compliant: bool = True,
    ) -> RenderOutcome:
        """Render one page and judge its badge; never raises for the page or the browser.

        With ``evidence``, the screenshot is written there, for a compliant page only when
        ``keep_compliant`` (the capture is the largest part of a render's cost)."""
        slot = await self._free.get()
        try:
            return await asyncio.wait_for(
                self._render(slot, url, site, evidence, mobile, keep_compliant),
                # Beyond the page's own limit: a new context, the probe, the evidence, and a
                # look at what a page that ran out of time was still waiting for.
                timeout=self.config.page_timeout + 20,
            )
        except TimeoutError:
            await self._kill_browser()
            return RenderOutcome(url, render_failed("页面渲染超时"))
        except PlaywrightError as exc:
            await slot.discard()
            crashed = self._browser is None or not self._browser.is_connected()
            first_line = str(exc).splitlines()[0][:120] if str(exc) else type(exc).__name__
            why = "浏览器意外退出" if crashed else f"浏览器错误：{first_line}"
            return RenderOutcome(url, render_failed(why), crashed=crashed)
        finally:
            self._free.put_nowait(slot)

    async def _page(self, slot: _Slot, mobile: bool) -> Page:
        """The slot's page, in a context recycled every ``pages_per_context`` renders (and after
        a crash), so no page state or memory outlives a few renders."""
        browser = await self._ensure_browser()
        if (
            slot.page is None
            or slot.page.is_closed()
            or slot.browser is not browser
            or slot.mobile != mobile
            or slot.uses >= self.config.pages_per_context
        ):
            await slot.discard()
            width, height = (
                (self.config.mobile_width, self.config.mobile_height)
                if mobile
                else (self.config.viewport_width, self.config.viewport_height)
            )
            context = await browser.new_context(
                viewport={"width": width, "height": height},
                is_mobile=mobile,
                service_workers="block",
            )
            await context.add_init_script(LOADS)
            if self.config.allow_third_party:
                # Third-party names resolve, so the blocked ones are refused request by request.
                await context.route("**/*", self._route)
            self.contexts_opened += 1
            slot.context, slot.browser, slot.mobile, slot.uses = context, browser, mobile, 0
            slot.page = await context.new_page()
            slot.cdp = await context.new_cdp_session(slot.page)
            slot.page.set_default_timeout(self.config.page_timeout * 1000)
            slot.page.on("requestfailed", slot.request_failed)
        slot.uses += 1
        return slot.page

    async def _render(
        self,
        slot: _Slot,
        url: str,
        site: SiteBadge,
        evidence: Path | None,
        mobile: bool,
        keep_compliant: bool,
    ) -> RenderOutcome:
        page = await self._page(slot, mobile)
        slot.failed.clear()
        try:
            response = await page.goto(url, wait_until="load")
        except PlaywrightTimeoutError:
            return RenderOutcome(url, await self._timed_out(slot))
        if response is None or response.status >= 400:
            status = response.status if response is not None else "无响应"
            return RenderOutcome(url, render_failed(f"HTTP {status}"))
        hosts = sorted(self.badge_hosts)
        data: dict[str, Any] = await page.evaluate(
            MEASURE, {"spanId": site.patterns.span_id, "badgeHosts": hosts}
        )
        loads = await slot.loads(data)
        if loads.failed:
            data["failedLoads"] = [asdict(f) for f in loads.failed]  # kept with the render
        verdict = judge(Measurement.from_probe(data), site, self.rules, loads)
        shot = None
        if evidence is not None and (keep_compliant or verdict.verdict != "compliant"):
            shot = await self._evidence(slot, data, evidence)
        return RenderOutcome(url, verdict, shot, data)

    async def _timed_out(self, slot: _Slot) -> RenderVerdict:
        """A page that did not load in time: the badge host's silence (or failure) if one of its
        scripts or images is still waiting, else the page's own. Either way not checked; the
        lane's context is replaced, since the page may still be loading."""
        assert slot.page is not None  # set by _page()
        pending: list[str] = []
        with contextlib.suppress(PlaywrightError, asyncio.TimeoutError):
            pending = await asyncio.wait_for(
                slot.page.evaluate(PENDING, sorted(self.badge_hosts)), 5
            )
        blocked = blocked_by(await slot.loads({}, pending))
        await slot.discard()
        if blocked is not None and not blocked.by_page:
            return render_failed(blocked.why)
        return render_failed(f"页面在 {self.config.page_timeout:g} 秒内没有加载完成")

    async def _evidence(self, slot: _Slot, data: dict[str, Any], path: Path) -> Path:
        """A PNG of the window scrolled to the badge (or to where it should be: the page's
        bottom), with it outlined. The window, not the full page: capturing a long page whole
        costs more than the rest of the render.

        Captured through DevTools with ``optimizeForSpeed``: Chromium then compresses the PNG
        less, about a fifth more bytes for a third less browser CPU a capture, which
        Playwright's ``page.screenshot`` cannot ask for (bench/README.md)."""
        assert slot.page is not None and slot.cdp is not None  # set by _page()
        found = bool(data.get("filled"))
        await slot.page.evaluate(OUTLINE, {"rect": data.get("rect"), "found": found})
        shot = await slot.cdp.send(
            "Page.captureScreenshot", {"format": "png", "optimizeForSpeed": True}
        )
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(shot["data"]))
        return path
