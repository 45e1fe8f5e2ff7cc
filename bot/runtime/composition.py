"""The composition root: every long-lived service of a running bot is built here, once, in order.

``setup_hook`` (bot/discord/client.py) calls :func:`compose` with what only Discord can supply (:class:`Edge`:
the application's owners, our own account, the Discord side of the character's own initiative, the gateway's
figures), keeps the :class:`Services` it returns, then loads the cogs, which take what they use from it and
build nothing.
The console builds its smaller set with :func:`open_store`, :func:`compose_model`, :func:`compose_memory` and
:func:`compose_character`, the same functions. Nothing is attached after it is built: the model client gets
the spending limits, and each reply pipeline what every feature adds to the stages of its replies (gates,
prompt parts, filters, observers: bot/core/stages.py ``Features``), as constructor arguments.

The order matters where one service reads another: the database first, the spending limits before the model
client (they are its guard), every feature a reply uses before the pipeline, the memory before its rounds.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from bot.alive.service import Alive, AliveParts, DiscordSide, SaidFeelings, showing_status
from bot.alive.speaker import Speaker
from bot.alive.status import StatusKeeper, clean_status
from bot.core.character import CharacterSource
from bot.core.claude import ClaudeClient, SpendingGuard
from bot.core.config import (
    AliveSettings,
    DiscordSettings,
    EnsembleSettings,
    MemorySettings,
    ModelSettings,
    SecretSettings,
    Settings,
    StorageSettings,
)
from bot.core.config.holder import SettingsHolder, section_of
from bot.core.config.sections import TriageSettings
from bot.core.config.service import AccessSettings, ClusterSettings, LimitSettings, RecoverySettings
from bot.core.errors import ConfigError
from bot.core.keyed import KeyedLocks
from bot.core.lines import Line
from bot.core.metrics import Metrics, Tracing, span_of
from bot.core.models.capabilities import ModelTable
from bot.core.policy import LanguageHint, ServerPolicies
from bot.core.stages import (
    NO_FEATURES,
    DecisionListener,
    Features,
    Interceptor,
    OwnAccounts,
    PromptPart,
    ReplyTools,
    TurnListener,
)
from bot.core.ticker import Ticker
from bot.core.timers import Dispatcher, Timers
from bot.features import FEATURES
from bot.operator.access import AccessGate
from bot.operator.activity import ActivityRecorder
from bot.operator.admin.heartbeat import Heartbeat
from bot.operator.admin.tools import AdminTools
from bot.operator.asking import Asking
from bot.operator.conversation_tools import ConversationTools
from bot.operator.limits import ReplyTokenFactor, SpendingLimits
from bot.operator.logmirror import LogMirror
from bot.operator.places import PlaceControls
from bot.operator.reach import Reach
from bot.operator.registration import Contribution, Parts, Running
from bot.reply.deciding import Addressee, CharacterNames, IntentRouter
from bot.reply.ensemble import CastMember, Ensemble
from bot.reply.imagebudget import ImageBudget
from bot.reply.pipeline import ReplyPipeline, ReplySequence, Solo
from bot.reply.recovery import LateReplies, ReplyRecovery
from bot.runtime.cluster import Cluster, ClusterNews, Handler, LeadWork, cache_invalidation
from bot.runtime.jobs import MemoryJobs, daily_rounds
from bot.runtime.reloader import ConfigReloader
from bot.runtime.replies import Shared, compose_pipeline
from database.boundary import JsonObject
from database.models import utcnow
from database.records import SeenMessage
from database.store import Store
from memory.consent import Consent
from memory.identity import seed_identity
from memory.service import MemoryService

if TYPE_CHECKING:
    from bot.operator.admin.language import Latencies
    from bot.operator.dashboard import Dashboard
    from bot.operator.dashboard.live import LiveFeed
    from bot.operator.metrics import MetricsServer

log = logging.getLogger(__name__)
P = TypeVar("P")  # a feature's part, asked for by its type
FEATURE_COGS = tuple(cog for feature in FEATURES for cog in feature.cogs)  # loaded after the client's own
CastTools = Callable[[Callable[[], str]], tuple[ReplyTools, ...]]  # the features' tools for a cast's member


@dataclass(frozen=True)
class Edge:
    """What only the Discord client knows, handed to :func:`compose` by bot/discord/client.py."""

    owners: frozenset[int]  # the application's owners: bot admins, as admin_user_ids are (permissions.py)
    own_user_id: int | None  # our account: our own posts never count as another character's
    intercept: Interceptor  # the log channel's commands (bot/discord/logchannel.py)
    sync_commands: LeadWork  # the slash commands synced with Discord (by the cluster's leader)
    cluster_shutdown: Handler  # another process of the cluster asked every one to shut down
    alive_side: DiscordSide  # channels, DMs, emotes, reactions and the status (bot/discord/presence.py)
    latencies: Callable[[], Latencies]  # the gateway's, for the dashboard and the latency heartbeat
    post_to_log: Callable[[Line], Awaitable[object]]  # a line in the log channel (the heartbeat's warnings)
    guild_count: Callable[[], int]
    started_at: float  # time.monotonic() when the process started


@dataclass
class ServerToolParts:
    """The places' activation (bot/operator/), for the slash commands that switch a place on or off (the
    server tools' own parts are the servertools feature's: bot/features/servertools/)."""

    places: PlaceControls

    @classmethod
    def on(cls, store: Store) -> ServerToolParts:
        return cls(PlaceControls(store.places, store.switches))


def part_of(parts: Collection[object], kind: type[P]) -> P:
    """The feature's part of type ``kind`` (LookupError: no feature built one)."""
    for part in parts:
        if isinstance(part, kind):
            return part
    raise LookupError(f"no feature built a {kind.__name__}")


