"""The dashboard's prompt inspector (issue 44): replies made over the wire against the fakes, then the
/prompts pages show each request as the fake Claude received it, part by part, with tokens and what was read
from the cache; refused without the operator's login; every text escaped. Also in headless chromium."""

from __future__ import annotations

import html
import re
from pathlib import Path

import aiohttp
from markupsafe import escape

from bot.core.models.sent import READ, UNCACHED, itemize
from tests.browser import chromium, needs_chromium
from tests.harness import CHANNEL_ID, USER2_ID, Harness, MakeHarness
from tests.test_dashboard_browser import log_in, shot, start

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


async def test_the_inspector_itemizes_a_reply_as_sent(make_harness: MakeHarness) -> None:
    h, base = await start(make_harness)
    await dm_twice(h)
    await h.say("hello Finn", mention=True)
    await h.replies(CHANNEL_ID, 1)
    sent = h.bot.engine.claude.sent  # type: ignore[union-attr]
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

    # Hostile text is escaped: the name and the message's script arrive as text, never as markup.
    assert "<script" not in page and str(escape(HOSTILE)) in page
    parts = rows(page)
    labels = [label for label, _, _ in parts]
    assert labels[0] == "system" and "where" in labels and "time" in labels and "message" in labels
    assert "transcript" in labels and "transcript: the character's turn" in labels
    message = next(p for p in parts if p[0] == "message")
    assert message[1] == UNCACHED and message[2] > 0  # after the last breakpoint
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
