"""Who may be remembered (the ``memory_consent`` setting and /memory opt-in | opt-out).

``all``: everyone, except people who ran ``/memory opt-out``. ``opt_in``: only people who ran
``/memory opt-in``. Someone not remembered still gets answers, but nothing about them outlives the short-term
log: no history turns (the engine asks ``for_exchange``), no summaries or core memories, no facts, no
relationship; and the daily consolidation deletes their logged messages instead of archiving them.

A server may choose its own mode (``/settings set memory_consent``): it applies to that server's messages
(their history turns, recall there, and the consolidation of what was said there); DMs and what spans
servers (summaries of core memories) follow the global mode.
"""

from __future__ import annotations

from bot.core.config import BY_KEY
from bot.core.stages import Incoming, StoredConsent
from database.people import People
from database.servers import Servers

MODES = BY_KEY["memory_consent"].choices  # as declared in bot/core/config/sections.py


class Consent:
    def __init__(self, servers: Servers, people: People, mode: str) -> None:
        if mode not in MODES:
            raise ValueError(f"memory_consent must be one of {', '.join(MODES)}, got {mode!r}")
        self.servers, self.people = servers, people
        self.mode = mode

    def allows(self, consent: bool | None, mode: str | None = None) -> bool:
        """The rule itself, for a user's stored answer (None: never answered), under ``mode`` (default: the
        global one)."""
        return consent is True if (mode or self.mode) == "opt_in" else consent is not False

    async def mode_for(self, guild_id: int | None) -> str:
        """The mode for a message in this server (its own, else the global one); DMs use the global one.
        Cached by the store: asked at every message."""
        if guild_id is None:
            return self.mode
        return (await self.servers.get(guild_id)).memory_consent or self.mode

    async def for_exchange(self, msg: Incoming) -> StoredConsent:
        """The engine's question (bot/core/stages.py ``MemoryConsent``): the rule the person's stored answer
        must pass, read with the write of the exchange (ExchangeKeeper.may_remember, bot/reply/keeping.py)."""
        mode = await self.mode_for(msg.guild_id)
        return lambda consent: self.allows(consent, mode)

    async def remembers(self, user_id: int, guild_id: int | None = None) -> bool:
        user = await self.people.get_user(user_id)
        return self.allows(user.memory_consent if user is not None else None, await self.mode_for(guild_id))

    async def consents(self) -> dict[int, bool]:
        """Every stored answer (for a whole consolidation run: one query, not one per user)."""
        return await self.people.memory_consents()
