"""Does a domain resolve to the address its unit declared?

The seed requires the IP on the application to be the one the domain resolves to, and the
monitor flags sites whose domain no longer does. Both ask the same question here, against the
nameservers of ``[dns]`` (none configured: the system resolver). A domain that does not resolve
and a domain that resolves elsewhere are different outcomes with different advice, so they are
reported apart. This module imports nothing from the workflow: the crawler reuses it.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from typing import Literal

import dns.exception
import dns.name
import dns.rdatatype
from dns.nameserver import Do53Nameserver
from dns.resolver import NXDOMAIN, NoAnswer, NoNameservers, Resolver

from badgewatch.config import DnsConfig

Outcome = Literal["ok", "unresolvable", "mismatch"]
Reason = Literal["ok", "nxdomain", "no_a", "timeout", "servfail", "refused", "error", "mismatch"]
Family = Literal["ipv4", "ipv6"]


class LookupFailed(Exception):
    """The question went unanswered; ``reason`` says why, ``message`` says it in Chinese."""

    def __init__(self, domain: str, reason: Reason, message: str) -> None:
        super().__init__(message)
        self.domain = domain
        self.reason = reason
        self.message = message


@dataclass(frozen=True)
class Addresses:
    """The IPv4 (A) and IPv6 (AAAA) addresses a name resolves to, sorted, canonical text."""

    ipv4: tuple[str, ...]
    ipv6: tuple[str, ...]


@dataclass(frozen=True)
class Mismatch:
    """One declared address that is not among the records of its family."""

    family: Family
    declared: str
    found: tuple[str, ...]
    message: str


@dataclass(frozen=True)
class DnsCheck:
    """What the DNS says about a declared domain and address, with a message for the unit."""

    domain: str
    outcome: Outcome
    reason: Reason
    ipv4: tuple[str, ...]
    ipv6: tuple[str, ...]
    message: str
    mismatches: tuple[Mismatch, ...] = ()
    # Why the AAAA question failed (refused, dropped…), when it did: noted, never blocking.
    ipv6_error: str | None = None

    @property
    def ok(self) -> bool:
        return self.outcome == "ok"


def _split_host_port(value: str) -> tuple[str, int]:
    host, _, port = value.rpartition(":")
    return host.strip("[]"), int(port)


def _nameserver_address(host: str) -> str:
    """dnspython needs an IP address; a host name in the configuration is looked up once."""
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_UDP)
        return str(infos[0][4][0])


def make_resolver(dns: DnsConfig) -> Resolver:
    """A resolver without cache (answers change under a running test or crawl) and one deadline."""
    if dns.nameservers:
        resolver = Resolver(configure=False)
        servers = []
        for entry in dns.nameservers:
            host, port = _split_host_port(entry)
            servers.append(Do53Nameserver(_nameserver_address(host), port))
        resolver.nameservers = servers
    else:
        resolver = Resolver(configure=True)
    resolver.cache = None
    resolver.timeout = dns.timeout
    resolver.lifetime = dns.timeout
    return resolver


def _absolute(domain: str) -> dns.name.Name:
    try:
        return dns.name.from_text(domain.strip())
    except dns.exception.DNSException as exc:
        raise ValueError(f"{domain!r} is not a domain name: {exc}") from exc


def _display(name: dns.name.Name) -> str:
    """The form people read (邯郸.政务); falls back to ASCII for names IDNA cannot decode."""
    try:
        return name.to_unicode(omit_final_dot=True)
    except dns.exception.DNSException:
        return name.to_text(omit_final_dot=True)


def display_name(domain: str) -> str:
    """A host name as people read it (邯郸.政务 for xn--ve4aqf.xn--zfr164b); as given if the
    name cannot be read."""
    try:
        return _display(_absolute(domain))
    except ValueError:
        return domain


def _failure(name: dns.name.Name, exc: Exception, timeout: float) -> LookupFailed:
    """Turn dnspython's exceptions into the few reasons a unit can act on."""
    shown = _display(name)
    ascii_name = name.to_text(omit_final_dot=True)
    prefix = f"域名“{shown}”无法解析："
    if isinstance(exc, NXDOMAIN):
        return LookupFailed(
            ascii_name,
            "nxdomain",
            prefix + "域名不存在（NXDOMAIN），请确认该域名已注册并已设置解析",
        )
    if isinstance(exc, dns.exception.Timeout):
        return LookupFailed(
            ascii_name,
            "timeout",
            prefix + f"域名服务器在 {timeout:g} 秒内没有应答（超时），请稍后再试或检查域名解析设置",
        )
    if isinstance(exc, NoNameservers):
        answers = {str(error[3]) for error in exc.kwargs.get("errors", [])}
        if "SERVFAIL" in answers:
            return LookupFailed(
                ascii_name,
                "servfail",
                prefix + "域名服务器返回解析失败（SERVFAIL），请检查域名解析设置",
            )
        if "REFUSED" in answers:
            return LookupFailed(
                ascii_name,
                "refused",
                prefix + "域名服务器拒绝查询（REFUSED），请检查域名解析设置",
            )
    return LookupFailed(ascii_name, "error", prefix + f"查询出错（{exc}）")


