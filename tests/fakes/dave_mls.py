"""DAVE on the fake voice server's side: the MLS group of a call, with the server as its external sender.

As Discord's voice server does (the DAVE protocol's opcodes 21 to 31): it sends each client the external
sender package (25); takes each client's key package (26); proposes, as the external sender, to add the
members' key packages (27, MLS PublicMessages signed with its own P-256 key); takes the commit and welcome
a client answers with (28); announces the commit to the group (29) and welcomes the new members (30); and
executes the transition (22) once every client said it is ready (23). Each fake member is a davey
``DaveSession`` of its own, so what the bot encrypts is decrypted by another MLS member, as on Discord.
It checks what Discord's server checks (``DaveGroup``'s docstring): the bot's key package, and each
commit's group, epoch, sender and proposal references; and it can start a call whose group the members
already formed, so that the bot joins it by a Welcome.

The MLS structures (RFC 9420) are written by hand: the external sender, an Add proposal's PublicMessage and
its signature (SignWithLabel over FramedContentTBS, ECDSA P-256 with SHA-256, DER), the vectors' varint
lengths. The ECDSA is a few lines of pure Python over the curve's published constants; a test fake needs
no constant time.
"""

from __future__ import annotations

import hashlib
import itertools
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


def proposal_ref(message: bytes) -> bytes:
    """The ProposalRef a commit names a proposal by: RefHash over its AuthenticatedContent (the MLSMessage
    without its version; an external sender's proposal has no membership tag)."""
    return hashlib.sha256(vec(b"MLS 1.0 Proposal Reference") + vec(message[2:])).digest()


class Commit:
    """What the voice server reads of a commit (RFC 9420 PublicMessage with a Commit): its group, epoch,
    sender and the proposals it names. The rest (the path, the signature) only members can check."""

    def __init__(self, data: bytes) -> None:
        version, wire = struct.unpack_from(">HH", data, 0)
        if (version, wire) != (MLS10, PUBLIC_MESSAGE):
            raise ValueError("not an MLS 1.0 PublicMessage")
        self.group_id, at = read_vec(data, 4)
        self.epoch, sender_type, self.sender = struct.unpack_from(">QBI", data, at)
        if sender_type != SENDER_MEMBER:
            raise ValueError("a commit from a sender that is not a member")
        _, at = read_vec(data, at + 13)  # authenticated data
        if data[at] != CONTENT_COMMIT:
            raise ValueError("not a commit")
        proposals, _ = read_vec(data, at + 1)
        self.refs: list[bytes] = []
        at = 0
        while at < len(proposals):
            if proposals[at] != PROPOSAL_BY_REFERENCE:  # DAVE commits only the external sender's proposals
                raise ValueError("a proposal inline in the commit")
            ref, at = read_vec(proposals, at + 1)
            self.refs.append(ref)


SENDER_MEMBER, CONTENT_COMMIT, PROPOSAL_BY_REFERENCE = 1, 3, 2


