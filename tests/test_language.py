"""The same meaning in several languages, English the control of each: a message's language
(bot/core/language.py), lexical recall's terms (memory/lexical.py), time words (memory/timewords.py) and the
style line (bot/alive/style.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from bot.alive import style
from bot.core import language
from memory import timewords
from memory.lexical import LexicalIndex, is_grammar, pieces, terms
from tests.harness import CHANNEL_ID, USER_ID, MakeHarness

NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)


@pytest.mark.parametrize(("text", "code"), [
    ("what did we talk about last week?", "en"), ("¿de qué hablamos la semana pasada?", "es"),
    ("do que a gente falou na semana passada?", "pt"), ("worüber haben wir letzte Woche geredet?", "de"),
    ("on a parlé de quoi la semaine dernière ?", "fr"), ("о чём мы говорили на прошлой неделе?", "ru"),
    ("o czym rozmawialiśmy w zeszłym tygodniu?", "pl"), ("geçen hafta ne konuşmuştuk?", "tr"),
    ("先週何を話したっけ？", "ja"), ("지난주에 우리 무슨 얘기 했지?", "ko"), ("上周我们聊了什么？", "zh"),
])
def test_the_language_of_a_short_message(text: str, code: str) -> None:
    assert language.detect(text) == code


@pytest.mark.parametrize("text", ["ok", "lol", "xd", "😀😀", "<:pog:123456789012345678>", "?!", "123", "haha",
                                  "merci", ""])
def test_a_message_too_short_to_tell_has_no_language(text: str) -> None:
    assert language.detect(text) is None


SAME_PLACE = [  # (a fact, a question about it) in one language
    ("I live in Leeds", "where do I live?"),
    ("vivo en Leeds", "¿dónde vivo?"),
    ("eu moro em Leeds", "onde eu moro?"),
    ("ich wohne in Leeds", "wo wohne ich?"),
    ("j'habite à Leeds", "où est-ce que j'habite ?"),
    ("я живу в Лидсе", "где я живу?"),
    ("mieszkam w Leeds", "gdzie mieszkam?"),
    ("Leeds'te yaşıyorum", "nerede yaşıyorum?"),
    ("ヨークに住んでいる", "どこに住んでいる？"),
    ("나는 서울에 살고 있어", "나 어디 살고 있어?"),
    ("我住在北京", "我住在哪里？"),
]


@pytest.mark.parametrize(("fact", "question"), SAME_PLACE)
def test_a_fact_and_a_question_in_one_language_share_a_term(fact: str, question: str) -> None:
    assert set(terms(fact)) & set(terms(question))
    others = ["My cat is called Miso", "I work night shifts at the lighthouse", "I build model ships"]
    index = LexicalIndex.build([*others, fact])
    found, _ = index.matches(question)
    assert found.tolist() == [3]


def test_stems_follow_the_language_and_cjk_is_split_into_bigrams() -> None:
    assert terms("hiking and hiked") == ["hike", "hike"]  # English: stemmed, function words out
    assert set(terms("perros")) == set(terms("perro"))  # Spanish stems, not English
    assert "住ん" in terms("ヨークに住んでいる")  # a Japanese clause is not one token
    assert terms("j'habite") == ["habit"]  # an elided article is not the word


@pytest.mark.parametrize(("word", "cut"), [
    ("メラニーはどのような活動をしていますか", ["メラニー", "はどのような", "活動", "をしていますか"]),
    ("ドクター・スースの本", ["ドクター", "スース", "の", "本"]),  # the middle dot parts two words
    ("人々が住んでいる", ["人々", "が", "住", "んでいる"]),  # 々 repeats a kanji: one word
    ("ﾒﾗﾆｰは", ["ﾒﾗﾆｰ", "は"]),  # half-width katakana
    ("LGBTQのグループ", ["LGBTQ", "の", "グループ"]),
    ("我住在北京", ["我住在北京"]),  # Chinese: one script, no cut to be read from it
    ("캐롤라인은", ["캐롤라인은"]),  # Korean: spaces already part its words
    ("Leeds'te", ["Leeds'te"]), ("vivo", ["vivo"]),
])
def test_japanese_is_cut_where_its_script_changes(word: str, cut: list[str]) -> None:
    assert pieces(word) == cut
    assert [is_grammar(p) for p in cut] == [all("\u3041" <= c <= "\u309f" for c in p) for p in cut]


def test_a_query_too_short_to_tell_is_read_in_the_documents_language() -> None:
    index = LexicalIndex.build(["Tengo dos perros y un gato", "Mis perros se llaman Coco y Luna",
                                "Trabajo en un hospital"])
    assert index.language == "es"
    found, scores = index.matches("perros")
    assert found.tolist() == [0, 1] and bool(np.all(scores > 0))


LAST_WEEK = [
    "what did we talk about last week?", "¿de qué hablamos la semana pasada?",
    "do que a gente falou na semana passada?", "worüber haben wir letzte Woche geredet?",
    "on a parlé de quoi la semaine dernière ?", "о чём мы говорили на прошлой неделе?",
    "o czym rozmawialiśmy w zeszłym tygodniu?", "geçen hafta ne konuşmuştuk?", "先週何を話したっけ？",
    "지난주에 우리 무슨 얘기 했지?", "上周我们聊了什么？",
]


@pytest.mark.parametrize("text", LAST_WEEK)
def test_last_week_is_the_same_window_in_every_language(text: str) -> None:
    english = timewords.asked(LAST_WEEK[0], NOW)
    assert english == (datetime(2026, 5, 25, tzinfo=UTC), datetime(2026, 6, 1, tzinfo=UTC))
    assert timewords.asked(text, NOW) == english


@pytest.mark.parametrize(("text", "yesterday"), [
    ("what did I tell you yesterday?", True), ("¿qué te conté ayer?", True),
    ("was habe ich dir gestern erzählt?", True),
    ("昨日何を話した？", True), ("how are you doing today?", False), ("¿cómo estás hoy?", False),
    ("ayer fui a la playa", False),  # told, not asked
])
def test_yesterday_asked_not_told(text: str, yesterday: bool) -> None:
    window = timewords.asked(text, NOW)
    assert (window == (datetime(2026, 5, 31, tzinfo=UTC), datetime(2026, 6, 1, tzinfo=UTC))) is yesterday


def test_months_and_dates_in_several_languages_and_no_misreading() -> None:
    may = (datetime(2026, 5, 1, tzinfo=UTC), datetime(2026, 6, 1, tzinfo=UTC))
    assert timewords.window("what did we do in May?", NOW) == may
    assert timewords.window("¿qué hicimos en mayo?", NOW) == may
    assert timewords.window("5月に何をした？", NOW) == may
    # mayo the sauce, "may" the verb, "mar" the sea: no month
    assert timewords.window("¿te gusta la salsa de mayo?", NOW) is None
    assert timewords.window("I may come", NOW) is None
    assert timewords.window("¿vamos al mar?", NOW) is None
    # "hier" is yesterday in French only: in German it is "here"
    assert timewords.window("tu te souviens de ce que je t'ai dit hier ?", NOW) is not None
    assert timewords.window("was habe ich dir hier erzählt?", NOW) is None
    day = timewords.window("What did Mel paint on October 13, 2023?", NOW)
    assert day is not None and day[0] + timedelta(days=1) == datetime(2023, 10, 13, tzinfo=UTC)
    for text in ("was hast du am 13. Oktober 2023 gemacht?", "¿qué pasó el 13 de octubre de 2023?",
                 "2023年10月13日に何をした？", "что было 13 октября 2023?"):
        assert timewords.window(text, NOW) == day, text


def _profile(*messages: str) -> style.StyleProfile:
    profile = None
    for text in messages:
        profile = style.learn(profile, text)
    assert profile is not None
    return profile


@pytest.mark.parametrize(("messages", "name"), [
    (("I moved to Leeds last spring", "my dog is called Biscuit", "what's your favourite book?"), "English"),
    (("vivo en Leeds desde el año pasado", "mi perro se llama Galleta", "¿cuál es tu libro favorito?"),
     "Spanish"),
    (("ich wohne seit letztem Jahr in Leeds", "mein Hund heißt Keks", "was ist dein Lieblingsbuch?"),
     "German"),
    (("я живу в Москве с прошлого года", "как зовут мою сестру?", "какая твоя любимая книга?"), "Russian"),
    (("去年からヨークに住んでいる", "うちの犬の名前はビスケット", "好きな本は何？"), "Japanese"),
    (("작년부터 서울에 살고 있어", "우리 강아지 이름은 쿠키야", "제일 좋아하는 책이 뭐야?"), "Korean"),
])
def test_the_style_line_names_the_language_written_in(messages: tuple[str, ...], name: str) -> None:
    assert style.guidance(_profile(*messages), "Ana").endswith(f"; in {name}.")


def test_the_style_line_names_no_language_for_messages_that_do_not_tell() -> None:
    line = style.guidance(_profile("lol", "ok", "😀😀", "xd"), "Ana")
    assert line and "; in " not in line


# --------------------------------------------------------------------------- over the wire


async def test_a_fact_told_in_spanish_or_japanese_is_recalled_when_asked_in_it(
        make_harness: MakeHarness) -> None:
    h = await make_harness(recall_token_budget="40")
    await h.store.people.ensure_user(USER_ID, "alice")
    embed = h.bot.services.memory.embed
    for text in ("Alice has a cat called Miso", "Alice works night shifts at the lighthouse",
                 "Alice builds model ships", "Alice is learning the violin", "Alice vive en Leeds",
                 "アリスはヨークに住んでいる"):
        await h.store.facts.add(USER_ID, text, embedding=await embed(text), category="personal")

    def recalled() -> list[str]:
        prompt = h.claude.last_request("claude-test-default").all_text()
        part = prompt.split('<recalled_facts about="alice"', 1)[1].split("</recalled_facts>", 1)[0]
        return [line[2:] for line in part.splitlines() if line.startswith("- ")]

    await h.say("Oye, ¿dónde vivo yo?", mention=True)
    await h.replies(CHANNEL_ID, 1)
    assert recalled()[0] == "Alice vive en Leeds"  # of six facts, room for two
    await h.say("ねえ、私はどこに住んでいる？", mention=True)
    await h.replies(CHANNEL_ID, 2)  # (its reply, the second: the first is there already)
    assert "アリスはヨークに住んでいる" in recalled()
