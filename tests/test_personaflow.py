"""The personaflow package: systems, characters, memories, utilities and the Kindred bridge."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.core.config import PROJECT_ROOT
from database.store import Store
from personaflow import PersonaSystem as TopLevelSystem
from personaflow.core import Character as CoreCharacter
from personaflow.core import PersonaSystem
from personaflow.core.character import Character
from personaflow.core.memory import Memory, MemoryConfig, MemoryManager, extractive_summary
from personaflow.core.system import PersonaSystem as SystemFromModule
from personaflow.integrations.kindred import ClaudeSummarizer, KindredStore, load_character_folder
from personaflow.utils import Logger, PromptManager, PromptTemplate, Serializer, validators
from tests.fakes.claude_server import FakeClaude
from tests.memory_support import memory_settings

CHARACTERS = PROJECT_ROOT / "characters"

FACTS = [
    "Sam adopted a grey cat named Miso last week.",
    "It rained all afternoon.",
    "Miso the cat knocked a mug of coffee off the desk.",
    "Sam started learning Rust for a new job.",
    "Lunch was pasta.",
    "Sam's sister visits on Friday with her own cat.",
]


def test_layout_and_reexports() -> None:
    assert TopLevelSystem is PersonaSystem is SystemFromModule
    assert CoreCharacter is Character


def test_create_get_switch_and_unknown_names() -> None:
    system = PersonaSystem()
    wizard = system.create_character("wizard", "You are a wise wizard.", background={"age": 900})
    system.create_character("rogue", "You are a rogue.")
    assert system.characters["wizard"] is wizard and system.get_character("wizard") is wizard
    assert system.active_character is None
    system.switch_active_character("rogue")
    assert system.active_character == "rogue"
    with pytest.raises(KeyError, match="ghost"):
        system.get_character("ghost")
    with pytest.raises(KeyError):
        system.switch_active_character("ghost")
    with pytest.raises(KeyError):
        system.add_interaction("ghost", "boo")
    assert system.active_character == "rogue"  # a failed switch changes nothing
    with pytest.raises(ValueError):
        system.create_character("wizard", "again")
    with pytest.raises(ValueError):
        system.create_character("blank", "   ")


def test_interactions_and_context() -> None:
    system = PersonaSystem()
    wizard = system.create_character(
        "wizard", "You are a wise wizard.", background={"specialty": "time magic"}
    )
    system.add_interaction("wizard", {"user": "Favourite spell?", "response": "Stopping time, briefly."})
    system.add_interaction("wizard", "A storm gathers.", memory_type="event", metadata={"source": "world"})
    context = wizard.get_context()
    assert (context["name"], context["prompt"], context["background"]) == (
        "wizard",
        "You are a wise wizard.",
        {"specialty": "time magic"},
    )
    newest, oldest = context["memories"]
    assert (
        newest["content"] == "A storm gathers."
        and newest["type"] == "event"
        and newest["metadata"] == {"source": "world"}
    )
    assert oldest["content"] == {"user": "Favourite spell?", "response": "Stopping time, briefly."}
    assert newest["character_name"] == "wizard"
    assert "memories" not in wizard.get_context(include_memories=False)
    assert len(wizard.get_context(memory_limit=1)["memories"]) == 1
    assert [m["type"] for m in wizard.get_context(memory_types=["interaction"])["memories"]] == [
        "interaction"
    ]


def test_broadcast_to_all_or_some() -> None:
    system = PersonaSystem()
    for name in ("a", "b", "c"):
        system.create_character(name, f"You are {name}.")
    added = system.broadcast_interaction("The bell tolls.")
    assert len(added) == 3 and all(m.type == "broadcast" for m in added)
    system.broadcast_interaction(
        "Only some hear it.", memory_type="event", metadata={"loud": False}, character_names=["a", "c"]
    )
    assert system.get_character("a").memory_manager.get_memories(1)[0].content == "Only some hear it."
    assert system.get_character("b").memory_manager.get_memories(1)[0].content == "The bell tolls."
    with pytest.raises(KeyError):
        system.broadcast_interaction("x", character_names=["a", "nobody"])
    assert len(system.get_character("a").memory_manager.memories) == 2  # nothing added when a name is unknown


def test_get_memories_newest_first_and_filters() -> None:
    manager = MemoryManager("m", MemoryConfig(auto_summarize=False))
    for i in range(5):
        manager.add_memory(f"memory {i}", memory_type="odd" if i % 2 else "even")
    assert [m.content for m in manager.get_memories()] == [f"memory {i}" for i in (4, 3, 2, 1, 0)]
    assert [m.content for m in manager.get_memories(limit=2)] == ["memory 4", "memory 3"]
    assert [m.content for m in manager.get_memories(memory_types=["odd"])] == ["memory 3", "memory 1"]
    assert manager.memories[0].content == "memory 0"  # storage order is chronological
    with pytest.raises(ValueError):
        manager.get_memories(limit=-1)


def test_trimming_keeps_the_newest() -> None:
    manager = MemoryManager("t", MemoryConfig(max_memories=3, auto_summarize=False))
    for i in range(7):
        manager.add_memory(f"m{i}")
    assert [m.content for m in manager.memories] == ["m4", "m5", "m6"]


def test_auto_summary_extractive() -> None:
    manager = MemoryManager("s", MemoryConfig(summary_threshold=len(FACTS)))
    for fact in FACTS[:-1]:
        manager.add_memory(fact)
    assert not manager.get_memories(memory_types=["summary"])
    manager.add_memory(FACTS[-1])
    (summary,) = manager.get_memories(memory_types=["summary"])
    assert summary.metadata["method"] == "extractive" and summary.metadata["summarized_count"] == len(FACTS)
    text = str(summary.content)
    assert "Miso" in text and "cat" in text and "Lunch was pasta." not in text  # informative sentences win
    assert text == extractive_summary(
        [Memory(datetime.now(UTC), "interaction", f) for f in FACTS]
    )  # deterministic
    # The count restarts after a summary.
    for fact in FACTS[:-1]:
        manager.add_memory(fact)
    assert len(manager.get_memories(memory_types=["summary"])) == 1
    assert len(manager.unsummarized()) == len(FACTS) - 1


# FACTS said again in other languages: Japanese and Chinese with no space between sentences nor words.
FACTS_IN = {
    "es": ["Sam adoptó la semana pasada un gato gris llamado Miso.", "Llovió toda la tarde.",
           "Miso, el gato, tiró del escritorio una taza de café.",
           "Sam empezó a aprender Rust para un trabajo nuevo.", "La comida fue pasta.",
           "La hermana de Sam viene el viernes con su propio gato."],
    "de": ["Sam hat letzte Woche eine graue Katze namens Miso adoptiert.",
           "Es regnete den ganzen Nachmittag.",
           "Miso, die Katze, hat eine Tasse Kaffee vom Schreibtisch gestoßen.",
           "Sam hat für einen neuen Job angefangen, Rust zu lernen.", "Zum Mittagessen gab es Nudeln.",
           "Sams Schwester kommt am Freitag mit ihrer eigenen Katze."],
    "ja": ["サムは先週、ミソという灰色の猫を飼い始めた。", "午後はずっと雨だった。",
           "猫のミソが机からコーヒーのマグを落とした。", "サムは新しい仕事のためにRustを学び始めた。",
           "昼ご飯はパスタだった。", "サムの妹が金曜日に自分の猫を連れて来る。"],
    "zh": ["萨姆上周收养了一只名叫味噌的灰猫。", "整个下午都在下雨。", "味噌这只猫把一杯咖啡从桌上碰掉了。",
           "萨姆为了新工作开始学习Rust。", "午饭是意大利面。", "萨姆的妹妹周五会带着她自己的猫来。"],
}


@pytest.mark.parametrize("language", ["en", *FACTS_IN])
def test_the_extractive_summary_keeps_the_informative_sentences_in_any_language(language: str) -> None:
    """The same six facts, as one memory written the way the language writes: the summary is two of them,
    the first the cat's adoption, neither the rain nor lunch (a Japanese or Chinese text was one sentence
    of words no English pattern reads, and came back whole)."""
    facts = FACTS if language == "en" else FACTS_IN[language]
    text = ("" if language in ("ja", "zh") else " ").join(facts)
    summary = extractive_summary([Memory(datetime.now(UTC), "interaction", text)])
    kept = [fact for fact in facts if fact in summary]
    assert len(kept) == 2 and kept[0] == facts[0], summary
    assert len(summary) == len("".join(kept)) + (0 if language in ("ja", "zh") else 1), summary
    assert facts[1] not in summary and facts[4] not in summary


def test_a_japanese_sentence_ends_after_its_last_stop_and_quote() -> None:
    """"？！" is one end, and a quote closed after its stop belongs to the sentence it ends."""
    text = "本当？！猫のミソが来た。「ミソはどこ？」と妹が聞いた。午後は雨だった。"
    memories = [Memory(datetime.now(UTC), "interaction", text)]
    assert extractive_summary(memories, max_sentences=4) == text
    assert extractive_summary(memories, max_sentences=2) == "猫のミソが来た。「ミソはどこ？」と妹が聞いた。"


def test_a_texts_own_common_words_count_for_no_sentence() -> None:
    """No language's list of function words: a word in more than half a text's sentences is one, so
    sentences made of them win nothing (here German's "und" and "der", by their frequency alone)."""
    text = ("Der Hund und der Nachbar und der Garten. Der Zaun und der Weg. Der Regen und der Wind. "
            "Lena repariert Fahrräder in Leipzig. Lena verkauft Fahrräder am Samstag.")
    assert extractive_summary([Memory(datetime.now(UTC), "interaction", text)], max_sentences=2) == (
        "Lena repariert Fahrräder in Leipzig. Lena verkauft Fahrräder am Samstag.")


def test_auto_summary_with_summarizer_and_fallback() -> None:
    seen: list[list[Memory]] = []

    def summarizer(memories: list[Memory]) -> str:
        seen.append(memories)
        return f"{len(memories)} things happened."

    manager = MemoryManager("s", MemoryConfig(summary_threshold=3), summarizer=summarizer)
    for fact in FACTS[:3]:
        manager.add_memory(fact)
    summary = manager.get_memories(1)[0]
    assert (summary.type, summary.content, summary.metadata["method"]) == (
        "summary",
        "3 things happened.",
        "summarizer",
    )
    assert [m.content for m in seen[0]] == FACTS[:3]

    def broken(memories: list[Memory]) -> str:
        raise RuntimeError("model unavailable")

    fallback = MemoryManager("f", MemoryConfig(summary_threshold=2), summarizer=broken)
    fallback.add_memory(FACTS[0])
    fallback.add_memory(FACTS[2])
    summary = fallback.get_memories(1)[0]
    assert (
        summary.type == "summary"
        and summary.metadata["method"] == "extractive"
        and "Miso" in str(summary.content)
    )


def test_auto_summarize_off() -> None:
    manager = MemoryManager("s", MemoryConfig(summary_threshold=2, auto_summarize=False))
    for fact in FACTS:
        manager.add_memory(fact)
    assert not manager.get_memories(memory_types=["summary"])


def test_pluggable_store() -> None:
    class ListStore:
        def __init__(self) -> None:
            self.rows: list[Memory] = [
                Memory(datetime(2024, 1, 1, tzinfo=UTC), "interaction", "old", {}, "p")
            ]
            self.replaced = 0

        def load(self, character_name: str) -> list[Memory]:
            return [m for m in self.rows if m.character_name == character_name]

        def append(self, memory: Memory) -> None:
            self.rows.append(memory)

        def replace(self, memories: list[Memory]) -> None:
            self.replaced += 1
            self.rows = list(memories)

    store = ListStore()
    manager = MemoryManager("p", MemoryConfig(max_memories=2, auto_summarize=False), store=store)
    assert [m.content for m in manager.memories] == ["old"]
    manager.add_memory("new")
    assert [m.content for m in store.rows] == ["old", "new"]
    manager.add_memory("newer")
    assert store.replaced == 1 and [m.content for m in store.rows] == ["new", "newer"]
    system = PersonaSystem(store_factory=lambda name: store)
    assert system.create_character("p", "prompt").memory_manager.get_memories()[0].content == "newer"


def test_memory_config_as_a_dict() -> None:
    system = PersonaSystem()
    expert = system.create_character(
        "TechExpert",
        "You are a technology expert.",
        background={"years": 10},
        memory_config={"max_memories": 500, "summary_threshold": 50, "auto_summarize": True},
    )
    assert expert.memory_manager.config == MemoryConfig(max_memories=500, summary_threshold=50)
    small = system.create_character(
        "Small", "You forget fast.", memory_config={"max_memories": 2, "auto_summarize": False}
    )
    assert small.memory_manager.config.summary_threshold == 10  # unnamed fields keep their defaults
    for i in range(4):
        small.add_memory(f"m{i}")
    assert [m.content for m in small.memory_manager.memories] == ["m2", "m3"]
    assert (
        Character("c", "p", memory_config={"summary_threshold": 2}).memory_manager.config.summary_threshold
        == 2
    )
    assert MemoryManager("m", {"max_memories": 7}).config.max_memories == 7
    restored = PersonaSystem.from_dict(system.to_dict())
    assert restored.get_character("Small").memory_manager.config == small.memory_manager.config
    with pytest.raises(ValueError, match="max_memory"):
        system.create_character("Typo", "p", memory_config={"max_memory": 5})
    with pytest.raises(ValueError, match="summary_threshold"):
        system.create_character("Bad", "p", memory_config={"summary_threshold": 0})
    with pytest.raises(ValueError, match="MemoryConfig or a dict"):
        system.create_character("Wrong", "p", memory_config=["max_memories", 5])  # type: ignore[arg-type]
    assert set(system.characters) == {"TechExpert", "Small"}  # failed creations leave nothing behind


def test_serialization_round_trip() -> None:
    system = PersonaSystem()
    system.create_character(
        "wizard", "You are a wizard.", {"age": 900}, MemoryConfig(max_memories=50, summary_threshold=4)
    )
    system.create_character("rogue", "You are a rogue.")
    system.add_interaction("wizard", {"user": "hi", "response": "hello"}, metadata={"channel": 1})
    system.broadcast_interaction("Night falls.")
    system.switch_active_character("wizard")
    data = system.to_dict()
    text = Serializer.to_json(data)
    restored = PersonaSystem.from_dict(Serializer.from_json(text))
    assert restored.to_dict() == data
    assert restored.active_character == "wizard"
    wizard = restored.get_character("wizard")
    assert wizard.memory_manager.config.max_memories == 50 and wizard.background == {"age": 900}
    assert wizard.get_context()["memories"][0]["content"] == "Night falls."
    assert Character.from_dict(wizard.to_dict()).to_dict() == wizard.to_dict()
    memory = wizard.memory_manager.memories[0]
    assert Memory.from_dict(memory.to_dict()) == memory
    assert Serializer.to_json(memory) == Serializer.to_json(
        memory.to_dict()
    )  # objects with to_dict serialize
    with pytest.raises(ValueError):
        Serializer.from_json("{nope")
    with pytest.raises(ValueError):
        Memory.from_dict({"type": "x", "content": "y"})


def test_serializer_files(tmp_path: Path) -> None:
    system = PersonaSystem()
    system.create_character("a", "You are a.")
    system.add_interaction("a", {"user": "hi", "response": "hello"})
    Serializer.save(system, tmp_path / "system.json")
    assert PersonaSystem.from_dict(Serializer.load(tmp_path / "system.json")).characters.keys() == {"a"}
    # PersonaFlow's documented usage: keyword arguments, a path given as a plain string.
    path = str(tmp_path / "system_backup.json")
    text = Serializer.to_json(data=system.to_dict(), file_path=path)
    assert Path(path).read_text(encoding="utf-8").strip() == text
    assert PersonaSystem.from_dict(Serializer.from_json(path)).to_dict() == system.to_dict()
    assert Serializer.from_json(Path(path)) == Serializer.from_json(text) == system.to_dict()
    assert Serializer.to_json({"x": 1}, indent=None) == '{"x": 1}'
    memories = {
        "memories": system.get_character("a").memory_manager.get_memories()
    }  # Memory objects serialize
    assert Serializer.from_json(Serializer.to_json(memories))["memories"][0]["content"]["user"] == "hi"
    with pytest.raises(ValueError, match="not an existing file"):
        Serializer.from_json(str(tmp_path / "missing.json"))


def test_prompt_templates() -> None:
    tpl = PromptTemplate("You are ${name}, a $role. Costs $$5.", name="intro")
    assert tpl.variables == ["name", "role"]
    assert tpl.render(name="Finn", role="fish") == "You are Finn, a fish. Costs $5."
    assert tpl.render({"name": "Finn"}, role="fish").startswith("You are Finn")
    with pytest.raises(KeyError, match="role"):
        tpl.render(name="Finn")
    with pytest.raises(ValueError, match="invalid placeholder"):
        PromptTemplate("Broken ${name")
    manager = PromptManager({"greet": "Hello ${user}"})
    manager.add_template("bye", "Bye ${user}")
    assert manager.list_templates() == ["bye", "greet"]
    assert manager.render("greet", user="Sam") == "Hello Sam" == manager.get_prompt("greet", user="Sam")
    with pytest.raises(KeyError, match="nope"):
        manager.get_template("nope")
    manager.remove_template("bye")
    assert manager.list_templates() == ["greet"]


def test_validators() -> None:
    # PersonaFlow's documented usage is ``if validators.validate_...(x):``: True when valid, False when not.
    assert validators.validate_prompt_template("Hi ${a} and $b") is True
    assert validators.validate_prompt_template("No placeholders at all.") is True
    for bad in ("", "   ", 5, "cost: $ 5"):
        assert validators.validate_prompt_template(bad) is False
    assert validators.validate_memory_content("ok") is True
    assert validators.validate_memory_content({"user": "hi", "response": "hello"}) is True
    for bad_content in ("", "  ", {}, {1: "x"}, 3, None):
        assert validators.validate_memory_content(bad_content) is False
    assert validators.validate_memory_config(MemoryConfig()) is True
    assert validators.validate_memory_config(
        {"max_memories": 1000, "summary_threshold": 10, "auto_summarize": True}
    )
    assert validators.validate_memory_config({"max_memories": 5}) is True  # the rest take their defaults
    for bad_config in ({"max_memories": 0}, {"auto_summarize": "yes"}, {"max_memory": 5}, "big", None):
        assert validators.validate_memory_config(bad_config) is False
    # The library's own checks raise, saying what is wrong.
    assert validators.template_variables("Hi ${a} and $b, $a") == ["a", "b"]
    with pytest.raises(ValueError, match="invalid placeholder"):
        validators.template_variables("cost: $ 5")
    with pytest.raises(ValueError, match="max_memories"):
        MemoryConfig(max_memories=0)
    with pytest.raises(ValueError, match="summary_threshold"):
        MemoryConfig(summary_threshold=-1)
    with pytest.raises(ValueError, match="auto_summarize"):
        validators.check_memory_config({"max_memories": 5, "summary_threshold": 2, "auto_summarize": "yes"})
    with pytest.raises(ValueError, match="keys must be strings"):
        MemoryManager("x").add_memory({1: "x"})


def test_logger_wraps_logging(caplog: pytest.LogCaptureFixture) -> None:
    logger = Logger("tests", level=logging.DEBUG)
    assert logger.logger.name == "personaflow.tests"
    with caplog.at_level(logging.DEBUG, logger="personaflow.tests"):
        logger.info("hello %s", "world")
        logger.debug("details")
    assert [r.getMessage() for r in caplog.records] == ["hello world", "details"]


def test_logger_log_file(tmp_path: Path) -> None:
    path = tmp_path / "persona_flow.log"
    logger = Logger(name="PersonaFlow", level="INFO", log_file=str(path))
    again = Logger("PersonaFlow", log_file=path)  # the same file twice must not double every line
    try:
        logger.info("Successfully created new character: %s", "TechBot")
        logger.debug("below the level")
        again.warning("memory approaching its limit")
    finally:
        logger.close()
        again.close()
    lines = path.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 2
    assert lines[0].endswith("personaflow.PersonaFlow - INFO - Successfully created new character: TechBot")
    assert lines[1].endswith("WARNING - memory approaching its limit")
    assert not logger.logger.handlers  # closing detaches the file


def test_kindred_integration_loads_character_folders() -> None:
    system = PersonaSystem()
    finn = load_character_folder(system, CHARACTERS / "finn")
    atlas = load_character_folder(system, CHARACTERS / "atlas")
    lumen = load_character_folder(system, CHARACTERS / "lumen")
    assert set(system.characters) == {"Finn", "Atlas", "Lumen"}
    assert (
        "walking fish" in finn.prompt and "## How you behave" in atlas.prompt and "Greywick" in lumen.prompt
    )
    assert finn.background["source_format"] == "claudemask" and finn.background["traits"]
    assert lumen.background["source_format"] == "card_v3"
    system.add_interaction("Finn", {"user": "One kelp tea, please.", "response": "Coming right up!"})
    assert finn.get_context()["memories"][0]["content"]["user"] == "One kelp tea, please."
    with pytest.raises(ValueError):
        load_character_folder(system, CHARACTERS / "finn")  # already there
    assert load_character_folder(system, CHARACTERS / "finn", name="Finn 2").name == "Finn 2"


def test_kindred_store_keeps_characters_and_memories_for_a_new_system(db_url: str) -> None:
    """Plain synchronous code, as a program using the library is: the store runs its own event loop."""
    with KindredStore(db_url) as store:
        system = PersonaSystem(store=store)
        load_character_folder(
            system, CHARACTERS / "finn", memory_config={"max_memories": 4, "auto_summarize": False}
        )
        system.create_character("wizard", "You are a wizard.", {"age": 900, "spells": ["stop time"]})
        for i in range(6):
            system.add_interaction("Finn", {"user": f"order {i}", "response": "kelp tea"}, metadata={"n": i})
        system.add_interaction("wizard", "A storm gathers.", memory_type="event")
        saved = system.to_dict()["characters"]
    with KindredStore(db_url) as store:  # a new store and system: nothing carried over but the database
        fresh = PersonaSystem(store=store)
        assert list(fresh.characters) == ["Finn", "wizard"]
        assert {name: c.to_dict() for name, c in fresh.characters.items()} == saved
        finn = fresh.get_character("Finn")
        assert [m.content["user"] for m in finn.memory_manager.memories] == [
            "order 2",
            "order 3",
            "order 4",
            "order 5",
        ]
        assert finn.background["source_format"] == "claudemask" and "walking fish" in finn.prompt
        with pytest.raises(ValueError):
            fresh.create_character("wizard", "again")
        fresh.add_interaction("Finn", "A new day.", memory_type="event")  # trimming keeps the newest 4
        fresh.remove_character("wizard")
        PersonaSystem.from_dict(
            {
                "characters": {
                    "rogue": {
                        "name": "rogue",
                        "prompt": "You are a rogue.",
                        "memories": [
                            {
                                "timestamp": "2024-01-01T00:00:00+00:00",
                                "type": "event",
                                "content": "Stole a pie.",
                            }
                        ],
                    }
                }
            },
            store=store,
        )
    with KindredStore(db_url) as store:
        again = PersonaSystem(store=store)
        assert list(again.characters) == ["Finn", "rogue"]
        assert [m.text() for m in again.get_character("Finn").memory_manager.get_memories()][:2] == [
            "A new day.",
            "user: order 5\nresponse: kelp tea",
        ]
        assert len(again.get_character("Finn").memory_manager.memories) == 4
        (pie,) = again.get_character("rogue").memory_manager.memories
        assert (pie.content, pie.character_name, pie.timestamp) == (
            "Stole a pie.",
            "rogue",
            datetime(2024, 1, 1, tzinfo=UTC),
        )


async def test_claude_summarizer_through_kindreds_client(store: Store) -> None:
    async with FakeClaude() as fc:
        fc.script("Sam adopted Miso, a grey cat who knocks mugs off desks, and is learning Rust.")
        fc.script(status=400)  # the second summary's call fails for good
        settings = memory_settings(store.url, fc.base_url)

        def program() -> list[Memory]:  # synchronous code; the fake API keeps serving on this test's loop
            with KindredStore(store.url) as kindred, ClaudeSummarizer(settings, store=kindred) as summarizer:
                system = PersonaSystem(summarizer=summarizer, store=kindred)
                system.create_character("Sam", "You are Sam's diary.", memory_config={"summary_threshold": 3})
                for fact in FACTS:
                    system.add_interaction("Sam", fact)
                return system.get_character("Sam").memory_manager.get_memories(memory_types=["summary"])

        later, first = await asyncio.to_thread(program)
    assert first.content == "Sam adopted Miso, a grey cat who knocks mugs off desks, and is learning Rust."
    assert first.metadata["method"] == "summarizer" and first.metadata["summarized_count"] == 3
    request = fc.requests[0]
    assert "Memories of Sam" in fc.all_text(request) and all(f in fc.all_text(request) for f in FACTS[:3])
    assert request.body["model"] == settings.models.default_model
    # the fallback: of three sentences sharing no word, one that is not the shortest (lunch)
    assert later.metadata["method"] == "extractive" and later.content in (FACTS[3], FACTS[5])
    assert len(fc.requests) == 2
    usage = await store.usage.totals(purpose=ClaudeSummarizer.PURPOSE)  # usage recorded in Kindred's database
    assert usage.calls == 2 and usage.output_tokens > 0