class DaveGroup:
    """One call's MLS group, as its external sender keeps it.

    What it enforces, as Discord's voice server does: a key package (op 26) must parse, carry a valid
    signature and a basic credential whose identity is the connecting user's id (checked by a throwaway
    davey session asked to add it with ``expected_user_ids``), or the connection is closed with 4020 (bad
    request) and the package never proposed. A commit (op 28, or a member's) is taken only if it is a
    PublicMessage of this group for its current epoch, sent by a member at the leaf the committer holds in
    the group's tree, and naming by reference every proposal the server sent in this epoch and no other;
    any other is dropped unannounced (``refused`` says why), as Discord drops them. A member that leaves
    before its add was committed has that proposal revoked (op 27, revoke). ``hold_commits`` holds the
    bot's commits on the way, so that proposals race them. With ``FakeVoiceServer.members_group``
    the members already in the call formed the group before the bot came (the first created it and added
    the others): the bot's key package is proposed to them, the first commits, and the bot is welcomed into
    the existing group (op 30) with a transition it executes (op 22) once ready (op 23).
    """

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
        self.roster: dict[int, int] = {}  # leaf index -> user id, as the group's tree has them
        # the proposals sent this epoch, by ref: ("add", user id) or ("remove", leaf index)
        self.proposed: dict[bytes, tuple[str, int]] = {}
        self.refused: list[str] = []  # key packages and commits refused, and why
        self.welcomes: list[int] = []  # transitions by which the bot was welcomed into the members' group
        self.added: list[int] = []  # the users the latest commit taken added
        # The bot's commits (op 28) held on their way while a test makes proposals race them; None: none held.
        self.held: list[tuple[Connection, bytes]] | None = None
        self.readmitting: set[int] = set()  # bot ssrcs that flagged op 31: their next key package is welcomed

    def _session(self, member: Member) -> Any:
        if member.dave is None:
            member.dave = davey.DaveSession(1, member.user_id, self.channel_id)
            member.dave.set_external_sender(self.package)
        return member.dave

    async def start(self, conn: Connection) -> None:
        """After SESSION_DESCRIPTION: the external sender package; the client answers with its key package.
        Unless the members formed the group, the bot's client creates it, alone at leaf 0 until it commits."""
        present = [m for m in self.server.members.values() if m.channel_id == self.channel_id]
        if self.server.members_group and present:
            self.form_among(present)
        else:
            self.roster = {0: conn.grant.user_id}
        await self.server.send_binary(conn, 25, self.package)

    def form_among(self, members: list[Member]) -> None:
        """The members' clients made the group before the bot came: the first created it, and added the
        others with a commit of its own that the server took (and checked) as any other."""
        first = members[0]
        self.roster = {0: first.user_id}
        self._session(first)
        if len(members) > 1:
            messages = self.add_proposals(members[1:])
            self._member_commit(first, messages, members[1:])

    def _member_commit(self, committer: Member, messages: bytes, joining: list[Member]) -> bytes | None:
        """The members' group takes the proposals and ``committer`` commits them; the welcome it returns
        (for whoever the proposals add) is returned, or None when the server refused the commit."""
        result, group = None, self._in_group()
        for member in group:
            out = member.dave.process_proposals(davey.ProposalsOperationType.append, vec(messages))
            if member is committer:
                result = out
        assert result is not None, "the committer made no commit"
        if not self.take_commit(result.commit, committer.user_id):
            return None
        for member in group:
            member.dave.process_commit(result.commit)
        for member in joining:
            self._session(member).process_welcome(result.welcome)
        return bytes(result.welcome) if result.welcome is not None else None

    def _in_group(self) -> list[Member]:
        users = set(self.roster.values())
        return [m for m in self.server.members.values()
                if m.channel_id == self.channel_id and m.user_id in users and m.dave is not None]

    def key_package_refusal(self, package: bytes, user_id: int) -> str | None:
        """Why ``package`` may not be proposed for ``user_id``, or None: davey's own MLS code (openmls)
        parses it, checks its signature and that its credential names that user."""
        checker = davey.DaveSession(1, (user_id + 1) % (1 << 63), self.channel_id)
        checker.set_external_sender(self.package)
        message = add_proposal(self.key, self.group_id, 0, package)
        try:
            checker.process_proposals(davey.ProposalsOperationType.append, vec(message),
                                      expected_user_ids=[user_id])
        except Exception as error:
            return str(error)
        return None

    def take_commit(self, data: bytes, user_id: int) -> bool:
        """Whether the server takes ``data`` as ``user_id``'s commit of the current epoch; a taken one
        moves the group on (its tree, its epoch); a refused one is recorded in ``refused``."""
        why = self._commit_refusal(data, user_id)
        if why is not None:
            self.refused.append(f"commit: {why}")
            return False
        commit = Commit(data)
        named = [self.proposed[ref] for ref in commit.refs]
        for kind, leaf in named:  # removals first, then adds into the leftmost blank leaves (RFC 9420 12.3)
            if kind == "remove":
                self.roster.pop(leaf, None)
        self.added = []
        for kind, user in named:
            if kind == "add":
                self.roster[next(i for i in itertools.count() if i not in self.roster)] = user
                self.added.append(user)
        self.proposed = {}
        self.commits.append(data)
        self.epoch += 1
        return True

    def _commit_refusal(self, data: bytes, user_id: int) -> str | None:
        try:
            commit = Commit(data)
        except (ValueError, IndexError, struct.error) as error:
            return f"unreadable ({error})"
        if commit.group_id != self.group_id:
            return "of another group"
        if commit.epoch != self.epoch:
            return f"for epoch {commit.epoch}, the group is at {self.epoch}"
        if self.roster.get(commit.sender) != user_id:
            return f"sent as leaf {commit.sender}, which is not the committer's"
        if not commit.refs or any(ref not in self.proposed for ref in commit.refs):
            return "names a proposal the server did not send this epoch"
        if set(commit.refs) != set(self.proposed):  # as Discord: every unrevoked proposal of the epoch
            return "leaves out a proposal the server sent this epoch"
        return None

    async def on_binary(self, conn: Connection, op: int, payload: bytes) -> None:
        if op == 26:  # the client's key package: propose the members already in the call
            why = self.key_package_refusal(payload, conn.grant.user_id)
            if why is not None:
                self.refused.append(f"key package: {why}")
                await self.server.refuse(conn, 4020)
                return
            self.bot_key_packages[conn.ssrc] = payload
            members = [m for m in self.server.members.values() if m.channel_id == self.channel_id]
            if (self.server.members_group or conn.ssrc in self.readmitting) and self._in_group():
                self.readmitting.discard(conn.ssrc)
                await self._welcome(conn, payload)
            elif members:
                await self._propose(conn, members)
        elif op == 28:
            if self.held is not None:
                self.held.append((conn, payload))
                return
            await self._commit(conn, payload)

    def hold_commits(self) -> None:
        """Hold the bot's commits on their way (a slow link): proposals sent meanwhile race them."""
        self.held = []

    async def release_commits(self) -> None:
        """The held commits arrive, in the order the bot sent them; later ones are no longer held."""
        held, self.held = self.held or [], None
        for conn, payload in held:
            await self._commit(conn, payload)

    async def _welcome(self, conn: Connection, package: bytes) -> None:
        """The bot into the members' group: proposed to them, committed by the first, welcomed (op 30)."""
        group = self._in_group()
        committer = min(group, key=lambda m: m.dave.own_leaf_index)
        message = add_proposal(self.key, self.group_id, self.epoch, package)
        self.proposed[proposal_ref(message)] = ("add", conn.grant.user_id)
        result = None
        for member in group:
            out = member.dave.process_proposals(davey.ProposalsOperationType.append, vec(message))
            if member is committer:
                result = out
        assert result is not None and result.welcome is not None
        if not self.take_commit(result.commit, committer.user_id):
            return
        for member in group:
            member.dave.process_commit(result.commit)
        transition = next(self.transitions)
        self.pending[transition] = {conn.ssrc}
        self.welcomes.append(transition)
        await self.server.send_binary(conn, 30, struct.pack(">H", transition) + bytes(result.welcome))

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
            await self._readmit(conn)

    async def _readmit(self, conn: Connection) -> None:
        """A client flagged a commit or welcome it could not process (op 31): as the DAVE protocol has the
        voice gateway do, its leaf is proposed for removal (a member commits it) and it is pending again;
        its next key package is welcomed into the group. With nobody else in the group, the group starts
        anew from that key package. The external sender is sent again: the client's session starts over."""
        user = conn.grant.user_id
        group = self._in_group()
        if not group:
            self.epoch, self.roster, self.proposed = 0, {0: user}, {}
        else:
            leaf = next((i for i, u in self.roster.items() if u == user), None)
            if leaf is not None:
                message = remove_proposal(self.key, self.group_id, self.epoch, leaf)
                self.proposed[proposal_ref(message)] = ("remove", leaf)
                self._member_commit(min(group, key=lambda m: m.dave.own_leaf_index), message, [])
            self.readmitting.add(conn.ssrc)
        await self.server.send_binary(conn, 25, self.package)

    async def add_member(self, conn: Connection, member: Member) -> None:
        """A member joined the call the bot is in: propose adding it; the bot commits."""
        await self._propose(conn, [member])

    async def remove_member(self, conn: Connection, member: Member) -> None:
        """A member left the call (and the server's list): propose removing its leaf; the bot commits. One
        whose add is still in flight (proposed, not committed) has that proposal revoked (op 27, revoke)."""
        in_flight = [ref for ref, (kind, user) in self.proposed.items()
                     if kind == "add" and user == member.user_id]
        if in_flight:
            for ref in in_flight:
                del self.proposed[ref]
            member.dave = None
            refs = b"".join(vec(ref) for ref in in_flight)
            for other in self._in_group():
                if other.dave.ready:
                    other.dave.process_proposals(davey.ProposalsOperationType.revoke, vec(refs))
            await self.server.send_binary(conn, 27, bytes([1]) + vec(refs))
            return
        if member.dave is None or member.dave.own_leaf_index is None:
            return
        leaf = member.dave.own_leaf_index
        message = remove_proposal(self.key, self.group_id, self.epoch, leaf)
        self.proposed[proposal_ref(message)] = ("remove", leaf)
        member.dave = None
        await self._send_proposals(conn, message)

    def add_proposals(self, members: list[Member]) -> bytes:
        """The external sender's proposals adding ``members`` (each given a DAVE session of its own) in
        this epoch, noted as proposed; sending them is the caller's."""
        messages = b""
        for member in members:
            message = add_proposal(self.key, self.group_id, self.epoch,
                                   self._session(member).get_serialized_key_package())
            self.proposed[proposal_ref(message)] = ("add", member.user_id)
            messages += message
        return messages

    async def _propose(self, conn: Connection, members: list[Member]) -> None:
        await self._send_proposals(conn, self.add_proposals(members))

    async def _send_proposals(self, conn: Connection, messages: bytes) -> None:
        for member in self.server.members.values():  # every member of the group gets the proposals (a
            session = member.dave  # commit names them by reference); the bot's commit is the one taken
            if member.channel_id == self.channel_id and session is not None and session.ready:
                session.process_proposals(davey.ProposalsOperationType.append, vec(messages))
        await self.server.send_binary(conn, 27, bytes([0]) + vec(messages))

    async def _commit(self, conn: Connection, payload: bytes) -> None:
        commit, welcome = split_commit_welcome(payload)
        if not self.take_commit(commit, conn.grant.user_id):
            return
        transition = next(self.transitions)
        self.pending[transition] = {conn.ssrc}
        for member in self.server.members.values():  # those in the group already take the commit
            if member.channel_id == self.channel_id and member.dave is not None and member.dave.ready:
                try:
                    member.dave.process_commit(commit)
                except Exception:  # a commit of a group the member is not in (a bot that started afresh)
                    member.dave = None
        if welcome is not None:
            for user in self.added:
                if user in self.server.members:
                    self._session(self.server.members[user]).process_welcome(welcome)
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
