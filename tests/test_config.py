"""Configuration: ClaudeMask files unchanged, case-insensitive keys, environment overrides, clear errors."""

from __future__ import annotations

import logging
import re
import subprocess
import sys
from pathlib import Path
from typing import Any, ClassVar

import pytest

from bot.core.config import (
    PROJECT_ROOT,
    SECTIONS,
    SETTINGS,
    MemorySettings,
    Setting,
    Settings,
    choose_character_dir,
    load_settings,
)
from bot.core.errors import ConfigError
from bot.features import FEATURES  # each feature's settings section registers with its FEATURE
from tests.harness import run_main

CLAUDEMASK_CONFIG = '''# Bot reply settings
bot_reply_threshold=1
yes_no_vote_count=5
voting_model="claude-3-5-haiku-20241022"
conversation_token_threshold=25000
core_memory_token_threshold=25000
user_data_file="user_info.pickle"
enable_core_memory_pickle_log=true
core_memory_pickle_dir="./"
swipe_timeout_seconds=900
default_max_tokens=1250
default_temperature=1.0
cost_per_token_haiku=0.0000008
cost_per_token_sonnet=0.000003
max_message_length=2000
save_interval_minutes=5
should_reply_timeout=10
summarize_timeout=30
llm_timeout=60
shard_count=1
enable_api_call_logging=false
default_model="claude-3-5-sonnet-latest"
premium_model="claude-3-7-sonnet-latest"
#Tpyping speed settings
TYPING_SPEED_CPM = 300
MIN_TYPING_TIME = 6.0
MAX_TYPING_TIME = 15
TYPING_VARIANCE = 0.2
REPLY_COOLDOWN = 15.0
'''

CLAUDEMASK_CHARACTER = '''# Character configuration
ANTHROPIC_API_KEY="sk-test"
discord_token="discord-test-token"
bot_usr_id="123"
default_name="Nyx"
description="A rogue AI"
log_channel=555

core_prompt="You are Nyx.\\n\\nYou speak in terse lines."
summarization_prompt="Nyx, summarize."
core_memory_prompt="Nyx, update memories about {user_name}."
core_memory_dump="Nyx, condense."
'''


@pytest.fixture
def claudemask(tmp_path: Path) -> tuple[Path, Path]:
    char = tmp_path / "characters" / "nyx"
    char.mkdir(parents=True)
    (char / "character.env").write_text(CLAUDEMASK_CHARACTER)
    config = tmp_path / "config.env"
    config.write_text(CLAUDEMASK_CONFIG)
    return char, config


def test_claudemask_files_work_unchanged(claudemask: tuple[Path, Path]) -> None:
    char, config = claudemask
    s = load_settings(char, config, environ={})
    assert s.secrets.discord_token == "discord-test-token" and s.secrets.anthropic_api_key == "sk-test"
    assert s.secrets.log_channel == 555 and s.replies.yes_no_vote_count == 5
    assert s.replies.bot_reply_threshold == 1
    assert s.typing.typing_speed_cpm == 300 and s.typing.min_typing_time == 6.0
    assert s.replies.reply_cooldown == 15.0
    assert s.replies.voting_model == "claude-3-5-haiku-20241022"
    assert s.models.premium_model == "claude-3-7-sonnet-latest"
    # cost_per_token_* are gone (prices come from the capability table): read, warned about, ignored
    assert not hasattr(s.models, "cost_per_token_haiku")


def test_environment_overrides_both_files_case_insensitively(claudemask: tuple[Path, Path]) -> None:
    char, config = claudemask
    s = load_settings(char, config, environ={"DISCORD_TOKEN": "from-env", "Yes_No_Vote_Count": "7",
                                             "LOG_CHANNEL_ID": "777", "ADMIN_USER_IDS": "1, 2,3"})
    assert s.secrets.discord_token == "from-env" and s.replies.yes_no_vote_count == 7
    assert s.secrets.log_channel == 777
    assert s.admin_ids == frozenset({1, 2, 3})


