"""The dashboard without a browser: its figures (store.stats, the bot's per-day counters), the charts, the
sessions, its settings, and the server itself over HTTP, alone on a database as `main.py dashboard` serves
it. The browser tests (test_dashboard_browser.py) drive the pages as an operator would."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from markupsafe import escape

from bot.core.character import CharacterSource
from bot.core.config import PROJECT_ROOT, load_settings
from bot.core.errors import ConfigError
from bot.core.i18n import catalogs, t, tn
from bot.core.lines import Line
from bot.core.numbers import date_time, day, dollars, number, time_of_day
from bot.core.stages import Decision, Incoming
from bot.operator.dashboard import Dashboard, standalone_context
from bot.operator.dashboard.charts import Series, bar_chart, nice_ceiling
from bot.operator.dashboard.live import LiveFeed
from bot.operator.dashboard.render import plain
from bot.operator.dashboard.sessions import Sessions
from database.store import Store
from tests.harness import CHANNEL_ID, USER_ID, Harness, spawn_main, stop_process
from tests.place_support import place
from tests.ports import free_port

FINN = PROJECT_ROOT / "characters" / "finn"
TOKEN = "http-test-token-0123456789"
# --------------------------------------------------------------------------- the figures


async def test_day_counters_add_up_and_usage_is_read_per_day(store: Store) -> None:
    await store.stats.add_counts({("2026-11-20", "finn", "seen"): 3, ("2026-11-20", "finn", "answered"): 0})
    await store.stats.add_counts({("2026-11-20", "finn", "seen"): 2, ("2026-11-21", "finn", "seen"): 1,
                                  ("2026-11-21", "lumen", "seen"): 7})
    assert await store.stats.daily_counts("finn", "2026-11-01") == {"2026-11-20": {"seen": 5},
                                                                    "2026-11-21": {"seen": 1}}
    assert await store.stats.daily_counts("finn", "2026-11-21") == {"2026-11-21": {"seen": 1}}

    for ok, cached in ((True, 300), (True, 100), (False, 0)):
        await store.usage.record(user_id=1, purpose="reply", model="m", input_tokens=100, output_tokens=10,
                                 cache_creation_tokens=0, cache_read_tokens=cached, cost=0.5, latency_ms=1.0,
                                 ok=ok)
    today = datetime.now(UTC)
    [day] = await store.stats.daily_usage(today - timedelta(days=1))
    assert day.day == today.strftime("%Y-%m-%d")
    assert (day.calls, day.failures, day.total_tokens, day.cost) == (3, 1, 730, 1.5)
    assert day.cache_read_share == pytest.approx(400 / 700)
    assert await store.stats.daily_usage(today + timedelta(days=1)) == []
    assert (await store.stats.database_size() or 0) > 0


async def test_the_bot_counts_its_decisions_per_day(harness: Harness) -> None:
    h = harness
    h.claude.script("no", model="claude-test-voter", times=None)
    await h.say("hello Finn", mention=True)
    await h.replies(CHANNEL_ID, 1)
    await h.say("nobody in particular")  # to the vote
    await h.claude.wait_for_requests(3, model="claude-test-voter")
    await h.bot.in_flight.drain()
    h.claude.fail_all(400)
    await h.say("still there?", mention=True)  # the fallback
    await h.replies(CHANNEL_ID, 2)
    h.claude.recover()
    await h.bot.in_flight.drain()
    await h.stop_bot()  # the last counts are written at shutdown
    store = await Store(h.db_url).open()
    try:
        today = datetime.now(UTC).strftime("%Y-%m-%d")
        counts = await store.stats.daily_counts("finn", today)
    finally:
        await store.close()
    assert counts == {today: {"seen": 3, "answered": 2, "voted": 1, "votes": 3, "fallbacks": 1}}


# --------------------------------------------------------------------------- pieces


def test_charts_are_svg_with_escaped_text_and_honest_bars() -> None:
    assert [nice_ceiling(v) for v in (0, 0.3, 1, 7, 26, 101)] == [1.0, 0.5, 1.0, 10.0, 50.0, 200.0]
    svg = str(bar_chart("x", "A <b>chart</b>", ["2026-11-01", "2026-11-02"],
                        [Series("<script>alert(1)</script>", [2, 4]), Series("other", [1, 0])],
                        language="en"))
    assert svg.startswith("<svg") and "<script>" not in svg and "&lt;script&gt;" in svg
    assert "<b>" not in svg
    bars = re.findall(r'height="([\d.]+)" data-day="([\d-]+)" data-value="([\d.]+)"', svg)
    by_value = {float(v): float(height) for height, _, v in bars}
    assert by_value[4.0] == pytest.approx(2 * by_value[2.0]) and by_value[0.0] == 0
    assert "nothing yet" in str(bar_chart("e", "Empty", ["2026-11-01"], [Series("s", [0])], language="en"))


@pytest.mark.parametrize(("language", "axis", "days", "tip"), [
    ("en", ["0", "1.2K", "2.5K"], ["Nov 1", "Nov 2"], "Nov 2 · calls: 2.5K"),
    ("de", ["0", "1250", "2500"], ["1. Nov.", "2. Nov."], "2. Nov. · Aufrufe: 2500"),
    ("ru", ["0", "1,2\xa0тыс.", "2,5\xa0тыс."], ["1 нояб.", "2 нояб."], "2 нояб. · вызовы: 2,5\xa0тыс."),
    ("ja", ["0", "1250", "2500"], ["11月1日", "11月2日"], "11月2日 · 呼び出し: 2500"),
], ids=["en", "de", "ru", "ja"])
def test_a_chart_s_figures_and_days_are_written_the_page_s_way(language: str, axis: list[str],
                                                                 days: list[str], tip: str) -> None:
    """The axis's figures shortened as CLDR shortens them, the days as the language writes a day of the
    month; the data attributes stay ISO days and plain figures, for a script or a test."""
    svg = str(bar_chart("c", "Calls", ["2026-11-01", "2026-11-02"], [Series(tip.split(" · ")[1].split(":")[0],
                                                                             [0, 2500])], language=language))
    texts = re.findall(r'<text class="axis"[^>]*>([^<]*)</text>', svg)
    assert texts[:3] == axis and texts[3:] == days, texts
    assert f"<title>{tip}</title>" in svg and 'data-day="2026-11-02" data-value="2500"' in svg


def test_sessions_end_when_idle_and_the_oldest_go_first() -> None:
    sessions = Sessions(idle_seconds=60, limit=2)
    a, b = sessions.create(), sessions.create()
    assert a.csrf != b.csrf and a.id != b.id
    assert sessions.get(a.id) is a
    c = sessions.create()  # b is now the least recently used
    assert sessions.get(b.id) is None and sessions.get(c.id) is c
    a.last_used -= 61
    assert sessions.get(a.id) is None and len(sessions) == 1
    assert sessions.get(None) is None and sessions.get("") is None


async def test_the_live_feed_words_dms_as_the_log_channel_does_and_drops_for_slow_pages() -> None:
    feed = LiveFeed(keep=3)
    queue = feed.subscribe()
    now = datetime.now(UTC)
    for i in range(105):
        await feed.on_decision(Incoming(i, 3, "alice", f"secret {i}", now, place=place(2, True)),
                               Decision(True, Line("dm"), kind="direct_message"))
    assert [e.number for e in feed.recent] == [103, 104, 105]
    assert all("secret" not in e.text(None) and e.text(None) == "DM from user 3: reply" for e in feed.recent)
    assert queue.qsize() == 100 and (await queue.get()).number == 6  # the slow page lost its oldest five
    assert b"event: decision" in feed.recent[-1].sse(None) and feed.since(104)[0].number == 105
    feed.close()
    assert queue.qsize() == 100 and [queue.get_nowait() for _ in range(100)][-1] is None


# --------------------------------------------------------------------------- settings


def test_dashboard_settings_are_checked_and_the_token_never_shown(tmp_path: Path) -> None:
    env = {"DISCORD_TOKEN": "d", "ANTHROPIC_API_KEY": "a"}
    settings = load_settings(FINN, None, environ=env)
    assert (settings.dashboard.dashboard_port, settings.dashboard.dashboard_host) == (0, "127.0.0.1")
    assert settings.dashboard.dashboard_token == ""
    char_env = str(FINN / "character.local.env")  # where a missing secret belongs (git-ignored)
    for extra, key, file, words in (
            ({"DASHBOARD_PORT": "8080"}, "dashboard_token", char_env, "missing"),
            ({"DASHBOARD_PORT": "8080", "DASHBOARD_TOKEN": "short-secret"}, "dashboard_token", "environment",
             "too short"),
            ({"DASHBOARD_PORT": "70000"}, "dashboard_port", "environment", "between 0"),
            ({"DASHBOARD_HOST": " "}, "dashboard_host", "environment", "must not be empty")):
        with pytest.raises(ConfigError) as err:
            load_settings(FINN, None, environ={**env, **extra})
        assert (err.value.key, err.value.file) == (key, file) and words in err.value.message
        assert "short-secret" not in str(err.value)
    with pytest.raises(ConfigError) as err:  # `main.py dashboard` needs the token even with the port at 0
        load_settings(FINN, None, environ=env, require_dashboard=True)
    assert err.value.key == "dashboard_token"
    config = tmp_path / "config.env"
    config.write_text("dashboard_port=8080\ndashboard_token=tiny\n")
    with pytest.raises(ConfigError) as err:
        load_settings(FINN, config, environ=env)
    assert err.value.file == str(config) and "tiny" not in str(err.value)
    on = load_settings(FINN, None, environ={**env, "DASHBOARD_PORT": "8080", "DASHBOARD_TOKEN": TOKEN})
    assert on.dashboard.dashboard_port == 8080 and TOKEN not in repr(on)


# --------------------------------------------------------------------------- the server alone, over HTTP


@pytest.fixture
async def alone(db_url: str) -> AsyncIterator[tuple[Store, str]]:
    """The dashboard alone on a database, as `main.py dashboard` serves it."""
    settings = load_settings(FINN, None, environ={"DATABASE_URL": db_url, "DASHBOARD_TOKEN": TOKEN},
                             require_discord=False, require_anthropic=False, require_dashboard=True)
    store = await Store(db_url).open()
    dashboard = Dashboard(standalone_context(settings, CharacterSource(FINN, None, environ={}), store),
                          "127.0.0.1", free_port())
    await dashboard.start()
    try:
        yield store, dashboard.url.rstrip("/")
    finally:
        await dashboard.stop()
        await store.close()


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', html)
    assert match, html[:500]
    return match.group(1)


async def test_alone_it_asks_for_the_token_and_guards_every_edit(alone: tuple[Store, str]) -> None:
    store, base = alone
    await store.people.ensure_user(USER_ID, "alice")
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:  # 127.0.0.1 cookies
        async with http.get(base + "/people", allow_redirects=False) as r:
            assert r.status == 303 and r.headers["Location"] == "/login?next=/people"
            assert "frame-ancestors 'none'" in r.headers["Content-Security-Policy"]
        async with http.post(f"{base}/people/{USER_ID}/premium", data={"premium": "on"}) as r:
            assert r.status == 401 and "Log in first" in await r.text()
        async with http.post(base + "/login", data={"token": TOKEN + "x", "next": "/"}) as r:
            assert r.status == 401 and "Wrong token" in await r.text() and TOKEN not in await r.text()
        async with http.post(base + "/login", data={"token": TOKEN, "next": "//evil.example/"},
                             allow_redirects=False) as r:
            assert r.status == 303 and r.headers["Location"] == "/"  # never off this dashboard
            cookie = r.headers["Set-Cookie"]
            assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
        async with http.get(base + "/") as r:
            page = await r.text()
            assert r.status == 200 and "runs without the bot" in page and page.count("<svg") == 7
        async with http.get(base + "/live") as r:
            assert "comes from the bot process" in await r.text()
        async with http.get(base + "/live/events") as r:
            assert r.status == 404
        async with http.get(base + "/prompts") as r:  # the prompt inspector reads the bot's own requests
            assert r.status == 200 and "needs the running bot" in await r.text()
        said = datetime(2026, 3, 2, 9, tzinfo=UTC)
        await store.facts.add(USER_ID, "Alice ran the Leeds half marathon", lasting=True, said_at=said,
                              happened_at=datetime(2026, 2, 28, 12, tzinfo=UTC))
        async with http.get(f"{base}/people/{USER_ID}") as r:
            person = await r.text()
            csrf = csrf_of(person)
        assert "· lasting" in person and "told Mar 2, 2026, 9:00\u202fAM UTC" in person  # CLDR's narrow space
        assert "happened Feb 28, 2026, 12:00\u202fPM UTC" in person
        forged = {"premium": "on", "csrf": "forged"}
        async with http.post(f"{base}/people/{USER_ID}/premium", data=forged) as r:
            assert r.status == 403 and "CSRF" in await r.text()
        assert not (await store.people.get_user(USER_ID)).premium  # type: ignore[union-attr]
        async with http.post(f"{base}/people/{USER_ID}/premium", data={"premium": "on", "csrf": csrf}) as r:
            assert r.status == 200 and "is now premium" in await r.text()
        assert (await store.people.get_user(USER_ID)).premium  # type: ignore[union-attr]
        async with http.post(f"{base}/people/{USER_ID}/forget", data={"csrf": csrf}) as r:
            assert "Forgot alice" in await r.text()
        assert await store.privacy.rows_about_user(USER_ID) == {}
        async with http.post(base + "/logout", data={"csrf": csrf}, allow_redirects=False) as r:
            assert r.status == 303
        async with http.get(base + "/", allow_redirects=False) as r:
            assert r.status == 303  # the session is gone


async def test_a_port_in_use_stops_start_up_naming_the_setting(alone: tuple[Store, str]) -> None:
    store, base = alone
    settings = load_settings(FINN, None, environ={"DASHBOARD_TOKEN": TOKEN}, require_discord=False,
                             require_anthropic=False)
    port = int(base.rsplit(":", 1)[1])
    second = Dashboard(standalone_context(settings, CharacterSource(FINN, None, environ={}), store),
                       "127.0.0.1", port)
    with pytest.raises(ConfigError) as err:
        await second.start()
    assert err.value.key == "dashboard_port" and f"127.0.0.1:{port}" in err.value.message


async def test_main_dashboard_serves_the_database_until_stopped(tmp_path: Path) -> None:
    """The real command: `python main.py dashboard`, logged into over HTTP, then SIGTERM (exit 0)."""
    port = free_port()
    env = {**{k: v for k, v in os.environ.items() if k.lower() not in ("discord_token", "anthropic_api_key")},
           "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}", "DASHBOARD_TOKEN": TOKEN}
    proc = await spawn_main("dashboard", "--port", str(port), env=env)
    try:
        assert proc.stdout is not None
        line = b""
        while b"Ctrl+C stops it" not in line:
            line = await asyncio.wait_for(proc.stdout.readline(), 60)
            assert line, "main.py dashboard ended before serving"
        assert f"http://127.0.0.1:{port}/".encode() in line
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
            async with http.post(f"http://127.0.0.1:{port}/login", data={"token": TOKEN}) as r:
                assert r.status == 200 and "Overview" in await r.text()
        proc.send_signal(signal.SIGTERM)
        output, _ = await asyncio.wait_for(proc.communicate(), 30)
    finally:
        await stop_process(proc)
    assert proc.returncode == 0 and b"Traceback" not in output and TOKEN.encode() not in output


async def test_main_dashboard_on_a_busy_port_says_the_port_is_in_use(tmp_path: Path) -> None:
    """`main.py dashboard --port N` on a port another program holds blamed config.env, which did not exist:
    the line names the flag and the cause, exit 2, no traceback."""
    import socket

    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen()
    port = holder.getsockname()[1]
    env = {**{k: v for k, v in os.environ.items() if k.lower() not in ("discord_token", "anthropic_api_key")},
           "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}", "DASHBOARD_TOKEN": TOKEN}
    try:
        proc = await spawn_main("dashboard", "--port", str(port), env=env, cwd=tmp_path,
                                stderr=asyncio.subprocess.PIPE)
        _, err = await asyncio.wait_for(proc.communicate(), 60)
    finally:
        holder.close()
    text = err.decode()
    assert proc.returncode == 2 and "Traceback" not in text
    [line] = [line for line in text.splitlines() if " INFO " not in line]
    assert line.startswith(f"config error: --port: dashboard_port: port {port} is already in use "), line
    assert "config.env" not in line


async def test_main_dashboard_refuses_a_short_token(tmp_path: Path) -> None:
    env: dict[str, Any] = {**os.environ, "DASHBOARD_TOKEN": "tiny"}
    proc = await spawn_main("dashboard", env=env, stderr=asyncio.subprocess.PIPE)
    _, err = await asyncio.wait_for(proc.communicate(), 60)
    text = err.decode()
    assert proc.returncode == 2 and "Traceback" not in text
    assert "environment: dashboard_token: too short" in text and "tiny" not in text


async def test_the_overview_shows_what_caching_and_batching_saved(alone: tuple[Store, str]) -> None:
    store, base = alone
    row = {"user_id": None, "model": "claude-sonnet-4-6", "latency_ms": 1.0, "ok": True}
    # sonnet 4.6: $3 in, $15 out, $3.75 a 5-minute write, $0.30 a read (per million tokens)
    await store.usage.record_all([
        # a reply that read 9,000 of its 10,000 prompt tokens from the cache and wrote 500
        {**row, "purpose": "reply", "input_tokens": 500, "cache_creation_tokens": 500,
         "cache_read_tokens": 9000, "output_tokens": 100, "cost": 0.009075},
        # a batched extraction of 2,000 plain tokens: billed $0.003 instead of $0.006
        {**row, "purpose": "consolidation batch", "input_tokens": 2000, "cache_creation_tokens": 0,
         "cache_read_tokens": 0, "output_tokens": 0, "cost": 0.003}])
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        await http.post(base + "/login", data={"token": TOKEN, "next": "/"})
        async with http.get(base + "/") as r:
            page = await r.text()
    # uncached: 12,000 x $3 + 100 x $15 = $0.0375; cached at standard prices: 2,500 x $3 + 500 x $3.75
    # + 9,000 x $0.30 + 100 x $15 = $0.013575, so caching saved $0.023925
    assert "Prompt caching saved $0.0239 and batching $0.0030" in page
    assert "(the same calls with neither: $0.0375)" in page


async def test_the_cost_with_neither_caching_nor_batches_includes_the_web_searches(
        alone: tuple[Store, str]) -> None:
    """A search's fee is paid whether or not the prompt was cached: left out of "the same calls with
    neither", the month's real cost came out above it, as if caching had cost money."""
    store, base = alone
    # sonnet 4.6 at $3 a million input tokens: 10,000 plain prompt tokens, and 3 searches at $0.01
    await store.usage.record_all([
        {"user_id": None, "model": "claude-sonnet-4-6", "latency_ms": 1.0, "ok": True, "purpose": "reply",
         "input_tokens": 10_000, "cache_creation_tokens": 0, "cache_read_tokens": 0, "output_tokens": 0,
         "cost": 0.03 + 3 * 0.01, "web_searches": 3}])
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        await http.post(base + "/login", data={"token": TOKEN, "next": "/"})
        async with http.get(base + "/") as r:
            page = await r.text()
    assert "Prompt caching saved $0.0000 and batching $0.0000" in page
    assert "(the same calls with neither: $0.0600)" in page  # what was paid, nothing saved


