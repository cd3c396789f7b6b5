"""A fetched page read once, as a browser reads it, and why a page could not be fetched.

The crawl and ``badgewatch check URL`` both judge a page from the same reading: the bytes
decoded once (byte order mark, then the HTTP charset, then the ``<meta>`` prescan, then a
default), that text parsed once for its links and title, and given to the badge check. A GBK
page's links then point where the visitor's browser goes, not to ``/%EF%BF%BD…``.
"""

from __future__ import annotations

from dataclasses import dataclass

from scrapy.exceptions import (
    CannotResolveHostError,
    DownloadCancelledError,
    DownloadConnectionRefusedError,
    DownloadFailedError,
    DownloadTimeoutError,
    IgnoreRequest,
    ResponseDataLossError,
)
from selectolax.lexbor import LexborHTMLParser
from twisted.internet import error as twisted_errors

from crawler.checks.markup import decode_page

HTML_TYPES = (b"text/html", b"application/xhtml+xml")
TITLE_CHARS = 300
_UTF16 = frozenset({"utf-16-le", "utf-16-be"})


def http_charset(content_type: bytes) -> str | None:
    """The ``charset`` parameter of a Content-Type header, if any."""
    lowered = content_type.lower()
    if b"charset=" not in lowered:
        return None
    value = lowered.split(b"charset=", 1)[1].split(b";")[0].strip().strip(b"\"'")
    return value.decode("ascii", "replace") or None


def is_html(content_type: bytes) -> bool:
    """HTML or XHTML; a response without a Content-Type is read as HTML, as browsers do."""
    lowered = content_type.strip().lower()
    return not lowered or lowered.startswith(HTML_TYPES)


@dataclass(frozen=True, slots=True)
class Page:
    """A page's text in the codec a browser would use, and its parse tree."""

    text: str
    codec: str
    tree: LexborHTMLParser

    @property
    def title(self) -> str | None:
        node = self.tree.css_first("title")
        if node is None:
            return None
        return node.text(strip=True)[:TITLE_CHARS] or None

    @property
    def query_codec(self) -> str:
        """Browsers percent-encode a link's query in the page's encoding (UTF-8 for UTF-16
        pages), and its path in UTF-8."""
        return "utf-8" if self.codec in _UTF16 else self.codec

    def links(self) -> list[str]:
        return [href for node in self.tree.css("a[href]") if (href := node.attributes.get("href"))]


def read_page(body: bytes, content_type: bytes) -> Page:
    """Decode ``body`` once and parse that text once."""
    text, codec = decode_page(body, http_charset(content_type))
    return Page(text, codec, LexborHTMLParser(text))


def too_large(exc: BaseException | None) -> bool:
    """Scrapy's size cap, on the wire (announced or counted) or once decompressed."""
    text = str(exc)
    return isinstance(exc, DownloadCancelledError) or (
        "max size" in text or "DOWNLOAD_MAXSIZE" in text
    )


def fetch_reason(exc: BaseException | None, timeout: float | None = None) -> str:
    """Why a page could not be fetched, in the words the user reads: our failures (timeouts,
    dead servers) said as ours, and the policy's refusals as the policy gives them."""
    if exc is None:
        return "未知错误"
    text = str(exc).strip()
    if too_large(exc):
        return "页面超过大小上限（[crawl] max_page_bytes，压缩页面按解压后计），没有下载完"
    if isinstance(exc, IgnoreRequest) and text:
        return text  # our own refusals (off-site redirects, the address policy) say why
    if isinstance(exc, DownloadTimeoutError | twisted_errors.TimeoutError | TimeoutError):
        limit = f" {timeout:g} 秒" if timeout else "规定时间"
        return f"下载超过{limit}仍未完成，已超时"
    if isinstance(exc, CannotResolveHostError | twisted_errors.DNSLookupError):
        return f"域名无法解析（{text}）" if text else "域名无法解析"
    if isinstance(exc, DownloadConnectionRefusedError | twisted_errors.ConnectionRefusedError):
        return "服务器拒绝连接"
    if isinstance(
        exc,
        ResponseDataLossError
        | DownloadFailedError
        | twisted_errors.ConnectionLost
        | twisted_errors.ConnectionDone,
    ):
        return "服务器在应答完成前断开了连接"
    name = type(exc).__name__
    return (f"{name}: {text}" if text else name)[:300]
