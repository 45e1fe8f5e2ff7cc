"""How a reply reaches the channel, like a person sends it (``reply_delivery``).

* ``whole``: the answer appears in one go after the typing indicator (split only at Discord's length limit).
* ``chunked``: a long answer goes out as several messages at paragraph breaks, with typing before each, as
  a person sends bursts; the typing time of the whole answer is shared among them, so the first burst comes
  sooner and the last no later than the answer would in one go. Short answers stay one message.
* ``streamed``: Claude's answer is streamed; the first part is posted as soon as a sentence is complete,
  then that message is edited as the rest arrives, at most once per ``stream_edit_interval`` seconds (within
  Discord's edit rate limit); the final edit carries the whole text, and what is over Discord's length
  limit continues in new messages. An outlet that cannot edit (the console) gets ``chunked``. An outlet
  that takes the reply as it is written (:class:`EagerOutlet`) is always streamed.

:class:`Delivery` runs the reply's model call (a :class:`Writing`: bot/reply/generation.py's ``Generation``,
built by the reply's writer), so each mode can overlap it as it needs, and applies the reply filters
(:class:`Finish`) to every text shown: it is handed values, and calls nothing back in the pipeline.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar, runtime_checkable

from bot.core.claude import ClaudeUnavailable, Completion
from bot.core.config import Settings
from bot.core.stages import Incoming, Outlet, ReplyFilter
from bot.core.text import SENTENCE_END, first_clause
from bot.reply.splitting import FENCE, split_message, typing_time

log = logging.getLogger(__name__)
T = TypeVar("T")

MIN_BURST = 150  # characters: a chunk gathers paragraphs until it is at least this long (no one-line spam)
_SENTENCE_END = re.compile(rf"{SENTENCE_END.pattern}|\n")  # in any script (。！？ need no space), or a line

Progress = Callable[[list[str], int], Awaitable[None]]
"""Records a reply of several parts: all of them and how many are posted (bot/reply/recovery.py resumes)."""


class Writing(Protocol):
    """The reply's model call (bot/reply/generation.py ``Generation``)."""

    notice: str  # a line said first (e.g. files that could not be opened); read at each text shown
    @property
    def so_far(self) -> str:  # streamed: the text written so far
        ...

    @property
    def changed(self) -> asyncio.Event:  # set when so_far or working changes
        ...

    @property
    def working(self) -> bool:  # streamed: a tool runs, nothing is being written (typing shows again)
        ...

    async def write(self, *, streamed: bool) -> Completion:
        """The completion (raises ClaudeUnavailable); ``streamed``: ``so_far`` follows it as it is written."""
        ...


def finish_text(filters: Iterable[ReplyFilter], msg: Incoming, text: str) -> str:
    """The text as it goes to Discord: the reply filters applied in order; a failing filter is skipped."""
    for text_filter in filters:
        try:
            text = text_filter(msg, text) or text
        except Exception:
            log.exception("reply filter failed on the reply to message %s", msg.message_id)
    return text


@dataclass(frozen=True)
class Finish:
    """The reply filters as applied to the reply to ``msg`` (:func:`finish_text`)."""

    msg: Incoming
    filters: Sequence[ReplyFilter]  # the pipeline's list: features add theirs at start-up

    def __call__(self, text: str) -> str:
        return finish_text(self.filters, self.msg, text)


@runtime_checkable
class EditableOutlet(Protocol):
    """An outlet whose posted messages can be edited and deleted (what ``streamed`` needs)."""

    async def edit(self, message_id: int, text: str) -> None: ...

    async def delete(self, message_id: int) -> None: ...


@runtime_checkable
class EagerOutlet(EditableOutlet, Protocol):
    """An editable outlet that takes the reply as it is written (a feature's live outlet, one whose people
    wait on every word): streamed whatever ``reply_delivery`` is, without the typing pause, and handed the
    first sentence's first clause before that sentence is complete."""

    def streams_always(self) -> bool: ...

    def take_ahead(self, clause: str) -> None:
        """The first sentence's first clause, before the sentence is complete (and posted): the outlet may
        start on it sooner. The sentence, when posted, is taken from after it."""


@runtime_checkable
class WholeAnswerOutlet(Protocol):
    """An outlet told when what it posts is a reply's whole answer in one message (not a fallback): it may
    post it with controls that act on a whole answer already on (a feature's, bot/discord/outlets.py),
    sparing the edit that would add them after."""

    async def send_whole(self, text: str) -> int | None: ...

    async def edit_whole(self, message_id: int, text: str, *, changed: bool = True) -> None:
        """A streamed reply's last edit, when the reply stayed one message: with those controls on
        (``changed``: whether its words differ from those shown; if not, an edit only for the controls)."""


@dataclass
class Delivered:
    text: str  # the whole reply as finally shown
    parts: list[str]
    ids: list[int | None]
    ok: bool  # False: the fallback line was sent (Claude failed or answered blank)
    completion: Completion | None
    edits: int = 0


