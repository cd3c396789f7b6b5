"""A small authoritative DNS server on loopback, for the tests and the demo.

The resolver and the crawler must be tested against a real DNS server, not a mock: this one
answers A and AAAA questions over UDP and TCP from an in-memory table that a test can change
while it runs. Names may be given in Unicode (``邯郸.政务``) or ASCII (``xn--...``), in any case,
with or without the trailing dot.

Answers:

* a known name with records of the asked type: NOERROR, authoritative, the records;
* a known name without that type (or a name that only has names below it): NOERROR, no answer;
* an unknown name: NXDOMAIN;
* a name marked with :meth:`LocalDnsServer.set_failure`: SERVFAIL, REFUSED or no reply at all,
  so the failure paths of a client can be exercised for real; with ``rdtype="AAAA"`` only the
  AAAA questions fail and A is still answered, as dnsmasq without upstream refuses AAAA for
  names it holds only A records for, and as some servers silently drop AAAA questions.
"""

from __future__ import annotations

import ipaddress
import selectors
import socket
import struct
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.opcode
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset

from testbed.serving import Serving

Failure = Literal["servfail", "refused", "drop"]
QueryType = Literal["A", "AAAA"]
RecordTable = Mapping[str, Mapping[str, Sequence[str]]]

_TTL = 60
_TCP_TIMEOUT = 5.0
_UDP_MAX = 65535
_FAILURE_RCODES = {"servfail": dns.rcode.SERVFAIL, "refused": dns.rcode.REFUSED}


def _name(name: str | dns.name.Name) -> dns.name.Name:
    """Unicode or ASCII, any case, dot or no dot: one canonical absolute name."""
    if isinstance(name, dns.name.Name):
        return name.canonicalize()
    try:
        return dns.name.from_text(name.strip()).canonicalize()
    except dns.exception.DNSException as exc:
        raise ValueError(f"{name!r} is not a domain name: {exc}") from exc


def _addresses(values: Iterable[str], family: Literal[4, 6]) -> tuple[str, ...]:
    """Refuse bad addresses when records are set, not when a query arrives."""
    out: list[str] = []
    for value in values:
        address = ipaddress.ip_address(value.strip())
        if address.version != family:
            raise ValueError(f"{value!r} is not an IPv{family} address")
        out.append(str(address))
    return tuple(out)


@dataclass(frozen=True)
class _Entry:
    a: tuple[str, ...] = ()
    aaaa: tuple[str, ...] = ()
    failure: Failure | None = None
    failing_type: int | None = None  # only questions of this type fail; None: every question

    def fails(self, rdtype: int) -> Failure | None:
        if self.failing_type is None or self.failing_type == rdtype:
            return self.failure
        return None


