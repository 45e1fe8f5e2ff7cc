"""The chat of a reply's request and its cache breakpoints: what a channel said, as an append-only part of a
reply prompt's cached prefix (and a DM's history as turns, :func:`history_messages`), and the notes placed
at a depth of it.

Anthropic's prompt cache serves a request's prefix only when an earlier request wrote exactly that prefix
at a breakpoint, and looks for it at most 20 blocks before each breakpoint. A window of the last N channel
lines slides by a line with every message, so nothing after the system prompt ever matches. Here:

* The window has a start that stays put while people talk: lines are only appended. When it has grown to
  ``keep + ROLL_STEP`` lines it rolls over in one step, to the last ``keep`` lines (keep: the
  recent_channel_messages setting, the fewest lines the character sees).
* Each line is its own content block (the character's own messages are its assistant turns), so the
  breakpoint of the previous reply is a block boundary of the next one, a few blocks back. Breakpoints
  every :data:`LOOKBACK` blocks from the end keep it within reach when a busy channel said more than 20
  lines between two replies (up to 60 with the three breakpoints a channel prompt has left).

The start of each channel's window is remembered in memory (bounded); after a restart the first reply
starts a new window, one cache write.

Notes at a depth of the chat (:func:`place_at_depth`), where SillyTavern puts them: a depth of N is before
the N-th message from the end (the message answered is the first; 0 is after it), so a card's depth prompt
and at-depth lore sit among the last few turns instead of being the last thing the model reads.

The chat before a note is the cached history, so the cache breakpoint moves to the block just before the
deepest note: the turns after it are re-sent each time (a few), and the next request, whose note sits two
turns later, reads this one's entry within the API's look-back. A note never goes inside the character's
own turn (it would read as its words): before an assistant turn it ends the user turn before.

When each line was said (:class:`DmStamps`, :class:`LineStamps`) comes from its Discord id (a snowflake holds
the time its message was sent), so a line's marker never changes once written: the cached history and
transcript stay byte-stable. It is told in the character's time zone, as ``<now>`` is. A DM's turn is marked
only after a pause (:data:`PAUSE`), so a day between "thank you" and "morning!" shows where it happened; a
channel's lines each carry their time.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime, timedelta, tzinfo

from bot.core.attachments import NO_TEXT
from bot.core.localtime import DISCORD_EPOCH_MS, snowflake_time
from bot.core.models.tools import read_back
from bot.core.persona.macros import humanize
from bot.core.text import clean_name, defuse
from bot.reply.room import is_own, replied_name
from database.boundary import JsonObject
from database.records import History, SeenMessage, Turn

ROLL_STEP = 60
"""Lines a window grows by before it rolls over: larger means fewer rewrites of the transcript, longer
prompts (read from cache at a tenth of the price)."""
MAX_CHANNELS = 10_000
LOOKBACK = 20
"""Blocks before a breakpoint in which the API looks for an earlier cache entry."""
BREAKPOINTS = 4  # the API's limit per request


# -- when each line was said

PAUSE = timedelta(hours=1)
"""A silence in a DM after which the next turn says when it was written."""
_PAUSE_MS = int(PAUSE.total_seconds() * 1000)


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


# -- a channel's window


def fetch_limit(keep: int) -> int:
    """How many recent channel messages a reply reads so that its window can keep its start."""
    return keep + ROLL_STEP if keep > 0 else 0


class TranscriptWindows:
    """Where each channel's transcript window starts (its prompt composer and its voting each own one)."""

    def __init__(self) -> None:
        self._starts: dict[int, int] = {}  # channel id -> id of the window's first message

    def window(self, channel_id: int, messages: Sequence[SeenMessage], keep: int) -> list[SeenMessage]:
        """The lines of ``messages`` (the channel's latest, oldest first) the prompt shows."""
        lines = [m for m in messages if m.content and not m.content.isspace()]
        if keep <= 0 or not lines:
            return []
        start = self._starts.get(channel_id)
        if start is not None:
            kept = [m for m in lines if m.message_id >= start]
            # the start must still be among the lines read (else the window outgrew the read)
            if kept and lines[0].message_id <= start and len(kept) <= keep + ROLL_STEP:
                return kept
        if len(self._starts) >= MAX_CHANNELS:
            self._starts.clear()
        kept = lines[-keep:]
        self._starts[channel_id] = kept[0].message_id
        return kept


