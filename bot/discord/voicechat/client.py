"""discord.py's VoiceClient, listening: the connection's SPEAKING and CLIENT_DISCONNECT events and its UDP
packets go to a ``VoiceReceiver`` (receiver.py). Joining, the voice gateway, DAVE's MLS group and sending
stay discord.py's own.

Made through ``channel.connect(cls=listening(...))``: discord.py builds the client itself, with the client
and the channel as its only arguments.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import davey
import discord
from discord.gateway import DiscordVoiceWebSocket
from discord.voice_state import VoiceConnectionState

from bot.discord.voicechat.receiver import VoiceReceiver
from bot.discord.voicechat.rtp import MODE
from bot.features.voice.echo import Played, Tapped
from bot.features.voice.segmenter import Utterance

log = logging.getLogger(__name__)

# How long leaving waits for Discord's confirmation (the VOICE_STATE_UPDATE with no channel) before it lets
# go anyway: the voice connection is closed by then, and a command answered in time, a stop within its
# window, matter more than the confirmation (discord.py would wait its connect timeout, 30 s).
LEAVE_CONFIRM_SECONDS = 2.0
# A commit or welcome it cannot process is recovered from as the DAVE protocol says (op 31, a new session and
# key package, welcomed back into the group); failing this many times with no transition executed between
# (the recovery failing too), it leaves rather than stay in the call deaf and unheard.
DAVE_FAILURES_TO_LEAVE = 2


class ListeningVoiceClient(discord.VoiceClient):
    """``idle_seconds``: how long it stays in a call nobody else is connected to (the main gateway's voice
    state updates, and the voice gateway's CLIENTS_CONNECT and CLIENT_DISCONNECT, say who is: each starts or
    stops the one timer, nothing is polled); None: it stays. ``barge_in``: what it is playing stops as soon as
    a member's speech has begun (the receiver's onset: enough voiced frames to be speech, not a cough; its own
    voice coming back through a member's client is no one's speech: what it plays is tapped for the receiver's
    echo check, echo.py); without it, ``spoken_over`` counts such onsets. Leaving (``disconnect``) stops what
    it plays at once, asks Discord once and waits at most ``LEAVE_CONFIRM_SECONDS`` for its confirmation."""

    def __init__(self, client: discord.Client, channel: discord.abc.Connectable, *,
                 on_utterance: Callable[[Utterance], None], max_seconds: float,
                 idle_seconds: float | None = None, barge_in: bool = False,
                 pause_seconds: float | None = None) -> None:
        super().__init__(client, channel)
        self.receiver = VoiceReceiver(self, client.loop, on_utterance, max_seconds=max_seconds,
                                      pause_seconds=pause_seconds, on_speech=self._someone_speaks)
        self._barge_in = barge_in
        self.interrupted = 0  # playbacks stopped by a member speaking over them
        self.spoken_over = 0  # utterances a member began while the bot was playing
        self.present: set[int] = set()  # the others connected to the call
        self._idle_seconds = idle_seconds
        self._sweeper: asyncio.Task[None] | None = None
        self._idle: asyncio.Task[None] | None = None
        self._leaving: asyncio.Task[None] | None = None
        self.on_left: Callable[[], Awaitable[None]] | None = None  # after it left by itself
        self.before_leaving: Callable[[], Awaitable[None]] | None = None  # as it leaves by itself

    async def disconnect(self, *, force: bool = False) -> None:
        self.stop()  # the audio ends now, not at the end of its sentence
        # discord.py waits for the confirmation up to its connect timeout (30 s): a confirmation cancelled
        # by a second disconnect of its own (see _ConnectionState.disconnect) would hold a /voice leave or a
        # shutdown that long.
        self._connection.timeout = min(self._connection.timeout, LEAVE_CONFIRM_SECONDS)
        await self._connection.disconnect(force=force, wait=True)
        self.cleanup()

    def create_connection_state(self) -> VoiceConnectionState:
        return _ConnectionState(self, hook=self._voice_event)

    def dave_failed(self, transition_id: int, failures: int) -> None:
        """DAVE's MLS group sent a commit or welcome this client could not process: it can neither decrypt
        the members nor be decrypted by them. discord.py told the voice server (op 31) and started a new
        session whose key package gets it welcomed back. ``failures``: in a row, with no transition
        executed between; at ``DAVE_FAILURES_TO_LEAVE`` the recovery failed too and the call is left
        (a /voice join starts afresh)."""
        if failures < DAVE_FAILURES_TO_LEAVE:
            log.warning("voice channel %s: DAVE transition %s could not be processed; rejoining its group",
                        self.channel.id, transition_id)
            return
        self.leave_by_itself(logging.WARNING, "leaving the voice channel %s: its end-to-end encryption "
                             "(DAVE) failed (transition %s could not be processed, %d times in a row)",
                             self.channel.id, transition_id, failures)

    def leave_by_itself(self, level: int, message: str, *args: object) -> None:
        """Leave the call, said in one log line, and tell ``on_left`` (its hearing ends)."""
        if self._leaving is not None:
            return  # already on its way out: one line
        log.log(level, message, *args)
        self._leaving = self.loop.create_task(self._leave(), name="voice-leave")

    async def _leave(self) -> None:
        # A task of its own: discord.py's disconnect cancels the voice gateway's task this may come from.
        self.stop()
        if self.before_leaving is not None:
            await self.before_leaving()
        await self.disconnect(force=True)
        if self.on_left is not None:
            await self.on_left()

    async def _voice_event(self, ws: DiscordVoiceWebSocket, msg: dict[str, Any]) -> None:
        op, data = msg.get("op"), msg.get("d") or {}
        if op == DiscordVoiceWebSocket.SPEAKING and "user_id" in data:
            self.receiver.speaking(int(data["user_id"]), int(data["ssrc"]))
        elif op == DiscordVoiceWebSocket.CLIENTS_CONNECT:
            self.present.update(int(u) for u in data.get("user_ids") or [])
            self._watch_idle()
        elif op == DiscordVoiceWebSocket.CLIENT_DISCONNECT:
            self.receiver.left(int(data["user_id"]))
            self.present.discard(int(data["user_id"]))
            self._watch_idle()

    def voice_states_changed(self) -> None:
        """Someone joined, left or moved between voice channels (the main gateway's VOICE_STATE_UPDATE):
        who else is in the call, as discord.py's voice states have it (no member cache needed)."""
        channel = self.channel
        if isinstance(channel, discord.VoiceChannel | discord.StageChannel):
            self.present = {uid for uid in channel.voice_states if uid != self.user.id}
            self._watch_idle()

    def play(self, source: discord.AudioSource, **kwargs: Any) -> Any:
        """discord.py's play, what it plays tapped as it is read (the receiver tells its echo by it)."""
        if not source.is_opus():
            source = _Tap(source, self.receiver.played)
        return super().play(source, **kwargs)

    def _someone_speaks(self, user_id: int) -> None:
        if self.is_playing():
            self.spoken_over += 1
        if self._barge_in and self.is_playing():
            log.debug("member %s spoke over the bot: its playback stops", user_id)
            self.interrupted += 1
            self.stop()

    def _watch_idle(self) -> None:
        """Alone: leave after ``idle_seconds`` unless someone comes; not alone: stay."""
        if self.present or self._idle_seconds is None:
            if self._idle is not None:
                self._idle.cancel()
                self._idle = None
        elif self._idle is None:
            self._idle = self.loop.create_task(self._leave_when_idle(self._idle_seconds), name="voice-idle")

    async def _leave_when_idle(self, seconds: float) -> None:
        await asyncio.sleep(seconds)
        self._idle = None
        self.leave_by_itself(logging.INFO, "leaving the voice channel %s: nobody else was in it for %gs",
                             self.channel.id, seconds)

    async def connect(self, *, reconnect: bool, timeout: float, self_deaf: bool = False,
                      self_mute: bool = False) -> None:
        await super().connect(reconnect=reconnect, timeout=timeout, self_deaf=self_deaf, self_mute=self_mute)
        self._connection.add_socket_listener(self.receiver.packet)
        if self._sweeper is None:
            self._sweeper = self.loop.create_task(self._sweep(), name="voice-receiver-sweep")
        self._watch_idle()

    async def _sweep(self) -> None:
        """End the utterances whose packets stopped: asleep until the receiver's next deadline, or until an
        utterance begins (nothing is polled while nobody speaks)."""
        receiver = self.receiver
        while True:
            deadline = receiver.deadline()
            if deadline is None:
                receiver.changed.clear()
                if receiver.deadline() is None:  # (one may have begun meanwhile)
                    await receiver.changed.wait()
                continue
            delay = deadline - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)  # packets may come meanwhile: the deadline is looked at again
                continue
            receiver.sweep()

    def cleanup(self) -> None:
        self._connection.remove_socket_listener(self.receiver.packet)
        self.receiver.close()
        for task in (self._sweeper, self._idle):
            if task is not None and task is not asyncio.current_task():
                task.cancel()
        self._sweeper = self._idle = None
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


