"""The first look (bot/reply/deciding/firstlook.py): which unaddressed messages get a vote at all.

Over the wire: an ordinary message in a quiet channel costs no vote request at the fake Claude, one about
the card's interests is still voted on (and answered), and an @mention is answered at once, without a
vote; in each of Discord's eleven big languages (English the control), once the voting model has rendered
the card's words in the language (bot/reply/deciding/cardwords.py), an on-topic question reaches the vote
and small talk does not; chatter in any language is skipped; an edited card is rendered anew; while the
rendering in a language is unusable (an answer in no words of it), a question in it still reaches the vote,
and the rendering is asked for again a while later. Then unit
tests of the pure logic: the card's profile, the budget, talkativeness, recency, the channel's topic and
the window sized by its pace."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import shutil
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from bot.core.character import CharacterSource
from bot.core.config.sections import TriageSettings
from bot.core.persona.model import Lorebook, LoreEntry, Persona
from bot.core.stages import Incoming
from bot.reply.deciding import CardProfile, FirstLook, cardwords
from bot.reply.deciding.cardwords import (
    LANGUAGES_PER_CARD,
    RETRY_MAX_SECONDS,
    RETRY_SECONDS,
    CardText,
    CardVocabulary,
    Vocabulary,
    parse_vocabulary,
    retry_after,
    stem,
    usable,
)
from tests.fakes.claude_server import FakeClaude
from tests.harness import (
    CHANNEL_ID,
    LOG_CHANNEL_ID,
    USER2_ID,
    USER_ID,
    Harness,
    MakeHarness,
    eventually,
    rewrite,
)
from tests.place_support import place

VOTER, DEFAULT = "claude-test-voter", "claude-test-default"
CARD_WORDS = "notice which messages in a busy chat"  # the rendering request's system prompt says this

# The card's words as the voting model renders them, by the language the request names.
RENDERED = {
    "English": {"interests": ["tide tables"],
                "prose": ["kelp tea", "kelp", "tea", "seafoam chai", "oolong", "tide pools", "seagulls",
                          "crabs", "steeping", "stall", "reply", "brew"]},
    "Spanish": {"interests": ["tablas de mareas"],
                "prose": ["té de algas", "algas", "infusión", "reposar", "chai", "mareas", "gaviotas",
                          "cangrejos", "puesto de té"]},
    "German": {"interests": ["Gezeitentabellen"],
               "prose": ["Seetangtee", "Tee", "Seetang", "ziehen", "aufbrühen", "Gezeiten", "Möwen",
                         "Krabben", "Teestand"]},
    "Portuguese": {"interests": ["tábuas de marés"],
                   "prose": ["chá de algas", "algas", "infusão", "marés", "gaivotas", "caranguejos",
                             "barraca de chá"]},
    "Japanese": {"interests": ["潮見表"],
                 "prose": ["昆布茶", "お茶", "昆布", "蒸らす", "潮だまり", "カモメ", "カニ", "茶屋"]},
    "French": {"interests": ["tables des marées"],
               "prose": ["thé aux algues", "algues", "thé", "infuser", "infusion", "marées", "mouettes",
                         "crabes", "stand de thé"]},
    "Russian": {"interests": ["таблицы приливов"],
                "prose": ["чай из водорослей", "водоросли", "чай", "заваривать", "заварка", "приливы",
                          "чайки", "крабы", "чайная лавка"]},
    "Polish": {"interests": ["tablice pływów"],
               "prose": ["herbata z wodorostów", "wodorosty", "herbata", "parzyć", "zaparzać", "pływy",
                         "mewy", "kraby", "budka z herbatą"]},
    "Turkish": {"interests": ["gelgit tabloları"],
                "prose": ["yosun çayı", "yosun", "çay", "demlemek", "demlenmek", "gelgit", "martılar",
                          "yengeçler", "çay tezgâhı"]},
    "Korean": {"interests": ["물때표"],
               "prose": ["다시마차", "다시마", "우리다", "우려내다", "조수 웅덩이", "갈매기", "게", "찻집"]},
    "Chinese": {"interests": ["潮汐表"],
                "prose": ["海带茶", "海带", "泡茶", "冲泡", "潮池", "海鸥", "螃蟹", "茶摊"]},
}
# (small talk, an on-topic question) as people write them in each language.
SAID = {
    "English": ("the harbour was busy this morning", "how long should kelp tea steep, does anyone know?"),
    "Spanish": ("¿Qué tal el fin de semana? Fuimos al cine con mis primos",
                "¿Cuánto tiempo hay que dejar reposar el té de algas?"),
    "German": ("Wie war euer Wochenende? Wir waren mit den Kindern im Kino",
               "Wie lange muss Seetangtee eigentlich ziehen?"),
    "Portuguese": ("Como foi o fim de semana de vocês? Fomos ao cinema com as crianças",
                   "Quanto tempo devo deixar o chá de algas em infusão?"),
    "Japanese": ("週末はどうでしたか？家族と映画を見に行きました", "昆布茶はどのくらい蒸らせばいいですか？"),
    "French": ("Vous avez passé un bon week-end ? On est allés au cinéma avec les enfants",
               "Combien de temps faut-il laisser infuser le thé aux algues ?"),
    "Russian": ("Как прошли выходные? Мы ходили в кино с детьми",
                "Сколько времени нужно заваривать чай из водорослей?"),
    "Polish": ("Jak minął wam weekend? Byliśmy z dziećmi w kinie",
               "Jak długo powinna się parzyć herbata z wodorostów?"),
    "Turkish": ("Hafta sonunuz nasıl geçti? Çocuklarla sinemaya gittik",
                "Yosun çayını ne kadar demlemek gerekiyor?"),
    "Korean": ("주말 잘 보냈어요? 우리는 아이들이랑 영화 보러 갔어요", "다시마차는 얼마나 우려야 하나요?"),
    "Chinese": ("周末过得怎么样？我们带孩子去看电影了", "海带茶要泡多久才好？"),
}
CODES = {"English": "en", "Spanish": "es", "German": "de", "Portuguese": "pt", "Japanese": "ja",
         "French": "fr", "Russian": "ru", "Polish": "pl", "Turkish": "tr", "Korean": "ko", "Chinese": "zh"}


def is_card_words(body: dict[str, Any]) -> bool:
    return CARD_WORDS in FakeClaude.system_text(body)


def language_asked(body: dict[str, Any]) -> str:
    return next(lang for lang in RENDERED if f"List words in {lang}" in FakeClaude.all_text(body))


def votes(h: Harness) -> list[Any]:
    return [r for r in h.claude.requests_for(VOTER) if not is_card_words(r.body)]


def renderings(h: Harness) -> list[Any]:
    return [r for r in h.claude.requests_for(VOTER) if is_card_words(r.body)]


def render_cards(h: Harness, *, vote: str | None = None) -> None:
    """The fake voting model renders the card's words in the language asked (and votes ``vote``)."""
    def answer(body: dict[str, Any]) -> str | None:
        if is_card_words(body):
            return json.dumps(RENDERED[language_asked(body)], ensure_ascii=False)
        return vote if vote is not None and body.get("model") == VOTER else None

    h.claude.responder = answer


