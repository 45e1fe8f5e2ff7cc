"""Swipes: the character's latest reply in a conversation can be answered again, its alternatives kept and
browsed on the same message, as SillyTavern does.

A reply posted as one message is offered swipes (:meth:`ReplySwipes.offer`); a new alternative is a model
call like the reply's own (the same pipeline, the same server, so the spending limits and usage count it);
showing an alternative writes it into the stored answer at once, so what the history keeps when the
conversation moves on is always the one shown. The buttons go (:meth:`ReplySwipes.close_channel`) when the
next message arrives there, or when ``swipe_timeout_seconds`` ran out (a one-shot durable timer of kind
``swipe-expiry``, bot/core/timers.py, armed when they are offered; :class:`SwipeExpiry` handles it).
Everything lives in the database (database/swipes.py), so a restart changes nothing. Discord's side is
cogs/swipes.py.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from discord.utils import time_snowflake

from bot.core.claude import ClaudeUnavailable
from bot.core.config import DiscordSettings
from bot.core.i18n import N_
from bot.core.models.tools import without_footnotes
from bot.core.place import Place
from bot.core.stages import Incoming, ReplyResult, conversation_scope
from bot.core.timers import Timers
from bot.core.tokens import count_tokens
from bot.features.swipes.config import SwipeSettings
from bot.operator.registration import PlaceSwitch
from bot.reply.pipeline import Cast, ReplyPipeline
from database.records import Turn
from database.store import Store
from database.swipes import SwipeRecord
from database.timers import TimerRow

log = logging.getLogger(__name__)

SWITCH = "swipes"  # the per-place switch (/bot swipes) over the swipes setting
TIMER = "swipe-expiry"  # the kind of the durable timer that takes a reply's buttons off when their time is up
AGAIN_LATER = N_("I could not come up with another answer just now; try again in a moment.")


def timer_key(message_id: int) -> str:
    return f"swipe:{message_id}"


class SwipeBoard:
    """Discord's side of an expiry (cogs/swipes.py's desk, a subclass): the buttons off a reply, its
    shown alternative staying. The swipes' cog connects it as it loads (:meth:`SwipeExpiry.connect`)."""

    async def strip(self, record: SwipeRecord) -> None:
        raise NotImplementedError


@dataclass(frozen=True)
class Swiper:
    """Who pressed a button, and where: their name, and the place pressed in as Discord's side derives it
    from the interaction (bot/discord/places.py ``place_of``): what the new alternative may read and lend
    is that place's, as the reply's own was."""

    user_id: int
    name: str
    place: Place
    admin: bool = False


@dataclass(frozen=True)
class Swiped:
    """What a press did: the set as it is now (None: its buttons are gone), or why nothing changed."""

    record: SwipeRecord | None
    refusal: str = ""  # an English msgid, said in the reader's language on Discord


