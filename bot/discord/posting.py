"""How a reply is posted safely: a nonce that makes a retried post a no-op, and mentions that cannot ping a
crowd.

Discord keeps a post's ``nonce`` (with ``enforce_nonce``) for a few minutes: the same nonce from the same
author returns the message already created instead of a second one. The nonce names what the post carries:
the message being answered, and the greeting posted before the answer or a part of the answer, by its index.
So the reply a restart re-sends after a crash (bot/reply/recovery.py) is the same post, never a duplicate,
and an answer is never taken for the greeting already posted under the same message (which would drop it).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

import discord

MAX_PINGED_USERS = 3  # a reply may ping the few people it speaks to, never a crowd its text names
_USER_MENTION = re.compile(r"<@!?(\d{15,21})>")


def reply_nonce(message_id: int, part: int, *, greeting: bool = False) -> str:
    """The nonce of part ``part`` of the answer to ``message_id``, or of the greeting posted before it
    (Discord allows 25 characters: a snowflake has at most 20 digits)."""
    return f"{message_id}.{'g' if greeting else 'a'}{part}"[:25]


def allowed_mentions_for(text: str, *, users: Iterable[discord.abc.Snowflake] = (),
                         roles: Iterable[discord.abc.Snowflake] = ()) -> discord.AllowedMentions:
    """The one mention policy of every post (replies, swipes, the character's own posts, tickets...):
    never @everyone or @here; roles only those the code names (a ticket's staff role), never one the text
    names; users the code names, plus those the text names when they are a handful (a reply echoing a
    message with a hundred mentions pings none of them)."""
    named = list(dict.fromkeys(int(m) for m in _USER_MENTION.findall(text)))
    chosen = {u.id: discord.Object(u.id) for u in users}
    if len(named) <= MAX_PINGED_USERS:
        chosen.update((uid, discord.Object(uid)) for uid in named if uid not in chosen)
    role_list = [discord.Object(r.id) for r in roles]
    user_list = list(chosen.values())
    return discord.AllowedMentions(everyone=False, roles=role_list or False, users=user_list or False,
                                   replied_user=False)


# What a client sends when a call names no policy of its own (discord.py merges a call's over it): nothing.
NO_MENTIONS = discord.AllowedMentions.none()
# Keyword arguments for discord.py's send(), each of its own type; one is left out rather than None when
# not wanted (send's overloads take no None): a Discord boundary, hence Any.
SendOptions = dict[str, Any]
