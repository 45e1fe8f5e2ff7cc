"""One character's answer, the last step of the reply sequence (bot/reply/pipeline.py's "answer in turn"):
its prompt composed (bot/reply/composing.py), generated and delivered (bot/reply/delivery.py), then kept
(bot/reply/keeping.py). The sequence calls ``respond``; nothing calls back in here.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time

from bot.core.character import CharacterSource
from bot.core.claude import ClaudeClient, Completion
from bot.core.config import ReplySettings, Settings
from bot.core.config.messages import MediaSettings
from bot.core.i18n import language_of, language_written, own_line
from bot.core.models.base import Prompt
from bot.core.models.tools import without_footnotes
from bot.core.persona.model import Persona
from bot.core.persona.register import in_place
from bot.core.stages import Features, Incoming, Outlet, ReplyResult
from bot.reply.composing import Prefetched, PromptComposer
from bot.reply.delivery import Delivery, Finish, finish_text
from bot.reply.generation import Generation, Lending, Toolbox, with_tools
from bot.reply.imagebudget import ImageBudget
from bot.reply.keeping import ExchangeKeeper
from bot.reply.media import MediaLimits, image_bytes, read_media
from bot.reply.owed import OwedMarks
from database.privacy import Privacy

log = logging.getLogger(__name__)


class ReplyWriter:
    """One character's answers: the prompt composed, generated, delivered and kept. It takes the whole
    settings (the running bot's follow reloads) for delivery, which reads three sections of them, and the
    media section."""

    def __init__(self, settings: Settings, claude: ClaudeClient, character: CharacterSource,
                 composer: PromptComposer, keeper: ExchangeKeeper, owed: OwedMarks, privacy: Privacy,
                 images: ImageBudget, features: Features) -> None:
        """``owed``: the character's owed replies (a reply of several parts records its progress in its
        mark); ``images``: the process's budget of image bytes in flight; ``features``: the reply filters and
        tool lenders the composition root declared."""
        self._settings = settings
        self._claude = claude
        self._character = character
        self._composer = composer
        self._keeper = keeper
        self._owed = owed
        self._privacy = privacy
        self._images = images
        self._features = features

    async def respond(self, msg: Incoming, outlet: Outlet, *, see_later: bool = False,
                      prefetched: Prefetched | None = None) -> ReplyResult:
        """Answer ``msg``; ``see_later`` shows the messages posted since (e.g. the answers of characters
        that spoke first) after it in the prompt."""
        async with self._keeper.locks((msg.author_id, msg.scope)):  # one reply at a time per conversation
            # keeps the history in order
            return await self._respond(msg, outlet, see_later, prefetched)

    async def _respond(self, msg: Incoming, outlet: Outlet, see_later: bool = False,
                       prefetched: Prefetched | None = None) -> ReplyResult:
        # a mature character as it plays here: its full register only in an age-restricted place
        persona = in_place(self._character.current(), msg.age_restricted)
        composer, keeper = self._composer, self._keeper
        started = time.monotonic()
        mark = self._privacy.mark_of(msg.message_id)
        data = await composer.prompt_data(msg, prefetched)
        if (opening := await composer.greeter.open(persona, data, msg, outlet)) and opening.whole:
            return await keeper.keep_greeting(msg, opening, mark)  # a first DM saying hello: no model call
        prompt, premium = await composer.build_prompt(msg, persona, see_later=see_later, data=data,
                                                      opening=opening)
        # A message with files: the pictures' bytes are held from their download to the end of the call
        # (while others' replies hold the process's budget, this one waits its turn here). One without
        # any has no media to read and holds nothing.
        limits = MediaLimits.of(self._settings.media) if msg.carried.attachments else None
        lease = await self._images.take(image_bytes(msg.carried, limits)) if limits is not None else None
        # Kindred's own lines (the fallback, the files') in the language of the message, else the person's:
        # guessed only when one of them is said, which most replies never do.
        @functools.cache
        def language() -> str | None:
            return language_of(msg.content) or language_written(data.style_profile)

        try:
            lines = self._media_lines(persona, language()) if limits is not None else ()
            label = f"reply to message {msg.message_id}"
            # The request and what its text goes through, as values: delivery runs the call (typing starts
            # with the request, not before the prompt is read: it overlaps the generation, what the person
            # waits for) and calls nothing back here. The call's usage row is stored as soon as the call
            # ends, before the typing delay and the post: the spending limits see it at once
            # (bot/operator/limits.py).
            prompt, tools = await self._tooled(msg, prompt)
            # the media is the generation's alone (no name here), so it lets the pictures go after its call
            media = await read_media(msg.carried, msg.fetch, limits) if limits is not None else None
            generation = Generation(self._claude, prompt, media, composer.model_call(msg, persona, premium),
                                    lines, label, log, tools=tools, lease=lease, language=language)
            delivery = Delivery(self._settings, outlet, generation, Finish(msg, self._features.reply_filters),
                                lambda: self.fallback_text(persona, language()), started, label, log,
                                progress=keeper.progress(msg) if self._owed.is_owed(msg.message_id) else None)
            delivered = await delivery.run()
        finally:
            if lease is not None:
                lease.release()  # the generation's call gave it back already, unless it never ran
        # Posted: no longer owed (a crash before the clearing is answered at start-up, where the reply is
        # found posted). The clearing waits for the log's next batch; the exchange is stored meanwhile, so
        # the person's next message, coming sooner than that batch, reads a history that holds it.
        settling = asyncio.create_task(keeper.settle(msg))
        try:
            # the history keeps the words, not the line of sources (the model would copy it without searching)
            return await keeper.keep(msg, without_footnotes(delivered.text), delivered.parts, delivered.ids,
                                     delivered.ok, delivered.completion, mark,
                                     greeting=opening and opening.stored,
                                     felt=generation.felt if delivered.ok else None)
        finally:
            await settling

    async def _tooled(self, msg: Incoming, prompt: Prompt) -> tuple[Prompt, Toolbox | None]:
        """``prompt`` with the tools the features lend the reply to ``msg`` (declared first in its cached
        prefix, their sentence ending its system prompt), and the toolbox that runs them (None: none)."""
        lent = [tool for lender in self._features.tools for tool in await lender(msg)]
        tools = Lending(lent, msg, prompt).toolbox(self._settings.models.tool_rounds)
        if tools is not None:
            prompt = with_tools(prompt, tools.declared, tools.voice)
        return prompt, tools

    async def generate(self, msg: Incoming, persona: Persona, *, ooc_context: str = "",
                       replace_last_reply: bool = False, see_later: bool = False) -> Completion:
        """Another answer to ``msg`` (a reroll), unstreamed and not delivered: the same request
        as the reply it stands beside, built the same way (its tools and their sentence too), so it reads
        that reply's cached prefix and may do what the reply could (set a reminder, search)."""
        persona = in_place(persona, msg.age_restricted)  # as it plays where the message was (a reroll too)
        composer = self._composer
        prompt, premium = await composer.build_prompt(msg, persona, ooc_context=ooc_context,
                                                      replace_last_reply=replace_last_reply,
                                                      see_later=see_later)
        prompt, tools = await self._tooled(msg, prompt)
        generation = Generation(self._claude, prompt, None, composer.model_call(msg, persona, premium), (),
                                f"new answer to message {msg.message_id}", log, tools=tools,
                                language=lambda: language_of(msg.content))
        return await generation.write(streamed=False)

    def finish_text(self, msg: Incoming, text: str) -> str:
        """The text as it goes to Discord (reply filters applied; a failing filter is skipped)."""
        return finish_text(self._features.reply_filters, msg, text)

    def fallback_text(self, persona: Persona, language: str | None = None) -> str:
        """The line said when the model fails, in ``language`` unless the operator wrote their own."""
        return own_line(language, self._settings.replies.fallback_reply, ReplySettings.fallback_reply,
                        name=persona.name)

    def _media_lines(self, persona: Persona, language: str | None) -> tuple[str, str, str, str]:
        """The lines about files not looked at (their placeholders left for the media's notice), the name,
        and the language they are in (the files listed as it lists things)."""
        media = self._settings.media
        unreadable = own_line(language, media.unreadable_attachment_line,
                              MediaSettings.unreadable_attachment_line)
        return (unreadable, persona.name,
                own_line(language, media.attachments_left_out_line, MediaSettings.attachments_left_out_line),
                language or "")

    async def resume(self, msg: Incoming, outlet: Outlet, parts: list[str], delivered: int) -> ReplyResult:
        """The parts of a reply a crash cut short, from the first not posted (bot/reply/keeping.py)."""
        return await self._keeper.resume(msg, outlet, parts, delivered)
