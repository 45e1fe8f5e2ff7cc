"""Whom the character may speak to or listen to, and what it may spend doing so: one rule, asked by every way
it speaks or listens.

The ways (:class:`Way`): a person's message of any kind (text, a voice message, an utterance in a call), and
with it every reply, vote, ensemble turn, greeting and late reply (bot/reply/admission.py asks, once per
message, in two halves: who before anything is heard, then what may be spent); a person's audio before it
is transcribed; ``/ask`` and the message menus; a swipe or ``/reroll``; ``/voice join`` and ``/voice leave``;
and what the character says unprompted: check-ins, reminders, proactive talk, place tasks and an answer to a
correction reaction (bot/features/corrections/). The unprompted ways cannot reach anyone without it: Discord's
side hands out a DM or a channel to speak in only for a :class:`Permit`, and only :meth:`Reach.permit` makes
one.

The rule, the same for every way in the same place (``Where``: a server's channel, or None for a DM):
1. the place is active (``/bot deactivate`` closes it to every way);
2. the person may talk to the character there (bot/operator/access.py: ``allow_dms``, the allow and block
   lists of users and roles; the bot's admins are never refused);
3. what may be spent (bot/operator/limits.py): the person's messages a minute (counted only where a way asks
   for a new answer: a message, a swipe), their daily token budget, the server's and the whole bot's daily
   spend caps. The unprompted ways meet the caps even for an admin: it is the operator's money, and nobody
   asked.
Having opted out of memory or run ``/forget_me`` does not close anything: such a person is still answered,
only not remembered (memory/consent.py); ``/forget_me`` ends their check-ins and reminders with the rest of
their data (database/privacy.py).

A refusal costs no model call. Where the person asked (an interaction) it is said to them alone (the
:class:`Refusal`'s ``tell``); where they did not (a check-in, a reminder, their audio in a call) it is
silent, logged at debug.
"""

from __future__ import annotations

import functools
import logging
from collections import OrderedDict
from collections.abc import Collection

from bot.core.i18n import N_
from bot.core.lines import Line
from bot.core.reach import COUNTED, INACTIVE, NOT_ALLOWED, UNPROMPTED, Permit, Refusal, Way, Where, issue
from bot.core.stages import Decision, Incoming, Outlet
from bot.operator.access import AccessGate
from bot.operator.limits import Reached, SpendingLimits
from database.places import Places

log = logging.getLogger(__name__)

Made = tuple[int, ...]  # a token of what an answer was made from (Reach._made_from)
ANSWERS_KEPT = 4_096  # the first half's answers kept (places x people asking lately); the oldest goes first


