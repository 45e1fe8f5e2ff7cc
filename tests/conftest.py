"""Shared fixtures: database backends (SQLite always, PostgreSQL when TEST_DATABASE_URL is set) and the
over-the-wire harness (fake Discord + fake Claude + a real Kindred bot)."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import make_url

from database.store import Store
from tests.dbtools import reset_schema

BACKENDS = ["sqlite"] + (["postgresql"] if os.environ.get("TEST_DATABASE_URL") else [])


async def _admin_sql(url: str, sql: str) -> None:
    import asyncpg

    u = make_url(url)
    conn = await asyncpg.connect(
        host=u.host or "127.0.0.1",
        port=u.port or 5432,
        user=u.username or "postgres",
        password=u.password,
        database=u.database or "postgres",
    )
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def _run_in_thread(url: str, sql: str) -> None:
    # Session fixtures may be first requested from inside a running event loop: use a loop of our own.
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, _admin_sql(url, sql)).result()


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A private database for this test session, so parallel runs never trample each other."""
    base = os.environ["TEST_DATABASE_URL"]
    name = f"kindred_test_{uuid.uuid4().hex[:12]}"
    _run_in_thread(base, f'CREATE DATABASE "{name}"')
    try:
        yield make_url(base).set(database=name).render_as_string(hide_password=False)
    finally:
        _run_in_thread(base, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=BACKENDS)
async def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """A fresh, empty database URL (schema not yet created) on each backend."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'kindred.db'}"
        return
    url = request.getfixturevalue("postgres_url")
    await reset_schema(url)
    yield url


@pytest.fixture
async def store(db_url: str) -> AsyncIterator[Store]:
    s = await Store(db_url).open()
    try:
        yield s
    finally:
        await s.close()


@pytest.fixture
async def make_harness(db_url: str, tmp_path: Path) -> AsyncIterator[Callable[..., Awaitable[Any]]]:
    """Factory: ``h = await make_harness(yes_no_vote_count="5")`` starts a bot with those settings
    (``character_dir=`` plays another character folder)."""
    from tests.harness import Harness

    started: list[Harness] = []

    async def factory(*, character_dir: Path | None = None, **config: Any) -> Harness:
        h = Harness(db_url=db_url, tmp_path=tmp_path, config=config, character_dir=character_dir)
        await h.start()
        started.append(h)
        return h

    try:
        yield factory
    finally:
        for h in started:
            await h.close()


@pytest.fixture
async def harness(make_harness: Callable[..., Awaitable[Any]]) -> Any:
    return await make_harness()
