"""Stage 1 of a reply, admit: the message is written to the short-term log before anything else (its
reply marked owed in that very write when it is certain, and its prompt data read in the same trip), the
interceptors may consume it (a log-channel command), and the gates may stop it (who may talk, what may
be spent)."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator

from bot.core.config import Settings
from bot.core.pipeline import Decision, Features, Incoming, Outlet
from bot.core.policy import ServerPolicies
from bot.reply.composing import Prefetched, PromptComposer
from bot.reply.deciding import Addressee, TurnTaking
from bot.reply.throttle import BotThrottle
from database.records import SeenMessage
from database.store import Store

log = logging.getLogger("bot.reply.engine")


class Admission:
    """One character's admission of messages; ``owed``: the messages this process marked owed a reply and
    has not answered yet (shared with the keeping stage, which clears them)."""

    def __init__(self, store: Store, settings: Settings, character_key: str, addressee: Addressee,
                 throttle: BotThrottle, turns: TurnTaking, policies: ServerPolicies, composer: PromptComposer,
                 features: Features, owed: set[int]) -> None:
        self.store = store
        self.settings = settings
        self.character_key = character_key
        self.addressee = addressee
        self.throttle = throttle
        self.turns = turns
        self.policies = policies
        self.composer = composer
        self.interceptors = features.interceptors
        self.gates = features.gates
        self.owed = owed
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
        self.store.privacy.seen(msg.message_id)
        active = msg.is_dm or await self.store.places.is_active(msg.channel_id, msg.guild_id)
        prefetched: Prefetched | None = None
        if (active or self.settings.replies.log_inactive_channels) and not await self.log_channel(msg):
            certain = active and prefetch and self.addressee.reply_certain(msg)
            request = self.composer.prompt_request(msg) if certain else None
            stamp = self.store.conversations.history_stamp(self.character_key, msg.author_id, msg.scope)
            # A reply certain now is owed from this very write: a crash from here on cannot lose it.
            owed_by = self.character_key if request is not None else None
            with self._claiming(msg, owed=owed_by is not None):
                data = await self.store.log.log_message(_seen(msg), then_read=request, owed_by=owed_by)
            prefetched = Prefetched(data, stamp) if data is not None else None
        if not msg.author_is_bot and not msg.is_dm:
            self.throttle.human_spoke(msg.channel_id)
        self.turns.observed(msg)
        return active, prefetched

    async def log_first(self, msg: Incoming) -> None:
        """Write ``msg`` to the log now, its reply marked owed when certain, before slow work on it (a voice
        message's download and transcription): a crash during that work loses neither. The sequence's own
        log write later finds it there (the log ignores a message it has)."""
        active = msg.is_dm or await self.store.places.is_active(msg.channel_id, msg.guild_id)
        if not (active or self.settings.replies.log_inactive_channels) or await self.log_channel(msg):
            return
        owed_by = self.character_key if active and self.addressee.reply_certain(msg) else None
        with self._claiming(msg, owed=owed_by is not None):
            await self.store.log.log_message(_seen(msg), owed_by=owed_by)

    @contextlib.contextmanager
    def _claiming(self, msg: Incoming, *, owed: bool) -> Iterator[None]:
        """Around a write that marks ``msg``'s reply owed: this process claims the mark before the write.
        From the moment the mark is in the database, the start-up recovery (bot/reply/recovery.py), reading
        the marks at the same time, must see it is being answered here. Released if the write fails (a mark
        claimed earlier, by log_first, stays claimed)."""
        claimed = owed and msg.message_id not in self.owed
        if claimed:
            self.owed.add(msg.message_id)
        try:
            yield
        except BaseException:
            if claimed:
                self.owed.discard(msg.message_id)
            raise

    async def log_channel(self, msg: Incoming) -> bool:
        """Whether ``msg`` is in a log channel (the admins' or a server's): not conversation, and never
        logged as such; its notices and the verbose mirror quote people (issue 49). No database trip: the
        server's settings are cached."""
        if msg.is_dm:
            return False
        if msg.channel_id == self.settings.secrets.log_channel:
            return True
        policy = await self.policies.of(msg.guild_id)
        return policy is not None and policy.log_channel_id == msg.channel_id

    async def relog(self, msg: Incoming, content: str) -> None:
        """The logged text of ``msg`` replaced (a voice message logged before it was heard, now heard)."""
        await self.store.log.set_content(msg.message_id, content)

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
        for interceptor in self.interceptors:  # consulted even where the bot is inactive
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
            return Decision(False, f"the bot lacks {msg.cannot_post} here")
        self._cannot_post.discard(msg.channel_id)  # granted since: a later refusal is said again
        for gate in self.gates:
            stop = await gate(msg, outlet)
            if stop is not None:
                return stop
        return None

    async def owe(self, msg: Incoming) -> None:
        """Mark the reply to ``msg`` owed, unless its log write did (a reply decided by a vote, or by the
        cast of several characters): from now on a crash cannot lose it."""
        if msg.message_id not in self.owed:
            with self._claiming(msg, owed=True):
                await self.store.owed.mark(self.character_key, msg.message_id, msg.channel_id)


def _seen(msg: Incoming) -> SeenMessage:
    # A DM's row names no server (an /ask in one is spent there, but what is said stays the person's own).
    return SeenMessage(msg.message_id, msg.channel_id, None if msg.is_dm else msg.guild_id, msg.author_id,
                       msg.author_name,
                       msg.author_is_bot, msg.is_dm, msg.said, msg.created_at, msg.reply_to_id, msg.private)