def paragraphs(text: str) -> list[str]:
    """``text`` cut at blank lines, never inside a fenced code block."""
    out: list[str] = []
    current: list[str] = []
    fenced = False
    for line in text.split("\n"):
        if line.strip().startswith(FENCE):
            fenced = not fenced
        if not line.strip() and not fenced:
            if current:
                out.append("\n".join(current))
                current = []
            continue
        current.append(line)
    if current:
        out.append("\n".join(current))
    return out


def chunks(text: str, limit: int) -> list[str]:
    """The bursts of a chunked reply: paragraphs gathered until each burst is at least :data:`MIN_BURST`
    characters, none over ``limit`` (a longer paragraph is split like any long message)."""
    out: list[str] = []
    current = ""
    for paragraph in paragraphs(text.strip()):
        if current and (len(current) >= MIN_BURST or len(current) + 2 + len(paragraph) > limit):
            out.append(current)
            current = ""
        current = f"{current}\n\n{paragraph}" if current else paragraph
    if current:
        out.append(current)
    return [part for chunk in out for part in split_message(chunk, limit)]


def complete_sentences(text: str) -> str:
    """The part of a reply still being written that ends at its last complete sentence (or line)."""
    end = 0
    for match in _SENTENCE_END.finditer(text):
        end = match.end()
    return text[:end].rstrip()


def with_notice(notice: str, text: str) -> str:
    return f"{notice}\n\n{text}" if notice and text else notice or text


