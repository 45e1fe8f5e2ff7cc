"""The receiving half of a call: each member's RTP packets to utterances.

Packets come on discord.py's socket-reader thread (``packet``), which only queues them: the receiver's own
thread does the rest, so that decoding, DAVE and the voice activity detector never hold up the socket (nor
the event loop). Which member an SSRC is comes from the voice gateway's SPEAKING events on the event loop
(``speaking``), queued behind the packets that came before it; the state is behind a lock (the loop's side
reads it and ends utterances), and each finished utterance is handed to the loop (``call_soon_threadsafe``).
Nothing is polled: ``quiet`` (no utterance under way: a reply may be said) and ``changed`` (one began or
ended: client.py's sweeper sleeps until the next ``deadline``) are events on the loop. A packet is opened
with the transport key (``rtp.py``); its frame, under DAVE, decrypted with the bot's DAVE session as that
member's (each member has keys of its own, which is why a packet waits, briefly, for its SSRC's member to be
known); the Opus decoded by one decoder per SSRC (a lost frame or two concealed by the decoder); the left
channel cut into utterances (``segmenter.py``). A member's client stops sending when it goes quiet, after
five silence frames: those end the utterance at once, and ``sweep`` ends one whose packets simply stopped.

Time is the member's, not the process's. Each SSRC's packets go through a jitter buffer (``jitter.py``: one
that comes up to 60 ms after its successors is put back in its place, not dropped as late), and a gap is
measured by their RTP timestamps: a member silent for the end-of-silence wait by their own clock ends the
utterance, and a shorter gap counts as that much silence, however late the process got to the packets. The
wall clock only ends an utterance whose packets stopped altogether, without their silence frames, and then
only after ``STOPPED_GRACE`` more (a process starved of CPU for a moment must not cut a sentence in two).

Each member's audio is taken no faster than real time: a credit of 50 frames a second of the wall clock, at
most ``BURST_FRAMES`` saved up (the jitter of a network, a second of packets that waited for SPEAKING); a
packet past it is dropped and counted (``Counters.paced``). Sixty seconds of audio sent in two are not sixty
seconds of speech to transcribe.

DAVE passthrough: while the bot's DAVE session lets a member's frames through unencrypted (during a
transition, as Discord's clients do), a frame without DAVE's marker is taken as it is, and counted
(``Counters.passthrough``); otherwise such a frame is dropped as undecrypted.

A member's speech onset (``on_speech``: what stops the bot's own audio, barge-in) is told once an utterance
holds ``ONSET_VOICED_FRAMES`` voiced frames (120 ms of voice): a cough or a click is not enough. A frame that
is the bot's own voice coming back through a member's client (``echo.py``: it correlates with what the bot
played, ``played``) is silence to the detector, and counted (``Counters.echo``): it stops nothing and is no
one's words. A packet
whose Opus does not decode (corrupt, or a codec this decoder cannot read) is dropped and counted
(``Counters.corrupt``): logged in one line at the first, then at most once per ``CORRUPT_LOG_SECONDS`` with
the count since, never a traceback per packet.
"""

from __future__ import annotations

import array
import asyncio
import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Protocol

import davey
import discord.opus

from bot.discord.voicechat.jitter import Jitter
from bot.discord.voicechat.rtp import OPUS_SILENCE, RtpFrame, open_rtp
from bot.features.voice.echo import EchoWindow, Played
from bot.features.voice.segmenter import Segmenter, Utterance

log = logging.getLogger(__name__)

