"""Conversations in threads: with ``/bot threads on`` a conversation started with the character goes on in a
thread it opens from the message, where it answers every message (unless people talk among themselves).

* :mod:`.talk`: the plain logic (``ConversationThreads``: whether to open one, opening it, whether a message
  in one is answered by right; ``thread_name``). The reply path names no feature: it is handed this as its
  ``ThreadTalk`` (bot/core/stages.py), lent by ``build`` below (``Contribution.thread_talk``), and asks it
  before a message is decided (the decider, the ensemble) and before an answer is posted (the pipeline).
* Its rows: database/talk_threads.py (a thread Discord deleted is forgotten: cogs/messages.py); its settings:
  its own section (:mod:`.config` ``ThreadSettings``: ``conversation_threads``, the default of the
  ``/bot threads`` switch). A thread's every answer is asked by the person who wrote there: no unprompted
  spending. Tests: tests/test_conversation_threads.py, tests/test_quiet.py (a quiet place's own thread).

Its registration (bot/operator/registration.py): ``FEATURE`` below.
"""

from __future__ import annotations

from bot.core.i18n import N_
from bot.features.threads.config import ThreadSettings
from bot.features.threads.talk import ConversationThreads, thread_name
from bot.operator.registration import Contribution, Feature, Parts, Switch

__all__ = ["FEATURE", "ConversationThreads", "thread_name"]


OPENING = Switch("threads", "Go on with a conversation in a thread I open (or not).",
                 N_("a conversation started with me goes on in a thread I open, where I answer every "
                    "message"),
                 section=ThreadSettings, key="conversation_threads")


def build(parts: Parts) -> Contribution:
    settings = parts.holder.follow(ThreadSettings)
    talk = ConversationThreads(parts.store.talk_threads, parts.switch(OPENING), settings, parts.store.log,
                               parts.character, parts.name)
    return Contribution(thread_talk=talk)


FEATURE = Feature(
    name="threads", settings=ThreadSettings,
    switches=(OPENING,),
    build=build)