def test_non_number_names_file_and_key(claudemask: tuple[Path, Path]) -> None:
    char, config = claudemask
    config.write_text(CLAUDEMASK_CONFIG.replace("yes_no_vote_count=5", "yes_no_vote_count=three"))
    with pytest.raises(ConfigError) as err:
        load_settings(char, config, environ={})
    assert err.value.file == str(config) and err.value.key == "yes_no_vote_count"
    assert "'three'" in str(err.value)


def test_missing_token_and_key(claudemask: tuple[Path, Path]) -> None:
    char, config = claudemask
    (char / "character.env").write_text(CLAUDEMASK_CHARACTER.replace('discord_token="discord-test-token"',
                                                                     'discord_token="your_Discord_bot_token"'))
    with pytest.raises(ConfigError) as err:
        load_settings(char, config, environ={})
    assert err.value.key == "discord_token" and err.value.file.endswith("character.env")
    (char / "character.env").write_text(CLAUDEMASK_CHARACTER.replace('ANTHROPIC_API_KEY="sk-test"', ""))
    with pytest.raises(ConfigError) as err:
        load_settings(char, config, environ={})
    # Not set anywhere: the message points at the git-ignored file for secrets (and the variable).
    assert err.value.key == "anthropic_api_key" and err.value.file == str(char / "character.local.env")
    assert "ANTHROPIC_API_KEY environment variable" in err.value.message
    # The console does not need Discord.
    load_settings(char, config, environ={"DISCORD_TOKEN": "", "ANTHROPIC_API_KEY": "k"},
                  require_discord=False)


def test_bad_ranges_are_rejected(claudemask: tuple[Path, Path]) -> None:
    char, config = claudemask
    for key, value in (("max_message_length", "5"), ("min_typing_time", "-1"), ("admin_user_ids", "abc")):
        with pytest.raises(ConfigError) as err:
            load_settings(char, config, environ={key.upper(): value})
        assert err.value.key == key and err.value.file == "environment"


def test_every_documented_key_is_in_the_example_and_the_reference() -> None:
    example = ((PROJECT_ROOT / "config.env.example").read_text()
               + (PROJECT_ROOT / "character.env.example").read_text())
    readme = (PROJECT_ROOT / "docs" / "configuration.md").read_text()
    for setting in SETTINGS:
        assert f"{setting.key}=" in example.lower() or f"{setting.key.upper()}=" in example, setting.key
        assert f"`{setting.key}`" in readme, setting.key


class _Reads(dict[str, str]):
    """A character folder's merged env that notes every key the persona loaders look up."""

    def __init__(self, values: dict[str, str]) -> None:
        super().__init__(values)
        self.read: set[str] = set()

    def get(self, key: str, default: object = None) -> Any:  # type: ignore[override]
        self.read.add(key)
        return super().get(key, default)

    def __getitem__(self, key: str) -> str:
        self.read.add(key)
        return super().__getitem__(key)

    def __contains__(self, key: object) -> bool:
        self.read.add(str(key))
        return super().__contains__(key)


def test_every_key_a_character_folder_may_set_is_accepted_and_in_the_example(tmp_path: Path) -> None:
    """What the persona loaders read from character.env is a known key (not warned about as a typo) and is
    in character.env.example, commented at its default, where an operator looks for what a folder may set."""
    from bot.core.config import CHARACTER_KEYS, is_known_key
    from bot.core.persona import load_persona

    folder = tmp_path / "plain"
    folder.mkdir()
    env = _Reads({"core_prompt": "You are Plain.", "modes": "calm", "mode_calm": "Be calm."})
    load_persona(folder, env)
    read = {k for k in env.read if not k.startswith("mode_")}
    assert {k for k in read if not is_known_key(k)} == set()
    example = (PROJECT_ROOT / "character.env.example").read_text()
    keys = {m.lower() for m in re.findall(r"^#? ?([A-Za-z_]+)=", example, re.M)}
    assert sorted((CHARACTER_KEYS | read) - keys) == []
    assert "mode_" in example
    for key, default in (("mature", "false"), ("circadian", "true"), ("real_world_time", "true")):
        assert f"# {key}={default}\n" in example, key


