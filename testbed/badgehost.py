"""The project's own badge host, for tests and the demo: script, images and certificate page.

Written by us to behave like the registry's (research notes §1-2; the real script is corpus file
02): the script ``document.write``s an empty ``<span id="_ideConac">`` where it runs, then fills
the FIRST element with that id with a link to the certificate page around the badge image, the
error image when the registration is revoked. Unknown identifiers, and script paths whose digits
do not repeat the identifier's, answer 404. With ``beacon_url`` the script also fires an
analytics beacon as the real tracker does, so a renderer can prove that it blocks them.

Script, image and certificate hosts may be different names: every path of the three configured
bases is answered on one address, whatever the Host header says. All names, paths and image
file names come from :class:`~badgewatch.config.BadgeConfig`.
"""

from __future__ import annotations

import dataclasses
import html
import json
import math
import re
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal
from urllib.parse import parse_qs, urlsplit

from badgewatch.config import BadgeConfig
from testbed.pngs import encode_rgb
from testbed.siteserver import HTML, NOT_FOUND, Route, SiteServer, ascii_host
from workflow.issuance import script_url

Kind = Literal["party", "institution"]

JAVASCRIPT = "application/javascript; charset=utf-8"
IMAGE_SIZE = (110, 55)
_KINDS: tuple[Kind, ...] = ("party", "institution")
_KIND_LABELS = {"party": "党政机关", "institution": "事业单位"}
_IDENTIFIER = re.compile(r"[A-Z]{1,4}\d{21}")
_CERTIFICATE = re.compile(r"[0-9A-Fa-f]{32}")
_PLACEHOLDER = "{certificate}"
_SCRIPT_CACHE = {"Cache-Control": "no-cache"}  # a revocation shows at the next page view
_IMAGE_CACHE = {
    "Cache-Control": "public, max-age=86400",
    "Last-Modified": "Mon, 01 Jan 2024 00:00:00 GMT",
}

# (fill, border, cross) colours of the four images: red for 党政机关, blue for 事业单位; the
# error images are grey with a coloured frame and a cross, unmistakable beside the normal ones.
_RED, _GOLD, _BLUE, _NAVY, _GREY = (
    (0xD7, 0x14, 0x1A),
    (0xFF, 0xD4, 0x00),
    (0x1A, 0x5D, 0xAB),
    (0x0D, 0x2A, 0x5C),
    (0xD9, 0xD9, 0xD9),
)
Rgb = tuple[int, int, int]


@dataclass(frozen=True)
class Registration:
    """One registered website as the registry knows it; ``kind`` picks the red or blue image."""

    identifier: str
    certificate: str
    unit: str
    site_name: str
    domain: str
    kind: Kind = "party"
    revoked: bool = False

    def __post_init__(self) -> None:
        if not _IDENTIFIER.fullmatch(self.identifier):
            raise ValueError(
                f"identifier {self.identifier!r} is not a prefix and 21 digits (CA330000…0001)"
            )
        if not _CERTIFICATE.fullmatch(self.certificate):
            raise ValueError(f"certificate {self.certificate!r} is not 32 hexadecimal digits")
        if self.kind not in _KINDS:
            raise ValueError(f"kind must be one of {_KINDS}, not {self.kind!r}")


# --- images ---------------------------------------------------------------------------------


def badge_png(fill: Rgb, border: Rgb, *, cross: Rgb | None = None, border_width: int = 3) -> bytes:
    """A badge image of :data:`IMAGE_SIZE`: a solid fill in a frame, crossed out if asked."""
    width, height = IMAGE_SIZE
    diagonal = math.hypot(width - 1, height - 1)
    half_stroke = 2.0
    pixels = bytearray()
    for y in range(height):
        for x in range(width):
            colour = fill
            if cross is not None:
                down = abs(x * (height - 1) - y * (width - 1)) / diagonal
                up = abs(x * (height - 1) - (height - 1 - y) * (width - 1)) / diagonal
                if min(down, up) <= half_stroke:
                    colour = cross
            edge = min(x, y, width - 1 - x, height - 1 - y)
            if edge < border_width:
                colour = border
            pixels.extend(colour)
    return encode_rgb(width, height, bytes(pixels))


def badge_images(config: BadgeConfig) -> dict[str, bytes]:
    """The four images by their configured file names."""
    return {
        config.image_party: badge_png(_RED, _GOLD),
        config.image_institution: badge_png(_BLUE, _NAVY),
        config.image_party_error: badge_png(_GREY, _RED, cross=_RED),
        config.image_institution_error: badge_png(_GREY, _BLUE, cross=_BLUE),
    }


def image_name(config: BadgeConfig, registration: Registration) -> str:
    """The file name the script shows for this registration (the error image when revoked)."""
    if registration.kind == "party":
        return config.image_party_error if registration.revoked else config.image_party
    return config.image_institution_error if registration.revoked else config.image_institution


# --- the script -----------------------------------------------------------------------------


def scheme_relative(url: str) -> str:
    """``http://host/path`` as ``//host/path``, the form the real script writes."""
    parts = urlsplit(url)
    return url[len(parts.scheme) + 1 :] if parts.scheme and parts.netloc else url


