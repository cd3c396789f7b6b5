"""One page fetched outside Scrapy, for ``badgewatch check URL``: same DNS, same size cap."""

from __future__ import annotations

import http.client
import zlib
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

from badgewatch.config import Config
from badgewatch.resolver import LookupFailed, lookup, make_resolver

MAX_REDIRECTS = 5


class FetchError(Exception):
    """The page could not be fetched; the message says why."""


@dataclass(frozen=True)
class Fetched:
    url: str
    status: int
    content_type: str
    body: bytes

    @property
    def charset(self) -> str | None:
        lowered = self.content_type.lower()
        if "charset=" not in lowered:
            return None
        return lowered.split("charset=", 1)[1].split(";")[0].strip() or None


def _decompress(body: bytes, encoding: str, limit: int) -> bytes:
    if encoding in ("gzip", "x-gzip", "deflate"):
        wbits = 16 + zlib.MAX_WBITS if "gzip" in encoding else zlib.MAX_WBITS
        inflater = zlib.decompressobj(wbits)
        out = inflater.decompress(body, limit + 1)
        if len(out) > limit:
            raise FetchError(f"page larger than {limit} bytes once decompressed")
        return out
    return body


def fetch(url: str, config: Config) -> Fetched:
    """GET ``url`` resolving its host through ``[dns]``, following redirects, capping size."""
    resolver = make_resolver(config.dns)
    limit = config.crawl.max_page_bytes
    for _ in range(MAX_REDIRECTS + 1):
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise FetchError(f"not an http(s) URL: {url}")
        host = parts.hostname
        try:
            address = lookup(resolver, host).ipv4[0] if not host[0].isdigit() else host
        except (LookupFailed, IndexError) as exc:
            raise FetchError(f"{host} does not resolve: {exc}") from exc
        port = parts.port or (443 if parts.scheme == "https" else 80)
        conn_class = (
            http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
        )
        conn = conn_class(address, port, timeout=config.crawl.download_timeout)
        try:
            path = parts.path or "/"
            if parts.query:
                path += "?" + parts.query
            conn.request(
                "GET",
                path,
                headers={
                    "Host": parts.netloc,
                    "User-Agent": config.crawl.user_agent,
                    "Accept-Encoding": "gzip, deflate",
                },
            )
            response = conn.getresponse()
            body = response.read(limit + 1)
            if len(body) > limit:
                raise FetchError(f"page larger than {limit} bytes")
            location = response.getheader("Location")
            if response.status in (301, 302, 303, 307, 308) and location:
                url = urljoin(url, location)
                continue
            body = _decompress(body, (response.getheader("Content-Encoding") or "").lower(), limit)
            return Fetched(url, response.status, response.getheader("Content-Type") or "", body)
        except (OSError, http.client.HTTPException) as exc:
            raise FetchError(f"{type(exc).__name__}: {exc}") from exc
        finally:
            conn.close()
    raise FetchError(f"more than {MAX_REDIRECTS} redirects")