def test_the_docs_give_the_persona_prompt_defaults() -> None:
    from bot.core.persona.model import Persona

    characters = (PROJECT_ROOT / "docs" / "characters.md").read_text()
    defaults = Persona(name="x", system_prompt="x")
    for key in ("summarization_prompt", "core_memory_prompt", "core_memory_dump"):
        assert f"| `{key}` | `{getattr(defaults, key)}` |" in characters, key
    assert "`CHARACTER_DIR`" in (PROJECT_ROOT / "README.md").read_text()


def test_character_dir_resolution(tmp_path: Path) -> None:
    assert choose_character_dir(None, {}).folder == PROJECT_ROOT / "characters" / "finn"
    assert choose_character_dir(None, {"CHARACTER_DIR": str(tmp_path)}).folder == tmp_path
    assert choose_character_dir(str(tmp_path), {"CHARACTER_DIR": "elsewhere"}).folder == tmp_path


def test_main_exits_2_with_one_line_and_no_traceback(claudemask: tuple[Path, Path]) -> None:
    char, config = claudemask
    config.write_text(CLAUDEMASK_CONFIG.replace("shard_count=1", "shard_count=many"))
    result = run_main("--character", str(char), "--config", str(config), env={})
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and str(config) in lines[0] and "shard_count" in lines[0]


def test_a_config_error_is_said_before_the_model_sdk_loads(claudemask: tuple[Path, Path]) -> None:
    """The settings, every feature's section included, are read without the model client's SDK: an
    operator's typo is answered before the slowest import of a start (Python's own import log says what
    loaded)."""
    char, config = claudemask
    config.write_text(CLAUDEMASK_CONFIG.replace("shard_count=1", "shard_count=many"))
    result = run_main("--character", str(char), "--config", str(config), env={}, python=(sys.executable,
                                                                                        "-X", "importtime"))
    assert result.returncode == 2 and "shard_count" in result.stderr
    loaded = {line.rsplit("|", 1)[-1].strip() for line in result.stderr.splitlines()
              if line.startswith("import time:")}
    assert "bot.features" in loaded  # every feature's settings section was read
    assert "anthropic" not in loaded, "a settings module imports the anthropic SDK: import it where used"


def main_with_character(tmp_path: Path, character_env: str) -> subprocess.CompletedProcess[str]:
    """main.py with a character folder holding this character.env and an empty config file: both keys
    given, so what it says is about the character."""
    char = tmp_path / "empty"
    char.mkdir()
    (char / "character.env").write_text(character_env)
    (tmp_path / "config.env").write_text("")
    return run_main("--character", str(char), "--config", str(tmp_path / "config.env"),
                    env={"DISCORD_TOKEN": "x", "ANTHROPIC_API_KEY": "y"})


def test_main_rejects_a_character_without_prompt(tmp_path: Path) -> None:
    result = main_with_character(tmp_path, 'default_name="Nobody"\n')
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "character.env" in result.stderr and "core_prompt" in result.stderr


# The character folders this repository ships. Only these are checked: a folder of the user's own in
# characters/ (say, half-written) is theirs, not the suite's.
SHIPPED_CHARACTERS = ("_template", "atlas", "finn", "lumen", "pixelwright")


def shipped_characters() -> list[Path]:
    return [PROJECT_ROOT / "characters" / name for name in SHIPPED_CHARACTERS]


