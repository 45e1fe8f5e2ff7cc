"""Admin commands in the log channel, over the wire: who may use them and where, what they answer, the
list-users pages and their buttons, premium, verbose mirroring (DMs never quoted), status, and shutdown."""

from __future__ import annotations

import asyncio
import logging
import math
import os
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import make_url

from bot.core.lines import Line
from bot.core.stages import Incoming
from bot.core.text import page_of
from bot.core.tokens import counted
from bot.discord.permissions import is_admin
from bot.operator.admin.language import (
    AdminCommand,
    format_latency,
    named_lines,
    parse_command,
    parse_user_id,
)
from bot.operator.conversation_tools import InvalidInput
from bot.operator.logmirror import STATE_KEY
from bot.runtime.jobs import consolidation_figures
from database.records import Turn
from tests.fakes import EVENT_WAIT
from tests.fakes.discord_components import MAX_V2_COMPONENTS, MAX_V2_TEXT, walk_components
from tests.fakes.discord_lead import panel_texts
from tests.harness import (
    ADMIN_ID,
    CHANNEL_ID,
    EPHEMERAL,
    LOG_CHANNEL_ID,
    OTHER_CHANNEL_ID,
    OWNER_ID,
    USER2_ID,
    USER_ID,
    Harness,
    MakeHarness,
    button,
    consolidate,
    log_posts,
    panel_fields,
    panel_text,
)
from tests.place_support import place

VOTER, DEFAULT, PREMIUM = "claude-test-voter", "claude-test-default", "claude-test-premium"


# --------------------------------------------------------------------------- helpers


async def admin_says(h: Harness, text: str, n: int, *, user: int = ADMIN_ID) -> dict[str, Any]:
    """Post ``text`` in the log channel and return the bot's ``n``-th message there."""
    await h.say(text, user=user, channel=LOG_CHANNEL_ID)
    return (await h.replies(LOG_CHANNEL_ID, n))[n - 1]


async def wait_until(h: Harness, predicate: Callable[[], Any], what: str, timeout: float = EVENT_WAIT) -> Any:
    return await h.discord.wait_for(lambda _: predicate(), timeout, what=what)


def sqlite_handles(database: str) -> int:
    """This process's open file handles on a SQLite database file (and its -wal, -shm)."""
    path = os.path.realpath(database)
    fds = Path("/proc/self/fd")
    if not fds.is_dir():
        pytest.skip("counting open SQLite handles needs /proc")
    targets = []
    for fd in fds.iterdir():
        try:
            targets.append(os.readlink(fd))
        except OSError:  # closed while listing
            continue
    return sum(1 for target in targets if target.startswith(path))


async def open_database_connections(db_url: str) -> int:
    """How many connections to the test database are open, seen from outside the bot's code: PostgreSQL's
    own list of sessions, or the open file handles on a SQLite file."""
    url = make_url(db_url)
    if url.get_backend_name() == "sqlite":
        return sqlite_handles(str(url.database))
    import asyncpg

    conn = await asyncpg.connect(host=url.host or "127.0.0.1", port=url.port or 5432,
                                 user=url.username or "postgres", password=url.password,
                                 database=url.database)
    try:
        return int(await conn.fetchval("SELECT count(*) FROM pg_stat_activity "
                                       "WHERE datname = current_database() AND pid <> pg_backend_pid()"))
    finally:
        await conn.close()


# --------------------------------------------------------------------------- the command language


def test_parse_command_matches_whole_messages_only() -> None:
    assert parse_command("shutdown? Finn") == AdminCommand("shutdown", "Finn")
    assert parse_command("  User Data? 123 ") == AdminCommand("user_data", "123")
    assert parse_command("list users") == AdminCommand("list_users")
    assert parse_command("list users 2") == AdminCommand("list_users", "2")
    assert parse_command("premium 42") == AdminCommand("premium", "42")
    assert parse_command("verbose") == AdminCommand("verbose")
    assert parse_command("VERBOSE off") == AdminCommand("verbose", "off")
    assert parse_command("status") == AdminCommand("status")
    assert parse_command("testlog") == AdminCommand("testlog")
    for chat in ("what's the status?  of the tide", "my status is fine", "please list users now", "hello"):
        assert parse_command(chat) is None, chat


