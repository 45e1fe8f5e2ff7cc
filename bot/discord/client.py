"""The Discord client: one process, one database layer, one Claude client, cogs on top.

``setup_hook`` owns the shared resources (RoboDanny's pattern): it has every long-lived service built by the
composition root (bot/runtime/composition.py: the store, the model client, the reply sequence, memory,
alive, the server and operator tools, the durable timers, the dashboard), handing it what only Discord knows,
then loads the cogs, which take what they use from the bot and build nothing. ``close`` releases them in
reverse order. The slash-command
error handler and the answer to expired buttons are installed by the bot itself, so they work whatever cogs
are loaded.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import importlib
import json
import logging
import time
from collections.abc import Awaitable, Callable, Collection
from typing import TYPE_CHECKING, Any

import discord
import yarl
from discord.ext import commands

from bot.core.character import CharacterSource
from bot.core.command_names import know
from bot.core.config import Settings
from bot.core.config.holder import SettingsHolder
from bot.core.tokens import load_encoding
from bot.discord.command_locales import CommandTranslator, shape_of
from bot.discord.flow import MessageFlow
from bot.discord.identify import IdentifyPacer, Limit, SessionBudget
from bot.discord.logchannel import LogChannel
from bot.discord.outlets import WebhookPool
from bot.discord.permissions import in_log_channel, owner_ids
from bot.discord.places import KnownPlaces
from bot.discord.posting import NO_MENTIONS
from bot.discord.presence import AlivePresence
from bot.discord.rest_limits import RestGovernor
from bot.discord.startup import announce_connected, log_invite, watch_reconnects
from bot.discord.ui import answer_expired_click, on_app_command_error
from bot.operator.logmirror import LogMirror
from bot.runtime.composition import FEATURE_COGS, Edge, Services, compose
from bot.runtime.lifecycle import Closing, InFlight, close_database, settle_heap
from bot.runtime.startup import commands_digest, remember_commands_digest
from database.boundary import JsonObject

if TYPE_CHECKING:
    from bot.operator.admin.language import Latencies

log = logging.getLogger(__name__)

# The modules whose cogs every bot adds (``add_cogs``), in order.
COG_MODULES = ("cogs.messages", "cogs.conversation", "cogs.activation", "cogs.admin", "cogs.admin_slash",
               "cogs.memory", "cogs.me", "cogs.alive", "cogs.ask",
               *FEATURE_COGS)  # the features' own, from their registrations


async def add_cogs(bot: KindredMixin, name: str) -> None:
    """The cogs of the module ``name`` (``cogs.memory``) added to ``bot`` by the module's ``setup(bot)``.

    The module is imported once, as any other: discord.py's extension loader runs a module anew at each load
    and, at close, takes it and every module named under it out of ``sys.modules`` (a walk over all of them
    for each). That serves reloading code into a running bot, which Kindred never does (new code is a
    restart). What a cog holds is built with the cog, one for each bot."""
    setup: Callable[[KindredMixin], Awaitable[None]] = importlib.import_module(name).setup
    await setup(bot)


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
    started_at: float
    exit_code: int
    mirror: LogMirror  # verbose mode: `await bot.mirror(line)` posts to the log channel, in its language
    log_channel: LogChannel  # its admin commands, where the mirror posts (bot/discord/logchannel.py)
    in_flight: InFlight  # the work a graceful stop lets finish (bot/runtime/lifecycle.py)
    flow: MessageFlow  # each message's way to the reply sequence, handed to the messages cog
    known_places: KnownPlaces  # the server places' facts a message's place is derived with, kept true
    presence: AlivePresence  # the Discord side of the character alive (bot/discord/presence.py)
    webhooks: WebhookPool | None  # the cast's webhooks, one per character per channel (None: one character)
    # Every long-lived service (the store, the pipelines, memory, alive, the tools...), set by setup_hook
    # before any cog or event reads it; a plain attribute, so a message's handling reads it without a call.
    services: Services

    def _kindred_init(self, settings: Settings, character: CharacterSource, freeze_after_setup: bool,
                      skip_rounds: Collection[str]) -> None:
        # Every component gets the holder's running settings: a live reload writes its values into them.
        self.settings_holder = SettingsHolder(settings)
        self.settings = self.settings_holder.current
        self.character = character
        self.started_at = time.monotonic()
        self.exit_code = 0
        # The work a graceful stop lets finish: the message flow counts each message's handling there.
        self.in_flight = InFlight()
        self.closing = Closing()  # what the features' Discord sides let go of at a close (their cogs')
        # Each server place's facts (privacy, the post permission) derived once, forgotten by dispatch()
        # whenever an event may change them.
        self.known_places = KnownPlaces()
        self.log_channel = LogChannel(self, self.in_flight)  # type: ignore[arg-type]  # mixed into a Bot only
        self.mirror = LogMirror(self.log_channel.post_line, self.log_channel.post_report,
                                self.settings.secrets)
        self._kindred_closing: asyncio.Future[None] | None = None
        self._cluster_closing: asyncio.Task[None] | None = None  # a close asked for by another process
        self.stopping = False  # closing: the messages cog takes no new messages (bot/runtime/lifecycle.py)
        # The services once setup_hook built them (bot/runtime/composition.py), None before: what start-up
        # and close ask of them may come before they exist (a failed setup_hook); everything else reads
        # ``services``, set with it.
        self._services: Services | None = None
        self.cog_modules: list[str] = list(COG_MODULES)
        self.skip_rounds = tuple(skip_rounds)  # the memory's rounds this process leaves out (tests)
        # The launcher asks for this (a process of its own); tests, which start many bots in one, do not.
        self.freeze_after_setup = freeze_after_setup
        # Installed by the bot, not by a cog: every slash command's failure is answered, and every expired
        # button click, whichever cogs are loaded.
        # attr-defined: a Bot's method, which the mixin gets from the Bot it is mixed into
        self.tree.error(on_app_command_error)  # type: ignore[attr-defined]
        self.add_listener(answer_expired_click, "on_interaction")  # type: ignore[attr-defined]
        self.add_listener(functools.partial(announce_connected, self), "on_ready")  # type: ignore[attr-defined]
        watch_reconnects(self)  # a lost connection and its return as one line each
        self.add_listener(self._start_timers, "on_ready")  # type: ignore[attr-defined]
        self.add_listener(self._in_servers, "on_ready")  # type: ignore[attr-defined]
        self.add_listener(self._in_server, "on_guild_join")  # type: ignore[attr-defined]
        self.identify_pacer = IdentifyPacer(self._max_concurrency)
        # READY: the IDENTIFY was answered (attr-defined: a Bot's method, mixed in)
        self.add_listener(self._connected, "on_connect")  # type: ignore[attr-defined]
        self.add_listener(self._answered, "on_shard_connect")  # type: ignore[attr-defined]
        # Discord's REST limits: every request waits for its permit, paced by this process and, while other
        # processes are alive, counted with theirs (discord.py opens its HTTP session at login, with this
        # trace; attr-defined: a Bot's, mixed in).
        self.rest_governor = RestGovernor()
        self.http.http_trace = self.rest_governor.trace()  # type: ignore[attr-defined]
        self.session_budget = SessionBudget(self._session_start_limit, settings.cluster.session_start_reserve)

    def dispatch(self, event_name: str, /, *args: Any, **kwargs: Any) -> None:
        # discord.py calls this as it parses each gateway event, its cache already updated and before any
        # listener runs: the places' facts an event may change are forgotten first.
        if self.is_closed():  # type: ignore[attr-defined]  # a Bot's, mixed in
            # Nothing starts once discord.py's close has begun. Its wait for the guilds before 'ready' is
            # not cancelled by that close: a close ending inside it left 'ready' to schedule on no loop.
            return
        self.known_places.told(event_name, args, self.user.id if self.user is not None else None)
        super().dispatch(event_name, *args, **kwargs)  # type: ignore[misc]  # a Bot's, mixed in

    @property
    def built(self) -> Services | None:
        """The services once setup_hook built them, None before (a line said before start-up finished)."""
        return self._services

    @property
    def database_closed(self) -> bool:
        """Whether the database is closed (or was never opened: setup_hook failed before)."""
        return self._services is None or self._services.admin.database_closed

    async def before_identify_hook(self, shard_id: int | None, *, initial: bool = False) -> None:
        await self.session_budget.spend()  # the day's last session starts are kept in reserve
        await self.identify_pacer.wait(shard_id)  # Discord's own limit, not discord.py's blanket 5 s

    async def _answered(self, shard_id: int) -> None:
        self.identify_pacer.answered(shard_id)

    async def _connected(self) -> None:
        if not isinstance(self, commands.AutoShardedBot):  # a sharded bot's READYs come by shard_connect
            self.identify_pacer.answered(self.shard_id)  # type: ignore[attr-defined]  # a Bot's

    async def _session_start_limit(self) -> Limit:
        # attr-defined: a Bot's method, which the mixin gets from the Bot it is mixed into
        _, _, limit = await self.http.get_bot_gateway()  # type: ignore[attr-defined]
        return dict(limit)

    async def _max_concurrency(self) -> int:
        return int(str((await self._session_start_limit())["max_concurrency"]))

    async def setup_hook(self) -> None:
        encoding = asyncio.create_task(asyncio.to_thread(load_encoding))  # beside the rest of start-up
        # Commands' names and descriptions in every language Kindred speaks: their catalogs read beside the
        # rest of start-up, in place before the commands are synced (tree: a Bot's attribute, which the
        # mixin gets from the Bot it is mixed into)
        translator = asyncio.create_task(self.tree.set_translator(CommandTranslator.shipped()))  # type: ignore[attr-defined]
        # Every long-lived service, built in one place (bot/runtime/composition.py); the cogs take theirs.
        # The ignores below: self is the mixin, only ever mixed into KindredBot or KindredShardedBot (the
        # Bot's attributes and the Kindred union the helpers take).
        self.presence = AlivePresence(
            self, is_log_channel=lambda cid: in_log_channel(self, cid))  # type: ignore[arg-type]
        # the application (its owners are bot admins) is known since login, and not fetched again
        edge = Edge(owners=owner_ids(self.application),  # type: ignore[attr-defined]  # a Bot's
                    own_user_id=self.user.id if self.user is not None else None,
                    intercept=self.log_channel.intercept,
                    sync_commands=self._sync_commands, cluster_shutdown=self._cluster_shutdown,
                    alive_side=self.presence, latencies=self._latencies,
                    post_to_log=self.log_channel.post_line,
                    guild_count=lambda: len(self.guilds),  # type: ignore[attr-defined]
                    started_at=self.started_at)
        self._services = self.services = services = await compose(
            self.settings_holder, self.character, self.mirror, edge, skip_rounds=self.skip_rounds)
        # The cast's webhooks, one per character per channel (the messages cog's outlets use them), and the
        # flow the messages cog hands each message to.
        ensemble = services.ensemble
        self.webhooks = WebhookPool(lambda: self.user, ensemble) if ensemble is not None else None
        # what the features do on Discord around each message's replies is connected to it by their cogs
        self.flow = MessageFlow(self, self.in_flight, known=self.known_places)
        # A configured model id the models list does not serve stops start-up here (exit 2, naming the key
        # and the closest real id), not at the first reply; the services are the bot's already, so the
        # close that follows releases them (the model client's connections among them).
        await services.claude.verify_models()
        for name in self.cog_modules:
            await add_cogs(self, name)
        know(shape_of(self.tree))  # type: ignore[attr-defined]  # the commands Kindred's lines may quote
        await translator
        # Each IDENTIFY bucket's window held for the cluster's every process (none on SQLite: one process);
        # the user is known since login.
        bot_id = self.user.id if self.user is not None else 0
        self.identify_pacer.share(services.cluster.identify_windows(), bot_id)
        self.rest_governor.share(services.cluster.rest_counts(), bot_id, lambda: services.cluster.peers)
        # As leader (always, on SQLite), the lead work runs now.
        await services.cluster.start(services.lead_work)
        services.heartbeat.start()  # the gateway's latency, read every heartbeat_interval_seconds
        if services.dashboard is not None:
            await services.dashboard.start()
        if services.metrics_server is not None:  # GET /metrics (its own port or the dashboard's), the lag
            services.metrics_server.metrics.queue("replies_in_flight", self.in_flight.__len__)
            await services.metrics_server.start()
        await encoding
        services.reloader.start()  # config.env and the character files, applied live when they change
        if self.freeze_after_setup:
            settle_heap()  # what start-up built, out of the collector's sight; full collections rarer
        log.info("Kindred ready to connect as %s (database %s)", services.pipeline.persona.name,
                 self.settings.safe_database_url())
        log_invite(self)

    async def _start_timers(self) -> None:
        """Connected: the durable timers' one loop starts (rounds, one-shot timers, bot/core/timers.py),
        so a round missed while down runs with the channels known. Later READYs find it running."""
        if self._services is not None and not self.stopping:
            await self._services.timers.start()

    async def _in_servers(self) -> None:
        """Connected: what the features do in each of this process's servers (their registrations'
        ``in_server``: the character's own face, sent only where it is not what was last applied)."""
        # attr-defined: a Client's attribute, which the mixin gets from the Bot it is mixed into
        for guild in list(self.guilds):  # type: ignore[attr-defined]
            await self._in_server(guild)

    async def _in_server(self, guild: discord.Guild) -> None:
        if self._services is None or self.stopping:
            return
        for work in self._services.in_server:
            try:
                await work(guild.id)
            except discord.HTTPException as exc:  # one server's refusal stops no other server's work
                log.warning("could not finish a feature's work in server %s: %s", guild.id, exc)

    def _latencies(self) -> Latencies:
        if isinstance(self, commands.AutoShardedBot):
            return list(self.latencies)
        # attr-defined: a Bot's attribute, which the mixin gets from the Bot it is mixed into
        return [(None, self.latency)]  # type: ignore[attr-defined]

    async def _sync_commands(self) -> None:
        # self: the mixin is only ever mixed into KindredBot or KindredShardedBot
        await sync_app_commands(self)  # type: ignore[arg-type]

    async def _cluster_shutdown(self, message: JsonObject) -> None:
        if message.get("character") != self.services.pipeline.character_key:
            return  # another character's processes, sharing the database
        log.warning("shutdown asked for in another process of the cluster (%s); closing", message.get("node"))
        self.exit_code = 0
        task = asyncio.create_task(self.close(), name="cluster-shutdown")  # close() waits for this handler
        self._cluster_closing = task

    @property
    def on_message(self) -> Any:
        """Kindred has no prefix commands: the messages cog handles every message. discord.py's Bot would
        process each as a command ("@bot hello", an unknown one); a plain no-op would still cost a task per
        message. Seen as absent, it is not scheduled at all (Client.dispatch skips a missing handler).
        (Any: it never returns, and stands in for Bot.on_message, a method.)"""
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
        services = self._services
        if services is None:  # setup_hook failed before it had them: only discord.py's side to close
            self.mirror.close()
            self.in_flight.cancel()
            await super().close()  # type: ignore[misc]  # a Bot's method, mixed in
            return
        await services.reloader.stop()
        if services.dashboard is not None:  # no edit may start while the rest closes
            await services.dashboard.stop()
        if services.metrics_server is not None:
            await services.metrics_server.stop()
        # What the features' Discord sides let go of first, while the gateway is up (every voice call left:
        # what the character is saying stops at once, an answer under way posted, not said).
        await self.closing.let_go()
        # Let replies in flight finish and be saved before the connection and the database go away.
        grace = self.settings.operation.shutdown_grace_seconds
        try:
            await asyncio.wait_for(self.in_flight.drain(), timeout=grace)
        except TimeoutError:
            log.warning("shutdown: some replies did not finish within %gs", grace)
        # No timer's run starts while the rest closes; a round under way (the nightly consolidation
        # waiting on its batch) is cancelled before the model client closes, its batch with it.
        await services.timers.stop()
        await services.heartbeat.stop()
        self.mirror.close()  # the cogs unload now: the log channel's last lines are theirs
        self.in_flight.cancel()  # what did not finish in the grace period
        # a Bot's method, which the mixin gets from the Bot it is mixed into
        await super().close()  # type: ignore[misc]
        await services.alive.close()  # its feelings saved, off the pipelines
        await services.cluster.close()  # leadership released at once, the row marked stopped
        await self.identify_pacer.close()  # a window still held is let go with its session
        await self.rest_governor.close()
        # Work on messages that arrived after the first drain (our own goodbye, say) was cancelled above; let
        # it release its database connection before the database closes.
        await self.in_flight.drain()
        await services.memory.close()  # background summaries stop before the database goes away
        await services.counters.close()  # the last counts, before the database closes
        await services.ticker.stop()  # each periodic job was stopped by its owner above; none outlives this
        await services.claude.close()
        await self.closing.close()  # the features' own clients
        if services.tracing is not None:
            await services.tracing.close()  # the last spans sent
        await close_database(services.store)