def test_the_shipped_characters_are_the_repositorys_own() -> None:
    assert all((folder / "character.env").is_file() for folder in shipped_characters())
    tracked = subprocess.run(["git", "ls-files", "characters"], cwd=PROJECT_ROOT, capture_output=True,
                             text=True)
    if tracked.returncode != 0:
        pytest.skip("not a git checkout: the list cannot be compared with what the repository holds")
    folders = {Path(line).parts[1] for line in tracked.stdout.splitlines() if len(Path(line).parts) > 2}
    assert folders == set(SHIPPED_CHARACTERS)


def test_shipped_examples_pass_validation() -> None:
    from bot.core.character import CharacterSource

    for folder in shipped_characters():
        load_settings(folder, PROJECT_ROOT / "config.env.example",
                      environ={"DISCORD_TOKEN": "x", "ANTHROPIC_API_KEY": "y"})
        CharacterSource(folder, PROJECT_ROOT / "config.env.example", environ={}).load()


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "NaN", "Infinity"])
def test_non_finite_numbers_are_rejected(claudemask: tuple[Path, Path], value: str) -> None:
    char, config = claudemask
    config.write_text(CLAUDEMASK_CONFIG.replace("REPLY_COOLDOWN = 15.0", f"REPLY_COOLDOWN = {value}"))
    with pytest.raises(ConfigError) as err:
        load_settings(char, config, environ={})
    assert err.value.file == str(config) and err.value.key.lower() == "reply_cooldown"
    assert "finite" in str(err.value)
    with pytest.raises(ConfigError) as err:
        load_settings(char, config.with_name("absent.env"), environ={"LLM_TIMEOUT": value})
    assert err.value.file == "environment" and err.value.key.lower() == "llm_timeout"


def test_log_level_must_be_a_logging_level(claudemask: tuple[Path, Path]) -> None:
    char, config = claudemask
    assert load_settings(char, config, environ={}).storage.log_level == "INFO"
    assert load_settings(char, config, environ={"LOG_LEVEL": "debug"}).storage.log_level == "DEBUG"
    config.write_text(CLAUDEMASK_CONFIG + "log_level=verbose\n")
    with pytest.raises(ConfigError) as err:
        load_settings(char, config, environ={})
    assert err.value.file == str(config) and err.value.key == "log_level" and "'verbose'" in str(err.value)


def test_main_exits_2_on_a_bad_log_level(claudemask: tuple[Path, Path]) -> None:
    char, config = claudemask
    config.write_text(CLAUDEMASK_CONFIG + "log_level=verbose\n")
    result = run_main("--character", str(char), "--config", str(config), env={})
    assert result.returncode == 2 and "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and str(config) in lines[0] and "log_level" in lines[0]


def unknown_key_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "bot.core.config" and r.levelno ==
    logging.WARNING]


def test_unknown_keys_are_warned_about_once_each_without_their_values(
        claudemask: tuple[Path, Path], caplog: pytest.LogCaptureFixture) -> None:
    char, config = claudemask
    config.write_text(CLAUDEMASK_CONFIG + 'typing_sped_cpm=300\nTYPING_SPED_CPM=301\n')
    (char / "character.env").write_text(CLAUDEMASK_CHARACTER + 'discrod_token="sk-very-secret"\n'
                                        'modes="calm"\nmode_calm="Speak softly."\nfirst_message="Hi."\n')
    caplog.set_level(logging.INFO, logger="bot.core.config")
    load_settings(char, config, environ={"SOME_OTHER_PROGRAMS_VARIABLE": "1"})
    warnings = unknown_key_warnings(caplog)
    assert len(warnings) == 2, warnings  # the case-insensitive duplicate is one key
    [typo] = [w for w in warnings if "typing_sped_cpm" in w]
    [secret] = [w for w in warnings if "discrod_token" in w]
    assert str(config) in typo and str(char / "character.env") in secret
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "sk-very-secret" not in logged and "sk-test" not in logged and "discord-test-token" not in logged
    # ClaudeMask's retired keys (in CLAUDEMASK_CONFIG) are only noted, at INFO.
    assert any("user_data_file" in r.getMessage() and r.levelno == logging.INFO for r in caplog.records)


