"""Which links the crawler follows: canonical, on the site's own hosts, HTML, not a trap.

The per-page cost matters (a page has ~50 links and most repeat the page before), so
``LinkFilter.admit`` first drops a link it has already seen verbatim, and only then parses it.
URLs are requested as a browser requests them: a Chinese path percent-encoded in UTF-8, a query
in the page's own encoding, a host that is an address read the way a browser reads it.
"""

from __future__ import annotations

import codecs
import ipaddress
import posixpath
import re
from collections import Counter
from dataclasses import dataclass, field
from urllib.parse import SplitResult, quote, urljoin, urlsplit, urlunsplit

from w3lib.url import safe_url_string

SKIPPED_EXTENSIONS = frozenset(
    {
        "7z", "apk", "avi", "bin", "bmp", "bz2", "css", "csv", "dmg", "doc", "docx", "dwg", "eot",
        "epub", "exe", "flv", "gif", "gz", "ico", "iso", "jar", "jpeg", "jpg", "js", "json", "m4a",
        "m4v", "mkv", "mov", "mp3", "mp4", "mpeg", "mpg", "msi", "odp", "ods", "odt", "ogg", "otf",
        "pdf", "png", "ppt", "pptx", "ps", "psd", "rar", "rm", "rmvb", "rss", "rtf", "svg", "swf",
        "tar", "tgz", "tif", "tiff", "ttf", "txt", "wav", "webm", "webp", "wma", "wmv", "woff",
        "woff2", "wps", "xls", "xlsx", "xml", "zip", "ceb", "caj", "ofd", "et", "dps",
    }
)
_DIGITS = re.compile(r"\d+")
# Characters a browser leaves as they are in a query (the rest is percent-encoded).
_QUERY_SAFE = "/?:@!$&'()*+,;=~-._%"


def _url_char_reference(error: UnicodeError) -> tuple[str, int]:
    """What the URL standard puts for a character the page's encoding lacks: &#N; encoded."""
    assert isinstance(error, UnicodeEncodeError)
    text = error.object[error.start : error.end]
    return "".join(f"%26%23{ord(ch)}%3B" for ch in text), error.end


_URL_ERRORS = "badgewatch-url-char-reference"
codecs.register_error(_URL_ERRORS, _url_char_reference)


def _extension(path: str) -> str:
    last = path.rpartition("/")[2]
    dot = last.rfind(".")
    return last[dot + 1 :].lower() if dot > 0 else ""


def is_html_candidate(path: str) -> bool:
    """False for paths that name an attachment or a static asset by their extension."""
    return _extension(path) not in SKIPPED_EXTENSIONS


def canonical(url: str) -> str | None:
    """The URL without fragment, with lower-case host, no default port, a normalised path and
    sorted query; None when it is not an http(s) URL the crawler can fetch."""
    try:
        parts = urlsplit(url.strip())
        host = parts.hostname
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not host:
        return None
    netloc = host.lower().rstrip(".")
    if port is not None and port != (80 if parts.scheme == "http" else 443):
        netloc = f"{netloc}:{port}"
    path = parts.path or "/"
    if "/." in path or "//" in path:
        trailing = path.endswith("/")
        path = posixpath.normpath(path)
        if trailing and path != "/":
            path += "/"
    query = "&".join(sorted(parts.query.split("&"))) if "&" in parts.query else parts.query
    return urlunsplit(SplitResult(parts.scheme, netloc, path, query, ""))


def host_of(url: str) -> str:
    return (urlsplit(url).hostname or "").lower()


def request_url(url: str, query_codec: str = "utf-8") -> str | None:
    """``url`` as a browser requests it: the host in IDNA, the path percent-encoded in UTF-8,
    the query in ``query_codec`` (the page's encoding; characters it lacks as ``%26%23N%3B``,
    the URL standard's ``&#N;``).
    None when no request can be made of it. ASCII URLs are returned as they are."""
    if url.isascii():
        return url
    base, sep, query = url.split("#", 1)[0].partition("?")
    try:
        out = safe_url_string(base)
        if sep:
            encoded = query.encode(query_codec, _URL_ERRORS)
            out += "?" + quote(encoded, safe=_QUERY_SAFE)
    except (ValueError, UnicodeError, LookupError):
        return None
    return out


def _ipv4_number(part: str) -> int | None:
    """One dot-separated part as the WHATWG URL parser reads it: 0x hex, 0 octal, decimal."""
    if part[:2] in ("0x", "0X"):
        digits, base = part[2:], 16
        if digits == "":
            return 0
    elif len(part) > 1 and part[0] == "0":
        digits, base = part[1:], 8
    else:
        digits, base = part, 10
    if not digits or not digits.isascii():
        return None
    try:
        return int(digits, base)
    except ValueError:
        return None


