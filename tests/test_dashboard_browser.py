"""The operator's dashboard in a real browser: headless Debian chromium (Playwright) against a real bot that
serves it (fake Discord, fake Claude, real database). Logging in, the charts after fake traffic, a core-memory
edit reaching the next reply's prompt, premium, forgetting a person, the live stream, refusals without a
session or with a wrong CSRF token, and bad input. Screenshots of each page go to docs/screenshots/ (see
``shot``)."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bot.core.config import PROJECT_ROOT
from database.records import Archived, VersionReason
from tests.browser import chromium, needs_chromium
from tests.dbtools import seed_dashboard_history
from tests.harness import CHANNEL_ID, USER2_ID, USER_ID, Harness, MakeHarness, eventually
from tests.ports import free_port

pytestmark = needs_chromium

TOKEN = "browser-test-token-0123456789"
VOTER = "claude-test-voter"
SCREENSHOTS = PROJECT_ROOT / "docs" / "screenshots"
CHARTS = ("messages", "calls", "tokens", "cost", "cache", "votes", "fallbacks")


async def start(make_harness: MakeHarness) -> tuple[Harness, str]:
    h = await make_harness(dashboard_port=free_port(), dashboard_token=TOKEN)
    assert h.bot is not None and h.bot.services.dashboard is not None
    return h, h.bot.services.dashboard.url.rstrip("/")


async def shot(page: Any, name: str, tmp_path: Path) -> None:
    """A full-page screenshot. It lands in docs/screenshots/ (what docs/commands.md shows) when that file is
    missing or UPDATE_SCREENSHOTS=1 (`make screenshots`); otherwise under tmp_path, so that an ordinary test
    run still renders every page without touching the committed pictures."""
    target = SCREENSHOTS / f"{name}.png"
    if target.exists() and os.environ.get("UPDATE_SCREENSHOTS") != "1":
        target = tmp_path / f"{name}.png"
    target.parent.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(target), full_page=True)
    assert target.stat().st_size > 10_000  # a page, not a blank


async def submit(page: Any, button: Any) -> int:
    """Click a form's button and wait for the page it leads to; that page's HTTP status."""
    async with page.expect_navigation() as navigation:
        await (page.locator(button) if isinstance(button, str) else button).click()
    response = await navigation.value
    return int(response.status) if response is not None else 0


async def log_in(page: Any, base: str, token: str = TOKEN, path: str = "/") -> Any:
    await page.goto(base + path)
    assert "/login" in page.url
    await page.fill("input[name=token]", token)
    await submit(page, "button:has-text('Log in')")
    return page


async def traffic(h: Harness) -> int:
    """Fake traffic of every kind the overview counts; returns the DM channel of the person who DMs."""
    h.claude.script("no", model=VOTER, times=None)
    await h.say("hello Finn, one kelp tea please", mention=True)
    await h.replies(CHANNEL_ID, 1)
    await h.say("and one more for the road", mention=True)
    await h.replies(CHANNEL_ID, 2)
    # Its prompt starts with the channel transcript the one before had cached (bot/reply/transcript.py): a
    # read.
    await h.say("and a biscuit, go on", mention=True)
    await h.replies(CHANNEL_ID, 3)
    await h.say("the tide is high today")  # not addressed to Finn: put to the vote
    await h.claude.wait_for_requests(3, model=VOTER)
    await h.dm("a secret for Finn's ears only", user=USER2_ID)
    dm = await h.dm_channel_id(USER2_ID)
    await h.replies(dm, 1)
    await h.bot.in_flight.drain()  # (the vote too, before Claude fails)
    h.claude.fail_all(400)
    await h.say("are you there?", mention=True)  # Claude fails: the fallback reply
    await h.replies(CHANNEL_ID, 4)
    h.claude.recover()
    await h.bot.in_flight.drain()
    await h.bot.services.counters.flush()  # type: ignore[union-attr]
    return dm


async def next_reply_prompt(h: Harness, text: str) -> tuple[str, str]:
    """Say ``text`` to the character; (the system text and the final turn, the model) of the reply request it
    caused (a channel prompt keeps the person's memories in its final turn: bot/reply/transcript.py)."""
    before = len(await h.discord.wait_for_messages(CHANNEL_ID, 0))
    await h.say(text, mention=True)
    await h.replies(CHANNEL_ID, before + 1)
    request = [r for r in h.claude.requests if r.model != VOTER][-1]
    assert text in h.claude.all_text(request)
    final = request.body["messages"][-1]["content"]
    final_text = final if isinstance(final, str) else "\n".join(
        b.get("text", "") for b in final if isinstance(b, dict))
    return h.claude.system_text(request) + "\n" + final_text, str(request.model)


async def bar_values(page: Any, chart: str, day: str) -> list[float]:
    bars = page.locator(f'svg[data-chart="{chart}"] rect.bar[data-day="{day}"]')
    return [float(v) for v in await bars.evaluate_all("els => els.map(e => e.getAttribute('data-value'))")]


async def test_operator_session(make_harness: MakeHarness, tmp_path: Path) -> None:
    h, base = await start(make_harness)
    key = h.bot.services.pipeline.character_key  # type: ignore[union-attr]
    await h.store.state.set("daily_mood", "sunny, a little sleepy")
    dm = await traffic(h)
    await h.store.memories.add_core_memory(key, USER_ID, "Alice orders kelp tea every morning",
                                           source="admin")
    await h.store.facts.add(USER_ID, "Alice has a cat called Pebble", category="pets")

    async with chromium(tmp_path / "profile") as browser:
        page = await browser.new_page()
        # Refused without the token: every page sends you to the login, and a wrong token stays there.
        await log_in(page, base, token="not-the-token-at-all")
        assert "/login" in page.url and "Wrong token" in await page.inner_text("main")
        assert TOKEN not in await page.content()

        # The overview: today's bars come from the traffic above.
        page = await log_in(page, base)
        assert page.url == base + "/"
        today = datetime.now(UTC).strftime("%Y-%m-%d")
        for chart in CHARTS:
            assert any(v > 0 for v in await bar_values(page, chart, today)), chart
        seen, answered = await bar_values(page, "messages", today)
        assert (seen, answered) == (6, 5)  # the vote said no; the fallback counts as answered
        assert await bar_values(page, "fallbacks", today) == [1, 1]
        tiles = (await page.inner_text("section.tiles")).lower()
        assert "uptime" in tiles and "1 shard" in tiles and "gateway:" in tiles
        cookie = next(c for c in await browser.cookies() if c["name"] == "kindred_session")
        assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
        assert TOKEN not in await page.content()
        await seed_dashboard_history(h.store, key)
        await page.reload()
        await shot(page, "overview", tmp_path)

        # The character: an identity edit reaches the next reply.
        await submit(page, "nav >> text=Character")
        assert "sunny, a little sleepy" in await page.inner_text("main")
        entry = page.locator("form.entry[id^=identity-]").first
        await entry.locator("textarea").fill("Hums sea shanties while the kelp tea steeps")
        assert await submit(page, entry.locator("button:has-text('Save')")) == 200
        assert "Changed" in await page.inner_text(".flash")
        system, _ = await next_reply_prompt(h, "what are you humming?")
        assert "Hums sea shanties while the kelp tea steeps" in system
        await shot(page, "character", tmp_path)

        # People: everyone, then a search, then the person.
        await submit(page, "nav >> text=People")
        rows = page.locator("table.people tbody tr")
        assert await rows.count() == 2  # alice and bob (bots are left out of the list)
        await shot(page, "people", tmp_path)
        await page.fill("input[name=q]", "ali")
        await submit(page, "button:has-text('Search')")
        assert await rows.count() == 1
        await submit(page, rows.first.locator("a"))
        assert page.url == f"{base}/people/{USER_ID}"

        # A core memory edited here is in the next reply's prompt; the old text is archived.
        memory = page.locator("form.memory").first
        await memory.locator("textarea").fill("Alice is allergic to kelp tea: offer her seafoam chai")
        assert await submit(page, memory.locator("button:has-text('Save')")) == 200
        assert "Changed core memory" in await page.inner_text(".flash")
        system, model = await next_reply_prompt(h, "what should I drink today?")
        assert "Alice is allergic to kelp tea" in system and "orders kelp tea every morning" not in system
        assert model == "claude-test-default"
        versions = await h.store.memories.core_memory_versions(key, USER_ID)
        assert versions[0][2] == VersionReason(Archived.EDITED)
        assert [m["content"] for m in versions[0][3]] == ["Alice orders kelp tea every morning"]

        # Premium: the next reply uses the premium model.
        await submit(page, "form.premium button")
        assert "now premium" in await page.inner_text(".flash")
        assert (await h.store.people.get_user(USER_ID)).premium  # type: ignore[union-attr]
        _, model = await next_reply_prompt(h, "and for dessert?")
        assert model == "claude-test-premium"
        await page.reload()
        await shot(page, "person", tmp_path)

        # A forged CSRF token is refused and changes nothing.
        await page.eval_on_selector("form.premium input[name=csrf]", "el => el.value = 'forged'")
        assert await submit(page, "form.premium button") == 403
        assert "CSRF" in await page.inner_text("main")
        assert (await h.store.people.get_user(USER_ID)).premium  # type: ignore[union-attr]

        # Without a session (cookie gone), the same form is refused too.
        await page.goto(f"{base}/people/{USER_ID}")
        await browser.clear_cookies()
        assert await submit(page, "form.premium button") == 401
        assert "Log in first" in await page.inner_text("main")
        assert (await h.store.people.get_user(USER_ID)).premium  # type: ignore[union-attr]
        await page.goto(f"{base}/people/{USER_ID}")
        assert "/login" in page.url

        # The live stream: decisions pushed as they are made; a DM only as "DM from user <id>".
        page = await log_in(page, base, path="/live")
        # A selector, not wait_for_function: a string predicate is eval'd in the page when the first check
        # fails, which the dashboard's CSP (script-src 'self') refuses on a slow machine.
        await page.wait_for_selector("#live-state:text-matches('^Connected')")
        await h.say("what a windy day", user=USER2_ID)
        await h.dm("my very private question", user=USER2_ID)
        await page.wait_for_selector(f"#live-events li:has-text('DM from user {USER2_ID}')")
        await page.wait_for_selector("#live-events li:has-text('what a windy day')")
        assert "my very private question" not in await page.content()
        await shot(page, "live", tmp_path)

        # Forgetting a person: the same effect as /forget_me, nothing left about them.
        async def answered_both_dms() -> bool:
            logged = await h.store.log.recent_messages(dm, limit=20)
            return sum(m.author_id == h.bot_user_id for m in logged) == 2

        await eventually(answered_both_dms, "the character's two DM answers in the log")
        assert await h.store.privacy.rows_about_user(USER2_ID, [dm])
        await page.goto(f"{base}/people/{USER2_ID}")
        await submit(page, "text=Forget this person")
        assert "message_log" in await page.inner_text("main")
        await submit(page, "button:has-text('Yes, forget this person')")
        assert page.url == base + "/people" and "Forgot bob" in await page.inner_text(".flash")
        assert await h.store.privacy.rows_about_user(USER2_ID, [dm]) == {}
        assert await h.store.people.get_user(USER_ID) is not None  # nobody else


async def test_bad_input_gets_a_clear_message_and_loses_nothing(make_harness: MakeHarness,
                                                                 tmp_path: Path) -> None:
    h, base = await start(make_harness)
    key = h.bot.services.pipeline.character_key  # type: ignore[union-attr]
    await h.say("hello Finn", mention=True)
    await h.replies(CHANNEL_ID, 1)
    original = "Alice once brought Finn a shell from the far reef"
    memory_id = await h.store.memories.add_core_memory(key, USER_ID, original, source="admin")

    async def stored() -> str:
        return {m: c for m, c, _ in await h.store.memories.core_memories(key, USER_ID)}[memory_id]

    async def edits_archived() -> list[str]:
        """What the memory read before each edit, newest first."""
        versions = await h.store.memories.core_memory_versions(key, USER_ID)
        edited = VersionReason(Archived.EDITED)
        return [items[0]["content"] for _, _, reason, items in versions if reason == edited]

    async with chromium(tmp_path / "profile") as browser:
        page = await log_in(await browser.new_page(), base)

        # Malformed and unknown ids in the URL.
        for path, status, words in (("/people/not-a-number", 400, "is not a user id"),
                                    ("/people/99999999999999999999999", 400, "is not a valid Discord id"),
                                    ("/people/12345", 404, "I don't know user 12345")):
            response = await page.goto(base + path)
            assert response is not None and response.status == status, path
            assert words in await page.inner_text(".flash"), path
        await page.goto(f"{base}/people/{USER_ID}")
        form = page.locator(f"#memory-{memory_id}")
        await page.eval_on_selector(f"#memory-{memory_id}", "f => f.action = f.action + 'x'")
        await form.locator("textarea").fill("typed into a form with a broken id")
        assert await submit(page, form.locator("button:has-text('Save')")) == 400
        assert "is not a memory id" in await page.inner_text(".flash")
        assert await stored() == original

        # An oversized edit: refused with the limit named, the typed text still in its box.
        await page.goto(f"{base}/people/{USER_ID}")
        long_text = "kelp " * 500  # 2,500 characters
        await form.locator("textarea").fill(long_text)
        assert await submit(page, form.locator("button:has-text('Save')")) == 400
        assert "2499 characters long; the limit is 2000" in await page.inner_text(".flash")
        assert await form.locator("textarea").input_value() == long_text
        assert await stored() == original
        # ... and a form far beyond any text is not even read.
        await page.eval_on_selector(f"#memory-{memory_id} textarea", "t => t.value = 'x'.repeat(400000)")
        assert await submit(page, form.locator("button:has-text('Save')")) == 413
        assert "nothing was changed" in await page.inner_text(".flash")
        assert await stored() == original

        # Two tabs edit the same memory: the second is told, keeps its text, and nothing is lost.
        first, second = await browser.new_page(), await browser.new_page()
        for tab in (first, second):
            await tab.goto(f"{base}/people/{USER_ID}")
        await first.locator(f"#memory-{memory_id} textarea").fill("First tab: the shell was a whelk")
        await submit(first, first.locator(f"#memory-{memory_id} button:has-text('Save')"))
        assert "Changed core memory" in await first.inner_text(".flash")
        await second.locator(f"#memory-{memory_id} textarea").fill("Second tab: the shell was a cowrie")
        assert await submit(second, second.locator(f"#memory-{memory_id} button:has-text('Save')")) == 409
        assert "changed by someone else" in await second.inner_text(".flash")
        assert "First tab: the shell was a whelk" in await second.inner_text(f"#memory-{memory_id} .current")
        assert await second.locator(f"#memory-{memory_id} textarea").input_value() == \
            "Second tab: the shell was a cowrie"
        assert await stored() == "First tab: the shell was a whelk"
        assert await edits_archived() == [original]
        # Having seen the other edit, saving again is deliberate: it goes through, the whelk archived.
        await submit(second, second.locator(f"#memory-{memory_id} button:has-text('Save')"))
        assert "Changed core memory" in await second.inner_text(".flash")
        assert await stored() == "Second tab: the shell was a cowrie"
        assert await edits_archived() == ["First tab: the shell was a whelk", original]