def test_shipped_examples_have_no_unknown_keys(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="bot.core.config")
    for folder in shipped_characters():
        load_settings(folder, PROJECT_ROOT / "config.env.example",
                      environ={"DISCORD_TOKEN": "x", "ANTHROPIC_API_KEY": "y"})
    assert unknown_key_warnings(caplog) == []


def test_main_logs_unknown_keys_to_stderr_without_values(tmp_path: Path) -> None:
    result = main_with_character(tmp_path, 'default_name="Nobody"\nanthropic_api_kee="sk-secret-value"\n')
    char = tmp_path / "empty"
    assert result.returncode == 2 and "Traceback" not in result.stderr  # no prompt: stops after the warning
    [warning] = [line for line in result.stderr.splitlines() if "WARNING" in line]
    assert "anthropic_api_kee" in warning and str(char / "character.env") in warning
    assert "sk-secret-value" not in result.stderr


def test_main_warns_about_unknown_keys_of_every_character_it_plays(tmp_path: Path) -> None:
    main, other = tmp_path / "main", tmp_path / "other"
    for folder in (main, other):
        folder.mkdir()
    (main / "character.env").write_text('default_name="Main"\ncore_prompt="You are Main."\n')
    (other / "character.env").write_text('default_name="Other"\ncore_promt="You are Other."\n')  # a typo
    (tmp_path / "config.env").write_text(f"ensemble_characters={other}\n")
    result = run_main("--character", str(main), "--config", str(tmp_path / "config.env"),
                      env={"DISCORD_TOKEN": "x", "ANTHROPIC_API_KEY": "y"})
    assert result.returncode == 2 and "Traceback" not in result.stderr  # the other character has no prompt
    [warning] = [line for line in result.stderr.splitlines() if "WARNING" in line]
    assert "core_promt" in warning and str(other / "character.env") in warning
    assert "You are Other." not in result.stderr


def test_docs_are_generated_from_the_declarations() -> None:
    """config.env.example and docs/configuration.md are exactly what
    `python -m bot.runtime.configdocs sync-docs` writes from the declarations: a stale or hand-edited file
    fails here."""
    from bot.core.config.docs import EXAMPLE, REFERENCE, render_example, render_reference

    fix = "run: python -m bot.runtime.configdocs sync-docs"
    assert EXAMPLE.read_text(encoding="utf-8") == render_example(), fix
    reference = REFERENCE.read_text(encoding="utf-8")
    assert reference == render_reference(), fix
    assert "| `default_temperature` | `1.0` | `0..1` |" in reference  # the bounds column is the declared one
    for setting in SETTINGS:  # every key, with its default
        shown = str(setting.default).lower() if isinstance(setting.default, bool) else str(setting.default)
        assert f"| `{setting.key}`" in reference and (f"`{shown}`" if shown else "(empty)") in reference


def _outside(setting: Setting) -> list[str]:
    step = 1 if setting.kind is int else 0.001
    values = []
    if setting.min is not None:
        values.append(setting.min - step)
    if setting.above is not None:
        values.append(setting.above)
    if setting.max is not None:
        values.append(setting.max + step)
    return [str(setting.kind(v)) if setting.kind is int else repr(v) for v in values]


def _edges(setting: Setting) -> list[str]:
    values = [v for v in (setting.min, setting.max) if v is not None]
    if setting.above is not None:
        values.append(setting.above + 1 if setting.max is None else setting.max)
    return [str(setting.kind(v)) for v in values]


BOUNDED = [s for s in SETTINGS if s.min is not None or s.above is not None or s.max is not None]