@dataclass
class Delivery:
    """One reply's generation and delivery through ``outlet``."""

    settings: Settings  # the whole settings: it reads three sections (delivery, discord, typing)
    outlet: Outlet
    writing: Writing  # the model call, made while the typing indicator runs
    finish: Callable[[str], str]  # the reply filters (a Finish), applied to every text shown
    fallback: Callable[[], str]  # what is said when Claude fails or answers blank (made only then)
    started: float = field(default_factory=time.monotonic)  # when the person's wait began
    label: str = "reply"  # how log lines name this reply
    log: logging.Logger = log  # whose log lines these are (the pipeline's: the reply is its work)
    at_once: bool = False  # sent without the typing pause (a fallback for a reason known beforehand)
    progress: Progress | None = None  # told of a reply of several parts as it goes out (whole, chunked)

    async def run(self) -> Delivered:
        mode = self.settings.delivery.reply_delivery
        if isinstance(self.outlet, EagerOutlet) and self.outlet.streams_always():
            return await self._streamed()
        if mode == "streamed" and isinstance(self.outlet, EditableOutlet):
            return await self._streamed()
        return await self._at_once(chunked=mode != "whole")

    async def _generate(self, *, streamed: bool) -> tuple[Completion | None, str, bool]:
        try:
            completion = await self.writing.write(streamed=streamed)
        except ClaudeUnavailable as exc:
            self.log.error("%s failed, sending the fallback: %s", self.label, exc)
            self.at_once = self.at_once or exc.known  # nothing was written: no typing pause either
            return None, self.fallback(), False
        # A blank answer cannot be posted, nor stored (the API rejects a blank turn in later prompts).
        if not completion.text or completion.text.isspace():
            self.log.warning("%s came back empty, sending the fallback", self.label)
            return completion, self.fallback(), False
        return completion, completion.text, True

    def _shown(self, text: str) -> str:
        return with_notice(self.writing.notice, self.finish(text))

    # -- whole and chunked

    async def _at_once(self, *, chunked: bool) -> Delivered:
        limit = self.settings.discord.max_message_length
        async with self.outlet.typing():
            completion, text, ok = await self._generate(streamed=False)
            text = self._shown(text)
            parts = chunks(text, limit) if chunked else split_message(text, limit)
            # The typing a person would need for the whole answer, shared among the bursts by their length
            # (at least min_typing_time each): the first appears sooner, the last no later than in one go.
            total = typing_time(text, self.settings.typing)
            length = sum(len(p) for p in parts) or 1
            shares = [max(total * len(p) / length, self.settings.typing.min_typing_time) for p in parts] \
                if chunked else [total]
            # Several parts: all of them recorded before the first goes out (during the typing pause), so a
            # crash between two parts leaves the rest to send, not the whole answer or nothing (issue 49).
            recorded = asyncio.ensure_future(self._record(parts, 0)) if len(parts) > 1 else None
            remaining = shares[0] - (time.monotonic() - self.started)
            if remaining > 0 and not self.at_once:
                await asyncio.sleep(remaining)
            if recorded is not None:
                await recorded
        # Typing has stopped before each part goes out: a refresh landing after it would show the character
        # "typing" for another ten seconds under its own words.
        ids: list[int | None] = []
        for i, part in enumerate(parts):
            if i and chunked:
                async with self.outlet.typing():
                    await asyncio.sleep(shares[i])
            if ok and len(parts) == 1 and isinstance(self.outlet, WholeAnswerOutlet):
                ids.append(await self.outlet.send_whole(part))
            else:
                ids.append(await self.outlet.send(part, first=i == 0))
            if i < len(parts) - 1:
                await self._record(parts, i + 1)
        return Delivered(text, parts, ids, ok, completion)

    async def _record(self, parts: list[str], delivered: int) -> None:
        """Tell ``progress`` (a failure is logged: the reply goes on, as it would have without the record)."""
        if self.progress is None:
            return
        try:
            await self.progress(parts, delivered)
        except Exception:
            self.log.exception("%s: could not record the parts posted", self.label)

    # -- streamed

    async def _streamed(self) -> Delivered:
        outlet = self.outlet
        assert isinstance(outlet, EditableOutlet)
        changed = self.writing.changed
        generation = asyncio.ensure_future(self._generate(streamed=True))
        posted: list[tuple[int | None, str]] = []  # (message id, what it shows)
        edits = 0
        synced = ""

        async def sync(text: str) -> None:
            """Make the posted messages show ``text``: edit what changed, post what is new, delete what
            is no longer needed (a retried stream may come back shorter)."""
            nonlocal edits, synced
            synced = text
            parts = split_message(text, self.settings.discord.max_message_length)
            for i, part in enumerate(parts):
                if i < len(posted):
                    mid, shown = posted[i]
                    if shown != part and mid is not None:
                        edits += 1
                        posted[i] = (mid if await self._quietly(outlet.edit(mid, part), mid) else None, part)
                else:
                    posted.append((await self.outlet.send(part, first=i == 0), part))
            for mid, _ in posted[len(parts):]:
                if mid is not None:
                    await self._quietly(outlet.delete(mid), mid)
            del posted[len(parts):]

        def visible() -> str:
            sentences = complete_sentences(self.writing.so_far)
            return self._shown(sentences) if sentences else ""

        # An eager outlet is handed the first sentence's first long enough clause at once.
        ahead = outlet if isinstance(outlet, EagerOutlet) and outlet.streams_always() else None
        try:
            async with self.outlet.typing():  # until the first sentence is out
                while not generation.done() and not visible():
                    if ahead is not None and (clause := first_clause(self.finish(self.writing.so_far))):
                        ahead.take_ahead(with_notice(self.writing.notice, clause))
                        ahead = None
                    changed.clear()
                    await _first_of(changed.wait(), generation)
            last_edit = time.monotonic()
            if not generation.done():
                await sync(visible())
                while not generation.done():
                    changed.clear()
                    if self.writing.working:  # a search or a tool between calls: typing, as a person would
                        async with self.outlet.typing():
                            while self.writing.working and not generation.done():
                                changed.clear()
                                await _first_of(changed.wait(), generation)
                    else:
                        await _first_of(changed.wait(), generation)
                    wait = self.settings.delivery.stream_edit_interval - (time.monotonic() - last_edit)
                    if wait > 0:
                        await _first_of(asyncio.sleep(wait), generation)
                    if generation.done():
                        break
                    text = visible()
                    if text and text != synced:
                        await sync(text)
                        last_edit = time.monotonic()
            completion, text, ok = await generation
            final = self._shown(text)
            if posted:  # the final edit, still within the interval
                wait = self.settings.delivery.stream_edit_interval - (time.monotonic() - last_edit)
                if wait > 0 and final != synced:
                    await asyncio.sleep(wait)
            # A reply that stays one message gets its whole answer's controls with its last edit (or, its
            # words all shown already, in an edit of their own, as the feature would add them after).
            whole = outlet if isinstance(outlet, WholeAnswerOutlet) and ok else None
            mid = posted[0][0] if len(posted) == 1 else None
            if whole is not None and mid is not None \
                    and len(split_message(final, self.settings.discord.max_message_length)) == 1:
                reworded = final != posted[0][1]
                edits += reworded
                done = await self._quietly(whole.edit_whole(mid, final, changed=reworded), mid)
                posted[0] = (mid if done else None, final)
            else:
                await sync(final)
        finally:
            if not generation.done():
                generation.cancel()
                await asyncio.gather(generation, return_exceptions=True)
        return Delivered(final, [shown for _, shown in posted], [mid for mid, _ in posted], ok, completion,
                         edits)

    async def _quietly(self, call: Awaitable[None], message_id: int) -> bool:
        """An edit or delete of a message of this reply; a failure (someone deleted the message, the
        channel went away) is logged and the reply goes on. Returns whether it worked."""
        try:
            await call
        except Exception as exc:  # the transport's errors (discord.HTTPException...)
            self.log.warning("%s: message %s could not be updated: %s", self.label, message_id, exc)
            return False
        return True


async def _first_of(awaitable: Awaitable[object], generation: asyncio.Future[T]) -> None:
    """Wait for ``awaitable`` or for the generation to finish, whichever is first."""
    waiter = asyncio.ensure_future(awaitable)
    try:
        either: set[asyncio.Future[Any]] = {waiter, generation}  # two results of different types, unread
        await asyncio.wait(either, return_when=asyncio.FIRST_COMPLETED)
    finally:
        if not waiter.done():
            waiter.cancel()
            await asyncio.gather(waiter, return_exceptions=True)