# ``**options``: discord.py's own Client options (intents, proxy, ...), each of its own type, passed through.
class KindredBot(KindredMixin, commands.Bot):
    def __init__(self, settings: Settings, character: CharacterSource, *, freeze_after_setup: bool = False,
                 skip_rounds: Collection[str] = (), **options: Any) -> None:
        configure_endpoints(settings)
        options.setdefault("intents", default_intents())
        options.setdefault("allowed_mentions", NO_MENTIONS)  # a send naming no policy pings nobody
        super().__init__(command_prefix=commands.when_mentioned, help_command=None, **options)
        self._kindred_init(settings, character, freeze_after_setup, skip_rounds)


class KindredShardedBot(KindredMixin, commands.AutoShardedBot):
    def __init__(self, settings: Settings, character: CharacterSource, *, freeze_after_setup: bool = False,
                 skip_rounds: Collection[str] = (), **options: Any) -> None:
        configure_endpoints(settings)
        options.setdefault("intents", default_intents())
        options.setdefault("allowed_mentions", NO_MENTIONS)  # a send naming no policy pings nobody
        # shard_ids: None (every shard) or a sequence at run time, though discord.py annotates list[int]
        super().__init__(command_prefix=commands.when_mentioned, help_command=None,
                         shard_count=settings.discord.shard_count,
                         shard_ids=settings.shard_id_list,  # type: ignore[arg-type]
                         **options)
        self._kindred_init(settings, character, freeze_after_setup, skip_rounds)