@pytest.mark.parametrize("setting", BOUNDED, ids=[s.key for s in BOUNDED])
def test_every_declared_bound_is_enforced(claudemask: tuple[Path, Path], setting: Setting) -> None:
    char, config = claudemask
    for value in _outside(setting):
        with pytest.raises(ConfigError) as err:
            load_settings(char, config, environ={setting.key.upper(): value})
        assert err.value.key == setting.key and err.value.file == "environment", value
        assert f"got {setting.kind(value)}" in str(err.value)
    # A served dashboard needs its token (checked in the dashboard's own tests).
    extra = {"DASHBOARD_TOKEN": "a-long-enough-token-1234"} if setting.key == "dashboard_port" else {}
    for value in _edges(setting):
        loaded = load_settings(char, config, environ={setting.key.upper(): value, **extra})
        assert setting.owner is not None
        assert getattr(loaded.section(setting.owner), setting.key) == setting.kind(value)


def test_sampling_settings_are_bounded(claudemask: tuple[Path, Path]) -> None:
    char, config = claudemask
    for key, value, message in (("default_temperature", "1.5", "must be between 0 and 1, got 1.5"),
                                ("default_temperature", "-0.1", "must be between 0 and 1, got -0.1"),
                                ("default_max_tokens", "0", "must be between 1 and 64000, got 0"),
                                ("default_max_tokens", "64001", "must be between 1 and 64000, got 64001")):
        config.write_text(CLAUDEMASK_CONFIG + f"{key}={value}\n")  # the later line wins
        with pytest.raises(ConfigError) as err:
            load_settings(char, config, environ={})
        assert (err.value.file, err.value.key, err.value.message) == (str(config), key, message)
    config.write_text(CLAUDEMASK_CONFIG.replace("default_temperature=1.0", "default_temperature=0.7"))
    assert load_settings(char, config, environ={}).models.default_temperature == 0.7


def test_main_exits_2_on_an_out_of_range_temperature(claudemask: tuple[Path, Path]) -> None:
    char, config = claudemask
    config.write_text(CLAUDEMASK_CONFIG.replace("default_temperature=1.0", "default_temperature=2"))
    result = run_main("--character", str(char), "--config", str(config), env={})
    assert result.returncode == 2 and "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and str(config) in lines[0] and "default_temperature" in lines[0]


def test_sections_hold_every_key_and_flat_reads_agree(claudemask: tuple[Path, Path]) -> None:
    char, config = claudemask
    s = load_settings(char, config, environ={"RECALL_TOKEN_BUDGET": "123", "MEMORY_CONSENT": "Opt-In"})
    assert isinstance(s.memory, MemorySettings)
    assert s.memory.recall_token_budget == 123 and s.memory.memory_consent == "opt_in"
    assert s.memory.core_memory_token_threshold == 25000 and s.typing.min_typing_time == 6.0
    assert sorted(SECTIONS) == sorted({x.section for x in SETTINGS if x.owner in SECTIONS.values()})
    for setting in SETTINGS:  # every key is read through its section, never by bare key
        assert setting.owner is not None
        assert hasattr(s.section(setting.owner), setting.key), setting.key
        assert not hasattr(s, setting.key), setting.key
    with pytest.raises(AttributeError):
        _ = s.memory.recall_token_budgte  # type: ignore[attr-defined]  # a typo is an error, not None
    with pytest.raises(ConfigError) as err:
        load_settings(char, config, environ={"MEMORY_CONSENT": "some"})
    assert err.value.key == "memory_consent" and "all, opt_in" in str(err.value)
    assert "'some'" in str(err.value)
    assert MemorySettings() == load_settings(char, None, environ={"DISCORD_TOKEN": "x"}).memory  # defaults


def test_secrets_are_in_no_repr(claudemask: tuple[Path, Path]) -> None:
    char, config = claudemask
    s = load_settings(char, config, environ={"DATABASE_URL": "postgresql+asyncpg://kin:pa55word@db/kin"})
    shown = " ".join(repr(x) for x in (s, *(getattr(s, name) for name in SECTIONS), *s.features.values()))
    for secret in ("discord-test-token", "sk-test", "pa55word"):
        assert secret not in shown, secret
    assert "recall_token_budget=400" in shown  # the sections do show their ordinary values