def card_key(h: Harness) -> str:
    return CardText.of(CharacterSource(h.character_dir, None, environ={}).load()).key


async def rendered(h: Harness, key: str, *languages: str) -> None:
    """Until the renderings of the card ``key`` in ``languages`` are stored (the process holds them by then:
    it keeps a rendering the moment its row is written)."""
    async def stored() -> bool | None:
        rows = [await h.store.card_words.get(key, CODES[lang]) for lang in languages]
        return all(row is not None for row in rows) or None

    await eventually(stored, f"the card's words in {', '.join(languages)}")


async def decision_line(h: Harness, said: str) -> str:
    """The decision mirrored to the log channel (verbose mode) for the message that said ``said``."""
    found = await h.discord.wait_for(
        lambda _: [m["content"] for m in h.discord.posted(LOG_CHANNEL_ID) if f"“{said}”" in m["content"]],
        what=f"the decision on {said!r}",
    )
    return str(found[-1])


async def test_only_an_interesting_unaddressed_message_is_voted_on_and_a_mention_never_waits(
    make_harness: MakeHarness,
) -> None:
    h = await make_harness(first_look="true", verbose_logging="true")
    render_cards(h)
    dull = "the harbour was busy this morning"
    await h.say(dull, user=USER2_ID)
    assert "stay quiet (first look: not interesting enough" in await decision_line(h, dull)
    assert votes(h) == []

    h.claude.script("yes", model=VOTER, times=3, match=lambda b: not is_card_words(b))
    h.claude.script("Four minutes, never five. Kelp goes bitter.", model=DEFAULT)
    tea = "how long should kelp tea steep, does anyone know?"
    await h.say(tea, user=USER2_ID)
    [reply] = await h.replies(CHANNEL_ID, 1)
    assert reply["content"] == "Four minutes, never five. Kelp goes bitter."
    assert len(votes(h)) == 3 and all(tea in r.all_text() for r in votes(h))
    assert "reply (majority vote; votes: yes yes yes" in await decision_line(h, tea)

    h.claude.script("Busy harbour, busy stall!", model=DEFAULT)
    await h.say("the harbour is still busy", mention=True)
    replies = await h.replies(CHANNEL_ID, 2)
    assert replies[-1]["content"] == "Busy harbour, busy stall!"
    assert len(votes(h)) == 3  # answered directly: no vote, no first look


