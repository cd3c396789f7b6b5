"""Cheap, linear views of a page's markup: how to decode it, where its comments and raw-text
elements are, where its body ends, and how a piece of inline JavaScript splits into strings and
comments.

Why not a full HTML parser: the badge check runs on every page of tens of millions a night and
only needs to know the *context* of a few hits (is this inside a comment? a ``<script>``? after
the last ``</body>``?). The HTML tokenizer decides those contexts with a handful of rules that a
single left-to-right scan reproduces; the expensive part of parsing (building a tree) is not
needed. Everything here is pure and stdlib-only.
"""

from __future__ import annotations

import bisect
import codecs
import re
from dataclasses import dataclass, field
from typing import NamedTuple

# ---------------------------------------------------------------------------------------------
# Decoding

# The WHATWG Encoding Standard's labels for the encodings Chinese government pages use; any
# other label Python knows is taken by Python's name for it. GB2312 and GBK pages routinely
# contain characters outside their declared set, and browsers decode every GB label as GB18030.
_LABELS: dict[str, str] = {
    **dict.fromkeys(
        ("utf-8", "utf8", "unicode-1-1-utf-8", "unicode11utf8", "unicode20utf8", "x-unicode20utf8"),
        "utf-8",
    ),
    **dict.fromkeys(
        ("utf-16", "utf-16le", "unicode", "unicodefeff", "ucs-2", "csunicode", "iso-10646-ucs-2"),
        "utf-16-le",
    ),
    **dict.fromkeys(("utf-16be", "unicodefffe"), "utf-16-be"),
    **dict.fromkeys(
        ("gb2312", "gbk", "x-gbk", "chinese", "csgb2312", "csiso58gb231280", "gb_2312",
         "gb_2312-80", "iso-ir-58", "gb18030", "cp936", "936"),
        "gb18030",
    ),
    **dict.fromkeys(
        ("big5", "big5-hkscs", "cn-big5", "csbig5", "x-x-big5"), "big5hkscs"
    ),
    # Latin-1 and ASCII labels mean windows-1252 on the web.
    **dict.fromkeys(
        ("ascii", "us-ascii", "ansi_x3.4-1968", "iso-8859-1", "iso8859-1", "iso88591",
         "iso_8859-1", "iso_8859-1:1987", "latin1", "l1", "cp1252", "windows-1252", "x-cp1252",
         "cp819", "ibm819", "iso-ir-100", "csisolatin1", "x-user-defined"),
        "cp1252",
    ),
}
_UTF16 = frozenset({"utf-16-le", "utf-16-be"})
_META_CHARSET = re.compile(rb"""<meta[^>]+?charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.I)
# Browsers prescan the first 1024 bytes and keep looking while they are still in the head;
# a few KiB of head is common on CMS pages.
_META_PRESCAN_BYTES = 4096


def codec_for_label(label: str | None) -> str | None:
    """Python's codec for an encoding label as a browser reads it, or None if unknown."""
    if not label:
        return None
    name = label.strip().strip("\"'").strip().lower()
    if name in _LABELS:
        return _LABELS[name]
    try:
        return codecs.lookup(name).name
    except LookupError:
        return None


def declared_meta_charset(body: bytes) -> str | None:
    """The charset a ``<meta>`` near the top declares (the first one wins, like browsers)."""
    match = _META_CHARSET.search(body, 0, _META_PRESCAN_BYTES)
    return match.group(1).decode("ascii", "replace") if match else None


def sniff_encoding(body: bytes, http_charset: str | None = None) -> str | None:
    """The codec a browser would decode ``body`` with, when something declares it: a byte
    order mark, then the HTTP ``charset``, then a ``<meta>`` in the first bytes (where a
    UTF-16 label means UTF-8: the bytes being read are ASCII). None: nothing declares it."""
    if body.startswith(codecs.BOM_UTF8):
        return "utf-8"
    if body.startswith(codecs.BOM_UTF16_LE):
        return "utf-16-le"
    if body.startswith(codecs.BOM_UTF16_BE):
        return "utf-16-be"
    codec = codec_for_label(http_charset)
    if codec is not None:
        return codec
    codec = codec_for_label(declared_meta_charset(body))
    if codec is not None:
        return "utf-8" if codec in _UTF16 else codec
    return None


def ascii_compatible(codec: str | None) -> bool:
    """Whether every ASCII character of the text is the same byte in the body, so a byte
    search for an ASCII literal answers for the decoded text too."""
    return codec not in _UTF16


def decode_page(body: bytes, http_charset: str | None = None) -> tuple[str, str]:
    """Decode a page once, the way a browser does, and name the codec used.

    Byte order mark, then the HTTP header's charset, then the ``<meta>`` prescan; with no
    declaration, UTF-8 if the bytes are valid UTF-8, else GB18030 (what a Chinese browser
    falls back to). Undecodable bytes become U+FFFD, as on screen. A declaration that lies is
    believed, as the browser believes it: the text is what the visitor's browser gets.
    """
    codec = sniff_encoding(body, http_charset)
    if codec is None:
        try:
            return body.decode("utf-8"), "utf-8"
        except UnicodeDecodeError:
            codec = "gb18030"
    if body.startswith(codecs.BOM_UTF8) and codec == "utf-8":
        body = body[3:]
    elif body.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) and codec in _UTF16:
        body = body[2:]
    return body.decode(codec, "replace"), codec


