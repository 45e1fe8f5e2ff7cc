"""DAVE on the fake voice server's side: the MLS group of a call, with the server as its external sender.

As Discord's voice server does (the DAVE protocol's opcodes 21 to 31): it sends each client the external
sender package (25); takes each client's key package (26); proposes, as the external sender, to add the
members' key packages (27, MLS PublicMessages signed with its own P-256 key); takes the commit and welcome
a client answers with (28); announces the commit to the group (29) and welcomes the new members (30); and
executes the transition (22) once every client said it is ready (23). Each fake member is a davey
``DaveSession`` of its own, so what the bot encrypts is decrypted by another MLS member, as on Discord.

The MLS structures (RFC 9420) are written by hand: the external sender, an Add proposal's PublicMessage and
its signature (SignWithLabel over FramedContentTBS, ECDSA P-256 with SHA-256, DER), the vectors' varint
lengths. The ECDSA is a few lines of pure Python over the curve's published constants; a test fake needs
no constant time.
"""

from __future__ import annotations

import hashlib
import secrets
import struct
from typing import TYPE_CHECKING, Any

import davey

if TYPE_CHECKING:
    from tests.fakes.voice_server import Connection, FakeVoiceServer, Member

# P-256 (SEC 2 / FIPS 186-4).
_P = 0xFFFFFFFF00000001000000000000000000000000FFFFFFFFFFFFFFFFFFFFFFFF
_A = _P - 3
_N = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
_G = (0x6B17D1F2E12C4247F8BCE6E563A440F277037D812DEB33A0F4A13945D898C296,
      0x4FE342E2FE1A7F9B8EE7EB4A7C0F9E162BCE33576B315ECECBB6406837BF51F5)

Point = tuple[int, int] | None


def _add(p: Point, q: Point) -> Point:
    if p is None:
        return q
    if q is None:
        return p
    if p[0] == q[0] and (p[1] + q[1]) % _P == 0:
        return None
    if p == q:
        slope = (3 * p[0] * p[0] + _A) * pow(2 * p[1], -1, _P) % _P
    else:
        slope = (q[1] - p[1]) * pow(q[0] - p[0], -1, _P) % _P
    x = (slope * slope - p[0] - q[0]) % _P
    return x, (slope * (p[0] - x) - p[1]) % _P


def _mul(k: int, point: Point) -> Point:
    out: Point = None
    while k:
        if k & 1:
            out = _add(out, point)
        point = _add(point, point)
        k >>= 1
    return out


def _der_int(value: int) -> bytes:
    raw = value.to_bytes(33, "big").lstrip(b"\0")
    if not raw or raw[0] & 0x80:
        raw = b"\0" + raw
    return b"\x02" + bytes([len(raw)]) + raw


class SigningKey:
    """An ECDSA P-256 key: its SEC1 public point, and DER signatures over SHA-256."""

    def __init__(self) -> None:
        self.private = secrets.randbelow(_N - 1) + 1
        point = _mul(self.private, _G)
        assert point is not None
        self.public = b"\x04" + point[0].to_bytes(32, "big") + point[1].to_bytes(32, "big")

    def sign(self, message: bytes) -> bytes:
        z = int.from_bytes(hashlib.sha256(message).digest(), "big")
        while True:
            k = secrets.randbelow(_N - 1) + 1
            point = _mul(k, _G)
            assert point is not None
            r = point[0] % _N
            s = pow(k, -1, _N) * (z + r * self.private) % _N
            if r and s:
                body = _der_int(r) + _der_int(s)
                return b"\x30" + bytes([len(body)]) + body


# ---------------------------------------------------------------------- TLS presentation language (RFC 9420)


def varint(n: int) -> bytes:
    if n < 1 << 6:
        return bytes([n])
    if n < 1 << 14:
        return struct.pack(">H", 0x4000 | n)
    return struct.pack(">I", 0x80000000 | n)


def vec(data: bytes) -> bytes:
    return varint(len(data)) + data


