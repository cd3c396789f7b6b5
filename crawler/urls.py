"""Which links the crawler follows: canonical, on the site's own hosts, HTML, not a trap.

The per-page cost matters (a page has ~50 links and most repeat the page before), so
``LinkFilter.admit`` first drops a link it has already seen verbatim, and only then parses it.
"""

from __future__ import annotations

import posixpath
import re
from collections import Counter
from dataclasses import dataclass, field
from urllib.parse import SplitResult, urljoin, urlsplit, urlunsplit

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

    def admit(self, href: str, base: str) -> str | None:
        """The canonical URL to crawl for ``href`` found on ``base``, or None to skip it."""
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
        return self.admit_url(urljoin(base, href))

    def admit_url(self, url: str) -> str | None:
        """Canonicalise and apply every guard; counts why a URL was refused."""
        if self.full():
            self.refused["page_cap"] += 1
            return None
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
