"""acore_bot's own files, loaded unchanged (tests/data/acore_bot/, see its README for the source): every
character and framework file loads; a loaded character answers with its prompt, routes by its topics and
moves through its evolution stages over the wire; malformed files name the file and the field."""

from __future__ import annotations

import base64
import json
import logging
import shutil
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from bot.core.config import PROJECT_ROOT
from bot.core.errors import ConfigError
from bot.core.persona import load_persona
from bot.core.persona.acore_frameworks import load_all_frameworks
from bot.core.persona.blend import blend_instructions, stage_instructions
from bot.core.persona.cards import read_card
from bot.core.persona.png import png_text
from bot.core.persona.transfer import export_folder, import_character
from bot.reply.prompting import NEW_CHAT
from tests.fakes.claude_server import FakeClaude, content_text
from tests.harness import CHANNEL_ID, Harness, reply_requests, run_main
from tests.memory_support import last_user_text
from tests.test_persona_runtime import dm_exchange, interactions_reach, status_fields

ACORE = Path(__file__).parent / "data" / "acore_bot"

FRAMEWORKS = sorted(p.name for p in (ACORE / "frameworks").glob("*.json"))
VOTER = "claude-test-voter"


def acore_folder(tmp_path: Path, name: str, *files: str, frameworks: tuple[str, ...] = (),
                 env: str = "") -> Path:
    """A character folder holding acore files exactly as they are (``characters/x.json``, ...)."""
    folder = tmp_path / name
    folder.mkdir(parents=True)
    for rel in files:
        shutil.copyfile(ACORE / rel, folder / Path(rel).name)
    for fw in frameworks:
        (folder / "frameworks").mkdir(exist_ok=True)
        shutil.copyfile(ACORE / "frameworks" / fw, folder / "frameworks" / fw)
    (folder / "character.env").write_text(env)
    return folder


def edited(tmp_path: Path, rel: str, change: Callable[[dict[str, Any]], None], name: str = "broken") -> Path:
    """A folder holding a copy of an acore file with one deliberate fault."""
    folder = tmp_path / name
    folder.mkdir()
    data = json.loads((ACORE / rel).read_text())
    change(data)
    target = folder / ("frameworks" if rel.startswith("frameworks/") else "") / Path(rel).name
    target.parent.mkdir(exist_ok=True)
    target.write_text(json.dumps(data))
    if rel.startswith("frameworks/"):
        shutil.copyfile(ACORE / "legacy" / "dagoth_ur.json", folder / "dagoth_ur.json")
    return folder


# --------------------------------------------------------------------------- every file loads


@pytest.mark.parametrize("rel", sorted(
    f"{sub}/{p.name}" for sub in ("characters", "legacy", "compiled") for p in (ACORE / sub).glob("*.json")))
def test_every_acore_character_file_loads_unchanged(tmp_path: Path, rel: str) -> None:
    folder = acore_folder(tmp_path, "c", rel, frameworks=tuple(FRAMEWORKS))
    raw = json.loads((ACORE / rel).read_text())
    persona = load_persona(folder, {})
    assert persona.source_format.startswith("card" if "spec" in raw else "acore")
    name = raw.get("data", {}).get("name") or raw.get("display_name") or raw.get("character_name")
    assert persona.name == name and len(persona.system_prompt) > 200


def test_all_four_frameworks_load_with_their_fields(tmp_path: Path) -> None:
    folder = acore_folder(tmp_path, "c", frameworks=tuple(FRAMEWORKS))
    frameworks = load_all_frameworks(folder)
    assert sorted(frameworks) == ["assistant", "caring", "chaotic", "neuro"]
    assistant = frameworks["assistant"]
    assert (
        assistant.name == "Professional Assistant Framework"
        and "HELPFULNESS FIRST" in assistant.prompt_template
    )
    assert "Helpfulness: priority maximum; proactive assistance; anticipate needs; thorough explanations" in (
        assistant.behavioural_patterns
    )
    assert assistant.decision_making == (
        "When to respond: mentioned always; question asked always; help needed "
        "always; active conversation if relevant",
    )
    assert assistant.anti_hallucination_rules == ("Admit uncertainty: always", "Accuracy standard: maximum")
    assert {
        "tool_requirements",
        "context_requirements",
        "description",
        "decision_making.when_to_use_tools",
        "anti_hallucination.tool_enforcement",
        "anti_hallucination.confidence_threshold",
    } == set(assistant.unused)
    assert frameworks["neuro"].prompt_template.startswith("Be funny and cute.")
    assert frameworks["neuro"].unused == ()  # its tool_requirements and the like are empty: nothing unused


