"""The composition root: every long-lived service of a running bot is built here, once, in order.

``cogs/bot.py``'s ``setup_hook`` calls :func:`compose` with what only Discord can supply (:class:`Edge`:
who is an admin, our own account, the Discord side of the character's own initiative, the gateway's
figures), keeps the :class:`Services` it returns, then loads the cogs, which take what they use from it and
build nothing.
The console builds its smaller set with :func:`open_store`, :func:`compose_reply` and :func:`compose_memory`,
the same functions. Nothing here is wired through a hook list where one collaborator is meant: the model
client gets the spending limits and the reply engine its gates as constructor arguments.

The order matters where one service reads another: the database first, the spending limits before the model
client (they are its guard), the engine before what listens to it, the memory before its jobs.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

from bot.alive.checkins import INTERVAL as CHECKIN_INTERVAL
from bot.alive.checkins import CheckInChoice
from bot.alive.service import Alive, DiscordSide
from bot.core.character import CharacterSource
from bot.core.claude import ClaudeClient, SpendingGuard
from bot.core.config import (
    AliveSettings,
    EnsembleSettings,
    MemorySettings,
    ModelSettings,
    Settings,
    StorageSettings,
    VoiceSettings,
)
from bot.core.config.holder import SettingsHolder
from bot.core.config.service import AccessSettings, ClusterSettings, LimitSettings, RecoverySettings
from bot.core.pipeline import Gate
from bot.core.timers import Dispatcher, Recurring, Timers
from bot.operator.access import AccessGate
from bot.operator.activity import ActivityRecorder
from bot.operator.admin.tools import AdminTools
from bot.operator.limits import SpendingLimits
from bot.operator.logmirror import LogMirror
from bot.operator.places import Places
from bot.reply.engine import ReplyEngine
from bot.reply.ensemble import CastMember, Ensemble
from bot.reply.recovery import ReplyRecovery
from bot.reply.sequence import ReplySequence, Solo
from bot.runtime.cluster import Cluster
from bot.runtime.jobs import MemoryJobs, Scheduler, scheduled_jobs
from bot.runtime.voice import VoiceService
from bot.servertools.moderation import ModerationLog
from bot.servertools.polls import TIMER as POLL_TIMER
from bot.servertools.polls import PollBoard, Polls
from bot.servertools.settings import ServerSettings
from bot.servertools.tickets import TicketDesk
from bot.servertools.userinfo import UserInfo
from database.store import Store
from memory.consent import Consent
from memory.identity import seed_identity
from memory.service import MemoryService

if TYPE_CHECKING:
    from bot.operator.admin.language import Latencies
    from bot.operator.dashboard import Dashboard

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Edge:
    """What only the Discord client knows, handed to :func:`compose` by cogs/bot.py."""

    is_admin: Callable[[int], bool]  # the bot's admins (the owner, admin_user_ids, the admin role)
    own_user_id: int | None  # our account: our own posts never count as another character's
    alive_side: DiscordSide  # channels, DMs, emotes, reactions and the status (cogs/presence.py)
    poll_board: PollBoard  # a closed poll's results (cogs/poll_results.py)
    latencies: Callable[[], Latencies]  # the gateway's, for the dashboard
    guild_count: Callable[[], int]
    started_at: float  # time.monotonic() when the process started


@dataclass
class ServerTools:
    """The server tools' plain classes (bot/servertools/) and the places' activation (bot/operator/)."""

    moderation: ModerationLog
    polls: Polls
    members: UserInfo
    tickets: TicketDesk
    places: Places
    settings: ServerSettings
    checkins: CheckInChoice

    @classmethod
    def on(cls, store: Store, polls: Polls) -> ServerTools:
        return cls(ModerationLog(store.moderation), polls, UserInfo(store.people),
                   TicketDesk(store), Places(store.places, store.switches), ServerSettings(store.servers),
                   CheckInChoice(store.checkins))


@dataclass
class Services:
    """Every long-lived service of the process; cogs/bot.py closes them in reverse order."""

    store: Store
    claude: ClaudeClient
    voice: VoiceService
    engine: ReplyEngine
    access: AccessGate
    limits: SpendingLimits
    cluster: Cluster
    ensemble: Ensemble | None
    replies: ReplySequence
    recovery: ReplyRecovery
    memory: MemoryService
    admin: AdminTools
    counters: ActivityRecorder
    alive: Alive
    memory_jobs: MemoryJobs
    scheduler: Scheduler
    timers: Dispatcher
    tools: ServerTools
    dashboard: Dashboard | None = None

    @property
    def engines(self) -> list[ReplyEngine]:
        """Every character's engine, the main one first."""
        return [m.engine for m in self.ensemble.members] if self.ensemble is not None else [self.engine]


async def open_store(settings: Settings) -> Store:
    """The one data layer, its schema brought up to date (an outage or a lock is waited out)."""
    return await Store(settings.resolved_database_url(), retry_seconds=settings.recovery.db_retry_seconds,
                       busy_timeout=settings.recovery.db_busy_timeout).open()


