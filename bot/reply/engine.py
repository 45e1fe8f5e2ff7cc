"""Where a message goes: log it, decide whether to answer, build the prompt and the model call, then hand
them to delivery (bot/reply/delivery.py), which generates and sends; nothing calls back in here.

:class:`ReplyEngine` is plain Python: the Discord cog, the console and the tests all drive it the same
way, handing it an :class:`Incoming` message and an :class:`Outlet` to speak through.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass

from bot.core.character import CharacterSource
from bot.core.claude import SPEND_GUILD, ClaudeClient, Completion
from bot.core.config import EnsembleSettings, ReplySettings, Settings
from bot.core.config.holder import section_of
from bot.core.config.sections import TriageSettings
from bot.core.keyed import KeyedLocks
from bot.core.localtime import load_zone
from bot.core.models.base import Prompt
from bot.core.persona.model import Persona
from bot.core.pipeline import (
    NO_FEATURES,
    Decision,
    Features,
    Gate,
    Incoming,
    MemoryConsent,
    Outlet,
    OwnAccounts,
    ReplyResult,
    TurnListener,
)
from bot.core.policy import ServerPolicies, ServerPolicy
from bot.reply.addressing import Addressee, CharacterNames
from bot.reply.delivery import Delivery, Finish, finish_text
from bot.reply.generation import Generation, ModelCall
from bot.reply.greetings import Greeter, Opening
from bot.reply.intent import IntentRouter
from bot.reply.keeping import ExchangeKeeping, _safely
from bot.reply.media import MediaLimits, read_media
from bot.reply.persona_runtime import PersonaRuntime
from bot.reply.pins import NotePins
from bot.reply.prompting import ReplyExtras, build_reply_prompt
from bot.reply.throttle import BotThrottle
from bot.reply.transcript import TranscriptWindows, fetch_limit
from bot.reply.triage import parse_prefixes, skip_reason
from bot.reply.turns import TurnTaking
from bot.reply.voting import Ballot, Voting
from database.records import PromptData, PromptRequest, SeenMessage
from database.store import Store

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Prefetched:
    """Prompt data read in the same database trip as the message's log write; good while the store's
    history stamp for the conversation is unchanged (its history has not changed since it was read)."""

    data: PromptData
    stamp: tuple[int, int]


class ReplyEngine(ExchangeKeeping):
    """One character's replies. It takes the whole settings (the running bot's follow reloads): it reads
    many sections (replies, models, media, secrets, triage, alive, and delivery's), and the features built
    on it read theirs through ``engine.settings``; its parts get their own sections from it (section_of)."""

    def __init__(self, settings: Settings, store: Store, claude: ClaudeClient, character: CharacterSource,
                 *, character_key: str | None = None, features: Features = NO_FEATURES,
                 accounts: OwnAccounts | None = None, addressee: Addressee | None = None,
                 intents: IntentRouter | None = None, policies: ServerPolicies | None = None,
                 ballot: Ballot | None = None,
                 consent: MemoryConsent | None = None) -> None:
        """``features``: what the features add at each stage; ``accounts``: the character's own (the
        composition root's, filled at login); ``addressee`` and ``intents``: who the character is asked by,
        and what about, when others ask it too (the spending limits, memory's recall budget)."""
        self.settings = settings
        self.store = store
        self.claude = claude
        self.character = character
        self._character_key = character_key or settings.character_name_slug
        replies = section_of(settings, ReplySettings)  # following reloads as the running settings do
        self.throttle = BotThrottle(replies)
        self.addressee = addressee or Addressee(CharacterNames(character.current, set()))
        self.names = self.addressee.names
        # What the features add at each stage (access and spending gates, prompt parts, reply filters,
        # observers), declared once by the composition root (bot/runtime/composition.py), in order.
        self.features = features
        self.gates: tuple[Gate, ...] = features.gates
        # Lorebook, framework blend, evolution: every character's engine has them (they cost nothing
        # when unused).
        self.persona_runtime = PersonaRuntime(store.characters, self._character_key, character.current,
                                              load_zone(settings.alive.timezone))  # a restart key
        self.keepers: tuple[TurnListener, ...] = (self.persona_runtime.on_turn, *features.turn_observers)
        # Consent (memory/consent.py), one for the whole bot: when it says no, the exchange is answered but
        # not stored in the history. None (a bot without memory): every exchange is stored.
        self.consent: MemoryConsent | None = consent
        self._locks: KeyedLocks[tuple[int, str]] = KeyedLocks()  # per conversation, only while in use
        # Our own account and webhooks: never another character (bot/reply/turns.py).
        self.own_author_ids = accounts if accounts is not None else OwnAccounts()
        self.turns = TurnTaking(store.log, section_of(settings, EnsembleSettings), self.names,
                                self.own_author_ids)
        self.transcripts = TranscriptWindows()  # where each channel's cached transcript starts
        self.note_pins = NotePins()  # where each DM's feelings and style notes sit in its history
        # Messages marked as owed a reply (database/owed.py) and not yet answered, by this process.
        self.owed: set[int] = set()
        # Fewer votes (bot/reply/triage.py) and the model/recall budget by what a message is about
        # (bot/reply/intent.py).
        self.triage = section_of(settings, TriageSettings)  # read at each message: a reload applies
        # Vote rounds (bot/reply/voting.py): the ballot is the process's, shared by an ensemble's engines.
        self.voting = Voting(ballot or Ballot(claude, settings), store.log, replies, self.triage,
                             character.current, self.own_author_ids, self.server_policy)
        self.intents = intents or IntentRouter(self.triage)
        self.greeter = Greeter(replies, store.state, self._character_key, self.own_author_ids,
                               functools.partial(finish_text, features.reply_filters), self.names,
                               self.persona_runtime.zone)
        # Each server's effective settings, resolved once per change (the bot's one, shared by its engines).
        self.policies = policies or ServerPolicies(settings, store.servers)

    @property
    def bot_prefixes(self) -> tuple[str, ...]:
        """Other bots' command prefixes as configured now (parsed once per value)."""
        return parse_prefixes(self.triage.other_bot_prefixes)

    @property
    def persona(self) -> Persona:
        return self.character.current()

    @property
    def character_key(self) -> str:
        """The name conversations and memories are filed under (stable across display-name edits)."""
        return self._character_key

    # -- 1. observe

    async def observe(self, msg: Incoming) -> bool:
        """Write the message to the short-term log before anything else. Returns whether the place is
        active."""
        active, _ = await self._observe(msg, prefetch=False)
        return active

    async def _observe(self, msg: Incoming, *, prefetch: bool) -> tuple[bool, Prefetched | None]:
        """observe(); with ``prefetch``, a message that will certainly be answered also has its prompt data
        read in the same trip to the database as its log write."""
        # Its privacy mark, taken when first seen: an exchange whose author ran /forget_me since is not
        # stored (database/privacy.py). Kept by the store: every character of a cast answers by the same.
        self.store.privacy.seen(msg.message_id)
        active = msg.is_dm or await self.store.places.is_active(msg.channel_id, msg.guild_id)
        prefetched: Prefetched | None = None
        if (active or self.settings.replies.log_inactive_channels) and not await self.log_channel(msg):
            request = self.prompt_request(msg) if active and prefetch and self.reply_certain(msg) else None
            stamp = self.store.conversations.history_stamp(self.character_key, msg.author_id, msg.scope)
            # A reply certain now is owed from this very write: a crash from here on cannot lose it.
            owed_by = self.character_key if request is not None else None
            with self._claiming(msg, owed=owed_by is not None):
                data = await self.store.log.log_message(_seen(msg), then_read=request, owed_by=owed_by)
            prefetched = Prefetched(data, stamp) if data is not None else None
        if not msg.author_is_bot and not msg.is_dm:
            self.throttle.human_spoke(msg.channel_id)
        self.turns.observed(msg)
        return active, prefetched

    async def log_first(self, msg: Incoming) -> None:
        """Write ``msg`` to the log now, its reply marked owed when certain, before slow work on it (a voice
        message's download and transcription): a crash during that work loses neither. The sequence's own
        log write later finds it there (the log ignores a message it has)."""
        active = msg.is_dm or await self.store.places.is_active(msg.channel_id, msg.guild_id)
        if not (active or self.settings.replies.log_inactive_channels) or await self.log_channel(msg):
            return
        owed_by = self.character_key if active and self.reply_certain(msg) else None
        with self._claiming(msg, owed=owed_by is not None):
            await self.store.log.log_message(_seen(msg), owed_by=owed_by)

    @contextlib.contextmanager
    def _claiming(self, msg: Incoming, *, owed: bool) -> Iterator[None]:
        """Around a write that marks ``msg``'s reply owed: this process claims the mark before the write.
        From the moment the mark is in the database, the start-up recovery (bot/reply/recovery.py), reading
        the marks at the same time, must see it is being answered here. Released if the write fails (a mark
        claimed earlier, by log_first, stays claimed)."""
        claimed = owed and msg.message_id not in self.owed
        if claimed:
            self.owed.add(msg.message_id)
        try:
            yield
        except BaseException:
            if claimed:
                self.owed.discard(msg.message_id)
            raise

    async def log_channel(self, msg: Incoming) -> bool:
        """Whether ``msg`` is in a log channel (the admins' or a server's): not conversation, and never
        logged as such; its notices and the verbose mirror quote people (issue 49). No database trip: the
        server's settings are cached."""
        if msg.is_dm:
            return False
        if msg.channel_id == self.settings.secrets.log_channel:
            return True
        policy = await self.server_policy(msg.guild_id)
        return policy is not None and policy.log_channel_id == msg.channel_id

    async def relog(self, msg: Incoming, content: str) -> None:
        """The logged text of ``msg`` replaced (a voice message logged before it was heard, now heard)."""
        await self.store.log.set_content(msg.message_id, content)

    def reply_certain(self, msg: Incoming) -> bool:
        """Whether decide() will answer without asking anyone (a person's DM, @mention, reply or our name)."""
        return self.addressee.reply_certain(msg)

    def prompt_request(self, msg: Incoming) -> PromptRequest:
        """What build_prompt() reads for a reply to ``msg``."""
        return PromptRequest(self.character_key, msg.author_id, msg.scope, msg.channel_id,
                             0 if msg.is_dm else fetch_limit(self.settings.replies.recent_channel_messages),
                             msg.message_id,
                             msg.is_dm, None if msg.is_dm else msg.guild_id)

    # -- 2. decide

    def recall_budget(self, msg: Incoming, default: int) -> int:
        """Tokens of remembered facts for a reply to ``msg``: more for a question about the past."""
        return self.intents.recall_budget(msg, default)

    def name_mentioned(self, text: str) -> bool:
        return self.names.matcher()(text)

    def _names_me(self, msg: Incoming) -> bool:
        return self.addressee.names_me(msg)

    async def decide(self, msg: Incoming) -> Decision:
        decision = await self._decide(msg)
        if decision.reply:  # the intent is logged with the decision
            decision = dataclasses.replace(decision, intent=self.intents.route(msg).intent.value)
        return decision

    async def _decide(self, msg: Incoming) -> Decision:
        if msg.author_is_bot:
            blocked = self.throttle.blocked(msg.channel_id, msg.author_id)
            if blocked:
                return Decision(False, blocked)
        if msg.is_dm:
            return Decision(True, "direct message")
        if msg.mentions_bot:
            return Decision(True, "mentioned", after=self.turns.characters_before_me(msg))
        if msg.replies_to_bot:
            return Decision(True, "reply to one of my messages")
        if self._names_me(msg):
            return Decision(True, "name mentioned", after=self.turns.characters_before_me(msg))
        if not msg.content.strip():
            return Decision(False, "empty message")
        # Name match first: a message naming another character (and not us) is theirs, no vote needed.
        if self.turns.has_peers(msg.channel_id):
            others = [c for c in self.turns.addressed_characters(msg) if c]
            if others:
                return Decision(False, "addressed to " + ", ".join(others))
        skip = skip_reason(msg, prefixes=self.bot_prefixes, own_ids=self.own_author_ids)
        if skip is not None:
            return Decision(False, skip)
        policy = await self.server_policy(msg.guild_id)
        if policy is not None and not policy.votes:
            return Decision(False, "this server's reply mode is addressed only")
        return await self.voting.submit(msg)  # one vote round per burst of the channel

    async def server_policy(self, guild_id: int | None) -> ServerPolicy | None:
        """A server's own settings over the global ones (/settings); None in DMs. Cached by the store."""
        return await self.policies.of(guild_id)

    async def admit(self, msg: Incoming) -> bool:
        """Log the message, let interceptors consume it; True when reply work may follow."""
        admitted, _ = await self._admit(msg, prefetch=False)
        return admitted

    async def admit_prefetching(self, msg: Incoming) -> tuple[bool, Prefetched | None]:
        """:meth:`admit`; a message certain to be answered also has its prompt data read (and its reply marked
        owed) in the same trip to the database as its log write."""
        return await self._admit(msg, prefetch=True)

    async def _admit(self, msg: Incoming, *, prefetch: bool) -> tuple[bool, Prefetched | None]:
        active, prefetched = await self._observe(msg, prefetch=prefetch)  # logged first, whoever consumes it
        for interceptor in self.features.interceptors:  # consulted even where the bot is inactive
            try:
                if await interceptor(msg):
                    return False, None
            except Exception:
                log.exception("message interceptor failed on message %s", msg.message_id)
        return active, prefetched

    async def gate(self, msg: Incoming, outlet: Outlet) -> Decision | None:
        """The first gate that stops ``msg`` says why (None: reply work may follow). Every model call made
        for the message from here on is charged to its server."""
        SPEND_GUILD.set(msg.guild_id)
        for gate in self.gates:
            stop = await gate(msg, outlet)
            if stop is not None:
                return stop
        return None

    async def announce_decision(self, msg: Incoming, decision: Decision) -> None:
        if log.isEnabledFor(logging.INFO):  # describe() formats: not for every message of a busy server
            log.info("message %s from %s in %s: %s", msg.message_id, msg.author_name, msg.scope,
                     decision.describe())
        for listener in self.features.decision_observers:
            await _safely(listener(msg, decision))

    # -- 3. respond (bot/reply/sequence.py runs the steps in order, for one character or several)

    async def owe(self, msg: Incoming) -> None:
        """Mark the reply to ``msg`` owed, unless its log write did (a reply decided by a vote, or by the
        cast of several characters): from now on a crash cannot lose it."""
        if msg.message_id not in self.owed:
            with self._claiming(msg, owed=True):
                await self.store.owed.mark(self.character_key, msg.message_id, msg.channel_id)

    async def respond(self, msg: Incoming, outlet: Outlet, *, see_later: bool = False,
                      prefetched: Prefetched | None = None) -> ReplyResult:
        """Answer ``msg``; ``see_later`` shows the messages posted since (e.g. the answers of characters
        that spoke first) after it in the prompt."""
        async with self._locks((msg.author_id, msg.scope)):  # one reply at a time per conversation keeps the
            # history in order
            return await self._respond(msg, outlet, see_later, prefetched)

    async def _respond(self, msg: Incoming, outlet: Outlet, see_later: bool = False,
                       prefetched: Prefetched | None = None) -> ReplyResult:
        persona = self.persona
        started = time.monotonic()
        mark = self.store.privacy.mark_of(msg.message_id)
        # Read with the log write, unless a history has changed since. When the only change is an exchange
        # stored in this conversation (the reply to an earlier message of it, as on a busy server where
        # replies queue up), the person and the conversation are read again and the channel's lines before
        # the message kept; any other change (a /forget_me, a summary) reads everything again.
        data = None
        if prefetched is not None:
            changes, appends = self.store.conversations.history_stamp(self.character_key, msg.author_id,
                                                                      msg.scope)
            if (changes, appends) == prefetched.stamp:
                data = prefetched.data
            elif changes == prefetched.stamp[0]:
                data = await self.store.conversations.prompt_data_again(prefetched.data,
                                                                        self.prompt_request(msg))
        data = data or await self.read_prompt_data(msg)
        if (opening := await self.greeter.open(persona, data, msg, outlet)) and opening.whole:
            return await self._keep_greeting(msg, opening, mark)  # a first DM saying hello: no model call
        prompt, premium = await self.build_prompt(msg, persona, see_later=see_later, data=data,
                                                  opening=opening)
        media = await read_media(msg.carried, msg.fetch, MediaLimits.of(self.settings.media))  # images, files
        lines = (self.settings.media.unreadable_attachment_line, persona.name,
                 self.settings.media.attachments_left_out_line)
        label = f"reply to message {msg.message_id}"
        # The request and what its text goes through, as values: delivery runs the call (typing starts with
        # the request, not before the prompt is read: it overlaps the generation, what the person waits for)
        # and calls nothing back here. The call's usage row is stored as soon as the call ends, before the
        # typing delay and the post: the spending limits see it at once (bot/operator/limits.py).
        generation = Generation(self.claude, prompt, media, self.model_call(msg, persona, premium), lines,
                                label, log)
        delivery = Delivery(self.settings, outlet, generation, Finish(msg, self.features.reply_filters),
                            self.fallback_text(persona), started, label, log,
                            progress=self._progress(msg) if msg.message_id in self.owed else None)
        delivered = await delivery.run()
        await self.settle(msg)  # posted: no longer owed (a crash before this is answered at start-up)
        return await self._keep(msg, delivered.text, delivered.parts, delivered.ids, delivered.ok,
                                delivered.completion, mark, greeting=opening and opening.stored)

    async def read_prompt_data(self, msg: Incoming) -> PromptData:
        r = self.prompt_request(msg)
        return await self.store.conversations.prompt_data(*dataclasses.astuple(r)[:4], private=r.private,
                                                          recent_limit=r.recent_limit, before_id=r.before_id)

    async def build_prompt(self, msg: Incoming, persona: Persona, *, ooc_context: str = "",
                           replace_last_reply: bool = False, see_later: bool = False,
                           data: PromptData | None = None,
                           opening: Opening | None = None) -> tuple[Prompt, bool]:
        """The reply prompt for ``msg`` and whether its author is premium; ``data``: its prompt data if
        already read (see prompt_request); ``opening``: the greeting this reply posted first, if any."""
        data = data or await self.read_prompt_data(msg)
        greeting = opening.text if opening is not None else await self.greeter.shown(data, msg)
        later: list[SeenMessage] = []
        if see_later and not msg.is_dm:
            later = [m for m in await self.store.log.recent_messages(msg.channel_id, limit=10)
                     if m.message_id > msg.message_id]
        prompt = build_reply_prompt(persona, data, msg, extras=await self.extras(persona, msg, data),
                                    moment=self.persona_runtime.moment(msg, data),
                                    greeting=greeting, ooc_context=ooc_context,
                                    replace_last_reply=replace_last_reply,
                                    since=later, own_ids=self.own_author_ids, pins=self.note_pins,
                                    transcript=None if msg.is_dm else self.transcripts.window(
                                        msg.channel_id, data.recent,
                                        self.settings.replies.recent_channel_messages))
        return prompt, data.premium

    async def extras(self, persona: Persona, msg: Incoming, data: PromptData) -> ReplyExtras:
        """What the features supply to the reply to ``msg``, as data for the layout: each prompt part fills
        its slot (an instruction adds a line), in the order the composition root gave them."""
        runtime = self.persona_runtime
        instructions = runtime.instructions(persona, msg, data)
        slots: dict[str, str] = {}
        for part in self.features.prompt_parts:
            text = await part.supply(persona, msg, data)
            if not text:
                continue
            if part.slot == "instructions":
                instructions.append(text)
            else:
                slots[part.slot] = f"{slots[part.slot]}\n\n{text}" if part.slot in slots else text
        return ReplyExtras(
            **await runtime.lore_extras(persona, msg, data),  # the world, and the lore by its places
            recall=slots.get("recall", ""), feelings=slots.get("feelings", ""), style=slots.get("style", ""),
            emotes=slots.get("emotes", ""),
            macro_note=runtime.macro_note(persona, msg, runtime.moment(msg, data)),
            instructions=instructions)

    async def generate(self, msg: Incoming, persona: Persona, *, ooc_context: str = "",
                       replace_last_reply: bool = False, see_later: bool = False) -> Completion:
        prompt, premium = await self.build_prompt(msg, persona, ooc_context=ooc_context,
                                                  replace_last_reply=replace_last_reply, see_later=see_later)
        return await self.complete(msg, persona, prompt, premium)

    async def complete(self, msg: Incoming, persona: Persona, prompt: Prompt, premium: bool) -> Completion:
        """Ask Claude for the reply to ``msg`` with a built prompt, unstreamed (a draft, not a delivery)."""
        return await self.model_call(msg, persona, premium).ask(self.claude, prompt)

    def model_call(self, msg: Incoming, persona: Persona, premium: bool) -> ModelCall:
        """How the reply to ``msg`` is asked: premium users keep their model; others get the one of the
        message's intent (code, image). The effort goes by tier, not by model: a premium model that is also
        the default stays at reply_effort."""
        models = self.settings.models
        model = models.premium_model if premium else self.intents.model_for(msg, models.default_model)
        return ModelCall(model, msg.author_id, persona.max_tokens, persona.temperature,
                         models.premium_reply_effort if premium else models.reply_effort)

    def finish_text(self, msg: Incoming, text: str) -> str:
        """The text as it goes to Discord (reply filters applied; a failing filter is skipped)."""
        return finish_text(self.features.reply_filters, msg, text)

    def fallback_text(self, persona: Persona) -> str:
        return self.settings.replies.fallback_reply.replace("{name}", persona.name)


def _seen(msg: Incoming) -> SeenMessage:
    return SeenMessage(msg.message_id, msg.channel_id, msg.guild_id, msg.author_id, msg.author_name,
                       msg.author_is_bot, msg.is_dm, msg.said, msg.created_at, msg.reply_to_id, msg.private)