# ---------------------------------------------------------------------------------------------
# HTML structure

# Elements whose content the tokenizer does not parse as markup. <noscript> is raw text in a
# browser with scripting on, which is the browser the badge targets.
RAW_TEXT = frozenset(
    {"script", "style", "noscript", "textarea", "title", "xmp", "iframe", "noembed", "noframes"}
)
# Shaped for speed: the look-ahead rejects most '<' on their first letter, and only the end
# tags that matter outside raw text are listed (raw-text end tags are found from their start).
_SPECIAL = re.compile(
    r"<(?=[!?/bhinpstxBHINPSTX])(?:(!--)|([!?])"
    r"|/(body|head|html|template)(?=[\s/>])"
    r"|(s(?:cript|tyle)|no(?:script|embed|frames)|t(?:emplate|extarea|itle)|xmp|iframe"
    r"|plaintext|body|head|html)(?=[\s/>]))",
    re.I,
)
# The rest of a start tag after its name, following the tokenizer's attribute rules closely
# enough that a '>' inside a quoted value does not end the tag. It always matches.
_TAG_REST = re.compile(
    r"""(?:[\s/]+|[^\s/>][^\s/>=]*(?:\s*=\s*(?:"[^"]*"|'[^']*'|[^\s>]*))?)*(?:>|\Z)"""
)
_ATTR = re.compile(r"""([^\s/>=][^\s/>=]*)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]*)))?""")
_CLOSERS: dict[str, re.Pattern[str]] = {
    name: re.compile(rf"</{name}[\s/>]", re.I) for name in RAW_TEXT | {"template"}
}
_TAG_NAME = re.compile(r"<([A-Za-z][^\s/>]*)")


class Region(NamedTuple):
    """A stretch of the page the tokenizer does not read as markup: a comment or the content of
    a raw-text element. ``start``/``end`` cover the whole construct, tags included."""

    kind: str  # "comment" or a RAW_TEXT element name
    start: int
    end: int
    content_start: int
    content_end: int


@dataclass(slots=True)
class Structure:
    """What one linear scan of the page learns: non-markup regions, inert ``<template>`` ranges
    and the positions of the tags that delimit head and body (only those read as markup)."""

    regions: list[Region] = field(default_factory=list)
    templates: list[tuple[int, int]] = field(default_factory=list)
    head_open: int | None = None
    head_close: int | None = None
    body_open: list[int] = field(default_factory=list)
    body_close: list[int] = field(default_factory=list)
    html_close: list[int] = field(default_factory=list)
    content_after_html: bool = False
    _starts: list[int] = field(default_factory=list)

    def region_at(self, pos: int) -> Region | None:
        """The comment or raw-text element containing ``pos``, if any."""
        i = bisect.bisect_right(self._starts, pos) - 1
        if i >= 0:
            region = self.regions[i]
            if region.start <= pos < region.end:
                return region
        return None

    def in_template(self, pos: int) -> bool:
        return any(start <= pos < end for start, end in self.templates)

    def inside_body(self, pos: int) -> bool:
        """Whether ``pos`` is in the page's body: after ``<body>`` (or after ``</head>`` when the
        body tag is implied; anywhere for a fragment without either) and before the document's
        last ``</body>`` and last ``</html>``."""
        if self.body_open:
            if pos < self.body_open[0]:
                return False
        elif self.head_close is not None and pos < self.head_close:
            return False
        if self.body_close and pos > self.body_close[-1]:
            return False
        return not (self.html_close and pos > self.html_close[-1])

    @property
    def malformed(self) -> bool:
        """Several bodies or documents in one page, or markup after ``</html>``."""
        return (
            len(self.body_open) > 1
            or len(self.body_close) > 1
            or len(self.html_close) > 1
            or self.content_after_html
        )