WAITING_PACKETS = 50  # a second of one SSRC's audio kept until SPEAKING says whose it is
MAX_CONCEALED = 5  # lost frames in a row the decoder fills in; past that the gap is just skipped
ONSET_VOICED_FRAMES = 6  # voiced 20 ms frames in an utterance before it counts as speech begun (barge-in)
CORRUPT_LOG_SECONDS = 60.0  # at most one log line this often about Opus that did not decode
FRAMES_PER_SECOND = 50  # 20 ms Opus frames: the real-time rate of one member's audio
BURST_FRAMES = 50  # a second of audio a member may send ahead of real time before packets are dropped
SAMPLES_PER_FRAME = 960  # the RTP timestamp's step per 20 ms frame (48 kHz)
STOPPED_GRACE = 0.6  # seconds past the end-of-silence wait before stopped packets end an utterance
DAVE_MARKER = b"\xfa\xfa"  # the last two bytes of every DAVE-encrypted frame
INBOX_PACKETS = 2_000  # packets queued for the receiver's thread (40 s of one member); past it, dropped


class VoiceLink(Protocol):
    """What the receiver reads of the voice connection, at each packet (both change on a reconnect)."""

    def transport_key(self) -> bytes | None:
        """The transport encryption's key once SESSION_DESCRIPTION gave it (in the mode rtp.py reads)."""

    def e2ee(self) -> davey.DaveSession | None:
        """The bot's DAVE session while frames are end-to-end encrypted, else None."""


@dataclass
class Counters:
    """What was dropped, and why: for the log and the tests."""

    frames: int = 0  # frames of members' audio decoded (not counting those concealed or silence filled in)
    unopened: int = 0  # packets that were not RTP of this call or did not authenticate
    undecrypted: int = 0  # frames the DAVE session could not decrypt
    unknown: int = 0  # packets of an SSRC no SPEAKING event named, dropped after waiting
    late: int = 0  # packets older than one already played (reordered past the jitter buffer, or repeated)
    corrupt: int = 0  # packets whose Opus did not decode
    paced: int = 0  # packets past a member's real-time credit
    passthrough: int = 0  # unencrypted frames taken while the DAVE session let them through
    overrun: int = 0  # packets dropped because the receiver's thread was that far behind
    echo: int = 0  # frames of members' audio taken for the bot's own voice coming back (silence to the VAD)


@dataclass
class _Speaker:
    user_id: int
    segmenter: Segmenter
    decoder: discord.opus.Decoder = field(default_factory=discord.opus.Decoder)
    jitter: Jitter = field(default_factory=Jitter)
    echo: EchoWindow = field(default_factory=EchoWindow)
    timestamp: int | None = None  # the RTP timestamp of the last frame played
    last_packet: float = 0.0  # when its latest packet arrived (monotonic)
    arrived: float = 0.0  # when the packet being played arrived (the echo check's clock: not when the
    # receiver's thread, perhaps behind, got to it)
    credit: float = BURST_FRAMES  # frames it may still send ahead of real time
    onset_told: bool = False  # the utterance under way was told as speech begun (once per utterance)
    paced: bool = False  # a packet was dropped for the real-time credit since the last one taken

    def admit(self, now: float) -> bool:
        """One more packet within real time (plus the burst)?"""
        if self.last_packet:
            self.credit = min(BURST_FRAMES, self.credit + (now - self.last_packet) * FRAMES_PER_SECOND)
        self.last_packet = now
        if self.credit < 1:
            return False
        self.credit -= 1
        return True


