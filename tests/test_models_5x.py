"""Today's Claude over the wire: the shipped atlas character (temperature 0.8) on the real model ids of the
lineup the suite runs on (KINDRED_TEST_LINEUP: Sonnet 5.5 / Opus 5.5 / Haiku 5.5 by default, or 4.x),
against a fake Claude that applies each family's rules (tests/fakes/claude_models.py): nothing is
refused, votes and the status are not starved by thinking, long answers are whole, a refusal and an answer
that spent all of max_tokens thinking are answered in character, and nothing empty is posted."""

from __future__ import annotations

import logging
from typing import Any

import aiohttp
import pytest
from anthropic import AsyncAnthropic

from bot.core.config import PROJECT_ROOT
from bot.core.models.base import Prompt
from bot.reply.deciding.voting import VOTE_SCHEMA
from tests.fakes.claude_models import lineup
from tests.fakes.claude_server import Reply
from tests.harness import CHANNEL_ID, Harness, dm_reply, log_posts
from tests.ports import free_port

ATLAS = PROJECT_ROOT / "characters" / "atlas"
LINEUP = lineup()
DASHBOARD_TOKEN = "models-test-token-0123456789"


async def start(make_harness: Any, **config: Any) -> Harness:
    h: Harness = await make_harness(character_dir=ATLAS, default_model=LINEUP["reply"],
                                    premium_model=LINEUP["premium"], voting_model=LINEUP["vote"],
                                    model_capabilities="", **config)
    return h


def refused(h: Harness) -> list[Any]:
    return [r for r in h.claude.requests if r.status == 400]


async def test_replies_votes_and_long_answers_on_the_lineup(make_harness: Any,
                                                            caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)
    # A reply budget that holds 5,000 characters (about 1,250 tokens) on either tokenizer.
    h = await start(make_harness, default_max_tokens="1500")
    if "5-5" in LINEUP["reply"]:  # start-up said once that the character's temperature is not sent
        assert any("temperature=0.8 in characters/atlas/character.json is ignored by claude-sonnet-5-5"
                   in r.getMessage() for r in caplog.records)
    h.claude.script("Let's get our bearings first.", model=LINEUP["reply"])
    assert await dm_reply(h, "hello atlas", 1) == "Let's get our bearings first."
    reply = h.claude.last_request(LINEUP["reply"])
    if "5-5" in LINEUP["reply"]:
        assert "temperature" not in reply.body and reply.body["output_config"] == {"effort": "low"}
        assert reply.body["max_tokens"] > h.bot.settings.models.default_max_tokens  # room for thinking
        assert reply.thinking_tokens > 0  # it thought, and the answer still came whole
    else:
        assert reply.body["temperature"] == 0.8 and "output_config" not in reply.body

    # An @mention, and an unaddressed message the votes say yes to (a reply follows), then no.
    h.claude.script("North is that way.", model=LINEUP["reply"])
    await h.say("atlas, which way is north?", mention=True)
    assert (await h.replies(CHANNEL_ID, 1))[0]["content"] == "North is that way."
    h.claude.script("yes", model=LINEUP["vote"], times=3)
    h.claude.script("Contours tell you the slope.", model=LINEUP["reply"])
    await h.say("how do contour lines work on a hiking map?")
    assert (await h.replies(CHANNEL_ID, 2))[1]["content"] == "Contours tell you the slope."
    votes = h.claude.requests_for(LINEUP["vote"])
    # both lineups' voting models support structured outputs: the scripted word comes back as JSON
    assert len(votes) == 3 and all(v.text == '{"vote": "yes"}' and v.status == 200 for v in votes)
    assert votes[0].body["output_config"]["format"] == {"type": "json_schema", "schema": VOTE_SCHEMA}
    if "5-5" in LINEUP["vote"]:
        assert votes[0].body["thinking"] == {"type": "disabled"} and votes[-1].usage["output_tokens"] <= 16
        # the stable part of the vote prompt carries a breakpoint, read from the cache by the later votes
        assert "cache_control" in str(votes[0].body["system"])

    # A 5,000-character answer arrives whole (split into Discord-sized messages, nothing cut). On 4.x,
    # atlas's own max_tokens (900) cuts it, as the real API would: that lineup stops here.
    if "5-5" not in LINEUP["reply"]:
        assert refused(h) == []
        return
    long = " ".join(f"waypoint{i:04d}" for i in range(455))[:5000]
    h.claude.script(long, model=LINEUP["reply"])
    sent = await h.dm("tell me everything about map projections")
    posted = await h.replies(int(sent["channel_id"]), 4)
    assert "".join("".join(m["content"].split()) for m in posted[1:]) == "".join(long.split())
    assert refused(h) == []


