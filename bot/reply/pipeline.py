"""One character's replies, every way in: a live message (through the reply sequence,
bot/reply/sequence.py, which chooses who of a cast answers), a reply owed since before a restart (re-entering
at admission, bot/reply/recovery.py), a voice message (logged before it is heard, bot/discord/voice.py), and
an interaction that makes the character speak (/ask, a swipe's reroll).

:class:`ReplyPipeline` owns its stages, privately: admission (bot/reply/admission.py), the decision
(bot/reply/deciding), the owed marks (bot/reply/owed.py), and the answer (bot/reply/engine.py: the prompt,
the generation and delivery, the keeping). Callers ask it for a step of a reply, never for a stage; the
composition root builds the stages and hands them in.

It is plain Python: the Discord flow, the console and the tests drive it the same way, handing it an
:class:`Incoming` message and an :class:`Outlet` to speak through.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass

from bot.core.character import CharacterSource
from bot.core.claude import Completion
from bot.core.models.base import Prompt
from bot.core.persona.model import Persona
from bot.core.pipeline import Decision, Incoming, Outlet, ReplyResult
from bot.reply.admission import Admission
from bot.reply.composing import Prefetched
from bot.reply.deciding import Addressee, CharacterNames, Decider, TurnTaking
from bot.reply.engine import ReplyEngine
from bot.reply.owed import OwedMarks
from bot.reply.throttle import BotThrottle
from database.records import SeenMessage


@dataclass(frozen=True)
class Taken:
    """A message from anyone but the cast, through admission: ``stop``, why no reply work follows (consumed,
    or refused by a gate: decided and settled already), else its prompt data when read with its log write."""

    stop: Decision | None = None
    prefetched: Prefetched | None = None


class ReplyPipeline:
    """One character's replies, from admission to the stored exchange."""

    def __init__(self, character: CharacterSource, addressee: Addressee, accounts: Collection[int],
                 admission: Admission, decider: Decider, throttle: BotThrottle, turns: TurnTaking,
                 owed: OwedMarks, engine: ReplyEngine) -> None:
        """``accounts``: our own account and the cast's webhooks (filled at login and as they are made)."""
        self._character = character
        self._addressee = addressee
        self._accounts = accounts
        self._admission = admission
        self._decider = decider
        self._throttle = throttle
        self._turns = turns
        self._owed = owed
        self._engine = engine

    # -- who speaks

    @property
    def character(self) -> CharacterSource:
        return self._character

    @property
    def persona(self) -> Persona:
        return self._character.current()

    @property
    def character_key(self) -> str:
        """The name conversations and memories are filed under (stable across display-name edits)."""
        return self._character.key

    @property
    def names(self) -> CharacterNames:
        return self._addressee.names

    def own_words(self, msg: Incoming) -> bool:
        """Whether our own account or one of the cast's webhooks wrote ``msg``."""
        return msg.author_id in self._accounts

    def reply_certain(self, msg: Incoming) -> bool:
        """Whether the decision will answer without asking anyone (a person's DM, @mention, reply or our
        name)."""
        return self._addressee.reply_certain(msg)

    # -- a live message (bot/reply/sequence.py), stages 1 and 2

    async def observe(self, msg: Incoming) -> bool:
        """Our own cast's words: logged for context, no interceptor nor gate. Whether the place is active."""
        return await self._admission.observe(msg)

    async def take(self, msg: Incoming, outlet: Outlet) -> Taken:
        """Admit a message from anyone else: logged (its reply owed and its prompt data read in the same
        write when the answer is certain), intercepted, gated. Stopped, nothing stays owed."""
        admitted, prefetched = await self._admission.admit_prefetching(msg)
        if not admitted:  # consumed (a log-channel command, say): nothing is owed
            await self._owed.settle(msg.message_id, at_once=True)
            return Taken(Decision(False, "consumed"))
        stop = await self._admission.gate(msg, outlet)
        if stop is not None:
            await self._owed.settle(msg.message_id, at_once=True)  # refused: no mark left for a restart
            await self.announce(msg, stop)
            return Taken(stop)
        return Taken(None, prefetched)

    async def decide(self, msg: Incoming, *, owed: bool = False) -> Decision:
        """Whether this character answers ``msg`` by itself; ``owed``: a reply owed since before a restart
        (a vote it won is not taken again)."""
        return await self._decider.decide(msg, owed=owed)

    async def announce(self, msg: Incoming, decision: Decision) -> None:
        """The decision logged and told to the decision observers."""
        await self._decider.announce_decision(msg, decision)

    def bot_blocked(self, msg: Incoming) -> str | None:
        """Why answering ``msg``, another bot's, would loop (None: it would not)."""
        return self._throttle.blocked(msg.channel_id, msg.author_id)

    def replied_to_bot(self, msg: Incoming) -> None:
        """Counted when decided, not when sent: a bot's next message may arrive before this reply is out."""
        self._throttle.replied_to_bot(msg.channel_id, msg.author_id)

    async def owe(self, msg: Incoming) -> None:
        """Mark the reply to ``msg`` owed, unless its log write did: from now on a crash cannot lose it."""
        await self._admission.owe(msg)

    async def settle(self, msg: Incoming, *, at_once: bool = False) -> None:
        """No reply of this character's owed to ``msg`` any more (see OwedMarks.settle)."""
        await self._owed.settle(msg.message_id, at_once=at_once)

    async def wait_turn(self, msg: Incoming, after: Sequence[str]) -> bool:
        """Until the other bots' characters named first have answered (bot/reply/deciding/turns.py)."""
        return await self._turns.wait_turn(msg, tuple(after))

    async def wait_posted(self, msg: Incoming, message_ids: Sequence[int | None]) -> bool:
        """Until the answer just given to ``msg`` is logged: its words are then in the next prompt."""
        return await self._turns.wait_posted(msg, message_ids)

    def note_peer(self, channel_id: int, user_id: int, name: str) -> None:
        """Another bot's character seen in a channel (by an @mention of it)."""
        self._turns.note_peer(channel_id, user_id, name)

    def arrived(self, seen: SeenMessage) -> None:
        """A message another process of the cluster posted: a turn waiting on it goes on."""
        self._turns.arrived(seen)

    # -- stages 3 to 5

    async def respond(self, msg: Incoming, outlet: Outlet, *, see_later: bool = False,
                      prefetched: Prefetched | None = None) -> ReplyResult:
        """Answer ``msg``; ``see_later`` shows the messages posted since (the answers of characters that
        spoke first) after it in the prompt."""
        return await self._engine.respond(msg, outlet, see_later=see_later, prefetched=prefetched)

    # -- a reply owed since before a restart (bot/reply/recovery.py)

    def is_owed(self, message_id: int) -> bool:
        """Whether this process is answering ``message_id`` now."""
        return self._owed.is_owed(message_id)

    def claim(self, message_id: int) -> None:
        """A mark a previous run left, taken over: answering clears it, or a refusal does."""
        self._owed.claim(message_id)

    def owing(self) -> int:
        """How many replies this process owes and has not settled yet."""
        return self._owed.owing()

    async def readmit(self, msg: Incoming, outlet: Outlet) -> Decision | None:
        """An owed message admitted again, as a live one would be now: the decision that stops it, if
        any."""
        if not await self._admission.admit(msg):
            return Decision(False, "not admitted (an inactive place, or consumed)")
        return await self._admission.gate(msg, outlet)

    async def resume(self, msg: Incoming, outlet: Outlet, parts: Sequence[str],
                     delivered: int) -> ReplyResult:
        """The parts of a reply a crash cut short between two of them, from the first not posted."""
        return await self._engine.resume(msg, outlet, list(parts), delivered)

    # -- a voice message (bot/discord/voice.py)

    async def log_first(self, msg: Incoming) -> None:
        """Logged (its answer owed when certain) before slow work on it: a crash during that work loses
        neither."""
        await self._admission.log_first(msg)

    async def heard(self, msg: Incoming, content: str) -> None:
        """Its logged text replaced by what was heard."""
        await self._admission.relog(msg, content)

    async def unheard(self, msg: Incoming, outlet: Outlet, line: str) -> None:
        """A voice message that could not be heard: admitted as any message, and where the answer is certain,
        answered with ``line`` (``{name}``: the character's name); that line is its answer (or none is
        owed)."""
        try:
            if await self._admission.admit(msg) and self.reply_certain(msg):
                await outlet.send(line.replace("{name}", self.persona.name), first=True)
        finally:
            await self._owed.settle(msg.message_id)

    # -- an interaction that makes the character speak (/ask, a swipe's reroll)

    async def generate(self, msg: Incoming, persona: Persona, *, ooc_context: str = "",
                       replace_last_reply: bool = False, see_later: bool = False) -> Completion:
        """A draft answer to ``msg``, unstreamed and not delivered."""
        return await self._engine.generate(msg, persona, ooc_context=ooc_context,
                                           replace_last_reply=replace_last_reply, see_later=see_later)

    async def complete(self, msg: Incoming, persona: Persona, prompt: Prompt, premium: bool) -> Completion:
        return await self._engine.complete(msg, persona, prompt, premium)

    def finish_text(self, msg: Incoming, text: str) -> str:
        """The text as it goes to Discord (reply filters applied; a failing filter is skipped)."""
        return self._engine.finish_text(msg, text)
