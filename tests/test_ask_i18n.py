"""The message menus "Ask <character>" and "Remember this" in the language of the asker's Discord client (the
interaction's ``locale``), over the wire: the words the menu puts in their name (the message quoted, then
their question) are in it, so a line of Kindred's own said instead of an answer (the fallback when the model
fails) is in it too; and the note "Remember this" keeps reads, in /memory list, in that language. English
(en-US) is tests/test_ask_anywhere.py's."""

from __future__ import annotations

import json

from bot.core.config import ReplySettings
from bot.core.i18n import t
from tests.harness import USER2_ID, USER_ID, MakeHarness, ephemeral, panel_text
from tests.test_ask_anywhere import ELSEWHERE_CHANNEL, ELSEWHERE_GUILD, pipeline

LOCALES = {"de": "de", "ja": "ja"}  # a client's locale: the catalogs' language


async def test_the_ask_menu_asks_and_falls_back_in_the_askers_language(make_harness: MakeHarness) -> None:
    h = await make_harness(llm_timeout="0.6")
    h.discord.add_outside_channel(ELSEWHERE_CHANNEL, guild_id=ELSEWHERE_GUILD)
    target = h.discord.post_outside(ELSEWHERE_CHANNEL, USER2_ID, "👍")  # words that tell no language
    menu = f"Ask {pipeline(h).persona.name}"[:32]
    h.claude.fail_all(529)
    english = t("en", ReplySettings.fallback_reply, name="Finn")
    for locale, code in LOCALES.items():
        h.discord.set_locale(USER_ID, locale)
        before = len(h.claude.requests)
        ask = await h.discord.interaction_installed(menu, user_id=USER_ID, channel_id=ELSEWHERE_CHANNEL,
                                                    guild_id=ELSEWHERE_GUILD, target=target)
        shown = await ask.message()
        assert shown["content"] == t(code, ReplySettings.fallback_reply, name="Finn") != english
        asked = json.dumps([r.body for r in h.claude.requests[before:]], ensure_ascii=False)
        assert t(code, "What do you make of this?") in asked and "What do you make of this?" not in asked
    h.claude.recover()


async def test_remember_this_keeps_the_note_in_the_askers_language(make_harness: MakeHarness) -> None:
    h = await make_harness()
    h.discord.add_outside_channel(ELSEWHERE_CHANNEL, guild_id=ELSEWHERE_GUILD)
    for (locale, code), (asker, author) in zip(LOCALES.items(), ((USER_ID, USER2_ID), (USER2_ID, USER_ID)),
                                               strict=True):
        h.discord.set_locale(asker, locale)
        target = h.discord.post_outside(ELSEWHERE_CHANNEL, author, "the studio closes at nine on Fridays")
        done = await h.discord.interaction_installed("Remember this", user_id=asker,
                                                     channel_id=ELSEWHERE_CHANNEL, guild_id=ELSEWHERE_GUILD,
                                                     target=target)
        await done.message()
        listing = panel_text(await ephemeral(await h.slash(
            "memory", [{"type": 1, "name": "list", "options": []}], user=asker)))
        note = t(code, "{name} said: {text}", name=target["author"]["username"],
                 text="the studio closes at nine on Fridays")
        assert note in listing and " said: " not in listing, listing
