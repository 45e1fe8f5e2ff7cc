"""A fake Discord voice server on loopback: the voice gateway (version 8, over TLS as Discord's ``wss://``
endpoints are) and the UDP peer of the call, for the real discord.py VoiceClient and Kindred's receiver.

The gateway: HELLO, IDENTIFY, READY, SELECT_PROTOCOL, SESSION_DESCRIPTION, SPEAKING both ways, heartbeats and
their ACKs, RESUME, CLIENTS_CONNECT and CLIENT_DISCONNECT, sequence numbers on what it sends (JSON ``seq``,
binary frames' first two bytes), and DAVE's opcodes 21 to 31 (tests/fakes/dave_mls.py builds the MLS group,
as Discord's voice server is its external sender). It refuses what Discord refuses, by Discord's close codes:
an unknown session or token (4004), a second IDENTIFY (4005), anything before IDENTIFY (4003), a protocol
other than UDP (4012), an encryption mode it did not offer (4016), a client without DAVE on a call that
requires it (4017), a DAVE key package that does not parse or is not the user's own (4020); a DAVE
commit for another epoch, from another sender than its committer, naming proposals the server did not
send or leaving out one it did is dropped unannounced; a client that flags a commit it could not process
(op 31) is removed from the group and welcomed back with its next key package
(tests/fakes/dave_mls.py's ``DaveGroup`` says what it checks). With
``members_group`` the members in the call formed its MLS group before the bot came, and the bot is
welcomed into it (op 30), as when it joins a call in progress. The UDP side answers IP discovery for an
SSRC it gave out, drops packets that do not authenticate, decrypts the bot's audio (DAVE too) and decodes
its Opus, and sends members' speech: Opus frames of real audio, end-to-end encrypted with each member's
own DAVE session, in RTP as their clients do.
Audio the bot sends without having said it speaks (SPEAKING, op 5, with a non-zero ``speaking``, and not
taken back by a SPEAKING 0 since) is refused, as Discord refuses it: not decoded, and counted
(``unannounced``, past the first ``SPEAKING_TAIL``, which may race a SPEAKING on its way); the last
packets of the audio that just ended, racing its SPEAKING 0 from the player's thread (at most
``SPEAKING_TAIL``, counted, not timed: a loaded machine delays them), are let through. When each of the
bot's audio packets arrived, and when each member's speech began, are kept (``Connection.audio_at``,
``onsets``): what barge-in and the gaps between sentences are measured by. A packet's arrival is the
kernel's stamp of it (``SO_TIMESTAMPNS``), not when the event loop got to it: the loop is the bot's too, and
its work is no part of the wire's time. A member's frames are sent on their client's clock: each due 20 ms
after the one before was due, not after it went out (a sound card's clock does not stretch with the load; a
frame held up longer than a frame moves the clock on rather than bursting).
"""

from __future__ import annotations

import array
import asyncio
import collections
import functools
import itertools
import json
import os
import socket
import ssl
import struct
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import discord.opus
import numpy as np
from aiohttp import WSMsgType, web

from tests.fakes import EVENT_WAIT
from tests.fakes.voice_rtp import MODES, OPUS_SILENCE, discovery_response, open_packet, parse_discovery, seal

HEARTBEAT_MS = 13_750
PCM_FRAME = 3840  # 20 ms of 48 kHz 16-bit stereo, what discord.opus encodes a frame from
SPEAKING_TAIL = 10  # packets that may race a SPEAKING either way (an answer without one is many more)
LOUD = 500  # a sample this loud (16-bit) is speech begun, for ``onsets``


@functools.cache
def tls_files() -> tuple[str, str]:
    """A self-signed certificate for 127.0.0.1 (made once per test process with openssl, Debian's own): the
    voice gateway's wss:// endpoint is TLS, and the test trusts this certificate alone."""
    folder = Path(tempfile.mkdtemp(prefix="kindred-voice-tls-"))
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                    "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "2", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1"], check=True, capture_output=True)
    return str(cert), str(key)


def client_ssl() -> ssl.SSLContext:
    """What a client that trusts this fake (and nothing else) connects with."""
    return ssl.create_default_context(cafile=tls_files()[0])


@dataclass
class Grant:
    """A voice session the main gateway handed out (VOICE_STATE_UPDATE + VOICE_SERVER_UPDATE)."""

    guild_id: int
    channel_id: int
    user_id: int
    session_id: str
    token: str


