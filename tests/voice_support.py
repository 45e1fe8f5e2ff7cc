"""What the voice channel tests share: real audio (a tone, espeak-ng's speech), and a harness whose fake
Discord has a voice channel and a voice server the bot trusts."""

from __future__ import annotations

import functools
import math
import subprocess
from pathlib import Path

import aiohttp
import numpy as np

from tests.fakes import PROCESS_WAIT
from tests.fakes.voice_server import client_ssl
from tests.harness import GUILD_ID, Harness

VOICE_ID = 900_000_000_000_000_020


def tone(hz: float, seconds: float) -> bytes:
    """48 kHz 16-bit stereo PCM of a sine, what discord.py's PCMAudio plays."""
    t = np.arange(int(48_000 * seconds)) / 48_000
    mono = (np.sin(2 * math.pi * hz * t) * 12_000).astype("<i2")
    return np.repeat(mono, 2).tobytes()


@functools.cache
def speech(line: str, voice: str = "en") -> bytes:
    """``line`` spoken by espeak-ng, as 48 kHz 16-bit stereo PCM (what a member's client encodes)."""
    wav = subprocess.run(["espeak-ng", "-v", voice, "--stdout", line], capture_output=True, check=True,
                         timeout=PROCESS_WAIT).stdout
    return subprocess.run(["ffmpeg", "-v", "error", "-i", "pipe:0", "-f", "s16le", "-ar", "48000", "-ac", "2",
                           "pipe:1"], input=wav, capture_output=True, check=True, timeout=PROCESS_WAIT).stdout


def spoken_seconds(pcm: bytes, *, channels: int = 2) -> float:
    """How long the speech in 48 kHz 16-bit PCM lasts, its leading and trailing quiet left out."""
    samples = np.abs(np.frombuffer(pcm, dtype="<i2")[::channels].astype(int))
    loud = np.flatnonzero(samples > 500)
    return 0.0 if not len(loud) else (loud[-1] - loud[0]) / 48_000


async def voice_harness(db_url: str, tmp_path: Path, *, dave: bool, **config: str) -> Harness:
    """The usual world plus a voice channel, with a voice server running DAVE (or protocol version 0). The
    voice gateway is wss://, as Discord's are: the bot's HTTP client trusts the fake's certificate."""
    h = Harness(db_url=db_url, tmp_path=tmp_path, config=config,
                bot_options={"connector": aiohttp.TCPConnector(ssl=client_ssl())})
    await h.start_world()
    h.discord.add_voice_channel(GUILD_ID, VOICE_ID, "Lounge")
    await h.discord.start_voice(dave=dave, require_dave=dave)
    await h.start_bot()
    return h
