"""What a rendered page says about its badge: filled, loaded, linked, visible, bottom centre.

A pure function over the measurements the browser probe takes (``crawler/render/probe.py``),
so every rule is tested on plain data; the browser only measures.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from crawler.checks.badge import SiteBadge

RENDER_REASONS = (
    "badge_not_rendered",
    "badge_image_error",
    "badge_link_wrong",
    "badge_hidden",
    "badge_not_bottom",
    "badge_not_centered",
)

RenderVerdictKind = Literal["compliant", "non_compliant", "not_checked"]

_MESSAGES = {
    "badge_not_rendered": (
        "页面在浏览器中打开后，网站标识没有显示出来：标识代码没有运行或没有生成标识。"
        "请确认标识代码完整地粘贴在页面 </body> 之前，不要放在注释中，也不要在页面加载后再插入。"
    ),
    "badge_image_error": (
        "网站标识的图片没有正常显示（图片加载失败或显示为错误标识）。"
        "请检查网站能否访问标识服务器，并确认网站登记信息有效。"
    ),
    "badge_link_wrong": (
        "网站标识的链接没有指向本网站的标识证书页面。请使用为本网站发放的标识代码，不要复制其他网站的代码。"
    ),
    "badge_hidden": (
        "网站标识在页面上不可见（被隐藏、透明、尺寸为零、被裁剪、移出页面或被其他内容遮挡）。"
        "请调整页面样式，使标识清晰可见。"
    ),
    "badge_not_bottom": "网站标识没有位于页面底部。请将标识放在页面底部的页脚区域。",
    "badge_not_centered": "网站标识没有位于页面底部中间。请将标识居中显示在页面底部。",
}


@dataclass(frozen=True)
class RenderRules:
    bottom_fraction: float = 0.25
    center_tolerance: float = 0.15
    error_images: tuple[str, ...] = ("red_error.png", "blue_error.png")


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
class Measurement:
    """What the probe saw in the page; ``rect`` is in document coordinates (CSS pixels)."""

    found: bool
    filled: bool = False
    href: str | None = None
    image_src: str | None = None
    image_width: int = 0
    rect: Rect | None = None
    hidden: str | None = None  # why it cannot be seen, or None
    doc_width: float = 0
    doc_height: float = 0

    @classmethod
    def from_probe(cls, data: dict[str, Any]) -> Measurement:
        rect = data.get("rect")
        image = data.get("img") or {}
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


def judge(measure: Measurement, site: SiteBadge, rules: RenderRules) -> RenderVerdict:
    """The rendered verdict; the first reason decides, later ones add what else is wrong."""
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
            if rect.y < measure.doc_height * (1 - rules.bottom_fraction):
                reasons.append("badge_not_bottom")
            offset = abs(rect.center_x - measure.doc_width / 2)
            if offset > rules.center_tolerance * measure.doc_width:
                reasons.append("badge_not_centered")
    if not reasons:
        return RenderVerdict(
            "compliant",
            ("ok",),
            "页面在浏览器中显示了本网站的网站标识，图片正常，链接正确，位于页面底部中间且清晰可见。",
        )
    message = "".join(_MESSAGES[r] for r in reasons)
    if measure.hidden and "badge_hidden" in reasons:
        message += f"（原因：{measure.hidden}）"
    return RenderVerdict("non_compliant", tuple(reasons), message)
