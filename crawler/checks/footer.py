"""What a page's footer says about the site's registrations: a pure function of the page.

``read_footer(body)`` returns the :class:`FooterNumbers` a person reads at the bottom of the
page: the 政府网站标识码 (``1304000009``, ``bm06000004``), the ICP filing number
(``冀ICP备13016076号-2``) and the public-security filing number (``京公网安备11010202007232号``).
Standard library and the foundation only, like the other page checks.

How it reads (evidence: ``research/badge-formats.md`` §5 and the corpus):

* Only the page's tail is read (the last :data:`TAIL` bytes): footers sit near the end, the
  farthest in the corpus about 21 KB before ``</body>``. The tail is searched for the labels'
  bytes first; a page without any of them costs one byte search per label. Reading starts
  :data:`MARGIN` characters before the first label (moved back out of a tag, comment or
  script it would start in), so the removal pass skips most of the tail.
* Comments, ``<script>``/``<style>`` contents and tags are removed, tags without a space so that
  numbers split across spans (``京<span>ICP</span>备<span>19054529</span>号<span>-1</span>``)
  read as one; entities are decoded; whitespace (``&nbsp;``, the ideographic space) is allowed
  between the parts, full-width and ASCII colons after the labels.
* The public-security number may stand only in the link to the portal (``beian.gov.cn`` or
  ``beian.mps.gov.cn``, ``recordcode=`` + 14 digits) when the text shows the label outside it.
* Values are returned in one canonical form: ``bm`` in lower case; ``{省}ICP备{number}号`` with
  ``-N`` when the page has it (``号`` added when the page omits it); ``{省}公网安备{number}号``.
  ``badgewatch.registrations`` gives registered values the same form, so a comparison does
  not depend on spaces or a missing ``号``.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from typing import AnyStr

from badgewatch.registrations import (
    ICP_RE,
    PSB_RE,
    SPACES,
    WS,
    FooterRegistration,
    format_icp,
)
from crawler.checks.markup import ascii_compatible, sniff_encoding

# How much of the page's end is read (bytes). The corpus's farthest footer starts about 21 KB
# before the end; saved pages add scripts after it.
TAIL = 64 * 1024

_TEXT_LABELS = ("标识码", "ICP", "公网安", "recordcode")
# as UTF-8 and as GB18030 bytes (an undeclared page may be either)
_LABELS = tuple({label.encode(codec) for label in _TEXT_LABELS for codec in ("utf-8", "gb18030")})
# what reading must not start inside: a tag, a comment, a script or style (as written, lower or
# upper case), each as (opening, closing)
_ENCLOSING = (("<", ">"), ("<!--", "-->"), ("<script", "</script"), ("<SCRIPT", "</SCRIPT"),
              ("<style", "</style"), ("<STYLE", "</STYLE"))
_TEXT_MARKS = (_TEXT_LABELS, _ENCLOSING)
_BYTES_MARKS = (_LABELS, tuple((a.encode(), b.encode()) for a, b in _ENCLOSING))

# What is not shown, removed in one pass: comments, script and style contents, tags.
_HIDDEN = re.compile(
    r"<(?:!--.*?(?:-->|\Z)|(script|style)\b[^>]*>.*?(?:</\1\s*>|\Z)|/?[A-Za-z][^>]*>)",
    re.S | re.I,
)

_SITE_CODE = re.compile(
    rf"网站标识码{WS}[:：]?{WS}(bm{WS}\d{{8}}|\d{{10}})(?!\d)", re.I)
_PORTAL = re.compile(
    r"beian(?:\.mps)?\.gov\.cn/portal/registerSystemInfo\?recordcode=(\d{14})(?!\d)", re.I)


@dataclass(frozen=True)
class FooterNumbers:
    """The three numbers read from a page's footer, each ``None`` when the page shows none."""

    site_code: str | None = None
    icp: str | None = None
    psb: str | None = None


# Text read before the first label: a number split from its label, the start of a footer.
MARGIN = 512


def _start(
    tail: AnyStr, marks: tuple[tuple[AnyStr, ...], tuple[tuple[AnyStr, AnyStr], ...]]
) -> int | None:
    """Where reading starts: a little before the earliest of the labels' last occurrences
    (searched from the end, where the footer is), moved back out of a tag, a comment or a
    script/style it would otherwise start in (so that what they hide stays hidden). Saves the
    decoding and the removal pass most of the tail. None: no label at all."""
    labels, enclosing = marks
    found = [at for label in labels if (at := tail.rfind(label)) >= 0]
    if not found:
        return None
    cut = max(0, min(found) - MARGIN)
    for opening, closing in enclosing:
        if not cut:
            break
        opened = tail.rfind(opening, 0, cut)
        if opened >= 0 and opened > tail.rfind(closing, opened, cut):
            cut = opened
    return cut


