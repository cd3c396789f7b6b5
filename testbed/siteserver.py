"""Websites on loopback for the crawler's tests and the demo: one HTTP server per site, on port 80.

The crawler must meet real sites, hostile ones included, without port hacks: each site here
listens on port 80 of its own loopback address (127.0.0.2, 127.0.0.3, …; Linux routes all of
127.0.0.0/8 to ``lo``) and its names, ``.政务`` and English, come from
:class:`testbed.localdns.LocalDnsServer`. A site is a table of :class:`Route` answers that a
test can change while it runs; a route can be slow, trickle, reset the connection, hang, or send
gzip, so every failure path of a fetcher can be exercised for real.

:func:`government_page` builds the pages they serve: a government-style page of a given size
with the caller's links and footer, shared by the crawler tests and the benchmark farm.
"""

from __future__ import annotations

import codecs
import contextlib
import gzip as gzip_codec
import html
import ipaddress
import mimetypes
import socket
import socketserver
import struct
import sys
import threading
import zlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from functools import cached_property
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal, NamedTuple, Self
from urllib.parse import urlsplit

import dns.exception
import dns.name

from testbed.serving import Serving

Action = Literal["reset", "close", "hang"]

HTML = "text/html; charset=utf-8"
_ACTIONS = ("reset", "close", "hang")
_POLL_INTERVAL = 0.05  # how long stop() may wait for the accept loop to notice
_IDLE_TIMEOUT = 30.0  # an idle keep-alive connection is closed after this many seconds
_FIRST_POOL_IP = "127.0.0.2"
_MIME = mimetypes.MimeTypes()  # the built-in table only: the same answer on every machine
_PAGE_EXTENSIONS = (".php", ".jsp", ".asp", ".aspx", ".shtml", ".do", ".action", ".cgi")
_LAST_POOL_IP = "127.0.0.254"


# --- routes ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Route:
    """How a site answers one path.

    ``body`` as ``str`` is encoded with ``encoding``, or else the charset of ``content_type``,
    or else UTF-8 (give bytes to serve a page whose declared charset lies). ``headers`` are sent
    after, and replace, the defaults (Content-Type, Content-Length, Content-Encoding).
    ``delay`` waits before answering; ``chunk_delay`` waits between pieces of ``chunk_size``
    bytes, a slow trickle; ``chunked`` uses Transfer-Encoding: chunked (no Content-Length).
    ``action`` answers nothing at all: "reset" sends a TCP RST, "close" closes the connection
    cleanly, "hang" keeps it open until the server stops. ``gzip`` compresses the body and sends
    Content-Encoding: gzip, so a small download can inflate to a large page. ``etag`` and
    ``last_modified`` are sent as validators, and a request that names them
    (``If-None-Match``, ``If-Modified-Since`` the same date or later) is answered ``304 Not
    Modified`` without a body, unless ``ignore_validators``: a server that always answers 200.
    """

    status: int = 200
    body: bytes | str = b""
    content_type: str | None = HTML
    headers: Mapping[str, str] = field(default_factory=dict, hash=False)
    delay: float = 0.0
    chunk_delay: float = 0.0
    chunk_size: int = 1024
    chunked: bool = False
    action: Action | None = None
    gzip: bool = False
    encoding: str | None = None
    etag: str | None = None
    last_modified: str | None = None  # an HTTP date: "Mon, 30 Nov 2026 08:00:00 GMT"
    ignore_validators: bool = False

    def __post_init__(self) -> None:
        if not 100 <= self.status <= 599:
            raise ValueError(f"HTTP status {self.status} is not between 100 and 599")
        if self.delay < 0 or self.chunk_delay < 0:
            raise ValueError("delay and chunk_delay are seconds, never negative")
        if self.chunk_size < 1:
            raise ValueError("chunk_size must be at least one byte")
        if self.action is not None and self.action not in _ACTIONS:
            raise ValueError(f"action must be one of {_ACTIONS}, not {self.action!r}")
        if self.encoding is not None:
            codecs.lookup(self.encoding)  # LookupError now, not at the first request

    @cached_property
    def payload(self) -> bytes:
        """The bytes on the wire (compressed when ``gzip``); computed once per route."""
        raw = self.body if isinstance(self.body, bytes) else self.body.encode(self._charset())
        if self.gzip:
            return gzip_codec.compress(raw, compresslevel=6, mtime=0)
        return raw

    def _charset(self) -> str:
        if self.encoding is not None:
            return self.encoding
        for param in (self.content_type or "").split(";")[1:]:
            key, _, value = param.partition("=")
            if key.strip().lower() == "charset" and value.strip():
                return value.strip().strip('"')
        return "utf-8"