async def test_in_every_language_an_on_topic_question_reaches_the_vote_and_small_talk_does_not(
    make_harness: MakeHarness,
) -> None:
    h = await make_harness(first_look="true", verbose_logging="true")
    render_cards(h, vote="yes")
    key = card_key(h)
    # Heard before the card's words are rendered in its language: judged without them, never waiting.
    for small_talk, _ in SAID.values():
        await h.say(small_talk, user=USER_ID)
        assert "stay quiet (first look: not interesting enough" in await decision_line(h, small_talk)
    await rendered(h, key, *SAID)
    asked = [language_asked(r.body) for r in renderings(h)]
    assert sorted(asked) == sorted(SAID)  # one rendering per language, the card's own among them
    assert all(r.body["model"] == VOTER for r in renderings(h)) and votes(h) == []
    assert (await h.store.usage.totals(purpose="card words")).calls == len(SAID)  # recorded as every call

    for lang, (small_talk, _) in SAID.items():  # with its words rendered, small talk is still small talk
        again = f"{small_talk}!"
        await h.say(again, user=USER_ID)
        assert "stay quiet (first look: not interesting enough" in await decision_line(h, again), lang
    assert votes(h) == []
    for n, (lang, (_, question)) in enumerate(SAID.items(), start=1):
        await h.say(question, user=USER2_ID)
        await h.replies(CHANNEL_ID, n)
        assert "reply (majority vote" in await decision_line(h, question), lang
    assert len(renderings(h)) == len(SAID)  # made once each


async def test_chatter_in_any_language_is_skipped(make_harness: MakeHarness) -> None:
    h = await make_harness(first_look="true", verbose_logging="true")
    render_cards(h, vote="yes")
    for chatter in ("jajaja", "genau", "草", "rsrs", "ㅋㅋㅋ", "хахаха", "wwww", "555", "ありがとう",
                    "dzięki"):
        await h.say(chatter, user=USER2_ID)
        assert "stay quiet (filtered: a bare acknowledgement" in await decision_line(h, chatter), chatter
    assert votes(h) == []
    await h.say("kelp?", user=USER2_ID)  # a question, and the card's word: not chatter
    assert "reply (majority vote" in await decision_line(h, "kelp?")


async def test_a_rendering_is_reused_across_restarts(make_harness: MakeHarness) -> None:
    h = await make_harness(first_look="true", verbose_logging="true")
    render_cards(h, vote="yes")
    small_talk, question = SAID["German"]
    await h.say(small_talk, user=USER_ID)
    await decision_line(h, small_talk)
    await rendered(h, card_key(h), "German", "English")
    made = len(renderings(h))

    await h.restart()
    tries = 0

    async def voted() -> bool | None:  # a message after the restart has the stored rendering read
        nonlocal tries
        tries += 1
        said = question + "?" * tries  # each a message of its own
        await h.say(said, user=USER2_ID)
        return "reply (majority vote" in await decision_line(h, said) or None

    await eventually(voted, "a German question voted on after the restart")
    assert len(renderings(h)) == made  # read from the database, not asked of the model again


