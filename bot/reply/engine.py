"""Where a message goes: admitted (logged, intercepted, gated: bot/reply/admission.py), decided
(bot/reply/deciding/__init__.py), its prompt composed (bot/reply/composing.py), generated and delivered
(bot/reply/delivery.py), then kept (bot/reply/keeping.py). The engine builds those stages for one
character, each given what the features add to it (bot/core/pipeline.py ``Features``, declared by the
composition root), and runs the answer through them; nothing calls back in here.

:class:`ReplyEngine` is plain Python: the Discord cog, the console and the tests all drive it the same
way, handing it an :class:`Incoming` message and an :class:`Outlet` to speak through.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time

from bot.core.character import CharacterSource
from bot.core.claude import ClaudeClient, Completion
from bot.core.config import EnsembleSettings, ReplySettings, Settings
from bot.core.config.holder import section_of
from bot.core.config.sections import TriageSettings
from bot.core.localtime import load_zone
from bot.core.models.base import Prompt
from bot.core.models.tools import without_footnotes
from bot.core.persona.model import Persona
from bot.core.persona.register import in_place
from bot.core.pipeline import NO_FEATURES, Features, Incoming, MemoryConsent, Outlet, OwnAccounts, ReplyResult
from bot.core.policy import ServerPolicies
from bot.reply.admission import Admission
from bot.reply.composing import Prefetched, PromptComposer
from bot.reply.deciding import (
    Addressee,
    Ballot,
    CharacterNames,
    Decider,
    FirstLook,
    IntentRouter,
    TurnTaking,
    Voting,
)
from bot.reply.delivery import Delivery, Finish, finish_text
from bot.reply.generation import Generation
from bot.reply.greetings import Greeter
from bot.reply.imagebudget import ImageBudget
from bot.reply.keeping import ExchangeKeeper
from bot.reply.looking import Lending, with_tools
from bot.reply.media import MediaLimits, image_bytes, read_media
from bot.reply.persona_runtime import PersonaRuntime
from bot.reply.throttle import BotThrottle
from database.store import Store

log = logging.getLogger(__name__)


class ReplyEngine:
    """One character's replies, through its stages (``admission``, ``decider``, ``composer``, delivery,
    ``keeper``). It takes the whole settings (the running bot's follow reloads): its stages read many
    sections (replies, models, media, secrets, triage, alive, and delivery's); its parts get their own
    sections from it (section_of)."""

    def __init__(self, settings: Settings, store: Store, claude: ClaudeClient, character: CharacterSource,
                 *, character_key: str | None = None, features: Features = NO_FEATURES,
                 accounts: OwnAccounts | None = None, addressee: Addressee | None = None,
                 intents: IntentRouter | None = None, policies: ServerPolicies | None = None,
                 ballot: Ballot | None = None, consent: MemoryConsent | None = None,
                 images: ImageBudget | None = None) -> None:
        """``features``: what the features add at each stage; ``accounts``: the character's own (the
        composition root's, filled at login); ``addressee`` and ``intents``: who the character is asked by,
        and what about, when others ask it too (the spending limits, memory's recall budget); ``consent``
        (memory/consent.py, one for the whole bot): when it says no, the exchange is answered but not
        stored (None, a bot without memory: every exchange is stored); ``images``: the process's budget of
        image bytes in flight (the main character's, shared by the others; None: a new one)."""
        self.settings = settings
        self.store = store
        self.claude = claude
        self.character = character
        self._character_key = key = character_key or settings.character_name_slug
        replies = section_of(settings, ReplySettings)  # of the running settings: follows reloads
        self.throttle = BotThrottle(replies)
        self.addressee = addressee or Addressee(CharacterNames(character.current, set()))
        self.names = self.addressee.names
        # What the features add at each stage, declared once by the composition root, in order.
        self.features = features
        # Lorebook, framework blend, evolution: every character's engine has them (they cost nothing
        # when unused).
        self.persona_runtime = PersonaRuntime(store.characters, key, character.current,
                                              load_zone(settings.alive.timezone))  # a restart key
        # Our own account and webhooks: never another character (bot/reply/deciding/turns.py).
        self.own_author_ids = accounts if accounts is not None else OwnAccounts()
        self.turns = TurnTaking(store.log, section_of(settings, EnsembleSettings), self.names,
                                self.own_author_ids)
        # Messages marked as owed a reply (database/owed.py) and not yet answered, by this process.
        self.owed: set[int] = set()
        self.images = images or ImageBudget(settings.media.image_bytes_in_flight)
        # Fewer votes (bot/reply/deciding/triage.py) and the model/recall budget by what a message is about
        # (bot/reply/deciding/intent.py).
        triage = section_of(settings, TriageSettings)  # read at each message: a reload applies
        self.intents = intents or IntentRouter(triage)
        # Each server's effective settings, resolved once per change (the bot's one, shared by its engines).
        self.policies = policies or ServerPolicies(settings, store.servers)
        # Vote rounds (bot/reply/deciding/voting.py): the ballot is the process's, shared by an ensemble's
        # engines.
        # Which unaddressed messages deserve a vote at all, and each channel's vote window by its pace.
        first_look = FirstLook(triage, character.current)
        self.voting = Voting(ballot or Ballot(claude, settings), store.log, replies, triage,
                             character.current, self.own_author_ids, self.policies.of, first_look.window)
        greeter = Greeter(replies, store.state, key, self.own_author_ids,
                          functools.partial(finish_text, features.reply_filters), self.names,
                          self.persona_runtime.zone)
        # The stages, in order.
        self.composer = PromptComposer(store, settings, key, greeter, self.persona_runtime,
                                       self.own_author_ids, features.prompt_parts, self.intents,
                                       self.addressee.names_me)
        self.admission = Admission(store, settings, key, self.addressee, self.throttle, self.turns,
                                   self.policies, self.composer, features, self.owed)
        self.decider = Decider(self.addressee, self.throttle, self.turns, triage, self.voting, self.policies,
                               self.intents, self.own_author_ids, features.decision_observers, first_look)
        self.keeper = ExchangeKeeper(store, key, self.owed,
                                     (self.persona_runtime.on_turn, *features.turn_observers), consent)
        self.consent = consent

    @property
    def persona(self) -> Persona:
        return self.character.current()

    @property
    def character_key(self) -> str:
        """The name conversations and memories are filed under (stable across display-name edits)."""
        return self._character_key

    def reply_certain(self, msg: Incoming) -> bool:
        """Whether the decision will answer without asking anyone (a person's DM, @mention, reply or our
        name)."""
        return self.addressee.reply_certain(msg)

    async def respond(self, msg: Incoming, outlet: Outlet, *, see_later: bool = False,
                      prefetched: Prefetched | None = None) -> ReplyResult:
        """Answer ``msg``; ``see_later`` shows the messages posted since (e.g. the answers of characters
        that spoke first) after it in the prompt."""
        async with self.keeper.locks((msg.author_id, msg.scope)):  # one reply at a time per conversation
            # keeps the history in order
            return await self._respond(msg, outlet, see_later, prefetched)

    async def _respond(self, msg: Incoming, outlet: Outlet, see_later: bool = False,
                       prefetched: Prefetched | None = None) -> ReplyResult:
        # a mature character as it plays here: its full register only in an age-restricted place
        persona = in_place(self.persona, msg.age_restricted)
        composer, keeper = self.composer, self.keeper
        started = time.monotonic()
        mark = self.store.privacy.mark_of(msg.message_id)
        data = await composer.prompt_data(msg, prefetched)
        if (opening := await composer.greeter.open(persona, data, msg, outlet)) and opening.whole:
            return await keeper.keep_greeting(msg, opening, mark)  # a first DM saying hello: no model call
        prompt, premium = await composer.build_prompt(msg, persona, see_later=see_later, data=data,
                                                      opening=opening)
        limits = MediaLimits.of(self.settings.media)
        # The pictures' bytes are held from their download to the end of the call: while others' replies
        # hold the process's budget, this one waits its turn here.
        lease = await self.images.take(image_bytes(msg.carried, limits))
        try:
            lines = (self.settings.media.unreadable_attachment_line, persona.name,
                     self.settings.media.attachments_left_out_line)
            label = f"reply to message {msg.message_id}"
            # The request and what its text goes through, as values: delivery runs the call (typing starts
            # with the request, not before the prompt is read: it overlaps the generation, what the person
            # waits for) and calls nothing back here. The call's usage row is stored as soon as the call
            # ends, before the typing delay and the post: the spending limits see it at once
            # (bot/operator/limits.py).
            lent = [tool for lender in self.features.tools for tool in await lender(msg)]
            tools = Lending(lent, msg, prompt).toolbox(self.settings.lookup.tool_rounds)
            if tools is not None:
                prompt = with_tools(prompt, tools.declared, tools.voice)
            # the media is the generation's alone (no name here), so it lets the pictures go after its call
            generation = Generation(self.claude, prompt, await read_media(msg.carried, msg.fetch, limits),
                                    composer.model_call(msg, persona, premium), lines, label, log,
                                    tools=tools, lease=lease)
            delivery = Delivery(self.settings, outlet, generation, Finish(msg, self.features.reply_filters),
                                self.fallback_text(persona), started, label, log,
                                progress=keeper.progress(msg) if msg.message_id in self.owed else None)
            delivered = await delivery.run()
        finally:
            lease.release()  # the generation's call gave it back already, unless it never ran
        # Posted: no longer owed (a crash before the clearing is answered at start-up, where the reply is
        # found posted). The clearing waits for the log's next batch; the exchange is stored meanwhile, so
        # the person's next message, coming sooner than that batch, reads a history that holds it.
        settling = asyncio.create_task(keeper.settle(msg))
        try:
            # the history keeps the words, not the line of sources (the model would copy it without searching)
            return await keeper.keep(msg, without_footnotes(delivered.text), delivered.parts, delivered.ids,
                                     delivered.ok, delivered.completion, mark,
                                     greeting=opening and opening.stored)
        finally:
            await settling

    async def generate(self, msg: Incoming, persona: Persona, *, ooc_context: str = "",
                       replace_last_reply: bool = False, see_later: bool = False) -> Completion:
        prompt, premium = await self.composer.build_prompt(msg, persona, ooc_context=ooc_context,
                                                  replace_last_reply=replace_last_reply, see_later=see_later)
        return await self.complete(msg, persona, prompt, premium)

    async def complete(self, msg: Incoming, persona: Persona, prompt: Prompt, premium: bool) -> Completion:
        """Ask Claude for the reply to ``msg`` with a built prompt, unstreamed (a draft, not a delivery)."""
        return await self.composer.model_call(msg, persona, premium).ask(self.claude, prompt)

    def finish_text(self, msg: Incoming, text: str) -> str:
        """The text as it goes to Discord (reply filters applied; a failing filter is skipped)."""
        return finish_text(self.features.reply_filters, msg, text)

    def fallback_text(self, persona: Persona) -> str:
        return self.settings.replies.fallback_reply.replace("{name}", persona.name)

