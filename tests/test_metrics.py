"""The operator's metrics over the wire: a bot against the fake Discord and the fake Claude, talked to,
then its GET /metrics read as Prometheus reads it (prometheus_client's text parser): the series an
operator graphs, with plausible values, labelled by character and never by a person, a place or their
words; the token; /metrics on the dashboard's port; the traces (OTLP/HTTP to a fake collector); the
Grafana dashboard in deploy/ checked against the shape Grafana loads."""

from __future__ import annotations

import ast
import json
import re
import socket
from collections.abc import Callable
from typing import Any, get_args

import aiohttp
import jsonschema
import pytest
from aiohttp import web
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from bot.core.config import PROJECT_ROOT
from bot.core.lines import Line
from bot.core.metrics import Metrics, error_kind
from bot.core.stages import Decision, DecisionKind
from tests.harness import CHANNEL_ID, GUILD_ID, USER2_ID, USER_ID, Harness, eventually
from tests.ports import free_port

GRAFANA = PROJECT_ROOT / "deploy" / "grafana" / "kindred.json"
TOKEN = "scrape-token-0123456789abcdef"
WORDS = ("hello", "Finn", "tidepool", "marmalade", "nobody", "particular", "still", "there")


async def scrape(port: int, token: str | None = TOKEN, *, host: str = "127.0.0.1",
                 headers: dict[str, str] | None = None) -> tuple[int, str]:
    headers = {**({"Authorization": f"Bearer {token}"} if token else {}), **(headers or {})}
    async with aiohttp.ClientSession() as http, \
            http.get(f"http://{host}:{port}/metrics", headers=headers, allow_redirects=False) as r:
        return r.status, await r.text()


def samples(text: str) -> list[Sample]:
    return [s for family in text_string_to_metric_families(text) for s in family.samples]


def value(found: list[Sample], name: str, **labels: str) -> float:
    """The sum of ``name``'s samples whose labels include ``labels``."""
    return sum(s.value for s in found if s.name == name and labels.items() <= s.labels.items())


async def test_the_metrics_an_operator_graphs_are_served_and_name_no_one(
        make_harness: Callable[..., Any]) -> None:
    port = free_port()
    h: Harness = await make_harness(metrics_port=port, metrics_token=TOKEN)
    h.claude.script("no", model="claude-test-voter", times=None)
    said = [await h.say("hello Finn, the tidepool smells of marmalade", mention=True)]
    await h.replies(CHANNEL_ID, 1)
    said.append(await h.say("nobody in particular", user=USER2_ID))  # to the vote: three noes
    await h.claude.wait_for_requests(3, model="claude-test-voter")
    assert h.bot is not None
    await h.bot.in_flight.drain()
    h.claude.fail_all(400)
    said.append(await h.say("still there?", mention=True))  # the fallback, and a model error
    posted = await h.replies(CHANNEL_ID, 2)
    h.claude.recover()
    await h.bot.in_flight.drain()

    assert (await scrape(port, None))[0] == 401  # the token is asked
    assert (await scrape(port, "wrong-token-0123456789"))[0] == 401

    async def lag_sampled() -> list[Sample] | None:  # the sampler ticks each second
        status, text = await scrape(port)
        assert status == 200
        found = samples(text)
        return found if value(found, "kindred_event_loop_lag_seconds_count") >= 1 else None

    found = await eventually(lag_sampled, "a lag sample")
    finn = {"character": "finn"}
    assert value(found, "kindred_messages_seen_total", **finn) == 3
    assert value(found, "kindred_decisions_total", reply="yes", reason="mentioned", **finn) == 2
    assert value(found, "kindred_decisions_total", reply="no", reason="vote", **finn) == 1
    assert value(found, "kindred_votes_total", vote="no", **finn) == 3
    assert value(found, "kindred_replies_total", outcome="ok", **finn) == 1
    assert value(found, "kindred_replies_total", outcome="fallback", **finn) == 1
    assert value(found, "kindred_model_calls_total", purpose="reply", outcome="ok",
                 model="claude-test-default") == 1
    assert value(found, "kindred_model_calls_total", purpose="vote", outcome="ok") == 3
    assert value(found, "kindred_errors_total", source="model", kind="client_error") >= 1
    assert value(found, "kindred_model_tokens_total", purpose="reply", kind="input") > 0
    assert value(found, "kindred_model_tokens_total", purpose="reply", kind="output") > 0
    assert value(found, "kindred_spend_usd_total", purpose="reply") > 0
    assert 0 <= value(found, "kindred_model_cache_read_share", purpose="reply") <= 1
    assert 0 < value(found, "kindred_model_latency_seconds_sum", purpose="reply") < 5
    # Discord's own clock: from the message's id to the reply's, at most the test's few seconds
    replied = value(found, "kindred_reply_latency_seconds_count", **finn)
    assert replied >= 1 and 0 <= value(found, "kindred_reply_latency_seconds_sum", **finn) < 5 * replied
    assert value(found, "kindred_db_statement_seconds_count", statement="insert") > 0
    assert value(found, "kindred_db_statement_seconds_count", statement="select") > 0
    assert 0 <= value(found, "kindred_event_loop_lag_seconds_sum") < 1
    queues = {s.labels["queue"] for s in found if s.name == "kindred_queue_depth"}
    assert {"replies_in_flight", "owed_replies", "summaries", "log_mirror", "activity_counters"} <= queues
    assert value(found, "kindred_queue_depth", queue="replies_in_flight") == 0  # drained
    assert value(found, "kindred_voice_latency_seconds_count") == 0  # no voice here: declared, not observed

    # no label carries a person, a place, a message or its words
    ids = {str(i) for i in (USER_ID, USER2_ID, GUILD_ID, CHANNEL_ID)} | {
        str(m["id"]) for m in [*said, *posted]}
    for s in found:
        for label in s.labels.values():
            assert not any(i in label for i in ids), (s.name, label)
            assert not any(w.lower() in label.lower() for w in WORDS if w != "Finn"), (s.name, label)
            assert "alice" not in label and "bob" not in label


