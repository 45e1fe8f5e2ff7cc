"""What the operator sees while the bot starts, before Discord is contacted (the Discord side of start-up is
bot/discord/startup.py):

* :func:`quiet_libraries`: at INFO the log says what Kindred did, not what its libraries did;
* :func:`check_database`: an unreachable PostgreSQL, or a SQLite file that cannot be made, is a config error
  (exit 2) before the Discord login;
* :func:`claim_sqlite_file`: one bot process per SQLite file (a second one would answer every message too);
* :func:`say_timezone`: the character's time zone, and where it is only the machine's, how to set it (a
  Japanese character on a UTC server would be sleepy at Tokyo's lunchtime and say "6:17 AM").
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import IO

import discord

from bot.core.config import Settings
from bot.core.errors import ConfigError
from bot.core.localtime import load_zone
from database.engine import create_private, sqlite_file
from database.store import Store

log = logging.getLogger("kindred")

# Libraries whose INFO lines are their own business (plugin set-up, job bookkeeping, model downloads).
QUIET_LIBRARIES = ("alembic", "apscheduler", "sentence_transformers", "transformers", "huggingface_hub",
                   "torch", "filelock", "urllib3", "httpx", "httpx2", "httpcore", "anthropic", "openai",
                   "discord.client", "discord.gateway", "discord.shard", "discord.http")
DATABASE_CONNECT_TIMEOUT = 10.0  # seconds: a server that does not answer in this is as good as absent


def say_timezone(settings: Settings) -> str:
    """The start-up line of the character's time zone (logged, and returned for tests)."""
    zone = settings.alive.timezone.strip()
    if zone:
        line = f"time zone: {zone} (timezone)"
    else:
        line = (f"time zone: {load_zone('').key}, this machine's (timezone is not set): the character's day, "
                "quiet_hours, check-ins and the times it says follow it; set timezone= in its character.env "
                "to where it lives (an IANA name: Asia/Tokyo, Europe/Madrid, America/Sao_Paulo)")
    log.info("%s", line)
    return line


def quiet_libraries(level: str) -> None:
    """Below INFO (DEBUG) the libraries speak as they like; otherwise only their warnings and errors.

    discord.py's warnings that PyNaCl and davey are missing are about voice channels, which Kindred joins
    only with voice_channels on, and then says itself what a call lacks, in its own words
    (bot/features/voice/setup.py): they are switched off at the source."""
    discord.VoiceClient.warn_nacl = False
    discord.VoiceClient.warn_dave = False
    if logging.getLevelName(level) <= logging.DEBUG:
        return
    for name in QUIET_LIBRARIES:
        logging.getLogger(name).setLevel(logging.WARNING)
    # The MCP SDK logs a third party's garbage as its own errors, a traceback each: what failed is said
    # once, in one line, by the MCP feature (bot/features/mcp/link.py).
    logging.getLogger("mcp").setLevel(logging.CRITICAL)
    # transformers draws a "Loading weights" bar when the embedding model loads (warm-up, consolidation);
    # huggingface_hub reads this when first imported, which is later (the model loads after start-up).
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")


def refused_hint(url: str, exc: BaseException) -> str:
    """Nothing listens where the URL points (connection refused): the likeliest cause, said plainly."""
    causes: list[BaseException] = []
    seen: BaseException | None = exc
    while seen is not None and len(causes) < 10:
        causes.append(seen)
        seen = seen.__cause__ or seen.__context__ or getattr(seen, "orig", None)
    if not any(isinstance(c, ConnectionRefusedError) or "connect call failed" in str(c).lower()
               or "connection refused" in str(c).lower() for c in causes):
        return ""
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    return f"; is the server running at {parsed.host or 'localhost'}:{parsed.port or 5432}?"


async def check_database(settings: Settings) -> None:
    """Connect once to a PostgreSQL ``DATABASE_URL`` (SQLite makes its file): a server that cannot be
    reached, or refuses us, stops start-up here with the reason, before Discord is contacted."""
    url = settings.resolved_database_url()
    if not url.startswith("postgresql"):
        check_sqlite_file(settings)
        return
    from sqlalchemy.ext.asyncio import create_async_engine

    engine = create_async_engine(url, connect_args={"timeout": DATABASE_CONNECT_TIMEOUT})
    try:
        async with engine.connect():
            pass
    except Exception as exc:  # every driver error, refused or unreachable, is the same answer to the operator
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()
        detail = reason[0] if reason else type(exc).__name__
        raise ConfigError(settings.origins.get("database_url", "environment"), "database_url",
                          f"cannot connect to {settings.safe_database_url()}: {detail[:200]}"
                          + refused_hint(url, exc)) from None
    finally:
        await engine.dispose()


