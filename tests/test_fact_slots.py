"""One truth per fact in any language: the extraction model names each fact's slot (where they live, their
work, a pet's name...) and its value, and a new fact of a slot closes the old one whatever language the two
are in, over the real consolidation path (real store, the anthropic SDK against the fake Claude, held to
the extraction schema, and the shipped embedder, which reads Spanish and Japanese poorly: a changed job in
Japanese is at cosine 0.99 to the old one, a changed pet name at 0.86, both past the "said again"
threshold). Facts stored before slots were named keep the English cues."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from bot.core.claude import ClaudeClient
from database.records import FactRow
from database.store import Store
from memory.embeddings import from_bytes
from memory.facts import EXTRACTION_SCHEMA, ExtractedFact, FactIndex, match_facts, parse_extraction
from memory.slots import parse_slot, slot_for
from tests.fakes.claude_server import FakeClaude
from tests.memory_support import (
    consolidate_round,
    first_user_text,
    is_extraction,
    memory_settings,
    real_embedder,
    seen,
)

ALICE = 5

# (first message, its fact, second message, its fact, slot, first value, second value)
Story = tuple[str, str, str, str, str, str, str]
STORIES: dict[str, Story] = {
    "english": ("I live in Leeds", "alice lives in Leeds", "I moved to York last week",
                "alice moved to York", "home", "Leeds", "York"),
    "spanish": ("Vivo en Leeds, llueve muchísimo", "Alice vive en Leeds", "¡Me mudé a York!",
                "Alice se mudó a York", "home", "Leeds", "York"),
    "german": ("Ich wohne in Leeds", "Alice wohnt in Leeds", "Ich bin nach York gezogen",
               "Alice ist nach York gezogen", "home", "Leeds", "York"),
    "portuguese": ("Moro em Leeds", "Alice mora em Leeds", "Me mudei para York",
                   "Alice se mudou para York", "home", "Leeds", "York"),
    "french": ("J'habite à Leeds", "Alice habite à Leeds", "Je viens de déménager à York",
               "Alice a déménagé à York", "home", "Leeds", "York"),
    "russian": ("Я живу в Лидсе", "Алиса живёт в Лидсе", "Я переехала в Йорк",
                "Алиса переехала в Йорк", "home", "Лидс", "Йорк"),
    "polish": ("Mieszkam w Leeds", "Alice mieszka w Leeds", "Przeprowadziłam się do Yorku",
               "Alice przeprowadziła się do Yorku", "home", "Leeds", "York"),
    "turkish": ("Leeds'te yaşıyorum", "Alice Leeds'te yaşıyor", "Geçen hafta York'a taşındım",
                "Alice York'a taşındı", "home", "Leeds", "York"),
    "japanese": ("リーズに住んでいる", "アリスはリーズに住んでいる", "ヨークに引っ越した",
                 "アリスはヨークに引っ越した", "home", "リーズ", "ヨーク"),
    "korean": ("리즈에 살고 있어요", "앨리스는 리즈에 산다", "요크로 이사했어요",
               "앨리스는 요크로 이사했다", "home", "리즈", "요크"),
    "chinese": ("我住在利兹", "爱丽丝住在利兹", "我上周搬到约克了",
                "爱丽丝搬到了约克", "home", "利兹", "约克"),
    "japanese pet": ("猫の名前はモチだよ", "アリスの猫の名前はモチ", "猫の名前をタマに変えた",
                     "アリスの猫の名前はタマ", "pet_name:cat", "モチ", "タマ"),
    "japanese job": ("看護師として働いている", "アリスは看護師として働いている", "今は教師として働いている",
                     "アリスは教師として働いている", "work", "看護師", "教師"),
}


def fact(text: str, slot: str = "none", value: str | None = None, **extra: Any) -> dict[str, Any]:
    """An extracted fact as the model writes it under the schema: every field."""
    return {"action": "add", "id": None, "fact": text, "category": "personal", "lasting": True,
            "said": None, "happened": None, "past": None, "slot": slot, "value": value, "english": None,
            **extra}


def extractions(answers: dict[str, list[dict[str, Any]]]) -> Callable[[dict[str, Any]], str | None]:
    """The fake's extraction answers: the facts of each message a batch quotes (a plain "add", as a model
    naturally tells a move, whatever it was shown)."""
    def respond(body: dict[str, Any]) -> str | None:
        if not is_extraction(body):
            return None
        text = first_user_text(body).split("<messages>")[1].split("</messages>")[0]
        return json.dumps({"facts": [f for said, facts in answers.items() if said in text for f in facts],
                           "relationship": {}}, ensure_ascii=False)
    return respond


class Rig:
    def __init__(self, store: Store, fc: FakeClaude) -> None:
        self.store, self.fc, self.said = store, fc, 0
        self.settings = memory_settings(store.url, fc.base_url)

    async def tell(self, *messages: str) -> Any:
        """Alice's DMs, then a consolidation run over them."""
        for text in messages:
            self.said += 1
            await self.store.log.log_message(seen(self.said, ALICE, text, dm=True, name="alice",
                                                  channel=500))
        claude = ClaudeClient(self.settings, self.store.usage)
        try:
            return await consolidate_round(self.store, claude, self.settings, real_embedder())
        finally:
            await claude.close()

    async def facts(self) -> dict[str, FactRow]:
        return {r.fact: r for r in await self.store.facts.rows(ALICE)}


