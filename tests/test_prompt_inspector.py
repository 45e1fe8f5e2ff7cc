"""The dashboard's prompt inspector (issue 44): replies made over the wire against the fakes, then the
/prompts pages show each request as the fake Claude received it, part by part, with tokens and what was read
from the cache; refused without the operator's login; every text escaped. Also in headless chromium."""

from __future__ import annotations

import asyncio
import html
import re
import threading
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import pytest
from markupsafe import escape

from benchmarks.bench_inspector import deep_size
from bot.core.models.base import CallUsage
from bot.core.models.sent import READ, UNCACHED, Item, SentLog, SentRequest, itemize
from tests.browser import chromium, needs_chromium
from tests.fakes.claude_server import Reply
from tests.fakes.discord_cdn import padded_png
from tests.harness import CHANNEL_ID, USER2_ID, USER_ID, Harness, MakeHarness, reply_requests
from tests.test_dashboard_browser import log_in, shot, start
from tests.test_memory_commands import forget

TOKEN = "browser-test-token-0123456789"  # the one tests.test_dashboard_browser.start configures
HOSTILE = "<script>alert('x')</script>"


async def dm_twice(h: Harness) -> int:
    """Bob, named hostilely, DMs the character twice (the second reply reads the first one's cache)."""
    h.discord.users[USER2_ID]["global_name"] = HOSTILE
    await h.dm(f"a secret for Finn {HOSTILE}", user=USER2_ID)
    dm = await h.dm_channel_id(USER2_ID)
    await h.replies(dm, 1)
    await h.dm("and another secret", user=USER2_ID)
    await h.replies(dm, 2)
    return dm


def rows(page: str) -> list[tuple[str, str, int]]:
    """(label, cache, tokens) of each part row of a request's page."""
    return [(html.unescape(label), cache, int(tokens)) for label, cache, tokens in re.findall(
        r'<tr class="part" data-label="([^"]*)" data-cache="([^"]*)" data-tokens="(\d+)">', page)]