@dataclass
class Services:
    """Every long-lived service of the process; bot/discord/client.py closes them in reverse order."""

    store: Store
    claude: ClaudeClient
    pipeline: ReplyPipeline  # the main character's
    access: AccessGate
    limits: SpendingLimits
    reach: Reach  # the one rule of whom the character may speak to or hear, asked by every way
    cluster: Cluster
    ensemble: Ensemble | None
    replies: ReplySequence
    # What the main character's replies share with other work, for it and for whoever watches it: one reply
    # at a time per conversation (a feature's timer speaking there holds it too), the image bytes in flight.
    conversation_locks: KeyedLocks[tuple[int, str]]
    images: ImageBudget
    recovery: ReplyRecovery
    memory: MemoryService
    admin: AdminTools
    counters: ActivityRecorder
    alive: Alive
    memory_jobs: MemoryJobs
    lead_work: tuple[LeadWork, ...]  # run on becoming the cluster's leader (Cluster.start)
    reloader: ConfigReloader
    timers: Dispatcher
    ticker: Ticker  # the periodic jobs of this process only (bot/core/ticker.py); the bot stops what is left
    heartbeat: Heartbeat  # the gateway's latency, read every heartbeat_interval_seconds
    tools: ServerToolParts
    conversation: ConversationTools  # /history, /forget, /ooc, /remember: on the main character's pipeline
    asking: Asking  # /ask and the message menus, wherever the app is installed
    dashboard: Dashboard | None  # served when dashboard_port asks for it
    metrics: Metrics | None = None  # when metrics_port asks for them
    metrics_server: MetricsServer | None = None  # GET /metrics on its own port; the event-loop lag sampler
    tracing: Tracing | None = None  # a reply's stages as OpenTelemetry spans, when otel_endpoint is set
    # What the features' slash commands use (their registrations' ``parts``), read by type with part();
    # what /forget_me clears in their memory; their lines in the log channel's ``status``; what they do in
    # each server the bot is in (by its id); what they do when a place of a server was switched off or a
    # switch changed there (by its id).
    parts: tuple[object, ...] = ()
    forget_held: tuple[Callable[[int], None], ...] = ()
    status_lines: tuple[Callable[[str | None], Awaitable[str]], ...] = ()
    in_server: tuple[Callable[[int], Awaitable[None]], ...] = ()
    place_changed: tuple[Callable[[int], Awaitable[None]], ...] = ()

    def part(self, kind: type[P]) -> P:
        """The feature's part of type ``kind`` its slash commands use (LookupError: no feature built one)."""
        return part_of(self.parts, kind)

    def forget_person(self, user_id: int) -> None:
        """What the features hold of a person in memory, forgotten with their /forget_me."""
        for forget in self.forget_held:
            forget(user_id)