def badge_markup(config: BadgeConfig, registration: Registration, *, relative: bool = True) -> str:
    """The link and image the script puts into the span, with the real script's attributes."""
    link = config.certificate_url.format(certificate=registration.certificate)
    image = f"{config.image_base}/{image_name(config, registration)}"
    if relative:
        link, image = scheme_relative(link), scheme_relative(image)
    return (
        f'<a href="{html.escape(link)}" target="_blank">'
        f'<img id="{html.escape(config.image_id)}" vspace="0" hspace="0" border="0" '
        f'src="{html.escape(image)}" data-bd-imgshare-binded="1"></a>'
    )


def badge_script(
    config: BadgeConfig,
    registration: Registration,
    *,
    beacon_url: str | None = None,
    relative: bool = True,
) -> str:
    """The ES5 script for one registration: beacon, then write the span, then fill the first."""
    span = f"<span id='{html.escape(config.span_id)}' ></span>"
    markup = badge_markup(config, registration, relative=relative)
    lines = [
        f"/* badge {registration.identifier}, served by badgewatch's own badge host */",
        "(function () {",
    ]
    if beacon_url is not None:
        joiner = "&" if "?" in beacon_url else "?"
        lines += [
            "  var beacon = new Image();",
            "  window._ideConacBeacon = beacon;",
            f"  beacon.src = {json.dumps(beacon_url + joiner)} + "
            f"{json.dumps('id=' + registration.identifier + '&r=')} + Math.random();",
        ]
    lines += [
        f"  document.write({json.dumps(span)});",
        f"  var span = document.getElementById({json.dumps(config.span_id)});",
        "  if (span) {",
        f"    span.innerHTML = {json.dumps(markup)};",
        "  }",
        "})();",
        "",
    ]
    return "\n".join(lines)


# --- the certificate page -------------------------------------------------------------------


def certificate_page(config: BadgeConfig, registration: Registration) -> str:
    """The registry's public record of one site, in Chinese."""
    status = "已撤销" if registration.revoked else "正常"
    kind = _KIND_LABELS[registration.kind]
    rows = (
        ("单位名称", registration.unit),
        ("单位类型", kind),
        ("网站名称", registration.site_name),
        ("域名", registration.domain),
        ("网站标识", registration.identifier),
        ("证书编号", registration.certificate.upper()),
        ("状态", status),
    )
    cells = "".join(
        f"<tr><th>{label}</th><td>{html.escape(value)}</td></tr>\n" for label, value in rows
    )
    image = f"{config.image_base}/{image_name(config, registration)}"
    return (
        '<!DOCTYPE html>\n<html lang="zh-CN">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{html.escape(registration.site_name)} - 网站标识信息</title>\n</head>\n<body>\n"
        f"<h1>{kind}网站标识信息</h1>\n"
        f'<p><img src="{html.escape(image)}" alt="{kind}网站标识"></p>\n'
        f'<table class="certificate">\n{cells}</table>\n'
        "<p>本页面信息由网站标识管理服务平台提供。</p>\n</body>\n</html>\n"
    )


def _template_pattern(text: str) -> re.Pattern[str]:
    """``text`` literally, with ``{certificate}`` (if any) matching 32 hex digits."""
    head, found, tail = text.partition(_PLACEHOLDER)
    if not found:
        return re.compile(re.escape(text))
    return re.compile(re.escape(head) + r"(?P<certificate>[0-9A-Fa-f]{32})" + re.escape(tail))


@dataclass(frozen=True)
class _CertificateRoute:
    """Recognises certificate page requests: the placeholder may sit in the path or the query."""

    path: re.Pattern[str]
    query: tuple[tuple[str, re.Pattern[str]], ...]

    @classmethod
    def from_template(cls, template: str) -> _CertificateRoute:
        parts = urlsplit(template)
        query = tuple(
            (key, _template_pattern(values[0]))
            for key, values in parse_qs(parts.query, keep_blank_values=True).items()
        )
        return cls(_template_pattern(parts.path or "/"), query)

    def certificate(self, path: str, query: str) -> str | None:
        """The certificate id asked for, or None when the request is not a certificate page."""
        match = self.path.fullmatch(path)
        if match is None:
            return None
        found = match.groupdict().get("certificate")
        asked = parse_qs(query, keep_blank_values=True)
        for key, pattern in self.query:
            values = asked.get(key)
            value_match = pattern.fullmatch(values[0]) if values else None
            if value_match is None:
                return None
            found = value_match.groupdict().get("certificate") or found
        return found.upper() if found else None


# --- the host -------------------------------------------------------------------------------


def _base_path(url: str) -> str:
    return urlsplit(url).path.rstrip("/")