def transcript_messages(header: str, lines: Sequence[SeenMessage], own_ids: Collection[int],
                        name: str, zone: tzinfo | None = None) -> list[JsonObject]:
    """``lines`` as alternating turns, one text block per line: the character's own lines are assistant
    turns, everyone else's user turns ("[time] name, replying to whom: text"; the time in ``zone``, none
    without one); ``header`` opens the first user turn. An answer of the character's that replied to a line
    other than the one just before is preceded by whom it answered, in a user block of its own (never in
    its own words, which the model would learn to imitate). Nothing depends on later lines: the transcript
    only grows."""
    messages: list[JsonObject] = [{"role": "user", "content": [{"type": "text", "text": header}]}]
    stamps = LineStamps(zone) if zone is not None else None
    by_id = {m.message_id: m for m in lines}
    before = 0  # the line just before: an answer to it needs no saying
    for m in lines:
        own = is_own(m, own_ids, name)
        role = "assistant" if own else "user"
        whom = replied_name(m.reply_to_id, by_id, own_ids, name)
        if own:
            text = read_back(m)
            if whom and whom not in ("you", "an earlier message") and m.reply_to_id != before:
                if messages[-1]["role"] != "user":
                    messages.append({"role": "user", "content": []})
                messages[-1]["content"].append({"type": "text", "text": f"[your reply to {whom}:]"})
        else:
            said = f"{clean_name(m.author_name)}, replying to {whom}" if whom else clean_name(m.author_name)
            text = f"{said}: {defuse(read_back(m))}"
            if stamps is not None:
                text = f"[{stamps.of(m.message_id)}] {text}"
        if messages[-1]["role"] != role:
            messages.append({"role": role, "content": []})
        messages[-1]["content"].append({"type": "text", "text": text})
        before = m.message_id
    return messages


def mark_transcript(messages: list[JsonObject], breakpoints: int) -> None:
    """Put ``cache_control`` on the transcript's last block and on every :data:`LOOKBACK`-th block before
    it, ``breakpoints`` in all at most (the API allows 4 per request, the system prompt has used some)."""
    blocks = [b for m in messages for b in m["content"]]
    for n in range(max(0, breakpoints)):
        index = len(blocks) - 1 - n * LOOKBACK
        if index < 1:  # the header alone is not worth a breakpoint
            break
        blocks[index]["cache_control"] = {"type": "ephemeral"}


def user_turn(text: str, marker: str = "") -> str:
    """A person's DM turn as a prompt shows it: their words defused, after when they wrote it (if said)."""
    return f"[{marker}] {defuse(text)}" if marker else defuse(text)


# SillyTavern's "new chat" marker: the API wants a user turn before the greeting's assistant turn.
NEW_CHAT = "[Start a new chat]"


def dm_message(messages: list[JsonObject], text: str, message_id: int, stamps: DmStamps | None, *,
               rerolled: bool = False) -> str:
    """End a DM's ``messages`` (its history as :func:`history_messages` gave it, with ``stamps``) with the
    message answered, exactly as the history will show it from the next reply on: its marker after a pause,
    merged into a user turn before it that got no answer. Cached by this reply, it is read by the next.
    A reroll's (``rerolled``) is there already. Returns the message's text as shown."""
    if rerolled and messages and messages[-1]["role"] == "user":
        return str(messages[-1]["content"])
    said = user_turn(text if text and not text.isspace() else NO_TEXT,
                     stamps.after(message_id) if stamps is not None else "")
    if messages and messages[-1]["role"] == "user":  # (as history_messages merges a turn with no answer)
        messages[-1]["content"] += "\n\n" + said
    else:
        messages.append({"role": "user", "content": said})
    return said


