"""The server tools' section of config.env (named in its ``FEATURE``; read as
``settings.section(ServerToolSettings)``). Not ``settings.py``: that is the per-server ``/settings``."""

from dataclasses import dataclass
from typing import ClassVar

from bot.core.config.keys import key


@dataclass(frozen=True)
class ServerToolSettings:
    """What the character may look at and do in a server while replying (bot/features/servertools/knowing.py):
    read-only tools, each answering from this server only, and a reaction from an allow-list."""

    TITLE: ClassVar[str] = "Knowing the server"
    server_tools: bool = key(
        False, "Let the character use the server's tools while replying in a server: member_info (a "
        "member's display name, roles and joined date), scheduled_events (the server's events) and "
        "recent_messages (what was said in this channel), and react (below). Read-only; people forgotten "
        "or not remembered (/forget_me, memory_consent) are left out. /bot server-tools switches them off "
        "for a channel or a server (never on past this setting). Their declarations add about 400 input "
        "tokens to each request there, read from the cache after the first.")
    server_tools_recent_lines: int = key(
        30, "Lines of this channel recent_messages returns at most.", min=1, max=100)
    react_emojis: str = key(
        "👍,❤️,😂,🎉,😮,😢", "Comma-separated emoji the character may react with to the message it "
        "answers (the react tool, where server_tools is on; in DMs too); empty: no react tool.")