async def open_store(settings: Settings) -> Store:
    """The one data layer, its schema brought up to date (an outage or a lock is waited out)."""
    return await Store(settings.resolved_database_url(), retry_seconds=settings.recovery.db_retry_seconds,
                       busy_timeout=settings.recovery.db_busy_timeout).open()


def compose_model(settings: Settings, store: Store, *, spending: SpendingGuard | None = None,
                  models: ModelTable | None = None, mirror: LogMirror | None = None,
                  metrics: Metrics | None = None, tracing: Tracing | None = None) -> ClaudeClient:
    """The model client, guarded by the spending limits, its failures mirrored to the log channel (neither
    in the console), each call counted (metrics_port) and traced (otel_endpoint) when asked."""
    claude = ClaudeClient(settings, store.usage, spending=spending, models=models,
                          on_error=(mirror.model_error,) if mirror is not None else (), metrics=metrics,
                          span=span_of(tracing))
    claude.start_checks()  # an unreachable model server is a warning with its URL, never a crash
    return claude


def compose_memory(settings: MemorySettings, store: Store, claude: ClaudeClient, character: CharacterSource,
                   key: str, intents: IntentRouter, *, consent: Consent,
                   notify: Callable[[Line], None] | None = None) -> MemoryService:
    """Recall, summarization and consolidation of the main character ``key``; a question about the past
    gets a larger recall budget (``intents``, the main pipeline's); ``consent`` is the one the pipelines are
    built with."""
    return MemoryService(settings, store, claude, key, character.current, budget=intents.recall_budget,
                         notify=notify, consent=consent)


def compose_character(settings: Settings, store: Store, claude: ClaudeClient, character: CharacterSource,
                   consent: Consent, memory: MemoryService, features: Features = NO_FEATURES, *,
                   accounts: OwnAccounts | None = None, addressee: Addressee | None = None,
                   intents: IntentRouter | None = None, policies: ServerPolicies | None = None,
                   shared: Shared | None = None,
                   locks: KeyedLocks[tuple[int, str]] | None = None) -> ReplyPipeline:
    """The main character's pipeline: memory's recall and summaries, then ``features``' own (the console
    gives none: no gates nor limits there, and builds nothing else the bot shares: built here)."""
    features = dataclasses.replace(
        features, prompt_parts=(memory.recall_part(), memory.threads_part(), *features.prompt_parts),
        turn_observers=(memory.keeper(), *features.turn_observers))
    policies = policies or ServerPolicies(settings, store.servers)
    pipeline = compose_pipeline(
        settings, store, claude, character, features,
        shared or Shared.of(settings, store, claude, policies, consent),
        accounts=accounts if accounts is not None else OwnAccounts(),
        addressee=addressee or Addressee(CharacterNames(character.current, set())),
        intents=intents or intent_router(settings), locks=locks if locks is not None else KeyedLocks())
    claude.warn_refused_settings([pipeline.persona])  # once: sampling a model would refuse
    return pipeline