def redirect(location: str, status: int = 302) -> Route:
    """A redirect to ``location`` (absolute URL or path), with the short body servers send."""
    if not 300 <= status <= 399:
        raise ValueError(f"a redirect needs a 3xx status, not {status}")
    body = f'<html><body>Moved to <a href="{html.escape(location)}">here</a>.</body></html>'
    return Route(status=status, body=body, headers={"Location": location})


NOT_FOUND = Route(
    status=404,
    body="<html><head><title>404 Not Found</title></head>"
    "<body><h1>404 Not Found</h1><p>您访问的页面不存在。</p></body></html>",
)


def _route_key(path: str) -> str:
    if not path.startswith("/"):
        raise ValueError(f"a route key is a path starting with '/', not {path!r}")
    return path


def as_route(path: str, value: Route | bytes | str) -> Route:
    """Plain bodies become 200 answers typed by the path's extension (HTML when it has none)."""
    if isinstance(value, Route):
        return value
    if not isinstance(value, bytes | str):
        raise TypeError(f"route {path}: expected Route, bytes or str, not {type(value).__name__}")
    bare = path.split("?", 1)[0]
    kind, _ = _MIME.guess_type(bare)
    if kind is None or kind == "text/html" or bare.endswith(_PAGE_EXTENSIONS):
        return Route(body=value)
    if kind.startswith("text/") or kind in ("application/xml", "application/javascript"):
        kind += "; charset=utf-8"
    return Route(body=value, content_type=kind)


class SiteRequest(NamedTuple):
    """One request as received: method, path with query, Host header, User-Agent header."""

    method: str
    path: str
    host: str | None
    user_agent: str | None


class Answer(NamedTuple):
    """One request as answered: its target, the validators it named and the status sent
    (None: the route answered nothing, a reset, a close or a hang)."""

    path: str
    if_none_match: str | None
    if_modified_since: str | None
    status: int | None


def not_modified(route: Route, if_none_match: str | None, if_modified_since: str | None) -> bool:
    """Whether ``route`` answers a request with these validators ``304 Not Modified``
    (RFC 9110: If-None-Match decides when given; else If-Modified-Since)."""
    if route.ignore_validators or route.status != 200:
        return False
    if if_none_match is not None:
        tags = [tag.strip() for tag in if_none_match.split(",")]
        return route.etag is not None and (route.etag in tags or "*" in tags)
    if if_modified_since is not None and route.last_modified is not None:
        try:
            since = parsedate_to_datetime(if_modified_since)
            modified = parsedate_to_datetime(route.last_modified)
        except (TypeError, ValueError):
            return False
        return modified <= since
    return False


# --- server ---------------------------------------------------------------------------------


def ascii_host(name: str) -> str:
    """The form clients put in URLs and DNS questions: ``xn--ve4aqf.xn--zfr164b``."""
    try:
        return dns.name.from_text(name.strip()).canonicalize().to_text(omit_final_dot=True)
    except dns.exception.DNSException as exc:
        raise ValueError(f"{name!r} is not a domain name: {exc}") from exc


