"""The reply pipeline: every message, whoever answers it, and each character's replies, every way in.

:class:`ReplyPipeline`, one per character, owns its stages, privately: admission (bot/reply/admission.py),
the decision (bot/reply/deciding), the owed marks (bot/reply/owed.py), and the answer (bot/reply/engine.py:
the prompt, the generation and delivery, the keeping). Its ways in: a live message (through the
:class:`ReplySequence` below), a reply owed since before a restart (re-entering at admission,
bot/reply/recovery.py), a voice message (logged before it is heard, bot/discord/voice.py), and an interaction
that makes the character speak (/ask, a swipe's reroll). Callers ask it for a step of a reply, never for a
stage; the composition root's reply part (bot/runtime/pipelines.py) builds the stages and hands them in.

:class:`ReplySequence` runs every message through the same steps, the :class:`Cast` choosing who answers:

1. **admit**: the message is written to the short-term log (with the reply marked owed when it is certain,
   and the prompt data read in the same trip), then interceptors may consume it (a log-channel command);
2. **gate**: who may talk to the character, and what it may spend (a refusal may be said in character);
3. **cast**: who answers and in what order, with the reason (:class:`Cast`: one character decides by
   itself, :class:`Solo`; several characters of one bot, bot/reply/ensemble.py);
4. **owe**: each answer is marked owed before any model call, so a crash from here on cannot lose it
   (bot/reply/recovery.py answers it at the next start);
5. **answer in turn**: each character waits for the ones named before it (deciding/turns.py), then its
   pipeline builds the prompt, generates, delivers and stores the exchange, and clears its owed mark.

A reply still owed after a restart re-enters at step 1 (:meth:`ReplySequence.recover`): a late answer passes
the same admission, gates and decision as a live one. Our own characters' posts are logged for context and
may draw an answer from another character of the cast, but pass no interceptor or gate.

It is plain Python: the Discord flow, the console and the tests drive it the same way, handing it an
:class:`Incoming` message and an :class:`Outlet` to speak through.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
from collections.abc import Awaitable, Callable, Collection, Sequence
from dataclasses import dataclass
from typing import Protocol

from bot.core.attachments import NOTHING
from bot.core.character import CharacterSource
from bot.core.claude import Completion
from bot.core.metrics import Span
from bot.core.persona.model import Persona
from bot.core.pipeline import Decision, Incoming, Outlet, ReplyResult
from bot.reply.admission import Admission
from bot.reply.composing import Prefetched
from bot.reply.deciding import Addressee, CharacterNames, ConversationThreads, Decider, TurnTaking
from bot.reply.engine import ReplyEngine
from bot.reply.owed import OwedMarks
from bot.reply.throttle import BotThrottle
from database.records import SeenMessage

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Casting:
    """Who answers a message: the decision (logged and announced) and the characters' keys in turn."""

    decision: Decision
    speakers: tuple[str, ...] = ()  # empty when the decision is to stay quiet
    # Called when the turns are over (or failed), with the answers given: the cast's own bookkeeping.
    finish: Callable[[Sequence[ReplyResult]], Awaitable[None]] | None = None

    @staticmethod
    def quiet(decision: Decision) -> Casting:
        return Casting(decision)


class Cast(Protocol):
    """The characters one bot plays, and how they share a message."""

    @property
    def main(self) -> ReplyPipeline:
        """The character the bot account speaks as: it logs every message and runs the gates."""
        ...

    def pipeline(self, key: str) -> ReplyPipeline: ...

    def own_words(self, msg: Incoming) -> bool:
        """Whether one of the cast wrote ``msg`` (our account, or one of our webhooks)."""
        ...

    async def cast(self, msg: Incoming) -> Casting: ...


