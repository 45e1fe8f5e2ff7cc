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
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable

from bot.discord.voicechat.segmenter import Utterance
from bot.runtime.voice import Payer, VoiceRefused, VoiceService, VoiceUnavailable, transcript_content

log = logging.getLogger(__name__)

MAX_WAITING = 3  # a member's utterances waiting to be transcribed; the oldest goes first when more come


class Hearing:
    """``on_heard(member id, content, utterance)`` runs for each utterance that had words in it.
    ``guild_id`` and ``channel_id``: the call's, what its transcriptions are spent for; ``is_bot(member
    id)``: whether a member is a bot (or unknown), whose utterances are dropped untranscribed;
    ``listens(member id)``: whether the one rule lets the character hear them, asked before each utterance
    is transcribed."""

    def __init__(self, voice: VoiceService,
                 on_heard: Callable[[int, str, Utterance], Awaitable[None]], *,
                 guild_id: int | None = None, channel_id: int = 0,
                 is_bot: Callable[[int], bool] = lambda _member: False,
                 listens: Callable[[int], Awaitable[bool]] | None = None) -> None:
        self._voice = voice
        self._on_heard = on_heard
        self._guild_id = guild_id
        self._channel_id = channel_id
        self._is_bot = is_bot
        self._listens = listens
        self._queues: dict[int, deque[Utterance]] = {}  # by member: what waits to be transcribed
        self._waiting: dict[int, asyncio.Event] = {}  # by member: set while their queue has something
        self._tasks: dict[int, asyncio.Task[None]] = {}
        self.dropped = 0  # utterances dropped untranscribed because too many of a member's waited

    def utterance(self, utterance: Utterance) -> None:
        """An utterance from the receiver (on the event loop): queued behind the member's earlier ones."""
        if self._is_bot(utterance.user_id):  # another bot's audio is no one's words
            log.debug("an utterance of %s, a bot, was not transcribed", utterance.user_id)
            return
        member = utterance.user_id
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

    async def _transcribe(self, member: int) -> None:
        queue, waiting = self._queues[member], self._waiting[member]
        while True:
            await waiting.wait()
            utterance = queue.popleft()
            if not queue:
                waiting.clear()
            try:
                await self._hear(utterance)
            except asyncio.CancelledError:
                raise
            except Exception:  # one failed answer (a post refused, the database) must not deafen them
                log.exception("the words of member %s in voice channel %s were heard but not answered",
                              member, self._channel_id)

    async def _hear(self, utterance: Utterance) -> None:
        if self._listens is not None and not await self._listens(utterance.user_id):
            return  # not heard: nothing of it leaves the process
        payer = Payer(utterance.user_id, self._guild_id, self._channel_id)
        try:
            words = await self._voice.transcribe(utterance.wav(), "utterance.wav", "audio/wav", payer,
                                                 seconds=utterance.seconds)
        except VoiceRefused as exc:  # a spending limit, logged once by the limits
            log.debug("a voice channel utterance was not transcribed: %s", exc)
            return
        except VoiceUnavailable as exc:
            log.warning("a voice channel utterance was not transcribed: %s", exc)
            return
        if words.strip():
            await self._on_heard(utterance.user_id, transcript_content(words), utterance)

    async def close(self) -> None:
        for task in self._tasks.values():
            task.cancel()
        await asyncio.gather(*self._tasks.values(), return_exceptions=True)
        self._tasks.clear()
