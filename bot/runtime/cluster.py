"""One process of a cluster: several Kindred processes, each running some shards, sharing one PostgreSQL.

* **Leader.** The slash-command sync runs only where :attr:`Cluster.leading` is true. (Scheduled work, the
  daily memory rounds among it, is durable rounds that every process lists and one process takes each time:
  bot/core/timers.py.) The leader holds a PostgreSQL advisory lock on its own session; PostgreSQL releases
  it when that session dies (kill -9 included, and within seconds when the machine vanishes: TCP
  keepalives), and another process takes it on its next try, every ``leader_failover_seconds / 3``.
  Becoming leader runs the lead work handed to :meth:`Cluster.start`, which is idempotent, so one cut short
  by the old leader is safely redone.
* **Signals.** ``publish(kind, ...)`` (:class:`ClusterNews`) sends a JSON NOTIFY every process of the
  database hears (not the sender); the handlers the :class:`Cluster` was built with run on each receiver:
  ``shutdown`` (the log channel's ``shutdown?``), ``invalidate`` (an admin's edit of a cached server or
  channel setting), ``posted`` (a character answered: another process waiting for its turn stops waiting),
  ``status``.
* **Rows.** Each process keeps its row in ``cluster_nodes`` fresh every ``cluster_heartbeat_seconds``
  (`main.py cluster status`). That beat and the session's check are one job of the process's ticker
  (bot/core/ticker.py), which logs a round that failed (the database away for a while) and tries again.

On SQLite there is one process: it always leads and signals go nowhere.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import socket
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta

from bot.core.config.service import ClusterSettings
from bot.core.stages import Incoming, ReplyResult, TurnListener
from bot.core.ticker import Ticker, TickerJob
from database.boundary import Json, JsonObject
from database.cluster import NodeRow, SharedCounts, SharedWindows, lock_key
from database.store import Store

log = logging.getLogger(__name__)

Handler = Callable[[JsonObject], Awaitable[None]]


def shard_of(guild_id: int | None, shard_count: int) -> int:
    """The shard Discord sends a guild's events on (DMs come on shard 0)."""
    return (guild_id >> 22) % shard_count if guild_id is not None else 0


def runs_shard_of(guild_id: int | None, shard_ids: Sequence[int] | None, shard_count: int) -> bool:
    """Whether a process running ``shard_ids`` (None or empty: every shard) gets ``guild_id``'s events."""
    return not shard_ids or shard_of(guild_id, shard_count) in shard_ids


def describe_shards(shard_ids: tuple[int, ...] | None, shard_count: int) -> str:
    if shard_ids is None:
        return f"0-{shard_count - 1}" if shard_count > 1 else "0"
    ranges: list[str] = []
    start = prev = shard_ids[0]
    for shard in (*shard_ids[1:], None):
        if shard is not None and shard == prev + 1:
            prev = shard
            continue
        ranges.append(str(start) if start == prev else f"{start}-{prev}")
        if shard is not None:
            start = prev = shard
    return ",".join(ranges)


LeadWork = Callable[[], Awaitable[object]]  # what it returns is not read