class ReplySequence:
    """Runs every message through the same steps; the :class:`Cast` only chooses who answers."""

    def __init__(self, cast: Cast, threads: ConversationThreads | None = None, *,
                 span: Span | None = None) -> None:
        """``threads``: where the switch is on, a conversation started in a channel goes on in a thread;
        ``span``: the stages as trace spans (otel_endpoint; None: none made)."""
        self.cast = cast
        self.threads = threads
        self._tracer = span

    def span(self, name: str, attributes: dict[str, str] | None = None
             ) -> contextlib.AbstractContextManager[None]:
        """A stage's trace span, or nothing when traces are off (no module entered for it)."""
        return contextlib.nullcontext() if self._tracer is None else self._tracer(name, attributes)

    async def handle(self, msg: Incoming, outlet_for: Callable[[str], Outlet]) -> list[ReplyResult]:
        with self.span("reply.message", {"character": self.cast.main.character_key}):
            return await self._handle(msg, outlet_for)

    async def _handle(self, msg: Incoming, outlet_for: Callable[[str], Outlet]) -> list[ReplyResult]:
        main = self.cast.main
        own = self.cast.own_words(msg)
        if own:  # our own words: logged for context, then perhaps another character answers
            if not await main.observe(msg):
                return []
            prefetched = None
        else:
            with self.span("reply.admit"):
                taken = await main.take(msg, outlet_for(main.character_key))
            if taken.stop is not None:  # consumed or refused: settled, nothing owed
                return []
            prefetched = taken.prefetched
        with self.span("reply.decide"):
            casting = await self.cast.cast(msg)
        if own and not casting.speakers:  # our own post nobody answers: no decision to speak of
            log.debug("message %s: %s", msg.message_id, casting.decision.describe())
            return []
        await main.announce(msg, casting.decision)
        if main.character_key not in casting.speakers:
            await main.settle(msg)  # a mark the log write made for the main character, not needed
        if not casting.speakers:
            return []
        for key in casting.speakers:  # decided by a vote or by the cast: owed from now on
            await self.cast.pipeline(key).owe(msg)
        if msg.author_is_bot and not msg.is_dm and not own:
            main.replied_to_bot(msg)
        if self.threads is not None and not own and not msg.is_dm:  # (a DM has no threads)
            moved = await self.threads.move(msg, outlet_for)
            if moved is not None:  # the answer begins the thread's own conversation
                msg, outlet_for = moved
                prefetched = None  # read for the channel's
        return await self._in_turn(msg, casting, outlet_for, prefetched)

    async def recover(self, msg: Incoming, outlet_for: Callable[[str], Outlet], key: str,
                      answer: Callable[[ReplyPipeline, Incoming, Outlet], Awaitable[ReplyResult]],
                      ) -> ReplyResult | None:
        """A reply character ``key`` owed ``msg`` since before a restart (bot/reply/recovery.py), re-entered
        at admission: logged (found there), intercepted, gated and decided as a live message is now, so
        what would refuse it live (a blocked user, a spent budget, a place switched off) refuses it late
        too. Only a vote it won is not taken again: the mark was written because it said yes. Then
        ``answer`` gives the reply (the whole of it, or the parts a crash cut short), in the conversation's
        thread where threads are on. None: not answered, and the mark cleared."""
        main, engine = self.cast.main, self.cast.pipeline(key)
        engine.claim(msg.message_id)  # answering clears the mark, or a refusal does
        if self.cast.own_words(msg):  # another character's answer to ours: no interceptor, gate or vote
            active = await main.observe(msg)
            decision = (Decision(True, "owed from before a restart", kind="owed") if active
                        else Decision(False, "this place is inactive", kind="inactive"))
        else:
            decision = await main.readmit(msg, outlet_for(main.character_key)) \
                or await engine.decide(msg, owed=True)
        await main.announce(msg, decision)
        if not decision.reply:
            await engine.settle(msg, at_once=True)
            return None
        if self.threads is not None and not self.cast.own_words(msg) and not msg.is_dm:
            moved = await self.threads.move(msg, outlet_for)  # where it would have gone live, or went
            if moved is not None:
                msg, outlet_for = moved
        return await answer(engine, msg, outlet_for(key))

    async def _in_turn(self, msg: Incoming, casting: Casting, outlet_for: Callable[[str], Outlet],
                       prefetched: Prefetched | None) -> list[ReplyResult]:
        results: list[ReplyResult] = []
        main = self.cast.main  # the main character observes every message: its turn-taking waits
        try:
            for key in casting.speakers:
                engine = self.cast.pipeline(key)
                if results:  # the one before it answered here: its words are in the prompt once logged
                    await main.wait_posted(msg, results[-1].message_ids)
                elif casting.decision.after:  # other bots' characters named first
                    await main.wait_turn(msg, casting.decision.after)
                waited = bool(results or casting.decision.after)  # then the prompt is read afresh
                with self.span("reply.respond", {"character": key}):
                    result = await engine.respond(
                        msg, outlet_for(key), see_later=waited,
                        prefetched=None if waited or engine is not main else prefetched)
                results.append(result)
        finally:
            if casting.finish is not None:
                await casting.finish(results)
        return results


