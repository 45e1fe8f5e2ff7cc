"""Per-server settings (``/settings``): registered settings of the server scope (database/place_config.py),
each a row of its own where a server set it; the core's, read together as a :class:`ServerConfig`. A
feature's own (bot/operator/registration.py ``ServerSetting``) registers itself here and is read by its
feature alone.

Read at every server message (the reply decision, the prompt's language hint, consent), so answered from
the accessor's cached copy: this process's own changes apply at once; another process's (a shared
PostgreSQL) within the cache window, or at once when the cluster passes them on.
"""

from __future__ import annotations

from database.place_config import PLACE_SCOPES, SERVER, PlaceConfig, register
from database.records import ServerConfig

UNSET_LIMIT = 100_000
# key -> (kind, the global setting it follows, or its fixed default); "proactive" is also a place switch
# (/bot proactive, registered by its feature), one setting whichever command sets it.
_KEYS: dict[str, tuple[str, str, object]] = {
    "reply_mode": ("str", "", "vote"),
    "vote_count": ("int", "yes_no_vote_count", None),
    "proactive": ("bool", "proactive_talk", None),
    "memory_consent": ("str", "memory_consent", None),
    "log_channel_id": ("int", "", None),
    "language": ("str", "", ""),
    # who may talk to the character here: comma-separated ids; "" is an empty list
    "allowed_users": ("str", "allowed_users", None),
    "blocked_users": ("str", "blocked_users", None),
    "allowed_roles": ("str", "allowed_roles", None),
    "blocked_roles": ("str", "blocked_roles", None),
}
for _key, (_kind, _follows, _default) in _KEYS.items():
    register(_key, _kind, scopes=PLACE_SCOPES if _key == "proactive" else (SERVER,), follows=_follows,
             default=_default, help="a server setting (/settings)")
FIELDS = tuple(_KEYS)


def register_server_setting(key: str, kind: str, follows: str = "", default: object = None) -> None:
    """Register a feature's server setting (bot/operator/registration.py ``ServerSetting``): read by its
    feature alone, so not one of the :class:`ServerConfig` fields every message reads."""
    register(key, kind, scopes=(SERVER,), follows=follows, default=None if follows else default,
             help="a server setting (/settings)")


class Servers:
    def __init__(self, config: PlaceConfig) -> None:
        self.config = config
        # guild id -> (the copy's version it was made at, its settings): one object while nothing changed,
        # so what is derived from it is kept (Derived).
        self._made: dict[int, tuple[int, ServerConfig]] = {}

    def settled(self) -> int | None:
        """The stored settings' version while they are answered from the copy (database/refreshing.py)."""
        return self.config.settled()

    def forget(self, guild_id: int) -> None:
        """Another process changed a server's settings: read the table again at the next message."""
        self.config.forget()

    async def drain(self) -> None:
        """Wait for the cache's reads under way (before the database closes)."""
        await self.config.drain()

    async def get(self, guild_id: int, *, fresh: bool = False) -> ServerConfig:
        """The server's stored settings (all None when it never changed one)."""
        await self.config.own(FIELDS[0], SERVER, guild_id, fresh=fresh)  # the copy brought up to date
        made = self._made.get(guild_id)
        if made is not None and made[0] == self.config.version:
            return made[1]
        values = await self.config.scope(SERVER, guild_id, FIELDS)
        config = ServerConfig(guild_id, **values)  # type: ignore[arg-type]
        if made is not None and made[1] == config:
            config = made[1]
        if len(self._made) >= UNSET_LIMIT:
            self._made.clear()
        self._made[guild_id] = (self.config.version, config)
        return config

    async def update(self, guild_id: int, **values: object) -> ServerConfig:
        """Set some of a server's settings (None clears one back to the global default)."""
        unknown = set(values) - set(FIELDS)
        if unknown:
            raise ValueError(f"unknown server settings: {', '.join(sorted(unknown))}")
        for key, value in values.items():
            await self.config.set(key, SERVER, guild_id, value)
        return await self.get(guild_id)

    async def consent_modes(self) -> dict[int, str]:
        """Every server's own memory consent mode (for a whole consolidation run: one query)."""
        return {g: str(m) for g, m in (await self.config.everywhere("memory_consent", SERVER)).items()}
