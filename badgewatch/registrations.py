"""The footer registrations of a Chinese website, as the page check reads them and as a site
registers them: the 政府网站标识码 (``1304000009``, ``bm06000004``), the ICP filing number
(``冀ICP备13016076号-2``) and the public-security filing number (``京公网安备11010202007232号``).
One canonical form for each, so a page's footer and a registered value compare whatever the
spaces or a missing ``号``. Standard library only: the pure page checks import it
(``crawler.checks.footer``), and so does the import of sites (``workflow.importer``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Spaces a page may put between the parts (``&nbsp;`` decoded, the ideographic space).
WS = r"[\s\u00a0\u3000]*"
ICP_RE = re.compile(
    rf"([\u4e00-\u9fff]){WS}ICP{WS}备{WS}[:：]?{WS}(\d{{4,}}){WS}(号)?"
    rf"(?:{WS}-{WS}(\d+))?")
PSB_RE = re.compile(
    rf"([\u4e00-\u9fff]){WS}公网安备{WS}[:：]?{WS}(\d{{14}})?(?!\d)")
SPACES = re.compile(r"[\s\u00a0\u3000]+")


def format_icp(match: re.Match[str]) -> str:
    """The canonical form of an :data:`ICP_RE` match: ``{省}ICP备{number}号[-N]``."""
    province, number, _, suffix = match.groups()
    return f"{province}ICP备{number}号" + (f"-{suffix}" if suffix else "")


def canonical_icp(value: str) -> str | None:
    """A registered ICP number in the footer reader's form; None if it is none."""
    match = ICP_RE.fullmatch(value.strip().upper())
    return format_icp(match) if match else None


def canonical_psb(value: str) -> str | None:
    """A registered public-security number in the footer reader's form (a bare
    14-digit record code is kept as it is); None if it is none."""
    value = SPACES.sub("", value)
    if re.fullmatch(r"\d{14}", value):
        return value
    match = PSB_RE.fullmatch(value.removesuffix("号"))
    if not match or not match.group(2):
        return None
    return f"{match.group(1)}公网安备{match.group(2)}号"


def canonical_site_code(value: str) -> str | None:
    """A registered 网站标识码 (10 digits, or ``bm`` and 8 digits), lower case; None if none."""
    value = SPACES.sub("", value).lower()
    return value if re.fullmatch(r"bm\d{8}|\d{10}", value) else None


@dataclass(frozen=True, slots=True)
class FooterRegistration:
    """A site's registered footer numbers (each optional), in canonical form; the page check
    compares the footer with those that are set. Refuses a value that is no such number."""

    site_code: str | None = None
    icp: str | None = None
    psb: str | None = None

    def __post_init__(self) -> None:
        for name, canonical in (("site_code", canonical_site_code), ("icp", canonical_icp),
                                ("psb", canonical_psb)):
            value = getattr(self, name)
            if value is None:
                continue
            fixed = canonical(value)
            if fixed is None:
                raise ValueError(f"{name} {value!r} is not a valid number")
            object.__setattr__(self, name, fixed)

    def __bool__(self) -> bool:
        return any((self.site_code, self.icp, self.psb))
