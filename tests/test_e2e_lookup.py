"""Looking things up, over the wire (fake Discord, fake Claude with its tools: tests/fakes/claude_tools.py):
a question about today gets a search and its sources under the reply, a posted link is read, a paused
search turn goes on, the day's cap stops a search in character, and the declared tools keep the cached
prefix. (Reminders are off in these DMs, so only the lookup tools are declared: tests/test_reminders.py has
both.)"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from typing import Any

from bot.core.models.capabilities import WEB_SEARCH_USD
from tests.dbtools import api_calls
from tests.fakes.claude_server import Reply
from tests.fakes.claude_tools import WEB_FETCH, WEB_SEARCH, Fetch, Search
from tests.harness import CHANNEL_ID, GUILD_ID, USER2_ID, USER_ID, MakeHarness, eventually, reply_requests

NEWS = [("https://news.example.com/storm", "Storm reaches the coast"),
        ("https://www.bbc.co.uk/news/markets", "Markets rally")]


def tool_types(body: dict[str, object]) -> set[object]:
    """The kinds of tools the request declares (other features may lend theirs beside them)."""
    tools = body.get("tools") or []
    assert isinstance(tools, list)
    return {t.get("type", "custom") for t in tools if isinstance(t, dict)}


def search_of(body: dict[str, Any]) -> dict[str, Any]:
    """The request's web search declaration."""
    [search] = [t for t in body.get("tools") or [] if t.get("type") == WEB_SEARCH]
    return search


def capped(body: dict[str, Any]) -> bool:
    """The request declares the search's stand-in past the day's cap, and no web search."""
    names = {t.get("name") for t in body.get("tools") or []}
    return "search_web" in names and WEB_SEARCH not in tool_types(body)


async def test_a_question_about_today_gets_a_search_and_its_sources(make_harness: MakeHarness) -> None:
    h = await make_harness(reminders_in_dms="false", web_search="dms",
                           web_search_location="Brighton, England, GB", timezone="Europe/London")
    h.claude.script(Reply(tools=Search("news today", NEWS, answer="Big day out there.")))
    sent = await h.dm("what's in the news today?")
    [reply] = await h.replies(int(sent["channel_id"]))
    [request] = reply_requests(h)
    search = search_of(request.body)
    assert search["max_uses"] == 3
    assert search["user_location"] == {"type": "approximate", "city": "Brighton", "region": "England",
                                       "country": "GB", "timezone": "Europe/London"}
    text = reply["content"]
    assert "Big day out there." in text and "Storm reaches the coast." in text
    # the sources: one short line of links, embeds suppressed
    assert text.splitlines()[-1] == ("-# Sources: [news.example.com](<https://news.example.com/storm>) · "
                                     "[bbc.co.uk](<https://www.bbc.co.uk/news/markets>)")
    assert request.usage["server_tool_use"]["web_search_requests"] == 1
    await h.at_rest()
    [call] = [c for c in await api_calls(h.store) if c.purpose == "reply"]
    assert call.cost >= WEB_SEARCH_USD  # the search is billed on top of the tokens


async def test_the_history_keeps_the_words_without_the_sources(make_harness: MakeHarness) -> None:
    h = await make_harness(reminders_in_dms="false", web_search="dms")
    h.claude.script(Reply(tools=Search("news today", NEWS, answer="Big day out there.")))
    sent = await h.dm("what's in the news today?")
    await h.replies(int(sent["channel_id"]))
    await h.at_rest()
    await h.dm("wow, tell me more")
    await h.replies(int(sent["channel_id"]), 2)
    said = h.claude.all_text(reply_requests(h)[-1])
    assert "Big day out there." in said and "Sources:" not in said


async def test_search_is_off_by_default_and_dms_only_keeps_it_out_of_channels(
        make_harness: MakeHarness) -> None:
    h = await make_harness(reminders_in_dms="false", web_search="dms")
    await h.say("what's in the news today?", mention=True)
    await h.replies(CHANNEL_ID)
    [request] = reply_requests(h)
    assert WEB_SEARCH not in tool_types(request.body)


