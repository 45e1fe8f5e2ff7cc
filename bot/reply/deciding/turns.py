"""Taking turns: several characters answering one message, each after the ones named before it.

The characters may be other bots (one process each, perhaps a cluster of them) or the other members of
this bot's ensemble; either way a character waits until the ones before it have posted in the channel,
seen in the short-term log as each message is observed (and, in a cluster, as another process announces a
post), then answers with their words in its prompt. Other bots' characters are known by name: configured
(``peer_characters``) or seen speaking in the channel; this bot's own answers by their message ids. The main
character's pipeline observes every message, so its turn-taking is the one that waits.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Collection, Sequence

from bot.core.config import EnsembleSettings
from bot.core.stages import Incoming
from bot.reply.deciding.addressing import addressed_order, name_variants
from database.log import MessageLog
from database.records import SeenMessage

log = logging.getLogger(__name__)

Arrival = Callable[[Incoming | SeenMessage], bool]


class TurnTaking:
    """One character's view of the others in its channels, and its waits for their answers."""

    def __init__(self, messages: MessageLog, ensemble: EnsembleSettings,
                 names: Callable[[], set[str]], own_author_ids: Collection[int]) -> None:
        self.messages = messages  # the short-term log: a channel's latest messages, looked at before a wait
        self.ensemble = ensemble  # read at each wait (a section following reloads: the wait times apply)
        self.names = names  # this character's own names (read live: the persona may be edited)
        self.own_author_ids = own_author_ids  # our account and webhooks: never another character
        self.peer_names: set[str] = {n.strip() for n in ensemble.peer_characters.split(",") if n.strip()}
        self._seen_bots: dict[int, dict[int, str]] = {}
        self._arrivals: list[tuple[Arrival, asyncio.Future[None]]] = []

    # -- who else is here

    def note_peer(self, channel_id: int, author_id: int, name: str) -> None:
        """Remember a bot that speaks in this channel: a message naming it before us means it answers
        first."""
        if author_id not in self.own_author_ids and name:
            self._seen_bots.setdefault(channel_id, {})[author_id] = name

    def has_peers(self, channel_id: int) -> bool:
        """Whether another character may be here to be named (most places have none: no name to look for)."""
        return bool(self.peer_names) or channel_id in self._seen_bots

    def peers_in(self, channel_id: int) -> set[str]:
        return self.peer_names | set(self._seen_bots.get(channel_id, {}).values())

    def addressed_characters(self, msg: Incoming) -> list[str]:
        """The characters this message names (or @mentions), in order; "" stands for us (entity detection by
        name). The author never counts as addressed by its own message."""
        peers = {p for p in self.peers_in(msg.channel_id) if p.casefold() != msg.author_name.casefold()}
        mine = self.names()
        characters: dict[str, set[str]] = {"": mine}
        folded = {n.casefold() for n in mine}
        for peer in peers:
            if peer.casefold() not in folded:
                characters[peer] = name_variants(peer)
        return addressed_order(msg.content, characters)

    def characters_before_me(self, msg: Incoming) -> tuple[str, ...]:
        """The other characters this message names before naming us, in order."""
        order = self.addressed_characters(msg)
        return tuple(order[:order.index("")]) if "" in order else ()

    # -- messages arriving

    def observed(self, msg: Incoming) -> None:
        """A message just logged: a bot speaking is a character of this channel; waiters may go on."""
        if msg.author_is_bot and not msg.is_dm and msg.author_id not in self.own_author_ids:
            self.note_peer(msg.channel_id, msg.author_id, msg.author_name)
        self.arrived(msg)

    def arrived(self, seen: Incoming | SeenMessage) -> None:
        """A message seen here, or elsewhere (another process of the cluster posted it)."""
        for predicate, future in list(self._arrivals):
            if not future.done() and predicate(seen):
                future.set_result(None)

    async def wait_for_arrival(self, predicate: Arrival, timeout: float, *,
                               look_back: int | None = None) -> bool:
        """Wait until a message ``predicate`` accepts is seen (checked as each message is observed).

        ``look_back``: also check this channel's latest logged messages, after the waiter is registered so
        that no message slips between the look and the wait.
        """
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        entry = (predicate, future)
        self._arrivals.append(entry)
        try:
            if look_back is not None:
                for seen in await self.messages.recent_messages(look_back, limit=20):
                    if predicate(seen):
                        return True
            await asyncio.wait_for(future, timeout)
            return True
        except TimeoutError:
            return False
        finally:
            self._arrivals.remove(entry)

    def _timeout(self, msg: Incoming) -> float:
        ensemble = self.ensemble
        return ensemble.turn_wait_after_bot if msg.author_is_bot else ensemble.turn_wait_after_human

    async def wait_posted(self, msg: Incoming, message_ids: Sequence[int | None]) -> bool:
        """Wait until the answer just posted to ``msg`` (by a character of this bot) is in the log, so the
        next character's prompt shows it: Discord echoes each post back through the gateway."""
        ids = {i for i in message_ids if i is not None}
        if not ids:
            return True
        return await self.wait_for_arrival(lambda seen: seen.message_id in ids, self._timeout(msg),
                                           look_back=msg.channel_id)

    async def wait_turn(self, msg: Incoming, before_me: tuple[str, ...]) -> bool:
        """Wait until every character named in ``before_me`` has answered ``msg`` (or the wait runs out).

        Longer after a person's message than after a bot's: people address several characters at once and
        expect each to answer, while bot chatter should keep moving. Returns whether they all answered.
        """
        timeout = self._timeout(msg)
        waiting = {w.casefold() for w in before_me}
        # Said as the wait begins (nothing is awaited before it is registered): whoever reads the log knows
        # the answer now waits on theirs.
        log.debug("message %s: waiting for %s to answer first", msg.message_id, ", ".join(before_me))

        def answered(seen: Incoming | SeenMessage) -> bool:
            if seen.channel_id == msg.channel_id and seen.message_id > msg.message_id:
                waiting.difference_update({v.casefold() for v in name_variants(seen.author_name)})
            return not waiting

        if await self.wait_for_arrival(answered, timeout, look_back=msg.channel_id):
            return True
        log.info("message %s: %s did not answer within %gs; answering anyway", msg.message_id,
                 ", ".join(sorted(waiting)), timeout)
        return False
