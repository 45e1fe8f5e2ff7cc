"""Ports for the bot's own listeners in tests (dashboard, metrics, voice checks), where port 0 means "off".

A port learnt by binding port 0 and letting go comes from the kernel's ephemeral range, so the next fake
server or client socket in another worker can take it before the bot listens. These come from below that
range, in a slice of their own for each pytest-xdist worker, and are checked free when handed out."""

from __future__ import annotations

import itertools
import os
import socket

FIRST, LAST = 20000, 32000  # below Linux's default ephemeral range (32768-60999)
SLICE = 1000


def _worker() -> int:
    name = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    digits = "".join(c for c in name if c.isdigit())
    return int(digits or 0) % ((LAST - FIRST) // SLICE)


_next = itertools.count(FIRST + _worker() * SLICE + (os.getpid() % 97) * 7)


def free_port() -> int:
    """A port nothing listens on now, which no other test worker will hand out."""
    base = FIRST + _worker() * SLICE
    for _ in range(SLICE):
        port = base + (next(_next) - base) % SLICE
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port in {base}-{base + SLICE - 1}")
