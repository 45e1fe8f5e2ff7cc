"""Voting: whether the character answers an unaddressed channel message, all of it in one place.

What the pipeline's decide step (bot/reply/writer.py) hands here has passed triage
(bot/reply/deciding/triage.py):

1. :class:`BurstWindow`, burst coalescing: a message in a quiet channel is judged at once (leading edge);
   the unaddressed messages that follow it within ``vote_window_seconds`` are judged together when the
   window closes (trailing edge), one vote round on the latest of them with the others shown as context;
   each of the others is decided "coalesced into <id>" (the next one) as soon as the next one arrives.
2. :class:`Voting` (one per character): a round's prompt, its recent lines kept in step with the cache
   (bot/reply/prompting.py lays the prompt out).
3. :class:`Ballot` (one per process): rounds due together start one by one (a :class:`~bot.core.pacing.Pacer`
   whose patience is the vote window), then ``count`` yes/no requests go to the voting model at once
   through the model client, which knows requests, not votes; the majority decides (:func:`majority_yes`).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, Collection, Sequence
from functools import partial

from bot.core.claude import ClaudeClient, Prompt
from bot.core.config import ReplySettings, Settings
from bot.core.config.sections import TriageSettings
from bot.core.i18n import N_
from bot.core.lines import Figure, Line
from bot.core.pacing import Pacer
from bot.core.persona.model import Persona
from bot.core.policy import ServerPolicy
from bot.core.stages import Decision, Incoming
from bot.reply.transcript import TranscriptWindows, fetch_limit
from bot.reply.voteprompt import LENSES, VOTE_LINES, build_vote_prompt
from database.boundary import JsonObject
from database.log import MessageLog

log = logging.getLogger(__name__)

# Vote rounds start at most one per this many seconds, process-wide: up to 200 a second. While the event loop
# is behind, a round waits for what is queued (replies first): at most its channel's vote window (judging
# chatter may take that long by design) and at most VOTE_ROUND_PATIENCE.
VOTE_ROUND_SPACING = 0.005
VOTE_ROUND_PATIENCE = 2.0
# The answer a vote is decoded to where the voting model supports structured outputs: one of two words in a
# JSON object, so "Yes.", "I think yes" or "**no**" cannot come back (a one-word vote's parse failures
# count as no: a missed reply).
VOTE_SCHEMA: JsonObject = {
    "type": "object",
    # "no" first: where nothing says yes, no (as an unreadable one-word vote counts)
    "properties": {"vote": {"type": "string", "enum": ["no", "yes"]}},
    "required": ["vote"],
    "additionalProperties": False,
}
# Room for the JSON answer (about 6 tokens) and for the one word (at most 2), by structured or not.
VOTE_MAX_TOKENS = {True: 16, False: 5}


def vote_round_pacer(window: Callable[[], float]) -> Pacer:
    """The pacer of vote rounds; ``window``: vote_window_seconds as it is now (a live reload applies)."""
    return Pacer(VOTE_ROUND_SPACING, patience=lambda: min(VOTE_ROUND_PATIENCE, window()))


def parse_yes_no(text: str) -> bool | None:
    word = text.strip().lstrip("*_\"'`").lower()
    if word.startswith("yes"):
        return True
    if word.startswith("no"):
        return False
    return None


def parse_vote(text: str) -> bool | None:
    """A vote's answer: the JSON object of :data:`VOTE_SCHEMA` when it is one, else the one word."""
    try:
        answer = json.loads(text)
    except ValueError:
        return parse_yes_no(text)
    vote = answer.get("vote") if isinstance(answer, dict) else None
    return vote == "yes" if vote in ("yes", "no") else None


def majority_yes(votes: Sequence[bool | None]) -> bool:
    """Yes only when strictly more than half of all votes asked said yes (failed votes count as no)."""
    return sum(1 for v in votes if v) * 2 > len(votes)