def test_user_ids_and_pages() -> None:
    assert parse_user_id("123") == 123
    assert parse_user_id("<@!456>") == 456
    for bad in ("", "alice", "12a", "-5", "0"):
        with pytest.raises(InvalidInput):
            parse_user_id(bad)
    page = page_of(23, 0)
    assert (page.number, page.count, page.offset, page.has_prev, page.has_next) == (0, 3, 0, False, True)
    last = page_of(23, 99)
    assert (last.number, last.offset, last.has_prev, last.has_next) == (2, 20, True, False)
    empty = page_of(0, 5)
    assert (empty.number, empty.count, empty.has_prev, empty.has_next) == (0, 1, False, False)


# --------------------------------------------------------------------------- who and where


async def test_admin_command_is_answered_without_reply_work_nor_logging(harness: Harness) -> None:
    h = harness
    sent = await h.say("testlog", user=ADMIN_ID, channel=LOG_CHANNEL_ID)
    [line] = await h.replies(LOG_CHANNEL_ID)
    assert "Test log line from Finn" in line["content"] and "admin" in line["content"]
    await h.handled(sent, line)  # the command and the echo of its answer
    # The log channel is not conversation (issue 49, item 2): neither the command nor the answer is logged.
    assert await h.store.log.recent_messages(LOG_CHANNEL_ID, limit=10) == []
    assert h.claude.requests == []  # no vote, no reply
    assert len(h.discord.posted(LOG_CHANNEL_ID)) == 1


async def test_application_owner_is_an_admin_too(harness: Harness) -> None:
    line = await admin_says(harness, "testlog", 1, user=harness.owner_id)
    assert "Test log line" in line["content"]


async def test_non_admin_in_the_log_channel_is_ordinary_chat(harness: Harness) -> None:
    h = harness
    h.claude.script("yes", model=VOTER, times=3)
    h.claude.script("Status? Calm waters, friend.", model=DEFAULT)
    await h.say("status please", user=USER_ID, channel=LOG_CHANNEL_ID)
    [reply] = await h.replies(LOG_CHANNEL_ID)
    assert reply["content"] == "Status? Calm waters, friend."
    assert len(h.claude.requests_for(VOTER)) == 3
    assert "status" in h.claude.all_text(h.claude.requests_for(DEFAULT)[0])
    assert not any("Models:" in text for text in log_posts(h))


async def test_admin_elsewhere_is_ordinary_chat(harness: Harness) -> None:
    h = harness
    await seed_user(h, USER_ID, "alice")  # known, so "premium <id>" would have found and flipped them
    h.claude.script("yes", model=VOTER, times=3)
    h.claude.script("Premium kelp, coming up.", model=DEFAULT)
    sent = await h.say(f"premium {USER_ID}", user=ADMIN_ID, channel=OTHER_CHANNEL_ID)
    [reply] = await h.replies(OTHER_CHANNEL_ID)
    assert reply["content"] == "Premium kelp, coming up."
    await h.handled(sent)
    user = await h.store.people.get_user(USER_ID)
    assert user is not None and not user.premium
    assert h.discord.posted(LOG_CHANNEL_ID) == []


async def test_admin_chat_that_is_no_command_goes_to_the_character(harness: Harness) -> None:
    h = harness
    h.claude.script("Evening, boss.", model=DEFAULT)
    await h.say("evening Finn, how are the tides?", user=ADMIN_ID, channel=LOG_CHANNEL_ID)
    [reply] = await h.replies(LOG_CHANNEL_ID)
    assert reply["content"] == "Evening, boss."


# --------------------------------------------------------------------------- user data, list users, premium


