"""Character formats: ClaudeMask, character + framework JSON, SillyTavern cards (JSON/PNG), examples."""

from __future__ import annotations

import base64
import json
import runpy
import shutil
import struct
import tracemalloc
import zlib
from pathlib import Path
from typing import Any

import pytest

from bot.core.config import PROJECT_ROOT, read_sources
from bot.core.errors import ConfigError
from bot.core.persona import Persona, load_persona
from bot.core.persona.blend import blend_instructions, current_stage, detect_context, stage_instructions
from bot.core.persona.cards import export_card, import_card, read_card
from bot.core.persona.lorebook import activate
from bot.core.persona.png import make_png, png_text, read_png_chunks
from tests.harness import rewrite

DATA = Path(__file__).parent / "data" / "persona"
CHARACTERS = PROJECT_ROOT / "characters"


def ordered(text: str, *parts: str) -> bool:
    """Every part occurs in text, in this order."""
    pos = -1
    for part in parts:
        found = text.find(part, pos + 1)
        if found < 0:
            return False
        pos = found
    return True


def folder_with(tmp_path: Path, files: dict[str, Any], name: str = "char") -> Path:
    folder = tmp_path / name
    folder.mkdir(parents=True, exist_ok=True)
    for rel, content in files.items():
        path = folder / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        elif isinstance(content, str):
            path.write_text(content, encoding="utf-8")
        else:
            path.write_text(json.dumps(content), encoding="utf-8")
    return folder


def raw_chunk(ctype: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + ctype + body + struct.pack(">I", zlib.crc32(ctype + body))


def png_with(*extra: bytes) -> bytes:
    """A 1x1 PNG built by hand (independently of bot.core.persona.cards) with extra chunks before IEND."""
    ihdr = raw_chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0))
    idat = raw_chunk(b"IDAT", zlib.compress(b"\x00\x10\x20\x30"))
    return b"\x89PNG\r\n\x1a\n" + ihdr + idat + b"".join(extra) + raw_chunk(b"IEND", b"")


def b64(card: dict[str, Any]) -> bytes:
    return base64.b64encode(json.dumps(card).encode("utf-8"))


def v2_card() -> dict[str, Any]:
    return json.loads((DATA / "card_v2.json").read_text(encoding="utf-8"))


def v3_card() -> dict[str, Any]:
    return json.loads((DATA / "card_v3.json").read_text(encoding="utf-8"))


# --------------------------------------------------------------------------- ClaudeMask


def test_claudemask_minimal_and_defaults(tmp_path: Path) -> None:
    folder = folder_with(tmp_path, {"character.env": ""}, "sprocket")
    p = load_persona(folder, {"default_name": "Sprocket", "core_prompt": "You are {{char}}. Greet {{user}}."})
    assert isinstance(p, Persona) and p.name == "Sprocket" and p.source_format == "claudemask"
    assert p.system_prompt == "You are Sprocket. Greet {{user}}."
    assert p.render(p.system_prompt, "Sam") == "You are Sprocket. Greet Sam."
    assert p.summarization_prompt == Persona.summarization_prompt  # dataclass defaults kept
    assert "{user_name}" in p.core_memory_prompt and "{user_name}" in p.core_memory_dump


def test_claudemask_missing_prompt_names_file_and_key(tmp_path: Path) -> None:
    folder = folder_with(tmp_path, {"character.env": 'default_name="Nobody"\n'})
    for env in ({"default_name": "Nobody"}, {"core_prompt": "   "}):
        with pytest.raises(ConfigError) as info:
            load_persona(folder, env)
        assert info.value.file == str(folder / "character.env")
        assert info.value.key == "core_prompt"
        assert info.value.message == "missing: the character has no prompt"


def test_claudemask_values_are_not_decoded_twice(tmp_path: Path) -> None:
    folder = folder_with(tmp_path, {"character.env": 'core_prompt="line one\\nline two, a path C:\\\\new"\n'})
    env = read_sources(None, folder, {}).values
    p = load_persona(folder, env)
    # python-dotenv turned \n into a newline and \\ into \; the loader must not touch "\new" again.
    assert p.system_prompt == "line one\nline two, a path C:\\new"


