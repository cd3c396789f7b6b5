"""Cheap, linear views of a page's markup: how to decode it, which constructs hold a hit and
what they are (a comment, a script, an element whose content is text, a tag's attributes, a
script inside <svg>), where its body ends, and where in a piece of JavaScript a hit sits.

Why not a full HTML parser: the badge check runs on every page of tens of millions a night and
only needs to know the *context* of a few hits. The HTML tokenizer decides those contexts with
a handful of states (data, tag and attribute values, comment, raw text, script data with its
escape states, foreign content) that a single left-to-right pass reproduces; the expensive part
of parsing (building a tree) is not needed. The pass is driven by compiled expressions with
possessive quantifiers, so it cannot backtrack and reads each character a bounded number of
times whatever the page holds. Everything here is pure and stdlib-only.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Callable, Generator, Iterable, Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import chain, repeat
from operator import add, methodcaller
from typing import NamedTuple, TypeAlias

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
#
# One left-to-right pass with the HTML tokenizer's rules. The stretches that cannot matter are
# consumed by one compiled expression each (text, ordinary tags with their quoted attributes,
# complete comments, scripts and raw-text elements); only what can matter stops it: a
# construct holding a hit (the caller's needles), the tags that bound head and body, a
# <template>, <svg> and <math>, and anything left open at the end of the page. The expressions
# use possessive quantifiers only, so none of them can backtrack: every character is read a
# bounded number of times, whatever the page. (Python 3.11+.)

# What one step taken in Python (an event, a region, a finding) counts for in ``work``: about
# what reading this many characters in a compiled expression costs.
STEP = 50
_HTML_SPACE = "\t\n\f\r "
_AFTER_NAME = r"(?=[\t\n\f\r />])"  # what ends a tag name
# The attributes of a tag after its name, as the tokenizer reads them: a '>' inside a quoted
# value does not end the tag, a quote opens a value only after '=', and a value left open runs
# to the end of the page (the browser then drops the tag and everything after it).
_ATTRS = (
    r"(?:[\t\n\f\r ]++|/(?!>)|[^\t\n\f\r />][^\t\n\f\r />=]*+"
    r"""(?:[\t\n\f\r ]*+=[\t\n\f\r ]*+(?:"[^"]*+(?:"|\Z)|'[^']*+(?:'|\Z)|[^\t\n\f\r >]++))?+"""
    r")*+"
)
# The same for skipping, faster: everything but '=' and '>' in one run (names, spaces,
# slashes, a quote inside a name), and a value after an '=' that follows a name directly. It
# gives the same extent as _ATTRS wherever it matches; where it does not (a value left open,
# an '=' after a space or a quote), the skip stops and the tag is read with _ATTRS.
_SKIP_ATTRS = (
    r"(?:[^>=]++|(?<=[^\t\n\f\r /\"'=>])=[\t\n\f\r ]*+"
    r"""(?:"[^"]*+"|'[^']*+'|(?!["'])[^\t\n\f\r >]*+))*+"""
)
_NAME = r"[A-Za-z][^\t\n\f\r />]*+"
_COMMENT = r"<!--(?:-?>|[^-]*+(?:-(?!-!?>)[^-]*+)*+--!?>)"
_CDATA = r"<!\[CDATA\[(?:[^\]]++|\](?!\]>))*+\]\]>"


def _ci(names: str) -> str:
    """Tag names (an expression of literal names, ``(?:``, ``|`` and ``?``) matched in any
    case, as ``[sS][cC]…``: a character class is checked without entering the branch it
    starts, where ``(?i:…)`` is not, and the expressions try many branches at every '<'."""
    return "".join(f"[{c.lower()}{c.upper()}]" if c.isascii() and c.isalpha() else c
                   for c in names)


def _script_data(end_name: str = "script") -> str:
    """Script content up to its end tag, with the tokenizer's escape states: after ``<!--`` a
    ``<script>`` opens a "double-escaped" stretch in which ``</script>`` does not end the
    element (``<script><!-- document.write('<script></script>') --></script>`` is one
    script)."""
    name, after = _ci(end_name), _AFTER_NAME
    double = rf"(?:[^<-]++|-(?!->)|<(?!/{name}{after}))*+(?:</{name}{after})?+"
    escaped = (
        rf"(?:[^<-]++|-(?!->)|<(?!/{name}{after}|{name}{after})|<{name}{after}{double})*+"
        r"(?:-->)?+"
    )
    return rf"(?:[^<]++|<(?!/{name}{after}|!--)|<!(?=--){escaped})*+"


def _raw_text(name: str) -> str:
    """The content of a raw-text element up to its end tag (unrolled, as in ``_units``)."""
    return rf"[^<]*+(?:<(?!/{_ci(name)}{_AFTER_NAME})[^<]*+)*+"


def _element(name: str, content: str, note: str | None = None) -> str:
    """A whole element: start tag, ``content``, end tag (which must be there)."""
    ci, after = _ci(name), _AFTER_NAME
    guard = f"(?![^>]*?{note})" if note else ""
    return rf"<{ci}{after}{guard}{_SKIP_ATTRS}>{content}</{ci}{after}{_SKIP_ATTRS}>"


# Elements whose content the tokenizer reads as text (HTML namespace). <noscript> is one in a
# browser with scripting on, which is the browser the badge targets.
RAW_TEXT = frozenset(
    {"script", "style", "noscript", "textarea", "title", "xmp", "iframe", "noembed", "noframes"}
)
# Elements whose content shows as text, or not at all, however it looks like markup.
TEXT_ELEMENTS = frozenset(RAW_TEXT - {"script", "noscript"} | {"plaintext"})
# Start tags that end <svg> and <math> content (the HTML standard's list; <font> only with
# color, face or size), and the end tags that do the same.
_BREAKOUT = frozenset({
    "b", "big", "blockquote", "body", "br", "center", "code", "dd", "div", "dl", "dt", "em",
    "embed", "h1", "h2", "h3", "h4", "h5", "h6", "head", "hr", "i", "img", "li", "listing",
    "menu", "meta", "nobr", "ol", "p", "pre", "ruby", "s", "small", "span", "strong", "strike",
    "sub", "sup", "table", "tt", "u", "ul", "var",
})
_BREAKOUT_END = frozenset({"br", "p"})
# Elements inside <svg> / <math> whose content is HTML again.
_INTEGRATION = {
    "svg": frozenset({"foreignobject", "desc", "title"}),
    "math": frozenset({"mi", "mo", "mn", "ms", "mtext", "annotation-xml"}),
}


_Trie: TypeAlias = dict[str, "_Trie"]


def _alternation(names: Iterable[str]) -> str:
    """The names as one expression shaped like a trie (``b(?:ig|lockquote|ody|r)?…``): the
    regular expression engine tries alternatives one by one, so a flat list of fifty tag
    names would cost fifty comparisons at every '<'. Used before an ``_AFTER_NAME`` check,
    so a name that is a prefix of another needs no ordering."""
    return _trie(_trie_of(names))


def _trie_of(names: Iterable[str]) -> _Trie:
    """The names by letter: each node maps a next letter to the rest; "" ends a name."""
    tree: _Trie = {}
    for name in names:
        node = tree
        for char in name:
            node = node.setdefault(char, {})
        node[""] = {}
    return tree


def _trie(node: _Trie) -> str:
    branches = [re.escape(char) + _trie(child) for char, child in sorted(node.items()) if char]
    if not branches:
        return ""
    body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
    return f"(?:{body})?" if "" in node else body


_BOGUS_UNITS = [r"<!(?!--)[^>]*+>", r"<\?[^>]*+>", r"</(?![A-Za-z])[^>]*+>"]
# A '<' that starts nothing is text (not at the very end: there the pass stops and the caller
# decides); text is read with it, a run of '<<<<' in one step (and a tag's '<' fails at once).
_LONE_LT = "<(?=[^A-Za-z!/?])"
_TEXT = r"[^<]*+(?:<(?=[^A-Za-z!/?])(?:<*+(?=[^A-Za-z!/?<])|<*(?=<))?+[^<]*+)*+"
_FOREIGN_STOP = _BREAKOUT | {"font", "svg", "math", "script"} | _INTEGRATION["svg"] | _INTEGRATION[
    "math"
]
_FOREIGN_STOP_END = _BREAKOUT_END | {"svg", "math", "script", "body", "html"}


def _ordinary_tags(stop: Iterable[str], stop_end: Iterable[str]) -> list[str]:
    """A start or end tag not named in ``stop`` / ``stop_end``: the first units of every skip,
    since tags are nearly everything a page holds besides text. One unit for end tags, one
    for start tags whose first letter begins no stop name, one per letter that does; each is
    led by a character or a class, which the engine checks without entering the unit."""
    tree = _trie_of(stop)
    rest = rf"[^\t\n\f\r />]*+{_SKIP_ATTRS}>"
    free = "".join(c + c.upper() for c in "abcdefghijklmnopqrstuvwxyz" if c not in tree)
    units = [rf"</(?!{_ci(_alternation(stop_end))}{_AFTER_NAME})[A-Za-z]{rest}",
             rf"<[{free}]{rest}"]
    for first, node in sorted(tree.items()):
        units.append(rf"<{_ci(first)}(?!{_ci(_trie(node))}{_AFTER_NAME}){rest}")
    return units


def _units(units: Iterable[str]) -> str:
    """Text and any number of ``units`` (each starting with '<'), in the unrolled form
    ``[^<]*+(?:<(?:a|b|…)[^<]*+)*+``: it matches what ``(?:[^<]++|<a|<b|…)*+`` matches, but
    a '<' no longer fails a text alternative first and re-reads itself in every unit, which
    makes it about three times faster on markup made of short tags."""
    tails = []
    for unit in units:
        assert unit.startswith("<"), unit
        if unit != _LONE_LT:
            tails.append(unit[1:])
    return rf"{_TEXT}(?:<(?:{'|'.join(tails)}){_TEXT})*+"


# Inside <svg>/<math>: comments, CDATA sections, and every tag but those that change the mode.
_FOREIGN_UNITS = [
    *_ordinary_tags(_FOREIGN_STOP, _FOREIGN_STOP_END),
    _LONE_LT,
    _COMMENT,
    _CDATA,
    r"<!(?!--|\[CDATA\[)[^>]*+>",
    r"<\?[^>]*+>",
    r"</(?![A-Za-z])[^>]*+>",
]


def _island(name: str) -> str:
    """A whole <svg> or <math> with nothing in it that matters (no script, no integration
    point, no nested one): up to its end tag, or up to the tag that ends foreign content."""
    ci, after = _ci(name), _AFTER_NAME
    breakout = rf"(?=<{_ci(_alternation(_BREAKOUT))}{after}|</{_ci('p|br')}{after})"
    return (  # (ended at once by a tag that ends foreign content: read as such, faster)
        rf"<{ci}{after}{_SKIP_ATTRS}(?:(?<=/)>|(?<!/)>{breakout}|(?<!/)>{_units(_FOREIGN_UNITS)}"
        rf"(?:</{ci}{after}{_SKIP_ATTRS}>|{breakout}))"
    )


@lru_cache(maxsize=64)
def _skip(mode: str, note: str | None, done: frozenset[str] = frozenset()) -> re.Pattern[str]:
    """The expression that consumes, from a position in data state, everything that cannot
    matter in ``mode``; used with ``endpos`` at the next hit, so a construct holding the hit
    is left for the caller. Modes: ``plain`` (only the body boundaries matter), ``html``,
    ``template`` (HTML inside a <template>: start tags of nested ones are consumed too, and
    counted by ``_template_starts``), ``html-ip`` (HTML inside an SVG/MathML integration
    point), ``foreign`` (<svg>, <math>). ``note`` marks <script> start tags that must stop
    it even without a hit; ``done`` names the boundary tags seen as often as they matter
    (``body``, ``/body``, ``/html``, ``/head``), which no longer stop it."""
    if mode == "foreign":
        return re.compile(_units(_FOREIGN_UNITS))
    if mode == "template":
        return re.compile(_units([*_template_units(note), _TEMPLATE_START]))
    return re.compile(_units(_html_units(mode, note, done)))


# A <template> start tag.
_TEMPLATE_START = rf"<{_ci('template')}{_AFTER_NAME}{_SKIP_ATTRS}>"


def _raw_elements(note: str | None) -> list[str]:
    return [_element("script", _script_data(), note)] + [
        _element(name, _raw_text(name))
        for name in ("style", "title", "noscript", "textarea", "iframe", "xmp", "noembed",
                     "noframes")
    ]


def _inert_template(note: str | None) -> str:
    """A template holding no hit and no other template: nothing in it matters."""
    inner = [*_ordinary_tags(RAW_TEXT | {"plaintext", "template"}, {"template"}),
             _LONE_LT, _COMMENT, *_BOGUS_UNITS, *_raw_elements(note)]
    return _element("template", _units(inner))


def _template_units(note: str | None) -> list[str]:
    """What ``template`` mode consumes besides the start tags of nested templates: in a
    <template> the body boundaries mean nothing, and only its end tag, the elements that
    change how what follows is read and the hits matter."""
    stop = RAW_TEXT | {"plaintext", "template", "svg", "math"}
    return [*_ordinary_tags(stop, {"template"}), _LONE_LT, _COMMENT, *_BOGUS_UNITS,
            *_raw_elements(note), _island("svg"), _island("math"), _inert_template(note)]


@lru_cache(maxsize=16)
def _template_starts(note: str | None) -> Callable[[str, int, int], int]:
    """How many start tags of nested templates the ``template`` skip consumed between two
    positions: the same units, each match ending at one of them (found in one call)."""
    rx = re.compile(f"{_units(_template_units(note))}({_TEMPLATE_START})?+")

    def count(text: str, start: int, end: int) -> int:
        found = rx.findall(text, start, end)
        return len(found) - found.count("")

    return count


# </template> again and again, only text between (each closes one); <template> the same, its
# attributes without quotes or '<' (each opens one).
_TEMPLATE_ENDS = re.compile(rf"(?:[^<]*+</{_ci('template')}[\t\n\f\r ]*+>)*+")
_TEMPLATE_STARTS = re.compile(
    rf"(?:[^<]*+<{_ci('template')}(?:[\t\n\f\r ][^<>\"']*+)?+>)*+")


def _html_units(mode: str, note: str | None, done: frozenset[str]) -> list[str]:
    """The units of the ``plain``, ``html`` and ``html-ip`` skips."""
    raw = _raw_elements(note)
    stop = RAW_TEXT | {"plaintext"} | ({"body"} - done)
    stop_end = frozenset({"body", "html"} - {name[1:] for name in done})
    if mode != "plain":
        stop |= {"template", "svg", "math"}
        stop_end |= {"template"} | ({"head"} - {name[1:] for name in done})
    if mode == "html-ip":
        stop_end |= _INTEGRATION["svg"] | _INTEGRATION["math"]
    parts = _ordinary_tags(stop, stop_end)
    if mode != "plain":  # (no unit starts like another: their order decides only speed)
        parts += [_island("svg"), _island("math")]
    parts += [_LONE_LT, _COMMENT, *_BOGUS_UNITS, *raw]
    if mode == "html":
        # a template holding no hit and no other template is inert: consume it whole
        parts.append(_inert_template(note))
    return parts


@lru_cache(maxsize=64)
def _skips(
    note: str | None, done: frozenset[str] = frozenset()
) -> dict[str, Callable[..., re.Match[str] | None]]:
    return {mode: _skip(mode, None if mode == "plain" else note, done).match
            for mode in ("plain", "html", "template", "html-ip", "foreign")}


# A whole tag from its '<': end-tag slash, name, self-closing slash (to the end if left open).
_TAG = re.compile(r"<(/?)(" + _NAME + ")" + _ATTRS + r"(/?)(?:>|\Z)")
# Start tags the HTML-mode pass stops at for what they are, not for a hit.
_SPECIAL_START = RAW_TEXT | {"plaintext", "template", "body", "svg", "math"}
_SCRIPT_DATA = re.compile(_script_data())
_RAW_DATA = {
    name: re.compile(_raw_text(name))
    for name in RAW_TEXT - {"script"}
}
_COMMENT_END = re.compile(r"--!?>")


class Region(NamedTuple):
    """A construct the caller has to look at: one holding a hit, or a noted <script>.

    ``kind`` is ``comment`` (bogus comments included), a raw-text element's name, ``plaintext``,
    ``tag`` (a start tag whose attributes hold the hit), ``svg-script`` or ``math-script`` (a
    <script> in foreign content, whose content is markup). ``start``/``end`` cover the whole
    construct; ``content_start``/``content_end`` its content (for a tag, the tag itself).
    ``name`` is the tag name; ``template`` is set inside a <template>; ``closed`` is False for
    a foreign script that some other tag ended before its ``</script>``. A ``repeat`` region
    is no construct: it says that the stretch from ``start`` to ``end`` occurs ``repeat``
    times in a row, every ``stride`` characters (see ``walk_structure``); ``copied`` marks a
    construct where such a stretch may start."""

    kind: str
    start: int
    end: int
    content_start: int
    content_end: int
    name: str = ""
    template: bool = False
    closed: bool = True
    repeat: int = 1
    stride: int = 0
    copied: bool = False


@dataclass(slots=True)
class Structure:
    """What one pass over the page learns: the constructs holding hits, in page order, and the
    tags that bound head and body (those read as markup; inside a <template> they do not
    count). ``work`` counts the characters the pass read plus ``STEP`` for each step."""

    regions: list[Region] = field(default_factory=list)
    body_open: int | None = None  # the first <body>
    # the last </body>, and the end of the last </html>; with more than one the page is
    # malformed anyway, and only the first <body> bounds the body (browsers put what follows
    # a stray </body> in the body too)
    body_close: int | None = None
    html_close: int | None = None
    head_close: int | None = None  # the first </head>
    repeated: bool = False  # more than one <body>, </body> or </html>
    content_after_html: bool = False
    work: int = 0
    # where ``inside_body`` may change its answer, in page order: between two of these it
    # gives the same answer whatever the rest of the page holds
    boundaries: list[int] = field(default_factory=list)

    def inside_body(self, pos: int) -> bool:
        """Whether ``pos`` is in the page's body: after ``<body>`` (or after ``</head>`` when the
        body tag is implied; anywhere for a fragment without either) and before the document's
        last ``</body>`` and last ``</html>``."""
        if self.body_open is not None:
            if pos < self.body_open:
                return False
        elif self.head_close is not None and pos < self.head_close:
            return False
        if self.body_close is not None and pos > self.body_close:
            return False
        return not (self.html_close is not None and pos > self.html_close)

    @property
    def malformed(self) -> bool:
        """Several bodies or documents in one page, or markup after ``</html>``."""
        return self.repeated or self.content_after_html


class _Hits:
    """The next hit at or after a position: one search of the caller's pattern, repeated only
    once the position has passed the hit found last (positions only ever increase)."""

    __slots__ = ("next_at", "rx", "text", "work")

    def __init__(self, text: str, rx: re.Pattern[str]) -> None:
        self.text = text
        self.rx = rx
        self.next_at = -1
        self.work = 0

    def after(self, pos: int) -> int:
        if self.next_at < pos:
            found = self.rx.search(self.text, pos)
            self.next_at = len(self.text) if found is None else found.start()
            self.work += self.next_at - pos
        return self.next_at


@dataclass(slots=True)
class _Frame:
    """An open <svg>/<math> (``depth`` counts nested ones of the same name), or an HTML
    integration point inside one (``kind`` "html", ``name`` its tag), and the foreign
    <script> open in it."""

    kind: str
    name: str
    depth: int = 1
    script: tuple[int, int] | None = None  # (start, content start) of an open <script>
    script_hit: bool = False


class HitPatterns:
    """What a structure walk stops at: ``full`` inside <svg> and <math> (and for the caller's
    own passes), ``rx`` elsewhere before ``until``, ``wide`` from there on. The caller may
    narrow ``rx`` and ``wide`` while the walk goes on, when what it has learnt makes some
    hits irrelevant (the walk yields each construct before it searches past it). ``core``:
    a literal every hit contains (``onac``), if there is one; text without it holds no hit,
    so comments separated by such text are read as one."""

    __slots__ = ("comment_run", "full", "rx", "until", "wide")

    def __init__(self, rx: re.Pattern[str], core: str | None = None) -> None:
        self.full = self.rx = self.wide = rx
        self.until = 0
        self.comment_run = _comment_run(core)

    def next_hit(self, text: str, pos: int, foreign: bool) -> re.Match[str] | None:
        """The first hit at or after ``pos``."""
        if foreign:
            return self.full.search(text, pos)
        if pos < self.until:
            found = self.rx.search(text, pos, self.until)
            return found if found is not None else self.wide.search(text, self.until)
        return self.wide.search(text, pos)


@lru_cache(maxsize=16)
def _comment_run(core: str | None) -> re.Pattern[str]:
    """Comments after a comment, each after text that holds no hit (whitespace only without a
    ``core``): group 1 is the last of them."""
    if core:
        first, rest = re.escape(core[0]), re.escape(core[1:])
        gap = rf"(?:[^<{first}]++|{first}(?!{rest}))*+"
    else:
        gap = r"[\t\n\f\r ]*+"
    return re.compile(rf"(?:{gap}({_COMMENT}))*+")


# A construct is looked for again at most this far after its end; fewer copies in a row than
# _RUN_MIN are read one by one.
_GAP_LIMIT = 256
_RUN_MIN = 4


def _block_of(text: str, start: int, end: int) -> tuple[int, int] | None:
    """Whether the page goes on with copies of the stretch from the construct at ``start`` to
    its next occurrence (the construct, what follows it up to the next): (length, copies).
    A page made of one piece of markup again and again is read once, not once per copy."""
    unit = text[start:end]
    again = text.find(unit, end, 2 * end - start + _GAP_LIMIT)
    if again < 0:
        return None
    block = text[start:again]
    period, copies, pos = again - start, 1, again
    while text.startswith(block, pos):
        copies += 1
        pos += period
    return (period, copies) if copies >= _RUN_MIN else None


_Block: TypeAlias = tuple[int, int, int, tuple[object, ...]]  # start, length, copies, state


def _copy_start(
    text: str, p: int, region: Region, block: _Block | None, state: tuple[object, ...] | None
) -> tuple[Region, _Block | None]:
    """A construct the walk found at ``p``, marked ``copied`` when the page goes on with copies
    of the stretch it starts (the walk remembers one such stretch at a time, in ``block``)."""
    if block is None and state is not None and region.start == p:
        copies = _block_of(text, p, region.end)
        if copies is not None:
            return region._replace(copied=True), (p, *copies, state)
    return region, block


def scan_structure(
    text: str, hits_rx: re.Pattern[str] | None = None, note: str | None = None
) -> Structure:
    """One pass over ``text`` as the HTML tokenizer reads it, recording the constructs that
    hold a match of ``hits_rx`` (and <script> elements whose start tag matches ``note``) and
    the head/body boundaries. Without ``hits_rx`` only the boundaries are wanted, and
    <template>, <svg> and <math> are not followed."""
    st = Structure()
    for _ in walk_structure(st, text, None if hits_rx is None else HitPatterns(hits_rx), note):
        pass
    return st


def walk_structure(
    st: Structure, text: str, hits: HitPatterns | None, note: str | None = None
) -> Generator[Region, bool | None, None]:
    """``scan_structure`` as a generator: yields each construct as soon as the pass has found
    it (and appends it to ``st.regions``); ``st`` is complete when it is exhausted. Between
    two constructs the caller may narrow ``hits.rx``.

    When the page goes on with copies of the stretch that starts at a construct (see
    ``_block_of``) and the pass, having read the first copy, stands where the second starts
    in the same state, it yields a ``repeat`` region (``start``/``end``: the first copy,
    ``repeat``: how many copies it stands for, ``stride``: their length) and skips them if
    the caller sends True: the caller then counts what the first gave once for each. Reading
    a copy again could give nothing else: the same text, read from the same state, followed
    by the same text. (The last copy is read: what follows it may differ.)"""
    regions = st.regions
    yielded = 0
    block: _Block | None = None
    n = len(text)
    frames: list[_Frame] = []
    templates = 0
    body_opens = body_closes = html_closes = 0
    done: frozenset[str] = frozenset()
    skips = _skips(note, done)
    plain = hits is None
    h = -1  # the next hit at or after pos (n: none)
    searched_foreign = False  # whether h was searched for with the pattern for foreign content
    pos = 0
    steps = 0
    while pos < n:
        steps += 1
        if frames:
            frame: _Frame | None = frames[-1]
            mode = "html-ip" if frame.kind == "html" else "foreign"  # type: ignore[union-attr]
        else:
            frame = None
            mode = "plain" if plain else "html"
        skip = "template" if templates and mode == "html" else mode
        if hits is not None and searched_foreign != bool(frames):
            searched_foreign, h = bool(frames), -1  # the walk entered or left <svg>/<math>
        if h < pos:
            if hits is None:
                h = n
            else:
                found = hits.next_hit(text, pos, searched_foreign)
                h = n if found is None else found.start()
                st.work += h - pos
        p = skips[skip](text, pos, h).end()  # type: ignore[union-attr]
        st.work += p - pos
        if skip == "template" and p > pos:
            templates += _template_starts(note)(text, pos, p)
            st.work += p - pos
        # the state a copy of what starts here must find, to be read the same way
        state = (
            (templates, body_opens, body_closes, html_closes, done) if mode == "html" else None
        )
        if block is not None and p >= block[0] + block[1]:
            start, period, count, first = block
            block = None
            if p == start + period and state == first:
                # the last copy is read: what follows it may change how its end reads
                copy = Region("repeat", start, p, start, p, repeat=count - 1, stride=period)
                if (yield copy):
                    pos = start + (count - 1) * period
                    st.work += pos - p
                    continue
        if p >= n:
            break
        if p == h:  # a hit in text: the rest of this text run is text too
            if frame is not None and frame.script is not None:
                frame.script_hit = True
            lt = text.find("<", h)
            end = n if lt < 0 else lt
            st.work += end - h
            pos = end
            if hits is not None and skip == "html" and block is None:
                # and so, often, the next hit: read on while the hits are in text
                match = skips[skip]
                while pos < n:
                    found = hits.next_hit(text, pos, False)
                    h = n if found is None else found.start()
                    p = match(text, pos, h).end()  # type: ignore[union-attr]
                    st.work += (h - pos) + (p - pos) + STEP
                    if p != h or h >= n:
                        break
                    lt = text.find("<", h)
                    st.work += (n if lt < 0 else lt) - h
                    pos = n if lt < 0 else lt
            continue
        tag = _TAG.match(text, p)
        if tag is not None:
            name = tag.group(2).lower()
            end = tag.end()
            closing = bool(tag.group(1))
            if mode == "html" and not closing and name not in _SPECIAL_START:
                # an ordinary start tag holding the hit, or left open at the end
                if h < end:
                    regions.append(Region("tag", p, end, p, end, name, templates > 0))
                st.work += end - p
                pos = end
            else:
                self_closing = bool(tag.group(3))
                if mode == "foreign":
                    assert frame is not None
                    after = _foreign_tag(st, frames, frame, text, p, end, name, closing,
                                         self_closing, h)
                else:
                    after = _html_tag(st, frames, text, p, end, name, closing, self_closing, h,
                                      mode, templates)
                    if name == "template" and not plain:
                        templates = templates + 1 if not closing else max(0, templates - 1)
                        if mode == "html" and after == end:  # and the same tags right after it
                            run = (_TEMPLATE_ENDS if closing else _TEMPLATE_STARTS).match(
                                text, after, max(after, h))
                            assert run is not None
                            count = run.group().count("<")
                            templates = max(0, templates + (-count if closing else count))
                            after = run.end()
                if after != p and templates == 0 and name in ("body", "html", "head"):
                    seen = done
                    if name != "html" or closing:
                        # inside_body compares with <body> and </head> (<), </body> (>) and the
                        # end of </html> (>)
                        st.boundaries.append(p + closing * (name == "body") if name != "html"
                                             else end + 1)
                    if name == "body" and not closing:
                        body_opens += 1
                        if st.body_open is None:
                            st.body_open = p
                        elif not plain:
                            done |= {"body"}
                    elif name == "body":
                        body_closes += 1
                        st.body_close = p if body_closes == 1 else None
                        if body_closes > 1:
                            done |= {"/body"}
                    elif name == "html" and closing:
                        html_closes += 1
                        st.html_close = end if html_closes == 1 else None
                        if html_closes > 1:
                            done |= {"/html"}
                    elif name == "head" and closing and st.head_close is None:
                        st.head_close = p
                        done |= {"/head"}
                    if plain and (body_opens > 1 or body_closes > 1 or html_closes > 1):
                        break  # malformed: all that was wanted
                    if done is not seen:
                        skips = _skips(note, done)
                st.work += max(after, end) - p
                pos = after
        else:
            before = len(regions)
            end = _other_construct(st, frame, text, p, h, mode, templates > 0)
            if hits is not None and mode == "html" and len(regions) > before and (
                text.startswith("<!--", p)
            ):
                end = _extend_comment(st, text, end, hits)
            st.work += end - p
            pos = end
        while yielded < len(regions):
            region, block = _copy_start(text, p, regions[yielded], block, state)
            yielded += 1
            yield region
    while yielded < len(regions):
        yield regions[yielded]
        yielded += 1
    st.work += STEP * (steps + len(regions))
    st.repeated = body_opens > 1 or body_closes > 1 or html_closes > 1
    if st.html_close is not None:
        st.content_after_html = not tail_is_quiet(text, st.html_close)
        st.work += n - st.html_close


def _other_construct(
    st: Structure, frame: _Frame | None, text: str, p: int, hit: int, mode: str,
    in_template: bool,
) -> int:
    """A comment, CDATA section or bogus comment the pass stopped at (it holds the hit or is
    left open); returns its end. A '<' that starts nothing (at the very end) is text."""
    n = len(text)
    if text.startswith("<!--", p):
        end, content_end = _comment_bounds(text, p)
        if hit < end:
            st.regions.append(Region("comment", p, end, p + 4, content_end,
                                     template=in_template))
        return end
    if mode == "foreign" and text.startswith("<![CDATA[", p):  # text in foreign content
        close = text.find("]]>", p + 9)
        end = n if close < 0 else close + 3
        if frame is not None and frame.script is not None and hit < end:
            frame.script_hit = True
        return end
    if text.startswith(("<!", "<?", "</"), p):  # <!DOCTYPE>, <?php ?>, </ >: to the next '>'
        gt = text.find(">", p)
        end = n if gt < 0 else gt + 1
        if hit < end:
            st.regions.append(Region("comment", p, end, p + 2, end - 1 if gt >= 0 else n,
                                     template=in_template))
        return end
    return p + 1


def _extend_comment(st: Structure, text: str, end: int, hits: HitPatterns) -> int:
    """The comment just recorded, with the comments that follow it after text holding no
    hit, as one region (what matters in comments is only which badge URLs they name, and
    no URL runs from one comment into the next: each closes with '>'). Returns the end of
    what the region covers."""
    run = hits.comment_run.match(text, end)
    assert run is not None
    if run.end() == end:
        return end
    last_end, content_end = _comment_bounds(text, run.start(1))
    st.regions[-1] = st.regions[-1]._replace(end=last_end, content_end=content_end)
    return last_end


def _comment_bounds(text: str, start: int) -> tuple[int, int]:
    """End and content end of the comment opening at ``start`` (``<!-->`` and ``<!--->`` are
    empty comments; ``--!>`` closes one too); the end of the page if it never closes."""
    body = start + 4
    if text.startswith(">", body):
        return body + 1, body
    if text.startswith("->", body):
        return body + 2, body
    close = _COMMENT_END.search(text, body)
    if close is None:
        return len(text), len(text)
    return close.end(), close.start()


def _html_tag(
    st: Structure, frames: list[_Frame], text: str, start: int, tag_end: int, name: str,
    closing: bool, self_closing: bool, hit: int, mode: str, templates: int,
) -> int:
    """A tag the HTML-mode pass stopped at; returns where to go on."""
    n = len(text)
    in_template = templates > 0
    if closing:
        frame = frames[-1] if frames else None
        if frame is not None and frame.kind == "html" and name == frame.name:
            frames.pop()
        return tag_end
    if name == "script":
        data = _SCRIPT_DATA.match(text, tag_end)
        assert data is not None
        content_end = data.end()
        end = _end_tag(text, content_end)
        st.regions.append(Region("script", start, end, tag_end, content_end, name, in_template))
        return end
    if name in RAW_TEXT:
        data = _RAW_DATA[name].match(text, tag_end)
        assert data is not None
        content_end = data.end()
        end = _end_tag(text, content_end)
        if hit < end:
            st.regions.append(Region(name, start, end, tag_end, content_end, name, in_template))
        return end
    if name == "plaintext":
        st.regions.append(Region("plaintext", start, n, tag_end, n, name, in_template))
        return n
    if hit < tag_end:  # the hit is in this start tag's attributes
        st.regions.append(Region("tag", start, tag_end, start, tag_end, name, in_template))
    if mode != "plain" and name in ("svg", "math") and not self_closing:
        frames.append(_Frame(name, name))
    return tag_end


def _foreign_tag(
    st: Structure, frames: list[_Frame], frame: _Frame, text: str, start: int, tag_end: int,
    name: str, closing: bool, self_closing: bool, hit: int,
) -> int:
    """A tag inside <svg>/<math>; returns where to go on (``start`` again when the tag ends
    the foreign content and must be read as HTML)."""
    if closing:
        if name in _BREAKOUT_END:
            _leave_foreign(st, frames, start)
            return start
        if name == "script" and frame.script is not None:
            _close_script(st, frame, text, start, tag_end)
        elif name == frame.name:
            frame.depth -= 1
            if frame.depth == 0:
                _pop_frame(st, frames, start)
        return tag_end
    if name in _BREAKOUT or (name == "font" and _font_breaks_out(text[start:tag_end])):
        _leave_foreign(st, frames, start)
        return start
    if hit < tag_end and name != "script":
        st.regions.append(Region("tag", start, tag_end, start, tag_end, name))
    if self_closing:
        if name == "script":
            st.regions.append(Region(f"{frame.kind}-script", start, tag_end, tag_end, tag_end,
                                     name))
        return tag_end
    if name == frame.name:
        frame.depth += 1
    elif name == "script":
        frame.script = (start, tag_end)
        frame.script_hit = hit < tag_end
    elif name in _INTEGRATION[frame.kind] and (
        name != "annotation-xml" or _html_annotation(text[start:tag_end])
    ):
        frames.append(_Frame("html", name))
    return tag_end


def _close_script(st: Structure, frame: _Frame, text: str, close: int, end: int) -> None:
    assert frame.script is not None
    start, content_start = frame.script
    if frame.script_hit:
        st.regions.append(Region(f"{frame.kind}-script", start, end, content_start, close,
                                 "script"))
    frame.script, frame.script_hit = None, False


def _pop_frame(st: Structure, frames: list[_Frame], at: int) -> None:
    """Close the innermost <svg>/<math>; a foreign <script> still open in it never runs."""
    frame = frames.pop()
    if frame.script is not None and frame.script_hit:
        start, content_start = frame.script
        st.regions.append(Region(f"{frame.kind}-script", start, at, content_start, at,
                                 "script", closed=False))


def _leave_foreign(st: Structure, frames: list[_Frame], at: int) -> None:
    """A tag ends the foreign content: every <svg>/<math> up to the nearest integration point
    closes."""
    while frames and frames[-1].kind != "html":
        _pop_frame(st, frames, at)


def _font_breaks_out(tag: str) -> bool:
    return bool({"color", "face", "size"} & attributes(tag).keys())


def _html_annotation(tag: str) -> bool:
    encoding = attributes(tag).get("encoding", "").strip().lower()
    return encoding in ("text/html", "application/xhtml+xml")


def _end_tag(text: str, pos: int) -> int:
    """End of the end tag at ``pos`` (the end of the page when there is none)."""
    tag = _TAG.match(text, pos)
    return len(text) if tag is None else tag.end()


def tail_is_quiet(data: bytes | str, pos: int) -> bool:
    """Whether only whitespace and complete comments follow ``pos`` (the test for content
    after ``</html>``); a loop, so a long tail cannot make a regex backtrack."""
    text = data if isinstance(data, str) else data.decode("latin-1")
    n = len(text)
    while True:
        while pos < n and text[pos] in _HTML_SPACE:
            pos += 1
        if pos >= n:
            return True
        if not text.startswith("<!--", pos):
            return False
        end, content_end = _comment_bounds(text, pos)
        if content_end >= n:  # never closed
            return False
        pos = end


_ATTR = re.compile(
    r"([^\t\n\f\r />][^\t\n\f\r />=]*+)(?:[\t\n\f\r ]*+=[\t\n\f\r ]*+"
    r"""(?:"([^"]*+)(?:"|\Z)|'([^']*+)(?:'|\Z)|([^\t\n\f\r >]++)))?+"""
)
_TAG_NAME = re.compile(r"<(" + _NAME + ")")


def attributes(tag: str) -> dict[str, str]:
    """Attributes of a start tag (first occurrence wins, names lower-cased, values raw)."""
    found = _TAG_NAME.match(tag)
    attrs: dict[str, str] = {}
    for raw_name, double, single, bare in _ATTR.findall(tag, found.end() if found else 0):
        name = raw_name.lower()
        if name not in attrs:
            attrs[name] = double or single or bare
    return attrs


def tag_clean(fragment: str) -> bool:
    """True when a fragment is nothing but tags and whitespace, as the issued snippet decodes
    to; stray text (``3C/span>`` from a mangled ``%3E3C``) means the escapes were damaged."""
    return _ONLY_TAGS.fullmatch(fragment) is not None


_ONLY_TAGS = re.compile(r"(?:\s*+<[^<>]*+>)*+\s*+")

# ---------------------------------------------------------------------------------------------
# JavaScript
#
# The same idea as for HTML: one expression consumes whole units of a script (strings and the
# runs of strings joined by '+', comments, regular expression literals, names, numbers,
# punctuation), used with ``endpos`` at the next hit, so only the units holding a hit, and the
# places where the script cannot be read, reach Python. A '/' starts a regular expression after
# punctuation or a keyword and is a division after an operand, as the old lexer decided.

_JS_BREAK = "\n\r\u2028\u2029"
_JS_STRINGS = (
    r'"(?:[^"\\\n\r]++|\\(?:\r\n|[\s\S]))*+"',
    r"'(?:[^'\\\n\r]++|\\(?:\r\n|[\s\S]))*+'",
    r"`(?:[^`\\]++|\\[\s\S])*+`",
)
_JS_STR = "|".join(_JS_STRINGS)
# Between two strings of one concatenation: '+', or names joined by '+' (they add nothing).
_JS_GAP = r"\s*+\+\s*+(?:[A-Za-z_$][\w$.]*+\s*+\+\s*+)*+"
# A regular expression literal; one that never closes takes the rest of its line (JavaScript
# cannot read past it either), so a line of '(/[' is read once, not once per '/'.
_JS_RX = (
    r"/(?![*/])(?:(?:[^/\\\[\n\r]++|\\[^\n\r]|\[(?:[^\]\\\n\r]++|\\[^\n\r])*+\])++/[A-Za-z]*+"
    r"|[^\n\r\u2028\u2029]*+)"
)
_JS_AFTER_OPERAND = r"\s*+(?:/(?![*/])\s*+)?+"
_JS_AFTER_OPERATOR = rf"\s*+(?:{_JS_RX}{_JS_AFTER_OPERAND})?+"
_JS_KEYWORDS = "return|typeof|case|do|else|in|of|new|delete|void|throw|instanceof|yield|await"
# Words a name may follow on the same line (declarations, statements, contextual keywords),
# and the operator words a name may be followed by.
_JS_BEFORE_NAME = (
    "var|let|const|function|class|extends|async|get|set|static|import|export|default|from|as"
    "|break|continue|if|for|while|with|switch|try|catch|finally"
)
_JS_NAME = r"[A-Za-z_$\u0080-\uffff][\w$\u0080-\uffff]*+"
_JS_NEXT_NAME = rf"(?!(?:in|of|instanceof|from|as)(?![\w$])){_JS_NAME}"


def _js_units(strict: bool) -> str:
    """One unit of a script. ``strict`` (the syntax pass): an operand must not be followed on
    the same line by a quoted string, so the pass stops there and sees the error.

    Units that can start alike keep their order (a keyword before a name before a space
    beyond ASCII); the others are tried commonest first, each led by a literal or a
    character class (the engine skips such a branch at a glance). An operand followed by a
    character that can neither join, divide nor juxtapose it is a unit on its own, without
    the checks that follow an operand: those are most of a script's strings and names."""
    guard = rf"(?![ \t]*+(?:[\"']|{_JS_NEXT_NAME}))" if strict else ""
    string_guard = r"(?![ \t]*+[\"'])" if strict else ""
    return "|".join((
        rf"[(,=:\[!&|?{{}};+*%>~^.]{_JS_AFTER_OPERATOR}",
        rf"<(?!!--){_JS_AFTER_OPERATOR}",
        rf"-(?!->){_JS_AFTER_OPERATOR}",
        rf"[\t\n\v\f\r \x1c-\x1f]\s*+{_JS_AFTER_OPERATOR}",
        *(rf"{string}(?=[;,)\]}}:?])" for string in _JS_STRINGS),
        # a run of strings joined by '+', which must not go on past where it stops
        *(rf"{string}(?:{_JS_GAP}(?:{_JS_STR}))*+(?!{_JS_GAP}[\"'`]){guard}{_JS_AFTER_OPERAND}"
          for string in _JS_STRINGS),
        *(rf"{word}(?![\w$]){_JS_AFTER_OPERATOR}" for word in _JS_KEYWORDS.split("|")),
        *(rf"{word}(?![\w$]){_JS_AFTER_OPERAND}" for word in _JS_BEFORE_NAME.split("|")),
        rf"{_JS_NAME}(?=[;,()\[\]{{}}=.:?+*<>!&|%^~\-])",
        rf"{_JS_NAME}{guard}{_JS_AFTER_OPERAND}",
        rf"[0-9][\w.]*+{guard}{_JS_AFTER_OPERAND}",
        rf"[)\]]{string_guard}{_JS_AFTER_OPERAND}",
        rf"\s++{_JS_AFTER_OPERATOR}",  # a space beyond ASCII that a name could not take
        rf"//[^{_JS_BREAK}]*+(?=[{_JS_BREAK}])",
        r"/\*(?:[^*]++|\*(?!/))*+\*/",
        rf"<!--[^{_JS_BREAK}]*+(?=[{_JS_BREAK}])",  # an HTML-like comment, to the line end
        r"/(?![*/])",
        r"[^\"'`/<\-\w$)\]\u0080-\uffff]",  # anything else, never a piece of an operand
    ))


_JS_SKIP = re.compile(f"(?:{_js_units(False)})*+")
_JS_START = re.compile(f"{_JS_AFTER_OPERATOR}(?:{_js_units(False)})*+")  # may open with /re/
_JS_CHECK = re.compile(f"(?:{_js_units(True)})*+")
_JS_CHECK_START = re.compile(f"{_JS_AFTER_OPERATOR}(?:{_js_units(True)})*+")
# ``document.write('<span id='_ideConac'>…')``: quotes broken in copying leave an operand
# directly followed by a string or a name on the same line, which does not parse; so does
# markup read as script. (A backquote may follow: that is a tagged template.)
_JS_JUXTAPOSED = re.compile(
    rf"(?:{_JS_NAME}|[0-9][\w.]*+|{_JS_STR})[ \t]*+(?:[\"']|{_JS_NEXT_NAME})"
    rf"|[)\]][ \t]*+[\"']"
)
_JS_STRING = {quote: re.compile(rx) for quote, rx in zip("\"'`", _JS_STRINGS, strict=True)}
_JS_STR_RX = re.compile(_JS_STR)
_JS_GROUP = re.compile(f"(?:{_JS_STR})(?:{_JS_GAP}(?:{_JS_STR}))*+")
# the bodies of strings without escapes (a string's body is in one of the groups)
_JS_STR_BODY = re.compile(r'"([^"\\\n\r]*+)"|\'([^\'\\\n\r]*+)\'|`([^`\\]*+)`')
_JS_GAP_RX = re.compile(_JS_GAP)
_LINE_END = re.compile(f"[{_JS_BREAK}]")


class JsSpot(NamedTuple):
    """Where a hit sits in a script: ``group`` (a run of strings joined by '+'; ``end`` is its
    end), ``comment`` (``end`` its end), or ``code`` (``start`` is the hit)."""

    kind: str
    start: int
    end: int


def _line_end(src: str, pos: int) -> int:
    match = _LINE_END.search(src, pos)
    return match.start() if match else len(src)


def _at_line_start(src: str, pos: int) -> bool:
    i = pos - 1
    while i >= 0 and src[i] in " \t":
        i -= 1
    return i < 0 or src[i] in _JS_BREAK


def _js_stop(src: str, pos: int) -> tuple[str, int]:
    """What stopped the script pass at ``pos``: ("string" | "comment" | "code" | "error",
    where it ends). ``code`` is a '-->' that is not a comment, read as the operator it is."""
    if src.startswith(("//", "<!--"), pos) or (
        src.startswith("-->", pos) and _at_line_start(src, pos)
    ):
        return "comment", _line_end(src, pos)
    if src.startswith("/*", pos):
        close = src.find("*/", pos + 2)
        return ("error", len(src)) if close < 0 else ("comment", close + 2)
    quote = src[pos]
    if quote in _JS_STRING:
        match = _JS_STRING[quote].match(src, pos)
        return ("error", len(src)) if match is None else ("string", match.end())
    return "code", pos + 1


def js_syntax_error(src: str) -> str | None:
    """Why the script cannot parse, so none of it runs: ``quote`` for two operands side by
    side on one line (quotes broken in copying, or markup read as script), ``syntax`` for a
    string, template or block comment that never closes; None when it parses as far as this
    reading can tell."""
    pos = _JS_CHECK_START.match(src).end()  # type: ignore[union-attr]
    n = len(src)
    while pos < n:
        side_by_side = _JS_JUXTAPOSED.match(src, pos)
        if side_by_side is not None:
            pair = side_by_side.group()
            return "quote" if pair[0] in "\"'" or pair[-1] in "\"'" else "syntax"
        kind, end = _js_stop(src, pos)
        if kind == "error":
            return "syntax"
        pos = _JS_CHECK.match(src, end).end()  # type: ignore[union-attr]
    return None


def js_spots(src: str, hits_rx: re.Pattern[str]) -> Iterator[JsSpot]:
    """The places in a script (without syntax errors) where ``hits_rx`` matches, one per
    unit: a run of joined strings, a comment, or code."""
    hits = _Hits(src, hits_rx)
    n = len(src)
    pos = 0
    skip = _JS_START.match
    while pos < n:
        h = hits.after(pos)
        if h >= n:
            return
        p = skip(src, pos, h).end()  # type: ignore[union-attr]
        skip = _JS_SKIP.match
        if p >= h:
            yield JsSpot("code", h, h)
            pos = h + 1
            continue
        if src[p] in _JS_STRING:
            end, closes = js_group(src, p)
            if not closes:
                # a string that never closes, in a script without syntax errors: reading on
                # from a hit inside a unit took a closing quote for an opening one (markup
                # read as script); the hit is code, as it is
                yield JsSpot("code", h, h)
                pos = h + 1
                continue
            if h < end:
                yield JsSpot("group", p, end)
            pos = end
            continue
        kind, end = _js_stop(src, p)
        if kind == "comment" and h < end:
            yield JsSpot("comment", p, end)
        pos = end


def js_group(src: str, start: int) -> tuple[int, bool]:
    """End of the run of strings joined by '+' that starts at ``start`` (after the last '+'
    when a string that never closes follows it; the end of the script when the first one
    never closes), and whether its first string closes. One expression, however many
    strings the run joins."""
    run = _JS_GROUP.match(src, start)
    if run is None:
        return len(src), False
    gap = _JS_GAP_RX.match(src, run.end())
    if gap is not None and src.startswith(('"', "'", "`"), gap.end()):
        return gap.end(), True
    return run.end(), True


def js_group_value(src: str, start: int, end: int, *, closes: bool | None = None) -> str:
    """The value of the run of strings between ``start`` and ``end``: its strings' values
    joined; without escapes, their bodies taken in one call. ``closes``: whether its first
    string closes, if known (nothing when it does not)."""
    if closes is None:
        closes = _JS_GROUP.match(src, start) is not None
    if not closes:
        return ""
    if src.find("\\", start, end) < 0:
        return "".join(chain.from_iterable(_JS_STR_BODY.findall(src, start, end)))
    return "".join(map(js_string_value, _JS_STR_RX.findall(src, start, end)))


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


_BAD_PERCENT = re.compile(r"%(?!u[0-9A-Fa-f]{4}|[0-9A-Fa-f]{2})")


_PERCENT = re.compile(r"%(u[0-9A-Fa-f]{4}|[0-9A-Fa-f]{2})")
_STRIP_U = methodcaller("lstrip", "u")


_PERCENT_RUN = re.compile(r"(?:%[0-9A-Fa-f]{2})++")


def _percent_run(match: re.Match[str]) -> str:
    return bytes.fromhex(match.group().replace("%", "")).decode("latin-1")


def js_unescape(value: str) -> str:
    """JavaScript's ``unescape``: ``%XX`` and ``%uXXXX``; anything else is kept as is. A run
    of ``%XX`` is one ``bytes.fromhex`` (each is the code point XX), so an argument of a
    hundred thousand escapes costs no Python call per escape; with ``%uXXXX``, split once
    and decoded with ``map`` over built-ins."""
    if "%" not in value:
        return value
    if "%u" not in value:
        return _PERCENT_RUN.sub(_percent_run, value)
    parts = _PERCENT.split(value)
    texts, codes = parts[0::2], parts[1::2]
    chars = map(chr, map(int, map(_STRIP_U, codes), repeat(16)))
    return "".join(map(add, texts, chars)) + texts[-1]


def has_bad_percent(value: str) -> bool:
    """A '%' that is not a valid escape: a snippet cut or mangled while copying."""
    return _BAD_PERCENT.search(value) is not None


def js_unescape_checked(value: str) -> tuple[str, bool]:
    """``js_unescape(value)`` and ``has_bad_percent(value)`` in one pass when the value has
    no ``%u``: each '%' then either starts one of the runs decoded, or is no escape."""
    if "%" not in value:
        return value, False
    if "%u" in value:
        return js_unescape(value), has_bad_percent(value)
    escapes = 0

    def run(match: re.Match[str]) -> str:
        nonlocal escapes
        escapes += (match.end() - match.start()) // 3
        return _percent_run(match)

    return _PERCENT_RUN.sub(run, value), value.count("%") != escapes
