"""Stage 2 of a reply, decide: answered without asking anyone (a DM, an @mention, a reply, the name),
left to another character named in it, skipped (another bot's command, a server answering only when
addressed, a message the first look finds of no interest: bot/reply/deciding/firstlook.py), or put to a vote
round (bot/reply/deciding/voting.py); then the decision observers hear of it.

The package's one entry point: modules outside it import what they use from here, never from its modules
(tests/test_architecture.py). Among several characters, who takes a message nobody addressed is
bot/reply/deciding/router.py's."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Collection

from bot.core.config.sections import TriageSettings
from bot.core.i18n import N_
from bot.core.lines import Line
from bot.core.policy import ServerPolicies
from bot.core.stages import Decision, DecisionListener, Incoming, ThreadTalk, safely
from bot.reply.deciding.addressing import Addressee, CharacterNames, addressed_order
from bot.reply.deciding.cardwords import CardVocabulary
from bot.reply.deciding.firstlook import CardProfile, FirstLook, Look
from bot.reply.deciding.intent import IntentRouter
from bot.reply.deciding.router import CharacterRouter, banter_probability, decayed_affinity, exchange_delta
from bot.reply.deciding.triage import parse_prefixes, skip_reason
from bot.reply.deciding.turns import TurnTaking
from bot.reply.deciding.voting import Ballot, Voting
from bot.reply.throttle import BotThrottle

__all__ = [
    "Addressee", "Ballot", "CardProfile", "CardVocabulary", "CharacterNames", "CharacterRouter",
    "Decider",
    "FirstLook", "IntentRouter", "Look", "TurnTaking",
    "Voting", "addressed_order", "banter_probability", "decayed_affinity", "exchange_delta",
]

log = logging.getLogger(__name__)

# The decider's fixed reasons, made once (the log channel renders them in its language, bot/core/lines.py).
DIRECT_MESSAGE = Line(N_("direct message"))
MENTIONED = Line(N_("mentioned"))
REPLY_TO_ME = Line(N_("reply to one of my messages"))
NAME_MENTIONED = Line(N_("name mentioned"))
EMPTY = Line(N_("empty message"))
OWN_THREAD = Line(N_("in the thread I opened"))
ADDRESSED_ONLY = Line(N_("this server's reply mode is addressed only"))
OWED = Line(N_("owed from before a restart"))


class Decider:
    """Whether one character answers a message, and why; ``observers``: the decision observers, in order."""

    def __init__(self, addressee: Addressee, throttle: BotThrottle, turns: TurnTaking, triage: TriageSettings,
                 voting: Voting, policies: ServerPolicies, intents: IntentRouter, accounts: Collection[int],
                 observers: tuple[DecisionListener, ...], first_look: FirstLook,
                 threads: ThreadTalk | None = None) -> None:
        self.addressee = addressee
        self.throttle = throttle
        self.turns = turns
        self.triage = triage  # read at each message: a reload applies
        self.voting = voting
        self.policies = policies
        self.intents = intents
        self.own_author_ids = accounts
        self.observers = observers
        self.first_look = first_look  # which unaddressed messages get a vote round at all
        self.threads = threads  # the threads the character opened, where it answers every message

    @property
    def bot_prefixes(self) -> tuple[str, ...]:
        """Other bots' command prefixes as configured now (parsed once per value)."""
        return parse_prefixes(self.triage.other_bot_prefixes)

    async def decide(self, msg: Incoming, *, owed: bool = False) -> Decision:
        """``owed``: a reply owed since before a restart, decided again as a live message except for a vote:
        its mark was written only once it was decided to answer (a vote said yes), so no second round."""
        decision = await self._decide(msg, owed)
        if decision.reply:  # the intent is logged with the decision
            if not msg.is_dm:
                self.first_look.spoke(msg.channel_id, msg.author_id)
            decision = dataclasses.replace(decision, intent=self.intents.route(msg).intent.value)
        return decision

    async def _decide(self, msg: Incoming, owed: bool = False) -> Decision:
        if msg.author_is_bot:
            blocked = self.throttle.blocked(msg.channel_id, msg.author_id)
            if blocked is not None:
                return blocked
        if msg.is_dm:
            return Decision(True, DIRECT_MESSAGE, kind="direct_message")
        self.first_look.heard(msg.channel_id)  # the channel's pace, whoever the message is for
        if msg.mentions_bot:
            return Decision(True, MENTIONED, after=self.turns.characters_before_me(msg),
                            kind="mentioned")
        if msg.replies_to_bot:
            return Decision(True, REPLY_TO_ME, kind="reply_to_me")
        if self.addressee.names_me(msg):
            return Decision(True, NAME_MENTIONED, after=self.turns.characters_before_me(msg),
                            kind="name_mentioned")
        if not msg.content.strip():
            return Decision(False, EMPTY, kind="empty")
        if (self.threads is not None and msg.parent_id is not None and not msg.author_is_bot
                and await self.threads.answers_all(msg, self.own_author_ids)):
            return Decision(True, OWN_THREAD, kind="own_thread")
        # Name match first: a message naming another character (and not us) is theirs, no vote needed.
        if self.turns.has_peers(msg.channel_id):
            others = [c for c in self.turns.addressed_characters(msg) if c]
            if others:
                return Decision(False, Line(N_("addressed to {names}"), names=", ".join(others)),
                                kind="addressed_to_others")
        skip = skip_reason(msg, prefixes=self.bot_prefixes, own_ids=self.own_author_ids,
                           card_word=self.first_look.says_card)
        if skip is not None:
            return Decision(False, skip, kind="filtered")  # (every reason triage gives)
        policy = await self.policies.of(msg.guild_id)
        if policy is not None and not policy.votes:
            return Decision(False, ADDRESSED_ONLY,
                            kind="addressed_only_mode")
        if owed:
            return Decision(True, OWED, kind="owed")
        look = self.first_look.look(msg)  # addressed messages never wait for it: they were answered above
        if not look.vote:
            return Decision(False, look.reason, kind=look.kind)
        decision = await self.voting.submit(msg)  # one vote round per burst of the channel
        if decision.votes:  # a round ran (not coalesced into a later message's)
            self.first_look.voted(msg.channel_id)
        return decision

    async def announce_decision(self, msg: Incoming, decision: Decision) -> None:
        if log.isEnabledFor(logging.INFO):  # describe() formats: not for every message of a busy server
            log.info("message %s from %s in %s: %s", msg.message_id, msg.author_name, msg.scope,
                     decision.describe().english())
        for listener in self.observers:
            await safely(listener(msg, decision), log)

