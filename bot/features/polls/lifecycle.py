"""Polls without Discord: reading the options and the duration, the lifecycle (:class:`PollLifecycle`: create,
vote, close), tallying, and the words shown as they are voted on (the results' words are
bot/features/polls/results.py, their chart bot/features/polls/charts.py).

A poll has 2 to 25 options (25 buttons is what one Discord message holds), one vote per person that they
may change, and a closing time; its results are posted at close with a bar chart
(bot/features/polls/charts.py). A poll closes from its durable timer (a due row of kind ``poll``,
bot/core/timers.py), so it closes once, on time, whatever restarts or processes came between.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from bot.core.durations import BadInput, parse_duration
from bot.core.i18n import N_, t, tn
from bot.core.locales import LINE_LANGUAGES, spoken
from bot.core.numbers import percent
from bot.core.timers import Timers
from bot.features.polls.rows import PollRecord
from bot.features.polls.rows import Polls as PollRows
from database.privacy import Privacy
from database.timers import TimerRow

log = logging.getLogger(__name__)

MIN_OPTIONS, MAX_OPTIONS = 2, 25
OPTION_MAX_CHARS = 80  # a button label's limit
QUESTION_MAX_CHARS = 250
DEFAULT_DURATION = "24h"
MAX_DURATION = timedelta(days=30)
# Split, then stripped: spaces around a separator taken by the pattern itself are walked again from each
# space of a long run (quadratic on what someone pasted).
SEPARATORS = re.compile(r"[|;\n]")
CUSTOM_ID = "kindred-poll:{poll}:{option}"
# A poll not in English carries its language in each button's id (its panel is redrawn in it at each vote).
# the language: a line language, its script too where it has one (zh_Hant)
CUSTOM_ID_PATTERN = (r"kindred-poll:(?P<poll>[0-9]+):(?P<option>[0-9]+)"
                     r"(?::(?P<language>[a-z]{2}(?:_[A-Z][a-z]{3})?))?")
TIMER = "poll"  # the kind of a poll's closing timer
FORGOTTEN = N_("You asked to be forgotten (/forget_me) meanwhile: no poll was started.")
VOTE_FORGOTTEN = N_("You asked to be forgotten (/forget_me) meanwhile: your vote was not counted.")


def custom_id(poll_id: int, option: int, language: str = "en") -> str:
    """A vote button's id; a poll in another language than English carries it."""
    base = CUSTOM_ID.format(poll=poll_id, option=option)
    language = spoken(language)
    return base if language == "en" else f"{base}:{language}"


def poll_language(found: str | None) -> str:
    """The language a button's id carried (English when none, or one no more spoken)."""
    return found if found in LINE_LANGUAGES else "en"


@dataclass(frozen=True)
class PollSpec:
    question: str
    options: list[str]
    duration: timedelta


def parse_poll(question: str, options: str, duration: str | None, language: str = "en") -> PollSpec:
    """Check what someone typed for /poll; :class:`BadInput` names the problem (in ``language``)."""
    q = " ".join(question.split())
    if not q:
        raise BadInput(t(language, "A poll needs a question."))
    if len(q) > QUESTION_MAX_CHARS:
        raise BadInput(t(language, "The question is {length} characters; at most {most}, please.",
                         length=len(q), most=QUESTION_MAX_CHARS))
    items = [o.strip() for o in SEPARATORS.split(options) if o.strip()]
    if len(items) < MIN_OPTIONS:
        raise BadInput(t(language, "A poll needs at least {least} options, separated by | (you gave "
                                   "{count}).", least=MIN_OPTIONS, count=len(items)))
    if len(items) > MAX_OPTIONS:
        raise BadInput(t(language, "A poll can have at most {most} options (you gave {count}).",
                         most=MAX_OPTIONS, count=len(items)))
    long = [o for o in items if len(o) > OPTION_MAX_CHARS]
    if long:
        raise BadInput(t(language, "Each option can be at most {most} characters; {option}… is longer.",
                         most=OPTION_MAX_CHARS, option=repr(long[0][:30])))
    lowered = [o.casefold() for o in items]
    if len(set(lowered)) != len(lowered):
        raise BadInput(t(language, "Two options are the same; each option must be different."))
    span = parse_duration(duration or DEFAULT_DURATION, maximum=MAX_DURATION, what="poll duration",
                          language=language)
    return PollSpec(q, items, span)


