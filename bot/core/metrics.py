"""What an operator graphs, as Prometheus metrics (``metrics_port``; off by default): one :class:`Metrics`
per process, built by the composition root only when asked for, with a registry of its own (never the
library's global one), and handed to what already sees each event: the reply pipeline's decision and turn
observers, the model client's usage record, the voice service's, the database engines' statement events.

Every series is labelled by character and by bounded kinds (a purpose, a model id, a decision's kind), never
by a person, a place or a message: a decision's reason is a line whose values can name people and message ids,
so a decision is labelled by the kind it carries (bot/core/stages.py ``DecisionKind``), set where it is
made, never by its reason.

On the message's path a metric is a counter's or a histogram's lock and an addition (about a microsecond);
the queue depths, the cache read share and the event-loop lag's reading cost nothing until a scrape or a
sampler tick. Traces (OpenTelemetry, ``otel_endpoint``) are made by :class:`Tracing`, imported only then;
without them a stage holds no span maker at all.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, Protocol

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

log = logging.getLogger(__name__)


# What the observers read of bot/core/stages.py's Incoming, Decision and ReplyResult (named by their
# shape: the model client imports this module, and the pipeline imports the model client).
class MeasuredMessage(Protocol):
    @property
    def message_id(self) -> int: ...


class MeasuredDecision(Protocol):
    @property
    def reply(self) -> bool: ...
    @property
    def kind(self) -> str: ...
    @property
    def votes(self) -> tuple[bool | None, ...]: ...


class MeasuredReply(Protocol):
    @property
    def ok(self) -> bool: ...
    @property
    def speaker(self) -> str: ...
    @property
    def message_ids(self) -> list[int | None]: ...


DISCORD_EPOCH_MS = 1_420_070_400_000
LAG_INTERVAL = 1.0  # seconds between the event-loop lag sampler's ticks
VOTES = {True: "yes", False: "no", None: "failed"}


def error_kind(error: str) -> str:
    """A failed model call's error line as a bounded kind."""
    if not error:
        return "none"
    if error == "refusal":
        return "refusal"
    if error.startswith("max_tokens"):
        return "max_tokens"
    if "timed out" in error or error.startswith("timeout"):
        return "timeout"
    if "HTTP 429" in error:
        return "rate_limited"
    if "HTTP 401" in error or "HTTP 403" in error or "not called" in error:
        return "auth"
    if "HTTP 5" in error:
        return "server_error"
    if "HTTP 4" in error:
        return "client_error"
    return "other"


def snowflake_ms(snowflake: int) -> int:
    """The Unix time (ms) a Discord id was made at."""
    return (snowflake >> 22) + DISCORD_EPOCH_MS


class _Sampled(Collector):
    """The series read only at a scrape: queue depths and the cache read share."""

    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics

    def collect(self) -> Iterable[Metric]:
        m = self.metrics
        depth = GaugeMetricFamily("kindred_queue_depth", "Items waiting in each queue of the process.",
                                  labels=["character", "queue"])
        for name, reader in m.queues.items():
            try:
                depth.add_metric([m.character, name], float(reader()))
            except Exception:  # a queue closing under the scrape: left out this once
                log.debug("queue %s could not be read", name, exc_info=True)
        yield depth
        share = GaugeMetricFamily(
            "kindred_model_cache_read_share",
            "Share of the input tokens read from the prompt cache since start, by purpose.",
            labels=["character", "purpose"])
        for purpose, (read, total) in sorted(m.cache_sums.items()):
            if total:
                share.add_metric([m.character, purpose], read / total)
        yield share


