"""What members said in a call, as text: each utterance transcribed by the speech-to-text backend of voice
messages (``stt_backend``), one at a time per member and in the order spoken, and handed on as that
member's words (``[voice] ...``, as a voice message's transcript is kept). An utterance in which the
backend made out nothing is no message; one it failed on is logged and dropped (the call goes on). Another
bot's audio is never sent to the backend, nor the words of one the character may not listen to (``listens``:
the one rule, bot/operator/reach.py): theirs are dropped unheard. Each transcription is spent for its
speaker, in the call's server.

A member's hearing outlives any one of their utterances: an answer that failed (a post refused, the
database down) is logged and the next utterance is heard all the same. At most ``MAX_WAITING`` utterances of a
member wait for transcription: past that the oldest is dropped, and counted (``dropped``, logged).

End of turn (endpointing): the receiver hands on what a member said up to a short pause (an utterance not
``final``, receiver.py's ``pause_seconds``), and it is transcribed at once. When that transcript ends a
sentence (``ends_sentence``: . ? ! or their counterparts in other scripts, nothing of any one language) and
the pause still lasts, the utterance ends there (the receiver's ``conclude``) and is answered, without the
full end-of-silence wait; otherwise the utterance goes on, and when it ends with no more speech the early
transcript is its own (one transcription, not two). Only a member with nothing else waiting is heard early.
A member who resumes within the full wait after a transcript that ended a sentence is heard as a second
utterance: the cost of answering sooner, measured in benchmarks/bench_voice.py.

Speculative end of turn (``on_turn``, what a call uses): at a shorter pause whose transcript ends a sentence
the answer is begun at once, as a ``SpokenTurn`` not yet committed, and the utterance is not ended there. The
answer holds everything a member would see or hear (its post, its typing, its speech) until its first audio
is about to play, which waits until the silence has lasted ``hold_seconds`` longer (``SpokenTurn.due``: what
the answer takes to be ready is spent within that wait): then ``commit`` ends the utterance at that pause,
if it still lasts. A member who goes on speaking before that (the receiver's ``on_resume``) withdraws it: the
answer's task is cancelled (its model request with it), nothing of it was posted or said, and the utterance
goes on, to be answered whole (the next turn ``replaces`` the withdrawn one: the same message, its words
rewritten). One who goes on after the
audio began stops it (barge-in) and is heard as a new utterance that ``follows`` the answered one: its words
are the earlier ones and the new, one turn, so nothing they said is lost.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from bot.features.voice.segmenter import Utterance
from bot.features.voice.speech import Payer, VoiceRefused, VoiceService, VoiceUnavailable, transcript_content

log = logging.getLogger(__name__)

MAX_WAITING = 3  # a member's utterances waiting to be transcribed; the oldest goes first when more come
# What ends a sentence, in the scripts speech-to-text writes: Latin, Greek and Cyrillic; CJK full-width and
# ideographic; Devanagari's danda; Arabic and Urdu; Armenian; Ethiopic; the ellipsis is not an end.
SENTENCE_ENDS = frozenset(".?!。？！｡।॥؟۔։።")
CLOSERS = "\"'”’»)]}」』）"  # quotes and brackets that may follow a sentence's end


def ends_sentence(words: str) -> bool:
    """Whether a transcript ends a sentence (by its punctuation, whatever the language)."""
    text = words.rstrip().rstrip(CLOSERS).rstrip()
    return bool(text) and text[-1] in SENTENCE_ENDS and not text.endswith("..")


class SpokenTurn:
    """A member's words handed on to be answered. One begun at a pause (speculative) may be said only once
    ``commit`` ended the member's turn there; the member going on first withdraws it (``task``, the answer,
    cancelled). One heard at the end of an utterance is committed from the start."""

    def __init__(self, commit: Callable[[], bool] | None = None, *, mark: tuple[int, int] = (0, 0),
                 replaces: SpokenTurn | None = None, not_before: float = 0.0) -> None:
        self._commit = commit
        self.not_before = not_before  # (monotonic) the member's silence long enough for it to be said
        self.mark = mark
        self.committed = commit is None
        self.withdrawn = False
        self.ended = False  # the utterance ended at this pause anyway (the full wait): nothing to conclude
        self.replaces = replaces  # a withdrawn (or unsaid) turn of the same utterance: these words rewrite it
        self.task: asyncio.Task[None] | None = None  # its answer, what withdrawing cancels
        self.message_id: int | None = None  # the message its words are, once the answerer made it
        self.words = ""  # the words answered (with those of a turn it follows)

    async def due(self) -> None:
        """Until the member's pause has lasted long enough to answer (its answer ready sooner waits)."""
        delay = self.not_before - time.monotonic()
        if delay > 0 and not self.committed:
            await asyncio.sleep(delay)

    def commit(self) -> bool:
        """The turn ends here, for its answer to be said; False (and withdrawn) when the member went on."""
        if not self.committed and not self.withdrawn:
            assert self._commit is not None
            if self.ended or self._commit():
                self.committed = True
            else:
                self.withdraw()
        return self.committed

    def withdraw(self) -> bool:
        """The member went on before the answer began to be said: it is cancelled. False: too late."""
        if self.committed:
            return False
        if not self.withdrawn:
            self.withdrawn = True
            if self.task is not None:
                self.task.cancel()
        return True