def _headers(route: Route, payload: bytes) -> dict[str, tuple[str, str]]:
    """The answer's headers by lower-cased name; the route's own replace the defaults."""
    headers: dict[str, tuple[str, str]] = {}
    if route.content_type:
        headers["content-type"] = ("Content-Type", route.content_type)
    if route.gzip:
        headers["content-encoding"] = ("Content-Encoding", "gzip")
    if route.chunked:
        headers["transfer-encoding"] = ("Transfer-Encoding", "chunked")
    elif route.status != 304:  # a 304 has no body and keeps the length unsaid
        headers["content-length"] = ("Content-Length", str(len(payload)))
    if route.etag is not None:
        headers["etag"] = ("ETag", route.etag)
    if route.last_modified is not None:
        headers["last-modified"] = ("Last-Modified", route.last_modified)
    for name, value in route.headers.items():
        headers[name.lower()] = (name, value)
    return headers


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"  # keep-alive, as crawlers expect of real servers
    timeout = _IDLE_TIMEOUT
    server_version = "nginx"
    sys_version = ""

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: no access log on the console."""

    def do_GET(self) -> None:
        self._answer(head=False)

    def do_HEAD(self) -> None:
        self._answer(head=True)

    def _answer(self, *, head: bool) -> None:
        site = self.server.site
        if_none_match = self.headers.get("If-None-Match")
        if_modified_since = self.headers.get("If-Modified-Since")
        route = site._receive(
            self.command, self.path, self.headers.get("Host"), self.headers.get("User-Agent")
        )
        if route.action is None and not_modified(route, if_none_match, if_modified_since):
            route = Route(
                status=304, content_type=None, headers=route.headers, etag=route.etag,
                last_modified=route.last_modified,
            )
        status = route.status if route.action is None else None
        site._answered(Answer(self.path, if_none_match, if_modified_since, status))
        stopping = site._stopping
        if route.delay and stopping.wait(route.delay):
            self._drop(reset=False)
            return
        if route.action == "hang":
            stopping.wait()
            self._drop(reset=False)
            return
        if route.action is not None:
            self._drop(reset=route.action == "reset")
            return
        payload = route.payload
        try:
            self.send_response(route.status)
            for name, value in _headers(route, payload).values():
                self.send_header(name, value)
            self.end_headers()
            if head or route.status in (204, 304) or route.status < 200:
                return
            self._send_body(route, payload)
        except OSError:
            self.close_connection = True

    def _send_body(self, route: Route, payload: bytes) -> None:
        stopping = self.server.site._stopping
        if not route.chunked and not route.chunk_delay:
            self.wfile.write(payload)
            return
        for start in range(0, len(payload), route.chunk_size):
            if start and route.chunk_delay and stopping.wait(route.chunk_delay):
                self._drop(reset=False)
                return
            piece = payload[start : start + route.chunk_size]
            if route.chunked:
                piece = b"%x\r\n%s\r\n" % (len(piece), piece)
            self.wfile.write(piece)
        if route.chunked:
            self.wfile.write(b"0\r\n\r\n")

    def _drop(self, *, reset: bool) -> None:
        """Close without answering; with ``reset`` the peer gets an RST instead of a FIN."""
        self.close_connection = True
        if reset:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        # rfile holds a reference to the socket: close it first so that this close is the real
        # one, before the server's own shutdown_request sends a FIN. (wfile holds none, and the
        # handler still flushes it.)
        self.server.forget(self.connection)
        self.rfile.close()
        self.connection.close()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], site: SiteServer) -> None:
        self.site = site
        self.connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()
        super().__init__(address, _Handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind asks the resolver for the host's FQDN, which can stall.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name = str(host)
        self.server_port = int(port)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self.connections_lock:
            if self.site._stopping.is_set():
                self.shutdown_request(request)
                return
            self.connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        self.forget(request)
        super().shutdown_request(request)

    def forget(self, conn: socket.socket) -> None:
        """Before a socket is closed: cut_connections must never touch a closing socket."""
        with self.connections_lock:
            self.connections.discard(conn)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Clients that go away and stop() cutting connections are normal here; bugs are not."""
        if isinstance(sys.exc_info()[1], OSError):
            return
        super().handle_error(request, client_address)

    def cut_connections(self) -> None:
        """Wake every handler blocked on its socket; each thread then closes its own."""
        with self.connections_lock:
            for conn in self.connections:
                with contextlib.suppress(OSError):
                    conn.shutdown(socket.SHUT_RDWR)


