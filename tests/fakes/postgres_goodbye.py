"""A TCP relay in front of the real PostgreSQL that can say the server's goodbye without closing the socket.

When PostgreSQL terminates a backend (a restart, ``pg_terminate_backend``, an idle timeout), the backend
sends an ErrorResponse, FATAL 57P01 ``terminating connection due to administrator command``, and then closes
its end. A client reads the two apart: between them an idle asyncpg connection holds the error in a state that
refuses every statement, and does not yet call itself closed. :meth:`PostgresRelay.goodbye` makes that moment
last: it closes the relay's upstream connections, hands each client the server's FATAL message, and keeps the
client's socket open until :meth:`release`.

:meth:`wait_read` waits until every client has read what it was sent (its socket's receive queue is empty in
``/proc/net/tcp``), so a test knows the goodbye was taken in, without guessing a time.
"""

from __future__ import annotations

import asyncio
import contextlib
import struct
from collections.abc import Callable
from pathlib import Path

PROC_TCP = Path("/proc/net/tcp")


def fatal(code: str = "57P01", message: str = "terminating connection due to administrator command") -> bytes:
    """A FATAL ErrorResponse as PostgreSQL writes it (protocol 3: 'E', length, typed fields, a NUL)."""
    fields = b"".join(kind + value.encode() + b"\0"
                      for kind, value in ((b"S", "FATAL"), (b"V", "FATAL"), (b"C", code), (b"M", message)))
    body = fields + b"\0"
    return b"E" + struct.pack("!i", len(body) + 4) + body


class PostgresRelay:
    def __init__(self, host: str, port: int) -> None:
        self.upstream = (host, port)
        self._pairs: list[tuple[asyncio.StreamWriter, asyncio.StreamWriter]] = []
        self._held: list[asyncio.StreamWriter] = []
        self._server: asyncio.Server | None = None

    async def start(self) -> int:
        """Listen on 127.0.0.1 (port 0); returns the port."""
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        return int(self._server.sockets[0].getsockname()[1])

    async def _accept(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        server_r, server_w = await asyncio.open_connection(*self.upstream)
        self._pairs.append((client_w, server_w))
        await asyncio.gather(_pump(client_r, server_w, lambda: True),
                             _pump(server_r, client_w, lambda: client_w not in self._held),
                             return_exceptions=True)

    @property
    def connections(self) -> int:
        return len(self._pairs)

    async def goodbye(self) -> None:
        """The server's end of every open connection goes; each client gets its FATAL message, not its EOF."""
        pairs, self._pairs = self._pairs, []
        for client_w, server_w in pairs:
            self._held.append(client_w)
            server_w.close()
            client_w.write(fatal())
            await client_w.drain()

    async def wait_read(self, timeout: float = 30.0) -> None:
        """Until every held client socket's receive queue is empty: the client has read its goodbye."""
        ports = {int(w.get_extra_info("peername")[1]) for w in self._held}
        async with asyncio.timeout(timeout):
            # The kernel's receive queue has no event to wait on: polled.
            while any(_unread(port) for port in ports):  # noqa: ASYNC110
                await asyncio.sleep(0.01)

    async def release(self) -> None:
        """The held client sockets finally close (the EOF the clients were owed)."""
        held, self._held = self._held, []
        for w in held:
            w.close()
            with contextlib.suppress(ConnectionError):
                await w.wait_closed()

    async def close(self) -> None:
        await self.release()
        for client_w, server_w in self._pairs:
            client_w.close()
            server_w.close()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()


async def _pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                close_at_end: Callable[[], bool]) -> None:
    """Bytes one way, then the end of the stream (unless the writer's socket is being held open)."""
    with contextlib.suppress(ConnectionError):
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    if close_at_end():
        writer.close()


def _unread(local_port: int) -> int:
    """Bytes waiting in the receive queue of the 127.0.0.1 socket bound to ``local_port`` (0 if none)."""
    local = f"0100007F:{local_port:04X}"
    for line in PROC_TCP.read_text().splitlines()[1:]:
        parts = line.split()
        if parts[1] == local:
            return int(parts[4].split(":")[1], 16)
    return 0
