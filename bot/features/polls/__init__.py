"""Polls: ``/poll`` asks a question with 2 to 25 options, a button each; one vote per person, changeable;
at the closing time the results are posted with a bar chart, once, across restarts and the cluster's
processes. The whole feature is here and in its cog:

* :mod:`.lifecycle`: the plain logic (``PollLifecycle``: create, vote, close; the options and the duration
  read, the tallies, the words shown) and what it asks of Discord (``PollBoard``: a closed poll's results
  shown). A poll closes from its ``poll`` timer (bot/core/timers.py).
* :mod:`.results`: the counts and the results in words, each within the room Discord gives it (the panel's
  list of options, the message posted with the chart).
* :mod:`.tables`: its rows (``Poll``, ``PollVote``, on the shared ``Base``: migration 0005_server_tools) and
  what /forget_me deletes of them; :mod:`.rows`: its repository (``Polls``, built here from the store's
  database) and the record a poll is read as (``PollRecord``); :mod:`.charts`: the results' bar chart.
* Its slash command, buttons and Discord side (the panel, the results posted): cogs/polls.py, which hands
  its board to the lifecycle as it loads. Its person columns, for /forget_me's proof and /export_me, are
  declared on its tables. Tests: tests/test_polls.py, tests/test_server_tools_units.py.

Its registration (bot/operator/registration.py): ``FEATURE`` below.
"""

from __future__ import annotations

from bot.features.polls.lifecycle import TIMER, PollBoard, PollLifecycle
from bot.features.polls.rows import PollRecord, Polls
from bot.features.polls.tables import Poll, PollVote, forget_person
from bot.operator.registration import Contribution, Feature, Parts, Running, TimerHandler

__all__ = ["FEATURE", "Poll", "PollBoard", "PollLifecycle", "PollRecord", "PollVote", "Polls"]


def build(parts: Parts) -> Contribution:
    store = parts.store
    polls = PollLifecycle(Polls(store.db), store.privacy, parts.timers, character=parts.name)

    def timers(_: Running) -> dict[str, TimerHandler]:
        return {TIMER: polls.close_due}

    return Contribution(parts=(polls,), timers=timers)


FEATURE = Feature(name="polls", cogs=("cogs.polls",), forget=forget_person, build=build)
