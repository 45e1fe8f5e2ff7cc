"""Reactions felt, the running part (bot/alive/felt.py decides what they mean): reactions on the character's
messages gather in a bounded inbox and are kept in one pass a moment later, one write per person, off the
gateway's path. Never a model call, never a reply, but where a place asks for an answer to a correction:
each correction kept is handed on to the ``Answers`` a feature lends (bot/features/corrections/, given to
``Alive`` as the composition root builds it)."""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Callable
from typing import Protocol

from bot.alive.feelings import Feelings
from bot.alive.felt import FLUSH_SECONDS, Reaction, ReactionInbox, corrections, is_correction

log = logging.getLogger(__name__)
MESSAGES_KEPT = 4096  # the character's messages reacted on lately, whose taken-back reactions count


class Answers(Protocol):
    """Where a correction kept goes next (bot/features/corrections/answering.py ``CorrectionAnswers``):
    answered where the place asks for it, off the pass's path; ``settled``: once the answers under way are
    (a stop)."""

    def consider(self, reaction: Reaction, emoji: str) -> None: ...
    async def settled(self) -> None: ...


class FeltReactions:
    def __init__(self, feelings: Callable[[], Feelings], on: Callable[[], bool],
                 correction_set: Callable[[], str], answers: Answers | None = None) -> None:
        """``feelings``: the main character's (whose messages are reacted to); ``on``: whether reactions
        are felt now (a reload reaches it); ``correction_set``: the operator's correction emoji;
        ``answers``: told of each correction added (None: nobody answers them)."""
        self.inbox = ReactionInbox()
        self.delay = FLUSH_SECONDS
        self.passes = 0  # passes done (tests wait on it)
        self.events = 0  # reaction events handed in (tests wait on it)
        self._now = asyncio.Event()  # a stop (or a test) asks the pass under way not to wait
        self._feelings = feelings
        self._on = on
        self._corrections = correction_set
        self.answers = answers
        self._task: asyncio.Task[None] | None = None
        self._reacted_on: OrderedDict[int, None] = OrderedDict()  # messages with a kept add, the newest
        self._asked: OrderedDict[int, None] = OrderedDict()  # messages it was asked about, the newest

    def asked_about(self, message_id: int) -> None:
        """The character was asked about this message: reactions on it reach it too."""
        self._asked[message_id] = None
        self._asked.move_to_end(message_id)
        if len(self._asked) > MESSAGES_KEPT:
            self._asked.popitem(last=False)

    def was_asked(self, message_id: int) -> bool:
        return message_id in self._asked

    def add(self, reaction: Reaction) -> None:
        """One reaction event (from the gateway): gathered; a pass is scheduled when none is. A reaction
        taken back counts only on a message a reaction was gathered for (the gateway does not say whose
        message a removal was on)."""
        self.events += 1
        if not self._on():
            return
        message = reaction.message_id
        if reaction.added:
            self._reacted_on[message] = None
            self._reacted_on.move_to_end(message)
            if len(self._reacted_on) > MESSAGES_KEPT:
                self._reacted_on.popitem(last=False)
        elif message not in self._reacted_on:
            return
        self.inbox.add(reaction)
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._pass(self.delay), name="reactions-felt")


    async def settled(self) -> None:
        """Wait for the pass under way, if any."""
        while self._task is not None and not self._task.done():
            await asyncio.shield(self._task)

    async def flush(self) -> None:
        """Keep what is gathered now (a stop; tests): the pass under way stops waiting."""
        self._now.set()
        await self.settled()
        if len(self.inbox):
            await self._pass(0.0)
        self._now.clear()

    async def _pass(self, delay: float) -> None:
        if delay:
            try:
                await asyncio.wait_for(self._now.wait(), delay)
            except TimeoutError:
                pass
        gathered = self.inbox.take()
        feelings = self._feelings()
        chosen = corrections(self._corrections())
        for user_id, entries in gathered.items():
            try:
                await feelings.reacted(user_id, entries, chosen)
            except Exception:
                log.exception("could not keep the reactions of user %s", user_id)
            answers = self.answers
            if answers is not None:  # after the cue is kept: an answer marks it told
                for entry in entries:
                    for emoji, on in entry.emoji.items():
                        if on and is_correction(entry.first, emoji, chosen):
                            answers.consider(entry.first, emoji)
        self.passes += 1