async def seed_user(h: Harness, user_id: int, name: str, *, secret: str = "") -> None:
    await h.store.people.ensure_user(user_id, name)
    if secret:
        key = h.bot.services.pipeline.character_key
        await h.store.conversations.append_turns(key, user_id, f"channel:{CHANNEL_ID}",
                                   [counted(Turn("user", secret)), counted(Turn("assistant", "noted"))])
        key = h.bot.services.pipeline.character_key
        await h.store.memories.add_core_memory(key, user_id, "likes " + secret)
    await h.store.usage.record(user_id=user_id, purpose="reply", model=DEFAULT, input_tokens=1200,
                                  output_tokens=300, cache_creation_tokens=0, cache_read_tokens=500,
                                  cost=0.0123,
                                  latency_ms=5, ok=True)


async def test_user_data_shows_figures_never_text(harness: Harness) -> None:
    h = harness
    await seed_user(h, USER_ID, "alice", secret="secret-kelp-recipe")
    answer = await admin_says(h, f"user data? {USER_ID}", 1)
    text, fields = panel_text(answer), panel_fields(answer)  # a report: a Components V2 panel
    assert f"### alice (`{USER_ID}`)" in text
    assert fields["Plan"].startswith("standard") and DEFAULT in fields["Plan"]
    assert fields["Usage"].startswith("1 call · 2,000 tokens (1,200 in, 300 out, 500 cache read")
    assert "$0.0123" in fields["Usage"]
    assert fields["Conversations"].startswith("2 messages") and fields["Core memories"] == "1"
    assert "secret-kelp-recipe" not in text

    dm = await h.dm("my secret diary entry about kelp", user=USER_ID)  # over the wire: a DM's text
    await h.replies(int(dm["channel_id"]))
    await h.bot.in_flight.drain()
    again = panel_fields(await admin_says(h, f"user data? {USER_ID}", 2))
    assert again["Usage"].startswith("2 calls") and again["Conversations"].startswith("4 messages")
    listed = panel_text(await admin_says(h, "list users", 3))
    assert "alice" in listed
    assert not any("diary" in t or "secret-kelp" in t for t in log_posts(h))  # no report quotes anyone


@pytest.mark.parametrize(("arg", "answer"), [
    ("abc", "is not a user id"),
    ("424242", "I don't know user 424242"),
    ("", "Usage: `user data? <user id>`"),
])
async def test_user_data_bad_arguments(harness: Harness, arg: str, answer: str) -> None:
    text = (await admin_says(harness, f"user data? {arg}".strip(), 1))["content"]
    assert answer in text  # a one-line answer stays plain text
    assert harness.claude.requests == []


async def test_premium_toggles_the_reply_model(harness: Harness) -> None:
    h = harness
    await seed_user(h, USER_ID, "alice")
    assert "is now **premium**" in (await admin_says(h, f"premium {USER_ID}", 1))["content"]
    await h.say("a pot of your finest, please", mention=True)
    await h.replies(CHANNEL_ID, 1)
    assert [r.model for r in h.claude.requests] == [PREMIUM]

    assert "no longer premium" in (await admin_says(h, f"premium {USER_ID}", 2))["content"]
    await h.say("and a cheap one", mention=True)
    await h.replies(CHANNEL_ID, 2)
    assert [r.model for r in h.claude.requests] == [PREMIUM, DEFAULT]
    assert "Usage: `premium <user id>`" in (await admin_says(h, "premium", 3))["content"]
    assert "I don't know user 77" in (await admin_says(h, "premium 77", 4))["content"]