async def test_a_posted_link_is_fetched(make_harness: MakeHarness) -> None:
    h = await make_harness(reminders_in_dms="false", web_search="everywhere")
    url = "https://blog.example.org/posts/otters"
    h.claude.script(Reply(tools=Fetch(url, "Otters hold hands", "Sea otters hold hands while sleeping.",
                                      answer="Otters hold hands so they don't drift apart!")))
    await h.say(f"have you seen this? {url}", mention=True)
    [reply] = await h.replies(CHANNEL_ID)
    request = reply_requests(h)[0]
    assert {WEB_SEARCH, WEB_FETCH} <= tool_types(request.body)
    [fetch] = [t for t in request.body["tools"] if t.get("type") == WEB_FETCH]
    assert fetch["allowed_domains"] == ["blog.example.org"]
    assert "don't drift apart" in reply["content"]
    assert f"[blog.example.org](<{url}>)" in reply["content"]
    # a message without a link: no fetch declared
    await h.say("tell me more about otters", mention=True)
    await h.replies(CHANNEL_ID, 2)
    assert WEB_SEARCH in tool_types(reply_requests(h)[-1].body)
    assert WEB_FETCH not in tool_types(reply_requests(h)[-1].body)


async def test_a_paused_search_turn_is_continued(make_harness: MakeHarness) -> None:
    h = await make_harness(reminders_in_dms="false", web_search="dms")
    h.claude.script(Reply(tools=Search("election results", NEWS[:1], answer="Here it is.", pause=True)),
                    times=2)
    sent = await h.dm("who won the election today?")
    [reply] = await h.replies(int(sent["channel_id"]))
    paused, resumed = reply_requests(h)
    assert paused.status == resumed.status == 200
    last = resumed.body["messages"][-1]
    assert last["role"] == "assistant"  # the paused turn, sent back as it came
    assert [b["type"] for b in last["content"] if b["type"] != "thinking"] == [
        "text", "server_tool_use", "web_search_tool_result"]
    # the same search, with the searches the reply has left (its max_uses is the whole reply's)
    searching = search_of(paused.body)
    assert search_of(resumed.body) == {**searching, "max_uses": searching["max_uses"] - 1}
    assert "Here it is." in reply["content"]
    assert "<https://news.example.com/storm>" in reply["content"]


async def test_a_streamed_reply_streams_its_text_after_a_search(make_harness: MakeHarness) -> None:
    h = await make_harness(reminders_in_dms="false", web_search="everywhere", reply_delivery="streamed")
    h.claude.script(Reply(tools=Search("scores", NEWS, answer="What a match.")))
    await h.say("what was the score last night?", mention=True)
    [reply] = await h.replies(CHANNEL_ID)
    await h.at_rest()
    [final] = h.discord.posted(CHANNEL_ID)
    assert "What a match." in final["content"] and final["content"].splitlines()[-1].startswith("-# Sources:")
    assert reply_requests(h)[0].stream


async def test_typing_shows_again_while_a_paused_search_goes_on(make_harness: MakeHarness) -> None:
    h = await make_harness(reminders_in_dms="false", web_search="everywhere", reply_delivery="streamed")
    search, searching = Search("results", NEWS[:1], answer="Here it is.", pause=True), asyncio.Event()
    h.claude.script(Reply(tools=search))
    h.claude.script(Reply(tools=search, held=searching))  # the search goes on until the test says
    await h.say("who won today?", mention=True)
    [first] = await h.replies(CHANNEL_ID)
    assert first["content"] == "Let me look that up."  # the paused turn's words, posted as written

    async def typing_again() -> bool:
        return any(at > first["_at"] for at in h.discord.typing(CHANNEL_ID))

    await eventually(typing_again, "typing while the search goes on")
    searching.set()
    await h.at_rest()
    [final] = h.discord.posted(CHANNEL_ID)
    assert "Here it is." in final["content"] and "<https://news.example.com/storm>" in final["content"]