async def test_an_edited_card_is_rendered_anew(make_harness: MakeHarness, tmp_path: Path) -> None:
    folder = tmp_path / "finn"
    shutil.copytree(Path(__file__).parent.parent / "characters" / "finn", folder)
    h = await make_harness(character_dir=folder, first_look="true", verbose_logging="true")
    render_cards(h)
    before = card_key(h)
    small_talk = SAID["Spanish"][0]
    await h.say(small_talk, user=USER_ID)
    await decision_line(h, small_talk)
    await rendered(h, before, "Spanish", "English")

    env = folder / "character.env"
    rewrite(env, env.read_text().replace("remembers every regular's order",
                                         "remembers every regular's order and sells sea-glass charms"))
    after = card_key(h)
    assert after != before
    async def heard_anew() -> bool | None:  # the edit applies live: the next message meets the new card
        await h.say(small_talk + " :)", user=USER_ID)
        await decision_line(h, small_talk + " :)")
        return any("sea-glass" in r.all_text() and language_asked(r.body) == "Spanish"
                   for r in renderings(h)) or None

    await eventually(heard_anew, "the edited card's Spanish rendering asked for")
    await rendered(h, after, "Spanish", "English")
    assert await h.store.card_words.get(before, "es") is not None  # the old card's stays, unread


async def test_a_question_reaches_the_vote_while_its_language_has_no_usable_rendering_asked_again_later(
        make_harness: MakeHarness, monkeypatch: pytest.MonkeyPatch) -> None:
    now = [1000.0]  # the renderings' clock, moved on below (never a wait)
    monkeypatch.setattr(cardwords, "monotonic", lambda: now[0])
    h = await make_harness(first_look="true", verbose_logging="true")
    usable = {"Japanese": False}

    def answer(body: dict[str, Any]) -> str | None:
        if is_card_words(body):
            lang = language_asked(body)
            if lang == "Japanese" and not usable[lang]:  # words, but not Japanese ones
                return json.dumps(RENDERED["English"])
            return json.dumps(RENDERED[lang], ensure_ascii=False)
        return "yes" if body.get("model") == VOTER else None

    h.claude.responder = answer
    tally = h.bot.services.claude.tally
    heard = "週末は家族と映画を見に行きました"
    await h.say(heard, user=USER_ID)  # not a question: judged without the card's Japanese words
    assert "stay quiet (first look: not interesting enough" in await decision_line(h, heard)
    await eventually(lambda: _true(tally.parse_failures["card words"] >= 1), "the unusable rendering")
    assert await h.store.card_words.get(card_key(h), "ja") is None  # not kept

    asked = "猫の名前は何でしたっけ？"  # a question in Japanese, no card word in any language
    await h.say(asked, user=USER2_ID)
    assert "reply (majority vote" in await decision_line(h, asked)
    assert any(asked in r.all_text() for r in votes(h))
    said = "もう一度、週末の話をしましょう"
    await h.say(said, user=USER_ID)
    await decision_line(h, said)
    japanese = [r for r in renderings(h) if language_asked(r.body) == "Japanese"]
    assert len(japanese) == 1  # not asked again at once

    usable["Japanese"] = True
    now[0] += cardwords.RETRY_SECONDS  # a while later, a message in Japanese: asked again
    await h.say(heard + "。", user=USER_ID)
    await decision_line(h, heard + "。")
    await rendered(h, card_key(h), "Japanese")
    assert len([r for r in renderings(h) if language_asked(r.body) == "Japanese"]) == 2
    again = "今日は雨ですね？"  # rendered now: a question about nothing of the card's is judged by its words
    await h.say(again, user=USER_ID)  # (alice: the character answered bob, whose next message interests it)
    assert "stay quiet (first look: not interesting enough" in await decision_line(h, again)


async def _true(value: bool) -> bool | None:
    return value or None


# --------------------------------------------------------------------------- the pure logic


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


FINN = Persona(
    name="Finn",
    system_prompt=(
        "You are Finn, a walking fish who runs a tea stall by the tide pools. You brew kelp tea and seafoam "
        "chai; you worry about seagulls. You care about the tide tables, your tea and the people who visit. "
        "Reply in short messages and stay in character."
    ),
    description="A walking fish with a tea stall.",
)


