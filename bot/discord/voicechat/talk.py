"""A call's words into the reply sequence, and its answers back out: the one place where talk in a voice
channel meets the reply pipeline (so the pipeline has no way in of its own for it).

Each member's transcribed utterance is that member's message in the voice channel's text chat (kept as
``[voice] ...``, consent and privacy as for any message there), handled by the reply sequence as a text
message is: addressed (its name said, or the member is the only other one in the call) it answers;
otherwise the first look and the votes decide. The answer is streamed to the call's outlet: posted in the
voice channel's chat and spoken into the call in the character's voice a sentence at a time as it is
written, one reply after another, never starting while a member speaks. Each answer is a task of its own
(what a graceful stop waits for), awaited by the member's hearing so their words are answered in order.

Speaking is pipelined: while a sentence plays, the next one is already with the text-to-speech backend (one
sentence ahead, no more: what an interruption throws away is at most one sentence's speech), so between two
sentences there is no silence beyond the backend's time to a first byte, if that.
The first sentence, when long, is begun at its first clause (``take_ahead``: bot/core/text.py's
``first_clause``, a clause mark after at least four words, in any script) before the rest of it is written,
and said on from there once it is: the first audio does not wait for the first full stop.

Barge-in, and what the character acknowledges: when a member's speech begins while it speaks (the receiver's
onset: 120 ms of voice, so a cough or a click does not count), its audio stops at once, mid-word (about 200 ms
after the member began), and it says nothing more of that answer. Its own voice coming back through a member's
client (on speakers, echo cancellation off) is not a member speaking (echo.py). It does not acknowledge the
interruption aloud (no "sorry, go ahead"): it yields. The answer's text is posted whole in the voice channel's
chat as it is written, so the unsaid rest is there to read, and nothing of it is said later. The member's
words are heard and answered like any others, once they finish (a reply never starts while a member speaks).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Protocol

import discord

from bot.core.language import detect
from bot.core.stages import Incoming
from bot.core.text import SENTENCE_END
from bot.discord.places import place_of
from bot.discord.posting import allowed_mentions_for, reply_nonce
from bot.discord.voicechat.calls import DiscordCall
from bot.discord.voicechat.speaking import play
from bot.features.voice.aloud import VIA_CALL
from bot.features.voice.hearing import SpokenTurn
from bot.features.voice.segmenter import Utterance
from bot.features.voice.speech import (
    Payer,
    VoiceRefused,
    VoiceService,
    VoiceUnavailable,
    spoken_text,
    without_actions,
)
from bot.runtime.lifecycle import InFlight

if TYPE_CHECKING:
    from bot.runtime.composition import Services

log = logging.getLogger(__name__)

MAX_TURN_WAIT = 10.0  # a reply waits at most this long for a pause before it is spoken anyway
FIRST_AUDIO_FIRST = 0.05  # a speculative answer's post waits at most this long for its first audio to start


class TalkBot(Protocol):
    @property
    def services(self) -> Services: ...  # the reply sequence and the voice service among them

    in_flight: InFlight  # a reply under way finishes before shutdown, as a text message's does


class CallTalk:
    """``heard`` is what DiscordCalls hands each member's words to."""

    def __init__(self, bot: TalkBot) -> None:
        self._bot = bot
        self._speaking: dict[int, asyncio.Lock] = {}  # by voice channel: one reply spoken at a time

    async def heard(self, call: DiscordCall, user_id: int, content: str, utterance: Utterance,
                    turn: SpokenTurn | None = None) -> None:
        if turn is not None and turn.withdrawn:
            return  # they went on before its answer was even begun
        replaced = turn.replaces if turn is not None else None
        earlier = replaced.message_id if replaced is not None else None
        msg = self.incoming(call, user_id, content, message_id=earlier)
        if msg is None:
            return
        if replaced is not None and replaced.task is not None:
            # the withdrawn answer's own ending first (its owed mark cleared), then its message is these words
            await asyncio.gather(replaced.task, return_exceptions=True)
        if earlier is not None:
            log_ = self._bot.services.store.log
            await log_.flush()
            await log_.set_content(earlier, content)
        # Its own task: what a graceful stop waits for is this answer, which ends, not the member's hearing
        # (a task that lives as long as the call); shielded, so leaving the call does not cut a reply half
        # posted (its speaking stops by itself once the call is gone). The hearing waits for it: a member's
        # words are answered in the order spoken.
        answer = asyncio.create_task(self._answer(call, msg, turn), name="voice-answer")
        if turn is not None:
            turn.message_id, turn.task = msg.message_id, answer
            if turn.withdrawn:  # they went on while its message was made
                answer.cancel()
        try:
            await asyncio.shield(answer)
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if not answer.cancelled() or (current is not None and current.cancelling()):
                raise  # (a withdrawn answer ends the turn's waiting quietly)

    async def _answer(self, call: DiscordCall, msg: Incoming, turn: SpokenTurn | None) -> None:
        lock = self._speaking.setdefault(call.channel_id, asyncio.Lock())
        held = turn if turn is not None and not turn.committed else None
        outlet = CallOutlet(call, self._bot.services.part(VoiceService), lock, msg.message_id,
                            Payer(msg.author_id, call.guild_id, call.channel_id), held, msg.content)
        with self._bot.in_flight:
            try:
                await self._bot.services.replies.handle(msg, lambda _key: outlet)
            except asyncio.CancelledError:
                outlet.abandon()
                if held is not None and held.withdrawn:
                    # Nothing was posted or said: no reply is owed to these words (the turn that replaces
                    # them marks its own, under the same message).
                    await self._bot.services.store.log.flush()
                    await self._bot.services.replies.withdraw(msg)
                raise
            finally:
                await outlet.spoken()

    @staticmethod
    def incoming(call: DiscordCall, user_id: int, content: str, *, message_id: int | None = None
                 ) -> Incoming | None:
        channel = call.channel
        member = channel.guild.get_member(user_id)
        if member is None or member.bot:  # (Hearing already drops their audio untranscribed)
            return None  # a member the cache does not know, or another bot: not heard as a person
        alone_with = call.client is not None and call.client.present == {user_id}
        now = discord.utils.utcnow()
        return Incoming(
            # No Discord message carries an utterance: its id is a snowflake of when it was heard.
            # (``message_id``: a withdrawn answer's, whose words these rewrite)
            message_id=message_id or discord.utils.time_snowflake(now, high=False) + (user_id & 0x3FFFFF),
            author_id=user_id, author_name=member.display_name, content=content, created_at=now,
            place=place_of(channel),
            # the only other one in the call speaks to the character, as a DM does
            mentions_bot=alone_with,
            author_roles=tuple(r.id for r in member.roles),
            via=VIA_CALL)  # answered in the call: its prompt says the reply will be spoken


