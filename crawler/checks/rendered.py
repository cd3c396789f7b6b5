"""What a rendered page says about its badge: filled, loaded, linked, visible, bottom centre.

A pure function over the measurements the browser probe takes (``crawler/render/probe.py``),
so every rule is tested on plain data; the browser only measures.

Two decisions worth knowing:

* "At the bottom" is what a reader sees at the end of the page: the badge is within the last
  screen (one window height) of the document, and nothing but footer-like content is drawn
  below it (a few lines of text, links and icons; no heading, large image or article). It is
  not a fraction of the document's height, which fails the badge that ends a one-screen page.
  A fixed or sticky badge is measured where it is drawn at the end of the page, and must sit
  in the lower half of the window.
* A badge that did not show is the page's doing when the page stopped it: its
  Content-Security-Policy, an HTTPS page loading it over HTTP, a badge script made a module,
  ``nomodule``, or given ``integrity`` or ``crossorigin``. That is a failure, and the message
  says what blocked it. When the badge host could not be reached (refused, unresolvable, a 5xx
  answer, no answer in time) it is our failure to check: ``not_checked``, never a failure.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlsplit

from badgewatch.vocabulary import reason_detail
from crawler.checks.badge import SiteBadge

RenderVerdictKind = Literal["compliant", "non_compliant", "not_checked"]

_NOT_SHOWN = "页面在浏览器中打开后，网站标识没有显示出来："


@dataclass(frozen=True)
class RenderRules:
    """The thresholds of the rendered rules. What may follow a badge at the bottom (outside a
    footer: an element named footer, foot, bottom, copyright…) is a footer's worth: lines of
    text, links and icons, all within ``footer_extent`` pixels below it."""

    center_tolerance: float = 0.15
    error_images: tuple[str, ...] = ("red_error.png", "blue_error.png")
    footer_text: int = 400  # characters of text
    footer_links: int = 40
    footer_controls: int = 6  # the link menus (select) and a search box some footers carry
    footer_extent: float = 400.0  # CSS pixels from the badge's bottom to the last such content


@dataclass(frozen=True)
class Rect:
    x: float
    y: float
    width: float
    height: float

    @property
    def center_x(self) -> float:
        return self.x + self.width / 2


@dataclass(frozen=True)
class Following:
    """The visible content drawn below the badge at the end of the page, outside any footer.

    ``extent`` is how far below the badge's bottom the lowest of it ends; ``capped`` says the
    probe stopped counting at its limits (far more than any footer holds)."""

    text: int = 0  # characters
    links: int = 0
    headings: int = 0
    media: int = 0  # images larger than an icon, video, iframes, canvases
    controls: int = 0  # form fields and buttons
    extent: float = 0.0
    capped: bool = False

    @classmethod
    def from_probe(cls, data: Mapping[str, Any]) -> Following:
        return cls(
            text=int(data.get("text") or 0),
            links=int(data.get("links") or 0),
            headings=int(data.get("headings") or 0),
            media=int(data.get("media") or 0),
            controls=int(data.get("controls") or 0),
            extent=float(data.get("extent") or 0),
            capped=bool(data.get("capped")),
        )

    def footer_like(self, rules: RenderRules) -> bool:
        return (
            not self.capped
            and self.headings == 0
            and self.media == 0
            and self.text <= rules.footer_text
            and self.links <= rules.footer_links
            and self.controls <= rules.footer_controls
            and self.extent <= rules.footer_extent
        )


@dataclass(frozen=True)
class Measurement:
    """What the probe saw in the page; ``rect`` is in document coordinates (CSS pixels), taken
    with the window scrolled to the end of the page, so a fixed or sticky footer is where a
    reader finds it there. ``view_top`` is the badge's top in that window."""

    found: bool
    filled: bool = False
    href: str | None = None
    image_src: str | None = None
    image_width: int = 0
    rect: Rect | None = None
    hidden: str | None = None  # why it cannot be seen, or None
    doc_width: float = 0
    doc_height: float = 0
    view_height: float = 0  # the window's height; 0 when unknown (judged as one document)
    fixed: bool = False  # stays put in the window when the page scrolls (fixed, stuck sticky)
    view_top: float = 0
    following: Following | None = None  # not measured: hidden, or above the last screen

    @classmethod
    def from_probe(cls, data: dict[str, Any]) -> Measurement:
        rect = data.get("rect")
        image = data.get("img") or {}
        after = data.get("after")
        return cls(
            found=bool(data.get("found")),
            filled=bool(data.get("filled")),
            href=data.get("href"),
            image_src=image.get("src"),
            image_width=int(image.get("naturalWidth") or 0),
            rect=Rect(**{k: float(rect[k]) for k in ("x", "y", "width", "height")})
            if rect
            else None,
            hidden=data.get("hidden"),
            doc_width=float(data.get("docWidth") or 0),
            doc_height=float(data.get("docHeight") or 0),
            view_height=float(data.get("viewHeight") or 0),
            fixed=bool(data.get("fixed")),
            view_top=float(data.get("viewTop") or 0),
            following=Following.from_probe(after) if isinstance(after, Mapping) else None,
        )

    def at_bottom(self, rules: RenderRules) -> bool:
        """In the last screen of the document with only a footer's worth below it; a badge
        that stays put in the window must also be in the window's lower half."""
        rect = self.rect
        if rect is None:
            return False
        window = self.view_height or self.doc_height
        if self.fixed and self.view_top < window / 2:
            return False
        if rect.y < self.doc_height - window:
            return False
        return self.following is None or self.following.footer_like(rules)


