"""What a page's markup says about its site badge (网站标识): a pure function of the page.

``check_page(body, site)`` returns a :class:`PageVerdict` with reason codes and a message in
Chinese a webmaster understands. It imports neither Scrapy nor SQLAlchemy, so the crawler, the
``badgewatch check`` command and the browser check all share it.

How it stays fast: almost every page carries no badge-like bytes at all, so the first step is
one byte search for the core every badge literal shares (``onac`` in ``dcs.conac.cn``,
``bszs.conac.cn``, ``_ideConac``, ``imgConac``: hosts and ids come from configuration), then
for the literals themselves, matched in exact case (hosts as URLs print them, ids as
``getElementById`` needs them; a host typed in capitals is not recognised). Only pages with a
hit are decoded and scanned once for comments, raw-text elements and body boundaries; then only
the regions around the hits are examined closely, recursing into JavaScript strings and
``unescape`` arguments. No tree is built.

Decisions worth knowing (evidence: ``research/badge-formats.md`` and the corpus):

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
* A hard-coded copy of the rendered link or image, or a copy of the script hosted elsewhere,
  is ``badge_static_copy`` unless a live badge of this site is also present.
* Trailing spaces inside the script URL are harmless (browsers strip them); broken escapes
  (``%3E3C``), broken quotes and mismatched identifier digits are ``badge_broken``.
* A badge counts as inside the body when it is after ``<body>`` (or ``</head>``) and before the
  document's last ``</body>`` and last ``</html>``; several of those is the warning
  ``markup_malformed``, never a failure by default.
* "Dead code" means a ``<script>`` whose type is not JavaScript, or inline text of a
  ``<script src>`` (browsers ignore it). Code behind ``if (false)`` is not recognised as dead.
* A copy of the script hosted elsewhere is only noticed when a badge host or the span id also
  appears on the page (the fast pre-scan looks for nothing else).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Literal, NamedTuple
from urllib.parse import urlsplit

from badgewatch.config import BadgeConfig
from crawler.checks.markup import (
    JsLex,
    JsToken,
    Structure,
    ascii_compatible,
    attributes,
    decode_page,
    enclosing_tag,
    has_bad_percent,
    js_string_value,
    js_unescape,
    lex_js,
    scan_structure,
    sniff_encoding,
    tag_clean,
    tail_is_quiet,
)

Verdict = Literal["compliant", "non_compliant", "not_checked"]

REASONS: tuple[str, ...] = (
    "ok",
    "badge_missing",
    "badge_other_site",
    "badge_inactive",
    "badge_outside_body",
    "badge_static_copy",
    "badge_broken",
    "badge_duplicate",
    "markup_malformed",
    "fetch_error",
)
WARNINGS = frozenset({"badge_duplicate", "markup_malformed"})
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
    """Everything that recognises this deployment's badge, compiled from ``BadgeConfig`` once,
    so no badge host or file name is a literal in the checker."""

    span_id: str
    image_id: str
    identifier_prefix: str
    script_host: str
    certificate_host: str
    trigger_bytes: tuple[bytes, ...]
    trigger_text: tuple[str, ...]
    prefilter_bytes: tuple[bytes, ...]
    prefilter_text: tuple[str, ...]
    script_url: re.Pattern[str]
    script_url_loose: re.Pattern[str]
    script_copy: re.Pattern[str]
    certificate_url: re.Pattern[str]
    image_url: re.Pattern[str]
    identifier: re.Pattern[str]
    certificate: re.Pattern[str]

    @classmethod
    def from_config(cls, config: BadgeConfig) -> BadgePatterns:
        script_host, script_path = _host_and_path(config.script_base)
        image_host, image_path = _host_and_path(config.image_base)
        before, _, after = config.certificate_url.partition("{certificate}")
        cert_host, cert_rest = _host_and_path(before)
        cert_rest_rx = re.escape(cert_rest).replace("&", "&(?:amp;)?")
        prefix = re.escape(config.identifier_prefix)
        digits = "/".join(rf"(\d{{{n}}})" for n in _PATH_DIGITS)
        script_base = _url_prefix(script_host) + re.escape(script_path.rstrip("/"))
        names = "|".join(
            re.escape(name)
            for name in (
                config.image_party,
                config.image_institution,
                config.image_party_error,
                config.image_institution_error,
            )
        )
        # Exact-case literals: hosts as URLs print them, ids as getElementById needs them.
        triggers = tuple(
            dict.fromkeys(
                t for t in (script_host, cert_host, image_host, config.span_id, config.image_id)
                if t
            )
        )
        return cls(
            span_id=config.span_id,
            image_id=config.image_id,
            identifier_prefix=config.identifier_prefix,
            script_host=script_host,
            certificate_host=cert_host,
            trigger_bytes=tuple(t.encode("ascii") for t in triggers),
            trigger_text=triggers,
            prefilter_bytes=tuple(t.encode("ascii") for t in _prefilter(triggers)),
            prefilter_text=_prefilter(triggers),
            script_url=re.compile(
                rf"{script_base}/{digits}/({prefix}(\d{{{_IDENTIFIER_DIGITS}}}))\.js"
                r"(?:[?#][^\s\"'<>]*)?",
                re.I,
            ),
            script_url_loose=re.compile(rf"{script_base}/[^\s\"'<>()\\]*", re.I),
            script_copy=re.compile(
                rf"(?<![A-Za-z0-9])({prefix}\d{{{_IDENTIFIER_DIGITS}}})\.js"
            ),
            certificate_url=re.compile(
                _url_prefix(cert_host) + cert_rest_rx + r"([0-9A-Fa-f]{32})" + re.escape(after),
                re.I,
            ),
            image_url=re.compile(
                _url_prefix(image_host) + re.escape(image_path.rstrip("/")) + rf"/({names})",
                re.I,
            ),
            identifier=re.compile(rf"{prefix}\d{{{_IDENTIFIER_DIGITS}}}"),
            certificate=re.compile(r"[0-9A-F]{32}"),
        )

    def script_urls(self, text: str) -> Iterator[re.Match[str]]:
        """Badge script URLs (loosely: anything under the script base) in ``text``."""
        return _anchored(self.script_url_loose, self.script_host, text)

    def strict_script_urls(self, text: str) -> Iterator[re.Match[str]]:
        """Well-formed badge script URLs (groups: path digits, identifier, its digits)."""
        return _anchored(self.script_url, self.script_host, text)

    def certificate_urls(self, text: str) -> Iterator[re.Match[str]]:
        return _anchored(self.certificate_url, self.certificate_host, text)


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


def _anchored(rx: re.Pattern[str], host: str, text: str) -> Iterator[re.Match[str]]:
    """``rx.finditer(text)`` for a URL pattern on ``host``, but driven by ``str.find`` of the
    host: a case-insensitive pattern with an optional scheme has no literal prefix, and
    scanning every position with it costs more than the rest of the check."""
    pos = text.find(host)
    while pos >= 0:
        m = rx.search(text, max(0, pos - 8), pos + len(host) + 512)
        if m is not None and m.start() <= pos:
            yield m
            pos = text.find(host, max(m.end(), pos + 1))
        else:
            pos = text.find(host, pos + 1)


@lru_cache(maxsize=1)
def default_patterns() -> BadgePatterns:
    """Patterns of the default configuration (the national registry's hosts)."""
    return BadgePatterns.from_config(BadgeConfig())


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


DEFAULT_FAILURES = frozenset(REASONS) - {"ok", "fetch_error"} - WARNINGS


@dataclass(frozen=True, slots=True)
class Policy:
    """Which reason codes make a page non-compliant. Refuses unknown codes at start-up, and
    refuses to fail a page for ``ok`` or for a fetch error (that page was never checked)."""

    failures: frozenset[str] = DEFAULT_FAILURES

    def __post_init__(self) -> None:
        unknown = set(self.failures) - set(REASONS)
        if unknown:
            raise ValueError(f"unknown reason codes in policy: {sorted(unknown)}")
        if {"ok", "fetch_error"} & self.failures:
            raise ValueError("ok and fetch_error can never be failures")

    @classmethod
    def from_codes(cls, codes: Iterable[str]) -> Policy:
        return cls(frozenset(codes))


DEFAULT_POLICY = Policy()

# ---------------------------------------------------------------------------------------------
# Results

Form = Literal["script", "docwrite", "injected", "scripted", "link", "image", "script_copy",
               "unknown"]
State = Literal["live", "static", "inactive", "broken"]


@dataclass(frozen=True, slots=True)
class BadgeFound:
    """One badge-like thing on the page, for reports and debugging.

    ``form``: script (``<script src>`` in markup), docwrite (written by ``document.write``),
    injected (inserted by script after load), scripted (in a script string whose use could not
    be followed), link / image (hard-coded rendered badge), script_copy (the script hosted
    elsewhere), unknown (the badge URL outside any form that runs). ``why`` names what made it
    inactive or broken. ``offset`` is a character offset in the decoded page (for nested forms,
    the start of the enclosing script construct)."""

    form: Form
    state: State
    why: str | None
    identifier: str | None
    certificate: str | None
    offset: int
    in_body: bool


@dataclass(frozen=True, slots=True)
class PageVerdict:
    """The outcome for one page. ``reasons`` lists the deciding code(s) first, then warnings.
    ``offset``/``in_body`` locate the badge behind the first reason (a character offset in the
    decoded page). ``encoding`` is the codec used, or None when the page needed no decoding
    (text input, or no badge-like bytes at all)."""

    verdict: Verdict
    reasons: tuple[str, ...]
    message: str
    identifiers: tuple[str, ...] = ()
    certificates: tuple[str, ...] = ()
    offset: int | None = None
    in_body: bool | None = None
    encoding: str | None = None
    badges: tuple[BadgeFound, ...] = ()

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
    {"", "text/javascript", "application/javascript", "module", "text/ecmascript",
     "application/ecmascript", "application/x-javascript", "text/jscript", "text/livescript",
     "text/x-javascript", "text/javascript1.0", "text/javascript1.1", "text/javascript1.2",
     "text/javascript1.3", "text/javascript1.4", "text/javascript1.5", "text/x-ecmascript"}
)
_LINK_CLOSE = re.compile(r"</a[\s>]", re.I)
_UNESCAPE_CALL = re.compile(r"unescape\s*\(")
_IDENT_EXPR = re.compile(r"[A-Za-z_$][\w$]*(?:\s*\.\s*[A-Za-z_$][\w$]*)*")
_WORD_END = re.compile(r"([A-Za-z_$][\w$]*)\s*$")
_CONCAT_GAP = re.compile(r"\s*\+\s*(?:[A-Za-z_$][\w$.]*\s*\+\s*)*")