Kindred = KindredBot | KindredShardedBot
Interaction = discord.Interaction[Kindred]  # an interaction whose client is this bot


def create_bot(settings: Settings, character: CharacterSource, **options: Any) -> Kindred:
    """A plain Bot for one shard, an AutoShardedBot when ``shard_count`` > 1 (with only ``shard_ids`` in a
    cluster)."""
    cls = KindredShardedBot if settings.discord.shard_count > 1 or settings.shard_id_list else KindredBot
    return cls(settings, character, **options)


async def app_commands_digest(bot: Kindred) -> str:
    """A fingerprint of the global command payload Discord would receive, its localizations included (and of
    the application it is for): a changed translation is uploaded as a changed command is. With the
    catalogs' translator, of what the payload is made from (the commands' English payload, each string of
    which is its catalog id or a template's filling, and the catalogs' entries), so a start that changed
    nothing translates nothing."""
    tree = bot.tree
    translator = tree.translator
    built = []
    for command in tree.get_commands():
        if translator is None or isinstance(translator, CommandTranslator):
            built.append(command.to_dict(tree))
        else:
            built.append(await command.get_translated_payload(tree, translator))
            await asyncio.sleep(0)  # a few thousand lookups a command: other work runs between
    payload = sorted(built, key=lambda c: str(c.get("name")))
    catalogs = translator.fingerprint() if isinstance(translator, CommandTranslator) else ""
    raw = json.dumps({"application": bot.application_id, "commands": payload, "catalogs": catalogs},
                     sort_keys=True, default=str)
    return hashlib.sha256(raw.encode()).hexdigest()


async def sync_app_commands(bot: Kindred) -> bool:
    """Upload the slash commands only when they changed since the last upload: Discord rate-limits command
    creation, and most restarts change nothing. Returns whether a sync happened."""
    digest = await app_commands_digest(bot)
    if await commands_digest(bot.services.store) == digest:
        log.debug("application commands unchanged; not syncing")
        return False
    try:
        synced = await bot.tree.sync()
    except discord.HTTPException as exc:  # the bot still runs; the next start tries again
        log.error("could not sync application commands with Discord: %s", exc)
        return False
    await remember_commands_digest(bot.services.store, digest)
    log.info("synced %d application commands with Discord (the command list changed)", len(synced))
    return True
