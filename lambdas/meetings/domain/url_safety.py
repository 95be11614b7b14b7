"""Which webhook URLs the backend may call: the SSRF policy, pure (docs/webhooks.md, "SSRF").

A customer's URL is untrusted input aimed at our network. Deployed, only `https://` URLs are
accepted, and only when every address the host resolves to is public unicast: loopback,
private (RFC 1918, fc00::/7), shared (CGNAT), link-local (and so every cloud metadata
endpoint), multicast, unspecified, reserved and documentation ranges are refused, also when
wrapped in IPv6 (IPv4-mapped, IPv4-compatible, 6to4, NAT64, Teredo). Hosts written as numbers
in any form but the canonical dotted quad (`2130706433`, `0177.0.0.1`, `0x7f.1`, `127.1`) are
refused outright: resolvers disagree about them, which is what such forms are used for.

Locally (`TargetPolicy.LOOPBACK`, the local stack) the policy is the opposite: only this
machine — `localhost`, 127.0.0.0/8, ::1, over http or https — and every other host is refused
by its shape alone, before any resolution, so nothing registered locally reaches the internet
or even a DNS server.

Resolution is not done here: `parse_target` checks the URL's shape, the caller resolves the
host through its resolver port, and `refused_address` judges every answer. The deliverer then
connects to the very address it judged, so a second lookup cannot be steered elsewhere.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from enum import Enum
from typing import Final
from urllib.parse import SplitResult, urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

MAX_URL_LENGTH: Final = 2048
LOOPBACK_NAMES: Final = frozenset({"localhost"})
_LABEL = re.compile(r"(?!-)[a-z0-9-]{1,63}(?<!-)")
# Something a resolver might read as a number: digits, dots and hex digits with an x.
_NUMERIC_LOOKING = re.compile(r"[0-9a-fx.]+")
_CANONICAL_QUAD = re.compile(r"(0|[1-9][0-9]{0,2})(\.(0|[1-9][0-9]{0,2})){3}")

_V4_REFUSED: Final = tuple(
    ipaddress.IPv4Network(network)
    for network in (
        "0.0.0.0/8",  # "this network", unspecified
        "10.0.0.0/8",  # RFC 1918
        "100.64.0.0/10",  # shared address space (CGNAT; also Alibaba's metadata address)
        "127.0.0.0/8",  # loopback
        "169.254.0.0/16",  # link-local: 169.254.169.254 and the other metadata endpoints
        "172.16.0.0/12",  # RFC 1918
        "192.0.0.0/24",  # IETF protocol assignments (192.0.0.192: a metadata address)
        "192.0.2.0/24",  # documentation
        "192.88.99.0/24",  # 6to4 relay anycast
        "192.168.0.0/16",  # RFC 1918
        "198.18.0.0/15",  # benchmarking
        "198.51.100.0/24",  # documentation
        "203.0.113.0/24",  # documentation
        "224.0.0.0/4",  # multicast
        "240.0.0.0/4",  # reserved, and the broadcast address
    )
)
_V6_REFUSED: Final = tuple(
    ipaddress.IPv6Network(network)
    for network in (
        "::/128",  # unspecified
        "::1/128",  # loopback
        "::/96",  # IPv4-compatible (deprecated): never a public destination
        "100::/64",  # discard
        "2001:db8::/32",  # documentation
        "2001::/32",  # Teredo: tunnels to an address we cannot see
        "64:ff9b:1::/48",  # local-use NAT64
        "fc00::/7",  # unique local (fd00:ec2::254: the EC2 metadata endpoint over IPv6)
        "fe80::/10",  # link-local
        "fec0::/10",  # site-local (deprecated)
        "ff00::/8",  # multicast
    )
)
_NAT64: Final = ipaddress.IPv6Network("64:ff9b::/96")
_SIX_TO_FOUR: Final = ipaddress.IPv6Network("2002::/16")


class TargetPolicy(Enum):
    """Which targets webhooks may have (the `WEBHOOK_TARGETS` setting)."""

    PUBLIC = "public"  # deployed: https:// to public unicast addresses only
    LOOPBACK = "loopback"  # the local stack: http(s):// to this machine only


LOOPBACK_ONLY: Final = (
    "the local stack delivers to loopback only: use http(s)://127.0.0.1, [::1] or localhost"
)


class UnsafeUrlError(ValueError):
    """The URL may not be called; the message says why (safe to show the admin)."""


@dataclass(frozen=True, slots=True)
class Target:
    """A checked URL: what to resolve and connect to, and what to ask for there."""

    scheme: str
    host: str  # lowercase name, or an address literal without brackets
    port: int
    path_and_query: str
    literal: IPAddress | None  # the host, when the URL names an address

    @property
    def host_header(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        default = 443 if self.scheme == "https" else 80
        return host if self.port == default else f"{host}:{self.port}"


def _embedded_v4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one carries, for the forms that route to it."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    if address.sixtofour is not None:
        return address.sixtofour
    return None


def refused_address(address: IPAddress, policy: TargetPolicy = TargetPolicy.PUBLIC) -> str | None:
    """Why the backend may not connect to `address` (None: it may)."""
    if policy is TargetPolicy.LOOPBACK:
        return None if address.is_loopback else f"{address}: {LOOPBACK_ONLY}"
    if isinstance(address, ipaddress.IPv6Address):
        embedded = _embedded_v4(address)
        if embedded is not None:
            wrapped = refused_address(embedded)
            return None if wrapped is None else f"{address} wraps a refused address: {wrapped}"
        refused = any(address in network for network in _V6_REFUSED)
    else:
        refused = any(address in network for network in _V4_REFUSED)
    if refused or not address.is_global:
        return f"{address} is not a public unicast address"
    return None


def _literal(host: str) -> IPAddress | None:
    """The address a host names literally; UnsafeUrlError for ambiguous numeric forms."""
    if ":" in host:
        if "%" in host:
            raise UnsafeUrlError("IPv6 zone identifiers are not allowed")
        try:
            return ipaddress.IPv6Address(host)
        except ValueError:
            raise UnsafeUrlError("the host is not a valid IPv6 address") from None
    if _CANONICAL_QUAD.fullmatch(host):
        return ipaddress.IPv4Address(host)
    last_label = host.rsplit(".", 1)[-1]
    if _NUMERIC_LOOKING.fullmatch(host) and not last_label.isalpha():
        raise UnsafeUrlError("numeric hosts must be written as a canonical dotted quad")
    return None


def _check_name(host: str) -> None:
    if len(host) > 253 or not all(_LABEL.fullmatch(label) for label in host.split(".")):
        raise UnsafeUrlError("the host is not a valid DNS name")


def _port(parts: SplitResult, scheme: str) -> int:
    try:
        port = parts.port
    except ValueError:
        raise UnsafeUrlError("the port is not valid") from None
    return port if port is not None else (443 if scheme == "https" else 80)


def parse_target(url: str, policy: TargetPolicy = TargetPolicy.PUBLIC) -> Target:
    """The URL's target if its shape is acceptable (addresses are judged after resolution)."""
    if len(url) > MAX_URL_LENGTH or not url.isascii() or any(ch.isspace() for ch in url):
        raise UnsafeUrlError(f"the URL must be ASCII without spaces, at most {MAX_URL_LENGTH} long")
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if "@" in parts.netloc:
        raise UnsafeUrlError("credentials in the URL are not allowed")
    if parts.fragment:
        raise UnsafeUrlError("the URL may not have a fragment")
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise UnsafeUrlError("the URL needs a host")
    literal = _literal(host)
    if literal is None:
        _check_name(host)
    if policy is TargetPolicy.LOOPBACK:
        # Refused by its shape: a name other than localhost is never looked up.
        loopback_host = host in LOOPBACK_NAMES or (literal is not None and literal.is_loopback)
        if scheme not in ("http", "https") or not loopback_host:
            raise UnsafeUrlError(LOOPBACK_ONLY)
    elif scheme != "https":
        raise UnsafeUrlError("only https:// URLs are allowed")
    if literal is not None:
        problem = refused_address(literal, policy)
        if problem:
            raise UnsafeUrlError(problem)
    path = parts.path or "/"
    return Target(
        scheme=scheme,
        host=host,
        port=_port(parts, scheme),
        path_and_query=f"{path}?{parts.query}" if parts.query else path,
        literal=literal,
    )


def checked_address(
    target: Target, resolved: list[IPAddress], policy: TargetPolicy = TargetPolicy.PUBLIC
) -> IPAddress:
    """The address to connect to: the first one resolved, if every one resolved is allowed
    (one bad answer refuses the lot: a resolver may hand any of them out next time)."""
    if target.literal is not None:
        return target.literal
    if not resolved:
        raise UnsafeUrlError(f"{target.host} does not resolve")
    for address in resolved:
        problem = refused_address(address, policy)
        if problem:
            raise UnsafeUrlError(f"{target.host} resolves to a refused address: {problem}")
    return resolved[0]