def compose_reply(settings: Settings, store: Store, character: CharacterSource, consent: Consent, *,
                  spending: SpendingGuard | None = None,
                  gates: Sequence[Gate] = ()) -> tuple[ClaudeClient, ReplyEngine]:
    """The model client and the main character's engine (the console's too, without gates nor limits)."""
    claude = ClaudeClient(settings, store.usage, spending=spending)
    claude.start_checks()  # an unreachable model server is a warning with its URL, never a crash
    engine = ReplyEngine(settings, store, claude, character, gates=gates, consent=consent)
    claude.warn_refused_settings([engine.persona])  # once: sampling a model would refuse
    return claude, engine


def compose_memory(settings: MemorySettings, store: Store, claude: ClaudeClient, engine: ReplyEngine,
                   members: Collection[ReplyEngine] = (), *, consent: Consent,
                   notify: Callable[[str], None] | None = None) -> MemoryService:
    """Recall, summarization and consolidation, attached to every character's engine; ``consent`` is the
    one the engines were built with."""
    memory = MemoryService(settings, store, claude, engine, notify=notify, consent=consent)
    memory.attach()
    for member in members:
        memory.attach_member(member)
    return memory


async def compose(holder: SettingsHolder, character: CharacterSource, mirror: LogMirror, edge: Edge, *,
                  skip_jobs: Collection[str] = ()) -> Services:
    """Every service of a running bot, built and wired (nothing started that waits on Discord). The caller
    keeps them before anything can fail (cogs/bot.py verifies the models next), so its close releases them."""
    settings = holder.settings()
    # Start-up says what it is doing: on a busy machine it can take a while, and silence looks stuck.
    log.info("starting: opening the database (and bringing its schema up to date)")
    store = await open_store(settings)
    # Who may talk to it, and what it may spend: checked before any reply work. The limits ask the engine
    # and the model client, built just below (the lambdas read them once messages flow).
    access = AccessGate(holder.watch(AccessSettings), store.servers, edge.is_admin)
    limits = SpendingLimits(
        holder.follow(LimitSettings), settings.alive.timezone, store.spending, is_admin=access.is_admin,
        addressed=lambda msg: engine.reply_certain(msg),
        name=lambda: engine.persona.name, mirror=mirror.emit, token_factor=lambda: claude.token_factor())
    # Who may be remembered: one consent for every character, handed to each engine as it is built.
    consent = Consent(store.servers, store.people, settings.memory.memory_consent)
    claude, engine = compose_reply(settings, store, character, consent, spending=limits,
                                   gates=(access.gate, limits.gate))
    voice = VoiceService(holder.follow(VoiceSettings), base_url=settings.models.openai_base_url,
                         api_key=settings.secrets.openai_api_key)
    voice.startup_problems()  # one line per missing program voice needs (ffmpeg, espeak-ng)
    cluster = Cluster(store, holder.follow(ClusterSettings), engine.character_key,
                      shard_ids=settings.shard_id_list, shard_count=settings.discord.shard_count)
    if edge.own_user_id is not None:  # (logged in by now) our own posts never count as another character's
        engine.own_author_ids.add(edge.own_user_id)
    log.info("starting: loading %s (identity, other characters, memory, commands)", engine.persona.name)
    await seed_identity(store, settings.character_dir, engine.character_key)
    ensemble = await compose_ensemble(settings, holder.follow(EnsembleSettings), store, claude, character,
                                      engine, edge.own_user_id, consent)
    members = [m.engine for m in ensemble.members[1:]] if ensemble is not None else []
    # The one reply sequence every message goes through; the cast chooses who answers.
    replies = ReplySequence(ensemble or Solo(engine))
    # Run once ready (cogs/events.py).
    recovery = ReplyRecovery(holder.follow(RecoverySettings), store.owed, [engine, *members])
    memory = compose_memory(holder.follow(MemorySettings),  # reads a reload at each use
                            store, claude, engine, members, consent=consent, notify=mirror.emit)
    memory.start_warm_up()  # in the background: start-up never waits for the embedding model
    admin = AdminTools(store, holder.follow(ModelSettings), holder.follow(StorageSettings),
                       engine.character_key, mirror, embed=memory.embed)
    counters = ActivityRecorder(store.stats, engine.character_key)
    counters.attach(engine, members)
    counters.start()
    # In a cluster each process speaks first in its own shards' channels (bot/alive/service.py).
    shards = cluster.shards if settings.shard_id_list else ""
    alive = await compose_alive(holder.follow(AliveSettings), consent, engine, members, edge.alive_side,
                                mirror, cluster, admin, shards=shards)
    memory_jobs = MemoryJobs(memory, holder.follow(MemorySettings), holder.follow(StorageSettings), cluster,
                             mirror.emit, after_daily=alive.after_consolidation)
    scheduler = Scheduler(scheduled_jobs(holder.follow(MemorySettings), memory_jobs), skip=skip_jobs)
    if "consolidation" in scheduler.names:
        # In a cluster only the leader runs the memory jobs; a process that becomes leader (at start, or
        # when the old leader dies) first catches up on a consolidation the cluster missed.
        cluster.lead_hooks.append(memory_jobs.catch_up)
    # The one timer loop (bot/core/timers.py): every recurring round and every kind of one-shot timer is
    # listed here, once. Each process runs the rounds listed; a round's claim lets one process run each.
    timers = Timers(store.timers)
    polls = Polls(store.polls, store.privacy, timers, edge.poll_board, character=lambda: engine.persona.name)
    dispatcher = Dispatcher(timers, rounds=[
        Recurring(alive.proactive_key, timedelta(minutes=settings.alive.proactive_interval_minutes),
                  alive.proactive.run),
        Recurring(alive.checkins_key, CHECKIN_INTERVAL, alive.checkins.run),
    ], handlers={POLL_TIMER: polls.close_due})
    services = Services(store=store, claude=claude, voice=voice, engine=engine, access=access, limits=limits,
                        cluster=cluster, ensemble=ensemble, replies=replies, recovery=recovery, memory=memory,
                        admin=admin, counters=counters, alive=alive, memory_jobs=memory_jobs,
                        scheduler=scheduler, timers=dispatcher, tools=ServerTools.on(store, polls))
    if settings.dashboard.dashboard_port:
        services.dashboard = compose_dashboard(services, settings, edge)
    return services


