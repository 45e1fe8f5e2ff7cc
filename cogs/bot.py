"""The Discord client: one process, one database layer, one Claude client, cogs on top.

``setup_hook`` is the composition root and owns the shared resources (RoboDanny's pattern): it opens the
store (running Alembic migrations), creates the Claude client, the reply engine, the memory service
(``bot.memory``) and the admin tools (``bot.admin``), seeds the character's identity, then loads the
cogs, which take what they need from the bot. ``close`` releases them in reverse order. The slash-command
error handler and the answer to expired buttons are installed by the bot itself, so they work whatever cogs
are loaded.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import json
import logging
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import discord
import yarl
from discord.ext import commands

from bot.core.character import CharacterSource
from bot.core.claude import ClaudeClient
from bot.core.config import Settings
from bot.core.config.holder import SettingsHolder
from bot.core.pipeline import Incoming, ReplyResult, TurnListener
from bot.core.tokens import load_encoding
from bot.operator.access import AccessGate
from bot.operator.activity import ActivityRecorder
from bot.operator.admin.tools import AdminTools
from bot.operator.limits import SpendingLimits
from bot.operator.logmirror import LogMirror
from bot.reply.engine import ReplyEngine
from bot.reply.ensemble import CastMember, Ensemble
from bot.reply.recovery import ReplyRecovery
from bot.reply.sequence import ReplySequence, Solo
from bot.runtime.cluster import Cluster
from bot.runtime.lifecycle import close_database, settle_heap
from bot.runtime.reloader import ConfigReloader
from bot.runtime.startup import commands_digest, remember_commands_digest
from bot.runtime.voice import VoiceService
from cogs.identify import IdentifyPacer
from cogs.permissions import is_admin_id
from cogs.posting import NO_MENTIONS
from cogs.startup import announce_connected, log_invite
from cogs.ui import answer_expired_click, on_app_command_error
from database.models import utcnow
from database.records import SeenMessage
from database.store import Store
from memory.identity import seed_identity
from memory.service import MemoryService

if TYPE_CHECKING:
    from bot.operator.admin.language import Latencies
    from bot.operator.dashboard import Dashboard, DashboardContext

log = logging.getLogger(__name__)

EXTENSIONS = ("cogs.events", "cogs.commands", "cogs.settings", "cogs.admin", "cogs.admin_slash",
              "cogs.memory_tasks", "cogs.memory",
              # Server tools (issue 13): moderation, polls and info, tickets, per-server settings.
              "cogs.moderation", "cogs.utility", "cogs.tickets", "cogs.server_settings",
              "cogs.alive")


def configure_endpoints(settings: Settings) -> None:
    """Point discord.py at Discord, or at a Discord-compatible server / REST proxy (tests use a fake one)."""
    discord.http.Route.BASE = settings.discord.discord_api_base_url.rstrip("/")
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(settings.discord.discord_gateway_url)


def default_intents() -> discord.Intents:
    intents = discord.Intents.default()
    intents.message_content = True  # a persona bot must read what people say
    return intents


class KindredMixin:
    """Everything Kindred adds to discord.py's Bot; mixed into a Bot or an AutoShardedBot."""

    settings: Settings  # follows settings_holder: a live reload reaches every reader
    if TYPE_CHECKING:  # discord.py's Client.user, of the Bot this is mixed into
        @property
        def user(self) -> discord.ClientUser | None: ...
    settings_holder: SettingsHolder
    character: CharacterSource
    store: Store
    claude: ClaudeClient
    voice: VoiceService
    engine: ReplyEngine
    memory: MemoryService  # consent, recall, summarization, consolidation (memory/service.py)
    admin: AdminTools  # every admin read and edit (bot/operator/admin/)
    started_at: float
    exit_code: int
    mirror: LogMirror  # verbose mode: `await bot.mirror(text)` posts to the log channel
    access: AccessGate  # who may talk to the character (bot/operator/access.py)
    limits: SpendingLimits  # what one person, one server and the bot may spend (bot/operator/limits.py)
    cluster: Cluster  # the leader lock and signals shared with other processes on the database
    replies: ReplySequence  # every message's one path: admit, gate, cast, owe, answer (bot/reply/sequence.py)
    recovery: ReplyRecovery  # replies a crash left owed, answered once connected (bot/reply/recovery.py)

    def _kindred_init(self, settings: Settings, character: CharacterSource, freeze_after_setup: bool) -> None:
        # Every component gets settings that follow the holder: a live reload swaps the current ones.
        self.settings_holder = SettingsHolder(settings)
        self.settings = self.settings_holder.settings()
        self.character = character
        self.started_at = time.monotonic()
        self.exit_code = 0
        self.mirror = LogMirror()
        self._kindred_closing: asyncio.Future[None] | None = None
        self._cluster_closing: asyncio.Task[None] | None = None  # a close asked for by another process
        self.stopping = False  # closing: the Events cog takes no new messages (bot/runtime/lifecycle.py)
        self.reloader: ConfigReloader | None = None  # live config reload (setup_hook)
        self.extensions_to_load: list[str] = list(EXTENSIONS)
        self.ensemble: Ensemble | None = None  # set in setup_hook when several characters are configured
        self.counters: ActivityRecorder | None = None  # per-day counters for the dashboard (setup_hook)
        self.dashboard: Dashboard | None = None  # while dashboard_port serves it (setup_hook)
        # The launcher asks for this (a process of its own); tests, which start many bots in one, do not.
        self.freeze_after_setup = freeze_after_setup
        # Installed by the bot, not by a cog: every slash command's failure is answered, and every expired
        # button click, whichever cogs are loaded.
        # attr-defined: a Bot's method, which the mixin gets from the Bot it is mixed into
        self.tree.error(on_app_command_error)  # type: ignore[attr-defined]
        self.add_listener(answer_expired_click, "on_interaction")  # type: ignore[attr-defined]
        self.add_listener(functools.partial(announce_connected, self), "on_ready")  # type: ignore[attr-defined]
        self.identify_pacer = IdentifyPacer(self._max_concurrency)

    async def before_identify_hook(self, shard_id: int | None, *, initial: bool = False) -> None:
        await self.identify_pacer.wait(shard_id)  # Discord's own limit, not discord.py's blanket 5 s

    async def _max_concurrency(self) -> int:
        # attr-defined: a Bot's method, which the mixin gets from the Bot it is mixed into
        _, _, limit = await self.http.get_bot_gateway()  # type: ignore[attr-defined]
        return int(limit["max_concurrency"])

    async def setup_hook(self) -> None:
        encoding = asyncio.create_task(asyncio.to_thread(load_encoding))  # beside the rest of start-up
        recovery = self.settings.recovery  # an outage or a lock is waited out, not a lost message
        # Start-up says what it is doing: on a busy machine it can take a while, and silence looks stuck.
        log.info("starting: opening the database (and bringing its schema up to date)")
        self.store = await Store(self.settings.resolved_database_url(),
                                 retry_seconds=recovery.db_retry_seconds,
                                 busy_timeout=recovery.db_busy_timeout).open()
        self.claude = ClaudeClient(self.settings, self.store)
        self.claude.start_checks()  # an unreachable model server is a warning with its URL, never a crash
        self.voice = VoiceService(self.settings)
        self.voice.startup_problems()  # one line per missing program voice needs (ffmpeg, espeak-ng)
        self.engine = ReplyEngine(self.settings, self.store, self.claude, self.character)
        self.claude.warn_refused_settings([self.engine.persona])  # once: sampling a model would refuse
        self.cluster = Cluster(self.store, self.settings.cluster, self.engine.character_key,
                               shard_ids=self.settings.shard_id_list,
                               shard_count=self.settings.discord.shard_count)
        if self.user is not None:  # (logged in by now) our own posts never count as another character's
            self.engine.own_author_ids.add(self.user.id)
        # Who may talk to it, and what it may spend: checked before any reply work.
        # self: the mixin is only ever mixed into KindredBot or KindredShardedBot
        self.access = AccessGate(self.settings, self.store,
                                 lambda uid: is_admin_id(self, uid))  # type: ignore[arg-type]
        self.limits = SpendingLimits(
            self.settings, self.store, is_admin=self.access.is_admin, addressed=self.engine.reply_certain,
            name=lambda: self.engine.persona.name, mirror=self.mirror.emit,
            token_factor=self.claude.token_factor)
        self.engine.gates += [self.access.gate, self.limits.gate]
        self.claude.on_spend.append(self.limits.add_spend)
        self.claude.spend_guards.append(self.limits.guard)
        log.info("starting: loading %s (identity, other characters, memory, commands)",
                 self.engine.persona.name)
        await seed_identity(self.store, self.settings.character_dir, self.engine.character_key)
        self.ensemble = await self._build_ensemble()
        # The one reply sequence every message goes through; the cast chooses who answers.
        self.replies = ReplySequence(self.ensemble or Solo(self.engine))
        self.recovery = ReplyRecovery(self.settings, self.store, self._engines())  # run once ready (events)
        self.memory = MemoryService(self.settings_holder.section("memory"),  # reads a reload at each use
                                    self.store, self.claude, self.engine, notify=self.mirror.emit)
        self.memory.attach()
        for member in self.ensemble.members[1:] if self.ensemble is not None else ():
            self.memory.attach_member(member.engine)
        self.memory.start_warm_up()  # in the background: start-up never waits for the embedding model
        self.admin = AdminTools(self.store, self.settings, self.engine.character_key, self.mirror,
                                embed=self.memory.embed)
        self.counters = ActivityRecorder(self.store, self.engine.character_key)
        self.counters.attach(self.engine, self._engines()[1:])
        self.counters.start()
        # A configured model id the models list does not serve stops start-up here (exit 2, naming the key
        # and the closest real id), not at the first reply; the list was read beside the work above.
        await self.claude.verify_models()
        for name in self.extensions_to_load:
            # a Bot's method, which the mixin gets from the Bot it is mixed into
            await self.load_extension(name)  # type: ignore[attr-defined]
        self._join_cluster()
        await self.cluster.start()  # as leader (always, on SQLite): the lead hooks run now
        if self.settings.dashboard.dashboard_port:
            from bot.operator.dashboard import Dashboard  # only when asked for: Jinja2 and the pages

            # self: the mixin is only ever mixed into KindredBot or KindredShardedBot
            self.dashboard = Dashboard(dashboard_context(self),  # type: ignore[arg-type]
                                       self.settings.dashboard.dashboard_host,
                                       self.settings.dashboard.dashboard_port)
            await self.dashboard.start()
        await encoding
        self.reloader = ConfigReloader(self.settings_holder, [self.character, *self._ensemble_sources()],
                                       self._reseed_identity)
        self.reloader.start()  # config.env and the character files, applied live when they change
        if self.freeze_after_setup:
            settle_heap()  # what start-up built, out of the collector's sight; full collections rarer
        log.info("Kindred ready to connect as %s (database %s)", self.engine.persona.name,
                 self.settings.safe_database_url())
        log_invite(self)

    def _join_cluster(self) -> None:
        """What this process does for the cluster and what it hears from the others
        (bot/runtime/cluster.py)."""
        cluster = self.cluster
        # self: the mixin is only ever mixed into KindredBot or KindredShardedBot
        cluster.lead_hooks.append(lambda: sync_app_commands(self))  # type: ignore[arg-type]
        cluster.on("shutdown", self._cluster_shutdown)
        cluster.share_cache_changes()
        cluster.on("posted", self._cluster_posted)
        for engine in self._engines():
            engine.turn_listeners.append(self._poster(engine))

    def _engines(self) -> list[ReplyEngine]:
        return [m.engine for m in self.ensemble.members] if self.ensemble is not None else [self.engine]

    def _poster(self, engine: ReplyEngine) -> TurnListener:
        """A character answered: a process waiting for its turn in that channel may go on at once."""
        async def posted(msg: Incoming, result: ReplyResult) -> None:
            if result.message_ids and result.message_ids[-1] is not None:  # off the reply's path
                self.cluster.publish_soon("posted", peers_only=True, channel_id=msg.channel_id,
                                          guild_id=msg.guild_id, message_id=result.message_ids[-1],
                                          author_name=engine.persona.name)

        return posted

    async def _cluster_posted(self, message: dict[str, Any]) -> None:
        seen = SeenMessage(int(message["message_id"]), int(message["channel_id"]), message.get("guild_id"),
                           0, str(message.get("author_name", "")), True, False, "", utcnow())
        for engine in self._engines():
            engine.turns.arrived(seen)

    async def _cluster_shutdown(self, message: dict[str, Any]) -> None:
        if message.get("character") != self.engine.character_key:
            return  # another character's processes, sharing the database
        log.warning("shutdown asked for in another process of the cluster (%s); closing", message.get("node"))
        self.exit_code = 0
        task = asyncio.create_task(self.close(), name="cluster-shutdown")  # close() waits for this handler
        self._cluster_closing = task

    async def _build_ensemble(self) -> Ensemble | None:
        """The other characters this bot plays (``ensemble_characters``), each with its own engine."""
        folders = self.settings.ensemble_dirs
        if not folders:
            return None
        cast = [CastMember(self.engine.character_key, self.engine)]
        for folder in folders:
            source = CharacterSource(folder, self.character.config_file, self.character.environ)
            source.load()  # a broken folder fails start-up with its file and key named
            engine = ReplyEngine(self.settings, self.store, self.claude, source, character_key=folder.name)
            engine.memory_gates = self.engine.memory_gates  # one consent policy for the whole bot
            await seed_identity(self.store, folder, engine.character_key)
            cast.append(CastMember(folder.name, engine))
        ensemble = Ensemble(cast, self.settings, self.store)
        ensemble.bot_user_id = self.user.id if self.user is not None else None
        log.info("playing %d characters: %s", len(cast), ", ".join(m.name for m in cast))
        return ensemble

    def _ensemble_sources(self) -> list[CharacterSource]:
        return [m.engine.character for m in self.ensemble.members[1:]] if self.ensemble is not None else []

    async def _reseed_identity(self, folder: Path) -> None:
        """A changed identity.json, seeded again into the character it belongs to (the reloader's call)."""
        engines = [self.engine, *(m.engine for m in (self.ensemble.members[1:] if self.ensemble else ()))]
        for engine in engines:
            if engine.character.folder == folder:
                await seed_identity(self.store, folder, engine.character_key)

    @property
    def on_message(self) -> Any:
        """Kindred has no prefix commands: the Events cog handles every message. discord.py's Bot would
        process each as a command ("@bot hello", an unknown one); a plain no-op would still cost a task per
        message. Seen as absent, it is not scheduled at all (Client.dispatch skips a missing handler)."""
        raise AttributeError("on_message")

    async def close(self) -> None:
        # One close however many callers. bot.run's runner waits for it too (__aexit__), so a close begun
        # elsewhere (the log channel's shutdown command) releases Claude and the database before the
        # process exits, instead of being cancelled half-way by asyncio.run's clean-up.
        if self._kindred_closing is None:
            self._kindred_closing = asyncio.ensure_future(self._close_everything())
        await asyncio.shield(self._kindred_closing)

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def _close_everything(self) -> None:
        self.stopping = True
        if self.reloader is not None:
            await self.reloader.stop()
        if self.dashboard is not None:  # no edit may start while the rest closes
            await self.dashboard.stop()
        # Let replies in flight finish and be saved before the connection and the database go away.
        # a Bot's method (and close below), which the mixin gets from the Bot it is mixed into
        events = self.get_cog("Events")  # type: ignore[attr-defined]
        grace = self.settings.operation.shutdown_grace_seconds
        if events is not None:
            try:
                await asyncio.wait_for(events.drain(), timeout=grace)
            except TimeoutError:
                log.warning("shutdown: some replies did not finish within %gs", grace)
        await super().close()  # type: ignore[misc]
        if hasattr(self, "cluster"):
            await self.cluster.close()  # leadership released at once, the row marked stopped
        if events is not None:
            # Work on messages that arrived after the first drain (our own goodbye, say) was cancelled with
            # the cog; let it release its database connection before the database closes.
            await events.drain()
        if hasattr(self, "memory"):
            await self.memory.close()  # background summaries stop before the database goes away
        if self.counters is not None:
            await self.counters.close()  # the last counts, before the database closes
        if hasattr(self, "claude"):
            await self.claude.close()
        if hasattr(self, "voice"):
            await self.voice.close()
        if hasattr(self, "store"):
            await close_database(self.store)


