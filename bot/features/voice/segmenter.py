"""One member's audio cut into utterances: speech between silences, no longer than a set length.

WebRTC's voice activity detector (webrtcvad-wheels) judges each 20 ms frame of 48 kHz 16-bit mono, the rate
a call's Opus decodes to, so nothing is resampled. An utterance starts after a few voiced frames in a row
(with a little of what came before, so its first syllable is not clipped) and ends after a run of silence,
when the member's client stops sending (``finish``), or at the length limit; one with too little speech in
it (a cough, a click) is dropped.

Endpointing: a shorter run of silence (``pause_seconds``) is a pause, which may be the end. What was said up
to it is handed out early (``take_pause``) for a transcription that, when it ends a sentence, ends the
utterance there (``conclude``) without waiting the full silence; a member who goes on speaking makes the
pause nothing (``resumed``: told once per pause), and the utterance goes on. An utterance that begins before
the full wait would have ended the one concluded at a pause ``follows`` it: by the full wait it was one turn.
"""

from __future__ import annotations

import io
import wave
from collections import deque
from dataclasses import dataclass

import webrtcvad

SAMPLE_RATE = 48_000
FRAME_SECONDS = 0.02
FRAME_BYTES = int(SAMPLE_RATE * FRAME_SECONDS) * 2  # one 20 ms frame of 16-bit mono
AGGRESSIVENESS = 2  # 0 to 3: how readily the detector calls a frame not speech