class _Ctx(NamedTuple):
    """Where a piece of text sits: why it cannot run (if so), how its markup gets into the page,
    and which page offset to report for anything found in it. (A NamedTuple with hand-written
    derivations: ``dataclasses.replace`` is measurably slow on this path.)"""

    inactive: str | None = None
    broken: str | None = None
    mode: Mode = "markup"
    origin: int | None = None

    def off(self, why: str) -> _Ctx:
        """Inside something that never runs (the first reason sticks)."""
        return _Ctx(self.inactive or why, self.broken, self.mode, self.origin)

    def fail(self, why: str) -> _Ctx:
        """Inside code that cannot run as written (the first reason sticks)."""
        return _Ctx(self.inactive, self.broken or why, self.mode, self.origin)

    def into(self, mode: Mode, origin: int) -> _Ctx:
        """Markup that reaches the page through ``mode``, reported at ``origin``."""
        return _Ctx(self.inactive, self.broken, _combine(self.mode, mode), origin)


_TOP = _Ctx()
# Real pages nest markup in scripts in strings at most three or four levels deep; the limit
# only stops pathological input (a line of slashes is a comment in a comment in a comment…).
_MAX_DEPTH = 24


@dataclass(slots=True)
class _Found:
    form: Form
    state: State
    why: str | None
    identifier: str | None
    certificate: str | None
    offset: int
    deferred: bool = False