async def compose_ensemble(settings: Settings, section: EnsembleSettings, store: Store, claude: ClaudeClient,
                           character: CharacterSource, engine: ReplyEngine, own_user_id: int | None,
                           consent: Consent) -> Ensemble | None:
    """The other characters this bot plays (``ensemble_characters``), each with its own engine; ``section``:
    the ensemble settings, following reloads."""
    folders = settings.ensemble_dirs
    if not folders:
        return None
    cast = [CastMember(engine.character_key, engine)]
    for folder in folders:
        source = CharacterSource(folder, character.config_file, character.environ)
        source.load()  # a broken folder fails start-up with its file and key named
        member = ReplyEngine(settings, store, claude, source, character_key=folder.name,
                             ballot=engine.voting.ballot,  # vote rounds paced process-wide
                             consent=consent)  # one consent policy for the whole bot
        await seed_identity(store, folder, member.character_key)
        cast.append(CastMember(folder.name, member))
    ensemble = Ensemble(cast, section, store.characters)
    ensemble.bot_user_id = own_user_id
    log.info("playing %d characters: %s", len(cast), ", ".join(m.name for m in cast))
    return ensemble


async def compose_alive(settings: AliveSettings, consent: Consent, engine: ReplyEngine,
                        members: list[ReplyEngine], side: DiscordSide, mirror: LogMirror, cluster: Cluster,
                        admin: AdminTools, *, shards: str) -> Alive:
    """The character alive between messages (bot/alive/), its feelings and /state edits shared with the
    cluster's other processes; ``settings``: the alive section, following reloads; ``shards``: this
    process's, in a cluster (else "")."""
    alive = Alive(engine, side, settings, consent, members=[engine, *members] if members else [],
                  mirror=mirror.emit, shards=shards)
    await alive.start()
    alive.attach()
    admin.state.listeners.append(alive.state_changed)

    async def feelings_heard(message: dict[str, object]) -> None:
        for feelings in alive.feelings.values():
            if feelings.key == message.get("key"):
                feelings.adopt(str(message.get("state", "")))

    async def tell_state(key: str) -> str:
        cluster.publish_soon("state", key=key)
        return ""

    async def state_heard(message: dict[str, object]) -> None:
        await alive.state_changed(str(message.get("key", "")))

    # A cluster shares one character: its feelings and an admin's /state edits reach every process.
    cluster.on("feelings", feelings_heard)
    cluster.on("state", state_heard)
    for feelings in alive.feelings.values():
        feelings.saved.append(
            lambda key, raw: cluster.publish_soon("feelings", peers_only=True, key=key, state=raw))
    admin.state.listeners.append(tell_state)
    return alive


def compose_dashboard(services: Services, settings: Settings, edge: Edge) -> Dashboard:
    """The dashboard of a running bot (only when ``dashboard_port`` asks for it: Jinja2 and the pages):
    /forget_me's effect through the memory service (which also stops summaries in flight and drops cached
    facts), the admin tools with its embedder."""
    from bot.operator.dashboard import Dashboard, DashboardContext, RunningBot

    engine, memory = services.engine, services.memory

    async def forget(user_id: int) -> dict[str, int]:
        return dict(await memory.forget_user(user_id))

    context = DashboardContext(
        settings=settings, store=services.store, character_key=engine.character_key,
        character_name=lambda: engine.persona.name,
        tools=services.admin,  # the same edits as the slash commands
        forget=forget,
        bot=RunningBot(edge.started_at, edge.latencies, edge.guild_count, engine),
    )
    return Dashboard(context, settings.dashboard.dashboard_host, settings.dashboard.dashboard_port)