def test_memory_prompts_and_avatar_from_env(tmp_path: Path) -> None:
    folder = folder_with(tmp_path, {"pic.png": png_with()})
    env = {
        "core_prompt": "x",
        "summarization_prompt": "Sum it up, {{char}}-style.",
        "core_memory_prompt": "cm",
        "core_memory_dump": "cd",
        "avatar": "pic.png",
    }
    p = load_persona(folder, env)
    assert (p.summarization_prompt, p.core_memory_prompt, p.core_memory_dump) == (
        "Sum it up, {{char}}-style.",
        "cm",
        "cd",
    )
    assert p.avatar_path == folder / "pic.png"
    (folder / "avatar.png").write_bytes(png_with())
    assert load_persona(folder, {"core_prompt": "x"}).avatar_path == folder / "avatar.png"
    with pytest.raises(ConfigError) as info:
        load_persona(folder, {"core_prompt": "x", "avatar": "missing.png"})
    assert info.value.key == "avatar" and info.value.file.endswith("character.env")


def test_plain_avatar_png_is_not_mistaken_for_a_card(tmp_path: Path) -> None:
    folder = folder_with(tmp_path, {"avatar.png": png_with(raw_chunk(b"tEXt", b"Comment\0hello"))})
    assert load_persona(folder, {"core_prompt": "x"}).source_format == "claudemask"


def test_modes_are_compiled_and_tags_parsed(tmp_path: Path) -> None:
    env = {
        "core_prompt": "You are Kit.",
        "modes": "Calm, Wild",
        "mode_calm": "Speak slowly.",
        "mode_wild": "SHOUT A LOT.",
        "default_mode": "calm",
    }
    p = load_persona(folder_with(tmp_path, {}), env)
    assert ordered(
        p.system_prompt,
        "You are Kit.",
        "## Modes",
        "[MODE: Calm]",
        "### Calm",
        "Speak slowly.",
        "### Wild",
        "SHOUT A LOT.",
    )
    assert p.extra["modes"] == ["Calm", "Wild"] and p.extra["default_mode"] == "Calm"


