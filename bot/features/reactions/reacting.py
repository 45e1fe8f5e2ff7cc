"""Emote reactions instead of replies: when the vote says no but the message is warmly aimed at the
character (a warm or thankful sign, "<3", "🥰", "🙏", right after something it said), it reacts with an
emote, at most ``reaction_rate_limit`` times per channel per hour. No model reads an unanswered message, so
only the signals that mean the same in every language count (bot/alive/appraisal.py). The decisions are
pure functions; :class:`EmoteReactions` (a decision observer of every character's replies) reacts through
the character's Discord side, with the server's emotes, and the reaction moves its feelings as an exchange
would."""

from __future__ import annotations

import logging
from collections.abc import Collection, Iterable

from bot.alive.appraisal import appraise
from bot.alive.emotes import Emote, warm_reaction
from bot.alive.reactions import ReactionGate
from bot.alive.service import AliveParts
from bot.core.config import AliveSettings
from bot.core.i18n import N_
from bot.core.lines import Line
from bot.core.stages import Decision, Incoming
from bot.operator.registration import PlaceSwitch
from database.log import MessageLog
from database.records import SeenMessage

log = logging.getLogger(__name__)

WARM = frozenset({"warmth", "praise"})


def may_react(msg: Incoming, decision: Decision) -> bool:
    """The cheap part: a server message from a person that a vote decided not to answer."""
    return not decision.reply and bool(decision.votes) and not msg.is_dm and not msg.author_is_bot


def warm_stimuli(text: str) -> tuple[str, ...]:
    """The message's stimuli when it is warm by its signs (else empty): not with a hostile one beside."""
    found = appraise(text)
    return found if WARM & set(found) and "conflict" not in found else ()


def aimed_at_me(previous: Iterable[SeenMessage], own_ids: Collection[int]) -> bool:
    """The message follows something the character said (the channel's message just before it)."""
    latest = max(previous, key=lambda m: m.message_id, default=None)
    return latest is not None and latest.author_id in own_ids


class EmoteReactions:
    """Reacts with an emote to a warm message aimed at the character that its vote left unanswered (warm by
    its local signals alone: no model reads an unanswered message, bot/alive/appraisal.py). ``alive``: the
    character's emotes, feelings, clock and Discord side; ``settings``: the alive section (follows reloads);
    ``accounts``: the main character's own."""

    def __init__(self, alive: AliveParts, switched_on: PlaceSwitch, messages: MessageLog,
                 settings: AliveSettings, accounts: Collection[int]) -> None:
        """``switched_on``: /bot reactions (the emote_reactions setting its default)."""
        self.alive = alive
        self.switched_on = switched_on
        self.messages = messages
        self.settings = settings
        self.accounts = accounts
        self.gate = ReactionGate(settings.reaction_rate_limit)

    async def react(self, msg: Incoming, decision: Decision) -> None:
        if not may_react(msg, decision):
            return
        stimuli = warm_stimuli(msg.content)
        if not stimuli:
            return
        if not await self.switched_on.on(msg.place):
            return
        previous = await self.messages.recent_messages(msg.channel_id, limit=1, before_id=msg.message_id)
        if not aimed_at_me(previous, self.accounts):
            return
        alive = self.alive
        where = msg.log_place  # a private place by id only
        if not self.gate.allow(msg.channel_id, alive.clock()):
            limit = self.settings.reaction_rate_limit
            alive.mirror(Line.tn(limit, "No emote reaction in {where}: {count} per hour reached.",
                                 "No emote reaction in {where}: {count} per hour reached.", where=where))
            return
        emote = warm_reaction(alive.emotes(msg), stimuli)
        await alive.side.react(msg.channel_id, msg.message_id, emote)
        if self.settings.emotions:
            await alive.main_feelings.exchange(msg)
        shown = emote.syntax if isinstance(emote, Emote) else emote
        log.info("reacted %s to message %s instead of replying", shown, msg.message_id)
        who = Line(N_("user {user}"), user=msg.author_id) if msg.private else msg.author_name
        alive.mirror(Line(N_("Reacted {emote} in {where} to {who} instead of replying (warm, the vote said "
                             "no)."), emote=shown, where=where, who=who))
