"""The room around a channel message, as a reply prompt tells it: who replied to whom, who is here, and why
the character speaks at all. (When each line was said is the transcript's: bot/reply/transcript.py.)
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence

from bot.core.stages import Incoming
from bot.core.text import clean_name
from database.records import SeenMessage

PEOPLE_SHOWN = 6  # the most recent speakers a channel prompt names


def replied_name(reply_to_id: int | None, lines: Mapping[int, SeenMessage], own_ids: Collection[int],
                 character: str) -> str:
    """Whom a message replies to, as a prompt names them: "you" (the character), a name, "an earlier
    message" (not among the lines shown); "" when it replies to nothing."""
    if not reply_to_id:
        return ""
    target = lines.get(reply_to_id)
    if target is None:
        return "an earlier message"
    if is_own(target, own_ids, character):
        return "you"
    return clean_name(target.author_name)


def is_own(message: SeenMessage, own_ids: Collection[int], name: str) -> bool:
    """Whether the character wrote ``message``: from one of its accounts, and under its name where several
    characters share accounts (an ensemble's webhooks)."""
    if message.author_id not in own_ids:
        return False
    return len(own_ids) == 1 or message.author_name.casefold() == name.casefold()


def people_part(lines: Sequence[SeenMessage], msg: Incoming, own_ids: Collection[int], character: str) -> str:
    """Who has been talking here lately, most recent first (the character left out), briefly."""
    names: list[str] = [clean_name(msg.author_name)]
    for m in reversed(lines):
        name = clean_name(m.author_name)
        if name not in names and not is_own(m, own_ids, character):
            names.append(name)
    more = len(names) - PEOPLE_SHOWN
    shown = ", ".join(names[:PEOPLE_SHOWN]) + (f" and {more} more" if more > 0 else "")
    return f"[Here lately: {shown}]"


def why_part(msg: Incoming, named: bool, replied: str) -> str:
    """Why the character answers this channel message: it was @mentioned, replied to or named, or it chose
    to join in after the votes (then a light touch suits: nobody asked it)."""
    who = clean_name(msg.author_name)
    if msg.mentions_bot:
        return f"[Why you answer: {who} @mentioned you]"
    if msg.replies_to_bot or replied == "you":
        return f"[Why you answer: {who} replied to your message]"
    if named:
        return f"[Why you answer: {who} named you]"
    if replied and replied != "an earlier message":
        to = f"was replying to {replied}, not to you"
    elif msg.mentions_others:
        to = "was talking to someone else, not to you"
    else:
        to = "did not address you"
    return (f"[Why you answer: {who} {to}; you chose to join in. Keep it brief and light, and do not "
            "answer for the one addressed]")