async def test_a_calls_speech_shows_in_the_cost_per_model(alone: tuple[Store, str]) -> None:
    """What a voice call's speech cost (its members' words transcribed, its answers spoken: recorded by
    bot/features/voice/speech.py) is on the overview with the model calls, per model."""
    store, base = alone
    row = {"user_id": USER_ID, "guild_id": 1, "latency_ms": 1.0, "ok": True, "input_tokens": 0,
           "output_tokens": 0, "cache_creation_tokens": 0, "cache_read_tokens": 0}
    await store.usage.record_all([  # ten minutes of speech at $0.006 a minute, 2,000 characters spoken
        {**row, "purpose": "transcription", "model": "whisper-1", "cost": 0.06},
        {**row, "purpose": "speech", "model": "tts-1", "cost": 0.03}])
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        await http.post(base + "/login", data={"token": TOKEN, "next": "/"})
        async with http.get(base + "/") as r:
            page = await r.text()
    rows = {m.group(1): m.group(2) for m in re.finditer(
        r"<tr><td><code>([^<]+)</code></td>.*?<td>(\$[0-9.,]+)</td></tr>", page, re.S)}
    assert rows == {"whisper-1": "$0.0600", "tts-1": "$0.0300"}


# --------------------------------------------------------------------------- the operator's language