def tag_end(text: str, pos: int) -> int:
    """End (exclusive) of the start or end tag whose name ends at ``pos``."""
    match = _TAG_REST.match(text, pos)
    assert match is not None  # the pattern accepts any input
    return match.end()


def scan_structure(text: str) -> Structure:
    """One left-to-right pass over the page recording comments, raw-text elements, templates
    and the head/body/html boundary tags, as the HTML tokenizer would see them. Lower-casing a
    CJK page would cost more than the scan itself, so the patterns ignore case instead."""
    st = Structure()
    n = len(text)
    pos = 0
    template_stack: list[int] = []
    search = _SPECIAL.search
    while True:
        m = search(text, pos)
        if m is None:
            break
        start = m.start()
        group = m.lastindex
        if group == 1:  # <!-- comment -->
            body = m.end()
            if text.startswith(">", body) or text.startswith("->", body):  # <!--> and <!--->
                end = body + (1 if text[body] == ">" else 2)
                st.regions.append(Region("comment", start, end, body, body))
                pos = end
                continue
            close = text.find("-->", body)
            if close < 0:
                st.regions.append(Region("comment", start, n, body, n))
                break
            st.regions.append(Region("comment", start, close + 3, body, close))
            pos = close + 3
            continue
        if group == 2:  # <!DOCTYPE>, <![CDATA[...]>, <?php ...?>: bogus comments end at '>'
            close = text.find(">", m.end())
            pos = n if close < 0 else close + 1
            continue
        closing = group == 3
        name = m.group(group or 0).lower()
        end = tag_end(text, m.end())
        if closing:
            if name == "body":
                st.body_close.append(start)
            elif name == "html":
                st.html_close.append(end)
            elif name == "head" and st.head_close is None:
                st.head_close = start
            elif name == "template" and template_stack:
                st.templates.append((template_stack.pop(), end))
            pos = end
            continue
        if name in RAW_TEXT:
            closer = _CLOSERS[name].search(text, end)
            if closer is None:
                st.regions.append(Region(name, start, n, end, n))
                break
            close_end = tag_end(text, closer.start() + 2 + len(name))
            st.regions.append(Region(name, start, close_end, end, closer.start()))
            pos = close_end
            continue
        if name == "plaintext":  # everything after it is text
            st.regions.append(Region("plaintext", start, n, end, n))
            break
        if name == "template":
            template_stack.append(start)
        elif name == "body":
            st.body_open.append(start)
        elif name == "head" and st.head_open is None:
            st.head_open = start
        pos = end
    st.templates.extend((s, n) for s in template_stack)
    st._starts = [r.start for r in st.regions]
    if st.html_close:
        st.content_after_html = _has_content(text, st.html_close[-1], st)
    return st


def _has_content(text: str, pos: int, st: Structure) -> bool:
    """Anything but whitespace and comments from ``pos`` on."""
    n = len(text)
    while pos < n:
        if text[pos].isspace():
            pos += 1
            continue
        region = st.region_at(pos)
        if region is not None and region.kind == "comment" and region.start == pos:
            pos = region.end
            continue
        return True
    return False


def tail_is_quiet(data: bytes | str, pos: int) -> bool:
    """Whether only whitespace and complete comments follow ``pos`` (the fast path's test for
    content after ``</html>``); a loop, so a long tail cannot make a regex backtrack."""
    text = data if isinstance(data, str) else data.decode("latin-1")
    n = len(text)
    while True:
        while pos < n and text[pos] in " \t\r\n\f":
            pos += 1
        if pos >= n:
            return True
        if not text.startswith("<!--", pos):
            return False
        close = text.find("-->", pos + 4)
        if close < 0:
            return False
        pos = close + 3


