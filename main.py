"""Kindred launcher: `python main.py [--character characters/<name>] [--console]`.

Also: `python main.py consolidate --now` (the nightly consolidation and retention by hand),
`python main.py import-card <file> [--as <folder name>]` (a SillyTavern card or an acore_bot character file
into a character folder), `python main.py export-card <folder> [--png] [--v3] [--out <file>]` (a
character folder, any format, as a SillyTavern card) and `python main.py dashboard [--host H] [--port N]`
(the operator's dashboard alone, on the bot's database).

A cluster: `python main.py --shard-ids 0-3 --shard-count 8` on each machine (one
DATABASE_URL, PostgreSQL), and `python main.py cluster status` to see its processes. `python main.py health`
exits 0 while a bot on this machine keeps its heartbeat fresh (Docker's HEALTHCHECK).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
import threading
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # imported where used: a --help or a bad setting answers before the bot's modules load
    from bot.core.character import CharacterSource

# Run with a Python that lacks Kindred's packages (a system python instead of .venv/bin/python): one line
# saying how to get them, not a ModuleNotFoundError traceback.
MISSING_PACKAGES = ("setup error: Kindred's packages are not installed for {python} ({module} is missing): "
                    "run `make setup` once (it creates .venv), then run .venv/bin/python main.py ...")
try:
    from bot.core.config import (
        BY_KEY,
        PROJECT_ROOT,
        Settings,
        choose_character_dir,
        load_settings,
        missing_folder,
        read_sources,
        resolve_folder,
        warn_unknown_character_keys,
    )
    from bot.core.config.credentials import check_discord_token
    from bot.core.errors import ConfigError
    from database.errors import SchemaNotReady
except ModuleNotFoundError as _missing:
    sys.exit(MISSING_PACKAGES.format(python=sys.executable, module=_missing.name))

log = logging.getLogger("kindred")
DASHBOARD_PORT = 8765  # `main.py dashboard` when dashboard_port is 0 (the bot serves none)


def _common_options(parser: argparse.ArgumentParser, default: object = None) -> None:
    parser.add_argument(
        "--character", default=default,
        help="character folder (else CHARACTER_DIR, else a character.env in the "
        "folder main.py runs from, else characters/finn)",
    )
    parser.add_argument("--config", default=default, help="technical settings file (default: config.env)")


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="main.py", description="Kindred, a Discord persona bot.")
    _common_options(parser)
    parser.add_argument("--console", action="store_true", help="chat in the terminal instead of Discord")
    parser.add_argument("--as", dest="as_user", default=None,
                        help="--console: your name in the chat (default: your login name)")
    parser.add_argument("--shard-ids", default=None,
                        help="the shards this process runs in a cluster, e.g. 0-3 (also SHARD_IDS)")
    parser.add_argument("--shard-count", type=int, default=None,
                        help="the cluster's total number of shards (also SHARD_COUNT)")
    # The same options after a subcommand (`consolidate --now --character X`); SUPPRESS keeps a value given
    # before the subcommand when it is not repeated after it.
    common = argparse.ArgumentParser(add_help=False)
    _common_options(common, argparse.SUPPRESS)
    sub = parser.add_subparsers(dest="command")
    cons = sub.add_parser("consolidate", parents=[common],
                          help="run the nightly memory work: the consolidation, then the retention")
    cons.add_argument("--now", action="store_true", required=True, help="run it now, with a progress bar")
    new = sub.add_parser("new-character",
                         help="make a character folder from the template characters/_template")
    new.add_argument("name", help="the character's name (the folder is its lower-case form)")
    new.add_argument("--as", dest="as_name", default=None, help="folder name under characters/")
    new.add_argument("--dir", type=Path, default=None, help=argparse.SUPPRESS)  # tests: not characters/
    from bot.core.persona.cli import IMPORT_FORMATS

    imp = sub.add_parser(
        "import-card", formatter_class=argparse.RawDescriptionHelpFormatter, epilog=IMPORT_FORMATS,
        help="import a SillyTavern card (JSON or PNG), an acore_bot or a ClaudeMask character as a folder",
    )
    imp.add_argument("file", type=Path)
    imp.add_argument("--as", dest="as_name", default=None, help="folder name under characters/")
    imp.add_argument("--lorebook", type=Path, default=None,
                     help="a SillyTavern lorebook (world info JSON) to attach, copied in as lorebook.json")
    imp.add_argument("--dir", type=Path, default=None, help=argparse.SUPPRESS)  # tests: not characters/
    exp = sub.add_parser(
        "export-card", help="write a character folder as a SillyTavern card (with its lorebook)",
        parents=[common],
    )
    exp.add_argument("folder", help="character folder (a path, or a name under characters/)")
    exp.add_argument(
        "--png", action="store_true", help="a PNG card (the avatar as its picture) instead of JSON"
    )
    exp.add_argument("--v3", action="store_true", help="a V3 card (chara_card_v3; a V3 PNG also carries V2)")
    exp.add_argument(
        "--out", type=Path, default=None, help="file to write (default: exports/<folder>.json|png)"
    )
    dash = sub.add_parser("dashboard", help="serve the operator's dashboard alone, on the bot's database",
                          parents=[common])
    dash.add_argument("--host", default=None, help="address to listen on (default: dashboard_host)")
    dash.add_argument("--port", type=int, default=None,
                      help=f"port (default: dashboard_port, or {DASHBOARD_PORT} when that is 0)")
    clus = sub.add_parser("cluster", help="the processes sharing this database (PostgreSQL)",
                          parents=[common])
    clus.add_argument("what", choices=["status"], help="status: each process, its shards, the leader")
    sub.add_parser("health", parents=[common],
                   help="exit 0 if a bot on this machine keeps its heartbeat fresh, else 1 "
                   "(Docker's HEALTHCHECK)")
    return parser.parse_args(argv)


def setup_logging(level: str | None = None) -> None:
    """The format at once (reading the settings may warn), the configured level once it is known."""
    logging.basicConfig(format="%(asctime)s %(levelname)-7s %(name)s: %(message)s")  # no-op the second time
    if level is not None:
        logging.getLogger().setLevel(level)  # a name load_settings has validated
    from bot.runtime.startup import quiet_libraries

    quiet_libraries(level or "INFO")  # at INFO: what Kindred did, not what its libraries did


def early_log_level(config_file: Path, character_dir: Path, *, console: bool = False) -> str:
    """The configured log_level as read before the settings are validated (INFO when unset or not a level:
    load_settings then names the problem). The console keeps the terminal for the chat: WARNING at least."""
    level = (read_sources(config_file, character_dir).values.get("log_level") or "").strip().upper()
    if level not in BY_KEY["log_level"].choices:
        level = "INFO"
    if console and logging.getLevelName(level) < logging.WARNING:
        level = "WARNING"
    return level


def _config_file(value: str | None, root_layout: Path | None = None) -> Path:
    if value:
        path = Path(value)
        if not path.is_file():
            raise ConfigError(value, "--config", "no such file")
        return path
    if root_layout is not None and (root_layout / "config.env").is_file():
        return root_layout / "config.env"  # the ClaudeMask layout keeps both files in the folder it runs from
    return PROJECT_ROOT / "config.env"


def _with_features() -> None:
    """Declare every feature (bot/features ``FEATURES``) before settings are read: each one's settings
    section registers with it, so its keys are loaded and checked, never warned about as unknown."""
    from bot.features import FEATURES

    assert FEATURES


def _load(args: argparse.Namespace, *, discord: bool,
          dashboard: bool = False) -> tuple[Settings, CharacterSource, str]:
    """The settings, the character and why that character folder (for the start-up log)."""
    from bot.core.character import CharacterSource
    from bot.core.persona.template import refuse_template, warn_unedited_template

    choice = choose_character_dir(args.character)
    character_dir = choice.folder
    refuse_template(character_dir)  # characters/_template is what new-character copies, not a character
    config_file = _config_file(args.config, character_dir if choice.root_layout else None)
    # The level before anything is loaded: loading logs at INFO too (a mature character, a key no longer
    # needed), and those lines must reach the operator.
    setup_logging(early_log_level(config_file, character_dir, console=args.console))
    # The dashboard alone needs neither Discord nor Claude, but its own token.
    _with_features()
    settings = load_settings(character_dir, config_file, require_discord=discord,
                             require_anthropic=not dashboard, require_dashboard=dashboard)
    character = CharacterSource(character_dir, config_file)
    character.load()  # a folder without a prompt fails here, before anything connects
    prompt = read_sources(config_file, character_dir).values.get("core_prompt") or ""
    warn_unedited_template(character_dir, prompt)  # a new-character folder not yet written: it runs, warned
    for folder in settings.ensemble_dirs:  # and so does any other character the bot plays
        refuse_template(folder)
        warn_unknown_character_keys(folder)
        CharacterSource(folder, config_file).load(report=False)  # the bot's own load reports it
    if discord:  # a token no login could take is said now, not as Discord's refusal
        check_discord_token(settings.secrets.discord_token, settings.origins,
                            settings.discord.discord_api_base_url)
    return settings, character, choice.why


def run(argv: list[str]) -> int:
    args = parse_args(argv)
    if args.command in ("import-card", "new-character"):
        from bot.core.persona.cli import import_card_command, new_character_command

        where = args.dir or PROJECT_ROOT / "characters"
        if args.command == "new-character":
            return new_character_command(args.name, where, args.as_name, PROJECT_ROOT)
        return import_card_command(args.file, where, args.as_name, args.lorebook, PROJECT_ROOT)
    if args.command == "export-card":
        return export(args)
    setup_logging()
    ctrl_c = StartupCtrlC()
    if args.console:
        # A Ctrl-C while the console starts is noted here and answered at the next step (bye, exit 0),
        # never a KeyboardInterrupt raised wherever start-up happens to be (an event loop being closed...).
        ctrl_c.install()
    if args.command is None and not args.console:
        # Until the bot installs its own handlers (bot/runtime/lifecycle.py, as it starts to connect), a
        # stop is answered here: exit 0 and a line, not a silent death with 143.
        signal.signal(signal.SIGTERM, stop_before_connecting)
    # The flags are the environment's SHARD_IDS / SHARD_COUNT, spelled on the command line.
    if args.shard_ids is not None:
        os.environ["SHARD_IDS"] = args.shard_ids
    if args.shard_count is not None:
        os.environ["SHARD_COUNT"] = str(args.shard_count)
    if args.command == "cluster":
        return run_cluster_status(args)
    if args.command == "health":
        return run_health(args)
    dashboard = args.command == "dashboard"
    settings, character, why = _load(args, discord=not args.console and args.command is None,
                                     dashboard=dashboard)
    setup_logging(settings.storage.log_level)
    log.info("character folder: %s (%s)", settings.character_dir, why)
    if ctrl_c.seen:
        return bye()
    from bot.runtime.startup import check_database, claim_sqlite_file, say_timezone

    say_timezone(settings)  # where the character lives in time, or that it is only this machine's

    if settings.resolved_database_url().startswith("postgresql"):
        log.info("starting: checking the database at %s", settings.safe_database_url())
    asyncio.run(check_database(settings))  # an unreachable database stops here, before Discord is contacted
    if ctrl_c.seen:
        return bye()
    if dashboard:
        return run_dashboard(args, settings, character)
    if args.console:
        from bot.runtime.console import console_logging, run_console

        console_logging(settings)  # the chat has the terminal: logs go to a file (warnings still show)
        return asyncio.run(run_console(settings, character, args.as_user,
                                       interrupted_while_starting=lambda: ctrl_c.seen))
    if args.command == "consolidate":
        from bot.runtime.consolidation_cli import run_consolidation_cli

        return asyncio.run(run_consolidation_cli(settings, character))
    claim_sqlite_file(settings)  # a second bot on one SQLite file would answer every message again
    return run_bot(settings, character)


def export(args: argparse.Namespace) -> int:
    from bot.core.persona.transfer import default_export_path, export_folder

    folder = resolve_folder(args.folder)
    if not folder.is_dir():
        raise ConfigError(args.folder, "folder", missing_folder(folder))
    env = read_sources(_config_file(args.config), folder).values
    out = args.out or default_export_path(folder, PROJECT_ROOT / "exports", args.png)
    path = export_folder(folder, env, out, png=args.png, version=3 if args.v3 else 2)
    left_out = ""
    if (folder / "identity.json").is_file():  # a card has no place for what the bot seeds in its database
        left_out = (f" (left out: {folder / 'identity.json'}, the identity entries Kindred keeps in its "
                    "database; a SillyTavern card has no field for them: copy the file beside the card to "
                    "keep them)")
    print(f"exported {folder} as {path}{left_out}")
    return 0
def run_dashboard(args: argparse.Namespace, settings: Settings, character: CharacterSource) -> int:
    from bot.operator.dashboard import serve_alone

    port = args.port if args.port is not None else settings.dashboard.dashboard_port or DASHBOARD_PORT
    if not 0 < port < 65536:
        raise ConfigError("--port", "dashboard_port", f"must be between 1 and 65535, got {port}")
    host = (args.host or settings.dashboard.dashboard_host).strip()
    origin = "--port" if args.port is not None else None
    return asyncio.run(serve_alone(settings, character, host, port, origin))


def _database_settings(args: argparse.Namespace) -> Settings:
    """The settings of a command that only reads the database (no token or key needed)."""
    choice = choose_character_dir(args.character)
    config_file = _config_file(args.config, choice.folder if choice.root_layout else None)
    _with_features()
    settings = load_settings(choice.folder, config_file, require_discord=False, require_anthropic=False)
    logging.getLogger().setLevel(logging.WARNING)  # the report alone, not the migration chatter
    return settings


def run_health(args: argparse.Namespace) -> int:
    """Docker's HEALTHCHECK: the heartbeat this machine's bot keeps in cluster_nodes (every
    cluster_heartbeat_seconds, on SQLite too) is fresh. One line either way."""
    import socket

    from bot.runtime.cluster import local_health
    from database.store import Store

    try:
        settings = _database_settings(args)
    except ConfigError as exc:  # never "healthy", whatever exit code a config error is given elsewhere
        print(f"unhealthy: config error: {exc}", file=sys.stderr)
        return 1

    async def check() -> str | None:
        # A short retry: Docker's check has 20 s; a database away that long is an answer in itself.
        store = await Store(settings.resolved_database_url(), retry_seconds=5).open()
        try:
            return await local_health(store, settings.cluster, socket.gethostname())
        finally:
            await store.close()

    try:
        problem = asyncio.run(check())
    except Exception as exc:  # the database away: unhealthy, said in one line
        problem = f"unhealthy: cannot read the heartbeat from {settings.safe_database_url()} ({exc})"[:300]
    print(problem or "healthy: the bot's heartbeat is fresh", file=sys.stderr if problem else sys.stdout)
    return 1 if problem else 0


def run_cluster_status(args: argparse.Namespace) -> int:
    from bot.runtime.cluster import cluster_status
    from database.store import Store

    settings = _database_settings(args)

    async def report() -> str:
        store = await Store(settings.resolved_database_url()).open()
        try:
            return await cluster_status(store, settings.cluster)
        finally:
            await store.close()

    print(asyncio.run(report()))
    return 0


def run_bot(settings: Settings, character: CharacterSource) -> int:
    log.info("starting: loading Kindred's modules (discord.py, the reply engine, memory)")
    from bot.discord.client import create_bot
    from bot.discord.startup import run_discord
    from bot.runtime.lifecycle import run_on, serve

    bot = create_bot(settings, character, freeze_after_setup=True)
    # bot.run's own runner, with SIGTERM/SIGINT closing the bot gracefully (bot/runtime/lifecycle.py); a
    # refused or unreachable Discord is one line and an exit code (bot/discord/startup.py).
    return run_discord(bot, settings, lambda: run_on(settings.operation.event_loop, lambda: serve(
        bot, settings.secrets.discord_token, grace_seconds=settings.operation.shutdown_grace_seconds)))


class StartupCtrlC:
    """SIGINT while the console is starting: only noted (``seen``); start-up checks it between steps and the
    console's own handler takes over once it runs."""

    def __init__(self) -> None:
        self.seen = False

    def install(self) -> None:
        signal.signal(signal.SIGINT, self._note)

    def _note(self, signum: int, _frame: object) -> None:
        self.seen = True


