"""The channel transcript: what a channel said, as an append-only part of a reply prompt's cached prefix.

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
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

from bot.core.text import clean_name, defuse
from database.boundary import JsonObject
from database.records import SeenMessage

ROLL_STEP = 60
"""Lines a window grows by before it rolls over: larger means fewer rewrites of the transcript, longer
prompts (read from cache at a tenth of the price)."""
MAX_CHANNELS = 10_000
LOOKBACK = 20
"""Blocks before a breakpoint in which the API looks for an earlier cache entry."""


def fetch_limit(keep: int) -> int:
    """How many recent channel messages a reply reads so that its window can keep its start."""
    return keep + ROLL_STEP if keep > 0 else 0


class TranscriptWindows:
    """Where each channel's transcript window starts (one per character: its engine owns one)."""

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


def is_own(message: SeenMessage, own_ids: Collection[int], name: str) -> bool:
    """Whether the character wrote ``message``: from one of its accounts, and under its name where several
    characters share accounts (an ensemble's webhooks)."""
    if message.author_id not in own_ids:
        return False
    return len(own_ids) == 1 or message.author_name.casefold() == name.casefold()


def transcript_messages(header: str, lines: Sequence[SeenMessage], own_ids: Collection[int],
                        name: str) -> list[JsonObject]:
    """``lines`` as alternating turns, one text block per line: the character's own lines are assistant
    turns, everyone else's user turns ("name: text"); ``header`` opens the first user turn."""
    messages: list[JsonObject] = [{"role": "user", "content": [{"type": "text", "text": header}]}]
    for m in lines:
        own = is_own(m, own_ids, name)
        role = "assistant" if own else "user"
        text = m.content if own else f"{clean_name(m.author_name)}: {defuse(m.content)}"
        if messages[-1]["role"] != role:
            messages.append({"role": role, "content": []})
        messages[-1]["content"].append({"type": "text", "text": text})
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
