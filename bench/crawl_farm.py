"""The site farm of ``bench/crawl.py``: generated government sites, served by nginx on loopback.

Each site is a directory of static pages built with :func:`testbed.siteserver.government_page`
(about 30 KB, the site's own issued badge code in the footer of most pages), with a robots.txt
and a sitemap.xml. nginx serves every site on port 80 of its own loopback address, one
``server`` per site, from a private configuration; the names resolve through a
:class:`testbed.localdns.LocalDnsServer`.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Self

from badgewatch.config import BadgeConfig
from badgewatch.domains import gov_domain
from testbed.serving import Serving
from testbed.siteserver import ascii_host, government_page
from workflow.issuance import issued_snippet, make_code

FARM_VERSION = 1  # bump when the pages change, so a reused farm is regenerated
NAV_PAGES = 8  # "/" and seven column pages, linked from every page
LIST_LINKS = 42  # article links per page; with the nav links about 50 links a page
MISSING_EVERY = 50  # one page in fifty has no badge (never the home page)
MISSING_AT = 17
FIRST_ADDRESS = (127, 0, 1)  # 127.0.1.1, 127.0.1.2, ...: clear of the test pool 127.0.0.x
OFFICE_CODE = "130400"
OFFICE_NAME = "邯郸市委编办"
_COLUMNS = ("政务公开", "政务服务", "互动交流", "走进本地", "政策文件", "数据发布", "专题专栏")
_TOPICS = ("通知公告", "工作动态", "政策解读", "部门信息", "县区动态", "公示公告", "人事信息")


class FarmError(RuntimeError):
    """The farm cannot be built or served (nginx missing, a port taken, nginx died)."""


@dataclass(frozen=True)
class FarmSite:
    index: int
    name: str  # the .政务 domain as people write it
    host: str  # its ASCII form, as URLs and DNS carry it
    ip: str
    unit: str
    identifier: str
    certificate: str


@dataclass(frozen=True)
class Farm:
    directory: Path
    sites: tuple[FarmSite, ...]
    pages: int  # per site
    size_kb: int
    bytes: int  # every page of every site
    links_per_page: float
    reused: bool

    @property
    def total_pages(self) -> int:
        return self.pages * len(self.sites)

    def missing_per_site(self) -> int:
        return sum(1 for k in range(self.pages) if not has_badge(k))

    def site_dir(self, site: FarmSite) -> Path:
        return self.directory / "sites" / site.host

    def records(self) -> dict[str, dict[str, list[str]]]:
        return {site.host: {"A": [site.ip]} for site in self.sites}


def farm_sites(count: int) -> tuple[FarmSite, ...]:
    if not 1 <= count <= 254:
        raise FarmError("between 1 and 254 sites: one loopback address each")
    sites = []
    for i in range(count):
        name = f"邯郸第{i + 1:02d}县人民政府.政务"
        host = gov_domain(name)
        if host != ascii_host(name):
            raise FarmError(f"{name}: the crawler and the DNS server disagree on its ASCII form")
        a, b, c = FIRST_ADDRESS
        digest = hashlib.sha256(f"bench-site-{i}".encode()).hexdigest()
        sites.append(
            FarmSite(
                index=i,
                name=name,
                host=host,
                ip=f"{a}.{b}.{c}.{i + 1}",
                unit=f"邯郸第{i + 1:02d}县人民政府办公室",
                identifier=f"CA130040000{60_000_001 + i:08d}0001",
                certificate=digest[:32].upper(),
            )
        )
    return tuple(sites)


def has_badge(k: int) -> bool:
    return k == 0 or k % MISSING_EVERY != MISSING_AT


def page_path(k: int) -> str:
    """The URL path of page ``k``: the home page, the column pages, then the articles."""
    if k == 0:
        return "/"
    if k < NAV_PAGES:
        return f"/col/col{k}/"
    return f"/art/{2018 + k % 7}/art_{k}.html"


def _file_for(path: str) -> Path:
    relative = path.lstrip("/")
    return Path(relative + "index.html" if path.endswith("/") else relative)


def page_links(k: int, pages: int) -> list[str]:
    """The nav links (the same on every page), then list links that reach every page in a
    few hops from the home page: page k lists pages 42k+1 … 42k+42, wrapping around."""
    nav = [page_path(n) for n in range(min(NAV_PAGES, pages))]
    listed = ((LIST_LINKS * k + 1 + j) % pages for j in range(LIST_LINKS))
    return nav + [page_path(n) for n in listed if n != k]


def _page(site: FarmSite, k: int, pages: int, snippet: str, size_kb: int) -> str:
    if k == 0:
        title = site.unit.removesuffix("办公室")
    elif k < NAV_PAGES:
        title = f"{_COLUMNS[k - 1]}_{site.unit.removesuffix('办公室')}"
    else:
        title = f"{_TOPICS[k % len(_TOPICS)]}第{k}号_{site.unit.removesuffix('办公室')}"
    return government_page(
        title,
        page_links(k, pages),
        snippet if has_badge(k) else "",
        size_kb=size_kb,
        organizer=site.unit.removesuffix("办公室"),
        site_code=f"13040{site.index:05d}",
    )


def _write_site(directory: Path, site: FarmSite, pages: int, size_kb: int) -> tuple[int, int]:
    """Writes one site; returns (bytes of pages, links on them)."""
    badge = BadgeConfig()
    snippet = issued_snippet(badge, make_code(badge, site.identifier, site.certificate))
    total = links = 0
    made: set[Path] = set()
    for k in range(pages):
        target = directory / _file_for(page_path(k))
        if target.parent not in made:
            target.parent.mkdir(parents=True, exist_ok=True)
            made.add(target.parent)
        data = _page(site, k, pages, snippet, size_kb).encode("utf-8")
        target.write_bytes(data)
        total += len(data)
        links += NAV_PAGES + LIST_LINKS
    (directory / "robots.txt").write_text(
        f"User-agent: *\nDisallow: /search/\n\nSitemap: http://{site.host}/sitemap.xml\n",
        encoding="utf-8",
    )
    urls = "".join(
        f"<url><loc>http://{site.host}{page_path(k)}</loc></url>\n" for k in range(pages)
    )
    (directory / "sitemap.xml").write_text(
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">\n'
        f"{urls}</urlset>\n",
        encoding="utf-8",
    )
    return total, links


def build_farm(directory: Path, sites: int, pages: int, size_kb: int = 30) -> Farm:
    """The farm in ``directory``, reused when it was generated with the same parameters."""
    if pages < NAV_PAGES + 1:
        raise FarmError(f"at least {NAV_PAGES + 1} pages per site")
    farm_sites_ = farm_sites(sites)
    params = {"version": FARM_VERSION, "sites": sites, "pages": pages, "size_kb": size_kb}
    manifest = directory / "manifest.json"
    if manifest.exists():
        saved = json.loads(manifest.read_text(encoding="utf-8"))
        if saved.get("params") == params:
            return Farm(
                directory,
                farm_sites_,
                pages,
                size_kb,
                saved["bytes"],
                saved["links_per_page"],
                reused=True,
            )
    if directory.exists():
        shutil.rmtree(directory)
    building = directory.with_name(directory.name + ".building")
    if building.exists():
        shutil.rmtree(building)
    total = links = 0
    for site in farm_sites_:
        size, count = _write_site(building / "sites" / site.host, site, pages, size_kb)
        total += size
        links += count
    per_page = links / (pages * sites)
    (building / "manifest.json").write_text(
        json.dumps(
            {
                "params": params,
                "bytes": total,
                "links_per_page": per_page,
                "sites": [asdict(s) for s in farm_sites_],
            },
            ensure_ascii=False,
            indent=1,
        ),
        encoding="utf-8",
    )
    # nginx's workers run as nobody: everything must be world-readable.
    for path in _walk(building):
        path.chmod(0o755 if path.is_dir() else 0o644)
    building.rename(directory)
    return Farm(directory, farm_sites_, pages, size_kb, total, per_page, reused=False)


def _walk(root: Path) -> Iterator[Path]:
    yield root
    for base, dirs, files in os.walk(root):
        for name in dirs + files:
            yield Path(base) / name


# --- nginx ----------------------------------------------------------------------------------


def find_nginx() -> str:
    """Debian's nginx, installed now (as scripts/setup.sh does) if it is missing."""
    debian = Path("/usr/sbin/nginx")
    found = shutil.which("nginx") or (str(debian) if debian.exists() else None)
    if found:
        return found
    if os.geteuid() != 0:
        raise FarmError("nginx is not installed: run scripts/setup.sh as root (it installs it)")
    subprocess.run(
        ["apt-get", "install", "-y", "-qq", "nginx"],
        check=True,
        env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
        stdout=subprocess.DEVNULL,
    )
    found = shutil.which("nginx") or "/usr/sbin/nginx"
    if not Path(found).exists():
        raise FarmError("apt-get install nginx did not install /usr/sbin/nginx")
    return found