def tally(options: Sequence[str], counts: Mapping[int, int]) -> list[int]:
    """Votes per option, in option order (votes for options that no longer exist are ignored)."""
    return [int(counts.get(i, 0)) for i in range(len(options))]


def meter(count: int, total: int, width: int = 10) -> str:
    filled = round(width * count / total) if total else 0
    return "█" * filled + "░" * (width - filled)


def result_lines(options: Sequence[str], counts: Sequence[int], language: str = "en") -> list[str]:
    total = sum(counts)
    lines = []
    for i, (option, count) in enumerate(zip(options, counts, strict=True)):
        share = percent(count / total if total else 0, language)  # "40 %", "%40": as the language writes it
        votes = tn(language, "{count} vote", "{count} votes", count)
        lines.append(f"**{i + 1}.** {option}\n`{meter(count, total)}` {votes} ({share})")
    return lines


def closing_line(closes_at: datetime, closed: bool, language: str = "en") -> str:
    stamp = int(closes_at.timestamp())
    if closed:
        return t(language, "Closed {when}.", when=f"<t:{stamp}:R>")
    return t(language, "Closes {when} ({date}).", when=f"<t:{stamp}:R>", date=f"<t:{stamp}:f>")


@dataclass(frozen=True)
class Tally:
    """A poll and its votes per option, in option order."""

    poll: PollRecord
    counts: list[int]


@dataclass(frozen=True)
class Vote:
    """What a vote did: ``tally`` is None when the poll is gone, ``counted`` False when it has closed;
    ``before`` is the option the voter had chosen before (None for a first vote)."""

    tally: Tally | None
    counted: bool = False
    before: int | None = None
    forgotten: bool = False  # the voter ran /forget_me since they pressed: nothing was written


class PollBoard(Protocol):
    """Where a closed poll's results are shown (cogs/polls.py, which hands it over as it loads: :meth:`
    PollLifecycle.connect`): its buttons retired, the results posted with their chart."""

    async def show_results(self, tally: Tally, character: str, language: str = "en") -> int | None:
        """The results message's id (None when nothing could be posted); its words in ``language``."""
        ...