@dataclass
class Member:
    """A fake member in a call: its SSRC, its DAVE session, and what it heard of the bot."""

    user_id: int
    channel_id: int
    ssrc: int
    dave: Any = None  # davey.DaveSession once DAVE is on
    sequence: int = 0
    timestamp: int = 0
    counter: int = 0
    encoder: Any = None  # its client's Opus encoder: one for the whole call, as a client's is

    def opus(self) -> discord.opus.Encoder:
        if self.encoder is None:
            self.encoder = discord.opus.Encoder()
        return self.encoder


@dataclass
class Connection:
    """The bot's voice websocket and its half of the call."""

    ws: web.WebSocketResponse
    grant: Grant
    ssrc: int
    seq: int = 0
    key: bytes = b""
    mode: str = ""
    dave_version: int = 0
    address: tuple[str, int] | None = None  # the bot's UDP address, as IP discovery saw it
    speaking: list[dict[str, Any]] = field(default_factory=list)  # every SPEAKING the bot sent
    log: list[tuple[str, Any]] = field(default_factory=list)  # every frame the bot sent: (op, data)
    closed: bool = False
    speaking_now: bool = False  # the last SPEAKING the bot sent said it speaks
    silent_since: float = float("-inf")  # when a SPEAKING 0 last ended announced audio
    tail_left: int = 0  # late packets of the audio a SPEAKING 0 ended still let through
    early: int = 0  # packets refused since the last SPEAKING: past SPEAKING_TAIL, counted as unannounced
    early_at: list[float] = field(default_factory=list)  # when each refused one arrived (it may have raced a
    # SPEAKING sent before it that this loop had not read yet)
    audio_at: list[float] = field(default_factory=list)  # when each audio packet of the bot's arrived
    quiet_at: list[float] = field(default_factory=list)  # when each SPEAKING 0 ending audio arrived


