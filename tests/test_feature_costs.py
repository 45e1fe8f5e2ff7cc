"""What each optional feature adds to every reply's request where it is on, measured on the requests the fake
Claude receives (the tools each declares and the sentence the system prompt gains on how the character uses
them, counted as the fake counts a prompt, on the shipped reply model), and the README's feature table saying
the same figures and defaults."""

from __future__ import annotations

import re
from typing import Any

from bot.core.config import BY_KEY, PROJECT_ROOT
from bot.core.persona.register import DEFAULT_SAFE_REGISTER
from bot.features.reminders.book import VOICE as REMINDERS_VOICE
from bot.features.servertools.knowing import PLACE_VOICE, REACT_VOICE
from bot.features.voice.aloud import SPOKEN
from bot.features.websearch.lender import SEARCH_VOICE
from tests.fakes.prompt_cache import blocks, estimate_tokens
from tests.harness import CHANNEL_ID, MakeHarness, reply_requests

SHIPPED_MODEL = str(BY_KEY["default_model"].default)  # what a reply is sent to out of the box
TOOLS = {"reminders": {"set_reminder", "suggest_timezone"}, "web search": {"web_search"},
         "server tools": {"member_info", "scheduled_events", "recent_messages", "react"}}
# The sentence each tool family adds to the system prompt (bot/reply/generation.py, tools_voice): counted
# with its tools; a README figure of the declarations alone understated web search's cost five times.
VOICES = {"reminders": (REMINDERS_VOICE,), "web search": (SEARCH_VOICE,),
          "server tools": (PLACE_VOICE, REACT_VOICE)}


def declared(body: dict[str, Any], feature: str) -> int:
    """Tokens a tool feature adds to the request: its tools' declarations (each a block of the cached prefix)
    and its sentences in the system prompt, each checked to be there."""
    names = TOOLS[feature]
    tools = [t for t in body.get("tools") or [] if str(t.get("name")) in names]
    assert {str(t["name"]) for t in tools} == names, [t.get("name") for t in body.get("tools") or []]
    system = "\n".join(str(b.get("text", "")) for b in body.get("system") or [])
    assert all(voice in system for voice in VOICES[feature]), feature
    return (sum(estimate_tokens(b.text, SHIPPED_MODEL) for b in blocks({"tools": tools}))
            + sum(estimate_tokens(voice, SHIPPED_MODEL) for voice in VOICES[feature]))


def readme_features() -> dict[str, list[str]]:
    """The README's feature table: feature -> its cells (default, cost per request, switch)."""
    text = (PROJECT_ROOT / "README.md").read_text()
    table = text.split("| feature | default | adds to each request | switch |", 1)[1].split("\n\n", 1)[0]
    rows = [[c.strip() for c in line.strip("|").split("|")] for line in table.splitlines()[2:]]
    return {re.sub(r"\[([^\]]+)\]\([^)]*\)", r"\1", row[0]): row[1:] for row in rows}  # the link's text


def said_tokens(cell: str) -> int:
    match = re.search(r"about ([\d,]+) tokens", cell)
    assert match, cell
    return int(match.group(1).replace(",", ""))


async def test_the_readme_states_what_each_feature_adds_to_a_request(make_harness: MakeHarness) -> None:
    h = await make_harness(web_search="everywhere", server_tools="true")
    sent = await h.dm("hello Finn")
    await h.replies(int(sent["channel_id"]), 1)
    dm = reply_requests(h)[-1].body
    await h.say("hello everyone", mention=True)
    await h.replies(CHANNEL_ID, 1)
    channel = reply_requests(h)[-1].body
    measured = {"reminders": declared(dm, "reminders"),
                "web search": declared(channel, "web search"),
                "server tools": declared(channel, "server tools"),
                "mature characters": estimate_tokens(DEFAULT_SAFE_REGISTER, SHIPPED_MODEL)}
    features = readme_features()
    for feature, tokens in measured.items():
        said = said_tokens(features[feature][1])
        assert abs(said - tokens) <= max(10, tokens // 10), (feature, said, tokens)
    # Reminders are on in DMs out of the box (in servers a place opts in); swipes have a switch now.
    assert features["reminders"][0].startswith("on in DMs")
    assert features["swipes"][0] == "on" and "`swipes`" in features["swipes"][2]
    for feature in ("swipes", "a face per server"):
        assert features[feature][1].startswith("nothing"), feature


def test_the_readme_states_what_voice_channels_cost() -> None:
    """The voice row: its default and switch as the settings declare them, the spoken-reply instruction's
    tokens, and the speech servers' prices as the settings' defaults and docs/features.md give them."""
    voice = readme_features()["voice channels"]
    assert voice[0] == ("on" if BY_KEY["voice_channels"].default else "off")
    assert "`voice_channels`" in voice[2] and "`/bot voice`" in voice[2] and "`stt_backend`" in voice[2]
    tokens = estimate_tokens(SPOKEN, SHIPPED_MODEL)
    assert abs(said_tokens(voice[1]) - tokens) <= max(10, tokens // 10), (said_tokens(voice[1]), tokens)
    assert f"transcription ${BY_KEY['stt_usd_per_minute'].default:g} a minute heard" in voice[1]
    per_minute = re.search(r"speech about \$([\d.]+) a minute said", voice[1])
    assert per_minute is not None
    features_page = (PROJECT_ROOT / "docs" / "features.md").read_text()
    assert f"about ${per_minute.group(1)} per minute\nthe character speaks" in features_page
