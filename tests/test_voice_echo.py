"""The echo check alone (bot/features/voice/echo.py), on the packet clock: what the bot played, sent back
through Opus, late and quieter, is its own voice; a member's own speech while it plays, and anything when
it has not played, is not. (Over the wire: tests/test_voice_stops.py; measured: benchmarks/bench_echo.py.)"""

from __future__ import annotations

import time

import discord.opus
import numpy as np

from bot.features.voice.echo import EchoWindow, Played, Tapped
from tests.voice_support import speech

FRAME = 3840  # 20 ms of 48 kHz 16-bit stereo
SAID = "Chamomile, with a little honey and a slice of lemon in it."
MEMBER = "Attends, je voudrais dire quelque chose avant que tu continues."


def frames(pcm: bytes) -> list[bytes]:
    return [pcm[i:i + FRAME].ljust(FRAME, b"\0") for i in range(0, len(pcm), FRAME)]


def through_opus(pcm_frames: list[bytes], gain: float = 1.0) -> list[bytes]:
    encoder, decoder = discord.opus.Encoder(), discord.opus.Decoder()
    out = []
    for f in pcm_frames:
        scaled = (np.frombuffer(f, dtype="<i2") * gain).astype("<i2").tobytes()
        out.append(decoder.decode(encoder.encode(scaled, encoder.SAMPLES_PER_FRAME)))
    return out


def judged(played_frames: list[bytes], back: list[bytes], lag: int, *, plays: bool = True) -> list[bool]:
    """The bot plays ``played_frames`` (when ``plays``); the member's client sends ``back`` from frame
    ``lag``: each loud frame's verdict."""
    played, window = Played(), EchoWindow()
    tap = Tapped(played)
    start = time.monotonic()
    verdicts = []
    for n in range(max(len(played_frames), lag + len(back))):
        at = start + n * 0.02
        if plays and n < len(played_frames):
            tap.frame(played_frames[n], at)
        if 0 <= n - lag < len(back):
            mono = np.frombuffer(back[n - lag], dtype="<i2")[::2]
            echo = window.judge(mono.tobytes(), played, at)
            if np.sqrt(np.mean(mono.astype(np.float32) ** 2)) >= 300:
                verdicts.append(echo)
    return verdicts


def test_what_it_played_coming_back_is_its_own_voice() -> None:
    said = frames(speech(SAID))
    back = through_opus(through_opus(said), gain=0.5)  # its encoder, the member's decoder; theirs, its own
    verdicts = judged(said, back, lag=8)  # 160 ms late
    assert verdicts and all(verdicts), verdicts.count(False)


def test_a_member_speaking_while_it_plays_is_not_its_voice() -> None:
    said = frames(speech(SAID))
    member = through_opus(frames(speech(MEMBER, "fr")))
    verdicts = judged(said, member, lag=5)
    assert verdicts and not any(verdicts), verdicts.count(True)


def test_nothing_is_an_echo_when_it_has_not_played() -> None:
    said = frames(speech(SAID))
    verdicts = judged(said, through_opus(said), lag=8, plays=False)
    assert verdicts and not any(verdicts)
