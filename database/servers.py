"""Per-server settings (``/settings``, ``/ticket setup``): one row per server that changed something.

Read at every server message (the reply decision, the prompt's language hint, consent), so answers are
cached like database/places.py: this process's own changes clear the cache at once; another process's
(a shared PostgreSQL) apply within SERVER_CACHE_SECONDS.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import select

from database.engine import Database
from database.models import utcnow
from database.records import ServerConfig
from database.server_models import ServerSettings

SERVER_CACHE_SECONDS = 5.0
FIELDS = (
    "reply_mode",
    "vote_count",
    "proactive",
    "memory_consent",
    "log_channel_id",
    "language",
    "staff_role_id",
    "ticket_channel_id",
    "allowed_users",
    "blocked_users",
    "allowed_roles",
    "blocked_roles",
)


class Servers:
    def __init__(self, db: Database) -> None:
        self.db = db
        self._cache: dict[int, tuple[ServerConfig, float]] = {}
        # Told of each change (the cluster tells the other processes, whose caches would lag otherwise).
        self.changed: list[Callable[[int], None]] = []

    def forget(self, guild_id: int) -> None:
        """Drop a cached answer another process has made stale."""
        self._cache.pop(guild_id, None)

    async def get(self, guild_id: int, *, fresh: bool = False) -> ServerConfig:
        """The server's stored settings (all None when it never changed one)."""
        cached = self._cache.get(guild_id)
        if cached is not None and not fresh and time.monotonic() - cached[1] < SERVER_CACHE_SECONDS:
            return cached[0]
        query = select(*(getattr(ServerSettings, f) for f in FIELDS)).where(
            ServerSettings.guild_id == guild_id)
        # Shared: many servers ask together (their first messages, their cache expiring at once).
        row = await self.db.read_shared(lambda conn: conn.execute(query).first())
        config = (
            ServerConfig(guild_id, **dict(zip(FIELDS, row, strict=True)))
            if row is not None
            else ServerConfig(guild_id)
        )
        if len(self._cache) > 10_000:  # bounded: one entry per server seen
            self._cache.clear()
        self._cache[guild_id] = (config, time.monotonic())
        return config

    async def update(self, guild_id: int, **values: Any) -> ServerConfig:
        """Set some of a server's settings (None clears one back to the global default)."""
        unknown = set(values) - set(FIELDS)
        if unknown:
            raise ValueError(f"unknown server settings: {', '.join(sorted(unknown))}")
        self._cache.pop(guild_id, None)  # our own change applies to the very next message
        now = utcnow()
        ins = self.db.insert(ServerSettings).values(guild_id=guild_id, updated_at=now, **values)
        await self.db.change(
            ins.on_conflict_do_update(
                index_elements=[ServerSettings.guild_id], set_={**values, "updated_at": now}
            )
        )
        self._cache.pop(guild_id, None)
        for listener in list(self.changed):
            listener(guild_id)
        return await self.get(guild_id, fresh=True)

    async def consent_modes(self) -> dict[int, str]:
        """Every server's own memory consent mode (for a whole consolidation run: one query)."""
        rows = await self.db.rows(
            select(ServerSettings.guild_id, ServerSettings.memory_consent).where(
                ServerSettings.memory_consent.is_not(None)
            )
        )
        return {int(g): str(m) for g, m in rows}
