"""The moment around a message, as a reply prompt tells it: when each line was said, who replied to whom,
who is here, and why the character speaks at all.

Times come from the Discord ids (a snowflake holds the time its message was sent), so a line's marker never
changes once written: the cached history and transcript stay byte-stable. They are told in the character's
time zone, as ``<now>`` is. A DM's turn is marked only after a pause (:data:`PAUSE`), so a day between
"thank you" and "morning!" shows where it happened; a channel's lines each carry their time.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import datetime, timedelta, tzinfo

from bot.core.localtime import DISCORD_EPOCH_MS, snowflake_time
from bot.core.persona.macros import humanize
from bot.core.pipeline import Incoming
from bot.core.text import clean_name
from database.records import SeenMessage, Turn

PAUSE = timedelta(hours=1)
"""A silence in a DM after which the next turn says when it was written."""
_PAUSE_MS = int(PAUSE.total_seconds() * 1000)
PEOPLE_SHOWN = 6  # the most recent speakers a channel prompt names


def sent_ms(message_id: int) -> int:
    """When a Discord id was made, in milliseconds since 1970 (no datetime: a history walks hundreds)."""
    return (message_id >> 22) + DISCORD_EPOCH_MS


def day_and_time(when: datetime, zone: tzinfo) -> str:
    local = when.astimezone(zone)
    return f"{local:%a} {local.day} {local:%b}, {local:%H:%M}"


class DmStamps:
    """A DM's turn markers, each judged against the turn before: the first turn, and any turn after a pause,
    say when it was written ("2 days later" first when the pause is a day or more)."""

    def __init__(self, zone: tzinfo) -> None:
        self.zone = zone
        self._last: int | None = None

    def after(self, message_id: int | None) -> str:
        """The marker of the turn with this Discord id ("" when it needs none or has no id)."""
        if not message_id:
            return ""
        at, last = sent_ms(message_id), self._last
        self._last = at
        if last is not None and at - last < _PAUSE_MS:
            return ""
        when = snowflake_time(message_id)
        gap = timedelta(milliseconds=at - last) if last is not None else timedelta(0)
        later = f"{humanize(gap)} later, " if gap >= timedelta(days=1) else ""
        return f"{later}{day_and_time(when, self.zone)}"

    def marks(self, turns: Sequence[Turn]) -> dict[int, str]:
        """after() of each turn's id in turn (a blank answer, left out of a prompt, is skipped), as
        {position: marker} for those that have one (few do): one tight loop, no call per turn, for a history
        of hundreds of turns."""
        out: dict[int, str] = {}
        last = self._last
        for i, (role, content, _, message_id, _) in enumerate(turns):
            if not message_id or role != "user" and (not content or content.isspace()):
                continue
            at = (message_id >> 22) + DISCORD_EPOCH_MS  # sent_ms()
            if last is None or at - last >= _PAUSE_MS:
                self._last = last
                out[i] = self.after(message_id)
            last = at
        self._last = last
        return out


class LineStamps:
    """A channel's line times: the time of day, the day too when it is not the previous line's."""

    def __init__(self, zone: tzinfo) -> None:
        self.zone = zone
        self._day: tuple[int, int, int] | None = None

    def of(self, message_id: int) -> str:
        local = snowflake_time(message_id).astimezone(self.zone)
        day = (local.year, local.month, local.day)
        if day == self._day:
            return f"{local:%H:%M}"
        self._day = day
        return day_and_time(local, self.zone)


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