class PollLifecycle:
    """A poll's lifecycle without Discord: created (and dropped again when its message could not be posted),
    voted on, its closing timer armed, closed once when it comes due. The cog posts the poll and takes the
    votes and connects the ``board`` that shows the results."""

    def __init__(self, polls: PollRows, privacy: Privacy, timers: Timers, board: PollBoard | None = None,
                 *, character: Callable[[], str]) -> None:
        """``character``: the name the results are announced in (it follows a reload)."""
        self.polls, self.privacy = polls, privacy
        self.timers, self.board, self.character = timers, board, character

    async def create(
        self, guild_id: int, channel_id: int, author_id: int, spec: PollSpec, now: datetime
    ) -> PollRecord:
        repo = self.polls
        poll_id = await repo.create(
            guild_id, channel_id, author_id, spec.question, spec.options, now + spec.duration
        )
        poll = await repo.get(poll_id)
        if poll is None:  # written a moment ago on this connection: only a concurrent delete could do this
            raise LookupError(f"poll {poll_id} vanished right after it was created")
        return poll

    def connect(self, board: PollBoard | None) -> None:
        """Discord's side, handed over by the cog as it loads (None as it unloads): the cogs load before
        the timers start (bot/discord/client.py), so no poll comes due before it is there."""
        self.board = board

    def mark(self) -> int:
        """Taken before a poll's message is posted (database/privacy.py ``posted_for``)."""
        return self.privacy.mark()

    async def start(self, guild_id: int, channel_id: int, author_id: int, spec: PollSpec, now: datetime,
                    mark: int, post: Callable[[PollRecord], Awaitable[int]]) -> PollRecord | None:
        """Create a poll and ``post`` its message (its id), never one without the other (a failed post drops
        the row). Its rows name its author: a /forget_me of theirs since ``mark`` (:meth:`mark`, taken as they
        asked) means none is made (None); one that begins meanwhile waits for it, then deletes it."""
        async with self.privacy.writing_about(author_id, mark) as allowed:
            if not allowed:
                return None
            poll = await self.create(guild_id, channel_id, author_id, spec, now)
            try:
                await self.posted(poll.id, await post(poll), author_id, mark)
            except BaseException:
                await self.discard(poll.id)  # no poll without its message
                raise
            return poll

    async def posted(self, poll_id: int, message_id: int, author_id: int, mark: int) -> None:
        """The poll's message is out: its buttons are retired through it at close. It quotes its author: in
        the log it is theirs to forget (/forget_me; ``mark``: :meth:`mark`, before it was posted)."""
        await self.polls.set_message(poll_id, message_id)
        await self.privacy.posted_for(author_id, message_id, mark)

    async def results_posted(self, poll: PollRecord, message_id: int, mark: int) -> None:
        """The results quote the poll's question: theirs to forget, as the poll is."""
        await self.privacy.posted_for(poll.author_id, message_id, mark)

    async def arm(self, poll: PollRecord, language: str = "en") -> None:
        """The poll's message is out: it closes at its closing time (now, if that has passed); its results
        are announced in ``language``, the poll's."""
        await self.timers.at(TIMER, f"poll:{poll.id}", poll.closes_at,
                             {"poll": poll.id, "language": language})

    async def close_due(self, timer: TimerRow) -> str:
        """The poll's closing timer came due: close it and show the results (nothing if it was closed)."""
        poll_id = int(timer.payload["poll"])
        board = self.board
        if board is None:  # not closed yet: the timer runs again, once there is where to show the results
            raise LookupError(f"poll {poll_id} came due with no board to show its results (cogs/polls.py)")
        mark = self.mark()
        closed = await self.close(poll_id)
        if closed is None:
            return f"poll {poll_id} was closed already"
        language = poll_language(timer.payload.get("language"))
        message_id = await board.show_results(closed, self.character(), language)
        if message_id is not None:
            await self.results_posted(closed.poll, message_id, mark)
        log.info("poll %s closed with %d votes", poll_id, sum(closed.counts))
        return f"poll {poll_id} closed"

    async def discard(self, poll_id: int) -> None:
        """A poll whose message could not be posted: no poll without its message."""
        await self.polls.delete(poll_id)

    async def vote(self, poll_id: int, user_id: int, option: int, mark: int | None = None) -> Vote:
        """``user_id``'s vote (its row names them): a /forget_me of theirs since ``mark`` (:meth:`mark`, taken
        as they pressed; None: now) means none is written; one that begins meanwhile waits for it, then
        deletes it."""
        async with self.privacy.writing_about(user_id, self.mark() if mark is None else mark) as allowed:
            if not allowed:
                return Vote(None, forgotten=True)
            return await self._vote(poll_id, user_id, option)

    async def _vote(self, poll_id: int, user_id: int, option: int) -> Vote:
        repo = self.polls
        poll = await repo.get(poll_id)
        if poll is None or not 0 <= option < len(poll.options):
            return Vote(None)
        before = await repo.vote_of(poll_id, user_id)
        if not await repo.vote(poll_id, user_id, option):
            return Vote(Tally(poll, []), counted=False, before=before)
        counts = tally(poll.options, await repo.counts(poll_id))
        return Vote(Tally(poll, counts), counted=True, before=before)

    async def close(self, poll_id: int) -> Tally | None:
        """Close a poll once: its final counts, or None if it is gone or was already closed."""
        repo = self.polls
        poll = await repo.get(poll_id)
        if poll is None or not await repo.close(poll_id):
            return None
        return Tally(poll, tally(poll.options, await repo.counts(poll_id)))


def vote_answer(choice: str, option: int, before: int | None, language: str = "en") -> str:
    """The voter's private confirmation."""
    if before == option:
        return t(language, "You already voted for **{choice}**.", choice=choice)
    if before is not None:
        return t(language, "Your vote moved to **{choice}**.", choice=choice)
    return t(language, "You voted for **{choice}**. Press another option to change it.", choice=choice)
