"""Recall in every language, over the wire, with the multilingual pair of models (``embedding_model=paired``):
a fact told in a language is recalled when asked in it, a fact kept in English when asked in another
language, and small talk recalls nothing, in each of Discord's big languages."""

from __future__ import annotations

import pytest

from memory.embeddings import glossed
from tests.harness import CHANNEL_ID, USER_ID, Harness, MakeHarness

# language: (the fact as consolidation keeps it, a question about it, small talk)
SAID: dict[str, tuple[str, str, str]] = {
    "en": ("Alice lives in Leeds", "Which town do I live in these days?", "good night everyone, sleep well!"),
    "es": ("Alice vive en Leeds", "¿En qué ciudad vivo ahora?", "¡buenas noches a todos, que descanséis!"),
    "pt": ("Alice mora em Leeds", "Em que cidade eu moro agora?", "boa noite, pessoal, durmam bem!"),
    "de": ("Alice wohnt in Leeds", "In welcher Stadt wohne ich gerade?", "gute Nacht zusammen, schlaft gut!"),
    "fr": ("Alice habite à Leeds", "Dans quelle ville j'habite en ce moment ?",
           "bonne nuit à tous, dormez bien !"),
    "it": ("Alice abita a Leeds", "In che città abito adesso?", "buonanotte a tutti, dormite bene!"),
    "pl": ("Alice mieszka w Leeds", "W jakim mieście teraz mieszkam?", "dobranoc wszystkim, śpijcie dobrze!"),
    "ru": ("Алиса живёт в Лидсе", "В каком городе я сейчас живу?", "всем спокойной ночи, сладких снов!"),
    "tr": ("Alice Leeds'te yaşıyor", "Şu an hangi şehirde yaşıyorum?", "herkese iyi geceler, iyi uykular!"),
    "ja": ("アリスはリーズに住んでいる", "私は今どの町に住んでいる？", "みんなおやすみ、ゆっくり寝てね！"),
    "ko": ("앨리스는 리즈에 산다", "나 지금 어느 도시에 살지?", "다들 잘 자요, 푹 쉬어요!"),
    "zh": ("爱丽丝住在利兹", "我现在住在哪个城市？", "大家晚安，睡个好觉！"),
}
# what else is known of her, kept in English: none of it is about where she lives
OTHER_FACTS = ("Alice has a cat called Miso", "Alice works early shifts at the lighthouse",
               "Alice builds model ships", "Alice is learning the violin")


async def _recalled(h: Harness, text: str) -> list[str]:
    """The facts about alice in the request the reply to ``text`` is written from ([] when none was)."""
    answered = len(h.discord.posted(CHANNEL_ID))
    await h.say(text, mention=True)
    await h.replies(CHANNEL_ID, answered + 1)
    prompt = h.claude.last_request("claude-test-default").all_text()
    if '<recalled_facts about="alice"' not in prompt:
        return []
    part = prompt.split('<recalled_facts about="alice"', 1)[1].split("</recalled_facts>", 1)[0]
    return [line[2:] for line in part.splitlines() if line.startswith("- ")]


async def _keep(h: Harness, *facts: str) -> None:
    for old in await h.store.facts.rows(USER_ID):
        await h.store.facts.delete(USER_ID, old.id)
    embed = h.bot.services.memory.embed
    for text in facts:
        await h.store.facts.add(USER_ID, text, embedding=await embed(text), category="personal")


# What the pair of models still misses, measured: none. One message floor for every message (e5's cosine, the
# formula a question in another language is scored by) could not hold all twelve: the Turkish question of the
# English fact scores 0.147, the Japanese and Chinese good nights 0.210 and 0.165 against "Alice works early
# shifts at the lighthouse" (sleep and early shifts). A question (a question mark of any script) is now held
# to a lower floor than a remark (memory/embeddings.py Tuning.asked_floor; benchmarks/language_floor.py,
# docs/languages.md). Listed so a change that adds a miss is seen.
KNOWN_MISSES: set[tuple[str, str]] = set()


GROUPS = [("en", "es", "pt", "de"), ("fr", "it", "pl", "ru"), ("tr", "ja", "ko", "zh")]