# --- why the badge did not load ---------------------------------------------------------------



def _page_policy(failure: str) -> bool:
    """Chromium refused the request for a policy of the page: the blocked reasons (DevTools'
    Network.BlockedReason, Playwright's failure text) of its CSP, mixed content, integrity and
    its cross-origin embedder or isolation policy. A plain corp-not-same-origin/-site is the
    badge host's own Cross-Origin-Resource-Policy header: the host's doing, not the page's."""
    return (
        failure in ("csp", "mixed-content", "integrity")
        or failure.startswith(("sri-", "coep-"))
        or "-by-coep" in failure
        or "-by-dip" in failure
    )


@dataclass(frozen=True)
class FailedLoad:
    """A request to the badge host the browser reported failed, and how."""

    url: str
    resource: str  # Playwright's resource type: "script", "image", …
    failure: str  # net::ERR_… from the network, or Chromium's blocked reason ("csp", …)


@dataclass(frozen=True)
class BadgeScript:
    """A ``<script>`` in the document that loads from the badge host, as the page wrote it."""

    src: str
    module: bool = False
    nomodule: bool = False
    integrity: bool = False
    crossorigin: bool = False
    errored: bool = False  # its error event fired: it did not run


@dataclass(frozen=True)
class Violation:
    """An enforced Content-Security-Policy violation on the badge host, an inline script, or
    the Trusted Types sink that the badge code's ``document.write`` is."""

    blocked: str  # the URL, "inline" or "trusted-types-sink"
    directive: str  # the effective directive: script-src-elem, img-src, …
    in_meta: bool = False  # the policy came from the page's <meta http-equiv>, not a header


@dataclass(frozen=True)
class BadgeLoads:
    """What became of the page's requests for the badge: failures, HTTP errors, requests still
    waiting when the page ran out of time, the badge scripts and the policy violations."""

    failed: tuple[FailedLoad, ...] = ()
    http_errors: tuple[tuple[str, int], ...] = ()  # (url, status) of answers >= 400
    pending: tuple[str, ...] = ()
    scripts: tuple[BadgeScript, ...] = ()
    violations: tuple[Violation, ...] = ()

    @classmethod
    def from_probe(
        cls,
        data: Mapping[str, Any],
        *,
        failed: Iterable[FailedLoad] = (),
        http_errors: Iterable[tuple[str, int]] = (),
        pending: Iterable[str] = (),
    ) -> BadgeLoads:
        """The probe's ``scripts`` and ``violations`` with what the browser's network said."""
        return cls(
            failed=tuple(failed),
            http_errors=tuple(http_errors),
            pending=tuple(pending),
            scripts=tuple(
                BadgeScript(
                    src=str(s.get("src") or ""),
                    module=bool(s.get("module")),
                    nomodule=bool(s.get("nomodule")),
                    integrity=bool(s.get("integrity")),
                    crossorigin=bool(s.get("crossorigin")),
                    errored=bool(s.get("errored")),
                )
                for s in data.get("scripts") or ()
            ),
            violations=tuple(
                Violation(
                    blocked=str(v.get("blocked") or ""),
                    directive=str(v.get("directive") or ""),
                    in_meta=bool(v.get("inMeta")),
                )
                for v in data.get("violations") or ()
            ),
        )


@dataclass(frozen=True)
class Blocked:
    """Why the badge did not load: the page's doing (a failure) or ours (not checked)."""

    by_page: bool
    why: str


def _host(url: str) -> str:
    return urlsplit(url).hostname or url


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else url


def _kind(resource: str, url: str = "") -> str:
    """What the badge resource is (from a resource type or a CSP directive), in words."""
    if resource.startswith("script") or (not resource and urlsplit(url).path.endswith(".js")):
        return "标识脚本"
    if resource.startswith(("img", "image")):
        return "标识图片"
    return "标识资源"