def test_the_shipped_models_are_not_retired_by_anthropic() -> None:
    """The anthropic SDK lists models about to reach end of life (claude-sonnet-4-5: November 30th, 2026):
    a default among them would make every operator's replies fall back on that day."""
    from anthropic._data import DEPRECATED_MODELS

    from bot.core.config.sections import ModelSettings, ReplySettings

    models, replies = ModelSettings(), ReplySettings()
    shipped = {models.default_model, models.premium_model, models.summary_model, replies.voting_model} - {""}
    retiring = {m: DEPRECATED_MODELS[m] for m in shipped & set(DEPRECATED_MODELS)}
    assert not retiring, retiring


def test_copying_the_example_pins_no_default() -> None:
    """config.env.example holds every key commented out (issue 46): a copy sets nothing, so later releases'
    defaults (model names included) still apply; the lines an operator uncomments are what they chose."""
    from bot.core.config.envfile import read_env_file

    assert read_env_file(PROJECT_ROOT / "config.env.example") == {}
    text = (PROJECT_ROOT / "config.env.example").read_text(encoding="utf-8")
    assert '# default_model="claude-sonnet-5-5"' in text and "only the lines you change" in text


def test_a_character_env_that_is_a_folder_says_so(tmp_path: Path) -> None:
    """A folder where character.env should be (Docker makes one for a missing file it was to mount) was
    read as no file: "the character has no prompt" (issue 46). Now it is named for what it is."""
    char = tmp_path / "nyx"
    (char / "character.env").mkdir(parents=True)
    result = run_main("--character", str(char), env={"DISCORD_TOKEN": "x", "ANTHROPIC_API_KEY": "y"})
    assert result.returncode == 2 and "Traceback" not in result.stderr
    [line] = result.stderr.strip().splitlines()
    assert line == (f"config error: {char / 'character.env'}: character.env: is a folder, not a file (Docker "
                    "makes one where a file to mount is missing): remove it, write the file")


def test_a_character_folder_without_character_env_names_the_file(tmp_path: Path) -> None:
    """A folder with no character.env was reported as "core_prompt: missing", a key of a file that is not
    there: the file is named, one line, exit 2."""
    char = tmp_path / "nyx"
    char.mkdir()
    result = run_main("--character", str(char), env={"DISCORD_TOKEN": "x", "ANTHROPIC_API_KEY": "y"})
    assert result.returncode == 2 and "Traceback" not in result.stderr
    [line] = [line for line in result.stderr.strip().splitlines() if "INFO" not in line]
    assert line.startswith(f"config error: {char / 'character.env'}: character.env: no such file: ")
    assert "core_prompt: missing" not in result.stderr



def test_a_feature_declares_its_own_section(claudemask: tuple[Path, Path],
                                            caplog: pytest.LogCaptureFixture) -> None:
    """A feature's settings are a section in its package, named in its FEATURE: its keys load (no unknown-key
    warning), a bad value is refused naming the file and the key, as a core key's is, and the code reads
    them as ``settings.section(TheirSettings)``."""
    from bot.core.config import FEATURE_SECTIONS
    from bot.features.swipes.config import SwipeSettings
    from bot.features.websearch.config import LookupSettings

    char, config = claudemask
    assert {f.settings: f.name for f in FEATURES if f.settings is not None} == FEATURE_SECTIONS
    with caplog.at_level(logging.WARNING, logger="bot.core.config"):
        s = load_settings(char, config, environ={"WEB_SEARCH": "DMs"})
    assert "unknown key" not in caplog.text  # the ClaudeMask file's swipe_timeout_seconds is the swipes'
    assert s.section(LookupSettings).web_search == "dms"
    assert s.section(SwipeSettings).swipe_timeout_seconds == 900
    assert not hasattr(s, "lookup") and not hasattr(s.discord, "swipe_timeout_seconds")
    config.write_text(CLAUDEMASK_CONFIG + "web_search_max_uses=99\n")
    with pytest.raises(ConfigError) as err:
        load_settings(char, config, environ={})
    assert (err.value.file, err.value.key) == (str(config), "web_search_max_uses")
    assert "must be between 1 and 20, got 99" in str(err.value)
    with pytest.raises(ConfigError) as err:
        load_settings(char, config, environ={"WEB_SEARCH": "always"})
    assert (err.value.file, err.value.key) == ("environment", "web_search")
    assert "off, dms, everywhere" in str(err.value)
    # Settings made without loading (a test's, the console's) read a feature's defaults.
    assert Settings(char).section(LookupSettings) == LookupSettings()


