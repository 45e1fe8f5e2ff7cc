"""What the operator sees while the bot starts: checks before Discord is contacted, the invite link, one
"connected" line, and each way start-up can fail as one line and an exit code instead of a traceback.

* :func:`quiet_libraries`: at INFO the log says what Kindred did, not what its libraries did;
* :func:`check_database`: an unreachable PostgreSQL is a config error (exit 2) before the Discord login;
* :func:`log_invite` / :func:`announce_connected`: the invite URL for this application, then
  "connected as NAME in N servers" once;
* :func:`run_discord`: ``bot.run`` with the privileged-intent refusal (exit 2) and an unreachable Discord
  (exit 1) as one line each.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable
from typing import Any

import aiohttp
import discord

from bot.config import Settings
from bot.config.credentials import rejected
from bot.errors import ConfigError
from bot.permissions import INVITE_PERMISSIONS, INVITE_SCOPES

log = logging.getLogger("kindred")

# Libraries whose INFO lines are their own business (plugin set-up, job bookkeeping, model downloads).
QUIET_LIBRARIES = ("alembic", "apscheduler", "sentence_transformers", "transformers", "huggingface_hub",
                   "torch", "filelock", "urllib3", "httpx", "httpx2", "httpcore", "anthropic", "openai",
                   "discord.client", "discord.gateway", "discord.shard", "discord.http")
DATABASE_CONNECT_TIMEOUT = 10.0  # seconds: a server that does not answer in this is as good as absent
PORTAL = "https://discord.com/developers/applications"


def quiet_libraries(level: str) -> None:
    """Below INFO (DEBUG) the libraries speak as they like; otherwise only their warnings and errors.

    discord.py's warnings that PyNaCl and davey are missing are about voice channels, which Kindred does
    not join (voice messages are files): they are switched off at the source."""
    discord.VoiceClient.warn_nacl = False
    discord.VoiceClient.warn_dave = False  # type: ignore[attr-defined]
    if logging.getLevelName(level) <= logging.DEBUG:
        return
    for name in QUIET_LIBRARIES:
        logging.getLogger(name).setLevel(logging.WARNING)
    # transformers draws a "Loading weights" bar when the embedding model loads (warm-up, consolidation);
    # huggingface_hub reads this when first imported, which is later (the model loads after start-up).
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")


async def check_database(settings: Settings) -> None:
    """Connect once to a PostgreSQL ``DATABASE_URL`` (SQLite makes its file): a server that cannot be
    reached, or refuses us, stops start-up here with the reason, before Discord is contacted."""
    url = settings.resolved_database_url()
    if not url.startswith("postgresql"):
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
                          f"cannot connect to {settings.safe_database_url()}: {detail[:200]}") from None
    finally:
        await engine.dispose()


def invite_url(application_id: int) -> str:
    return discord.utils.oauth_url(application_id, permissions=INVITE_PERMISSIONS, scopes=INVITE_SCOPES)


def log_invite(bot: Any) -> None:
    """The invite link for this application (known after the login), with the permissions Kindred uses."""
    if bot.application_id:
        log.info("invite link for application %s: %s", bot.application_id, invite_url(bot.application_id))


async def announce_connected(bot: Any) -> None:
    """``on_ready`` listener: one line, once per process (a reconnect without resume fires on_ready again)."""
    if getattr(bot, "_kindred_announced", False) or bot.user is None:
        return
    bot._kindred_announced = True
    servers = len(bot.guilds)
    log.info("connected as %s in %d server%s", bot.user.name, servers, "" if servers == 1 else "s")


def _fail(line: str, code: int) -> int:
    print(line, file=sys.stderr)
    return code


def run_discord(bot: Any, settings: Settings, run: Callable[[], None]) -> int:
    """``run()`` (the bot until it closes); each way the connection can fail at start-up is one line and an
    exit code."""
    try:
        run()
    except discord.LoginFailure:
        line = rejected("discord_token", settings.origins, "Discord", "HTTP 401 Unauthorized",
                        f"copy a new one from {PORTAL} (your application > Bot > Reset Token)")
        return _fail(f"config error: {line}", 2)
    except discord.PrivilegedIntentsRequired:
        app = f"{PORTAL}/{bot.application_id}/bot" if bot.application_id else PORTAL
        return _fail("config error: Discord refused the connection because the Message Content intent is not "
                     f"enabled for this bot: turn on 'Message Content Intent' at {app} (Privileged Gateway "
                     "Intents), then start again", 2)
    except (TimeoutError, aiohttp.ClientConnectionError, OSError, discord.GatewayNotFound) as exc:
        detail = str(exc).strip() or type(exc).__name__
        return _fail(f"cannot reach Discord at {settings.discord_api_base_url} ({detail}): check the "
                     "network, DNS and any proxy, then start again", 1)
    return int(bot.exit_code)
