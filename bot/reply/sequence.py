"""The one reply sequence: what happens to every message, whoever answers it.

1. **admit**: the message is written to the short-term log (with the reply marked owed when it is certain,
   and the prompt data read in the same trip), then interceptors may consume it (a log-channel command);
2. **gate**: who may talk to the character, and what it may spend (a refusal may be said in character);
3. **cast**: who answers and in what order, with the reason (:class:`Cast`: one character decides by
   itself, bot/reply/engine.py; several characters of one bot, bot/reply/ensemble.py);
4. **owe**: each answer is marked owed before any model call, so a crash from here on cannot lose it
   (bot/reply/recovery.py answers it at the next start);
5. **answer in turn**: each character waits for the ones named before it (deciding/turns.py), then its
   engine builds the prompt, generates, delivers and stores the exchange, and clears its owed mark.

A reply still owed after a restart re-enters at step 1 (:meth:`ReplySequence.recover`): a late answer passes
the same admission, gates and decision as a live one.

Our own characters' posts are logged for context and may draw an answer from another character of the cast,
but pass no interceptor or gate.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from bot.core.pipeline import Decision, Incoming, Outlet, ReplyResult

if TYPE_CHECKING:
    from bot.reply.composing import Prefetched
    from bot.reply.pipeline import ReplyPipeline

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

    def engine(self, key: str) -> ReplyPipeline: ...

    def own_words(self, msg: Incoming) -> bool:
        """Whether one of the cast wrote ``msg`` (our account, or one of our webhooks)."""
        ...

    async def cast(self, msg: Incoming) -> Casting: ...


class ReplySequence:
    """Runs every message through the same steps; the :class:`Cast` only chooses who answers."""

    def __init__(self, cast: Cast) -> None:
        self.cast = cast

    async def handle(self, msg: Incoming, outlet_for: Callable[[str], Outlet]) -> list[ReplyResult]:
        main = self.cast.main
        own = self.cast.own_words(msg)
        if own:  # our own words: logged for context, then perhaps another character answers
            if not await main.observe(msg):
                return []
            prefetched = None
        else:
            taken = await main.take(msg, outlet_for(main.character_key))
            if taken.stop is not None:  # consumed or refused: settled, nothing owed
                return []
            prefetched = taken.prefetched
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
            await self.cast.engine(key).owe(msg)
        if msg.author_is_bot and not msg.is_dm and not own:
            main.replied_to_bot(msg)
        return await self._in_turn(msg, casting, outlet_for, prefetched)

    async def recover(self, msg: Incoming, outlet_for: Callable[[str], Outlet], key: str,
                      answer: Callable[[ReplyPipeline, Outlet], Awaitable[ReplyResult]],
                      ) -> ReplyResult | None:
        """A reply character ``key`` owed ``msg`` since before a restart (bot/reply/recovery.py), re-entered
        at admission: logged (found there), intercepted, gated and decided as a live message is now, so
        what would refuse it live (a blocked user, a spent budget, a place switched off) refuses it late
        too. Only a vote it won is not taken again: the mark was written because it said yes. Then
        ``answer`` gives the reply (the whole of it, or the parts a crash cut short). None: not answered,
        and the mark cleared."""
        main, engine = self.cast.main, self.cast.engine(key)
        engine.claim(msg.message_id)  # answering clears the mark, or a refusal does
        if self.cast.own_words(msg):  # another character's answer to ours: no interceptor, gate or vote
            active = await main.observe(msg)
            decision = Decision(active, "owed from before a restart" if active else "this place is inactive")
        else:
            decision = await main.readmit(msg, outlet_for(main.character_key)) \
                or await engine.decide(msg, owed=True)
        await main.announce(msg, decision)
        if not decision.reply:
            await engine.settle(msg, at_once=True)
            return None
        return await answer(engine, outlet_for(key))

    async def _in_turn(self, msg: Incoming, casting: Casting, outlet_for: Callable[[str], Outlet],
                       prefetched: Prefetched | None) -> list[ReplyResult]:
        results: list[ReplyResult] = []
        main = self.cast.main  # the main character observes every message: its turn-taking waits
        try:
            for key in casting.speakers:
                engine = self.cast.engine(key)
                if results:  # the one before it answered here: its words are in the prompt once logged
                    await main.wait_posted(msg, results[-1].message_ids)
                elif casting.decision.after:  # other bots' characters named first
                    await main.wait_turn(msg, casting.decision.after)
                waited = bool(results or casting.decision.after)  # then the prompt is read afresh
                result = await engine.respond(msg, outlet_for(key), see_later=waited,
                                              prefetched=None if waited or engine is not main else prefetched)
                results.append(result)
        finally:
            if casting.finish is not None:
                await casting.finish(results)
        return results


class Solo:
    """One character: it decides by itself whether to answer (bot/reply/engine.py ``decide``)."""

    def __init__(self, engine: ReplyPipeline) -> None:
        self._engine = engine

    @property
    def main(self) -> ReplyPipeline:
        return self._engine

    def engine(self, key: str) -> ReplyPipeline:
        return self._engine

    def own_words(self, msg: Incoming) -> bool:
        return self._engine.own_words(msg)

    async def cast(self, msg: Incoming) -> Casting:
        if self.own_words(msg):
            return Casting.quiet(Decision(False, "my own message"))
        decision = await self._engine.decide(msg)
        return Casting(decision, (self._engine.character_key,) if decision.reply else ())