class CallOutlet:
    """Posts an answer in the voice channel's chat and speaks it into the call as it is written: the reply
    is streamed to it (an ``EagerOutlet``, bot/reply/delivery.py), each sentence spoken once complete,
    while the rest is written; the chat's message is edited as the rest arrives. A member speaking over it
    stops it at once: the rest is posted, not said."""

    def __init__(self, call: DiscordCall, voice: VoiceService, turn: asyncio.Lock, answered: int,
                 payer: Payer, held: SpokenTurn | None = None, answering: str = "") -> None:
        self._call = call
        # A turn begun at a pause (speculative): nothing is posted, typed or said until its first audio
        # commits it (``_go``: set then); until then the member may go on and withdraw it.
        self._held = held
        self._go: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if held is None:
            self._go.set_result(None)
        self._voice = voice
        self._turn = turn
        self._answered = answered  # the utterance's message id: each part's nonce names it
        self._payer = payer  # the member answered: what speaking the answer is spent for
        self._parts = 0  # the part the next post is
        self._sentences: asyncio.Queue[str | None] = asyncio.Queue()  # to be said, in order; None: no more
        self._speaker: asyncio.Task[None] | None = None  # says them, one after another
        self._shown: dict[int, str] = {}  # message id -> its text as posted (what of it is said or queued)
        self._stopped = False  # spoken over: nothing more of this answer is said
        # The answer's language, from its first sentence that tells one: one voice for the whole answer (a
        # short "¡Sí!" alone does not tell, and must not be read in another voice).
        self._language: str | None = None
        # Until one tells it, the language of the words answered (else the one their speech was expected
        # in): a short first sentence ("Ja, gern.") is not read in the character's voice of another language.
        self._answering = answering
        self._answered_in: tuple[str | None] | None = None  # read once, when first needed
        self._ahead = ""  # the first sentence's start, said before the sentence was posted
        # Set once the first audio is under way (or none will be): a speculative answer's post waits for it
        # a moment, so that the call hears it before the event loop turns to posting.
        self._begun: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    @contextlib.asynccontextmanager
    async def typing(self) -> AsyncIterator[None]:
        if not self._go.done():  # a speculative answer shows nothing (it is said within the moment anyway)
            yield
            return
        async with self._call.channel.typing():
            yield

    def streams_always(self) -> bool:
        return True

    async def send(self, text: str, *, first: bool) -> int | None:
        # the one mention policy of every post; a re-sent part is the same post (bot/discord/posting.py)
        nonce = reply_nonce(self._answered, self._parts)
        self._parts += 1
        said, self._ahead = self._ahead, ""
        # the first sentence from after what was said of it ahead (a stream retried differently: all of it)
        unsaid = text[len(said):] if said and text.startswith(said) else text
        if not self._go.done():  # speculative: its speech made now, posted once its first audio commits it
            self._say_next(unsaid)
            await self._committed()
            if self._speaker is not None:
                with contextlib.suppress(TimeoutError):  # (speech not made yet: posted meanwhile)
                    await asyncio.wait_for(asyncio.shield(self._begun), FIRST_AUDIO_FIRST)
            unsaid = ""
        message = await self._call.channel.send(text, allowed_mentions=allowed_mentions_for(text),
                                                nonce=nonce)
        self._shown[message.id] = text
        self._say_next(unsaid)
        return message.id

    def take_ahead(self, clause: str) -> None:
        if self._parts or self._ahead or "*" in clause:  # (an action may be open in it: said whole later)
            return
        self._ahead = clause
        self._say_next(clause)

    async def edit(self, message_id: int, text: str) -> None:
        await self._call.channel.get_partial_message(message_id).edit(
            content=text, allowed_mentions=allowed_mentions_for(text))
        before = self._shown.get(message_id, "")
        self._shown[message_id] = text
        if text.startswith(before):  # the sentences written since (a retried stream that differs: not said)
            self._say_next(text[len(before):])

    async def delete(self, message_id: int) -> None:
        self._shown.pop(message_id, None)
        await self._call.channel.get_partial_message(message_id).delete()

    def resume_at(self, part: int) -> None:
        """The next part posted is part ``part`` of the reply (a reply resumed): its nonce is that part's,
        so a part that reached Discord is not posted twice."""
        self._parts = part

    async def _committed(self) -> None:
        """Until the turn is committed (its first audio about to play; at once when nothing of it is to be
        said); a turn withdrawn meanwhile cancels this answer, so this never returns for it."""
        if self._speaker is None and self._held is not None:
            await self._held.due()
            if not self._go.done() and self._held.commit():
                self._go.set_result(None)
        await asyncio.shield(self._go)

    def abandon(self) -> None:
        """The answer is cancelled (withdrawn, or the call left): nothing more of it is said."""
        self._stopped = True
        if self._speaker is not None:
            self._speaker.cancel()

    async def spoken(self) -> None:
        """The answer is written: until what is to be said of it was said (or stopped)."""
        self._sentences.put_nowait(None)
        if self._speaker is not None:
            await asyncio.gather(self._speaker, return_exceptions=True)

    def _say_next(self, text: str) -> None:
        if self._stopped:
            return
        # its actions out first: one spanning sentences (*sips. smiles.*) is not said in pieces; a sentence
        # with nothing left to say aloud is skipped
        for sentence in sentences(without_actions(text)):
            if spoken_text(sentence):
                self._sentences.put_nowait(sentence)
        if self._speaker is None and not self._sentences.empty():
            # Spoken beside the writing of the rest; answers in the order they take the turn.
            self._speaker = asyncio.create_task(self._speak(), name="voice-say")

    async def _speak(self) -> None:
        async with self._turn:
            upcoming = asyncio.create_task(self._next_speech(), name="voice-tts")
            try:
                while (pcm := await upcoming) is not None:
                    # the next sentence's speech is made while this one plays
                    upcoming = asyncio.create_task(self._next_speech(), name="voice-tts")
                    if not await self._play(pcm):
                        return
            finally:
                upcoming.cancel()
                self._begin()
        # Nothing said (its speech refused or failed): the answer is posted all the same, the turn ending
        # at its pause as if it had been said.
        if not self._go.done() and self._held is not None and self._held.commit():
            self._go.set_result(None)

    async def _next_speech(self) -> bytes | None:
        """The next sentence's speech; None when there is no more to say (or it may not be said)."""
        sentence = await self._sentences.get()
        client = self._call.client
        if sentence is None or self._stopped or client is None or not client.is_connected():
            return None
        try:
            self._language = self._language or detect(spoken_text(sentence))
            language = self._language or await self._answered_language()
            return await self._voice.speak_in_call(sentence, self._payer, language=language)
        except VoiceRefused as exc:  # a spending limit, logged once by the limits
            log.info("a reply in voice channel %s was posted but not spoken: %s", self._call.channel_id, exc)
        except VoiceUnavailable as exc:
            log.warning("a reply in voice channel %s was posted but not spoken: %s", self._call.channel_id,
                        exc)
        self._stopped = True
        return None

    async def _answered_language(self) -> str | None:
        """The language of the words answered, else the one the member's speech was expected in (their
        writing's, the server's). The sentences' speech is made one after another: read once."""
        if self._answered_in is None:
            self._answered_in = (await self._voice.answered_language(self._answering, self._payer),)
        return self._answered_in[0]

    async def _play(self, pcm: bytes) -> bool:
        """One sentence played whole; False when it was not (spoken over, the call left): nothing more of
        the answer is said."""
        if not self._go.done():
            # the first audio of an answer begun at a pause: once the pause lasted long enough, the member's
            # turn ends here, unless they went on (then the turn is withdrawn and this answer cancelled)
            if self._held is not None:
                await self._held.due()
            if self._held is None or not self._held.commit():
                self._stopped = True
                return False
            self._go.set_result(None)
        await self._wait_for_a_pause()
        client = self._call.client
        if self._stopped or client is None or not client.is_connected():
            self._stopped = True
            return False
        interrupted, spoken_over = client.interrupted, client.spoken_over
        played = await play(client, pcm, started=self._begin)
        if client.interrupted != interrupted:  # barge-in: stopped at once
            log.info("a member spoke over the reply in voice channel %s: it stopped, the rest is in the chat",
                     self._call.channel_id)
        elif played and client.spoken_over != spoken_over:  # (a client without barge-in: after the sentence)
            log.info("a member spoke over the reply in voice channel %s: it stopped after the sentence",
                     self._call.channel_id)
            played = False
        self._stopped = self._stopped or not played
        return played

    def _begin(self) -> None:
        if not self._begun.done():
            self._begun.set_result(None)

    async def _wait_for_a_pause(self) -> None:
        client = self._call.client
        if client is None:
            return
        try:  # the receiver sets it when the last utterance under way ends
            await asyncio.wait_for(client.receiver.quiet.wait(), MAX_TURN_WAIT)
        except TimeoutError:
            pass


def sentences(text: str) -> list[str]:
    """The reply cut after each sentence's end, in any script (``.``, ``!`` or ``?`` that ends a word, a
    Japanese or Chinese ``。``, ``！``, ``？`` wherever it is; bot/core/text.py): what is said whole when a
    member speaks over it."""
    out: list[str] = []
    start = 0
    for match in SENTENCE_END.finditer(text):
        piece = text[start:match.end()].strip()
        if piece:
            out.append(piece)
        start = match.end()
    rest = text[start:].strip()
    return [*out, rest] if rest else out
