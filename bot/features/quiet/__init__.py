"""Quiet places: ``/bot quiet on|off|default [scope]`` (a channel, or the whole server; a channel's setting
wins; default off). Where it is on, the character answers only when it is addressed (named, @mentioned, or
replied to) and never joins in on its own: an unaddressed message is stopped before any vote is asked, so a
quiet place costs no model call for the talk around it. A DM is never quiet.

A place gate of the replies' admission (bot/core/stages.py ``Features.place_gates``: a DM never asks it):
it reads the place's switch (a cached table) only for a message nobody addressed to the character. Its
registration is ``FEATURE`` below. Tests: tests/test_quiet.py."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from bot.core.i18n import N_
from bot.core.lines import Line
from bot.core.stages import Decision, Incoming, Outlet
from bot.operator.registration import Contribution, Feature, Parts, PlaceSwitch, Switch

SWITCH = Switch("quiet", "Answer here only when I'm named, mentioned or replied to (or not).",
                N_("I answer only when I'm named, mentioned or replied to, and never join in on my own"))


class QuietGate:
    """Stops an unaddressed message in a quiet place before the decider's vote. A thread follows its
    channel; a conversation thread the character opened (``/bot threads``) is talk with it, so it passes."""

    def __init__(self, quiet: PlaceSwitch, addressed: Callable[[Incoming], bool],
                 own_thread: Callable[[int], Awaitable[bool]]) -> None:
        self.quiet = quiet
        self.addressed = addressed
        self.own_thread = own_thread

    async def __call__(self, msg: Incoming, outlet: Outlet, /) -> Decision | None:
        if msg.mentions_bot or msg.replies_to_bot or self.addressed(msg):
            return None
        if not await self.quiet.on(msg.place):
            return None
        if msg.parent_id is not None and await self.own_thread(msg.channel_id):
            return None
        return Decision(False, Line(N_("a quiet place: answered only when addressed")),
                        kind="addressed_only_mode")


def build(parts: Parts) -> Contribution:
    def own_thread(thread_id: int) -> Awaitable[bool]:
        return parts.store.talk_threads.opened_by(thread_id, parts.character)

    return Contribution(place_gates=(QuietGate(parts.switch(SWITCH), parts.addressed, own_thread),))


FEATURE = Feature(name="quiet", switches=(SWITCH,), build=build)