def _policy_source(in_meta: bool) -> str:
    if in_meta:
        return '写在页面的 <meta http-equiv="Content-Security-Policy"> 中'
    return "由 HTTP 响应头 Content-Security-Policy 发送"


def _by_page_policy(loads: BadgeLoads) -> Blocked | None:
    """The page's Content-Security-Policy, mixed content, integrity or isolation policy."""
    resources = {f.url: f.resource for f in loads.failed}
    for v in loads.violations:
        if v.blocked == "trusted-types-sink":
            return Blocked(True, (
                f"页面的内容安全策略（Content-Security-Policy，{_policy_source(v.in_meta)}）"
                f"要求 Trusted Types（{v.directive} 指令），"
                "标识代码用 document.write 写入标识，被浏览器阻止了。"
                "请为标识代码设置 Trusted Types 策略，或删除这条指令。"
            ))
        if v.blocked == "inline":
            continue
        directive = v.directive.removesuffix("-elem")
        kind = _kind(directive if directive != "default-src" else resources.get(v.blocked, ""),
                     v.blocked)
        return Blocked(True, (
            f"页面的内容安全策略（Content-Security-Policy，{_policy_source(v.in_meta)}）"
            f"阻止了{kind}（{_host(v.blocked)}，{v.directive} 指令）。"
            f"请在该策略中允许 {_origin(v.blocked)}，或删除这条策略。"
        ))
    for f in loads.failed:
        kind = _kind(f.resource, f.url)
        if f.failure == "csp":
            return Blocked(True, (
                f"页面的内容安全策略（Content-Security-Policy）阻止了{kind}（{_host(f.url)}）。"
                f"请在该策略中允许 {_origin(f.url)}，或删除这条策略。"
            ))
        if f.failure == "mixed-content":
            return Blocked(True, (
                f"页面通过 HTTPS 打开，{kind}却用 HTTP 地址加载（{f.url}），"
                "浏览器把它作为混合内容（mixed content）阻止了。"
                "请使用 https:// 开头的标识代码地址。"
            ))
        if _page_policy(f.failure):
            return Blocked(True, (
                f"页面的安全策略（{f.failure}）阻止了{kind}（{_host(f.url)}）。"
                "请检查页面的 Content-Security-Policy、Cross-Origin-Embedder-Policy 等设置。"
            ))
    if not loads.scripts:
        for v in loads.violations:
            if v.blocked == "inline" and v.directive.startswith("script-src"):
                return Blocked(True, (
                    f"页面的内容安全策略（Content-Security-Policy，{_policy_source(v.in_meta)}）"
                    f"禁止运行页面中的内联脚本（{v.directive} 指令），"
                    "用 document.write 写入标识的标识代码因此没有运行。"
                    "请在该策略中允许这段代码（nonce 或哈希），或删除这条策略。"
                ))
    return None


def _by_page_markup(loads: BadgeLoads) -> Blocked | None:
    """A badge script element the page changed so that the browser does not run it. A script
    whose request failed on the network is left to the outage rule: we cannot know."""
    refused = {f.url for f in loads.failed if f.failure == "net::ERR_FAILED"}  # CORS among others
    network = {f.url for f in loads.failed if f.failure.startswith("net::")} - refused
    for s in loads.scripts:
        if s.nomodule:
            return Blocked(
                True, "标识脚本带有 nomodule 属性，现代浏览器不会加载它。请删除 nomodule 属性。"
            )
        if s.src in network:
            continue
        did_not_run = s.errored or s.src in refused
        if s.module:
            return Blocked(True, (
                '标识脚本被写成了 type="module"（模块脚本）：浏览器按跨域（CORS）方式请求它，'
                "模块脚本也不能用 document.write 写入标识，标识因此没有显示。请按原样使用标识代码。"
            ))
        if s.integrity and did_not_run:
            return Blocked(True, (
                "标识脚本带有 integrity（子资源完整性）属性，浏览器校验没有通过，没有运行它。"
                "标识脚本由标识服务器维护、内容会更新，请删除 integrity 属性。"
            ))
        if s.crossorigin and did_not_run:
            return Blocked(True, (
                "标识脚本带有 crossorigin 属性，浏览器改用跨域（CORS）方式请求，"
                "标识服务器没有允许，脚本没有运行。请删除 crossorigin 属性。"
            ))
    return None


def _by_answer(loads: BadgeLoads) -> Blocked | None:
    """An error answer from the badge host is the host's failure, so ours: even "not found",
    since whether the page carries this site's own code is the static check's to say."""
    if not loads.http_errors:
        return None
    url, status = loads.http_errors[0]
    return Blocked(False, f"标识服务器出错：{_host(url)} 回答 HTTP {status}")


