"""Asking the character from anywhere: ``/ask`` and the message menus "Ask <character>" and "Remember this",
which work where the application is installed to a person (a server that never invited the bot, a group DM)
as well as where it is installed to a server.

Plain logic over the :class:`~bot.reply.pipeline.ReplyPipeline`, driven the way the console drives it (one
character, the same reply sequence), so the cog only turns an interaction into a call and the answer into
follow-ups. What is said this way belongs to the person's private scope (``dm``, as their DMs): the bot may
not be in that place at all, so nothing of it is ever shown in a server channel's prompt; and since the
answer is drawn from their private memory, its audience is that person alone (database/visibility.py): in a
server it is shown to them only (ephemeral), never posted. It is spent as that server's, as any of its
replies there.

What cannot work there, and how it is handled:
- no webhooks: an ensemble's characters answer as the main one (one pipeline, :class:`Solo`);
- no channel history: the prompt sees the person's private conversation and the message asked about, never
  the place's other messages;
- an interaction may only answer through itself: the answer is collected here and sent as follow-ups.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime

from bot.core.i18n import t
from bot.core.place import Place
from bot.core.stages import Incoming
from bot.operator.conversation_tools import ConversationTools
from bot.reply.pipeline import ReplyPipeline, ReplySequence, Solo
from bot.reply.splitting import split_message

QUOTE_LIMIT = 1500  # the message asked about, as quoted in the question (the rest is cut)


@dataclass(frozen=True)
class Asker:
    """Who asks, and where the interaction came from (its channel may be unknown to the bot)."""

    user_id: int
    name: str
    channel_id: int
    interaction_id: int  # Discord's snowflake of the interaction: unique, unlike the time it came
    # The server the interaction came from (None: a DM or a group DM): what the answer costs is that
    # server's spend, though what is said stays in the person's private scope.
    guild_id: int | None = None
    # The language they read (their client's): the words a menu puts in their name are in it, so the
    # character answers in it and a line of Kindred's own (the fallback, a limit) reads it there.
    language: str | None = None


@dataclass(frozen=True)
class Quoted:
    """The message a menu was used on."""

    author_name: str
    content: str
    author_id: int = 0
    author_is_bot: bool = False
    written_at: datetime = datetime.min.replace(tzinfo=UTC)
    guild_id: int | None = None  # the server it was written in (None: a DM or group DM)


class CollectingOutlet:
    """An outlet that keeps the reply's parts: an interaction answers through follow-ups, not the channel."""

    def __init__(self) -> None:
        self.parts: list[str] = []

    @asynccontextmanager
    async def typing(self) -> AsyncIterator[None]:
        yield  # the deferred interaction already shows "thinking…"

    async def send(self, text: str, *, first: bool) -> int | None:
        self.parts.append(text)
        return None

    def resume_at(self, part: int) -> None:
        pass  # follow-ups carry no nonce


def question_about(quoted: Quoted, language: str | None = None, ask: str = "") -> str:
    """The question a message menu asks in the person's name, in ``language``: the message quoted and
    attributed, then their words."""
    body = quoted.content.strip() or t(language, "(a message with no text)")
    if len(body) > QUOTE_LIMIT:
        body = body[:QUOTE_LIMIT] + "…"
    lines = "\n".join(f"> {line}" for line in body.splitlines())
    return (t(language, "{name} wrote:", name=quoted.author_name) + f"\n{lines}\n\n"
            + (ask or t(language, "What do you make of this?")))


def note_of(quoted: Quoted, language: str | None = None) -> str:
    """What "Remember this" keeps, in ``language`` (/memory list reads it back to them): the message,
    attributed to who wrote it."""
    return t(language, "{name} said: {text}", name=quoted.author_name, text=quoted.content.strip())


class Asking:
    """Answers a person wherever the application is installed, in their private scope."""

    def __init__(self, pipeline: ReplyPipeline, tools: ConversationTools) -> None:
        self.pipeline = pipeline
        self.tools = tools
        self.replies = ReplySequence(Solo(pipeline))  # one character: no webhooks to speak as the others
        self.clock: Callable[[], datetime] = lambda: datetime.now(UTC)  # when a question is asked

    @property
    def name(self) -> str:
        return self.pipeline.persona.name

    async def ask(self, asker: Asker, text: str, limit: int = 2000) -> list[str]:
        """The answer to ``text``, in message-sized parts; [] when the character does not answer (a gate
        such as a spending limit, or a person who may not talk to it)."""
        now = self.clock()
        # Logged under the person's own id, never the channel's: the place's log feeds the prompts of everyone
        # there (where the bot is in it), and what is asked is private (a snowflake no channel has). The
        # message is the interaction's id: two asks in one millisecond would share a time's snowflake.
        msg = Incoming(message_id=asker.interaction_id, author_id=asker.user_id, author_name=asker.name,
                       content=text, created_at=now,
                       place=Place.dm(asker.user_id, guild_id=asker.guild_id), replies_to_bot=True)
        outlet = CollectingOutlet()
        await self.replies.handle(msg, lambda key: outlet)
        return [piece for part in outlet.parts for piece in split_message(part, limit) if piece.strip()]

    async def ask_about(self, asker: Asker, quoted: Quoted) -> list[str]:
        return await self.ask(asker, question_about(quoted, asker.language))

    async def remember(self, asker: Asker, quoted: Quoted) -> int:
        """Keep the message as the person's own private note (raises InvalidInput as /remember does, and
        when its author's words may not be kept: their consent applies to their words)."""
        quoting = None
        if quoted.author_id != asker.user_id and not quoted.author_is_bot:  # a bot has no /memory choice
            await self.tools.may_quote(quoted.author_id, quoted.author_name, quoted.written_at,
                                       quoted.guild_id)
            quoting = quoted.author_id
        return await self.tools.remember(asker.user_id, asker.name, note_of(quoted, asker.language),
                                         private=True, quoted_user_id=quoting)