def compose_console_features(settings: Settings, store: Store, character: CharacterSource,
                             consent: Consent) -> Features:
    """What console mode's replies are lent: the tools of the features registered ``in_console`` (the web
    search), built from the same ``Parts`` as a running bot's; nothing of Discord (no gate, place, timer
    nor cog), and no spending limits (the operator is the one talking)."""
    names = CharacterNames(character.current, set())
    parts = Parts(SettingsHolder(settings), store, Timers(store.timers),
                  PlaceControls(store.places, store.switches), names.name,
                  lambda _: True,  # every line typed is said to the character
                  consent, OwnAccounts(), settings.character_name_slug, persona=character.current)
    lent = Contribution.joined([feature.build(parts) for feature in FEATURES if feature.in_console])
    return Features(tools=lent.tools)


def intent_router(settings: Settings) -> IntentRouter:
    """What a message is about (bot/reply/deciding/intent.py), classified once for the pipeline and the
    memory."""
    return IntentRouter(section_of(settings, TriageSettings))


async def compose(holder: SettingsHolder, character: CharacterSource, mirror: LogMirror, edge: Edge, *,
                  skip_rounds: Collection[str] = ()) -> Services:
    """Every service of a running bot, built and wired (nothing started that waits on Discord). The caller
    keeps them before anything can fail (the Bot class verifies the models next), so its close releases them.

    Each character's pipeline is built last of what its replies use: what every feature adds to a stage of
    its replies (bot/core/stages.py ``Features``) is declared here, once, in the stage's order."""
    settings = holder.current
    key = settings.character_name_slug
    # Start-up says what it is doing: on a busy machine it can take a while, and silence looks stuck.
    log.info("starting: opening the database (and bringing its schema up to date)")
    store = await open_store(settings)
    # Who may talk to it, and what it may spend: checked before any reply work. The limits read who a
    # message certainly asks for an answer (they tell that person a budget is spent) and the capability
    # table the model client gets.
    access = AccessGate(holder.follow(AccessSettings), store.servers, holder.follow(SecretSettings),
                        edge.owners)
    names = CharacterNames(character.current, set())
    addressee = Addressee(names)
    models = ModelTable(settings.models.model_capabilities)
    limits = SpendingLimits(
        holder.follow(LimitSettings), settings.alive.timezone, store.spending, is_admin=access.is_admin,
        addressed=addressee.reply_certain, name=names.name, mirror=mirror.emit,
        token_factor=ReplyTokenFactor(holder.follow(ModelSettings), models),
        unprompted=frozenset().union(*(f.unprompted for f in FEATURES)), style=store.style)
    # The one rule every way to speak or listen asks (bot/operator/reach.py): the place, who, what may be
    # spent.
    reach = Reach(access, limits, store.places)
    # Who may be remembered: one consent for every character, handed to each pipeline as it is built.
    consent = Consent(store.servers, store.people, settings.memory.memory_consent)
    # What this process tells the cluster's others; the Cluster that hears theirs is built once its
    # handlers (the pipelines, alive) are.
    news = ClusterNews(store, key, shard_ids=settings.shard_id_list, shard_count=settings.discord.shard_count)
    # Our own accounts (the bot user, logged in by now; the cast's webhooks as they are made): our own posts
    # never count as another character's.
    accounts = OwnAccounts(edge.own_user_id)
    # The one mechanism for this process's periodic work (bot/core/ticker.py): the counters' flush, the
    # cluster's beat, the latency heartbeat and the config reloader's polls are its jobs.
    ticker = Ticker()
    counters = ActivityRecorder(store.stats, key, ticker)
    # What an operator graphs (metrics_port) and traces (otel_endpoint): nothing is built when both are off.
    metrics, tracing = compose_metrics(settings, key, store)
    watched = (metrics,) if metrics is not None else ()
    keys = [key, *(folder.name for folder in settings.ensemble_dirs)]
    alive_parts = AliveParts(store, holder.follow(AliveSettings), consent, keys, edge.alive_side, accounts,
                             mirror=mirror.emit, share_feelings=news.share_feelings)
    late = LateReplies()  # owed since before a restart: their prompt says so (bot/reply/recovery.py)
    policies = ServerPolicies(settings, store.servers)  # each server's /settings over the global ones
    live = compose_live_feed() if settings.dashboard.dashboard_port else None
    # The durable timers' rows (bot/core/timers.py), armed by what replies set and what the features do
    # (a reminder, a swipe's buttons, a feature's own kinds).
    timers = Timers(store.timers)
    # In a cluster each process speaks first in its own shards' channels (a round per shard set).
    shards = news.shards if settings.shard_id_list else ""
    # The features (bot/features/ ``FEATURES``), each built from the same parts; what they delete of a
    # person goes into /forget_me's transaction.
    parts = Parts(holder, store, timers, PlaceControls(store.places, store.switches), names.name,
                  addressee.reply_certain, consent, accounts, key, persona=character.current,
                  shards=shards, spending=limits, metrics=metrics, reach=reach,
                  alive=alive_parts)
    built = [feature.build(parts) for feature in FEATURES]
    lent = Contribution.joined(built)
    store.privacy.also_forget(*(f.forget for f in FEATURES if f.forget is not None))
    # The main character's replies, stage by stage.
    main = Features(
        interceptors=(edge.intercept,),  # the log channel's admin commands
        readers=lent.readers,  # a message's recording read before the reply (a voice message)
        access=(reach.listens,),  # the rule's halves: who is heard at all, then what a reply may spend
        gates=(reach.gate, *lent.gates),
        place_gates=lent.place_gates,  # a place's own switches (a DM never enters them)
        decision_observers=(counters.on_decision, *lent.decision_observers, mirror.on_decision,
                            *((live.on_decision,) if live is not None else ()),
                            *(m.on_decision for m in watched)),
        prompt_parts=(*alive_parts.prompt_parts(key),  # after memory's recall (compose_character)
                      LanguageHint(policies),  # the server's language, as /settings says
                      late, *lent.prompt_parts),
        reply_filters=(alive_parts.render,),
        turn_observers=(counters.on_turn, *alive_parts.turn_observers(key), news.posted(names.name),
                        *(m.on_turn for m in watched), *lent.turn_observers),
        # what the model may use while writing: the features' tools, in FEATURES' order
        tools=lent.tools)
    claude = compose_model(settings, store, spending=limits, models=models, mirror=mirror, metrics=metrics,
                           tracing=tracing)
    intents = intent_router(settings)
    memory = compose_memory(holder.follow(MemorySettings),  # reads a reload at each use
                            store, claude, character, key, intents, consent=consent, notify=mirror.emit)
    # What every character's replies share in this process; the main character's conversation locks, which
    # a feature's timer speaking there holds too.
    shared = Shared.of(settings, store, claude, policies, consent, lent.thread_talk)
    locks: KeyedLocks[tuple[int, str]] = KeyedLocks()
    pipeline = compose_character(settings, store, claude, character, consent, memory, main, accounts=accounts,
                            addressee=addressee, intents=intents, policies=policies, shared=shared,
                            locks=locks)
    log.info("starting: loading %s (identity, other characters, memory, commands)", pipeline.persona.name)
    await seed_identity(store, settings.character_dir, pipeline.character_key)
    ensemble = await compose_ensemble(settings, holder.follow(EnsembleSettings), store, claude, character,
                                      pipeline, accounts, shared, memory, alive_parts,
                                      (counters.on_turn, *(m.on_turn for m in watched)),
                                      (LanguageHint(policies), late, *lent.prompt_parts), news,
                                      lent.cast_tools, lent.decision_observers)
    members = [m.pipeline for m in ensemble.members[1:]] if ensemble is not None else []
    # The one reply sequence every message goes through; the cast chooses who answers.
    replies = ReplySequence(ensemble or Solo(pipeline), shared.threads, span=span_of(tracing))
    # Run once ready (cogs/messages.py).
    recovery = ReplyRecovery(holder.follow(RecoverySettings), store.owed, replies,
                             [p.character_key for p in (pipeline, *members)], late)
    memory.start_warm_up()  # in the background: start-up never waits for the embedding model
    counters.start()
    # The character's own initiative reads the store, the settings, the model client and the character
    # itself, never the pipeline; its text goes through the same reply filters.
    speaker = Speaker(store, settings, claude, character, key, accounts, main.reply_filters, reach,
                      policies)
    status = StatusKeeper(speaker, apply=showing_status(edge.alive_side, news.share_status),
                          mirror=mirror.emit)
    said = SaidFeelings(speaker, alive_parts, holder.follow(AliveSettings))
    # What a feature's durable timers, recurring rounds and later parts are built with; the corrections'
    # answers among them, handed to the reactions the character feels.
    running = Running(speaker, edge.alive_side, alive_parts.time, locks, mirror.emit, said.toward,
                      room=said.room, status=status.current, remembers=consent.allows, cast=replies.cast)
    corrections = lent.correction_answers(running) if lent.correction_answers is not None else None
    alive = Alive(speaker, alive_parts, holder.follow(AliveSettings), consent, status,
                  corrections=corrections)
    await alive.start()
    # An admin's /state edit of a feelings key takes effect at once, here and in the cluster's other
    # processes.
    admin = AdminTools(store, holder.follow(ModelSettings), holder.follow(StorageSettings),
                       pipeline.character_key, mirror, embed=memory.embed,
                       state_changed=(alive.state_changed, news.share_state_edit))
    await admin.verbose.load()  # verbose mode as the admins last left it
    pipelines = [pipeline, *members]
    cluster = Cluster(news, holder.follow(ClusterSettings), ticker,
                      heard=cluster_signals(store, replies, alive, edge))
    memory_jobs = MemoryJobs(memory, holder.follow(MemorySettings), holder.follow(StorageSettings),
                             mirror.emit, report=mirror.report)
    # What a process does on becoming the cluster's leader (at start, or when the old leader dies): the
    # slash commands are synced. setup_hook starts the cluster with it once the cogs are loaded.
    lead_work = (edge.sync_commands,)
    # The one timer loop (bot/core/timers.py): every recurring round and every kind of one-shot timer is
    # listed here, once. Each process runs the rounds listed; a round's claim lets one process run each.
    # ``skip_rounds``: names of the memory's rounds a test leaves out.
    dispatcher = Dispatcher(timers, rounds=[
        *lent.recurring(running),  # the features' rounds
        *daily_rounds(key, holder.follow(MemorySettings), memory_jobs, alive.new_day, skip=skip_rounds),
    ], handlers=lent.timers(running))
    # config.env and the character files, applied live when they change (setup_hook starts it last).
    reloader = ConfigReloader(holder, [p.character for p in pipelines],
                              IdentitySeeds(store, pipelines).reseed, ticker)
    conversation = ConversationTools(pipeline, store, holder.follow(MemorySettings))
    metrics_server = None
    if metrics is not None:
        for name, depth in {"owed_replies": replies.owing,
                            "summaries": lambda: memory.summarizer.writing,
                            "log_mirror": lambda: mirror.backlog,
                            "activity_counters": lambda: counters.unwritten}.items():
            metrics.queue(name, depth)
        metrics_server = compose_metrics_server(settings, metrics)
    dashboard = compose_dashboard(settings, edge, live, store, pipeline, memory, admin, claude,
                                  metrics_server if metrics_server is not None and not metrics_server.own_port
                                  else None) if live is not None else None
    tools = ServerToolParts.on(store)
    services = Services(store=store, claude=claude, pipeline=pipeline, access=access,
                        limits=limits, reach=reach,
                        cluster=cluster, ensemble=ensemble, replies=replies, conversation_locks=locks,
                        images=shared.images, recovery=recovery, memory=memory,
                        admin=admin, counters=counters, alive=alive, memory_jobs=memory_jobs,
                        lead_work=lead_work, reloader=reloader, timers=dispatcher, ticker=ticker,
                        heartbeat=Heartbeat(holder.follow(DiscordSettings), edge.latencies, edge.post_to_log,
                                            ticker),
                        tools=tools,
                        conversation=conversation, asking=Asking(pipeline, conversation),
                        dashboard=dashboard, metrics=metrics, metrics_server=metrics_server,
                        tracing=tracing, parts=(*lent.parts, *lent.later_parts(running)),
                        forget_held=lent.forget_held, status_lines=lent.status_lines,
                        in_server=lent.in_server, place_changed=lent.place_changed)
    return services