def _text(tail: str) -> str:
    return html.unescape(_HIDDEN.sub("", tail))


def _last(pattern: re.Pattern[str], literal: str, text: str) -> re.Match[str] | None:
    """The last match of ``pattern``, whose matches contain ``literal`` a few characters from
    their start: the last occurrence of ``literal`` is tried first (a byte search), the whole
    text only when that one does not match."""
    at = text.rfind(literal)
    if at < 0:
        return None
    match = pattern.search(text, max(0, at - 24))
    if match is None or match.start() > at:
        matches = list(pattern.finditer(text))
        return matches[-1] if matches else None
    later = pattern.search(text, match.end())
    return later or match


def _decode_tail(body: bytes, charset: str | None, *, whole: bool = False) -> str | None:
    """The page's last :data:`TAIL` bytes as text from where reading starts (``whole``: all of
    them), decoded the way the page declares (as ``markup.decode_page`` does: UTF-8 when valid,
    else GB18030); None when no label's bytes are there."""
    codec = sniff_encoding(body, charset)
    if not ascii_compatible(codec):
        return body.decode(codec or "utf-8", errors="replace")[-TAIL:]
    tail = body[-TAIL:]
    start = _start(tail, _BYTES_MARKS)
    if start is None:
        return None
    tail = tail if whole else tail[start:]
    if codec:
        return tail.decode(codec, errors="replace")
    tail = tail.lstrip(bytes(range(0x80, 0xC0)))  # a character cut at the start
    try:
        return tail.decode("utf-8")
    except UnicodeDecodeError:
        return tail.decode("gb18030", errors="replace")


def read_footer(body: bytes | str, charset: str | None = None) -> FooterNumbers:
    """The site code, ICP and public-security numbers the end of the page shows (the last of
    each, the footer being the last place a page shows them). ``body`` is the page as fetched
    (``charset``: the HTTP-declared one) or already decoded text."""
    if isinstance(body, str):
        tail = body[-TAIL:]
        start = _start(tail, _TEXT_MARKS)
        raw = None if start is None else tail[start:]
    else:
        raw = _decode_tail(body, charset)
    if raw is None:
        return FooterNumbers()
    numbers = _numbers(raw)
    if any(
        value is None and label in raw
        for value, label in ((numbers.site_code, "标识码"), (numbers.icp, "ICP"),
                             (numbers.psb, "公网安"))
    ):
        # The last occurrence of every label present is read; a label there and no number: it
        # may be hidden (a script after the footer) with the footer's own before the start, so
        # the whole tail is read again for what is missing.
        full = body[-TAIL:] if isinstance(body, str) else _decode_tail(body, charset, whole=True)
        if full is not None and len(full) > len(raw):
            again = _numbers(full)
            numbers = FooterNumbers(
                numbers.site_code or again.site_code,
                numbers.icp or again.icp,
                numbers.psb or again.psb,
            )
    return numbers


def _numbers(raw: str) -> FooterNumbers:
    """The three numbers in ``raw``, markup still in it."""
    text = _text(raw)
    site_code = icp = psb = None
    if codes := _SITE_CODE.findall(text):
        site_code = SPACES.sub("", codes[-1]).lower()
    if found := _last(ICP_RE, "ICP", text):
        icp = format_icp(found)
    if found := _last(PSB_RE, "安备", text):
        province, number = found.groups()
        if not number:
            links = _PORTAL.findall(raw)
            number = links[-1] if links else ""
        if number:
            psb = f"{province}公网安备{number}号"
    return FooterNumbers(site_code, icp, psb)


def footer_findings(
    numbers: FooterNumbers, registered: FooterRegistration
) -> list[tuple[str, str]]:
    """The reason codes for a footer against the registered values, each with what the page
    shows in Chinese (for the check's message). Only registered numbers are checked."""
    found: list[tuple[str, str]] = []
    if registered.site_code:
        if numbers.site_code is None:
            found.append(("site_code_missing", f"登记的网站标识码为 {registered.site_code}。"))
        elif numbers.site_code != registered.site_code:
            found.append((
                "site_code_mismatch",
                f"页面底部为 {numbers.site_code}，登记的是 {registered.site_code}。",
            ))
    if registered.icp:
        if numbers.icp is None:
            found.append(("icp_missing", f"登记的 ICP 备案编号为 {registered.icp}。"))
        elif numbers.icp != registered.icp:
            found.append((
                "icp_mismatch", f"页面底部为 {numbers.icp}，登记的是 {registered.icp}。"))
    if registered.psb and numbers.psb is None:
        found.append(("psb_missing", f"登记的公安机关备案编号为 {registered.psb}。"))
    return found