def message(text: str, channel: int = 1, n: int = 1, guild: int | None = 3) -> Incoming:
    return Incoming(
        message_id=n,
        author_id=7,
        author_name="bob",
        content=text,
        created_at=datetime.now(UTC),
        place=place(channel, False, guild),
    )


def first_look(persona: Persona = FINN, **settings: Any) -> tuple[FirstLook, Clock]:
    clock = Clock()
    triage = TriageSettings(**{"first_look": True, **settings})
    return FirstLook(triage, lambda: persona, clock), clock


class Rendered:
    """CardVocabulary's two calls, with renderings ready by language code (what was asked, noted)."""

    def __init__(self, **by_language: Vocabulary) -> None:
        self.ready = {code: stem(v, code) for code, v in by_language.items()}
        self.asked: list[str] = []
        self.failing: set[str] = set()

    def failed(self, key: str, language: str) -> bool:
        return language in self.failing

    def get(self, key: str, language: str) -> dict[str, float] | None:
        return self.ready.get(language)

    @property
    def version(self) -> int:  # renderings are only added here
        return len(self.ready)

    def want(self, card: CardText, language: str, guild_id: int | None) -> None:
        self.asked.append(language)


def vocabulary(lang: str) -> Vocabulary:
    words = RENDERED[lang]
    return Vocabulary(tuple(words["interests"]), tuple(words["prose"]))


def test_the_cards_own_words_interest_it_and_its_boilerplate_and_name_do_not() -> None:
    profile = CardProfile.of(FINN)
    assert profile.interest("how long should kelp tea steep?") >= 1.0
    assert profile.interest("what time is high tide tonight") >= 1.0
    assert profile.interest("the harbour was busy this morning") == 0.0
    assert profile.interest("finn") == 0.0  # the name is addressing's, not interest's
    # "reply", "messages", "character", "people" are in the card, but once the model has sorted its words
    # they say nothing about what Finn cares for (no list of one language's common words decides it)
    sorted_words = Vocabulary((), ("kelp tea", "tide", "seagulls", "stall"))
    profile = CardProfile.of(FINN, Rendered(en=sorted_words))  # type: ignore[arg-type]
    assert profile.interest("reply to my messages people, stay in character") == 0.0
    assert profile.interest("how long should kelp tea steep?") >= 1.0


def test_a_message_in_another_language_meets_the_cards_words_rendered_in_it() -> None:
    question = "¿Cuánto tiempo hay que dejar reposar el té de algas?"
    assert CardProfile.of(FINN).interest(question) == 0.0  # the card is English
    rendered = Rendered(es=vocabulary("Spanish"), ja=vocabulary("Japanese"), de=vocabulary("German"))
    profile = CardProfile.of(FINN, rendered)  # type: ignore[arg-type]
    assert profile.interest(question) >= 1.0
    assert profile.interest("Wie lange muss Seetangtee eigentlich ziehen?") >= 1.0
    assert profile.interest("昆布茶はどのくらい蒸らせばいいですか？") >= 1.0
    assert profile.interest("¿Qué tal el fin de semana? Fuimos al cine con mis primos") == 0.0
    assert profile.interest("週末はどうでしたか？家族と映画を見に行きました") == 0.0
    assert profile.interest("te veo mañana en la playa") == 0.0  # "té" stems to "te", a pronoun: left out
    # The card's prose is never read in another language: its "fin" is not Spanish "fin de semana"; its
    # strong words (an operator's keywords) are, stemmed as the message is.
    waving = dataclasses.replace(FINN, system_prompt=FINN.system_prompt + " You wave a fin.",
                                 topic_interests=("oolong",))
    profile = CardProfile.of(waving)
    assert profile.interest("what a fin") >= 1.0
    assert profile.interest("¿Qué tal el fin de semana? Fuimos al cine con mis primos") == 0.0
    assert profile.interest("¿Alguien ha probado el oolong de cebada?") >= 2.0


