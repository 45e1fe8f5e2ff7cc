"""Why a core-memory version was kept: a code and its detail (database/records.py ``Archived``), never a
sentence a reader must take apart. The English sentences kept before become codes (migration 0048) and
back (its downgrade), and each code is said in the reader's language."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from sqlalchemy import text

from bot.operator.admin.language import version_reason
from database.engine import make_engine
from database.records import Archived, VersionReason
from database.store import Store
from tests.dbtools import migrate_to, reset_schema

BEFORE = "0047_settings_change_triggers"
# Each form a reason was kept in, and what it is now.
KEPT = {
    "before add (summary_dm)": VersionReason(Archived.ADDED, "summary_dm"),
    "before edit": VersionReason(Archived.EDITED),
    "before delete": VersionReason(Archived.DELETED),
    "before restore of version 3": VersionReason(Archived.RESTORED, "3"),
    "summarization of channel:42": VersionReason(Archived.SUMMARIZED, "channel:42"),
    "summarization of dm": VersionReason(Archived.SUMMARIZED, "dm"),
    "facts changed": VersionReason(Archived.FACTS_CHANGED),
    "no form known": VersionReason("no form known"),  # as stored, with no detail
}


async def test_the_sentences_kept_before_become_codes_and_back(db_url: str) -> None:
    at = datetime(2026, 11, 1, 8, tzinfo=UTC)
    await reset_schema(db_url)
    engine = make_engine(db_url)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(migrate_to(BEFORE))
            await conn.execute(text("INSERT INTO users (id, name, is_bot, premium, first_seen, last_seen) "
                                    "VALUES (7, 'alice', false, false, :t, :t)"), {"t": at})
            for n, reason in enumerate(KEPT):  # the snapshot tells the rows apart
                await conn.execute(text(
                    "INSERT INTO core_memory_versions (character, user_id, snapshot, reason, created_at) "
                    "VALUES ('finn', 7, :snap, :reason, :t)"),
                    {"snap": json.dumps([{"content": f"memory {n}", "source": "admin"}]), "reason": reason,
                     "t": at})
        async with engine.begin() as conn:
            await conn.run_sync(migrate_to("head"))
        store = await Store(db_url).open()
        try:
            versions = await store.memories.core_memory_versions("finn", 7)
        finally:
            await store.close()
        read = {items[0]["content"]: why for _, _, why, items in versions}
        assert read == {f"memory {n}": why for n, why in enumerate(KEPT.values())}
        async with engine.begin() as conn:
            await conn.run_sync(migrate_to(BEFORE, down=True))
        async with engine.connect() as conn:
            back = (await conn.execute(text("SELECT reason FROM core_memory_versions ORDER BY id"))).scalars()
            assert list(back) == list(KEPT)
        async with engine.begin() as conn:
            await conn.run_sync(migrate_to("head"))  # as the fixture gave it
    finally:
        await engine.dispose()


@pytest.mark.parametrize(("language", "lines"), [
    ("en", ["before a memory was added (from DMs or private places, private)", "before an edit",
            "before a deletion", "before version #3 was restored",
            "when the conversation in <#42> was summarized", "when a private conversation was summarized",
            "when the facts they drew on changed", "no form known"]),
    ("de", ["bevor eine Erinnerung hinzukam (aus DMs oder privaten Orten, privat)",
            "vor einer Änderung", "vor einer Löschung", "bevor Version #3 wiederhergestellt wurde",
            "als das Gespräch in <#42> zusammengefasst wurde",
            "als ein privates Gespräch zusammengefasst wurde",
            "als sich die Fakten änderten, auf denen sie beruhten", "no form known"]),
])
def test_each_code_is_said_in_the_readers_language(language: str, lines: list[str]) -> None:
    assert [version_reason(why, language) for why in KEPT.values()] == lines
    assert version_reason(None, language) == version_reason(VersionReason(""), language)
