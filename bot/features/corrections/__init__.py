"""Answers to corrections: where a place asks for it (``/bot corrections on|off|default [scope]``; default:
the ``correction_answers`` setting, off; in a DM the setting stands), a correction reaction (👎) on one of
the character's replies gets one short reply of its own, at most ``correction_answers_per_hour`` a channel.

* Its logic is the character's own, beside the reactions it feels: bot/alive/answering.py
  ``CorrectionAnswers``, asked by bot/alive/reacting.py ``FeltReactions``; its settings: the alive section's
  ``correction_answers`` and ``correction_answers_per_hour``. Tests: tests/test_reaction_answers.py,
  tests/test_forget_after_post.py.

Its registration (bot/operator/registration.py): ``FEATURE`` below: the place switch, and its unprompted
spending (an answer nobody wrote to the character for).
"""

from __future__ import annotations

from bot.alive.answering import SWITCH
from bot.core.config import AliveSettings
from bot.core.i18n import N_
from bot.operator.registration import Feature, Switch

FEATURE = Feature(
    name="corrections",
    switches=(Switch(SWITCH, "Answer a correction reaction (👎) on one of my replies right away (or not).",
                     N_("a correction reaction on one of my replies gets a short answer of its own"),
                     section=AliveSettings, key="correction_answers"),),
    unprompted=frozenset({"correction"}))  # an answer to a reaction (bot/alive/answering.py)