@pytest.mark.parametrize("story", list(STORIES))
async def test_a_changed_fact_closes_the_old_one_in_any_language(story: str, store: Store,
                                                                 fake_claude: FakeClaude) -> None:
    before, old, after, new, slot, was, now = STORIES[story]
    fake_claude.responder = extractions({before: [fact(old, slot, was)], after: [fact(new, slot, now)]})
    rig = Rig(store, fake_claude)
    assert (await rig.tell(before)).new_facts == 1
    report = await rig.tell(after)
    assert (report.new_facts, report.mentioned_facts) == (1, 0)  # a change, never the old fact said again
    facts = await rig.facts()
    assert {text for text, r in facts.items() if r.valid_until is None} == {new}  # one truth
    closed = facts[old]  # kept as history, closed by the new fact
    assert closed.valid_until is not None and closed.superseded_by == facts[new].id and closed.past
    assert (facts[new].slot, facts[new].slot_value) == (parse_slot(slot).stored, now)  # type: ignore[union-attr]


async def test_said_again_in_other_words_is_a_repeat_and_a_fact_of_no_slot_closes_nothing(
        store: Store, fake_claude: FakeClaude) -> None:
    fake_claude.responder = extractions({
        "看護師として働いている": [fact("アリスは看護師として働いている", "work", "看護師")],
        "看護師の仕事をしている": [fact("アリスは看護師の仕事をしている", "work", "看護師")],
        "猫が大好き": [fact("アリスは猫が大好き")],
        "リーズに住んでいる": [fact("アリスはリーズに住んでいる", "home", "リーズ")],
        "冬はハルに泊まる": [fact("アリスは冬の間ハルに泊まっている", "?home", "ハル")],
    })
    rig = Rig(store, fake_claude)
    await rig.tell("看護師として働いている", "リーズに住んでいる")
    report = await rig.tell("看護師の仕事をしている")  # the same job, in other words: said again
    assert (report.new_facts, report.mentioned_facts) == (0, 1)
    await rig.tell("猫が大好き")
    await rig.tell("冬はハルに泊まる")  # hedged: both stay, the doubt shown
    facts = await rig.facts()
    assert all(r.valid_until is None for r in facts.values())
    assert facts["アリスは看護師として働いている"].reference_count == 2
    assert facts["アリスは冬の間ハルに泊まっている"].doubt == "アリスはリーズに住んでいる"
    assert facts["アリスは猫が大好き"].doubt is None and facts["アリスは猫が大好き"].slot == ""


async def test_a_fact_stored_before_slots_is_read_by_its_english_cues(store: Store,
                                                                      fake_claude: FakeClaude) -> None:
    # an answer of before: no slot named (the fact's slot stays NULL)
    fake_claude.responder = extractions({"I live in Leeds": [{"fact": "alice lives in Leeds",
                                                              "category": "personal"}],
                                         "moved to York": [fact("alice moved to York", "home", "York")]})
    rig = Rig(store, fake_claude)
    await rig.tell("I live in Leeds")
    assert (await rig.facts())["alice lives in Leeds"].slot is None
    await rig.tell("I moved to York last week")
    facts = await rig.facts()
    assert facts["alice lives in Leeds"].superseded_by == facts["alice moved to York"].id


async def test_the_extraction_is_asked_for_slots_and_the_person_s_own_language(
        store: Store, fake_claude: FakeClaude) -> None:
    fake_claude.responder = extractions({"Vivo en Leeds": [fact("Alice vive en Leeds", "home", "Leeds")]})
    await Rig(store, fake_claude).tell("Vivo en Leeds")
    [asked] = [r for r in fake_claude.requests if is_extraction(r.body)]
    assert asked.body["output_config"]["format"]["schema"] == EXTRACTION_SCHEMA
    system = asked.all_text()
    assert '"slot"' in system and "pet_name" in system and "in the language the person wrote" in system