class SiteServer(Serving):
    """One website: ``routes`` answered on ``ip:port`` (port 80 by default, 0 picks a free one).

    The socket is bound when the object is made, so the address is held from the start.
    ``names`` are the host names the site is published under (any form; kept in ASCII); they
    only shape :meth:`url`, registering them in DNS is the caller's business. Paths not in the
    table answer 404. A route key with a query (``/list?page=2``) matches only that exact
    request; one without matches the path whatever the query. Keys are compared with the
    request target as sent, so non-ASCII paths are given percent-encoded.
    """

    def __init__(
        self,
        ip: str,
        routes: Mapping[str, Route | bytes | str] | None = None,
        port: int = 80,
        *,
        names: Iterable[str] = (),
    ) -> None:
        self.ip = str(ipaddress.ip_address(ip))
        self.names: tuple[str, ...] = tuple(ascii_host(name) for name in names)
        self._lock = threading.Lock()
        self._routes: dict[str, Route] = {
            _route_key(path): as_route(path, value) for path, value in (routes or {}).items()
        }
        self._requests: list[SiteRequest] = []
        self._answers: list[Answer] = []
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._closed = False
        self._server = _Server((self.ip, port), self)

    # -- routes --------------------------------------------------------------------------------

    def set_route(self, path: str, route: Route | bytes | str) -> None:
        """Answer ``path`` with ``route`` from now on (replacing any earlier answer)."""
        key = _route_key(path)
        value = as_route(path, route)
        with self._lock:
            self._routes[key] = value

    def remove_route(self, path: str) -> None:
        """Forget ``path``: it answers 404 from now on."""
        with self._lock:
            self._routes.pop(path, None)

    def _receive(self, method: str, target: str, host: str | None, user_agent: str | None) -> Route:
        """Log the request and pick its route (called from the handler threads)."""
        if not target.startswith("/"):  # absolute form, as proxies are sent
            parts = urlsplit(target)
            target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        path = target.split("?", 1)[0]
        record = SiteRequest(method, target, host, user_agent)
        with self._lock:
            self._requests.append(record)
            return self._routes.get(target) or self._routes.get(path) or NOT_FOUND

    def _answered(self, answer: Answer) -> None:
        with self._lock:
            self._answers.append(answer)

    # -- what was asked ------------------------------------------------------------------------

    @property
    def requests(self) -> list[SiteRequest]:
        """Every request received so far, oldest first."""
        with self._lock:
            return list(self._requests)

    def hits(self, path: str) -> int:
        """How often ``path`` was asked for: with a query exactly that, without any query."""
        with self._lock:
            if "?" in path:
                return sum(1 for r in self._requests if r.path == path)
            return sum(1 for r in self._requests if r.path.split("?", 1)[0] == path)

    @property
    def answers(self) -> list[Answer]:
        """How every request so far was answered, in the order the answers were decided."""
        with self._lock:
            return list(self._answers)

    def clear_requests(self) -> None:
        with self._lock:
            self._requests.clear()
            self._answers.clear()

    # -- addresses -----------------------------------------------------------------------------

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def url(self, path: str = "/", name: str | None = None) -> str:
        """``http://host/path`` with ``name`` in ASCII, else the first name, else the address."""
        if name is not None:
            host = ascii_host(name)
        elif self.names:
            host = self.names[0]
        else:
            host = f"[{self.ip}]" if ":" in self.ip else self.ip
        netloc = host if self.port == 80 else f"{host}:{self.port}"
        return f"http://{netloc}{path if path.startswith('/') else '/' + path}"

    # -- lifecycle -----------------------------------------------------------------------------

    def start(self) -> Self:
        if self._thread is not None or self._closed:
            raise RuntimeError("a site server starts once")
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": _POLL_INTERVAL},
            name=f"site-{self.ip}:{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop at once: hanging and trickling answers are cut off; safe to call twice."""
        if self._closed:
            return
        self._closed = True
        self._stopping.set()
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(timeout=5)
        self._server.cut_connections()
        self._server.server_close()


# --- addresses ------------------------------------------------------------------------------


class PoolExhausted(RuntimeError):
    """Every address of the pool is handed out or has its port taken."""