def read_varint(data: bytes, at: int) -> tuple[int, int]:
    prefix = data[at] >> 6
    size = 1 << prefix
    value = int.from_bytes(data[at:at + size], "big") & ((1 << (8 * size - 2)) - 1)
    return value, at + size


def read_vec(data: bytes, at: int) -> tuple[bytes, int]:
    length, at = read_varint(data, at)
    if at + length > len(data):
        raise ValueError("vector past the end")
    return data[at:at + length], at + length


MLS10, PUBLIC_MESSAGE, WELCOME = 1, 1, 3
SENDER_EXTERNAL, CONTENT_PROPOSAL, PROPOSAL_ADD, PROPOSAL_REMOVE, BASIC_CREDENTIAL = 2, 2, 1, 3, 1
CIPHERSUITE = 2  # MLS_128_DHKEMP256_AES128GCM_SHA256_P256, DAVE protocol version 1's


def external_sender(key: SigningKey, identity: bytes) -> bytes:
    """ExternalSender: the signature key and a basic credential (opcode 25's payload)."""
    return vec(key.public) + struct.pack(">H", BASIC_CREDENTIAL) + vec(identity)


def add_proposal(key: SigningKey, group_id: bytes, epoch: int, key_package: bytes) -> bytes:
    """An MLSMessage (PublicMessage) in which the external sender (index 0) proposes to add a member."""
    return external_proposal(key, group_id, epoch, struct.pack(">H", PROPOSAL_ADD) + key_package)


def remove_proposal(key: SigningKey, group_id: bytes, epoch: int, leaf_index: int) -> bytes:
    """The external sender proposes to remove the member at ``leaf_index``."""
    return external_proposal(key, group_id, epoch, struct.pack(">HI", PROPOSAL_REMOVE, leaf_index))


def external_proposal(key: SigningKey, group_id: bytes, epoch: int, proposal: bytes) -> bytes:
    """An MLSMessage (PublicMessage) carrying ``proposal`` from the external sender (index 0)."""
    content = (vec(group_id) + struct.pack(">QBI", epoch, SENDER_EXTERNAL, 0) + vec(b"")
               + bytes([CONTENT_PROPOSAL]) + proposal)
    tbs = struct.pack(">HH", MLS10, PUBLIC_MESSAGE) + content  # an external sender signs no group context
    signature = key.sign(vec(b"MLS 1.0 FramedContentTBS") + vec(tbs))
    return struct.pack(">HH", MLS10, PUBLIC_MESSAGE) + content + vec(signature)


def split_commit_welcome(data: bytes) -> tuple[bytes, bytes | None]:
    """Opcode 28's payload is a commit (an MLSMessage) then, when it adds members, a Welcome: the Welcome is
    the one suffix that reads exactly as one (cipher suite, secrets<V>, encrypted_group_info<V>)."""
    for at in range(4, len(data) - 2):
        if struct.unpack_from(">H", data, at)[0] != CIPHERSUITE:
            continue
        try:
            _, end = read_vec(data, at + 2)
            _, end = read_vec(data, end)
        except (ValueError, IndexError):
            continue
        if end == len(data):
            return data[:at], data[at:]
    return data, None


