"""A core memory of a server the bot cannot see (one it left) is listed by ``/memory list`` with that server
named in the reader's language ("nur auf dem Server 4242", "サーバー 4242 でのみ"), never as an English
"server 4242" inside their line. Over the wire: the fake Discord's /memory list, asked from a German and a
Japanese client."""

from __future__ import annotations

import pytest

from tests.harness import USER_ID, Harness, panel_text

GONE = 4242  # a server the bot is not in (any more): no name to show
BEES = "I keep bees"


@pytest.mark.parametrize(("locale", "where"), [("de", "nur auf dem Server 4242"),
                                               ("ja", "サーバー 4242 でのみ")])
async def test_a_memory_of_a_server_left_names_it_in_the_readers_language(
        harness: Harness, locale: str, where: str) -> None:
    h = harness
    assert h.bot is not None and h.bot.get_guild(GONE) is None
    key = h.bot.services.pipeline.character_key
    await h.store.people.ensure_user(USER_ID, "alice")
    await h.store.memories.add_core_memory(key, USER_ID, BEES, "user", guild_id=GONE)
    h.discord.set_locale(USER_ID, locale)
    listed = await h.slash("memory", [{"type": 1, "name": "list", "options": []}])
    lines = [line for line in panel_text(await listed.message()).splitlines() if line.startswith("**★**")]
    assert lines == [f"**★** {BEES} · {where}"], lines
    assert "server" not in lines[0]