def test_the_docs_list_each_feature_section_under_its_feature() -> None:
    """docs/configuration.md and config.env.example show each registered feature's section, titled and
    named by its feature, from the registrations (a new feature's section appears without a hand list)."""
    from bot.core.config.docs import render_example, render_markdown

    markdown, example = render_markdown(), render_example()
    features = markdown.index("## Features")
    for feature in FEATURES:
        cls = feature.settings
        if cls is None:
            continue
        title = (f"**{cls.TITLE}** (the {feature.name} feature, "  # type: ignore[attr-defined]
                 f"bot/features/{feature.name}/: `settings.section({cls.__name__})`, `{cls.__name__}`)")
        assert markdown.index(title) > features, feature.name
        assert f"# ---- {cls.TITLE} (the {feature.name} feature)" in example  # type: ignore[attr-defined]
        for setting in (s for s in SETTINGS if s.owner is cls):
            assert markdown.index(f"| `{setting.key}`") > markdown.index(title), setting.key


def test_a_changed_feature_key_applies_at_the_next_read(claudemask: tuple[Path, Path]) -> None:
    """The live reload writes a feature's changed key into the running section its code follows; a
    restart-only one keeps its running value."""
    from bot.core.config.holder import SettingsHolder
    from bot.core.config.live import changes, live_settings
    from bot.features.mcp.config import McpSettings
    from bot.features.reminders.config import ReminderSettings

    char, config = claudemask
    first = load_settings(char, config, environ={})
    holder = SettingsHolder(first)
    reminders, mcp = holder.follow(ReminderSettings), holder.follow(McpSettings)  # what a feature keeps
    new = load_settings(char, config, environ={"REMINDERS_PER_DAY": "3", "MCP_TOOLS": "true"})
    found = {c.key: c for c in changes(holder.current, new)}
    assert found["reminders_per_day"].describe() == "reminders_per_day 10 -> 3"
    assert found["mcp_tools"].needs_restart
    holder.update(live_settings(holder.current, new))
    assert reminders.reminders_per_day == 3 and holder.current.section(ReminderSettings) is reminders
    assert mcp.mcp_tools is False  # read at start-up: applies after a restart
    assert first.section(ReminderSettings).reminders_per_day == 10  # the holder's own copy was written


def test_a_section_may_postpone_its_annotations() -> None:
    """This module's annotations are strings (``from __future__ import annotations``): a feature's section
    written so reads its keys' types as the classes, as one written without."""
    from dataclasses import dataclass as frozen_dataclass

    from bot.core.config.keys import declared, key

    @frozen_dataclass(frozen=True)
    class DiceSettings:
        TITLE: ClassVar[str] = "Dice"
        dice: bool = key(False, "Roll dice.")
        dice_max_count: int = key(20, "Dice a roll may throw.", min=1)
        dice_note: str = key("", "A line.")

    assert [(s.key, s.kind) for s in declared(DiceSettings, "dice")] == [
        ("dice", bool), ("dice_max_count", int), ("dice_note", str)]