class DaveGroup:
    """One call's MLS group, as its external sender keeps it."""

    def __init__(self, server: FakeVoiceServer, channel_id: int) -> None:
        self.server = server
        self.channel_id = channel_id
        self.group_id = channel_id.to_bytes(8, "big")
        self.key = SigningKey()
        self.package = external_sender(self.key, b"discord")
        self.epoch = 0
        self.active = False  # a transition to DAVE was executed: frames are end-to-end encrypted
        self.transitions = iter(range(1, 1 << 16))
        self.pending: dict[int, set[int]] = {}  # transition id -> the bot connections not ready yet
        self.commits: list[bytes] = []
        self.invalid: list[int] = []  # transitions a client said it could not process (op 31)
        self.bot_key_packages: dict[int, bytes] = {}  # bot ssrc -> its latest key package
        self._joining: list[Member] = []  # the members the latest proposals add

    def _session(self, member: Member) -> Any:
        if member.dave is None:
            member.dave = davey.DaveSession(1, member.user_id, self.channel_id)
            member.dave.set_external_sender(self.package)
        return member.dave

    async def start(self, conn: Connection) -> None:
        """After SESSION_DESCRIPTION: the external sender package; the client answers with its key package."""
        await self.server.send_binary(conn, 25, self.package)

    async def on_binary(self, conn: Connection, op: int, payload: bytes) -> None:
        if op == 26:  # the client's key package: propose the members already in the call
            self.bot_key_packages[conn.ssrc] = payload
            members = [m for m in self.server.members.values() if m.channel_id == self.channel_id]
            if members:
                await self._propose(conn, members)
        elif op == 28:
            await self._commit(conn, payload)

    async def on_json(self, conn: Connection, op: int, data: dict[str, Any]) -> None:
        if op == 23:
            transition = int(data["transition_id"])
            waiting = self.pending.get(transition)
            if waiting is not None:
                waiting.discard(conn.ssrc)
                if not waiting:
                    del self.pending[transition]
                    await self.server.send(conn, 22, {"transition_id": transition})
                    self.active = True
        elif op == 31:
            self.invalid.append(int(data["transition_id"]))

    async def add_member(self, conn: Connection, member: Member) -> None:
        """A member joined the call the bot is in: propose adding it; the bot commits."""
        await self._propose(conn, [member])

    async def remove_member(self, conn: Connection, member: Member) -> None:
        """A member left the call (and the server's list): propose removing its leaf; the bot commits."""
        if member.dave is None or member.dave.own_leaf_index is None:
            return
        message = remove_proposal(self.key, self.group_id, self.epoch, member.dave.own_leaf_index)
        member.dave = None
        await self._send_proposals(conn, message, [])

    async def _propose(self, conn: Connection, members: list[Member]) -> None:
        messages = b"".join(add_proposal(self.key, self.group_id, self.epoch,
                                         self._session(m).get_serialized_key_package()) for m in members)
        await self._send_proposals(conn, messages, members)

    async def _send_proposals(self, conn: Connection, messages: bytes, members: list[Member]) -> None:
        self._joining = list(members)
        for member in self.server.members.values():  # every member of the group gets the proposals (a
            session = member.dave  # commit names them by reference); the bot's commit is the one taken
            if member.channel_id == self.channel_id and session is not None and session.ready:
                session.process_proposals(davey.ProposalsOperationType.append, vec(messages))
        await self.server.send_binary(conn, 27, bytes([0]) + vec(messages))

    async def _commit(self, conn: Connection, payload: bytes) -> None:
        commit, welcome = split_commit_welcome(payload)
        self.commits.append(commit)
        transition = next(self.transitions)
        self.pending[transition] = {conn.ssrc}
        for member in self.server.members.values():  # those in the group already take the commit
            if member.channel_id == self.channel_id and member.dave is not None and member.dave.ready:
                try:
                    member.dave.process_commit(commit)
                except Exception:  # a commit of a group the member is not in (a bot that started afresh)
                    member.dave = None
        if welcome is not None:
            for member in self._joining:
                self._session(member).process_welcome(welcome)
        self.epoch += 1
        await self.server.send_binary(conn, 29, struct.pack(">H", transition) + commit)

    async def announce_garbage(self, conn: Connection) -> int:
        """A commit announced (op 29) that no MLS member can process (a corrupted or forged one): the
        client's DAVE session rejects it. Returns its transition id."""
        transition = next(self.transitions)
        self.pending[transition] = {conn.ssrc}
        await self.server.send_binary(conn, 29, struct.pack(">H", transition) + secrets.token_bytes(64))
        return transition

    def encrypt(self, member: Member, frame: bytes) -> bytes:
        return bytes(self._session(member).encrypt_opus(frame))

    def decrypt(self, member: Member, sender_id: int, frame: bytes) -> bytes | None:
        try:
            return bytes(self._session(member).decrypt(sender_id, davey.MediaType.audio, frame))
        except Exception:
            return None