class ReplySwipes:
    def __init__(self, store: Store, settings: SwipeSettings, discord: DiscordSettings, cast: Cast,
                 timers: Timers, shown: PlaceSwitch) -> None:
        """``settings``: the feature's section (whether replies carry the buttons, their lifetime) and
        ``discord`` (the message length), both following reloads;
        ``cast``: the characters the bot plays (the main one, and an ensemble's others); ``timers``: where
        the buttons' expiry is armed; ``shown``: the ``/bot swipes`` switch."""
        self.store = store
        self.shown = shown
        self.settings = settings
        self.discord = discord
        self.cast = cast
        self.pipeline = cast.main  # the main character's, the bot account's (read on every message)
        self.timers = timers
        self.clock: Callable[[], datetime] = lambda: datetime.now(UTC)  # when a new alternative is asked

    def pipeline_of(self, character: str) -> ReplyPipeline | None:
        """The pipeline of ``character`` (a cast member's key; None: no longer in the cast)."""
        if character == self.pipeline.character_key:
            return self.pipeline
        if len(self.cast.pipelines) < 2:  # one character: no other answers
            return None
        try:
            return self.cast.pipeline(character)
        except (KeyError, StopIteration):  # a character no longer in the cast
            return None

    async def allowed(self, channel_id: int, guild_id: int | None, parent_id: int | None = None) -> bool:
        """Whether replies there carry the buttons: the place's /bot swipes (a thread: else its channel's),
        else the swipes setting (a DM: the setting)."""
        if guild_id is None:  # no place setting reaches a DM: the setting the switch follows decides
            return self.settings.swipes
        return await self.shown.at(channel_id, guild_id, parent_id=parent_id)

    async def offer(self, msg: Incoming, result: ReplyResult, webhook_id: int | None = None,
                    now: datetime | None = None, *,
                    close: bool = True) -> tuple[list[SwipeRecord], SwipeRecord | None]:
        """A reply was just posted: the channel's older swipes close (the ones closed are returned first),
        and swipes open on this reply when it is one message (a reply split over several cannot be swapped
        in place; None: not offered). ``close``: False when the caller knows none are open there (the
        message's own arrival closed them), sparing the search."""
        record = self._offered(msg, result, webhook_id, now or datetime.now(UTC))
        if record is not None and not await self.allowed(msg.channel_id, msg.guild_id, msg.parent_id):
            record = None  # switched off there: the older ones still close
        privacy = self.store.privacy
        # Its row names the person: a /forget_me since their message came means none is opened, one that
        # begins while it is written waits for it and deletes it with the rest.
        async with privacy.writing_about(msg.author_id, privacy.mark_of(msg.message_id)) as allowed:
            if record is None or not allowed:
                return (await self.store.swipes.close_in_channel(msg.channel_id) if close else []), None
            arming = self.timers.at(TIMER, timer_key(record.message_id), record.closes_at,
                                    {"message": record.message_id})
            if not close:
                await asyncio.gather(self.store.swipes.open(record), arming)
                return [], record
            # Issued together, they share one trip and one transaction, in this order (database/trips.py).
            closed, _, _ = await asyncio.gather(self.store.swipes.close_in_channel(msg.channel_id),
                                                self.store.swipes.open(record), arming)
            return closed, record

    def _offered(self, msg: Incoming, result: ReplyResult, webhook_id: int | None,
                 now: datetime) -> SwipeRecord | None:
        if not result.ok or len(result.message_ids) != 1 or result.message_ids[0] is None:
            return None
        if len(result.turn_ids) < 2:  # not kept (the person is not remembered): nothing to answer again from
            return None
        character = result.speaker or self.pipeline.character_key
        if self.pipeline_of(character) is None:
            return None
        # The stored answer is the exchange's last turn (after the message; a greeting is stored before it).
        return SwipeRecord(result.message_ids[0], character, msg.author_id, msg.scope, msg.channel_id,
                           msg.guild_id, webhook_id, result.turn_ids[-1], (result.parts[0],), 0, True,
                           now + timedelta(seconds=self.settings.swipe_timeout_seconds))

    async def of_message(self, message_id: int) -> SwipeRecord | None:
        return await self.store.swipes.get(message_id)

    async def open_channels(self) -> list[int]:
        return await self.store.swipes.open_channels()

    async def latest(self, user_id: int, channel_id: int) -> SwipeRecord | None:
        """The open swipes of the reply to ``user_id`` in this channel (for /reroll), if any."""
        return await self.store.swipes.open_for(user_id, channel_id)

    def refusal(self, record: SwipeRecord | None, asker: Swiper, now: datetime | None = None) -> str:
        """Why ``asker`` may not swipe here ("" when they may)."""
        if record is None or not record.open or record.closes_at <= (now or datetime.now(UTC)):
            return N_("These buttons have expired: the conversation has moved on.")
        if asker.user_id != record.user_id and not asker.admin:
            return N_("Only the person this reply answered can swipe it.")
        return ""

    async def step(self, record: SwipeRecord, delta: int) -> Swiped:
        """Show the previous (-1) or next (+1) alternative."""
        index = record.shown + delta
        if not 0 <= index < len(record.alternatives):
            return Swiped(record, N_("There is no other alternative that way: press 🔄 for a new one."))
        text = record.alternatives[index]
        return await self._shown(record, index, text, added=False)

    def mark(self) -> int:
        """Taken as a button is pressed, before its row is read (database/privacy.py ``writing_about``)."""
        return self.store.privacy.mark()

    async def new_alternative(self, record: SwipeRecord, asker: Swiper, ooc_context: str = "", *,
                              mark: int) -> Swiped:
        """Ask the model for another answer to the same message (steered by ``ooc_context``, an
        out-of-character note), and show it. ``mark``: :meth:`mark`, taken before ``record`` was read. Its
        call's usage row and the answer it changes name the person: a /forget_me of theirs since means no
        call is made (the buttons go); one that begins meanwhile waits for it, then deletes it all."""
        async with self.store.privacy.writing_about(record.user_id, mark) as allowed:
            if not allowed:
                return Swiped(None)
            return await self._new_alternative(record, asker, ooc_context)

    async def _new_alternative(self, record: SwipeRecord, asker: Swiper, ooc_context: str) -> Swiped:
        pipeline = self.pipeline_of(record.character)
        history = await self.store.conversations.history(record.character, record.user_id, record.scope)
        answered = _answered_turn(history.turns, record.turn_id)
        if pipeline is None or answered is None:
            return Swiped(record, N_("I can no longer find the message this reply answered."))
        place = asker.place
        if place.channel_id != record.channel_id or place.guild_id != record.guild_id \
                or conversation_scope(place.is_dm, place.private, place.channel_id) != record.scope:
            # pressed elsewhere than the reply is, or its place changed since (made private, say): the
            # conversation it answered is not this place's any more
            return Swiped(record, N_("This place changed since that reply: send a new message instead."))
        now = self.clock()
        incoming = Incoming(
            message_id=answered.discord_message_id or time_snowflake(now), author_id=record.user_id,
            author_name=asker.name if asker.user_id == record.user_id else "",
            content=answered.content, created_at=now, place=place)
        try:
            text = await pipeline.alternative(incoming, ooc_context=ooc_context.strip(),
                                              replace_last_reply=record.turn_id is not None)
        except ClaudeUnavailable as exc:
            log.error("a new swipe for user %s in %s failed: %s", record.user_id, record.scope, exc)
            return Swiped(record, AGAIN_LATER)
        if not text:
            return Swiped(record, AGAIN_LATER)
        limit = self.discord.max_message_length
        if len(text) > limit:  # one message holds it, and the history keeps exactly what is shown
            text = text[:limit - 1].rstrip() + "…"
        return await self._shown(record, len(record.alternatives), text, added=True)

    async def _shown(self, record: SwipeRecord, index: int, text: str, *, added: bool) -> Swiped:
        """Alternative ``index`` becomes the answer: in the history (its words, without a line of sources,
        as a reply's are kept), and in the channel's log, whose lines a server channel's prompt reads."""
        kept = without_footnotes(text)
        shown = await self.store.swipes.show(record.message_id, index, text, kept, count_tokens(kept),
                                             added=added)
        if shown is not None:
            await self.store.log.set_content(record.message_id, text)
        return Swiped(shown)

    async def close_channel(self, channel_id: int) -> list[SwipeRecord]:
        """The conversation there moved on: its open swipes close, keeping the alternative shown."""
        return await self.store.swipes.close_in_channel(channel_id)