async def test_metrics_share_the_dashboards_port_without_its_login(make_harness: Callable[..., Any]) -> None:
    port = free_port()
    await make_harness(dashboard_port=port, dashboard_token="dash-token-0123456789abcdef",
                       metrics_port=port)
    status, text = await scrape(port, None)  # no metrics_token: none asked of this machine
    assert status == 200 and "kindred_messages_seen_total" in text
    # the dashboard gone public behind a proxy: a relayed request is another machine's, refused
    status, text = await scrape(port, None, headers={"X-Forwarded-For": "203.0.113.9"})
    assert status == 403 and "kindred_" not in text
    async with aiohttp.ClientSession() as http, \
            http.get(f"http://127.0.0.1:{port}/", allow_redirects=False) as r:
        assert r.status in (302, 303) and "/login" in r.headers["Location"]  # the pages still need it


def decision_calls() -> list[tuple[str, ast.Call]]:
    """Every ``Decision(...)`` the product builds, with where (file:line)."""
    found = []
    for folder in ("bot", "cogs", "memory", "database"):
        for path in sorted((PROJECT_ROOT / folder).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) \
                        and node.func.id == "Decision":
                    found.append((f"{path.relative_to(PROJECT_ROOT)}:{node.lineno}", node))
    return found


def kind_words(kind: ast.expr) -> set[str]:
    """The kinds a ``kind=`` argument names: a word, or one of two; none when it is passed on from another
    decision or verdict (``decision.kind``: mypy checks its type)."""
    if isinstance(kind, ast.Constant):
        return {kind.value}
    if isinstance(kind, ast.IfExp):
        return kind_words(kind.body) | kind_words(kind.orelse)
    return set()


async def test_every_decision_is_made_with_its_kind_and_counted_by_it() -> None:
    kinds = set(get_args(DecisionKind))
    calls = decision_calls()
    assert len(calls) > 20, calls  # the scan sees them (the decider, admission, the gates, the ensemble)
    given: set[str] = set()
    for where, call in calls:
        [kind] = [k.value for k in call.keywords if k.arg == "kind"] or [None]
        assert kind is not None, f"{where}: a Decision without its kind"
        for word in kind_words(kind):
            assert word in kinds, f"{where}: {word!r} is no DecisionKind"
            given.add(word)
    # the first look's verdicts carry theirs (bot/reply/deciding/firstlook.py Look), and its default
    given |= {"first_look_budget", "first_look_uninteresting"}
    assert given == kinds, kinds ^ given  # each kind is one some decision is made with: none dead

    metrics = Metrics("finn")
    named = Decision(False, Line("addressed to {names}; coalesced into {message}", names="Alice, Bob",
                                 message=900000000000000123), kind="addressed_to_others")
    for decision in (named, Decision(True, Line("majority vote"), (True, True, None), kind="vote")):
        await metrics.on_decision(None, decision)  # type: ignore[arg-type]  # (the message is not read)
    text = generate_latest(metrics.registry).decode()
    decided = {s.labels["reason"]: s.value for s in samples(text) if s.name == "kindred_decisions_total"}
    assert decided == {"addressed_to_others": 1, "vote": 1}  # the kind it carries, never its reason's words
    assert "Alice" not in text and "900000000000000123" not in text


