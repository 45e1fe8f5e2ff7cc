"""A first DM's greeting in the person's language, proven by what the fake Discord receives and what the fake
Claude is asked: a Spanish, German or Japanese first DM gets the card's English greeting rendered in its
language (one call, stored, reused), never the English one, and no later request carries the English one;
an operator's own greeting for the language wins; an English DM to an English card is greeted as before;
an unusable rendering posts no greeting at all."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from babel.dates import format_date, format_time

from bot.core.persona.cards import read_card
from bot.reply import greetingwords
from bot.reply.greetingwords import greeting_key
from tests.fakes.claude_server import FakeClaude, content_text
from tests.harness import OWNER_ID, USER2_ID, Harness, reply_requests
from tests.test_greetings import LUMEN, greeting_of, lumen_folder

Make = Callable[..., Awaitable[Harness]]
ENGLISH = str(read_card(LUMEN / "card.png").data["first_mes"])
RENDERING = "translate a role-play character's opening message into"

# (language code, its name, a first DM in it, the greeting rendered in it (its {{user}} kept), the answer)
CASES = [
    ("es", "Spanish", "¿Cuántos barcos pasaron esta noche por delante del faro?",
     "*La gran lente gira y una banda de luz cálida cruza la sala.* Oh, una escaladora. Cuidado con el "
     "último escalón. Bienvenida al faro de Greywick, {{user}}. Soy Lumen.", "Cuarenta y uno esta noche."),
    ("de", "German", "Wie viele Schiffe sind heute Nacht am Leuchtturm vorbeigefahren?",
     "*Die große Linse dreht sich, und ein warmes Lichtband gleitet durch den Raum.* Oh, eine Kletterin. "
     "Vorsicht mit der letzten Stufe. Willkommen auf Greywick Light, {{user}}. Ich bin Lumen.",
     "Einundvierzig heute Nacht."),
    ("ja", "Japanese", "今夜は灯台の前を何隻の船が通りましたか？",
     "*大きなレンズが回り、暖かな光の帯が灯室を横切る。* あら、登ってきたのね。最後の段に気をつけて。"
     "グレイウィック灯台へようこそ、{{user}}。私はルーメンよ。", "今夜は四十一隻よ。"),
]


def rendering_of(language: str) -> Callable[[dict[str, Any]], bool]:
    return lambda body: f"{RENDERING} {language}" in FakeClaude.system_text(body)


def not_rendering(body: dict[str, Any]) -> bool:
    return RENDERING not in FakeClaude.system_text(body)


def renderings(h: Harness) -> list[Any]:
    return [r for r in h.claude.requests if RENDERING in FakeClaude.system_text(r.body)]


@pytest.mark.parametrize(("code", "language", "message", "rendered", "answer"), CASES,
                         ids=[c[0] for c in CASES])
async def test_a_first_dm_in_another_language_is_greeted_in_it_and_never_in_english(
        make_harness: Make, tmp_path: Path, code: str, language: str, message: str, rendered: str,
        answer: str) -> None:
    h = await make_harness(character_dir=lumen_folder(tmp_path), greetings="true")
    h.claude.script(rendered, match=rendering_of(language))
    h.claude.script(answer, model="claude-test-default", match=not_rendering)
    sent = await h.dm(message)
    channel = int(sent["channel_id"])
    greeting, reply = await h.replies(channel, 2)
    persona = h.bot.services.pipeline.persona
    assert greeting["content"] == persona.render(rendered, "alice")
    assert reply["content"] == answer
    [asked] = renderings(h)
    assert ENGLISH in FakeClaude.all_text(asked.body)  # the card's greeting was what it rendered
    # The reply's request opens with the greeting as posted, and holds no English one.
    first = [r for r in reply_requests(h) if r not in renderings(h)]
    assert content_text(first[0].body["messages"][1]["content"]) == greeting["content"]
    assert greeting_of(h) not in FakeClaude.all_text(first[0].body)
    # Stored once per (greeting, language): the database row that every process reads.
    stored = await h.store.card_words.get(greeting_key(persona.first_message), code)
    assert stored == {"greeting": rendered}
    # Later requests carry the greeting shown, never the English one.
    h.claude.script("Claro.", model="claude-test-default")
    await h.settled()
    await h.dm(message)
    await h.replies(channel, 3)
    later = reply_requests(h)[-1]
    assert greeting["content"] in FakeClaude.all_text(later.body)
    assert "Mind the last step" not in FakeClaude.all_text(later.body)
    assert all(ENGLISH.split("*")[1] not in m["content"] for m in h.discord.posted(channel))


async def test_a_second_person_in_the_language_is_greeted_from_the_stored_rendering(
        make_harness: Make, tmp_path: Path) -> None:
    code, language, message, rendered, answer = CASES[0]
    h = await make_harness(character_dir=lumen_folder(tmp_path), greetings="true")
    h.claude.script(rendered, match=rendering_of(language))
    sent = await h.dm(message)
    await h.replies(int(sent["channel_id"]), 2)
    sent = await h.dm(message, user=USER2_ID)
    greeting, _ = await h.replies(int(sent["channel_id"]), 2)
    assert greeting["content"] == h.bot.services.pipeline.persona.render(rendered, "bob")
    assert len(renderings(h)) == 1


async def test_the_operators_own_greeting_for_the_language_wins(make_harness: Make, tmp_path: Path) -> None:
    folder = lumen_folder(tmp_path)
    own = "¡Hola, {{user}}! Sube, que arriba se está caliente."
    with (folder / "character.env").open("a") as env:
        env.write(f"\nfirst_message_es={own}\n")
    h = await make_harness(character_dir=folder, greetings="true")
    h.claude.script("Cuarenta y uno.", model="claude-test-default")
    sent = await h.dm(CASES[0][2])
    greeting, reply = await h.replies(int(sent["channel_id"]), 2)
    assert greeting["content"] == "¡Hola, alice! Sube, que arriba se está caliente."
    assert not renderings(h)


async def test_an_english_dm_to_an_english_card_is_greeted_as_before(make_harness: Make,
                                                                      tmp_path: Path) -> None:
    h = await make_harness(character_dir=lumen_folder(tmp_path), greetings="true")
    h.claude.script("Forty-one ships tonight.", model="claude-test-default")
    sent = await h.dm("How many ships passed the lighthouse tonight?")
    greeting, _ = await h.replies(int(sent["channel_id"]), 2)
    assert greeting["content"] == greeting_of(h)
    assert not renderings(h)


async def test_an_unusable_rendering_posts_no_greeting_and_is_asked_again_later(
        make_harness: Make, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    code, language, message, rendered, answer = CASES[0]
    h = await make_harness(character_dir=lumen_folder(tmp_path), greetings="true")
    # an answer still in English is no rendering: posting it would be the English greeting again
    h.claude.script(ENGLISH, match=rendering_of(language))
    h.claude.script(answer, model="claude-test-default", match=not_rendering, times=2)
    sent = await h.dm(message)
    channel = int(sent["channel_id"])
    [reply] = await h.replies(channel, 1)
    assert reply["content"] == answer
    persona = h.bot.services.pipeline.persona
    assert await h.store.card_words.get(greeting_key(persona.first_message), code) is None
    # not asked again at once: another first DM in Spanish meanwhile gets its answer, with no greeting
    sent = await h.dm(message, user=USER2_ID)
    [reply] = await h.replies(int(sent["channel_id"]), 1)
    assert reply["content"] == answer and len(renderings(h)) == 1
    await h.settled()
    assert [m["content"] for m in h.discord.posted(channel)] == [answer]
    # once the wait is over, the next first DM in Spanish asks again, and is greeted in Spanish
    monkeypatch.setattr(greetingwords, "RETRY_SECONDS", 0.0)
    h.claude.script(rendered, match=rendering_of(language))
    sent = await h.dm(message, user=OWNER_ID)
    greeting, _ = await h.replies(int(sent["channel_id"]), 2)
    assert greeting["content"].startswith(rendered.split("{{user}}")[0])
    assert len(renderings(h)) == 2


@pytest.mark.parametrize(("code", "own", "message"), [
    ("de", "Hallo, {{user}}! Heute ist {{weekday}}, der {{date}}, und es ist {{time}}.", CASES[1][2]),
    ("ja", "こんにちは、{{user}}さん！今日は{{date}}{{weekday}}、今は{{time}}よ。", CASES[2][2]),
])
async def test_a_greetings_date_and_time_are_written_in_its_language(
        make_harness: Make, tmp_path: Path, code: str, own: str, message: str) -> None:
    """A greeting's {{weekday}}, {{date}} and {{time}} are written as the greeting's language writes them
    (Babel's, CLDR's), never English's "Sunday", "November 29, 2026", "12:51 PM"."""
    folder = lumen_folder(tmp_path)
    with (folder / "character.env").open("a") as env:
        env.write(f"\nfirst_message_{code}={own}\n")
    h = await make_harness(character_dir=folder, greetings="true", timezone="UTC")
    h.claude.script("…", model="claude-test-default")
    sent = await h.dm(message)
    greeting, _ = await h.replies(int(sent["channel_id"]), 2)
    at = datetime.fromisoformat(sent["timestamp"]).astimezone(UTC)
    expected = (own.replace("{{user}}", "alice")
                .replace("{{weekday}}", format_date(at, "EEEE", locale=code))
                .replace("{{date}}", format_date(at, "long", locale=code))
                .replace("{{time}}", format_time(at, "short", locale=code)))
    assert greeting["content"] == expected
    english = (f"{at:%A}", f"{at:%B} {at.day}, {at.year}", " AM", " PM")
    assert not [word for word in english if word in greeting["content"]]