def test_a_rendering_is_asked_for_in_the_background_once_a_message_in_its_language_comes() -> None:
    rendered = Rendered()
    look = FirstLook(TriageSettings(first_look=True), lambda: FINN, Clock(),
                     vocabulary=rendered)  # type: ignore[arg-type]
    assert not look.look(message("¿Cuánto tiempo hay que dejar reposar el té de algas?")).vote  # not yet
    assert set(rendered.asked) == {"es", "en"}  # its language's, and the card's own (which sorts its prose)
    rendered.ready["es"] = stem(vocabulary("Spanish"), "es")
    assert look.look(message("¿Cuánto tiempo hay que dejar reposar el té de algas?")).vote
    assert not look.says_card("ok") and look.says_card("kelp")


def test_the_models_answer_is_read_defensively() -> None:
    assert parse_vocabulary('```json\n{"interests": ["té"], "prose": ["algas", 3, ""]}\n```') == Vocabulary(
        ("té",), ("algas",))
    assert parse_vocabulary('Here: {"interests": "marea, gaviotas", "prose": null}') == Vocabulary(
        ("marea", "gaviotas"), ())
    for nothing in ("", "no", "{", '{"interests": []}', "[1, 2]", '{"prose": {"a": 1}}'):
        assert parse_vocabulary(nothing) is None
    long = parse_vocabulary(json.dumps({"interests": [f"w{i}" for i in range(500)], "prose": ["x" * 500]}))
    assert long is not None and len(long.interests) == 120 and long.prose == ()


def test_rendered_words_are_stemmed_as_messages_are_and_phrases_lose_their_little_words() -> None:
    weights = stem(Vocabulary(("tablas de mareas",), ("té de algas", "gaviotas")), "es")
    # a phrase's "de" is left out, and "té" (a stem too short to say one thing) too
    assert weights == {"tabl": 2.0, "mar": 2.0, "algas": 1.0, "gaviot": 1.0}
    japanese = stem(Vocabulary((), ("昆布茶",)), "ja")
    assert japanese == {"昆布": 0.5, "布茶": 0.5}  # one word: one word's weight, shared by its bigrams


def test_the_card_key_follows_the_cards_text() -> None:
    edited = dataclasses.replace(FINN, description="A walking fish with a tea stall and a kite.")
    lore = dataclasses.replace(FINN, lorebook=Lorebook(entries=(LoreEntry(keys=("kite",), content="x"),)))
    keys = {CardText.of(p).key for p in (FINN, edited, lore)}
    assert len(keys) == 3 and CardText.of(FINN).key == CardText.of(dataclasses.replace(FINN)).key
    assert CardText.of(FINN).language == "en"


def test_topic_interests_and_their_categories_weigh_most() -> None:
    gamer = dataclasses.replace(FINN, topic_interests=("gaming", "elder_scrolls"))
    profile = CardProfile.of(gamer)
    assert profile.interest("anyone on steam tonight?") >= 2.0  # the gaming category's keywords
    assert profile.interest("the elder scrolls six trailer is out") >= 2.0


def test_a_dull_message_gets_no_vote_an_interesting_one_does() -> None:
    look, _ = first_look()
    assert not look.look(message("the harbour was busy this morning")).vote
    assert look.look(message("how long should kelp tea steep?")).vote


def test_off_every_message_gets_its_vote() -> None:
    look, _ = first_look(first_look=False)
    assert look.look(message("the harbour was busy this morning")).vote


def test_the_next_message_of_the_person_it_answered_is_worth_a_vote_and_that_fades() -> None:
    look, clock = first_look()
    look.spoke(1, 7)  # it answered bob (author 7) in channel 1
    clock.now += 10
    assert look.look(message("haha that sounds awful")).vote
    assert not look.look(message("haha that sounds awful", channel=2)).vote  # it spoke in channel 1 only
    other = dataclasses.replace(message("haha that sounds awful"), author_id=8)
    assert not look.look(other).vote  # someone else's message is not an answer to it
    clock.now += 600
    assert not look.look(message("haha that sounds awful")).vote


