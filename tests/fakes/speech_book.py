"""The fake speech-to-text's ear: it knows the lines a test had espeak-ng render and returns the one an
uploaded recording is, by the shape of its loudness over time (20 ms steps), matched across small shifts,
among lines of about its length. A recording that went through Opus, DAVE and a voice activity detector is
no longer the same bytes, but its envelope is the same line's."""

from __future__ import annotations

import io
import wave

import numpy as np


def _envelope(samples: np.ndarray, rate: int) -> np.ndarray:
    step = max(1, rate // 50)
    frames = samples[: len(samples) // step * step].astype(float).reshape(-1, step)
    loud = np.sqrt((frames ** 2).mean(axis=1))
    speech = np.flatnonzero(loud > 300)
    return loud[speech[0]: speech[-1] + 1] if len(speech) else loud[:0]


def _similarity(a: np.ndarray, b: np.ndarray) -> float:
    if len(a) < 5 or len(b) < 5 or not 0.7 < len(a) / len(b) < 1.4:
        return 0.0
    a, b = (a - a.mean()) / (a.std() or 1), (b - b.mean()) / (b.std() or 1)
    best = 0.0
    for shift in range(-10, 11):
        x, y = (a[shift:], b) if shift >= 0 else (a, b[-shift:])
        n = min(len(x), len(y))
        best = max(best, float(np.dot(x[:n], y[:n]) / n))
    return best


class SpeechBook:
    def __init__(self) -> None:
        self._lines: dict[str, np.ndarray] = {}

    def learn(self, line: str, pcm: bytes, *, channels: int = 2, rate: int = 48_000) -> None:
        """``line`` as rendered: 16-bit PCM."""
        self._lines[line] = _envelope(np.frombuffer(pcm, dtype="<i2")[::channels], rate)

    def heard_in(self, audio: bytes, line: str, *, lead: float = 0.5) -> bool:
        """Whether a WAV upload is ``line`` once up to ``lead`` seconds of something else before it are left
        out (an utterance begun on a sound just before the words, as a speech-to-text server would hear
        past)."""
        try:
            with wave.open(io.BytesIO(audio)) as w:
                rate, channels = w.getframerate(), w.getnchannels()
                samples = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")[::channels]
        except (wave.Error, EOFError):
            return False
        heard, step = _envelope(samples, rate), max(1, rate // 50)
        return any(_similarity(_envelope(samples[k * step:], rate), self._lines[line]) > 0.6
                   for k in range(int(lead * 50) + 1)) if len(heard) else False

    def recognize(self, audio: bytes) -> str | None:
        """The known line a WAV upload is, or None when none is close enough."""
        try:
            with wave.open(io.BytesIO(audio)) as w:
                rate, channels = w.getframerate(), w.getnchannels()
                samples = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")[::channels]
        except (wave.Error, EOFError):
            return None
        heard = _envelope(samples, rate)
        scored = sorted(((_similarity(heard, known), line) for line, known in self._lines.items()),
                        reverse=True)
        return scored[0][1] if scored and scored[0][0] > 0.6 else None