class Ballot:
    """The process's vote requests: one for every character's pipeline (the pacer is process-wide). It takes
    the whole settings: it reads three sections (replies, triage, timeouts), one key each."""

    def __init__(self, claude: ClaudeClient, settings: Settings) -> None:
        self.claude = claude
        self.settings = settings
        # A busy server's vote rounds start one by one (the window read at each start).
        self.pacer = vote_round_pacer(lambda: settings.triage.vote_window_seconds)

    async def ask(self, prompt: Prompt | Sequence[Prompt], *, count: int,
                  user_id: int | None, guild_id: int | None, purpose: str = "vote") -> list[bool | None]:
        """Ask the voting model ``count`` times at once (several prompts: one each, cycling); each answer is
        True/False, None if it failed. ``guild_id``: the server of the message voted on, which the votes are
        spent for; ``purpose``: the usage rows' (another yes/no question than a vote names its own)."""
        # Where the model supports structured outputs the answer is decoded to VOTE_SCHEMA and always
        # parses; elsewhere it is the one word, read leniently (an unreadable one counts as no).
        model = self.settings.replies.voting_model
        structured = self.claude.structured(model)
        answers = await self.claude.ask_many(
            prompt, count=count, model=model, max_tokens=VOTE_MAX_TOKENS[structured], purpose=purpose,
            user_id=user_id, guild_id=guild_id, timeout=self.settings.timeouts.should_reply_timeout,
            schema=VOTE_SCHEMA if structured else None)
        votes: list[bool | None] = []
        for text in answers:
            vote = None if text is None else parse_vote(text)
            if text is not None and vote is None:
                self.claude.tally.unparsed(purpose, retried=False)
            votes.append(vote)
        return votes


class Voting:
    """One character's vote rounds: its bursts by channel, and each round's recent lines."""

    def __init__(self, ballot: Ballot, messages: MessageLog, replies: ReplySettings, triage: TriageSettings,
                 persona: Callable[[], Persona], own_ids: Collection[int],
                 policy: Callable[[int | None], Awaitable[ServerPolicy | None]],
                 sized: Callable[[int, float], float] | None = None) -> None:
        """``sized``: a channel's vote window from vote_window_seconds (the first look's, by its pace)."""
        self.ballot = ballot
        self.messages = messages  # the short-term log: each round's recent lines
        self.replies = replies  # read at each round (sections following reloads)
        self.persona = persona
        self.own_ids = own_ids  # our account and webhooks (the pipeline's set, filled as they become known)
        self.policy = policy  # a server's effective settings (its vote count)
        self.windows = TranscriptWindows()  # where each channel's recent lines start (as a transcript)
        self.burst = BurstWindow(lambda: triage.vote_window_seconds, self.round, sized)

    async def submit(self, msg: Incoming) -> Decision:
        """The decision on ``msg``: one vote round per burst of the channel."""
        return await self.burst.submit(msg)

    async def round(self, msg: Incoming, burst: Sequence[Incoming]) -> Decision:
        """One vote round on ``msg``, the latest of its burst; the earlier messages of the burst are shown."""
        policy = await self.policy(msg.guild_id)
        count = policy.vote_count if policy is not None else self.replies.yes_no_vote_count
        await self.ballot.pacer.turn()  # rounds due together start one by one
        # The recent lines keep their start while people talk (as a reply's transcript does), so each vote
        # reads the previous message's votes' prompt from the cache and writes only the new lines.
        read = await self.messages.recent_messages(msg.channel_id, limit=fetch_limit(VOTE_LINES),
                                                   before_id=msg.message_id)
        family = self.ballot.claude.family(self.replies.voting_model)
        if family is not None and family.min_cache_tokens > 1024:
            recent = read[-VOTE_LINES:]  # never cached on this model (Haiku 4.5: 4,096): the fewest lines
        else:
            recent = self.windows.window(msg.channel_id, read, VOTE_LINES)
        persona = self.persona()
        # each vote judges from its own angle: not the same request sent count times
        prompts = [build_vote_prompt(persona, recent, msg, burst=burst, own_ids=self.own_ids, lens=i)
                   for i in range(min(count, len(LENSES)))]
        votes = await self.ballot.ask(prompts, count=count, user_id=msg.author_id,
                                      guild_id=msg.guild_id)
        reason = (Line(N_("majority vote on a burst of {count}"), count=Figure(len(burst) + 1)) if burst
                  else Line(N_("majority vote")))
        return Decision(majority_yes(votes), reason, tuple(votes), kind="vote")


def coalesced_into(later: Incoming) -> Line:
    """Why a message of a burst waits for no vote: ``later``'s round judges it (named by its id)."""
    return Line(N_("coalesced into {message}"), message=later.message_id)


# Judges the latest message of a burst, given the earlier ones (oldest first).
Judge = Callable[[Incoming, Sequence[Incoming]], Awaitable[Decision]]