async def test_typing_shows_while_a_search_runs_in_the_middle_of_a_stream(make_harness: MakeHarness) -> None:
    h = await make_harness(reminders_in_dms="false", web_search="everywhere", reply_delivery="streamed")
    searching = asyncio.Event()
    h.claude.script(Reply(tools=Search("results", NEWS[:1], answer="Here it is."), searching=searching))
    await h.say("who won today?", mention=True)
    [first] = await h.replies(CHANNEL_ID)
    assert first["content"] == "Let me look that up."  # the words before the search, posted whole

    async def typing_again() -> bool:
        return any(at > first["_at"] for at in h.discord.typing(CHANNEL_ID))

    await eventually(typing_again, "typing while the search runs")
    searching.set()
    await h.at_rest()
    [final] = h.discord.posted(CHANNEL_ID)
    assert "Here it is." in final["content"] and "<https://news.example.com/storm>" in final["content"]


async def test_the_cap_stops_the_eleventh_search_in_character_even_after_a_restart(
        make_harness: MakeHarness) -> None:
    h = await make_harness(reminders_in_dms="false", web_search="dms", web_search_daily_cap_person=10,
                           web_search_daily_cap_server=50)
    h.claude.script(Reply(tools=Search("news", NEWS[:1], answer="Found it.")), times=None)
    channel = 0
    for n in range(1, 12):
        if n == 7:  # the day's count is read from the database, not this process: a restart keeps it
            await h.at_rest()
            await h.restart()
        sent = await h.dm(f"any news? ({n})")
        channel = int(sent["channel_id"])
        await h.replies(channel, n)
    requests = reply_requests(h)
    assert len(requests) == 11  # the capped one is answered without a second call
    searched = sum(r.usage.get("server_tool_use", {}).get("web_search_requests", 0) for r in requests)
    assert searched == 10
    assert search_of(requests[9].body)["max_uses"] == 1  # the last search left today
    assert capped(requests[10].body)
    last = h.discord.posted(channel)[-1]["content"]
    assert last == "*Finn rubs their eyes.* I've looked up all I can for today. Ask me again tomorrow?"
    await h.at_rest()
    assert sum(c.web_searches for c in await api_calls(h.store, user_id=USER_ID)) == 10


async def test_the_server_cap_counts_everyone_in_it(make_harness: MakeHarness) -> None:
    h = await make_harness(reminders_in_dms="false", web_search="everywhere", web_search_daily_cap_person=10,
                           web_search_daily_cap_server=3)
    h.claude.script(Reply(tools=Search("news", NEWS[:1], answer="Found it.")), times=None)
    for n, user in enumerate((USER_ID, USER_ID, USER2_ID, USER2_ID), 1):
        await h.say(f"any news? ({n})", mention=True, user=user)
        await h.replies(CHANNEL_ID, n)
        await h.at_rest()
    requests = reply_requests(h)
    # the third search is the server's last today (bob's first), the fourth is capped (bob's second)
    assert [search_of(r.body)["max_uses"] for r in requests[:3]] == [3, 2, 1]
    assert capped(requests[3].body)
    assert h.discord.posted(CHANNEL_ID)[-1]["content"].startswith("*Finn rubs their eyes.*")
    # the searches' cost, in what the server's spending limit and the dashboard's cost by model read
    midnight = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    spent = await h.store.spending.today(midnight, guild_id=GUILD_ID)
    assert spent.server_usd >= 3 * WEB_SEARCH_USD
    assert sum(u.cost for _, u in await h.store.usage.by_model()) >= 3 * WEB_SEARCH_USD
    # in his DMs the server's cap is not his: he may search again there
    sent = await h.dm("any news in private?", user=USER2_ID)
    await h.replies(int(sent["channel_id"]))
    assert WEB_SEARCH in tool_types(reply_requests(h)[-1].body)


async def test_declared_tools_keep_the_cached_prefix(make_harness: MakeHarness) -> None:
    h = await make_harness(reminders_in_dms="false", web_search="dms")
    for n, text in enumerate(("hi there", "how are you?"), 1):
        sent = await h.dm(text)
        await h.replies(int(sent["channel_id"]), n)
        await h.at_rest()
    first, second = reply_requests(h)
    assert json.dumps(first.body["tools"]).encode() == json.dumps(second.body["tools"]).encode()
    assert second.usage["cache_read_input_tokens"] > 0
