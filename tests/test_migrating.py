"""The start-up upgrade loads Alembic only for a database behind the newest migration
(database/migrating.py): the newest ids read from the versions folder as text match Alembic's own, an
up-to-date database opens without running it, and one a migration behind is still upgraded."""

from __future__ import annotations

import pytest
from alembic import command
from alembic.script import ScriptDirectory

from database.engine import make_engine
from database.migrating import MIGRATIONS, head_revisions
from database.store import Store
from tests.dbtools import migrate_to, reset_schema


def test_the_heads_read_as_text_are_alembics() -> None:
    assert head_revisions() == frozenset(ScriptDirectory(str(MIGRATIONS)).get_heads())


async def test_an_up_to_date_database_opens_without_alembic(db_url: str,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    upgrades: list[str] = []
    monkeypatch.setattr(command, "upgrade", lambda _cfg, revision: upgrades.append(revision))
    store = await Store(db_url).open()
    await store.close()
    assert upgrades == []


async def test_a_database_behind_is_upgraded(db_url: str) -> None:
    scripts = ScriptDirectory(str(MIGRATIONS))
    head = scripts.get_current_head()
    assert head is not None
    behind = scripts.get_revision(head).down_revision
    assert isinstance(behind, str)
    await reset_schema(db_url)
    engine = make_engine(db_url)
    async with engine.begin() as conn:
        await conn.run_sync(migrate_to(behind))
    store = await Store(db_url).open()
    await store.close()
    async with engine.connect() as conn:
        stored = (await conn.exec_driver_sql("SELECT version_num FROM alembic_version")).scalars().all()
    await engine.dispose()
    assert stored == [head]