# --------------------------------------------------------------------------- what each format honours


def test_an_acore_card_keeps_its_topics_stages_avatar_and_names_what_it_does_not_use(tmp_path: Path) -> None:
    folder = acore_folder(tmp_path, "dagoth", "characters/dagoth_ur.json", frameworks=("assistant.json",))
    p = load_persona(folder, {})
    assert p.topic_interests == ("gaming", "mythology", "technology", "elder_scrolls")
    assert p.topic_avoidances == ("real_world_politics",)
    assert [(s.min_interactions, s.name) for s in p.evolution] == [
        (50, "Slightly familiar"),
        (100, "More casual"),
        (500, "Comfortable banter"),
        (1000, "Fully comfortable"),
        (5000, "Deep familiarity"),
    ]
    assert stage_instructions(p, 120) == (
        "## How you have grown: More casual\nTone now: more casual\nQuirks you have picked up:\n"
        "- remembers first topics\n- uses callback references\n- remembers user preferences\n"
        "Things you have come to know:\n- expands on favorite topics"
    )
    assert p.avatar_url == "https://i.redd.it/snhnfjh9whga1.png"
    assert "HELPFULNESS FIRST" in p.system_prompt and "- Admit uncertainty: always" in p.system_prompt
    assert p.unused_fields[0] == "dagoth_ur.json: data.extensions.knowledge_domain"
    assert "frameworks/assistant.json: tool_requirements" in p.unused_fields