def test_a_conversation_about_its_interests_keeps_its_follow_ups_interesting() -> None:
    look, clock = first_look()
    for said in (
        "kelp tea or seafoam chai? I can never choose at the stall",
        "the stall's chai, brewed strong",
        "kelp tea from the tide pools stall",
        "seafoam chai at the stall, with tea to follow",
    ):
        look.look(message(said))
        clock.now += 5
    assert look.look(message("honestly the second one, so spicy")).vote
    clock.now += 1800  # the topic has faded
    assert not look.look(message("honestly the second one, so spicy")).vote


def test_one_interesting_message_among_many_does_not_carry_the_next() -> None:
    look, clock = first_look()
    for _ in range(5):
        look.look(message("my train was late again"))
    look.look(message("kelp tea or seafoam chai? I can never choose at the stall"))
    assert not look.look(message("honestly the second one, so spicy")).vote


def test_talkativeness_scales_the_interest() -> None:
    text = "the tide was low today"  # tide: 1.0, just enough for a neutral card
    quiet, _ = first_look(dataclasses.replace(FINN, talkativeness=0.2))
    neutral, _ = first_look()
    chatty, _ = first_look(dataclasses.replace(FINN, talkativeness=1.0))
    assert neutral.look(message(text)).vote and not quiet.look(message(text)).vote
    assert chatty.look(message(text)).score == 1.5 * neutral.look(message(text, channel=2)).score


def test_the_budget_rises_the_bar_past_its_half_and_stops_votes_once_spent() -> None:
    look, clock = first_look(vote_budget_per_hour=4)
    mild = "the tide was low today"  # tide: 1.0, just enough at the threshold
    assert look.look(message(mild, channel=5)).vote
    look.voted(5)
    look.voted(5)
    assert look.look(message(mild, channel=9)).vote  # another channel: its own budget
    clock.now += 1800  # the channel's topic has faded; its rounds are still within the hour
    assert look.look(message(mild, channel=5)).vote  # half the budget spent: still the threshold
    look.voted(5)
    assert not look.look(message(mild, channel=5)).vote  # three quarters: the bar is 2
    strong = "kelp tea at the tide pools stall, with seafoam chai"
    assert look.look(message(strong, channel=5)).vote
    look.voted(5)
    refused = look.look(message(strong, channel=5))
    assert not refused.vote and "budget is spent" in refused.reason.english()
    clock.now += 3601  # an hour later its rounds are no longer counted (and its topic has faded)
    assert look.look(message(mild, channel=5)).vote


def test_the_vote_window_grows_with_the_channels_pace() -> None:
    look, clock = first_look()
    assert look.window(1, 2.0) == 2.0  # never heard: the setting
    for _ in range(600):  # ten messages a second for a minute
        look.heard(1)
        clock.now += 0.1
    busy = look.window(1, 2.0)
    assert 2.0 < busy <= 8.0
    look.heard(2)
    assert look.window(2, 2.0) == 2.0  # a quiet channel keeps the setting
    assert look.window(1, 0.0) == 0.0  # 0: a round per message, whatever the pace
    off, _ = first_look(first_look=False)
    off.heard(1)
    assert off.window(1, 2.0) == 2.0


def test_a_card_word_the_chat_says_all_the_time_weighs_less() -> None:
    look, _ = first_look()
    patch = "that tide patch broke my build"  # "tide": a word of the card, and here the server's jargon
    assert look.look(message(patch)).vote  # before the chat is known, every card word weighs one
    for n in range(1000):  # one message in ten says it
        look.look(message(patch if n % 10 == 0 else "my train was late again", channel=100 + n))
    assert not look.look(message(patch, channel=2)).vote
    assert look.look(message("do you still brew kelp tea?", channel=3)).vote  # the card's other words do not


def test_one_servers_talk_about_a_card_word_does_not_mute_it_elsewhere() -> None:
    look, _ = first_look()
    kelp = "do you still brew kelp tea?"
    for n in range(400):  # one server talks of nothing but kelp tea
        look.look(message(kelp, channel=100 + n % 5))
    assert not look.look(message(kelp, channel=100)).vote  # there, it is the chat's jargon
    assert look.look(message(kelp, channel=2, guild=4)).vote  # another server's talk of it still interests
    assert look.look(message(kelp, channel=5, guild=None)).vote  # as a place of no server's


