"""/userinfo, /serverinfo and /status's figures in the language of the person who asks (the interaction's
locale), over the wire: every field's title and value, numbers grouped as the language groups them (Babel),
counts in the language's plural forms, a cost where and how the language writes a currency. Discord's own
timestamps (``<t:…>``) stay as they are: each client shows them in its own language. English (en-US) is
the control."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import update

from bot.core.tokens import history_tokens
from database.models import User, utcnow
from tests.harness import (
    ADMIN_ID,
    CHANNEL_ID,
    GUILD_ID,
    USER2_ID,
    USER_ID,
    Harness,
    eventually,
    panel_fields,
)
from tests.server_support import opts

KNOWN_DAYS = 1234  # how long ago the character first saw the person: a count with a thousands separator
REPLY_MODEL = "claude-test-default"
USAGE = {"input_tokens": 12_345, "output_tokens": 2_345, "cache_creation_input_tokens": 1_200,
         "cache_read_input_tokens": 3_400}


async def embed(h: Harness, name: str, user: int, **options: Any) -> tuple[dict[str, Any], dict[str, str]]:
    """The ephemeral embed a command answers ``user`` with, and its fields by name."""
    message = await (await h.slash(name, opts(**options), user=user)).message()
    assert message["flags"] & 64
    [shown] = message["embeds"]
    return shown, {f["name"]: f["value"] for f in shown["fields"]}


def english_left(texts: list[str], english: list[str]) -> list[str]:
    return [e for e in english if any(e in text for text in texts)]


async def test_userinfo_speaks_the_askers_language(harness: Harness) -> None:
    h = harness
    # bob has talked (long ago, by his first_seen), holds a role, boosts the server and is timed out
    await h.say("hi Finn", user=USER2_ID)
    await h.replies(CHANNEL_ID, 1)
    await h.at_rest()
    key = h.bot.services.pipeline.character_key
    await h.store.people.set_relationship(key, USER2_ID, rapport=7.5, formality=-1.5)
    first_seen = utcnow() - timedelta(days=KNOWN_DAYS, hours=1)
    await h.store.db.write(lambda conn: conn.execute(
        update(User).where(User.id == USER2_ID).values(first_seen=first_seen)))
    role = await h.discord.add_role(GUILD_ID, "Kelp")
    member = h.discord.members[GUILD_ID][USER2_ID]
    member["premium_since"] = (utcnow() - timedelta(days=3)).isoformat()
    member["communication_disabled_until"] = (utcnow() + timedelta(hours=5)).isoformat()
    await h.discord.give_role(GUILD_ID, USER2_ID, role)

    async def seen() -> bool:  # bob comes with each command (its resolved data); his role, by the gateway
        guild = h.bot.get_guild(GUILD_ID)
        return guild is not None and guild.get_role(role) is not None

    await eventually(seen, "the new role reaches the bot")

    expected = {
        "en-US": {"Account created": None, "Joined this server": None, "Roles (1)": f"<@&{role}>",
                  "Boosting": "since <t:", "Timed out": "until <t:",
                  "Known to Finn": f"({KNOWN_DAYS:,} days)",
                  "Relationship (admins only)": "anger 0/10 · rapport 7.5/10 · trust 5/10 · formality -1.5"},
        "de": {"Konto erstellt": None, "Diesem Server beigetreten": None, "Rollen (1)": f"<@&{role}>",
               "Server-Boost": "seit <t:", "Im Timeout": "bis <t:", "Bekannt mit Finn": "(1.234 Tage)",
               "Beziehung (nur für Admins)":
                   "Ärger 0/10 · Verbundenheit 7,5/10 · Vertrauen 5/10 · Förmlichkeit -1,5"},
        "ja": {"アカウント作成日": None, "このサーバーへの参加日": None, "ロール（1）": f"<@&{role}>",
               "サーバーブースト": "から", "タイムアウト": "まで", "Finnとの付き合い": "（1,234日）",
               "関係（管理者のみ）": "怒り 0/10 · 親しみ 7.5/10 · 信頼 5/10 · 堅さ -1.5"},
    }
    english = ["Account created", "Joined", "Roles", "Boosting", "since", "Timed out", "until", "Known to",
               "days", "Relationship", "admins", "anger", "rapport", "trust", "formality"]
    for locale, fields in expected.items():
        h.discord.set_locale(ADMIN_ID, locale)
        _, shown = await embed(h, "userinfo", ADMIN_ID, member=("user", USER2_ID))
        assert list(shown) == list(fields), shown
        for name, part in fields.items():
            assert shown[name].startswith("<t:") if part is None else part in shown[name], (name, shown[name])
        if locale != "en-US":
            assert english_left([*shown, *shown.values()], english) == [], shown

    # someone the character has never talked to, with no role and no boost; and the bot itself
    quiet = {"en-US": ("Roles (0)", "no roles", "Boosting", "not boosting", "Known to Finn",
                       "not yet: we haven't talked", " · bot"),
             "de": ("Rollen (0)", "keine Rollen", "Server-Boost", "kein Boost", "Bekannt mit Finn",
                    "noch nicht: wir haben noch nicht miteinander gesprochen", " · Bot"),
             "ja": ("ロール（0）", "ロールなし", "サーバーブースト", "ブーストしていません",
                    "Finnとの付き合い", "まだです：まだ話したことがありません", " · ボット")}
    for locale, (roles, no_roles, boosting, no_boost, known, unknown, bot) in quiet.items():
        h.discord.set_locale(USER_ID, locale)
        _, shown = await embed(h, "userinfo", USER_ID)
        assert (shown[roles], shown[boosting], shown[known]) == (no_roles, no_boost, unknown), shown
        card, _ = await embed(h, "userinfo", USER_ID, member=("user", h.bot_user_id))
        assert card["description"].endswith(bot), card["description"]


async def test_serverinfo_speaks_the_askers_language(harness: Harness) -> None:
    h = harness
    people = len(h.discord.members[GUILD_ID])
    expected = {
        "en-US": {"Owner": None, "Created": None, "Members": f"{people}", "Roles": "1",
                  "Channels": "3 text channels · 0 voice channels", "Boosts": "0 (tier 0)"},
        "de": {"Eigentümer": None, "Erstellt": None, "Mitglieder": f"{people}", "Rollen": "1",
               "Kanäle": "3 Textkanäle · 0 Sprachkanäle", "Boosts": "0 (Stufe 0)"},
        "ja": {"オーナー": None, "作成日": None, "メンバー": f"{people}", "ロール": "1",
               "チャンネル": "テキストチャンネル3個 · ボイスチャンネル0個", "ブースト": "0（レベル0）"},
    }

    async def check(expected: dict[str, dict[str, str | None]]) -> None:
        for locale, fields in expected.items():
            h.discord.set_locale(USER_ID, locale)
            _, shown = await embed(h, "serverinfo", USER_ID)
            assert list(shown) == list(fields), shown
            for name, value in fields.items():
                assert shown[name].startswith("<") if value is None else shown[name] == value, (name, shown)

    await check(expected)
    # a large server, boosted: its counts grouped as each language groups thousands
    await h.discord.update_guild(GUILD_ID, member_count=12_345, premium_subscription_count=1_234,
                                 premium_tier=3)

    async def updated() -> bool:
        guild = h.bot.get_guild(GUILD_ID)
        return guild is not None and guild.premium_subscription_count == 1_234

    await eventually(updated, "the server's update reaches the bot")
    large = {"en-US": ("12,345", "1,234 (tier 3)"), "de": ("12.345", "1.234 (Stufe 3)"),
             "ja": ("12,345", "1,234（レベル3）")}
    for locale, (members, boosts) in large.items():
        names = list(expected[locale])  # the members' and the boosts' titles: the third and the sixth
        expected[locale][names[2]], expected[locale][names[5]] = members, boosts
    await check(expected)


async def test_status_figures_are_written_as_the_language_writes_numbers(make_harness: Any) -> None:
    h = await make_harness(daily_token_budget=1_000_000)
    h.claude.script("Counted.", model=REPLY_MODEL, usage=USAGE)
    await h.say("count me", mention=True)
    await h.replies(CHANNEL_ID, 1)
    await h.at_rest()
    usage = await h.store.usage.totals(USER_ID)
    hist = await h.store.conversations.history(h.bot.services.pipeline.character_key, USER_ID,
                                                f"channel:{CHANNEL_ID}")
    total, tokens = usage.total_tokens, history_tokens(hist)
    assert total >= 1_000 and usage.cost > 0
    limits = h.bot.services.limits  # what is left of the day's budget, as /status reads it
    budget = limits.budget(premium=False)
    spent = await limits.spending.today(limits.day_start(limits.clock()), user_id=USER_ID)
    left = budget - spent.person_tokens
    assert left >= 1_000
    cost = f"{usage.cost:.4f}"
    comma = cost.replace(".", ",")
    spelled = {  # how each language groups thousands, and writes a cost in dollars
        "en-US": (lambda n: f"{n:,}", f"${cost}"),
        "de": (lambda n: f"{n:,}".replace(",", "."), f"{comma}\xa0$"),
        "fr": (lambda n: f"{n:,}".replace(",", "\u202f"), f"{comma}\xa0$US"),
        "ja": (lambda n: f"{n:,}", f"${cost}"),
    }
    names = {"en-US": ("Usage (all time)", "Conversation in this channel", "Today's limits"),
             "de": ("Nutzung (insgesamt)", "Gespräch in diesem Kanal", "Heutige Limits"),
             "fr": ("Utilisation (depuis le début)", "Conversation dans ce salon", "Limites du jour"),
             "ja": ("使用量（累計）", "このチャンネルでの会話", "今日の上限")}
    for locale, (grouped, dollars) in spelled.items():
        h.discord.set_locale(USER_ID, locale)
        fields = panel_fields(await (await h.slash("status")).message())
        used, talk, today = (fields[name] for name in names[locale])
        assert grouped(total) in used and used.endswith(" · " + dollars), used
        assert grouped(tokens) in talk, talk
        assert grouped(left) in today and grouped(budget) in today, today
