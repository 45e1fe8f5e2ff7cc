"""A character's feelings at run time: the emotion model (bot/alive/emotions.py) kept in memory, moved by each
exchange, shown in the stable part of the prompt, and persisted in global state (``emotions.<character>``,
visible in /state) after each exchange, so a restart keeps the feeling.

Nothing here touches the database on the way to a reply: the label is computed from the state in memory.
Writes happen after the reply, coalesced (one in flight at a time; the newest state wins).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from bot.alive.emotions import EmotionState, advance, describe, guidance, signals, stimulate
from bot.core.localtime import Clock, LocalTime, utc_now
from bot.core.persona.model import Persona
from bot.core.pipeline import Incoming, ReplyResult
from database.records import PromptData
from database.state import State

log = logging.getLogger(__name__)

STATE_PREFIX = "emotions."


def state_key(character_key: str) -> str:
    return STATE_PREFIX + character_key


class Feelings:
    def __init__(self, state: State, character_key: str, time: LocalTime, clock: Clock = utc_now, *,
                 shared: Callable[[str, str], None] | None = None) -> None:
        """``shared``: told of each saved state (key, JSON), so a cluster's other processes adopt it
        (bot/runtime/cluster.py)."""
        self.kept = state  # where the feelings are kept (one global state key per character)
        self.key = state_key(character_key)
        self.time = time
        self.clock = clock
        self.state = EmotionState.at_rest(clock(), time)
        self._writer: asyncio.Task[None] | None = None
        self._dirty = False
        self._shared = shared

    def adopt(self, raw: str) -> bool:
        """Take a state another process saved (no write: it is stored already)."""
        try:
            self.state = EmotionState.from_json(raw)
        except ValueError:
            return False
        return True

    async def load(self) -> EmotionState:
        """The stored state (advanced to now), or a resting one when none is stored or it is unreadable."""
        raw = await self.kept.get(self.key)
        now = self.clock()
        try:
            self.state = EmotionState.from_json(raw) if raw else EmotionState.at_rest(now, self.time)
        except ValueError:
            log.warning("the stored %s is unreadable; starting from rest", self.key)
            self.state = EmotionState.at_rest(now, self.time)
        return advance(self.state, now, self.time)

    def current(self) -> EmotionState:
        return advance(self.state, self.clock(), self.time)

    @property
    def label(self) -> str:
        return self.current().label

    def describe(self) -> str:
        return describe(self.current())

    # -- engine hooks

    def block(self) -> str:
        """The stable prompt part: the label and its tone guidance (the same text while the label holds)."""
        return guidance(self.current().label)

    def system_part(self, persona: Persona, msg: Incoming, data: PromptData) -> str:
        return self.block()  # the label moves with every exchange: shown after the cached history

    async def on_turn(self, msg: Incoming, result: ReplyResult) -> None:
        self.feel(msg.content)
        await self.save()

    def feel(self, text: str) -> tuple[str, ...]:
        """One exchange: the stimuli its text carries move the state (in memory; save() persists)."""
        found = signals(text)
        stimulate(self.state, found, self.clock(), self.time)
        self._dirty = True
        return found

    # -- persistence

    async def save(self) -> None:
        """Persist the newest state; a save asked for while one is writing is folded into the next write."""
        self._dirty = True
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write(), name=f"save-{self.key}")
        await asyncio.shield(self._writer)

    async def _write(self) -> None:
        while self._dirty:
            self._dirty = False
            raw = self.state.to_json()
            try:
                await self.kept.set(self.key, raw)
            except Exception:
                log.exception("could not save %s", self.key)
                return
            if self._shared is not None:
                self._shared(self.key, raw)