class KindredBot(KindredMixin, commands.Bot):
    def __init__(self, settings: Settings, character: CharacterSource, *, freeze_after_setup: bool = False,
                 **options: Any) -> None:
        configure_endpoints(settings)
        options.setdefault("intents", default_intents())
        options.setdefault("allowed_mentions", NO_MENTIONS)  # a send naming no policy pings nobody
        super().__init__(command_prefix=commands.when_mentioned, help_command=None, **options)
        self._kindred_init(settings, character, freeze_after_setup)


class KindredShardedBot(KindredMixin, commands.AutoShardedBot):
    def __init__(self, settings: Settings, character: CharacterSource, *, freeze_after_setup: bool = False,
                 **options: Any) -> None:
        configure_endpoints(settings)
        options.setdefault("intents", default_intents())
        options.setdefault("allowed_mentions", NO_MENTIONS)  # a send naming no policy pings nobody
        # shard_ids: None (every shard) or a sequence at run time, though discord.py annotates list[int]
        super().__init__(command_prefix=commands.when_mentioned, help_command=None,
                         shard_count=settings.discord.shard_count,
                         shard_ids=settings.shard_id_list,  # type: ignore[arg-type]
                         **options)
        self._kindred_init(settings, character, freeze_after_setup)


Kindred = KindredBot | KindredShardedBot