class ClusterNews:
    """What this process tells the cluster's other processes, and who it is to them (its node id, its
    shards). Built before the features that send news (the feelings, the status, a post), which the
    :class:`Cluster` that hears the others' news is then given, already built, with its handlers."""

    def __init__(self, store: Store, character_key: str, *, shard_ids: tuple[int, ...] | None,
                 shard_count: int) -> None:
        self.store = store
        self.character = character_key
        self.shards = describe_shards(shard_ids, shard_count)
        self.shard_count = shard_count
        self.node_id = f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(3)}"
        # Other live processes on the database, as of the last heartbeat: signals that only matter to them
        # (a post, a feeling) are not sent into an empty room on every message.
        self.peers = 0
        self.link = store.cluster_link()
        self.closed = False
        self.tasks: set[asyncio.Task[object]] = set()

    @property
    def shared(self) -> bool:
        """Whether other processes may share this database (PostgreSQL)."""
        return self.link is not None

    def posted(self, name: Callable[[], str]) -> TurnListener:
        """A turn observer of one character's replies (``name``: its name, read live): it answered, so a
        process waiting for its turn in that channel may go on at once."""
        async def posted(msg: Incoming, result: ReplyResult) -> None:
            if result.message_ids and result.message_ids[-1] is not None:  # off the reply's path
                self.publish_soon("posted", peers_only=True, channel_id=msg.channel_id, guild_id=msg.guild_id,
                                  message_id=result.message_ids[-1], author_name=name())

        return posted

    def share_feelings(self, key: str, raw: str) -> None:
        """A character's feelings were saved here: the other processes adopt them (one character)."""
        self.publish_soon("feelings", peers_only=True, key=key, state=raw)

    def share_status(self, text: str) -> None:
        """The character's custom status changed here: the other processes show it on their shards."""
        self.publish_soon("status", peers_only=True, text=text)

    async def share_state_edit(self, key: str, language: str | None = None) -> str:
        """An admin's /state edit made here: the other processes apply it too (nothing to add to the
        answer)."""
        self.publish_soon("state", key=key)
        return ""

    async def publish(self, kind: str, **data: Json) -> bool:
        """Tell every other process of the database; False when there is none or the link is down."""
        if self.link is None or not self.link.alive:
            return False
        try:
            await self.link.notify({"kind": kind, "node": self.node_id, "character": self.character, **data})
            return True
        except Exception as exc:
            log.warning("cluster: could not send a %s signal (%s)", kind, exc)
            return False

    def publish_soon(self, kind: str, *, peers_only: bool = False, **data: Json) -> None:
        """publish() from code that cannot wait (a repository's change callback, a reply's aftermath).
        ``peers_only``: not when no other process was alive at the last heartbeat (news that only matters
        to a process already running, unlike a shutdown)."""
        if self.link is None or self.closed or (peers_only and not self.peers):
            return
        task = asyncio.get_running_loop().create_task(self.publish(kind, **data))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)


def cache_invalidation(store: Store) -> Handler:
    """The handler of another process's ``invalidate``: it changed a server's settings or a place's
    activation, so our cached copy goes."""
    async def invalidate(message: JsonObject) -> None:
        if message.get("what") == "server":
            store.servers.forget(int(message.get("id") or 0))
        else:  # a place's activation or one of its switches
            store.places.forget()
            store.switches.forget()

    return invalidate


