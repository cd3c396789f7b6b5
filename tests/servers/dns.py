"""A real DNS server on loopback for the whole session; each test sets the names it needs."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from badgewatch.config import DnsConfig
from testbed.localdns import LocalDnsServer


@pytest.fixture(scope="session")
def dns_server() -> Iterator[LocalDnsServer]:
    """Started once on 127.0.0.1 and a free port; answers NXDOMAIN until a test sets records."""
    with LocalDnsServer({}, host="127.0.0.1", port=0) as server:
        yield server


@pytest.fixture
def dns_config(dns_server: LocalDnsServer) -> Iterator[DnsConfig]:
    """``[dns]`` pointing at the local server; its names are forgotten after the test."""
    yield DnsConfig(nameservers=[dns_server.address], timeout=2)
    dns_server.clear()