class Metrics:
    """The process's metrics; ``character``: the main character's key, the label of what is not one
    character's own (a model call, a statement); a reply's own character labels its series."""

    def __init__(self, character: str, registry: CollectorRegistry | None = None) -> None:
        self.character = character
        self.registry = registry or CollectorRegistry(auto_describe=True)
        r = self.registry
        c = ["character"]
        self.seen = Counter("kindred_messages_seen", "Messages the character considered.", c, registry=r)
        self.decisions = Counter("kindred_decisions",
                                 "Decisions to answer or stay quiet, by what decided it.",
                                 [*c, "reply", "reason"], registry=r)
        self.votes = Counter("kindred_votes", "Yes/no votes, by outcome (yes, no, failed).", [*c, "vote"],
                             registry=r)
        self.replies = Counter("kindred_replies", "Replies posted, by outcome (ok, fallback).",
                               [*c, "outcome"], registry=r)
        self.reply_latency = Histogram(
            "kindred_reply_latency_seconds", "From a message to the first post of its reply (Discord's ids).",
            c, registry=r, buckets=(0.25, 0.5, 1, 2, 3, 5, 8, 13, 20, 30, 60, 120))
        self.model_calls = Counter("kindred_model_calls", "Model calls, by purpose, model and outcome.",
                                   [*c, "purpose", "model", "outcome"], registry=r)
        self.tokens = Counter("kindred_model_tokens", "Model tokens, by kind (input, output, cache_read, "
                              "cache_write).", [*c, "purpose", "model", "kind"], registry=r)
        self.spend = Counter("kindred_spend_usd", "Money spent on model and speech calls (USD).",
                             [*c, "purpose", "model"], registry=r)
        self.model_latency = Histogram(
            "kindred_model_latency_seconds", "Model call duration, retries included.",
            [*c, "purpose", "model"],
            registry=r, buckets=(0.1, 0.25, 0.5, 1, 2, 4, 8, 15, 30, 60, 120))
        self.errors = Counter("kindred_errors", "Errors, by where (model, voice, database) and kind.",
                              [*c, "source", "kind"], registry=r)
        self.voice_latency = Histogram(
            "kindred_voice_latency_seconds", "Speech-to-text and text-to-speech call duration.",
            [*c, "purpose"],
            registry=r, buckets=(0.1, 0.25, 0.5, 1, 2, 4, 8, 15, 30))
        self.db_time = Histogram(
            "kindred_db_statement_seconds", "Database statement time, by the statement's verb.",
            [*c, "statement"], registry=r,
            buckets=(0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1))
        self.loop_lag = Histogram(
            "kindred_event_loop_lag_seconds", "How late the event loop ran a timer due every second.", c,
            registry=r, buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5))
        self.queues: dict[str, Callable[[], int]] = {}
        self.cache_sums: dict[str, tuple[int, int]] = {}  # purpose -> (cache read tokens, input tokens)
        r.register(_Sampled(self))
        self._lag_handle: asyncio.TimerHandle | None = None
        # Each label set's child, looked up once: prometheus_client's labels() checks and locks each time.
        self._children: dict[tuple[object, ...], Any] = {}
        self._seen = self.seen.labels(character)
        self._lag = self.loop_lag.labels(character)

    def _child(self, metric: Counter | Histogram, *labels: str) -> Any:
        child = self._children.get((metric, *labels))
        if child is None:
            child = self._children[(metric, *labels)] = metric.labels(*labels)
        return child

    # -- the reply pipeline's observers (every message: a few additions)

    async def on_decision(self, msg: MeasuredMessage, decision: MeasuredDecision) -> None:
        self._seen.inc()
        self._child(self.decisions, self.character, "yes" if decision.reply else "no", decision.kind).inc()
        for vote in decision.votes:
            self._child(self.votes, self.character, VOTES[vote]).inc()

    async def on_turn(self, msg: MeasuredMessage, result: MeasuredReply) -> None:
        character = result.speaker or self.character
        self._child(self.replies, character, "ok" if result.ok else "fallback").inc()
        first = next((i for i in result.message_ids if i), None)
        if first is not None and msg.message_id > 1 << 22:  # both real Discord ids (not the console's)
            latency = (snowflake_ms(first) - snowflake_ms(msg.message_id)) / 1000
            if latency >= 0:
                self._child(self.reply_latency, character).observe(latency)

    # -- the model client and the voice service

    def model_call(self, *, purpose: str, model: str, input_tokens: int, output_tokens: int,
                   cache_read_tokens: int, cache_creation_tokens: int, cost: float, latency_ms: float,
                   ok: bool, error: str) -> None:
        labels = (self.character, purpose, model)
        self._child(self.model_calls, *labels, "ok" if ok else "error").inc()
        for kind, n in (("input", input_tokens), ("output", output_tokens), ("cache_read", cache_read_tokens),
                        ("cache_write", cache_creation_tokens)):
            if n:
                self._child(self.tokens, *labels, kind).inc(n)
        if cost:
            self._child(self.spend, *labels).inc(cost)
        self._child(self.model_latency, *labels).observe(latency_ms / 1000)
        if not ok:
            self._child(self.errors, self.character, "model", error_kind(error)).inc()
        read, total = self.cache_sums.get(purpose, (0, 0))
        self.cache_sums[purpose] = (read + cache_read_tokens,
                                    total + input_tokens + cache_read_tokens + cache_creation_tokens)

    def voice_call(self, *, purpose: str, model: str, latency_ms: float, cost: float, error: str) -> None:
        self.voice_latency.labels(self.character, purpose).observe(latency_ms / 1000)
        if cost:
            self.spend.labels(self.character, purpose, model).inc(cost)
        if error:
            self.errors.labels(self.character, "voice", "timeout" if "timed out" in error else "other").inc()

    # -- queues: read at a scrape

    def queue(self, name: str, depth: Callable[[], int]) -> None:
        """A queue whose depth each scrape reads (``depth`` runs on the event loop, at the scrape)."""
        self.queues[name] = depth

    # -- the database

    def watch_database(self, engines: Iterable[Engine]) -> None:
        """Time every statement of these (synchronous) engines: SQLAlchemy's cursor events, which run on
        whichever thread runs the statement (the SQLite thread too); prometheus_client's children lock."""
        from sqlalchemy import event

        children: dict[str, Any] = {}

        def before(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any,
                   executemany: bool) -> None:
            conn.info.setdefault("kindred_started", []).append(time.perf_counter())

        def after(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any,
                  executemany: bool) -> None:
            started = conn.info.get("kindred_started")
            if not started:
                return
            verb = statement.lstrip()[:6].upper()
            verb = verb if verb in ("SELECT", "INSERT", "UPDATE", "DELETE") else "OTHER"
            child = children.get(verb)
            if child is None:
                child = children[verb] = self.db_time.labels(self.character, verb.lower())
            child.observe(time.perf_counter() - started.pop())

        def failed(context: Any) -> None:
            conn = getattr(context, "connection", None)
            started = conn.info.get("kindred_started") if conn is not None else None
            if started:
                started.pop()
            self.errors.labels(self.character, "database", type(context.original_exception).__name__).inc()

        for engine in engines:
            event.listen(engine, "before_cursor_execute", before)
            event.listen(engine, "after_cursor_execute", after)
            event.listen(engine, "handle_error", failed)

    # -- the event loop's lag

    def start_lag_sampler(self, interval: float = LAG_INTERVAL) -> None:
        """A timer due every ``interval`` seconds, its lateness observed: one callback a second, no task
        (the durable timer loop moves database rows; the heartbeat reads once a minute)."""
        loop = asyncio.get_running_loop()

        def tick(due: float) -> None:
            now = loop.time()
            self._lag.observe(max(0.0, now - due))
            self._lag_handle = loop.call_at(now + interval, tick, now + interval)

        start = loop.time() + interval
        self._lag_handle = loop.call_at(start, tick, start)

    def stop_lag_sampler(self) -> None:
        if self._lag_handle is not None:
            self._lag_handle.cancel()
            self._lag_handle = None


