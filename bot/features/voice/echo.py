"""The character's own voice coming back: a member on speakers whose client sends on what it plays (echo
cancellation off, a loopback, a virtual cable) sends the bot's voice back to it. That is no one speaking over
it, and no one's words: a frame of a member's audio that correlates with what the bot itself played a moment
before is the bot's echo, and counts as silence (receiver.py hands it to the segmenter as unvoiced: it neither
begins an utterance, nor stops the bot's audio, nor is transcribed as the member's speech).

What the bot plays is tapped as discord.py's player reads it (``Played``, written on the player's thread:
the left channel, low-passed and taken down to 8 kHz, into a ring of the last few seconds, each clip's frames
at their nominal 20 ms steps from the clip's start). Each loud frame of a member's, while the bot played
within the last 0.9 s, is judged with the member's last 200 ms from its first loud frame (``EchoWindow``,
timed by the packet's arrival): the largest normalised cross-correlation of that window with what was
played, over every echo delay from 0 to ``MAX_DELAY`` (by FFT, on the receiver's thread where the audio
already is, about a millisecond). From ``THRESHOLD`` the frame is the bot's own voice; a frame too quiet to
judge is as the loud one before it was. No lower bar to stay an echo once it is one: a member whose voice is
like the bot's would be held back from barging in.

A member really speaking over the bot correlates little with it, even with the echo mixed in: their voice is
not explained by what was played (the correlation is the echo's share of the window's energy, square-rooted),
and it stops the bot as before. Measured (benchmarks/bench_echo.py, docs/performance.md): the bot's played
speech sent back through two Opus generations, attenuated and delayed, against espeak-ng speech of a member.
Echo shaped by a room (reverberation, a loudspeaker's and a microphone's filtering) correlates less sample by
sample; that is what a client's own echo cancellation (on by default in Discord's) removes before it sends.
"""

from __future__ import annotations

import threading
import time
from collections import deque

import numpy as np
import numpy.typing as npt

RATE = 8_000  # what both sides are compared at: speech's band, a sixth of the samples
STEP = 48_000 // RATE
FRAME = RATE // 50  # samples of a 20 ms frame at RATE
WINDOW_FRAMES = 10  # a member's last 200 ms, judged together
MAX_DELAY = 0.8  # seconds: the longest echo looked for (network both ways, a client's playout and capture)
EARLY = 0.1  # seconds a member's frame may seem to come before what it echoes (jitter, a batch of frames)
REANCHOR = 1.0  # seconds off its schedule at which a clip's frames are timed afresh (the player paused)
RING_SECONDS = 4.0  # what is kept of the bot's played audio
THRESHOLD = 0.85  # normalised cross-correlation from which a frame is the bot's echo (measured, see above)
LOUD_RMS = 100.0  # a member's frame quieter than this (16-bit) is not judged (too little to correlate)
PLAYED_RMS = 100.0  # what was played quieter than this at a delay is no reference there

Samples = npt.NDArray[np.float32]


def _low_pass(taps: int = 97, cutoff: float = 3_400.0) -> Samples:
    """A windowed-sinc FIR low-pass at 48 kHz: what is above ``cutoff`` must not fold into the 8 kHz signal
    (Opus fills its high bands afresh at each generation: folded down they would be noise to compare)."""
    n = np.arange(taps) - (taps - 1) / 2
    h: Samples = (np.sinc(2 * cutoff / 48_000 * n) * np.hamming(taps)).astype(np.float32)
    out: Samples = h / h.sum()
    return out


LOW_PASS = _low_pass()


class Decimator:
    """48 kHz 16-bit PCM, frame after frame of one stream, to RATE: low-passed, then every STEP-th sample (the
    filter's state carried from frame to frame)."""

    def __init__(self) -> None:
        self._tail = np.zeros(len(LOW_PASS) - 1, dtype=np.float32)

    def __call__(self, samples: npt.NDArray[np.int16]) -> Samples:
        joined = np.concatenate((self._tail, samples.astype(np.float32)))
        self._tail = joined[len(joined) - len(self._tail):]
        return np.convolve(joined, LOW_PASS, mode="valid")[::STEP].astype(np.float32)

    def reset(self) -> None:
        self._tail[:] = 0.0


def left(stereo: bytes) -> npt.NDArray[np.int16]:
    return np.frombuffer(stereo, dtype="<i2")[::2]