class VoiceReceiver:
    """One call's receiver. ``on_utterance`` runs on ``loop``; ``max_seconds``: an utterance's length
    limit. With ``pause_seconds``, what was said up to each pause that long is handed on too, as an
    utterance not ``final``, which ``conclude`` may end there."""

    def __init__(self, link: VoiceLink, loop: asyncio.AbstractEventLoop,
                 on_utterance: Callable[[Utterance], None], *, max_seconds: float,
                 end_silence_seconds: float = 0.6, pause_seconds: float | None = None,
                 on_speech: Callable[[int], None] | None = None) -> None:
        self._link = link
        self._loop = loop
        self._on_utterance = on_utterance
        self._on_speech = on_speech  # a member began an utterance (its id), on ``loop``: barge-in
        self._max_seconds = max_seconds
        self._end_silence = end_silence_seconds
        self._end_frames = max(1, int(end_silence_seconds * FRAMES_PER_SECOND))
        self._pause = pause_seconds
        self._lock = threading.Lock()
        self._members: dict[int, int] = {}  # ssrc -> member id, from SPEAKING
        self._speakers: dict[int, _Speaker] = {}  # by ssrc
        self._waiting: dict[int, list[tuple[float, RtpFrame]]] = {}  # by ssrc: (arrived, frame) of a
        # member not yet named
        self.counters = Counters()
        self.played = Played()  # what the bot played (its player's thread writes it): its echo is no speech
        # On ``loop``, a member's speech went on after a pause handed out (their id): an answer begun at
        # that pause is withdrawn if it has not begun to be said.
        self.on_resume: Callable[[int], None] | None = None
        # On ``loop``: set while no member is in the middle of an utterance (a reply waits for it), and
        # set when one begins or ends, or packets are held (the sweeper waits on it rather than polling).
        self.quiet = asyncio.Event()
        self.quiet.set()
        self.changed = asyncio.Event()
        self._inbox: queue.SimpleQueue[Callable[[], None] | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._work, name="voice-receiver", daemon=True)
        self._corrupt_logged = 0  # the corrupt count at the last log line about it
        self._corrupt_log_at: float | None = None  # when that line was logged
        self._thread.start()  # (last: it reads all of the above)

    def close(self) -> None:
        """Its thread ends (after what is queued)."""
        self._inbox.put(None)

    def _work(self) -> None:
        while (job := self._inbox.get()) is not None:
            try:
                job()
            except Exception:  # one bad packet must not end the hearing of the whole call
                log.exception("a voice packet could not be handled")

    # -- the voice gateway's side (event loop)

    def speaking(self, user_id: int, ssrc: int) -> None:
        """SPEAKING: ``ssrc`` is ``user_id``'s; frames that waited for it are played (on the receiver's
        thread, after the packets that came before)."""
        self._inbox.put(partial(self._named, user_id, ssrc))

    def _named(self, user_id: int, ssrc: int) -> None:
        with self._lock:
            self._members[ssrc] = user_id
            waiting = self._waiting.pop(ssrc, [])
            for at, frame in waiting:
                self._play(ssrc, frame, at)

    def left(self, user_id: int) -> None:
        """CLIENT_DISCONNECT: what the member was saying ends, and its SSRC is forgotten."""
        with self._lock:
            for ssrc in [s for s, u in self._members.items() if u == user_id]:
                self._finish(ssrc)
                self._members.pop(ssrc, None)
                self._speakers.pop(ssrc, None)
        self._changed()

    def sweep(self, now: float | None = None) -> None:
        """End the utterances of members whose packets stopped without the silence frames."""
        now = time.monotonic() if now is None else now
        if not self._inbox.empty():
            return  # the receiver's thread is behind: what it has not read yet may go on the utterance
        with self._lock:
            for ssrc, speaker in list(self._speakers.items()):
                if now - speaker.last_packet < self._end_silence + STOPPED_GRACE:
                    continue
                for lost, frame in speaker.jitter.flush():  # the missing ones will not come now
                    self._take(ssrc, speaker, lost, frame)
                if speaker.segmenter.speaking:
                    self._finish(ssrc)
        self._changed()

    def conclude(self, user_id: int, mark: tuple[int, int]) -> bool:
        """The member's utterance ends at its pause ``mark`` (it was heard from there), if that pause still
        lasts: False when they went on speaking, or it ended anyway (then its final is, or was, handed on)."""
        with self._lock:
            for speaker in self._speakers.values():
                if speaker.user_id == user_id and speaker.segmenter.conclude(mark):
                    speaker.onset_told = False
                    break
            else:
                return False
        self._changed()
        return True

    def paused(self, user_id: int, mark: tuple[int, int]) -> bool:
        """Whether the member's utterance is still silent at its pause ``mark``."""
        with self._lock:
            return any(s.user_id == user_id and s.segmenter.paused_at(mark) for s in self._speakers.values())

    def someone_speaking(self) -> bool:
        """Whether a member is in the middle of an utterance (a reply waits for a pause to be spoken)."""
        with self._lock:
            return any(s.segmenter.speaking for s in self._speakers.values())

    def deadline(self) -> float | None:
        """When ``sweep`` next has something to do (monotonic): the earliest moment a member in the middle
        of an utterance, or with packets held, will have sent nothing long enough; None: nobody is."""
        with self._lock:
            times = [s.last_packet for s in self._speakers.values()
                     if s.segmenter.speaking or s.jitter.holding]
        return min(times) + self._end_silence + STOPPED_GRACE if times else None

    def _changed(self) -> None:  # on the loop
        if self.someone_speaking():
            self.quiet.clear()
        else:
            self.quiet.set()
        self.changed.set()

    # -- the UDP socket's side (discord.py's reader thread)

    def packet(self, data: bytes) -> None:
        if self._inbox.qsize() >= INBOX_PACKETS:
            self.counters.overrun += 1
            return
        self._inbox.put(partial(self._packet, time.monotonic(), data))

    # -- the receiver's thread

    def _packet(self, at: float, data: bytes) -> None:
        key = self._link.transport_key()
        frame = open_rtp(key, data) if key else None
        with self._lock:
            if frame is None:
                self.counters.unopened += 1
            elif frame.ssrc not in self._members:
                waiting = self._waiting.setdefault(frame.ssrc, [])
                waiting.append((at, frame))
                if len(waiting) > WAITING_PACKETS:
                    del waiting[0]
                    self.counters.unknown += 1
            else:
                self._play(frame.ssrc, frame, at)

    # -- under the lock

    def _play(self, ssrc: int, frame: RtpFrame, at: float) -> None:
        speaker = self._speakers.get(ssrc)
        if speaker is None:
            segmenter = Segmenter(max_seconds=self._max_seconds, end_silence_seconds=self._end_silence,
                                  pause_seconds=self._pause)
            speaker = self._speakers[ssrc] = _Speaker(self._members[ssrc], segmenter)
        speaker.arrived = at
        if not speaker.admit(at):
            self.counters.paced += 1
            speaker.paced = True
            return
        if speaker.paced:  # the gap is of its own making: not the member's silence, nor a loss to conceal
            speaker.paced, speaker.jitter, speaker.timestamp = False, Jitter(), None
        late, speaking, holding = speaker.jitter.late, speaker.segmenter.speaking, speaker.jitter.holding
        playable = speaker.jitter.put(frame)
        self.counters.late += speaker.jitter.late - late
        for lost, ready in playable:
            self._take(ssrc, speaker, lost, ready)
        if speaker.segmenter.speaking != speaking or speaker.jitter.holding and not holding:
            self._loop.call_soon_threadsafe(self._changed)

    def _take(self, ssrc: int, speaker: _Speaker, lost: int, frame: RtpFrame) -> None:
        """A frame in its order, ``lost`` frames missing just before it."""
        quiet = lost  # frames between it and the one before, by the member's clock
        if speaker.timestamp is not None:
            step = ((frame.timestamp - speaker.timestamp) & 0xFFFFFFFF) // SAMPLES_PER_FRAME
            if 0 < step < 0x80000000 // SAMPLES_PER_FRAME:
                quiet = step - 1
        speaker.timestamp = frame.timestamp
        if frame.payload == OPUS_SILENCE:
            self._finish(ssrc)
            return
        if quiet >= self._end_frames:  # silent that long by the member's clock: what came before ended
            speaker.segmenter.skip(quiet)
            self._finish(ssrc)
            quiet = lost = 0
        opus = self._decrypt(speaker.user_id, frame.payload)
        if opus is None:
            return
        try:
            concealed = [speaker.decoder.decode(None, fec=False) for _ in range(min(lost, MAX_CONCEALED))]
            pcm = speaker.decoder.decode(opus, fec=False)
        except discord.opus.OpusError as exc:
            self._corrupt(speaker.user_id, exc)
            return
        self.counters.frames += 1
        for frame_pcm in concealed:
            self._push(ssrc, speaker, frame_pcm)
        silent = bytes(len(pcm))
        for _ in range(max(0, quiet - lost)):  # the client sent nothing: silence, on its clock
            self._push(ssrc, speaker, silent)
        self._push(ssrc, speaker, pcm)

    def _corrupt(self, user_id: int, exc: Exception) -> None:
        self.counters.corrupt += 1
        now = time.monotonic()
        if self._corrupt_log_at is not None and now - self._corrupt_log_at < CORRUPT_LOG_SECONDS:
            return
        since = self.counters.corrupt - self._corrupt_logged
        self._corrupt_logged, self._corrupt_log_at = self.counters.corrupt, now
        log.warning("%d voice packet(s) whose audio did not decode were dropped (the latest of member %s: "
                    "%s); %d in all in this call, logged at most once per %gs", since, user_id, exc,
                    self.counters.corrupt, CORRUPT_LOG_SECONDS)

    def _decrypt(self, user_id: int, payload: bytes) -> bytes | None:
        session = self._link.e2ee()
        if session is None:
            return payload
        if not payload.endswith(DAVE_MARKER):  # sent unencrypted: heard only while DAVE lets it through
            if session.can_passthrough(user_id):
                self.counters.passthrough += 1
                return payload
            self.counters.undecrypted += 1
            return None
        try:
            return bytes(session.decrypt(user_id, davey.MediaType.audio, payload))
        except Exception:  # davey raises plain exceptions: a frame of an old key, or not encrypted
            self.counters.undecrypted += 1
            return None

    def _push(self, ssrc: int, speaker: _Speaker, stereo: bytes) -> None:
        mono = array.array("h", stereo)[::2].tobytes()  # the left channel: a client's voice is mono
        echo = speaker.echo.judge(mono, self.played, speaker.arrived or None)
        if echo:
            self.counters.echo += 1
        pcm = speaker.segmenter.push(mono, echo=echo)
        if speaker.segmenter.take_resumed() and self.on_resume is not None:
            self._loop.call_soon_threadsafe(self.on_resume, speaker.user_id)
        if not speaker.segmenter.speaking:
            speaker.onset_told = False
        elif not speaker.onset_told and speaker.segmenter.voiced >= ONSET_VOICED_FRAMES:
            speaker.onset_told = True
            if self._on_speech is not None:
                self._loop.call_soon_threadsafe(self._on_speech, speaker.user_id)
        if pcm is not None:
            mark, silence = speaker.segmenter.ended
            self._emit(Utterance(speaker.user_id, pcm, time.monotonic(), mark=mark, silence=silence,
                                 follows=speaker.segmenter.follows))
        elif (paused := speaker.segmenter.take_pause()) is not None:
            self._emit(Utterance(speaker.user_id, paused, time.monotonic(), final=False,
                                 mark=speaker.segmenter.mark(), silence=speaker.segmenter.silence,
                                 follows=speaker.segmenter.follows))

    def _finish(self, ssrc: int) -> None:
        speaker = self._speakers.get(ssrc)
        if speaker is not None:
            pcm = speaker.segmenter.finish()
            if pcm is not None:
                mark, silence = speaker.segmenter.ended
                self._emit(Utterance(speaker.user_id, pcm, time.monotonic(), mark=mark, silence=silence,
                                     follows=speaker.segmenter.follows))

    def _emit(self, utterance: Utterance) -> None:
        self._loop.call_soon_threadsafe(self._on_utterance, utterance)