def test_a_model_error_becomes_a_bounded_kind() -> None:
    assert [error_kind(e) for e in ("refusal", "timed out after 5s (HTTP 529)", "HTTP 429 slow down",
                                    "HTTP 500 oops", "HTTP 404 no such model", "weird")] == \
        ["refusal", "timeout", "rate_limited", "server_error", "client_error", "other"]


def test_each_process_has_its_own_registry() -> None:
    a, b = Metrics("finn"), Metrics("lumen")  # never the library's global one: no clash between them
    a.model_call(purpose="reply", model="m", input_tokens=10, output_tokens=2, cache_read_tokens=30,
                 cache_creation_tokens=0, cost=0.01, latency_ms=120, ok=True, error="")
    assert a.registry.get_sample_value("kindred_model_cache_read_share",
                                       {"character": "finn", "purpose": "reply"}) == 0.75
    assert b.registry.get_sample_value("kindred_model_calls_total", {"character": "lumen", "purpose": "reply",
                                                                     "model": "m", "outcome": "ok"}) is None


async def test_a_replys_stages_reach_the_otlp_collector_as_spans(make_harness: Callable[..., Any]) -> None:
    pytest.importorskip("opentelemetry.exporter.otlp.proto.http")  # the otel extra
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    received: list[str] = []

    async def collect(request: web.Request) -> web.Response:
        body = ExportTraceServiceRequest.FromString(await request.read())
        received.extend(span.name for r in body.resource_spans for s in r.scope_spans for span in s.spans)
        return web.Response(body=b"", content_type="application/x-protobuf")

    app = web.Application()
    app.router.add_post("/v1/traces", collect)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        h: Harness = await make_harness(otel_endpoint=f"http://127.0.0.1:{port}/v1/traces")
        await h.say("hello Finn", mention=True)
        await h.replies(CHANNEL_ID, 1)
        await h.stop_bot()  # the last batch is sent as the bot closes
        stages = {"reply.message", "reply.admit", "reply.decide", "reply.respond", "model.call"}
        assert stages <= set(received)
    finally:
        await runner.cleanup()


# The part of Grafana's dashboard model (schemaVersion 39) an import reads: the keys and types a dashboard
# must have for Grafana to load it, as a JSON schema (checked with jsonschema, a dependency already).
PANEL_TYPES = ["timeseries", "stat", "gauge", "bargauge", "table", "heatmap", "text"]
INTEGER = {"type": "integer", "minimum": 0}
DATASOURCE = {"type": "object", "required": ["type", "uid"],
              "properties": {"type": {"const": "prometheus"}, "uid": {"type": "string"}}}
DASHBOARD_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "required": ["title", "uid", "schemaVersion", "panels", "templating", "time"],
    "properties": {
        "title": {"type": "string", "minLength": 1},
        "uid": {"type": "string", "pattern": "^[A-Za-z0-9_-]{1,40}$"},
        "schemaVersion": {"type": "integer", "minimum": 30},
        "time": {"type": "object", "required": ["from", "to"]},
        "templating": {"type": "object", "required": ["list"], "properties": {"list": {
            "type": "array", "items": {"type": "object", "required": ["name", "type"]}}}},
        "panels": {"type": "array", "minItems": 1, "items": {
            "type": "object",
            "required": ["id", "type", "title", "gridPos", "datasource", "targets"],
            "properties": {
                "id": {"type": "integer", "minimum": 1},
                "type": {"enum": PANEL_TYPES},
                "title": {"type": "string", "minLength": 1},
                "gridPos": {"type": "object", "required": ["h", "w", "x", "y"],
                            "properties": {"h": {"type": "integer", "minimum": 1},
                                           "w": {"type": "integer", "minimum": 1, "maximum": 24},
                                           "x": {"type": "integer", "minimum": 0, "maximum": 23},
                                           "y": INTEGER}},
                "datasource": DATASOURCE,
                "targets": {"type": "array", "minItems": 1, "items": {
                    "type": "object", "required": ["refId", "expr"],
                    "properties": {"refId": {"type": "string"}, "expr": {"type": "string", "minLength": 1},
                                   "datasource": DATASOURCE}}},
            }}},
    },
}


def check_dashboard(board: dict[str, Any]) -> None:
    jsonschema.validate(board, DASHBOARD_SCHEMA)  # raises with the path of what is wrong
    assert {v["name"] for v in board["templating"]["list"]} >= {"datasource", "character"}
    ids = [p["id"] for p in board["panels"]]
    assert len(ids) == len(set(ids)), "panel ids repeat"
    for p in board["panels"]:
        assert p["gridPos"]["x"] + p["gridPos"]["w"] <= 24, p["title"]
        refs = [t["refId"] for t in p["targets"]]
        assert len(refs) == len(set(refs)), p["title"]
        for t in p["targets"]:
            assert t["expr"].count("(") == t["expr"].count(")"), t["expr"]


