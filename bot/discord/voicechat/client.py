"""discord.py's VoiceClient, listening: the connection's SPEAKING and CLIENT_DISCONNECT events and its UDP
packets go to a ``VoiceReceiver`` (receiver.py). Joining, the voice gateway, DAVE's MLS group and sending
stay discord.py's own.

Made through ``channel.connect(cls=listening(...))``: discord.py builds the client itself, with the client
and the channel as its only arguments.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

import davey
import discord
from discord.gateway import DiscordVoiceWebSocket
from discord.voice_state import VoiceConnectionState

from bot.discord.voicechat.receiver import VoiceReceiver
from bot.discord.voicechat.rtp import MODE
from bot.discord.voicechat.segmenter import Utterance

log = logging.getLogger(__name__)

SWEEP_SECONDS = 0.1  # how often a speaker whose packets stopped is looked for


class ListeningVoiceClient(discord.VoiceClient):
    def __init__(self, client: discord.Client, channel: discord.abc.Connectable, *,
                 on_utterance: Callable[[Utterance], None], max_seconds: float) -> None:
        super().__init__(client, channel)
        self.receiver = VoiceReceiver(self, client.loop, on_utterance, max_seconds=max_seconds)
        self._sweeper: asyncio.Task[None] | None = None

    def create_connection_state(self) -> VoiceConnectionState:
        return VoiceConnectionState(self, hook=self._voice_event)

    async def _voice_event(self, ws: DiscordVoiceWebSocket, msg: dict[str, Any]) -> None:
        op, data = msg.get("op"), msg.get("d") or {}
        if op == DiscordVoiceWebSocket.SPEAKING and "user_id" in data:
            self.receiver.speaking(int(data["user_id"]), int(data["ssrc"]))
        elif op == DiscordVoiceWebSocket.CLIENT_DISCONNECT:
            self.receiver.left(int(data["user_id"]))

    async def connect(self, *, reconnect: bool, timeout: float, self_deaf: bool = False,
                      self_mute: bool = False) -> None:
        await super().connect(reconnect=reconnect, timeout=timeout, self_deaf=self_deaf, self_mute=self_mute)
        self._connection.add_socket_listener(self.receiver.packet)
        if self._sweeper is None:
            self._sweeper = self.loop.create_task(self._sweep(), name="voice-receiver-sweep")

    async def _sweep(self) -> None:
        while True:
            await asyncio.sleep(SWEEP_SECONDS)
            self.receiver.sweep()

    def cleanup(self) -> None:
        self._connection.remove_socket_listener(self.receiver.packet)
        if self._sweeper is not None:
            self._sweeper.cancel()
            self._sweeper = None
        super().cleanup()

    # -- the receiver's Link

    def transport_key(self) -> bytes | None:
        state = self._connection
        key = state.secret_key
        if state.mode is discord.utils.MISSING or state.mode != MODE or not key:
            return None
        return bytes(key)

    def e2ee(self) -> davey.DaveSession | None:
        state = self._connection
        return state.dave_session if state.can_encrypt else None


def listening(on_utterance: Callable[[Utterance], None], *, max_seconds: float
              ) -> Callable[[discord.Client, discord.abc.Connectable], ListeningVoiceClient]:
    """What ``channel.connect(cls=...)`` takes: a listening client handing each utterance to ``on_utterance``
    (on the event loop)."""

    def make(client: discord.Client, channel: discord.abc.Connectable) -> ListeningVoiceClient:
        return ListeningVoiceClient(client, channel, on_utterance=on_utterance, max_seconds=max_seconds)

    return make
