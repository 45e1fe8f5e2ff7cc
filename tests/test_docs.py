"""The README a newcomer reads (issue 46): under 400 lines, the two set-up commands in its first screen, then
a table of contents of its sections; the rest in docs/, linked from it; every link between them resolves
(file and heading), and every module path, file, class and function they name exists (and the path of one
DM docs/architecture.md lists is defined where it says; tests/test_message_walk.py checks it is the way a DM
goes). The commands themselves are run by tests/test_readme_commands.py, the settings reference checked by
tests/test_config.py."""

from __future__ import annotations

import ast
import asyncio
import builtins
import functools
import re
from dataclasses import dataclass
from pathlib import Path

import anthropic
import discord
import pytest
import sqlalchemy
from discord.ext import commands

from bot.core.config import PROJECT_ROOT
from tests.locking import installed_on_linux

README = PROJECT_ROOT / "README.md"
DOCS = sorted((PROJECT_ROOT / "docs").glob("*.md"))
PAGES = [README, *DOCS]
FIRST_SCREEN = 25  # lines a terminal or a repository page shows before any scrolling


def without_code(text: str) -> str:
    return re.sub(r"^```.*?^```", "", text, flags=re.S | re.M)


def anchor(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces as hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def anchors(page: Path) -> set[str]:
    return {anchor(h) for h in re.findall(r"^#{1,6} (.+)$", without_code(page.read_text()), re.M)}


def links(page: Path) -> list[str]:
    return re.findall(r"\]\(([^)\s]+)\)", without_code(page.read_text()))


def test_the_readme_is_short_and_starts_with_the_two_commands() -> None:
    lines = README.read_text().splitlines()
    assert len(lines) < 400, (
        f"README.md has {len(lines)} lines: it stays under 400 (a newcomer reads it whole); put the "
        "detail in the docs/ page it belongs to and link it")
    first = "\n".join(lines[:FIRST_SCREEN])
    blocks = re.findall(r"^```sh\n(.*?)^```", first, re.S | re.M)
    assert any(re.search(r"\bmake run\b", b) for b in blocks)
    assert any(b.strip() == "make test" for b in blocks)


def test_a_table_of_contents_lists_every_section() -> None:
    text = README.read_text()
    sections = re.findall(r"^## (.+)$", without_code(text), re.M)
    assert sections[0] == "Contents"
    contents = text.split("## Contents", 1)[1].split("\n## ", 1)[0]
    listed = re.findall(r"^- \[[^\]]+\]\(#([\w-]+)\)", contents, re.M)
    assert listed == [anchor(s) for s in sections[1:] if s != "Licence"]
    assert text.index("## Contents") < text.index("make test\n") + 200  # right after the commands


def test_each_docs_page_is_linked_from_the_readme() -> None:
    linked = {target.split("#", 1)[0] for target in links(README)}
    for page in DOCS:
        assert f"docs/{page.name}" in linked, page.name
    # The operator's sections the issue asks for are in the README itself.
    for section in ("Discord set-up", "Choosing models and cost", "Configuration", "Memory and privacy",
                    "Upgrading", "Backing up and restoring the database", "Troubleshooting"):
        assert f"\n## {section}\n" in README.read_text(), section
    backup = README.read_text().split("## Backing up", 1)[1].split("\n## ", 1)[0]
    assert "-wal" in backup and "pg_dump" in backup and "pg_restore" in backup


def test_every_link_between_the_pages_resolves() -> None:
    broken = []
    for page in PAGES:
        for target in links(page):
            if re.match(r"[a-z]+:", target):
                continue  # https:, mailto:
            path, _, fragment = target.partition("#")
            file = (page.parent / path).resolve() if path else page
            if not file.exists():
                broken.append(f"{page.name}: {target}")
            elif fragment and file.suffix == ".md" and fragment not in anchors(file):
                broken.append(f"{page.name}: {target} (no such heading)")
    assert broken == []


def test_every_module_path_named_exists() -> None:
    """Paths like `bot/operator/admin.py` or modules like `bot.memory` that no longer exist (issue 46)."""
    missing = []
    for page in PAGES:
        for span in re.findall(r"`([^`\s]+)`", page.read_text()):
            if re.fullmatch(r"(bot|cogs|database|memory|personaflow|tests|benchmarks)/[\w/.-]*", span):
                if not (PROJECT_ROOT / span.rstrip("/")).exists():
                    missing.append(f"{page.name}: {span}")
            elif re.fullmatch(r"(bot|cogs|database|memory|personaflow)(\.[a-z_]+)+", span):
                parts = span.split(".")
                # a module, a package, or a name defined in one (database.store.Store -> database/store.py)
                candidates = [PROJECT_ROOT.joinpath(*parts[:n]) for n in range(len(parts), 0, -1)]
                if not any(c.with_suffix(".py").exists() or (c / "__init__.py").exists()
                           for c in candidates[:2]):
                    missing.append(f"{page.name}: {span}")
    assert missing == []


def test_no_stale_text() -> None:
    """A shipped feature said not to exist; a key named by another program's spelling (`temperature=` is
    an unknown key, warned as such with default_temperature named)."""
    for page in PAGES:
        text = page.read_text()
        assert "does not exist yet" not in text, page.name
        assert "a character's `temperature`" not in text, page.name


def test_prompts_md_is_what_its_script_writes() -> None:
    """docs/prompts.md shows what the fake Claude receives for each kind of request (issue 44)."""
    from tests.prompt_docs import KINDS, render

    text = render()
    assert all(f"## {k[0].upper()}{k[1:]}".replace("Dm ", "DM ") in text for k in KINDS)
    assert (PROJECT_ROOT / "docs" / "prompts.md").read_text(encoding="utf-8") == text, \
        "run: .venv/bin/python -m tests.prompt_docs"


def test_each_settings_section_title_is_a_paragraph_of_its_own() -> None:
    """Markdown joins a line to the paragraph above it: a section's bold title right under the intro showed
    inside it."""
    lines = (PROJECT_ROOT / "docs" / "configuration.md").read_text().splitlines()
    titles = [i for i, line in enumerate(lines) if line.startswith("**")]
    assert titles and [lines[i - 1] for i in titles] == [""] * len(titles)


def test_a_table_said_to_be_above_or_below_is_there() -> None:
    """A page pointing at "the settings table above" it no longer has sends the reader looking for nothing."""
    missing = []
    for page in PAGES:
        text = without_code(page.read_text())
        for said in re.finditer(r"\btable (above|below)\b", text):
            before, after = text[:said.start()], text[said.end():]
            if "| --- |" not in (before if said.group(1) == "above" else after):
                missing.append(f"{page.name}: ...{text[max(0, said.start() - 40):said.end()]}")
    assert missing == []


def test_the_mature_characters_section_holds_only_what_is_about_them() -> None:
    """Sections on other things (the daily rhythm, greetings, lore) sat under "Mature characters", where no
    one looking for them would look."""
    text = (PROJECT_ROOT / "docs" / "characters.md").read_text()
    section = text.split("\n## Mature characters\n", 1)[1].split("\n## ", 1)[0]
    paragraphs = [p for p in section.split("\n\n") if p.strip()]
    off = [p[:60] for p in paragraphs if not re.search(r"mature|register|age-restricted", p, re.I)]
    assert off == []


def test_the_backup_command_writes_where_git_ignores_it() -> None:
    """A backup written into the checkout where git sees it is one `git add .` from being committed, the
    people it remembers with it."""
    import subprocess

    if not (PROJECT_ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    backup = README.read_text().split("## Backing up", 1)[1].split("\n## ", 1)[0]
    [command] = [line for line in backup.splitlines() if ".backup(" in line]
    target = re.findall(r"sqlite3\.connect\('([^']+)'\)", command)[-1]
    assert not target.startswith("/") and ".." not in target  # in the checkout: git must ignore it
    ignored = subprocess.run(["git", "-C", str(PROJECT_ROOT), "check-ignore", "-q", "--no-index", target])
    assert ignored.returncode == 0, f"{target} is not git-ignored"


def test_the_first_screen_states_the_measured_first_run() -> None:
    """"One to two minutes" it said, where a newcomer's set-up took 6 min 20 s on a busy machine: the first
    screen gives the measured range, quiet and busy, and the package count the Makefile installs."""
    first = "\n".join(README.read_text().splitlines()[:FIRST_SCREEN])
    prose = " ".join(first.split())
    locked = installed_on_linux()
    assert f"{len(locked) + 1} packages" in prose and "1.6 GB" in prose
    assert "about 2 minutes on a quiet machine" in prose and "6 to 9 minutes on a busy 2-core one" in prose
    assert "progress" in prose


# -- every file, class and function the docs name exists

SOURCES = ("bot", "cogs", "memory", "database", "personaflow", "tests", "benchmarks", "characters")
# Outside names the docs may name that no imported module defines: systemd's unit keys, stdlib and
# placeholders a page uses as such.
OUTSIDE_NAMES = {
    "EnvironmentFile", "TimeoutStopSec",  # systemd (docs/running.md, the README)
    "getpid()", "SimpleQueue.put",  # os, queue (docs/performance.md)
    "FILE.txt",  # a placeholder: the file a profile is written to (docs/benchmarks.md)
}
CHECKED_PAGES = [page for page in PAGES if page.name != "prompts.md"]  # prompts.md is written by a script


@dataclass(frozen=True)
class Names:
    """What the project defines: its files' names, its classes, functions and module-level names, and each
    class's members (methods, class attributes, attributes its methods set on ``self``)."""

    files: frozenset[str]  # each file's path in the repository
    defined: frozenset[str]
    members: dict[str, frozenset[str]]


@functools.cache
def project_names() -> Names:
    skip = {".venv", ".git", "node_modules", "__pycache__"}
    files = frozenset(p.relative_to(PROJECT_ROOT).as_posix() for p in PROJECT_ROOT.rglob("*")
                      if p.is_file() and not skip & set(p.relative_to(PROJECT_ROOT).parts))
    defined: set[str] = set()
    members: dict[str, set[str]] = {}
    for path in [PROJECT_ROOT / "main.py", *(p for d in SOURCES for p in (PROJECT_ROOT / d).rglob("*.py"))]:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                defined.add(node.name)
            elif isinstance(node, ast.Assign):
                defined.update(t.id for t in node.targets if isinstance(t, ast.Name))
            if not isinstance(node, ast.ClassDef):
                continue
            own = members.setdefault(node.name, set())
            for item in node.body:
                if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                    own.add(item.name)
                elif isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name):
                    own.add(item.target.id)
                elif isinstance(item, ast.Assign):
                    own.update(t.id for t in item.targets if isinstance(t, ast.Name))
            own.update(t.attr for n in ast.walk(node) if isinstance(n, ast.Assign | ast.AnnAssign)
                       for t in (n.targets if isinstance(n, ast.Assign) else [n.target])
                       if isinstance(t, ast.Attribute) and ast.unparse(t.value) == "self")
    # The libraries the docs speak of, one level deep (a class's members through the class).
    for module in (discord, commands, anthropic, sqlalchemy, asyncio, builtins):
        for name, value in vars(module).items():
            defined.add(name)
            if isinstance(value, type):
                members.setdefault(name, set()).update(dir(value))
    return Names(files, frozenset(defined), {k: frozenset(v) for k, v in members.items()})


def stale_names(text: str, names: Names) -> list[str]:
    """The backticked names in ``text`` (a page, fenced code aside) that name nothing: a ``file.py`` no file
    of the repository is called (``dir/file.py``: none at the end of that path), a ``Class.member`` (or
    ``Class.member(...)``) the class does not have, a ``function(...)`` nothing defines, a CamelCase name
    no class or module defines. A name the code no longer has may still be said, as history, outside
    backticks."""
    stale = []
    for span in re.findall(r"`([^`\n]+)`", without_code(text)):
        if span in OUTSIDE_NAMES:
            continue
        if re.fullmatch(r"[\w/.-]+\.py", span):
            if not any(f == span or f.endswith("/" + span) for f in names.files):
                stale.append(span)
        elif m := re.fullmatch(r"([A-Z]\w*)\.(\w+)(\(.*\))?", span):
            if m.group(2) not in names.members.get(m.group(1), ()):
                stale.append(span)
        elif m := re.fullmatch(r"([a-z_]\w*)\(.*\)", span):
            if m.group(1) not in names.defined:
                stale.append(span)
        elif re.fullmatch(r"[A-Z][a-z0-9]+(?:[A-Z][a-z0-9]*)+", span) and span not in names.defined:
            stale.append(span)
    return stale


def test_every_file_class_and_function_the_docs_name_exists() -> None:
    names = project_names()
    stale = [f"{page.name}: {name}" for page in CHECKED_PAGES
             for name in stale_names(page.read_text(), names)]
    assert stale == [], (
        "a backticked name in the docs that looks like code (a file.py, a Class.member, a function(), a "
        "CamelCase name) must be one the project (or discord.py, the SDK, SQLAlchemy) defines: name what "
        f"exists, or write a word that is not code without backticks: {stale}")


def test_the_check_reports_a_planted_stale_name() -> None:
    """The check can fail: a page naming the reply's old engine, its class and a method a class lacks."""
    planted = ("The answer goes through `bot/reply/engine.py`'s `ReplyEngine.run` (now "
               "`bot/reply/writer.py`), then `ReplyWriter.respond` and `ReplyWriter.run`, `compose()` and "
               "`recompose()`, `Delivery` and `DeliveryEngine`, `writer.py` and `reply_engine.py`.\n\n"
               "```\n`ReplyEngine` in a code block is code, not a claim\n```\n")
    assert stale_names(planted, project_names()) == [
        "bot/reply/engine.py", "ReplyEngine.run", "ReplyWriter.run", "recompose()", "DeliveryEngine",
        "reply_engine.py"]


PATH_HEADING = "## The path of one DM"
PATH_STEP = re.compile(r"^\d+\. `([\w/.]+\.py)` `(\w+(?:\.\w+)?)`", re.M)


def dm_path() -> list[tuple[str, str]]:
    text = (PROJECT_ROOT / "docs" / "architecture.md").read_text()
    section = text.split(f"\n{PATH_HEADING}\n", 1)[1].split("\n## ", 1)[0]
    return PATH_STEP.findall(section)


def defined_in(path: Path, qualified: str) -> bool:
    """Whether ``qualified`` (``function`` or ``Class.method``) is defined at the top of ``path``."""
    first, _, rest = qualified.partition(".")
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name == first and not rest:
            return True
        if isinstance(node, ast.ClassDef) and node.name == first:
            return not rest or any(isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef) and n.name == rest
                                   for n in node.body)
    return False