async def test_list_users_pages_with_admin_only_buttons(harness: Harness) -> None:
    h = harness
    for i in range(22):  # and the admin: 23 known users (the log channel's lines are not logged)
        await h.store.people.ensure_user(700_000_000_000_000_000 + i, f"user{i:02d}")
    await h.store.people.ensure_user(ADMIN_ID, "admin")
    page1 = await admin_says(h, "list users", 1)
    assert "of 23 (page 1/3)" in panel_text(page1) and panel_text(page1).count(" msgs · ") == 10
    assert button(page1, "prev")["disabled"] is True and not button(page1, "next").get("disabled")

    refused = await h.click(page1, button(page1, "next")["custom_id"], user=USER_ID)
    answer = await refused.message()
    assert answer["flags"] & EPHEMERAL and "Only the bot's admins" in answer["content"]
    assert "page 1/3" in panel_text(h.discord.messages[int(page1["id"])])

    click = await h.click(page1, button(page1, "next")["custom_id"], user=ADMIN_ID)
    assert (await click.response())["type"] == 7  # the page message itself changes
    page2 = h.discord.messages[int(page1["id"])]
    assert "11–20 of 23 (page 2/3)" in panel_text(page2)
    assert not button(page2, "prev").get("disabled") and not button(page2, "next").get("disabled")

    await (await h.click(page2, button(page2, "next")["custom_id"], user=ADMIN_ID)).response()
    page3 = h.discord.messages[int(page1["id"])]
    assert "21–23 of 23 (page 3/3)" in panel_text(page3)
    assert button(page3, "next")["disabled"] is True and not button(page3, "prev").get("disabled")

    await (await h.click(page3, button(page3, "prev")["custom_id"], user=ADMIN_ID)).response()
    assert "page 2/3" in panel_text(h.discord.messages[int(page1["id"])])
    assert "page 3/3" in panel_text(await admin_says(h, "list users 3", 2))
    assert "pages count from 1" in (await admin_says(h, "list users x", 3))["content"]


# --------------------------------------------------------------------------- verbose


async def test_verbose_mirrors_decisions_errors_and_never_dm_text(harness: Harness) -> None:
    h = harness
    assert "Verbose mode is **on**" in (await admin_says(h, "verbose", 1))["content"]
    assert await h.store.state.get(STATE_KEY) == "on"

    h.claude.script("no", model=VOTER, times=3)
    await h.say("the tide is turning early today", user=USER2_ID)
    line = await wait_until(h, lambda: [t for t in log_posts(h) if "tide is turning" in t],
                            "a mirrored decision")
    assert "stay quiet (majority vote; votes: no no no)" in line[0]

    dm = await h.dm("my secret diary entry about kelp")
    await h.replies(int(dm["channel_id"]))
    await wait_until(h, lambda: f"DM from user {USER_ID}: reply" in log_posts(h), "the DM line")
    assert not any("diary" in text for text in log_posts(h))

    h.claude.fail_all(400)
    await h.say("hello?", mention=True)
    await h.replies(CHANNEL_ID)  # the fallback reply
    await wait_until(h, lambda: any("❗ Claude reply call failed" in t for t in log_posts(h)),
                     "the error line")
    h.claude.recover()

    await h.bot.mirror.drain()  # every mirrored line is posted: the next posts are the admin's answers
    before = len(log_posts(h))
    assert "Verbose mode is **off**" in (await admin_says(h, "verbose off", before + 1))["content"]
    h.claude.script("no", model=VOTER, times=3)
    await h.handled(await h.say("quiet now please", user=USER2_ID))  # voted down
    await h.bot.mirror.drain()  # what it mirrored, were it anything, is posted
    assert not any("quiet now please" in t for t in log_posts(h))
    assert "Usage: `verbose [on|off]`" in (await admin_says(h, "verbose maybe", before + 2))["content"]


async def test_verbose_starts_from_the_setting_then_the_saved_state(make_harness: MakeHarness) -> None:
    h = await make_harness(verbose_logging="true")
    assert h.bot.mirror.enabled
    await h.bot.mirror(Line("background work: summarized a conversation"))
    await wait_until(h, lambda: "background work: summarized a conversation" in log_posts(h),
                     "the mirrored line")
    await admin_says(h, "verbose off", 2)
    await h.restart()  # the saved state wins over the setting
    assert not h.bot.mirror.enabled
    await h.bot.mirror(Line("not shown"))
    await h.bot.mirror.drain()
    assert "not shown" not in log_posts(h)


# --------------------------------------------------------------------------- status


