"""How a reply is posted safely: a nonce that makes a retried post a no-op, and mentions that cannot ping a
crowd.

Discord keeps a post's ``nonce`` (with ``enforce_nonce``) for a few minutes: the same nonce from the same
author returns the message already created instead of a second one. The nonce is derived from the message
being answered and the part's index, so the reply a restart re-sends after a crash (bot/reply/recovery.py) is
the same post, never a duplicate.
"""

from __future__ import annotations

import re

import discord

MAX_PINGED_USERS = 3  # a reply may ping the few people it speaks to, never a crowd its text names
_USER_MENTION = re.compile(r"<@!?(\d{15,21})>")


def reply_nonce(message_id: int, part: int) -> str:
    """The nonce of part ``part`` of the reply to ``message_id`` (Discord allows 25 characters)."""
    return f"{message_id}.{part}"[:25]


def allowed_mentions_for(text: str) -> discord.AllowedMentions:
    """Never @everyone, @here or roles; users only when the text names a handful of them (a reply echoing a
    message with a hundred mentions pings nobody)."""
    named = list(dict.fromkeys(int(m) for m in _USER_MENTION.findall(text)))
    users: bool | list[discord.Object] = (
        [discord.Object(uid) for uid in named] if len(named) <= MAX_PINGED_USERS else False)
    return discord.AllowedMentions(everyone=False, roles=False, users=users, replied_user=False)
