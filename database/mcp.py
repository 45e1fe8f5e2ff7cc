"""The MCP servers a server's admins added (/bot mcp add): where each is reached, and which of its tools the
character may use there (bot/features/mcp/). A server's row is its admins' choice, no one's words: who added
it is logged, not stored."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Connection,
    Integer,
    String,
    Text,
    UniqueConstraint,
    delete,
    insert,
    select,
    update,
)
from sqlalchemy.orm import Mapped, mapped_column

from database.engine import Database
from database.models import TZ, Base, utcnow

NAME_MAX, URL_MAX = 32, 500


class McpServerRow(Base):
    """One MCP server added in one Discord server; ``tools``: the allowed tool names, comma-separated."""

    __tablename__ = "mcp_servers"
    __table_args__ = (UniqueConstraint("guild_id", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    guild_id: Mapped[int] = mapped_column(BigInteger, index=True)
    name: Mapped[str] = mapped_column(String(NAME_MAX))
    url: Mapped[str] = mapped_column(String(URL_MAX))  # https://... or local:<the operator's name>
    tools: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(TZ, default=utcnow)


@dataclass(frozen=True)
class McpServer:
    """An MCP server as a server's admins added it."""

    guild_id: int
    name: str
    url: str
    tools: tuple[str, ...]  # the allow-list: only these of its tools are offered


def _server(row: tuple[int, str, str, str]) -> McpServer:
    guild_id, name, url, tools = row
    return McpServer(int(guild_id), name, url, tuple(t for t in tools.split(",") if t))


_COLUMNS = (McpServerRow.guild_id, McpServerRow.name, McpServerRow.url, McpServerRow.tools)


class McpServers:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def of(self, guild_id: int) -> list[McpServer]:
        """The servers added in ``guild_id``, by name."""
        rows = await self.db.read(lambda conn: conn.execute(
            select(*_COLUMNS).where(McpServerRow.guild_id == guild_id).order_by(McpServerRow.name)).all())
        return [_server(tuple(r)) for r in rows]  # type: ignore[arg-type]

    async def add(self, guild_id: int, name: str, url: str, tools: tuple[str, ...]) -> bool:
        """Add (or point anew, with a new allow-list) the server ``name``; whether it was new."""

        def write(conn: Connection) -> bool:
            here = (McpServerRow.guild_id == guild_id) & (McpServerRow.name == name)
            values = {"url": url, "tools": ",".join(tools)}
            if conn.execute(select(McpServerRow.id).where(here)).first() is not None:
                conn.execute(update(McpServerRow).where(here).values(**values))
                return False
            conn.execute(insert(McpServerRow).values(guild_id=guild_id, name=name, created_at=utcnow(),
                                                     **values))
            return True

        return await self.db.write(write)

    async def allow(self, guild_id: int, name: str, tools: tuple[str, ...]) -> bool:
        """Set the allow-list of ``name``; whether there is such a server here."""
        changed = await self.db.change(update(McpServerRow).where(
            (McpServerRow.guild_id == guild_id) & (McpServerRow.name == name)).values(tools=",".join(tools)))
        return bool(changed)

    async def remove(self, guild_id: int, name: str) -> bool:
        gone = await self.db.change(delete(McpServerRow).where(
            (McpServerRow.guild_id == guild_id) & (McpServerRow.name == name)))
        return bool(gone)
