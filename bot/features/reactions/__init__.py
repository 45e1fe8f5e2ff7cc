"""Emote reactions: a warm message aimed at the character that its vote left unanswered gets an emote instead
of a reply (``/bot reactions on|off|default [scope]``; default: the ``emote_reactions`` setting, on), at most
``reaction_rate_limit`` a channel an hour. No model call: only the signs that mean the same in every language
count.

* Its logic is the character's own, beside its feelings and the server's emotes it reacts with: the pure
  decisions in bot/alive/reactions.py, the reacting in bot/alive/service.py ``AliveParts.react`` (a decision
  observer of every character's replies); its settings: the alive section's ``emote_reactions`` and
  ``reaction_rate_limit``. Tests: tests/test_alive_models.py, tests/test_feelings_in_context.py.

Its registration (bot/operator/registration.py): ``FEATURE`` below: the place switch.
"""

from __future__ import annotations

from bot.alive.reactions import SWITCH
from bot.core.config import AliveSettings
from bot.operator.registration import Feature, Switch

FEATURE = Feature(
    name="reactions",
    switches=(Switch(SWITCH, "Let me react with emotes to warm messages I don't answer.",
                     "I react with an emote to warm messages I don't answer", section=AliveSettings,
                     key="emote_reactions"),))