class Rows:
    """CardWordRows in memory."""

    def __init__(self) -> None:
        self.stored: dict[tuple[str, str], Any] = {}

    async def get(self, key: str, language: str) -> Any:
        return self.stored.get((key, language))

    async def put(self, key: str, language: str, words: Any, model: str) -> None:
        self.stored.setdefault((key, language), words)


class Model:
    """The model client's two calls a rendering makes; each answer waits for ``go``."""

    def __init__(self, answer: str) -> None:
        self.answer = answer
        self.go = asyncio.Event()
        self.asked: list[str] = []
        self.tally = SimpleNamespace(unparsed=lambda purpose, retried: None)

    def structured(self, model: str) -> bool:
        return False

    async def complete(self, prompt: Any, **kwargs: Any) -> Any:
        self.asked.append(prompt.messages[0]["content"])
        await self.go.wait()
        return SimpleNamespace(text=self.answer)


async def test_a_rendering_is_made_once_at_a_time_stored_and_bounded_in_languages() -> None:
    rows, model, clock = Rows(), Model(json.dumps(RENDERED["Spanish"])), Clock()
    words = CardVocabulary(rows, model, lambda: VOTER, clock)  # type: ignore[arg-type]
    card = CardText.of(FINN)
    for _ in range(3):
        words.want(card, "es", None)
    await asyncio.sleep(0)
    assert words.get(card.key, "es") is None  # not ready: never waited for
    model.go.set()
    await words.settled()
    assert len(model.asked) == 1 and rows.stored[(card.key, "es")] == RENDERED["Spanish"]
    assert words.get(card.key, "es") == stem(vocabulary("Spanish"), "es")

    again = CardVocabulary(rows, model, lambda: VOTER, clock)  # type: ignore[arg-type]
    again.want(card, "es", None)  # another process, or after a restart: read from the database
    await again.settled()
    assert len(model.asked) == 1 and again.get(card.key, "es") is not None

    codes = ("de", "pt", "fr", "ru", "pl", "tr", "ja", "ko", "zh", "it", "nl", "uk")
    for code in codes:
        words.want(card, code, None)
    await words.settled()
    assert len(model.asked) == 1 + LANGUAGES_PER_CARD - 1  # "es" was one of the card's twelve


async def test_a_failed_rendering_is_asked_again_only_after_a_while() -> None:
    rows, model, clock = Rows(), Model("I cannot help with that."), Clock()
    words = CardVocabulary(rows, model, lambda: VOTER, clock)  # type: ignore[arg-type]
    model.go.set()
    card = CardText.of(FINN)
    words.want(card, "es", None)
    await words.settled()
    words.want(card, "es", None)
    await words.settled()
    assert len(model.asked) == 1 and words.get(card.key, "es") is None and rows.stored == {}
    assert words.failed(card.key, "es")
    clock.now += RETRY_SECONDS
    words.want(card, "es", None)  # asked again, failing again: the wait doubles
    await words.settled()
    clock.now += RETRY_SECONDS
    words.want(card, "es", None)
    await words.settled()
    assert len(model.asked) == 2
    clock.now += RETRY_SECONDS
    model.answer = json.dumps(RENDERED["Spanish"])
    words.want(card, "es", None)
    await words.settled()
    assert len(model.asked) == 3 and words.get(card.key, "es") is not None
    assert not words.failed(card.key, "es")
    assert [retry_after(n) for n in (1, 2, 3)] == [RETRY_SECONDS, 2 * RETRY_SECONDS, 4 * RETRY_SECONDS]
    assert retry_after(50) == RETRY_MAX_SECONDS


async def test_an_answer_in_no_words_of_the_language_asked_is_unusable() -> None:
    rows, model, clock = Rows(), Model(json.dumps(RENDERED["English"])), Clock()
    words = CardVocabulary(rows, model, lambda: VOTER, clock)  # type: ignore[arg-type]
    model.go.set()
    card = CardText.of(FINN)
    words.want(card, "ja", None)  # English words for Japanese
    await words.settled()
    assert words.get(card.key, "ja") is None and words.failed(card.key, "ja") and rows.stored == {}
    assert not usable(vocabulary("English"), "ja") and usable(vocabulary("Japanese"), "ja")
    assert not usable(Vocabulary(("a",), ()), "es")  # no term of three letters
