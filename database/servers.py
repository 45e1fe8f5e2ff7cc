"""Per-server settings (``/settings``, ``/ticket setup``): one row per server that changed something.

Read at every server message (the reply decision, the prompt's language hint, consent), so answers are
cached like database/places.py: this process's own changes clear the cache at once; another process's
(a shared PostgreSQL) apply within SERVER_CACHE_SECONDS.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import select

from database.engine import Database
from database.models import utcnow
from database.records import ServerConfig
from database.refreshing import RefreshingCache
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
        self._cache: RefreshingCache[int, ServerConfig] = RefreshingCache(SERVER_CACHE_SECONDS, self._read)
        # Told of each change (the cluster tells the other processes, whose caches would lag otherwise).
        self.changed: list[Callable[[int], None]] = []

    def forget(self, guild_id: int) -> None:
        """Drop a cached answer another process has made stale."""
        self._cache.drop(guild_id)

    async def drain(self) -> None:
        """Wait for the cache's reads under way (before the database closes)."""
        await self._cache.close()

    async def get(self, guild_id: int, *, fresh: bool = False) -> ServerConfig:
        """The server's stored settings (all None when it never changed one)."""
        return await self._cache.get(guild_id, fresh=fresh)

    async def _read(self, guild_id: int) -> ServerConfig:
        query = select(*(getattr(ServerSettings, f) for f in FIELDS)).where(
            ServerSettings.guild_id == guild_id)
        # Shared: many servers ask together (their first messages, their refreshes).
        row = await self.db.read_shared(lambda conn: conn.execute(query).first())
        return (ServerConfig(guild_id, **dict(zip(FIELDS, row, strict=True))) if row is not None
                else ServerConfig(guild_id))

    async def update(self, guild_id: int, **values: Any) -> ServerConfig:
        """Set some of a server's settings (None clears one back to the global default)."""
        unknown = set(values) - set(FIELDS)
        if unknown:
            raise ValueError(f"unknown server settings: {', '.join(sorted(unknown))}")
        self._cache.drop(guild_id)  # our own change applies to the very next message
        now = utcnow()
        ins = self.db.insert(ServerSettings).values(guild_id=guild_id, updated_at=now, **values)
        await self.db.change(
            ins.on_conflict_do_update(
                index_elements=[ServerSettings.guild_id], set_={**values, "updated_at": now}
            )
        )
        self._cache.drop(guild_id)
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