@dataclass(frozen=True)
class Utterance:
    """What one member said between silences: 48 kHz 16-bit mono PCM. ``ended_at``: the monotonic time its
    end was known, from which the answer's latency is measured."""

    user_id: int
    pcm: bytes
    ended_at: float
    final: bool = True  # False: only a pause so far, the utterance may go on (``Segmenter.take_pause``)
    mark: tuple[int, int] = (0, 0)  # (which utterance of the speaker, its frames): a pause's is its final's
    silence: int = 0  # silent frames after the speech when it was handed on
    follows: bool = False  # it began within the full wait of the end of one concluded at its pause

    @property
    def seconds(self) -> float:
        return len(self.pcm) / 2 / SAMPLE_RATE

    def wav(self) -> bytes:
        """The utterance as a WAV file, what a speech-to-text server takes."""
        out = io.BytesIO()
        with wave.open(out, "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(SAMPLE_RATE)
            w.writeframes(self.pcm)
        return out.getvalue()


class Segmenter:
    """Frames in, utterances' PCM out, for one speaker."""

    def __init__(self, *, max_seconds: float, end_silence_seconds: float = 0.6,
                 pause_seconds: float | None = None, start_frames: int = 3, preroll_frames: int = 10,
                 min_voiced_frames: int = 8) -> None:
        self._vad = webrtcvad.Vad(AGGRESSIVENESS)
        self._max_frames = max(1, int(max_seconds / FRAME_SECONDS))
        self._end_silence = max(1, int(end_silence_seconds / FRAME_SECONDS))
        self._pause = None if pause_seconds is None else max(1, int(pause_seconds / FRAME_SECONDS))
        self.serial = 0  # utterances begun
        self._paused: bytes | None = None  # what was said up to a pause just reached, until taken
        self._pause_at = 0  # the frames of speech at the latest pause (0: none since the speech went on)
        self.ended: tuple[tuple[int, int], int] = ((0, 0), 0)  # the last utterance finished: mark, silence
        self._start_frames = start_frames
        self._min_voiced = min_voiced_frames
        self._preroll: deque[bytes] = deque(maxlen=preroll_frames)
        self._run = 0  # voiced frames in a row, before an utterance starts
        self._frames: list[bytes] = []  # the utterance under way (empty: none)
        self._voiced = 0
        self._silence = 0
        self._grace = 0  # frames left of the full wait after an utterance concluded at its pause
        self._run_in_grace = False  # the voiced run under way began within that wait
        self.follows = False  # the utterance under way began within it
        self.resumed = False  # speech went on after a pause was handed out (until read: ``take_resumed``)

    @property
    def speaking(self) -> bool:
        return bool(self._frames)

    @property
    def voiced(self) -> int:
        """Voiced frames in the utterance under way (0: none under way)."""
        return self._voiced if self._frames else 0

    def push(self, frame: bytes, *, echo: bool = False) -> bytes | None:
        """One 20 ms frame; the PCM of the utterance it ended, if it ended one. ``echo``: the frame is the
        bot's own voice coming back (echo.py), silence to the detector (kept as it is in the audio)."""
        if len(frame) != FRAME_BYTES:
            frame = frame[:FRAME_BYTES].ljust(FRAME_BYTES, b"\0")
        voiced = not echo and self._vad.is_speech(frame, SAMPLE_RATE)
        if not self._frames:
            self._preroll.append(frame)
            self._run = self._run + 1 if voiced else 0
            if self._run == 1:
                self._run_in_grace = self._grace > 0
            self._grace = max(0, self._grace - 1)
            if self._run >= self._start_frames:
                self._frames, self._voiced, self._silence = list(self._preroll), self._run, 0
                self._preroll.clear()
                self.serial += 1
                self.follows, self._grace = self._run_in_grace, 0
            return None
        self._frames.append(frame)
        if voiced:
            self._voiced += 1
            if self._pause_at:
                self.resumed = True
            self._silence, self._pause_at = 0, 0
        else:
            self._silence += 1
        if self._silence >= self._end_silence or len(self._frames) >= self._max_frames:
            return self.finish()
        if self._silence == self._pause and self._voiced >= self._min_voiced:
            self._pause_at = len(self._frames) - self._silence
            self._paused = b"".join(self._frames[:self._pause_at])
        return None

    @property
    def silence(self) -> int:
        """Silent frames since the speech of the utterance under way."""
        return self._silence

    def skip(self, frames: int) -> None:
        """``frames`` of silence the member's client did not send (its clock went on): counted against the
        full wait after a concluded utterance."""
        self._grace = max(0, self._grace - frames)

    def take_resumed(self) -> bool:
        """Whether speech went on after a pause handed out since the last call (once)."""
        resumed, self.resumed = self.resumed, False
        return resumed

    def paused_at(self, mark: tuple[int, int]) -> bool:
        """Whether the utterance under way is still silent at its pause ``mark``."""
        return bool(self._frames) and bool(self._pause_at) and (self.serial, self._pause_at) == mark

    def take_pause(self) -> bytes | None:
        """What was said up to a pause the last frame reached (once), else None."""
        paused, self._paused = self._paused, None
        return paused

    def mark(self) -> tuple[int, int]:
        """The utterance under way and its frames of speech so far (what its pause or end is known by)."""
        return self.serial, len(self._frames) - self._silence

    def conclude(self, mark: tuple[int, int]) -> bool:
        """End the utterance at its pause ``mark`` without handing it out (it was heard from the pause): only
        while that pause lasts; False when the speech went on, or the utterance ended anyway."""
        if not self.paused_at(mark):
            return False
        self._grace = self._end_silence - self._silence  # what the full wait had left to run
        self._frames, self._voiced, self._silence, self._run, self._pause_at = [], 0, 0, 0, 0
        self._preroll.clear()
        return True

    def finish(self) -> bytes | None:
        """The speaker stopped (or went quiet): the utterance under way, if it had enough speech in it."""
        frames, voiced = self._frames, self._voiced
        if self._silence:  # what trailed the speech is no part of it
            frames = frames[:len(frames) - self._silence]
        self.ended = (self.serial, len(frames)), self._silence  # the mark of what it hands out, and its wait
        self._frames, self._voiced, self._silence, self._run, self._pause_at = [], 0, 0, 0, 0
        self._paused = None
        self._preroll.clear()
        return b"".join(frames) if voiced >= self._min_voiced else None