async def compose_ensemble(settings: Settings, section: EnsembleSettings, store: Store, claude: ClaudeClient,
                           character: CharacterSource, pipeline: ReplyPipeline, accounts: OwnAccounts,
                           shared: Shared, memory: MemoryService, alive: AliveParts,
                           counting: tuple[TurnListener, ...], instructions: tuple[PromptPart, ...],
                           news: ClusterNews, cast_tools: CastTools,
                           observers: tuple[DecisionListener, ...] = ()) -> Ensemble | None:
    """The other characters this bot plays (``ensemble_characters``), each with its own pipeline; ``section``:
    the ensemble settings, following reloads. Every decision is announced on the main pipeline (its
    observers see the cast's); each character's replies get recall, its own summaries, feelings, the main
    character's ``instructions`` (the language hint, the late note, the features' prompt parts), the
    features' tools for it
    (``cast_tools``: its own web search), their decision observers (``observers``: emote reactions) and the
    cast's own webhooks."""
    folders = settings.ensemble_dirs
    if not folders:
        return None
    cast = [CastMember(pipeline.character_key, pipeline)]
    for folder in folders:
        source = CharacterSource(folder, character.config_file, character.environ)
        await source.refresh()  # a broken folder fails start-up with its file and key named
        key = folder.name
        names = CharacterNames(source.current, set())
        features = Features(
            decision_observers=observers,
            prompt_parts=(memory.recall_part(), memory.threads_part(), *alive.prompt_parts(key),
                          *instructions),
            reply_filters=(alive.render,),
            turn_observers=(memory.keeper(key, source.current), *counting, *alive.turn_observers(key),
                            news.posted(names.name)),
            tools=cast_tools(names.name))
        # vote rounds paced, image bytes in flight bounded, one consent policy: process-wide (shared)
        member = compose_pipeline(settings, store, claude, source, features, shared,
                                  accounts=accounts.sharing_webhooks(), addressee=Addressee(names),
                                  intents=intent_router(settings), locks=KeyedLocks())
        await seed_identity(store, folder, member.character_key)
        cast.append(CastMember(key, member))
    ensemble = Ensemble(cast, section, store.characters, accounts=accounts, threads=shared.threads)
    log.info("playing %d characters: %s", len(cast), ", ".join(m.name for m in cast))
    return ensemble


