"""/status's figures in the language of the person who asks (the interaction's locale), over the wire: numbers
grouped as the language groups them (Babel), a cost where and how the language writes a currency. English
(en-US) is the control."""

from __future__ import annotations

from typing import Any

from bot.core.tokens import history_tokens
from tests.harness import (
    CHANNEL_ID,
    USER_ID,
    Harness,
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
