"""Two bot processes, one character each (the ClaudeMask way), sharing a server: they take turns.

Both bots are real Kindred clients on their own gateway sessions and databases, against one fake Discord
and one fake Claude, exactly as two processes would be.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.core.character import CharacterSource
from bot.core.config import PROJECT_ROOT, load_settings
from bot.discord.client import Kindred, create_bot
from tests.fakes import EVENT_WAIT
from tests.fakes.claude_server import FakeClaude
from tests.harness import CHANNEL_ID, GUILD_ID, OTHER_BOT_ID, Harness, speaker, track_handled

FINN_ACCOUNT = 800_000_000_000_000_001  # the harness bot's account (FakeDiscord's first bot)
ATLAS_ACCOUNT = 800_000_000_000_000_002
ATLAS_TOKEN = "fake-atlas-token"


class Pair:
    """The harness's bot plays Finn; a second bot process plays Atlas."""

    def __init__(self, h: Harness, tmp_path: Path) -> None:
        self.h = h
        self.tmp_path = tmp_path
        self.atlas: Kindred | None = None
        self.atlas_handled: set[int] = set()  # what Atlas has finished with (harness.track_handled)
        self._runner: asyncio.Task[None] | None = None

    async def start_atlas(self, **config: str) -> Kindred:
        d = self.h.discord
        d.add_bot(ATLAS_TOKEN, ATLAS_ACCOUNT, "Atlas")
        d.add_member(GUILD_ID, ATLAS_ACCOUNT, admin=True)
        folder = PROJECT_ROOT / "characters" / "atlas"
        # Its own database, as a separate process would have.
        environ = {**self.h.environ(), "DISCORD_TOKEN": ATLAS_TOKEN,
                   "DATABASE_URL": f"sqlite+aiosqlite:///{self.tmp_path / 'atlas.db'}", **config}
        bot = create_bot(
            load_settings(folder, None, environ=environ),
            CharacterSource(folder, None, environ=environ),
            guild_ready_timeout=0.05,
        )
        self.atlas = bot
        track_handled(bot, self.atlas_handled)
        self._runner = asyncio.create_task(bot.start(ATLAS_TOKEN))
        await d.wait_for(lambda _: bot.is_ready() or self._runner.done(), what="the bot ready")  # type: ignore[union-attr]
        if self._runner.done():
            self._runner.result()
        return bot

    async def close(self) -> None:
        if self.atlas is not None:
            await self.atlas.close()
        if self._runner is not None:
            await asyncio.gather(self._runner, return_exceptions=True)
        await self.h.close()

    def posts(self) -> list[dict[str, Any]]:
        return self.h.discord.posted(CHANNEL_ID)

    def posts_by(self, account: int) -> list[dict[str, Any]]:
        return [m for m in self.posts() if int(m["author"]["id"]) == account]


@pytest.fixture
async def pair(db_url: str, tmp_path: Path) -> AsyncIterator[Pair]:
    h = Harness(db_url=db_url, tmp_path=tmp_path)
    h.discord.users[FINN_ACCOUNT]["username"] = "Finn"  # each character bot is named after its character
    h.claude.responder = lambda body: None if speaker(body) == "?" else f"{speaker(body)} answering."
    await h.start()
    p = Pair(h, tmp_path)
    try:
        yield p
    finally:
        await p.close()


async def test_the_character_named_second_waits_for_the_first_and_sees_its_answer(pair: Pair) -> None:
    await pair.start_atlas(peer_characters="Finn", turn_wait_after_human="5")
    # Finn takes a moment to answer; Atlas must not jump in first.
    pair.h.claude.script(
        "Kelp tea before any hike, trust me.", match=lambda b: speaker(b) == "Finn", delay=0.5
    )
    await pair.h.say("Finn and Atlas, what should I bring on a long hike?")
    await pair.h.discord.wait_for(lambda _: len(pair.posts()) >= 2, what="both characters' answers")
    first, second = pair.posts()
    assert (
        int(first["author"]["id"]) == FINN_ACCOUNT
        and first["content"] == "Kelp tea before any hike, trust me."
    )
    assert int(second["author"]["id"]) == ATLAS_ACCOUNT
    [atlas_request] = [r for r in pair.h.claude.requests if speaker(r.body) == "Atlas"]
    text = FakeClaude.all_text(atlas_request)
    assert "Kelp tea before any hike, trust me." in text, "Atlas saw Finn's answer before writing its own"
    await pair.h.channel_handled(CHANNEL_ID, pair.atlas_handled)  # both bots done with every post
    assert len(pair.posts()) == 2