async def test_the_inspector_itemizes_a_reply_as_sent(make_harness: MakeHarness,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    import bot.operator.dashboard.prompts as inspector

    counted_in: list[int] = []  # where a page's tokens were counted: never on the bot's loop

    def spy(sent: SentRequest) -> list[Item]:
        counted_in.append(threading.get_ident())
        return itemize(sent)

    monkeypatch.setattr(inspector, "itemize", spy)
    h, base = await start(make_harness)
    await dm_twice(h)
    await h.say("hello Finn", mention=True)
    await h.replies(CHANNEL_ID, 1)
    sent = h.bot.services.claude.sent  # type: ignore[union-attr]
    replies = [r for r in sent.recent() if r.purpose == "reply"]
    assert len(replies) == 3
    channel, second_dm, first_dm = replies
    # What was kept is what the fake Claude received.
    received = [r for r in h.claude.requests if r.model != "claude-test-voter"]
    assert second_dm.request["messages"] == received[1].body["messages"]
    # The hostile display name reaches no part of the layout unclean (the DM's "where" included).
    assert all("<script" not in text for label, text in second_dm.parts if label != "message")

    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        for path in ("/prompts", f"/prompts/{second_dm.number}"):  # refused without the login
            async with http.get(base + path, allow_redirects=False) as r:
                assert r.status == 303 and r.headers["Location"].startswith("/login")
                assert "secret" not in await r.text()
        async with http.post(base + "/login", data={"token": "not-the-operator-token", "next": "/prompts"},
                             allow_redirects=False) as r:
            assert r.status == 401
        async with http.get(f"{base}/prompts/{second_dm.number}", allow_redirects=False) as r:
            assert r.status == 303  # a wrong token gave no session
        async with http.post(base + "/login", data={"token": TOKEN, "next": "/prompts"}) as r:
            listing = await r.text()
        # The list: every request, a DM marked private, no one's text.
        assert r.status == 200 and f'href="/prompts/{second_dm.number}"' in listing
        assert "DM, private" in listing and "secret" not in listing
        async with http.get(f"{base}/prompts/{second_dm.number}") as r:
            page = await r.text()
        async with http.get(f"{base}/prompts/{channel.number}") as r:
            channel_page = await r.text()
        async with http.get(f"{base}/prompts/99999") as r:
            assert r.status == 404
    assert len(counted_in) == 2 and threading.get_ident() not in counted_in

    # Hostile text is escaped: the name and the message's script arrive as text, never as markup.
    assert "<script" not in page and str(escape(HOSTILE)) in page
    parts = rows(page)
    labels = [label for label, _, _ in parts]
    # A DM's request declares its tools (reminders) first (the head of the cached prefix), then the system.
    first_system = labels.index("system")
    assert first_system > 0 and set(labels[:first_system]) == {"tools"}
    assert "where" in labels and "time" in labels and "message" in labels
    assert "transcript" in labels and "transcript: the character's turn" in labels
    message = next(p for p in parts if p[0] == "message")
    assert message[1] != UNCACHED and message[2] > 0  # a DM caches the message it answers (the breakpoint)
    now = next(p for p in parts if p[0] == "time")
    assert now[1] == UNCACHED  # the moment comes after it, past the last breakpoint
    # The second DM read the first one's prefix: the character block came from the cache.
    assert parts[0][1] == READ and second_dm.usage.cache_read_tokens > 0
    assert f"{second_dm.usage.cache_read_tokens:,} read from cache" in page
    # Every token counted: the parts' tokens are what the page totals.
    assert sum(t for _, _, t in parts) == sum(i.tokens for i in itemize(second_dm))
    assert "⚑" in page  # the breakpoints are shown
    # In a channel the person comes after the transcript, the message last.
    channel_labels = [label for label, _, _ in rows(channel_page)]
    assert channel_labels.index("where") < channel_labels.index("message")
    assert not first_dm.usage.cache_read_tokens or first_dm.number < second_dm.number


@needs_chromium
async def test_the_inspector_in_a_browser(make_harness: MakeHarness, tmp_path: Path) -> None:
    h, base = await start(make_harness)
    await dm_twice(h)
    async with chromium(tmp_path / "profile") as browser:
        page = await log_in(await browser.new_page(), base, path="/prompts")
        assert page.url == base + "/prompts"
        assert "DM, private" in await page.inner_text("table.prompts")
        # The newest reply first: open it.
        link = page.locator("table.prompts tbody tr:has-text('reply') a").first
        async with page.expect_navigation():
            await link.click()
        assert "/prompts/" in page.url
        labels = await page.locator("tr.part").evaluate_all("els => els.map(e => e.dataset.label)")
        assert {"system", "where", "time", "message"} <= set(labels)
        caches = await page.locator("tr.part").evaluate_all("els => els.map(e => e.dataset.cache)")
        assert READ in caches and UNCACHED in caches
        # The hostile name is text on the page, and no script of it ran.
        assert HOSTILE in await page.inner_text("table.parts")
        assert await page.evaluate("() => document.querySelectorAll('main script').length") == 0
        await shot(page, "prompt", tmp_path)


async def logged_in(http: aiohttp.ClientSession, base: str) -> None:
    async with http.post(base + "/login", data={"token": TOKEN, "next": "/prompts"}) as r:
        assert r.status == 200


async def test_the_inspector_keeps_the_images_kind_and_size_not_their_bytes(
        make_harness: MakeHarness) -> None:
    """A four-image DM reaches the model whole; the inspector keeps its text, and each image's media type
    and size, in a few kilobytes (it kept some 21 MB of base64 per such DM)."""
    h, base = await start(make_harness)
    png = padded_png(1_000_000)
    files = [h.discord.attachment(f"photo{i}.png", content_type="image/png", data=png) for i in range(4)]
    sent = await h.dm("look at my four photos", attachments=files)
    await h.replies(int(sent["channel_id"]))
    [received] = reply_requests(h)
    images = [b["source"] for m in received.body["messages"] if isinstance(m["content"], list)
              for b in m["content"] if b.get("type") == "image"]
    sizes = [len(source["data"]) for source in images]
    assert len(sizes) == 4 and sum(sizes) > 5_000_000  # the model was shown them all
    log = h.bot.services.claude.sent  # type: ignore[union-attr]
    [kept] = [r for r in log.recent() if r.purpose == "reply"]
    assert deep_size(kept) < 100_000 and log.held < 100_000
    kept_sources = [b["source"] for m in kept.request["messages"] if isinstance(m["content"], list)
                    for b in m["content"] if b.get("type") == "image"]
    assert [(s.get("media_type"), s.get("omitted_bytes"), "data" in s) for s in kept_sources] == [
        ("image/png", size, False) for size in sizes]
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        await logged_in(http, base)
        async with http.get(f"{base}/prompts/{kept.number}") as r:
            page = await r.text()
    assert page.count(f"[image block: image/png, {sizes[0]:,} bytes of base64]") == 4
    # Itemized as any DM: the layout's parts named, the request marked private.
    labels = [label for label, _, _ in rows(page)]
    assert {"system", "where", "time", "message"} <= set(labels) and kept.private
    assert "look at my four photos" in next(text for label, text in kept.parts if label == "message")


def test_the_inspector_is_bounded_by_bytes() -> None:
    """The ring holds at most its budget of bytes, the oldest requests going first; the newest is kept
    whatever its size."""
    log = SentLog(budget=1_000_000)
    at = datetime(2026, 1, 1, tzinfo=UTC)

    def add(text: str) -> None:
        request = {"messages": [{"role": "user", "content": text}]}
        log.add(purpose="reply", model="m", user_id=1, request=request, parts=[("message", text)],
                usage=CallUsage(), answer="ok", at=at)

    for n in range(30):
        add(f"{n} " + "x" * 100_000)  # some 200 kB each: the request, and the part naming the same text
    assert log.held <= log.budget and 3 <= len(log) < 10
    assert [r.number for r in log.recent()] == list(range(30, 30 - len(log), -1))
    assert abs(deep_size(log.recent()) - log.held) < log.held / 2  # what it counts is what it holds
    add("y" * 2_000_000)
    assert len(log) == 1 and log.recent()[0].number == 31


async def test_forget_me_takes_their_requests_out_of_the_inspector(make_harness: MakeHarness) -> None:
    """After /forget_me the person's requests are gone from /prompts (their DM's text with them), and those
    quoting them (bob's reply in a channel, its transcript holding her line); a reply in flight meanwhile
    is not kept when answered; everyone else's stay."""
    h, base = await start(make_harness)
    await h.dm("my secret is the blue door")
    dm = await h.dm_channel_id()
    await h.replies(dm, 1)
    await h.dm("bob's own words", user=USER2_ID)
    await h.replies(await h.dm_channel_id(USER2_ID), 1)
    await h.say("my cat is called Pickle", mention=True)
    await h.replies(CHANNEL_ID, 1)
    await h.say("what a name", mention=True, user=USER2_ID)
    await h.replies(CHANNEL_ID, 2)
    log = h.bot.services.claude.sent  # type: ignore[union-attr]
    _, alices = [r for r in log.recent() if r.user_id == USER_ID]  # newest first: her channel reply, her DM
    bobs_channel, bobs = [r for r in log.recent() if r.user_id == USER2_ID]
    assert any("Pickle" in text for text in map(str, bobs_channel.request["messages"]))
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        await logged_in(http, base)
        async with http.get(f"{base}/prompts/{alices.number}") as r:
            assert r.status == 200 and "blue door" in await r.text()
        # Her next reply is being written while she runs /forget_me.
        held = asyncio.Event()
        h.claude.script(Reply("The red door too?", held=held), model="claude-test-default")
        await h.dm("and the red door")
        await h.claude.wait_for_requests(5, model="claude-test-default")  # hers, bob's, hers, bob's, hers
        await forget(h)
        held.set()
        await h.replies(dm, 2)
        await h.at_rest()
        async with http.get(f"{base}/prompts/{alices.number}") as r:
            assert r.status == 404 and "blue door" not in await r.text()
        async with http.get(f"{base}/prompts/{bobs_channel.number}") as r:
            assert r.status == 404 and "Pickle" not in await r.text()
        async with http.get(f"{base}/prompts") as r:
            listing = await r.text()
        async with http.get(f"{base}/prompts/{bobs.number}") as r:
            assert r.status == 200 and "own words" in await r.text()
    assert f"/people/{USER_ID}" not in listing and f"/people/{USER2_ID}" in listing
    assert [r for r in log.recent() if r.user_id == USER_ID] == []


async def test_without_the_dashboard_no_request_is_kept(make_harness: MakeHarness) -> None:
    """The inspector is the kept requests' one reader: a bot without a dashboard keeps none (their text and
    the work of slimming each), and still answers, and still forgets a person on /forget_me."""
    h = await make_harness()
    assert h.bot is not None and h.bot.services.dashboard is None
    sent = await h.dm("hello Finn")
    [reply] = await h.replies(int(sent["channel_id"]))
    assert reply["content"] and reply_requests(h)
    assert h.bot.services.claude.sent is None
    assert "Done: I deleted" in await forget(h)