def ip_literal(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The address a URL's ``host`` stands for, read as a browser reads it (``127.1``,
    ``2130706433``, ``0x7f.0.0.1``, ``0177.0.0.1``, ``[::ffff:127.0.0.1]``), or None for a
    name. Raises ValueError for a host that looks like an address and is none
    (``256.1.1.1``, ``1.2.3.4.5``): browsers refuse those URLs."""
    host = host.strip()
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if ":" in host:
        return ipaddress.IPv6Address(host.split("%", 1)[0])
    parts = host.split(".")
    if len(parts) > 1 and parts[-1] == "":
        parts.pop()
    last = parts[-1]
    ends_in_number = (last.isascii() and last.isdigit()) or (
        last[:2] in ("0x", "0X") and _ipv4_number(last) is not None
    )
    if not ends_in_number:
        return None
    if len(parts) > 4:
        raise ValueError(f"{host} is not an IPv4 address (more than four parts)")
    numbers = [_ipv4_number(part) for part in parts]
    values = [n for n in numbers if n is not None]
    if len(values) != len(numbers):
        raise ValueError(f"{host} is not an IPv4 address")
    if any(n > 255 for n in values[:-1]) or values[-1] >= 256 ** (5 - len(values)):
        raise ValueError(f"{host} is not an IPv4 address (a part is too large)")
    number = values[-1]
    for i, n in enumerate(values[:-1]):
        number += n * 256 ** (3 - i)
    return ipaddress.IPv4Address(number)


@dataclass
class LinkFilter:
    """One site's memory of what it has scheduled, with the caps that stop crawler traps."""

    hosts: frozenset[str]
    max_pages: int
    max_query_variants: int
    max_url_length: int
    scheduled: int = 0
    refused: Counter[str] = field(default_factory=Counter)
    _raw_seen: set[str] = field(default_factory=set)
    _seen: set[str] = field(default_factory=set)
    _query_variants: Counter[str] = field(default_factory=Counter)

    def full(self) -> bool:
        return self.scheduled >= self.max_pages

    def admit(self, href: str, base: str, query_codec: str = "utf-8") -> str | None:
        """The canonical URL to crawl for ``href`` found on ``base`` (a page whose queries a
        browser encodes in ``query_codec``), or None to skip it."""
        if href.startswith("http"):
            key = href
        elif href.startswith("/") and not href.startswith("//"):
            slash = base.find("/", 8)
            key = (base[:slash] if slash > 0 else base) + href
        else:
            key = base.rpartition("/")[0] + "/" + href
        if key in self._raw_seen:
            return None
        self._raw_seen.add(key)
        if href.startswith(("javascript:", "mailto:", "tel:", "#", "data:")):
            return None
        return self.admit_url(urljoin(base, href), query_codec)

    def admit_url(self, url: str, query_codec: str = "utf-8") -> str | None:
        """Canonicalise and apply every guard; counts why a URL was refused."""
        if self.full():
            self.refused["page_cap"] += 1
            return None
        if not url.isascii():
            encoded = request_url(url, query_codec)
            if encoded is None:
                return None
            url = encoded
        if len(url) > self.max_url_length:
            self.refused["url_too_long"] += 1
            return None
        target = canonical(url)
        if target is None:
            return None
        parts = urlsplit(target)
        if (parts.hostname or "") not in self.hosts:
            return None
        if target in self._seen:
            return None
        if not is_html_candidate(parts.path):
            self._seen.add(target)
            self.refused["not_html"] += 1
            return None
        if _repeats(parts.path):
            self.refused["trap_path"] += 1
            return None
        if parts.query:
            pattern = f"{parts.hostname}{_DIGITS.sub('#', parts.path)}"
            self._query_variants[pattern] += 1
            if self._query_variants[pattern] > self.max_query_variants:
                self.refused["trap_query"] += 1
                return None
        self._seen.add(target)
        self.scheduled += 1
        return target

    def mark_seen(self, url: str) -> None:
        """Record a URL reached some other way (a redirect target) so it is not fetched again."""
        target = canonical(url)
        if target is not None:
            self._seen.add(target)


def _repeats(path: str) -> bool:
    """A path that repeats a segment over and over (/a/b/a/b/a/b/) is a relative-link trap."""
    segments = [s for s in path.split("/") if s]
    if len(segments) < 6:
        return False
    counts = Counter(segments)
    return counts.most_common(1)[0][1] > 3
