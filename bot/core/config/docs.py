"""config.env.example and the README's settings table, generated from the declarations in ``sections.py``.

``python -m bot.core.config sync-docs`` rewrites both; tests/test_config.py fails when either has drifted.
"""

from __future__ import annotations

import re
import textwrap
from typing import Any

from bot.core.config.paths import PROJECT_ROOT
from bot.core.config.sections import SECTIONS, SETTINGS, Setting

EXAMPLE = PROJECT_ROOT / "config.env.example"
README = PROJECT_ROOT / "README.md"
_TABLE = re.compile(r"<!-- settings-table:start -->.*?<!-- settings-table:end -->", re.S)


def _shown(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def _meaning(s: Setting) -> str:
    """The help line, plus whether a live config reload applies it (bot/core/config/live.py)."""
    return s.help + (" Applies after a restart." if s.restart else "")


def _of(section: str) -> list[Setting]:
    return [s for s in SETTINGS if s.section == section]


def render_example() -> str:
    """config.env.example: every section but the ones kept in character.env, each key at its default."""
    lines = ["# Kindred technical settings: every key, commented out at its default. config.env is",
             "# optional: put in it only the lines you change (uncommented). A key left out follows the",
             "# defaults of the release you run, so an upgrade's new defaults (model names included) apply;",
             "# a copied key stays pinned. Identity belongs in characters/<name>/character.env (see",
             "# character.env.example), secrets in characters/<name>/character.local.env (git-ignored) or",
             "# environment variables, which override all the files. Keys are case-insensitive.", ""]
    for section, cls in SECTIONS.items():
        if getattr(cls, "CHARACTER_ENV", False):
            continue
        lines += [f"# ---- {cls.TITLE}", ""]  # type: ignore[attr-defined]
        for s in _of(section):
            allowed = s.allowed()
            lines += textwrap.wrap(_meaning(s) + (f" Allowed: {allowed}." if allowed else ""), 108,
                                   initial_indent="# ", subsequent_indent="# ")
            value = _shown(s.default)
            lines.append(f'# {s.key}="{value}"' if s.kind is str else f"# {s.key}={value}")
            lines.append("")
    return "\n".join(lines)


def render_markdown() -> str:
    """The README table: one table per section, with its Settings attribute and its keys' bounds."""
    out: list[str] = []
    for section, cls in SECTIONS.items():
        out += [f"**{cls.TITLE}** (`settings.{section}`, `{cls.__name__}`)", "",  # type: ignore[attr-defined]
                "| key | default | allowed | meaning |", "| --- | --- | --- | --- |"]
        for s in _of(section):
            default = _shown(s.default)
            shown = f"`{default}`" if default != "" else "(empty)"
            allowed = s.allowed()
            names = ", ".join(f"`{n}`" for n in (s.key, *s.aliases))
            out.append(f"| {names} | {shown} | {f'`{allowed}`' if allowed else ''} | {_meaning(s)} |")
        out.append("")
    return "\n".join(out).rstrip("\n")


def rendered_readme(text: str) -> str:
    """The README text with its settings table (between the settings-table markers) regenerated."""
    table = f"<!-- settings-table:start -->\n{render_markdown()}\n<!-- settings-table:end -->"
    return _TABLE.sub(lambda _: table, text)


def sync_docs() -> None:
    """Rewrite config.env.example and the README's settings table from the declarations."""
    EXAMPLE.write_text(render_example(), encoding="utf-8")
    README.write_text(rendered_readme(README.read_text(encoding="utf-8")), encoding="utf-8")
