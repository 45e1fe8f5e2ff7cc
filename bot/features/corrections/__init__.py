"""Answers to corrections: where a place asks for it (``/bot corrections on|off|default [scope]``; default:
the ``correction_answers`` setting, off; in a DM the setting stands), a correction reaction (👎) on one of
the character's replies gets one short reply of its own, at most ``correction_answers_per_hour`` a channel.

* :mod:`.answering`: the logic (``CorrectionAnswers``: whether a correction is answered, and the answer,
  written as the character's other unprompted lines are). The reactions the character feels
  (bot/alive/reacting.py ``FeltReactions``) name no feature: each correction kept is handed to their
  ``Answers``, this one, lent by ``build`` below (``Contribution.correction_answers``, built once the
  character's initiative is, from ``Running``).
* Its settings: its own section (:mod:`.config` ``CorrectionSettings``: ``correction_answers``, the default
  of the ``/bot corrections`` switch, and ``correction_answers_per_hour``); the reactions that are
  corrections: the alive section's ``correction_reactions``. Tests: tests/test_reaction_answers.py,
  tests/test_forget_after_post.py.

Its registration (bot/operator/registration.py): ``FEATURE`` below: the place switch, and its unprompted
spending (an answer nobody wrote to the character for).
"""

from __future__ import annotations

from bot.core.i18n import N_
from bot.features.corrections.answering import CorrectionAnswers
from bot.features.corrections.config import CorrectionSettings
from bot.operator.registration import Contribution, Feature, Parts, Running, Switch

__all__ = ["FEATURE", "CorrectionAnswers"]


ASKED = Switch("corrections", "Answer a correction reaction (👎) on one of my replies right away (or not).",
               N_("a correction reaction on one of my replies gets a short answer of its own"),
               section=CorrectionSettings, key="correction_answers")


def build(parts: Parts) -> Contribution:
    alive = parts.alive
    if alive is None:  # no reactions felt: none to answer
        return Contribution()
    settings = parts.holder.follow(CorrectionSettings)

    def answers(running: Running) -> CorrectionAnswers:
        return CorrectionAnswers(running.speaker, running.time, running.side, settings,
                                 parts.switch(ASKED), feeling=running.feeling,
                                 feelings=lambda: alive.main_feelings, remembers=running.remembers,
                                 mirror=running.mirror)

    return Contribution(correction_answers=answers)


FEATURE = Feature(
    name="corrections", settings=CorrectionSettings,
    switches=(ASKED,),
    unprompted=frozenset({"correction"}),  # an answer to a reaction (:mod:`.answering`)
    build=build)