@dataclass
class _Table:
    """The records, guarded by one lock: tests change them while the server thread reads."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    entries: dict[dns.name.Name, _Entry] = field(default_factory=dict)
    queries: list[tuple[str, str]] = field(default_factory=list)


class LocalDnsServer(Serving):
    """An authoritative server for a few names, on ``host:port`` (port 0 picks a free one)."""

    def __init__(
        self,
        records: RecordTable | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.host = host
        self._requested_port = port
        self._port: int | None = None
        self._table = _Table()
        self._udp: socket.socket | None = None
        self._tcp: socket.socket | None = None
        self._wake_r: socket.socket | None = None
        self._wake_w: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        for name, types in (records or {}).items():
            unknown = {t.upper() for t in types} - {"A", "AAAA"}
            if unknown:
                raise ValueError(f"{name}: only A and AAAA records are served, not {unknown}")
            upper = {t.upper(): list(v) for t, v in types.items()}
            self.set_records(name, a=upper.get("A", ()), aaaa=upper.get("AAAA", ()))

    # -- records -------------------------------------------------------------------------------

    def set_records(self, name: str, a: Iterable[str] = (), aaaa: Iterable[str] = ()) -> None:
        """Make ``name`` exist with exactly these addresses (replacing any earlier answer)."""
        entry = _Entry(a=_addresses(a, 4), aaaa=_addresses(aaaa, 6))
        key = _name(name)
        with self._table.lock:
            self._table.entries[key] = entry

    def set_failure(self, name: str, failure: Failure, rdtype: QueryType | None = None) -> None:
        """Answer questions about ``name`` with SERVFAIL, REFUSED, or not at all ("drop").

        Without ``rdtype`` every question fails and the name's records are forgotten; with it
        only questions of that type fail, and the others are answered from the records."""
        if failure not in ("servfail", "refused", "drop"):
            raise ValueError(f"unknown failure {failure!r}")
        if rdtype is not None and rdtype not in ("A", "AAAA"):
            raise ValueError(f"only A or AAAA questions can be made to fail, not {rdtype!r}")
        key = _name(name)
        with self._table.lock:
            if rdtype is None:
                self._table.entries[key] = _Entry(failure=failure)
                return
            old = self._table.entries.get(key, _Entry())
            self._table.entries[key] = _Entry(
                a=old.a,
                aaaa=old.aaaa,
                failure=failure,
                failing_type=dns.rdatatype.from_text(rdtype),
            )

    def remove(self, name: str) -> None:
        """Forget ``name``: it answers NXDOMAIN from now on."""
        key = _name(name)
        with self._table.lock:
            self._table.entries.pop(key, None)

    def clear(self) -> None:
        """Forget every name and the query log, so one server can serve many tests."""
        with self._table.lock:
            self._table.entries.clear()
            self._table.queries.clear()

    def queries(self) -> list[tuple[str, str]]:
        """The questions received so far as (ASCII name without dot, type), oldest first."""
        with self._table.lock:
            return list(self._table.queries)

    # -- lifecycle -----------------------------------------------------------------------------

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("the DNS server is not started")
        return self._port

    @property
    def address(self) -> str:
        """``host:port`` as ``[dns] nameservers`` expects it."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    def start(self) -> None:
        """Bind UDP and TCP on the same port and answer from a background thread."""
        if self._thread is not None:
            raise RuntimeError("the DNS server is already started")
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        self._udp, self._tcp = self._bind(family)
        self._port = self._udp.getsockname()[1]
        self._wake_r, self._wake_w = socket.socketpair()
        self._stopping.clear()
        self._thread = threading.Thread(
            target=self._serve, name=f"localdns-{self._port}", daemon=True
        )
        self._thread.start()

    def _bind(self, family: socket.AddressFamily) -> tuple[socket.socket, socket.socket]:
        """With port 0 the free UDP port may be taken for TCP; try a few times."""
        attempts = 20 if self._requested_port == 0 else 1
        last: OSError | None = None
        for _ in range(attempts):
            udp = socket.socket(family, socket.SOCK_DGRAM)
            tcp = socket.socket(family, socket.SOCK_STREAM)
            try:
                udp.bind((self.host, self._requested_port))
                port = udp.getsockname()[1]
                tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                tcp.bind((self.host, port))
                tcp.listen(16)
            except OSError as exc:
                udp.close()
                tcp.close()
                last = exc
                continue
            return udp, tcp
        assert last is not None
        raise last

    def stop(self) -> None:
        """Stop answering and release the port; safe to call twice."""
        thread = self._thread
        if thread is None:
            return
        self._stopping.set()
        if self._wake_w is not None:
            self._wake_w.send(b"x")
        thread.join(timeout=10)
        for sock in (self._udp, self._tcp, self._wake_r, self._wake_w):
            if sock is not None:
                sock.close()
        self._udp = self._tcp = self._wake_r = self._wake_w = None
        self._thread = None

    # -- serving -------------------------------------------------------------------------------

    def _serve(self) -> None:
        assert self._udp is not None and self._tcp is not None and self._wake_r is not None
        with selectors.DefaultSelector() as selector:
            selector.register(self._udp, selectors.EVENT_READ, "udp")
            selector.register(self._tcp, selectors.EVENT_READ, "tcp")
            selector.register(self._wake_r, selectors.EVENT_READ, "wake")
            while not self._stopping.is_set():
                for key, _ in selector.select():
                    if key.data == "udp":
                        self._serve_udp(self._udp)
                    elif key.data == "tcp":
                        self._accept_tcp(self._tcp)

    def _serve_udp(self, sock: socket.socket) -> None:
        try:
            wire, peer = sock.recvfrom(_UDP_MAX)
        except OSError:
            return
        reply = self._answer(wire, tcp=False)
        if reply is not None:
            try:
                sock.sendto(reply, peer)
            except OSError:
                return

    def _accept_tcp(self, sock: socket.socket) -> None:
        try:
            conn, _ = sock.accept()
        except OSError:
            return
        # One thread per connection: a slow client must not stall the UDP answers.
        threading.Thread(target=self._serve_tcp, args=(conn,), daemon=True).start()

    def _serve_tcp(self, conn: socket.socket) -> None:
        with conn:
            conn.settimeout(_TCP_TIMEOUT)
            try:
                while not self._stopping.is_set():
                    header = _recv_exactly(conn, 2)
                    if header is None:
                        return
                    (length,) = struct.unpack("!H", header)
                    wire = _recv_exactly(conn, length)
                    if wire is None:
                        return
                    reply = self._answer(wire, tcp=True)
                    if reply is None:
                        continue
                    conn.sendall(struct.pack("!H", len(reply)) + reply)
            except OSError:
                return

    def _answer(self, wire: bytes, *, tcp: bool) -> bytes | None:
        """The reply to one query, or None when it must go unanswered."""
        try:
            query = dns.message.from_wire(wire)
        except dns.exception.DNSException:
            return None  # not a DNS query; a real server would also drop most of these
        response = dns.message.make_response(query)
        response.flags |= dns.flags.AA
        # UDP replies fit the size the client advertised (512 without EDNS); TC sends it to TCP.
        max_size = 65535 if tcp else max(response.request_payload, 512)
        if query.opcode() != dns.opcode.QUERY or len(query.question) != 1:
            response.set_rcode(dns.rcode.NOTIMP)
            return response.to_wire(max_size=max_size)
        question = query.question[0]
        qname = question.name.canonicalize()
        with self._table.lock:
            self._table.queries.append(
                (qname.to_text(omit_final_dot=True), dns.rdatatype.to_text(question.rdtype))
            )
            entry = self._table.entries.get(qname)
            has_children = entry is None and any(
                known.is_subdomain(qname) for known in self._table.entries
            )
        failure = entry.fails(question.rdtype) if entry is not None else None
        if failure == "drop":
            return None
        if failure is not None:
            response.set_rcode(_FAILURE_RCODES[failure])
        elif entry is None and not has_children:
            response.set_rcode(dns.rcode.NXDOMAIN)
        elif entry is not None and question.rdclass == dns.rdataclass.IN:
            self._add_answers(response, question.name, question.rdtype, entry)
        try:
            return response.to_wire(max_size=max_size)
        except dns.exception.TooBig:
            response.answer.clear()
            response.flags |= dns.flags.TC
            return response.to_wire(max_size=max_size)

    @staticmethod
    def _add_answers(
        response: dns.message.Message,
        qname: dns.name.Name,
        rdtype: dns.rdatatype.RdataType,
        entry: _Entry,
    ) -> None:
        wanted: list[tuple[dns.rdatatype.RdataType, tuple[str, ...]]] = []
        if rdtype in (dns.rdatatype.A, dns.rdatatype.ANY):
            wanted.append((dns.rdatatype.A, entry.a))
        if rdtype in (dns.rdatatype.AAAA, dns.rdatatype.ANY):
            wanted.append((dns.rdatatype.AAAA, entry.aaaa))
        for kind, addresses in wanted:
            if addresses:
                response.answer.append(
                    dns.rrset.from_text_list(qname, _TTL, dns.rdataclass.IN, kind, addresses)
                )


def _recv_exactly(conn: socket.socket, size: int) -> bytes | None:
    """Read ``size`` bytes, or None if the peer closed the connection first."""
    chunks = bytearray()
    while len(chunks) < size:
        chunk = conn.recv(size - len(chunks))
        if not chunk:
            return None
        chunks.extend(chunk)
    return bytes(chunks)