async def test_status_reports_models_settings_uptime_and_latency(harness: Harness) -> None:
    fields = panel_fields(await admin_says(harness, "status", 1))  # a report: a Components V2 panel
    assert fields["Models"] == f"default `{DEFAULT}` · premium `{PREMIUM}` · voting `{VOTER}`"
    assert fields["Replies"].startswith("bot reply threshold 3 · 3 votes · cooldown 0s · typing 600,000 cpm")
    assert "servers: 1" in fields["Uptime"] and "verbose: off" in fields["Uptime"]
    assert fields["Gateway latency"].startswith("gateway ") and fields["Gateway latency"].endswith(
        " ms (warning above 1,000 ms)")
    assert "no model calls yet" in fields["Costs per model"] and "Refusals since start" in fields
    # a feature's own line (its registration's status_lines): proactive talk's round
    assert fields["Proactive talk"].startswith("default off · every 30 min · chance 0.1 · next round ")
    assert fields["Memory consolidation"] == "not run by this process since it started"


async def test_status_tells_the_last_consolidation_run_here(harness: Harness) -> None:
    report = await consolidate(harness, datetime(2026, 3, 4, 5, 6, tzinfo=UTC))
    fields = panel_fields(await admin_says(harness, "status", 1))
    figures = "; ".join(f"{name.english()} {value.english()}"
                        for name, value in consolidation_figures(report))
    # CLDR writes a narrow no-break space before AM
    assert fields["Memory consolidation"] == f"Mar 4, 2026, 5:06\u202fAM UTC, {figures}"
    assert figures.startswith("Messages ") and "; Facts " in figures


async def test_a_status_with_very_many_models_stays_inside_the_v2_limits(harness: Harness) -> None:
    h = harness
    for i in range(120):  # a cost line per model: far more than one V2 message holds
        await h.store.usage.record(user_id=USER_ID, purpose="reply",
                                   model=f"claude-test-model-{i:03d}-" + "x" * 40, input_tokens=1000 + i,
                                   output_tokens=10, cache_creation_tokens=0,
                                   cache_read_tokens=0, cost=0.001, latency_ms=5, ok=True)
    answer = await admin_says(h, "status", 1)  # the fake refuses a V2 message past its limits
    every = walk_components(answer["components"])
    assert len(every) <= MAX_V2_COMPONENTS and sum(len(t) for t in panel_texts(answer)) <= MAX_V2_TEXT
    fields = panel_fields(answer)
    *costs, more = fields["Costs per model"].splitlines()
    assert all(line.startswith("`claude-test-model-") for line in costs)
    assert more == f"… {120 - len(costs)} more" and len(costs) > 5
    assert fields["Refusals since start"] == "0" and "Feeling" in fields  # the figures after the long list


def test_status_lines_of_other_parts_become_named_figures() -> None:
    text = "Costs per model:\n  `a`: $1\n  `b`: $2\nRefusals since start: 0\nno name here"
    assert named_lines(text) == (("Costs per model", "`a`: $1\n`b`: $2"), ("Refusals since start", "0"),
                                 ("", "no name here"))


async def test_status_reports_each_shards_latency(make_harness: MakeHarness) -> None:
    h = await make_harness(shard_count=2, latency_warning_ms=600_000)  # no heartbeat warnings in the channel
    bot: Any = h.bot
    # Each shard heartbeats as soon as it connects; once both are acknowledged the figures stay put until the
    # next heartbeat (45 s away on the fake), so the status line can be compared with them exactly.
    await wait_until(h, lambda: len(bot.latencies) == 2 and all(math.isfinite(s) for _, s in bot.latencies),
                     "both shards' first heartbeat")
    latency = dict(bot.latencies)
    fields = panel_fields(await admin_says(h, "status", 1))
    assert fields["Gateway latency"] == (f"shard 0 {format_latency(latency[0])}, "
                                         f"shard 1 {format_latency(latency[1])} (warning above 600,000 ms)")


# --------------------------------------------------------------------------- shutdown


async def test_shutdown_with_a_wrong_name_does_nothing_but_say_so(harness: Harness) -> None:
    h = harness
    text = (await admin_says(h, "shutdown? finn", 1))["content"]
    assert "Not shutting down" in text and "'finn'" in text
    assert "Usage: `shutdown? <exact character name>`" in (await admin_says(h, "shutdown?", 2))["content"]
    assert not h.bot.is_closed()
    h.claude.script("Still here.", model=DEFAULT)
    await h.say("still there?", mention=True)
    assert (await h.replies(CHANNEL_ID))[0]["content"] == "Still here."


