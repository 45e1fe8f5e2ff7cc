"""Where an MCP server added by a server's admins may be reached: public addresses only (unless the operator
sets ``mcp_private_hosts``). A host is judged by the addresses it resolves to, never by how it is written
(``2130706433``, ``127.1``, ``0``, ``0177.0.0.1``, ``0x7f.1``, ``[::ffff:127.0.0.1]`` and ``localhost`` are
all the loopback), and judged again each time a connection is made (:class:`GuardedTransport`: the
connection goes to the very address that was checked, so a name cannot be rebound to an inside address
between the check and the connection)."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Iterable
from typing import TYPE_CHECKING

import httpx2

if TYPE_CHECKING:
    from httpcore2 import AsyncNetworkStream
    from httpcore2._types import SOCKET_OPTION

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
# IPv6 prefixes that carry an IPv4 address in their last 32 bits (NAT64's well-known prefix, RFC 6052;
# IPv4-compatible addresses, deprecated but still routed by some stacks)
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_COMPATIBLE = ipaddress.IPv6Network("::/96")


class NotPublic(OSError):
    """A host that resolves to an address inside (loopback, private, link-local...), or to nothing."""


def inside(address: Address) -> bool:
    """Whether ``address`` is not a public unicast address: private, loopback, link-local, unspecified,
    multicast, reserved, shared, documentation... (an IPv6 form of an IPv4 address judged as that one)."""
    if isinstance(address, ipaddress.IPv6Address):
        carried = address.ipv4_mapped or address.sixtofour or (address.teredo or (None, None))[1]
        if carried is None and (address in _NAT64 or address in _COMPATIBLE):
            carried = ipaddress.IPv4Address(int(address) & 0xFFFF_FFFF)
        if carried is not None and inside(carried):
            return True
    return (not address.is_global or address.is_multicast or address.is_reserved or address.is_private
            or address.is_loopback or address.is_link_local or address.is_unspecified)


async def public_addresses(host: str, port: int) -> list[str]:
    """The addresses ``host`` resolves to, every one public; :class:`NotPublic` if any is inside (a name that
    also resolves inside is refused whole) or it resolves to nothing. Resolved by the loop's resolver
    (a worker thread), as a connection would resolve it: every way of writing an IPv4 address that the
    system accepts ends up as the address it means."""
    try:
        found = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM,
                                                             proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError) as exc:
        raise NotPublic(f"{host} does not resolve ({exc})") from None
    addresses = list(dict.fromkeys(str(info[4][0]) for info in found))
    if not addresses:
        raise NotPublic(f"{host} does not resolve")
    for text in addresses:
        if inside(ipaddress.ip_address(text.partition("%")[0])):
            raise NotPublic(f"{host} resolves to {text}, an address inside")
    return addresses


class _GuardedBackend:
    """httpcore's network backend, connecting only to public addresses: the host resolved and checked here,
    then the connection made to the checked address itself (TLS still names the host: httpcore passes
    the request's host as the server name, not the address)."""

    def __init__(self) -> None:
        from httpcore2 import AsyncNetworkBackend  # noqa: PLC0415  (with the SDK: on the first call)
        from httpcore2._backends.auto import AutoBackend  # noqa: PLC0415

        self._inner: AsyncNetworkBackend = AutoBackend()

    async def connect_tcp(self, host: str, port: int, timeout: float | None = None,
                          local_address: str | None = None,
                          socket_options: Iterable[SOCKET_OPTION] | None = None) -> AsyncNetworkStream:
        import httpcore2  # noqa: PLC0415

        try:
            addresses = await public_addresses(host, port)
        except NotPublic as exc:
            raise httpcore2.ConnectError(f"refused: {exc}") from None
        last: Exception | None = None
        # IPv4 first: an IPv6 route that swallows packets would otherwise take the whole call's time
        for address in sorted(addresses, key=lambda a: ":" in a):
            try:
                return await self._inner.connect_tcp(address, port, timeout=timeout,
                                                     local_address=local_address,
                                                     socket_options=socket_options)
            except httpcore2.ConnectError as exc:
                last = exc
        raise last or httpcore2.ConnectError(f"{host}: no address")

    async def connect_unix_socket(self, path: str, timeout: float | None = None,
                                  socket_options: object = None) -> AsyncNetworkStream:
        import httpcore2  # noqa: PLC0415

        raise httpcore2.ConnectError("refused: no local sockets")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


def guarded_transport() -> httpx2.AsyncHTTPTransport:
    """An HTTP transport whose every connection goes to a public address (see the module's docstring).
    No proxy from the environment: a proxy would resolve the host where it cannot be checked."""
    import httpcore2  # noqa: PLC0415

    transport = httpx2.AsyncHTTPTransport(trust_env=False)
    # the transport's own pool, remade over the guarded backend (httpx takes no network backend itself)
    transport._pool = httpcore2.AsyncConnectionPool(  # noqa: SLF001
        ssl_context=httpx2.create_ssl_context(trust_env=False), network_backend=_GuardedBackend())  # type: ignore[arg-type]
    return transport