OnTurn = Callable[[int, str, Utterance, SpokenTurn], Awaitable[None]]


@dataclass
class _Early:
    """A transcription begun at a pause: its utterance's mark and its words (None: none made out)."""

    mark: tuple[int, int]
    task: asyncio.Task[str | None]


class Hearing:
    """``on_heard(member id, content, utterance)`` runs for each utterance that had words in it, or with
    ``on_turn`` (then ``on_heard`` may be None), ``on_turn(member id, content, utterance, turn)``, answers
    begun at a pause among them (speculative).
    ``guild_id`` and ``channel_id``: the call's, what its transcriptions are spent for; ``is_bot(member
    id)``: whether a member is a bot (or unknown), whose utterances are dropped untranscribed;
    ``listens(member id)``: whether the one rule lets the character hear them, asked before each utterance
    is transcribed."""

    def __init__(self, voice: VoiceService,
                 on_heard: Callable[[int, str, Utterance], Awaitable[None]] | None, *,
                 guild_id: int | None = None, channel_id: int = 0,
                 is_bot: Callable[[int], bool] = lambda _member: False,
                 listens: Callable[[int], Awaitable[bool]] | None = None,
                 on_turn: OnTurn | None = None, hold_seconds: float = 0.0) -> None:
        self._voice = voice
        self._on_heard = on_heard
        self._on_turn = on_turn
        self._hold = hold_seconds  # how much longer than the pause the silence lasts before an answer is said
        self._guild_id = guild_id
        self._channel_id = channel_id
        self._is_bot = is_bot
        self._listens = listens
        self._queues: dict[int, deque[Utterance]] = {}  # by member: what waits to be transcribed
        self._waiting: dict[int, asyncio.Event] = {}  # by member: set while their queue has something
        self._tasks: dict[int, asyncio.Task[None]] = {}
        self._busy: set[int] = set()  # members whose utterance is being heard now
        self._early: dict[int, _Early] = {}  # by member: the transcription begun at their latest pause
        self._answering: set[asyncio.Task[None]] = set()
        self.dropped = 0  # utterances dropped untranscribed because too many of a member's waited
        self.early = 0  # utterances answered at a pause, without the full end-of-silence wait
        self.withdrawn = 0  # answers begun at a pause and withdrawn: the member went on
        # The receiver's ``conclude(member, mark)``: ends an utterance at a pause, if that pause lasts; and
        # ``paused(member, mark)``: whether it does.
        self.conclude: Callable[[int, tuple[int, int]], bool] | None = None
        self.paused: Callable[[int, tuple[int, int]], bool] | None = None
        self._turns: dict[int, SpokenTurn] = {}  # by member: their latest turn begun at a pause
        self._said: dict[int, str] = {}  # by member: the words of their latest turn answered at a pause

    def utterance(self, utterance: Utterance) -> None:
        """An utterance from the receiver (on the event loop): queued behind the member's earlier ones."""
        if self._is_bot(utterance.user_id):  # another bot's audio is no one's words
            log.debug("an utterance of %s, a bot, was not transcribed", utterance.user_id)
            return
        member = utterance.user_id
        if not utterance.final:
            self._at_pause(utterance)
            return
        turn = self._turns.get(member)
        if turn is not None and turn.mark == utterance.mark and not turn.withdrawn:
            turn.ended = True  # the answer begun at its pause is this utterance's
            self._early.pop(member, None)
            return
        queue = self._queues.setdefault(member, deque())
        if len(queue) >= MAX_WAITING:
            queue.popleft()
            self.dropped += 1
            log.warning("an utterance of member %s in voice channel %s was dropped untranscribed: %d more "
                        "were waiting (%d dropped in this call)", member, self._channel_id, MAX_WAITING,
                        self.dropped)
        queue.append(utterance)
        self._waiting.setdefault(member, asyncio.Event()).set()
        task = self._tasks.get(member)
        if task is None or task.done():  # (a hearing task never ends but by close; should one, another)
            self._tasks[member] = asyncio.create_task(self._transcribe(member),
                                                      name=f"voice-hearing-{member}")

    def _at_pause(self, utterance: Utterance) -> None:
        member = utterance.user_id
        if self.conclude is None or self._queues.get(member) or member in self._busy:
            return  # heard in its turn, at its end: an early answer must not overtake what waits
        task = asyncio.create_task(self._words(utterance), name=f"voice-early-{member}")
        self._early[member] = _Early(utterance.mark, task)
        answer = self._answer_early if self._on_turn is None else self._speculate
        answering = asyncio.create_task(answer(utterance, task), name=f"voice-early-answer-{member}")
        self._answering.add(answering)
        answering.add_done_callback(self._answering.discard)

    async def _answer_early(self, utterance: Utterance, task: asyncio.Task[str | None]) -> None:
        member = utterance.user_id
        try:
            words = await task
            if not words or not ends_sentence(words) or member in self._busy or self._queues.get(member):
                return  # the full wait decides
            assert self.conclude is not None
            if not self.conclude(member, utterance.mark):
                return  # they went on speaking (or it ended meanwhile, and its final reuses these words)
            self.early += 1
            self._busy.add(member)
            try:
                assert self._on_heard is not None
                await self._on_heard(member, transcript_content(words), utterance)
            finally:
                self._busy.discard(member)
        except asyncio.CancelledError:
            raise
        except Exception:  # as in _transcribe: one failed answer must not deafen them
            log.exception("the words of member %s in voice channel %s were heard but not answered",
                          member, self._channel_id)

    def resumed(self, member: int) -> None:
        """The member's speech went on after a pause (the receiver's ``on_resume``): an answer begun there
        that is not being said yet is withdrawn."""
        turn = self._turns.get(member)
        if turn is not None and not turn.committed and not turn.withdrawn:
            turn.withdraw()
            self.withdrawn += 1

    def _follows(self, utterance: Utterance, words: str) -> str:
        """The words of a turn: with those of the turn answered at a pause just before, when the member went
        on within the full wait of it (one turn by that wait)."""
        if not utterance.follows:
            self._said.pop(utterance.user_id, None)
            return words
        earlier = self._said.get(utterance.user_id, "")
        return f"{earlier} {words}" if earlier else words

    def _replaced(self, utterance: Utterance) -> SpokenTurn | None:
        """The turn begun at an earlier pause of this same utterance and not said: the member went on."""
        turn = self._turns.get(utterance.user_id)
        if turn is None or turn.mark[0] != utterance.mark[0] or turn.committed:
            return None
        turn.withdraw()
        return turn

    async def _speculate(self, utterance: Utterance, task: asyncio.Task[str | None]) -> None:
        member = utterance.user_id
        try:
            words = await task
            if not words or not ends_sentence(words) or member in self._busy or self._queues.get(member):
                return  # the full wait decides
            if self.paused is not None and not self.paused(member, utterance.mark):
                return  # they went on meanwhile
            assert self.conclude is not None and self._on_turn is not None
            conclude = self.conclude
            turn = SpokenTurn(lambda: conclude(member, utterance.mark), mark=utterance.mark,
                        replaces=self._replaced(utterance), not_before=utterance.ended_at + self._hold)
            turn.words = self._follows(utterance, words)
            self._turns[member] = turn
            self.early += 1
            self._busy.add(member)
            try:
                await self._on_turn(member, transcript_content(turn.words), utterance, turn)
            finally:
                self._busy.discard(member)
                if turn.committed:
                    self._said[member] = turn.words
        except asyncio.CancelledError:
            raise
        except Exception:  # as in _transcribe: one failed answer must not deafen them
            log.exception("the words of member %s in voice channel %s were heard but not answered",
                          member, self._channel_id)

    async def _transcribe(self, member: int) -> None:
        queue, waiting = self._queues[member], self._waiting[member]
        while True:
            await waiting.wait()
            utterance = queue.popleft()
            if not queue:
                waiting.clear()
            self._busy.add(member)
            try:
                await self._hear(utterance)
            except asyncio.CancelledError:
                raise
            except Exception:  # one failed answer (a post refused, the database) must not deafen them
                log.exception("the words of member %s in voice channel %s were heard but not answered",
                              member, self._channel_id)
            finally:
                self._busy.discard(member)

    async def _words(self, utterance: Utterance) -> str | None:
        """The utterance transcribed (None: not heard, refused, or failed; logged)."""
        if self._listens is not None and not await self._listens(utterance.user_id):
            return None  # not heard: nothing of it leaves the process
        payer = Payer(utterance.user_id, self._guild_id, self._channel_id)
        try:
            return await self._voice.transcribe(utterance.wav(), "utterance.wav", "audio/wav", payer,
                                                seconds=utterance.seconds)
        except VoiceRefused as exc:  # a spending limit, logged once by the limits
            log.debug("a voice channel utterance was not transcribed: %s", exc)
        except VoiceUnavailable as exc:
            log.warning("a voice channel utterance was not transcribed: %s", exc)
        return None

    async def _hear(self, utterance: Utterance) -> None:
        early = self._early.pop(utterance.user_id, None)
        if early is not None and early.mark == utterance.mark:
            words = await asyncio.shield(early.task)  # begun at its pause: the same audio, heard once
        else:
            words = await self._words(utterance)
        if not words or not words.strip():
            return
        if self._on_turn is None:
            assert self._on_heard is not None
            await self._on_heard(utterance.user_id, transcript_content(words), utterance)
            return
        turn = SpokenTurn(mark=utterance.mark, replaces=self._replaced(utterance))
        turn.words = self._follows(utterance, words)
        self._turns.pop(utterance.user_id, None)
        await self._on_turn(utterance.user_id, transcript_content(turn.words), utterance, turn)

    async def close(self) -> None:
        tasks = [*self._tasks.values(), *self._answering, *(e.task for e in self._early.values())]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._tasks.clear()
        self._early.clear()