def _by_network(loads: BadgeLoads) -> Blocked | None:
    """The badge host could not be reached, or did not answer in time. A request that got an
    error answer is left to ``_by_answer``: Chromium then abandons its body (net::ERR_ABORTED).
    An answer that is neither script nor image (an HTML error page) is refused by Chromium's
    opaque-response blocking, which comes without its status: ours too."""
    answered = {url for url, _ in loads.http_errors}
    for f in loads.failed:
        if f.url in answered:
            continue
        if f.failure == "net::ERR_BLOCKED_BY_ORB":
            return Blocked(False, (
                f"标识服务器的回答不是脚本或图片（可能是错误页面）：{_host(f.url)} {f.failure}"
            ))
        return Blocked(False, f"标识服务器无法访问：{_host(f.url)} {f.failure}")
    if not loads.pending:
        return None
    url = loads.pending[0]
    return Blocked(False, f"标识服务器没有响应：{_host(url)} 在页面时限内没有返回{_kind('', url)}")


def blocked_by(loads: BadgeLoads) -> Blocked | None:
    """Why the badge did not load, if the page or the network says: the page's policies
    first (they stop a request before it is made), then its badge script's markup, then the
    badge host's answers, then our outages. None when nothing stopped a badge request."""
    return (
        _by_page_policy(loads)
        or _by_page_markup(loads)
        or _by_answer(loads)
        or _by_network(loads)
    )


@dataclass(frozen=True)
class RenderVerdict:
    verdict: RenderVerdictKind
    reasons: tuple[str, ...]
    message: str

    def to_dict(self) -> dict[str, object]:
        return {"verdict": self.verdict, "reasons": list(self.reasons), "message": self.message}


def render_failed(why: str) -> RenderVerdict:
    """The page could not be rendered: not checked, never a failure of the site."""
    return RenderVerdict(
        "not_checked",
        ("render_error",),
        f"页面未能在浏览器中完成检查（{why}），本次没有进行显示检查；这不会使网站被判为不合规。",
    )


def _link_is_site_certificate(href: str, site: SiteBadge) -> bool:
    match = site.patterns.certificate_url.search(href)
    if match is None:
        return False
    return site.certificate is None or match.group(1).upper() == site.certificate


def judge(
    measure: Measurement,
    site: SiteBadge,
    rules: RenderRules,
    loads: BadgeLoads | None = None,
) -> RenderVerdict:
    """The rendered verdict; the first reason decides, later ones add what else is wrong.

    A badge that did not show (not rendered, no image) is explained by ``loads``: blocked by
    the page, a failure saying what blocked it; the badge host out of reach, not checked."""
    reasons = _reasons(measure, site, rules)
    if not reasons:
        return RenderVerdict(
            "compliant",
            ("ok",),
            "页面在浏览器中显示了本网站的网站标识，图片正常，链接正确，位于页面底部中间且清晰可见。",
        )
    not_shown = reasons[0] == "badge_not_rendered" or (
        reasons[0] == "badge_image_error" and measure.image_width <= 0
    )
    if loads is not None and not_shown:
        blocked = blocked_by(loads)
        if blocked is not None and not blocked.by_page:
            return render_failed(blocked.why)
        if blocked is not None:
            return RenderVerdict("non_compliant", ("badge_not_rendered",), _NOT_SHOWN + blocked.why)
    message = "".join(reason_detail(r) for r in reasons)
    if measure.hidden and "badge_hidden" in reasons:
        message += f"（原因：{measure.hidden}）"
    return RenderVerdict("non_compliant", tuple(reasons), message)


def _reasons(measure: Measurement, site: SiteBadge, rules: RenderRules) -> list[str]:
    if not measure.found or not measure.filled:
        reasons = ["badge_not_rendered"]
    else:
        reasons = []
        src = measure.image_src or ""
        if measure.image_width <= 0 or src.rsplit("/", 1)[-1].split("?")[0] in rules.error_images:
            reasons.append("badge_image_error")
        if not measure.href or not _link_is_site_certificate(measure.href, site):
            reasons.append("badge_link_wrong")
        rect = measure.rect
        if measure.hidden or rect is None or rect.width <= 0 or rect.height <= 0:
            reasons.append("badge_hidden")
        elif measure.doc_height > 0 and measure.doc_width > 0:
            if not measure.at_bottom(rules):
                reasons.append("badge_not_bottom")
            offset = abs(rect.center_x - measure.doc_width / 2)
            if offset > rules.center_tolerance * measure.doc_width:
                reasons.append("badge_not_centered")
    return reasons
