"""Swipes: the ◀ ▶ 🔄 buttons on the character's latest reply, to page through other answers to the same
message (as SillyTavern does), and ``/reroll``, which presses 🔄 with an out-of-character note.

* :mod:`.alternatives`: the plain logic (``ReplySwipes``): which reply is offered them, a new alternative
  (the reply path's generic ``ReplyPipeline.alternative``, on the character who answered), the one shown
  written into the stored answer; and the ``swipe-expiry`` durable timer that takes the buttons off when
  ``swipe_timeout_seconds`` ran out (``SwipeExpiry``).
* Discord's side (the buttons, the edits, the reply posted with its buttons on: a post observer of the
  message flow) is its cog's, cogs/swipes.py, connected as the cog loads. The reply path names no swipe: an
  outlet may post a reply known at its post to be one whole message with controls of its own
  (bot/reply/delivery.py ``WholeAnswerOutlet``), which the Discord outlets give to this desk.
* Its slash command and buttons: cogs/swipes.py; its rows: database/swipes.py (a reply to a person: theirs,
  deleted by their /forget_me, and none opened after it: a /forget_me since the message came means none,
  one that begins while they open waits for them, database/privacy.py ``writing_about``); its settings: its
  own section (:mod:`.config` ``SwipeSettings``: ``swipes``, the default of the ``/bot swipes`` switch, and
  ``swipe_timeout_seconds``).
  A new alternative is asked by a person (a press, /reroll: ``Way.NEW_ANSWER``, counted as one of their
  messages), never of the character's own accord: no unprompted spending. Tests: tests/test_swipes.py,
  tests/test_forget_after_post.py.

Its registration (bot/operator/registration.py): ``FEATURE`` below.
"""

from __future__ import annotations

from bot.core.config import DiscordSettings
from bot.core.i18n import N_
from bot.features.swipes.alternatives import (
    SWITCH,
    TIMER,
    ReplySwipes,
    SwipeBoard,
    Swiped,
    SwipeExpiry,
    Swiper,
)
from bot.features.swipes.config import SwipeSettings
from bot.operator.registration import Contribution, Feature, Parts, Running, Switch, TimerHandler
from database.swipes import forget_person

__all__ = ["FEATURE", "ReplySwipes", "SwipeBoard", "Swiped", "SwipeExpiry", "Swiper"]


SHOWN = Switch(SWITCH, "Put the swipe buttons on my latest reply here (or not).",
               N_("my latest reply carries the swipe buttons, to see another answer"),
               section=SwipeSettings, key="swipes")


def build(parts: Parts) -> Contribution:
    settings, discord = parts.holder.follow(SwipeSettings), parts.holder.follow(DiscordSettings)
    expiry = SwipeExpiry(parts.store)  # Discord's side connected by the cog (cogs/swipes.py)

    def timers(_: Running) -> dict[str, TimerHandler]:
        return {TIMER: expiry.expire}

    def later_parts(running: Running) -> tuple[object, ...]:
        # a new alternative is asked of the character who answered: built once the characters are
        return (ReplySwipes(parts.store, settings, discord, running.cast, parts.timers, parts.switch(SHOWN)),)

    return Contribution(timers=timers, parts=(expiry,), later_parts=later_parts)


FEATURE = Feature(
    name="swipes", settings=SwipeSettings, switches=(SHOWN,),
    cogs=("cogs.swipes",), forget=forget_person, build=build)