async def test_a_refusal_and_a_thinking_only_answer_are_answered_in_character(make_harness: Any) -> None:
    port = free_port()
    h = await start(make_harness, dashboard_port=port, dashboard_token=DASHBOARD_TOKEN)
    fallback = "Sorry, my thoughts scattered."  # the in-character fallback line (fallback_reply)
    h.claude.script(Reply(text="", stop_reason="refusal"), model=LINEUP["reply"])
    first = await dm_reply(h, "something the classifier declines", 1)
    assert fallback in first and first.strip()
    assert len(h.claude.requests_for(LINEUP["reply"])) == 1  # a refusal is not retried
    assert h.bot.services.claude.tally.refusals["reply"] == 1

    # Thinking that fills max_tokens: asked once more with twice the room, then answered.
    h.claude.script(Reply(text="Here is the way.", thinking_tokens=10**6), model=LINEUP["reply"])
    h.claude.script("Here is the way.", model=LINEUP["reply"])
    assert await dm_reply(h, "the way to the hut?", 2) == "Here is the way."
    first_try, second_try = h.claude.requests_for(LINEUP["reply"])[-2:]
    assert first_try.text == "" and first_try.body["max_tokens"] * 2 == second_try.body["max_tokens"]

    # /status: costs per model (from the table's prices) and the refusal counted
    await h.say("status", user=h.admin_id, channel=h.log_channel_id)
    await h.discord.wait_for(lambda d: any("Costs per model" in text for text in log_posts(h)), 10,
                             what="the status")
    [shown] = [text for text in log_posts(h) if "Costs per model" in text]
    assert f"`{LINEUP['reply']}`: $" in shown and "**Refusals since start**\n1 (reply 1)" in shown
    # the dashboard's overview: the same per model, 30 days, and the refusal
    base = f"http://127.0.0.1:{port}"
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        async with http.post(base + "/login", data={"token": DASHBOARD_TOKEN, "next": "/"}) as r:
            page = await r.text()
    assert "Cost per model, 30 days" in page and f"<code>{LINEUP['reply']}</code>" in page
    assert "Refused by the model since start: 1 (reply 1)." in page

    # Twice: the fallback, never an empty message.
    h.claude.script(Reply(text="x", thinking_tokens=10**6), model=LINEUP["reply"], times=2)
    third = await dm_reply(h, "and back?", 3)
    assert fallback in third
    assert all(m["content"].strip() for m in h.discord.posted(int((await h.dm("."))["channel_id"])))
    assert refused(h) == []


async def test_status_summary_and_background_work_are_not_starved(make_harness: Any) -> None:
    h = await start(make_harness)
    completion = await h.bot.services.claude.complete(
        Prompt(
            messages=[{"role": "user", "content": "A short custom status, please."}]),
        guild_id=None, purpose="status", max_tokens=80)
    assert completion.text and completion.stop_reason == "end_turn"
    summary = await h.bot.services.claude.summarize(
        Prompt(
            messages=[{"role": "user", "content": "Summarize: we talked about maps."}]), user_id=None,
        guild_id=None)
    assert summary.text
    assert refused(h) == []


async def test_thresholds_and_budgets_count_the_models_tokens(make_harness: Any) -> None:
    # Two exchanges are about 56 tokens of the local tokenizer: under a 60-token threshold on 4.x, over it
    # on 5.x, whose tokenizer makes about 30 % more of the same text (the table's factor; the fake counts so).
    from tests.test_summarization import CHAT, SUMMARY_CUE, Script, chat, requests_with

    h = await make_harness(conversation_token_threshold="60", history_keep_messages="2",
                           recent_channel_messages="0", daily_token_budget="10000")
    h.claude.responder = Script()
    await chat(h, CHAT[:2])
    await h.bot.in_flight.drain()  # the replies' turn listeners have run
    await h.bot.services.memory.summarizer.wait_idle()
    new_tokenizer = "5-5" in LINEUP["reply"]
    assert h.bot.services.claude.token_factor() == (1.3 if new_tokenizer else 1.0)
    assert len(requests_with(h, SUMMARY_CUE)) == (1 if new_tokenizer else 0)
    assert h.bot.services.limits.budget(False) == (13000 if new_tokenizer else 10000)
    # and the fake counts the same text as about 30 % more tokens on 5.x, as the API would
    sdk = AsyncAnthropic(api_key="fake-anthropic-key", base_url=h.claude.base_url)
    counts = {}
    for model in ("claude-sonnet-5-5", "claude-sonnet-4-6"):
        counted = await sdk.messages.count_tokens(model=model,
                                                  messages=[{"role": "user", "content": "tide " * 200}])
        counts[model] = counted.input_tokens
    await sdk.close()
    assert counts["claude-sonnet-5-5"] == round(counts["claude-sonnet-4-6"] * 1.3 + 0.5)


async def test_the_name_a_reply_to_and_votes_that_say_no_on_the_lineup(make_harness: Any) -> None:
    # atlas (temperature 0.8) addressed by name and by a reply to its message: no votes, no request refused;
    # then an unaddressed message the votes turn down: three votes, no reply.
    h = await start(make_harness)
    h.claude.script("Maps first, then tea.", model=LINEUP["reply"])
    await h.say("Atlas, what do we do first?")
    [first] = await h.replies(CHANNEL_ID, 1)
    assert first["content"] == "Maps first, then tea."
    h.claude.script("The red line is the trail.", model=LINEUP["reply"])
    await h.say("and the red line?", reply_to=int(first["id"]))
    assert (await h.replies(CHANNEL_ID, 2))[1]["content"] == "The red line is the trail."
    assert h.claude.requests_for(LINEUP["vote"]) == []

    h.claude.script("no", model=LINEUP["vote"], times=3)
    await h.say("the kettle is boiling over here")
    votes = await h.claude.wait_for_requests(3, model=LINEUP["vote"])
    await h.settled()
    assert len(votes) == 3 and all(v.text == '{"vote": "no"}' and v.status == 200 for v in votes)
    assert len(h.discord.posted(CHANNEL_ID)) == 2  # nothing more was said
    replies = h.claude.requests_for(LINEUP["reply"])
    assert len(replies) == 2
    if "5-5" in LINEUP["reply"]:
        assert all("temperature" not in r.body for r in replies)
    else:
        assert all(r.body["temperature"] == 0.8 for r in replies)
    assert refused(h) == []