class _Scanner:
    """Collects every badge-like thing in a page, recursing from markup into scripts, from
    scripts into strings and ``unescape`` arguments, and back into markup."""

    def __init__(self, patterns: BadgePatterns) -> None:
        self.p = patterns
        self.found: list[_Found] = []
        self.placeholder = False  # a live <span id="_ideConac"> exists somewhere
        self.depth = 0  # nesting of html()/js() calls; pathological nesting stops at _MAX_DEPTH

    # -- helpers ------------------------------------------------------------------------------

    def _has_trigger(self, text: str) -> bool:
        return any(t in text for t in self.p.trigger_text)

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
        deferred: bool = False,
    ) -> None:
        if ctx.inactive:
            state, why, deferred = "inactive", ctx.inactive, False
        elif ctx.broken and state in ("live", "broken"):
            state, why, deferred = "broken", why or ctx.broken, False
        self.found.append(_Found(form, state, why, identifier, certificate, offset, deferred))

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
        if self.depth >= _MAX_DEPTH:
            self._raw(text, self._at(base, 0, ctx), ctx, "syntax", "unknown")
            return
        self.depth += 1
        try:
            self._html(text, base, ctx, st)
        finally:
            self.depth -= 1

    def _html(self, text: str, base: int, ctx: _Ctx, st: Structure | None) -> None:
        if st is None:
            st = scan_structure(text)
        hits: set[int] = set()
        for trigger in self.p.trigger_text:
            pos = text.find(trigger)
            while pos >= 0:
                hits.add(pos)
                pos = text.find(trigger, pos + 1)
        for raw in st.regions:  # copies of the script hosted elsewhere
            if (
                raw.kind == "script"
                and text.find(".js", raw.start, raw.content_start) >= 0
                and self.p.script_copy.search(text, raw.start, raw.content_start)
            ):
                hits.add(raw.start)
        positions = sorted(hits)
        done_regions: set[int] = set()
        done_tags: set[int] = set()
        link_until = -1
        for pos in positions:
            here = ctx
            if st.templates and not ctx.inactive and st.in_template(pos):
                here = ctx.off("template")
            region = st.region_at(pos)
            if region is not None:
                if region.start in done_regions:
                    continue
                done_regions.add(region.start)
                if region.kind == "comment":
                    self.html(
                        text[region.content_start : region.content_end],
                        base + region.content_start,
                        here.off("comment"),
                    )
                elif region.kind == "noscript":
                    self.html(
                        text[region.content_start : region.content_end],
                        base + region.content_start,
                        here.off("noscript"),
                    )
                elif region.kind == "script":
                    self._script(text, region.start, region.content_start,
                                 region.content_end, base, here)
                continue
            tag = enclosing_tag(text, pos)
            if tag is None or tag[0] in done_tags:
                continue
            done_tags.add(tag[0])
            link_until = self._tag(text, tag, base, here, link_until)

    def _tag(
        self, text: str, tag: tuple[int, str, int], base: int, ctx: _Ctx,
        link_until: int,
    ) -> int:
        """A start tag holding a hit: a certificate link, the badge image or the span."""
        start, name, end = tag
        attrs = attributes(text[start:end])
        at = self._at(base, start, ctx)
        for value in attrs.values():
            cert = self.p.certificate_url.search(value)
            if cert is not None:
                self._add("link", "static", ctx, at, certificate=cert.group(1).upper())
                close = _LINK_CLOSE.search(text, end)
                return len(text) if close is None else close.start()
        if attrs.get("id") == self.p.span_id and not ctx.inactive:
            self.placeholder = True
        if name == "img" and start >= link_until and (
            attrs.get("id") == self.p.image_id
            or self.p.image_url.search(attrs.get("src", "")) is not None
        ):
            self._add("image", "static", ctx, at)
        return link_until

    def _script(
        self, text: str, start: int, content_start: int, content_end: int,
        base: int, ctx: _Ctx,
    ) -> None:
        open_tag = text[start:content_start]
        attrs = attributes(open_tag)
        script_type = attrs.get("type", "").split(";")[0].strip().lower()
        if not ctx.inactive and script_type not in _JS_TYPES:
            ctx = ctx.off("dead_code")
        at = self._at(base, start, ctx)
        src = attrs.get("src")
        if src is not None:
            self._script_src(src, open_tag, attrs, at, ctx)
        if content_end > content_start and self._has_trigger(text[content_start:content_end]):
            inner = ctx if src is None else ctx.off("dead_code")
            if inner.origin is None:  # report what is found inside at the <script> tag
                inner = _Ctx(inner.inactive, inner.broken, inner.mode, at)
            self.js(text[content_start:content_end], base + content_start, inner)

    def _script_src(
        self, src: str, open_tag: str, attrs: dict[str, str], at: int, ctx: _Ctx
    ) -> None:
        form = _FORM_OF_MODE[ctx.mode]
        url = self.p.script_url.fullmatch(src.strip())
        if url is not None:
            identifier = url.group(5).upper()
            if not _path_matches(url):
                self._add(form, "broken", ctx, at, why="url", identifier=identifier)
                return
            if ctx.mode == "inert":
                self._add(form, "broken", ctx, at, why="inert", identifier=identifier)
                return
            deferred = ctx.mode == "injected" or "async" in attrs or "defer" in attrs
            self._add(form, "live", ctx, at, identifier=identifier, deferred=deferred)
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
        if self.depth >= _MAX_DEPTH:
            self._raw(src, self._at(base, 0, ctx), ctx, "syntax", "unknown")
            return
        self.depth += 1
        try:
            self._js(src, base, ctx)
        finally:
            self.depth -= 1

    def _js(self, src: str, base: int, ctx: _Ctx) -> None:
        lex = lex_js(src)
        if lex.error and not ctx.inactive and not ctx.broken:
            ctx = ctx.fail("syntax")
        handled: list[tuple[int, int]] = []

        for call in _unescape_calls(src):
            if lex.token_at(call.start()) is not None:
                continue
            at = self._at(base, call.start(), ctx)
            args = _call_arguments(src, lex, call.end())
            if args is None:  # the argument is not a clean string expression: broken quotes
                stop = _line_end(src, call.end())
                if not self._has_trigger(src[call.start() : stop]):
                    stop = min(len(src), call.end() + 2000)
                if self._has_trigger(src[call.start() : stop]):
                    self._raw(src[call.start() : stop], at, ctx, "quote",
                              _FORM_OF_MODE[_combine(ctx.mode, "docwrite")])
                    handled.append((call.start(), stop))
                continue
            values, end = args
            raw = "".join(values)
            if not self._has_trigger(raw):
                handled.append((call.start(), end))
                continue
            fragment = js_unescape(raw)
            fctx = ctx.into(_consumer(src, lex, call.start()), at)
            if has_bad_percent(raw) or not tag_clean(fragment):
                fctx = fctx.fail("escape")
            before = len(self.found)
            self.html(fragment, 0, fctx)
            if len(self.found) == before:
                self._loose_string(fragment, at, fctx)
            handled.append((call.start(), end))

        for first, last in _string_groups(src, lex):
            if _overlaps(handled, first.start, last.end):
                continue
            if not self._has_trigger(src[first.start : last.end]):
                continue
            value = "".join(
                js_string_value(src[t.start : t.end])
                for t in lex.tokens
                if first.start <= t.start < last.end and t.kind != "comment"
            )
            at = self._at(base, first.start, ctx)
            fctx = ctx.into(_consumer(src, lex, first.start), at)
            before = len(self.found)
            self.html(value, 0, fctx)
            if len(self.found) == before:
                self._loose_string(value, at, fctx)
            handled.append((first.start, last.end))

        for token in lex.tokens:
            if token.kind != "comment" or _overlaps(handled, token.start, token.end):
                continue
            if not self._has_trigger(src[token.start : token.end]):
                continue
            body_start = token.start + (4 if src.startswith("<!--", token.start) else 2)
            body_end = token.end - 2 if src.startswith("/*", token.start) else token.end
            self.js(src[body_start:body_end], base + body_start,
                    ctx.off("js_comment"))
            handled.append((token.start, token.end))

        for finder in (self.p.script_urls, self.p.certificate_urls):
            for m in finder(src):
                if _overlaps(handled, m.start(), m.end()):
                    continue
                self._raw(m.group(), self._at(base, m.start(), ctx), ctx, "syntax", "unknown")

    def _loose_string(self, value: str, at: int, ctx: _Ctx) -> None:
        """A badge URL in a script string without markup around it: a certificate link built
        by script, or the badge script loaded dynamically (which cannot document.write)."""
        for m in self.p.strict_script_urls(value):
            if ctx.mode == "docwrite" or not _path_matches(m):
                self._add("docwrite", "broken", ctx, at, why="escape",
                          identifier=m.group(5).upper())
            else:
                self._add("injected", "live", ctx, at, identifier=m.group(5).upper(),
                          deferred=True)
        for m in self.p.certificate_urls(value):
            self._add("link", "static", ctx, at, certificate=m.group(1).upper())

    def _raw(self, raw: str, at: int, ctx: _Ctx, why: str, form: Form) -> None:
        """Badge URLs in text that is not in any runnable form (broken code, comments)."""
        for m in self.p.script_urls(raw):
            self._add(form, "broken", ctx, at, why=why, identifier=self._identifier_in(m.group()))
        for m in self.p.certificate_urls(raw):
            self._add("link", "broken", ctx, at, why=why, certificate=m.group(1).upper())


