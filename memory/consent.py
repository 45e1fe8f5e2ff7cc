"""Who may be remembered (the ``memory_consent`` setting and /memory opt-in | opt-out).

``all``: everyone, except people who ran ``/memory opt-out``. ``opt_in``: only people who ran
``/memory opt-in``. Someone not remembered still gets answers, but nothing about them outlives the short-term
log: no history turns (the engine's memory gate), no summaries or core memories, no facts, no relationship;
and the daily consolidation deletes their logged messages instead of archiving them.
"""

from __future__ import annotations

from bot.config import BY_KEY
from database.store import Store

MODES = BY_KEY["memory_consent"].choices  # as declared in bot/config/sections.py


class Consent:
    def __init__(self, store: Store, mode: str) -> None:
        if mode not in MODES:
            raise ValueError(f"memory_consent must be one of {', '.join(MODES)}, got {mode!r}")
        self.store = store
        self.mode = mode

    def allows(self, consent: bool | None) -> bool:
        """The rule itself, for a user's stored answer (None: never answered)."""
        return consent is True if self.mode == "opt_in" else consent is not False

    async def remembers(self, user_id: int) -> bool:
        user = await self.store.people.get_user(user_id)
        return self.allows(user.memory_consent if user is not None else None)

    async def consents(self) -> dict[int, bool]:
        """Every stored answer (for a whole consolidation run: one query, not one per user)."""
        return await self.store.people.memory_consents()
