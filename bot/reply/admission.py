"""Stage 1 of a reply, admit: the message is written to the short-term log before anything else (its
reply marked owed in that very write when it is certain, and its prompt data read in the same trip), the
interceptors may consume it (a log-channel command), and the gates may stop it (who may talk, what may
be spent)."""

from __future__ import annotations

import logging

from bot.core.config import ReplySettings, SecretSettings
from bot.core.i18n import N_
from bot.core.lines import Line
from bot.core.policy import ServerPolicies
from bot.core.stages import Decision, Features, Incoming, Outlet
from bot.reply.composing import Prefetched, prompt_request
from bot.reply.deciding import Addressee, TurnTaking
from bot.reply.owed import OwedMarks
from bot.reply.throttle import BotThrottle
from database.conversations import Conversations
from database.log import MessageLog
from database.places import Places
from database.privacy import Privacy
from database.records import PromptData, SeenMessage

log = logging.getLogger(__name__)


class Admission:
    """One character's admission of messages, marking the replies it is certain of in ``owed``."""

    def __init__(self, messages: MessageLog, places: Places, privacy: Privacy, conversations: Conversations,
                 replies: ReplySettings, secrets: SecretSettings, character_key: str, addressee: Addressee,
                 throttle: BotThrottle, turns: TurnTaking, policies: ServerPolicies, features: Features,
                 owed: OwedMarks) -> None:
        """``replies`` and ``secrets``: sections read at each message (a reload applies at once)."""
        self._log = messages
        self._places = places
        self._privacy = privacy
        self._conversations = conversations
        self._replies = replies
        self._secrets = secrets
        self._key = character_key
        self._addressee = addressee
        self._throttle = throttle
        self._turns = turns
        self._policies = policies
        self._interceptors = features.interceptors
        self._gates = (*features.access, *features.gates)
        self._place_gates = features.place_gates  # a DM never asks them
        self._access = features.access
        self._owed = owed
        self._cannot_post: set[int] = set()  # the channels said to refuse our posts (said once each)

    async def observe(self, msg: Incoming) -> bool:
        """Write the message to the short-term log before anything else. Returns whether the place is
        active."""
        active, _ = await self._observe(msg, prefetch=False)
        return active

    async def _observe(self, msg: Incoming, *, prefetch: bool) -> tuple[bool, Prefetched | None]:
        """observe(); with ``prefetch``, a message that will certainly be answered also has its prompt data
        read in the same trip to the database as its log write."""
        # Its privacy mark, taken when first seen: an exchange whose author ran /forget_me since is not
        # stored (database/privacy.py). Kept by the store: every character of a cast answers by the same.
        self._privacy.seen(msg.message_id)
        active = msg.is_dm or await self._places.is_active(msg.channel_id, msg.guild_id, msg.parent_id)
        prefetched: Prefetched | None = None
        if (active or self._replies.log_inactive_channels) and not await self.log_channel(msg):
            if active and prefetch and self._addressee.reply_certain(msg):
                prefetched = await self._log_prefetching(msg)
            else:
                await self._log.log_message(_seen(msg))
        if not msg.author_is_bot and not msg.is_dm:
            self._throttle.human_spoke(msg.channel_id)
        self._turns.observed(msg)
        return active, prefetched

    async def _log_prefetching(self, msg: Incoming) -> Prefetched | None:
        """The prefetch: a message certain to be answered is logged, its reply marked owed (a crash from
        here on cannot lose it) and its prompt data read, in one trip to the database."""
        stamp = self._conversations.history_stamp(self._key, msg.author_id, msg.scope)
        request = prompt_request(self._key, msg, self._replies.recent_channel_messages)
        data: PromptData | None
        with self._owed.claiming(msg.message_id):
            data = await self._log.log_message(_seen(msg), then_read=request, owed_by=self._key)
        return Prefetched(data, stamp) if data is not None else None

    async def log_first(self, msg: Incoming) -> None:
        """Write ``msg`` to the log now, its reply marked owed when certain, before slow work on it (a
        recording's download and reading): a crash during that work loses neither. The sequence's own
        log write later finds it there (the log ignores a message it has). Its privacy mark is taken now:
        a /forget_me begun while it is read (a recording transcribed) is seen by its exchange's storing."""
        self._privacy.seen(msg.message_id)
        active = msg.is_dm or await self._places.is_active(msg.channel_id, msg.guild_id, msg.parent_id)
        if not (active or self._replies.log_inactive_channels) or await self.log_channel(msg):
            return
        owed_by = self._key if active and self._addressee.reply_certain(msg) else None
        with self._owed.claiming(msg.message_id, owed=owed_by is not None):
            await self._log.log_message(_seen(msg), owed_by=owed_by)

    def forgotten_meanwhile(self, msg: Incoming) -> bool:
        """Whether ``msg``'s author ran /forget_me since it was first seen (:meth:`log_first`)."""
        return self._privacy.forgotten_since(msg.author_id, self._privacy.mark_of(msg.message_id))

    async def log_channel(self, msg: Incoming) -> bool:
        """Whether ``msg`` is in a log channel (the admins' or a server's): not conversation, and never
        logged as such; its notices and the verbose mirror quote people (issue 49). No database trip: the
        server's settings are cached."""
        if msg.is_dm:
            return False
        if msg.channel_id == self._secrets.log_channel:
            return True
        policy = await self._policies.of(msg.guild_id)
        return policy is not None and policy.log_channel_id == msg.channel_id

    async def relog(self, msg: Incoming, content: str) -> None:
        """The logged text of ``msg`` replaced (a recording logged before it was read, now read)."""
        await self._log.set_content(msg.message_id, content)

    async def admit(self, msg: Incoming) -> bool:
        """Log the message, let interceptors consume it; True when reply work may follow."""
        admitted, _ = await self._admit(msg, prefetch=False)
        return admitted

    async def admit_prefetching(self, msg: Incoming) -> tuple[bool, Prefetched | None]:
        """:meth:`admit`; a message certain to be answered also has its prompt data read (and its reply marked
        owed) in the same trip to the database as its log write."""
        return await self._admit(msg, prefetch=True)

    async def _admit(self, msg: Incoming, *, prefetch: bool) -> tuple[bool, Prefetched | None]:
        active, prefetched = await self._observe(msg, prefetch=prefetch)  # logged first, whoever consumes it
        if msg.is_dm or msg.channel_id != self._secrets.log_channel:
            return active, prefetched  # the interceptors are the admins' log channel's commands: not here
        for interceptor in self._interceptors:  # consulted even where the bot is inactive
            try:
                if await interceptor(msg):
                    return False, None
            except Exception:
                log.exception("message interceptor failed on message %s", msg.message_id)
        return active, prefetched

    async def gate(self, msg: Incoming, outlet: Outlet) -> Decision | None:
        """The first gate that stops ``msg`` says why (None: reply work may follow). A place where the bot
        may not post stops it before them all: a gate may speak, and the reply would cost a model call for
        a post Discord refuses."""
        if msg.cannot_post:
            if msg.channel_id not in self._cannot_post:
                self._cannot_post.add(msg.channel_id)
                log.warning("cannot post in #%s (%s, channel %s): the bot lacks %s there, so its messages "
                            "go unanswered: grant the bot's role %s in that channel (Edit Channel > "
                            "Permissions) or in Server Settings > Roles", msg.channel_name or msg.channel_id,
                            msg.guild_name or msg.guild_id, msg.channel_id, msg.cannot_post, msg.cannot_post)
            return Decision(False, Line(N_("the bot lacks {permission} here"), permission=msg.cannot_post),
                            kind="no_permission")
        self._cannot_post.discard(msg.channel_id)  # granted since: a later refusal is said again
        for gate in (*self._gates, *(() if msg.is_dm else self._place_gates)):
            stop = await gate(msg, outlet)
            if stop is not None:
                return stop
        return None

    async def refused(self, msg: Incoming, outlet: Outlet) -> bool:
        """Whether who-may-talk refuses ``msg``: the access gates only, which say nothing and count nothing,
        so a recording is asked before it is read (its refusal is the sequence's, as any message's)."""
        for gate in self._access:
            if await gate(msg, outlet) is not None:
                return True
        return False

    async def owe(self, msg: Incoming) -> None:
        """Mark the reply to ``msg`` owed, unless its log write did (a reply decided by a vote, or by the
        cast of several characters): from now on a crash cannot lose it."""
        await self._owed.owe(msg.message_id, msg.channel_id)


def _seen(msg: Incoming) -> SeenMessage:
    # A DM's row names no server (an /ask in one is spent there, but what is said stays the person's own).
    return SeenMessage(msg.message_id, msg.channel_id, None if msg.is_dm else msg.guild_id, msg.author_id,
                       msg.author_name,
                       msg.author_is_bot, msg.is_dm, msg.said, msg.created_at, msg.reply_to_id, msg.private)