class Cluster:
    def __init__(self, news: ClusterNews, settings: ClusterSettings, ticker: Ticker, *,
                 heard: Mapping[str, Sequence[Handler]] | None = None) -> None:
        """``news``: what this process tells the others; ``ticker``: runs the liveness beat; ``heard``: what
        each kind of signal from the others is handed to (the composition root's list; a kind not in it is
        ignored)."""
        self.news = news
        self.store = news.store
        self.settings = settings
        self.character = news.character
        self.shards = news.shards
        self.node_id = news.node_id
        self.leading = False
        self.publish = news.publish
        self._lead_work: tuple[LeadWork, ...] = ()
        # Set once the lead work has run (this process became the leader), whether at start-up or later,
        # from the liveness beat (a start-up whose first try at the lock failed): what waits for the slash
        # commands' sync waits on this, not on start-up's end.
        self.led = asyncio.Event()
        self._signals: Mapping[str, Sequence[Handler]] = dict(heard or {})
        self._link = news.link
        self._key = lock_key(f"leader:{news.character}")
        self.ticker = ticker
        self._liveness: TickerJob | None = None
        self._since_beat = 0.0
        self._passing_on: asyncio.Task[None] | None = None  # the store's cache changes, told to the others
        self._tasks: set[asyncio.Task[object]] = set()

    @property
    def shared(self) -> bool:
        return self.news.shared

    @property
    def peers(self) -> int:
        return self.news.peers

    def identify_windows(self) -> SharedWindows | None:
        """Discord's IDENTIFY windows, held for every process of the database (None on SQLite)."""
        return self.store.shared_windows()

    def rest_counts(self) -> SharedCounts | None:
        """Discord's REST limits, counted by every process of the database together (None on SQLite)."""
        return self.store.shared_counts()

    async def _pass_on_cache_changes(self) -> None:
        """A server's settings or a place's activation changed in this process (the store notes it,
        database/refreshing.py ``CacheChanges``): the others drop their cached copies (they read the
        database again at their next message; :meth:`invalidate` hears it)."""
        while True:
            await self.store.changes.wait()
            self._publish_cache_changes()

    def _publish_cache_changes(self) -> None:
        servers, places = self.store.changes.take()
        for guild_id in sorted(servers):
            self.news.publish_soon("invalidate", what="server", id=guild_id)
        if places:
            self.news.publish_soon("invalidate", what="places")

    async def start(self, lead_work: Sequence[LeadWork] = ()) -> None:
        """Join the cluster; ``lead_work`` runs, in order, each time this process becomes its leader."""
        self._lead_work = tuple(lead_work)
        await self.store.cluster.register(self.node_id, self.character, socket.gethostname(), os.getpid(),
                                          self.shards, self.news.shard_count)
        if self._link is None:
            await self._become_leader()
        else:
            await self._connect()
            if self._link.alive:
                await self._try_lead()
            await self._count_peers()
            await self.publish("hello")  # the others count us at once, not at their next heartbeat
            if not self.leading:
                log.info("cluster: process %s runs shards %s; another process leads the schedule",
                         self.node_id, self.shards)
        self._liveness = self.ticker.every("the cluster's heartbeat", lambda: self.poll_seconds, self._beat)
        if self._link is not None:  # on SQLite there is no other process to tell
            self._passing_on = asyncio.create_task(self._pass_on_cache_changes(), name="cluster-invalidate")

    @property
    def poll_seconds(self) -> float:
        return min(self.settings.cluster_heartbeat_seconds, self.settings.leader_failover_seconds / 3)

    async def _beat(self) -> None:
        """One liveness round, every :attr:`poll_seconds`: the session checked (the lead taken when free), and
        every ``cluster_heartbeat_seconds`` the row kept fresh and the others counted."""
        self._since_beat += self.poll_seconds
        await self._check_link()
        if self._since_beat >= self.settings.cluster_heartbeat_seconds:
            self._since_beat = 0.0
            await self.store.cluster.beat(self.node_id, leader=self.leading)
            await self._count_peers()

    async def _count_peers(self) -> None:
        if self._link is not None:
            silent = timedelta(seconds=3 * self.settings.cluster_heartbeat_seconds)
            self.news.peers = await self.store.cluster.others_alive(self.node_id, datetime.now(UTC) - silent)

    async def _check_link(self) -> None:
        if self._link is None:
            return
        if not await self._link.ping():
            if self.leading:  # the session (and with it the lock) is gone: another process may lead now
                self.leading = False
                log.warning("cluster: lost the database session; no longer leading the schedule")
            await self._link.close()
            await self._connect()
        if self._link.alive and not self.leading:
            await self._try_lead()

    async def _connect(self) -> None:
        assert self._link is not None
        try:
            await self._link.connect(self._heard)
        except Exception as exc:
            log.warning("cluster: cannot open a session on the database (%s); trying again", exc)

    async def _try_lead(self) -> None:
        assert self._link is not None
        if await self._link.try_lock(self._key):
            await self._become_leader()

    async def _become_leader(self) -> None:
        self.leading = True
        log.info("cluster: process %s (shards %s) leads the scheduled work", self.node_id, self.shards)
        await self.store.cluster.take_lead(self.node_id, self.character)
        for work in self._lead_work:
            try:
                await work()
            except Exception:
                log.exception("cluster: work on becoming leader failed")
        self.led.set()

    def _heard(self, message: JsonObject) -> None:
        if message.get("node") == self.node_id or self.news.closed:
            return
        # Another process spoke: it is alive now, whatever the last heartbeat counted (a newcomer's hello
        # reaches us before our next count, and peers-only news sent meanwhile would be lost).
        self.news.peers = max(self.news.peers, 1)
        for handler in self._signals.get(str(message.get("kind")), ()):
            task = asyncio.get_running_loop().create_task(self._handle(handler, message))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    @staticmethod
    async def _handle(handler: Handler, message: JsonObject) -> None:
        try:
            await handler(message)
        except Exception:
            log.exception("cluster: handling a %s signal failed", message.get("kind"))

    async def close(self) -> None:
        if self.news.closed:
            return
        if self._liveness is not None:
            await self._liveness.stop()
        if self._passing_on is not None:
            self._passing_on.cancel()
            await asyncio.gather(self._passing_on, return_exceptions=True)
        if self._passing_on is not None:
            self._publish_cache_changes()  # a change made since the last pass is told all the same
        self.news.closed = True
        tasks = self._tasks | self.news.tasks
        if tasks:
            await asyncio.wait(list(tasks), timeout=5)
        try:
            if self.leading and self._link is not None:
                await self._link.unlock(self._key)  # the next leader need not wait for our session to end
            await self.store.cluster.stop(self.node_id)
        except Exception as exc:
            log.warning("cluster: could not sign off cleanly (%s)", exc)
        self.leading = False
        if self._link is not None:
            await self._link.close()