def create_bot(settings: Settings, character: CharacterSource, **options: Any) -> Kindred:
    """A plain Bot for one shard, an AutoShardedBot when ``shard_count`` > 1 (with only ``shard_ids`` in a
    cluster)."""
    cls = KindredShardedBot if settings.discord.shard_count > 1 or settings.shard_id_list else KindredBot
    return cls(settings, character, **options)


def app_commands_digest(bot: Kindred) -> str:
    """A fingerprint of the global command payload Discord would receive (and of the application it is
    for)."""
    tree = bot.tree
    payload = sorted((c.to_dict(tree) for c in tree.get_commands()), key=lambda c: str(c.get("name")))
    raw = json.dumps({"application": bot.application_id, "commands": payload}, sort_keys=True, default=str)
    return hashlib.sha256(raw.encode()).hexdigest()


async def sync_app_commands(bot: Kindred) -> bool:
    """Upload the slash commands only when they changed since the last upload: Discord rate-limits command
    creation, and most restarts change nothing. Returns whether a sync happened."""
    digest = app_commands_digest(bot)
    if await commands_digest(bot.store) == digest:
        log.debug("application commands unchanged; not syncing")
        return False
    try:
        synced = await bot.tree.sync()
    except discord.HTTPException as exc:  # the bot still runs; the next start tries again
        log.error("could not sync application commands with Discord: %s", exc)
        return False
    await remember_commands_digest(bot.store, digest)
    log.info("synced %d application commands with Discord (the command list changed)", len(synced))
    return True


def dashboard_context(bot: Kindred) -> DashboardContext:
    """The dashboard of a running bot: /forget_me's effect through its memory engine (which also stops
    summaries in flight and drops cached facts), the admin tools with its embedder."""
    from bot.operator.dashboard import DashboardContext, RunningBot

    async def forget(user_id: int) -> dict[str, int]:
        return dict(await bot.memory.forget_user(user_id))  # the dashboard starts after the memory engine

    def latencies() -> Latencies:
        if isinstance(bot, commands.AutoShardedBot):
            return list(bot.latencies)
        return [(None, bot.latency)]

    key = bot.engine.character_key
    return DashboardContext(
        settings=bot.settings, store=bot.store, character_key=key,
        character_name=lambda: bot.engine.persona.name,
        tools=bot.admin,  # the one the bot made: the same edits as the slash commands
        forget=forget,
        bot=RunningBot(bot.started_at, latencies, lambda: len(bot.guilds), bot.engine),
    )