def test_a_legacy_character_compiles_with_the_framework_it_names(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    folder = acore_folder(tmp_path, "dagoth", "legacy/dagoth_ur.json", frameworks=tuple(FRAMEWORKS))
    p = load_persona(folder, {"default_name": "Lord Dagoth"})
    assert p.name == "Lord Dagoth" and p.source_format == "acore_legacy"
    assert p.system_prompt.startswith("You are Dagoth Ur. Dagoth Ur, immortal god-king of Red Mountain.")
    for part in (
        "Core traits: Divine superiority complex;",
        "- Loves games: Morrowind, Dark Souls",
        "Tone: Grandiose sarcasm",
        "- Default length: SHORT (1-3 sentences)",
        "- Welcome, mortal.",
        "- What if cheese achieved CHIM?",
        "### Neuro-sama Framework (100%)\nBe funny and cute.",
    ):
        assert part in p.system_prompt, part
    assert "CHAOTIC" not in p.system_prompt, "only the framework the character names"
    assert p.framework_blend == {"neuro": 1.0}
    assert p.unused_fields == ("dagoth_ur.json: knowledge_domain.rag_categories",)
    # A framework it names that the folder lacks: acore goes on without it, and so does Kindred, saying so.
    shutil.rmtree(folder / "frameworks")
    caplog.set_level(logging.WARNING)
    assert "Neuro" not in load_persona(folder, {}).system_prompt
    assert any("framework: no framework 'neuro'" in m for m in caplog.messages)


def test_legacy_triggers_become_topic_interests(tmp_path: Path) -> None:
    p = load_persona(acore_folder(tmp_path, "chief", "legacy/chief.json"), {})
    assert p.topic_interests[:3] == ("gaming", "halo", "trash talk")
    assert "Gets excited about: wins (rare), pranks, junk food, explosions" in p.system_prompt
    assert "chief.json: legacy_config" in p.unused_fields


def test_the_advanced_persona_blends_frameworks_by_its_rules(tmp_path: Path) -> None:
    folder = acore_folder(
        tmp_path, "nova", "characters/example_advanced_persona.json", frameworks=tuple(FRAMEWORKS)
    )
    p = load_persona(folder, {})
    assert p.name == "Nova" and p.system_prompt.startswith("You are Nova, an advanced AI companion")
    assert p.topic_avoidances == ("politics", "religion")
    assert [(s.min_interactions, s.name) for s in p.evolution][:2] == [
        (50, "More casual speech"),
        (100, "References past conversations"),
    ]
    assert (
        blend_instructions(p, "emotional")
        .splitlines()[1]
        .startswith("Lead with Caring & Nurturing Framework (70%)")
    )
    assert blend_instructions(p, "technical").splitlines()[1].startswith("Lead with Professional Assistant")
    assert "neuro" not in p.extra["frameworks"]  # not named by its blend rules
    assert "example_advanced_persona.json: autonomous_behavior" in p.unused_fields


def test_a_compiled_persona_plays_its_finished_prompt(tmp_path: Path) -> None:
    folder = acore_folder(tmp_path, "c", "compiled/dagoth_ur_neuro.json")
    p = load_persona(folder, {})
    raw = json.loads((ACORE / "compiled" / "dagoth_ur_neuro.json").read_text())
    assert p.system_prompt == raw["system_prompt"].strip()
    assert p.unused_fields == ("dagoth_ur_neuro.json: config", "dagoth_ur_neuro.json: compiled_at")


def test_a_kindred_character_may_use_acore_frameworks_as_they_are(tmp_path: Path) -> None:
    folder = tmp_path / "atlas"
    shutil.copytree(PROJECT_ROOT / "characters" / "atlas", folder)
    character = json.loads((folder / "character.json").read_text())
    character["framework_blending"]["default"]["neuro"] = 0.5
    (folder / "character.json").write_text(json.dumps(character))
    shutil.copyfile(ACORE / "frameworks" / "neuro.json", folder / "frameworks" / "neuro.json")
    p = load_persona(folder, {})
    assert "Neuro-sama Framework" in p.system_prompt and "Be funny and cute." in p.system_prompt


def test_acore_template_variables_and_avatars(tmp_path: Path) -> None:
    framework = json.loads((ACORE / "frameworks" / "neuro.json").read_text())
    framework["prompt_template"] = "You are {character_name}. {identity} Keep {this} as written."
    folder = acore_folder(tmp_path, "d", "legacy/dagoth_ur.json")
    (folder / "frameworks").mkdir()
    (folder / "frameworks" / "neuro.json").write_text(json.dumps(framework))
    picture = base64.b64encode((PROJECT_ROOT / "characters" / "lumen" / "card.png").read_bytes()).decode()
    legacy = json.loads((folder / "dagoth_ur.json").read_text())
    legacy["avatar"] = f"data:image/png;base64,{picture}"
    (folder / "dagoth_ur.json").write_text(json.dumps(legacy))
    p = load_persona(folder, {})
    assert "You are Dagoth Ur. Who: Dagoth Ur, immortal god-king" in p.system_prompt
    assert "Keep {this} as written." in p.system_prompt
    assert p.avatar_data is not None and p.avatar_bytes() == p.avatar_data and p.avatar_url == ""
    legacy["avatar"] = "data:image/png;base64,bm90IGEgcGljdHVyZQ=="
    (folder / "dagoth_ur.json").write_text(json.dumps(legacy))
    with pytest.raises(ConfigError) as info:
        load_persona(folder, {})
    assert (info.value.file, info.value.key) == (str(folder / "dagoth_ur.json"), "avatar")


# --------------------------------------------------------------------------- malformed files


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def change(data: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        for key in parents:
            data = data[key]
        data[last] = value

    return change


@pytest.mark.parametrize(
    ("rel", "change", "field"),
    [
        (
            "characters/dagoth_ur.json",
            _set("data.extensions.evolution_stages", [{"milestone": "soon"}]),
            "data.extensions.evolution_stages[0].milestone",
        ),
        (
            "characters/tai.json",
            _set("data.extensions.topic_interests", {"debugging": True}),
            "data.extensions.topic_interests",
        ),
        (
            "characters/tai.json",
            _set("data.extensions.topic_avoidances", [["x"]]),
            "data.extensions.topic_avoidances[0]",
        ),
        ("characters/dagoth_ur.json", _set("data.avatar_url", 7), "data.avatar_url"),
        ("legacy/arbiter.json", _set("identity.core_traits", {"a": 1}), "identity.core_traits"),
        ("legacy/dagoth_ur.json", _set("framework", 3), "framework"),
        (
            "characters/example_advanced_persona.json",
            _set("extensions.framework_blending.blend_rules", [{"context": 1}]),
            "extensions.framework_blending.blend_rules[0].context",
        ),
        ("compiled/dagoth_ur.json", _set("system_prompt", ""), "system_prompt"),
        ("frameworks/neuro.json", _set("framework_id", None), "framework_id"),
        ("frameworks/neuro.json", _set("prompt_template", ["a"]), "prompt_template"),
        (
            "frameworks/assistant.json",
            _set("behavioral_patterns.helpfulness.priority", None),
            "behavioral_patterns.helpfulness.priority",
        ),
    ],
)
def test_a_malformed_file_names_the_file_and_the_field(
    tmp_path: Path, rel: str, change: Any, field: str
) -> None:
    folder = edited(tmp_path, rel, change)
    with pytest.raises(ConfigError) as info:
        load_persona(folder, {})
    broken = folder / ("frameworks" if rel.startswith("frameworks/") else "") / Path(rel).name
    assert (info.value.file, info.value.key) == (str(broken), field), info.value.message


def test_main_exits_2_naming_the_file_and_field_of_a_malformed_acore_file(tmp_path: Path) -> None:
    folder = edited(
        tmp_path, "characters/dagoth_ur.json", _set("data.extensions.evolution_stages", [{"milestone": -5}])
    )
    result = run_main("--console", "--character", str(folder), env={"ANTHROPIC_API_KEY": "k"})
    assert result.returncode == 2 and "Traceback" not in result.stderr
    [line] = [line for line in result.stderr.splitlines() if line.strip()]
    assert str(folder / "dagoth_ur.json") in line and "data.extensions.evolution_stages[0].milestone" in line


# --------------------------------------------------------------------------- import-card, export-card


def test_import_card_takes_an_acore_character_with_its_framework(tmp_path: Path) -> None:
    folder = import_character(ACORE / "legacy" / "dagoth_ur.json", tmp_path)
    assert folder == tmp_path / "dagoth-ur"
    assert (folder / "dagoth_ur.json").read_bytes() == (ACORE / "legacy" / "dagoth_ur.json").read_bytes()
    assert (folder / "frameworks" / "neuro.json").read_bytes() == (
        ACORE / "frameworks" / "neuro.json"
    ).read_bytes()
    assert 'default_name="Dagoth Ur"' in (folder / "character.env").read_text()
    assert load_persona(folder, {}).framework_blend == {"neuro": 1.0}


def test_export_card_writes_a_card_with_its_lorebook_that_comes_back_the_same(tmp_path: Path) -> None:
    folder = acore_folder(tmp_path, "tai", "legacy/gothmommy.json", frameworks=("caring.json",))
    lore = {"entries": [{"keys": ["raven"], "content": "Her raven is called Poe."}]}
    (folder / "lorebook.json").write_text(json.dumps(lore))
    result = run_main("export-card", str(folder), "--out", str(tmp_path / "out.json"), env={})
    assert result.returncode == 0, result.stderr
    card = json.loads((tmp_path / "out.json").read_text())
    assert card["spec"] == "chara_card_v2" and card["data"]["name"] == "Goth Mommy"
    assert card["data"]["character_book"]["entries"][0]["content"] == "Her raven is called Poe."
    assert card["data"]["extensions"]["topic_interests"][:2] == ["gothic topics", "emotional distress"]
    original = load_persona(folder, {})
    back = tmp_path / "back"
    back.mkdir()
    shutil.copyfile(tmp_path / "out.json", back / "card.json")
    again = load_persona(back, {})
    assert again.name == original.name and again.topic_interests == original.topic_interests
    assert again.lorebook is not None and again.lorebook.entries[0].content == "Her raven is called Poe."
    assert original.system_prompt in again.system_prompt

    png = export_folder(
        acore_folder(tmp_path, "dagoth", "characters/dagoth_ur.json"),
        {},
        tmp_path / "dagoth.png",
        png=True,
        version=3,
    )
    chunks = png_text(png.read_bytes())
    assert {"chara", "ccv3"} <= set(chunks)
    exported = read_card(png)
    assert exported.version == 3 and exported.data["extensions"]["evolution_stages"][0]["milestone"] == 50


# --------------------------------------------------------------------------- over the wire

Make = Callable[..., Awaitable[Harness]]


async def test_an_acore_card_answers_with_its_prompt_greeting_and_framework(
    make_harness: Make, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    folder = acore_folder(tmp_path, "dagoth", "characters/dagoth_ur.json", frameworks=("assistant.json",))
    caplog.set_level(logging.INFO, logger="bot.core.character")
    h = await make_harness(character_dir=folder, greetings="true")
    request = await dm_exchange(h, "Who are you, exactly?", 2)  # the greeting posted, then the answer
    system = FakeClaude.system_text(request)
    assert "Who: Dagoth Ur, immortal god-king of Red Mountain" in system and "HELPFULNESS FIRST" in system
    opening = request.body["messages"][:2]
    assert content_text(opening[0]["content"]).endswith(NEW_CHAT)  # after where and who (cached, quoted)
    assert content_text(opening[1]["content"]) in {
        "Welcome, mortal.",
        "How delightfully disappointing.",
        "Even as an AI, I remain superior.",
        "The Sixth House lives in the cloud now.",
        "I've achieved CHIM and ended up in Discord. Truly glorious.",
    }
    # What the files carry that Kindred has no counterpart for: named in one start-up line.
    [line] = [r.getMessage() for r in caplog.records if "read but not used" in r.getMessage()]
    assert "dagoth_ur.json: data.extensions.knowledge_domain" in line
    assert "frameworks/assistant.json: tool_requirements" in line


async def test_a_legacy_character_answers_with_its_compiled_prompt(
    make_harness: Make, tmp_path: Path
) -> None:
    folder = acore_folder(tmp_path, "arbiter", "legacy/arbiter.json", frameworks=("assistant.json",))
    h = await make_harness(character_dir=folder)
    system = FakeClaude.system_text(await dm_exchange(h, "Good evening.", 1))
    assert system.startswith("You are The Arbiter.") and "Humor style: dry and deadpan" in system
    assert "- Admit uncertainty: always" in system


async def test_an_acore_character_moves_through_its_evolution_stages(
    make_harness: Make, tmp_path: Path
) -> None:
    h = await make_harness(character_dir=acore_folder(tmp_path, "tai", "characters/tai.json"))
    key = h.bot.services.pipeline.character_key  # type: ignore[union-attr]
    for _ in range(49):  # 49 earlier interactions: the first milestone (50) is one answer away
        await h.store.characters.count_interaction(key)
    before = last_user_text((await dm_exchange(h, "Status report?", 1)).body)
    assert "How you have grown" not in before
    assert await interactions_reach(h, 50) == (50, "Slightly familiar")
    after = last_user_text((await dm_exchange(h, "And now?", 2)).body)
    assert "## How you have grown: Slightly familiar" in after and "Tone now: slightly familiar" in after
    assert "- references recent wins" in after
    await interactions_reach(h, 51)  # counted just after the answer is sent
    assert (await status_fields(h))[
        "Stage"
    ] == "Slightly familiar · 51 interactions · next: More casual at 150"


async def test_acore_characters_route_by_their_topics_and_avoidances(
    make_harness: Make, tmp_path: Path
) -> None:
    dagoth = acore_folder(tmp_path, "dagoth", "characters/dagoth_ur.json")
    picture = base64.b64encode((PROJECT_ROOT / "characters" / "lumen" / "card.png").read_bytes()).decode()
    tai = edited(tmp_path, "characters/tai.json", _set("data.avatar_url", f"data:image/png;base64,{picture}"),
                 name="tai")
    h = await make_harness(ensemble_characters=f"{dagoth},{tai}", banter_chance="0")

    def answer(body: dict[str, Any]) -> str | None:
        system = FakeClaude.system_text(body)
        return None if body.get("model") == VOTER else system.split("\n")[0][:40]

    h.claude.responder = answer
    h.claude.script("yes", model=VOTER, times=None)
    await h.say("anyone been playing any good games lately?")
    [first] = await h.replies(CHANNEL_ID, 1)
    assert first["author"]["username"] == "Dagoth Ur", "gaming: acore's category keywords"
    assert first["_avatar_url"] == "https://i.redd.it/snhnfjh9whga1.png", "its avatar_url on the webhook"
    await h.say("any tips for debugging and automation?")
    second = (await h.replies(CHANNEL_ID, 2))[-1]
    assert second["author"]["username"] == "Tai" and second["_avatar_url"] is None
    [tai_hook] = [w for w in h.discord.webhooks.values() if w["name"] == "Kindred tai"]
    assert tai_hook["_avatar_data"] == f"data:image/png;base64,{picture}", "base64: its own picture"
    await h.say("Dagoth Ur, hello again")
    await h.replies(CHANNEL_ID, 3)
    # Dagoth spoke last, but avoids real-world politics: the main character takes it instead.
    await h.say("what do you all make of real world politics these days?")
    fourth = (await h.replies(CHANNEL_ID, 4))[-1]
    assert int(fourth["author"]["id"]) == h.bot_user_id
    assert len(reply_requests(h)) == 4