async def test_a_mentioned_bot_is_known_as_a_character_without_configuration(pair: Pair) -> None:
    await pair.start_atlas(turn_wait_after_human="5")
    pair.h.claude.script("Seafoam chai.", match=lambda b: speaker(b) == "Finn", delay=0.4)
    await pair.h.discord.user_message(
        CHANNEL_ID,
        pair.h.user_id,
        f"<@{FINN_ACCOUNT}> and Atlas, a drink for the trail?",
        mentions=[FINN_ACCOUNT],
    )
    await pair.h.discord.wait_for(lambda _: len(pair.posts()) >= 2, what="both answers")
    assert [int(m["author"]["id"]) for m in pair.posts()] == [FINN_ACCOUNT, ATLAS_ACCOUNT]
    [atlas_request] = [r for r in pair.h.claude.requests if speaker(r.body) == "Atlas"]
    assert "Seafoam chai." in FakeClaude.all_text(atlas_request)


async def test_each_waits_only_for_those_named_before_it(pair: Pair) -> None:
    # A turn wait longer than the test waits for both answers: they come only if Finn waited for Atlas's
    # answer, not for the timeout (no clock read, so a loaded machine cannot make it look like one).
    wait = str(3 * EVENT_WAIT)
    await pair.h.restart(peer_characters="Atlas", turn_wait_after_human=wait)
    await pair.start_atlas(peer_characters="Finn", turn_wait_after_human=wait)
    await pair.h.say("Atlas and Finn, quick question: north or south?")
    await pair.h.discord.wait_for(lambda _: len(pair.posts()) >= 2, what="both answers")
    assert [int(m["author"]["id"]) for m in pair.posts()] == [ATLAS_ACCOUNT, FINN_ACCOUNT]
    [finn_request] = [r for r in pair.h.claude.requests if speaker(r.body) == "Finn"]
    assert "Atlas answering." in FakeClaude.all_text(finn_request)


async def test_the_wait_is_longer_after_a_person_than_after_a_bot(
    pair: Pair, caplog: pytest.LogCaptureFixture
) -> None:
    # "Zed" is a character that never answers: Atlas waits its full turn, then speaks anyway.
    await pair.start_atlas(
        peer_characters="Zed", turn_wait_after_human="1.0", turn_wait_after_bot="0.1", reply_cooldown="0"
    )
    caplog.set_level(logging.INFO, logger="bot.reply.deciding.turns")
    started = time.monotonic()
    await pair.h.say("Zed and Atlas, what's over the ridge?")
    await pair.h.discord.wait_for(lambda _: pair.posts_by(ATLAS_ACCOUNT), what="Atlas's answer")
    assert time.monotonic() - started >= 1.0
    await pair.h.discord.user_message(CHANNEL_ID, OTHER_BOT_ID, "Zed and Atlas, report in.")
    await pair.h.discord.wait_for(
        lambda _: len(pair.posts_by(ATLAS_ACCOUNT)) >= 2, what="Atlas's second answer"
    )
    waits = [r.getMessage() for r in caplog.records if "did not answer within" in r.getMessage()]
    assert len(waits) == 2 and "within 1s" in waits[0] and "within 0.1s" in waits[1], waits


async def test_a_message_naming_only_another_character_is_left_to_it_without_a_vote(
    make_harness: Any, caplog: pytest.LogCaptureFixture
) -> None:
    h: Harness = await make_harness(peer_characters="Atlas")
    caplog.set_level(logging.INFO, logger="bot.reply.deciding")
    h.claude.script("no", model="claude-test-voter", times=None)

    async def decision(sent: dict[str, Any]) -> str:
        records = await h.discord.wait_for(
            lambda _: [
                r.getMessage() for r in caplog.records if f"message {sent['id']} from" in r.getMessage()
            ],
            what=f"the decision on message {sent['id']}",
        )
        return str(records[0])

    # A configured peer named, and a bot seen in the channel @mentioned: theirs, decided by name alone.
    assert "stay quiet (addressed to Atlas)" in await decision(
        await h.say("Atlas, which way is north from here?")
    )
    assert h.claude.requests == []
    # A bot speaking here becomes a known character (its own message goes to the vote as usual).
    assert "majority vote" in await decision(
        await h.discord.user_message(CHANNEL_ID, OTHER_BOT_ID, "Evening, all.")
    )
    votes = len(h.claude.requests_for("claude-test-voter"))
    mention = await h.discord.user_message(
        CHANNEL_ID, h.user_id, f"<@{OTHER_BOT_ID}> your turn", mentions=[OTHER_BOT_ID]
    )
    assert "stay quiet (addressed to otherbot)" in await decision(mention)
    assert len(h.claude.requests_for("claude-test-voter")) == votes
    assert [r for r in h.claude.requests if r.model != "claude-test-voter"] == [] and h.discord.posted(
        CHANNEL_ID
    ) == []
    # Only when no known character is named does the voting model decide.
    assert "majority vote" in await decision(await h.say("which way is north from here?"))
