"""Per-server settings (``/settings``, ``/ticket setup``): one row per server that changed something.

Read at every server message (the reply decision, the prompt's language hint, consent), so answered from a
copy of the table like database/places.py (database/refreshing.py): this process's own changes apply at
once; another process's (a shared PostgreSQL) within SERVER_CACHE_SECONDS, or at once when the cluster
passes them on.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from database.engine import Database
from database.models import utcnow
from database.records import ServerConfig
from database.refreshing import CacheChanges, TableMirror
from database.server_models import ServerSettings

SERVER_CACHE_SECONDS = 5.0
UNSET_LIMIT = 100_000
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
    def __init__(self, db: Database, changes: CacheChanges) -> None:
        self.db = db
        # guild id -> its settings: the whole table, a row per server that changed something.
        self._table: TableMirror[int, ServerConfig] = TableMirror(SERVER_CACHE_SECONDS, self._read)
        # The answer for a server with no row, one object each: what is derived from it is kept (Derived).
        self._unset: dict[int, ServerConfig] = {}
        # Where each change is noted: the cluster tells the other processes, whose caches would lag otherwise.
        self._changes = changes

    def forget(self, guild_id: int) -> None:
        """Another process changed a server's settings: read the table again at the next message."""
        self._table.forget()

    async def drain(self) -> None:
        """Wait for the cache's reads under way (before the database closes)."""
        await self._table.close()

    async def get(self, guild_id: int, *, fresh: bool = False) -> ServerConfig:
        """The server's stored settings (all None when it never changed one)."""
        config = await self._table.get(guild_id, fresh=fresh)
        if config is not None:
            return config
        unset = self._unset.get(guild_id)
        if unset is None:
            if len(self._unset) >= UNSET_LIMIT:
                self._unset.clear()
            unset = self._unset[guild_id] = ServerConfig(guild_id)
        return unset

    async def _read(self, since: datetime | None) -> list[tuple[int, ServerConfig, datetime]]:
        query = select(ServerSettings.guild_id, ServerSettings.updated_at,
                       *(getattr(ServerSettings, f) for f in FIELDS))
        if since is not None:
            query = query.where(ServerSettings.updated_at >= since)
        rows = await self.db.read_shared(lambda conn: conn.execute(query).all())
        return [(int(gid), ServerConfig(int(gid), **dict(zip(FIELDS, values, strict=True))), stamp)
                for gid, stamp, *values in rows]

    async def update(self, guild_id: int, **values: object) -> ServerConfig:
        """Set some of a server's settings (None clears one back to the global default)."""
        unknown = set(values) - set(FIELDS)
        if unknown:
            raise ValueError(f"unknown server settings: {', '.join(sorted(unknown))}")
        now = utcnow()
        ins = self.db.insert(ServerSettings).values(guild_id=guild_id, updated_at=now, **values)
        await self.db.change(
            ins.on_conflict_do_update(
                index_elements=[ServerSettings.guild_id], set_={**values, "updated_at": now}
            )
        )
        await self._table.refresh()  # our own change applies to the very next message
        self._changes.server(guild_id)
        return await self.get(guild_id)

    async def consent_modes(self) -> dict[int, str]:
        """Every server's own memory consent mode (for a whole consolidation run: one query)."""
        rows = await self.db.rows(
            select(ServerSettings.guild_id, ServerSettings.memory_consent).where(
                ServerSettings.memory_consent.is_not(None)
            )
        )
        return {int(g): str(m) for g, m in rows}