def _path_matches(url: re.Match[str]) -> bool:
    """The script's file name repeats the digits of its path; a mismatch is a mangled URL."""
    return "".join(url.group(1, 2, 3, 4)) == url.group(6)[:17]


def _unescape_calls(src: str) -> Iterator[re.Match[str]]:
    """``unescape(`` calls, found with ``str.find`` (a look-behind defeats the regex prefix
    scan) and not as the tail of a longer name."""
    pos = src.find("unescape")
    while pos >= 0:
        if pos == 0 or not (src[pos - 1].isalnum() or src[pos - 1] in "_$"):
            m = _UNESCAPE_CALL.match(src, pos)
            if m is not None:
                yield m
        pos = src.find("unescape", pos + 8)


def _combine(outer: Mode, inner: Mode) -> Mode:
    return outer if _MODE_RANK[outer] >= _MODE_RANK[inner] else inner


def _overlaps(ranges: list[tuple[int, int]], start: int, end: int) -> bool:
    return any(s < end and start < e for s, e in ranges)


def _line_end(src: str, pos: int) -> int:
    stops = [i for i in (src.find("\n", pos), src.find("\r", pos)) if i >= 0]
    return min(stops) if stops else len(src)


def _skip_space(src: str, pos: int, lex: JsLex) -> int:
    n = len(src)
    while pos < n:
        if src[pos].isspace():
            pos += 1
            continue
        token = lex.token_at(pos)
        if token is not None and token.kind == "comment" and token.start == pos:
            pos = token.end
            continue
        break
    return pos