async def test_shutdown_finishes_replies_saves_and_closes(harness: Harness,
                                                         caplog: pytest.LogCaptureFixture) -> None:
    h = harness
    bot = h.bot
    h.claude.script("A slow, careful answer.", model=DEFAULT, delay=0.4)
    await h.say("tell me slowly", mention=True)
    await h.claude.wait_for_requests(1)  # the reply is in flight
    cog = bot.log_channel
    assert await open_database_connections(h.db_url) > 0  # the probe sees the bot's pooled connections
    with caplog.at_level(logging.INFO, logger="bot.discord.logchannel"):
        await h.say("shutdown? Finn", user=ADMIN_ID, channel=LOG_CHANNEL_ID)
        await wait_until(h, lambda: cog.shutdown_task is not None, "the shutdown to start")
        await asyncio.wait_for(cog.shutdown_task, EVENT_WAIT)
    assert bot.is_closed()
    assert await open_database_connections(h.db_url) == 0  # the database really is closed
    assert "shutdown complete: Discord connection and database closed" in caplog.messages
    assert bot.get_cog("Admin") is None and not bot.services.heartbeat.running  # the close stopped both
    [reply] = h.discord.posted(CHANNEL_ID)
    assert reply["content"] == "A slow, careful answer."
    [goodbye] = h.discord.posted(LOG_CHANNEL_ID)
    assert "Goodbye! Finn is shutting down" in goodbye["content"]
    assert reply["_at"] < goodbye["_at"]  # the reply in flight finished first
    assert bot.exit_code == 0
    # Everything was saved: a new bot on the same database has the exchange.
    await h.restart()
    key = h.bot.services.pipeline.character_key
    hist = await h.store.conversations.history(key, USER_ID, f"channel:{CHANNEL_ID}")
    assert [t.content for t in hist.turns][-1] == "A slow, careful answer."


async def test_an_event_discord_py_dispatches_after_the_close_starts_nothing(harness: Harness) -> None:
    """discord.py's wait for the guilds before 'ready' is not cancelled by its close; when the close ends
    inside that wait, the 'ready' it then dispatches has no loop to run on, to be dropped, not raised."""
    bot = harness.bot
    readied = asyncio.Event()

    async def on_ready() -> None:
        readied.set()

    bot.add_listener(on_ready, "on_ready")
    await bot.close()
    bot.dispatch("ready")  # what ConnectionState._delay_ready does when its wait ends after the close
    await asyncio.sleep(0)  # a listener scheduled by the dispatch would have started by now
    assert not readied.is_set() and bot.is_closed()


async def test_main_exits_with_code_0_after_shutdown(db_url: str, tmp_path: Any) -> None:
    """The real process: main.py against the fakes, shut down from the log channel."""
    from tests.harness import Harness

    h = Harness(db_url=db_url, tmp_path=tmp_path)
    await h.start_fakes()
    proc = await h.spawn_main()
    try:
        await h.process_identified()
        text = await h.shut_down(proc)
    finally:
        await h.end_process(proc)
    assert "shutdown complete: Discord connection and database closed" in text, text[-3000:]
    assert "Traceback" not in text, text[-3000:]
    assert any("Goodbye! Finn is shutting down" in m["content"] for m in h.discord.posted(LOG_CHANNEL_ID))


def test_decision_lines_never_quote_a_dm() -> None:
    from datetime import UTC, datetime

    from bot.core.stages import Decision
    from bot.operator.logmirror import describe_decision

    dm = Incoming(1, 3, "alice", "my secret", datetime.now(UTC), place=place(2, True))
    answered = Decision(True, Line("direct message"), kind="direct_message")
    assert describe_decision(dm, answered).english() == "DM from user 3: reply"
    channel = Incoming(1, 3, "alice", "hello all", datetime.now(UTC),
                       place=place(2, False, channel_name="general"))
    voted = Decision(False, Line("majority vote"), (True, False, None), kind="vote")
    line = describe_decision(channel, voted)
    assert line.english() == ("#general · alice (3): “hello all” → stay quiet (majority vote; votes: yes no "
                              "fail)")


