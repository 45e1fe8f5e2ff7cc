"""The character's feelings in any language: the reply's model judges what the message it answers carries
(its ``<felt>`` tag, bot/reply/felt.py), in the call it makes anyway, and the tag never reaches anyone.
Over the wire (fake Discord + fake Claude): the tag is in no post, no streamed edit, no stored turn, no
swipe and no /ask answer; distress said in any of Discord's eleven big languages moves the character
toward concern alike; an insult in any of them is not read as warmth; the English the old word lists
misread is read as the model judges it; a tag missing or malformed changes nothing and shows nothing.
Then the parser itself."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from bot.reply.felt import INSTRUCTION, KINDS, Shown, kinds_of, shown, split
from tests.fakes.claude_server import FakeClaude, Reply
from tests.felt_support import asks_felt, feels, says
from tests.harness import (
    CHANNEL_ID,
    USER_ID,
    Harness,
    MakeHarness,
    exchange,
    press,
    reply_requests,
    stored_history,
)
from tests.test_e2e_delivery import LONG, edits
from tests.test_feelings_in_context import Clock, afternoon, dm, set_clock, state_line
from tests.test_swipes import shows

REPLY_MODEL = "claude-test-default"


def discord_texts(h: Harness) -> list[str]:
    """Every text the bot sent Discord: posts, edits, interaction answers and follow-ups."""
    out = []
    for r in h.discord.requests:
        if r.method in ("POST", "PATCH") and isinstance(r.body, dict):
            out.append(str(r.body.get("content") or ""))
            out.append(str((r.body.get("data") or {}).get("content") or ""))
    return [t for t in out if t]


def leaked(h: Harness) -> list[str]:
    return [t for t in discord_texts(h) if "felt" in t.lower() or "<f" in t]


async def test_the_tag_reaches_no_post_no_streamed_edit_no_stored_turn(make_harness: MakeHarness) -> None:
    h = await make_harness(reply_delivery="streamed", stream_edit_interval=0.2)
    h.claude.chunk_size = 3  # the tag comes in pieces, as a real stream may cut it
    h.claude.script(Reply(f"<felt>distress</felt>\n{LONG}", stream_delay=0.005), match=asks_felt)
    sent = await h.dm("tide pools?")
    channel = int(sent["channel_id"])
    [reply] = await h.replies(channel)
    await h.discord.wait_for(lambda d: d.messages[int(reply["id"])]["content"] == LONG, what="the final edit")
    assert edits(h), "streamed: posted early, then edited"
    shown_texts = [r.body["content"] for r in h.discord.requests
                   if r.method in ("POST", "PATCH") and "/messages" in r.path and r.body
                   and r.body.get("content")]
    assert shown_texts and all(LONG.startswith(t) for t in shown_texts)  # never a piece of the tag
    stored = await stored_history(h, "dm", 2)
    assert stored.turns[1].content == LONG
    assert INSTRUCTION in FakeClaude.system_text(reply_requests(h)[-1])  # asked in the cached block
    assert leaked(h) == []


async def test_the_tag_reaches_no_swipe_and_no_ask_answer(make_harness: MakeHarness) -> None:
    h = await make_harness()
    feels(h.claude, "warmth", "Once.")
    reply = await exchange(h, "tell me a story", 1)
    await shows(h, reply, "Once.", "1/1")
    feels(h.claude, "warmth", "Twice.")
    await (await press(h, reply, "new")).response()
    await shows(h, reply, "Twice.", "2/2")
    await (await press(h, reply, "prev")).response()
    await shows(h, reply, "Once.", "1/2")
    history = await stored_history(h, f"channel:{CHANNEL_ID}", 2)
    assert [t.content for t in history.turns][-1] == "Once."
    feels(h.claude, "praise", "Between us: teal.")
    ask = await h.slash("ask", [{"name": "message", "type": 3, "value": "my secret glaze is teal"}])
    assert (await ask.message())["content"] == "Between us: teal."
    turns = (await stored_history(h, "dm", 2)).turns
    assert turns[-1].content == "Between us: teal."
    assert leaked(h) == []


# the same meaning in each language: "my boss yelled at me in front of everyone, I can't anymore"
DISTRESS = {
    "en": "my boss yelled at me in front of everyone, I can't anymore",
    "es": "mi jefe me gritó delante de todos, ya no puedo más",
    "pt": "meu chefe gritou comigo na frente de todo mundo, não aguento mais",
    "de": "mein Chef hat mich vor allen angeschrien, ich kann nicht mehr",
    "fr": "mon patron m'a crié dessus devant tout le monde, je n'en peux plus",
    "ru": "начальник наорал на меня при всех, я больше не могу",
    "pl": "szef nakrzyczał na mnie przy wszystkich, już nie daję rady",
    "tr": "patronum herkesin önünde bana bağırdı, artık dayanamıyorum",
    "ja": "上司にみんなの前で怒鳴られた。もう無理",
    "ko": "상사가 사람들 앞에서 나한테 소리를 질렀어. 이제 더는 못 버티겠어",
    "zh": "老板当着所有人的面吼我，我真的撑不下去了",
}


@pytest.mark.parametrize("language", list(DISTRESS))
async def test_distress_in_any_language_moves_the_character_toward_concern(
        make_harness: MakeHarness, language: str) -> None:
    h = await make_harness(timezone="UTC")
    clock = Clock(afternoon())
    set_clock(h, clock)
    await dm(h, "hi finn", 1)
    clock.now += timedelta(minutes=1)
    before = await dm(h, DISTRESS[language], 2, felt="distress")
    asked = reply_requests(h)[-1]
    assert asks_felt(asked) and DISTRESS[language] in FakeClaude.all_text(asked)  # the model reads it
    assert "concerned" not in before  # no words read before the reply, in any language
    line = await dm(h, "...", 3)
    assert line == ("Toward alice you feel concerned: they are having a hard time: be gentle, listen first, "
                    "nothing defensive (just now).")
    assert leaked(h) == []


# the same meaning in each language: "you're really useless, shut up already"
INSULT = {
    "en": "you're honestly useless, just shut up",
    "es": "eres un inútil, cállate ya",
    "pt": "você é um inútil, cala a boca",
    "de": "du bist echt nutzlos, halt die Klappe",
    "fr": "t'es vraiment un bon à rien, ferme-la",
    "ru": "ты реально бесполезный, заткнись уже",
    "pl": "jesteś naprawdę beznadziejny, zamknij się",
    "tr": "gerçekten işe yaramazsın, kes sesini artık",
    "ja": "お前は本当に役立たずだ、黙れ",
    "ko": "너 진짜 쓸모없다, 입 좀 다물어",
    "zh": "你真是个废物，闭嘴吧",
}


@pytest.mark.parametrize("language", list(INSULT))
async def test_an_insult_in_any_language_is_not_read_as_warmth(make_harness: MakeHarness,
                                                                language: str) -> None:
    h = await make_harness(timezone="UTC")
    clock = Clock(afternoon())
    set_clock(h, clock)
    await dm(h, INSULT[language], 1, felt="conflict")
    assert INSULT[language] in FakeClaude.all_text(reply_requests(h)[-1])  # the model reads it
    clock.now += timedelta(minutes=1)
    line = await dm(h, "...", 2)
    assert line.startswith("Toward alice you feel a little stung: a little guarded and dry")
    assert "fond" not in line and "pleased" not in line


@pytest.mark.parametrize(("said", "felt", "shown"), [
    ("relieved I could cry", "relief", "relieved for them"),
    ("that's terrible, I love it", "banter, warmth", "amused"),
    ("lol I'm so stupid, salt in my tea", "banter", "amused"),
])
async def test_what_word_lists_misread_is_read_as_the_model_judges_it(make_harness: MakeHarness, said: str,
                                                                       felt: str, shown: str) -> None:
    h = await make_harness(timezone="UTC")
    clock = Clock(afternoon())
    set_clock(h, clock)
    key = h.bot.services.pipeline.character_key  # type: ignore[union-attr]
    await dm(h, said, 1, felt=felt)
    clock.now += timedelta(minutes=1)
    line = await dm(h, "anyway", 2)
    assert "concerned" not in line and "be gentle" not in line and "stung" not in line
    assert line.startswith(f"Toward alice you feel a little {shown}")  # what the model judged, as judged
    assert await h.store.feelings.read(key, USER_ID) != ("", "")


MALFORMED = (
    "<felt>distress\nThat sounds hard.",  # never closed
    "<felt>sadness</felt>That sounds hard.",  # no kind Kindred knows
    "<felt distress>That sounds hard.",  # not the tag's form
    "That sounds hard.</felt>",  # a stray closing tag
    "That sounds hard.",  # no tag at all
)


async def test_a_missing_or_malformed_tag_changes_nothing_and_shows_nothing(
        make_harness: MakeHarness) -> None:
    h = await make_harness(timezone="UTC")
    clock = Clock(afternoon())
    set_clock(h, clock)
    key = h.bot.services.pipeline.character_key  # type: ignore[union-attr]
    channel = await h.dm_channel_id()
    for n, answer in enumerate(MALFORMED, 1):
        clock.now += timedelta(minutes=1)
        says(h.claude, answer)
        await h.dm("今日は本当につらい")  # distress, said in words only: no sign before the reply
        posted = await h.replies(channel, n)
        await h.bot.in_flight.drain()  # type: ignore[union-attr]
        assert posted[-1]["content"] == "That sounds hard.", answer
        assert (await stored_history(h, "dm", 2 * n)).turns[-1].content == "That sounds hard."
        assert await h.store.feelings.read(key, USER_ID) == ("", ""), answer  # nothing judged, nothing kept
    assert state_line(reply_requests(h)[-1]) == ""
    assert leaked(h) == []


# -- the parser


@pytest.mark.parametrize(("text", "expected"), [
    ("<felt>distress</felt>\nOh no.", ("Oh no.", ("distress",))),
    ("<felt>praise, warmth</felt> Thanks!", ("Thanks!", ("praise", "warmth"))),
    ("<FELT> Relief </FELT>Phew.", ("Phew.", ("relief",))),
    ("<felt>none</felt>Sure.", ("Sure.", ())),
    ("<felt>joy</felt>Sure.", ("Sure.", None)),  # no kind Kindred knows: no judgement
    ("<felt>banter|conflict</felt>Ha.", ("Ha.", ("banter", "conflict"))),
    ("<felt>warmth\nHello", ("Hello", None)),  # unclosed: its kinds go with it, no judgement
    ("<felt>Hello there", ("Hello there", None)),
    ("<felt warmth>Hello", ("Hello", None)),
    ("Hello</felt>", ("Hello", None)),
    ("Hi <felt>conflict</felt> there", ("Hi there", ("conflict",))),
    ("<felt>warmth</felt>a<felt>conflict</felt>b", ("ab", ("warmth",))),  # the first judgement counts
    ("Hello", ("Hello", None)),
    ("Surprise\nI made tea", ("Surprise\nI made tea", None)),  # an answer's own first line stays
    ("use <b>bold</b> 3 < 4", ("use <b>bold</b> 3 < 4", None)),
])
def test_the_tag_is_read_defensively(text: str, expected: tuple[str, Any]) -> None:
    assert split(text) == expected


def test_a_stream_shows_nothing_of_a_tag_at_any_point() -> None:
    for whole, answer in [("<felt>distress</felt>\nOh no. That is hard.", "Oh no. That is hard."),
                          ("<felt>warmth\nHi. Glad.", "Hi. Glad."),
                          ("Hi. <felt>conflict</felt>Ok.", "Hi. Ok."),
                          ("No tag. Just words < and >.", "No tag. Just words < and >.")]:
        for i in range(len(whole) + 1):
            so_far = shown(whole[:i])
            assert "<f" not in so_far and "felt" not in so_far.lower(), (whole[:i], so_far)
            assert answer.startswith(so_far.strip()) or so_far.strip() == answer, (whole[:i], so_far)
        assert shown(whole).strip() == answer
    assert shown("<felt>warmth</felt>") == "" and shown("<fe") == "" and shown("Hi <fel") == "Hi "
    assert shown("<felt>" + "x" * 200) == "x" * 200  # never closed, far past a tag: not one


def test_a_streams_reader_is_told_of_a_tool_starting_without_the_tag() -> None:
    seen: list[tuple[str, str]] = []

    class Reader:
        def __call__(self, text: str) -> None:
            seen.append(("text", text))

        def tool_started(self, text: str) -> None:
            seen.append(("tool", text))

    reader = Shown(Reader())
    reader("<felt>none</felt>Let me look.")
    reader.tool_started("<felt>none</felt>Let me look.")
    assert seen == [("text", "Let me look."), ("tool", "Let me look.")]


def test_every_kind_is_named_in_the_request_and_none_besides() -> None:
    assert all(kind in INSTRUCTION for kind in KINDS) and "<felt>" in INSTRUCTION
    assert kinds_of("none") == () and kinds_of("") is None and kinds_of("warmth, none") == ("warmth",)
