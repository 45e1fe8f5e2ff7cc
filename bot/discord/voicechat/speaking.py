"""Saying something in a call: PCM played by discord.py's voice client (Opus-encoded with libopus, under
DAVE end-to-end encrypted by discord.py's own session), and a way to stop it when someone else speaks.

Discord disconnects a client whose audio comes before it said it speaks (SPEAKING, voice gateway op 5).
discord.py's player sends SPEAKING from its thread without waiting for it, racing its first packet; ``play``
sends it first and waits until it is sent, before every clip."""

from __future__ import annotations

import asyncio
import io
import logging
from collections.abc import Callable

import discord

log = logging.getLogger(__name__)

PCM_RATE = 48_000 * 2 * 2  # bytes a second of 48 kHz 16-bit stereo
PLAY_MARGIN = 5.0  # seconds a clip may take past its length (a thread scheduled late, a resumed connection)


async def play(client: discord.VoiceClient, pcm: bytes, started: Callable[[], None] | None = None) -> bool:
    """Play 48 kHz 16-bit stereo PCM to the end; False when it was stopped first (``client.stop()``: a
    member began to speak over it) or failed. ``started``: called once its player is under way."""
    loop = asyncio.get_running_loop()
    done: asyncio.Future[Exception | None] = loop.create_future()

    def settle(error: Exception | None) -> None:
        if not done.done():
            done.set_result(error)

    def after(error: Exception | None) -> None:  # on discord.py's player thread
        loop.call_soon_threadsafe(settle, error)

    if not client.is_connected():
        return False
    try:
        await client.ws.speak(discord.SpeakingState.voice)  # said, before the first packet of the clip
    except (discord.ConnectionClosed, ConnectionError) as exc:
        log.warning("a clip was not played in voice channel %s: %s", client.channel.id, exc)
        return False
    source = discord.PCMAudio(io.BytesIO(pcm))
    try:
        client.play(source, after=after, application="voip", signal_type="voice")
    except discord.ClientException as exc:  # the connection went (or another clip plays) meanwhile
        log.warning("a clip was not played in voice channel %s: %s", client.channel.id, exc)
        return False
    if started is not None:
        started()
    # A safety net: discord.py's player may wait for a dropped connection to come back (up to its timeout)
    # before it calls ``after``; a sentence is not waited for much past its own length.
    seconds = len(pcm) / PCM_RATE + PLAY_MARGIN
    try:
        error = await asyncio.wait_for(done, seconds)
    except TimeoutError:
        log.warning("a clip in voice channel %s did not finish playing within %.1fs: stopped",
                    client.channel.id, seconds)
        client.stop()
        return False
    return error is None and source.stream.tell() >= len(pcm)
