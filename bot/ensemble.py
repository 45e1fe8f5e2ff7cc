"""Several characters in one bot: who answers a message, and characters answering each other.

The main character speaks as the bot account; every other character of the cast speaks through a channel
webhook with its own name and avatar (the cog supplies those outlets). This module is plain Python:

* :func:`addressed` (entity detection by name, mention or reply) decides first: every character a message
  names answers, in the order they were named, each seeing the answers before its own;
* otherwise :class:`~bot.router.CharacterRouter` picks one candidate (global response chance, topic
  avoidances, follow-up cooldown, topic interests, whoever spoke last, weights, else the main character);
  the candidate's yes/no vote decides whether it joins in;
* a message from one of the cast may draw an answer from another: named characters answer, else banter
  happens by chance, scaled by the pair's affinity (-10..10, changed by each exchange, fading toward 0 over
  days). At most ``max_character_turns`` such replies in a row per channel until a person speaks.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from bot.addressing import addressed_order
from bot.config import Settings
from bot.engine import ReplyEngine
from bot.pipeline import Decision, Incoming, Outlet, ReplyResult
from bot.router import CharacterRouter, banter_probability, decayed_affinity, exchange_delta
from database.store import Store

__all__ = ["CastMember", "CharacterRouter", "Ensemble", "banter_probability", "exchange_delta"]

log = logging.getLogger(__name__)


@dataclass
class CastMember:
    key: str  # what its data is filed under (the folder name)
    engine: ReplyEngine

    @property
    def name(self) -> str:
        return self.engine.persona.name


class Ensemble:
    def __init__(
        self, cast: Sequence[CastMember], settings: Settings, store: Store, rng: random.Random | None = None
    ) -> None:
        if not cast:
            raise ValueError("an ensemble needs at least one character")
        self.cast = list(cast)
        self.settings = settings
        self.store = store
        self.rng = rng or random.Random()
        self.router = CharacterRouter(
            settings.router_sticky_seconds,
            response_chance=settings.global_response_chance,
            follow_up_cooldown=settings.follow_up_cooldown,
            rng=self.rng,
        )
        self.now: Callable[[], datetime] = lambda: datetime.now(UTC)  # affinity fades with the days
        self.bot_user_id: int | None = None  # the account the main character speaks as
        self.webhook_keys: dict[int, str] = {}  # webhook id -> the character it speaks for
        self._character_turns: dict[int, int] = {}
        self._chains: dict[int, int] = {}  # channels where several addressed characters are answering in turn

    @property
    def main(self) -> CastMember:
        return self.cast[0]

    def member(self, key: str) -> CastMember:
        return next(m for m in self.cast if m.key == key)

    def register_webhook(self, webhook_id: int, key: str) -> None:
        self.webhook_keys[webhook_id] = key
        for member in self.cast:  # the cast's own posts never count as another bot's
            member.engine.own_author_ids.add(webhook_id)

    def speaker_of(self, msg: Incoming) -> str | None:
        """Which of the cast wrote ``msg`` (None for people and other bots)."""
        if msg.webhook_id is not None and msg.webhook_id in self.webhook_keys:
            return self.webhook_keys[msg.webhook_id]
        if self.bot_user_id is not None and msg.author_id == self.bot_user_id:
            return self.main.key
        return None

    def author_key(self, author_id: int | None) -> str | None:
        if author_id is None:
            return None
        if author_id in self.webhook_keys:
            return self.webhook_keys[author_id]
        return self.main.key if author_id == self.bot_user_id else None

    def addressed(self, msg: Incoming, exclude: str | None = None) -> list[str]:
        """The cast members ``msg`` speaks to: a reply to one of them first, then names/mentions in order."""
        names = {m.key: m.engine.names() for m in self.cast if m.key != exclude}
        order = addressed_order(msg.content, names)
        if msg.mentions_bot and self.main.key != exclude and self.main.key not in order:
            order.insert(0, self.main.key)
        replied = self.author_key(msg.reply_to_author_id)
        if replied is not None and replied != exclude:
            order = [replied, *[k for k in order if k != replied]]
        return order

    # -- the whole pipeline for a server message

    async def handle(self, msg: Incoming, outlet_for: Callable[[str], Outlet]) -> list[ReplyResult]:
        main = self.main.engine
        speaker = self.speaker_of(msg)
        if speaker is not None:  # our own words: logged for context, then maybe another character answers
            if not await main.observe(msg):
                return []
            return await self._after_character(msg, speaker, outlet_for)
        if not await main.admit(msg):
            return []
        refused = await main.gate(msg, outlet_for(self.main.key))
        if refused is not None:
            await main.announce_decision(msg, refused)
            return []
        if not msg.author_is_bot:
            self._character_turns.pop(msg.channel_id, None)
        order = self.addressed(msg)
        if order:
            if msg.author_is_bot:
                blocked = main.throttle.blocked(msg.channel_id, msg.author_id)
                if blocked:
                    await main.announce_decision(msg, Decision(False, blocked))
                    return []
                main.throttle.replied_to_bot(msg.channel_id, msg.author_id)
            await main.announce_decision(
                msg, Decision(True, "addressed: " + ", ".join(self.member(k).name for k in order))
            )
            return await self._answer_in_turn(msg, order, outlet_for)
        key, reason = self.router.route(msg, self.cast)
        if key is None:
            await main.announce_decision(msg, Decision(False, reason))
            return []
        decision = await self.member(key).engine.decide(msg)
        await main.announce_decision(
            msg,
            Decision(decision.reply, f"{self.member(key).name}, {reason}; {decision.reason}", decision.votes),
        )
        if not decision.reply:
            return []
        if msg.author_is_bot:
            main.throttle.replied_to_bot(msg.channel_id, msg.author_id)
        self.router.joined_in(msg.channel_id, key)
        return await self._answer_in_turn(msg, [key], outlet_for)

    async def _answer_in_turn(
        self, msg: Incoming, order: Sequence[str], outlet_for: Callable[[str], Outlet]
    ) -> list[ReplyResult]:
        """Each addressed character answers in turn; the later ones see the earlier answers."""
        results: list[ReplyResult] = []
        chain = len(order) > 1
        if chain:
            self._chains[msg.channel_id] = self._chains.get(msg.channel_id, 0) + 1
        try:
            for position, key in enumerate(order):
                if position:
                    await self._wait_logged(msg, results[-1])
                self.router.spoke(msg.channel_id, key)  # from the moment it takes the turn
                result = await self.member(key).engine.respond(msg, outlet_for(key), see_later=position > 0)
                results.append(result)
        finally:
            if chain:
                self._chains[msg.channel_id] -= 1
        return results

    async def _wait_logged(self, msg: Incoming, previous: ReplyResult) -> None:
        """The previous answer reaches the log when Discord echoes it back; wait for that (briefly)."""
        ids = {i for i in previous.message_ids if i is not None}
        if ids:
            await self.main.engine.wait_for_arrival(
                lambda seen: seen.message_id in ids, timeout=5.0, look_back=msg.channel_id
            )

    async def _after_character(
        self, msg: Incoming, speaker: str, outlet_for: Callable[[str], Outlet]
    ) -> list[ReplyResult]:
        if msg.is_dm or len(self.cast) < 2 or self._chains.get(msg.channel_id):
            return []  # (during a chain, the next addressed character answers anyway: no banter on top)
        turns = self._character_turns.get(msg.channel_id, 0)
        if turns >= self.settings.max_character_turns:
            log.info(
                "message %s: %d character turns in a row in channel %s; waiting for a person",
                msg.message_id,
                turns,
                msg.channel_id,
            )
            return []
        named = self.addressed(msg, exclude=speaker)
        if named:
            key, reason = named[0], "named by " + self.member(speaker).name
        else:
            picked = await self._banter_pick(speaker, msg.channel_id)
            if picked is None:
                return []
            key, reason = picked
            self.router.joined_in(msg.channel_id, key)
        self._character_turns[msg.channel_id] = turns + 1
        await self.main.engine.announce_decision(
            msg, Decision(True, f"{self.member(key).name} answers {self.member(speaker).name} ({reason})")
        )
        self.router.spoke(msg.channel_id, key)
        result = await self.member(key).engine.respond(msg, outlet_for(key))
        if result.ok:
            value = await self.store.characters.adjust_affinity(
                speaker, key, exchange_delta(result.text), decay=self._fade
            )
            log.info("affinity %s/%s now %+.2f", speaker, key, value)
        return [result]

    def _fade(self, value: float, updated_at: datetime | None) -> float:
        return decayed_affinity(value, updated_at, self.now(), self.settings.affinity_decay_days)

    async def affinity(self, a: str, b: str) -> float:
        """The pair's affinity now: as stored, faded by the days since they last talked."""
        value, _, updated_at = await self.store.characters.affinity_since(a, b)
        return self._fade(value, updated_at)

    async def _banter_pick(self, speaker: str, channel_id: int) -> tuple[str, str] | None:
        others = [
            m for m in self.cast if m.key != speaker and not self.router.cooldown_left(channel_id, m.key)
        ]
        self.rng.shuffle(others)
        for member in others:
            affinity = await self.affinity(speaker, member.key)
            chance = banter_probability(self.settings.banter_chance, affinity)
            if self.rng.random() < chance:
                return member.key, f"banter, chance {chance:.0%} at affinity {affinity:+.1f}"
        return None