class SwipeExpiry:
    """The ``swipe-expiry`` timer's handler: a reply's row closes and its board (Discord's side, connected
    by the swipes' cog as it loads) takes its buttons off."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.board: SwipeBoard | None = None

    def connect(self, board: SwipeBoard | None) -> None:
        """Discord's side of an expiry (None: the cog unloaded). The timers start only once the bot is
        connected, after the cogs loaded."""
        self.board = board

    async def expire(self, timer: TimerRow) -> str:
        """The ``swipe-expiry`` timer's handler: the reply's row closes and its buttons go. Safe to run again:
        a row already closed (the conversation moved on, or an earlier run) does nothing."""
        message_id = int(timer.payload["message"])
        board = self.board
        if board is None:  # not connected: the timer's row stays, taken again after its lease
            raise RuntimeError("the swipes' Discord side is not connected")
        closed = await self.store.swipes.close(message_id)
        for record in closed:
            await board.strip(record)
        if not closed:
            return f"message {message_id}: already closed"
        return f"buttons taken off message {message_id}"


def _answered_turn(turns: Sequence[Turn], answer_id: int | None) -> Turn | None:
    """The message the stored answer ``answer_id`` answered: the last user turn before it (or the last one,
    when the answer was not kept)."""
    end = len(turns)
    if answer_id is not None:
        end = next((i for i, t in enumerate(turns) if t.id == answer_id), -1)
        if end < 0:
            return None
    return next((turns[i] for i in range(end - 1, -1, -1) if turns[i].role == "user"), None)