class IpPool:
    """Loopback addresses whose ``port`` is free, one per site (127.0.0.2 to 127.0.0.254).

    Addresses are handed out round-robin, so a released one is not reused at once; one whose
    port is taken (by trying to bind it) is skipped. Safe to share between threads.
    """

    def __init__(
        self, first: str = _FIRST_POOL_IP, last: str = _LAST_POOL_IP, *, port: int = 80
    ) -> None:
        low, high = ipaddress.IPv4Address(first), ipaddress.IPv4Address(last)
        if not (low.is_loopback and high.is_loopback and low <= high):
            raise ValueError(f"{first}–{last} is not a range of loopback addresses")
        self.port = port
        self._addresses = [str(ipaddress.IPv4Address(n)) for n in range(int(low), int(high) + 1)]
        self._next = 0
        self._leased: set[str] = set()
        self._lock = threading.Lock()

    def acquire(self) -> str:
        """The next address nobody listens on at ``port``; raises PoolExhausted if none."""
        with self._lock:
            for _ in range(len(self._addresses)):
                ip = self._addresses[self._next]
                self._next = (self._next + 1) % len(self._addresses)
                if ip not in self._leased and self._port_free(ip):
                    self._leased.add(ip)
                    return ip
        raise PoolExhausted(f"no loopback address in the pool has port {self.port} free")

    def release(self, ip: str) -> None:
        """Give ``ip`` back; safe to call for an address that is not leased."""
        with self._lock:
            self._leased.discard(ip)

    def serve(
        self,
        routes: Mapping[str, Route | bytes | str] | None = None,
        *,
        names: Iterable[str] = (),
    ) -> SiteServer:
        """A started site on a fresh address; the caller stops it and releases ``server.ip``."""
        for _ in range(len(self._addresses)):
            ip = self.acquire()
            try:
                server = SiteServer(ip, routes, self.port, names=names)
            except OSError:
                continue  # taken since the probe (another process); keep it leased, move on
            return server.start()
        raise PoolExhausted(f"no loopback address in the pool has port {self.port} free")

    def _port_free(self, ip: str) -> bool:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind((ip, self.port))
            except PermissionError as exc:
                raise PermissionError(
                    f"binding port {self.port} needs root or CAP_NET_BIND_SERVICE: {exc}"
                ) from exc
            except OSError:
                return False
        return True


# --- pages ----------------------------------------------------------------------------------