def _query(resolver: Resolver, name: dns.name.Name, rdtype: dns.rdatatype.RdataType) -> list[str]:
    """The addresses of one type; none is an empty list, any failure raises LookupFailed."""
    try:
        answer = resolver.resolve(name, rdtype, search=False)
    except NoAnswer:
        return []
    except dns.exception.DNSException as exc:
        raise _failure(name, exc, resolver.lifetime) from exc
    return [str(a) for a in sorted({ipaddress.ip_address(rdata.to_text()) for rdata in answer})]


def lookup_ipv4(resolver: Resolver, domain: str) -> tuple[str, ...]:
    """The A records of ``domain``: all a fetch over IPv4 needs, so a server that refuses or
    drops AAAA questions (dnsmasq, some appliances) neither fails nor delays it."""
    return tuple(_query(resolver, _absolute(domain), dns.rdatatype.A))


def lookup(resolver: Resolver, domain: str) -> Addresses:
    """Both families of ``domain`` (Unicode or ASCII); raises LookupFailed if either fails."""
    name = _absolute(domain)
    return Addresses(
        ipv4=tuple(_query(resolver, name, dns.rdatatype.A)),
        ipv6=tuple(_query(resolver, name, dns.rdatatype.AAAA)),
    )


def _mismatch(shown: str, family: Family, declared: str, found: tuple[str, ...]) -> Mismatch:
    label, record = ("IPv4", "A") if family == "ipv4" else ("IPv6", "AAAA")
    if found:
        message = (
            f"域名“{shown}”解析到的 {label} 地址是 {'、'.join(found)}，"
            f"与填写的 {declared} 不一致；此处必须填写域名解析时设置的 IP 地址"
        )
    else:
        message = (
            f"域名“{shown}”没有 {label}（{record}）解析记录，与填写的 {declared} 不一致；"
            "请在域名解析中添加该地址，或不填此项"
        )
    return Mismatch(family=family, declared=declared, found=found, message=message)


def check_declared(resolver: Resolver, domain: str, ipv4: str, ipv6: str | None = None) -> DnsCheck:
    """Compare the declared addresses with the DNS; never raises for a DNS failure."""
    name = _absolute(domain)
    ascii_name = name.to_text(omit_final_dot=True)
    shown = _display(name)
    declared4 = ipaddress.IPv4Address(ipv4.strip())
    declared6 = ipaddress.IPv6Address(ipv6.strip()) if ipv6 else None
    try:
        found4 = tuple(_query(resolver, name, dns.rdatatype.A))
        if not found4:
            raise LookupFailed(
                ascii_name,
                "no_a",
                f"域名“{shown}”无法解析：没有 IPv4（A）解析记录，"
                f"请在域名解析中添加指向 {declared4} 的 A 记录",
            )
    except LookupFailed as failed:
        return DnsCheck(
            domain=ascii_name,
            outcome="unresolvable",
            reason=failed.reason,
            ipv4=(),
            ipv6=(),
            message=failed.message,
        )
    found6: tuple[str, ...] = ()
    ipv6_error: str | None = None
    try:
        found6 = tuple(_query(resolver, name, dns.rdatatype.AAAA))
    except LookupFailed as failed:
        # Some servers refuse or drop AAAA questions; the IPv4 answer stands.
        ipv6_error = "IPv6（AAAA）" + failed.message.removeprefix(f"域名“{shown}”")
        if declared6 is not None:
            return DnsCheck(
                domain=ascii_name,
                outcome="unresolvable",
                reason=failed.reason,
                ipv4=found4,
                ipv6=(),
                message=f"域名“{shown}”的 IPv4 地址解析正常（{'、'.join(found4)}），但"
                + ipv6_error
                + f"，无法确认填写的 IPv6 地址 {declared6}",
                ipv6_error=ipv6_error,
            )
    mismatches: list[Mismatch] = []
    if declared4 not in {ipaddress.IPv4Address(a) for a in found4}:
        mismatches.append(_mismatch(shown, "ipv4", str(declared4), found4))
    if declared6 is not None and declared6 not in {ipaddress.IPv6Address(a) for a in found6}:
        mismatches.append(_mismatch(shown, "ipv6", str(declared6), found6))
    if mismatches:
        return DnsCheck(
            domain=ascii_name,
            outcome="mismatch",
            reason="mismatch",
            ipv4=found4,
            ipv6=found6,
            message="；".join(m.message for m in mismatches),
            mismatches=tuple(mismatches),
            ipv6_error=ipv6_error,
        )
    return DnsCheck(
        domain=ascii_name,
        outcome="ok",
        reason="ok",
        ipv4=found4,
        ipv6=found6,
        message=f"域名“{shown}”解析到 {'、'.join(found4)}，与填写的地址一致",
        ipv6_error=ipv6_error,
    )