def nginx_version(binary: str) -> str:
    out = subprocess.run([binary, "-v"], capture_output=True, text=True, check=False)
    return (out.stderr or out.stdout).strip().removeprefix("nginx version: ").removeprefix("nginx/")


class Nginx(Serving):
    """nginx with a private configuration, pid file, logs and temp paths under ``run_dir``."""

    def __init__(self, farm: Farm, run_dir: Path, *, workers: str = "auto") -> None:
        self.farm = farm
        self.dir = run_dir / "nginx"
        self.conf = self.dir / "nginx.conf"
        self.pid_file = self.dir / "nginx.pid"
        self.error_log = self.dir / "error.log"
        self.workers = workers
        self.binary = find_nginx()
        self.version = nginx_version(self.binary)
        self._started = False

    def config_text(self) -> str:
        temp = self.dir / "temp"
        servers = "".join(
            f"    server {{\n"
            f"        listen {site.ip}:80;\n"
            f"        server_name {site.host};\n"
            f"        root {self.farm.site_dir(site).resolve()};\n"
            f"        index index.html;\n"
            f"    }}\n"
            for site in self.farm.sites
        )
        return (
            f"worker_processes {self.workers};\n"
            f"pid {self.pid_file};\n"
            f"error_log {self.error_log} warn;\n"
            "events {\n    worker_connections 4096;\n}\n"
            "http {\n"
            "    types {\n"
            "        text/html html;\n"
            "        text/plain txt;\n"
            "        application/xml xml;\n"
            "    }\n"
            "    default_type application/octet-stream;\n"
            "    charset utf-8;\n"
            "    charset_types text/plain application/xml;  # text/html is always included\n"
            "    access_log off;\n"
            "    sendfile on;\n"
            "    tcp_nopush on;\n"
            "    keepalive_timeout 65;\n"
            "    keepalive_requests 100000;\n"
            "    server_tokens off;\n"
            f"    client_body_temp_path {temp}/client;\n"
            f"    proxy_temp_path {temp}/proxy;\n"
            f"    fastcgi_temp_path {temp}/fastcgi;\n"
            f"    uwsgi_temp_path {temp}/uwsgi;\n"
            f"    scgi_temp_path {temp}/scgi;\n"
            f"{servers}"
            "}\n"
        )

    def _command(self, *extra: str) -> list[str]:
        return [self.binary, "-c", str(self.conf), "-e", str(self.error_log), *extra]

    def start(self) -> Self:
        (self.dir / "temp").mkdir(parents=True, exist_ok=True)
        self.conf.write_text(self.config_text(), encoding="utf-8")
        for site in self.farm.sites:
            if not _port_free(site.ip):
                raise FarmError(f"{site.ip}:80 is taken (a farm nginx still running?)")
        result = subprocess.run(self._command(), capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise FarmError(f"nginx did not start: {(result.stderr or result.stdout).strip()}")
        self._started = True
        deadline = time.monotonic() + 10
        waiting = list(self.farm.sites)
        while waiting:
            if time.monotonic() > deadline:
                raise FarmError(f"nginx does not answer on {waiting[0].ip}:80")
            if _answers(waiting[0].ip):
                waiting.pop(0)
            else:
                time.sleep(0.05)
        return self

    def master_pid(self) -> int | None:
        try:
            return int(self.pid_file.read_text().strip())
        except (OSError, ValueError):
            return None

    def stop(self) -> None:
        """``nginx -s stop``, then wait for the master to go; safe to call twice."""
        if not self._started:
            return
        self._started = False
        pid = self.master_pid()
        subprocess.run(self._command("-s", "stop"), capture_output=True, check=False)
        deadline = time.monotonic() + 10
        while pid is not None and _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        if pid is not None and _alive(pid):
            os.kill(pid, signal.SIGKILL)  # the master we started, by its own pid file


def _port_free(ip: str) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((ip, 80))
        except OSError:
            return False
    return True


def _answers(ip: str) -> bool:
    try:
        with socket.create_connection((ip, 80), timeout=0.5):
            return True
    except OSError:
        return False


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"