def cluster_signals(store: Store, replies: ReplySequence, alive: Alive,
                    edge: Edge) -> dict[str, tuple[Handler, ...]]:
    """What this process does with each signal of the cluster's others (bot/runtime/cluster.py), handed to
    the :class:`Cluster` as it is built: a shutdown for all, an admin's edit of a cached setting, a
    character's answer (a process waiting for its turn in that channel goes on at once), and, as a cluster
    shares one character, its feelings, an admin's /state edits and its custom status (on every shard)."""
    main_key = replies.cast.main.character_key

    async def posted(message: JsonObject) -> None:
        seen = SeenMessage(int(message["message_id"]), int(message["channel_id"]), message.get("guild_id"),
                           0, str(message.get("author_name", "")), True, False, "", utcnow())
        replies.arrived(seen)

    async def feelings_heard(message: JsonObject) -> None:
        for feelings in alive.feelings.values():
            if feelings.key == message.get("key"):
                feelings.adopt(str(message.get("state", "")))

    async def state_heard(message: JsonObject) -> None:
        await alive.state_changed(str(message.get("key", "")))

    async def status_heard(message: JsonObject) -> None:
        text = clean_status(str(message.get("text", "")))
        if text is not None and message.get("character") == main_key:
            await edge.alive_side.show_status(text)

    return {"shutdown": (edge.cluster_shutdown,), "invalidate": (cache_invalidation(store),),
            "posted": (posted,), "feelings": (feelings_heard,), "state": (state_heard,),
            "status": (status_heard,)}