def bye() -> int:
    print("\n  (bye)", file=sys.stderr)
    return 0


class StoppedBeforeConnecting(SystemExit):
    """SIGTERM (or SIGHUP) while start-up is still loading, before the bot's own graceful handling: a stop
    asked for, so exit 0 with one line. A SystemExit, so that it leaves an event loop that is running too."""


def stop_before_connecting(signum: int, _frame: object) -> None:
    # The stop unwinds start-up wherever it is (an event loop half built, a coroutine made and not yet
    # awaited): what it leaves half made would print warnings and "Exception ignored" tracebacks around the
    # one line. Nothing that needs finishing was started (the bot had not connected), so they are dropped.
    warnings.simplefilter("ignore", RuntimeWarning)
    sys.unraisablehook = lambda _unraisable: None
    raise StoppedBeforeConnecting(0)


def config_error_exit_code() -> int:
    """Exit 2 on a config error; KINDRED_CONFIG_ERROR_EXIT_CODE changes it for a supervisor that should
    treat it otherwise (0: a systemd unit with Restart=on-failure does not loop on it). Never for `health`,
    which says unhealthy (exit 1) on a config error."""
    value = os.environ.get("KINDRED_CONFIG_ERROR_EXIT_CODE", "").strip()
    return int(value) if value.isdigit() and int(value) < 256 else 2