@pytest.mark.parametrize(
    ("env", "key"),
    [
        ({"modes": "Calm, Wild", "mode_calm": "x"}, "mode_wild"),
        ({"modes": "Calm", "mode_calm": "x", "default_mode": "Loud"}, "default_mode"),
        ({"modes": "Calm, calm", "mode_calm": "x"}, "modes"),
    ],
)
def test_mode_errors_name_the_key(tmp_path: Path, env: dict[str, str], key: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_persona(folder_with(tmp_path, {}), {"core_prompt": "x", **env})
    assert info.value.key == key and info.value.file.endswith("character.env")


# --------------------------------------------------------------------------- character + framework JSON


def minimal_character(**over: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "id": "moss",
        "display_name": "Moss",
        "identity": {
            "background": "A moss golem who tends a ruined greenhouse.",
            "personality": "slow, kind",
        },
        "framework_blending": {"guide": 1.0},
    }
    base.update(over)
    return base


def guide_framework(**over: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "id": "guide",
        "purpose": "Guide visitors.",
        "behavioural_patterns": ["Point the way."],
        "prompt_template": "${display_name} guides with a ${tone} voice ({personality}).",
    }
    base.update(over)
    return base


def test_atlas_compiles_sections_in_order() -> None:
    env = read_sources(None, CHARACTERS / "atlas", {}).values
    p = load_persona(CHARACTERS / "atlas", env)
    assert p.name == "Atlas" and p.source_format == "framework"
    assert (p.temperature, p.max_tokens) == (0.8, 900)
    assert ordered(
        p.system_prompt,
        "You are Atlas.",
        "## Identity",
        "Background:",
        "Personality:",
        "Appearance:",
        "## Knowledge",
        "## Opinions",
        "## Voice and tone",
        "## Quirks",
        "## Topics",
        "## How you behave",
        "### Companion (50%)",
        "### Mentor (30%)",
        "### Storyteller (20%)",
        "## Accuracy rules",
    )
    assert "As a companion, Atlas is calm, warm and precise" in p.system_prompt  # {var} template filled
    assert "${" not in p.system_prompt and "{display_name}" not in p.system_prompt
    assert (
        p.system_prompt.count("Separate what you know from what you are estimating.") == 1
    )  # rules de-duplicated
    assert p.framework_blend == pytest.approx({"companion": 0.5, "mentor": 0.3, "storyteller": 0.2})
    assert [s.min_interactions for s in p.evolution] == [0, 20, 100]
    assert p.topic_interests[0] == "maps" and p.topic_avoidances
    # Deterministic: loading twice gives the same prompt.
    assert load_persona(CHARACTERS / "atlas", env).system_prompt == p.system_prompt


def test_framework_single_file_and_env_name_override(tmp_path: Path) -> None:
    folder = folder_with(
        tmp_path,
        {
            "character.json": minimal_character(voice_and_tone={"tone": "mossy"}),
            "framework.json": guide_framework(),
        },
    )
    p = load_persona(folder, {"default_name": "Mossy", "description": "Greenhouse golem."})
    assert p.name == "Mossy" and p.description == "Greenhouse golem."
    assert "Moss guides with a mossy voice (slow, kind)." in p.system_prompt
    assert p.source_format == "framework"


@pytest.mark.parametrize(
    ("character", "framework", "file", "key"),
    [
        (minimal_character(display_name=None), guide_framework(), "character.json", "display_name"),
        (minimal_character(id="Not A Slug"), guide_framework(), "character.json", "id"),
        (minimal_character(identity="text"), guide_framework(), "character.json", "identity"),
        (
            minimal_character(voice_and_tone={"temperature": 1.5}),
            guide_framework(),
            "character.json",
            "voice_and_tone.temperature",
        ),
        (
            minimal_character(voice_and_tone={"max_tokens": "lots"}),
            guide_framework(),
            "character.json",
            "voice_and_tone.max_tokens",
        ),
        (minimal_character(quirks=["ok", 3]), guide_framework(), "character.json", "quirks[1]"),
        (
            minimal_character(framework_blending={"nope": 1}),
            guide_framework(),
            "character.json",
            "framework_blending.nope",
        ),
        (
            minimal_character(framework_blending={"sporty": {"guide": 1}}),
            guide_framework(),
            "character.json",
            "framework_blending.sporty",
        ),
        (
            minimal_character(framework_blending={"guide": 0}),
            guide_framework(),
            "character.json",
            "framework_blending",
        ),
        (
            minimal_character(evolution_stages=[{"min_interactions": 3}]),
            guide_framework(),
            "character.json",
            "evolution_stages[0].name",
        ),
        (
            minimal_character(
                evolution_stages=[{"name": "a", "min_interactions": 1}, {"name": "b", "interactions": 1}]
            ),
            guide_framework(),
            "character.json",
            "evolution_stages[1].interactions",
        ),
        (minimal_character(), guide_framework(purpose=""), "framework.json", "purpose"),
        (minimal_character(), guide_framework(contexts=["sporty"]), "framework.json", "contexts[0]"),
        (
            minimal_character(),
            guide_framework(prompt_template="Hi ${nonsense}"),
            "framework.json",
            "prompt_template",
        ),
    ],
)
def test_framework_errors_name_file_and_field(
    tmp_path: Path, character: dict[str, Any], framework: dict[str, Any], file: str, key: str
) -> None:
    folder = folder_with(tmp_path, {"character.json": character, "framework.json": framework})
    with pytest.raises(ConfigError) as info:
        load_persona(folder, {})
    assert info.value.file == str(folder / file)
    assert info.value.key == key


def test_duplicate_framework_ids_and_bad_json(tmp_path: Path) -> None:
    folder = folder_with(
        tmp_path,
        {
            "character.json": minimal_character(),
            "framework.json": guide_framework(),
            "frameworks/again.json": guide_framework(),
        },
    )
    with pytest.raises(ConfigError) as info:
        load_persona(folder, {})
    assert info.value.file == str(folder / "frameworks" / "again.json") and info.value.key == "id"
    (folder / "character.json").write_text("{not json")
    with pytest.raises(ConfigError) as info:
        load_persona(folder, {})
    assert info.value.file == str(folder / "character.json") and info.value.key == "json"


@pytest.mark.parametrize(
    ("text", "context"),
    [
        ("my python script throws a KeyError, can you debug it?", "technical"),
        ("```\nprint(1)\n```", "technical"),
        ("I feel so lonely and sad tonight", "emotional"),
        ("write me a poem about a dragon", "creative"),
        ("can you explain how does a compass work", "educational"),
        ("hey lol how was your weekend", "casual"),
        ("", "casual"),
    ],
)
def test_detect_context(text: str, context: str) -> None:
    assert detect_context(text) == context


def test_blend_instructions_follow_context() -> None:
    p = load_persona(CHARACTERS / "atlas", {})
    technical = blend_instructions(p, "technical")
    assert ordered(technical, "technical", "Lead with Mentor (80%)", "Add a touch of Companion (20%)")
    assert "Storyteller" not in technical
    # The heavier framework contributes more of its behavioural patterns.
    mentor_lines = technical.split("Add a touch of")[0].count("\n  - ")
    companion_lines = technical.split("Add a touch of")[1].count("\n  - ")
    assert mentor_lines == 4 and companion_lines == 1
    assert "Lead with Companion (90%)" in blend_instructions(p, "emotional")
    assert "Lead with Storyteller (70%)" in blend_instructions(p, "creative")
    finn = load_persona(CHARACTERS / "finn", read_sources(None, CHARACTERS / "finn", {}).values)
    assert blend_instructions(finn, "technical") == ""


def test_blend_falls_back_to_framework_contexts_then_default(tmp_path: Path) -> None:
    folder = folder_with(
        tmp_path,
        {
            "character.json": minimal_character(framework_blending={"default": {"guide": 1, "poet": 1}}),
            "frameworks/guide.json": guide_framework(contexts=["technical"]),
            "frameworks/poet.json": {
                "id": "poet",
                "purpose": "Rhyme.",
                "behavioural_patterns": ["Rhyme often."],
            },
        },
    )
    p = load_persona(folder, {})
    assert "Lead with Guide (100%)" in blend_instructions(p, "technical")  # the framework that declares it
    casual = blend_instructions(p, "casual")  # nobody declares casual: the default blend
    assert "Guide (50%)" in casual and "Poet (50%)" in casual


def test_evolution_stages() -> None:
    p = load_persona(CHARACTERS / "atlas", {})
    assert current_stage(p, 0) is not None and current_stage(p, 0).name == "Polite stranger"  # type: ignore[union-attr]
    assert current_stage(p, 25).name == "Map-room regular"  # type: ignore[union-attr]
    text = stage_instructions(p, 150)
    assert ordered(text, "Old friend", "Tone now: candid", "Saves interesting old maps", "Tells stories")
    no_stages = load_persona(CHARACTERS / "finn", read_sources(None, CHARACTERS / "finn", {}).values)
    assert current_stage(no_stages, 10) is None and stage_instructions(no_stages, 10) == ""


# --------------------------------------------------------------------------- cards


def test_v2_json_card_compiles_prompt_and_fields(tmp_path: Path) -> None:
    folder = folder_with(tmp_path, {"card.json": v2_card()})
    p = load_persona(folder, {})
    assert p.name == "Wren" and p.source_format == "card_v2"
    assert ordered(
        p.system_prompt,
        "Courier rules first.",
        "You are Wren.",
        "Never reveal the letter's contents.",
        "## About Wren",
        "canal city of Vell. Wren knows every bridge.",
        "## Wren's personality",
        "## Scenario",
        "{{user}} has hired Wren",
        "## Example dialogue",
        "Nine minutes.",
    )
    assert (
        "{{original}}" not in p.system_prompt
        and "{{char}}" not in p.system_prompt
        and "<BOT>" not in p.system_prompt
    )
    assert p.post_history_instructions == "Reply in under 80 words as Wren."  # {{original}} is empty here
    assert (
        p.first_message == "*Wren skids to a stop.* Letter for delivery, {{user}}? I'm faster than the tide."
    )
    assert p.render(p.first_message, "Ana").endswith("delivery, Ana? I'm faster than the tide.")
    assert p.alternate_greetings == ("*Wren rings the bicycle bell twice.* Another delivery, {{user}}?",)
    assert p.description.startswith("Wren is a courier")
    assert p.lorebook is not None and p.lorebook.scan_depth == 3 and len(p.lorebook.entries) == 2
    assert [e.content[:10] for e in activate(p.lorebook, ["Meet me at the copper bridge"])] == ["The Copper"]


def test_v3_card_and_env_override(tmp_path: Path) -> None:
    folder = folder_with(tmp_path, {"quill.json": v3_card()})  # any *.json holding a card
    p = load_persona(folder, {"default_name": "Sir Quill", "description": "A fussy pen."})
    assert p.name == "Sir Quill" and p.description == "A fussy pen." and p.source_format == "card_v3"
    assert (
        p.system_prompt.startswith("You are Sir Quill.")
        and "Sir Quill is a sentient fountain pen" in p.system_prompt
    )
    assert "## Scenario" not in p.system_prompt  # empty sections are left out
    assert p.lorebook is not None and p.lorebook.entries[0].keys == ("ink",)


def test_a_cards_kindred_extension_says_whether_the_hour_tires_the_character(tmp_path: Path) -> None:
    card = v3_card()
    card["data"].setdefault("extensions", {})["kindred"] = {"circadian": False}
    folder = folder_with(tmp_path, {"quill.json": card})
    assert load_persona(folder, {}).circadian is False
    assert load_persona(folder, {"circadian": "true"}).circadian is True  # character.env wins


def test_png_card_in_text_chunk(tmp_path: Path) -> None:
    folder = folder_with(tmp_path, {"card.png": png_with(raw_chunk(b"tEXt", b"chara\0" + b64(v2_card())))})
    p = load_persona(folder, {})
    assert p.name == "Wren" and p.avatar_path == folder / "card.png"


def test_png_card_in_compressed_itxt_and_ccv3_preferred(tmp_path: Path) -> None:
    v3 = v3_card()
    itxt = b"ccv3\0" + b"\x01\x00" + b"\0" + b"\0" + zlib.compress(b64(v3))
    blob = png_with(raw_chunk(b"tEXt", b"chara\0" + b64(v2_card())), raw_chunk(b"iTXt", itxt))
    path = tmp_path / "both.png"
    path.write_bytes(blob)
    card = read_card(path)
    assert card.version == 3 and card.name == "Quill"


def test_png_reading_rejects_garbage(tmp_path: Path) -> None:
    bad_crc = bytearray(png_with(raw_chunk(b"tEXt", b"chara\0" + b64(v2_card()))))
    bad_crc[-20] ^= 0xFF  # inside the tEXt body
    for name, blob, key in (
        ("nocard.png", png_with(), "chara"),
        ("crc.png", bytes(bad_crc), "png"),
        ("b64.png", png_with(raw_chunk(b"tEXt", b"chara\0!!!not base64!!!")), "chara"),
    ):
        path = tmp_path / name
        path.write_bytes(blob)
        with pytest.raises(ConfigError) as info:
            read_card(path)
        assert info.value.file == str(path) and info.value.key == key
    with pytest.raises(ValueError):
        read_png_chunks(b"GIF89a")


def test_png_card_bomb_is_not_inflated(tmp_path: Path) -> None:
    """Issue 49 item 7: a zTXt/iTXt of zeros inflates about 1,000 times. A chunk that is not the card's is
    never inflated, and the card's own chunk is inflated only up to a cap (a clear error past it)."""
    packer = zlib.compressobj(9)
    bomb = b"".join(packer.compress(bytes(1024 * 1024)) for _ in range(100)) + packer.flush()
    assert len(bomb) < 200_000  # about 100 KB that would inflate to 100 MB
    beside = png_with(raw_chunk(b"zTXt", b"Comment\0\0" + bomb),
                      raw_chunk(b"tEXt", b"chara\0" + b64(v2_card())))
    card_bomb = png_with(raw_chunk(b"iTXt", b"chara\0\x01\x00\0\0" + bomb))
    (tmp_path / "beside.png").write_bytes(beside)
    (tmp_path / "bomb.png").write_bytes(card_bomb)
    tracemalloc.start()
    try:
        assert read_card(tmp_path / "beside.png").name == "Wren"
        with pytest.raises(ConfigError) as info:
            read_card(tmp_path / "bomb.png")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert info.value.key == "png" and "inflates past 16 MB" in info.value.message
    assert peak < 50 * 1024 * 1024  # the cap (16 MB) and the file itself, never the 100 MB


@pytest.mark.parametrize(
    ("mutate", "key"),
    [
        (lambda c: c.update(spec="chara_card_v9"), "spec"),
        (lambda c: c["data"].update(name=""), "data.name"),
        (lambda c: c["data"].update(description=5), "data.description"),
        (lambda c: c["data"].update(alternate_greetings="hi"), "data.alternate_greetings"),
        (lambda c: c["data"].update(extensions=[]), "data.extensions"),
        (
            lambda c: c["data"]["character_book"]["entries"][1].update(keys=[1]),
            "data.character_book.entries[1].keys",
        ),
        (
            lambda c: c["data"]["character_book"]["entries"][0].pop("content"),
            "data.character_book.entries[0].content",
        ),
    ],
)
def test_card_errors_name_file_and_field(tmp_path: Path, mutate: Any, key: str) -> None:
    card = v2_card()
    mutate(card)
    folder = folder_with(tmp_path, {"card.json": card})
    with pytest.raises(ConfigError) as info:
        load_persona(folder, {})
    assert info.value.file == str(folder / "card.json") and info.value.key == key


def test_v1_card_is_accepted(tmp_path: Path) -> None:
    v1 = {
        "name": "Old",
        "description": "<BOT> is old-fashioned and greets <USER> formally.",
        "personality": "stiff",
        "scenario": "",
        "first_mes": "Good day, <USER>.",
        "mes_example": "",
    }
    p = load_persona(folder_with(tmp_path, {"card.json": v1}), {})
    assert p.name == "Old" and "Old is old-fashioned and greets {{user}} formally." in p.system_prompt
    assert p.first_message == "Good day, {{user}}."


@pytest.mark.parametrize("png", [False, True])
def test_import_export_round_trip_keeps_extensions(tmp_path: Path, png: bool) -> None:
    original = v2_card()
    src = tmp_path / "wren.json"
    src.write_text(json.dumps(original))
    folder = import_card(src, tmp_path / "characters", None)
    p = load_persona(folder, read_sources(None, folder, {}).values)
    out = export_card(p, tmp_path / ("out.png" if png else "out.json"), version=3, png=png)
    exported = read_card(out).as_dict() if png else json.loads(out.read_text())
    assert exported["spec"] == "chara_card_v3"
    back_json = export_card(exported, tmp_path / "back.json", version=2)
    back = json.loads(back_json.read_text())
    for card in (exported, back):
        assert json.dumps(card["data"]["extensions"]) == json.dumps(original["data"]["extensions"])
        assert json.dumps(card["data"]["character_book"]) == json.dumps(original["data"]["character_book"])
        assert card["data"]["system_prompt"] == original["data"]["system_prompt"]
    assert back["spec"] == "chara_card_v2" and "group_only_greetings" not in back["data"]


def test_v3_png_export_writes_both_chunks(tmp_path: Path) -> None:
    out = export_card(v3_card(), tmp_path / "quill.png", version=3, png=True)
    texts = png_text(out.read_bytes())
    assert set(texts) == {"chara", "ccv3"}
    assert json.loads(base64.b64decode(texts["ccv3"]))["data"]["nickname"] == "Q"
    v2 = json.loads(base64.b64decode(texts["chara"]))
    assert v2["spec"] == "chara_card_v2" and "nickname" not in v2["data"]
    assert json.dumps(v2["data"]["extensions"]) == json.dumps(v3_card()["data"]["extensions"])
    # Re-exporting onto the same picture replaces the card chunks instead of piling them up.
    again = export_card(read_card(out), tmp_path / "again.png", version=2, png=True)
    assert set(png_text(again.read_bytes())) == {"chara"}


def test_claudemask_persona_exports_as_a_loadable_card(tmp_path: Path) -> None:
    finn_env = read_sources(None, CHARACTERS / "finn", {}).values
    finn = load_persona(CHARACTERS / "finn", finn_env)
    out = export_card(finn, tmp_path / "finn" / "card.png", version=2, png=True)
    back = load_persona(out.parent, {})
    assert back.name == "Finn" and back.first_message == finn.first_message
    assert finn.system_prompt in back.system_prompt
    assert back.summarization_prompt == finn.summarization_prompt  # carried in extensions.kindred


def test_import_card_writes_a_loadable_folder(tmp_path: Path) -> None:
    blob = png_with(raw_chunk(b"tEXt", b"chara\0" + b64(v2_card())))
    src = tmp_path / "Wren the Courier.png"
    src.write_bytes(blob)
    characters = tmp_path / "characters"
    folder = import_card(src, characters, "wren")
    assert folder == characters / "wren" and (folder / "card.png").read_bytes() == blob
    env_text = (folder / "character.env").read_text()
    assert 'default_name="Wren"' in env_text and "description=" in env_text
    assert '# discord_token="your_Discord_bot_token"' in env_text
    assert '# ANTHROPIC_API_KEY="your_Anthropic_API_key"' in env_text
    p = load_persona(folder, read_sources(None, folder, {}).values)
    assert p.name == "Wren" and p.description.startswith("Wren is a courier")
    with pytest.raises(ConfigError) as info:
        import_card(src, characters, "wren")
    assert info.value.key == "--as"
    with pytest.raises(ConfigError):
        import_card(src, characters, "../escape")


def test_import_card_default_folder_name(tmp_path: Path) -> None:
    src = tmp_path / "x.json"
    src.write_text(json.dumps(v3_card()))
    assert import_card(src, tmp_path / "characters", None) == tmp_path / "characters" / "quill"
    assert (tmp_path / "characters" / "quill" / "card.json").is_file()


def test_make_png_is_a_valid_png() -> None:
    blob = make_png(3, 2, lambda x, y: (x * 80, y * 100, 7))
    chunks = read_png_chunks(blob)
    assert [c for c, _ in chunks] == [b"IHDR", b"IDAT", b"IEND"]
    assert struct.unpack(">II", chunks[0][1][:8]) == (3, 2)
    assert (
        zlib.decompress(chunks[1][1]) == b"\x00\x00\x00\x07\x50\x00\x07\xa0\x00\x07"
        b"\x00\x00\x64\x07\x50\x64\x07\xa0\x64\x07"
    )


# --------------------------------------------------------------------------- shipped examples


EXAMPLES = {
    "finn": ("Finn", "claudemask"),
    "pixelwright": ("Pixelwright", "claudemask"),
    "atlas": ("Atlas", "framework"),
    "lumen": ("Lumen", "card_v3"),
}


def load_example(name: str) -> Persona:
    folder = CHARACTERS / name
    return load_persona(folder, read_sources(PROJECT_ROOT / "config.env.example", folder, {}).values)


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_examples_load_and_keep_secrets_out(name: str) -> None:
    p = load_example(name)
    assert (p.name, p.source_format) == EXAMPLES[name]
    env_file = (CHARACTERS / name / "character.env").read_text()
    for line in (
        'discord_token="your_Discord_bot_token"',
        'ANTHROPIC_API_KEY="your_Anthropic_API_key"',
        "log_channel=0",
    ):
        assert line in env_file.splitlines()
    others = [n for _, (n, _) in EXAMPLES.items() if n != p.name]
    for other in others:  # nothing from another character leaks into this one's prompt
        assert other not in p.system_prompt


def test_finn_is_the_default_with_identity_seed() -> None:
    from bot.core.config import DEFAULT_CHARACTER

    assert DEFAULT_CHARACTER == CHARACTERS / "finn"
    identity = json.loads((CHARACTERS / "finn" / "identity.json").read_text())
    assert set(identity) == {"traits", "lore", "facts", "quirks"}
    assert all(isinstance(i, str) and i for items in identity.values() for i in items)
    assert "walking fish" in load_example("finn").system_prompt


def test_pixelwright_modes_are_visible() -> None:
    p = load_example("pixelwright")
    assert p.extra["modes"] == ["Builder", "Critic", "Dreamer"]
    assert "[MODE: Builder]" in p.system_prompt and p.first_message.startswith("[MODE: Builder]\n")


def test_lumen_card_matches_its_generator(tmp_path: Path) -> None:
    # run_path compiles the script without leaving a __pycache__ inside the character folder.
    module = runpy.run_path(str(CHARACTERS / "lumen" / "build_card.py"))
    card = read_card(CHARACTERS / "lumen" / "card.png")
    assert card.version == 3 and {k: card.data[k] for k in module["CARD_DATA"]} == module["CARD_DATA"]
    rebuilt = module["build"](tmp_path / "card.png")
    assert rebuilt.read_bytes() == (CHARACTERS / "lumen" / "card.png").read_bytes()
    p = load_example("lumen")
    assert p.lorebook is not None
    active = activate(p.lorebook, ["Is Marta's ferry late tonight?"])
    assert [e.name for e in active] == ["The lighthouse", "Captain Marta"]
    assert (
        activate(p.lorebook, ["the ferry is here"])[-1].name == "The lighthouse"
    )  # selective needs a 2nd key


def test_examples_copy_cleanly(tmp_path: Path) -> None:
    # A copied folder loads the same (nothing depends on the folder's location).
    for name in EXAMPLES:
        shutil.copytree(CHARACTERS / name, tmp_path / name)
        copy = load_persona(tmp_path / name, read_sources(None, tmp_path / name, {}).values)
        assert copy.system_prompt == load_example(name).system_prompt


def test_malformed_text_chunk_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "card.png"
    path.write_bytes(png_with(raw_chunk(b"iTXt", b"ccv3")))
    with pytest.raises(ConfigError) as info:
        read_card(path)
    assert info.value.key == "png"


# --------------------------------------------------------------------------- identity.json and live reloads


@pytest.mark.parametrize(
    ("content", "key", "message"),
    [
        ('{"traits": "kind"}', "traits", "expected a list of text, got text"),
        ('{"traits": ["kind", 3]}', "traits[1]", "expected text, got a number"),
        ('{"skills": ["juggling"]}', "skills", "unknown kind; expected traits, lore, facts or quirks"),
        ('["kind"]', "json", "expected an object of lists"),
        ('{"traits": [', "json", "not valid JSON"),
    ],
)
async def test_a_broken_identity_seed_names_file_and_field(
    tmp_path: Path, store: Any, content: str, key: str, message: str
) -> None:
    from memory.identity import seed_identity

    folder = folder_with(tmp_path, {"identity.json": content})
    with pytest.raises(
        ConfigError
    ) as info:  # loading the character already checks it, before anything connects
        load_persona(folder, {"core_prompt": "You are {{char}}."})
    assert (info.value.file, info.value.key) == (str(folder / "identity.json"), key)
    assert message in info.value.message
    with pytest.raises(ConfigError) as seeding:
        await seed_identity(store, folder, "char")
    assert (seeding.value.file, seeding.value.key) == (str(folder / "identity.json"), key)
    assert await store.identity.entries("char") == []  # nothing half-seeded


def test_identity_seed_accepts_every_kind_spelling(tmp_path: Path) -> None:
    from bot.core.persona.identity import read_identity_seed

    path = (
        folder_with(
            tmp_path,
            {
                "identity.json": {
                    "trait": ["a"],
                    "traits": ["b", " "],
                    "lore": ["c"],
                    "fact": ["d"],
                    "quirks": ["e"],
                }
            },
        )
        / "identity.json"
    )
    assert read_identity_seed(path) == {"trait": ["a", "b"], "lore": ["c"], "fact": ["d"], "quirk": ["e"]}


def test_edits_to_frameworks_and_a_lorebook_elsewhere_reload_the_character(tmp_path: Path) -> None:
    from bot.core.character import CharacterSource

    folder = tmp_path / "atlas"
    shutil.copytree(CHARACTERS / "atlas", folder)
    (tmp_path / "lore").mkdir()
    lore = tmp_path / "lore" / "highfold.json"
    lore.write_text(
        json.dumps({"entries": [{"keys": ["funicular"], "content": "The funicular opened in 1902."}]})
    )
    with (folder / "character.env").open("a") as env:
        env.write('\nlorebook="../lore/highfold.json"\n')
    source = CharacterSource(folder, None, environ={})
    before = source.current()
    assert (
        before.lorebook is not None and before.lorebook.entries[0].content == "The funicular opened in 1902."
    )

    mentor = folder / "frameworks" / "mentor.json"
    data = json.loads(mentor.read_text())
    data["purpose"] = "Teach map reading to anyone who climbs the hill."
    rewrite(mentor, json.dumps(data), 5)
    assert "Purpose: Teach map reading to anyone who climbs the hill." in source.current().system_prompt

    reopened = {"entries": [{"keys": ["funicular"], "content": "The funicular reopened in 2001."}]}
    rewrite(lore, json.dumps(reopened))
    after = source.current().lorebook
    assert after is not None and after.entries[0].content == "The funicular reopened in 2001."


def test_every_character_env_says_where_secrets_go(tmp_path: Path) -> None:
    """The template's, the examples' and an imported card's comment on secrets say what the README's
    Secrets section says: character.local.env or the environment, never this file (issue 46)."""
    from bot.core.persona.cards import SECRETS_COMMENT

    assert "character.local.env" in " ".join(SECRETS_COMMENT) and "never here" in SECRETS_COMMENT[0]
    for folder in sorted(CHARACTERS.iterdir()):
        env = folder / "character.env"
        if env.is_file() and "discord_token" in env.read_text():
            text = env.read_text()
            assert "\n".join(SECRETS_COMMENT) in text, folder.name
            assert "uncomment" not in text.lower() and "overrides these placeholders" not in text, folder.name
    src = tmp_path / "Wren.png"
    src.write_bytes(png_with(raw_chunk(b"tEXt", b"chara\0" + b64(v2_card()))))
    imported = (import_card(src, tmp_path / "characters", "wren") / "character.env").read_text()
    assert "\n".join(SECRETS_COMMENT) in imported and "uncomment" not in imported