def said(language: str, message: str, **values: object) -> str:
    """A template's line (``_()``) as the dashboard says it in ``language``: the catalog's, values filled."""
    return catalogs()[language].gettext(message) % values


def said_n(language: str, singular: str, plural: str, count: int, **values: object) -> str:
    """A template's plural line (``ngettext()``), its count written as ``language`` writes numbers."""
    return catalogs()[language].ngettext(singular, plural, count) % {"num": number(count, language), **values}


def html_lang(page: str) -> str:
    match = re.search(r'<html lang="([^"]+)">', page)
    assert match, page[:200]
    return match.group(1)


async def test_the_dashboard_speaks_the_language_the_browser_asks_for(alone: tuple[Store, str]) -> None:
    """Accept-Language picks the catalog (in its order of preference, a language without one skipped; zh-TW
    is Traditional Chinese): headings, labels, plurals, numbers and money, the login and error pages."""
    store, base = alone
    row = {"user_id": None, "model": "claude-sonnet-4-6", "latency_ms": 1.0, "ok": True, "purpose": "reply",
           "input_tokens": 500, "cache_creation_tokens": 500, "cache_read_tokens": 9000, "output_tokens": 100,
           "cost": 0.009075}
    await store.usage.record_all([row, {**row, "cost": 0.003}])  # 2 calls, 20,200 tokens, $0.0121
    await store.people.ensure_user(USER_ID, "alice")
    told = datetime(2026, 3, 2, 9, tzinfo=UTC)
    await store.facts.add(USER_ID, "Alice ran the Leeds half marathon", said_at=told)
    memory = await store.memories.add_core_memory("finn", USER_ID, "Alice keeps a crab.", source="admin")
    await store.memories.update_core_memory(memory, "Alice keeps two crabs.")  # a version archived
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        async with http.get(base + "/login", headers={"Accept-Language": "ja,en;q=0.5"}) as r:
            login = await r.text()
        assert html_lang(login) == "ja" and f"<h1>{t('ja', 'Log in')}</h1>" in login
        assert "configuration" not in login and "ボットの設定" in login  # the {% trans %} paragraph too
        async with http.post(f"{base}/people/{USER_ID}/premium", data={"premium": "on"},
                             headers={"Accept-Language": "ja"}) as r:
            refused = await r.text()
        assert r.status == 401 and t("ja", "Not logged in") in refused and "Log in first" not in refused
        assert t("ja", "Log in first: this dashboard needs its token. Nothing was changed.") in refused
        async with http.post(base + "/login", data={"token": TOKEN + "x", "next": "/"},
                             headers={"Accept-Language": "de"}) as r:
            wrong = await r.text()
        assert t("de", "Wrong token: see dashboard_token in the bot's configuration.") in wrong
        assert "Wrong token" not in wrong
        await http.post(base + "/login", data={"token": TOKEN, "next": "/"})

        for header, language in (("de-CH, de;q=0.9, en;q=0.5", "de"), ("it, ja;q=0.8", "ja"),
                                 ("zh-TW,zh;q=0.9", "zh_Hant"), ("en;q=0.3, ru", "ru")):
            async with http.get(base + "/", headers={"Accept-Language": header}) as r:
                page = await r.text()
            assert html_lang(page) == language.replace("_", "-"), header
            assert f"<h1>{t(language, 'Overview')}</h1>" in page
            assert t(language, "Log out") in page and t(language, "Prompts") in page  # the navigation
            assert said(language, "not known here: this dashboard runs without the bot") in page
            assert said_n(language, "%(num)s call", "%(num)s calls", 2) in page
            assert said_n(language, "%(num)s token", "%(num)s tokens", 20200) in page
            assert dollars(0.012075, language) in page
            assert t(language, "Claude calls per day") in page  # a chart's title
            for english in ("runs without the bot", "Cost per model", "2 calls", "Log out"):
                assert english not in page, (header, english)
            today = datetime.now(UTC).date()
            assert f">{day(today, language)}</text>" in page  # the charts' last day, the language's way
            assert f">{today.isoformat()[5:]}</text>" not in page
            if language == "de":
                assert "0,0121\xa0$" in page and "$0.0121" not in page  # where German writes the sign
        assert "20.200 Tokens" in said_n("de", "%(num)s token", "%(num)s tokens", 20200)  # German's grouping
        assert said_n("ja", "%(num)s call", "%(num)s calls", 2) == "呼び出し 2 回"

        async with http.get(f"{base}/people/{USER_ID}", headers={"Accept-Language": "fr"}) as r:
            person = await r.text()
            csrf = csrf_of(person)
        assert html_lang(person) == "fr" and t("fr", "Long-term facts") in person
        assert date_time(told, "fr") == "2 mars 2026, 09:00" and f"{date_time(told, 'fr')} UTC" in person
        assert "2026-03-02 09:00" not in person and "Mar 2, 2026" not in person
        # a memory's source and why a version was archived, stored in English, read in French
        assert t("fr", "added by an admin") in person and t("fr", "before an edit") in person
        assert "admin ·" not in person and "before edit" not in person and "added by" not in person
        consent = t("fr", "never said: remembered (memory_consent=all remembers everyone who did not opt "
                          "out)")
        assert str(escape(consent)) in person and "n&#39;ont pas refusé" in person  # escaped as any text
        async with http.get(base + "/nowhere", headers={"Accept-Language": "zh-Hant"}) as r:
            missing = await r.text()
        assert r.status == 404 and html_lang(missing) == "zh-Hant"
        assert t("zh_Hant", "There is no page {path} on this dashboard.", path="/nowhere") in missing
        assert said("zh_Hant", "Back to the overview") in missing and "There is no page" not in missing
        rows = sum((await store.privacy.rows_about_user(USER_ID)).values())
        async with http.post(f"{base}/people/{USER_ID}/forget", data={"csrf": csrf},
                             headers={"Accept-Language": "pl"}) as r:
            flashed = await r.text()
        assert tn("pl", "Forgot {name}: deleted {count} record.", "Forgot {name}: deleted {count} records.",
                  rows, name=f"alice ({USER_ID})") in flashed
        assert "Forgot alice" not in flashed

        for header in ({}, {"Accept-Language": "it-IT, nl;q=0.5, *;q=0.1"}):  # none, or none it speaks
            async with http.get(base + "/", headers=header) as r:
                page = await r.text()
            assert html_lang(page) == "en" and "<h1>Overview</h1>" in page and "2 calls" in page
            assert "runs without the bot" in page and "$0.0121" in page


