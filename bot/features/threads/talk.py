"""Conversations in threads (``/bot threads on``, off by default: the ``conversation_threads`` setting and
the ``threads`` switch of a channel or a server, the package's ``OPENING``): a conversation started with the
character in a channel (an @mention, a reply, a message it decided to answer) goes on in a thread it opens
from that message, named from it; Discord archives it after the channel's own default duration.

Inside a thread it opened, the character answers every message without a mention or a vote, unless people
are talking among themselves there: a message that replies to or @mentions someone else, or that answers a
person who had just answered its author, goes to the usual decision. A thread is a place of its own (its own
channel id): its history, summary and pace are its own, its switches and activation follow its channel's
where it has none of its own, and a thread of a private channel is a private place.

Which threads are the character's is kept in the database (database/talk_threads.py), so a restart keeps
them; a thread Discord deleted is forgotten. Discord's refusals (a permission missing, a message that already
has a thread) leave the answer in the channel, with one line in the log."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Collection

from bot.core.stages import Incoming, Outlet, ThreadOpener, ThreadRefused
from bot.features.threads.config import ThreadSettings
from bot.operator.registration import PlaceSwitch
from database.log import MessageLog
from database.talk_threads import TalkThreads

log = logging.getLogger(__name__)

NAME_MAX = 100  # Discord's longest thread name
NAME_CUT = 80  # a name cut at a word before this, with an ellipsis


def thread_name(msg: Incoming, character: str) -> str:
    """The thread's name, from the message: its first line without the @mentions it opens with, cut at a
    word; the author's name where the message has no words (a picture alone)."""
    text = msg.content.strip()
    mention = f"@{character}"
    if character and text.startswith(mention):
        text = text[len(mention):]
    words = " ".join(text.splitlines()[0].split()).split(" ") if text.strip() else []
    while words and words[0].startswith("@"):
        words.pop(0)
    name = " ".join(words)
    if len(name) > NAME_CUT:
        cut = name[:NAME_CUT].rsplit(" ", 1)[0] or name[:NAME_CUT]
        name = cut.rstrip(" ,.;:") + "…"
    return (name or msg.author_name)[:NAME_MAX] or "conversation"


class ConversationThreads:
    """The character's conversation threads: whether to open one for a message it answers, and whether a
    message in one of them is answered by right (a ``ThreadTalk`` of the reply path, bot/core/stages.py).
    ``settings``: the feature's section (follows reloads)."""

    def __init__(self, rows: TalkThreads, opening: PlaceSwitch, settings: ThreadSettings,
                 messages: MessageLog, character: str, name: Callable[[], str]) -> None:
        self.rows = rows
        self.opening = opening  # /bot threads
        self.settings = settings
        self.messages = messages
        self.character = character  # the key its threads are filed under
        self.name = name  # the character's name as shown (an @mention of it reads so)
        self._mine: set[int] | None = None  # read once, then kept beside the table

    async def _threads(self) -> set[int]:
        if self._mine is None:
            self._mine = await self.rows.of(self.character)
        return self._mine

    async def switched_on(self, msg: Incoming) -> bool:
        return await self.opening.on(msg.place)

    async def mine(self, channel_id: int) -> bool:
        return channel_id in await self._threads()

    async def forget(self, thread_id: int) -> None:
        """Discord deleted the thread: nothing more to answer there."""
        mine = await self._threads()
        if thread_id in mine:
            mine.discard(thread_id)
            await self.rows.forget(thread_id)
            log.info("thread %s was deleted; forgotten", thread_id)

    # -- opening one

    async def move(self, msg: Incoming, outlets: Callable[[str], Outlet]
                   ) -> tuple[Incoming, Callable[[str], Outlet]] | None:
        """Open a thread from ``msg`` (to be answered) where the switch is on: the message as it now stands
        (in the thread, whose conversation it begins) and the outlets speaking there; None: answered where
        it is (a DM, a thread already, a bot's message, switched off, or Discord refused). A reply owed
        since a restart whose thread was opened before it goes on there (a thread from a message has the
        message's id)."""
        if (msg.is_dm or msg.parent_id is not None or msg.author_is_bot or msg.guild_id is None
                or not isinstance(outlets, ThreadOpener) or not await self.switched_on(msg)):
            return None
        name = thread_name(msg, self.name())
        again = msg.message_id in await self._threads()
        try:
            thread_id, moved = await outlets.open_thread(name, again=again)
        except ThreadRefused as exc:
            log.warning("message %s: no thread opened in channel %s (%s); answering in the channel",
                        msg.message_id, msg.channel_id, exc)
            return None
        if not again:
            (await self._threads()).add(thread_id)
            await self.rows.add(thread_id, self.character, msg.channel_id, msg.guild_id)
        log.info("message %s: conversation goes on in thread %s of channel %s", msg.message_id, thread_id,
                 msg.channel_id)
        there = dataclasses.replace(msg, place=msg.place.thread(thread_id, name))
        return there, moved

    # -- answering in one

    async def answers_all(self, msg: Incoming, own_ids: Collection[int]) -> bool:
        """Whether ``msg`` is in one of the character's threads (switch still on) and for it: not people
        talking among themselves there."""
        if msg.parent_id is None or not await self.mine(msg.channel_id) or not await self.switched_on(msg):
            return False
        return not await self.others_talking(msg, own_ids)

    async def others_talking(self, msg: Incoming, own_ids: Collection[int]) -> bool:
        """People talking to each other, not to the character: the message replies to or @mentions someone
        else, or answers a person who had just answered its author (by who replies to whom, in any
        language)."""
        if msg.mentions_others:
            return True
        if msg.reply_to_author_id is not None and msg.reply_to_author_id not in own_ids:
            return True
        recent = await self.messages.recent_messages(msg.channel_id, limit=6, before_id=msg.message_id)
        if not recent:
            return False
        authors = {m.message_id: m.author_id for m in recent}
        last = recent[-1]
        return (last.author_id != msg.author_id and last.author_id not in own_ids and not last.author_is_bot
                and last.reply_to_id is not None and authors.get(last.reply_to_id) == msg.author_id)
