"""Retention and the database's files (issue 49 item 9): old model-call rows are added up per day before
they go, so the dashboard's cost history and /status's totals stay; the archive is bounded; a SQLite
database a local run creates is readable by its owner only. On SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import json
import os
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bot.core.character import CharacterSource
from bot.core.claude import ClaudeClient
from database.records import SeenMessage
from database.store import Store
from memory import episodes
from memory.consent import Consent
from memory.consolidation import Consolidator
from memory.facts import FactCache
from memory.recall import Recall
from tests.dbtools import archived_count
from tests.fakes import PROCESS_WAIT
from tests.fakes.claude_server import FakeClaude
from tests.harness import eventually, spawn_main
from tests.memory_support import FINN, HashEmbedder, consolidation_responder, memory_settings, seen

NOW = datetime(2026, 11, 25, 13, 0, tzinfo=UTC)


def call(model: str, when: datetime, *, cost: float = 0.25, ok: bool = True, user: int = 5) -> dict[str, Any]:
    return {"user_id": user, "purpose": "reply", "model": model, "input_tokens": 100, "output_tokens": 20,
            "cache_creation_tokens": 3, "cache_read_tokens": 40, "cost": cost, "latency_ms": 1.0, "ok": ok,
            "created_at": when}


async def test_old_model_calls_are_added_up_per_day_and_the_cost_history_stays(store: Store) -> None:
    old, older = NOW - timedelta(days=100), NOW - timedelta(days=200)
    await store.usage.record_all([
        call("opus", older), call("opus", older + timedelta(hours=1), ok=False), call("haiku", older),
        call("haiku", old, cost=1.0), call("haiku", NOW - timedelta(days=10)), call("opus", NOW)])
    since = NOW - timedelta(days=365)
    history, models = await store.stats.daily_usage(since), await store.usage.by_model()
    assert len(history) == 4

    pruned = await store.retention.prune(NOW, usage_days=90, archive_days=0)
    assert (pruned.calls, pruned.days, pruned.archived) == (4, 3, 0)
    assert (await store.usage.totals()).calls == 2  # the rows of the last 90 days are still rows
    assert await store.stats.daily_usage(since) == history  # the dashboard's cost history is unchanged
    assert await store.usage.by_model() == models  # and so is /status's per-model total
    assert await store.stats.daily_usage(NOW - timedelta(days=150)) == history[1:]

    # A second run finds nothing more; a call recorded late for a day already added up is added to it.
    assert (await store.retention.prune(NOW, usage_days=90, archive_days=0)).calls == 0
    await store.usage.record_all([call("opus", older + timedelta(hours=2))])
    assert (await store.retention.prune(NOW, usage_days=90, archive_days=0)).calls == 1
    day = (await store.stats.daily_usage(since))[0]
    assert (day.day, day.calls, day.failures, day.cost) == (older.strftime("%Y-%m-%d"), 4, 1, 1.0)
    assert (await store.usage.totals()).calls == 2


async def test_whole_days_are_added_up_and_zero_keeps_every_row(store: Store) -> None:
    edge = (NOW - timedelta(days=30)).replace(hour=0, minute=0)
    await store.usage.record_all([call("opus", edge - timedelta(seconds=1)), call("opus", edge),
                                  call("opus", NOW - timedelta(days=3000))])
    assert (await store.retention.prune(NOW, usage_days=0, archive_days=0)).calls == 0
    assert (await store.usage.totals()).calls == 3
    assert (await store.retention.prune(NOW, usage_days=30, archive_days=0)).calls == 2  # not edge's own day
    assert (await store.usage.totals()).calls == 1


async def test_archived_messages_older_than_the_retention_go(store: Store) -> None:
    def logged(i: int, when: datetime) -> SeenMessage:
        return SeenMessage(i, 10, 1, 5, "alice", False, False, f"message {i}", when)

    for i, days in enumerate((400, 366, 300, 1), start=1):
        await store.log.log_message(logged(i, NOW - timedelta(days=days)))
    await store.consolidation.archive_logged([1, 2, 3, 4])
    assert (await store.retention.prune(NOW, usage_days=0, archive_days=0)).archived == 0
    assert (await store.retention.prune(NOW, usage_days=0, archive_days=365)).archived == 2
    assert (await store.retention.prune(NOW, usage_days=0, archive_days=365)).archived == 0
    assert (await store.retention.prune(NOW, usage_days=0, archive_days=30)).archived == 1


async def test_a_new_sqlite_database_is_readable_by_its_owner_only(tmp_path: Path) -> None:
    folder = tmp_path / "data"
    store = await Store(f"sqlite+aiosqlite:///{folder}/finn.db").open()
    try:
        await store.usage.record_all([call("opus", NOW)])
        files = sorted(p.name for p in folder.iterdir())
        assert files == ["finn.db", "finn.db-shm", "finn.db-wal"]  # open, in WAL mode
        modes = {name: stat.S_IMODE((folder / name).stat().st_mode) for name in files}
    finally:
        await store.close()
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert modes == dict.fromkeys(files, 0o600)


async def test_the_daily_retention_job_applies_the_settings(make_harness: Any) -> None:
    """The round is due half an hour after the daily consolidation and prunes by the configured days."""
    h = await make_harness(usage_retention_days="30", archive_retention_days="0", consolidation_hour_utc="4")
    tasks = h.bot.services.memory_jobs

    async def row() -> Any:
        return await h.store.timers.get(f"retention:{h.bot.services.pipeline.character_key}")

    due = (await eventually(row, "the retention round's row")).due
    assert (due.hour, due.minute) == (4, 30)
    now = datetime.now(UTC)
    await h.store.usage.record_all([call("opus", now - timedelta(days=40)), call("opus", now)])
    pruned = await tasks.retention()
    assert pruned is not None and (pruned.calls, pruned.days) == (1, 1)
    assert (await h.store.usage.totals()).calls == 1
    assert sum(d.calls for d in await h.store.stats.daily_usage(now - timedelta(days=60))) == 2


async def test_consolidate_now_applies_the_retention_to_the_archive_and_its_words(
        store: Store, fake_claude: FakeClaude, tmp_path: Path) -> None:
    """As an operator runs it: ``main.py consolidate --now`` on a database holding archived messages past
    ``archive_retention_days`` and their excerpts. Both go, recall (its cache kept from before) quotes them
    no more, and what is younger stays."""
    fake_claude.responder = consolidation_responder()
    old, recent = datetime.now(UTC) - timedelta(days=400), datetime.now(UTC) - timedelta(days=10)
    alice, dm = 5, 77
    for m in (seen(1, alice, "my sister named her greyhound Biscuit", name="alice", dm=True, channel=dm,
                   at=old),
              SeenMessage(2, dm, None, 900, "Finn", True, True, "Biscuit! What a name for a greyhound.",
                          old + timedelta(minutes=1)),
              seen(3, alice, "the bakery opens a second shop in spring", name="alice", dm=True, channel=dm,
                   at=recent)):
        await store.log.log_message(m)
    settings = memory_settings(store.url, fake_claude.base_url)
    claude = ClaudeClient(settings, store.usage)
    embedder = HashEmbedder()
    try:
        consolidator = Consolidator(store, claude, settings.memory, settings.character_name_slug,
                                    CharacterSource(FINN, None, environ={}).current, embedder)
        assert (await consolidator.run()).committed == 1
        assert await consolidator.embedded() == 3
    finally:
        await claude.close()
    recall = Recall(FactCache(store.facts), store.people, embedder, settings.memory,
                    Consent(store.servers, store.people, settings.memory.memory_consent),
                    episodes.ExcerptCache(store.excerpts))

    async def recalled() -> list[str]:
        _, said = await recall.recall_for(alice, "what is the greyhound called? and the bakery?",
                                          private=True, channel_id=dm)
        return sorted(e.content for e in said)

    assert await recalled() == ["Biscuit! What a name for a greyhound.",
                                "my sister named her greyhound Biscuit",
                                "the bakery opens a second shop in spring"]
    assert await archived_count(store) == 3

    config = tmp_path / "config.env"
    config.write_text(f'DATABASE_URL="{store.url}"\nDEFAULT_MODEL="claude-test-default"\n'
                      'ARCHIVE_RETENTION_DAYS="365"\n')
    env = {k: v for k, v in os.environ.items()
           if k.lower() not in {"discord_token", "anthropic_api_key", "database_url", "log_level"}}
    env.update({"ANTHROPIC_API_KEY": "fake", "ANTHROPIC_BASE_URL": fake_claude.base_url})
    proc = await spawn_main("consolidate", "--now", "--character", str(FINN), "--config", str(config),
                            cwd=tmp_path, env=env, stderr=asyncio.subprocess.PIPE)
    _, raw = await asyncio.wait_for(proc.communicate(), timeout=PROCESS_WAIT)
    err = raw.decode()
    assert proc.returncode == 0, err
    assert "retention done:" in err and "2 archived messages deleted, with 2 excerpts" in err, err

    assert await archived_count(store) == 1
    assert [e.content for e in await store.excerpts.rows(alice)] == [
        "the bakery opens a second shop in spring"]
    assert await recalled() == ["the bakery opens a second shop in spring"]


async def test_reactions_kept_with_a_feeling_expire_with_the_archive(store: Store) -> None:
    await store.people.ensure_user(7, "alice")
    old, new = NOW - timedelta(days=3), NOW - timedelta(hours=1)

    def reacted(at: datetime, emoji: str) -> dict[str, Any]:
        return {"m": 1, "c": 2, "g": 0, "k": 0, "e": emoji, "at": at.isoformat()}

    feeling = json.dumps({"levels": {}, "at": NOW.isoformat(),
                          "reacted": [reacted(old, "👎"), reacted(new, "❤")]})
    await store.feelings.move("finn", 7, lambda _old, _consent: feeling)
    pruned = await store.retention.prune(NOW, usage_days=0, archive_days=2)
    assert pruned.reactions == 1 and "1 kept reactions let go" in pruned.describe()
    kept = json.loads((await store.feelings.read("finn", 7))[0])["reacted"]
    assert [r["e"] for r in kept] == ["❤"]