def format_nodes(rows: list[NodeRow], now: datetime, heartbeat_seconds: float) -> str:
    """`main.py cluster status`: each process, its shards, its last heartbeat and who leads."""
    if not rows:
        return "no Kindred process has run on this database yet"
    lines = [f"{'process':<34} {'character':<12} {'shards':<10} {'last heartbeat':<16} state"]
    for row in rows:
        age = (now - _aware(row.last_seen)).total_seconds()
        if row.stopped_at is not None:
            state = "stopped"
        elif age > 3 * heartbeat_seconds:
            state = "silent (gone?)"
        else:
            state = "LEADER" if row.leader else "running"
        shards = f"{row.shards}/{row.shard_count}"
        lines.append(f"{row.node_id:<34} {row.character:<12} {shards:<10} {f'{age:.0f}s ago':<16} {state}")
    leaders = [r for r in rows if r.leader and r.stopped_at is None
               and (now - _aware(r.last_seen)).total_seconds() <= 3 * heartbeat_seconds]
    lines.append(f"leader: {', '.join(r.node_id for r in leaders) if leaders else 'none right now'}")
    return "\n".join(lines)


def _aware(when: datetime) -> datetime:
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)  # SQLite returns naive UTC


async def cluster_status(store: Store, settings: ClusterSettings, character: str | None = None) -> str:
    rows = await store.cluster.nodes(character)
    return format_nodes(rows, datetime.now(UTC), settings.cluster_heartbeat_seconds)


def health_problem(rows: list[NodeRow], host: str, now: datetime, heartbeat_seconds: float) -> str | None:
    """Why no process on ``host`` is healthy (None: one is): a row not stopped whose heartbeat is at most
    three heartbeats old, as :func:`format_nodes` counts a process as running."""
    mine = [r for r in rows if r.host == host and r.stopped_at is None]
    if not mine:
        stopped = [r.stopped_at for r in rows if r.host == host and r.stopped_at is not None]
        ago = max(0.0, (now - _aware(max(stopped))).total_seconds()) if stopped else 0.0
        when = f"the last one stopped {ago:.0f}s ago" if stopped else "none has run on this database yet"
        return f"unhealthy: no Kindred process is running on {host} ({when})"
    age = min((now - _aware(r.last_seen)).total_seconds() for r in mine)
    if age > 3 * heartbeat_seconds:
        return (f"unhealthy: the last heartbeat on {host} was {age:.0f}s ago "
                f"(expected every {heartbeat_seconds:g}s)")
    return None


async def local_health(store: Store, settings: ClusterSettings, host: str) -> str | None:
    """`main.py health`: None while a bot on ``host`` keeps its heartbeat fresh, else why not."""
    rows = await store.cluster.nodes()
    return health_problem(rows, host, datetime.now(UTC), settings.cluster_heartbeat_seconds)