_NAV = ("首页", "政务公开", "政务服务", "互动交流", "走进本地", "政策文件", "数据发布", "专题专栏")
_HEADLINES = (
    "关于印发{year}年政务公开工作要点的通知",
    "市政府召开常务会议研究部署安全生产工作",
    "关于公开征求《城市管理条例（草案）》意见的公告",
    "我市召开优化营商环境工作推进会",
    "关于做好{year}年春季农业生产工作的通知",
    "政府信息公开工作年度报告（{year}年）",
    "市人民政府关于调整部分行政许可事项的决定",
    "全市政务服务“一网通办”工作推进情况通报",
    "关于开展{year}年度政府网站自查工作的通知",
    "市领导带队检查防汛备汛工作",
    "关于进一步加强城乡居民医疗保障工作的实施意见",
    "我市公布第二批市级非物质文化遗产代表性项目名录",
)
_SENTENCES = (
    "为深入贯彻落实党中央、国务院关于全面推进政务公开工作的决策部署，进一步提升政府工作透明度，",
    "坚持以公开为常态、不公开为例外，推进决策、执行、管理、服务、结果公开，",
    "切实保障人民群众的知情权、参与权、表达权和监督权。",
    "各县（市、区）人民政府、市政府各部门要高度重视，明确责任分工，细化工作措施，确保各项任务落到实处。",
    "加强政府网站和政务新媒体建设管理，规范信息发布、解读回应、办事服务和互动交流等功能，",
    "提升网站集约化水平，强化内容保障和安全防护，及时更新栏目内容，杜绝空白栏目和错链断链。",
    "围绕优化营商环境、乡村振兴、生态环境保护、民生保障等重点领域，",
    "加大政策解读力度，采用图表图解、音视频等形式，增强解读的针对性和可读性。",
    "畅通政民互动渠道，认真办理网民留言，对社会关切及时作出回应，",
    "建立健全政务舆情收集、研判、处置和回应机制，做到回应及时、内容权威、表述准确。",
    "本通知自印发之日起施行，执行中遇到的问题，请及时向市政府办公室反映。",
    "附件：相关工作任务分工表（请于每月五日前报送上月工作进展情况）。",
)
_STYLE = """
body{margin:0;padding:0;font-family:"Microsoft YaHei","微软雅黑",SimSun,"宋体",sans-serif;
font-size:14px;color:#333;background:#f5f5f5}
a{color:#333;text-decoration:none}a:hover{color:#c00;text-decoration:underline}
ul,li{margin:0;padding:0;list-style:none}
.w1200{width:1200px;margin:0 auto}
.top-bar{height:36px;line-height:36px;background:#f0f0f0;border-bottom:1px solid #ddd;color:#666}
.top-bar .right span{margin-left:16px;cursor:pointer}
.header{height:150px;background:#b5121b;color:#fff}
.header h1{margin:0;padding-top:40px;font-size:36px;letter-spacing:4px}
.search{float:right;margin-top:-50px}.search input{width:240px;height:32px;border:0}
.nav{height:48px;background:#9e0f17}.nav li{float:left;width:150px;text-align:center}
.nav li a{display:block;line-height:48px;color:#fff;font-size:17px}
.main{background:#fff;padding:20px;overflow:hidden}
.breadcrumb{line-height:36px;border-bottom:2px solid #b5121b;margin-bottom:16px}
.article-list li{line-height:36px;border-bottom:1px dashed #e5e5e5;overflow:hidden}
.article-list li .date{float:right;color:#999}
.article-body p{text-indent:2em;line-height:30px;font-size:16px}
.footer{background:#2b2b2b;color:#ccc;padding:24px 0;text-align:center;line-height:28px}
.footer .footer-nav span{margin:0 8px}.footer .footer-badge{display:inline-block;margin:8px}
"""


def _page_head(title: str, charset: str, site_code: str) -> str:
    return (
        "<!DOCTYPE html>\n"
        '<html lang="zh-CN">\n<head>\n'
        f'<meta charset="{charset}">\n'
        '<meta http-equiv="X-UA-Compatible" content="IE=edge">\n'
        f'<meta name="SiteName" content="{title}">\n'
        f'<meta name="SiteIDCode" content="{site_code}">\n'
        '<meta name="ColumnName" content="政务公开">\n'
        f"<title>{title}</title>\n<style>{_STYLE}</style>\n</head>\n"
    )


def _page_top(title: str, nav_links: Sequence[str]) -> str:
    nav = "".join(
        f'<li><a href="{html.escape(href)}">{_NAV[i % len(_NAV)]}</a></li>'
        for i, href in enumerate(nav_links)
    )
    return (
        "<body>\n"
        '<div class="top-bar"><div class="w1200"><span class="left">欢迎访问' + title + "</span>"
        '<span class="right"><span>无障碍浏览</span><span>长者模式</span><span>繁体版</span>'
        "<span>手机版</span></span></div></div>\n"
        f'<div class="header"><div class="w1200"><h1>{title}</h1>'
        '<div class="search"><form method="get" target="_blank">'
        '<input type="text" name="q" placeholder="请输入关键词"><button type="submit">搜索</button>'
        "</form></div></div></div>\n"
        f'<div class="nav"><div class="w1200"><ul>{nav}</ul></div></div>\n'
        '<div class="main w1200">\n'
        '<div class="breadcrumb">当前位置：首页 &gt; 政务公开 &gt; 通知公告</div>\n'
    )


def _page_list(list_links: Sequence[str], seed: int) -> str:
    items = []
    for i, href in enumerate(list_links):
        n = seed + i
        year = 2018 + n % 7
        headline = _HEADLINES[n % len(_HEADLINES)].format(year=year)
        items.append(
            f'<li><a href="{html.escape(href)}" target="_blank" title="{headline}">{headline}</a>'
            f'<span class="date">{year}-{1 + n % 12:02d}-{1 + n % 28:02d}</span></li>\n'
        )
    return '<div class="article-list"><ul>\n' + "".join(items) + "</ul></div>\n"