async def test_the_fake_holds_a_scripted_answer_to_the_schema_as_decoding_does(
        store: Store, fake_claude: FakeClaude) -> None:
    # a slot of another type, a key the schema does not list: what decoding could never produce
    fake_claude.responder = extractions({"Vivo en Leeds": [fact("Alice vive en Leeds", slot=7,  # type: ignore[arg-type]
                                                                mood="happy")]})
    await Rig(store, fake_claude).tell("Vivo en Leeds")
    [asked] = [r for r in fake_claude.requests if is_extraction(r.body)]
    [answered] = json.loads(asked.text)["facts"]
    assert answered["slot"] == "" and "mood" not in answered
    assert (await store.facts.rows(ALICE))[0].slot == ""


def test_a_slot_is_read_from_what_the_model_names_and_a_made_up_one_is_none() -> None:
    assert parse_slot("home") == parse_slot(" Home ") and parse_slot("home").sure  # type: ignore[union-attr]
    hedged = parse_slot("?home")
    assert hedged is not None and (hedged.name, hedged.sure, hedged.stored) == ("home", False, "?home")
    assert parse_slot("pet_name:Cat").stored == "pet_name:cat"  # type: ignore[union-attr]
    assert parse_slot("home:brother") != parse_slot("home")
    for nothing in ("none", "", "favourite_colour", None, 3):
        assert parse_slot(nothing) is None
    # stored: the model's word; NULL: the English cues (never the cues for a slot the model named none)
    assert slot_for("alice lives in Leeds", None) == slot_for("x", "home")
    assert slot_for("alice lives in Leeds", "") is None
    parsed = parse_extraction(json.dumps({"facts": [
        fact("A", "?work", "nurse"), fact("B", "hobby", "chess"), {"fact": "C"}], "relationship": {}}), 1.0)
    assert [(f.slot, f.value) for f in parsed.facts] == [("?work", "nurse"), ("", None), (None, None)]


def test_a_changed_value_is_no_repeat_whatever_the_cosine() -> None:
    now = datetime(2026, 11, 20, tzinfo=UTC)
    vectors = real_embedder().encode(["アリスの猫の名前はモチ", "アリスの猫の名前はタマ"])
    index = FactIndex.build([FactRow(1, "アリスの猫の名前はモチ", "personal", False, True, 1, now, now,
                                     vectors[0].astype("<f4").tobytes(), slot="pet_name:cat",
                                     slot_value="モチ")])
    renamed = ExtractedFact("アリスの猫の名前はタマ", "personal", slot="pet_name:cat", value="タマ")
    assert [f.fact for f, _ in match_facts(index, [renamed], vectors[1:], 0.8).new] == [renamed.fact]
    # without a slot (an answer of old), the cosine decides as before: said again
    plain = ExtractedFact("アリスの猫の名前はタマ", "personal")
    assert list(match_facts(index, [plain], vectors[1:], 0.8).mentioned) == [1]


@pytest.mark.parametrize(("said", "kept", "english"), [
    ("猫の名前はモチだよ", "アリスの猫の名前はモチ", "Alice's cat is called Mochi"),
    ("Mi gato se llama Miso", "El gato de Alice se llama Miso", "Alice's cat is called Miso"),
    ("Моего кота зовут Мисо", "Кота Алисы зовут Мисо", "Alice's cat is called Miso"),
])
async def test_a_fact_kept_in_another_language_carries_its_english_for_the_english_model(
        store: Store, fake_claude: FakeClaude, said: str, kept: str, english: str) -> None:
    """The extraction writes each fact in the person's language and, beside it, in English; the English is
    kept (user_facts.gloss, never shown) and is what the English model embeds of it."""
    fake_claude.responder = extractions({said: [fact(kept, english=english)]})
    await Rig(store, fake_claude).tell(said)
    [asked] = [r for r in fake_claude.requests if is_extraction(r.body)]
    assert '"english": the same sentence in English' in asked.all_text()
    [row] = await store.facts.rows(ALICE)
    assert (row.fact, row.gloss) == (kept, english)
    assert row.embedding is not None
    stored = from_bytes(row.embedding)
    assert float(stored @ real_embedder().encode([english])[0]) > 0.99  # read in English
    assert float(stored @ real_embedder().encode([kept])[0]) < 0.9