class Reach:
    """The rule. ``access``: who may talk (and who the admins are); ``limits``: what may be spent;
    ``places``: where the character is active."""

    def __init__(self, access: AccessGate, limits: SpendingLimits, places: Places) -> None:
        self.access = access
        self.limits = limits
        self.places = places
        # The first half's answers by (server, channel, person, roles), each with what it was made from
        # (_made_from), most recently asked last.
        self._answers: OrderedDict[tuple[int | None, int, int | None, tuple[int, ...]],
                                   tuple[Made, Refusal | None]] = OrderedDict()

    async def refusal(self, way: Way, user_id: int | None, where: Where, roles: Collection[int] = (), *,
                      counted: bool | None = None) -> Refusal | None:
        """Why ``way`` may not reach ``user_id`` (holding ``roles`` in the server; None: nobody in
        particular, a channel) in ``where``; None when it may. ``counted``: whether this counts as one of
        their messages a minute (default: the way's own nature)."""
        closed = await self.closed(way, user_id, where, roles)
        if closed is not None:
            return closed
        return await self.over_limit(way, user_id, where,
                                     counted=way in COUNTED if counted is None else counted)

    async def closed(self, way: Way, user_id: int | None, where: Where,
                     roles: Collection[int] = ()) -> Refusal | None:
        """The rule's first half, which spends nothing: the place is active and the person may talk there.
        Every message asks it, so its answer is kept per place and person (and roles) while nothing it
        depends on changed: the stored switches and lists (their cached copy's version: this process's own
        change moves it before it returns, another's when the copy reads it, within the cache window or at
        once when the cluster passes it on), the global lists and the admins (a reload)."""
        key = (where.guild_id, where.channel_id, user_id, roles if type(roles) is tuple else tuple(roles))
        made_from = self._made_from(where)
        answers = self._answers
        kept = answers.get(key)
        if kept is not None and made_from is not None and kept[0] == made_from:
            answers.move_to_end(key)
            return kept[1]
        answer = await self._closed(user_id, where, roles)
        if made_from is not None and self._made_from(where) == made_from:  # nothing changed while asked
            answers[key] = (made_from, answer)
            answers.move_to_end(key)
            if len(answers) > ANSWERS_KEPT:
                answers.popitem(last=False)
        return answer

    def _made_from(self, where: Where) -> Made | None:
        """A token of what the first half's answer in ``where`` is made from; None: not settled (the stored
        copy was forgotten and must be read: ask, keep nothing)."""
        access = self.access.settled(where.guild_id)
        if where.is_dm or access is None:
            return access
        places = self.places.settled()
        return None if places is None else (places, *access)

    async def _closed(self, user_id: int | None, where: Where, roles: Collection[int]) -> Refusal | None:
        if not where.is_dm and not await self.places.is_active(where.channel_id, where.guild_id):
            return Refusal("place", Line(N_("this place is inactive")), INACTIVE)
        if user_id is None:
            return None
        why = await self.access.refusal(user_id, roles, where.guild_id)
        if why is None:
            return None
        return Refusal("access", Line(N_("not allowed to talk to me: {why}"), why=why), NOT_ALLOWED)

    async def over_limit(self, way: Way, user_id: int | None, where: Where, *,
                         counted: bool = False) -> Refusal | None:
        """The rule's second half: what may be spent (and, ``counted``, the message counted)."""
        reached = await self.limits.reached(user_id, where.guild_id, where.channel_id, counted=counted,
                                            unprompted=way in UNPROMPTED)
        if reached is None:
            return None
        if way is not Way.MESSAGE:  # the message path notes its own (and tells the person)
            self.limits.note(str(way), user_id, where.guild_id, where.channel_id, reached)
        return Refusal("limit", Line(N_("limit: {reason}"), reason=reached.reason),
                       self.limits.reply_text(reached), reached,
                       functools.partial(self.limits.reply_text, reached))

    async def permit(self, way: Way, user_id: int | None, where: Where, roles: Collection[int] = (), *,
                     spends: bool = True) -> Permit | Refusal:
        """Leave for an unprompted way (a check-in, a reminder, proactive talk), or why not. Without
        ``spends`` the leave is to say something that costs nothing (a reminder's plain line): only the
        rule's first half is asked."""
        refused = await (self.refusal(way, user_id, where, roles) if spends
                         else self.closed(way, user_id, where, roles))
        if refused is not None:
            log.debug("%s to user %s in %s refused: %s", way, user_id, where, refused.reason.english())
            return refused
        return issue(way, user_id, where)

    # -- the message path (bot/reply/admission.py): its two halves, as gates

    async def listens(self, msg: Incoming, outlet: Outlet) -> Decision | None:
        """Whether the author of ``msg`` is heard at all: asked before a voice message is transcribed and
        before any reply work. Says nothing, counts nothing."""
        refused = await self.closed(Way.MESSAGE, msg.author_id, where_of(msg), msg.author_roles)
        if refused is None:
            return None
        return Decision(False, refused.reason, kind="inactive" if refused.kind == "place" else "not_allowed")

    async def gate(self, msg: Incoming, outlet: Outlet) -> Decision | None:
        """What a reply to ``msg`` may spend (the message counted against the author's minute). A limit is
        said once a window to one who certainly asked for an answer, and logged once."""
        refused = await self.over_limit(Way.MESSAGE, msg.author_id, where_of(msg), counted=True)
        if refused is None or not isinstance(refused.reached, Reached):
            return None
        return await self.limits.refused(msg, outlet, refused.reached)


def where_of(msg: Incoming) -> Where:
    """The place a message was written, as the rule reads it: an ``/ask`` is answered in the asker's private
    scope, but it is asked in the server it came from (its ``guild_id``), whose rules apply."""
    return Where(msg.guild_id, msg.channel_id)