class Played:
    """The last ``RING_SECONDS`` of what the bot played, at RATE, by the monotonic clock. Written by the
    player's thread (``clip`` then ``frame``), read by the receiver's (``window``)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._size = int(RING_SECONDS * RATE)
        self._ring = np.zeros(self._size, dtype=np.float32)
        self._epoch = time.monotonic()
        self._end = 0  # the sample position written up to
        self.last = float("-inf")  # when the latest frame was played (monotonic)

    def position(self, at: float) -> int:
        return int((at - self._epoch) * RATE)

    def frame(self, position: int, samples: Samples) -> None:
        """One 20 ms frame at RATE (``Decimator``'s), played from sample ``position``."""
        with self._lock:
            if position > self._end:  # nothing was played between: silence there
                self._clear(self._end, position)
            index = np.arange(position, position + len(samples)) % self._size
            self._ring[index] = samples
            self._end = max(self._end, position + len(samples))
            self.last = max(self.last, self._epoch + (position + len(samples)) / RATE)

    def _clear(self, start: int, end: int) -> None:
        start = max(start, end - self._size)
        if end > start:
            self._ring[np.arange(start, end) % self._size] = 0.0

    def window(self, start: int, end: int) -> Samples:
        """What was played from ``start`` to ``end`` (sample positions); silence where nothing was."""
        out = np.zeros(end - start, dtype=np.float32)
        with self._lock:
            lo, hi = max(start, self._end - self._size), min(end, self._end)
            if hi > lo:
                out[lo - start:hi - start] = self._ring[np.arange(lo, hi) % self._size]
        return out


class Tapped:
    """Position of one clip's frames in ``Played``: the n-th frame at the clip's start plus n frames (the
    player keeps that schedule), re-anchored when the player fell far behind or paused."""

    def __init__(self, played: Played) -> None:
        self._played = played
        self._start: float | None = None
        self._frames = 0
        self._decimate = Decimator()

    def frame(self, stereo: bytes, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        # the player keeps its schedule (late, it catches up): a frame's time is the clip's start plus its
        # place, unless the player paused (a connection resumed) and began a new schedule
        if self._start is None or abs(self._start + self._frames * 0.02 - now) > REANCHOR:
            self._start, self._frames = now, 0
            self._decimate.reset()
        position = self._played.position(self._start) + self._frames * FRAME
        self._frames += 1
        self._played.frame(position, self._decimate(left(stereo)))


def correlation(member: Samples, played: Samples) -> float:
    """The largest |normalised cross-correlation| of ``member`` with a stretch of ``played`` as long, over
    every offset where ``played`` was loud enough to be a reference."""
    n, m = len(member), len(played)
    if m < n or not n:
        return 0.0
    energy = float(np.dot(member, member))
    if energy <= 0.0:
        return 0.0
    size = 1 << (n + m - 1).bit_length()
    products = np.fft.irfft(np.fft.rfft(played, size) * np.conj(np.fft.rfft(member, size)), size)[:m - n + 1]
    squares = np.concatenate(([0.0], np.cumsum(played.astype(np.float64) ** 2)))
    stretch = squares[n:] - squares[:-n]  # the energy of played[k:k + n], for each offset k
    loud = stretch > PLAYED_RMS ** 2 * n
    if not loud.any():
        return 0.0
    return float(np.max(np.abs(products[loud]) / np.sqrt(stretch[loud] * energy)))


class EchoWindow:
    """One member's last ``WINDOW_FRAMES`` frames, and whether the latest one is the bot's echo."""

    def __init__(self) -> None:
        self._frames: deque[tuple[float, Samples, bool]] = deque(maxlen=WINDOW_FRAMES)  # when, at RATE, loud
        self._decimate = Decimator()
        self.last = 0.0  # the correlation of the latest frame judged (for the log and the measurements)
        self.echoing = False  # the latest loud frame was the bot's echo

    def judge(self, mono: bytes, played: Played, now: float | None = None) -> bool:
        """Whether this frame (48 kHz 16-bit mono, the member's latest) is the bot's own voice."""
        now = time.monotonic() if now is None else now
        raw = np.frombuffer(mono, dtype="<i2")
        while self._frames and self._frames[0][0] < now - WINDOW_FRAMES * 0.02 - EARLY:
            self._frames.popleft()  # (a gap in the member's audio: what came before it is no part)
        if not self._frames:
            self.echoing = False
        samples = self._decimate(raw)
        loud = float(np.sqrt(np.mean(raw.astype(np.float32) ** 2))) >= LOUD_RMS
        self._frames.append((now, samples, loud))
        if now - played.last > MAX_DELAY + EARLY:
            self.echoing = False
            return False
        if not loud:  # too quiet to judge: as the loud frame before it was (an echo's softer moments)
            return self.echoing
        # from its first loud frame: the quiet before it would weigh as reference left unanswered (the start
        # of an echo, or of speech, after a silence)
        frames = list(self._frames)
        first = next(n for n, (_, _, loud) in enumerate(frames) if loud)
        member = np.concatenate([f for _, f, _ in frames[first:]])
        end = played.position(now + EARLY)
        reference = played.window(end - len(member) - int((MAX_DELAY + EARLY) * RATE), end)
        self.last = correlation(member, reference)
        self.echoing = self.last >= THRESHOLD
        return self.echoing