class BurstWindow:
    """Leading edge, then trailing: a message in a quiet channel is judged at once, on its own, and opens a
    window of ``seconds``; the messages that arrive while it is open are judged together when it closes, one
    vote round on the latest with the others as context (each of the others decided "coalesced into <id>"
    when the next one arrives), and that round opens the next window. A window that closes with nothing in
    it leaves the channel quiet.

    So one message in a quiet room waits for no window, a burst costs one round per ``seconds`` plus its
    first, and a channel that never falls quiet is still judged every ``seconds`` (the window does not
    restart with each message). With ``seconds`` 0, each message is judged at once on its own.

    ``call_later(seconds, close)`` is what closes each window on time: the running loop's own by default, or
    a timer of the caller's (like :class:`~bot.core.pacing.Pacer`'s clock and sleep)."""

    def __init__(self, seconds: float | Callable[[], float], judge: Judge,
                 sized: Callable[[int, float], float] | None = None, *,
                 call_later: Callable[[float, Callable[[], None]], object] | None = None) -> None:
        # A callable: the setting as it is now (a live reload applies to the next window that opens).
        self._seconds = seconds if callable(seconds) else (lambda: seconds)
        self._sized = sized  # a channel's window from the setting (by its pace); None: the setting
        self._call_later = call_later
        self.judge = judge
        # By channel: the messages waiting for the open window to close; a channel with no entry is quiet.
        self._pending: dict[int, list[tuple[Incoming, asyncio.Future[Decision]]]] = {}
        # By channel: the newest message of the open window (the one its round will judge).
        self._newest: dict[int, tuple[Incoming, asyncio.Future[Decision]]] = {}
        self._rounds: set[asyncio.Task[None]] = set()

    async def submit(self, msg: Incoming) -> Decision:
        """The decision on ``msg``: its vote round's, or "coalesced into <id>" when a later message of its
        window was judged in its stead."""
        if self.seconds <= 0:
            return await self.judge(msg, ())
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Decision] = loop.create_future()
        pending = self._pending.get(msg.channel_id)
        if pending is None:  # a quiet channel: judged now, and a window opens for what follows
            self._open(msg.channel_id)
            self._start([(msg, future)])
        else:
            # Only the newest message of an open window waits for its round: an earlier one is decided as
            # soon as a later one arrives (a busy server's decisions then come one by one, not hundreds at
            # each close), and stays in the window as context for the round.
            newest = self._newest.get(msg.channel_id)
            if newest is not None and newest[0].message_id > msg.message_id:  # arrived out of order
                future.set_result(Decision(False, coalesced_into(newest[0]), kind="coalesced"))
            else:
                if newest is not None and not newest[1].done():
                    newest[1].set_result(Decision(False, coalesced_into(msg),
                                                  kind="coalesced"))
                self._newest[msg.channel_id] = (msg, future)
            pending.append((msg, future))
        # The round runs in a task of its own: a caller cancelled while waiting (a shutdown) cancels only its
        # own future (the round sets none that is done), not the decision of the others.
        return await future

    @property
    def seconds(self) -> float:
        return self._seconds()

    def quiet(self, channel_id: int) -> bool:
        """No window open in the channel: its next message is judged at once."""
        return channel_id not in self._pending

    def _open(self, channel_id: int) -> None:
        self._pending[channel_id] = []
        seconds = self.seconds if self._sized is None else self._sized(channel_id, self.seconds)
        close = partial(self._close, channel_id)
        if self._call_later is not None:
            self._call_later(seconds, close)
        else:
            asyncio.get_running_loop().call_later(seconds, close)

    def _close(self, channel_id: int) -> None:
        pending = self._pending.pop(channel_id, None)
        self._newest.pop(channel_id, None)
        if not pending:
            return  # nothing came while the window was open: the channel is quiet again
        self._open(channel_id)  # still busy: the next window opens with this round
        self._start(pending)

    def _start(self, items: list[tuple[Incoming, asyncio.Future[Decision]]]) -> None:
        task = asyncio.get_running_loop().create_task(self._round(items))
        self._rounds.add(task)
        task.add_done_callback(self._rounds.discard)

    async def _round(self, items: list[tuple[Incoming, asyncio.Future[Decision]]]) -> None:
        ordered = sorted(items, key=lambda item: item[0].message_id)  # snowflakes: the order Discord saw
        (latest, latest_future), earlier = ordered[-1], ordered[:-1]
        coalesced = Decision(False, coalesced_into(latest), kind="coalesced")
        for _, future in earlier:  # decided now: they wait for no vote
            if not future.done():
                future.set_result(coalesced)
        try:
            decision = await self.judge(latest, [m for m, _ in earlier])
        except Exception as exc:
            if not latest_future.done():
                latest_future.set_exception(exc)
            return
        if not latest_future.done():
            latest_future.set_result(decision)