def history_messages(history: History, *, drop_last_assistant: bool = False,
                     stamps: DmStamps | None = None) -> list[JsonObject]:
    """Turns as alternating user/assistant messages starting with a user turn (merging repeats); ``stamps``:
    a user turn written after a pause says when, and an answer written after a pause with no message in
    between (a check-in days later) is not merged into the one before: a marker turn says when it came
    (:class:`DmStamps`; from the turns' Discord ids, so the history stays byte-stable). ``stamps`` is then
    left at the last turn, for the message answered.

    A blank turn (stored by an older version, or edited to nothing) would make the API reject every request
    of the conversation: a blank user turn becomes the no-text placeholder, a blank answer is left out.
    """
    turns = history.turns
    end = len(turns)
    if drop_last_assistant:
        while end and turns[end - 1].role == "assistant":
            end -= 1
    # One pass, plain string content, no call per turn where none is needed: a long history is hundreds of
    # turns on every reply.
    messages: list[JsonObject] = []
    last: JsonObject | None = None
    # A DM's greeting is stored before the first message, where a new chat shows it (though posted after
    # it): after the new-chat marker, undated, so the first request's prefix is every later one's.
    opened = not history.summary and end > 0 and turns[0][0] == "assistant"
    if opened:
        last = {"role": "user", "content": NEW_CHAT}
        messages.append(last)
    if stamps is None:
        marks = {}
    elif opened:
        marks = {i + 1: mark for i, mark in stamps.marks(turns[1:end]).items()}
    else:
        marks = stamps.marks(turns[:end])
    for i in range(end):
        role, content = turns[i][0], turns[i][1]
        marker = marks.get(i, "") if marks else ""
        if not content or content.isspace():
            if role != "user":
                continue
            content = NO_TEXT
        if role == "user":
            if marker or "<" in content:
                content = user_turn(content, marker)
        elif marker and last is not None and last["role"] == "assistant":
            last = {"role": "user", "content": f"[{marker}: no message from them in between]"}
            messages.append(last)
        if last is not None and last["role"] == role:
            last["content"] += "\n\n" + content
        elif last is not None or role == "user":
            last = {"role": role, "content": content}
            messages.append(last)
    return messages


def place_at_depth(messages: list[JsonObject], notes: Sequence[tuple[int, str]], system_marks: int, *,
                   after: int = 0) -> None:
    """Insert each ``(depth, text)`` note (depth >= 1, deepest first) into ``messages``, the request's whole
    chat (its first block the opening one: a DM's cached opening or a channel's header), and move the
    chat's cache breakpoints before the deepest note; ``system_marks``: breakpoints the system part uses;
    ``after``: blocks at the end that follow the message answered (a DM's notes after it), no message."""
    notes = [(d, t) for d, t in notes if d >= 1 and t.strip()]
    if not notes or not messages:
        return
    for m in messages:
        if isinstance(m["content"], str):
            m["content"] = [{"type": "text", "text": m["content"]}]
    units = [(mi, bi) for mi, m in enumerate(messages) for bi in range(len(m["content"]))
             if (mi, bi) != (0, 0)]
    units = units[:len(units) - after]
    merged: dict[int, list[str]] = {}
    for depth, text in notes:  # one block per place: the deeper notes first
        merged.setdefault(max(0, len(units) - depth), []).append(text)
    placed: list[JsonObject] = []
    for at in sorted(merged, reverse=True):  # from the end, so the earlier places keep their indexes
        block: JsonObject = {"type": "text", "text": "\n\n".join(merged[at])}
        placed.append(block)
        mi, bi = units[at] if at < len(units) else (len(messages) - 1, len(messages[-1]["content"]))
        if bi == 0 and messages[mi]["role"] == "assistant":
            messages[mi - 1]["content"].append(block)  # the end of the user turn before it
        else:
            messages[mi]["content"].insert(bi, block)
    opening = messages[0]["content"][0]
    flat = [b for m in messages for b in m["content"]]
    for b in flat:
        if b is not opening:
            b.pop("cache_control", None)
    deepest = min(flat.index(b) for b in placed)
    left = BREAKPOINTS - system_marks - (1 if "cache_control" in opening else 0)
    for n in range(max(0, left)):
        index = deepest - 1 - n * LOOKBACK
        if index < 1:
            break
        flat[index]["cache_control"] = {"type": "ephemeral"}
