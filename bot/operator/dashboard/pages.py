"""The pages that are not about one person: the overview with its charts, the character, the live stream."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial

from aiohttp import web
from markupsafe import Markup

from bot.core.i18n import N_, t
from bot.core.models.capabilities import WEB_SEARCH_USD, ModelTable
from bot.core.numbers import number as figure
from bot.core.numbers import percent as share_of
from bot.operator.admin.language import format_latency, shard_name
from bot.operator.dashboard.charts import Series, bar_chart
from bot.operator.dashboard.render import (
    CONTEXT,
    LIVE,
    error_page,
    money,
    render,
    request_language,
    session_of,
)
from database.records import DailyUsage, Usage
from memory.identity import IDENTITY_KINDS

log = logging.getLogger(__name__)

DAYS = 30
KEEPALIVE_SECONDS = 15.0
MOOD_KEY = "daily_mood"
# The character's emotional state and current status: global state keys once the character keeps them
# (issue 11). Shown when present; never made up.
FEELING_KEYS = {"emotional_state": N_("Emotional state"), "status": N_("Current status")}
INTERNAL_KEYS = {"app_commands_hash"}  # bookkeeping, not the character


def last_days(count: int = DAYS, today: datetime | None = None) -> list[str]:
    end = (today or datetime.now(UTC)).date()
    return [(end - timedelta(days=count - 1 - i)).isoformat() for i in range(count)]


@dataclass(frozen=True)
class Totals:
    seen: int
    answered: int
    calls: int
    tokens: int
    cost: float
    cache_share: float
    fallbacks: int
    failed_calls: int


def percent(value: float) -> str:
    return f"{value:.0f}%"


def usd(value: float) -> str:
    if value == 0:
        return "$0"
    return f"${value:,.2f}" if value >= 0.1 else f"${value:.4f}"


def overview_charts(days: list[str], counts: dict[str, dict[str, int]],
                    usage: dict[str, DailyUsage], language: str | None = None) -> tuple[list[Markup], Totals]:
    def counter(name: str) -> list[float]:
        return [float(counts.get(d, {}).get(name, 0)) for d in days]

    def used(d: str) -> DailyUsage:
        return usage.get(d) or DailyUsage(d)

    seen, answered, voted, votes = counter("seen"), counter("answered"), counter("voted"), counter("votes")
    fallbacks = counter("fallbacks")
    lang = language or "en"

    english = lang == "en"  # English keeps its compact figures ("$1.20", "40%")
    cost_fmt = usd if english else (lambda v: money(lang, v))
    share_fmt = percent if english else (lambda v: share_of(v / 100, language))
    chart = partial(bar_chart, empty=t(language, "nothing yet"), language=lang)
    charts = [
        chart("messages", t(language, "Messages seen and answered per day"), days,
              [Series(t(language, "seen"), seen), Series(t(language, "answered"), answered)]),
        chart("calls", t(language, "Claude calls per day"), days,
              [Series(t(language, "calls"), [used(d).calls for d in days])]),
        chart("tokens", t(language, "Tokens per day"), days,
              [Series(t(language, "tokens"), [used(d).total_tokens for d in days])]),
        chart("cost", t(language, "Cost per day (USD)"), days,
              [Series(t(language, "cost"), [used(d).cost for d in days])], fmt=cost_fmt),
        chart("cache", t(language, "Prompt tokens read from the cache"), days,
              [Series(t(language, "cache read share"), [100 * used(d).cache_read_share for d in days])],
              fmt=share_fmt),
        chart("votes", t(language, "Votes per unaddressed message"), days,
              [Series(t(language, "votes"),
                      [v / n if n else 0.0 for v, n in zip(votes, voted, strict=True)])],
              fmt=lambda v: figure(round(v, 2), lang)),
        chart("fallbacks", t(language, "Fallbacks and failed Claude calls per day"), days,
              [Series(t(language, "fallback replies"), fallbacks),
               Series(t(language, "failed calls"), [used(d).failures for d in days])]),
    ]
    month = [used(d) for d in days]
    prompt = sum(u.input_tokens + u.cache_creation_tokens + u.cache_read_tokens for u in month)
    totals = Totals(int(sum(seen)), int(sum(answered)), sum(u.calls for u in month),
                    sum(u.total_tokens for u in month), sum(u.cost for u in month),
                    sum(u.cache_read_tokens for u in month) / prompt if prompt else 0.0, int(sum(fallbacks)),
                    sum(u.failures for u in month))
    return charts, totals


@dataclass(frozen=True)
class Savings:
    """What the same calls would have cost with no prompt caching and no batches, and so what each saved."""

    # USD: every prompt token at the input price, at standard (not batch) prices, and the web searches'
    # fees, which neither saves: without them caching would look as if it had cost money
    uncached: float
    caching: float
    batching: float


def savings(models: list[tuple[str, Usage]], batched: list[tuple[str, Usage]], table: ModelTable
            ) -> Savings:
    """From the usage rows per model, priced on the capability table (models it does not know, priced by
    ``model_costs``, are left out). Cache writes count at the 5-minute price: the rows do not keep which
    were one-hour ones, so the caching figure is a little high when the hour was used."""
    half = {model: used for model, used in batched}
    uncached = caching = batching = 0.0
    for model, used in models:
        family = table.family(model)
        if family is None:
            continue
        prompt = used.input_tokens + used.cache_creation_tokens + used.cache_read_tokens
        plain = family.price(prompt, used.output_tokens, 0, 0)
        cached = family.price(used.input_tokens, used.output_tokens, used.cache_creation_tokens,
                              used.cache_read_tokens)
        uncached += plain + used.web_searches * WEB_SEARCH_USD
        caching += plain - cached
        batching += half[model].cost if model in half else 0.0  # billed at half: the other half was saved
    return Savings(uncached, caching, batching)


async def overview(request: web.Request) -> web.Response:
    ctx = request.app[CONTEXT]
    days = last_days()
    since = datetime.fromisoformat(days[0]).replace(tzinfo=UTC)
    counts, usage, db_size, models, batched = await asyncio.gather(
        ctx.store.stats.daily_counts(ctx.character_key, days[0]), ctx.store.stats.daily_usage(since),
        ctx.store.stats.database_size(), ctx.store.usage.by_model(since), ctx.store.usage.batched(since))
    language = request_language(request)
    charts, totals = overview_charts(days, counts, {u.day: u for u in usage}, language)
    saved = savings(models, batched, ModelTable(ctx.settings.models.model_capabilities))
    bot = ctx.bot
    gateway = [(shard_name(sid, language), format_latency(lat, language)) for sid, lat in bot.latencies()
               ] if bot else []
    return render(request, "overview.html", title=t(language, "Overview"), active="overview", charts=charts,
                  totals=totals, uptime=bot.uptime if bot else None,
                  guilds=bot.guild_count() if bot else None, gateway=gateway,
                  shards=ctx.settings.discord.shard_count, db_size=db_size,
                  database=ctx.settings.safe_database_url(), first_day=days[0], last_day=days[-1],
                  models=models, refusals=bot.refusals() if bot else None, saved=saved)


async def character(request: web.Request, *, drafts: dict[str, str] | None = None,
                    status: int = 200) -> web.Response:
    """``drafts``: text typed into a form that could not be saved, shown again in its box."""
    ctx = request.app[CONTEXT]
    entries, state, (interactions, stage) = await asyncio.gather(
        ctx.store.identity.entries(ctx.character_key), ctx.store.state.all(),
        ctx.store.characters.character_state(ctx.character_key))
    values = dict(state)
    language = request_language(request)
    feelings = [(t(language, label), values[key]) for key, label in FEELING_KEYS.items() if values.get(key)]
    others = [(k, v) for k, v in state if k not in INTERNAL_KEYS and k != MOOD_KEY and k not in FEELING_KEYS]
    return render(request, "character.html", status=status, title=t(language, "Character"),
                  active="character", entries=entries, kinds=IDENTITY_KINDS, mood=values.get(MOOD_KEY, ""),
                  feelings=feelings, state=others, interactions=interactions, stage=stage,
                  key=ctx.character_key, drafts=drafts or {})


async def character_page(request: web.Request) -> web.Response:
    return await character(request)


async def live(request: web.Request) -> web.Response:
    feed = request.app.get(LIVE)
    events = list(reversed(feed.recent)) if feed is not None else []
    return render(request, "live.html", title=t(request_language(request), "Live"), active="live",
                  available=feed is not None, events=events, last=events[0].number if events else 0)


async def live_events(request: web.Request) -> web.StreamResponse:
    """Server-sent events: the decisions after ``?after=<number>`` (what the page already shows), then each
    new one as it is made, with a comment line every KEEPALIVE_SECONDS so proxies keep the line open."""
    feed = request.app.get(LIVE)
    if feed is None:
        return error_page(request, 404, N_("No live stream"),
                          N_("This dashboard runs without the bot, so there are no decisions to stream."))
    try:
        after = int(request.query.get("after") or request.headers.get("Last-Event-ID") or 0)
    except ValueError:
        after = 0
    session = session_of(request)
    assert session is not None  # the guard let it through
    language = request_language(request)
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream", "X-Accel-Buffering": "no"})
    await response.prepare(request)
    queue = feed.subscribe()

    async def end_with_session() -> None:  # a logout (or an expired session) closes its open streams
        await session.ended.wait()
        feed.end(queue)

    watcher = asyncio.create_task(end_with_session())
    try:
        await response.write(b"retry: 3000\n\n")
        for event in feed.since(after):
            await response.write(event.sse(language))
        while True:
            try:
                item = await asyncio.wait_for(queue.get(), KEEPALIVE_SECONDS)
            except TimeoutError:
                await response.write(b": keep-alive\n\n")
                continue
            if item is None:  # the dashboard is stopping, or the session ended
                break
            if item.number > after:
                await response.write(item.sse(language))
    except ConnectionResetError:
        pass  # the page went away
    finally:
        watcher.cancel()
        feed.unsubscribe(queue)
    return response