class IdentitySeeds:
    """A changed identity.json, seeded again into the character it belongs to (the reloader's call)."""

    def __init__(self, store: Store, pipelines: list[ReplyPipeline]) -> None:
        self.store = store
        self.pipelines = pipelines

    async def reseed(self, folder: Path) -> None:
        for pipeline in self.pipelines:
            if pipeline.character.folder == folder:
                await seed_identity(self.store, folder, pipeline.character_key)


def compose_live_feed() -> LiveFeed:
    """The dashboard's live stream of decisions (imported only when the dashboard is served)."""
    from bot.operator.dashboard.live import LiveFeed

    return LiveFeed()


def compose_metrics(settings: Settings, key: str, store: Store) -> tuple[Metrics | None, Tracing | None]:
    """The process's metrics (metrics_port; its statements timed) and traces (otel_endpoint: the optional
    SDK imported only then); None for what is off."""
    metrics = None
    if settings.metrics.metrics_port:
        metrics = Metrics(key)
        metrics.watch_database(store.db.sync_engines)
    tracing = None
    endpoint = settings.metrics.otel_endpoint.strip()
    if endpoint:
        try:
            tracing = Tracing(endpoint, f"kindred-{key}")
        except ImportError:
            raise ConfigError(settings.origins.get("otel_endpoint", "environment"), "otel_endpoint",
                              "traces need the OpenTelemetry SDK: pip install '.[otel]' "
                              "(or leave otel_endpoint empty)") from None
    return metrics, tracing


