"""Verbose mode: a mirror of what the bot decides and does, posted to the admin log channel.

Any code holding the bot calls ``await bot.mirror(Line(N_("Check-in sent to user {user}."), user=123))``: a
translatable line and its values (bot/core/lines.py), never a finished English string, since the log channel
renders it in its own language when it posts (bot/discord/logchannel.py: the server's ``/settings
language``, else its preferred locale, else English). The call returns at once: the line is posted in the
background, so a reply never waits on the log channel. While verbose mode is off (or it has no log channel,
e.g. in the console) the line is dropped.

A structured report (the daily consolidation's figures) goes through ``mirror.report(title, fields)``, its
title and each figure's name and value lines too: the log channel shows it as a panel.

Callers must never pass direct-message content: the log channel is a server channel. Say *that* something
happened in a DM ("DM from user 123: reply"), never what was said.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence

from bot.core.config import SecretSettings
from bot.core.i18n import N_
from bot.core.lines import Line
from bot.core.stages import Decision, Incoming
from bot.core.text import clip

log = logging.getLogger(__name__)

Sink = Callable[[Line], Awaitable[object]]  # what it returns is not read
Figures = Sequence[tuple[Line, Line]]  # a report's (name, value) figures
ReportSink = Callable[[Line, Figures], Awaitable[object]]  # a report's title and figures, shown as a panel
STATE_KEY = "verbose"  # global_state key holding "on" / "off"
MAX_LINE = 1900  # room under Discord's 2000 characters


def fitted(text: str) -> str:
    """A rendered line kept within :data:`MAX_LINE`."""
    return text if len(text) <= MAX_LINE else text[: MAX_LINE - 1] + "…"


def parse_switch(value: str) -> bool | None:
    """"on"/"off" (and true/false, yes/no, 1/0) as a bool; None when it is neither."""
    word = value.strip().lower()
    if word in {"on", "true", "yes", "1", "enable", "enabled"}:
        return True
    if word in {"off", "false", "no", "0", "disable", "disabled"}:
        return False
    return None


def describe_decision(msg: Incoming, decision: Decision) -> Line:
    """One verbose line about a reply decision. A DM, a private channel or a private thread (a ticket's) is
    named by id, never quoted, its name never shown: the log channel is seen by more people."""
    if msg.is_dm:
        if decision.reply:
            return Line(N_("DM from user {user}: reply"), user=msg.author_id)
        return Line(N_("DM from user {user}: no reply"), user=msg.author_id)
    if msg.private:
        if decision.reply:
            return Line(N_("{place} · user {user}: reply"), place=msg.log_place, user=msg.author_id)
        return Line(N_("{place} · user {user}: no reply"), place=msg.log_place, user=msg.author_id)
    said = clip(msg.content, 150)
    why = decision.describe()  # a line too (its reasons marked where each is made), rendered with this one
    return Line(N_("{place} · {name} ({user}): “{said}” → {decision}"), place=msg.log_place,
                name=msg.author_name, user=msg.author_id, said=said, decision=why)


class LogMirror:
    """Holds the verbose switch and where mirrored lines go. Plain Python; ``sink``: the log channel's post
    (bot/discord/logchannel.py, given by the bot that builds it; None: lines go nowhere). The admin tools
    keep ``enabled`` in step with the ``verbose`` global state key. ``reports``: where a report goes (the
    log channel's panels; None: as one line through ``sink``). ``secrets``: the running section naming the
    log channel, whose own chat no decision line repeats."""

    def __init__(self, sink: Sink | None = None, reports: ReportSink | None = None,
                 secrets: SecretSettings | None = None) -> None:
        self.enabled = False
        self._sink = sink
        self._reports = reports
        self._secrets = secrets
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def backlog(self) -> int:
        """Lines being posted now (the metrics' queue depth)."""
        return len(self._tasks)

    def close(self) -> None:
        """No line is posted from now on (the bot is closing: the log channel is going away)."""
        self._sink = None
        self._reports = None

    @property
    def active(self) -> bool:
        return self.enabled and self._sink is not None

    async def __call__(self, line: Line) -> None:
        """Mirror one line when verbose mode is on; never raises, never waits for Discord."""
        self.emit(line)

    async def on_decision(self, msg: Incoming, decision: Decision) -> None:
        """A decision listener of the main pipeline: each decision as a line while verbose mode is on, but
        none about chat in the log channel itself (visible there already)."""
        if not self.active or (self._secrets is not None and msg.channel_id == self._secrets.log_channel):
            return
        self.emit(describe_decision(msg, decision))

    async def model_error(self, line: Line) -> None:
        """A failed model call (the model client's error observer), marked as such."""
        self.emit(Line(N_("❗ {line}"), line=line))

    def report(self, title: Line, fields: Figures) -> None:
        """Mirror a report when verbose mode is on, as a panel where the log channel shows them; never
        raises, never waits for Discord."""
        reports = self._reports
        if reports is None:
            self.emit(Line(N_("{title}: {figures}"),
                           title=title, figures=tuple(Line(N_("{name} {value}"), name=n, value=v)
                                                      for n, v in fields)))
            return
        if not self.enabled or self._sink is None:
            return
        figures = tuple(fields)
        self._spawn(lambda: reports(title, figures))

    def emit(self, line: Line) -> None:
        """The synchronous form of ``mirror(line)`` for callers outside a coroutine."""
        sink = self._sink
        if not self.enabled or sink is None:
            return
        self._spawn(lambda: sink(line))

    def _spawn(self, post: Callable[[], Awaitable[object]]) -> None:
        task = asyncio.get_running_loop().create_task(self._post(post), name="log-mirror")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _post(self, post: Callable[[], Awaitable[object]]) -> None:
        try:
            await post()
        except Exception as exc:  # a lost log line must never break what it describes
            log.warning("could not mirror a line to the log channel: %s", exc)

    async def drain(self) -> None:
        """Wait for lines still being posted (shutdown, tests)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
