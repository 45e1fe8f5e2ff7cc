"""Every message about a credential (missing, a placeholder, rejected by its service) in one form:
``<where it came from>: <key>: <what is wrong>: <what to do>``, where the source is the file that set it,
or the environment variable, and a missing one points at ``character.local.env`` (git-ignored)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

from bot.core.errors import ConfigError

ENVIRONMENT = "environment"
LOCAL_ENV = "character.local.env"  # the character folder's git-ignored file for secrets

# key -> (what it is, its environment variable)
CREDENTIALS: dict[str, tuple[str, str]] = {
    "discord_token": ("the Discord bot token", "DISCORD_TOKEN"),
    "anthropic_api_key": ("the Anthropic API key", "ANTHROPIC_API_KEY"),
    "openai_api_key": ("the API key of the openai backend", "OPENAI_API_KEY"),
    "dashboard_token": ("the dashboard's login token", "DASHBOARD_TOKEN"),
}


def source_of(key: str, origins: Mapping[str, str]) -> str:
    """Where a credential's value came from: a file's path, or ``environment variable NAME``."""
    origin = origins.get(key)
    if origin is None:
        return "not set anywhere"
    return f"environment variable {CREDENTIALS[key][1]}" if origin == ENVIRONMENT else origin


def origin_of(key: str, origins: Mapping[str, str]) -> str:
    """The WHERE of a ``WHERE: KEY: message`` line about a credential: a file's path, or ``environment`` as
    for every other key (the variable is the key in capitals)."""
    return origins.get(key) or "not set anywhere"


def unusable(key: str, origins: Mapping[str, str], character_dir: Path, why: str) -> ConfigError:
    """A credential that is not set, empty or an example placeholder (``why``: ``missing`` or
    ``still the example placeholder``)."""
    what, variable = CREDENTIALS[key]
    local = character_dir / LOCAL_ENV
    origin = origins.get(key)
    if origin == ENVIRONMENT:
        return ConfigError(ENVIRONMENT, key, f"{why}: set {what} in the {variable} environment "
                                                  f"variable, or unset it and put {key}=... in {local}")
    if origin is None:
        return ConfigError(str(local), key, f"{why}: put {what} here as {key}=..., or set the {variable} "
                                            "environment variable")
    return ConfigError(origin, key, f"{why}: put {what} here, or better in {local} (git-ignored), or set "
                                    f"the {variable} environment variable")


def rejected(key: str, origins: Mapping[str, str], by: str, detail: str, advice: str) -> str:
    """The line for a credential its service refused (``by``: the service; ``detail``: its answer)."""
    return f"{origin_of(key, origins)}: {key}: {by} rejected {CREDENTIALS[key][0]} ({detail}): {advice}"


DISCORD_PORTAL = "https://discord.com/developers/applications"
# A Discord bot token: the bot's id, a timestamp and a signature, base64url each, joined by dots.
DISCORD_TOKEN_SHAPE = re.compile(r"[A-Za-z0-9_-]{17,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{20,}")


def discord_token_problem(token: str, *, discord_itself: bool) -> str | None:
    """What is wrong with a Discord token's shape, said before it is sent: the ``Bot `` prefix of an
    Authorization header pasted with it, or (``discord_itself``: the URL is Discord's, not a compatible
    server's, whose tokens are its own business) anything that cannot be a bot token. The token itself is
    never part of the answer."""
    if token.lower().startswith("bot "):
        return ("starts with 'Bot ': put the token alone, without the 'Bot ' prefix (it is added to each "
                "request)")
    if discord_itself and not DISCORD_TOKEN_SHAPE.fullmatch(token):
        return (f"does not look like a Discord bot token (three parts of letters, digits, - and _ joined by "
                f"dots, about 70 characters): copy it again from {DISCORD_PORTAL} (your application > Bot > "
                "Reset Token)")
    return None


def check_discord_token(token: str, origins: Mapping[str, str], api_base_url: str) -> None:
    """Raise the config error for a Discord token no login could take (see discord_token_problem)."""
    problem = discord_token_problem(token, discord_itself=api_base_url.startswith("https://discord.com/"))
    if problem is not None:
        raise ConfigError(origin_of("discord_token", origins), "discord_token", problem)
