"""Websites on loopback for the crawler tests: each on port 80 of its own address, named in DNS.

Loaded as a pytest plugin by ``tests/conftest.py``. ``serve_site(routes, names=[...])`` starts a
:class:`testbed.siteserver.SiteServer` on a fresh 127.0.0.x, publishes its names in the
session's DNS server, and takes both down after the test.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Protocol

import pytest

from testbed.localdns import LocalDnsServer
from testbed.siteserver import IpPool, Route, SiteServer

__all__ = ["ServeSite"]


class ServeSite(Protocol):
    def __call__(
        self,
        routes: Mapping[str, Route | bytes | str] | None = None,
        names: Iterable[str] = (),
    ) -> SiteServer: ...


@pytest.fixture(scope="session")
def ip_pool() -> IpPool:
    """127.0.0.2–127.0.0.254, port 80: addresses are handed out round-robin across the session."""
    return IpPool()


@pytest.fixture
def serve_site(ip_pool: IpPool, dns_server: LocalDnsServer) -> Iterator[ServeSite]:
    """Start sites for this test; their names resolve to their address until it ends."""
    started: list[SiteServer] = []

    def serve(
        routes: Mapping[str, Route | bytes | str] | None = None,
        names: Iterable[str] = (),
    ) -> SiteServer:
        server = ip_pool.serve(routes, names=names)
        started.append(server)
        for name in server.names:
            dns_server.set_records(name, a=[server.ip])
        return server

    yield serve
    for server in reversed(started):
        server.stop()
        ip_pool.release(server.ip)
        for name in server.names:
            dns_server.remove(name)
