"""The reply pipeline: every message, whoever answers it, and each character's replies, every way in.

:class:`ReplySequence` is the one owner of a reply's steps: it runs every message, live or owed since
before a restart, through admission (bot/reply/admission.py), the decision (bot/reply/deciding), the owed
marks (bot/reply/owed.py) and the answer (bot/reply/writer.py: the prompt, the generation and delivery, the
keeping), each step its own method, calling the stages' public methods. A :class:`ReplyPipeline` is one
character: who it is, its :class:`Stages` (built by the composition root's reply part, bot/runtime/
replies.py, and read by the sequence alone) and the two things the rest of Kindred asks of a character:
whether it answers a message (``decide``, the cast's question) and another answer (``alternative``, a
swipe's reroll). Callers ask the sequence in a few verbs: a live message, or a question asked privately
(/ask, the console), goes through ``handle``; a reply owed since before a restart re-enters it at admission
(``recover``, from bot/reply/recovery.py); a message whose words are in a recording is read first by a
feature's reader (``read_first``, logged before it is read).

:class:`ReplySequence` runs every message through the same steps, the :class:`Cast` choosing who answers:

1. **admit**: the message is written to the short-term log (with the reply marked owed when it is certain,
   and the prompt data read in the same trip), then interceptors may consume it (a log-channel command);
2. **gate**: who may talk to the character, and what it may spend (a refusal may be said in character);
3. **cast**: who answers and in what order, with the reason (:class:`Cast`: one character decides by
   itself, :class:`Solo`; several characters of one bot, bot/reply/ensemble.py);
4. **owe**: each answer is marked owed before any model call, so a crash from here on cannot lose it
   (bot/reply/recovery.py answers it at the next start);
5. **answer in turn**: each character waits for the ones named before it (deciding/turns.py), then its
   writer builds the prompt, generates, delivers and stores the exchange, and clears its owed mark.

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

from bot.core.attachments import NOTHING, Carried
from bot.core.character import CharacterSource
from bot.core.i18n import N_
from bot.core.lines import Line
from bot.core.metrics import Span
from bot.core.persona.model import Persona
from bot.core.stages import Decision, Incoming, Outlet, Reader, ReplyResult, ThreadTalk
from bot.reply.admission import Admission
from bot.reply.composing import Prefetched
from bot.reply.deciding import Addressee, CharacterNames, Decider, TurnTaking
from bot.reply.owed import OwedMarks
from bot.reply.throttle import BotThrottle
from bot.reply.writer import ReplyWriter
from database.records import SeenMessage

log = logging.getLogger(__name__)
NO_SPAN: contextlib.AbstractContextManager[None] = contextlib.nullcontext()  # reusable: it holds nothing


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

    @property
    def pipelines(self) -> Sequence[ReplyPipeline]:
        """Every character of the cast, the main one first."""
        ...

    def own_words(self, msg: Incoming) -> bool:
        """Whether one of the cast wrote ``msg`` (our account, or one of our webhooks)."""
        ...

    async def cast(self, msg: Incoming) -> Casting: ...


class ReplySequence:
    """The one owner of a reply's steps: runs every message through them, each a method of its own here;
    the :class:`Cast` only chooses who answers."""

    def __init__(self, cast: Cast, threads: ThreadTalk | None = None, *,
                 span: Span | None = None) -> None:
        """``threads``: where the switch is on, a conversation started in a channel goes on in a thread;
        ``span``: the stages as trace spans (otel_endpoint; None: none made)."""
        self.cast = cast
        self.threads = threads
        self._tracer = span

    def _span(self, name: str, character: str | None = None) -> contextlib.AbstractContextManager[None]:
        """A stage's trace span (``character``: the one answering, an attribute of it); when traces are off
        the one shared no-op context: every message passes here, so nothing is built for it."""
        tracer = self._tracer
        if tracer is None:
            return NO_SPAN
        return tracer(name, None if character is None else {"character": character})

    # -- a message whose words are in a recording it carries (the main character's readers, the features')

    def held(self, msg: Incoming) -> Incoming:
        """``msg`` as it stands until a reader has read the recording it carries: without text of its own,
        its reader's placeholder as its content and nothing carried (the placeholder says it all); unchanged
        when no reader takes it."""
        reader = _reader(self.cast.main.stages, msg.carried)
        if reader is None or msg.content.strip():
            return msg
        return dataclasses.replace(msg, content=reader.placeholder(), carried=NOTHING)

    async def read_first(self, msg: Incoming, carried: Carried, outlet_for: Callable[[str], Outlet]
                         ) -> Incoming | None:
        """``msg`` (:meth:`held`) read from ``carried`` (what it carried) before :meth:`handle` takes it:
        with the words read as its content, unchanged when no reader takes it (or it is our own, whose words
        we know), or None when it could not be read and has been dealt with (answered, where certain, by
        the main character). It is logged, its answer owed when certain, before the reading: a crash
        meanwhile loses neither (the restart answers it as unread); where the answer is certain the
        character types while it reads. One who may not talk to the character is not even read: ``msg`` goes
        on as it is, for the sequence to refuse as any."""
        main = self.cast.main
        stages, outlet = main.stages, outlet_for(main.character_key)
        reader = _reader(stages, carried)
        if reader is None or main.own_words(msg):
            return msg
        if await stages.admission.refused(msg, outlet):
            return msg
        if reader.can_read():
            await stages.admission.log_first(msg)
            async with outlet.typing() if stages.addressee.reply_certain(msg) else contextlib.nullcontext():
                content = await reader.read(msg, carried)
            if stages.admission.forgotten_meanwhile(msg):
                # /forget_me ran while it was read: its words are not logged again nor answered, so
                # nothing of it (the log, their user row) comes back after the deletion.
                await stages.owed.settle(msg.message_id)
                return None
            if content is not None:
                await stages.admission.relog(msg, content)  # the sequence's own log write finds it there
                return dataclasses.replace(msg, content=content, carried=NOTHING)
        await self._unread(main, msg, outlet, await reader.unread_line(msg))
        return None

    async def _unread(self, main: ReplyPipeline, msg: Incoming, outlet: Outlet, line: str) -> None:
        """Not read: admitted as any message, and where the answer is certain, answered with ``line``
        (``{name}``: the character's name); that line is its answer (or none is owed)."""
        stages = main.stages
        try:
            if await stages.admission.admit(msg) and stages.addressee.reply_certain(msg):
                await outlet.send(line.replace("{name}", main.persona.name), first=True)
        finally:
            await stages.owed.settle(msg.message_id)

    # -- a message arrived

    async def handle(self, msg: Incoming, outlet_for: Callable[[str], Outlet]) -> list[ReplyResult]:
        """Every step of a message's answer, whoever gives it: the answers given (none, most often)."""
        with self._span("reply.message", self.cast.main.character_key):
            return await self._handle(msg, outlet_for)

    async def _handle(self, msg: Incoming, outlet_for: Callable[[str], Outlet]) -> list[ReplyResult]:
        await self._refresh()
        main = self.cast.main
        own = self.cast.own_words(msg)
        with self._span("reply.admit"):
            taken = await self._admit(main, msg, None if own else outlet_for(main.character_key))
        if taken.stop is not None:  # inactive, consumed or refused: settled, nothing owed
            return []
        prefetched = taken.prefetched
        with self._span("reply.decide"):
            casting = await self.cast.cast(msg)
        if own and not casting.speakers:  # our own post nobody answers: no decision to speak of
            log.debug("message %s: %s", msg.message_id, casting.decision.describe().english())
            return []
        await self._decided(main, msg, casting.decision, speaks=main.character_key in casting.speakers,
                            own=own)
        if not casting.speakers:
            return []
        for key in casting.speakers:  # decided by a vote or by the cast: owed from now on
            await self.cast.pipeline(key).stages.admission.owe(msg)
        if self.threads is not None and not own and not msg.is_dm:  # (a DM has no threads)
            moved = await self.threads.move(msg, outlet_for)
            if moved is not None:  # the answer begins the thread's own conversation
                msg, outlet_for = moved
                prefetched = None  # read for the channel's
        return await self._in_turn(msg, casting, outlet_for, prefetched)

    async def _refresh(self) -> None:
        """Every character as its files say now (read off the event loop when they changed): an edit
        applies from the next message on, whichever step reads the persona."""
        for pipeline in self.cast.pipelines:
            await pipeline.character.refresh()

    async def _admit(self, main: ReplyPipeline, msg: Incoming, outlet: Outlet | None) -> Taken:
        """Admit a live message. Our own cast's words (no ``outlet``: nothing is said to them): logged for
        context, no interceptor nor gate (stopped where the place is inactive). Anyone else's: logged (its
        reply owed and its prompt data read in the same write when the answer is certain), intercepted,
        gated through ``outlet`` (a refusal may be said in character); stopped, nothing stays owed."""
        stages = main.stages
        if outlet is None:
            if not await stages.admission.observe(msg):
                return Taken(Decision(False, Line(N_("this place is inactive")), kind="inactive"))
            return Taken()
        admitted, prefetched = await stages.admission.admit_prefetching(msg)
        if not admitted:  # consumed (a log-channel command, say): nothing is owed
            await stages.owed.settle(msg.message_id, at_once=True)
            return Taken(Decision(False, Line(N_("consumed")), kind="consumed"))
        stop = await stages.admission.gate(msg, outlet)
        if stop is not None:
            await stages.owed.settle(msg.message_id, at_once=True)  # refused: no mark left for a restart
            await stages.decider.announce_decision(msg, stop)
            return Taken(stop)
        return Taken(None, prefetched)

    async def _decided(self, main: ReplyPipeline, msg: Incoming, decision: Decision, *, speaks: bool,
                       own: bool) -> None:
        """The cast's decision on a live message, announced by the main character; its own owed mark (the
        log write made it, certain of an answer) cleared when another answers or none does; an answer to
        another bot counted when decided, not when sent: the bot's next message may arrive before this
        reply is out."""
        stages = main.stages
        await stages.decider.announce_decision(msg, decision)
        if not speaks:
            await stages.owed.settle(msg.message_id)
        if decision.reply and msg.author_is_bot and not msg.is_dm and not own:
            stages.throttle.replied_to_bot(msg.channel_id, msg.author_id)

    async def withdraw(self, msg: Incoming) -> None:
        """``msg``'s answer was withdrawn before any of it was posted or said (a live turn its speaker went
        on from: the words that replace it are answered under the same message): no reply is owed to it,
        and its mark is cleared at once."""
        await self.cast.main.stages.owed.settle(msg.message_id, at_once=True)

    # -- a reply owed since before a restart (bot/reply/recovery.py)

    async def recover(self, msg: Incoming, outlet_for: Callable[[str], Outlet], key: str,
                      parts: Sequence[str] = (), delivered: int = 0) -> ReplyResult | None:
        """A reply character ``key`` owed ``msg`` since before a restart, re-entered at admission: logged
        (found there), intercepted, gated and decided as a live message is now, so what would refuse it
        live (a blocked user, a spent budget, a place switched off) refuses it late too. Only a vote it won
        is not taken again: the mark was written because it said yes. Then the reply is given whole, or,
        ``parts`` given, from the first of them a crash cut short (``delivered`` of them were posted), in
        the conversation's thread where threads are on. None: not answered, and the mark cleared."""
        main, pipeline = self.cast.main, self.cast.pipeline(key)
        pipeline.stages.owed.claim(msg.message_id)  # answering clears the mark, or a refusal does
        await self._refresh()
        own = self.cast.own_words(msg)
        decision = await self._readmit(main, msg, None if own else outlet_for(main.character_key)) \
            or await pipeline.decide(msg, owed=True)
        await main.stages.decider.announce_decision(msg, decision)
        if not decision.reply:
            await pipeline.stages.owed.settle(msg.message_id, at_once=True)
            return None
        if self.threads is not None and not own and not msg.is_dm:
            moved = await self.threads.move(msg, outlet_for)  # where it would have gone live, or went
            if moved is not None:
                msg, outlet_for = moved
        writer = pipeline.stages.writer
        if parts:
            return await writer.resume(msg, outlet_for(key), list(parts), delivered)
        return await writer.respond(msg, outlet_for(key))

    async def _readmit(self, main: ReplyPipeline, msg: Incoming, outlet: Outlet | None) -> Decision | None:
        """An owed message admitted again, as a live one would be now: the decision that stops it, if any.
        Another character's answer to ours (no ``outlet``): only whether the place is still active (no
        interceptor, gate or vote), and then it is answered."""
        admission = main.stages.admission
        if outlet is None:
            if await admission.observe(msg):
                return Decision(True, Line(N_("owed from before a restart")), kind="owed")
            return Decision(False, Line(N_("this place is inactive")), kind="inactive")
        if not await admission.admit(msg):
            return Decision(False, Line(N_("not admitted (an inactive place, or consumed)")),
                            kind="not_admitted")
        return await admission.gate(msg, outlet)

    def answering(self, key: str, message_id: int) -> bool:
        """Whether this process is answering ``message_id`` as character ``key`` now (a mark of its own,
        not a previous run's)."""
        return any(p.character_key == key and p.stages.owed.is_owed(message_id) for p in self.cast.pipelines)

    def owing(self) -> int:
        """How many replies the cast owes in this process and has not settled yet."""
        return sum(p.stages.owed.owing() for p in self.cast.pipelines)

    # -- other characters' words, seen elsewhere

    def note_peers(self, channel_id: int, peers: Sequence[tuple[int, str]]) -> None:
        """Other bots' characters seen in a channel (``peers``: the (user id, name) of each @mentioned):
        named before us, they answer first."""
        turns = self.cast.main.stages.turns
        for user_id, name in peers:
            turns.note_peer(channel_id, user_id, name)

    def arrived(self, seen: SeenMessage) -> None:
        """A message another process of the cluster posted: a turn waiting on it, in any character of the
        cast, goes on."""
        for pipeline in self.cast.pipelines:
            pipeline.stages.turns.arrived(seen)

    # -- answer in turn

    async def _in_turn(self, msg: Incoming, casting: Casting, outlet_for: Callable[[str], Outlet],
                       prefetched: Prefetched | None) -> list[ReplyResult]:
        results: list[ReplyResult] = []
        main = self.cast.main  # the main character observes every message: its turn-taking waits
        try:
            for key in casting.speakers:
                pipeline = self.cast.pipeline(key)
                before = results[-1] if results else None  # its words are in the prompt once logged
                waited = await self._wait_turn(main, msg, casting.decision.after, before)
                with self._span("reply.respond", key):
                    # see_later: the messages posted since (the answers of characters that spoke first)
                    # shown after it in the prompt, read afresh
                    result = await pipeline.stages.writer.respond(
                        msg, outlet_for(key), see_later=waited,
                        prefetched=None if waited or pipeline is not main else prefetched)
                results.append(result)
        finally:
            if casting.finish is not None:
                await casting.finish(results)
        return results

    async def _wait_turn(self, main: ReplyPipeline, msg: Incoming, after: Sequence[str],
                         before: ReplyResult | None) -> bool:
        """Until the answer given to ``msg`` just ``before`` (by one of the cast) is logged, its words then
        in the next prompt; else until the other bots' characters named first (``after``) have answered
        (bot/reply/deciding/turns.py). Whether there was anything to wait for (the prompt then read
        afresh)."""
        turns = main.stages.turns
        if before is not None:
            await turns.wait_posted(msg, before.message_ids)
            return True
        if after:
            await turns.wait_turn(msg, tuple(after))
            return True
        return False


def _reader(stages: Stages, carried: Carried) -> Reader | None:
    """The first of the features' readers that takes what ``carried`` holds (None: none does, or nothing
    is carried)."""
    return next((r for r in stages.readers if r.takes(carried)), None) if carried.attachments else None


class Solo:
    """One character: it decides by itself whether to answer (``ReplyPipeline.decide``)."""

    def __init__(self, pipeline: ReplyPipeline) -> None:
        self._pipeline = pipeline

    @property
    def main(self) -> ReplyPipeline:
        return self._pipeline

    def pipeline(self, key: str) -> ReplyPipeline:
        return self._pipeline

    @property
    def pipelines(self) -> Sequence[ReplyPipeline]:
        return (self._pipeline,)

    def own_words(self, msg: Incoming) -> bool:
        return self._pipeline.own_words(msg)

    async def cast(self, msg: Incoming) -> Casting:
        if self.own_words(msg):
            return Casting.quiet(Decision(False, Line(N_("my own message")), kind="own_message"))
        decision = await self._pipeline.decide(msg)
        return Casting(decision, (self._pipeline.character_key,) if decision.reply else ())


@dataclass(frozen=True)
class Taken:
    """A message through admission: ``stop``, why no reply work follows (an inactive place, consumed, or
    refused by a gate: decided and settled already), else its prompt data when read with its log write."""

    stop: Decision | None = None
    prefetched: Prefetched | None = None


@dataclass(frozen=True)
class Stages:
    """One character's stages, in the order a message meets them. Built by the composition root's reply
    part (bot/runtime/replies.py); read by :class:`ReplySequence`, which runs them, and by the character's
    own :class:`ReplyPipeline`: nothing else reaches a stage (tests/test_architecture.py)."""

    addressee: Addressee  # who the character is asked by (whether a message's answer is certain)
    admission: Admission  # the log write, the interceptors and the gates
    decider: Decider  # whether it answers, announced to the decision observers
    throttle: BotThrottle  # how often it answers other bots
    turns: TurnTaking  # waiting for the characters named before it
    owed: OwedMarks  # which of its replies this process owes
    writer: ReplyWriter  # the answer: the prompt, the generation and delivery, the keeping
    readers: tuple[Reader, ...] = ()  # the features', asked before the sequence takes a message


class ReplyPipeline:
    """One character: who it is, its :class:`Stages` (run by the :class:`ReplySequence` above), and what
    the rest of Kindred asks of it: whether it answers (:meth:`decide`, the cast's question), and another
    answer (:meth:`alternative`, a swipe's reroll)."""

    def __init__(self, character: CharacterSource, accounts: Collection[int], stages: Stages) -> None:
        """``accounts``: our own account and the cast's webhooks (filled at login and as they are made)."""
        self._character = character
        self._accounts = accounts
        self.stages = stages

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
        return self.stages.addressee.names

    def own_words(self, msg: Incoming) -> bool:
        """Whether our own account or one of the cast's webhooks wrote ``msg``."""
        return msg.author_id in self._accounts

    # -- asked by the cast: does this character answer?

    async def decide(self, msg: Incoming, *, owed: bool = False, addressed: bool = False) -> Decision:
        """Whether this character answers ``msg`` by itself; ``owed``: a reply owed since before a restart
        (a vote it won is not taken again); ``addressed``: the cast named its characters in another bot's
        message, and only whether answering would loop is left to decide."""
        if addressed:
            blocked = self.stages.throttle.blocked(msg.channel_id, msg.author_id)
            return blocked or Decision(True, Line(N_("addressed")), kind="addressed")
        return await self.stages.decider.decide(msg, owed=owed)

    # -- another answer asked for (a reroll)

    async def alternative(self, msg: Incoming, *, ooc_context: str = "", replace_last_reply: bool = False
                          ) -> str:
        """Another answer to ``msg`` (steered by ``ooc_context``, an out-of-character note), unstreamed and
        not delivered: its text as it would go to Discord (reply filters applied), "" when there is none.
        ``replace_last_reply``: the prompt leaves out the answer it replaces."""
        writer = self.stages.writer
        await self._character.refresh()  # an edit since the answer it replaces applies
        completion = await writer.generate(msg, self.persona, ooc_context=ooc_context,
                                           replace_last_reply=replace_last_reply)
        return writer.finish_text(msg, completion.text).strip()
