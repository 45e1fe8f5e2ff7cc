"""Several characters in one bot: who answers a message, and characters answering each other.

The main character speaks as the bot account; every other character of the cast speaks through a channel
webhook with its own name and avatar (the cog supplies those outlets). This module is plain Python:

* :func:`addressed` (entity detection by name, mention or reply) decides first: every character a message
  names answers, in the order they were named, each seeing the answers before its own;
* otherwise :class:`~bot.reply.deciding.router.CharacterRouter` picks one candidate (global response chance,
  topic avoidances, follow-up cooldown, topic interests, whoever spoke last, weights, else the main
  character);
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

from bot.core.config import EnsembleSettings
from bot.core.i18n import N_
from bot.core.lines import Figure, Line
from bot.core.stages import Decision, Incoming, OwnAccounts, ReplyResult, ThreadTalk
from bot.reply.deciding import (
    CharacterRouter,
    addressed_order,
    banter_probability,
    decayed_affinity,
    exchange_delta,
)
from bot.reply.pipeline import Casting, ReplyPipeline
from database.characters import Characters

__all__ = ["CastMember", "CharacterRouter", "Ensemble", "banter_probability", "exchange_delta"]

log = logging.getLogger(__name__)


@dataclass
class CastMember:
    """One character of an ensemble: its key (what its data is filed under, the folder name) and pipeline."""

    key: str
    pipeline: ReplyPipeline

    @property
    def name(self) -> str:
        return self.pipeline.persona.name


class Ensemble:
    def __init__(
        self, cast: Sequence[CastMember], settings: EnsembleSettings, characters: Characters,
        rng: random.Random | None = None, *, accounts: OwnAccounts | None = None,
        threads: ThreadTalk | None = None,
    ) -> None:
        """``accounts``: the main character's own (the bot user, known at login, and the cast's webhooks,
        which every character's accounts share); ``threads``: the conversation threads the bot opened."""
        if not cast:
            raise ValueError("an ensemble needs at least one character")
        self.members = list(cast)
        self.accounts = accounts if accounts is not None else OwnAccounts()
        self.settings = settings  # the ensemble section, read at each use (a live reload applies)
        self.characters = characters  # the pairs' affinity
        self.rng = rng or random.Random()
        self.router = CharacterRouter(
            settings.router_sticky_seconds,
            response_chance=settings.global_response_chance,
            follow_up_cooldown=settings.follow_up_cooldown,
            rng=self.rng,
        )
        self.now: Callable[[], datetime] = lambda: datetime.now(UTC)  # affinity fades with the days
        self.threads = threads
        self.webhook_keys: dict[int, str] = {}  # webhook id -> the character it speaks for
        self._character_turns: dict[int, int] = {}
        self._chains: dict[int, int] = {}  # channels where several addressed characters are answering in turn

    @property
    def main(self) -> ReplyPipeline:
        """The character the bot account speaks as."""
        return self.members[0].pipeline

    @property
    def main_key(self) -> str:
        return self.members[0].key

    def member(self, key: str) -> CastMember:
        return next(m for m in self.members if m.key == key)

    def register_webhook(self, webhook_id: int, key: str) -> None:
        self.webhook_keys[webhook_id] = key
        self.accounts.register_webhook(webhook_id)  # the cast's own posts never count as another bot's

    def speaker_of(self, msg: Incoming) -> str | None:
        """Which of the cast wrote ``msg`` (None for people and other bots)."""
        if msg.webhook_id is not None and msg.webhook_id in self.webhook_keys:
            return self.webhook_keys[msg.webhook_id]
        if self.accounts.user_id is not None and msg.author_id == self.accounts.user_id:
            return self.main_key
        return None

    def author_key(self, author_id: int | None) -> str | None:
        if author_id is None:
            return None
        if author_id in self.webhook_keys:
            return self.webhook_keys[author_id]
        return self.main_key if author_id == self.accounts.user_id else None

    def addressed(self, msg: Incoming, exclude: str | None = None) -> list[str]:
        """The cast members ``msg`` speaks to: a reply to one of them first, then names/mentions in order."""
        names = {m.key: m.pipeline.names() for m in self.members if m.key != exclude}
        order = addressed_order(msg.content, names)
        if msg.mentions_bot and self.main_key != exclude and self.main_key not in order:
            order.insert(0, self.main_key)
        replied = self.author_key(msg.reply_to_author_id)
        if replied is not None and replied != exclude:
            order = [replied, *[k for k in order if k != replied]]
        return order

    # -- the cast of the one reply sequence (bot/reply/pipeline.py)

    def pipeline(self, key: str) -> ReplyPipeline:
        return self.member(key).pipeline

    @property
    def pipelines(self) -> list[ReplyPipeline]:
        return [m.pipeline for m in self.members]

    def own_words(self, msg: Incoming) -> bool:
        return self.speaker_of(msg) is not None

    async def cast(self, msg: Incoming) -> Casting:
        """Who of the cast answers ``msg``, in what order."""
        speaker = self.speaker_of(msg)
        if speaker is not None:  # our own words: maybe another character answers
            return await self._after_character(msg, speaker)
        if msg.is_dm:  # a DM is the main character's own conversation (no webhooks there)
            decision = await self.main.decide(msg)
            return Casting(decision, (self.main_key,) if decision.reply else ())
        if not msg.author_is_bot:
            self._character_turns.pop(msg.channel_id, None)
        order = self.addressed(msg)
        if not order and await self._in_own_thread(msg):
            talker = await self._thread_speaker(msg)
            self.router.joined_in(msg.channel_id, talker)
            decision = Decision(True, Line(N_("{name}, in the thread opened to talk"),
                                           name=self.member(talker).name), kind="own_thread")
            return self._chain(msg, decision, [talker])
        if order:
            if msg.author_is_bot:
                answering = await self.main.decide(msg, addressed=True)  # unless it would loop
                if not answering.reply:
                    return Casting.quiet(answering)
            decision = Decision(True, Line(N_("addressed: {names}"),
                                     names=", ".join(self.member(k).name for k in order)),
                                kind="addressed")
            return self._chain(msg, decision, order)
        key, reason = self.router.route(msg, self.members)
        if key is None:
            return Casting.quiet(Decision(False, reason, kind="unrouted"))
        decision = await self.member(key).pipeline.decide(msg)
        decision = Decision(decision.reply, Line(N_("{name}, {why}; {decision}"), name=self.member(key).name,
                                                 why=reason, decision=decision.reason),
                            decision.votes, kind=decision.kind)
        if not decision.reply:
            return Casting.quiet(decision)
        self.router.joined_in(msg.channel_id, key)
        return self._chain(msg, decision, [key])

    async def _in_own_thread(self, msg: Incoming) -> bool:
        """A person's message in a thread the bot opened to go on with a conversation (/bot threads), for
        the cast rather than people talking among themselves: answered by right, as one character's is."""
        return (self.threads is not None and msg.parent_id is not None and not msg.author_is_bot
                and await self.threads.answers_all(msg, self.accounts))

    async def _thread_speaker(self, msg: Incoming) -> str:
        """Who the thread's conversation is with: the character who spoke there last (the one who answered
        the message it began from, at first); the main character where none of the cast has."""
        assert self.threads is not None
        recent = await self.threads.messages.recent_messages(msg.channel_id, limit=20,
                                                             before_id=msg.message_id)
        for seen in reversed(recent):
            key = self.author_key(seen.author_id)
            if key is not None:
                return key
        return self.main_key

    def _chain(self, msg: Incoming, decision: Decision, order: Sequence[str]) -> Casting:
        """Each character answers in turn, the later ones seeing the earlier answers; while several answer,
        nobody bants on top of them."""
        channel = msg.channel_id
        chain = len(order) > 1
        if chain:
            self._chains[channel] = self._chains.get(channel, 0) + 1
        for key in order[:1]:
            self.router.spoke(channel, key)

        async def finish(results: Sequence[ReplyResult]) -> None:
            for key in order[1:len(results) + 1]:
                self.router.spoke(channel, key)
            if chain:
                self._chains[channel] -= 1

        return Casting(decision, tuple(order), finish)

    async def _after_character(self, msg: Incoming, speaker: str) -> Casting:
        if msg.is_dm or len(self.members) < 2 or self._chains.get(msg.channel_id):
            # (during a chain, the next addressed character answers anyway: no banter on top)
            return Casting.quiet(Decision(False, Line(N_("one of my characters spoke")),
                                          kind="ensemble_spoke"))
        turns = self._character_turns.get(msg.channel_id, 0)
        if turns >= self.settings.max_character_turns:
            return Casting.quiet(Decision(
                False, Line.tn(turns, "{count} character turn in a row in this channel; waiting for a person",
                               "{count} character turns in a row in this channel; waiting for a person"),
                kind="ensemble_turns"))
        named = self.addressed(msg, exclude=speaker)
        if named:
            key, reason = named[0], Line(N_("named by {name}"), name=self.member(speaker).name)
        else:
            picked = await self._banter_pick(speaker, msg.channel_id)
            if picked is None:
                return Casting.quiet(Decision(False, Line(N_("nobody answers {name}"),
                                                          name=self.member(speaker).name),
                                              kind="ensemble_quiet"))
            key, reason = picked
            self.router.joined_in(msg.channel_id, key)
        self._character_turns[msg.channel_id] = turns + 1
        self.router.spoke(msg.channel_id, key)

        async def finish(results: Sequence[ReplyResult]) -> None:
            if results and results[0].ok:
                value = await self.characters.adjust_affinity(
                    speaker, key, exchange_delta(results[0].felt), decay=self._fade)
                log.info("affinity %s/%s now %+.2f", speaker, key, value)

        decision = Decision(True, Line(N_("{name} answers {speaker} ({why})"), name=self.member(key).name,
                                      speaker=self.member(speaker).name, why=reason),
                            kind="ensemble_answer")
        return Casting(decision, (key,), finish)

    def _fade(self, value: float, updated_at: datetime | None) -> float:
        return decayed_affinity(value, updated_at, self.now(), self.settings.affinity_decay_days)

    async def affinity(self, a: str, b: str) -> float:
        """The pair's affinity now: as stored, faded by the days since they last talked."""
        value, _, updated_at = await self.characters.affinity_since(a, b)
        return self._fade(value, updated_at)

    async def _banter_pick(self, speaker: str, channel_id: int) -> tuple[str, Line] | None:
        others = [
            m for m in self.members if m.key != speaker and not self.router.cooldown_left(channel_id, m.key)
        ]
        self.rng.shuffle(others)
        for member in others:
            affinity = await self.affinity(speaker, member.key)
            chance = banter_probability(self.settings.banter_chance, affinity)
            if self.rng.random() < chance:
                return member.key, Line(N_("banter, chance {chance} at affinity {affinity}"),
                                        chance=Figure(chance, share=True),
                                        affinity=Figure(affinity, 1, signed=True))
        return None