def start_tag_at(text: str, pos: int) -> tuple[str, int] | None:
    """If a start tag begins at ``pos``: its lower-case name and end."""
    match = _TAG_NAME.match(text, pos)
    if match is None:
        return None
    return match.group(1).lower(), tag_end(text, match.end())


def enclosing_tag(text: str, pos: int) -> tuple[int, str, int] | None:
    """The start tag ``pos`` sits in, as (start, lower-case name, end), or None for text."""
    lt = text.rfind("<", 0, pos + 1)
    while lt >= 0:
        found = start_tag_at(text, lt)
        if found is not None:
            name, end = found
            return (lt, name, end) if end > pos else None
        # '<' inside an attribute value of the real tag: keep looking left, a little
        if pos - lt > 2048:
            return None
        lt = text.rfind("<", 0, lt)
    return None


def attributes(tag: str) -> dict[str, str]:
    """Attributes of a start tag (first occurrence wins, names lower-cased, values raw)."""
    found = _TAG_NAME.match(tag)
    rest = tag[found.end() :] if found else tag
    attrs: dict[str, str] = {}
    for m in _ATTR.finditer(rest):
        name = m.group(1).lower()
        if name not in attrs:
            value = m.group(2)
            if value is None:
                value = m.group(3)
            if value is None:
                value = m.group(4) or ""
            attrs[name] = value
    return attrs


def tag_clean(fragment: str) -> bool:
    """True when a fragment is nothing but tags and whitespace, as the issued snippet decodes
    to; stray text (``3C/span>`` from a mangled ``%3E3C``) means the escapes were damaged."""
    return _ONLY_TAGS.fullmatch(fragment) is not None


_ONLY_TAGS = re.compile(r"(?:\s*<[^<>]*>)*\s*")

# ---------------------------------------------------------------------------------------------
# JavaScript


class JsToken(NamedTuple):
    """A string, template literal or comment in a script; everything else is code."""

    kind: str  # "string" | "template" | "comment"
    start: int
    end: int


@dataclass(slots=True)
class JsLex:
    tokens: list[JsToken]
    error: bool  # an unterminated string, template or comment: the whole script fails to run
    _starts: list[int] = field(default_factory=list)

    def token_at(self, pos: int) -> JsToken | None:
        i = bisect.bisect_right(self._starts, pos) - 1
        if i >= 0:
            token = self.tokens[i]
            if token.start <= pos < token.end:
                return token
        return None


_JS_NEXT = re.compile(r"""["'`/]|<!--|-->""")
_JS_STRING = {
    '"': re.compile(r'"(?:[^"\\\n\r]|\\(?:\r\n|[\s\S]))*"'),
    "'": re.compile(r"'(?:[^'\\\n\r]|\\(?:\r\n|[\s\S]))*'"),
    "`": re.compile(r"`(?:[^`\\]|\\[\s\S])*`"),
}
_JS_REGEX = re.compile(r"/(?![*/])(?:[^/\\\[\n\r]|\\.|\[(?:[^\]\\\n\r]|\\.)*\])+/[A-Za-z]*")
_LINE_END = re.compile(r"[\n\r\u2028\u2029]")
_REGEX_AFTER = frozenset("(,=:[!&|?{};+-*%<>~^")
_REGEX_KEYWORDS = frozenset(
    {"return", "typeof", "case", "do", "else", "in", "of", "new", "delete", "void", "throw",
     "instanceof", "yield", "await"}
)
_WORD_BEFORE = re.compile(r"[A-Za-z_$][\w$]*$")


def _line_end(src: str, pos: int, end: int) -> int:
    match = _LINE_END.search(src, pos, end)
    return match.start() if match else end


