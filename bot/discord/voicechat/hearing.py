"""What members said in a call, as text: each utterance transcribed by the speech-to-text backend of voice
messages (``stt_backend``), one at a time per member and in the order spoken, and handed on as that
member's words (``[voice] ...``, as a voice message's transcript is kept). An utterance in which the
backend made out nothing is no message; one it failed on is logged and dropped (the call goes on). Another
bot's audio is never sent to the backend, nor the words of one the character may not listen to (``listens``:
the one rule, bot/operator/reach.py): theirs are dropped unheard. Each transcription is spent for its
speaker, in the call's server.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from bot.discord.voicechat.segmenter import Utterance
from bot.runtime.voice import Payer, VoiceRefused, VoiceService, VoiceUnavailable, transcript_content

log = logging.getLogger(__name__)


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
        self._queues: dict[int, asyncio.Queue[Utterance]] = {}
        self._tasks: dict[int, asyncio.Task[None]] = {}

    def utterance(self, utterance: Utterance) -> None:
        """An utterance from the receiver (on the event loop): queued behind the member's earlier ones."""
        if self._is_bot(utterance.user_id):  # another bot's audio is no one's words
            log.debug("an utterance of %s, a bot, was not transcribed", utterance.user_id)
            return
        queue = self._queues.setdefault(utterance.user_id, asyncio.Queue())
        queue.put_nowait(utterance)
        if utterance.user_id not in self._tasks:
            self._tasks[utterance.user_id] = asyncio.create_task(
                self._transcribe(queue), name=f"voice-hearing-{utterance.user_id}")

    async def _transcribe(self, queue: asyncio.Queue[Utterance]) -> None:
        while True:
            utterance = await queue.get()
            if self._listens is not None and not await self._listens(utterance.user_id):
                continue  # not heard: nothing of it leaves the process
            payer = Payer(utterance.user_id, self._guild_id, self._channel_id)
            try:
                words = await self._voice.transcribe(utterance.wav(), "utterance.wav", "audio/wav", payer,
                                                     seconds=utterance.seconds)
            except VoiceRefused as exc:  # a spending limit, logged once by the limits
                log.debug("a voice channel utterance was not transcribed: %s", exc)
                continue
            except VoiceUnavailable as exc:
                log.warning("a voice channel utterance was not transcribed: %s", exc)
                continue
            if words.strip():
                await self._on_heard(utterance.user_id, transcript_content(words), utterance)

    async def close(self) -> None:
        for task in self._tasks.values():
            task.cancel()
        await asyncio.gather(*self._tasks.values(), return_exceptions=True)
        self._tasks.clear()
