"""Greetings shown as SillyTavern opens a chat with them (issue 44, items 5 and 8).

* A person's first DM with the character: the greeting (``first_mes`` or an alternate, fixed per person,
  macros expanded for them; bot/reply/persona_runtime.py ``opening_greeting``) is posted before the answer
  and stored in the history before their message, where a new chat shows it (bot/reply/keeping.py): every
  request of the DM then opens the same way, the first one's too. A first DM that only says hello, in any
  language ("hi there 👋", "¡hola!", "こんばんは", "привет"), is answered by the greeting alone: whether it
  does is one yes/no question to the voting model (:func:`hello_prompt`), asked while the greeting is posted,
  only of a short message that asks nothing and carries nothing. A failed question is a no (an answer after
  the greeting costs less than a message left unanswered).
* A server channel: the first time the character answers there, one of a V3 card's ``group_only_greetings``
  (none without them); the channel's log keeps it, as the transcript shows.

Each is marked in the global state under ``greeted_key`` once posted (its text as shown), before anything
else: a restart, a crash before the exchange is stored, or a person whose history is not kept (consent)
never sees it twice; while a DM's history does not hold it, the prompt opens with the text shown. A channel's
mark is checked, the greeting posted and marked by one reply at a time (several people may mention the
character at once). A greeting is at most ``GREETING_POSTS`` posts, sent through the outlet's own greeting
outlet where it has one (bot/discord/outlets.py): its nonces name the greeting, so the answer after it keeps
its own.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Collection
from dataclasses import dataclass, replace
from datetime import UTC, tzinfo

from bot.core.config import ReplySettings
from bot.core.keyed import KeyedLocks
from bot.core.language import detect
from bot.core.models.base import Prompt
from bot.core.persona.macros import Moment
from bot.core.persona.model import GREETING_POSTS, Persona
from bot.core.stages import GreetingOutlet, Incoming, Outlet
from bot.core.text import is_question
from bot.reply.deciding import Ballot
from bot.reply.greetingwords import GreetingRenderings, own_greeting
from bot.reply.persona_runtime import (
    channel_greeting,
    greeted_key,
    greeting_for,
    moment_of,
    opening_greeting,
)
from bot.reply.splitting import split_message
from database.records import PromptData
from database.state import State

log = logging.getLogger(__name__)

HELLO_PURPOSE = "hello"  # the usage rows' purpose of the question whether a first DM only says hello
HELLO_MAX_CHARS = 64  # longer says something beyond a hello (and is never asked about)


def hello_prompt(names: Collection[str], text: str) -> Prompt:
    """The yes/no question whether ``text``, a person's first DM to the character called ``names``, only
    greets: the voting model reads it in whatever language it is written."""
    called = " or ".join(f'"{n}"' for n in names) or "the character"
    system = ("You read the first message a person sent to a role-play character (called "
              f"{called}), who has just greeted them back. Answer yes if the message only greets, in any "
              "language (a hello, a good morning, a wave, perhaps with the character's name or an emoji) and "
              "says or asks nothing else that needs an answer. Answer no if it says or asks anything more.")
    return Prompt(system=[{"type": "text", "text": system}],
                  messages=[{"role": "user", "content": f"<message>\n{text}\n</message>"}],
                  parts=(("first message", text),))


def may_be_hello(msg: Incoming) -> bool:
    """Whether ``msg`` is worth the question at all: short, asking nothing, carrying no file or sticker."""
    text = msg.content.strip()
    return bool(text) and len(text) <= HELLO_MAX_CHARS and not is_question(text) and not msg.carried


@dataclass(frozen=True)
class Opening:
    """The greeting a conversation opened with: its text as shown, and, when this reply posted it, its parts
    and their ids (then it is stored in the history before the message, where a new chat shows it)."""

    text: str
    parts: tuple[str, ...] = ()
    ids: tuple[int | None, ...] = ()
    dm: bool = True
    whole: bool = False  # the whole answer to the message: a first DM that only says hello

    @property
    def posted(self) -> bool:
        return bool(self.parts)

    @property
    def stored(self) -> Opening | None:
        """Itself when the history stores it with the exchange (a DM greeting this reply posted)."""
        return self if self.posted and self.dm else None


class Greeter:
    def __init__(self, replies: ReplySettings, state: State, character_key: str, own_ids: Collection[int],
                 finish: Callable[[Incoming, str], str], names: Callable[[], Collection[str]],
                 zone: tzinfo = UTC, renderings: GreetingRenderings | None = None,
                 ballot: Ballot | None = None) -> None:
        self.replies = replies  # ``greetings`` read at each reply (a section following reloads)
        self.state = state  # where each greeting shown is marked
        self.zone = zone  # the character's time zone (``timezone`` applies after a restart)
        self.character_key = character_key
        self.own_ids = own_ids  # the pipeline's own accounts (filled once connected)
        self.finish = finish  # the reply filters, as for any post
        self.names = names  # the character's names ("hey Finn" is a hello)
        self.renderings = renderings  # the card's greeting in other languages (None: always the card's)
        self.ballot = ballot  # asks whether a first DM only says hello (None: it never does)
        self._channels: KeyedLocks[str] = KeyedLocks()  # per channel greeting mark, while one is posted

    def _moment(self, msg: Incoming, data: PromptData, language: str | None) -> Moment:
        # posted text: its time macros are their values now, in the character's zone, written as the
        # greeting's language writes them
        return replace(moment_of(msg, data, self.zone), language=language)

    async def shown(self, data: PromptData, msg: Incoming) -> str:
        """The greeting already shown in ``msg``'s DM and not held by its history ("" for none): no consent
        to keep it, a crash before the exchange was stored, the console's own greeting."""
        if (not msg.is_dm or data.history.turns or data.history.summary
                or not self.replies.greetings):
            return ""
        return await self.state.get(greeted_key(self.character_key, msg))

    async def open(self, persona: Persona, data: PromptData, msg: Incoming, outlet: Outlet) -> Opening | None:
        """The greeting ``msg``'s conversation opens with, posted through ``outlet`` when not shown yet."""
        if not self.replies.greetings:
            return None
        key = greeted_key(self.character_key, msg)
        if msg.is_dm:  # (the pipeline answers one message of a conversation at a time)
            if data.history.turns or data.history.summary:
                return None
            shown = await self.state.get(key)
            if shown:
                return Opening(shown)
            # Asked beside the greeting's making and posting: the answer waits on neither.
            hello = asyncio.create_task(self._only_hello(msg), name="hello?") if may_be_hello(msg) else None
            try:
                greeting, language = await self._in_language(persona, msg)
                if not greeting:
                    return None  # none in their language now (a rendering failed): none in another
                opening = await self._post(key, opening_greeting(persona, data, msg,
                                                                 self._moment(msg, data, language), greeting),
                                           msg, outlet)
                return replace(opening, whole=await hello) if opening and hello else opening
            finally:
                if hello is not None and not hello.done():
                    hello.cancel()
        if not persona.group_greetings:
            return None  # no read for the many cards without group greetings
        if await self.state.get(key):
            return None  # the channel's log holds it, as the transcript shows
        # Everyone's replies in a channel run side by side: two people mentioning the character at once
        # would both find no mark before either is written. One checks, posts and marks at a time.
        async with self._channels(key):
            if await self.state.get(key):
                return None  # the reply this one waited for greeted the channel
            if any(m.author_id in self.own_ids for m in data.recent):
                await self.state.set(key, "-")  # it spoke here before greetings were kept: no opening
                return None
            moment = self._moment(msg, data, card_language(persona, " ".join(persona.group_greetings)))
            return await self._post(key, channel_greeting(persona, msg, moment), msg, outlet)

    async def _in_language(self, persona: Persona, msg: Incoming) -> tuple[str, str | None]:
        """The greeting a first DM opens with, in the language the message is written in: the operator's own
        for it, the card's where it is the card's language (or the message does not tell), else the card's
        rendered in it (bot/reply/greetingwords.py; "" when that failed); and the language it is in (None:
        not known)."""
        greeting = greeting_for(persona, msg.author_id, msg.scope)
        language = detect(msg.text)
        if not greeting or language is None:
            return greeting, card_language(persona, greeting) if greeting else None
        if own := own_greeting(persona, language):
            return own, language
        card = card_language(persona, greeting)
        if card in (None, language) or self.renderings is None:
            return greeting, card
        return await self.renderings.render(persona, greeting, language, msg.author_id), language

    async def _post(self, key: str, text: str, msg: Incoming, outlet: Outlet) -> Opening | None:
        text = self.finish(msg, text) if text else ""
        parts = tuple(split_message(text))
        if not parts:
            return None
        if len(parts) > GREETING_POSTS:  # cut to fit at load; its macros expanded may still spill over
            parts = parts[:GREETING_POSTS]
            text = "\n\n".join(parts)
        # Through the greeting's own outlet where there is one: its posts never take the answer's nonces.
        poster = outlet.greeting() if isinstance(outlet, GreetingOutlet) else outlet
        ids = tuple([await poster.send(part, first=i == 0) for i, part in enumerate(parts)])
        await self.state.set(key, text)  # before anything else: from here on it is never posted again
        log.info("greeted %s in %s before answering message %s", msg.author_name, msg.scope, msg.message_id)
        return Opening(text, parts, ids, msg.is_dm)

    async def _only_hello(self, msg: Incoming) -> bool:
        """Whether the voting model reads ``msg`` as a hello and nothing more (no when it could not tell)."""
        if self.ballot is None:
            return False
        try:
            [answer] = await self.ballot.ask(hello_prompt(self.names(), msg.content.strip()), count=1,
                                             user_id=msg.author_id, guild_id=None, purpose=HELLO_PURPOSE)
        except Exception:  # the greeting is posted: whatever went wrong, the message is still answered
            log.warning("could not tell whether message %s only says hello", msg.message_id, exc_info=True)
            return False
        return bool(answer)


def card_language(persona: Persona, greeting: str) -> str | None:
    """The language a card's ``greeting`` is in (else its prompt's; None: neither tells)."""
    return detect(greeting) or detect(persona.system_prompt[:2000])