def _page_footer(footer_html: str, organizer: str, site_code: str, seed: int) -> str:
    icp = f"{10000000 + seed % 89999999:08d}"
    police = f"{13040202000000 + seed % 999999:014d}"
    return (
        "</div>\n"
        '<div class="footer"><div class="w1200">\n'
        '<div class="footer-nav"><span>关于我们</span>|<span>网站地图</span>|'
        "<span>联系我们</span>|<span>隐私声明</span></div>\n"
        f"<p>主办单位：{organizer}　承办单位：{organizer}信息中心　联系电话：0310-3010000</p>\n"
        f"<p><span>ICP备案：冀ICP备{icp}号-1</span>　<span>冀公网安备 {police}号</span>"
        f"　<span>网站标识码：{site_code}</span></p>\n"
        f'<div class="footer-badge">{footer_html}</div>\n'
        "<p>建议使用1366*768以上分辨率浏览本站</p>\n"
        "</div></div>\n</body>\n</html>\n"
    )


def government_page(
    title: str,
    links: Sequence[str],
    footer_html: str,
    size_kb: int = 30,
    charset: str = "utf-8",
    *,
    organizer: str | None = None,
    site_code: str = "1304000009",
) -> str:
    """A Chinese government-style page of about ``size_kb`` KiB once encoded in ``charset``.

    Header, navigation (the first eight ``links``), a dated article list (the other links),
    article text as padding, and a footer with 主办单位, ICP备案, 公网安备 and 网站标识码 text
    followed by ``footer_html``, inserted as is: that is where a test puts the badge. The text
    varies with ``title`` but is the same for the same arguments; the padding holds no links
    and no badge-like markup. ``charset`` is only declared; the caller encodes the result.
    """
    codecs.lookup(charset)
    if size_kb < 0:
        raise ValueError("size_kb cannot be negative")
    seed = zlib.crc32(title.encode("utf-8"))
    safe_title = html.escape(title)
    nav_links, list_links = links[:8], links[8:]
    head = _page_head(safe_title, charset, html.escape(site_code))
    top = _page_top(safe_title, nav_links) + _page_list(list_links, seed)
    footer = _page_footer(
        footer_html, html.escape(organizer or title), html.escape(site_code), seed
    )

    def size(text: str) -> int:
        return len(text.encode(charset, errors="replace"))

    budget = size_kb * 1024 - size(head) - size(top) - size(footer)
    paragraphs = ['<div class="article-body">\n']
    budget -= size(paragraphs[0]) + size("</div>\n")
    count = len(_SENTENCES)
    i = 0
    while budget > 0:
        sentences = [_SENTENCES[(seed + i + k) % count] for k in range(3 + (seed + i) % 3)]
        paragraph = "<p>" + "".join(sentences) + "</p>\n"
        cost = size(paragraph)
        if cost > budget:  # the last paragraph is cut to fit, so the page lands close to size
            paragraph = _trim(paragraph, budget, charset)
            cost = size(paragraph)
        paragraphs.append(paragraph)
        budget -= cost
        i += 1
        if cost == 0:
            break
    paragraphs.append("</div>\n")
    return head + top + "".join(paragraphs) + footer


def _trim(paragraph: str, budget: int, charset: str) -> str:
    """The paragraph cut to at most ``budget`` encoded bytes, still a whole ``<p>`` element."""
    text = paragraph.removeprefix("<p>").removesuffix("</p>\n")
    room = budget - len(b"<p></p>\n")
    if room <= 0:
        return ""
    cut = text.encode(charset, errors="replace")[:room].decode(charset, errors="ignore")
    return f"<p>{cut}</p>\n"


__all__ = [
    "HTML",
    "NOT_FOUND",
    "Action",
    "IpPool",
    "PoolExhausted",
    "Route",
    "SiteRequest",
    "SiteServer",
    "as_route",
    "ascii_host",
    "government_page",
    "redirect",
]
