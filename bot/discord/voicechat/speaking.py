"""Saying something in a call: PCM played by discord.py's voice client (Opus-encoded with libopus, under
DAVE end-to-end encrypted by discord.py's own session), and a way to stop it when someone else speaks."""

from __future__ import annotations

import asyncio
import io

import discord


async def play(client: discord.VoiceClient, pcm: bytes) -> bool:
    """Play 48 kHz 16-bit stereo PCM to the end; False when it was stopped first (``client.stop()``: a
    member began to speak over it) or failed."""
    loop = asyncio.get_running_loop()
    done: asyncio.Future[Exception | None] = loop.create_future()

    def settle(error: Exception | None) -> None:
        if not done.done():
            done.set_result(error)

    def after(error: Exception | None) -> None:  # on discord.py's player thread
        loop.call_soon_threadsafe(settle, error)

    source = discord.PCMAudio(io.BytesIO(pcm))
    client.play(source, after=after, application="voip", signal_type="voice")
    error = await done
    return error is None and source.stream.tell() >= len(pcm)
