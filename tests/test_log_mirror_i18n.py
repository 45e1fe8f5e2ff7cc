"""The verbose mirror and the admin commands' answers in the log channel's language, over the wire: a
decision line (its reasons too: a mention, a limit reached), a model error's line and the daily
consolidation's panel are rendered when posted, and ``premium``, ``verbose``, a bad usage and ``status``
answer, in the log channel's server's ``/settings language``, else the server's preferred locale (a
community server's), else English. What a DM said never reaches the channel in any language
(bot/operator/logmirror.py)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from babel.dates import format_date

from bot.core.i18n import t
from bot.core.numbers import number
from tests.harness import (
    ADMIN_ID,
    GUILD_ID,
    LOG_CHANNEL_ID,
    USER_ID,
    Harness,
    consolidate,
    log_posts,
    panel_fields,
    panel_text,
)
from tests.memory_support import consolidation_responder
from tests.server_support import answer, sub
from tests.test_admin_log_channel import DEFAULT, PREMIUM, VOTER, seed_user, wait_until

# (the setting's value, or None; the DM's line; a failed reply call's; the report's title; its facts)
SEEN = {
    "en": (None, f"DM from user {USER_ID}: reply", "❗ Claude reply call failed",
           "### Daily memory consolidation", ("Facts", "2 new")),
    "de": ("German", f"DM von Nutzer {USER_ID}: Antwort", "❗ Claude-Aufruf reply fehlgeschlagen",
           "### Tägliche Gedächtniskonsolidierung", ("Fakten", "2 neu")),
    "ja": ("Japanese", f"ユーザー {USER_ID} からの DM: 返信する", "❗ Claude の reply 呼び出しが失敗しました",
           "### 毎日の記憶の整理", ("事実", "新規 2")),
}


async def mirrored(h: Harness, language: str) -> None:
    """A DM's decision, a failed model call and the daily consolidation, each as ``language`` says it."""
    _, dm_line, error_line, title, (facts, new) = SEEN[language]
    h.claude.responder = consolidation_responder()
    await h.say("FACT[work]: Alice mends fishing nets", mention=True)
    await h.replies(h.channel_id, 1)
    sent = await h.dm("FACT[home]: my secret diary says the attic leaks", user=USER_ID)
    await h.replies(int(sent["channel_id"]), 1)
    await wait_until(h, lambda: dm_line in log_posts(h), f"the DM line in {language}")
    await h.bot.in_flight.drain()
    await h.bot.mirror.drain()
    before = len(h.discord.posted(LOG_CHANNEL_ID))
    report = await consolidate(h)
    assert report.new_facts == 2
    await h.bot.mirror.drain()
    [posted] = [m for m in h.discord.posted(LOG_CHANNEL_ID)[before:] if not m["content"]]
    assert panel_text(posted).startswith(title)
    assert panel_fields(posted)[facts].startswith(new)

    h.claude.fail_all(400)
    await h.say("hello?", mention=True)
    await h.replies(h.channel_id, 2)  # the fallback reply
    await wait_until(h, lambda: any(error_line in t for t in log_posts(h)), f"the error line in {language}")
    h.claude.recover()
    shown = "\n".join(log_posts(h))
    assert "diary" not in shown and "attic" not in shown  # a DM's words, in no language


# A decision's reasons in the log channel: (a mention answered; a second message past one a minute, refused
# and said so; the limit's own notice)
REASONS = {
    "en": ("→ reply (mentioned", "→ stay quiet (limit: 1 message a minute reached; said so once)",
           "1 message a minute reached;"),
    "de": ("→ Antwort (erwähnt", "→ still bleiben (Limit: 1 Nachricht pro Minute erreicht; einmal Bescheid "
           "gesagt)", "1 Nachricht pro Minute erreicht;"),
    "ja": ("→ 返信する (メンションされた",
           "→ 黙っている (上限: 1 分あたり 1 件のメッセージに到達。一度伝えた)",
           "1 分あたり 1 件のメッセージに到達"),
}


@pytest.mark.parametrize("language", ["en", "de", "ja"])
async def test_a_decisions_reasons_are_in_the_servers_language_else_english(make_harness: Any,
                                                                          language: str) -> None:
    h = await make_harness(verbose_logging="true", user_messages_per_minute=1)
    setting = SEEN[language][0]
    if setting is not None:
        await answer(await h.slash("settings", sub("set", key="language", value=setting), user=ADMIN_ID))
    mentioned, limited, noticed = REASONS[language]
    await h.say("is the tide in?", mention=True)
    await h.replies(h.channel_id, 1)
    await wait_until(h, lambda: any(mentioned in t for t in log_posts(h)), f"the mention in {language}")
    await h.say("and now?", mention=True)  # the second this minute: refused, and told so once
    await h.replies(h.channel_id, 2)
    await wait_until(h, lambda: any(limited in t for t in log_posts(h)), f"the limit in {language}")
    await wait_until(h, lambda: any(t.startswith("⏳") and noticed in t for t in log_posts(h)),
                     f"the limit's notice in {language}")
    if language != "en":  # nothing of the reasons left in English
        shown = "\n".join(log_posts(h))
        assert "mentioned" not in shown and "a minute reached" not in shown, shown