class _Tap(discord.AudioSource):
    """An audio source's frames, each also written to ``Played`` as discord.py's player reads it (on its
    thread, just before it encodes and sends the frame)."""

    def __init__(self, source: discord.AudioSource, played: Played) -> None:
        self.source = source
        self._tapped = Tapped(played)

    def read(self) -> bytes:
        frame = self.source.read()
        if frame:
            self._tapped.frame(frame)
        return frame

    def is_opus(self) -> bool:
        return False

    def cleanup(self) -> None:
        self.source.cleanup()


class _ConnectionState(VoiceConnectionState):
    """discord.py's connection state, telling the client when DAVE's group could not be followed."""

    def __init__(self, client: ListeningVoiceClient, **kwargs: Any) -> None:
        super().__init__(client, **kwargs)
        self._listening = client
        self._left = False  # a disconnect for good (cleanup) began: the call is being left
        self.dave_failures = 0  # commits or welcomes it could not process since a transition was executed

    async def disconnect(self, *, force: bool = True, cleanup: bool = True, wait: bool = False) -> None:
        """One leave: once a disconnect for good began, another (discord.py's voice websocket poller sees
        the close code 4014 that follows the bot's own leave, and disconnects again) does nothing. The second
        would send a second leave request (op 4) and clear the confirmation the first waits for, holding it
        its whole timeout (discord.py issue #10376)."""
        if self._left:
            return
        if cleanup:
            self._left = True
        await super().disconnect(force=force, cleanup=cleanup, wait=wait)

    async def _recover_from_invalid_commit(self, transition_id: int) -> None:
        # op 31 to the voice server, a new session and its key package, as the DAVE protocol recovers
        await super()._recover_from_invalid_commit(transition_id)
        self.dave_failures += 1
        self._listening.dave_failed(transition_id, self.dave_failures)

    async def _execute_transition(self, transition_id: int) -> None:
        had = transition_id in self.dave_pending_transitions
        await super()._execute_transition(transition_id)
        if had:
            self.dave_failures = 0  # the group is followed again


def listening(on_utterance: Callable[[Utterance], None], *, max_seconds: float,
              idle_seconds: float | None = None, barge_in: bool = False, pause_seconds: float | None = None
              ) -> Callable[[discord.Client, discord.abc.Connectable], ListeningVoiceClient]:
    """What ``channel.connect(cls=...)`` takes: a listening client handing each utterance to ``on_utterance``
    (on the event loop); with ``pause_seconds``, each pause too (receiver.py)."""

    def make(client: discord.Client, channel: discord.abc.Connectable) -> ListeningVoiceClient:
        return ListeningVoiceClient(client, channel, on_utterance=on_utterance, max_seconds=max_seconds,
                                    idle_seconds=idle_seconds, barge_in=barge_in, pause_seconds=pause_seconds)

    return make
