"""Kindred launcher: `python main.py [--character characters/<name>] [--console]`.

Also: `python main.py consolidate --now` (daily memory consolidation by hand) and
`python main.py import-card <file> [--as <folder name>]` (a SillyTavern card into a character folder).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from pathlib import Path

from bot.config import (
    PROJECT_ROOT,
    Settings,
    load_settings,
    resolve_character_dir,
    warn_unknown_character_keys,
)
from bot.errors import ConfigError


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="main.py", description="Kindred, a Discord persona bot.")
    parser.add_argument("--character", help="character folder (else CHARACTER_DIR, else characters/finn)")
    parser.add_argument("--config", default=None, help="technical settings file (default: config.env)")
    parser.add_argument("--console", action="store_true", help="chat in the terminal instead of Discord")
    sub = parser.add_subparsers(dest="command")
    cons = sub.add_parser("consolidate", help="run the daily memory consolidation")
    cons.add_argument("--now", action="store_true", required=True, help="run it now, with a progress bar")
    imp = sub.add_parser("import-card", help="import a SillyTavern card (JSON or PNG) as a character folder")
    imp.add_argument("file", type=Path)
    imp.add_argument("--as", dest="as_name", default=None, help="folder name under characters/")
    return parser.parse_args(argv)


def setup_logging(level: str | None = None) -> None:
    """The format at once (reading the settings may warn), the configured level once it is known."""
    logging.basicConfig(format="%(asctime)s %(levelname)-7s %(name)s: %(message)s")  # no-op the second time
    if level is not None:
        logging.getLogger().setLevel(level)  # a name load_settings has validated
    logging.getLogger("discord.gateway").setLevel(logging.WARNING)
    logging.getLogger("httpx").setLevel(logging.WARNING)


def _config_file(value: str | None) -> Path:
    if value:
        path = Path(value)
        if not path.is_file():
            raise ConfigError(value, "--config", "no such file")
        return path
    return PROJECT_ROOT / "config.env"


def _load(args: argparse.Namespace, *, discord: bool) -> tuple[Settings, object]:
    from bot.character import CharacterSource

    character_dir = resolve_character_dir(args.character)
    config_file = _config_file(args.config)
    settings = load_settings(character_dir, config_file, require_discord=discord)
    character = CharacterSource(character_dir, config_file)
    character.load()  # a folder without a prompt fails here, before anything connects
    for folder in settings.ensemble_dirs:  # and so does any other character the bot plays
        warn_unknown_character_keys(folder)
        CharacterSource(folder, config_file).load()
    return settings, character


def run(argv: list[str]) -> int:
    args = parse_args(argv)
    if args.command == "import-card":
        from bot.persona.cards import import_card

        folder = import_card(args.file, PROJECT_ROOT / "characters", args.as_name)
        print(f"imported {args.file} as {folder}")
        return 0
    setup_logging()
    settings, character = _load(args, discord=not args.console and args.command is None)
    setup_logging(settings.log_level)
    if args.console:
        from bot.console import run_console

        return asyncio.run(run_console(settings, character))  # type: ignore[arg-type]
    if args.command == "consolidate":
        from memory.consolidation import run_consolidation_cli

        return asyncio.run(run_consolidation_cli(settings, character))  # type: ignore[arg-type]
    return run_bot(settings, character)


def run_bot(settings: Settings, character: object) -> int:
    import discord

    from bot.client import create_bot

    bot = create_bot(settings, character, freeze_after_setup=True)  # type: ignore[arg-type]
    try:
        bot.run(settings.discord_token, log_handler=None)
    except discord.LoginFailure:
        raise ConfigError(str(settings.character_dir / "character.env"), "discord_token",
                          "Discord rejected the token") from None
    return bot.exit_code


def main() -> None:
    try:
        code = run(sys.argv[1:])
    except ConfigError as exc:
        print(f"config error: {exc}", file=sys.stderr)
        code = 2
    except KeyboardInterrupt:
        code = 130
    sys.exit(code)


if __name__ == "__main__":
    main()