def _call_arguments(src: str, lex: JsLex, pos: int) -> tuple[list[str], int] | None:
    """The string values of a call's single argument made of string literals and names joined
    by ``+`` (names contribute nothing), and the end of the call; None if it is anything else,
    which for a badge means its quotes were broken."""
    values: list[str] = []
    while True:
        pos = _skip_space(src, pos, lex)
        token = lex.token_at(pos)
        if token is not None and token.start == pos and token.kind in ("string", "template"):
            values.append(js_string_value(src[token.start : token.end]))
            pos = token.end
        else:
            name = _IDENT_EXPR.match(src, pos)
            if name is None:
                return None
            pos = name.end()
        pos = _skip_space(src, pos, lex)
        if src.startswith("+", pos):
            pos += 1
            continue
        if src.startswith(")", pos):
            return values, pos + 1
        return None


def _consumer(src: str, lex: JsLex, start: int) -> Mode:
    """How the expression starting at ``start`` reaches the page: the argument of
    ``document.write``, of a jQuery insertion, an ``innerHTML`` assignment, or unknown."""
    i = start
    while True:
        while i > 0 and src[i - 1].isspace():
            i -= 1
        if i > 0 and src[i - 1] == "+":
            i -= 1
            while i > 0 and src[i - 1].isspace():
                i -= 1
            token = lex.token_at(i - 1) if i > 0 else None
            if token is not None and token.end == i and token.kind != "comment":
                i = token.start
                continue
            word = _WORD_END.search(src, max(0, i - 64), i)
            if word is not None:
                i = word.start()
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