def test_the_path_of_one_dm_names_functions_that_are_where_it_says() -> None:
    """docs/architecture.md's numbered path of one DM, from the messages cog to the post: at most twelve
    functions, each defined in the file it is listed with, the first the cog's listener."""
    steps = dm_path()
    assert 8 <= len(steps) <= 12, steps
    assert steps[0] == ("cogs/messages.py", "Messages.on_message")
    wrong = [f"{path} {name}" for path, name in steps
             if not (PROJECT_ROOT / path).is_file() or not defined_in(PROJECT_ROOT / path, name)]
    assert wrong == []


def test_the_readme_names_the_function_to_start_reading_at() -> None:
    text = README.read_text()
    built = text.split("\n## How it is built\n", 1)[1].split("\n## ", 1)[0]
    path, name = dm_path()[0]
    assert f"`{path}` `{name}`" in built


def test_the_feature_packages_architecture_lists_are_those_there_are() -> None:
    """docs/architecture.md's layers name each feature package by hand: a new package is named there."""
    text = (PROJECT_ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    listed = re.search(r"a package per feature \(([^)]*)\)", text)
    assert listed is not None, "architecture.md's layers no longer list the feature packages"
    named = {name.strip() for name in listed.group(1).replace("\n", " ").split(",")}
    packages = {p.parent.name for p in (PROJECT_ROOT / "bot" / "features").glob("*/__init__.py")}
    assert named == packages, (f"docs/architecture.md (bot/features/ in the layers) lacks {packages - named} "
                               f"and names {named - packages}, which are not packages: edit the list after "
                               f"'a package per feature (' there")
