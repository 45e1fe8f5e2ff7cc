"""Every command the README shows, and the hints Kindred prints, runs as written from a fresh clone
(issue 27): main.py commands with --help (argparse checks the subcommand and the options before it), make
targets as a dry run (`make -n`), and the README's own character walk-through for real, in a temp folder.
Plus what the quick start promises in words: paced replies with their settings, apt for voice."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bot.core.config import BY_KEY, PROJECT_ROOT
from tests.fakes import PROCESS_WAIT

README = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
# The README and the pages it links in docs/ (issue 46 moved most of its text there): every command in any of
# them runs as written.
DOCS = "\n".join([README, *(page.read_text(encoding="utf-8")
                            for page in sorted((PROJECT_ROOT / "docs").glob("*.md")))])
PYTHON = ".venv/bin/python"


def fenced_sh(text: str) -> list[str]:
    """The lines of every ```sh block, comments dropped."""
    lines: list[str] = []
    for block in re.findall(r"^```sh\n(.*?)^```", text, re.S | re.M):
        for line in block.splitlines():
            words = shlex.split(line, comments=True)
            if words:
                lines.append(shlex.join(words))
    return lines


def inline(text: str) -> list[str]:
    """Code spans outside the fenced blocks that are a main.py or make command."""
    prose = re.sub(r"^```.*?^```", "", text, flags=re.S | re.M)
    spans = [" ".join(span.split()) for span in re.findall(r"`([^`]+)`", prose)]
    return [span for span in spans if re.match(r"(\.venv/bin/python |python3? )?main\.py \S|make \w", span)]


def kindred_command(line: str) -> list[str] | None:
    """The command's words without leading VAR=value assignments, if it is main.py or make."""
    words = shlex.split(line)
    while words and re.fullmatch(r"[A-Z_]+=.*", words[0]):
        words = words[1:]
    if words[:1] == ["make"] or "main.py" in words[:2]:
        return words
    return None


def readme_commands(text: str = DOCS) -> list[list[str]]:
    found = [kindred_command(line) for line in fenced_sh(text) + inline(text)]
    unique = {shlex.join(words): words for words in found if words is not None}  # once each
    return list(unique.values())


def up_to_placeholders(words: list[str]) -> list[str]:
    """The words before the first placeholder (`<file>`, `[--as NAME]`, `X`, `N`...)."""
    kept: list[str] = []
    for word in words:
        if re.search(r"[<>\[\]|]", word) or re.fullmatch(r"[A-Z]+", word) or word == "...":
            break
        kept.append(word)
    return kept


def run(words: list[str], cwd: Path = PROJECT_ROOT) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAKE")}
    if words[0] == "make":
        command = ["make", "-n", "-C", str(PROJECT_ROOT), *words[1:]]
    else:
        at = words.index("main.py")
        command = [sys.executable, str(PROJECT_ROOT / "main.py"), *up_to_placeholders(words[at + 1:]),
                   "--help"]
    return subprocess.run(command, capture_output=True, text=True, env=env, cwd=cwd, timeout=PROCESS_WAIT)


def test_the_readme_runs_main_py_with_the_venvs_python() -> None:
    """A fresh clone's system python lacks Kindred's packages: every command says .venv/bin/python."""
    commands = readme_commands()
    makes = [w for w in commands if w[0] == "make"]
    assert len(commands) - len(makes) >= 8 and len(makes) >= 5
    in_readme = readme_commands(README)  # the README alone still shows the ways to run
    assert len([w for w in in_readme if w[0] != "make"]) >= 8 and ["make", "test"] in in_readme
    # (`main.py health` in prose names a command; `python main.py ...` would be run as written, and fail.)
    bare = [shlex.join(w) for w in commands if w[0] in ("python", "python3")]
    assert bare == []


@pytest.mark.parametrize("words", readme_commands(), ids=shlex.join)
def test_each_readme_command_runs_as_written(words: list[str]) -> None:
    result = run(words)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr


def test_the_character_walk_through_works_and_its_hints_run(tmp_path: Path) -> None:
    """docs/characters.md "Your own character", for real: new-character (in a temp characters/), then each
    command it prints as the next step."""
    [line] = [c for c in fenced_sh(DOCS) if "new-character" in c]
    words = kindred_command(line)
    assert words is not None and words[0] == PYTHON
    characters = tmp_path / "characters"
    shutil.copytree(PROJECT_ROOT / "characters" / "_template", characters / "_template")
    at = words.index("main.py")
    made = subprocess.run([sys.executable, str(PROJECT_ROOT / "main.py"), *words[at + 1:], "--dir",
                           str(characters)], capture_output=True, text=True, timeout=PROCESS_WAIT,
                          cwd=PROJECT_ROOT)
    assert made.returncode == 0, made.stderr
    folder = characters / "captain-mira"
    assert 'default_name="Captain Mira"' in (folder / "character.env").read_text()
    hints = re.findall(r'(\.venv/bin/python main\.py [^(;)]+?|make \w+ ARGS="[^"]*")(?=\s*[(;)]|\s*$)',
                       made.stdout, re.M)
    assert len(hints) == 3, made.stdout
    for hint in hints:
        hinted = kindred_command(hint)
        assert hinted is not None
        result = run(hinted)
        assert result.returncode == 0, (hint, result.stderr)
    # The rest of the walk-through: the console on the new folder starts, and warns the prompt is unwritten.
    console = subprocess.run([sys.executable, str(PROJECT_ROOT / "main.py"), "--console", "--character",
                              str(folder), "--config", str(PROJECT_ROOT / "config.env.example")],
                             input="/quit\n", capture_output=True, text=True, timeout=PROCESS_WAIT,
                             cwd=PROJECT_ROOT,
                             env={**os.environ, "ANTHROPIC_API_KEY": "k",
                                  "ANTHROPIC_BASE_URL": "http://127.0.0.1:9",
                                  "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'k.db'}"})
    assert console.returncode == 0, console.stderr
    assert "core_prompt is still the template's placeholder" in console.stderr


def test_the_quick_start_says_replies_are_paced_and_how_to_change_it() -> None:
    quick = README.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    assert "paced on purpose" in quick
    for key in ("typing_speed_cpm", "min_typing_time", "max_typing_time", "typing_variance"):
        default = BY_KEY[key].default
        assert f"`{key}={default:g}`" in quick, key  # the settings, at their real defaults
    assert "apt" in quick and "ffmpeg" in quick and "espeak-ng" in quick and "as root" in quick
    assert "190 MB" in quick


def test_the_templates_quoting_comment_says_what_the_readme_says() -> None:
    template = (PROJECT_ROOT / "characters" / "_template" / "character.env").read_text(encoding="utf-8")
    comment = template.split("core_prompt=", 1)[0].rsplit("\n\n", 1)[1]
    quoting = README.split("### Values over several lines (quoting)", 1)[1].split("\n## ", 1)[0]
    assert "as many lines as you like" in comment and "as many lines as you like" in quoting
    assert "ONE line" not in comment and "only its first line" in comment
