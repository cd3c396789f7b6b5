"""The badge host for tests: our own badge script, images and certificate page, named in DNS.

Loaded as a pytest plugin by ``tests/conftest.py``. ``badge_host`` is a started
:class:`testbed.badgehost.BadgeHost` for ``badge_config`` on a fresh 127.0.0.x, with a beacon
sink ("recv1.badges.test", answering ``/gs.gif``) on another; both names are published in the
session's DNS server until the test ends. Tests register the sites they need.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import pytest

from badgewatch.config import BadgeConfig
from testbed.badgehost import BadgeHost, Registration
from testbed.localdns import LocalDnsServer
from testbed.siteserver import IpPool, Route, SiteServer

__all__ = ["BEACON_HOST", "BEACON_PATH", "TRANSPARENT_GIF", "LiveBadgeHost"]

BEACON_HOST = "recv1.badges.test"
BEACON_PATH = "/gs.gif"
# The 1×1 transparent GIF that analytics collectors answer with.
TRANSPARENT_GIF = (
    b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00\x00"
    b",\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"
)


class LiveBadgeHost(BadgeHost):
    """A badge host with its beacon sink beside it, as the fixture hands it out."""

    def __init__(
        self,
        config: BadgeConfig,
        ip: str,
        registrations: Iterable[Registration] = (),
        *,
        beacon_server: SiteServer,
    ) -> None:
        self.beacon_server = beacon_server
        super().__init__(
            config, ip, registrations, beacon_url=beacon_server.url(BEACON_PATH, BEACON_HOST)
        )


@pytest.fixture
def badge_config() -> BadgeConfig:
    """``[badge]`` aimed at the test names: scripts and images on one host, certificates on
    another (both served by ``badge_host``)."""
    return BadgeConfig(
        script_base="http://dcs.badges.test/js",
        image_base="http://dcs.badges.test/image",
        certificate_url="http://bszs.badges.test/sitename?method=show&id={certificate}",
    )


def _start_badge_host(
    pool: IpPool, config: BadgeConfig, beacon_server: SiteServer
) -> LiveBadgeHost:
    """On the next free pool address; acquire() raises PoolExhausted when none is left."""
    while True:
        ip = pool.acquire()
        try:
            host = LiveBadgeHost(config, ip, beacon_server=beacon_server)
        except OSError:
            continue  # taken since the probe: it stays leased (as IpPool.serve does), move on
        return host.start()


@pytest.fixture
def badge_host(
    badge_config: BadgeConfig, ip_pool: IpPool, dns_server: LocalDnsServer
) -> Iterator[LiveBadgeHost]:
    """A started badge host and beacon sink whose names resolve until the test ends."""
    beacon = ip_pool.serve(
        {BEACON_PATH: Route(body=TRANSPARENT_GIF, content_type="image/gif")},
        names=[BEACON_HOST],
    )
    try:
        host = _start_badge_host(ip_pool, badge_config, beacon)
    except BaseException:
        beacon.stop()
        ip_pool.release(beacon.ip)
        raise
    published = [(name, host.ip) for name in host.names] + [(BEACON_HOST, beacon.ip)]
    for name, ip in published:
        dns_server.set_records(name, a=[ip])
    yield host
    for name, _ in published:
        dns_server.remove(name)
    for server in (host, beacon):
        server.stop()
        ip_pool.release(server.ip)