def compose_metrics_server(settings: Settings, metrics: Metrics) -> MetricsServer:
    """GET /metrics on its own port, or on the dashboard's when metrics_port is dashboard_port."""
    from bot.operator.metrics import MetricsServer

    port = settings.metrics.metrics_port
    return MetricsServer(metrics, settings.metrics.metrics_host.strip() or "127.0.0.1", port,
                         settings.metrics.metrics_token.strip(),
                         own_port=port != settings.dashboard.dashboard_port,
                         origin=settings.origins.get("metrics_port", "environment"))


def compose_dashboard(settings: Settings, edge: Edge, live: LiveFeed, store: Store, pipeline: ReplyPipeline,
                      memory: MemoryService, admin: AdminTools, claude: ClaudeClient,
                      metrics: MetricsServer | None = None) -> Dashboard:
    """The dashboard of a running bot (only when ``dashboard_port`` asks for it: Jinja2 and the pages):
    /forget_me's effect through the memory service (which also stops summaries in flight and drops cached
    facts), the admin tools with its embedder, the live stream of decisions (a decision observer of the
    main pipeline)."""
    from bot.operator.dashboard import Dashboard, DashboardContext, RunningBot

    async def forget(user_id: int) -> dict[str, int]:
        return dict(await memory.forget_user(user_id))

    context = DashboardContext(
        settings=settings, store=store, character_key=pipeline.character_key,
        character_name=lambda: pipeline.persona.name,
        tools=admin,  # the same edits as the slash commands
        forget=forget,
        bot=RunningBot(edge.started_at, edge.latencies, edge.guild_count, claude, live),
    )
    return Dashboard(context, settings.dashboard.dashboard_host, settings.dashboard.dashboard_port,
                     metrics=metrics.handler if metrics is not None else None)