async def test_an_admin_tools_answer_is_flashed_in_the_page_s_language(alone: tuple[Store, str]) -> None:
    """The answer of the tool behind an edit (the log channel's own ``premium``) is said in the language the
    browser asks for, as the page around it is."""
    store, base = alone
    await store.people.ensure_user(USER_ID, "alice")
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        await http.post(base + "/login", data={"token": TOKEN, "next": "/"})
        async with http.get(f"{base}/people/{USER_ID}") as r:
            csrf = csrf_of(await r.text())
        german = {"Accept-Language": "de"}
        async with http.post(f"{base}/people/{USER_ID}/premium", data={"premium": "on", "csrf": csrf},
                             headers=german) as r:
            flashed = await r.text()
        user = f"alice (`{USER_ID}`)"
        # the line up to the model's id (data, as it is)
        said_de = plain(t("de", "{user} is now **premium**: their replies use {model}.", user=user,
                          model="`MODEL`")).split("MODEL")[0]
        assert said_de != plain(t("en", "{user} is now **premium**: their replies use {model}.", user=user,
                                  model="`MODEL`")).split("MODEL")[0]
        assert str(escape(said_de)) in flashed and "is now premium" not in flashed
        async with http.post(f"{base}/people/{USER_ID}/premium", data={"premium": "off", "csrf": csrf}) as r:
            assert "is no longer premium" in await r.text()  # English without Accept-Language