class Tracing:
    """OpenTelemetry traces of a reply's stages (``otel_endpoint``): spans exported over OTLP/HTTP in
    batches from the SDK's own thread. The SDK is an optional extra (``pip install .[otel]``), imported only
    when this is built."""

    def __init__(self, endpoint: str, service: str, *, exporter: Any = None) -> None:
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor

        self.provider = TracerProvider(resource=Resource.create({"service.name": service}))
        if exporter is None:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

            self.provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint)))
        else:  # a test's in-memory exporter: each span at once
            self.provider.add_span_processor(SimpleSpanProcessor(exporter))
        self.tracer = self.provider.get_tracer("kindred")

    @contextlib.contextmanager
    def span(self, name: str, attributes: Mapping[str, str | int | float | bool] | None = None
             ) -> Iterator[None]:
        with self.tracer.start_as_current_span(name, attributes=dict(attributes or {})):
            yield

    async def close(self) -> None:
        """The last batch sent (from a thread: the exporter's HTTP call blocks)."""
        await asyncio.to_thread(self.provider.shutdown)


Span = Callable[..., contextlib.AbstractContextManager[None]]


def span_of(tracing: Tracing | None) -> Span | None:
    """The span maker a stage uses: the tracer's, or None without traces (the stage then makes none, and
    enters nothing of this module for it)."""
    return tracing.span if tracing is not None else None