@pytest.mark.parametrize("language", ["en", "de", "ja"])
async def test_mirror_lines_are_in_the_servers_language_else_english(make_harness: Any,
                                                                     language: str) -> None:
    h = await make_harness(verbose_logging="true")
    setting = SEEN[language][0]
    if setting is not None:
        await answer(await h.slash("settings", sub("set", key="language", value=setting), user=ADMIN_ID))
    await mirrored(h, language)


async def test_without_a_setting_the_servers_preferred_locale_decides(make_harness: Any) -> None:
    h = await make_harness(verbose_logging="true")
    h.discord.guilds[GUILD_ID]["preferred_locale"] = "ja"  # a community server's, sent on connecting
    await h.restart()
    await mirrored(h, "ja")


# --------------------------------------------------------------------------- the admin commands' answers


async def log_channel_in(make_harness: Any, language: str) -> Harness:
    """A bot whose log channel reads ``language``: German by the server's ``/settings language``, Japanese
    by the server's preferred locale alone, English by default."""
    h = await make_harness()
    if language == "de":
        await answer(await h.slash("settings", sub("set", key="language", value="German"), user=ADMIN_ID))
    elif language == "ja":
        h.discord.guilds[GUILD_ID]["preferred_locale"] = "ja"  # a community server's, sent on connecting
        await h.restart()
    return h


async def admin_answer(h: Harness, text: str) -> dict[str, Any]:
    """The log channel's answer to an admin's ``text``."""
    before = len(h.discord.posted(LOG_CHANNEL_ID))
    await h.say(text, user=ADMIN_ID, channel=LOG_CHANNEL_ID)
    return (await h.replies(LOG_CHANNEL_ID, before + 1))[before]


@pytest.mark.parametrize("language", ["en", "de", "ja"])
async def test_admin_commands_answer_in_the_log_channels_language(make_harness: Any, language: str) -> None:
    h = await log_channel_in(make_harness, language)
    await seed_user(h, USER_ID, "alice")
    user, premium = f"alice (`{USER_ID}`)", f"`{PREMIUM}`"
    said = (await admin_answer(h, f"premium {USER_ID}"))["content"]
    assert said == t(language, "{user} is now **premium**: their replies use {model}.", user=user,
                     model=premium)
    said = (await admin_answer(h, "verbose off"))["content"]
    assert said == t(language, "Verbose mode is **off**: only warnings and admin answers appear here.")
    # the command's own syntax stays as it is typed; the words around it are translated
    said = (await admin_answer(h, "premium"))["content"]
    assert said == t(language, "Usage: {syntax}.", syntax="`premium <user id>`")
    said = (await admin_answer(h, "list users 0"))["content"]
    assert said == t(language, "Usage: {syntax} (pages count from 1).", syntax="`list users [page]`")

    report = await admin_answer(h, "status")
    fields = panel_fields(report)
    name = h.bot.services.pipeline.persona.name
    assert panel_text(report).startswith("### " + t(language, "{name}: status", name=name))
    assert fields[t(language, "Models")] == t(language, "default {default} · premium {premium} · voting "
                                                        "{voting}", default=f"`{DEFAULT}`", premium=premium,
                                              voting=f"`{VOTER}`")
    uptime = fields[t(language, "Uptime")]  # how long it has run, then the servers and the verbose switch
    assert uptime.endswith(t(language, "{uptime} · servers: {servers} · verbose: {verbose}", uptime="UP",
                             servers=1, verbose=t(language, "off")).split("UP", 1)[1])
    assert t(language, "Gateway latency") in fields and t(language, "Replies") in fields
    # the other parts' own figures: the model client's, the character's life's, the memory jobs'
    costs = fields[t(language, "Costs per model")]  # the seeded user's one call
    tokens = t(language, "{input} in, {output} out, {read} cache read, {written} cache write",
               input=number(1200, language), output=number(300, language), read=number(500, language),
               written=number(0, language))
    assert costs.startswith(f"`{DEFAULT}`: ") and tokens in costs
    assert fields[t(language, "Refusals since start")] == "0" and t(language, "Feeling") in fields
    assert fields[t(language, "Memory consolidation")] == t(language, "not run by this process since it "
                                                              "started")
    # testlog's moment, as the language writes a date (not ISO)
    today = datetime.now(UTC)
    said = (await admin_answer(h, "testlog"))["content"]
    assert format_date(today, "medium", locale=language) in said and f"{today:%Y-%m-%d}" not in said
    shown = "\n".join(log_posts(h))
    if language == "en":
        assert "alice" in shown and "is now **premium**" in shown and "Usage: `premium <user id>`" in shown
        assert "Gateway latency" in fields and "verbose: off" in uptime
    else:  # no English sentence or figure name left
        for english in ("is now **premium**", "Verbose mode", "Usage:", "pages count", "Gateway latency",
                        "Replies", "Uptime", "servers:", "cooldown", "warning above", "Costs per model",
                        "cache read", "Refusals", "Feeling", "Memory consolidation", "not run by"):
            assert english not in shown, english
        assert f"premium {USER_ID}" not in shown and PREMIUM in shown  # a model id is data, as it is
