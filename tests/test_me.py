"""/me: the persona a person sets (the name the character calls them, pronouns, a few lines about them), as
the fake Claude receives it at the next message: in their DMs all of it, where they speak in a server the
name and pronouns only; /me clear and /forget_me take it away; a field over its bound stores nothing."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bot.core.config import BY_KEY
from bot.reply.prompting import profile_part
from database.profiles import ABOUT_MAX, NO_PROFILE, Profile
from tests.fakes.claude_server import FakeClaude
from tests.fakes.prompt_cache import estimate_tokens
from tests.harness import (
    CHANNEL_ID,
    USER_ID,
    Harness,
    MakeHarness,
    ephemeral,
    reply_requests,
    run_round,
)
from tests.server_support import opts
from tests.test_alive_feelings import checkin_request
from tests.test_feature_costs import readme_features
from tests.test_memory_commands import forget, memory

CHARACTER = """\
default_name="Wren"
core_prompt="You are {{char}}, a night-market fortune teller. {{user}} is an old friend of yours."
post_history_instructions="Greet {{user}} by name."
"""
ABOUT = "I keep bees on a rooftop in Lisbon"


async def me(h: Harness, command: str, *, dm: bool = False, **options: Any) -> str:
    """Run ``/me <command>``; its answer, asserting only the caller saw it."""
    ix = await h.slash("me", [{"type": 1, "name": command, "options": opts(**options)}], dm=dm)
    return str((await ephemeral(ix))["content"])


async def wren(make_harness: Callable[..., Awaitable[Harness]], tmp_path: Path) -> Harness:
    folder = tmp_path / "wren"
    folder.mkdir()
    (folder / "character.env").write_text(CHARACTER)
    return await make_harness(character_dir=folder)


async def dm_request(h: Harness, text: str, n: int) -> str:
    sent = await h.dm(text)
    await h.replies(int(sent["channel_id"]), n)
    return FakeClaude.all_text(reply_requests(h)[-1])


async def test_me_set_names_them_in_their_dms_and_in_a_server(
        make_harness: Callable[..., Awaitable[Harness]], tmp_path: Path) -> None:
    h = await wren(make_harness, tmp_path)
    answer = await me(h, "set", name="Sam", pronouns="they/them", about=ABOUT)
    assert "**Name:** Sam" in answer and "they/them" in answer

    # Their DM: the name ({{user}}, the card's instructions), the pronouns and the about, as their own words.
    seen = await dm_request(h, "hello wren", 1)
    system = FakeClaude.system_text(reply_requests(h)[-1])
    assert "Sam is an old friend of yours." in system and "alice is an old friend" not in system
    assert "[Instructions] Greet Sam by name." in seen
    assert '<self by="Sam"' in seen and "Call me: Sam (shown as alice)" in seen
    assert "My pronouns: they/them" in seen and f"About me: {ABOUT}" in seen

    # Where they speak in a server: the name and pronouns, never the about (private to their DMs).
    await h.say("hello everyone", mention=True)
    await h.replies(CHANNEL_ID, 1)
    seen = FakeClaude.all_text(reply_requests(h)[-1])
    assert "Call me: Sam (shown as alice)" in seen and "My pronouns: they/them" in seen
    assert "Sam: @Wren hello everyone" in seen and "[Instructions] Greet Sam by name." in seen
    assert "rooftop" not in seen

    # /me show, then /me clear: the next message sees none of it.
    assert "rooftop" in await me(h, "show")
    assert "Deleted" in await me(h, "clear")
    seen = await dm_request(h, "still there?", 2)
    assert "<self" not in seen and "Sam" not in seen and "Greet alice by name." in seen
    assert "set nothing yet" in await me(h, "show")


async def test_a_field_over_its_bound_is_explained_and_nothing_is_stored(harness: Harness) -> None:
    h = harness
    answer = await me(h, "set", name="S" * 33, pronouns="they/them")
    assert "Nothing was changed" in answer and "name is 33 characters long; at most 32" in answer
    answer = await me(h, "set", about="a" * 301, dm=True)
    assert "about is 301 characters long; at most 300" in answer
    assert await h.store.profiles.get(USER_ID) == NO_PROFILE
    assert "at least one" in await me(h, "set")
    # Set in parts: a field not given keeps its value.
    await me(h, "set", name="Sam")
    await me(h, "set", pronouns="she/her")
    profile = await h.store.profiles.get(USER_ID)
    assert (profile.name, profile.pronouns, profile.about) == ("Sam", "she/her", "")


async def test_forget_me_deletes_it_and_an_opt_out_does_not(harness: Harness) -> None:
    h = harness
    await me(h, "set", name="Sam", pronouns="they/them", about=ABOUT)
    await memory(h, "opt-out")  # stating it was consent to keep it: not remembering them keeps it
    assert (await h.store.profiles.get(USER_ID)).name == "Sam"
    assert (await h.store.privacy.rows_about_user(USER_ID)).get("person_profiles") == 1

    await forget(h)

    assert await h.store.profiles.get(USER_ID) == NO_PROFILE
    assert "person_profiles" not in await h.store.privacy.rows_about_user(USER_ID)
    seen = await dm_request(h, "hello again", 1)
    assert "<self" not in seen and "Sam" not in seen and "rooftop" not in seen


def test_the_readme_states_what_a_persona_adds_to_a_request() -> None:
    model = str(BY_KEY["default_model"].default)
    row = readme_features()["a persona of one's own"]
    assert row[0] == "nothing set" and "`/me set`" in row[2]
    said = [int(n) for n in re.findall(r"about (\d+) (?:tokens|with)", row[1])]
    short = estimate_tokens(profile_part(Profile("Sam", "they/them"), "Sam", "alice", private=False), model)
    about = "word " * (ABOUT_MAX // 5)
    full = estimate_tokens(profile_part(Profile("Sam", "they/them", about), "Sam", "alice"), model)
    assert abs(said[0] - short) <= 10 and abs(said[1] - full) <= max(10, full // 10), (said, short, full)


async def test_a_check_in_calls_them_by_the_name_they_set(make_harness: MakeHarness) -> None:
    """A check-in is a DM of its own: the person block opens with their persona, the about included."""
    h = await make_harness(checkin_after_days="2", timezone="UTC", quiet_hours="23-7")
    await (await h.slash("checkin", [{"type": 1, "name": "on", "options": []}])).text()
    await h.dm("hello finn")
    await h.replies(await h.dm_channel_id(), 1)
    await h.bot.in_flight.drain()
    await me(h, "set", name="Sam", pronouns="they/them", about=ABOUT)
    day = (datetime.now(UTC) + timedelta(days=3)).replace(hour=12, minute=0, second=0, microsecond=0)
    h.claude.script("Sam! How are the bees?", match=checkin_request)
    assert await run_round(h, "checkins", day) == "1 of 1 check-in(s) sent"
    asked = FakeClaude.all_text([r for r in h.claude.requests if checkin_request(r.body)][-1])
    assert '<person name="Sam">\n<self by="Sam"' in asked and f"About me: {ABOUT}" in asked
