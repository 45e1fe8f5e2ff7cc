"""The live decision stream: every reply decision of the running bot, as the log channel's verbose mode words
it (a DM only as "DM from user <id>", never its text), pushed to open pages as server-sent events, each page
reading it in its own language (the line is kept, rendered per page).

A decision observer of the main pipeline (an ensemble announces every character's decisions there).
The hook only appends to memory and to each open page's queue; a page that cannot keep up loses its oldest
lines, never the bot's time.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime

from bot.core.lines import Line
from bot.core.numbers import time_of_day
from bot.core.stages import Decision, Incoming
from bot.operator.logmirror import describe_decision

KEEP = 200  # recent decisions a newly opened page shows
QUEUE = 100  # lines waiting for one slow page


@dataclass(frozen=True)
class LiveEvent:
    number: int
    at: datetime
    line: Line
    reply: bool
    dm: bool

    def time(self, language: str | None) -> str:
        """When it was decided, to the second, as the page's language writes a time ("3:04:05 PM",
        "15:04:05"); in UTC, as every time the dashboard shows."""
        return time_of_day(self.at.astimezone(UTC), language, seconds=True)

    def text(self, language: str | None) -> str:
        return self.line.render(language)

    def sse(self, language: str | None) -> bytes:
        data = json.dumps({"n": self.number, "at": self.at.isoformat(), "time": self.time(language),
                           "text": self.text(language), "reply": self.reply, "dm": self.dm})
        return f"id: {self.number}\nevent: decision\ndata: {data}\n\n".encode()


class LiveFeed:
    def __init__(self, keep: int = KEEP) -> None:
        self.recent: deque[LiveEvent] = deque(maxlen=keep)
        self._numbers = itertools.count(1)
        self._queues: set[asyncio.Queue[LiveEvent | None]] = set()
        self.closed = False

    async def on_decision(self, msg: Incoming, decision: Decision) -> None:
        event = LiveEvent(next(self._numbers), datetime.now(UTC), describe_decision(msg, decision),
                          decision.reply, msg.is_dm)
        self.recent.append(event)
        for queue in list(self._queues):
            _offer(queue, event)

    def since(self, number: int) -> list[LiveEvent]:
        """The kept events after ``number``, oldest first (what a page reconnecting missed)."""
        return [e for e in self.recent if e.number > number]

    def subscribe(self) -> asyncio.Queue[LiveEvent | None]:
        queue: asyncio.Queue[LiveEvent | None] = asyncio.Queue(QUEUE)
        if self.closed:
            queue.put_nowait(None)
        self._queues.add(queue)
        return queue

    @staticmethod
    def end(queue: asyncio.Queue[LiveEvent | None]) -> None:
        """End one page's stream (its session ended)."""
        _offer(queue, None)

    def unsubscribe(self, queue: asyncio.Queue[LiveEvent | None]) -> None:
        self._queues.discard(queue)

    def close(self) -> None:
        """End every open stream (the dashboard is stopping); later decisions are still kept for a page
        that asks (none will: the dashboard is gone)."""
        self.closed = True
        for queue in list(self._queues):
            _offer(queue, None)


def _offer(queue: asyncio.Queue[LiveEvent | None], item: LiveEvent | None) -> None:
    if queue.full():
        queue.get_nowait()  # the slow page loses its oldest line
    queue.put_nowait(item)
