"""What happens to an exchange once the reply is out: it is stored in the conversation (unless its author ran
/forget_me meanwhile, or the memory consent says no), the turn observers hear of it, and the message's owed
mark is cleared; a reply of several parts records its progress, so a crash between parts is resumed from the
first part not posted (bot/reply/recovery.py).

Stage 5 of a reply, keep: :class:`ExchangeKeeper`, one per character, given its turn observers (the
persona runtime's, then the features' the composition root declared) when the pipeline is built.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Protocol

from bot.core.claude import Completion
from bot.core.keyed import KeyedLocks
from bot.core.stages import (
    Incoming,
    MemoryConsent,
    Outlet,
    ReplyResult,
    StoredConsent,
    TurnListener,
    safely,
)
from bot.core.tokens import counted
from bot.reply.owed import OwedMarks
from database.conversations import Conversations
from database.privacy import Privacy
from database.records import Turn

log = logging.getLogger(__name__)


class Greeting(Protocol):
    """A greeting posted before an answer (bot/reply/writer.py ``Opening``)."""

    @property
    def text(self) -> str: ...

    @property
    def parts(self) -> tuple[str, ...]: ...

    @property
    def ids(self) -> tuple[int | None, ...]: ...  # the pipeline's own log lines, wherever they are written


class ExchangeKeeper:
    """Storing and settling one character's exchanges; ``owed``: its owed replies (their marks cleared
    here once answered)."""

    def __init__(self, conversations: Conversations, privacy: Privacy, character_key: str, owed: OwedMarks,
                 keepers: tuple[TurnListener, ...], consent: MemoryConsent | None,
                 locks: KeyedLocks[tuple[int, str]]) -> None:
        """``locks``: one reply at a time per conversation, keeping its history in order (shared with what
        else speaks in a conversation: a reminder's delivery)."""
        self._conversations = conversations
        self._privacy = privacy
        self.character_key = character_key
        self._owed = owed
        self._keepers = keepers
        self._consent = consent
        self.locks = locks

    def progress(self, msg: Incoming) -> Callable[[list[str], int], Awaitable[None]]:
        """Records a reply of several parts in its owed mark, as it goes out (database/owed.py)."""
        def record(parts: list[str], delivered: int) -> Awaitable[None]:
            return self._owed.delivering(msg.message_id, delivered, parts if delivered == 0 else None)
        return record

    async def resume(self, msg: Incoming, outlet: Outlet, parts: Sequence[str],
                     delivered: int) -> ReplyResult:
        """Send the parts of a reply a crash interrupted, from the first not posted (bot/reply/recovery.py):
        neither half an answer nor the whole one twice. Then the exchange is stored as after any reply."""
        async with self.locks((msg.author_id, msg.scope)):
            mark = self._privacy.mark_of(msg.message_id)
            outlet.resume_at(delivered)  # the part numbers (and their nonces) carry on where they stopped
            ids: list[int | None] = []
            for i in range(delivered, len(parts)):
                ids.append(await outlet.send(parts[i], first=i == 0))
                if i < len(parts) - 1:
                    await self._owed.delivering(msg.message_id, i + 1)
            await self.settle(msg)
            text = "\n\n".join(parts)
            return await self.keep(msg, text, list(parts), ids, True, None, mark)

    async def keep(self, msg: Incoming, text: str, parts: list[str], ids: list[int | None], ok: bool,
                    completion: Completion | None, mark: int, *,
                    greeting: Greeting | None = None, felt: tuple[str, ...] | None = None) -> ReplyResult:
        """Store the exchange (unless its author was forgotten meanwhile) and tell the turn observers;
        ``greeting``: the greeting posted before the answer, stored before the message (as a new chat);
        ``felt``: what the reply's model judged the message carries for the character (bot/reply/felt.py)."""
        # The one place an exchange is stored: msg.text is never blank (an image-only message is stored as
        # "[image: cat.png]"), and a failed or blank answer is not stored at all.
        turns = [counted(Turn("user", msg.text, discord_message_id=msg.message_id))]
        if greeting is not None:  # before the message, where a new chat shows it (bot/reply/transcript.py)
            turns.insert(0, counted(Turn("assistant", greeting.text, discord_message_id=greeting.ids[-1])))
        if ok:
            turns.append(counted(Turn("assistant", text, discord_message_id=ids[-1] if ids else None)))
        # Nothing of it is stored when its author ran /forget_me since the message came (issue 49).
        async with self._privacy.storing(msg.author_id, mark, dm_reply_ids=[
                i for i in ids if i is not None] if msg.is_dm else ()) as keep:
            if not keep:
                return ReplyResult(text, parts, ids, ok, completion, [], speaker=self.character_key,
                                   channel_id=msg.channel_id, felt=felt)
            remember = await self.may_remember(msg)
            turn_ids = [] if remember is False else await self._conversations.append_turns(
                self.character_key, msg.author_id, msg.scope, turns,
                consent=None if remember is True else remember)
            result = ReplyResult(text, parts, ids, ok, completion, turn_ids, speaker=self.character_key,
                                 channel_id=msg.channel_id, felt=felt)
            # Together: the listeners are independent, and their small writes then share one transaction
            # (database/trips.py) instead of a commit each.
            await asyncio.gather(*(safely(listener(msg, result), log) for listener in self._keepers))
        return result

    async def keep_greeting(self, msg: Incoming, greeting: Greeting, mark: int) -> ReplyResult:
        """The greeting just posted was the whole answer to ``msg`` (a first DM that says hello): settled and
        stored as any answer."""
        # Stored while the clearing waits for the log's batch, as after a reply (ReplyWriter._respond).
        settling = asyncio.create_task(self.settle(msg))
        parts, ids = list(greeting.parts), list(greeting.ids)
        try:
            return await self.keep(msg, greeting.text, parts, ids, True, None, mark)
        finally:
            await settling

    async def may_remember(self, msg: Incoming) -> bool | StoredConsent:
        """Whether this exchange may be kept in the conversation history (the consent says so), or the rule
        the person's stored consent must then pass when it is written (bot/core/stages.py)."""
        if self._consent is None:
            return True
        try:
            return await self._consent.for_exchange(msg)
        except Exception:  # when consent cannot be checked, err on the side of not storing
            log.exception("memory consent check failed for message %s", msg.message_id)
            return False

    async def settle(self, msg: Incoming, *, at_once: bool = False) -> None:
        """Clear the owed mark of ``msg``, if this process set one (see OwedMarks.settle)."""
        await self._owed.settle(msg.message_id, at_once=at_once)
