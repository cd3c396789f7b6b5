"""What a page's markup says about its site badge (网站标识): a pure function of the page.

``check_page(body, site)`` returns a :class:`PageVerdict` with reason codes and a message in
Chinese a webmaster understands. It imports neither Scrapy nor SQLAlchemy, so the crawler, the
``badgewatch check`` command and the browser check all share it.

How it stays fast, and linear on every page: almost every page carries no badge-like bytes at
all, so the first step is one byte search for the core every badge literal shares (``onac`` in
``dcs.conac.cn``, ``bszs.conac.cn``, ``_ideConac``, ``imgConac``: hosts and ids come from
configuration), then for the literals themselves, matched in exact case (hosts as URLs print
them, ids as ``getElementById`` needs them; a host typed in capitals is not recognised). Only
pages with a hit are decoded and read once, with the HTML tokenizer's rules
(``markup.walk_structure``): compiled expressions consume everything up to the next hit that
can be a badge (a host followed by a path, an escape, a port or a quote and '+'; an id), so
only the constructs holding one reach Python, each examined once (a construct already seen in
the same context is replayed). Scripts are read the same way; strings and ``unescape``
arguments are followed into markup, at most four ``document.write`` levels deep. No tree is
built. A hostile page can put a hit every few characters, so the hits that can no longer
change the verdict stop nothing: once a live placeholder span is known, a span id alone; an id
in passing where no tag ahead can have it as its id. A stretch of markup repeated is read
once and counted for every copy, adjacent comments are read as one, and findings that differ
in nothing the verdict reads are kept as one group (first, last, how many). What still costs
a step in Python per construct is a page of distinct badges, each of which the verdict must
know. ``PageVerdict.work`` counts what a check spent; ``tests/test_hostile_pages.py`` keeps
it proportional to the page, and ``bench/check.py`` prints the worst pages beside typical ones.

Decisions worth knowing (evidence: ``research/badge-formats.md``, the corpus, and Chromium:
``tests/test_badge_contexts.py`` renders each rule below):

* A *live* badge is the registry's script, loaded from the configured script base, in markup
  that runs: the issued ``document.write(unescape(...))``, the decoded span + script, the bare
  script, or the same inserted by JavaScript (V6).
* V6, injected after load (jQuery ``.html()``/``.append()``, dynamic ``<script>``): a script
  inserted into a finished document runs asynchronously, so its own ``document.write`` is
  ignored and it can only fill a ``<span id="_ideConac">`` that already exists. Injection counts
  as live when such a span exists (in the injected markup or the page, as on nfra.gov.cn, C20);
  otherwise it is ``badge_broken``. Markup assigned through ``innerHTML`` never runs its scripts:
  broken. The same rule applies to ``async``/``defer`` badge scripts. Whether it then shows
  at the bottom centre is the browser check's job.
* The badge script fills the *first* ``<span id="_ideConac">`` of the page, so when several
  badge scripts run, the last one wins: scripts run in page order while the page is parsed,
  then the ``defer`` ones in page order; an ``async`` or script-inserted one runs when it has
  loaded, before or after the others. If another site's badge runs last, or may, the page
  shows (or may show) the other site's badge: ``badge_other_site``, even when our own code is
  there too (our own surely last: ``ok`` with the ``badge_duplicate`` warning).
* Where the code sits decides whether it runs. ``badge_inactive`` (it never runs, and the
  message says where): comments, ``<noscript>``, ``<template>``, dead code (a ``<script>`` whose
  type is not JavaScript, inline text of a ``<script src>``), ``nomodule`` scripts, an
  attribute value (``<div data-x="<script src=…>">``, ``value=…``; a quote left open swallows
  the rest of the page into one), the elements whose content is text (``<textarea>``,
  ``<xmp>``, ``<title>``, ``<plaintext>``: shown as text; ``<iframe>``, ``<noembed>``,
  ``<noframes>``, ``<style>``: not shown), ``<script src>`` inside ``<svg>`` (SVG scripts load
  ``href``, not ``src``) and any ``<script>`` inside ``<math>``. An SVG script's inline code
  does run, and so does ``<script href>`` in SVG; a breakout tag (``<p>``, ``<div>``,
  ``<span>``…) or ``<foreignObject>`` makes what follows HTML again. ``srcdoc`` markup runs in
  its frame. ``badge_broken`` (it runs but cannot show the badge): ``type="module"`` (deferred,
  so ``document.write`` is refused, and fetched with CORS, which the registry's host is not
  known to allow and our badge host, built to behave like it, does not), ``crossorigin``
  (CORS again), ``integrity`` with a sha256/384/512 hash (checked
  against a script the registry changes, and impossible without CORS; a value that is no hash
  is ignored by browsers). A badge nested more than four ``document.write`` levels deep is
  not followed: it gets the benefit of the doubt and the page is left to the rendered check.
* A hard-coded copy of the rendered link or image, or a copy of the script hosted elsewhere,
  is ``badge_static_copy`` unless a live badge of this site is also present.
* Trailing spaces inside the script URL are harmless (browsers strip them); broken escapes
  (``%3E3C``), broken quotes (a string directly after another operand on one line) and
  mismatched identifier digits are ``badge_broken``. A script with a syntax error runs none of
  its code.
* A badge counts as inside the body when it is after ``<body>`` (or ``</head>``) and before the
  document's last ``</body>`` and last ``</html>``; several of those is the warning
  ``markup_malformed``, never a failure by default, and then only the first ``<body>`` bounds
  the body (browsers put what follows a stray ``</body>`` in the body too).
* Code behind ``if (false)`` is not recognised as dead.
* A copy of the script hosted elsewhere is only noticed when a badge host or the span id also
  appears on the page (the fast pre-scan looks for nothing else).
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from functools import lru_cache
from html import unescape as html_unescape
from typing import Any, Literal, NamedTuple, TypeAlias
from urllib.parse import urlsplit

from badgewatch.badgespec import BadgeSpec
from badgewatch.registrations import FooterRegistration
from badgewatch.vocabulary import (
    MARKUP_REASONS,
    NOT_FAILURES,
    WARNINGS,
    reason_advice,
    reason_text,
)
from crawler.checks.footer import FooterNumbers, footer_findings, read_footer
from crawler.checks.markup import (
    STEP,
    TEXT_ELEMENTS,
    HitPatterns,
    Region,
    Structure,
    ascii_compatible,
    attributes,
    decode_page,
    js_group,
    js_group_value,
    js_spots,
    js_syntax_error,
    js_unescape_checked,
    scan_structure,
    sniff_encoding,
    tag_clean,
    tail_is_quiet,
    walk_structure,
)

Verdict = Literal["compliant", "non_compliant", "not_checked"]

REASONS: tuple[str, ...] = MARKUP_REASONS
_ORDER = {code: i for i, code in enumerate(REASONS)}

# The layout of the issuer's script path: /{PP}/{CCC}/{DDDD}/{NNNNNNNN}/{prefix}{21 digits}.js
# where the file name repeats the 17 path digits and adds a 4-digit sequence.
_PATH_DIGITS = (2, 3, 4, 8)
_IDENTIFIER_DIGITS = 21

# ---------------------------------------------------------------------------------------------
# Configuration, compiled once


def _host_and_path(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    rest = parts.path + (f"?{parts.query}" if parts.query else "")
    return parts.netloc.lower(), rest


def _url_prefix(host: str) -> str:
    """Scheme-insensitive start of a URL on ``host``: http, https or protocol-relative."""
    return rf"(?:https?:)?//{re.escape(host)}(?::\d+)?"


@dataclass(frozen=True, slots=True)
class BadgePatterns:
    """Everything that recognises this deployment's badge, compiled from a ``BadgeSpec`` once,
    so no badge host or file name is a literal in the checker."""

    span_id: str
    image_id: str
    identifier_prefix: str
    script_host: str
    certificate_host: str
    image_host: str
    trigger_bytes: tuple[bytes, ...]
    trigger_text: tuple[str, ...]
    prefilter_bytes: tuple[bytes, ...]
    prefilter_text: tuple[str, ...]
    # where a badge can be: a host followed by a path, an escape, a port or a quote, or an id
    # (a host in passing, "dcs.conac.cn 标识服务", is not); see _strong_hits
    hits: re.Pattern[str]
    # the same without the span id (index 2), the image id (1) or both (3): hits that can
    # change nothing in markup once a live placeholder is known, or when no tag ahead can
    # have that id (id_forms, a superset of such tags) and no srcdoc ahead can hide one
    narrowed: tuple[re.Pattern[str], ...]
    id_forms: tuple[re.Pattern[str] | None, re.Pattern[str] | None]  # span id, image id
    # what a tag must contain to be a badge at all: a script or image URL's base, the
    # certificate host, the span or image id (a bare host or id in passing is no badge);
    # url_text is the same without the span id
    strong_text: tuple[str, ...]
    url_text: tuple[str, ...]
    # a <script> start tag naming a copy of the script (``CA…21 digits.js``), as a pattern
    script_note: str
    script_url: re.Pattern[str]
    script_url_loose: re.Pattern[str]
    script_copy: re.Pattern[str]
    certificate_url: re.Pattern[str]
    image_url: re.Pattern[str]
    # the same four URLs from their '//' on (host in exact case, the rest in any): a search
    # for them starts with a literal, and runs at the speed of one (see url_start)
    script_scan: re.Pattern[str]
    script_scan_loose: re.Pattern[str]
    certificate_scan: re.Pattern[str]
    image_scan: re.Pattern[str]
    identifier: re.Pattern[str]
    certificate: re.Pattern[str]

    @classmethod
    def from_spec(cls, spec: BadgeSpec) -> BadgePatterns:
        script_host, script_path = _host_and_path(spec.script_base)
        image_host, image_path = _host_and_path(spec.image_base)
        before, _, after = spec.certificate_url.partition("{certificate}")
        cert_host, cert_rest = _host_and_path(before)
        cert_rest_rx = re.escape(cert_rest).replace("&", "&(?:amp;)?")
        prefix = re.escape(spec.identifier_prefix)
        names = "|".join(
            re.escape(name)
            for name in (
                spec.image_party,
                spec.image_institution,
                spec.image_party_error,
                spec.image_institution_error,
            )
        )
        digits = "/".join(rf"(\d{{{n}}})" for n in _PATH_DIGITS)
        script_path_rx = re.escape(script_path.rstrip("/"))
        script_base = _url_prefix(script_host) + script_path_rx
        strict_rest = (rf"/{digits}/({prefix}(\d{{{_IDENTIFIER_DIGITS}}}))\.js"
                       r"(?:[?#][^\s\"'<>]*)?")
        loose_rest = r"/[^\s\"'<>()\\]*"
        # the same, group 1 the first identifier in it, as script_copy finds it
        loose_rest_id = (r"/(?:[^\s\"'<>()\\]*?(?-i:(?<![A-Za-z0-9])"
                         rf"({prefix}\d{{{_IDENTIFIER_DIGITS}}}))(?=\.js))?[^\s\"'<>()\\]*")
        cert_rest_full = cert_rest_rx + r"([0-9A-Fa-f]{32})" + re.escape(after)
        image_rest = re.escape(image_path.rstrip("/")) + rf"/({names})"
        # Exact-case literals: hosts as URLs print them, ids as getElementById needs them.
        triggers = tuple(
            dict.fromkeys(
                t for t in (script_host, cert_host, image_host, spec.span_id, spec.image_id)
                if t
            )
        )
        return cls(
            span_id=spec.span_id,
            image_id=spec.image_id,
            identifier_prefix=spec.identifier_prefix,
            script_host=script_host,
            certificate_host=cert_host,
            image_host=image_host,
            trigger_bytes=tuple(t.encode("ascii") for t in triggers),
            trigger_text=triggers,
            prefilter_bytes=tuple(t.encode("ascii") for t in _prefilter(triggers)),
            prefilter_text=_prefilter(triggers),
            hits=_strong_hits(
                _prefilter(triggers),
                hosts=tuple(dict.fromkeys(t for t in (script_host, cert_host, image_host) if t)),
                ids=tuple(dict.fromkeys(t for t in (spec.span_id, spec.image_id) if t)),
            ),
            narrowed=tuple(
                _strong_hits(
                    _prefilter(triggers),
                    hosts=tuple(
                        dict.fromkeys(t for t in (script_host, cert_host, image_host) if t)),
                    ids=tuple(dict.fromkeys(
                        t for t, drop in ((spec.span_id, span), (spec.image_id, image))
                        if t and not drop and not (span and t == spec.span_id)
                        and not (image and t == spec.image_id))),
                )
                for span in (False, True) for image in (False, True)
            ),
            id_forms=(_id_form(spec.span_id), _id_form(spec.image_id)),
            strong_text=tuple(
                dict.fromkeys(
                    t for t in (script_host + script_path.rstrip("/"), cert_host,
                                image_host + image_path.rstrip("/"), spec.span_id,
                                spec.image_id)
                    if t
                )
            ),
            url_text=tuple(
                dict.fromkeys(
                    t for t in (script_host + script_path.rstrip("/"), cert_host,
                                image_host + image_path.rstrip("/"), spec.image_id)
                    if t
                )
            ),
            script_note=rf"{prefix}\d{{{_IDENTIFIER_DIGITS}}}\.js",
            script_url=re.compile(script_base + strict_rest, re.I),
            script_url_loose=re.compile(script_base + loose_rest, re.I),
            script_copy=re.compile(
                rf"(?<![A-Za-z0-9])({prefix}\d{{{_IDENTIFIER_DIGITS}}})\.js"
            ),
            certificate_url=re.compile(_url_prefix(cert_host) + cert_rest_full, re.I),
            image_url=re.compile(_url_prefix(image_host) + image_rest, re.I),
            script_scan=_scan(script_host, script_path_rx + strict_rest),
            script_scan_loose=_scan(script_host, script_path_rx + loose_rest_id),
            certificate_scan=_scan(cert_host, cert_rest_full),
            image_scan=_scan(image_host, image_rest),
            identifier=re.compile(rf"{prefix}\d{{{_IDENTIFIER_DIGITS}}}"),
            certificate=re.compile(r"[0-9A-F]{32}"),
        )

    def script_urls(self, text: str) -> Iterator[re.Match[str]]:
        """Badge script URLs (loosely: anything under the script base) in ``text``, each from
        its '//' (``url_start`` gives where it starts)."""
        return self.script_scan_loose.finditer(text)

    def strict_script_urls(self, text: str) -> Iterator[re.Match[str]]:
        """Well-formed badge script URLs (groups: path digits, identifier, its digits)."""
        return self.script_scan.finditer(text)

    def certificate_urls(self, text: str) -> Iterator[re.Match[str]]:
        return self.certificate_scan.finditer(text)

    def image_urls(self, text: str) -> Iterator[re.Match[str]]:
        return self.image_scan.finditer(text)

    def script_url_at(self, text: str, pos: int) -> re.Match[str] | None:
        """The badge script URL (loosely) whose host covers ``pos``, if any."""
        return _url_covering(self.script_url_loose, self.script_host, text, pos)

    def certificate_url_at(self, text: str, pos: int) -> re.Match[str] | None:
        """The certificate URL whose host covers ``pos``, if any."""
        return _url_covering(self.certificate_url, self.certificate_host, text, pos)


def _id_form(value: str) -> re.Pattern[str] | None:
    """An ``id`` attribute with this value, or more (any ``…id = "value…``), in lower-cased
    text: where a tag with that id may be; None for no value."""
    if not value:
        return None
    space = "[\t\n\f\r ]*+"
    return re.compile(rf"id{space}={space}[\"']?+{re.escape(value.lower())}")


def _prefilter(triggers: tuple[str, ...]) -> tuple[str, ...]:
    """The fewest needles whose absence proves every trigger absent: the longest substring
    all triggers share (``onac`` for the national registry) if it has four or more characters,
    else the triggers themselves. Each needle costs one full pass over the page."""
    shortest = min(triggers, key=len)
    for size in range(len(shortest), 3, -1):
        for start in range(len(shortest) - size + 1):
            core = shortest[start : start + size]
            if all(core in t for t in triggers):
                return (core,)
    return triggers


def _strong_hits(
    prefilter: tuple[str, ...], *, hosts: tuple[str, ...], ids: tuple[str, ...]
) -> re.Pattern[str]:
    """The hits worth stopping for: a badge host followed by what starts a path or a port, an
    escaped slash, or a closing quote and '+' (a URL built in pieces), or the span or image
    id. With a common core (``onac``) the pattern starts with it, so the search runs at the
    speed of a literal search and the rest is checked without leaving C."""
    forms = [(host, r"(?:[/\\%:]|[\"']\s*+\+)") for host in hosts] + [(name, "") for name in ids]
    if len(prefilter) == 1:
        core = prefilter[0]
        branches = []
        for literal, after in forms:
            before, _, rest = literal.partition(core)
            behind = f"(?<={re.escape(before + core)})" if before else ""
            branches.append(f"{behind}{re.escape(rest)}{after}")
        return re.compile(re.escape(core) + "(?:" + "|".join(branches) + ")")
    return re.compile("|".join(re.escape(literal) + after for literal, after in forms))


def _scan(host: str, rest: str) -> re.Pattern[str]:
    """A URL on ``host`` from its '//', the host in exact case (as URLs print it), the port
    and the rest in any case."""
    return re.compile("//" + re.escape(host) + rf"(?i:(?::\d+)?{rest})")


def url_start(text: str, match: re.Match[str]) -> int:
    """Where the URL found from its '//' starts: at its scheme if it has one."""
    start = match.start()
    if text[max(0, start - 6) : start].lower() == "https:":
        return start - 6
    if text[max(0, start - 5) : start].lower() == "http:":
        return start - 5
    return start


def _url_at_host(rx: re.Pattern[str], text: str, pos: int) -> re.Match[str] | None:
    """The URL whose host starts at ``pos``, tried from its longest possible start."""
    for scheme in (8, 7, 2):  # https://, http://, //
        if pos >= scheme and (scheme == 2 or text[pos - scheme : pos - 2].lower() in
                              ("https:", "http:")):
            m = rx.match(text, pos - scheme)
            if m is not None:
                return m
    return None


def _url_covering(rx: re.Pattern[str], host: str, text: str, pos: int) -> re.Match[str] | None:
    at = text.find(host, max(0, pos - len(host) + 1), pos + len(host))
    if at < 0 or at > pos:
        return None
    m = _url_at_host(rx, text, at)
    return m if m is not None and m.start() <= pos < m.end() else None


@lru_cache(maxsize=1)
def default_patterns() -> BadgePatterns:
    """Patterns of the default configuration (the national registry's hosts)."""
    return BadgePatterns.from_spec(BadgeSpec())


@dataclass(frozen=True, slots=True)
class SiteBadge:
    """A site's registration as the check needs it: the issued identifier (``CA…``), the
    certificate id shown by the registry (when known) and the deployment's patterns."""

    identifier: str
    certificate: str | None = None
    patterns: BadgePatterns = field(default_factory=default_patterns)

    def __post_init__(self) -> None:
        identifier = self.identifier.strip().upper()
        if not self.patterns.identifier.fullmatch(identifier):
            raise ValueError(
                f"site identifier {self.identifier!r} is not {self.patterns.identifier_prefix}"
                f" followed by {_IDENTIFIER_DIGITS} digits"
            )
        object.__setattr__(self, "identifier", identifier)
        if self.certificate is not None:
            certificate = self.certificate.strip().upper()
            if not self.patterns.certificate.fullmatch(certificate):
                raise ValueError(f"certificate {self.certificate!r} is not 32 hex digits")
            object.__setattr__(self, "certificate", certificate)


DEFAULT_FAILURES = frozenset(REASONS) - NOT_FAILURES - WARNINGS


@dataclass(frozen=True, slots=True)
class Policy:
    """Which reason codes make a page non-compliant. Refuses unknown codes at start-up, and
    refuses to fail a page for ``ok`` or for a fetch error (that page was never checked)."""

    failures: frozenset[str] = DEFAULT_FAILURES

    def __post_init__(self) -> None:
        unknown = set(self.failures) - set(REASONS)
        if unknown:
            raise ValueError(f"unknown reason codes in policy: {sorted(unknown)}")
        if NOT_FAILURES & self.failures:
            raise ValueError("ok and fetch_error can never be failures")

    @classmethod
    def from_codes(cls, codes: Iterable[str]) -> Policy:
        return cls(frozenset(codes))

    @classmethod
    def from_setting(cls, codes: Iterable[str] | None) -> Policy:
        """``[crawl] failing_reasons``: None is the default policy. The crawl, ``check`` and
        ``recheck`` all judge pages by this one reading of the setting."""
        return DEFAULT_POLICY if codes is None else cls.from_codes(codes)


DEFAULT_POLICY = Policy()

# ---------------------------------------------------------------------------------------------
# Results

Form = Literal["script", "docwrite", "injected", "scripted", "link", "image", "script_copy",
               "unknown"]
Runs = Literal["parse", "defer", "async"]
State = Literal["live", "static", "inactive", "broken"]


@dataclass(frozen=True, slots=True)
class BadgeFound:
    """One badge-like thing on the page, for reports and debugging.

    ``form``: script (``<script src>`` in markup), docwrite (written by ``document.write``),
    injected (inserted by script after load), scripted (in a script string whose use could not
    be followed), link / image (hard-coded rendered badge), script_copy (the script hosted
    elsewhere), unknown (the badge URL in broken or too deeply nested code: only a browser can
    tell what runs). A badge in content that never runs is named by what it is (script, link,
    image). ``why`` names what made it inactive or broken. ``offset`` is a character offset
    in the decoded page (for nested forms, the start of the enclosing script construct).
    ``runs``: when a live script runs: ``parse`` (while the page is parsed, in page order),
    ``defer`` (after parsing, in page order), ``async`` (as soon as it has loaded: async, or
    inserted by script)."""

    form: Form
    state: State
    why: str | None
    identifier: str | None
    certificate: str | None
    offset: int
    in_body: bool
    runs: Runs = "parse"


@dataclass(frozen=True, slots=True)
class PageVerdict:
    """The outcome for one page. ``reasons`` lists the deciding code(s) first, then warnings.
    ``offset``/``in_body`` locate the badge behind the first reason (a character offset in the
    decoded page). ``encoding`` is the codec used, or None when the page needed no decoding
    (text input, or no badge-like bytes at all). ``badges`` lists what was found in page
    order, but of findings that differ in nothing the verdict reads (form, state, reason,
    identifier, certificate, running order, inside the body or not) at most eight one by one,
    then only the first and the last: a pathological page of the same badge a thousand times
    lists ten, and its message still counts them all; every identifier and certificate is in
    ``identifiers``/``certificates``. ``work`` is what the check spent: characters read by each
    of its passes plus the steps it took in Python, which tests and ``bench/check.py`` use to
    show that it grows in proportion to the page."""

    verdict: Verdict
    reasons: tuple[str, ...]
    message: str
    identifiers: tuple[str, ...] = ()
    certificates: tuple[str, ...] = ()
    offset: int | None = None
    in_body: bool | None = None
    encoding: str | None = None
    badges: tuple[BadgeFound, ...] = ()
    work: int = 0
    footer: FooterNumbers | None = None  # read when the site has registered footer numbers

    @property
    def compliant(self) -> bool:
        return self.verdict == "compliant"

    def to_dict(self) -> dict[str, object]:
        """The JSON shape of ``badgewatch check --json`` (plus location details)."""
        return {
            "verdict": self.verdict,
            "reasons": list(self.reasons),
            "identifiers": list(self.identifiers),
            "certificates": list(self.certificates),
            "offset": self.offset,
            "in_body": self.in_body,
            "message": self.message,
        }


def fetch_failed(reason: str) -> PageVerdict:
    """The verdict for a page that could not be fetched: not checked, never a failure."""
    return PageVerdict(
        verdict="not_checked",
        reasons=("fetch_error",),
        message=f"页面未能获取（{reason}），本次没有检查该页面；这不会使网站被判为不合规。",
    )


# ---------------------------------------------------------------------------------------------
# Scanning

Mode = Literal["markup", "docwrite", "indirect", "injected", "inert"]
# How far from parse-time document.write a piece of markup was inserted; combining two levels
# keeps the farther one.
_MODE_RANK: dict[str, int] = {"markup": 0, "docwrite": 1, "indirect": 2, "injected": 3, "inert": 4}
_FORM_OF_MODE: dict[str, Form] = {
    "markup": "script",
    "docwrite": "docwrite",
    "indirect": "scripted",
    "injected": "injected",
    "inert": "injected",
}
_LIVE_FORMS = frozenset({"script", "docwrite", "injected", "scripted"})
_INJECT_METHODS = frozenset(
    {"html", "append", "prepend", "after", "before", "replaceWith", "appendTo", "prependTo",
     "insertAfter", "insertBefore", "wrap", "wrapInner", "wrapAll", "replaceAll", "add"}
)
_INERT_PROPERTIES = ("innerHTML", "outerHTML")
_JS_TYPES = frozenset(
    {"", "text/javascript", "application/javascript", "text/ecmascript",
     "application/ecmascript", "application/x-javascript", "text/jscript", "text/livescript",
     "text/x-javascript", "text/javascript1.0", "text/javascript1.1", "text/javascript1.2",
     "text/javascript1.3", "text/javascript1.4", "text/javascript1.5", "text/x-ecmascript"}
)
# A hash Chromium checks (anything else in ``integrity`` is ignored, and the script runs).
_INTEGRITY_HASH = re.compile(r"(?:sha256|sha384|sha512)-[A-Za-z0-9+/_-]+={0,2}(?:\?\S*)?")
# Why the content of a construct never runs (the keys of _INACTIVE_TEXT).
_REGION_WHY = {
    "comment": "comment",
    "noscript": "noscript",
    "math-script": "math",
    **{name: name for name in TEXT_ELEMENTS},
}
_LINK_CLOSE = re.compile(r"</a[\t\n\f\r />]", re.I)
_UNESCAPE_CALL = re.compile(r"unescape\s*+\(")
_IDENT_EXPR = re.compile(r"[A-Za-z_$][\w$]*+(?:\s*+\.\s*+[A-Za-z_$][\w$]*+)*+")
_WORD_END = re.compile(r"([A-Za-z_$][\w$]*)\s*$")
_SPACE = re.compile(r"\s*+")
# Markup in a script in a string is one level of html() and one of js(); the issued code
# written by a script that is itself written by a script (the deepest form seen on real pages)
# needs five. Eight allows four levels of document.write; what is nested deeper is read once,
# flat: each level re-reads its text, so the depth bounds the work. A badge found there is
# given the benefit of the doubt (form "unknown", why "nested"): the page is always in the
# site's render sample, and the browser decides. Content that never runs is not nested into.
_MAX_DEPTH = 8
# How far back from a string the code deciding where it goes is looked for.
_CONSUMER_WINDOW = 512


class _Ctx(NamedTuple):
    """Where a piece of text sits: why it cannot run (if so), how its markup gets into the page,
    which page offset to report for anything found in it, and whether its script runs only
    after the page is parsed (a module). (A NamedTuple with hand-written derivations:
    ``dataclasses.replace`` is measurably slow on this path.)"""

    inactive: str | None = None
    broken: str | None = None
    mode: Mode = "markup"
    origin: int | None = None
    late: bool = False

    def off(self, why: str) -> _Ctx:
        """Inside something that never runs (the first reason sticks)."""
        return _Ctx(self.inactive or why, self.broken, self.mode, self.origin, self.late)

    def fail(self, why: str) -> _Ctx:
        """Inside code that cannot run as written (the first reason sticks)."""
        return _Ctx(self.inactive, self.broken or why, self.mode, self.origin, self.late)

    def into(self, mode: Mode, origin: int) -> _Ctx:
        """Markup that reaches the page through ``mode``, reported at ``origin``."""
        return _Ctx(self.inactive, self.broken, _combine(self.mode, mode), origin, self.late)

    def at(self, origin: int, *, late: bool = False) -> _Ctx:
        """What is found inside is reported at ``origin`` (a <script> tag)."""
        return _Ctx(self.inactive, self.broken, self.mode, origin, late)


_TOP = _Ctx()


class _Found(NamedTuple):
    form: Form
    state: State
    why: str | None
    identifier: str | None
    certificate: str | None
    offset: int
    runs: Runs = "parse"


def _moved(f: _Found, delta: int) -> _Found:
    """``f`` ``delta`` characters further (``_replace`` is measurably slow here)."""
    return _Found(f.form, f.state, f.why, f.identifier, f.certificate, f.offset + delta, f.runs)


# A finding as recorded: (the finding, how many it stands for, how much further the last of
# them is). A plain tuple: one is made for every finding, and a NamedTuple costs a call.
_Logged: TypeAlias = tuple[_Found, int, int]


class _Seen(NamedTuple):
    """What looking at a construct gave: its findings (offsets relative to the construct
    when ``relative``) and whether it set the placeholder."""

    found: tuple[_Logged, ...]
    placeholder: bool
    relative: bool


# Findings of one group listed one by one in ``PageVerdict.badges``; beyond, only the first
# and the last of them (a page with more is made of the same badge again and again).
_LISTED = 8


class _Group:
    """Findings that differ in nothing the verdict reads: the same form, state, reason,
    identifier, certificate and running order, between the same two body boundaries (so
    inside the body or not alike). The verdict reads the first, the last and how many."""

    __slots__ = ("count", "first", "first_seq", "last", "last_seq", "listed")

    def __init__(self, first: _Found, last: _Found, count: int, seq: int) -> None:
        self.first, self.last, self.count = first, last, count
        self.first_seq = self.last_seq = seq
        # the findings listed one by one, made when a second comes (most groups hold one);
        # None: the first alone if it stood for one finding
        self.listed: list[tuple[_Found, int]] | None = None

    def add(self, f: _Found, last: _Found, times: int, seq: int) -> None:
        """Another finding (standing for ``times``, the last of them ``last``)."""
        if self.listed is None:
            self.listed = [(self.first, self.first_seq)] if self.count == 1 else []
        listed = self.listed
        self.count += times
        if times == 1 and len(listed) < _LISTED and self.count == len(listed) + 1:
            listed.append((f, seq))
        if f.offset < self.first.offset:
            self.first, self.first_seq = f, seq
        if last.offset > self.last.offset:
            self.last, self.last_seq = last, seq

    def entries(self) -> list[tuple[_Found, int, int]]:
        """(finding, sequence, how many it stands for): the listed ones, the first and the
        last; together they stand for all."""
        if self.listed is None:
            if self.last.offset == self.first.offset:
                return [(self.first, self.first_seq, self.count)]
            return [(self.first, self.first_seq, 1), (self.last, self.last_seq, self.count - 1)]
        out = {(seq, False): f for f, seq in self.listed}
        first, last = (self.first_seq, False), (self.last_seq, True)
        out.setdefault(first, self.first)
        if self.last.offset != self.first.offset and (self.last_seq, False) not in out:
            out[last] = self.last
        weights = dict.fromkeys(out, 1)
        weights[last if last in out else first] += self.count - len(out)
        return [(f, key[0], weights[key]) for key, f in out.items()]


# Constructs in a row that give nothing before the walk asks whether an id still matters.
_IDLE = 16
# Constructs up to this size are remembered by their text (the memory is at most the page);
# after this many in a row that were not seen before, no more (each costs a key and a copy,
# and a page of copies in a row is read once anyway, see walk_structure).
_MEMO_GIVE_UP = 256
_MEMO_SIZE = 65536


class _LinkEnds:
    """The next ``</a`` after a position in one text, searched forward only (a page of
    certificate links without ``</a>`` must not search to its end for each)."""

    __slots__ = ("at", "text")

    def __init__(self, text: str) -> None:
        self.text = text
        self.at = -1

    def after(self, pos: int) -> int:
        if self.at < pos:
            found = _LINK_CLOSE.search(self.text, pos)
            self.at = len(self.text) if found is None else found.start()
        return self.at


class _Scanner:
    """Collects every badge-like thing in a page, recursing from markup into scripts, from
    scripts into strings and ``unescape`` arguments, and back into markup. ``work`` adds up
    the characters each pass read and ``STEP`` for each step (see ``PageVerdict.work``)."""

    def __init__(self, patterns: BadgePatterns) -> None:
        self.p = patterns
        # every finding in the order found (what a construct gave, whether a string gave any),
        # and the same grouped (what the verdict reads): a page of a thousand identical-kind
        # badges costs one group
        self.log: list[_Logged] = []
        self.recorded = 0  # findings recorded so far (logged or not)
        self.keeping = 0  # while above 0 the log keeps what is recorded (a construct to
        # remember, a stretch that may be copied): most findings need no log
        self.groups: dict[tuple[object, ...], _Group] = {}
        self.boundaries: list[int] = []  # the page's, where inside_body may change
        self.placeholder = False  # a live <span id="_ideConac"> exists somewhere
        # the walks under way (a string's markup is walked inside the page's), each with the
        # hits it no longer stops at: the span id, the image id
        self.walks: list[tuple[HitPatterns, list[bool]]] = []
        self.depth = 0  # nesting of html()/js() calls; pathological nesting stops at _MAX_DEPTH
        self.work = 0
        self.memo: dict[tuple[object, ...], _Seen] = {}
        self.memo_misses = 0  # in a row: past _MEMO_GIVE_UP, constructs are not remembered
        self.images_seen = 0  # badge images met in markup: whether a stretch of it holds any

    # -- helpers ------------------------------------------------------------------------------

    def _has_trigger(self, text: str) -> bool:
        self.work += len(text)
        return any(t in text for t in self.p.trigger_text)

    def _may_hold_badge(self, text: str, *, code: bool = False) -> bool:
        """Whether ``text`` names anything a badge is made of (a script or image URL's base,
        the certificate host, the span or image id); most hits are a host or an id in passing,
        and this is cheap. In ``code`` the URL may still be escaped or cut into pieces
        joined by '+', so there it is whether a hit is in it at all."""
        self.work += len(text)
        if code:
            return self.p.hits.search(text) is not None
        return any(s in text for s in self.p.strong_text)

    @staticmethod
    def _at(base: int, pos: int, ctx: _Ctx) -> int:
        return ctx.origin if ctx.origin is not None else base + pos

    def _add(
        self,
        form: Form,
        state: State,
        ctx: _Ctx,
        offset: int,
        *,
        why: str | None = None,
        identifier: str | None = None,
        certificate: str | None = None,
        runs: Runs = "parse",
    ) -> None:
        self.work += STEP
        if ctx.inactive:
            state, why, runs = "inactive", ctx.inactive, "parse"
        elif ctx.broken and state in ("live", "broken"):
            state, why, runs = "broken", why or ctx.broken, "parse"
        self._record(_Found(form, state, why, identifier, certificate, offset, runs))

    def _add_urls(
        self, form: Form, state: State, ctx: _Ctx, text: str, base: int,
        urls: Iterator[re.Match[str]], *, group: int | None, certificates: bool = False,
        why: str | None = None, at: int | None = None,
    ) -> None:
        """A finding for each badge URL found in ``text`` (its identifier or certificate in
        ``group``; at its own place, or at ``at``), recorded as ``_add`` would one by one; but
        those beyond the eighth of the same identity are counted at the end: text naming a
        badge ten thousand times costs one count."""
        rest: dict[str | None, list[Any]] = {}  # identity: the first match, the last, count
        seen: dict[str | None, int] = {}
        for m in urls:
            identity = None if group is None else m.group(group)
            n = seen.get(identity, 0)
            seen[identity] = n + 1
            if n >= _LISTED:
                counted = rest.get(identity)
                if counted is None:
                    rest[identity] = [m, m, 1]
                else:
                    counted[1], counted[2] = m, counted[2] + 1
                continue
            offset = at if at is not None else self._at(base, url_start(text, m), ctx)
            value = identity.upper() if identity is not None else None
            if certificates:
                self._add(form, state, ctx, offset, why=why, certificate=value)
            else:
                self._add(form, state, ctx, offset, why=why, identifier=value)
        for identity, (first, last, count) in rest.items():
            self.work += STEP
            value = identity.upper() if identity is not None else None
            offsets = [at if at is not None else self._at(base, url_start(text, m), ctx)
                       for m in (first, last)]
            f = _Found(form, state, why, None if certificates else value,
                       value if certificates else None, offsets[0])
            if ctx.inactive:
                f = f._replace(state="inactive", why=ctx.inactive)
            elif ctx.broken and state in ("live", "broken"):
                f = f._replace(state="broken", why=why or ctx.broken)
            self._record(f, count, offsets[1] - offsets[0])

    def _record(self, f: _Found, times: int = 1, span: int = 0) -> None:
        """Log a finding that stands for ``times`` (the last ``span`` characters after it)."""
        seq = self.recorded
        self.recorded += 1
        if self.keeping:
            self.log.append((f, times, span))
        key = (f.form, f.state, f.why, f.identifier, f.certificate, f.runs,
               bisect_right(self.boundaries, f.offset))
        group = self.groups.get(key)
        last = f if not span else _moved(f, span)
        if group is None:
            self.groups[key] = _Group(f, last, times, seq)
        else:
            group.add(f, last, times, seq)

    def _identifier_in(self, url: str) -> str | None:
        match = self.p.script_copy.search(url)
        return match.group(1).upper() if match else None

    # -- markup -------------------------------------------------------------------------------

    def html(
        self,
        text: str,
        base: int,
        ctx: _Ctx,
        st: Structure | None = None,
    ) -> None:
        """Find badges in a piece of markup (the page, a comment, a decoded string)."""
        self._nested(self._html, text, base, ctx, st)

    def _nested(
        self, read: Callable[..., None], text: str, base: int, ctx: _Ctx, *more: Any
    ) -> None:
        """``read`` the piece one level deeper; what never runs is only inactive, and a piece
        nested beyond what the check follows is left to the browser."""
        if ctx.inactive:
            self._inactive(text, base, ctx)
            return
        if self.depth >= _MAX_DEPTH:
            self._raw(text, self._at(base, 0, ctx), ctx, "nested", "unknown", state="live")
            return
        self.depth += 1
        try:
            read(text, base, ctx, *more)
        finally:
            self.depth -= 1

    def _html(self, text: str, base: int, ctx: _Ctx, st: Structure | None) -> None:
        if st is None:
            st = Structure()
        links = _LinkEnds(text)
        link_until = -1
        hits = HitPatterns(self.p.hits, self.p.prefilter_text[0]
                           if len(self.p.prefilter_text) == 1 else None)
        dropped = [self.placeholder, False]
        hits.rx = hits.wide = self.p.narrowed[2 * dropped[0]]
        self.walks.append((hits, dropped))
        try:
            self._walk(text, base, ctx, st, hits, dropped, links, link_until)
        finally:
            self.walks.pop()
        self.work += st.work

    def _walk(
        self, text: str, base: int, ctx: _Ctx, st: Structure, hits: HitPatterns,
        dropped: list[bool], links: _LinkEnds, link_until: int,
    ) -> None:
        walk = walk_structure(st, text, hits, self.p.script_note)
        # where a construct starts: the log, link_until and the images seen so far
        marks: dict[int, tuple[int, int, int]] = {}
        answer: bool | None = None
        idle, recheck = 0, 0  # constructs in a row that gave nothing; see _narrow
        copying = False  # a stretch that may be copied is being read: the log keeps it
        try:
            while True:
                try:
                    region = walk.send(answer)
                except StopIteration:
                    break
                answer = None
                self.work += STEP
                if region.kind == "repeat":
                    mark = marks.get(region.start)
                    answer = mark is not None and self._same_copies(mark, region, link_until)
                    if answer:
                        assert mark is not None
                        self._copies(mark[0], region, ctx.origin is None)
                        if link_until != mark[1]:  # a link in it: where the last copy's ends
                            link_until = (
                                link_until + (region.repeat - 1) * region.stride
                                if link_until <= region.end
                                else links.after(region.start + region.repeat * region.stride)
                            )
                    if copying:
                        copying = False
                        self.keeping -= 1
                    continue
                here = ctx.off("template") if region.template else ctx
                at = base + region.start
                key: tuple[object, ...] | None = None
                before, placeholder = self.recorded, self.placeholder
                if region.copied:
                    if not copying:
                        copying = True
                        self.keeping += 1
                    marks[region.start] = (len(self.log), link_until, self.images_seen)
                if (region.kind != "tag" and region.end - region.start <= _MEMO_SIZE
                        and self.memo_misses < _MEMO_GIVE_UP):
                    # a page of the same construct again and again: look at it once (not a
                    # tag: cheap to look at, and an image inside a certificate link is that
                    # link's)
                    key = (region.kind, region.name, region.closed, here, self.depth,
                           text[region.start : region.end])
                    self.work += region.end - region.start
                    seen = self.memo.get(key)
                    if seen is not None:
                        self.memo_misses = 0
                        self._replay(seen, at)
                        continue
                    self.memo_misses += 1
                    self.keeping += 1
                logged = len(self.log)
                try:
                    until = self._region(text, region, base, here, links, link_until)
                finally:
                    if key is not None:
                        self.keeping -= 1
                if self.recorded > before or self.placeholder != placeholder:
                    idle = 0
                else:
                    idle += 1
                    if idle >= _IDLE and region.end >= recheck and not all(dropped):
                        idle, recheck = 0, self._narrow(text, region.end, hits, dropped)
                if key is not None and until == link_until:  # (a link moves it: no)
                    relative = here.origin is None
                    found = tuple(
                        (_moved(f, -at), times, span) if relative else (f, times, span)
                        for f, times, span in self.log[logged:]
                    )
                    self.memo[key] = _Seen(found, self.placeholder and not placeholder,
                                           relative)
                link_until = until
        finally:
            if copying:
                self.keeping -= 1

    def _placeholder_found(self) -> None:
        """A live placeholder span exists: from now on a span id alone stops no walk (it could
        only set this again; inside <svg> and <math> every hit still stops it)."""
        self.placeholder = True
        for hits, dropped in self.walks:
            dropped[0] = True
            hits.wide = self.p.narrowed[2 + dropped[1]]
            hits.rx = self.p.narrowed[3] if hits.until else hits.wide

    def _narrow(self, text: str, pos: int, hits: HitPatterns, dropped: list[bool]) -> int:
        """The walk keeps meeting constructs that give nothing: whether the span id and the
        image id can still matter in the rest of ``text``. An id alone matters only in a
        tag with that id (or in a srcdoc, where markup hides); up to the first such place
        ahead it stops the walk no more, and with none ahead, never. Returns where to look
        again. (A tag with an id is also read for an image URL in any case: with one ahead,
        ids keep mattering.)"""
        n = len(text)
        rest = text[pos:]
        low = rest.lower()  # (searched for literals: much faster than in any case)
        host = self.p.image_host
        self.work += 3 * len(rest)  # lower-cased once, searched for literals
        if len(low) != len(rest) or (host and low.count(host) != rest.count(host)):
            return n
        srcdoc = low.find("srcdoc")
        ahead = [n if srcdoc < 0 else pos + srcdoc] * 2
        for i, form in enumerate(self.p.id_forms):
            if not dropped[i] and form is not None:
                found = form.search(low, 0, ahead[i] - pos)
                if found is not None:
                    ahead[i] = pos + found.start()
        for i in (0, 1):
            dropped[i] = dropped[i] or ahead[i] == n
        hits.wide = self.p.narrowed[2 * dropped[0] + dropped[1]]
        hits.rx, hits.until = hits.wide, 0
        if not all(dropped):  # drop both until the first place an id may matter
            hits.rx, hits.until = self.p.narrowed[3], min(
                a for a, gone in zip(ahead, dropped, strict=True) if not gone)
        return hits.until or n

    def _region(
        self, text: str, region: Region, base: int, ctx: _Ctx, links: _LinkEnds,
        link_until: int,
    ) -> int:
        """One construct holding a hit; returns where a certificate link's ``</a>`` is."""
        kind = region.kind
        if kind == "tag":
            return self._tag(text, region, base, ctx, links, link_until)
        if kind == "script":
            self._script(text, region, base, ctx)
        elif kind == "svg-script":
            self._svg_script(text, region, base, ctx)
        else:
            if kind in TEXT_ELEMENTS and region.content_start > region.start:
                # the start tag of <iframe>, <textarea>…: srcdoc, or a URL in a value
                opening = Region("tag", region.start, region.content_start,
                                 region.start, region.content_start, region.name)
                link_until = self._tag(text, opening, base, ctx, links, link_until)
            start = region.start if kind == "math-script" else region.content_start
            end = region.end if kind == "math-script" else region.content_end
            self.html(text[start:end], base + start, ctx.off(_REGION_WHY[kind]))
        return link_until

    def _same_copies(
        self, mark: tuple[int, int, int], region: Region, link_until: int
    ) -> bool:
        """Whether each copy of the stretch read since ``mark`` gives what it gave: only a
        badge image depends on more than the copy's text, on the certificate link it may be
        in; so with images, no link from before the stretch may reach into it and none of
        its own into the next copy."""
        if self.images_seen == mark[2]:
            return True
        return mark[1] <= region.start and link_until <= region.end

    def _copies(self, before: int, region: Region, relative: bool) -> None:
        """The copies of a stretch that follows itself: what the first gave (logged from
        ``before`` on), ``stride`` characters further each time (the same place when reported
        at an enclosing construct)."""
        copies, stride = region.repeat - 1, region.stride if relative else 0
        given = self.log[before:]
        self.work += STEP * (1 + len(given))
        for f, times, span in given:
            self._record(_moved(f, stride), times * copies,
                         span + (copies - 1) * stride)

    def _replay(self, seen: _Seen, at: int) -> None:
        """What an identical construct in the same context gave, at this one's place."""
        self.work += STEP * (1 + len(seen.found))
        for f, times, span in seen.found:
            self._record(_moved(f, at) if seen.relative else f, times, span)
        if seen.placeholder:
            self._placeholder_found()

    def _tag(
        self, text: str, region: Region, base: int, ctx: _Ctx, links: _LinkEnds,
        link_until: int,
    ) -> int:
        """A start tag holding a hit: a certificate link, the badge image, the span, srcdoc,
        or a badge script's URL in an attribute value (where it never runs)."""
        start, end, name = region.start, region.end, region.name
        tag = text[start:end]
        self.work += len(tag)
        if not any(map(tag.__contains__, self.p.url_text)) and (
            self.p.span_id not in tag or self.placeholder or ctx.inactive
        ):
            return link_until  # a host in passing, or the span id once more: nothing new
        at = self._at(base, start, ctx)
        cert = self.p.certificate_scan.search(tag)
        if cert is not None and name != "iframe":  # (attributes matter to an iframe only)
            self._add("link", "static", ctx, at, certificate=cert.group(1).upper())
            return links.after(end)
        attrs = attributes(tag)
        if name == "iframe" and "srcdoc" in attrs:
            srcdoc = html_unescape(attrs["srcdoc"])
            if self._has_trigger(srcdoc):
                self.html(srcdoc, 0, ctx.into("markup", at))
            return link_until
        if cert is not None:
            self._add("link", "static", ctx, at, certificate=cert.group(1).upper())
            return links.after(end)
        if attrs.get("id") == self.p.span_id and not ctx.inactive:
            self._placeholder_found()
        if name == "img":
            if (
                attrs.get("id") == self.p.image_id
                or self.p.image_url.search(attrs.get("src", "")) is not None
            ):
                self.images_seen += 1
                if start >= link_until:
                    self._add("image", "static", ctx, at)
            return link_until
        attribute = ctx.off("attribute")
        for m in self.p.script_urls(tag):
            self._add("script", "inactive", attribute, at,
                      identifier=self._identifier_in(m.group()))
        return link_until

    def _script(self, text: str, region: Region, base: int, ctx: _Ctx) -> None:
        open_tag = text[region.start : region.content_start]
        attrs = attributes(open_tag)
        self.work += len(open_tag)
        script_type = attrs.get("type", "").split(";")[0].strip().lower()
        module = script_type == "module"
        if not ctx.inactive:
            if "nomodule" in attrs:
                ctx = ctx.off("nomodule")
            elif script_type not in _JS_TYPES and not module:
                ctx = ctx.off("dead_code")
        at = self._at(base, region.start, ctx)
        src = attrs.get("src")
        if src is not None:
            self._script_src(src, open_tag, attrs, at, ctx, module=module)
        content = text[region.content_start : region.content_end]
        if content and self._may_hold_badge(content, code=True):
            inner = ctx if src is None else ctx.off("dead_code")
            if inner.origin is None:  # report what is found inside at the <script> tag
                inner = inner.at(at, late=module)
            self.js(content, base + region.content_start, inner)

    def _svg_script(self, text: str, region: Region, base: int, ctx: _Ctx) -> None:
        """A <script> inside <svg>: it runs its text and loads ``href`` (not ``src``)."""
        open_tag = text[region.start : region.content_start]
        attrs = attributes(open_tag)
        at = self._at(base, region.start, ctx)
        if not region.closed:
            ctx = ctx.off("svg")  # something ended the <svg> first: the script never ran
        script_type = attrs.get("type", "").split(";")[0].strip().lower()
        if not ctx.inactive and script_type not in _JS_TYPES:
            ctx = ctx.off("dead_code")
        href = attrs.get("href", attrs.get("xlink:href"))
        if href is not None:
            self._script_src(href, open_tag, attrs, at, ctx)
        elif "src" in attrs:
            self._inactive(open_tag, region.start + base, ctx.off("svg"))
        content = text[region.content_start : region.content_end]
        if content and self._may_hold_badge(content, code=True):
            code = html_unescape(content.replace("<![CDATA[", "").replace("]]>", ""))
            self.js(code, base + region.content_start, ctx.at(at) if ctx.origin is None else ctx)

    def _script_src(
        self, src: str, open_tag: str, attrs: dict[str, str], at: int, ctx: _Ctx,
        *, module: bool = False,
    ) -> None:
        form = _FORM_OF_MODE[ctx.mode]
        url = self.p.script_url.fullmatch(src.strip())
        if url is not None:
            identifier = url.group(5).upper()
            why = None
            if not _path_matches(url):
                why = "url"
            elif ctx.mode == "inert":
                why = "inert"
            elif module:
                why = "module"
            elif any(_INTEGRITY_HASH.fullmatch(t) for t in attrs.get("integrity", "").split()):
                why = "integrity"
            elif "crossorigin" in attrs:
                why = "cors"
            if why is not None:
                self._add(form, "broken", ctx, at, why=why, identifier=identifier)
                return
            runs: Runs = "parse"
            if ctx.mode == "injected" or "async" in attrs:
                runs = "async"
            elif "defer" in attrs:
                runs = "defer"
            self._add(form, "live", ctx, at, identifier=identifier, runs=runs)
            return
        loose = next(self.p.script_urls(src), None)
        copy = self.p.script_copy.search(src)
        if loose is None and copy is not None:
            self._add("script_copy", "static", ctx, at, identifier=copy.group(1).upper())
            return
        if loose is None:
            loose = next(self.p.script_urls(open_tag), None)
        if loose is not None:
            self._add(form, "broken", ctx, at, why="url",
                      identifier=self._identifier_in(loose.group()))

    # -- JavaScript ---------------------------------------------------------------------------

    def js(self, src: str, base: int, ctx: _Ctx) -> None:
        """Find badges in a script: ``unescape`` calls, strings that carry markup, comments."""
        self._nested(self._js, src, base, ctx)

    def _js(self, src: str, base: int, ctx: _Ctx) -> None:
        self.work += 2 * len(src)  # the syntax pass and the pass over the hits
        error = js_syntax_error(src)
        if error is not None:  # none of it runs: every badge in it is broken
            self._raw(src, self._at(base, 0, ctx), ctx.fail(error), error, "unknown")
            return
        resume = 0
        for spot in js_spots(src, self.p.hits):
            self.work += STEP
            if spot.start < resume:
                continue  # inside an unescape call or broken code already read
            if spot.kind == "comment":
                body_start = spot.start + (4 if src.startswith("<!--", spot.start) else 2)
                body_end = spot.end - 2 if src.startswith("/*", spot.start) else spot.end
                self.js(src[body_start:body_end], base + body_start, ctx.off("js_comment"))
            elif spot.kind == "group":
                resume = self._group(src, spot.start, spot.end, base, ctx)
            else:
                resume = self._code(src, spot.start, resume, base, ctx)

    def _group(self, src: str, start: int, end: int, base: int, ctx: _Ctx) -> int:
        """A run of strings holding a hit: an ``unescape`` argument, or markup (or a URL) the
        script writes somewhere. Returns where reading goes on."""
        call = _unescape_before(src, start)
        if call is not None:
            return self._unescape(src, call, base, ctx)
        self.work += end - start
        value = js_group_value(src, start, end, closes=True)  # (a spot of js_spots)
        if not self._may_hold_badge(value):
            return end
        at = self._at(base, start, ctx)
        consumer = _consumer(src, start)
        fctx = ctx.into(consumer, at)
        if consumer == "docwrite" and ctx.late:
            fctx = fctx.fail("module")
        before = self.recorded
        self.html(value, 0, fctx)
        if self.recorded == before:
            self._loose_string(value, at, fctx)
        return end

    def _unescape(self, src: str, call: int, base: int, ctx: _Ctx) -> int:
        """``unescape(...)`` at ``call``: the issued code's form."""
        opening = _UNESCAPE_CALL.match(src, call)
        assert opening is not None
        at = self._at(base, call, ctx)
        args = _call_arguments(src, opening.end())
        if args is None:  # the argument is not a clean string expression: broken quotes
            stop = _line_end(src, opening.end())
            if not self._has_trigger(src[call:stop]):
                stop = min(len(src), opening.end() + 2000)
            self._raw(src[call:stop], at, ctx, "quote",
                      _FORM_OF_MODE[_combine(ctx.mode, "docwrite")])
            return stop
        values, end = args
        self.work += end - call
        raw = "".join(values)
        if not self._has_trigger(raw):
            return end
        fragment, bad_percent = js_unescape_checked(raw)
        consumer = _consumer(src, call)
        fctx = ctx.into(consumer, at)
        if consumer == "docwrite" and ctx.late:
            fctx = fctx.fail("module")
        if bad_percent or not tag_clean(fragment):
            fctx = fctx.fail("escape")
        before = self.recorded
        self.html(fragment, 0, fctx)
        if self.recorded == before:
            self._loose_string(fragment, at, fctx)
        return end

    def _code(self, src: str, hit: int, searched: int, base: int, ctx: _Ctx) -> int:
        """A hit in code, outside any string: the argument of an ``unescape`` call whose
        quotes broke, or a badge URL written as code (a syntax error). ``searched``: how far
        an earlier hit already looked for the call. Returns where reading goes on."""
        low = max(searched, hit - _CONSUMER_WINDOW)
        low = max(low, src.rfind("\n", low, hit) + 1, src.rfind("\r", low, hit) + 1)
        self.work += hit - low
        call = src.rfind("unescape", low, hit)
        opening = _UNESCAPE_CALL.match(src, call) if call >= 0 else None
        if opening is not None:
            args = _call_arguments(src, opening.end())
            if args is None or args[1] > hit:
                return self._unescape(src, call, base, ctx)
        resume = hit + 1
        for m in (self.p.script_url_at(src, hit), self.p.certificate_url_at(src, hit)):
            if m is not None:
                self._raw(m.group(), self._at(base, m.start(), ctx), ctx, "syntax", "unknown")
                resume = max(resume, m.end())
        return resume

    def _loose_string(self, value: str, at: int, ctx: _Ctx) -> None:
        """A badge URL in a script string without markup around it: a certificate link built
        by script, or the badge script loaded dynamically (which cannot document.write)."""
        for m in self.p.strict_script_urls(value):
            if ctx.mode == "docwrite" or not _path_matches(m):
                self._add("docwrite", "broken", ctx, at, why="escape",
                          identifier=m.group(5).upper())
            else:
                self._add("injected", "live", ctx, at, identifier=m.group(5).upper(),
                          runs="async")
        for m in self.p.certificate_urls(value):
            self._add("link", "static", ctx, at, certificate=m.group(1).upper())

    def _raw(
        self, raw: str, at: int, ctx: _Ctx, why: str, form: Form, *, state: State = "broken"
    ) -> None:
        """Badge URLs in text that is not in any runnable form (broken code), or nested past
        what the check follows (``state="live"``: undecided, left to the browser)."""
        self.work += len(raw)
        self._add_urls(form, state, ctx, raw, 0, self.p.script_urls(raw), group=1, why=why,
                       at=at)
        self._add_urls("link", "broken", ctx, raw, 0, self.p.certificate_urls(raw), group=1,
                       certificates=True, why=why, at=at)

    def _inactive(self, text: str, base: int, ctx: _Ctx) -> None:
        """Content that never runs (a comment, <noscript>, a text element, dead code): what
        matters is only which badges it names, however they are written, so it is searched
        for badge URLs once instead of being parsed."""
        if not self._may_hold_badge(text):
            return
        self._add_urls("script", "inactive", ctx, text, base, self.p.script_urls(text),
                       group=1)
        self._add_urls("link", "inactive", ctx, text, base, self.p.certificate_urls(text),
                       group=1, certificates=True)
        self._add_urls("image", "inactive", ctx, text, base, self.p.image_urls(text),
                       group=None)


def _path_matches(url: re.Match[str]) -> bool:
    """The script's file name repeats the digits of its path; a mismatch is a mangled URL."""
    return "".join(url.group(1, 2, 3, 4)) == url.group(6)[:17]


def _combine(outer: Mode, inner: Mode) -> Mode:
    return outer if _MODE_RANK[outer] >= _MODE_RANK[inner] else inner


def _line_end(src: str, pos: int) -> int:
    stops = [i for i in (src.find("\n", pos), src.find("\r", pos)) if i >= 0]
    return min(stops) if stops else len(src)


def _unescape_before(src: str, start: int) -> int | None:
    """The ``unescape(`` call whose argument the string at ``start`` opens (names joined by
    ``+`` may come first), looked for in a short stretch before it."""
    low = max(0, start - _CONSUMER_WINDOW)
    i = start
    for _ in range(32):
        i = _skip_back_space(src, i, low)
        if i > low and src[i - 1] == "(":
            j = _skip_back_space(src, i - 1, low) - 8
            if j >= low and src.startswith("unescape", j) and (
                j == 0 or not _is_name_char(src[j - 1])
            ):
                return j
            return None
        if i > low and src[i - 1] == "+":
            i = k = _skip_back_space(src, i - 1, low)
            while k > low and (_is_name_char(src[k - 1]) or src[k - 1] == "."):
                k -= 1
            if k == i:
                return None
            i = k
            continue
        return None
    return None


def _is_name_char(char: str) -> bool:
    return char.isalnum() or char in "_$"


def _skip_back_space(text: str, i: int, low: int = 0) -> int:
    while i > low and text[i - 1].isspace():
        i -= 1
    return i


def _call_arguments(src: str, pos: int) -> tuple[list[str], int] | None:
    """The string values of a call's single argument made of string literals and names joined
    by ``+`` (names contribute nothing), and the end of the call; None if it is anything else,
    which for a badge means its quotes were broken."""
    values: list[str] = []
    for _ in range(len(src)):
        pos = _SPACE.match(src, pos).end()  # type: ignore[union-attr]
        if pos < len(src) and src[pos] in "\"'`":
            end, closes = js_group(src, pos)
            if end <= pos or end > len(src):
                return None
            values.append(js_group_value(src, pos, end, closes=closes))
            pos = end
        else:
            name = _IDENT_EXPR.match(src, pos)
            if name is None:
                return None
            pos = name.end()
        pos = _SPACE.match(src, pos).end()  # type: ignore[union-attr]
        if src.startswith("+", pos):
            pos += 1
            continue
        if src.startswith(")", pos):
            return values, pos + 1
        return None
    return None


def _consumer(src: str, start: int) -> Mode:
    """How the expression starting at ``start`` reaches the page: the argument of
    ``document.write``, of a jQuery insertion, an ``innerHTML`` assignment, or unknown. Only
    a short stretch before it is read."""
    low = max(0, start - _CONSUMER_WINDOW)
    i = start
    for _ in range(64):
        i = _skip_back_space(src, i, low)
        if i > low and src[i - 1] == "+":
            i = _skip_back_space(src, i - 1, low)
            before = _operand_start(src, low, i)
            if before is None:
                break
            i = before
            continue
        break
    if i == 0:
        return "indirect"
    char = src[i - 1]
    if char == "(":
        word = _WORD_END.search(src, max(0, i - 65), i - 1)
        name = word.group(1) if word else ""
        if name in ("write", "writeln"):
            return "docwrite"
        if name in _INJECT_METHODS:
            return "injected"
        if name == "insertAdjacentHTML":
            return "inert"
        return "indirect"
    if char == "=" and (i < 2 or src[i - 2] not in "=!<>"):
        lhs = src[max(0, i - 80) : i - 1].rstrip().rstrip("+").rstrip()
        if lhs.endswith(_INERT_PROPERTIES):
            return "inert"
        return "indirect"
    if char == ",":
        window = src[max(0, i - 120) : i]
        if re.search(r"insertAdjacentHTML\s*\([^()]*$", window):
            return "inert"
    return "indirect"


def _operand_start(src: str, low: int, i: int) -> int | None:
    """Start of the operand (a string literal or a name) ending at ``i``, or None."""
    if i <= low:
        return None
    quote = src[i - 1]
    if quote in "\"'`":
        j = i - 1
        while True:
            j = src.rfind(quote, low, j)
            if j < 0:
                return None
            slashes = 0
            while j - slashes - 1 >= low and src[j - slashes - 1] == "\\":
                slashes += 1
            if slashes % 2 == 0:
                return j
    word = _WORD_END.search(src, max(low, i - 64), i)
    return word.start() if word is not None else None


# ---------------------------------------------------------------------------------------------
# The check

# Where an inactive badge sits, as the sentence "网站标识代码位于…" goes on.
_INACTIVE_TEXT = {
    "comment": "HTML 注释（<!-- -->）中",
    "noscript": "<noscript> 标签中",
    "template": "<template> 标签中",
    "js_comment": "脚本注释（// 或 /* */）中",
    "dead_code": "不会执行的脚本中（type 不是 JavaScript，或写在带 src 的 <script> 内）",
    "nomodule": "带 nomodule 属性的 <script> 中（现代浏览器不执行这类脚本）",
    "attribute": "HTML 标签的属性值中（例如 data-…=\"…\"、value=\"…\"），只是一段文字",
    "svg": "<svg> 图形中（SVG 里的 <script> 不按 src 加载脚本）",
    "math": "<math> 公式中（其中的 <script> 不是脚本）",
    "textarea": "<textarea> 中，作为文字显示",
    "xmp": "<xmp> 中，作为文字显示",
    "plaintext": "<plaintext> 之后，作为文字显示",
    "title": "<title> 中，作为网页标题文字",
    "iframe": "<iframe> 与 </iframe> 之间（浏览器不显示这里的内容）",
    "noembed": "<noembed> 中（浏览器不显示这里的内容）",
    "noframes": "<noframes> 中（浏览器不显示这里的内容）",
    "style": "<style> 样式表中",
}
_BROKEN_TEXT = {
    "escape": "转义字符在复制时被改动（例如 %3E3C），代码无法还原成标识脚本",
    "quote": "引号不匹配，脚本有语法错误",
    "syntax": "所在的脚本有语法错误，整段脚本不会执行",
    "url": "标识脚本的地址不完整、引号被改动，或地址与标识编号不一致",
    "deferred": "标识脚本在页面加载后才由脚本插入，而页面中没有 <span id=\"{span}\"> 占位，"
    "标识无法显示",
    "inert": "标识脚本通过 innerHTML 等方式插入，浏览器不会执行这样插入的脚本",
    "module": "标识代码写在 type=\"module\" 的脚本中：模块脚本在页面解析完后才运行，不能用 "
    "document.write 写出标识，而且按跨域方式请求标识脚本，会被浏览器拦截",
    "integrity": "标识脚本带有 integrity 校验值：浏览器要求标识服务器允许跨域读取、内容与校验值"
    "完全一致，否则拒绝执行（标识脚本由注册管理中心维护，会更新）",
    "cors": "标识脚本带有 crossorigin 属性：浏览器按跨域方式请求，标识服务器不允许跨域读取，"
    "浏览器拒绝执行",
}


def _problem(found: BadgeFound) -> str:
    if found.state == "inactive":
        return "badge_inactive"
    if found.state == "broken":
        return "badge_broken"
    if found.state == "static":
        return "badge_static_copy"
    return "ok" if found.in_body else "badge_outside_body"


def _mine(found: BadgeFound, site: SiteBadge) -> bool:
    """Whether a badge belongs to the site; one carrying neither identifier nor certificate,
    or only a certificate when the site's certificate is unknown, gets the benefit of doubt."""
    if found.identifier is not None:
        return found.identifier == site.identifier
    if found.certificate is not None and site.certificate is not None:
        return found.certificate == site.certificate
    return True


def _unique(values: Iterable[str | None]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(v for v in values if v is not None))


def _quick_malformed(body: bytes | str) -> bool | None:
    """Malformed-markup test for pages without badge hits: False when clearly fine, None when
    a real scan must decide (the extra tags may sit in comments or scripts)."""
    rx = _BOUNDARY_TEXT if isinstance(body, str) else _BOUNDARY_BYTES
    counts = [0, 0, 0]
    last_html = -1
    for m in rx.finditer(body):  # type: ignore[arg-type]
        kind = m.lastindex or 0
        counts[kind - 1] += 1
        if counts[kind - 1] > 1:
            return None
        if kind == 2:
            last_html = m.end()
    if last_html >= 0 and not tail_is_quiet(body, last_html):
        return None
    return False


_BOUNDARY_TEXT = re.compile(r"<(?=[/bB])(?:(/body)|(/html)[^>]*+>|(body)(?=[\s/>]))", re.I)
_BOUNDARY_BYTES = re.compile(rb"<(?=[/bB])(?:(/body)|(/html)[^>]*+>|(body)(?=[\s/>]))", re.I)


def check_page(
    body: bytes | str,
    site: SiteBadge,
    policy: Policy = DEFAULT_POLICY,
    *,
    charset: str | None = None,
    footer: FooterRegistration | None = None,
) -> PageVerdict:
    """Decide what the page's markup says about the site's badge, and, when the site has
    registered footer numbers (``footer``), whether its footer shows them (warnings unless
    the policy lists them: the badge decides compliance; ``crawler.checks.footer``).

    ``body`` is the page as fetched (bytes; ``charset`` is the HTTP-declared one, if any) or
    already decoded text. Never raises for page content: every outcome is a verdict.
    """
    verdict = _check_badge(body, site, policy, charset=charset)
    if not footer:
        return verdict
    numbers = read_footer(body, charset)
    findings = footer_findings(numbers, footer)
    if not findings:
        return replace(verdict, footer=numbers)
    reasons = (*verdict.reasons, *(code for code, _ in findings))
    message = verdict.message + "".join(
        f"{reason_text(code)}：{detail}请{reason_advice(code)}。" for code, detail in findings
    )
    failing = any(code in policy.failures for code, _ in findings)
    return replace(
        verdict, reasons=reasons, message=message, footer=numbers,
        verdict="non_compliant" if failing else verdict.verdict,
    )


def _check_badge(
    body: bytes | str,
    site: SiteBadge,
    policy: Policy,
    *,
    charset: str | None,
) -> PageVerdict:
    """The badge part of :func:`check_page`."""
    patterns = site.patterns
    encoding: str | None = None
    if isinstance(body, bytes):
        if ascii_compatible(sniff_encoding(body, charset)) and (
            not any(t in body for t in patterns.prefilter_bytes)
            or not any(t in body for t in patterns.trigger_bytes)
        ):
            work = 3 * len(body)  # the needle searches and the boundary pass
            malformed = _quick_malformed(body)
            if malformed is None:
                text, encoding = decode_page(body, charset)
                plain = scan_structure(text)
                malformed, work = plain.malformed, work + plain.work
            return _decide(site, policy, [], malformed, False, encoding, work)
        text, encoding = decode_page(body, charset)
    else:
        text = body
    work = len(text)
    if not any(t in text for t in patterns.prefilter_text) or not any(
        t in text for t in patterns.trigger_text
    ):
        work += 2 * len(text)
        malformed = _quick_malformed(text)
        if malformed is None:
            plain = scan_structure(text)
            malformed, work = plain.malformed, work + plain.work
        return _decide(site, policy, [], malformed, False, encoding, work)

    structure = Structure()
    scanner = _Scanner(patterns)
    scanner.boundaries = structure.boundaries
    scanner.html(text, 0, _TOP, structure)
    entries: list[tuple[int, int, BadgeFound, int]] = []
    for group in scanner.groups.values():
        for f, seq, weight in group.entries():
            state, why, runs = f.state, f.why, f.runs
            if state == "live" and runs != "parse" and not scanner.placeholder:
                state, why, runs = "broken", "deferred", "parse"
            found = BadgeFound(f.form, state, why, f.identifier, f.certificate, f.offset,
                               structure.inside_body(f.offset), runs)
            entries.append((f.offset, seq, found, weight))
    entries.sort()
    return _decide(site, policy, [e[2] for e in entries], structure.malformed,
                   scanner.placeholder, encoding, work + scanner.work + len(entries),
                   [e[3] for e in entries])


def _may_run_last(badges: list[BadgeFound]) -> list[BadgeFound]:
    """The live badge scripts that may run last, and so fill the page's first
    ``<span id="_ideConac">`` with their badge: the last of those that run in order (while
    the page is parsed, then the ``defer`` ones), and every one that runs as soon as it has
    loaded (``async``, or inserted by script), which may be before or after the others."""
    running = [b for b in badges if b.state == "live" and b.form in _LIVE_FORMS]
    maybe = [b for b in running if b.runs == "async"]
    ordered = [b for b in running if b.runs != "async"]
    if ordered:
        maybe.append(max(ordered, key=lambda b: (b.runs == "defer", b.offset)))
    return maybe


def _decide(
    site: SiteBadge,
    policy: Policy,
    badges: list[BadgeFound],
    malformed: bool,
    placeholder: bool,
    encoding: str | None,
    work: int,
    weights: list[int] | None = None,
) -> PageVerdict:
    """The verdict on what was found; ``weights``: how many findings each entry of
    ``badges`` stands for (one each when None)."""
    own = [b for b in badges if _mine(b, site)]
    others = [b for b in badges if not _mine(b, site)]
    shown_others = [b for b in others if b.state in ("live", "static")]
    decisive: BadgeFound | None = None
    own_ok = [b for b in own if _problem(b) == "ok"]
    last = next((b for b in _may_run_last(badges) if not _mine(b, site)), None)
    overwritten = bool(own_ok) and last is not None
    if overwritten:
        main = {"badge_other_site"}
        decisive = last
    elif own_ok:
        main = {"ok"}
        decisive = own_ok[0]
    elif own:
        main = {_problem(b) for b in own}
        if shown_others:
            main.add("badge_other_site")
    elif others:
        main = {"badge_other_site"}
    else:
        main = {"badge_missing"}
    reasons = sorted(main, key=_ORDER.__getitem__)
    if decisive is None and reasons[0] == "badge_other_site":
        decisive = (shown_others or others)[0]
    elif decisive is None and own:
        decisive = next(b for b in own if _problem(b) == reasons[0])
    shown = sum(
        weight for b, weight in zip(badges, weights or [1] * len(badges), strict=True)
        if (b.state == "live" and b.form in _LIVE_FORMS)
        or (b.state == "static" and b.form in ("link", "image"))
    )
    if shown > 1:
        reasons.append("badge_duplicate")
    if malformed:
        reasons.append("markup_malformed")
    verdict: Verdict = (
        "non_compliant" if any(r in policy.failures for r in reasons) else "compliant"
    )
    return PageVerdict(
        verdict=verdict,
        reasons=tuple(reasons),
        message=_message(reasons, site, own, others, shown, placeholder,
                         last if overwritten else None),
        identifiers=_unique(b.identifier for b in badges),
        certificates=_unique(b.certificate for b in badges),
        offset=decisive.offset if decisive else None,
        in_body=decisive.in_body if decisive else None,
        encoding=encoding,
        badges=tuple(badges),
        work=work,
    )


def _message(
    reasons: list[str],
    site: SiteBadge,
    own: list[BadgeFound],
    others: list[BadgeFound],
    shown: int,
    placeholder: bool,
    overwriting: BadgeFound | None,
) -> str:
    """Chinese text for the webmaster: what is wrong on this page, then what to do (the advice
    of ``badgewatch.vocabulary``, the same the unit's notice gives)."""
    span = site.patterns.span_id
    parts: list[str] = []
    for reason in reasons:
        if reason == "ok":
            parts.append(
                f"本页已加挂本网站的网站标识（{site.identifier}），代码有效，位于页面正文"
                "（<body>）内。"
            )
            continue
        if reason == "badge_missing":
            text = "本页没有找到网站标识。"
            if placeholder:
                text += f"页面中只有空的 <span id=\"{span}\"> 占位，缺少标识脚本。"
        elif reason == "badge_other_site" and overwriting is not None:
            text = (
                f"页面上显示的网站标识属于其他网站（{overwriting.identifier}）：本网站的标识代码"
                f"（{site.identifier}）之后还有其他网站的标识代码，后运行的会覆盖本网站的标识。"
            )
        elif reason == "badge_other_site":
            names = "、".join(_unique(b.identifier or b.certificate for b in others)) or "未知"
            text = (
                f"页面上的网站标识属于其他网站（{names}），不是本网站的标识"
                f"（{site.identifier}）。"
            )
        elif reason == "badge_inactive":
            where = "、".join(
                _unique(_INACTIVE_TEXT.get(b.why or "", "注释中") for b in own
                        if b.state == "inactive")
            )
            space = " " if where.startswith("<") else ""
            text = f"网站标识代码位于{space}{where}，浏览器不会执行，页面上看不到标识。"
        elif reason == "badge_outside_body":
            text = (
                "网站标识代码位于 <head> 中，或在页面最后一个 </body>、</html> 之后，"
                "不在页面正文内。"
            )
        elif reason == "badge_static_copy":
            text = (
                "页面上的网站标识是复制下来的静态链接、图片或脚本副本，没有从注册管理中心加载标识"
                "脚本，无法反映标识的实时状态。"
            )
        elif reason == "badge_broken":
            why = "；".join(
                _unique(_BROKEN_TEXT.get(b.why or "", "代码不完整").replace("{span}", span)
                        for b in own if b.state == "broken")
            )
            text = f"网站标识代码已损坏：{why}。"
        elif reason == "badge_duplicate":
            text = f"页面上共有 {shown} 处网站标识。"
        elif reason == "markup_malformed":
            text = (
                "页面包含多个 <body>、</body> 或 </html>，或 </html> 之后还有内容；"
                "标识按是否位于最后一个 </body> 之前判断。"
            )
        else:
            continue
        parts.append(f"{text}请{reason_advice(reason)}。")
    return "".join(parts)
