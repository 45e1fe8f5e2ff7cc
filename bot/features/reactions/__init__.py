"""Emote reactions: a warm message aimed at the character that its vote left unanswered gets an emote instead
of a reply (``/bot reactions on|off|default [scope]``; default: the ``emote_reactions`` setting, on), at most
``reaction_rate_limit`` a channel an hour. No model call: only the signs that mean the same in every language
count.

* :mod:`.reacting`: the decisions (``may_react``, ``warm_stimuli``, ``aimed_at_me``) and the reacting
  (``EmoteReactions``, a decision observer of every character's replies), with the character's emotes,
  feelings and Discord side (bot/alive/service.py ``AliveParts``, handed over as ``Parts.alive``); its hourly
  cap per channel: bot/alive/reactions.py ``ReactionGate``. Its settings: the alive section's
  ``emote_reactions`` and ``reaction_rate_limit`` (beside the feelings and emotes it reacts with). Tests:
  tests/test_alive_models.py, tests/test_feelings_in_context.py.

Its registration (bot/operator/registration.py): ``FEATURE`` below.
"""

from __future__ import annotations

from bot.core.config import AliveSettings
from bot.core.i18n import N_
from bot.features.reactions.reacting import EmoteReactions
from bot.operator.registration import Contribution, Feature, Parts, Switch

REACTING = Switch("reactions", "Let me react with emotes to warm messages I don't answer.",
                  N_("I react with an emote to warm messages I don't answer"), section=AliveSettings,
                  key="emote_reactions")


def build(parts: Parts) -> Contribution:
    if parts.alive is None:  # nothing alive to react with
        return Contribution()
    reactions = EmoteReactions(parts.alive, parts.switch(REACTING), parts.store.log,
                               parts.holder.follow(AliveSettings), parts.accounts)
    return Contribution(decision_observers=(reactions.react,))


FEATURE = Feature(
    name="reactions",
    switches=(REACTING,),
    build=build)