class Solo:
    """One character: it decides by itself whether to answer (``ReplyPipeline.decide``)."""

    def __init__(self, pipeline: ReplyPipeline) -> None:
        self._pipeline = pipeline

    @property
    def main(self) -> ReplyPipeline:
        return self._pipeline

    def pipeline(self, key: str) -> ReplyPipeline:
        return self._pipeline

    def own_words(self, msg: Incoming) -> bool:
        return self._pipeline.own_words(msg)

    async def cast(self, msg: Incoming) -> Casting:
        if self.own_words(msg):
            return Casting.quiet(Decision(False, "my own message", kind="own_message"))
        decision = await self._pipeline.decide(msg)
        return Casting(decision, (self._pipeline.character_key,) if decision.reply else ())


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

    # -- a live message (ReplySequence above), stages 1 and 2

    async def observe(self, msg: Incoming) -> bool:
        """Our own cast's words: logged for context, no interceptor nor gate. Whether the place is active."""
        return await self._admission.observe(msg)

    async def take(self, msg: Incoming, outlet: Outlet) -> Taken:
        """Admit a message from anyone else: logged (its reply owed and its prompt data read in the same
        write when the answer is certain), intercepted, gated. Stopped, nothing stays owed."""
        admitted, prefetched = await self._admission.admit_prefetching(msg)
        if not admitted:  # consumed (a log-channel command, say): nothing is owed
            await self._owed.settle(msg.message_id, at_once=True)
            return Taken(Decision(False, "consumed", kind="consumed"))
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

    def bot_blocked(self, msg: Incoming) -> Decision | None:
        """The decision not to answer ``msg``, another bot's, as answering would loop (None: it would not)."""
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
            return Decision(False, "not admitted (an inactive place, or consumed)", kind="not_admitted")
        return await self._admission.gate(msg, outlet)

    async def resume(self, msg: Incoming, outlet: Outlet, parts: Sequence[str],
                     delivered: int) -> ReplyResult:
        """The parts of a reply a crash cut short between two of them, from the first not posted."""
        return await self._engine.resume(msg, outlet, list(parts), delivered)

    # -- a voice message (bot/discord/voice.py)

    async def hear(self, msg: Incoming, outlet: Outlet, listen: Callable[[], Awaitable[str | None]] | None,
                   unheard_line: str) -> Incoming | None:
        """A voice message, heard before the reply sequence takes it: ``msg`` with what ``listen`` heard as
        its content (None from it: not heard), or None when it could not be heard (no ``listen``: nobody
        can) and has been dealt with. It is logged, its answer owed when certain, before the listening: a
        crash meanwhile loses neither (the restart answers it as unheard); where the answer is certain the
        character types while it listens. One who may not talk to the character is not even heard: ``msg``
        goes on as it is (``[voice message]``), for the sequence to refuse as any message."""
        if await self._admission.refused(msg, outlet):
            return msg
        if listen is not None:
            await self._admission.log_first(msg)
            async with outlet.typing() if self.reply_certain(msg) else contextlib.nullcontext():
                content = await listen()
            if content is not None:
                await self._admission.relog(msg, content)  # the sequence's own log write finds it there
                return dataclasses.replace(msg, content=content, carried=NOTHING)
        await self._unheard(msg, outlet, unheard_line)
        return None

    async def _unheard(self, msg: Incoming, outlet: Outlet, line: str) -> None:
        """Not heard: admitted as any message, and where the answer is certain, answered with ``line``
        (``{name}``: the character's name); that line is its answer (or none is owed)."""
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

    def finish_text(self, msg: Incoming, text: str) -> str:
        """The text as it goes to Discord (reply filters applied; a failing filter is skipped)."""
        return self._engine.finish_text(msg, text)