@pytest.mark.parametrize("languages", GROUPS, ids=lambda group: "-".join(group))
async def test_a_fact_is_recalled_when_asked_in_any_language_and_small_talk_recalls_nothing(
        make_harness: MakeHarness, languages: tuple[str, ...]) -> None:
    h = await make_harness(embedding_model="paired")
    await h.store.people.ensure_user(USER_ID, "alice")
    misses: set[tuple[str, str]] = set()

    def check(code: str, what: str, held: bool) -> None:
        if not held:
            misses.add((code, what))

    for code in languages:
        fact, question, small_talk = SAID[code]
        await _keep(h, fact, *OTHER_FACTS)  # told in the language
        check(code, "asked in it", (await _recalled(h, question))[:1] == [fact])
        check(code, "small talk", await _recalled(h, small_talk) == [])
        await _keep(h, SAID["en"][0], *OTHER_FACTS)  # kept in English, asked in the language
        check(code, "asked of the English fact", (await _recalled(h, question))[:1] == [SAID["en"][0]])
        check(code, "small talk", await _recalled(h, small_talk) == [])
    assert misses == {miss for miss in KNOWN_MISSES if miss[0] in languages}


# A person who writes Spanish, German, Russian, Japanese or Chinese has every fact kept in that language, with
# the English wording the extraction writes beside each (user_facts.gloss): the English model reads that, so a
# question asked in English (people switch) meets them as it meets English facts.
KEPT_IN: dict[str, tuple[tuple[str, str], ...]] = {
    "es": (("Alice tiene un gato llamado Miso", "Alice has a cat called Miso"),
           ("Alice hace turnos de mañana en el faro", "Alice works early shifts at the lighthouse"),
           ("Alice construye maquetas de barcos", "Alice builds model ships"),
           ("Alice está aprendiendo a tocar el violín", "Alice is learning the violin")),
    "de": (("Alice hat eine Katze namens Miso", "Alice has a cat called Miso"),
           ("Alice arbeitet Frühschichten im Leuchtturm", "Alice works early shifts at the lighthouse"),
           ("Alice baut Schiffsmodelle", "Alice builds model ships"),
           ("Alice lernt Geige", "Alice is learning the violin")),
    "ru": (("У Алисы есть кошка по имени Мисо", "Alice has a cat called Miso"),
           ("Алиса работает в ранние смены на маяке", "Alice works early shifts at the lighthouse"),
           ("Алиса собирает модели кораблей", "Alice builds model ships"),
           ("Алиса учится играть на скрипке", "Alice is learning the violin")),
    "ja": (("アリスはミソという猫を飼っている", "Alice has a cat called Miso"),
           ("アリスは灯台で早番の仕事をしている", "Alice works early shifts at the lighthouse"),
           ("アリスは模型の船を作っている", "Alice builds model ships"),
           ("アリスはバイオリンを習っている", "Alice is learning the violin")),
    "zh": (("爱丽丝有一只叫味噌的猫", "Alice has a cat called Miso"),
           ("爱丽丝在灯塔上早班", "Alice works early shifts at the lighthouse"),
           ("爱丽丝制作船模", "Alice builds model ships"),
           ("爱丽丝在学小提琴", "Alice is learning the violin")),
}


@pytest.mark.parametrize("code", list(KEPT_IN))
async def test_facts_kept_in_the_persons_language_are_recalled_when_asked_in_english(
        make_harness: MakeHarness, code: str) -> None:
    h = await make_harness(embedding_model="paired")
    await h.store.people.ensure_user(USER_ID, "alice")
    embed = h.bot.services.memory.embed
    home = (SAID[code][0], SAID["en"][0])
    for text, english in (home, *KEPT_IN[code]):
        await h.store.facts.add(USER_ID, text, embedding=await embed(glossed(text, english)),
                                category="personal", gloss=english)
    assert (await _recalled(h, SAID["en"][1]))[:1] == [SAID[code][0]]  # which town, asked in English
    assert (await _recalled(h, "what's my cat called again?"))[:1] == [KEPT_IN[code][0][0]]
    assert await _recalled(h, SAID["en"][2]) == []  # small talk in English: nothing
    assert (await _recalled(h, SAID[code][1]))[:1] == [SAID[code][0]]  # and still in the person's language
