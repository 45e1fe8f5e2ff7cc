"""What happens to an exchange once the reply is out: it is stored in the conversation (unless its author ran
/forget_me meanwhile, or the memory consent says no), the turn observers hear of it, and the message's owed
mark is cleared; a reply of several parts records its progress, so a crash between parts is resumed from the
first part not posted (bot/reply/recovery.py).

Stage 5 of a reply, keep: :class:`ExchangeKeeper`, one per character, given its turn observers (the
persona runtime's, then the features' the composition root declared) when the engine is built.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Protocol

from bot.core.claude import Completion
from bot.core.keyed import KeyedLocks
from bot.core.pipeline import Incoming, MemoryConsent, Outlet, ReplyResult, StoredConsent, TurnListener
from bot.core.tokens import counted
from database.records import Turn
from database.store import Store

log = logging.getLogger("bot.reply.engine")


class Greeting(Protocol):
    """A greeting posted before an answer (bot/reply/engine.py ``Opening``)."""

    @property
    def text(self) -> str: ...

    @property
    def parts(self) -> tuple[str, ...]: ...

    @property
    def ids(self) -> tuple[int | None, ...]: ...  # the engine's own log lines, wherever they are written


class ExchangeKeeper:
    """Storing and settling one character's exchanges; ``owed``: the messages this process marked owed a
    reply (shared with the admission stage, which marks them)."""

    def __init__(self, store: Store, character_key: str, owed: set[int], keepers: tuple[TurnListener, ...],
                 consent: MemoryConsent | None) -> None:
        self.store = store
        self.character_key = character_key
        self.owed = owed
        self.keepers = keepers
        self.consent = consent
        self.locks: KeyedLocks[tuple[int, str]] = KeyedLocks()  # per conversation, only while in use

    def progress(self, msg: Incoming) -> Callable[[list[str], int], Awaitable[None]]:
        """Records a reply of several parts in its owed mark, as it goes out (database/owed.py)."""
        def record(parts: list[str], delivered: int) -> Awaitable[None]:
            return self.store.owed.delivering(self.character_key, msg.message_id, delivered,
                                              parts if delivered == 0 else None)
        return record

    async def resume(self, msg: Incoming, outlet: Outlet, parts: Sequence[str],
                     delivered: int) -> ReplyResult:
        """Send the parts of a reply a crash interrupted, from the first not posted (bot/reply/recovery.py):
        neither half an answer nor the whole one twice. Then the exchange is stored as after any reply."""
        async with self.locks((msg.author_id, msg.scope)):
            mark = self.store.privacy.mark_of(msg.message_id)
            start = getattr(outlet, "resume_at", None)
            if callable(start):  # the part numbers (and their nonces) carry on where they stopped
                start(delivered)
            ids: list[int | None] = []
            for i in range(delivered, len(parts)):
                ids.append(await outlet.send(parts[i], first=i == 0))
                if i < len(parts) - 1:
                    await self.store.owed.delivering(self.character_key, msg.message_id, i + 1)
            await self.settle(msg)
            text = "\n\n".join(parts)
            return await self.keep(msg, text, list(parts), ids, True, None, mark)

    async def keep(self, msg: Incoming, text: str, parts: list[str], ids: list[int | None], ok: bool,
                    completion: Completion | None, mark: int, *,
                    greeting: Greeting | None = None) -> ReplyResult:
        """Store the exchange (unless its author was forgotten meanwhile) and tell the turn observers;
        ``greeting``: the greeting posted before the answer, stored before the message (as a new chat)."""
        # The one place an exchange is stored: msg.text is never blank (an image-only message is stored as
        # "[image: cat.png]"), and a failed or blank answer is not stored at all.
        turns = [counted(Turn("user", msg.text, discord_message_id=msg.message_id))]
        if greeting is not None:  # before the message, where a new chat shows it (bot/reply/transcript.py)
            turns.insert(0, counted(Turn("assistant", greeting.text, discord_message_id=greeting.ids[-1])))
        if ok:
            turns.append(counted(Turn("assistant", text, discord_message_id=ids[-1] if ids else None)))
        # Nothing of it is stored when its author ran /forget_me since the message came (issue 49).
        async with self.store.privacy.storing(msg.author_id, mark, dm_reply_ids=[
                i for i in ids if i is not None] if msg.is_dm else ()) as keep:
            if not keep:
                return ReplyResult(text, parts, ids, ok, completion, [], speaker=self.character_key)
            remember = await self.may_remember(msg)
            turn_ids = [] if remember is False else await self.store.conversations.append_turns(
                self.character_key, msg.author_id, msg.scope, turns,
                consent=None if remember is True else remember)
            result = ReplyResult(text, parts, ids, ok, completion, turn_ids, speaker=self.character_key)
            # Together: the listeners are independent, and their small writes then share one transaction
            # (database/trips.py) instead of a commit each.
            await asyncio.gather(*(_safely(listener(msg, result)) for listener in self.keepers))
        return result

    async def keep_greeting(self, msg: Incoming, greeting: Greeting, mark: int) -> ReplyResult:
        """The greeting just posted was the whole answer to ``msg`` (a first DM that says hello): settled and
        stored as any answer."""
        # Stored while the clearing waits for the log's batch, as after a reply (ReplyEngine._respond).
        settling = asyncio.create_task(self.settle(msg))
        parts, ids = list(greeting.parts), list(greeting.ids)
        try:
            return await self.keep(msg, greeting.text, parts, ids, True, None, mark)
        finally:
            await settling

    async def may_remember(self, msg: Incoming) -> bool | StoredConsent:
        """Whether this exchange may be kept in the conversation history (the consent says so), or the rule
        the person's stored consent must then pass when it is written (bot/core/pipeline.py)."""
        if self.consent is None:
            return True
        try:
            return await self.consent.for_exchange(msg)
        except Exception:  # when consent cannot be checked, err on the side of not storing
            log.exception("memory consent check failed for message %s", msg.message_id)
            return False

    async def settle(self, msg: Incoming, *, at_once: bool = False) -> None:
        """Clear the owed mark of ``msg``, if this engine set one; ``at_once``: a reply that will not be
        given (refused, consumed): cleared in a write of its own, not with the log's next batch, so a crash
        meanwhile leaves no mark behind for the restart to answer."""
        if msg.message_id in self.owed:
            if at_once:
                await self.store.owed.settle(self.character_key, msg.message_id)
            else:
                await self.store.log.settle_owed(self.character_key, msg.message_id)  # batched with the log
            self.owed.discard(msg.message_id)


async def _safely(awaitable: Awaitable[None]) -> None:
    try:
        await awaitable
    except Exception:
        log.exception("listener failed")