class BadgeHost(SiteServer):
    """Script, images and certificate page of ``config`` on ``ip:port``, for any Host header.

    Routes set with :meth:`set_route` take precedence (a test can make one script hang); every
    other request is answered from the registrations. ``relative`` writes the link and image
    as ``//host/…`` like the real script; False writes the configured URLs unchanged.
    """

    def __init__(
        self,
        config: BadgeConfig,
        ip: str,
        registrations: Iterable[Registration] = (),
        *,
        beacon_url: str | None = None,
        port: int = 80,
        relative: bool = True,
    ) -> None:
        self.config = config
        self.beacon_url = beacon_url
        self.relative = relative
        self._registry_lock = threading.Lock()
        self._by_identifier: dict[str, Registration] = {}
        self._by_certificate: dict[str, str] = {}
        self._script_prefix = _base_path(config.script_base) + "/"
        self._image_prefix = _base_path(config.image_base) + "/"
        self._certificates = _CertificateRoute.from_template(config.certificate_url)
        self._images = {
            name: Route(body=png, content_type="image/png", headers=_IMAGE_CACHE)
            for name, png in badge_images(config).items()
        }
        for registration in registrations:
            self.register(registration)
        super().__init__(ip, None, port, names=self.hostnames(config))

    @staticmethod
    def hostnames(config: BadgeConfig) -> tuple[str, ...]:
        """The distinct host names (ASCII) of the script, image and certificate URLs."""
        names: list[str] = []
        for url in (config.script_base, config.image_base, config.certificate_url):
            host = urlsplit(url).hostname
            if host is None:
                raise ValueError(f"{url!r} names no host")
            name = ascii_host(host)
            if name not in names:
                names.append(name)
        return tuple(names)

    @property
    def env(self) -> dict[str, str]:
        """The environment that points a badgewatch process at this host's configuration."""
        return {
            "BADGEWATCH_BADGE_SCRIPT_BASE": self.config.script_base,
            "BADGEWATCH_BADGE_IMAGE_BASE": self.config.image_base,
            "BADGEWATCH_BADGE_CERTIFICATE_URL": self.config.certificate_url,
        }

    # -- registrations -------------------------------------------------------------------------

    def register(self, registration: Registration) -> None:
        """Serve ``registration`` (replacing an earlier one with the same identifier)."""
        certificate = registration.certificate.upper()
        with self._registry_lock:
            owner = self._by_certificate.get(certificate)
            if owner is not None and owner != registration.identifier:
                raise ValueError(f"certificate {certificate} already belongs to {owner}")
            previous = self._by_identifier.get(registration.identifier)
            if previous is not None:
                self._by_certificate.pop(previous.certificate.upper(), None)
            self._by_identifier[registration.identifier] = registration
            self._by_certificate[certificate] = registration.identifier

    def revoke(self, identifier: str) -> Registration:
        """Show the error image for ``identifier`` from now on; KeyError if it is unknown."""
        with self._registry_lock:
            revoked = dataclasses.replace(self._by_identifier[identifier], revoked=True)
            self._by_identifier[identifier] = revoked
            return revoked

    def registration(self, identifier: str) -> Registration | None:
        with self._registry_lock:
            return self._by_identifier.get(identifier)

    # -- what was asked ------------------------------------------------------------------------

    def hits(self, path_prefix: str) -> int:
        """How many requests asked for a path (query included) starting with ``path_prefix``."""
        return sum(1 for r in self.requests if r.path.startswith(path_prefix))

    # -- answers -------------------------------------------------------------------------------

    def _receive(self, method: str, target: str, host: str | None, user_agent: str | None) -> Route:
        route = super()._receive(method, target, host, user_agent)  # logs the request
        if route is not NOT_FOUND:
            return route
        if not target.startswith("/"):  # absolute form
            parts = urlsplit(target)
            target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        path, _, query = target.partition("?")
        return self._answer(path, query) or NOT_FOUND

    def _answer(self, path: str, query: str) -> Route | None:
        if path.startswith(self._image_prefix):
            image = self._images.get(path[len(self._image_prefix) :])
            if image is not None:
                return image
        certificate = self._certificates.certificate(path, query)
        if certificate is not None:
            with self._registry_lock:
                identifier = self._by_certificate.get(certificate)
                registration = self._by_identifier.get(identifier) if identifier else None
            if registration is None:
                return None
            return Route(
                body=certificate_page(self.config, registration),
                content_type=HTML,
                headers=_SCRIPT_CACHE,
            )
        if path.startswith(self._script_prefix) and path.endswith(".js"):
            identifier = path.rsplit("/", 1)[-1].removesuffix(".js")
            registration = self.registration(identifier)
            if registration is None:
                return None
            if urlsplit(script_url(self.config, identifier)).path != path:
                return None  # the path digits must repeat the identifier's
            script = badge_script(
                self.config, registration, beacon_url=self.beacon_url, relative=self.relative
            )
            return Route(body=script, content_type=JAVASCRIPT, headers=_SCRIPT_CACHE)
        return None


__all__ = [
    "IMAGE_SIZE",
    "JAVASCRIPT",
    "BadgeHost",
    "Kind",
    "Registration",
    "badge_images",
    "badge_markup",
    "badge_png",
    "badge_script",
    "certificate_page",
    "image_name",
    "scheme_relative",
]