def test_a_decisions_words_are_the_reading_languages_and_its_names_and_figures_values() -> None:
    from bot.core.i18n import N_
    from bot.core.lines import Figure
    from bot.core.stages import Decision

    voted = Decision(False, Line(N_("majority vote")), (True, False, None), after=("Atlas",), kind="vote")
    assert voted.describe().english() == "stay quiet (majority vote; votes: yes no fail; after Atlas)"
    assert voted.describe().render("de") == ("still bleiben (Mehrheitsabstimmung; Stimmen: ja nein Fehler; "
                                             "nach Atlas)")
    assert voted.describe().render("ja") == "黙っている (多数決; 投票: 賛成 反対 失敗; Atlas の後)"
    banter = Line(N_("banter, chance {chance} at affinity {affinity}"), chance=Figure(0.25, share=True),
                  affinity=Figure(1.5, 1, signed=True))
    assert banter.english() == "banter, chance 25% at affinity +1.5"
    assert banter.render("de") == "Geplänkel, Chance 25\xa0% bei Zuneigung +1,5"  # CLDR's no-break space


async def test_the_mirror_lines_decisions_while_on_but_none_about_the_log_channels_own_chat() -> None:
    from datetime import UTC, datetime

    from bot.core.config import SecretSettings
    from bot.core.stages import Decision
    from bot.operator.logmirror import LogMirror

    posted: list[str] = []

    async def sink(line: Line) -> None:
        posted.append(line.english())

    mirror = LogMirror(sink, secrets=SecretSettings(log_channel=LOG_CHANNEL_ID))
    now = datetime.now(UTC)
    here = Incoming(1, 3, "alice", "hello all", now, place=place(CHANNEL_ID, False, channel_name="general"))
    there = Incoming(2, 3, "alice", "hi admins", now, place=place(LOG_CHANNEL_ID, False))
    # verbose mode off: nothing
    await mirror.on_decision(here, Decision(True, Line("mentioned"), kind="mentioned"))
    mirror.enabled = True
    # visible in the log channel already
    await mirror.on_decision(there, Decision(True, Line("mentioned"), kind="mentioned"))
    await mirror.on_decision(here, Decision(True, Line("mentioned"), kind="mentioned"))
    await mirror.drain()
    assert posted == ["#general · alice (3): “hello all” → reply (mentioned)"]


async def test_only_the_teams_owner_and_admins_are_bot_admins(db_url: str, tmp_path: Path) -> None:
    """Issue 49, item 4: of an application's team, the owner and the members with the admin role (who
    accepted) are bot admins; developers, read-only members and those only invited are not."""
    people = {"dev": 900_000_000_000_000_401, "reader": 900_000_000_000_000_402,
              "invited": 900_000_000_000_000_403, "teamadmin": 900_000_000_000_000_404}
    h = Harness(db_url=db_url, tmp_path=tmp_path)
    await h.start_world()
    for name, uid in people.items():
        h.discord.add_user(uid, name)
        h.discord.add_member(h.guild_id, uid)
    h.discord.set_application_team(OWNER_ID, [
        (OWNER_ID, "admin", 2), (people["teamadmin"], "admin", 2), (people["dev"], "developer", 2),
        (people["reader"], "read_only", 2), (people["invited"], "admin", 1)])
    try:
        await h.start_bot()
        for n, uid in enumerate((OWNER_ID, people["teamadmin"]), start=1):
            assert "Test log line" in (await admin_says(h, "testlog", n, user=uid))["content"]
        h.claude.script("no", model=VOTER, times=None)  # ordinary chat for everyone else: nobody answered
        for name in ("dev", "reader", "invited"):
            await h.say("testlog", user=people[name], channel=LOG_CHANNEL_ID)
        await h.settled()
        assert len(log_posts(h)) == 2
        assert [await is_admin(h.bot, h.bot.get_user(uid) or await h.bot.fetch_user(uid))  # type: ignore[arg-type]
                for uid in (OWNER_ID, people["teamadmin"], people["dev"], people["reader"], people["invited"])
                ] == [True, True, False, False, False]
    finally:
        await h.close()
