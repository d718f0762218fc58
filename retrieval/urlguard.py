"""Which URLs citebot may fetch: http(s) only, and never the bot's own network (SSRF guard).

URLs come from strangers (a Discord member, a feed's entries). A URL that names or resolves to
loopback, a private range, link-local (the cloud metadata service at 169.254.169.254),
multicast, reserved or unspecified addresses is refused, IPv4 and IPv6 alike, including IPv4
inside IPv6 (``::ffff:127.0.0.1``, 6to4, NAT64). Names are checked after DNS resolution, inside
the HTTP client's resolver (``GuardedResolver``), so the address checked is the address
connected to: a name that resolves to a public address for the check and a private one for the
connection (DNS rebinding) cannot slip through. The fetcher calls ``check_url`` on every
redirect hop.

``allow_private`` (setting ``CITEBOT_ALLOW_PRIVATE_URLS``) turns the address check off, for an
intranet and for the tests' server on 127.0.0.1; the scheme check stays.
"""

from __future__ import annotations

import ipaddress
import socket
from typing import Any
from urllib.parse import urlsplit

from .errors import UnsafeURLError

SCHEMES = ("http", "https")
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Allowed = tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def forbidden_reason(ip: IPAddress) -> str | None:
    """Why ``ip`` is on the bot's own network (or no real destination), or None if public."""
    if isinstance(ip, ipaddress.IPv6Address) and (inner := _embedded_ipv4(ip)) is not None:
        return forbidden_reason(inner)
    for attr, what in (("is_loopback", "loopback"), ("is_link_local", "link-local"),
                       ("is_multicast", "multicast"), ("is_unspecified", "unspecified"),
                       ("is_private", "private"), ("is_reserved", "reserved")):
        if getattr(ip, attr):
            return what
    if not ip.is_global:  # shared address space (100.64/10), benchmarking ranges and the like
        return "not public"
    return None


def check_ip(ip: IPAddress, host: str, allow_private: bool | Allowed) -> None:
    """Raise ``UnsafeURLError`` for a forbidden ``ip``; ``allow_private``: True allows every
    address, a tuple of networks allows those (an intranet's, a test server's)."""
    if allow_private is True or (allow_private and any(ip in net for net in allow_private)):
        return
    reason = forbidden_reason(ip)
    if reason is not None:
        shown = host if host == str(ip) else f"{host} ({ip})"
        raise UnsafeURLError(
            f"refused {shown}: a {reason} address, not the public web; citebot fetches only "
            "public addresses (CITEBOT_ALLOW_PRIVATE_URLS=1 allows private ones, for an intranet)"
        )


def check_url(url: str, allow_private: bool | Allowed = False) -> str:
    """``url`` if it is http(s) with a host, and not a literal address on a private network.

    Host names are checked when they are resolved (``GuardedResolver``)."""
    try:
        parts = urlsplit(url.strip())
        parts.port  # noqa: B018 - raises ValueError on a port that is no number
    except ValueError as exc:
        raise UnsafeURLError(f"not a valid URL: {url!r} ({exc})") from None
    if parts.scheme.lower() not in SCHEMES:
        shown = f"{parts.scheme}:" if parts.scheme else "no scheme"
        raise UnsafeURLError(f"refused {url!r}: {shown} is not http or https; give a web address "
                             "such as https://example.com/news")
    host = parts.hostname
    if not host:
        raise UnsafeURLError(f"refused {url!r}: the URL names no host")
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return url.strip()
    check_ip(ip, host, allow_private)
    return url.strip()


def guarded_resolver(allow_private: bool | Allowed) -> Any:
    """An aiohttp resolver that refuses names resolving to any forbidden address."""
    from aiohttp.abc import AbstractResolver, ResolveResult
    from aiohttp.resolver import ThreadedResolver

    class GuardedResolver(AbstractResolver):
        def __init__(self) -> None:
            self._inner = ThreadedResolver()

        async def resolve(self, host: str, port: int = 0,
                          family: socket.AddressFamily = socket.AF_INET) -> list[ResolveResult]:
            results = await self._inner.resolve(host, port, family)
            # Every address, not only the first: the connector may try any of them.
            for r in results:
                check_ip(ipaddress.ip_address(r["host"]), host, allow_private)
            return results

        async def close(self) -> None:
            await self._inner.close()

    return GuardedResolver()