def lex_js(src: str, start: int = 0, end: int | None = None) -> JsLex:
    """Split ``src[start:end]`` into strings, template literals and comments, skipping regular
    expression literals, so a hit can be placed in code, a string or a comment. HTML-like
    comments (``<!--`` and a leading ``-->``) are line comments in classic scripts."""
    if end is None:
        end = len(src)
    tokens: list[JsToken] = []
    error = False
    pos = start
    while True:
        m = _JS_NEXT.search(src, pos, end)
        if m is None:
            break
        at = m.start()
        lead = m.group()
        if lead in _JS_STRING:
            sm = _JS_STRING[lead].match(src, at, end)
            if sm is None:  # unterminated: a syntax error that stops the whole script
                error = True
                stop = end if lead == "`" else _line_end(src, at, end)
                tokens.append(JsToken("template" if lead == "`" else "string", at, stop))
                pos = stop
                continue
            tokens.append(JsToken("template" if lead == "`" else "string", at, sm.end()))
            pos = sm.end()
            continue
        if lead == "<!--" or (lead == "-->" and _at_line_start(src, at, start)):
            stop = _line_end(src, at, end)
            tokens.append(JsToken("comment", at, stop))
            pos = stop
            continue
        if lead == "-->":
            pos = at + 3
            continue
        nxt = src[at + 1 : at + 2]
        if nxt == "/":
            stop = _line_end(src, at, end)
            tokens.append(JsToken("comment", at, stop))
            pos = stop
            continue
        if nxt == "*":
            close = src.find("*/", at + 2, end)
            if close < 0:
                error = True
                tokens.append(JsToken("comment", at, end))
                break
            tokens.append(JsToken("comment", at, close + 2))
            pos = close + 2
            continue
        if _regex_allowed(src, at, start):
            rm = _JS_REGEX.match(src, at, end)
            if rm is not None:
                pos = rm.end()
                continue
        pos = at + 1
    return JsLex(tokens, error, [t.start for t in tokens])


def _at_line_start(src: str, pos: int, start: int) -> bool:
    i = pos - 1
    while i >= start and src[i] in " \t":
        i -= 1
    return i < start or src[i] in "\n\r\u2028\u2029"


def _regex_allowed(src: str, pos: int, start: int) -> bool:
    """Whether a '/' at ``pos`` starts a regular expression rather than a division."""
    i = pos - 1
    while i >= start and src[i].isspace():
        i -= 1
    if i < start:
        return True
    char = src[i]
    if char in _REGEX_AFTER:
        return True
    if char.isalnum() or char in "_$":
        word = _WORD_BEFORE.search(src, max(start, i - 16), i + 1)
        return word is not None and word.group() in _REGEX_KEYWORDS
    return False


_JS_ESCAPE = re.compile(r"\\(u\{[0-9A-Fa-f]+\}|u[0-9A-Fa-f]{4}|x[0-9A-Fa-f]{2}|\r\n|[\s\S])")
_SIMPLE_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", "b": "\b", "f": "\f", "v": "\v", "0": "\0"}


def _js_escape(match: re.Match[str]) -> str:
    seq = match.group(1)
    if seq[0] in "ux" and len(seq) > 1:
        return chr(int(seq.strip("u{}x") if seq[0] == "x" else seq[1:].strip("{}"), 16))
    if seq in ("\n", "\r", "\r\n", "\u2028", "\u2029"):
        return ""  # line continuation
    return _SIMPLE_ESCAPES.get(seq, seq)


def js_string_value(literal: str) -> str:
    """The value of a JS string or template literal (quotes included in ``literal``); template
    substitutions are kept as written, which is enough to find markup in them."""
    body = literal[1:-1] if len(literal) >= 2 and literal[-1] == literal[0] else literal[1:]
    if "\\" not in body:
        return body
    return _JS_ESCAPE.sub(_js_escape, body)


_PERCENT = re.compile(r"%(u[0-9A-Fa-f]{4}|[0-9A-Fa-f]{2})")
_BAD_PERCENT = re.compile(r"%(?!u[0-9A-Fa-f]{4}|[0-9A-Fa-f]{2})")


def js_unescape(value: str) -> str:
    """JavaScript's ``unescape``: ``%XX`` and ``%uXXXX``; anything else is kept as is."""
    if "%" not in value:
        return value
    return _PERCENT.sub(lambda m: chr(int(m.group(1).lstrip("u"), 16)), value)


def has_bad_percent(value: str) -> bool:
    """A '%' that is not a valid escape: a snippet cut or mangled while copying."""
    return _BAD_PERCENT.search(value) is not None
