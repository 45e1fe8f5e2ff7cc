"""The Discord side of start-up: the invite link, one "connected" line, and each way the connection can fail
as one line and an exit code instead of a traceback.

* :func:`log_invite` / :func:`announce_connected`: the invite URL for this application, then
  "connected as NAME in N servers" once;
* :func:`run_discord`: ``bot.run`` with the privileged-intent refusal (exit 2) and an unreachable Discord
  (exit 1) as one line each;
* :func:`watch_reconnects`: a connection lost and back as one line each, not discord.py's traceback per
  retry.
"""

from __future__ import annotations

import logging
import sys
import time
import weakref
from collections.abc import Callable
from typing import Any

import aiohttp
import discord

from bot.core.config import Settings
from bot.core.config.credentials import DISCORD_PORTAL, rejected
from bot.discord.permissions import INVITE_SCOPES, invite_permissions

log = logging.getLogger("kindred")

PORTAL = DISCORD_PORTAL


def invite_url(application_id: int, permissions: discord.Permissions) -> str:
    return discord.utils.oauth_url(application_id, permissions=permissions, scopes=INVITE_SCOPES)


def user_install_url(application_id: int) -> str:
    """The link that installs the application to a person (``/ask`` and the message menus anywhere)."""
    return (f"https://discord.com/oauth2/authorize?client_id={application_id}&integration_type=1"
            "&scope=applications.commands")


# ``bot: Any`` below: client.py's KindredMixin hands itself, a mixin the type checker does not see as a
# Client (it becomes one only in KindredBot and KindredShardedBot).
def log_invite(bot: Any) -> None:
    """The invite link for this application (known after the login), asking for the permissions the loaded
    cogs use (bot/discord/permissions.py ``invite_permissions``), with why a setting adds some."""
    if bot.application_id:
        permissions, notes = invite_permissions(bot.cogs.values())
        log.info("invite link for application %s: %s%s", bot.application_id,
                 invite_url(bot.application_id, permissions), "".join(f" ({note})" for note in notes))
        log.info("user-install link (/ask anywhere): %s", user_install_url(bot.application_id))


# The bots that said so already (weakly held: a test's bot closed and dropped is forgotten with it).
_ANNOUNCED: weakref.WeakSet[Any] = weakref.WeakSet()


async def announce_connected(bot: Any) -> None:
    """``on_ready`` listener: one line, once per process (a reconnect without resume fires on_ready again)."""
    if bot in _ANNOUNCED or bot.user is None:
        return
    _ANNOUNCED.add(bot)
    servers = len(bot.guilds)
    log.info("connected as %s in %d server%s", bot.user.name, servers, "" if servers == 1 else "s")


class ReconnectLines(logging.Filter):
    """discord.py logs every failed attempt to reconnect with its traceback, again at each retry (a short
    outage: a hundred lines). The first becomes one line naming the cause, the retries are dropped, and
    :meth:`back` says when the connection is back. A filter on discord.py's own loggers, installed once per
    process (:func:`watch_reconnects`)."""

    def __init__(self) -> None:
        super().__init__()
        self.lost_at: float | None = None

    def filter(self, record: logging.LogRecord) -> bool:
        if not str(record.msg).startswith("Attempting a reconnect"):
            return True
        if self.lost_at is not None:
            return False  # a retry: the line that it is lost was said
        self.lost_at = time.monotonic()
        error = record.exc_info[1] if record.exc_info else None
        cause = (str(error).strip() or type(error).__name__) if error is not None else "no reason given"
        record.name, record.levelno, record.levelname = log.name, logging.WARNING, "WARNING"
        record.msg, record.args = "lost the connection to Discord (%s): reconnecting", (cause[:200],)
        record.exc_info, record.exc_text = None, None
        return True

    def back(self, how: str) -> None:
        """The connection is back (``how``: resumed, or a new session); said only after a loss was."""
        if self.lost_at is None:
            return
        away = time.monotonic() - self.lost_at
        log.warning("the connection to Discord is back after %.0fs (%s)", away, how)
        self.lost_at = None


RECONNECTS = ReconnectLines()
RECONNECT_LOGGERS = ("discord.client", "discord.shard")  # where discord.py says it will reconnect


def watch_reconnects(bot: Any) -> None:
    """One line when the connection to Discord is lost, one when it is back (instead of a traceback per
    retry)."""
    for name in RECONNECT_LOGGERS:
        logger = logging.getLogger(name)
        if RECONNECTS not in logger.filters:
            logger.addFilter(RECONNECTS)

    async def resumed() -> None:
        RECONNECTS.back("session resumed")

    async def ready() -> None:
        RECONNECTS.back("new session")

    bot.add_listener(resumed, "on_resumed")
    bot.add_listener(ready, "on_ready")


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
        # The same WHERE: KEY: message form as every config error, the portal being where it is set.
        return _fail("config error: Discord developer portal: Message Content Intent: off for this bot, so "
                     f"Discord refused the connection: turn it on at {app} (Privileged Gateway Intents), "
                     "then start again", 2)
    except (TimeoutError, aiohttp.ClientConnectionError, OSError, discord.GatewayNotFound) as exc:
        detail = str(exc).strip() or type(exc).__name__
        # "KIND error: " as the config and database lines begin: a reader (or a log filter) finds them alike.
        where = settings.discord.discord_api_base_url
        return _fail(f"network error: cannot reach Discord at {where} ({detail}): check the network, DNS and "
                     "any proxy, then start again", 1)
    return int(bot.exit_code)