async def test_the_live_stream_is_read_in_each_page_s_language(db_url: str) -> None:
    """The live decisions are kept as lines and rendered per page: a German page and a Japanese stream read
    the same decision each in its own language, an English page in English; a DM's words in none."""
    settings = load_settings(FINN, None, environ={"DATABASE_URL": db_url, "DASHBOARD_TOKEN": TOKEN},
                             require_discord=False, require_anthropic=False, require_dashboard=True)
    store = await Store(db_url).open()
    dashboard = Dashboard(standalone_context(settings, CharacterSource(FINN, None, environ={}), store),
                          "127.0.0.1", free_port())
    dashboard.live = feed = LiveFeed()
    await dashboard.start()
    base = dashboard.url.rstrip("/")
    try:
        dm = Incoming(1, 3, "alice", "meine geheime Nachricht", datetime.now(UTC), place=place(2, True))
        await feed.on_decision(dm, Decision(True, Line("dm"), kind="direct_message"))
        line = {language: t(language, "DM from user {user}: reply", user=3) for language in ("en", "de",
                                                                                             "ja")}
        assert len(set(line.values())) == 3  # the catalogs say it three ways
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
            await http.post(base + "/login", data={"token": TOKEN, "next": "/"})
            for language in ("de", "en"):
                async with http.get(base + "/live", headers={"Accept-Language": language}) as r:
                    page = await r.text()
                assert line[language] in page and "geheime" not in page
                assert all(other not in page for key, other in line.items() if key != language)
            async with http.get(base + "/live/events?after=0", headers={"Accept-Language": "ja"}) as stream:
                while not (data := await stream.content.readline()).startswith(b"data: "):
                    pass
            event = json.loads(data[len(b"data: "):])
            assert event["text"] == line["ja"] and event["reply"] and event["dm"]
            at = feed.recent[-1].at
            assert event["time"] == time_of_day(at, "ja", seconds=True) != time_of_day(at, "en", seconds=True)
    finally:
        await dashboard.stop()
        await store.close()