def _string_groups(src: str, lex: JsLex) -> Iterable[tuple[JsToken, JsToken]]:
    """Runs of string literals joined by ``+`` (with names between), as (first, last)."""
    group: list[JsToken] = []
    for token in lex.tokens:
        if token.kind == "comment":
            continue
        if group and _CONCAT_GAP.fullmatch(src, group[-1].end, token.start):
            group.append(token)
            continue
        if group:
            yield group[0], group[-1]
        group = [token]
    if group:
        yield group[0], group[-1]


# ---------------------------------------------------------------------------------------------
# The check

_INACTIVE_TEXT = {
    "comment": "HTML 注释（<!-- -->）",
    "noscript": "<noscript> 标签",
    "template": "<template> 标签",
    "js_comment": "脚本注释（// 或 /* */）",
    "dead_code": "不会执行的脚本（type 不是 JavaScript，或写在带 src 的 <script> 内）",
}
_BROKEN_TEXT = {
    "escape": "转义字符在复制时被改动（例如 %3E3C），代码无法还原成标识脚本",
    "quote": "引号不匹配，脚本有语法错误",
    "syntax": "所在的脚本有语法错误，整段脚本不会执行",
    "url": "标识脚本的地址不完整、引号被改动，或地址与标识编号不一致",
    "deferred": "标识脚本在页面加载后才由脚本插入，而页面中没有 <span id=\"{span}\"> 占位，"
    "标识无法显示",
    "inert": "标识脚本通过 innerHTML 等方式插入，浏览器不会执行这样插入的脚本",
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
        if kind == 2:
            last_html = m.end()
    if max(counts) > 1:
        return None
    if last_html >= 0 and not tail_is_quiet(body, last_html):
        return None
    return False


_BOUNDARY_TEXT = re.compile(r"<(?=[/bB])(?:(/body)|(/html)[^>]*>|(body)(?=[\s/>]))", re.I)
_BOUNDARY_BYTES = re.compile(rb"<(?=[/bB])(?:(/body)|(/html)[^>]*>|(body)(?=[\s/>]))", re.I)


def check_page(
    body: bytes | str,
    site: SiteBadge,
    policy: Policy = DEFAULT_POLICY,
    *,
    charset: str | None = None,
) -> PageVerdict:
    """Decide what the page's markup says about the site's badge.

    ``body`` is the page as fetched (bytes; ``charset`` is the HTTP-declared one, if any) or
    already decoded text. Never raises for page content: every outcome is a verdict.
    """
    patterns = site.patterns
    encoding: str | None = None
    if isinstance(body, bytes):
        if ascii_compatible(sniff_encoding(body, charset)) and (
            not any(t in body for t in patterns.prefilter_bytes)
            or not any(t in body for t in patterns.trigger_bytes)
        ):
            malformed = _quick_malformed(body)
            if malformed is None:
                text, encoding = decode_page(body, charset)
                malformed = scan_structure(text).malformed
            return _decide(site, policy, [], malformed, False, encoding)
        text, encoding = decode_page(body, charset)
    else:
        text = body
    if not any(t in text for t in patterns.prefilter_text) or not any(
        t in text for t in patterns.trigger_text
    ):
        malformed = _quick_malformed(text)
        if malformed is None:
            malformed = scan_structure(text).malformed
        return _decide(site, policy, [], malformed, False, encoding)

    structure = scan_structure(text)
    scanner = _Scanner(patterns)
    scanner.html(text, 0, _TOP, structure)
    badges: list[BadgeFound] = []
    for f in scanner.found:
        state, why = f.state, f.why
        if state == "live" and f.deferred and not scanner.placeholder:
            state, why = "broken", "deferred"
        badges.append(
            BadgeFound(f.form, state, why, f.identifier, f.certificate, f.offset,
                       structure.inside_body(f.offset))
        )
    badges.sort(key=lambda b: b.offset)
    return _decide(site, policy, badges, structure.malformed, scanner.placeholder, encoding)


def _decide(
    site: SiteBadge,
    policy: Policy,
    badges: list[BadgeFound],
    malformed: bool,
    placeholder: bool,
    encoding: str | None,
) -> PageVerdict:
    own = [b for b in badges if _mine(b, site)]
    others = [b for b in badges if not _mine(b, site)]
    shown_others = [b for b in others if b.state in ("live", "static")]
    decisive: BadgeFound | None = None
    own_ok = [b for b in own if _problem(b) == "ok"]
    if own_ok:
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
    shown = [
        b for b in badges
        if (b.state == "live" and b.form in _LIVE_FORMS)
        or (b.state == "static" and b.form in ("link", "image"))
    ]
    if len(shown) > 1:
        reasons.append("badge_duplicate")
    if malformed:
        reasons.append("markup_malformed")
    verdict: Verdict = (
        "non_compliant" if any(r in policy.failures for r in reasons) else "compliant"
    )
    return PageVerdict(
        verdict=verdict,
        reasons=tuple(reasons),
        message=_message(reasons, site, own, others, len(shown), placeholder),
        identifiers=_unique(b.identifier for b in badges),
        certificates=_unique(b.certificate for b in badges),
        offset=decisive.offset if decisive else None,
        in_body=decisive.in_body if decisive else None,
        encoding=encoding,
        badges=tuple(badges),
    )


def _message(
    reasons: list[str],
    site: SiteBadge,
    own: list[BadgeFound],
    others: list[BadgeFound],
    shown: int,
    placeholder: bool,
) -> str:
    """Chinese text for the webmaster: what is wrong, then what to do."""
    span = site.patterns.span_id
    parts: list[str] = []
    for reason in reasons:
        if reason == "ok":
            parts.append(
                f"本页已加挂本网站的网站标识（{site.identifier}），代码有效，位于页面正文"
                "（<body>）内。"
            )
        elif reason == "badge_missing":
            text = (
                "本页没有找到网站标识。请把收到的网站标识代码原样粘贴到页面底部、</body> 之前，"
                "使标识显示在页面底部中间。"
            )
            if placeholder:
                text += f"页面中只有空的 <span id=\"{span}\"> 占位，缺少标识脚本。"
            parts.append(text)
        elif reason == "badge_other_site":
            names = "、".join(_unique(b.identifier or b.certificate for b in others)) or "未知"
            parts.append(
                f"页面上的网站标识属于其他网站（{names}），不是本网站的标识"
                f"（{site.identifier}）。请改用本网站收到的网站标识代码。"
            )
        elif reason == "badge_inactive":
            where = "、".join(
                _unique(_INACTIVE_TEXT.get(b.why or "", "注释") for b in own
                        if b.state == "inactive")
            )
            parts.append(
                f"网站标识代码位于{where}中，浏览器不会执行，页面上看不到标识。"
                "请去掉注释或外层标签，把代码放在正常的页面内容中。"
            )
        elif reason == "badge_outside_body":
            parts.append(
                "网站标识代码位于 <head> 中，或在页面最后一个 </body>、</html> 之后，"
                "不在页面正文内。请把它移到页面底部、</body> 之前。"
            )
        elif reason == "badge_static_copy":
            parts.append(
                "页面上的网站标识是复制下来的静态链接、图片或脚本副本，没有从注册管理中心加载标识"
                "脚本，无法反映标识的实时状态。请删除复制的内容，改用收到的原始网站标识代码。"
            )
        elif reason == "badge_broken":
            why = "；".join(
                _unique(_BROKEN_TEXT.get(b.why or "", "代码不完整").replace("{span}", span)
                        for b in own if b.state == "broken")
            )
            parts.append(
                f"网站标识代码已损坏：{why}。请重新复制收到的原始代码，原样粘贴到 </body> 之前。"
            )
        elif reason == "badge_duplicate":
            parts.append(f"页面上共有 {shown} 处网站标识，请只保留一处（页面底部中间）。")
        elif reason == "markup_malformed":
            parts.append(
                "页面包含多个 <body>、</body> 或 </html>，或 </html> 之后还有内容，请修正页面模板；"
                "标识按是否位于最后一个 </body> 之前判断。"
            )
    return "".join(parts)