class FakeVoiceServer:
    def __init__(self, *, dave: bool = True, require_dave: bool = True) -> None:
        self.dave = dave  # the protocol version its calls run: 1 (DAVE) or 0 (transport encryption only)
        self.require_dave = require_dave  # 4017 for a client whose max_dave_protocol_version is 0
        self.grants: dict[tuple[int, int], Grant] = {}  # (guild, user) -> the session the gateway granted
        self.connections: list[Connection] = []
        self.members: dict[int, Member] = {}
        self.heard: dict[int, list[bytes]] = {}  # member id -> PCM frames of the bot's audio it decoded
        self.packets_in = 0  # RTP packets from the bot that authenticated
        self.packets_dropped = 0  # datagrams that were neither discovery nor authentic RTP
        self.e2ee_frames = 0  # frames of the bot's that a member decrypted with its DAVE session
        self.undecryptable = 0  # frames of the bot's that a member's DAVE session could not decrypt
        self.unannounced = 0  # audio packets of the bot's refused: sent without SPEAKING first
        self.onsets: dict[int, list[float]] = {}  # member id -> when each speak() reached a loud frame
        self.speech_ends: dict[int, list[float]] = {}  # member id -> when each speak() sent its last loud one
        self._ssrcs = itertools.count(1000)
        self._runner: web.AppRunner | None = None
        self._udp: _Udp | None = None
        self.port = 0
        self.udp_port = 0
        self.group: Any = None  # tests/fakes/dave_mls.py's DaveGroup while DAVE is on
        # The members already in the call formed its MLS group before the bot came (joining a call in
        # progress): the bot is welcomed into their group rather than creating one.
        self.members_group = False
        self._decoders: dict[int, discord.opus.Decoder] = {}  # each member's, of the bot's audio
        self.resumes_stall = False  # a RESUME is taken and never answered (a voice server stuck mid-way)
        self._unstall = asyncio.Event()  # set at close: a stalled RESUME's handler ends

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> FakeVoiceServer:
        app = web.Application()
        app.router.add_get("/", self._gateway)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(*tls_files())
        site = web.TCPSite(self._runner, "127.0.0.1", 0, ssl_context=context)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        loop = asyncio.get_running_loop()
        self._udp = _Udp(self, loop)
        self.udp_port = self._udp.port
        return self

    async def close(self) -> None:
        self._unstall.set()
        for conn in list(self.connections):
            await conn.ws.close()
        if self._udp is not None:
            self._udp.close()
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def endpoint(self) -> str:
        """What VOICE_SERVER_UPDATE names: a host and port, which discord.py opens as wss://...?v=8."""
        return f"127.0.0.1:{self.port}"

    # ------------------------------------------------------------------ the main gateway's side

    def grant(self, grant: Grant) -> None:
        self.grants[(grant.guild_id, grant.user_id)] = grant

    async def revoke(self, guild_id: int, user_id: int) -> None:
        """The user left the channel: its voice connection ends (4014, disconnected)."""
        self.grants.pop((guild_id, user_id), None)
        for conn in [c for c in self.connections
                     if (c.grant.guild_id, c.grant.user_id) == (guild_id, user_id)]:
            await self._close(conn, 4014)

    async def crash(self, user_id: int) -> None:
        """The voice server fails under the user's connection (4015): its client resumes (RESUME)."""
        conn = self.connection(user_id)
        assert conn is not None, "no voice connection of that user"
        await self._close(conn, 4015)

    def connection(self, user_id: int) -> Connection | None:
        return next((c for c in self.connections if c.grant.user_id == user_id and not c.closed), None)

    async def join(self, user_id: int, channel_id: int) -> Member:
        """A member's client joins the call: the bot is told (CLIENTS_CONNECT), and under DAVE the member
        is added to the group."""
        member = Member(user_id, channel_id, next(self._ssrcs))
        self.members[user_id] = member
        for conn in self._in_channel(channel_id):
            await self.send(conn, 11, {"user_ids": [str(user_id)]})
            if self.group is not None:
                await self.group.add_member(conn, member)
        return member

    async def leave(self, user_id: int, *, disconnect_lost: bool = False) -> None:
        """A member's client leaves the call: CLIENT_DISCONNECT to the bot (``disconnect_lost``: it never
        arrives, as when the voice connection resumes across it) and, under DAVE, its leaf removed."""
        member = self.members.pop(user_id, None)
        if member is None:
            return
        for conn in self._in_channel(member.channel_id):
            if not disconnect_lost:
                await self.send(conn, 13, {"user_id": str(user_id)})
            if self.group is not None:
                await self.group.remove_member(conn, member)

    def _in_channel(self, channel_id: int) -> list[Connection]:
        return [c for c in self.connections if c.grant.channel_id == channel_id and not c.closed]

    # ------------------------------------------------------------------ the voice gateway

    async def send(self, conn: Connection, op: int, data: Any) -> None:
        conn.seq += 1
        if not conn.ws.closed:
            await conn.ws.send_str(json.dumps({"op": op, "d": data, "seq": conn.seq}))

    async def send_binary(self, conn: Connection, op: int, payload: bytes) -> None:
        conn.seq += 1
        if not conn.ws.closed:
            await conn.ws.send_bytes((conn.seq & 0xFFFF).to_bytes(2, "big") + bytes([op]) + payload)

    async def refuse(self, conn: Connection, code: int) -> None:
        """Close the bot's voice websocket with ``code``, as Discord closes one that broke the protocol."""
        await self._close(conn, code)

    async def _close(self, conn: Connection, code: int) -> None:
        conn.closed = True
        await conn.ws.close(code=code)

    async def _gateway(self, request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse(max_msg_size=0)
        await ws.prepare(request)
        if request.query.get("v") != "8":
            await ws.close(code=4012, message=b"Unknown protocol.")  # this fake speaks version 8 only
            return ws
        await ws.send_str(json.dumps({"op": 8, "d": {"heartbeat_interval": HEARTBEAT_MS}}))
        conn: Connection | None = None
        async for msg in ws:
            if msg.type == WSMsgType.BINARY:
                if conn is None:
                    await ws.close(code=4003, message=b"Not authenticated.")
                    break
                conn.log.append((str(msg.data[0]), len(msg.data)))
                if self.group is not None:
                    await self.group.on_binary(conn, msg.data[0], bytes(msg.data[1:]))
                continue
            if msg.type != WSMsgType.TEXT:
                continue
            payload = json.loads(msg.data)
            op, data = payload.get("op"), payload.get("d")
            if conn is not None:
                conn.log.append((str(op), data))
            if op == 0:
                if conn is not None:
                    await self._close(conn, 4005)  # already authenticated
                    break
                conn = await self._identify(ws, data)
                if conn is None:
                    break
            elif op == 7:
                conn = await self._resume(ws, data)
                if conn is None:
                    break
            elif conn is None:
                await ws.close(code=4003, message=b"Not authenticated.")
                break
            elif op == 3:
                await self.send(conn, 6, {"t": data["t"]})
            elif op == 1:
                if not await self._select_protocol(conn, data):
                    break
            elif op == 5:
                if int(data.get("ssrc", -1)) != conn.ssrc:
                    await self._close(conn, 4020)  # bad request: another SSRC than READY gave
                    break
                conn.speaking.append(data)
                was_speaking, conn.speaking_now = conn.speaking_now, bool(int(data.get("speaking") or 0))
                if conn.speaking_now:
                    conn.early = 0
                if was_speaking and not conn.speaking_now:  # audio announced ended
                    conn.silent_since = time.monotonic()
                    conn.tail_left = SPEAKING_TAIL
                    conn.quiet_at.append(conn.silent_since)
            elif op in (23, 31) and self.group is not None:
                await self.group.on_json(conn, op, data)
        if conn is not None and conn.ws is ws:
            conn.closed = True
        return ws

    async def _identify(self, ws: web.WebSocketResponse, data: dict[str, Any]) -> Connection | None:
        grant = self.grants.get((int(data.get("server_id", 0)), int(data.get("user_id", 0))))
        if grant is None or (grant.session_id, grant.token) != (data.get("session_id"), data.get("token")):
            await ws.close(code=4004, message=b"Authentication failed.")
            return None
        if self.require_dave and not int(data.get("max_dave_protocol_version") or 0):
            await ws.close(code=4017, message=b"E2EE/DAVE protocol required.")
            return None
        conn = Connection(ws, grant, next(self._ssrcs))
        conn.dave_version = 1 if self.dave else 0
        self.connections.append(conn)
        await self.send(conn, 2, {"ssrc": conn.ssrc, "ip": "127.0.0.1", "port": self.udp_port,
                                  "modes": list(MODES), "experiments": []})
        return conn

    async def _resume(self, ws: web.WebSocketResponse, data: dict[str, Any]) -> Connection | None:
        conn = next((c for c in self.connections if c.grant.session_id == data.get("session_id")
                     and c.grant.token == data.get("token")), None)
        if conn is None:
            await ws.close(code=4006, message=b"Session no longer valid.")
            return None
        if self.resumes_stall:
            await self._unstall.wait()
            return None
        conn.ws, conn.closed = ws, False
        await self.send(conn, 9, None)
        return conn

    async def _select_protocol(self, conn: Connection, data: dict[str, Any]) -> bool:
        mode = (data.get("data") or {}).get("mode")
        if data.get("protocol") != "udp":
            await self._close(conn, 4012)
            return False
        if mode != "aead_xchacha20_poly1305_rtpsize":  # the one of MODES this fake's peer implements
            await self._close(conn, 4016)
            return False
        conn.mode, conn.key = mode, os.urandom(32)
        await self.send(conn, 4, {"mode": mode, "secret_key": list(conn.key),
                                  "dave_protocol_version": conn.dave_version,
                                  "media_session_id": f"media-{conn.ssrc}"})
        present = [m for m in self.members.values() if m.channel_id == conn.grant.channel_id]
        if present:
            await self.send(conn, 11, {"user_ids": [str(m.user_id) for m in present]})
        if conn.dave_version:
            from tests.fakes.dave_mls import DaveGroup

            # A new voice session of the bot (a resume selects no protocol) starts a new MLS group: the
            # members' sessions of an earlier one are dropped, as Discord's clients re-form the group.
            for member in self.members.values():
                if member.channel_id == conn.grant.channel_id:
                    member.dave = None
            self.group = DaveGroup(self, conn.grant.channel_id)
            await self.group.start(conn)
        return True

    # ------------------------------------------------------------------ UDP

    def datagram(self, packet: bytes, address: tuple[str, int], arrived: float | None = None) -> None:
        ssrc = parse_discovery(packet)
        if ssrc is not None:
            conn = next((c for c in self.connections if c.ssrc == ssrc and not c.closed), None)
            if conn is None:
                self.packets_dropped += 1
                return
            conn.address = address
            assert self._udp is not None
            self._udp.sendto(discovery_response(ssrc, *address), address)
            return
        conn = next((c for c in self.connections if c.address == address and c.key), None)
        rtp = open_packet(conn.key, packet) if conn is not None else None
        if conn is None or rtp is None or rtp.ssrc != conn.ssrc:
            self.packets_dropped += 1
            return
        self.packets_in += 1
        if rtp.payload == OPUS_SILENCE:
            return
        now = time.monotonic() if arrived is None else arrived
        if not conn.speaking_now:
            if conn.tail_left <= 0:
                # before its SPEAKING: refused; a few may race a SPEAKING already on its way (the websocket
                # and UDP reach this loop in either order), more are audio never announced
                conn.early += 1
                conn.early_at.append(now)
                if conn.early > SPEAKING_TAIL:
                    self.unannounced += 1
                return
            conn.tail_left -= 1  # the end of the audio its SPEAKING 0 ended, arriving after it
        conn.audio_at.append(now)
        for member in self.members.values():
            if member.channel_id != conn.grant.channel_id:
                continue
            frame = rtp.payload
            if member.dave is not None and self.group is not None and self.group.active:
                frame = self.group.decrypt(member, conn.grant.user_id, frame)
                if frame is None:
                    self.undecryptable += 1
                    continue
                self.e2ee_frames += 1
            decoder = self._decoders.setdefault(member.user_id, discord.opus.Decoder())
            self.heard.setdefault(member.user_id, []).append(decoder.decode(frame))

    async def speak(self, user_id: int, pcm: bytes, *, pace: float = 0.02, extension: bool = True,
                    silence_frames: bool = True, duplicates: bool = False, reorder: int = 0,
                    plain_every: int = 0, stall: tuple[int, float] | None = None) -> int:
        """A member says ``pcm`` (48 kHz 16-bit stereo): SPEAKING to the bot, then each 20 ms Opus frame,
        end-to-end encrypted under DAVE, in RTP under the transport encryption, ``pace`` seconds apart (on
        the client's clock, which a frame a little late does not shift), then the five silence frames a
        client ends with (``silence_frames=False``: lost on the way). ``duplicates``: every tenth packet
        arrives twice, as UDP may deliver it. ``reorder``: every tenth packet arrives after that many of its
        successors (20 ms each). ``plain_every``: every so many frames are sent without DAVE's encryption
        (passthrough, as during a transition). ``stall``: (n, s): after packet n nothing is sent for s
        seconds, the packets' clock going on as if nothing happened (a network or a process that held them
        up). Returns the number of packets sent (silence frames included)."""
        member = self.members[user_id]
        conn = next(iter(self._in_channel(member.channel_id)), None)
        assert conn is not None and conn.address is not None and conn.key, "the bot is not in the call"
        await self.send(conn, 5, {"user_id": str(user_id), "ssrc": member.ssrc, "speaking": 1})
        encoder = member.opus()
        frames = [encoder.encode(pcm[i:i + PCM_FRAME].ljust(PCM_FRAME, b"\0"), encoder.SAMPLES_PER_FRAME)
                  for i in range(0, len(pcm), PCM_FRAME)]
        loud = [n for n in range(len(frames)) if _loud(pcm[n * PCM_FRAME:(n + 1) * PCM_FRAME])]
        onset, last = (loud[0], loud[-1]) if loud else (None, None)
        held: list[tuple[int, bytes]] = []  # (sent after packet n, packet): reordered ones
        sent = [*frames, *[OPUS_SILENCE] * (5 if silence_frames else 0)]
        due = time.monotonic()  # when the next frame is due, on the client's clock
        for n, frame in enumerate(sent):
            if n == onset:
                self.onsets.setdefault(user_id, []).append(time.monotonic())
            plain = plain_every and n % plain_every == plain_every - 1
            if frame != OPUS_SILENCE and self.group is not None and self.group.active and not plain:
                frame = self.group.encrypt(member, frame)
            assert self._udp is not None and conn.address is not None
            if reorder and n % 10 == 3 and n + reorder < len(sent):
                held.append((n + reorder, self._seal_rtp(conn, member, frame, extension)))
            else:
                packet = self._send_rtp(conn, member, frame, extension)
                if duplicates and n % 10 == 5:
                    self._udp.sendto(packet, conn.address)
            for due, packet in [h for h in held if h[0] == n]:
                held.remove((due, packet))
                self._udp.sendto(packet, conn.address)
            if n == last:
                self.speech_ends.setdefault(user_id, []).append(time.monotonic())
            due += pace + (stall[1] if stall is not None and stall[0] == n else 0.0)
            now = time.monotonic()
            due = max(due, now - pace)  # held up longer than a frame: on from here, not in a burst
            await asyncio.sleep(max(0.0, due - now))
        return len(sent)

    async def echo_back(self, user_id: int, stop: asyncio.Event, *, delay: float = 0.15,
                        gain: float = 0.5, say: bytes = b"", say_when: asyncio.Event | None = None) -> int:
        """A member on speakers whose client has no echo cancellation: what it hears of the bot comes back
        as its own audio, ``delay`` seconds later and ``gain`` as loud, through its Opus encoder (end-to-end
        encrypted under DAVE, as its speech is), until ``stop`` is set and what was pending has gone; then
        the five silence frames. Between the bot's clips it sends nothing, its RTP clock going on. ``say``
        (48 kHz 16-bit stereo): the member speaks over it once ``say_when`` is set (at once when None), one
        frame every 20 ms, the echo mixed into their voice as a microphone hears both (``onsets`` and
        ``speech_ends`` kept as ``speak`` keeps them). Returns the audio packets sent (silence frames not
        counted)."""
        member = self.members[user_id]
        conn = next(iter(self._in_channel(member.channel_id)), None)
        assert conn is not None and conn.address is not None and conn.key, "the bot is not in the call"
        await self.send(conn, 5, {"user_id": str(user_id), "ssrc": member.ssrc, "speaking": 1})
        encoder = member.opus()
        heard = self.heard.setdefault(user_id, [])
        taken = len(heard)
        pending: collections.deque[tuple[float, bytes]] = collections.deque()
        loop = asyncio.get_running_loop()
        sent, due_before = 0, loop.time()
        own = [say[i:i + PCM_FRAME].ljust(PCM_FRAME, b"\0") for i in range(0, len(say), PCM_FRAME)]
        loud = [n for n, f in enumerate(own) if _loud(f)]
        saying: int | None = None  # the member's next frame of their own voice
        next_at = 0.0
        while not stop.is_set() or pending or (saying is not None and saying < len(own)):
            now = loop.time()
            pending.extend((now + delay, pcm) for pcm in heard[taken:])
            taken = len(heard)
            if saying is None and own and (say_when is None or say_when.is_set()):
                saying, next_at = 0, now
            if saying is not None and saying < len(own):
                if now >= next_at:  # their voice, and the echo due by now mixed in (one frame of it)
                    mixed = np.frombuffer(own[saying], dtype="<i2").astype(np.int32)
                    if pending and pending[0][0] <= now:
                        mixed += (np.frombuffer(pending.popleft()[1], dtype="<i2") * gain).astype(np.int32)
                    pcm = np.clip(mixed, -32768, 32767).astype("<i2").tobytes()
                    frame = encoder.encode(pcm, encoder.SAMPLES_PER_FRAME)
                    if self.group is not None and self.group.active:
                        frame = self.group.encrypt(member, frame)
                    if loud and saying == loud[0]:
                        self.onsets.setdefault(user_id, []).append(time.monotonic())
                    self._send_rtp(conn, member, frame, True)
                    if loud and saying == loud[-1]:
                        self.speech_ends.setdefault(user_id, []).append(time.monotonic())
                    saying, next_at, due_before, sent = saying + 1, next_at + 0.02, now, sent + 1
                await asyncio.sleep(0.002)
                continue
            while pending and pending[0][0] <= now:
                due, pcm = pending.popleft()
                if due - due_before >= 0.1:  # the bot was quiet between: its clock went on (not a mere stall)
                    member.timestamp = (member.timestamp + 960 * (round((due - due_before) / 0.02) - 1)
                                        ) & 0xFFFFFFFF
                due_before = due
                quieter = array.array("h", pcm)
                for i, x in enumerate(quieter):
                    quieter[i] = int(x * gain)
                frame = encoder.encode(quieter.tobytes(), encoder.SAMPLES_PER_FRAME)
                if self.group is not None and self.group.active:
                    frame = self.group.encrypt(member, frame)
                self._send_rtp(conn, member, frame, True)
                sent += 1
            await asyncio.sleep(0.005)
        for _ in range(5):
            self._send_rtp(conn, member, OPUS_SILENCE, True)
        return sent

    async def prepare_downgrade(self, user_id: int) -> None:
        """Announce a transition to protocol version 0 (DAVE_PREPARE_TRANSITION, op 21), as when a client
        without DAVE joins: the bot's DAVE session lets unencrypted frames through until it is executed."""
        member = self.members[user_id]
        conn = next(iter(self._in_channel(member.channel_id)))
        await self.send(conn, 21, {"transition_id": 60_000, "protocol_version": 0})

    def _send_rtp(self, conn: Connection, member: Member, frame: bytes, extension: bool) -> bytes:
        assert self._udp is not None and conn.address is not None
        packet = self._seal_rtp(conn, member, frame, extension)
        self._udp.sendto(packet, conn.address)
        return packet

    def _seal_rtp(self, conn: Connection, member: Member, frame: bytes, extension: bool) -> bytes:
        packet = seal(conn.key, member.sequence, member.timestamp, member.ssrc, frame, member.counter,
                      extension=b"\x10\x7f\x00\x00" if extension else None)
        member.sequence = (member.sequence + 1) & 0xFFFF
        member.timestamp = (member.timestamp + 960) & 0xFFFFFFFF
        member.counter += 1
        return packet

    async def garble(self, user_id: int, count: int) -> None:
        """A member's client sends ``count`` packets whose Opus is corrupt (end-to-end encrypted and sealed
        as usual): each must be dropped without harm."""
        member = self.members[user_id]
        conn = next(iter(self._in_channel(member.channel_id)))
        await self.send(conn, 5, {"user_id": str(user_id), "ssrc": member.ssrc, "speaking": 1})
        for _ in range(count):
            frame = b"\x03\xff" + os.urandom(40)  # code 3 with 63 frames of a 2.5 ms mode: invalid
            if self.group is not None and self.group.active:
                frame = self.group.encrypt(member, frame)
            self._send_rtp(conn, member, frame, True)
            await asyncio.sleep(0.002)

    def forge(self, user_id: int) -> None:
        """A packet in a member's name sealed with another key than the call's (a forger, or a stale
        session): it must not be heard."""
        member = self.members[user_id]
        conn = next(iter(self._in_channel(member.channel_id)))
        assert self._udp is not None and conn.address is not None
        self._udp.sendto(seal(os.urandom(32), member.sequence, member.timestamp, member.ssrc, b"\xfc" * 40,
                              member.counter), conn.address)

    async def wait_for(self, predicate: Callable[[FakeVoiceServer], Any], timeout: float = EVENT_WAIT,
                       what: str = "condition") -> Any:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not (result := predicate(self)):
            if loop.time() > deadline:
                raise AssertionError(f"timed out after {timeout}s waiting for {what}")
            await asyncio.sleep(0.005)
        return result


def _loud(chunk: bytes) -> bool:
    samples = array.array("h", chunk[:len(chunk) // 2 * 2])
    return any(abs(x) >= LOUD for x in samples)


SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)  # (Linux's; Python names it on some builds only)


class _Udp:
    """The UDP peer's socket, read on the loop, one datagram a turn as asyncio's transport reads; each
    stamped with the kernel's time of its arrival where the kernel gives one."""

    def __init__(self, server: FakeVoiceServer, loop: asyncio.AbstractEventLoop) -> None:
        self.server = server
        self._loop = loop
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.setblocking(False)
        try:
            self._sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        except OSError:  # no stamps: the time the loop reads it
            pass
        self.port: int = self._sock.getsockname()[1]
        loop.add_reader(self._sock.fileno(), self._readable)

    def _readable(self) -> None:
        try:
            data, ancillary, _, address = self._sock.recvmsg(65_536, socket.CMSG_SPACE(16))
        except OSError:  # (nothing after all, or an error a UDP socket may report: nothing to read)
            return
        arrived = time.monotonic()
        for level, kind, raw in ancillary:
            if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS and len(raw) >= 16:
                seconds, nanoseconds = struct.unpack("qq", raw[:16])
                arrived -= max(0.0, time.time() - (seconds + nanoseconds / 1e9))  # how long it waited
        self.server.datagram(data, address, arrived)

    def sendto(self, data: bytes, address: tuple[str, int]) -> None:
        try:
            self._sock.sendto(data, address)
        except OSError:  # a full buffer or a peer gone: lost, as a datagram may be
            pass

    def close(self) -> None:
        self._loop.remove_reader(self._sock.fileno())
        self._sock.close()