def main() -> None:
    stopped = False
    try:
        code = run(sys.argv[1:])
    except StoppedBeforeConnecting:
        stopped, code = True, 0
    except ConfigError as exc:
        print(f"config error: {exc}", file=sys.stderr)
        code = 2
    except SchemaNotReady as exc:  # another process's migration never ended: the reason, not a stack
        print(f"database error: {exc}", file=sys.stderr)
        code = 1
    except ModuleNotFoundError as exc:  # a package imported later (discord, anthropic...) missing
        if exc.name is None or exc.name.split(".")[0] in ("bot", "cogs", "database", "memory", "personaflow"):
            raise
        print(MISSING_PACKAGES.format(python=sys.executable, module=exc.name), file=sys.stderr)
        code = 1
    except KeyboardInterrupt:
        code = 130
        if "--console" in sys.argv[1:]:  # Ctrl-C while the console starts: it leaves as it would later
            code = bye()
    if stopped:
        print("stopped before connecting (SIGTERM during start-up)", file=sys.stderr)
    if code == 2:  # every config error (the settings, a refused token, the intent) exits 2 by here
        code = config_error_exit_code()
    end(code)


def end(code: int) -> None:
    """Exit with ``code``. While the embedding model still loads in its daemon thread (a stop, or a failed
    start-up check, seconds after the start), the process ends now: the interpreter's teardown would run
    beside that thread inside torch, and nothing is left to save (the bot has closed its database)."""
    embeddings = sys.modules.get("memory.embeddings")
    loader = getattr(embeddings, "LOADER_THREAD", None)
    if loader is not None and any(t.name == loader and t.is_alive() for t in threading.enumerate()):
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    sys.exit(code)


if __name__ == "__main__":
    main()
