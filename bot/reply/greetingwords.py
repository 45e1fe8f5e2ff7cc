"""A card's greeting in the language of the person it greets (bot/reply/greetings.py).

A card's ``first_mes`` is written in one language; posted as it is to a person who writes in another, it is
the first thing they get, in a language they may not read, and it stays in every later request as the
character's first turn. So a first DM in another language opens with the greeting rendered in that
language: made once per (greeting text, language) by one call to the reply model (in the character's voice,
its macros kept), kept in the database beside the cards' words (database/card_words.py: shared by every
process, reused across restarts, a new rendering when the greeting changes). An operator's own greeting
for the language (character.env ``first_message_es=...``) wins over any rendering.

Unlike the cards' words, a rendering is awaited: the greeting is posted before the answer to the first DM.
An unusable answer (empty, or still in the card's language) or a failed call gives no greeting at all (never
the card's in the wrong language); it is asked again for the next first DM in that language after
:data:`RETRY_SECONDS`.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
import time
from collections.abc import Callable

from bot.core.claude import ClaudeClient
from bot.core.language import detect, name
from bot.core.models.base import Prompt
from bot.core.persona.model import GREETING_MAX_CHARS, Persona
from database.card_words import CardWordRows

log = logging.getLogger(__name__)

PURPOSE = "greeting"  # the usage rows' purpose of a rendering
KEY_PREFIX = "greeting:"  # its rows' card key: beside the cards' words, never one of theirs
RETRY_SECONDS = 600.0  # after an unusable rendering, before it is asked for again
MAX_TOKENS = 1500
_MACRO = re.compile(r"\{\{[^{}]*\}\}")


def greeting_key(greeting: str) -> str:
    """The stored rendering's key: a hash of the greeting's text (an edited greeting is rendered anew)."""
    return KEY_PREFIX + hashlib.sha256(greeting.encode()).hexdigest()[:40]


def own_greeting(persona: Persona, language: str) -> str:
    """The operator's own greeting for ``language`` ("" when none is set)."""
    return next((text for code, text in persona.own_greetings if code == language), "")


def prompt(persona: Persona, greeting: str, language: str) -> Prompt:
    """The one request of a rendering: the greeting, to be written again in ``language`` as the character
    would say it, its ``{{macros}}`` kept as they are."""
    lang = name(language) or language
    system = (f"You translate a role-play character's opening message into {lang}, as {persona.name} would "
              f"say it to a {lang} speaker: the same content, voice, tone, formatting and length, natural "
              f"{lang}. Keep every placeholder in double braces ({{{{user}}}}, {{{{char}}}} and the like) "
              "exactly as written. Answer with the message only.")
    return Prompt(system=[{"type": "text", "text": system}],
                  messages=[{"role": "user", "content": f"<greeting>\n{greeting}\n</greeting>"}],
                  parts=(("greeting", lang),))


def usable(text: str, original: str, language: str) -> str:
    """The rendering as it is kept, or "" when it is not one: empty, a placeholder lost, or (where its
    language tells) still in the greeting's own language (a close neighbour's guess, Portuguese read as
    Spanish, is no reason to ask again)."""
    text = text.strip().removeprefix("<greeting>").removesuffix("</greeting>").strip()
    if not text or len(text) > GREETING_MAX_CHARS * 2:
        return ""
    if sorted(_MACRO.findall(text)) != sorted(_MACRO.findall(original)):
        return ""  # {{user}} dropped or translated: the person would read the macro's words
    found = detect(_MACRO.sub(" ", text))
    return "" if found not in (None, language) and found == detect(_MACRO.sub(" ", original)) else text


class GreetingRenderings:
    """The process's renderings of greetings, by (greeting key, language): what is ready, what is being
    made (one call at a time for each; the first DMs waiting share it), what failed lately. ``model``: the
    reply model as configured now."""

    def __init__(self, rows: CardWordRows, claude: ClaudeClient, model: Callable[[], str],
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.rows = rows
        self.claude = claude
        self.model = model
        self.clock = clock
        self._ready: dict[tuple[str, str], str] = {}
        self._busy: dict[tuple[str, str], asyncio.Task[str]] = {}
        self._failed: dict[tuple[str, str], float] = {}

    async def render(self, persona: Persona, greeting: str, language: str, user_id: int) -> str:
        """``greeting`` in ``language`` ("" for none: it failed, now or lately)."""
        at = (greeting_key(greeting), language)
        if at in self._ready:
            return self._ready[at]
        failed = self._failed.get(at)
        if failed is not None and self.clock() - failed < RETRY_SECONDS:
            return ""
        task = self._busy.get(at)
        if task is None:
            task = self._busy[at] = asyncio.get_running_loop().create_task(
                self._make(persona, greeting, language, user_id), name=f"greeting {language}")
            task.add_done_callback(lambda _: self._busy.pop(at, None))
        return await asyncio.shield(task)  # a first DM cancelled leaves it made for the next

    async def _make(self, persona: Persona, greeting: str, language: str, user_id: int) -> str:
        at = (greeting_key(greeting), language)
        try:
            stored = await self.rows.get(at[0], language)
            text = usable(str(stored.get("greeting", "")), greeting, language) if stored else ""
            if not text:
                model = self.model()
                completion = await self.claude.complete(
                    prompt(persona, greeting, language), model=model, user_id=user_id, guild_id=None,
                    purpose=PURPOSE, max_tokens=MAX_TOKENS)
                text = usable(completion.text, greeting, language)
                if not text:
                    self.claude.tally.unparsed(PURPOSE, retried=False)
                    log.info("greeting in %s: the answer was no rendering of it", language)
                else:
                    await self.rows.put(at[0], language, {"greeting": text}, model)
        except Exception:  # a model or database outage: no greeting now, asked again later
            log.warning("greeting in %s not rendered", language, exc_info=True)
            text = ""
        if text:
            self._ready[at] = text
            self._failed.pop(at, None)
        else:
            self._failed[at] = self.clock()
        return text