def check_sqlite_file(settings: Settings) -> None:
    """The SQLite file (and its folder) made now, as the database will: a folder that is a file, or one this
    user may not write (a volume owned by root), is the database_url's problem, said before Discord."""
    path = sqlite_file(settings.resolved_database_url())
    if path is None:
        return
    if problem := not_a_sqlite_file(path):
        raise ConfigError(_url_origin(settings), "database_url", problem)
    try:
        create_private(path)
        if not os.access(path, os.R_OK | os.W_OK) or not os.access(path.parent, os.W_OK | os.X_OK):
            raise PermissionError(f"user {os.getuid()} may not write it or its folder")
    except OSError as exc:
        raise ConfigError(_url_origin(settings), "database_url",
                          f"cannot create the SQLite database {path} ({exc.strerror or exc}): point "
                          "DATABASE_URL at a file in a folder this user can write (in Docker: a data volume "
                          "the image's user owns)") from None


SQLITE_HEADER = b"SQLite format 3\x00"  # the first 16 bytes of every SQLite database file


def not_a_sqlite_file(path: Path) -> str | None:
    """What is wrong with a SQLite URL's path that already exists and cannot be the database: a folder, or a
    file of something else (the store would fail on it with a long traceback from deep in the driver)."""
    fix = "point DATABASE_URL at a SQLite file (a new one is made), e.g. sqlite:///{}"
    if path.is_dir():
        return f"{path} is a folder, not a SQLite file: {fix.format(path / 'kindred.db')}"
    try:
        with path.open("rb") as file:
            head = file.read(len(SQLITE_HEADER))
    except OSError:
        return None  # missing or unreadable: check_sqlite_file's own attempt to make it names the problem
    if head and head != SQLITE_HEADER:  # an empty file is fine: SQLite takes it as a new database
        return (f"{path} is not a SQLite database (a file of something else): "
                f"{fix.format(path.with_name('kindred.db'))}, or at Kindred's own database file")
    return None


def _url_origin(settings: Settings) -> str:
    return settings.origins.get("database_url") or "DATABASE_URL not set (the default file)"


_claims: list[IO[bytes]] = []  # the lock files held for the life of the process


def claim_sqlite_file(settings: Settings) -> None:
    """One bot per SQLite file: a second process on it would log in too and answer every message again
    (two model calls), both leading the scheduled work. PostgreSQL is how processes share a database (a
    cluster). The claim is an exclusive lock on ``<file>.lock``, released by the system when the process
    ends, however it ends."""
    path = sqlite_file(settings.resolved_database_url())
    if path is None:
        return
    try:
        import fcntl
    except ImportError:  # not on this system: nothing to claim with
        return
    lock = path.with_name(path.name + ".lock")
    handle = open(lock, "a+b")  # noqa: SIM115 - held open until the process ends
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        pid = handle.read().decode(errors="replace").strip()
        handle.close()
        raise ConfigError(_url_origin(settings), "database_url",
                          f"another Kindred bot{f' (pid {pid})' if pid.isdigit() else ''} is already "
                          f"running on {path}: stop it first (one bot per SQLite file, though the console, "
                          "the dashboard and consolidate may run beside it; bots that share a database need "
                          "PostgreSQL)") from None
    handle.truncate(0)
    handle.write(str(os.getpid()).encode())
    handle.flush()
    _claims.append(handle)


APP_COMMANDS_STATE_KEY = "app_commands_hash"


async def commands_digest(store: Store) -> str:
    """The fingerprint of the slash commands last uploaded to Discord (bot/discord/client.py)."""
    return await store.state.get(APP_COMMANDS_STATE_KEY)


async def remember_commands_digest(store: Store, digest: str) -> None:
    await store.state.set(APP_COMMANDS_STATE_KEY, digest)
