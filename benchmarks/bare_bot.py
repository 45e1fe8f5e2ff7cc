"""The yardstick for bench_load's CPU figures: a bare discord.py bot doing the wire work of a message and
nothing else.

Run by ``python -m benchmarks.bench_load --bot bare`` in place of ``main.py``, on the same fakes, settings
(the environment) and event loop (uvloop). For every message it receives it writes one row to the message
log (so bench_load sees it arrive), the cheapest way each database allows: one INSERT on the event loop's
thread on SQLite (autocommit), one asyncpg statement on PostgreSQL. For an @mention it also does what any
reply costs on the wire: the typing indicator, one Messages API call (JSON over aiohttp) and the reply.
No prompt, memory, persona or batching: what is left of the bot's figure above this one is Kindred's own.
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
    write = await log_writer(env["DATABASE_URL"])
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
                body = {"model": model, "max_tokens": 300,
                        "messages": [{"role": "user", "content": m.content}]}
                async with session.post(claude, json=body, headers=headers) as response:
                    answer = await response.json()
            await m.reply(answer["content"][0]["text"])

        await bot.start(env["DISCORD_TOKEN"])


if __name__ == "__main__":
    with asyncio.Runner(loop_factory=loop_factory("uvloop")) as runner:
        runner.run(run())