def test_the_grafana_dashboard_reads_the_metrics_the_bot_serves() -> None:
    board = json.loads(GRAFANA.read_text())
    check_dashboard(board)
    broken = json.loads(GRAFANA.read_text())
    broken["panels"][0]["gridPos"]["w"] = "12"  # what Grafana would not load
    with pytest.raises(jsonschema.ValidationError):
        check_dashboard(broken)
    exprs = " ".join(t["expr"] for p in board["panels"] for t in p.get("targets", []))
    for series in ("kindred_messages_seen_total", "kindred_decisions_total", "kindred_replies_total",
                   "kindred_votes_total", "kindred_model_calls_total", "kindred_model_tokens_total",
                   "kindred_model_cache_read_share", "kindred_spend_usd_total", "kindred_errors_total",
                   "kindred_reply_latency_seconds_bucket", "kindred_model_latency_seconds_bucket",
                   "kindred_event_loop_lag_seconds_bucket", "kindred_voice_latency_seconds_bucket",
                   "kindred_db_statement_seconds_bucket", "kindred_queue_depth"):
        assert series in exprs, series
    # and names no series the bot does not serve
    families = {f.name for f in text_string_to_metric_families(
        generate_latest(Metrics("x").registry).decode())}
    for name in set(re.findall(r"kindred_[a-z_]+", exprs)):
        base = re.sub(r"_(total|bucket|sum|count)$", "", name)
        assert base in families, name


async def test_off_by_default_on_loopback_unless_configured_and_an_open_one_warned_of(
        make_harness: Callable[..., Any], caplog: pytest.LogCaptureFixture) -> None:
    h: Harness = await make_harness()
    assert h.bot is not None
    assert h.bot.services.metrics is None and h.bot.services.metrics_server is None  # nothing built
    port = free_port()
    h = await make_harness(metrics_port=port)
    assert h.bot is not None and h.bot.services.metrics_server is not None
    assert h.bot.services.metrics_server.host == "127.0.0.1"  # loopback unless metrics_host says otherwise
    assert (await scrape(port, None))[0] == 200
    assert not [r for r in caplog.records if "reachable from other machines" in r.getMessage()]
    port = free_port()
    await make_harness(metrics_port=port, metrics_host="0.0.0.0")  # noqa: S104 - what an operator may set
    [line] = [r.getMessage() for r in caplog.records if "reachable from other machines" in r.getMessage()]
    assert "0.0.0.0" in line and "metrics_token" in line and "refused" in line
    assert any("answers only this machine" in r.getMessage() for r in caplog.records)
    assert (await scrape(port, None))[0] == 200
    # from another address of the host (not loopback): refused without a token
    other = outward_address()
    if other is not None:
        status, text = await scrape(port, None, host=other)
        assert status == 403 and "kindred_" not in text
    status, text = await scrape(port, None, headers={"Forwarded": "for=203.0.113.9"})
    assert status == 403 and "kindred_" not in text


def outward_address() -> str | None:
    """This host's address on its outward interface (no packet is sent), None when it has only loopback."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))  # TEST-NET-1: picks the route, sends nothing
        except OSError:
            return None
        address = str(probe.getsockname()[0])
    return None if address.startswith("127.") else address


async def test_a_voice_messages_transcription_is_timed_and_priced(make_harness: Callable[..., Any]) -> None:
    from tests.test_voice import OGG

    port = free_port()
    h: Harness = await make_harness(metrics_port=port, metrics_token=TOKEN, stt_backend="openai",
                                    stt_model="whisper-large-v3")
    sent = await h.discord.voice_message(USER_ID, OGG, channel_id=CHANNEL_ID, duration=30.0)
    await h.handled(sent)
    h.openai.audio_errors = [500, 503]  # the next one fails (the SDK's one retry too)
    failed = await h.discord.voice_message(USER_ID, OGG, channel_id=CHANNEL_ID, duration=3.0)
    await h.handled(failed)

    async def timed() -> list[Sample] | None:
        found = samples((await scrape(port))[1])
        return found if value(found, "kindred_voice_latency_seconds_count") >= 2 else None

    found = await eventually(timed, "two speech calls timed")
    transcribed = {"character": "finn", "purpose": "transcription"}
    assert value(found, "kindred_voice_latency_seconds_count", **transcribed) == 2
    assert 0 < value(found, "kindred_voice_latency_seconds_sum", **transcribed) < 10
    assert value(found, "kindred_spend_usd_total", purpose="transcription",
                 model="whisper-large-v3") == pytest.approx(0.003)  # half a minute at $0.006 a minute
    assert value(found, "kindred_errors_total", source="voice") == 1
    for s in found:
        assert not any(str(i) in v for v in s.labels.values() for i in (USER_ID, GUILD_ID, CHANNEL_ID))
